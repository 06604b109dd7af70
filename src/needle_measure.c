/* needle_measure.c - measure a needle along a candidate axis.
 *
 * The image is resampled along the axis (a strip); the across-axis ridge
 * contrast peaks are fitted robustly (straightness); the shaft is a run of
 * contrast along the axis (gaps shorter than ~1 mm bridged) - preferably one
 * that starts at the imaged region's boundary, as an inserted needle does;
 * the axis is refitted on that run alone; the tip is the sub-pixel
 * half-level crossing of the intensity at the run's far end. Features for
 * the plausibility test (contrast, straightness, shadow beneath, bone edge
 * proximity) are measured on the shaft. */
#include "needle_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }
static double clampd(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* ---------------------------------------------------------------- context */

int nd_flank_px(double sp) { return clampi((int)lrint(0.9 / sp), 3, 9); }

/* A context's own buffers: the strip, scratch and peaks. */
static usg_status ctx_buffers(nd_ctx *c, int cap_len, int cap_rows) {
    usg_status st = nd_strip_init(&c->st, cap_len, cap_rows);
    if (st != USG_OK) return st;
    c->scratch_cap = 4 * cap_len + 1024;
    c->scratch = malloc((size_t)c->scratch_cap * sizeof(float));
    c->pk_v = malloc((size_t)cap_len * sizeof(float));
    c->pk_c = malloc((size_t)cap_len * sizeof(float));
    c->pk_ok = malloc((size_t)cap_len);
    return c->scratch && c->pk_v && c->pk_c && c->pk_ok ? USG_OK : USG_ERR_NOMEM;
}

usg_status nd_ctx_init(nd_ctx *c, int w, int h, double sp, int cap_rows) {
    memset(c, 0, sizeof *c);
    c->w = w;
    c->h = h;
    c->sp = sp;
    c->flank0 = c->flank = nd_flank_px(sp);
    c->box_a = clampi((int)lrint(1.2 / sp), 3, 12);
    int cap_len = (int)ceil(hypot(w, h)) + 4;
    usg_status st = ctx_buffers(c, cap_len, cap_rows);
    c->mask = malloc((size_t)w * h);
    c->bdist = malloc((size_t)w * h * sizeof(uint16_t));
    if (st != USG_OK || !c->mask || !c->bdist) {
        nd_ctx_free(c);
        return usg_fail(USG_ERR_NOMEM, "needle: out of memory for %dx%d frames", w, h);
    }
    return USG_OK;
}

usg_status nd_ctx_init_worker(nd_ctx *c, const nd_ctx *main) {
    memset(c, 0, sizeof *c);
    if (ctx_buffers(c, main->st.cap_len, main->st.cap_rows) != USG_OK) {
        nd_ctx_free(c);
        return usg_fail(USG_ERR_NOMEM, "needle: out of memory for a worker's %dx%d strips", main->st.cap_len,
                        main->st.cap_rows);
    }
    c->shared_maps = 1;
    nd_ctx_sync(c, main);
    return USG_OK;
}

void nd_ctx_sync(nd_ctx *c, const nd_ctx *main) {
    nd_ctx own = *c;
    *c = *main;
    c->st = own.st;
    c->scratch = own.scratch;
    c->scratch_cap = own.scratch_cap;
    c->pk_v = own.pk_v;
    c->pk_c = own.pk_c;
    c->pk_ok = own.pk_ok;
    c->shared_maps = 1;
}

void nd_ctx_free(nd_ctx *c) {
    nd_strip_free(&c->st);
    if (!c->shared_maps) {
        free(c->mask);
        free(c->bdist);
    }
    free(c->scratch);
    free(c->pk_v); free(c->pk_c); free(c->pk_ok);
    memset(c, 0, sizeof *c);
}

void nd_ctx_distance(nd_ctx *c) {
    const int w = c->w, h = c->h;
    uint16_t *d = c->bdist;
    for (int i = 0; i < w * h; i++) d[i] = c->mask[i] ? 60000 : 0;
    /* chamfer 3-4, forward then backward; outside the image counts as boundary */
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int i = y * w + x, v = d[i];
            if (!v) continue;
            int a = x > 0 ? d[i - 1] + 3 : 3, b = y > 0 ? d[i - w] + 3 : 3;
            int e = (x > 0 && y > 0) ? d[i - w - 1] + 4 : 4, f = (x < w - 1 && y > 0) ? d[i - w + 1] + 4 : 4;
            if (a < v) v = a;
            if (b < v) v = b;
            if (e < v) v = e;
            if (f < v) v = f;
            d[i] = (uint16_t)v;
        }
    }
    for (int y = h - 1; y >= 0; y--) {
        for (int x = w - 1; x >= 0; x--) {
            int i = y * w + x, v = d[i];
            if (!v) continue;
            int a = x < w - 1 ? d[i + 1] + 3 : 3, b = y < h - 1 ? d[i + w] + 3 : 3;
            int e = (x < w - 1 && y < h - 1) ? d[i + w + 1] + 4 : 4, f = (x > 0 && y < h - 1) ? d[i + w - 1] + 4 : 4;
            if (a < v) v = a;
            if (b < v) v = b;
            if (e < v) v = e;
            if (f < v) v = f;
            d[i] = (uint16_t)v;
        }
    }
}

double nd_ctx_border_px(const nd_ctx *c, double x, double y) {
    int ix = (int)lrint(x), iy = (int)lrint(y);
    if (ix < 0 || iy < 0 || ix >= c->w || iy >= c->h) return 0;
    return c->bdist[iy * c->w + ix] / 3.0;
}

/* ------------------------------------------------------------ strip work */

#ifndef ND_NOISE_MIN_GREY
#define ND_NOISE_MIN_GREY -1.0f
#endif

/* Robust noise of the ridge contrast over columns k0..k1: MAD of the
 * outermost search rows, where there is tissue (black shadow or
 * outside-the-fan columns would make it zero). `quieter`: the side of the
 * axis with the smaller MAD (a tracked needle lying 2-4 mm above a cortex
 * has the cortex's edge in its outer rows on that side, which inflated the
 * noise threefold and lost the shaft). -1 if too few samples. */
static double side_mad(nd_ctx *c, int v, int k0, int k1) {
    const nd_strip *s = &c->st;
    int n = 0;
    for (int dv = 0; dv < 2; dv++) {
        int vv = v < 0 ? v + dv : v - dv;
        const float *con = nd_strip_row(s, s->con, vv), *sm = nd_strip_row(s, s->sm, vv);
        const uint8_t *ok = nd_strip_okrow(s, s->conok, vv);
        for (int k = k0; k <= k1 && n < c->scratch_cap; k += 2) {
            if (ok[k] && sm[k] > ND_NOISE_MIN_GREY) c->scratch[n++] = fabsf(con[k]);
        }
    }
    return n < 10 ? -1 : nd_median(c->scratch, n) * 1.4826;
}

static double strip_noise(nd_ctx *c, int rs, int k0, int k1, int quieter) {
    double a = side_mad(c, -rs, k0, k1), b = side_mad(c, rs, k0, k1), mad;
    if (a < 0 && b < 0) return -1;
    if (a < 0 || b < 0) mad = fmax(a, b);
    else mad = quieter ? fmin(a, b) : 0.5 * (a + b);
    return mad < 0.5 ? 0.5 : mad;
}

/* Per column: the contrast peak over v in [-rs, rs], sub-pixel. */
static void strip_peaks(nd_ctx *c, int rs) {
    const nd_strip *s = &c->st;
    for (int k = 0; k < s->len; k++) {
        float best = -1e30f;
        int bv = 0, any = 0;
        for (int v = -rs; v <= rs; v++) {
            if (!nd_strip_okrow(s, s->conok, v)[k]) continue;
            float x = nd_strip_row(s, s->con, v)[k];
            if (x > best) { best = x; bv = v; any = 1; }
        }
        c->pk_ok[k] = (uint8_t)any;
        c->pk_c[k] = any ? best : 0;
        c->pk_v[k] = (float)bv;
        if (any && bv > -rs && bv < rs && nd_strip_okrow(s, s->conok, bv - 1)[k] &&
            nd_strip_okrow(s, s->conok, bv + 1)[k]) {
            double l = nd_strip_row(s, s->con, bv - 1)[k], r = nd_strip_row(s, s->con, bv + 1)[k];
            double den = l - 2.0 * best + r;
            if (den < 0) c->pk_v[k] = (float)(bv + clampd(0.5 * (l - r) / den, -0.5, 0.5));
        }
    }
}

/* Robust (Tukey IRLS) fit v = a + b u of the peaks above thr in columns
 * k0..k1, starting at scale0 px; the refined line goes to *out. */
static int fit_axis(nd_ctx *c, int k0, int k1, double thr, double scale0, nd_line *out) {
    const nd_strip *s = &c->st;
    int n = 0;
    for (int k = k0; k <= k1; k++) {
        if (c->pk_ok[k] && c->pk_c[k] > thr) c->scratch[n++] = c->pk_v[k];
    }
    if (n < 6) return 0;
    double a = nd_median(c->scratch, n), b = 0, um = 0;
    double scale = scale0;
    for (int it = 0; it < 6; it++) {
        double sw = 0, su = 0, sv = 0, suu = 0, suv = 0;
        for (int k = k0; k <= k1; k++) {
            if (!c->pk_ok[k] || c->pk_c[k] <= thr) continue;
            double u = s->u0 + k, r = c->pk_v[k] - (a + b * u);
            if (fabs(r) >= scale) continue;
            double q = 1 - (r / scale) * (r / scale), wt = c->pk_c[k] * q * q;
            sw += wt; su += wt * u; sv += wt * c->pk_v[k];
            suu += wt * u * u; suv += wt * u * c->pk_v[k];
        }
        if (sw <= 0) return 0;
        um = su / sw;
        double vm = sv / sw, var = suu / sw - um * um;
        if (var < 4.0) return 0;
        b = (suv / sw - um * vm) / var;
        a = vm - b * um;
        scale = scale * 0.7 < 1.5 ? 1.5 : scale * 0.7;
    }
    const nd_line *l = &s->line;
    usg_point p = nd_line_at(l, um, a + b * um);
    double dx = l->dx - b * l->dy, dy = l->dy + b * l->dx, nn = hypot(dx, dy);
    out->px = p.x;
    out->py = p.y;
    out->dx = dx / nn;
    out->dy = dy / nn;
    return 1;
}

typedef struct nd_run { int k0, k1; } nd_run;

/* Contrast value given to columns found to lie on bone (a barrier for the tip search). */
#define ND_BONE_COL (-1e6f)

static void band_sum(const nd_ctx *c, const usg_image *img, usg_point q, double nx, double ny, double d0,
                     double d1, double *sum, int *cnt);

/* Runs of columns with contrast above thr, gaps up to `gap` columns bridged. */
static int find_runs(const nd_ctx *c, double thr, int gap, nd_run *runs, int max) {
    int n = 0, start = -1, last = -1;
    for (int k = 0; k <= c->st.len; k++) {
        int in = k < c->st.len && c->pk_ok[k] && c->pk_c[k] > thr;
        if (in) {
            if (start < 0) start = k;
            else if (k - last > gap + 1) {
                if (last - start >= 2 && n < max) runs[n++] = (nd_run){start, last};
                start = k;
            }
            last = k;
        }
    }
    if (start >= 0 && last - start >= 2 && n < max) runs[n++] = (nd_run){start, last};
    return n;
}

static double run_level(nd_ctx *c, nd_run r) {
    int n = 0;
    for (int k = r.k0; k <= r.k1; k++) if (c->pk_ok[k]) c->scratch[n++] = c->pk_c[k];
    return nd_median(c->scratch, n);
}

/* u of the projection of p on the strip's line, as a column index. */
static double column_of(const nd_ctx *c, usg_point p) {
    const nd_line *l = &c->st.line;
    return (p.x - l->px) * l->dx + (p.y - l->py) * l->dy - c->st.u0;
}

static usg_point column_point(const nd_ctx *c, double k) { return nd_line_at(&c->st.line, c->st.u0 + k, 0); }

/* 1 if walking from column k along the axis, away from the run (step dir),
 * leaves the imaged region within `margin` px: the shaft starts where its
 * axis enters the image, as an inserted needle's does (being merely near a
 * boundary, say below the probe face, is not enough). */
static int exits_within(const nd_ctx *c, double k, int dir, double margin) {
    for (double s = 0; s <= margin; s += 1.0) {
        usg_point p = column_point(c, k + dir * s);
        if (nd_ctx_border_px(c, p.x, p.y) < 1) return 1;
    }
    return 0;
}

