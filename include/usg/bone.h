/* usg/bone.h - bone surface segmentation: sacral and iliac cortical edges.
 *
 * Works on the denoised, clipped image; output edges are in clipped-image
 * pixels (the pipeline adds the clip offset). Keeps state across frames for
 * temporal consistency; usg_bone_detector_reset forgets it. */
#ifndef USG_BONE_H
#define USG_BONE_H

#include "usg/image.h"
#include "usg/probe.h"
#include "usg/result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct usg_bone_params {
    const usg_probe *probe;   /* spacing, geometry/fan; copied at _new */
    usg_side medial_side;     /* where the sacrum (midline) lies; AUTO to infer */
} usg_bone_params;

typedef struct usg_bone_detector usg_bone_detector;

/* Make a detector for clipped images of w x h. */
usg_status usg_bone_detector_new(const usg_bone_params *p, int w, int h, usg_bone_detector **out);

/* Find the edges in `img` (w x h as at _new). Fills sacrum and ilium
 * (found = 0 when a bone is not seen). */
usg_status usg_bone_detector_process(usg_bone_detector *d, const usg_image *img,
                                     usg_edge *sacrum, usg_edge *ilium);

/* Tell the detector where the needle was on the previous frame (clipped
 * pixels; NULL or found = 0: no needle). A surface lying along that shaft
 * (within NEEDLE_BAND_MM of its axis, from the entry to a frame's advance
 * beyond the tip, over most of its length) with no shadow beneath it (the
 * beam below as bright as the tissue above) is the needle's own echo, not
 * bone, and is not reported. The needle is copied; never fails. */
void usg_bone_detector_set_needle(usg_bone_detector *d, const usg_needle *needle);

/* Forget temporal state (a new sequence starts). */
void usg_bone_detector_reset(usg_bone_detector *d);

/* Free (NULL is ignored). */
void usg_bone_detector_free(usg_bone_detector *d);

#ifdef __cplusplus
}
#endif
#endif
