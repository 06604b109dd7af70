/* bone.c - bone surface segmentation: the sacral and iliac cortical edges.
 *
 * Per frame: resample the clipped image onto scan lines along the beam
 * (bone_grid.c), score every sample as "bright with a dark shadow below"
 * (bone_score.c), find the best set of continuous surfaces by dynamic
 * programming (bone_dp.c), then here: cut the path into surfaces, keep the
 * two strongest, label them sacrum (medial) and ilium (lateral), refine their
 * depth to sub-sample precision and write them as polylines. Temporal
 * consistency: last frame's surfaces add a small prior to the evidence, a
 * lone surface keeps the label it had, and in `auto` the medial side is a
 * running vote (the ilium is the shallower bone). */
#include "usg/bone.h"
#include "bone_impl.h"
#include "depth_profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Anatomy and search constants, in mm where they are lengths. */
#define CORTEX_GAP_MM 1.2       /* skipped below a sample before the shadow */
#define SHADOW_LEN_MM 10.0      /* shadow averaged over this depth */
#define SHADOW_RATIO 0.5f      /* below/sample brightness (over the dark end) where shadow evidence ends */
#define MAX_SLOPE 2.7           /* steepest surface followed, depth/lateral (70 deg) */
#define MIN_SURFACE_MM 4.0      /* shorter surfaces are noise */
#define MIN_SURFACE_SCORE 1.0   /* integral of (evidence - tau) over a surface, mm */
#define DEPTH_PENALTY 0.1       /* DP: per mm of depth change between scan lines */
#define ENTER_PENALTY_MM 0.2    /* DP: start or end of a surface, in mm of evidence */
#define JUMP_PENALTY_MM 1.0     /* DP: discontinuity, in mm of evidence */
#define CLEFT_ARM_MM 3.0        /* a closed cleft: V depth against the chord of +-3 mm */
#define CLEFT_V_MM 0.5          /* ... at least this deep */
#define CLEFT_WIDE_MM 8.0       /* the V against a wider chord adds to its strength, */
#define CLEFT_WIDE_V_MM 2.0     /* ... and this deep it needs no echo dip */
#define CLEFT_DIP 0.15          /* ... with the echo this much below the surface's mean */
#define CLEFT_SHALLOW_V_MM 0.25 /* a shallow V (bones at one depth, blurred across the cleft) ... */
#define CLEFT_SHALLOW_DIP 0.3   /* ... will do with this deep an echo dip */
#define CLEFT_DIP_WEIGHT 2.0    /* mm of V worth a full echo dip */
#define NOTCH_LEVEL 0.75f       /* a closed cleft's bottom: where the echo below falls to this share */
#define NOTCH_MAX_MM 1.5        /* a closed cleft's echo ends within this below the path */
#define CLEFT_TRACK_MM 5.0      /* a cleft within this of last frame's is the same one */
#define TRIM_ECHO 0.65           /* facing ends: echo below this share of the surface's is cut */
#define FRAGMENT_GAP_MM 2.0     /* surfaces this close ... */
#define FRAGMENT_STEP_MM 1.0    /* ... and this level are one surface */
#define MAX_CLEFT_MM 12.0       /* the two bones' facing ends lie at most this far apart, */
#define FAR_CLEFT_MM 16.0       /* ... or this far when both surfaces are this long: */
#define FAR_SURFACE_MM 15.0     /* (a curvilinear probe loses the ilium's steep wall into the cleft) */
#define SECOND_RATIO 0.15       /* a second surface must score this share of the first */
#define MERGE_GAP_MM 5.0        /* fragments this close, in line, join a surface */
#define MERGE_STEP_MM 3.0       /* ... with at most this depth step (plus the slope) */
#define PRIOR_WEIGHT 0.12f      /* evidence bonus near last frame's surface */
#define PRIOR_SIGMA_MM 1.5
#define WALL_DEPTH_MM 12.0      /* cleft-side ends: most wall points kept (depth span) */
#define WALL_INNER_MM 1.5       /* ... scanned from under the surface this far from the end */
#define SIDE_DECAY 0.9          /* auto medial side: vote memory */
#define SIDE_FROM_MM 1.5        /* ... depths compared this far from the cleft ... */
#define SIDE_TO_MM 25.0         /* ... up to this far */
#define SIDE_SLOPE_MM 15.0      /* ... plus the difference in rise over this distance */
#define SIDE_VOTE_CAP_MM 5.0
#define NEEDLE_BAND_MM 1.0      /* a surface point this close to last frame's needle axis is on it ... */
#define NEEDLE_AHEAD_MM 3.0     /* ... up to this beyond its tip (a frame's advance) */
#ifndef NEEDLE_CLEAR_SHORT_MM
#define NEEDLE_CLEAR_SHORT_MM 3.0 /* ... its bone evidence cleared up to this short of its tip (its last frame's advance: where it meets the cortex it is aimed at) */
#endif
#define NEEDLE_TAIL_MM 2.0      /* ... and down to this beneath it (its reverberation tail) ... */
#define NEEDLE_CLEAR_LIT 0.45 /* ... where the beam beneath is this bright against the tissue above */
#define NEEDLE_SHARE 0.6        /* a surface with this share of its points on the needle ... */
#define NEEDLE_LIT 0.8          /* ... and the beam below this bright against the tissue above is the needle */
/* ... those two read against what the tissue's falloff with depth alone leaves
 * of the tissue above (depth_profile.h: of the grid's depth profile, bands of
 * PROFILE_BAND_MM, each the median within PROFILE_WINDOW_MM), which excuses
 * no more than NEEDLE_FALLOFF_MIN (a bone's shadow is far darker) */
#define PROFILE_BAND_MM 1.0
#define PROFILE_WINDOW_MM 2.0
#define NEEDLE_FALLOFF_MIN 0.4
#define NEEDLE_FLOOR_GREY 10.0  /* ... or the tissue above at the display floor (mean grey at most this: no shadow can be told) */

typedef struct segment {
    int j0, j1;          /* scan lines, inclusive */
    double score;
    double depth_mm;     /* mean depth */
    double slope;        /* depth change per lateral mm, + = deeper to the right */
    int used;
} segment;

