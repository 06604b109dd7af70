/* needle_internal.h - private pieces of the needle stage (needle*.c only).
 *
 * Geometry: a line is a point p and a unit direction d (entry -> tip); its
 * normal is n = (-dy, dx). A "strip" is the image resampled in line
 * coordinates: u along d (1 px steps), v along n (1 px steps). */
#ifndef USG_NEEDLE_INTERNAL_H
#define USG_NEEDLE_INTERNAL_H

#include <stdint.h>
#include "usg/image.h"
#include "usg/result.h"

typedef struct nd_line { double px, py, dx, dy; } nd_line;

/* A tracked tip this far (mm) short of the prediction is not a withdrawn
 * needle: a faded stretch of shaft, its bevel lost in a cortex's glare (at 8
 * mm a tip fading into the joint's glare stepped back 5 mm a frame, 13-20 mm
 * short after four frames). */
#define ND_RETRACT_MM 4.0
/* The tip filter's largest motion along the axis in one frame (mm). */
#define ND_TIP_VMAX_MM 3.0
/* With no step at all, a tip more than a frame's largest motion
 * short of the prediction is taken at the prediction (a needle sliding on
 * along the iliac cortex into the joint, the two echoes merged: the tip had
 * stayed where they met, 4-9 mm short). */
#define ND_FADE_MM ND_TIP_VMAX_MM
/* ... unless the track's tip has been moving back (hint->withdrawing) and
 * the axis beyond the tip, over ND_GONE_MM (or up to the held tip), holds
 * nothing: no cortex, no glare, and a ridge ND_GONE_RIDGE of the shaft's
 * contrast on at most ND_GONE_SHARE of its columns (no faded shaft): the
 * needle is being withdrawn, its tip is where its echo ends. (An advancing
 * needle's shaft can vanish for millimetres before its tip in a cortex's
 * glare: it is held.) */
#define ND_GONE_MM 3.0
#define ND_GONE_RIDGE 0.5
#define ND_GONE_SHARE 0.2

/* ---- needle_filter.c: downsampling and the Hessian ridge filter ---- */

/* 2x2 box downsample of `in` into out (w2 x h2 = in/2, rounded down). */
void nd_downsample2(const usg_image *in, float *out, int w2, int h2);

/* 2x2 box downsample of a float image of width w into out (w2 x h2). */
void nd_downsample2f(const float *in, int w, float *out, int w2, int h2);

/* Hessian ridge filter at scale sigma on a w x h float image. */
typedef struct nd_hessian {
    int w, h, r;            /* size, kernel radius */
    float g[32], g1[32], g2[32]; /* Gaussian and its derivatives, length 2r+1 */
    float *t0, *t1, *t2;    /* row-filtered temporaries */
    float *xx, *yy, *xy;    /* second derivatives */
} nd_hessian;

/* Allocate for w x h at scale sigma (radius = ceil(3 sigma) <= 15). */
usg_status nd_hessian_init(nd_hessian *hs, int w, int h, double sigma);
void nd_hessian_free(nd_hessian *hs);
/* Compute Ixx, Iyy, Ixy of `in` (w x h, contiguous). */
void nd_hessian_run(nd_hessian *hs, const float *in);
/* Bright-ridge strength at pixel i: max(0, -l1 - |l2|), l1 <= l2 the eigenvalues. */
float nd_hessian_ridge(const nd_hessian *hs, int i);
/* Direction of the ridge (along the line) at pixel i, radians in (-pi/2, pi/2]. */
double nd_hessian_angle(const nd_hessian *hs, int i);

/* ---- needle_strip.c: the image resampled along a line ---- */

typedef struct nd_strip {
    int cap_len, cap_rows;  /* capacity */
    int len, rows, half;    /* current: columns u = u0 + k, rows v = -half..half */
    double u0;
    nd_line line;
    float *val;             /* rows x len samples */
    uint8_t *ok;            /* sample inside the valid mask */
    float *sm;              /* box-smoothed along u */
    uint8_t *smok;
    float *con;             /* ridge contrast */
    uint8_t *conok;
} nd_strip;

