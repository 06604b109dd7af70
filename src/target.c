/* target.c - the joint-entry target: midpoint of the closest pair of points
 * between the sacral and iliac edges (CONTRACT.md), smoothed over time, and
 * the needle's distance and trajectory miss to it. */
#include "usg/target.h"

#include <math.h>
#include <stdlib.h>

/* Smoothing: an alpha-beta filter (position gain ALPHA, velocity gain BETA,
 * per frame); a move of
 * more than RESET_MM (a new view, a re-detection) is taken at once; after
 * FORGET_FRAMES frames without a target the history is dropped. */
#define ALPHA 0.3
#define BETA 0.03
#define RESET_MM 3.0
#define FORGET_FRAMES 5
/* Segments per bounding box when pruning the closest-pair search. */
#define CHUNK 16

struct usg_target_tracker {
    usg_probe probe;
    int have;
    usg_point smooth, vel;   /* position and velocity (px per frame) */
    int missed;
};

typedef struct box { double x0, y0, x1, y1; } box;

static box chunk_box(const usg_edge *e, int i0, int i1) {
    box b = {e->pts[i0].x, e->pts[i0].y, e->pts[i0].x, e->pts[i0].y};
    for (int i = i0 + 1; i <= i1; i++) {
        const usg_point *p = &e->pts[i];
        if (p->x < b.x0) b.x0 = p->x;
        if (p->x > b.x1) b.x1 = p->x;
        if (p->y < b.y0) b.y0 = p->y;
        if (p->y > b.y1) b.y1 = p->y;
    }
    return b;
}

static double box_dist2(const box *a, const box *b) {
    double dx = fmax(0, fmax(a->x0 - b->x1, b->x0 - a->x1));
    double dy = fmax(0, fmax(a->y0 - b->y1, b->y0 - a->y1));
    return dx * dx + dy * dy;
}

/* Closest point to p on segment ab. */
static usg_point closest_on(usg_point p, usg_point a, usg_point b) {
    double dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return (usg_point){a.x + t * dx, a.y + t * dy};
}

static double d2(usg_point a, usg_point b) { return (a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y); }

/* Closest pair between segments p0p1 and q0q1: squared distance, points in *pp, *pq. */
static double seg_seg(usg_point p0, usg_point p1, usg_point q0, usg_point q1, usg_point *pp, usg_point *pq) {
    double rx = p1.x - p0.x, ry = p1.y - p0.y, sx = q1.x - q0.x, sy = q1.y - q0.y;
    double den = rx * sy - ry * sx;
    if (den != 0) { /* proper intersection: distance 0 */
        double qpx = q0.x - p0.x, qpy = q0.y - p0.y;
        double t = (qpx * sy - qpy * sx) / den, u = (qpx * ry - qpy * rx) / den;
        if (t >= 0 && t <= 1 && u >= 0 && u <= 1) {
            *pp = *pq = (usg_point){p0.x + t * rx, p0.y + t * ry};
            return 0;
        }
    }
    usg_point c[4][2] = {{p0, closest_on(p0, q0, q1)}, {p1, closest_on(p1, q0, q1)},
                         {closest_on(q0, p0, p1), q0}, {closest_on(q1, p0, p1), q1}};
    double best = INFINITY;
    for (int k = 0; k < 4; k++) {
        double v = d2(c[k][0], c[k][1]);
        if (v < best) { best = v; *pp = c[k][0]; *pq = c[k][1]; }
    }
    return best;
}

/* Exhaustive closest pair between the segments of a[i0..i1] and b[k0..k1]. */
static void pair_chunks(const usg_edge *a, int i0, int i1, const usg_edge *b, int k0, int k1,
                        double *best, usg_point *pa, usg_point *pb) {
    for (int i = i0; i < i1; i++) {
        for (int k = k0; k < k1; k++) {
            usg_point u = a->pts[i], v = b->pts[k];
            double dd = seg_seg(a->pts[i], a->pts[i + 1], b->pts[k], b->pts[k + 1], &u, &v);
            if (dd < *best) { *best = dd; *pa = u; *pb = v; }
        }
    }
}