enum { LBL_NONE = 0, LBL_SACRUM = 1, LBL_ILIUM = 2 };

struct usg_bone_detector {
    usg_probe probe;
    usg_side medial;
    int w, h;
    usg_bone_grid g;
    usg_bone_dp dp;
    usg_bone_score_params sp;
    usg_bone_dp_params pp;
    double min_cols;       /* MIN_SURFACE_MM in scan lines */
    double min_score;      /* MIN_SURFACE_SCORE in scan lines */
    float *a, *f, *prefix, *tmp;
    int16_t *path;
    float *depth;          /* refined depth index per scan line */
    float *prior;          /* last frame's depth per scan line, < 0 none */
    uint8_t *label, *label_prev;
    segment *seg;
    int nseg;
    usg_bone_wall_params wall;
    double *px, *py;       /* edge points: cap + nr + cap */
    double *ex, *ey;       /* one end's wall points: cap */
    double side_vote;      /* > 0: sacrum on the left */
    double prev_cleft;     /* last frame's cleft (scan line between the facing ends), -1 none */
    usg_point notch;       /* bottom of a closed cleft found this frame, NAN none */
    double cur_cleft;
    usg_needle needle;     /* last frame's needle (usg_bone_detector_set_needle) */
    usg_depth_profile prof; /* this frame's grey by depth (profile_frame) */
};

usg_status usg_bone_detector_new(const usg_bone_params *p, int w, int h, usg_bone_detector **out) {
    *out = NULL;
    if (!p || !p->probe) return usg_fail(USG_ERR_ARG, "bone: no probe profile");
    if (!(p->probe->spacing_x_mm > 0) || !(p->probe->spacing_y_mm > 0))
        return usg_fail(USG_ERR_ARG, "bone: probe '%s' has no spacing", p->probe->name);
    if (w < 8 || h < 8 || w > USG_MAX_SIDE || h > USG_MAX_SIDE)
        return usg_fail(USG_ERR_ARG, "bone: bad image size %dx%d", w, h);
    usg_bone_detector *d = calloc(1, sizeof *d);
    if (!d) return usg_fail(USG_ERR_NOMEM, "bone: out of memory");
    d->probe = *p->probe;
    d->medial = p->medial_side;
    d->w = w; d->h = h;
    usg_status st = usg_bone_grid_init(&d->g, &d->probe, w, h);
    if (st == USG_OK) st = usg_bone_dp_init(&d->dp, d->g.nr, d->g.nd);
    if (st == USG_OK) st = usg_depth_profile_init(&d->prof, d->g.nd * d->g.depth_mm, PROFILE_BAND_MM);
    if (st != USG_OK) { usg_bone_detector_free(d); return st; }
    const usg_bone_grid *g = &d->g;
    size_t n = (size_t)g->nr * g->nd;
    d->a = malloc(n * sizeof *d->a);
    d->f = malloc(n * sizeof *d->f);
    d->prefix = malloc(((size_t)g->nd + 1) * sizeof *d->prefix);
    d->tmp = malloc((size_t)g->nd * sizeof *d->tmp);
    d->path = malloc((size_t)g->nr * sizeof *d->path);
    d->depth = malloc((size_t)g->nr * sizeof *d->depth);
    d->prior = malloc((size_t)g->nr * sizeof *d->prior);
    d->label = malloc((size_t)g->nr);
    d->label_prev = malloc((size_t)g->nr);
    d->seg = malloc(((size_t)g->nr / 2 + 2) * sizeof *d->seg);
    d->wall.spacing_mm = usg_probe_spacing(&d->probe);
    d->wall.cap = (int)ceil(WALL_DEPTH_MM / d->wall.spacing_mm);
    size_t npts = (size_t)g->nr + 2 * (size_t)d->wall.cap;
    d->px = malloc(npts * sizeof *d->px);
    d->py = malloc(npts * sizeof *d->py);
    d->ex = malloc((size_t)d->wall.cap * sizeof *d->ex);
    d->ey = malloc((size_t)d->wall.cap * sizeof *d->ey);
    if (!d->a || !d->f || !d->prefix || !d->tmp || !d->path || !d->depth || !d->prior ||
        !d->label || !d->label_prev || !d->seg || !d->px || !d->py || !d->ex || !d->ey) {
        usg_bone_detector_free(d);
        return usg_fail(USG_ERR_NOMEM, "bone: out of memory");
    }
    d->sp.gap = (int)lround(CORTEX_GAP_MM / g->depth_mm);
    if (d->sp.gap < 1) d->sp.gap = 1;
    d->sp.shadow_len = (int)lround(SHADOW_LEN_MM / g->depth_mm);
    if (d->sp.shadow_len < 4) d->sp.shadow_len = 4;
    d->sp.smooth = 1;
    d->sp.shadow_ratio = SHADOW_RATIO;
    d->pp.tau = 0.25f;
    d->pp.lambda = (float)(DEPTH_PENALTY * g->depth_mm);
    d->pp.kmax = (int)ceil(MAX_SLOPE * g->lateral_mm / g->depth_mm);
    if (d->pp.kmax < 1) d->pp.kmax = 1;
    if (d->pp.kmax > 12) d->pp.kmax = 12;
    d->pp.jump = (float)(JUMP_PENALTY_MM / g->lateral_mm);
    d->pp.enter = (float)(ENTER_PENALTY_MM / g->lateral_mm);
    d->pp.leave = d->pp.enter;
    d->min_cols = MIN_SURFACE_MM / g->lateral_mm;
    d->min_score = MIN_SURFACE_SCORE / g->lateral_mm;
    usg_bone_detector_reset(d);
    *out = d;
    return USG_OK;
}

void usg_bone_detector_set_needle(usg_bone_detector *d, const usg_needle *needle) {
    if (!d) return;
    if (needle && needle->found) d->needle = *needle;
    else d->needle.found = 0;
}

void usg_bone_detector_reset(usg_bone_detector *d) {
    if (!d) return;
    d->needle.found = 0;
    for (int j = 0; j < d->g.nr; j++) d->prior[j] = -1;
    memset(d->label_prev, 0, (size_t)d->g.nr);
    d->side_vote = 0;
    d->prev_cleft = -1;
}