/* Which end of run r lies on the imaged region's boundary: -1 none/both, 0 low, 1 high. */
static int border_end(const nd_ctx *c, nd_run r) {
    double margin = fmax(12.0, 4.0 / c->sp);
    int b0 = exits_within(c, r.k0, -1, margin), b1 = exits_within(c, r.k1, 1, margin);
    return b0 == b1 ? -1 : b1;
}

/* Pick the shaft among the runs: the one with the most contrast mass (inside
 * the window [wa, wb] of columns when given), four times favoured when it
 * starts at the imaged region's boundary as an inserted needle does. -1 if none. */
static int pick_run(nd_ctx *c, const nd_run *runs, int n, const double *win) {
    int best = -1;
    double bs = 0, min_len = win ? 1 : 2.0 / c->sp;
    for (int i = 0; i < n; i++) {
        double len = runs[i].k1 - runs[i].k0 + 1;
        if (len < min_len) continue;
        if (win) {
            len = fmin(runs[i].k1, win[1]) - fmax(runs[i].k0, win[0]);
            if (len <= 0) continue;
        }
        double score = len * run_level(c, runs[i]) * (border_end(c, runs[i]) >= 0 ? 4.0 : 1.0);
        if (score > bs) {
            bs = score;
            best = i;
        }
    }
    return best;
}

/* Columns where the axis lies on a bone cortex: the band just beneath it
 * (1-2.5 mm), averaged over +-box_a columns, is in acoustic shadow, much
 * darker than the band above. Their contrast is cleared, so a shaft run never
 * continues along a bone surface. */
static void clear_shadowed(nd_ctx *c, const usg_image *img) {
    const nd_line *l = &c->st.line;
    const int len = c->st.len, a = c->box_a;
    if (4 * (len + 1) > c->scratch_cap) return;
    double nx = -l->dy, ny = l->dx;
    if (ny < 0) { nx = -nx; ny = -ny; }
    double d0 = 1.0 / c->sp, d1 = 2.5 / c->sp;
    /* prefix sums over columns (every second column sampled) of below/above sums and counts */
    float *pb = c->scratch, *pa = pb + len + 1, *nb = pa + len + 1, *na = nb + len + 1;
    pb[0] = pa[0] = nb[0] = na[0] = 0;
    for (int k = 0; k < len; k++) {
        double sb = 0, sa = 0;
        int cb = 0, ca = 0;
        if (k % 2 == 0) {
            usg_point q = column_point(c, k);
            band_sum(c, img, q, nx, ny, d0, d1, &sb, &cb);
            band_sum(c, img, q, -nx, -ny, d0, d1, &sa, &ca);
        }
        pb[k + 1] = pb[k] + (float)sb;
        pa[k + 1] = pa[k] + (float)sa;
        nb[k + 1] = nb[k] + (float)cb;
        na[k + 1] = na[k] + (float)ca;
    }
    for (int k = 0; k < len; k++) {
        int lo = k - a < 0 ? 0 : k - a, hi = k + a + 1 > len ? len : k + a + 1;
        float cb = nb[hi] - nb[lo], ca = na[hi] - na[lo];
        if (cb < 4 || ca < 4) continue;
        if ((pb[hi] - pb[lo]) / cb < 0.4f * (pa[hi] - pa[lo]) / ca) c->pk_c[k] = ND_BONE_COL;
    }
}

/* y of a bone edge (points ordered by x, at most 2 px apart) at x; 0 if x is
 * outside it. */
static int edge_y(const usg_edge *e, double x, double *y) {
    if (!e || !e->found || e->n < 2 || x < e->pts[0].x || x > e->pts[e->n - 1].x) return 0;
    int a = 0, b = e->n - 1;
    while (b - a > 1) {
        int m = (a + b) / 2;
        if (e->pts[m].x <= x) a = m;
        else b = m;
    }
    double dx = e->pts[b].x - e->pts[a].x, f = dx > 1e-9 ? (x - e->pts[a].x) / dx : 0;
    *y = e->pts[a].y + f * (e->pts[b].y - e->pts[a].y);
    return 1;
}

/* Does q lie in the band from `above` px above a bone edge's surface to
 * `below` px under it (either edge)? */
static int in_bone_band(const usg_edge *e1, const usg_edge *e2, usg_point q, double above, double below) {
    const usg_edge *edges[2] = {e1, e2};
    for (int i = 0; i < 2; i++) {
        double y;
        if (edge_y(edges[i], q.x, &y) && q.y >= y - above && q.y <= y + below) return 1;
    }
    return 0;
}

#ifndef ND_IN_BONE_MM
#define ND_IN_BONE_MM 0.5 /* a tip deeper than this under a bone edge's surface is inside the bone */
#endif
#ifndef ND_THROUGH_MM
#define ND_THROUGH_MM 1.0 /* ... when the axis went in through the surface: within this under the depth above */
#endif

usg_point nd_tip_out_of_bone(const usg_edge *e1, const usg_edge *e2, usg_point entry, usg_point tip, double sp) {
    double dx = tip.x - entry.x, dy = tip.y - entry.y, L = hypot(dx, dy), depth = ND_IN_BONE_MM / sp;
    if (L < 1) return tip;
    dx /= L;
    dy /= L;
    for (double u = L; u >= 0; u -= 0.5) { /* back from the tip while under a bone surface */
        usg_point q = {entry.x + u * dx, entry.y + u * dy};
        if (in_bone_band(e1, e2, q, -depth, HUGE_VAL)) continue;
        if (u >= L) return tip;
        /* the last point under it lies just under the surface when the axis
         * came in through it; deep under it, the axis came in beneath the
         * edge's end, through no surface the bone stage saw (an edge that
         * overreaches a cleft, or is no bone at all): the tip stays */
        usg_point last = {q.x + 0.5 * dx, q.y + 0.5 * dy};
        return in_bone_band(e1, e2, last, -depth, depth + ND_THROUGH_MM / sp) ? q : tip;
    }
    return tip; /* the whole axis under the edge: no surface it came through */
}

/* With the bone stage's edges: columns where the axis lies on or inside a
 * bone (from 0.2 mm under its surface to 2.5 mm) have their contrast
 * cleared; a needle in tissue above the bone keeps its shaft to the tip. */
static void clear_on_bone(nd_ctx *c, const usg_edge *e1, const usg_edge *e2) {
    const double above = -0.2 / c->sp, below = 2.5 / c->sp; /* from 0.2 mm under the surface */
    for (int k = 0; k < c->st.len; k++) {
        if (in_bone_band(e1, e2, column_point(c, k), above, below)) c->pk_c[k] = ND_BONE_COL;
    }
}

#ifndef ND_TIP_BONE_MM
#define ND_TIP_BONE_MM 1.0 /* a tip this close above a bone edge is on it (no step: its echo runs on into the cortex) */
#endif
#ifndef ND_BEVEL_WALK_MM
#define ND_BEVEL_WALK_MM 1.5 /* the tip lies at most this far beyond the centre of the bevel's spot (its half-length at 2.5 MHz) */
#endif
#ifndef ND_ALONG_BONE_MM
#define ND_ALONG_BONE_MM 1.0 /* a run past the predicted tip this close above a bone surface runs along it */
#endif
#ifndef ND_STEP_PAST_PRED_MM
#define ND_STEP_PAST_PRED_MM 1.0 /* a step found walking on from the predicted tip past a bone surface counts up to this far beyond it */
#endif
#ifndef ND_PAST_ABOVE_MM
#define ND_PAST_ABOVE_MM 0.3 /* ... and only if the axis reaches this close above the surface (or under it) */
#endif
#ifndef ND_PAST_INTO_MM
#define ND_PAST_INTO_MM 1.5 /* ... within this far on from the step (not a shaft riding on over it) */
#endif
#ifndef ND_AHEAD_BONE_MM
#define ND_AHEAD_BONE_MM 3.0 /* ... when it goes on so from this far past the predicted tip */
#endif

/* Does the axis from column a to column b (either order) lie along a bone
 * surface, every column's axis point within ND_ALONG_BONE_MM above it (or
 * under it)? A run that goes on so past a tracked tip is the cortex the tip
 * met, not more shaft. */
static int along_bone(const nd_ctx *c, double a, double b, const usg_edge *e1, const usg_edge *e2) {
    int k0 = (int)ceil(fmin(a, b)), k1 = (int)floor(fmax(a, b)), n = 0;
    for (int k = k0 < 0 ? 0 : k0; k <= k1 && k < c->st.len; k++, n++) {
        if (!in_bone_band(e1, e2, column_point(c, k), ND_ALONG_BONE_MM / c->sp, HUGE_VAL)) return 0;
    }
    return n > 0;
}

/* Does the axis from column a to column b (either order) come within
 * `above` px above a bone surface anywhere, or under it? */
static int nears_bone(const nd_ctx *c, double a, double b, double above, const usg_edge *e1, const usg_edge *e2) {
    int k0 = (int)ceil(fmin(a, b)), k1 = (int)floor(fmax(a, b));
    for (int k = k0 < 0 ? 0 : k0; k <= k1 && k < c->st.len; k++) {
        if (in_bone_band(e1, e2, column_point(c, k), above, HUGE_VAL)) return 1;
    }
    return 0;
}

/* Does the axis from column a to column b pass a bone surface anywhere (a
 * column within ND_TIP_BONE_MM above it, or under it)? */
static int meets_bone(const nd_ctx *c, double a, double b, const usg_edge *e1, const usg_edge *e2) {
    return nears_bone(c, a, b, ND_TIP_BONE_MM / c->sp, e1, e2);
}

#define ND_REFIT_DEG 0.5 /* pass 3 samples again on its own refit axis when it turned more */
#define ND_REFIT_MAX 3
#define ND_PASS3_BAND 2 /* pass 3 looks for the contrast peak this far (px) beside the axis */
#define ND_AHEAD_MM 3.0 /* tracking: the shaft run is cut this far (plus two frames' motion) past the predicted tip */


#define ND_WALK_OFF_PX 1.9f /* the tip search walks on while the echo peaks this close to the axis */

#ifndef ND_RUN_SPLIT
#define ND_RUN_SPLIT 0.3
#endif

/* The shaft run: runs above 3 sigma, the best picked, then split again at
 * 40 % of its own level and the best part kept. */
static int shaft_run(nd_ctx *c, const usg_image *img, const usg_edge *e1, const usg_edge *e2, double noise, int gap,
                     const double *win, nd_run *out, double *level) {
    nd_run runs[32];
    if ((e1 && e1->found && e1->n > 1) || (e2 && e2->found && e2->n > 1)) clear_on_bone(c, e1, e2);
    else clear_shadowed(c, img);
    int nr = find_runs(c, 3.0 * noise, gap, runs, 32);
    int ri = pick_run(c, runs, nr, win);
    if (ri < 0) return 0;
    double lv = run_level(c, runs[ri]);
    double w2[2] = {runs[ri].k0, runs[ri].k1};
    if (win) {
        w2[0] = fmax(w2[0], win[0]);
        w2[1] = fmin(w2[1], win[1]);
    }
    nr = find_runs(c, fmax(3.0 * noise, ND_RUN_SPLIT * lv), gap, runs, 32);
    ri = pick_run(c, runs, nr, w2);
    if (ri < 0) return 0;
    *out = runs[ri];
    *level = run_level(c, runs[ri]);
    return 1;
}

/* --------------------------------------------------------------- features */

/* Sagitta (px) of the weighted parabola v = a + b u + c u^2 through the
 * contrast peaks of columns k0..k1: a needle is straight, a fascia or a
 * septum bends. */
static double bend(const nd_ctx *c, int k0, int k1) {
    double S[5] = {0}, T[3] = {0};
    double um = 0.5 * (k0 + k1), h = 0.5 * (k1 - k0);
    if (h < 3) return 0;
    for (int k = k0; k <= k1; k++) {
        if (!c->pk_ok[k] || c->pk_c[k] <= 0) continue;
        double u = (k - um) / h, w = c->pk_c[k], v = c->pk_v[k], p = w;
        for (int i = 0; i < 5; i++) { S[i] += p; p *= u; }
        T[0] += w * v; T[1] += w * v * u; T[2] += w * v * u * u;
    }
    /* solve the 3x3 normal equations [S0 S1 S2; S1 S2 S3; S2 S3 S4] x = T (Cramer) */
    double m[3][3] = {{S[0], S[1], S[2]}, {S[1], S[2], S[3]}, {S[2], S[3], S[4]}};
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if (fabs(det) < 1e-12) return 0;
    double dc = m[0][0] * (m[1][1] * T[2] - T[1] * m[2][1]) - m[0][1] * (m[1][0] * T[2] - T[1] * m[2][0]) +
                T[0] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    return fabs(dc / det); /* c with u in [-1, 1]: the sagitta over the run */
}