usg_status nd_strip_init(nd_strip *s, int cap_len, int cap_rows);
void nd_strip_free(nd_strip *s);

/* The u range of `line` inside the w x h image, shrunk by `margin` px. 0 if none. */
int nd_line_clip(const nd_line *line, int w, int h, double margin, double *u_lo, double *u_hi);

/* Resample `img` along `line` for u in [u_lo, u_hi] and v in [-half, half];
 * samples where `mask` (w x h, may be NULL) is 0 or outside the image are invalid. */
void nd_strip_sample(nd_strip *s, const usg_image *img, const uint8_t *mask, const nd_line *line,
                     double u_lo, double u_hi, int half);

/* Box-smooth along u (half-length a) then ridge contrast with flank distance w:
 * con(u,v) = sm(u,v) - (sm(u,v-w) + sm(u,v+w)) / 2. */
void nd_strip_contrast(nd_strip *s, int a, int w);

static inline float *nd_strip_row(const nd_strip *s, float *base, int v) {
    return base + (ptrdiff_t)(v + s->half) * s->len;
}
static inline uint8_t *nd_strip_okrow(const nd_strip *s, uint8_t *base, int v) {
    return base + (ptrdiff_t)(v + s->half) * s->len;
}

/* Point of line coordinates (u, v). */
static inline usg_point nd_line_at(const nd_line *l, double u, double v) {
    usg_point p = {l->px + u * l->dx - v * l->dy, l->py + u * l->dy + v * l->dx};
    return p;
}

/* Bilinear sample (x, y) of img; 0 if outside. */
float nd_bilinear(const usg_image *img, double x, double y);

/* Median of n floats (reorders them). 0 if n == 0. */
float nd_median(float *v, int n);

/* ---- needle_measure.c: a needle measured along a candidate axis ---- */

#define ND_FLOOR_GREY 10.0 /* grey at or below which a region is black (the display floor) */

/* Buffers and settings shared by every measurement (made once). */
typedef struct nd_ctx {
    int w, h;
    double sp;              /* mm per px */
    uint8_t *mask;          /* w x h: 1 inside the imaged region (eroded 1 px) */
    uint16_t *bdist;        /* w x h: chamfer distance to the region's boundary, 1/3 px */
    nd_strip st;
    float *scratch;
    int scratch_cap;
    float *pk_v, *pk_c;     /* per strip column: contrast peak offset and value */
    uint8_t *pk_ok;
    int flank0;             /* the ridge filter's flank distance (px, nd_flank_px) */
    int flank, box_a;       /* this measurement's flank distance (flank0, or ND_WIDE_SCALE times it), along-axis box half-length (px) */
    double tissue_grey;     /* this frame's typical tissue echo (grey median), 0 unknown */
    int fan;                /* beams fan out from (apex_x, apex_y) (curvilinear); else they run down the image */
    double apex_x, apex_y;
    int shared_maps;        /* a worker's context: mask and bdist are the main context's */
} nd_ctx;

/* What one measurement found. */
typedef struct nd_meas {
    nd_line line;           /* refined axis, d from entry to tip */
    usg_point tip, entry;
    double noise, level, snr, len_mm, fill, rms, shadow, tail, bone_frac, score;
    double falloff;         /* the depth's falloff beneath the shaft's middle, 1 for none (the tracker's) */
    double ladder;          /* the reverberation ladder's ripple beneath the shaft (grey levels, 0: none) */
    double deep_below, deep_above; /* mean grey 2-6 mm beneath and above the shaft (shadow: their ratio) */
    double bone_below;      /* share of the shaft with a bone edge's surface within 6 mm straight beneath */
    double bend_px;         /* sagitta of a parabola fitted to the shaft: 0 for a straight needle */
    double i_shaft, i_bg, s_bg; /* shaft / flank intensity (medians), flank spread */
    double i_tip;           /* brightest echo over the last ~1.5 mm before the tip (the bevel) */
    int border_entry;       /* the shaft starts at the imaged region's boundary */
    double hidden_mm;       /* ... that much of it hidden in echo as bright as its own (0: none; in len_mm) */
    int tip_step;           /* the echo ends in a clear step (>= 6 dB) at the tip */
    double faded_mm;        /* length of faded shaft between the visible shaft and its bevel (0: none) */
    double run_mm;          /* length of the shaft run the features were measured on (<= len_mm + faded) */
    int tip_at_pred;        /* tracking: the tip within 3 mm (plus the tip's speed) of the predicted tip */
    int tip_on_bone;        /* the tip within ND_TIP_BONE_MM above a bone edge (or under it) */
    int wide;               /* measured at the wide scale (a thick echo: a shaft square to the beam) */
    double kink_deg;        /* acquisition: the turn of a line as bright as the shaft running on from its
                             * tip (a fascia's bend), 0 for none (always 0 while tracking) */
} nd_meas;

