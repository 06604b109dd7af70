/* bone_impl.h - internals of the bone stage (bone_grid.c, bone_score.c,
 * bone_dp.c, bone.c).
 *
 * The clipped image is resampled onto a grid of scan lines: columns for a
 * linear probe, rays from the apex for a curvilinear one, so that "below" is
 * always along a column of the grid (the direction of the beam and of the
 * acoustic shadow). The image is first reduced to the means of sx x sy
 * blocks (sx = 2 sy: bone surfaces are smooth across the beam); a linear
 * grid is that reduced image, a fan samples it along rays.
 * Grid arrays are column-major: sample (j, i) of scan line j, depth i is at
 * [j * nd + i]. */
#ifndef USG_BONE_IMPL_H
#define USG_BONE_IMPL_H

#include <stdint.h>
#include "usg/image.h"
#include "usg/probe.h"
#include "usg/result.h"

typedef struct usg_bone_grid {
    int img_w, img_h;     /* clipped image size */
    int sx, sy;           /* block size, px; sy is the depth step */
    int dw, dh;           /* reduced image size (blocks) */
    float *red;           /* reduced image, dw x dh, row-major */
    uint16_t *rowsum;     /* img_w sums of sy rows */
    int nr, nd;           /* scan lines, depth samples */
    int fan;              /* 1 = rays from the apex */
    double ax, ay, r0, th0, dth; /* fan: apex, first radius, first angle, angle step (rad) */
    double depth_mm;      /* mm per depth step */
    double lateral_mm;    /* mm between neighbouring scan lines (at mid depth for a fan) */
    int32_t *lut;         /* fan: top-left index into red of each sample's bilinear
                             taps, -1 = outside */
    float *wx, *wy;       /* fan: bilinear weights of the right / lower taps */
    int16_t *lo, *hi;     /* per scan line: valid depth range [lo, hi) */
} usg_bone_grid;

/* Lay out the grid for a w x h clipped image of probe p (fan from the profile
 * when curvilinear). Allocates; free with usg_bone_grid_free. */
usg_status usg_bone_grid_init(usg_bone_grid *g, const usg_probe *p, int w, int h);
void usg_bone_grid_free(usg_bone_grid *g);

/* Sample img (img_w x img_h) into a[] (nr * nd floats, 0 outside). */
void usg_bone_grid_sample(usg_bone_grid *g, const usg_image *img, float *a);

/* Image position (clipped pixels) of scan line j at fractional depth index di. */
void usg_bone_grid_point(const usg_bone_grid *g, int j, double di, double *x, double *y);

/* Per-sample bone evidence: bright ridge with dark shadow below, in [0, 1]. */
typedef struct usg_bone_score_params {
    int gap;          /* depth samples skipped below a sample (cortex thickness) */
    int shadow_len;   /* depth samples averaged for the shadow */
    int smooth;       /* half-width of the depth smoothing of a, samples */
    float shadow_ratio; /* mean below / sample at which the shadow evidence is 0 */
} usg_bone_score_params;

/* Fill f[] (nr * nd) from a[]; `prefix` is scratch of nd + 1 floats,
 * `tmp` of nd floats. */
void usg_bone_score(const usg_bone_grid *g, const usg_bone_score_params *sp, const float *a,
                    float *f, float *prefix, float *tmp);

/* Dynamic programming over scan lines: a path that is either "no bone" or at
 * a depth per scan line, maximising sum(f - tau over bone) with smoothness. */
typedef struct usg_bone_dp_params {
    float tau;        /* per-column reward of "no bone" */
    float lambda;     /* penalty per depth sample of change between scan lines */
    int kmax;         /* largest change per scan line within one surface (the
                         path is cut into surfaces where it moves more) */
    float jump;       /* penalty of a discontinuity (a new surface) */
    float enter;      /* penalty of starting a surface after "no bone" */
    float leave;      /* penalty of ending a surface */
} usg_bone_dp_params;

/* Scratch for the DP, sized at _new. */
typedef struct usg_bone_dp {
    int nr, nd;
    float *vprev, *vcur;
    int16_t *back;    /* nr * nd: source depth in the previous scan line, -1 = from "no bone" */
    int16_t *nback;   /* nr: -1 = "no bone" before, else depth of the surface left */
} usg_bone_dp;

usg_status usg_bone_dp_init(usg_bone_dp *dp, int nr, int nd);
void usg_bone_dp_free(usg_bone_dp *dp);

/* Run the DP on f (valid ranges from g); path[j] = depth index or -1. */
void usg_bone_dp_run(usg_bone_dp *dp, const usg_bone_grid *g, const usg_bone_dp_params *pp,
                     const float *f, int16_t *path);

/* The cleft-side end of a bone at full resolution. Near the joint cleft each
 * cortex turns down into the cleft wall; its echo is weak there and the lateral
 * blur of the cleft's tissue fills its shadow, so the grid's surface stops
 * short. From inside the bone's shadow, each row (constant depth along the
 * beam) is scanned toward the cleft for where the shadow ends: that boundary
 * follows the surface down to the wall, then stays put along the wall. The
 * wall's top is where the boundary reaches the wall. When the shadow is grey
 * (a noise floor, scatter under the cortex) rather than dark, the rows above
 * the end look for the rise from the shadow's own level, and the rows below
 * it for the falling edge into a visibly darker cleft (none: no wall).
 *   end:     the surface end on the grid (clipped-image px)
 *   inner:   a surface point about 1.5 mm from the end, away from the cleft
 *   other:   the other bone's end (the scan never passes it)
 * Writes the boundary points from the end down to the wall top (ordered
 * outward from the end) to out_x/out_y (at most cap) and returns their count,
 * 0 when no wall is found. */
typedef struct usg_bone_wall_params {
    double spacing_mm;   /* mm per px */
    int cap;
} usg_bone_wall_params;

int usg_bone_wall(const usg_bone_grid *g, const usg_image *img, const usg_bone_wall_params *wp,
                  usg_point end, usg_point inner, usg_point other, double *out_x, double *out_y);

#endif