/* Mean image value along (nx, ny) from q, between d0 and d1 px (valid samples). */
static void band_sum(const nd_ctx *c, const usg_image *img, usg_point q, double nx, double ny, double d0,
                     double d1, double *sum, int *cnt) {
    for (double d = d0; d <= d1; d += 1.0) {
        double x = q.x + d * nx, y = q.y + d * ny;
        int ix = (int)lrint(x), iy = (int)lrint(y);
        if (ix < 0 || iy < 0 || ix >= c->w || iy >= c->h || !c->mask[iy * c->w + ix]) continue;
        *sum += nd_bilinear(img, x, y);
        (*cnt)++;
    }
}

/* The mean grey d0_mm..d1_mm beneath (deeper) and above a along the unit
 * direction (dx, dy) for L px, sampled every 6 px: the number of stations
 * with samples on both sides (*below, *above: the means over them, 0 for none). */
static int band_means_along(const nd_ctx *c, const usg_image *img, usg_point a, double dx, double dy, double L,
                            double d0_mm, double d1_mm, double *below, double *above) {
    double nx = -dy, ny = dx;
    if (ny < 0) { nx = -nx; ny = -ny; }
    double d0 = d0_mm / c->sp, d1 = d1_mm / c->sp;
    int n = 0;
    *below = *above = 0;
    for (double u = 0; u <= L; u += 6.0) {
        usg_point q = {a.x + u * dx, a.y + u * dy};
        double sb = 0, sa = 0;
        int cb = 0, ca = 0;
        band_sum(c, img, q, nx, ny, d0, d1, &sb, &cb);
        band_sum(c, img, q, -nx, -ny, d0, d1, &sa, &ca);
        if (cb > 2 && ca > 2) {
            *below += sb / cb;
            *above += sa / ca;
            n++;
        }
    }
    if (n > 0) {
        *below /= n;
        *above /= n;
    }
    return n;
}

/* Below/above brightness ratio (nd_band_ratio) from a along the unit
 * direction (dx, dy) for L px; -1 without evidence. The two means in *below
 * and *above (band_means_along). */
static double band_ratio_along(const nd_ctx *c, const usg_image *img, usg_point a, double dx, double dy, double L,
                               double d0_mm, double d1_mm, double *below, double *above) {
    int n = band_means_along(c, img, a, dx, dy, L, d0_mm, d1_mm, below, above);
    /* tissue above at the display floor: nothing beneath can be darker (no evidence either way) */
    if (n < 2 || *above <= ND_FLOOR_GREY) return -1.0;
    return *below / *above;
}

double nd_band_ratio(const nd_ctx *c, const usg_image *img, usg_point a, usg_point b, double d0_mm, double d1_mm) {
    double L = hypot(b.x - a.x, b.y - a.y), below, above;
    if (!(L > 0)) return -1.0;
    return band_ratio_along(c, img, a, (b.x - a.x) / L, (b.y - a.y) / L, L, d0_mm, d1_mm, &below, &above);
}

/* Below/above brightness ratio across the shaft between d0 and d1 mm: bone has
 * a black shadow beneath (2-6 mm), a needle a reverberation tail (< 2.5 mm);
 * 1 without evidence. The two means in *below and *above. */
static double band_ratio(const nd_ctx *c, const usg_image *img, const nd_meas *m, double d0_mm, double d1_mm,
                         double *below, double *above) {
    double r = band_ratio_along(c, img, m->entry, m->line.dx, m->line.dy,
                                hypot(m->tip.x - m->entry.x, m->tip.y - m->entry.y), d0_mm, d1_mm, below, above);
    return r < 0 ? 1.0 : r;
}

/* The reverberation ladder: sound ringing inside a steel needle returns as
 * copies of the shaft, each one wall-to-wall round trip (0.35-1.6 mm from a
 * 25 G to an 18 G needle, times the cosine of its angle across the shaft)
 * deeper and fainter, so the brightness beneath a shaft rises and falls with
 * that period P: peaks at P and 2P, troughs at P/2 and 3P/2, each above (below)
 * the mean of its two neighbours half a period away. A smooth profile cannot
 * do that (its curvature would turn four times in two periods): a cortex's
 * echo fades smoothly into its shadow, and speckle averaged along the shaft
 * has no period. The profile is read across the shaft (averaged along it, at
 * ND_LADDER_STATIONS stations at most) down to ND_LADDER_D_MM beneath its
 * centre, in ND_LADDER_STEP_MM steps. */
#define ND_LADDER_D_MM 4.0
#define ND_LADDER_STEP_MM 0.05
#define ND_LADDER_MIN_MM 0.35
#define ND_LADDER_MAX_MM 1.6
#define ND_LADDER_STATIONS 48
enum { ND_LADDER_N = 81 }; /* ND_LADDER_D_MM / ND_LADDER_STEP_MM + 1 */

/* The profile p (n samples, ND_LADDER_STEP_MM apart) at depth d mm, linearly interpolated. */
static double profile_at(const double *p, int n, double d) {
    double k = d / ND_LADDER_STEP_MM;
    int i = (int)k;
    if (i >= n - 1) return p[n - 1];
    return p[i] + (k - i) * (p[i + 1] - p[i]);
}

/* The ladder beneath m's shaft: its ripple (grey levels), the weakest of the
 * four turns (trough, peak, trough, peak) at the period that rings best; 0
 * for none. */
static double ladder(const nd_ctx *c, const usg_image *img, const nd_meas *m) {
    double L = hypot(m->tip.x - m->entry.x, m->tip.y - m->entry.y);
    if (!(L > 0)) return 0;
    double dx = (m->tip.x - m->entry.x) / L, dy = (m->tip.y - m->entry.y) / L, nx = -dy, ny = dx;
    if (ny < 0) { nx = -nx; ny = -ny; }
    double p[ND_LADDER_N] = {0};
    int cnt[ND_LADDER_N] = {0}, ns = (int)fmin(ND_LADDER_STATIONS, floor(L / 2.0) + 1);
    for (int s = 0; s < ns; s++) {
        double u = ns > 1 ? L * s / (ns - 1) : 0;
        for (int k = 0; k < ND_LADDER_N; k++) {
            double d = k * ND_LADDER_STEP_MM / c->sp;
            double x = m->entry.x + u * dx + d * nx, y = m->entry.y + u * dy + d * ny;
            int ix = (int)lrint(x), iy = (int)lrint(y);
            if (ix < 0 || iy < 0 || ix >= c->w || iy >= c->h || !c->mask[iy * c->w + ix]) continue;
            p[k] += nd_bilinear(img, x, y);
            cnt[k]++;
        }
    }
    int n = 0; /* the profile as deep as half the stations reach */
    while (n < ND_LADDER_N && 2 * cnt[n] >= ns) { p[n] /= cnt[n]; n++; }
    double best = 0, deepest = (n - 1) * ND_LADDER_STEP_MM;
    for (double P = ND_LADDER_MIN_MM; P <= ND_LADDER_MAX_MM + 1e-9 && 2.5 * P <= deepest; P += 0.5 * ND_LADDER_STEP_MM) {
        double turn = INFINITY;
        for (int j = 1; j <= 4; j++) { /* P/2 trough, P peak, 3P/2 trough, 2P peak */
            double at = profile_at(p, n, 0.5 * j * P);
            double side = 0.5 * (profile_at(p, n, 0.5 * (j - 1) * P) + profile_at(p, n, 0.5 * (j + 1) * P));
            turn = fmin(turn, j % 2 ? side - at : at - side);
        }
        if (turn > best) best = turn;
    }
    return best;
}

/* Share of shaft stations within 1.5 mm of a bone edge. */
static double bone_fraction(const nd_ctx *c, const nd_meas *m, const usg_edge *e1, const usg_edge *e2) {
    const usg_edge *edges[2] = {e1, e2};
    double lim = 1.5 / c->sp, lim2 = lim * lim;
    int near = 0, tot = 0;
    double L = hypot(m->tip.x - m->entry.x, m->tip.y - m->entry.y);
    for (double u = 0; u <= L; u += 4.0) {
        usg_point q = {m->entry.x + u * m->line.dx, m->entry.y + u * m->line.dy};
        int hit = 0;
        for (int e = 0; e < 2 && !hit; e++) {
            const usg_edge *ed = edges[e];
            if (!ed || !ed->found || ed->n < 2) continue;
            int a = 0, b = ed->n - 1;
            while (a < b) { /* first point with x >= q.x - lim */
                int mid = (a + b) / 2;
                if (ed->pts[mid].x < q.x - lim) a = mid + 1;
                else b = mid;
            }
            for (int i = a; i < ed->n && ed->pts[i].x <= q.x + lim; i++) {
                double dx = ed->pts[i].x - q.x, dy = ed->pts[i].y - q.y;
                if (dx * dx + dy * dy <= lim2) { hit = 1; break; }
            }
        }
        near += hit;
        tot++;
    }
    return tot ? (double)near / tot : 0;
}

/* Share of m's shaft stations (every 4 px) with a bone edge's surface from 0
 * to d_mm straight beneath. */
static double bone_beneath(const nd_ctx *c, const nd_meas *m, const usg_edge *e1, const usg_edge *e2, double d_mm) {
    double L = hypot(m->tip.x - m->entry.x, m->tip.y - m->entry.y);
    int under = 0, tot = 0;
    for (double u = 0; u <= L; u += 4.0, tot++) {
        usg_point q = {m->entry.x + u * m->line.dx, m->entry.y + u * m->line.dy};
        under += in_bone_band(e1, e2, q, d_mm / c->sp, 0);
    }
    return tot ? (double)under / tot : 0;
}

/* Intensity of the shaft (centre rows) and of its upper flank beyond the
 * ridge filter's flank distance, unsmoothed, over columns k0..k1. */
static void shaft_intensity(nd_ctx *c, int k0, int k1, nd_meas *m) {
    const nd_strip *s = &c->st;
    int n = 0, cap = c->scratch_cap / 2;
    float *a = c->scratch, *b = c->scratch + cap;
    for (int k = k0; k <= k1 && n < cap; k++) {
        float best = -1;
        for (int v = -1; v <= 1; v++) {
            if (nd_strip_okrow(s, s->ok, v)[k]) {
                float x = nd_strip_row(s, s->val, v)[k];
                if (x > best) best = x;
            }
        }
        if (best >= 0) a[n++] = best;
    }
    m->i_shaft = nd_median(a, n);
    /* the flank above only: beneath a needle lies its reverberation tail */
    const int up = s->line.dx >= 0 ? -1 : 1; /* the normal (-dy, dx) points down when dx > 0 */
    n = 0;
    for (int k = k0; k <= k1; k++) {
        for (int v = c->flank; v <= s->half && n < cap - 1; v++) {
            if (nd_strip_okrow(s, s->ok, up * v)[k]) b[n++] = nd_strip_row(s, s->val, up * v)[k];
        }
    }
    m->i_bg = nd_median(b, n);
    for (int i = 0; i < n; i++) b[i] = fabsf(b[i] - (float)m->i_bg);
    m->s_bg = 1.4826 * nd_median(b, n);
    if (m->s_bg < 0.5) m->s_bg = 0.5;
}

/* B-mode grey levels are log-compressed echo amplitude; the tip is a step in
 * amplitude (blurred by the point-spread function), so its half-level is
 * found on linear amplitude, assuming the usual display range of 60 dB over
 * 0..255 (a wrong range moves the tip by a fraction of the blur only). */
#define ND_DISPLAY_DR_DB 60.0

static float grey_to_amp(float g) { return powf(10.0f, (g - 255.0f) * (float)(ND_DISPLAY_DR_DB / (20.0 * 255.0))); }

/* Level fraction between the background and the brightest echo just before
 * the fall at which the tip lies: 0.5 would fit a plain blurred step; the
 * bevel echoes brighter than the shaft, and blurred by a wide lateral
 * point-spread function its end is high on the slope. */
#ifndef ND_TIP_LEVEL
#define ND_TIP_LEVEL 0.9
#endif

/* Mean amplitude of columns [a, b] (valid only); -1 if none. */
static double mean_amp(const float *amp, int len, int a, int b) {
    if (a > b) { int t = a; a = b; b = t; }
    double s = 0;
    int n = 0;
    for (int k = a < 0 ? 0 : a; k <= b && k < len; k++) {
        if (amp[k] >= 0) { s += amp[k]; n++; }
    }
    return n ? s / n : -1;
}

