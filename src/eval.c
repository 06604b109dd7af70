/* eval.c - scoring results against ground truth (definitions in usg/eval.h).
 *
 * Results are not kept: each truth frame is scored as it streams by and only
 * the per-frame scalars needed for percentiles are stored (growing arrays of
 * doubles). Reading and pairing the JSON Lines files is in eval_files.c. */
#include "usg/eval.h"
#include "eval_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COVER_MM 1.0
#define COVER_EPS 1e-9

/* Segments of one polyline sorted by their left end, for distance queries in
 * O(log n + band) instead of O(n): the scan stops where the x-gap alone
 * exceeds the best distance so far. Correct for any polyline; fast for edges
 * ordered by x (CONTRACT.md), whose segments are short in x. */
typedef struct seg {
    double xmin;
    int i; /* from pts[i] to pts[i + 1] (to pts[i] for a one-point polyline) */
} seg;

typedef struct polyidx {
    const usg_point *pts;
    int n, nseg;
    double wmax; /* widest segment extent in x */
    seg segs[USG_EDGE_MAX];
} polyidx;

typedef struct dvec {
    double *v;
    int n, cap;
} dvec;

typedef struct bone_acc {
    double dist_sum_mm;
    long dist_n;
    long covered, truth_pts;
    int fp_frames;
} bone_acc;

struct usg_eval {
    int frames, missing, errors, extra, first_extra;
    int needle_truth, needle_hits, needle_absent, needle_fp;
    dvec tip, angle, target;
    bone_acc bone[2];
    int swaps;
    int target_truth, target_missed, target_fp;
    usg_result *truth_buf, *result_buf; /* scratch for usg_eval_files */
    polyidx *ix;                        /* scratch for distance queries */
};