void usg_bone_detector_free(usg_bone_detector *d) {
    if (!d) return;
    usg_bone_grid_free(&d->g);
    usg_bone_dp_free(&d->dp);
    free(d->a); free(d->f); free(d->prefix); free(d->tmp); free(d->path);
    free(d->depth); free(d->prior); free(d->label); free(d->label_prev); free(d->seg);
    free(d->px); free(d->py); free(d->ex); free(d->ey);
    usg_depth_profile_free(&d->prof);
    free(d);
}

/* Add the temporal prior: a bonus near last frame's surface depth. */
static void add_prior(usg_bone_detector *d) {
    const usg_bone_grid *g = &d->g;
    double sig = PRIOR_SIGMA_MM / g->depth_mm;
    int reach = (int)ceil(3 * sig);
    float k = (float)(-0.5 / (sig * sig));
    for (int j = 0; j < g->nr; j++) {
        if (d->prior[j] < 0) continue;
        float *fc = d->f + (size_t)j * g->nd;
        int c = (int)lroundf(d->prior[j]);
        int lo = c - reach < g->lo[j] ? g->lo[j] : c - reach;
        int hi = c + reach + 1 > g->hi[j] ? g->hi[j] : c + reach + 1;
        for (int i = lo; i < hi; i++) {
            float dd = (float)i - d->prior[j];
            if (fc[i] > 0) fc[i] += PRIOR_WEIGHT * expf(k * dd * dd);
        }
    }
}

/* Sub-sample depth of the brightness peak near the DP path on line j. */
static float refine_depth(const usg_bone_detector *d, int j, int p) {
    const usg_bone_grid *g = &d->g;
    const float *col = d->a + (size_t)j * g->nd;
    int lo = g->lo[j], hi = g->hi[j];
    int a = p - 2 < lo ? lo : p - 2, b = p + 2 >= hi ? hi - 1 : p + 2;
    int m = p;
    for (int i = a; i <= b; i++) if (col[i] > col[m]) m = i;
    if (m <= lo || m >= hi - 1) return (float)m;
    float y0 = col[m - 1], y1 = col[m], y2 = col[m + 1];
    float den = y0 - 2 * y1 + y2;
    float off = den < 0 ? 0.5f * (y0 - y2) / den : 0;
    if (off > 0.5f) off = 0.5f;
    if (off < -0.5f) off = -0.5f;
    return (float)m + off;
}

/* Score, mean depth and slope of the scan lines j0..j1 of s that are on the path. */
static void seg_stats(const usg_bone_detector *d, segment *s) {
    const usg_bone_grid *g = &d->g;
    double sum_d = 0, sxy = 0, sx = 0, sxx = 0, n = 0;
    s->score = 0;
    for (int k = s->j0; k <= s->j1; k++) {
        int p = d->path[k];
        if (p < 0) continue;
        double dm = d->depth[k] * g->depth_mm, xm = k * g->lateral_mm;
        s->score += d->f[(size_t)k * g->nd + p] - d->pp.tau;
        sum_d += dm; sx += xm; sxx += xm * xm; sxy += xm * dm; n++;
    }
    s->depth_mm = n > 0 ? sum_d / n : 0;
    double vx = n > 0 ? sxx - sx * sx / n : 0;
    s->slope = vx > 1e-9 ? (sxy - sx * sum_d / n) / vx : 0;
}

/* Cut the DP path into continuous surfaces with their statistics. */
static void find_segments(usg_bone_detector *d) {
    const usg_bone_grid *g = &d->g;
    d->nseg = 0;
    int j = 0;
    while (j < g->nr) {
        if (d->path[j] < 0) { j++; continue; }
        int k = j;
        for (;;) {
            d->depth[k] = refine_depth(d, k, d->path[k]);
            if (k + 1 >= g->nr || d->path[k + 1] < 0 || abs(d->path[k + 1] - d->path[k]) > d->pp.kmax) break;
            k++;
        }
        segment s = {.j0 = j, .j1 = k};
        seg_stats(d, &s);
        if (k - j + 1 >= d->min_cols && s.score >= d->min_score) d->seg[d->nseg++] = s;
        j = k + 1;
    }
}

/* Last frame's needle axis: unit direction entry -> tip (*ux, *uy) and the
 * unit normal pointing deeper (*nx, *ny); its length (px), 0 for none. */
static double needle_axis(const usg_bone_detector *d, double *ux, double *uy, double *nx, double *ny) {
    const usg_needle *n = &d->needle;
    double len = hypot(n->tip.x - n->entry.x, n->tip.y - n->entry.y);
    if (!n->found || len < 1.0) return 0;
    *ux = (n->tip.x - n->entry.x) / len;
    *uy = (n->tip.y - n->entry.y) / len;
    double s = *ux >= 0 ? 1.0 : -1.0; /* (-uy, ux) points down for a needle going right */
    *nx = -*uy * s;
    *ny = *ux * s;
    return len;
}

/* 1 if the image point lies within NEEDLE_BAND_MM above last frame's needle
 * axis and below_mm beneath it, between its entry and ahead_mm beyond its tip
 * (negative: short of it). */
static int on_needle(const usg_bone_detector *d, double x, double y, double ahead_mm, double below_mm) {
    double sp = usg_probe_spacing(&d->probe), ux, uy, nx, ny, len = needle_axis(d, &ux, &uy, &nx, &ny);
    if (len <= 0) return 0;
    double rx = x - d->needle.entry.x, ry = y - d->needle.entry.y, along = rx * ux + ry * uy;
    if (along < 0 || along > len + ahead_mm / sp) return 0;
    double off = rx * nx + ry * ny;
    return off >= -NEEDLE_BAND_MM / sp && off <= below_mm / sp;
}

/* Mean grid brightness of scan line j over depths [i0, i1) clamped to its
 * valid range; -1 if empty. */
static double line_mean(const usg_bone_detector *d, int j, int i0, int i1) {
    const usg_bone_grid *g = &d->g;
    if (i0 < g->lo[j]) i0 = g->lo[j];
    if (i1 > g->hi[j]) i1 = g->hi[j];
    if (i1 <= i0) return -1;
    const float *col = d->a + (size_t)j * g->nd;
    double s = 0;
    for (int i = i0; i < i1; i++) s += col[i];
    return s / (i1 - i0);
}

