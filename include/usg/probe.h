/* usg/probe.h - probe profiles (INI, format in CONTRACT.md).
 *
 * A profile says how pixels map to millimetres, where the ultrasound image
 * sits inside a grabbed frame (clip), the image orientation, which side the
 * midline lies on, and for curvilinear probes the fan geometry. */
#ifndef USG_PROBE_H
#define USG_PROBE_H

#include "usg/image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum usg_geometry { USG_GEOM_LINEAR = 0, USG_GEOM_CURVILINEAR = 1 } usg_geometry;
typedef enum usg_side { USG_SIDE_AUTO = 0, USG_SIDE_LEFT = 1, USG_SIDE_RIGHT = 2 } usg_side;

typedef struct usg_probe {
    char name[128];
    usg_geometry geometry;
    double spacing_x_mm, spacing_y_mm; /* mm per pixel */
    int has_clip;                      /* 0: the whole frame */
    int clip_x, clip_y, clip_w, clip_h;
    char orientation[8];               /* PLUS orientation, e.g. "MF"; "?N" = near side (transducer) at the bottom */
    usg_side medial_side;
    /* curvilinear fan, pixels of the clipped image; angles in degrees from the vertical */
    double apex_x, apex_y, radius_inner, radius_outer, angle_start_deg, angle_end_deg;
    char denoise[16];                  /* optional `denoise =` key: "" = the default */
} usg_probe;

/* Fill `p` with defaults (linear, no spacing, whole frame, MF, auto). */
void usg_probe_default(usg_probe *p);

/* Parse profile text. `source_name` is used in messages ("probe.ini:7: ...").
 * Errors (USG_ERR_FORMAT / USG_ERR_ARG) name file:line for unknown keys or
 * sections and bad values, and the key for a missing required one. */
usg_status usg_probe_parse(const char *text, const char *source_name, usg_probe *out);

/* Read and parse a profile file. USG_ERR_IO if it cannot be read. */
usg_status usg_probe_load(const char *path, usg_probe *out);

/* Write `p` as an INI profile to `path` (used by the simulator). */
usg_status usg_probe_save(const usg_probe *p, const char *path);

/* Check that the clip rectangle fits a frame of w x h. USG_ERR_ARG naming
 * the profile and both sizes if it does not. */
usg_status usg_probe_check_frame(const usg_probe *p, int w, int h);

/* The clip rectangle resolved against a frame size (whole frame if none). */
void usg_probe_clip_rect(const usg_probe *p, int frame_w, int frame_h,
                         int *x, int *y, int *w, int *h);

/* The clipped zero-copy view of a frame. */
usg_image usg_probe_clip_view(const usg_probe *p, const usg_image *frame);

/* 1 when the profile's orientation puts the transducer (near side) at the
 * bottom of the image (PLUS "MN"/"UN"). The stages then see the clipped image
 * flipped vertically, so the transducer is always at the top; `apex` and the
 * fan are given in that normalised (near-side-up) image. */
int usg_probe_near_side_down(const usg_probe *p);

/* Map a point of the normalised clipped image (near side up) to pixels of the
 * grabbed frame (undoing the flip, adding the clip offset). */
usg_point usg_probe_to_frame(const usg_probe *p, int frame_w, int frame_h, double x, double y);

/* Depth below the transducer face in mm of a grabbed-frame pixel row y
 * (the skin line: top of the image, or the fan's inner arc). */
double usg_probe_depth_mm(const usg_probe *p, int frame_w, int frame_h, double y);

/* 1 if (x, y), in pixels of the clipped image, is inside the imaged region:
 * always 1 for linear probes, inside the fan for curvilinear ones. */
int usg_probe_inside(const usg_probe *p, double x, double y);

/* Fill `mask` (clip-sized, caller-allocated) with 255 inside the imaged region and 0 outside. */
usg_status usg_probe_mask(const usg_probe *p, usg_image *mask);

/* Mean isotropic spacing (mm/px) for distances: sqrt(sx*sy). */
double usg_probe_spacing(const usg_probe *p);

#ifdef __cplusplus
}
#endif
#endif