int usg_target_closest_midpoint(const usg_edge *a, const usg_edge *b, usg_point *out) {
    if (!a || !b || !a->found || !b->found || a->n < 1 || b->n < 1) return 0;
    if (a->n == 1 || b->n == 1) { /* degenerate edges: nearest points */
        const usg_edge *p = a->n == 1 ? a : b, *q = a->n == 1 ? b : a;
        usg_point best = q->pts[0];
        for (int k = 0; k + 1 < q->n; k++) {
            usg_point c = closest_on(p->pts[0], q->pts[k], q->pts[k + 1]);
            if (d2(c, p->pts[0]) < d2(best, p->pts[0])) best = c;
        }
        *out = (usg_point){0.5 * (best.x + p->pts[0].x), 0.5 * (best.y + p->pts[0].y)};
        return 1;
    }
    /* start from the ends (the cleft lies between facing ends), so that the
     * box test prunes nearly every other pair */
    double best = INFINITY;
    usg_point pa = a->pts[0], pb = b->pts[0];
    pair_chunks(a, 0, 1, b, 0, 1, &best, &pa, &pb);
    pair_chunks(a, 0, 1, b, b->n - 2, b->n - 1, &best, &pa, &pb);
    pair_chunks(a, a->n - 2, a->n - 1, b, 0, 1, &best, &pa, &pb);
    pair_chunks(a, a->n - 2, a->n - 1, b, b->n - 2, b->n - 1, &best, &pa, &pb);
    for (int i0 = 0; i0 < a->n - 1; i0 += CHUNK) {
        int i1 = i0 + CHUNK < a->n - 1 ? i0 + CHUNK : a->n - 1;
        box ba = chunk_box(a, i0, i1);
        for (int k0 = 0; k0 < b->n - 1; k0 += CHUNK) {
            int k1 = k0 + CHUNK < b->n - 1 ? k0 + CHUNK : b->n - 1;
            box bb = chunk_box(b, k0, k1);
            if (box_dist2(&ba, &bb) >= best) continue;
            pair_chunks(a, i0, i1, b, k0, k1, &best, &pa, &pb);
        }
    }
    *out = (usg_point){0.5 * (pa.x + pb.x), 0.5 * (pa.y + pb.y)};
    return 1;
}

void usg_target_needle_metrics(const usg_needle *n, usg_point target, double sx, double sy,
                               double *tip_distance_mm, double *trajectory_miss_mm) {
    double tx = (target.x - n->tip.x) * sx, ty = (target.y - n->tip.y) * sy;
    *tip_distance_mm = hypot(tx, ty);
    /* the axis as a ray from the entry through the tip, in mm */
    double ux = (n->tip.x - n->entry.x) * sx, uy = (n->tip.y - n->entry.y) * sy;
    double len = hypot(ux, uy);
    if (!(len > 0)) { *trajectory_miss_mm = *tip_distance_mm; return; }
    ux /= len; uy /= len;
    double ex = (target.x - n->entry.x) * sx, ey = (target.y - n->entry.y) * sy;
    double t = ex * ux + ey * uy;
    *trajectory_miss_mm = t < 0 ? hypot(ex, ey) : fabs(ex * uy - ey * ux);
}

usg_status usg_target_tracker_new(const usg_probe *probe, usg_target_tracker **out) {
    *out = NULL;
    if (!probe) return usg_fail(USG_ERR_ARG, "target: no probe profile");
    if (!(probe->spacing_x_mm > 0) || !(probe->spacing_y_mm > 0))
        return usg_fail(USG_ERR_ARG, "target: probe '%s' has no spacing", probe->name);
    usg_target_tracker *t = calloc(1, sizeof *t);
    if (!t) return usg_fail(USG_ERR_NOMEM, "target: out of memory");
    t->probe = *probe;
    *out = t;
    return USG_OK;
}

/* Blend the raw target into the smoothed one. */
static usg_point smooth_step(usg_target_tracker *t, usg_point raw) {
    double dx = (raw.x - t->smooth.x) * t->probe.spacing_x_mm;
    double dy = (raw.y - t->smooth.y) * t->probe.spacing_y_mm;
    if (!t->have || hypot(dx, dy) > RESET_MM) {
        t->smooth = raw;
        t->vel = (usg_point){0, 0};
    } else { /* alpha-beta filter: follows a steady drift without lag */
        usg_point pred = {t->smooth.x + t->vel.x, t->smooth.y + t->vel.y};
        double rx = raw.x - pred.x, ry = raw.y - pred.y;
        t->smooth = (usg_point){pred.x + ALPHA * rx, pred.y + ALPHA * ry};
        t->vel = (usg_point){t->vel.x + BETA * rx, t->vel.y + BETA * ry};
    }
    t->have = 1;
    t->missed = 0;
    return t->smooth;
}

usg_status usg_target_tracker_process(usg_target_tracker *t, const usg_edge *sacrum,
                                      const usg_edge *ilium, const usg_needle *needle,
                                      usg_target *out) {
    if (!t || !sacrum || !ilium || !out) return usg_fail(USG_ERR_ARG, "target: missing argument");
    out->found = 0;
    out->has_needle_metrics = 0;
    usg_point raw;
    if (!usg_target_closest_midpoint(sacrum, ilium, &raw)) {
        if (++t->missed > FORGET_FRAMES) t->have = 0;
        return USG_OK;
    }
    out->found = 1;
    out->point = smooth_step(t, raw);
    if (needle && needle->found) {
        usg_target_needle_metrics(needle, out->point, t->probe.spacing_x_mm, t->probe.spacing_y_mm,
                                  &out->tip_distance_mm, &out->trajectory_miss_mm);
        out->has_needle_metrics = 1;
    }
    return USG_OK;
}

void usg_target_tracker_reset(usg_target_tracker *t) {
    if (!t) return;
    t->have = 0;
    t->missed = 0;
}

void usg_target_tracker_free(usg_target_tracker *t) { free(t); }