/* A tracking prediction: where the shaft should be. */
typedef struct nd_hint {
    usg_point entry, tip;
    usg_point hold;         /* the predicted tip, never behind the track's last tip (a faded shaft's tip) */
    double dx, dy;          /* unit direction entry -> tip */
    double speed_px;        /* tip speed, px per frame */
    int pinned;             /* the axis is the guess: no refit of its direction or offset */
    int withdrawing;        /* the track's tip has been moving back (see ND_GONE_MM) */
} nd_hint;

/* The ridge filter's wide scale, a multiple of its flank distance: a shaft
 * square to the beam (a curvilinear probe's nearly level needle) echoes with
 * its reverberation tail over 2-3 mm, and a 0.9 mm flank lies on the echo
 * itself. */
#define ND_WIDE_SCALE 2
/* ... tried only on lines within this many degrees of square to the beam */
#define ND_WIDE_MAX_DEG 10.0

/* The ridge filter's flank distance at spacing sp mm/px (0.9 mm, 3-9 px). */
int nd_flank_px(double sp);

/* Make the context for w x h images (mask filled by the caller, then nd_ctx_distance);
 * cap_rows: the strips' rows, at least 2 * (search half-width + 2 * ND_WIDE_SCALE * nd_flank_px) + 1. */
usg_status nd_ctx_init(nd_ctx *c, int w, int h, double sp, int cap_rows);
void nd_ctx_free(nd_ctx *c);
/* Make a worker thread's context for measurements like main's: its own strip,
 * scratch and peak buffers, main's mask and bdist (which must outlive it), the
 * settings as main's now (nd_ctx_sync). USG_ERR_NOMEM on failure (c freed). */
usg_status nd_ctx_init_worker(nd_ctx *c, const nd_ctx *main);
/* Copy main's settings and frame state (tissue grey, flank, geometry, maps)
 * into the worker context c, keeping c's own buffers. */
void nd_ctx_sync(nd_ctx *c, const nd_ctx *main);
/* Compute bdist from mask. */
void nd_ctx_distance(nd_ctx *c);
/* Distance of (x, y) to the imaged region's boundary, px (0 outside). */
double nd_ctx_border_px(const nd_ctx *c, double x, double y);
/* The tip moved back along the axis from entry out of a bone: to where the
 * axis passes ND_IN_BONE_MM under a bone edge's surface (no needle goes into
 * the cortex; a tip run on or coasted past it is the echo's or the filter's).
 * The tip itself when it is not inside, when the whole axis is, or when the
 * axis came in beneath the edge's end rather than through its surface. Pure. */
usg_point nd_tip_out_of_bone(const usg_edge *e1, const usg_edge *e2, usg_point entry, usg_point tip, double sp);

/* Below/above brightness ratio across the segment a-b (image px): the mean
 * grey d0..d1 mm beneath it (deeper) over the mean d0..d1 mm above it, sampled
 * every 6 px along it; -1 when there is no evidence (too few samples, or the
 * tissue above at the display floor). Bone casts a shadow (well below 1).
 * Pure. */