/* The mean brightness of scan line j above depth p (*above: clear of a
 * needle's echo, whose lower edge a path may follow) and over the shadow band
 * beneath it (*below); 0 when either is empty. */
static int beam_around(const usg_bone_detector *d, int j, int p, double *above, double *below) {
    int gap = d->sp.gap, len = d->sp.shadow_len;
    *above = line_mean(d, j, p - 2 * gap - len / 2, p - 2 * gap);
    *below = line_mean(d, j, p + gap, p + gap + len);
    return *above >= 0 && *below >= 0;
}

/* The grid's depth profile of this frame (every other scan line). */
static void profile_frame(usg_bone_detector *d) {
    const usg_bone_grid *g = &d->g;
    usg_depth_profile_clear(&d->prof);
    for (int j = 0; j < g->nr; j += 2) {
        const float *col = d->a + (size_t)j * g->nd;
        for (int i = g->lo[j]; i < g->hi[j]; i++) usg_depth_profile_add(&d->prof, i * g->depth_mm, (int)col[i]);
    }
    usg_depth_profile_finish(&d->prof, PROFILE_WINDOW_MM);
}

/* The share of the tissue above depth p (beam_around's band) that its depth
 * alone leaves in the band beneath it. */
static double falloff_at(const usg_bone_detector *d, int p) {
    double gap = d->sp.gap, len = d->sp.shadow_len, z = d->g.depth_mm;
    return usg_depth_profile_falloff(&d->prof, p * z, (2 * gap + len / 4.0) * z, (gap + len / 2.0) * z,
                                     NEEDLE_FALLOFF_MIN);
}

/* Is the beam beneath depth p of scan line j darker than the tissue above
 * (and its depth's falloff), but no bone's shadow (NEEDLE_CLEAR_LIT, not NEEDLE_LIT)? */
static int dimmed_below(const usg_bone_detector *d, int j, int p) {
    double a, b;
    if (!beam_around(d, j, p, &a, &b)) return 0;
    a *= falloff_at(d, p);
    return b >= NEEDLE_CLEAR_LIT * a && b < NEEDLE_LIT * a;
}

/* Clear the bone evidence on last frame's needle (up to NEEDLE_CLEAR_SHORT_MM
 * short of its tip: where it meets the cortex it is aimed at) where the beam
 * beneath is not in a bone's shadow (dimmed_below, NEEDLE_CLEAR_LIT): over
 * darker tissue (a layer beneath a fascia, a deep field that fades) a needle's
 * echo reads as a cortex with its shadow, and the path follows it, or joins it
 * to the bone beneath. Within NEEDLE_BAND_MM of the axis, evidence with such a
 * beam beneath it, or anywhere on a scan line whose beam beneath the axis
 * itself is such; down to NEEDLE_TAIL_MM beneath the axis (the foot of its
 * reverberation tail, with the beam beneath it deeper into that tissue) only
 * on such a scan line (a cortex there, beneath a needle that nears it, shadows
 * the beam beneath the axis). Scan lines are straight, their points evenly spaced
 * in depth: only the depths where one crosses the needle's band are looked at. */
static void clear_needle(usg_bone_detector *d) {
    const usg_needle *n = &d->needle;
    const usg_bone_grid *g = &d->g;
    double ux, uy, nx, ny;
    if (needle_axis(d, &ux, &uy, &nx, &ny) <= 0) return;
    double sp = usg_probe_spacing(&d->probe), band = NEEDLE_BAND_MM / sp, tail = NEEDLE_TAIL_MM / sp;
    for (int j = 0; j < g->nr; j++) {
        if (g->hi[j] - g->lo[j] < 2) continue;
        double x0, y0, x1, y1;
        usg_bone_grid_point(g, j, g->lo[j], &x0, &y0);
        usg_bone_grid_point(g, j, g->hi[j] - 1, &x1, &y1);
        /* signed distance off the axis, linear in the depth index */
        double s0 = (x0 - n->entry.x) * nx + (y0 - n->entry.y) * ny, s1 = (x1 - n->entry.x) * nx + (y1 - n->entry.y) * ny;
        double ds = (s1 - s0) / (g->hi[j] - 1 - g->lo[j]);
        int lo = g->lo[j], hi = g->hi[j] - 1, dim_line = 0;
        if (fabs(ds) > 1e-9) {
            /* the depth where the scan line crosses the axis: the needle's own echo */
            double ic = g->lo[j] - s0 / ds;
            dim_line = ic >= g->lo[j] && ic <= g->hi[j] - 1 && dimmed_below(d, j, (int)lrint(ic));
            double ia = g->lo[j] + (-band - s0) / ds, ib = g->lo[j] + (tail - s0) / ds;
            int a = (int)floor(fmin(ia, ib)), b = (int)ceil(fmax(ia, ib)); /* (on_needle decides: a sample either side) */
            if (a > lo) lo = a;
            if (b < hi) hi = b;
        } else if (s0 < -band || s0 > tail) {
            continue; /* a scan line parallel to the axis, outside its band */
        }
        float *fc = d->f + (size_t)j * g->nd;
        for (int i = lo; i <= hi; i++) {
            double x, y;
            usg_bone_grid_point(g, j, i, &x, &y);
            if (fc[i] > 0 && on_needle(d, x, y, -NEEDLE_CLEAR_SHORT_MM, NEEDLE_TAIL_MM) &&
                (dim_line || (on_needle(d, x, y, -NEEDLE_CLEAR_SHORT_MM, NEEDLE_BAND_MM) && dimmed_below(d, j, i)))) fc[i] = 0;
        }
    }
}

/* 1 if most of s lies along last frame's needle with the beam below it as
 * bright as the tissue above (no shadow), or the tissue above it black (a
 * frame below the display floor: no shadow to tell): the needle's echo, not
 * bone. */