/* The shaft's level at the top of the fall at column kf (dir: entry -> tip):
 * walking back from kf over at most 2w columns, the highest 3-px mean amplitude
 * (amp, len columns, < 0 invalid) before the echo stops rising for `flat`
 * columns, once within ND_FALL_NEAR_DB of `top` (the brightest 3-px mean over
 * those 2w columns). Not the brightest echo further back: the echo over a needle's last
 * millimetres may be weaker than its shaft's (a dip over the end of the cortex
 * beneath it at the joint, a shaft fading with depth), and a level taken from
 * there put the tip on that dip, 1.5-2.5 mm short. -1 if none. */
#ifndef ND_FALL_TOP_MM
#define ND_FALL_TOP_MM 0.6 /* the echo stops rising for this long: the fall's top is passed */
#endif
#ifndef ND_FALL_RISE_DB
#define ND_FALL_RISE_DB 0.2 /* a rise by less than this is no rise (speckle on a plateau) */
#endif
#define ND_GAP_DB 3.0      /* a track's echo gone dark: within this of the tissue beside the shaft ... */
#define ND_GAP_FAR_DB 20.0 /* ... with all beyond it this far under the shaft's peak: its tip is before the gap */
#ifndef ND_FALL_APART_MM
#define ND_FALL_APART_MM 1.0 /* a track's tip at the fall's top: the two tips differ by this much at least ... */
#endif
#ifndef ND_FALL_PRED_MM
#define ND_FALL_PRED_MM 1.0 /* ... and that tip lies this close to the predicted one */
#endif
#ifndef ND_FALL_NEAR_DB
#define ND_FALL_NEAR_DB 6.0 /* a top counts within this of the brightest echo (not the dark beyond a fall) */
#endif
static double fall_top(const float *amp, int len, int kf, int dir, int w, int flat, double top) {
    const double rise = pow(10.0, ND_FALL_RISE_DB / 20.0), near = pow(10.0, -ND_FALL_NEAR_DB / 20.0);
    double ls = -1;
    int since = 0;
    for (int i = 0; i <= 2 * w; i++, since++) {
        double a = mean_amp(amp, len, kf - dir * i - 1, kf - dir * i + 1);
        if (a > (ls > 0 ? ls * rise : ls)) {
            ls = a;
            since = 0;
        } else if (since >= flat && ls >= near * top) {
            break;
        }
    }
    return ls;
}

/* The most distal crossing of level tau (amplitude) near the fall at column
 * kf (dir: entry -> tip), walking back from W columns beyond it to 2W before
 * it, interpolated between 3-px means; kf if the echo never reaches tau. */
static double level_crossing(const float *amp, int len, int kf, int dir, int W, double tau) {
    int kb = -1;
    for (int i = W; i >= -2 * W && kb < 0; i--) {
        int k = kf + dir * i;
        if (mean_amp(amp, len, k - 1, k + 1) >= tau) kb = k;
    }
    if (kb < 0) return kf;
    int k1 = kb + dir;
    double p0 = mean_amp(amp, len, kb - 1, kb + 1), p1 = mean_amp(amp, len, k1 - 1, k1 + 1);
    double frac = 0.5;
    if (p0 >= 0 && p1 >= 0 && p0 - p1 > 1e-9) frac = clampd((p0 - tau) / (p0 - p1), 0.0, 1.0);
    return kb + dir * frac;
}

/* Where a track's echo ends at a gap: the first column i in [i0, top] (from
 * k0, direction dir) where the 3-px mean grey falls to `gap_grey` (the tissue
 * beside the shaft), if everything beyond it up to top stays under `far_grey`
 * (far below the shaft's peak): a weaker echo that resumes after the shaft
 * went dark is another structure in line with it (a muscle fibre ahead of
 * the needle), not its tip, which the step search must not walk on to. top
 * when there is no such gap. Pure. */
static int echo_gap(const float *g, int len, int k0, int dir, int i0, int top, double gap_grey, double far_grey) {
    for (int i = i0; i < top; i++) {
        int k = k0 + dir * i;
        double here = mean_amp(g, len, k - 1, k + 1);
        if (here < 0 || here > gap_grey) continue;
        for (int j = i; j <= top; j++) {
            int kk = k0 + dir * j;
            if (mean_amp(g, len, kk - 1, kk + 1) >= far_grey) return top;
        }
        return i;
    }
    return top;
}

/* Sub-pixel tip of the shaft run from k_start (entry side) to k_end, in
 * direction dir. The tip is the most distal step down of the echo by at
 * least 6 dB between ~1.5 mm windows (a needle may fade gradually along its
 * length, but ends abruptly); it is refined at the crossing of the local
 * shaft/background amplitude level (ND_TIP_LEVEL). `hint` (NULL to acquire):
 * a track's measurement (the step's floor is capped under the shaft's peak,
 * and the predicted tip chooses between two shaft levels, below). The echo
 * along the axis is the mean of the strip's rows vc - 1 .. vc + 1 (vc 0: on
 * the axis; refine_tip). */
static double refine_tip_at(nd_ctx *c, int k_start, int k_end, int dir, const nd_hint *hint, int vc, int *stepped) {
    const nd_strip *s = &c->st;
    const int len = s->len;
    if (3 * len + 64 > c->scratch_cap) return k_end;
    float *amp = c->scratch, *g = c->scratch + len, *tmp = c->scratch + 2 * len;
    for (int k = 0; k < len; k++) { /* centre rows, unsmoothed along the axis */
        double sum = 0;
        int n = 0;
        for (int v = vc - 1; v <= vc + 1; v++) {
            if (nd_strip_okrow(s, s->ok, v)[k]) { sum += nd_strip_row(s, s->val, v)[k]; n++; }
        }
        g[k] = n ? (float)(sum / n) : -1.0f;
        amp[k] = n ? grey_to_amp(g[k]) : -1.0f;
    }
    const int L = (k_end - k_start) * dir;
    if (L < 4) return k_end;
    const int W = clampi((int)lrint(1.5 / c->sp), 3, 15), reach = 2 * c->box_a + 6;
    const double gpd = 255.0 / ND_DISPLAY_DR_DB, step = 6.0 * gpd;
    /* the tissue beside the shaft (grey median of the flank rows): a tip step
     * starts from an echo well above it, not from a speckle grain */
    int n = 0;
    for (int i = 0; i <= L; i += 2) {
        int k = k_start + dir * i;
        for (int v = c->flank; v <= s->half && n < len - 1; v += 2) {
            if (nd_strip_okrow(s, s->ok, v)[k]) tmp[n++] = nd_strip_row(s, s->val, v)[k];
            if (nd_strip_okrow(s, s->ok, -v)[k]) tmp[n++] = nd_strip_row(s, s->val, -v)[k];
        }
    }
    if (n < 8) return k_end;
    const double beside = nd_median(tmp, n);
    /* ... but, tracking, never above the shaft's own echo: at a wide display
     * range (80-100 dB) its blurred skirt and tail lift the flanks to within a
     * few dB of it, and no step could start (the tip ran on along the blur).
     * Not to acquire: a step is part of what makes a line a needle there (a
     * real phantom's fascia passed with it). */
    double floor_grey = beside + 10.0 * gpd, peak = -1;
    if (hint) {
        for (int i = 1; i < L; i++) peak = fmax(peak, mean_amp(g, len, k_start + dir * (i - 1), k_start + dir * (i + 1)));
        floor_grey = fmin(floor_grey, peak - 2.0 * gpd);
    }
    /* walking on beyond the run: beside a cortex the flanks glow, so the
     * frame's typical tissue is the reference there */
    const double walk_floor = (c->tissue_grey > 0 && c->tissue_grey < beside ? c->tissue_grey : beside) + 10.0 * gpd;
    /* the most distal local maximum of the step contrast above `step`, searched
     * beyond the run's end while the echo along the axis stays bright (a needle
     * lying on a cortex loses its ridge contrast, not its echo), up to 8 mm;
     * never past a bone column, a ~1 mm stretch of plain tissue, or a column
     * whose echo peaks off the axis (a cortex just beside it: walking on there
     * put tips 4-9 mm beyond those of needles aimed past the bone) */
    int kf = -1, top = L + reach, far = L + clampi((int)lrint(8.0 / c->sp), reach, 80);
    double dprev = -1e9;
    for (int i = L + 1; i <= far; i++) {
        int k = k_start + dir * i;
        if (k < 0 || k >= len || c->pk_c[k] <= ND_BONE_COL) { top = i - 1; break; }
        /* beyond the run the echo must stay centred on the axis: a cortex just
         * beside it (a needle aimed past the bone) peaks off the axis */
        if (i > L + reach && (!c->pk_ok[k] || fabsf(c->pk_v[k]) > ND_WALK_OFF_PX)) { top = i - 1; break; }
        double ahead = mean_amp(g, len, k, k + dir * (W - 1));
        if (ahead < 0 || ahead < walk_floor) { top = i + W; break; }
        top = i;
    }
    if (hint) top = echo_gap(g, len, k_start, dir, (3 * L) / 10, top, beside + ND_GAP_DB * gpd, peak - ND_GAP_FAR_DB * gpd);
    for (int i = top; i >= (3 * L) / 10; i--) {
        int k = k_start + dir * i;
        double before = mean_amp(g, len, k - dir * W, k - dir), after = mean_amp(g, len, k + dir, k + dir * W);
        double d = (before >= floor_grey && after >= 0) ? before - after : -1e9;
        if (kf < 0 && d >= step) kf = k;
        else if (kf >= 0) {
            if (d >= dprev) kf = k;
            else break;
        }
        dprev = d;
    }
    if (stepped) *stepped = kf >= 0;
    if (kf < 0) kf = k_end;
    /* local levels: the shaft's just before the fall (the brightest 3-px mean
     * in the last ~2W, a bright bevel included) and the background beyond */
    double ls = -1;
    for (int i = 0; i <= 2 * W; i++) ls = fmax(ls, mean_amp(amp, len, kf - dir * i - 1, kf - dir * i + 1));
    if (ls <= 0) return kf;
    n = 0;
    int off0 = c->box_a + 2, off1 = off0 + clampi((int)lrint(5.0 / c->sp), 15, 60);
    for (int i = off0; i <= off1; i++) {
        int k = kf + dir * i;
        if (k >= 0 && k < len && amp[k] >= 0) tmp[n++] = amp[k];
    }
    if (n < 8) return kf; /* the shaft runs out of the image */
    double lb = nd_median(tmp, n);
    if (ls < 1.5 * lb) return kf;
    double kt = level_crossing(amp, len, kf, dir, W, lb + ND_TIP_LEVEL * (ls - lb));
    if (hint) {
        /* tracking: the echo may dip before the tip (over the end of the
         * cortex beneath it at the joint's cleft) and come back weaker than
         * the shaft: the level at the top of the fall puts the tip at the
         * echo's end, not on the dip, and is taken when that tip lies within
         * ND_FALL_PRED_MM of the predicted one, nearer it than the other and
         * at least ND_FALL_APART_MM from it (a real tip followed by a cortex's
         * echo beyond a dip looks the same, further on; nearer, the brightest
         * echo is the steadier level) */
        double lf = fall_top(amp, len, kf, dir, W, clampi((int)lrint(ND_FALL_TOP_MM / c->sp), 2, 8), ls);
        double kp = column_of(c, hint->tip);
        if (lf < ls && lf >= 1.5 * lb) {
            double k2 = level_crossing(amp, len, kf, dir, W, lb + ND_TIP_LEVEL * (lf - lb));
            if (fabs(k2 - kt) >= ND_FALL_APART_MM / c->sp && fabs(k2 - kp) <= ND_FALL_PRED_MM / c->sp &&
                fabs(k2 - kp) < fabs(kt - kp))
                kt = k2;
        }
    }
    return kt;
}

static double refine_tip(nd_ctx *c, int k_start, int k_end, int dir, const nd_hint *hint, int *stepped) {
    return refine_tip_at(c, k_start, k_end, dir, hint, 0, stepped);
}

/* Mean grey of the strip's centre rows over columns [k - 1, k + 1]; -1 if none valid. */
static double centre_grey(const nd_ctx *c, int k) {
    const nd_strip *s = &c->st;
    double sum = 0;
    int n = 0;
    for (int kk = k - 1; kk <= k + 1; kk++) {
        if (kk < 0 || kk >= s->len) continue;
        for (int v = -1; v <= 1; v++) {
            if (nd_strip_okrow(s, s->ok, v)[kk]) { sum += nd_strip_row(s, s->val, v)[kk]; n++; }
        }
    }
    return n ? sum / n : -1;
}