double nd_band_ratio(const nd_ctx *c, const usg_image *img, usg_point a, usg_point b, double d0_mm, double d1_mm);

/* Measure a needle near `guess`, searching +-rs px across it; with a hint only
 * around the predicted shaft (hint->pinned: on the guess itself, its direction
 * and offset kept). Without one (acquisition), a line square to the beam
 * (within ND_WIDE_MAX_DEG) that fails at the ridge filter's scale is measured
 * again at the wide scale (m->wide), and kept only if its echo ends at its
 * tip; it also looks for a line turned off the axis running on from the tip
 * (m->kink_deg). Returns 1 with *m filled, 0 if no shaft. */
int nd_measure(nd_ctx *c, const usg_image *img, const nd_line *guess, int rs, const nd_hint *hint,
               const usg_edge *e1, const usg_edge *e2, nd_meas *m);

/* ---- needle_hough.c: Hough transform over (angle, offset) ---- */

typedef struct nd_hough {
    int nth, nrho;          /* 1-degree angle bins over [0,180), 1 px offset bins */
    double cx, cy, rho_off;
    float *acc;
    float cs[180], sn[180];
    uint8_t allowed[180];   /* bins of acceptable needle angles */
} nd_hough;

typedef struct nd_hough_peak { double theta_deg, rho, votes; } nd_hough_peak;

usg_status nd_hough_init(nd_hough *hg, int w, int h, double max_angle_deg);
void nd_hough_free(nd_hough *hg);
void nd_hough_clear(nd_hough *hg);
/* Vote for lines through (x, y) with angles within +-spread degrees of theta_deg. */
void nd_hough_vote(nd_hough *hg, double x, double y, double theta_deg, int spread, float weight);
/* Up to k strongest peaks (suppressing neighbours) among axes at least
 * min_deg from the horizontal; returns the count. */
int nd_hough_peaks(nd_hough *hg, nd_hough_peak *out, int k, double min_deg);
/* Is peak a within the suppression neighbourhood of peak b? */
int nd_hough_near(const nd_hough_peak *a, const nd_hough_peak *b);

/* ---- needle_kalman.c: small Kalman filters ---- */

/* Random-walk scalar. */
typedef struct nd_kf1 { double x, p, q, r; } nd_kf1;
void nd_kf1_init(nd_kf1 *k, double x, double p0, double q, double r);
void nd_kf1_predict(nd_kf1 *k);
/* Returns the normalised innovation squared. */
double nd_kf1_update(nd_kf1 *k, double z);

/* Constant-velocity position (x[0]) and velocity (x[1]). */
typedef struct nd_kf2 { double x[2], P[2][2], q, r; } nd_kf2;
void nd_kf2_init(nd_kf2 *k, double x, double p0, double q, double r);
void nd_kf2_predict(nd_kf2 *k);
double nd_kf2_update(nd_kf2 *k, double z);

/* ---- needle_motion.c: how far the probe moved between frames ---- */

typedef struct nd_motion {
    int w, h;          /* block grid */
    double block_mm;   /* a block's side */
    float *prev, *cur; /* block means of the last frame and this one */
    uint8_t *ok;       /* block wholly inside the imaged region */
    int have_prev;
    long prev_frame;   /* the frame number of prev */
    double last_mm;    /* this frame's shift against the last one */
    double odo_mm;     /* the shifts summed since the tracker was made */
} nd_motion;

/* Buffers for w x h frames whose imaged region is `mask` (w x h, NULL: all);
 * sp mm per px. Errors: USG_ERR_NOMEM (message set). */
usg_status nd_motion_init(nd_motion *mo, int w, int h, const uint8_t *mask, double sp);
void nd_motion_free(nd_motion *mo);
/* Take frame img (the size given to nd_motion_init), number frame_no: its
 * shift against the frame taken before (none for the first; frames not taken
 * in between: the net shift since) into last_mm, added to odo_mm. Once per
 * frame number (again: nothing). Allocates nothing. */
void nd_motion_update(nd_motion *mo, const usg_image *img, long frame_no);

#endif