static int is_needle(const usg_bone_detector *d, const segment *s) {
    const usg_bone_grid *g = &d->g;
    int on = 0, n = 0;
    double above = 0, below = 0;
    for (int k = s->j0; k <= s->j1; k++) {
        if (d->path[k] < 0) continue;
        n++;
        double x, y;
        usg_bone_grid_point(g, k, d->depth[k], &x, &y);
        if (!on_needle(d, x, y, NEEDLE_AHEAD_MM, NEEDLE_BAND_MM)) continue;
        double a, b;
        if (!beam_around(d, k, d->path[k], &a, &b)) continue;
        on++;
        above += a * falloff_at(d, d->path[k]);
        below += b;
    }
    return n > 0 && on >= NEEDLE_SHARE * n && (below >= NEEDLE_LIT * above || above <= NEEDLE_FLOOR_GREY * on);
}

/* Drop the surfaces that are last frame's needle (is_needle). */
static void drop_needle(usg_bone_detector *d) {
    if (!d->needle.found) return;
    int k = 0;
    for (int i = 0; i < d->nseg; i++)
        if (!is_needle(d, &d->seg[i])) d->seg[k++] = d->seg[i];
    d->nseg = k;
}

/* Echo (grid brightness) of scan line j on the path. */
static float path_echo(const usg_bone_detector *d, int j) {
    return d->path[j] < 0 ? 0 : d->a[(size_t)j * d->g.nd + d->path[j]];
}

/* The bottom of a closed cleft between scan lines j0..j1: on the line of
 * weakest echo, where the grey below the path falls to NOTCH_LEVEL of it. The two
 * cortices curl down into the cleft there; their echoes blur into one notch
 * whose lower edge marks where the curls end. */
static usg_point notch_bottom(const usg_bone_detector *d, int j0, int j1) {
    const usg_bone_grid *g = &d->g;
    int jn = -1;
    for (int j = j0; j <= j1; j++)
        if (d->path[j] >= 0 && (jn < 0 || path_echo(d, j) < path_echo(d, jn))) jn = j;
    usg_point p = {NAN, NAN};
    if (jn < 0) return p;
    const float *col = d->a + (size_t)jn * g->nd;
    int i = d->path[jn];
    float half = NOTCH_LEVEL * col[i];
    double di = i;
    const int i0 = i, reach = (int)ceil(NOTCH_MAX_MM / g->depth_mm);
    while (i + 1 < g->hi[jn] && col[i + 1] > half && i - i0 < reach) i++;
    if (i + 1 >= g->hi[jn] || i - i0 >= reach) return p; /* bright below: an open cleft */
    di = i + (col[i] - half) / (col[i] - col[i + 1] + 1e-6f);
    usg_bone_grid_point(g, jn, di, &p.x, &p.y);
    return p;
}

/* The V at scan lines k0..k1 of s: how far (mm) the deepest point of the run
 * (or next to it) lies below the chord of the points `arm` lines beyond its
 * ends; NAN if those lie outside s or off the path. */
static double v_depth(const usg_bone_detector *d, const segment *s, int k0, int k1, int arm) {
    int lo = k0 - arm, hi = k1 + arm;
    if (lo < s->j0 || hi > s->j1 || d->path[lo] < 0 || d->path[hi] < 0) return NAN;
    double v = -1e9;
    for (int j = k0 - 1; j <= k1 + 1; j++) {
        if (j < s->j0 || j > s->j1 || d->path[j] < 0) continue;
        double chord = d->depth[lo] + (d->depth[hi] - d->depth[lo]) * (j - lo) / (double)(hi - lo);
        if (d->depth[j] - chord > v) v = d->depth[j] - chord;
    }
    return v * d->g.depth_mm;
}

/* A lone surface that is really both bones meeting at the cleft. Cleft
 * candidates along it: a run of weak echo (the path crossing the top of the
 * cleft) or a single scan line, either way at the bottom of a V (the two
 * cortices slope down into the cleft: depth below the chord of the points
 * CLEFT_ARM_MM beyond either side, at least CLEFT_V_MM), leaving a bone on
 * both sides, and with the echo dipping there (the cortex turns away from the
 * beam) unless the V is deep (CLEFT_V_MM x 2, or CLEFT_WIDE_V_MM wide);
 * near last frame's cleft half of each will do. The strongest candidate (V depth, also against
 * a CLEFT_WIDE_MM chord, + dip + half the run length) wins, among those near
 * last frame's cleft if there are any. */
static int split_at_cleft(const usg_bone_detector *d, const segment *s, segment *l, segment *r,
                          usg_point *notch) {
    const usg_bone_grid *g = &d->g;
    int arm = (int)lround(CLEFT_ARM_MM / g->lateral_mm);
    if (arm < 2) arm = 2;
    const int wide = (int)lround(CLEFT_WIDE_MM / g->lateral_mm);
    int margin = (int)ceil(d->min_cols);
    if (margin < arm) margin = arm;
    double sum = 0;
    int n = 0;
    for (int j = s->j0; j <= s->j1; j++) if (d->path[j] >= 0) { sum += path_echo(d, j); n++; }
    if (n == 0) return 0;
    const float weak = (float)(TRIM_ECHO * sum / n);
    const double reach = CLEFT_TRACK_MM / g->lateral_mm;
    double best = 0, best_near = 1e9;
    int a0 = -1, a1 = -1;
    for (int j = s->j0 + margin; j <= s->j1 - margin; j++) {
        int k0 = j, k1 = j;
        if (path_echo(d, j) < weak) { /* a weak run j..k1 */
            if (j > s->j0 + margin && path_echo(d, j - 1) < weak) continue; /* not its start */
            while (k1 + 1 <= s->j1 - margin && path_echo(d, k1 + 1) < weak) k1++;
        }
        double v = v_depth(d, s, k0, k1, arm), v_wide = v_depth(d, s, k0, k1, wide);
        if (isnan(v)) continue;
        if (isnan(v_wide) || v_wide < 0) v_wide = 0;
        /* the echo dip: the cortex turns away from the beam at the cleft */
        float low = path_echo(d, k0 - 1);
        for (int j = k0; j <= k1 + 1; j++) if (path_echo(d, j) < low) low = path_echo(d, j);
        double dip = 1.0 - low / (sum / n);
        double near = d->prev_cleft >= 0 ? fabs(0.5 * (k0 + k1) - d->prev_cleft) : 1e9;
        double f = near <= reach ? 0.5 : 1.0; /* where the cleft was last frame, half the evidence will do */
        int shallow = v >= f * CLEFT_SHALLOW_V_MM && dip >= f * CLEFT_SHALLOW_DIP;
        if (!shallow && (v < f * CLEFT_V_MM ||
            (dip < f * CLEFT_DIP && v < 2 * f * CLEFT_V_MM && v_wide < f * CLEFT_WIDE_V_MM))) continue;
        double strength = v + v_wide + CLEFT_DIP_WEIGHT * dip + 0.5 * (k1 - k0) * g->lateral_mm;
        int in = near <= reach, best_in = best_near <= reach;
        int better = in != best_in ? in : strength > best;
        if (better) { best = strength; best_near = near; a0 = k0; a1 = k1; }
    }
    if (a0 < 0) return 0;
    *notch = notch_bottom(d, a0 - 1, a1 + 1);
    *l = *s; *r = *s;
    l->j1 = a0 - 1;
    r->j0 = a1 + 1;
    seg_stats(d, l);
    seg_stats(d, r);
    return 1;
}