/* How far from column k0 toward k1 (dir) the echo on the axis stays bright
 * (ND_GLARE_DB over the frame's tissue) with no bone column: the last such
 * column (k0 if none). */
#ifndef ND_GLARE_DB
#define ND_GLARE_DB 20.0
#endif
static double bright_to(const nd_ctx *c, double k0, double k1, int dir) {
    if (!(c->tissue_grey > 0)) return k0;
    const double thr = c->tissue_grey + ND_GLARE_DB * 255.0 / ND_DISPLAY_DR_DB;
    double last = k0;
    for (int k = (int)lrint(k0) + dir; (k1 - k) * dir >= 0; k += dir) {
        if (k < 0 || k >= c->st.len || c->pk_c[k] <= ND_BONE_COL || centre_grey(c, k) < thr) break;
        last = k;
    }
    return (k1 - last) * dir < 1.0 ? k1 : last;
}

/* Does the axis hold nothing beyond column kt toward kh (dir), over
 * ND_GONE_MM from 0.5 mm past kt: no bone column, no glare (the axis
 * ND_GLARE_DB over the frame's tissue), and on no more than ND_GONE_SHARE of
 * its columns a ridge of half the shaft's contrast `level` (see ND_GONE_MM)? */
static int nothing_beyond(const nd_ctx *c, double kt, double kh, int dir, double level) {
    if (!(c->tissue_grey > 0)) return 0;
    const double glare = c->tissue_grey + ND_GLARE_DB * 255.0 / ND_DISPLAY_DR_DB;
    const double span = fmin((kh - kt) * dir, ND_GONE_MM / c->sp);
    int n = 0, lit = 0;
    for (int i = (int)lrint(0.5 / c->sp); i <= span; i++) {
        int k = (int)lrint(kt) + dir * i;
        if (k < 0 || k >= c->st.len) break;
        if (c->pk_c[k] <= ND_BONE_COL || centre_grey(c, k) >= glare) return 0;
        n++;
        lit += c->pk_ok[k] && c->pk_c[k] > ND_GONE_RIDGE * level;
    }
    return n >= 3 && lit <= ND_GONE_SHARE * n;
}

/* The brightest echo (3-column mean of the centre rows, unsmoothed) over the
 * last ~1.5 mm of shaft before the tip at column kt (dir: entry -> tip): a
 * needle's bevel echoes brighter than its shaft. */
static double tip_echo(const nd_ctx *c, double kt, int dir) {
    const int W = clampi((int)lrint(1.5 / c->sp), 3, 15), k0 = (int)lrint(kt);
    double best = 0;
    for (int i = 0; i <= W; i++) {
        double g = centre_grey(c, k0 - dir * i);
        if (g > best) best = g;
    }
    return best;
}

/* ------------------------------------------------------------ the bevel */

/* A steep needle's shaft echoes weakly (the beam meets it far from normal
 * incidence) and often fades out a few centimetres before its tip, while the
 * bevel, a diffuse scatterer, still shows as a compact bright spot on the
 * shaft's extension. */
#define ND_BEVEL_MIN_DEG 40.0   /* only shafts at least this steep fade out (specular physics) */
#define ND_BEVEL_REACH_MM 40.0  /* how far beyond the shaft's visible end the bevel is looked for */
#define ND_BEVEL_ABOVE_DB 30.0  /* the bevel's echo over the frame's typical tissue */
#define ND_BEVEL_SIDE_MM 2.5    /* the spot is compact: this far from it in any direction but the shaft's ... */
#define ND_BEVEL_SIDE_DB 12.0   /* ... the echo is this much weaker (a cortex or fascia crossing is not) */
#define ND_BEVEL_LAT_DEG 35.0   /* ... but within this of the horizontal (a deep bevel's lateral blur) ... */
#define ND_BEVEL_LAT_DB 6.0     /* ... where it must be this much weaker at twice the distance */
#define ND_BEVEL_OFF_MM 1.0     /* the spot's across-axis peak lies this close to the extended axis */
#define ND_BEVEL_TRIES 3        /* the brightest spots tried as the bevel, brightest first */

/* Across-axis peak of the image at column k (unit normal n, steps of 1 px
 * from -r to r): its sub-pixel offset and grey. 0 when the profile leaves the
 * imaged region. */
static int across_peak(const nd_ctx *c, const usg_image *img, double k, int r, double *off, double *peak) {
    const nd_line *l = &c->st.line;
    usg_point q = column_point(c, k);
    double nx = -l->dy, ny = l->dx, best = -1;
    int bv = 0;
    float prof[64];
    if (r > 31) r = 31;
    for (int v = -r; v <= r; v++) {
        double x = q.x + v * nx, y = q.y + v * ny;
        if (nd_ctx_border_px(c, x, y) < 1) return 0;
        prof[v + r] = nd_bilinear(img, x, y);
        if (prof[v + r] > best) { best = prof[v + r]; bv = v; }
    }
    double o = bv;
    if (bv > -r && bv < r) {
        double a = prof[bv + r - 1], b = prof[bv + r + 1], den = a - 2.0 * best + b;
        if (den < 0) o = bv + clampd(0.5 * (a - b) / den, -0.5, 0.5);
    }
    *off = o;
    *peak = best;
    return 1;
}

/* Is (x, y) on or under a bone stage's cortex (from 1.5 mm above it down)? */
static int on_bone(const nd_ctx *c, const usg_edge *e1, const usg_edge *e2, double x, double y) {
    usg_point q = {x, y};
    return in_bone_band(e1, e2, q, 1.5 / c->sp, HUGE_VAL);
}

/* The brightest grey on a circle of radius rad px around p, over 24
 * directions, leaving out those within 40 degrees of (bx, by) (the shaft
 * behind a bevel), those on a bone cortex the bone stage found (a tip at
 * the joint has cortex on both sides) and, with `lateral` > 0, those within
 * that many degrees of the horizontal (the beam's lateral blur); -1 when the
 * circle leaves the imaged region. */
static double ring_max(const nd_ctx *c, const usg_image *img, usg_point p, double rad, double bx, double by,
                       double lateral, const usg_edge *e1, const usg_edge *e2) {
    double best = 0;
    for (int i = 0; i < 24; i++) {
        double a = i * M_PI / 12.0, ux = cos(a), uy = sin(a);
        if (ux * bx + uy * by > cos(40.0 * M_PI / 180.0)) continue;
        if (lateral > 0 && fabs(ux) > cos(lateral * M_PI / 180.0)) continue;
        double x = p.x + rad * ux, y = p.y + rad * uy;
        if (nd_ctx_border_px(c, x, y) < 1) return -1;
        if (on_bone(c, e1, e2, x, y)) continue;
        double g = nd_bilinear(img, x, y);
        if (g > best) best = g;
    }
    return best;
}

/* Is the spot at p, of grey `peak`, compact: on a ring of ND_BEVEL_SIDE_MM the
 * echo is ND_BEVEL_SIDE_DB weaker (but for the shaft's direction (bx, by));
 * where the ring is brighter only across the beam (a deep bevel's lateral
 * blur reaches past the ring), axially it must be, and across the beam at
 * twice the distance the echo must have fallen by ND_BEVEL_LAT_DB (a fascia
 * or a cortex crossing the axis runs on). */
static int compact_spot(const nd_ctx *c, const usg_image *img, usg_point p, double peak, double bx, double by,
                        const usg_edge *e1, const usg_edge *e2) {
    const double gpd = 255.0 / ND_DISPLAY_DR_DB, rad = ND_BEVEL_SIDE_MM / c->sp;
    double ring = ring_max(c, img, p, rad, bx, by, 0, e1, e2);
    if (ring < 0) return 0;
    if (ring <= peak - ND_BEVEL_SIDE_DB * gpd) return 1;
    ring = ring_max(c, img, p, rad, bx, by, ND_BEVEL_LAT_DEG, e1, e2);
    if (ring < 0 || ring > peak - ND_BEVEL_SIDE_DB * gpd) return 0;
    for (int side = -1; side <= 1; side += 2) {
        double x = p.x + side * 2.0 * rad, best = 0;
        for (int dy = -2; dy <= 2; dy++) {
            double y = p.y + dy * 0.25 * rad; /* +-0.5 rad across the lateral line */
            if (nd_ctx_border_px(c, x, y) < 1) return 0;
            if (on_bone(c, e1, e2, x, y)) continue;
            double g = nd_bilinear(img, x, y);
            if (g > best) best = g;
        }
        if (best > peak - ND_BEVEL_LAT_DB * gpd) return 0;
    }
    return 1;
}

/* Is the spot at column k (dir: entry -> tip) a bevel: its across-axis peak
 * within ND_BEVEL_OFF_MM of the axis, off any cortex, and compact? 1 with its
 * across-axis offset (px). */
static int bevel_at(nd_ctx *c, const usg_image *img, int k, int dir, const usg_edge *e1, const usg_edge *e2,
                    double *off) {
    const int r = clampi((int)lrint(ND_BEVEL_OFF_MM / c->sp) + 2, 3, 31);
    double o, peak;
    if (!across_peak(c, img, k, r, &o, &peak)) return 0;
    if (fabs(o) * c->sp > ND_BEVEL_OFF_MM) return 0;
    const nd_line *l = &c->st.line;
    usg_point p = nd_line_at(l, c->st.u0 + k, o);
    /* a bright spot on a cortex is the cortex */
    if (in_bone_band(e1, e2, p, 0.5 / c->sp, HUGE_VAL)) return 0;
    if (!compact_spot(c, img, p, peak, -dir * l->dx, -dir * l->dy, e1, e2)) return 0;
    *off = o;
    return 1;
}

/* Look for the bevel beyond column kt (the visible shaft's end, dir: entry ->
 * tip): on the axis' extension, up to ND_BEVEL_REACH_MM and never past a bone
 * column (within columns near[0..1] when given: a tracked tip's
 * neighbourhood), the brightest of the ND_BEVEL_TRIES brightest spots (local
 * maxima ND_BEVEL_ABOVE_DB over the tissue) that is a bevel (bevel_at): the
 * brightest is as often the glare of a cortex the tip nears. Returns 1 with
 * its column and across-axis offset (px). */