static usg_status dvec_push(dvec *d, double x) {
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 256;
        double *v = realloc(d->v, (size_t)cap * sizeof *v);
        if (!v) {
            return usg_fail(USG_ERR_NOMEM, "eval: out of memory for %d samples", cap);
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = x;
    return USG_OK;
}

usg_status usg_eval_new(usg_eval **out) {
    usg_eval *e = calloc(1, sizeof *e);
    if (e) {
        e->truth_buf = malloc(sizeof *e->truth_buf);
        e->result_buf = malloc(sizeof *e->result_buf);
        e->ix = malloc(sizeof *e->ix);
    }
    if (!e || !e->truth_buf || !e->result_buf || !e->ix) {
        usg_eval_free(e);
        return usg_fail(USG_ERR_NOMEM, "eval: out of memory");
    }
    *out = e;
    return USG_OK;
}

void usg_eval_free(usg_eval *e) {
    if (!e) {
        return;
    }
    free(e->tip.v);
    free(e->angle.v);
    free(e->target.v);
    free(e->truth_buf);
    free(e->result_buf);
    free(e->ix);
    free(e);
}

/* ---- geometry ------------------------------------------------------------ */

static double seg_dist2(usg_point p, usg_point a, usg_point b) {
    double dx = b.x - a.x, dy = b.y - a.y;
    double len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2 : 0;
    t = t < 0 ? 0 : (t > 1 ? 1 : t);
    double ex = a.x + t * dx - p.x, ey = a.y + t * dy - p.y;
    return ex * ex + ey * ey;
}

static int cmp_seg(const void *a, const void *b) {
    const seg *x = a, *y = b;
    if (x->xmin != y->xmin) return (x->xmin > y->xmin) - (x->xmin < y->xmin);
    return (x->i > y->i) - (x->i < y->i);
}

/* Index the polyline through e->pts (e->n >= 1). */
static void polyidx_build(polyidx *ix, const usg_edge *e) {
    ix->pts = e->pts;
    ix->n = e->n;
    ix->nseg = e->n > 1 ? e->n - 1 : 1;
    ix->wmax = 0;
    for (int i = 0; i < ix->nseg; i++) {
        usg_point a = e->pts[i], b = e->n > 1 ? e->pts[i + 1] : a;
        ix->segs[i] = (seg){fmin(a.x, b.x), i};
        ix->wmax = fmax(ix->wmax, fabs(b.x - a.x));
    }
    qsort(ix->segs, (size_t)ix->nseg, sizeof ix->segs[0], cmp_seg);
}

static double polyidx_d2(const polyidx *ix, int k, usg_point p) {
    int i = ix->segs[k].i;
    return seg_dist2(p, ix->pts[i], ix->pts[ix->n > 1 ? i + 1 : i]);
}

/* Distance (px) from p to the indexed polyline. */
static double polyidx_dist(const polyidx *ix, usg_point p) {
    int lo = 0, hi = ix->nseg;
    while (lo < hi) { /* first segment starting right of p */
        int mid = lo + (hi - lo) / 2;
        if (ix->segs[mid].xmin <= p.x) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    double best2 = INFINITY;
    for (int k = lo - 1; k <= lo; k++) { /* seed with the neighbours in x */
        if (k >= 0 && k < ix->nseg) best2 = fmin(best2, polyidx_d2(ix, k, p));
    }
    const double slack = 1e-9;
    double best = sqrt(best2);
    for (int k = lo + 1; k < ix->nseg && ix->segs[k].xmin <= p.x + best + slack; k++) {
        double d2 = polyidx_d2(ix, k, p);
        if (d2 < best2) {
            best2 = d2;
            best = sqrt(d2);
        }
    }
    for (int k = lo - 2; k >= 0 && ix->segs[k].xmin + ix->wmax >= p.x - best - slack; k--) {
        double d2 = polyidx_d2(ix, k, p);
        if (d2 < best2) {
            best2 = d2;
            best = sqrt(d2);
        }
    }
    return best;
}

/* Sum of distances (px) from each point of `from` to the polyline `to`. */
static double edge_dist_sum(polyidx *ix, const usg_edge *from, const usg_edge *to) {
    polyidx_build(ix, to);
    double s = 0;
    for (int i = 0; i < from->n; i++) {
        s += polyidx_dist(ix, from->pts[i]);
    }
    return s;
}

/* Points of `from` within `lim_px` of the polyline `to`. */
static int edge_covered(polyidx *ix, const usg_edge *from, const usg_edge *to, double lim_px) {
    polyidx_build(ix, to);
    int c = 0;
    for (int i = 0; i < from->n; i++) {
        c += polyidx_dist(ix, from->pts[i]) <= lim_px;
    }
    return c;
}

static int edge_found(const usg_edge *e) { return e->found && e->n > 0; }

static double angle_err_deg(double a, double b) {
    double d = fmod(fabs(a - b), 180.0);
    return d > 90.0 ? 180.0 - d : d;
}

static double point_dist(usg_point a, usg_point b) { return hypot(a.x - b.x, a.y - b.y); }

/* ---- one frame ----------------------------------------------------------- */

static void score_bone(polyidx *ix, const usg_edge *t, const usg_edge *r, double sp,
                       usg_eval_bone *b) {
    memset(b, 0, sizeof *b);
    b->truth_found = edge_found(t);
    b->result_found = r && edge_found(r);
    b->truth_n = b->truth_found ? t->n : 0;
    b->result_n = b->result_found ? r->n : 0;
    if (b->truth_found && b->result_found) {
        b->dist_sum_mm = edge_dist_sum(ix, r, t) * sp;
        b->dist_n = r->n;
        b->covered = edge_covered(ix, t, r, (COVER_MM + COVER_EPS) / sp);
    }
    b->mean_dist_mm = b->dist_n ? b->dist_sum_mm / b->dist_n : NAN;
    b->coverage = b->truth_n ? (double)b->covered / b->truth_n : NAN;
}

/* 1 if result bone `r`, at distance sum `own_px` from its own truth bone, lies
 * strictly closer to truth `other`. */
static int lies_on_other(polyidx *ix, const usg_edge *r, double own_px, const usg_edge *other) {
    return edge_dist_sum(ix, r, other) < own_px;
}

static int is_swap(polyidx *ix, const usg_result *t, const usg_result *r,
                   const usg_eval_bone *bone, double sp) {
    if (!r || !edge_found(&t->sacrum) || !edge_found(&t->ilium)) {
        return 0;
    }
    int rs = edge_found(&r->sacrum), ri = edge_found(&r->ilium);
    if (!rs && !ri) {
        return 0;
    }
    if (rs && !lies_on_other(ix, &r->sacrum, bone[USG_BONE_SACRUM].dist_sum_mm / sp, &t->ilium)) {
        return 0;
    }
    if (ri && !lies_on_other(ix, &r->ilium, bone[USG_BONE_ILIUM].dist_sum_mm / sp, &t->sacrum)) {
        return 0;
    }
    return 1;
}

static void score_frame(polyidx *ix, const usg_result *t, const usg_result *r, double sp,
                        usg_eval_frame *f) {
    memset(f, 0, sizeof *f);
    f->frame = t->frame;
    f->spacing_mm = sp;
    if (!r) {
        f->presence = USG_EVAL_RESULT_MISSING;
    } else if (r->status == USG_FRAME_ERROR) {
        f->presence = USG_EVAL_RESULT_ERROR;
    } else if (r->status == USG_FRAME_DROPPED) {
        f->presence = USG_EVAL_RESULT_DROPPED;
    }
    if (f->presence != USG_EVAL_RESULT_OK) {
        r = NULL; /* nothing found */
    }
    f->truth_needle = t->needle.found;
    f->result_needle = r && r->needle.found;
    f->tip_err_mm = f->angle_err_deg = NAN;
    if (f->truth_needle && f->result_needle) {
        f->tip_err_mm = point_dist(t->needle.tip, r->needle.tip) * sp;
        f->angle_err_deg = angle_err_deg(t->needle.angle_deg, r->needle.angle_deg);
    }
    score_bone(ix, &t->sacrum, r ? &r->sacrum : NULL, sp, &f->bone[USG_BONE_SACRUM]);
    score_bone(ix, &t->ilium, r ? &r->ilium : NULL, sp, &f->bone[USG_BONE_ILIUM]);
    f->label_swap = is_swap(ix, t, r, f->bone, sp);
    f->truth_target = t->target.found;
    f->result_target = r && r->target.found;
    f->target_err_mm = NAN;
    if (f->truth_target) {
        f->target_err_mm =
            f->result_target ? point_dist(t->target.point, r->target.point) * sp : INFINITY;
    }
}

static usg_status accumulate(usg_eval *e, const usg_eval_frame *f) {
    usg_status st = USG_OK;
    e->frames++;
    e->missing += f->presence == USG_EVAL_RESULT_MISSING;
    e->errors += f->presence == USG_EVAL_RESULT_ERROR || f->presence == USG_EVAL_RESULT_DROPPED;
    if (f->truth_needle) {
        e->needle_truth++;
        if (f->result_needle) {
            e->needle_hits++;
            st = dvec_push(&e->tip, f->tip_err_mm);
            if (!st) st = dvec_push(&e->angle, f->angle_err_deg);
        }
    } else {
        e->needle_absent++;
        e->needle_fp += f->result_needle;
    }
    for (int b = 0; b < 2; b++) {
        const usg_eval_bone *fb = &f->bone[b];
        bone_acc *a = &e->bone[b];
        a->dist_sum_mm += fb->dist_sum_mm;
        a->dist_n += fb->dist_n;
        a->covered += fb->covered;
        a->truth_pts += fb->truth_n;
        a->fp_frames += !fb->truth_found && fb->result_found;
    }
    e->swaps += f->label_swap;
    if (f->truth_target) {
        e->target_truth++;
        e->target_missed += !f->result_target;
        if (!st) st = dvec_push(&e->target, f->target_err_mm);
    } else {
        e->target_fp += f->result_target;
    }
    return st;
}

usg_status usg_eval_add_spaced(usg_eval *e, const usg_result *truth, const usg_result *result,
                               double sp, usg_eval_frame *out) {
    usg_eval_frame f;
    score_frame(e->ix, truth, result, sp, &f);
    usg_status st = accumulate(e, &f);
    if (out) {
        *out = f;
    }
    return st;
}

usg_status usg_eval_add(usg_eval *e, const usg_result *truth, const usg_result *result,
                        usg_eval_frame *frame_out) {
    if (!truth->has_spacing || !(truth->spacing_mm > 0)) {
        return usg_fail(USG_ERR_ARG, "eval: truth frame %d has no positive spacing_mm",
                        truth->frame);
    }
    return usg_eval_add_spaced(e, truth, result, truth->spacing_mm, frame_out);
}

void usg_eval_scratch(usg_eval *e, usg_result **truth, usg_result **result) {
    *truth = e->truth_buf;
    *result = e->result_buf;
}

void usg_eval_add_extra(usg_eval *e, int frame) {
    if (e->extra == 0 || frame < e->first_extra) {
        e->first_extra = frame;
    }
    e->extra++;
}

/* ---- metrics ------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double usg_eval_percentile(double *v, int n, double p) {
    if (n <= 0) {
        return NAN;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = (int)ceil(p * n / 100.0 - 1e-9);
    k = k < 1 ? 1 : (k > n ? n : k);
    return v[k - 1];
}

static double ratio(double num, double den) { return den > 0 ? num / den : NAN; }

void usg_eval_get_metrics(const usg_eval *e, usg_eval_metrics *m) {
    memset(m, 0, sizeof *m);
    m->frames = e->frames;
    m->frames_missing = e->missing;
    m->frames_error = e->errors;
    m->frames_extra = e->extra;
    m->first_extra = e->first_extra;
    m->needle_truth = e->needle_truth;
    m->needle_hits = e->needle_hits;
    m->needle_absent = e->needle_absent;
    m->needle_fp = e->needle_fp;
    m->needle_recall = ratio(e->needle_hits, e->needle_truth);
    m->needle_fp_rate = ratio(e->needle_fp, e->needle_absent);
    /* Sorting the stored samples does not change what they mean. */
    dvec *tip = (dvec *)&e->tip, *ang = (dvec *)&e->angle, *tgt = (dvec *)&e->target;
    m->tip_err_median_mm = usg_eval_percentile(tip->v, tip->n, 50);
    m->tip_err_p95_mm = usg_eval_percentile(tip->v, tip->n, 95);
    m->angle_err_median_deg = usg_eval_percentile(ang->v, ang->n, 50);
    m->angle_err_p95_deg = usg_eval_percentile(ang->v, ang->n, 95);
    for (int b = 0; b < 2; b++) {
        m->bone_mean_dist_mm[b] = ratio(e->bone[b].dist_sum_mm, (double)e->bone[b].dist_n);
        m->bone_coverage[b] = ratio((double)e->bone[b].covered, (double)e->bone[b].truth_pts);
        m->bone_fp_frames[b] = e->bone[b].fp_frames;
    }
    m->label_swaps = e->swaps;
    m->target_truth = e->target_truth;
    m->target_missed = e->target_missed;
    m->target_fp = e->target_fp;
    m->target_err_median_mm = usg_eval_percentile(tgt->v, tgt->n, 50);
    m->target_err_p95_mm = usg_eval_percentile(tgt->v, tgt->n, 95);
}

/* ---- named metrics ------------------------------------------------------- */

#define MD(field) offsetof(usg_eval_metrics, field)

static const struct {
    const char *name;
    usg_eval_kind kind;
    size_t off;
    int is_int;
} g_metrics[] = {
    {"frames", USG_EVAL_COUNT, MD(frames), 1},
    {"frames_missing", USG_EVAL_COUNT, MD(frames_missing), 1},
    {"frames_error", USG_EVAL_COUNT, MD(frames_error), 1},
    {"frames_extra", USG_EVAL_COUNT, MD(frames_extra), 1},
    {"needle_recall", USG_EVAL_RATIO, MD(needle_recall), 0},
    {"needle_fp_rate", USG_EVAL_RATIO, MD(needle_fp_rate), 0},
    {"tip_err_median_mm", USG_EVAL_MM, MD(tip_err_median_mm), 0},
    {"tip_err_p95_mm", USG_EVAL_MM, MD(tip_err_p95_mm), 0},
    {"angle_err_median_deg", USG_EVAL_DEG, MD(angle_err_median_deg), 0},
    {"angle_err_p95_deg", USG_EVAL_DEG, MD(angle_err_p95_deg), 0},
    {"sacrum_mean_dist_mm", USG_EVAL_MM, MD(bone_mean_dist_mm), 0},
    {"sacrum_coverage", USG_EVAL_RATIO, MD(bone_coverage), 0},
    {"sacrum_fp_frames", USG_EVAL_COUNT, MD(bone_fp_frames), 1},
    {"ilium_mean_dist_mm", USG_EVAL_MM, MD(bone_mean_dist_mm) + sizeof(double), 0},
    {"ilium_coverage", USG_EVAL_RATIO, MD(bone_coverage) + sizeof(double), 0},
    {"ilium_fp_frames", USG_EVAL_COUNT, MD(bone_fp_frames) + sizeof(int), 1},
    {"label_swaps", USG_EVAL_COUNT, MD(label_swaps), 1},
    {"target_err_median_mm", USG_EVAL_MM, MD(target_err_median_mm), 0},
    {"target_err_p95_mm", USG_EVAL_MM, MD(target_err_p95_mm), 0},
    {"target_missed", USG_EVAL_COUNT, MD(target_missed), 1},
    {"target_fp_frames", USG_EVAL_COUNT, MD(target_fp), 1},
};

#define N_METRICS ((int)(sizeof g_metrics / sizeof g_metrics[0]))

int usg_eval_metric_count(void) { return N_METRICS; }

const char *usg_eval_metric_name(int i) {
    return i >= 0 && i < N_METRICS ? g_metrics[i].name : NULL;
}

usg_eval_kind usg_eval_metric_kind(int i) {
    return i >= 0 && i < N_METRICS ? g_metrics[i].kind : USG_EVAL_COUNT;
}

double usg_eval_metric_value(const usg_eval_metrics *m, int i) {
    if (i < 0 || i >= N_METRICS) {
        return NAN;
    }
    const char *p = (const char *)m + g_metrics[i].off;
    if (g_metrics[i].is_int) {
        int v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    double d;
    memcpy(&d, p, sizeof d);
    return d;
}

int usg_eval_metric_find(const char *name) {
    for (int i = 0; i < N_METRICS; i++) {
        if (!strcmp(g_metrics[i].name, name)) {
            return i;
        }
    }
    return -1;
}