/* Cut from the end of s facing `dir` (+1 right, -1 left) the scan lines whose
 * echo is below TRIM_ECHO of the surface's mean echo: a cortex is bright;
 * where the path runs on along the weaker top of the joint cleft (tissue
 * over a hypoechoic gap), it has left the bone. */
static void trim_facing_end(const usg_bone_detector *d, segment *s, int dir) {
    double sum = 0;
    int n = 0;
    for (int j = s->j0; j <= s->j1; j++) if (d->path[j] >= 0) { sum += path_echo(d, j); n++; }
    if (n == 0) return;
    float lim = (float)(TRIM_ECHO * sum / n);
    int keep = (int)ceil(d->min_cols);
    if (dir > 0) while (s->j1 - s->j0 >= keep && path_echo(d, s->j1) < lim) s->j1--;
    else while (s->j1 - s->j0 >= keep && path_echo(d, s->j0) < lim) s->j0++;
    seg_stats(d, s);
}

/* Distance (mm) between the image points of scan lines ja and jb on the path. */
static double path_mm(const usg_bone_detector *d, int ja, int jb) {
    double x0, y0, x1, y1;
    usg_bone_grid_point(&d->g, ja, d->depth[ja], &x0, &y0);
    usg_bone_grid_point(&d->g, jb, d->depth[jb], &x1, &y1);
    return hypot((x1 - x0) * d->probe.spacing_x_mm, (y1 - y0) * d->probe.spacing_y_mm);
}

/* 1 if surfaces a and b can be the two sides of one joint: their facing ends
 * lie within MAX_CLEFT_MM (a soft-tissue line far above a bone is not the
 * other bone), or within FAR_CLEFT_MM when both span FAR_SURFACE_MM end to
 * end: on a curvilinear probe the ilium's steep wall down into the cleft is
 * beyond the steepest surface followed, and the end of it seen lies farther
 * from the sacrum's (soft-tissue lines that far apart span 3-10 mm). */
static int joint_partners(const usg_bone_detector *d, const segment *a, const segment *b) {
    if (b->j0 < a->j0) { const segment *t = a; a = b; b = t; }
    double mm = path_mm(d, a->j1, b->j0);
    if (mm <= MAX_CLEFT_MM) return 1;
    return mm <= FAR_CLEFT_MM && path_mm(d, a->j0, a->j1) >= FAR_SURFACE_MM &&
           path_mm(d, b->j0, b->j1) >= FAR_SURFACE_MM;
}

/* 1 if b continues a: at most FRAGMENT_GAP_MM apart across the beam with a
 * depth step of at most FRAGMENT_STEP_MM (a break in one surface, not a cleft). */
static int continues(const usg_bone_detector *d, const segment *a, const segment *b) {
    if (b->j0 < a->j0) { const segment *t = a; a = b; b = t; }
    double gap = (b->j0 - a->j1) * d->g.lateral_mm;
    double step = fabs(d->depth[b->j0] - d->depth[a->j1]) * d->g.depth_mm;
    return gap <= FRAGMENT_GAP_MM && step <= FRAGMENT_STEP_MM;
}

/* Index of the best unused segment that can be the other side of the joint
 * from s (and scores at least SECOND_RATIO of it), -1 if none. */
static int best_partner(const usg_bone_detector *d, const segment *s) {
    int b = -1;
    for (int i = 0; i < d->nseg; i++) {
        const segment *c = &d->seg[i];
        if (c->used || c->score < SECOND_RATIO * s->score || !joint_partners(d, s, c)) continue;
        if (b < 0 || c->score > d->seg[b].score) b = i;
    }
    return b;
}

/* Index of the best unused segment (by score), -1 if none. */
static int best_segment(const usg_bone_detector *d) {
    int b = -1;
    for (int i = 0; i < d->nseg; i++)
        if (!d->seg[i].used && (b < 0 || d->seg[i].score > d->seg[b].score)) b = i;
    return b;
}

/* Depth (index) at the end of segment s nearest scan line j. */
static float end_depth(const usg_bone_detector *d, const segment *s, int j) {
    return d->depth[j <= s->j0 ? s->j0 : s->j1];
}

/* Join fragments that continue segment s outward (away from `other`, -1 =
 * both ways) within MERGE_GAP_MM and a plausible depth step. */
static void merge_fragments(usg_bone_detector *d, segment *s, const segment *other) {
    const usg_bone_grid *g = &d->g;
    double max_gap = MERGE_GAP_MM / g->lateral_mm;
    int changed = 1;
    while (changed) {
        changed = 0;
        for (int i = 0; i < d->nseg; i++) {
            segment *c = &d->seg[i];
            if (c->used) continue;
            int left = c->j1 < s->j0;
            if (other && (left ? other->j0 < s->j0 : other->j0 > s->j0)) continue; /* between */
            int gap = left ? s->j0 - c->j1 : c->j0 - s->j1;
            if (gap <= 0 || gap > max_gap) continue;
            float ds = fabsf(end_depth(d, s, left ? s->j0 : s->j1) - end_depth(d, c, left ? c->j1 : c->j0));
            double allowed = (MERGE_STEP_MM + MAX_SLOPE * gap * g->lateral_mm) / g->depth_mm;
            if (ds > allowed) continue;
            c->used = 1;
            if (left) s->j0 = c->j0; else s->j1 = c->j1;
            s->score += c->score;
            changed = 1;
        }
    }
}