static int find_bevel(nd_ctx *c, const usg_image *img, int kt, int dir, const double *near, const usg_edge *e1,
                      const usg_edge *e2, int *kb, double *off) {
    if (!(c->tissue_grey > 0)) return 0;
    const double thr = c->tissue_grey + ND_BEVEL_ABOVE_DB * 255.0 / ND_DISPLAY_DR_DB;
    const int reach = (int)lrint(ND_BEVEL_REACH_MM / c->sp), start = clampi((int)lrint(1.0 / c->sp), 2, 10);
    int ks[ND_BEVEL_TRIES] = {0}, n = 0;
    double gs[ND_BEVEL_TRIES] = {0}, prev = -1, cur = -1;
    for (int i = start; i <= reach + 1; i++) { /* cur: the grey at i - 1 */
        int k = kt + dir * i;
        int stop = k < 1 || k >= c->st.len - 1 || c->pk_c[k] <= ND_BONE_COL || i > reach;
        double next = stop || (near && (k < near[0] || k > near[1])) ? -1 : centre_grey(c, k);
        if (cur > thr && cur >= prev && cur >= next) { /* a local maximum at i - 1: kept if among the brightest */
            int j = n < ND_BEVEL_TRIES ? n++ : (cur > gs[ND_BEVEL_TRIES - 1] ? ND_BEVEL_TRIES - 1 : -1);
            if (j >= 0) {
                for (; j > 0 && gs[j - 1] < cur; j--) { gs[j] = gs[j - 1]; ks[j] = ks[j - 1]; }
                gs[j] = cur;
                ks[j] = k - dir;
            }
        }
        if (stop) break;
        prev = cur;
        cur = next;
    }
    for (int j = 0; j < n; j++) {
        if (bevel_at(c, img, ks[j], dir, e1, e2, off)) {
            *kb = ks[j];
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ measurement */

/* Resample along `line` over the image (with a hint, over the predicted
 * shaft from 3 mm behind its entry to well beyond its tip: 15 mm or four
 * frames of motion), contrast computed. */
static int sample(nd_ctx *c, const usg_image *img, const nd_line *line, int half, const nd_hint *hint) {
    double ulo, uhi;
    if (!nd_line_clip(line, c->w, c->h, 1.0, &ulo, &uhi)) return 0;
#ifdef ND_NO_WINDOW
    hint = NULL;
#endif
    if (hint) {
        double ue = (hint->entry.x - line->px) * line->dx + (hint->entry.y - line->py) * line->dy;
        double ut = (hint->tip.x - line->px) * line->dx + (hint->tip.y - line->py) * line->dy;
        double back = 3.0 / c->sp + 2 * c->box_a, fwd = fmax(15.0 / c->sp, 4.0 * hint->speed_px) + 2 * c->box_a;
        double lo = ue <= ut ? ue - back : ut - fwd, hi = ue <= ut ? ut + fwd : ue + back;
        if (lo > ulo) ulo = lo;
        if (hi < uhi) uhi = hi;
        if (uhi - ulo < 4) return 0;
    }
    nd_strip_sample(&c->st, img, c->mask, line, ulo, uhi, half);
    nd_strip_contrast(&c->st, c->box_a, c->flank);
    return 1;
}

/* Walk from column k away from the tip (step -dir) while inside the region: the boundary entry. */
static usg_point walk_to_border(const nd_ctx *c, double k, int dir) {
    usg_point p = column_point(c, k), q = p;
    double limit = fmax(12.0, 4.0 / c->sp) + 2 * c->box_a + 10;
    for (double s = 1; s <= limit; s += 1) {
        usg_point r = column_point(c, k - dir * s);
        if (nd_ctx_border_px(c, r.x, r.y) < 1) break;
        q = r;
    }
    return q;
}

#define ND_IAXIS_PX 2 /* the echo's peak sought this far (px) off the axis ... */
#define ND_BAND_PX 4  /* ... and for a thick band, this far off one within 45 deg of the horizontal ... */
#define ND_BAND_SIN 0.71
#ifndef ND_BAND_OFF_PX
#define ND_BAND_OFF_PX 2.0 /* ... where the peak lies this far off mid-shaft, or more: the band's axis */
#endif
#ifndef ND_TIP_ROW_MOVE_MM
#define ND_TIP_ROW_MOVE_MM 1.0 /* a thick band's tip measured again on the peak's rows: taken within this of the first */
#endif

/* Does the strip's axis lie within ND_BAND_SIN of the horizontal, where
 * the rows across it run down the beam into a needle's reverberation tail
 * (a bright needle's saturated band put the contrast's crest 2-3 px above
 * the echo's peak)? */
static int reverb_side(const nd_ctx *c) { return fabs(c->st.line.dy) < ND_BAND_SIN; }

/* The axis through the across-axis intensity peaks of the shaft (columns
 * k0..k1 of the current strip), weighted by their sharpness: v = a + b k.
 * The ridge contrast is biased away from the reverberation tail beneath a
 * needle and from the glare of a cortex beside it (it tilted the axis by
 * 1-3 degrees); the echo's own peak is not. Peaks are sought up to R px
 * off the axis (a peak at R is no peak). With too short a spread of
 * peaks, the offset only (b = 0). 0 if unfit. */
static int intensity_axis(const nd_ctx *c, int k0, int k1, int R, double *a_out, double *b_out) {
    const nd_strip *s = &c->st;
    double sw = 0, su = 0, sv = 0, suu = 0, suv = 0;
    for (int k = k0; k <= k1; k++) {
        float best = -1;
        int bv = 0;
        for (int v = -R; v <= R; v++) {
            if (!nd_strip_okrow(s, s->smok, v)[k]) continue;
            float x = nd_strip_row(s, s->sm, v)[k];
            if (x > best) { best = x; bv = v; }
        }
        if (best < 0 || bv == -R || bv == R) continue;
        if (!nd_strip_okrow(s, s->smok, bv - 1)[k] || !nd_strip_okrow(s, s->smok, bv + 1)[k]) continue;
        double l = nd_strip_row(s, s->sm, bv - 1)[k], r = nd_strip_row(s, s->sm, bv + 1)[k];
        double den = l - 2.0 * best + r;
        if (den >= 0) continue;
        double v = bv + clampd(0.5 * (l - r) / den, -0.5, 0.5), u = k, w = -den;
        sw += w; su += w * u; sv += w * v; suu += w * u * u; suv += w * u * v;
    }
    if (sw <= 0) return 0;
    double um = su / sw, vm = sv / sw, var = suu / sw - um * um;
    *b_out = var > 4.0 ? (suv / sw - um * vm) / var : 0;
    *a_out = vm - *b_out * um;
    return 1;
}

/* Which end of the shaft run is the entry: the prediction's, else the one
 * on the region's boundary, else the shallower. */
typedef struct nd_ends { int ke, kt, dir, low_entry, border_entry; } nd_ends;

static nd_ends run_ends(const nd_ctx *c, nd_run run, const nd_line *l, const nd_hint *hint) {
    int be = border_end(c, run), low_entry;
    if (hint) {
        low_entry = l->dx * hint->dx + l->dy * hint->dy >= 0;
    } else if (be >= 0) {
        low_entry = be == 0;
    } else {
        usg_point p0 = column_point(c, run.k0), p1 = column_point(c, run.k1);
        low_entry = fabs(p0.y - p1.y) > 2 ? p0.y < p1.y
                                          : fmin(p0.x, c->w - 1 - p0.x) <= fmin(p1.x, c->w - 1 - p1.x);
    }
    nd_ends e = {low_entry ? run.k0 : run.k1, low_entry ? run.k1 : run.k0, low_entry ? 1 : -1, low_entry,
                 be >= 0 && (be == 0) == low_entry};
    return e;
}

/* While tracking: the shaft run cut a little beyond the predicted tip (a
 * needle moves a few mm per frame; a run on past that follows some other
 * echo, such as a cortex the needle approaches, and would tilt the axis).
 * The tip search still walks on beyond the run's end. */
static void cut_run_ahead(const nd_ctx *c, const nd_hint *hint, nd_run *run, nd_ends *en) {
    double lim = column_of(c, hint->tip) + en->dir * (ND_AHEAD_MM / c->sp + 2.0 * hint->speed_px);
    if ((en->kt - lim) * en->dir <= 0 || (lim - en->ke) * en->dir < 4) return;
    en->kt = (int)lrint(lim);
    if (en->dir > 0) run->k1 = en->kt;
    else run->k0 = en->kt;
}

/* While tracking: the run's far end trimmed back over columns whose contrast
 * peaks at the edge of the search band (no ridge on the axis there: the
 * glare of a cortex the tip runs into, beside the axis; walking on through it
 * put tips at the cortex's end, 2-5 mm beyond). */
static void trim_off_axis(const nd_ctx *c, nd_run *run, nd_ends *en) {
    int k = en->kt;
    while ((k - en->ke) * en->dir > 4 && fabsf(c->pk_v[k]) >= ND_PASS3_BAND - 0.01f) k -= en->dir;
    if (k == en->kt) return;
    en->kt = k;
    if (en->dir > 0) run->k1 = k;
    else run->k0 = k;
}

/* Pass 3 of a measurement: the strip sampled on p->line, the shaft run
 * (near the previous one, p->r0..p->r1), its ends and its tip; the axis
 * refitted on the run (to_tip: on the run from the entry to the tip only).
 * The smoothing along the sampled axis pulls a short shaft's peaks toward
 * that axis: while the refit turns by more than ND_REFIT_DEG, the strip is
 * sampled again on it. `sampled`: the strip and p's run, ends and tip are
 * current already. 0 if the shaft is lost. */
typedef struct nd_pass {
    nd_line line;
    usg_point r0, r1;
    nd_run run;
    double level, ktip;
    nd_ends en;
    int stepped;
} nd_pass;

static int axis_pass(nd_ctx *c, const usg_image *img, const nd_hint *hint, const usg_edge *e1, const usg_edge *e2,
                     double noise, int gap, int to_tip, int sampled, nd_pass *p) {
    for (int it = 0;; it++) {
        if (it > 0 || !sampled) {
            if (!sample(c, img, &p->line, 3 + c->flank, hint)) return 0;
            strip_peaks(c, ND_PASS3_BAND);
            double win[2] = {fmin(column_of(c, p->r0), column_of(c, p->r1)) - gap,
                             fmax(column_of(c, p->r0), column_of(c, p->r1)) + gap};
            if (!shaft_run(c, img, e1, e2, noise, gap, win, &p->run, &p->level)) return 0;
            p->en = run_ends(c, p->run, &p->line, hint);
            if (hint) cut_run_ahead(c, hint, &p->run, &p->en);
            if (hint) trim_off_axis(c, &p->run, &p->en);
            p->ktip = refine_tip(c, p->en.ke, p->en.kt, p->en.dir, hint, &p->stepped);
        }
        int kt = p->en.kt;
        if (to_tip && (kt - p->ktip) * p->en.dir > 0) kt = (int)lrint(p->ktip);
        nd_line l3;
        if (it >= ND_REFIT_MAX || (hint && hint->pinned) || !fit_axis(c, imin(p->en.ke, kt), imax(p->en.ke, kt), 0.0, 3.0, &l3)) return 1;
        double cosv = l3.dx * p->line.dx + l3.dy * p->line.dy;
        if (acos(fmin(1.0, fabs(cosv))) * 180.0 / M_PI < ND_REFIT_DEG) return 1;
        p->r0 = column_point(c, p->run.k0);
        p->r1 = column_point(c, p->run.k1);
        if (cosv < 0) { l3.dx = -l3.dx; l3.dy = -l3.dy; }
        p->line = l3;
    }
}

#define ND_HIDDEN_DB 6.0  /* axis echo this close to the shaft's, or brighter, may hide the needle's own */
#define ND_HIDDEN_MM 20.0 /* ... over at most this much of the axis */
#define ND_HIDDEN_DEG 3.0 /* ... within this of the axis fitted to the visible shaft (its error) */

/* The brightest 3-point mean grey along (dx, dy) at p (steps of 1 px) of the
 * rows -w..w across it, inside the imaged region; -1 if none. */
static double brightest_across(const nd_ctx *c, const usg_image *img, usg_point p, double dx, double dy, int w) {
    double best = -1;
    for (int v = -w; v <= w; v++) {
        double sum = 0;
        int n = 0;
        for (int u = -1; u <= 1; u++) {
            double x = p.x + u * dx - v * dy, y = p.y + u * dy + v * dx;
            if (nd_ctx_border_px(c, x, y) < 1) continue;
            sum += usg_image_row(img, (int)lrint(y))[(int)lrint(x)];
            n++;
        }
        if (n && sum / n > best) best = sum / n;
    }
    return best;
}

/* A shaft that starts inside the imaged region whose axis runs on back to
 * the region's edge within ND_HIDDEN_MM through echo at least as bright as
 * its own less ND_HIDDEN_DB (within ND_HIDDEN_DEG of the axis; gaps of up to
 * `gap` px bridged): its first part may be hidden in brighter tissue (a bright
 * near field, where the ridge beside it shows nothing). 1 with *edge the point
 * where the axis enters the region. */
static int hidden_entry(const nd_ctx *c, const usg_image *img, const nd_meas *m, int gap, usg_point *edge) {
    const double thr = m->i_shaft - ND_HIDDEN_DB * 255.0 / ND_DISPLAY_DR_DB, reach = ND_HIDDEN_MM / c->sp;
    const double dx = -m->line.dx, dy = -m->line.dy, tol = tan(ND_HIDDEN_DEG * M_PI / 180.0);
    int dark = 0;
    for (double s = 1; s <= reach; s += 1.0) {
        usg_point p = {m->entry.x + s * dx, m->entry.y + s * dy};
        if (nd_ctx_border_px(c, p.x, p.y) < 1) {
            *edge = (usg_point){p.x - dx, p.y - dy};
            return s > 1;
        }
        dark = brightest_across(c, img, p, dx, dy, 1 + (int)(s * tol)) < thr ? dark + 1 : 0;
        if (dark > gap) return 0;
    }
    return 0;
}

#define ND_FAIL(code) return 0 /* code: which check failed (kept for reading) */

#ifndef ND_HOPELESS_MM
#define ND_HOPELESS_MM 10.0 /* a run longer than this may stand less far over its noise ... */
#endif
#ifndef ND_HOPELESS_MIN
#define ND_HOPELESS_MIN 0.7 /* ... down to this share of the factor asked of a short one */
#endif

/* Is a run of `level` over `noise`, k0..k1 long, hopeless as a shaft at factor k? Speckle and
 * pieces of fasciae are short: the longer the run, the less it must stand over its noise. */
static int hopeless(const nd_ctx *c, double level, double noise, int k0, int k1, double k) {
    double mm = (k1 - k0) * c->sp;
    if (mm < 2.0) return 1;
    return level < k * clampd(sqrt(ND_HOPELESS_MM / mm), ND_HOPELESS_MIN, 1.0) * noise;
}

/* nd_measure at the context's current scale (c->flank). */
static int measure_at(nd_ctx *c, const usg_image *img, const nd_line *guess, int rs, const nd_hint *hint,
                      const usg_edge *e1, const usg_edge *e2, nd_meas *m) {
    memset(m, 0, sizeof *m);
    const int gap = clampi((int)lrint(1.0 / c->sp), 3, 12);
    /* pass 1: wide search, robust axis over everything bright near the line;
     * the noise from rows rn out (at the wide scale a flank further, where
     * the contrast's inner flank clears the thick echo itself) */
    const int rn = rs + (c->flank > c->flank0 ? c->flank : 0);
    if (!sample(c, img, guess, rn + c->flank, NULL)) ND_FAIL(1);
    /* tracking: noise and axis over the predicted shaft only (the line runs
     * on past the tip, often into a cortex whose brighter echo would pull it) */
    int f0 = 0, f1 = c->st.len - 1;
    if (hint) {
        double a = column_of(c, hint->entry), b = column_of(c, hint->tip);
        f0 = imax(f0, (int)floor(fmin(a, b)) - gap);
        f1 = imin(f1, (int)ceil(fmax(a, b)) + gap);
    }
    double noise = strip_noise(c, rn, 0, c->st.len - 1, hint != NULL);
    if (noise < 0) ND_FAIL(2);
    strip_peaks(c, rs);
    nd_line l1, l2;
    const int pinned = hint && hint->pinned;
    if (pinned) l1 = *guess;
    else if (!fit_axis(c, f0, f1, 3.0 * noise, rs, &l1)) ND_FAIL(3);
    if (!hint) { /* acquisition: a hopeless line is dropped before the fine passes */
        nd_run r1;
        double lv1;
        if (!shaft_run(c, img, e1, e2, noise, clampi((int)lrint(1.0 / c->sp), 3, 12), NULL, &r1, &lv1) ||
            hopeless(c, lv1, noise, r1.k0, r1.k1, 4.0)) ND_FAIL(11);
    }
    /* pass 2: narrow, pick the shaft run and refit the axis on it alone */
    if (!sample(c, img, &l1, 4 + c->flank, hint)) ND_FAIL(4);
    strip_peaks(c, 4);
    double win[2];
    if (hint) {
        double a = column_of(c, hint->entry), b = column_of(c, hint->tip);
        win[0] = fmin(a, b) - gap;
        win[1] = fmax(a, b) + gap;
    }
    nd_run run;
    double level;
    if (!shaft_run(c, img, e1, e2, noise, gap, hint ? win : NULL, &run, &level)) ND_FAIL(5);
    if (!hint && hopeless(c, level, noise, run.k0, run.k1, 5.0)) ND_FAIL(6); /* save the time */
    if (pinned) l2 = l1;
    else if (!fit_axis(c, run.k0, run.k1, 0.0, 3.0, &l2)) ND_FAIL(7);
    /* pass 3: on the final axis, the run again, its ends and the tip */
    nd_pass ps = {.line = l2, .r0 = column_point(c, run.k0), .r1 = column_point(c, run.k1)};
    if (!axis_pass(c, img, hint, e1, e2, noise, gap, 0, 0, &ps)) ND_FAIL(9);
    /* a steep shaft that fades out (no step, or one to a faint end): its bevel further on */
    int bevel = 0, kbev = 0;
    double boff = 0, ktip = ps.ktip;
    int kstep = ps.stepped; /* ktip is at a step (its level crossing), not a bevel or a prediction */
    double near[2]; /* tracking: the bevel near the predicted tip only */
    if (hint) {
        double kp = column_of(c, hint->tip), r = 3.0 / c->sp + hint->speed_px;
        near[0] = kp - r;
        near[1] = kp + r;
    }
    if ((!ps.stepped ||
         tip_echo(c, ps.ktip, ps.en.dir) < c->tissue_grey + ND_BEVEL_ABOVE_DB * 255.0 / ND_DISPLAY_DR_DB) &&
        fabs(ps.line.dy) >= sin(ND_BEVEL_MIN_DEG * M_PI / 180.0) &&
        find_bevel(c, img, ps.en.kt, ps.en.dir, hint ? near : NULL, e1, e2, &kbev, &boff)) {
        int st2 = 0;
        double k2 = refine_tip(c, ps.en.ke, kbev, ps.en.dir, hint, &st2);
        if (st2 && (k2 - kbev) * ps.en.dir > -2.0 && (k2 - ps.en.kt) * ps.en.dir > 0) {
            /* a bevel is a compact spot: a step further on is the end of some
             * echo beyond it (a cortex's end at the joint), not the tip */
            double lim = ND_BEVEL_WALK_MM / c->sp;
            ktip = (k2 - kbev) * ps.en.dir > lim ? kbev + ps.en.dir * lim : k2;
            bevel = 1;
            kstep = 0;
        }
    }
    /* no bevel beyond, and the run goes on past the tip (the bevel's blurred
     * echo, which bends the peaks there): the axis from the shaft alone */
    if (!bevel && (ps.en.kt - ps.ktip) * ps.en.dir > 2.0) {
        nd_pass clip = ps;
        if (axis_pass(c, img, hint, e1, e2, noise, gap, 1, 1, &clip)) ps = clip;
        else if (!axis_pass(c, img, hint, e1, e2, noise, gap, 0, 0, &ps)) ND_FAIL(9);
        ktip = ps.ktip;
        kstep = ps.stepped;
    }
    l2 = ps.line;
    const int ke = ps.en.ke, kt = ps.en.kt, dir = ps.en.dir, low_entry = ps.en.low_entry, stepped0 = ps.stepped;
    m->border_entry = ps.en.border_entry;
    m->tip_step = stepped0 || bevel;
    if (hint && !bevel) { /* needles seldom retract: a tip well short of the prediction may be a faded
                 * stretch of shaft; look for a clear step at the predicted tip */
        double kp = column_of(c, hint->tip);
        int tip_stepped = stepped0;
        if ((kp - ktip) * dir > 2.0 / c->sp && kp >= 0 && kp < c->st.len) {
            int stepped = 0;
            double k2 = refine_tip(c, ke, (int)lrint(kp), dir, hint, &stepped);
            /* (a step well past the prediction, the walk there having met a
             * bone surface and the axis going into it at the step, is the end
             * of the cortex's glare beyond the tip; a step with the axis
             * still above the surface there is the needle's own end, riding
             * on over the cortex faster than predicted) */
            int past = (k2 - kp) * dir > ND_STEP_PAST_PRED_MM / c->sp && meets_bone(c, kp, k2, e1, e2) &&
                       nears_bone(c, k2, k2 + dir * ND_PAST_INTO_MM / c->sp, ND_PAST_ABOVE_MM / c->sp, e1, e2);
            if (stepped && (k2 - ktip) * dir > 0 && !past) {
                ktip = k2;
                tip_stepped = kstep = 1;
            }
        }
        /* (the predicted tip, or the track's last tip where the filter moves it back) */
        const double kh = column_of(c, hint->hold);
        /* a track being withdrawn, nothing on the axis beyond a tip short of the held one */
        const int gone = hint->withdrawing && (kh - ktip) * dir > ND_FADE_MM / c->sp &&
                         nothing_beyond(c, ktip, kh, dir, level);
        /* a shaft that ends far short of the prediction at a step: no needle
         * is withdrawn that fast unless nothing is left beyond (the bright
         * part of a shaft whose bevel is lost; acquisition decides) */
        if (tip_stepped && !gone && (kp - ktip) * dir > ND_RETRACT_MM / c->sp + 2.0 * hint->speed_px && kp >= 0 &&
            kp < c->st.len)
            ND_FAIL(13);
        /* a shaft that fades out short of the prediction with no step anywhere,
         * by more than a frame's motion (a bevel lost in a cortex's glare, a
         * needle sliding on along the cortex it met): the predicted tip */
        if (!tip_stepped && !gone && (kh - ktip) * dir > ND_FADE_MM / c->sp && kh >= 0 && kh < c->st.len) {
            ktip = kh;
            kstep = 0;
        }
        /* no step, short of the prediction, with bright echo on the axis up
         * to it (a tip in the glare of the cortex it converges on): the
         * predicted tip, never inside the bone */
        if (!tip_stepped && !gone && (kh - ktip) * dir > 0 && kh >= 0 && kh < c->st.len) {
            double k2 = bright_to(c, ktip, kh, dir);
            if ((k2 - ktip) * dir > 0) {
                ktip = k2;
                kstep = 0;
            }
        }
        /* a run with no step at its end, far beyond the prediction, ran on along
         * something else (a cortex by the joint): the step near the predicted
         * tip, else the predicted tip (not a step taken at the predicted tip
         * above: there the needle moved on faster than predicted) */
        /* (so too a run with a step that goes on along a cortex from beyond
         * the prediction: the step is the cortex's end at the joint) */
        double ahead = 2.0 / c->sp + hint->speed_px, bone_ahead = ND_AHEAD_BONE_MM / c->sp;
        int on_bone = kp >= 0 && kp < c->st.len && (ktip - kp) * dir > bone_ahead &&
                      along_bone(c, kp + dir * bone_ahead, ktip, e1, e2);
        if (on_bone) ahead = bone_ahead;
        if (kp >= 0 && kp < c->st.len && (on_bone || (!tip_stepped && (ktip - kp) * dir > ahead))) {
            int stepped = 0, kend = (int)lrint(kp + dir * ahead);
            double k2 = refine_tip(c, ke, kend < 0 ? 0 : (kend >= c->st.len ? c->st.len - 1 : kend), dir, hint, &stepped);
            kstep = stepped && (k2 - kp) * dir <= ahead;
            ktip = kstep ? k2 : kp;
        }
    }
    /* past a faded stretch of shaft to the bevel: the features are the visible shaft's */
    m->faded_mm = bevel ? fabs(ktip - kt) * c->sp : 0;
    /* shaft features over the shaft itself, entry to tip */
    const int k_feat = bevel ? kt : (int)lrint(ktip);
    int s0 = ke < kt ? ke : k_feat, s1 = ke < kt ? k_feat : ke;
    if (s1 - s0 < 2) ND_FAIL(10);
    nd_run seg = {s0, s1};
    m->run_mm = (s1 - s0) * c->sp;
    level = run_level(c, seg);
    double thr = fmax(3.0 * noise, 0.35 * level);
    int fill = 0, cnt = 0;
    double sw = 0, svv = 0;
    for (int k = s0; k <= s1; k++) {
        cnt++;
        if (c->pk_ok[k] && c->pk_c[k] > thr) {
            fill++;
            sw += c->pk_c[k];
            svv += c->pk_c[k] * c->pk_v[k] * c->pk_v[k];
        }
    }
    m->level = level;
    m->noise = noise;
    m->snr = level / noise;
    m->fill = cnt ? (double)fill / cnt : 0;
    m->rms = sw > 0 ? sqrt(svv / sw) : 99;
    shaft_intensity(c, s0, s1, m);
    m->bend_px = bend(c, s0, s1);
    m->tip = column_point(c, ktip);
    if (hint) m->tip_at_pred = hypot(m->tip.x - hint->tip.x, m->tip.y - hint->tip.y) <= 3.0 / c->sp + hint->speed_px;
    m->tip_on_bone = in_bone_band(e1, e2, m->tip, ND_TIP_BONE_MM / c->sp, HUGE_VAL);
    m->i_tip = tip_echo(c, ktip, dir);
    m->entry = m->border_entry ? walk_to_border(c, ke, dir) : column_point(c, ke);
    m->line = l2;
#ifndef ND_NO_INTENSITY_AXIS
    double ia, ib, wa, wb;
    int have = !pinned && intensity_axis(c, s0, s1, ND_IAXIS_PX, &ia, &ib);
    /* a thick band (a bright needle's, whose reverberations put the
     * contrast's crest 2-3 px above the echo's peak, out of reach of the
     * search above): the axis onto its peaks further off, and a tip at a
     * step measured again on their rows, where the bevel's blurred echo ends
     * (off them, the anisotropic blur ran it on 2-3 px) */
    const int band = !pinned && reverb_side(c) && intensity_axis(c, s0, s1, ND_BAND_PX, &wa, &wb) &&
                     fabs(wa + wb * 0.5 * (s0 + s1)) >= ND_BAND_OFF_PX;
    if (band) {
        ia = wa;
        ib = wb;
        have = 1;
    }
    if (have) { /* the axis onto the echo's peaks */
        const int vc = (int)lrint(ia + ib * ktip);
        if (band && kstep && abs(vc) + 1 <= c->st.half) {
            int st = 0;
            double k2 = refine_tip_at(c, ke, (int)lrint(ktip), dir, hint, vc, &st);
            if (st && fabs(k2 - ktip) <= ND_TIP_ROW_MOVE_MM / c->sp) m->tip = column_point(c, k2);
        }
        usg_point p0 = nd_line_at(&l2, c->st.u0, ia), p1 = nd_line_at(&l2, c->st.u0 + 100.0, ia + ib * 100.0);
        double dx = p1.x - p0.x, dy = p1.y - p0.y, nn = hypot(dx, dy);
        nd_line l3 = {p0.x, p0.y, dx / nn, dy / nn};
        usg_point *pts[2] = {&m->tip, &m->entry};
        for (int i = 0; i < 2; i++) { /* project onto the new axis */
            double u = (pts[i]->x - l3.px) * l3.dx + (pts[i]->y - l3.py) * l3.dy;
            *pts[i] = nd_line_at(&l3, u, 0);
        }
        m->line = l3;
    }
#endif
    if (bevel) { /* the axis from the visible shaft's middle to the bevel: a long lever */
        usg_point pb = column_point(c, kbev), pm = column_point(c, 0.5 * (s0 + s1));
        pb.x += boff * -l2.dy;
        pb.y += boff * l2.dx;
        double um = (pm.x - m->line.px) * m->line.dx + (pm.y - m->line.py) * m->line.dy;
        pm = nd_line_at(&m->line, um, 0);
        double dx = pb.x - pm.x, dy = pb.y - pm.y, nn = hypot(dx, dy);
        if (dx * l2.dx + dy * l2.dy < 0) { dx = -dx; dy = -dy; }
        nd_line l3 = {pm.x, pm.y, dx / nn, dy / nn};
        usg_point *pts[2] = {&m->tip, &m->entry};
        for (int i = 0; i < 2; i++) {
            double u = (pts[i]->x - l3.px) * l3.dx + (pts[i]->y - l3.py) * l3.dy;
            *pts[i] = nd_line_at(&l3, u, 0);
        }
        m->line = l3;
        l2.dx = l3.dx;
        l2.dy = l3.dy;
    }
    if (!low_entry) {
        m->line.dx = -l2.dx;
        m->line.dy = -l2.dy;
    }
    m->len_mm = hypot(m->tip.x - m->entry.x, m->tip.y - m->entry.y) * c->sp;
    m->shadow = band_ratio(c, img, m, 2.0, 6.0, &m->deep_below, &m->deep_above);
    m->falloff = 1.0;
    double below, above;
    m->tail = band_ratio(c, img, m, 0.6, 2.5, &below, &above);
    m->ladder = ladder(c, img, m);
    m->bone_frac = bone_fraction(c, m, e1, e2);
    m->bone_below = bone_beneath(c, m, e1, e2, 6.0);
    m->score = m->snr * sqrt(m->len_mm) * m->fill;
    /* (the features are the visible shaft's; the hidden part lengthens it to the edge) */
    usg_point edge;
    if (!hint && !m->border_entry && hidden_entry(c, img, m, gap, &edge)) {
        m->hidden_mm = hypot(edge.x - m->entry.x, edge.y - m->entry.y) * c->sp;
        m->len_mm += m->hidden_mm;
        m->entry = edge;
        m->border_entry = 1;
    }
    return 1;
}

#define ND_PAST_TIP_MM 8.0  /* runs_on_past_tip looks this far beyond the tip, */
#define ND_PAST_TIP_DEG 10.0 /* this far either side of the axis, */
#define ND_PAST_TIP_DB 6.0   /* for echo this close to the shaft's */

/* Does line l cross the beam at its point (px, py) within ND_WIDE_MAX_DEG of square? */
static int square_to_beam(const nd_ctx *c, const nd_line *l) {
    double bx = 0, by = 1;
    if (c->fan) {
        bx = l->px - c->apex_x;
        by = l->py - c->apex_y;
        double n = hypot(bx, by);
        if (n < 1) return 0;
        bx /= n;
        by /= n;
    }
    return fabs(l->dx * bx + l->dy * by) <= sin(ND_WIDE_MAX_DEG * M_PI / 180.0);
}

/* Share of the steps 1..reach_mm beyond m's tip along the unit direction
 * (dx, dy), of those inside the region and off the bone stage's cortices
 * (e1, e2: NULL for none), whose echo within 2 px (plus `spread` px per px
 * of reach) either side of the ray reaches floor_grey and, with ridge_grey >
 * 0, stands that far above the mean of the two flanks a flank distance
 * beyond (a line, not a bright patch); -1 when fewer than half the steps
 * count. The count stops, returning 0, once the share can no longer reach
 * `want`. */
static double lit_beyond(const nd_ctx *c, const usg_image *img, const nd_meas *m, double dx, double dy,
                         double reach_mm, double spread, double floor_grey, double ridge_grey, double want,
                         const usg_edge *e1, const usg_edge *e2) {
    const double nx = -dy, ny = dx;
    const int i0 = (int)lrint(1.0 / c->sp), i1 = (int)lrint(reach_mm / c->sp);
    const double most_dark = (1.0 - want) * (i1 - i0 + 1);
    int n = 0, lit = 0;
    for (int i = i0; i <= i1; i++) {
        if (n - lit > most_dark) return 0; /* (unlit > (1 - want) * n: below want whatever follows) */
        double px = m->tip.x + i * dx, py = m->tip.y + i * dy;
        int ix = (int)lrint(px), iy = (int)lrint(py);
        if (ix < 0 || iy < 0 || ix >= c->w || iy >= c->h || !c->mask[iy * c->w + ix] || on_bone(c, e1, e2, px, py)) {
            continue;
        }
        n++;
        float best = 0;
        const int r = 2 + (int)(i * spread), f = r + c->flank0;
        for (int v = -r; v <= r; v++) best = fmaxf(best, nd_bilinear(img, px + v * nx, py + v * ny));
        double flanks = 0.5 * (nd_bilinear(img, px - f * nx, py - f * ny) + nd_bilinear(img, px + f * nx, py + f * ny));
        lit += best >= floor_grey && (ridge_grey <= 0 || best - flanks >= ridge_grey);
    }
    return 2 * n >= i1 - i0 ? (double)lit / n : -1;
}

/* Does the echo run on past m's tip? Over 1..ND_PAST_TIP_MM beyond it, more
 * than half the steps inside the region find, within ND_PAST_TIP_DEG of the
 * axis, an echo within ND_PAST_TIP_DB of the shaft's. A needle ends at its
 * tip; a level echo that only dips there (a tank's floor, a long fascia) goes
 * on, and the short piece of it measured may lie a few degrees off it. */
static int runs_on_past_tip(const nd_ctx *c, const usg_image *img, const nd_meas *m) {
    return lit_beyond(c, img, m, m->line.dx, m->line.dy, ND_PAST_TIP_MM, tan(ND_PAST_TIP_DEG * M_PI / 180.0),
                      m->i_shaft - ND_PAST_TIP_DB * 255.0 / ND_DISPLAY_DR_DB, 0, 0.5, NULL, NULL) > 0.5;
}

#define ND_KINK_MIN_DEG 8.0  /* kink_past_tip: a line turned this far ... */
#define ND_KINK_MAX_DEG 40.0 /* ... to this far off the axis at the tip ... */
#define ND_KINK_STEP_DEG 2.0
#define ND_KINK_MM 6.0       /* ... lit over 1..this many mm beyond it ... */
#define ND_KINK_SHARE 0.8    /* ... on this share of the steps ... */
#define ND_KINK_OVER_DB 12.0 /* ... at least this far above the frame's tissue ... */
#define ND_KINK_RIDGE_DB 6.0 /* ... and above its flanks (a line, not a bright phantom's speckle), */
#define ND_KINK_CLEAR_DB 12.0 /* ... from a shaft this far above the tissue beside it (a clear line), */
#define ND_KINK_CROSS_SHARE 0.5 /* ... not going on through the tip (lit on this share behind it, */
#define ND_KINK_CROSS_DEG 6.0   /* ... within this of straight on: a crossing) */
#define ND_KINK_SPAN_DEG 24.0 /* ... its lit rays on one side, within this span (a line, blurred, not a glare) */

/* Does a line lit along (dx, dy) from m's tip (kink_past_tip's floor and
 * ridge) go on through the tip to the other side, within ND_KINK_CROSS_DEG
 * of straight on (a fascia is seldom quite straight)? */
static int crossing(const nd_ctx *c, const usg_image *img, const nd_meas *m, double dx, double dy, double floor_grey,
                    double ridge, const usg_edge *e1, const usg_edge *e2) {
    for (double a = -ND_KINK_CROSS_DEG; a <= ND_KINK_CROSS_DEG + 1e-9; a += ND_KINK_STEP_DEG) {
        double r = a * M_PI / 180.0, cs = cos(r), sn = sin(r);
        double bx = -(dx * cs - dy * sn), by = -(dx * sn + dy * cs);
        if (lit_beyond(c, img, m, bx, by, ND_KINK_MM, 0, floor_grey, ridge, ND_KINK_CROSS_SHARE, e1, e2) >=
            ND_KINK_CROSS_SHARE) {
            return 1;
        }
    }
    return 0;
}

/* The turn (degrees, signed) of a line that runs on from the tip of a clear
 * shaft m (ND_KINK_CLEAR_DB above the tissue beside it), as bright as the
 * shaft (within ND_PAST_TIP_DB), ND_KINK_OVER_DB above the frame's tissue (0
 * when that is unknown) and ND_KINK_RIDGE_DB above its flanks,
 * ND_KINK_MIN_DEG..ND_KINK_MAX_DEG off its axis, off the bone stage's
 * cortices (e1, e2), and not going on through the tip to the shaft's other
 * side (that is a fascia crossing a needle's tip): the straight stretch of a
 * fascia that bends there, whose "tip" is the bend. 0 when none, or when the
 * lit rays lie on both sides or spread wider than ND_KINK_SPAN_DEG: a glare
 * around the tip, not a line. */
static double kink_past_tip(const nd_ctx *c, const usg_image *img, const nd_meas *m, const usg_edge *e1,
                            const usg_edge *e2) {
    if (!(c->tissue_grey > 0) || m->i_shaft - m->i_bg < ND_KINK_CLEAR_DB * 255.0 / ND_DISPLAY_DR_DB) return 0;
    const double floor_grey = fmax(m->i_shaft - ND_PAST_TIP_DB * 255.0 / ND_DISPLAY_DR_DB,
                                   c->tissue_grey + ND_KINK_OVER_DB * 255.0 / ND_DISPLAY_DR_DB);
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (int side = -1; side <= 1; side += 2) {
        for (double a = ND_KINK_MIN_DEG; a <= ND_KINK_MAX_DEG + 1e-9; a += ND_KINK_STEP_DEG) {
            double r = side * a * M_PI / 180.0, cs = cos(r), sn = sin(r);
            double dx = m->line.dx * cs - m->line.dy * sn, dy = m->line.dx * sn + m->line.dy * cs;
            const double ridge = ND_KINK_RIDGE_DB * 255.0 / ND_DISPLAY_DR_DB;
            if (lit_beyond(c, img, m, dx, dy, ND_KINK_MM, 0, floor_grey, ridge, ND_KINK_SHARE, e1, e2) < ND_KINK_SHARE) {
                continue;
            }
            if (crossing(c, img, m, dx, dy, floor_grey, ridge, e1, e2)) continue;
            lo = fmin(lo, side * a);
            hi = fmax(hi, side * a);
        }
    }
    if (lo > hi || hi - lo > ND_KINK_SPAN_DEG) return 0;
    return 0.5 * (lo + hi);
}

int nd_measure(nd_ctx *c, const usg_image *img, const nd_line *guess, int rs, const nd_hint *hint,
               const usg_edge *e1, const usg_edge *e2, nd_meas *m) {
    int wide = 0, ok;
    for (;;) {
        c->flank = wide ? ND_WIDE_SCALE * c->flank0 : c->flank0;
        ok = measure_at(c, img, guess, rs, hint, e1, e2, m);
        if (ok && wide && runs_on_past_tip(c, img, m)) ok = 0;
        if (ok && !hint) m->kink_deg = kink_past_tip(c, img, m, e1, e2);
        if (ok || hint || wide || !square_to_beam(c, guess)) break;
        wide = 1; /* acquisition: a thick echo's ridge at the wide scale */
    }
    c->flank = c->flank0;
    m->wide = ok && wide;
    return ok;
}