/* Evidence (mm) that the sacrum is the left surface l, the ilium the right
 * one r (< 0: the other way round). The ilium is the shallower bone and the
 * steeper one: compared at the same distances from the cleft (SIDE_FROM_MM to
 * SIDE_TO_MM, as far as both reach), the depth of l minus that of r, plus the
 * difference of their rise away from the cleft over SIDE_SLOPE_MM. */
static double side_evidence(const usg_bone_detector *d, const segment *l, const segment *r) {
    const usg_bone_grid *g = &d->g;
    const double sx = d->probe.spacing_x_mm, sy = d->probe.spacing_y_mm;
    double xl0, yl0, xr0, yr0;
    usg_bone_grid_point(g, l->j1, d->depth[l->j1], &xl0, &yl0);
    usg_bone_grid_point(g, r->j0, d->depth[r->j0], &xr0, &yr0);
    int k0 = (int)lround(SIDE_FROM_MM / g->lateral_mm), k1 = (int)lround(SIDE_TO_MM / g->lateral_mm);
    double n = 0, sk = 0, skk = 0, sl = 0, sr = 0, skl = 0, skr = 0;
    for (int k = k0; k <= k1; k++) {
        int jl = l->j1 - k, jr = r->j0 + k;
        if (jl < l->j0 || jr > r->j1) break;
        if (d->path[jl] < 0 || d->path[jr] < 0) continue;
        double xl, yl, xr, yr;
        usg_bone_grid_point(g, jl, d->depth[jl], &xl, &yl);
        usg_bone_grid_point(g, jr, d->depth[jr], &xr, &yr);
        double x = 0.5 * ((xl0 - xl) + (xr - xr0)) * sx; /* distance from the cleft */
        yl *= sy; yr *= sy;
        n++; sk += x; skk += x * x; sl += yl; sr += yr; skl += x * yl; skr += x * yr;
    }
    if (n < 2) return r->depth_mm - l->depth_mm < 0 ? 0.5 : -0.5; /* overall: the shallower is the ilium */
    double diff = (sl - sr) / n;
    double vx = skk - sk * sk / n;
    if (n < 4 || vx < 1e-9) return diff;
    double bl = (skl - sk * sl / n) / vx, br = (skr - sk * sr / n) / vx; /* depth change per mm away from the cleft */
    return diff + SIDE_SLOPE_MM * (bl - br);
}

/* Medial side to use this frame. */
static usg_side medial_side(const usg_bone_detector *d) {
    if (d->medial != USG_SIDE_AUTO) return d->medial;
    return d->side_vote >= 0 ? USG_SIDE_LEFT : USG_SIDE_RIGHT;
}

/* Label of a lone surface: the label its scan lines had last frame, else
 * from its slope (each bone deepens toward the cleft between them). */
static int lone_label(const usg_bone_detector *d, const segment *s) {
    int ns = 0, ni = 0;
    for (int j = s->j0; j <= s->j1; j++) {
        ns += d->label_prev[j] == LBL_SACRUM;
        ni += d->label_prev[j] == LBL_ILIUM;
    }
    if (ns != ni) return ns > ni ? LBL_SACRUM : LBL_ILIUM;
    int left_bone = s->slope > 0; /* deepens to the right: the cleft is on its right */
    return (medial_side(d) == USG_SIDE_LEFT) == left_bone ? LBL_SACRUM : LBL_ILIUM;
}

/* Append (x, y) to edge e keeping x increasing and points at most 2 px apart. */
static void edge_push(usg_edge *e, double x, double y) {
    if (e->n > 0) {
        usg_point p = e->pts[e->n - 1];
        if (x <= p.x) return; /* keep x increasing (steep fan surfaces, corners) */
        int steps = (int)ceil(hypot(x - p.x, y - p.y) / 1.9);
        for (int k = 1; k < steps && e->n < USG_EDGE_MAX; k++) {
            double t = (double)k / steps;
            e->pts[e->n++] = (usg_point){p.x + t * (x - p.x), p.y + t * (y - p.y)};
        }
    }
    if (e->n < USG_EDGE_MAX) e->pts[e->n++] = (usg_point){x, y};
}

/* Points of segment s on the grid (depth smoothed over its neighbours) into
 * d->px/py starting at index `at`; returns the count. */
static int grid_points(const usg_bone_detector *d, const segment *s, int at) {
    int n = at;
    for (int j = s->j0; j <= s->j1; j++) {
        if (d->label[j] == LBL_NONE) continue;
        double sum = 2.0 * d->depth[j], wsum = 2.0;
        if (j > s->j0 && d->label[j - 1] == d->label[j]) { sum += d->depth[j - 1]; wsum += 1; }
        if (j < s->j1 && d->label[j + 1] == d->label[j]) { sum += d->depth[j + 1]; wsum += 1; }
        usg_bone_grid_point(&d->g, j, sum / wsum, &d->px[n], &d->py[n]);
        n++;
    }
    return n - at;
}

/* Grid point of segment s at its end facing `dir` (+1 right end, -1 left), or
 * `back` scan lines inward from it. */
static usg_point seg_point(const usg_bone_detector *d, const segment *s, int dir, int back) {
    int j = dir > 0 ? s->j1 - back : s->j0 + back;
    if (j < s->j0) j = s->j0;
    if (j > s->j1) j = s->j1;
    while (d->path[j] < 0 && j != (dir > 0 ? s->j1 : s->j0)) j += dir; /* a bridged gap */
    usg_point p;
    usg_bone_grid_point(&d->g, j, d->depth[j], &p.x, &p.y);
    return p;
}

/* Write segment s as an edge in clipped-image pixels; its end facing the
 * other bone o (NULL: none) is followed down to the cleft wall, or with
 * use_notch (a closed cleft) ends at the cleft's bottom. Returns 1 if a wall
 * was followed. */
static int write_edge(usg_bone_detector *d, const usg_image *img, const segment *s,
                      const segment *o, int use_notch, usg_edge *e) {
    e->n = 0;
    e->found = 0;
    const int m = d->wall.cap;
    int n = grid_points(d, s, m);
    if (n < 1) return 0;
    int nl = 0, nr = 0, wall = 0;
    if (o) {
        int dir = o->j0 > s->j0 ? 1 : -1;
        int back = (int)lround(WALL_INNER_MM / d->g.lateral_mm);
        int k = usg_bone_wall(&d->g, img, &d->wall, seg_point(d, s, dir, 0), seg_point(d, s, dir, back),
                              seg_point(d, o, -dir, 0), d->ex, d->ey);
        wall = k > 0;
        if (k == 0 && use_notch) { /* a closed cleft: the curl ends at its bottom */
            d->ex[0] = d->notch.x;
            d->ey[0] = d->notch.y;
            k = 1;
        }
        if (dir > 0) {
            for (int i = 0; i < k; i++) { d->px[m + n + i] = d->ex[i]; d->py[m + n + i] = d->ey[i]; }
            nr = k;
        } else {
            for (int i = 0; i < k; i++) { d->px[m - 1 - i] = d->ex[i]; d->py[m - 1 - i] = d->ey[i]; }
            nl = k;
        }
    }
    for (int k = m - nl; k < m + n + nr; k++) edge_push(e, d->px[k], d->py[k]);
    e->found = e->n >= 2;
    if (!e->found) e->n = 0;
    return wall;
}

/* Mark the scan lines of s that lie on the path with label l. */
static void mark(usg_bone_detector *d, const segment *s, int l) {
    for (int j = s->j0; j <= s->j1; j++)
        if (d->path[j] >= 0) d->label[j] = (uint8_t)l;
}

/* Choose and label up to two surfaces; fill sacrum and ilium. */
static void label_surfaces(usg_bone_detector *d, const usg_image *img, usg_edge *sacrum, usg_edge *ilium) {
    segment none = {0}, *sa = &none, *il = &none, cut_l, cut_r;
    d->cur_cleft = -1;
    d->notch = (usg_point){NAN, NAN};
    int ia = best_segment(d);
    if (ia >= 0) {
        d->seg[ia].used = 1;
        int ib = best_partner(d, &d->seg[ia]);
        /* a partner that merely continues the surface is a fragment of it,
         * and the cleft may be inside the surface */
        int cut = (ib < 0 || continues(d, &d->seg[ia], &d->seg[ib])) &&
                  split_at_cleft(d, &d->seg[ia], &cut_l, &cut_r, &d->notch);
        if (cut) ib = -1;
        if (ib >= 0 || cut) {
            segment *l = cut ? &cut_l : &d->seg[ia], *r = cut ? &cut_r : &d->seg[ib];
            if (!cut) d->seg[ib].used = 1;
            if (r->j0 < l->j0) { segment *t = l; l = r; r = t; }
            merge_fragments(d, l, r);
            merge_fragments(d, r, l);
            trim_facing_end(d, l, +1);
            trim_facing_end(d, r, -1);
            d->cur_cleft = 0.5 * (l->j1 + r->j0);
            if (d->medial == USG_SIDE_AUTO) {
                double v = side_evidence(d, l, r);
                v = v > SIDE_VOTE_CAP_MM ? SIDE_VOTE_CAP_MM : v < -SIDE_VOTE_CAP_MM ? -SIDE_VOTE_CAP_MM : v;
                d->side_vote = SIDE_DECAY * d->side_vote + v;
            }
            if (medial_side(d) == USG_SIDE_LEFT) { sa = l; il = r; } else { sa = r; il = l; }
        } else {
            segment *s = &d->seg[ia];
            merge_fragments(d, s, NULL);
            if (lone_label(d, s) == LBL_SACRUM) sa = s; else il = s;
        }
    }
    memset(d->label, 0, (size_t)d->g.nr);
    if (sa != &none) mark(d, sa, LBL_SACRUM);
    if (il != &none) mark(d, il, LBL_ILIUM);
    sacrum->found = ilium->found = 0;
    sacrum->n = ilium->n = 0;
    int both = sa != &none && il != &none;
    int walls = 0;
    if (sa != &none) walls += write_edge(d, img, sa, both ? il : NULL, 0, sacrum);
    if (il != &none) walls += write_edge(d, img, il, both ? sa : NULL, 0, ilium);
    if (both && walls == 0 && !isnan(d->notch.x)) { /* no cleft column on either side: closed */
        write_edge(d, img, sa, il, 1, sacrum);
        write_edge(d, img, il, sa, 1, ilium);
    }
}

/* Remember this frame's surfaces for the next one. */
static void update_state(usg_bone_detector *d) {
    for (int j = 0; j < d->g.nr; j++)
        d->prior[j] = d->label[j] != LBL_NONE ? d->depth[j] : -1.0f;
    memcpy(d->label_prev, d->label, (size_t)d->g.nr);
    d->prev_cleft = d->cur_cleft;
}

usg_status usg_bone_detector_process(usg_bone_detector *d, const usg_image *img,
                                     usg_edge *sacrum, usg_edge *ilium) {
    if (!d || !img || !img->data || !sacrum || !ilium)
        return usg_fail(USG_ERR_ARG, "bone: missing image or output");
    if (img->width != d->w || img->height != d->h)
        return usg_fail(USG_ERR_ARG, "bone: image is %dx%d, the detector was made for %dx%d",
                        img->width, img->height, d->w, d->h);
    usg_bone_grid_sample(&d->g, img, d->a);
    usg_bone_score(&d->g, &d->sp, d->a, d->f, d->prefix, d->tmp);
    profile_frame(d);
    add_prior(d);
    clear_needle(d);
    usg_bone_dp_run(&d->dp, &d->g, &d->pp, d->f, d->path);
    find_segments(d);
    drop_needle(d);
    label_surfaces(d, img, sacrum, ilium);
    update_state(d);
    return USG_OK;
}
