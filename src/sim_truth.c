/* sim_truth.c - exact ground truth of a simulated frame: the visible parts of
 * the cortical surfaces (1 px apart), the joint-entry target as the midpoint of
 * their closest pair, the needle axis (tip, entry into the imaged region,
 * angle) and the needle metrics, in pixels of the written frame. */
#include "sim_impl.h"

#include <math.h>

#define DEG (M_PI / 180.0)


static void edge_push(usg_edge *e, double x, double y) {
    if (e->n < USG_EDGE_MAX) e->pts[e->n++] = (usg_point){x, y};
}

/* The visible part of a bone surface, in canonical image px, one point per px of arc. */
static void truth_edge(const usg_sim *s, const sim_bone *bone, const sim_pose *P, usg_edge *e) {
    e->n = 0;
    e->found = 0;
    int best0 = -1, best1 = -1, run0 = -1;
    for (int k = 0; k <= bone->n; k++) {
        int in = 0;
        if (k < bone->n) {
            double x, y;
            sim_pose_apply(P, bone->x0 + k * bone->step, bone->y[k], &x, &y);
            in = sim_geom_inside(&s->g, x, y);
        }
        if (in && run0 < 0) run0 = k;
        if (!in && run0 >= 0) {
            if (k - 1 - run0 > best1 - best0) { best0 = run0; best1 = k - 1; }
            run0 = -1;
        }
    }
    if (best0 < 0 || best1 - best0 < 4) return;
    double lx, ly, carry = 0;
    sim_pose_apply(P, bone->x0 + best0 * bone->step, bone->y[best0], &lx, &ly);
    edge_push(e, lx, ly);
    for (int k = best0 + 1; k <= best1; k++) {
        double x, y;
        sim_pose_apply(P, bone->x0 + k * bone->step, bone->y[k], &x, &y);
        double dx = x - lx, dy = y - ly, seg = sqrt(dx * dx + dy * dy);
        double at = 1.0 - carry; /* arc position of the next point on this segment */
        while (at <= seg) {
            edge_push(e, lx + dx * at / seg, ly + dy * at / seg);
            at += 1.0;
        }
        carry = seg - (at - 1.0);
        lx = x; ly = y;
    }
    usg_point last = e->pts[e->n - 1];
    if (fabs(last.x - lx) + fabs(last.y - ly) > 1e-6) edge_push(e, lx, ly);
    /* ordered by x (a rotated near-vertical corner can step back a hair) */
    for (int i = 1; i < e->n; i++) {
        usg_point v = e->pts[i];
        int j = i - 1;
        while (j >= 0 && e->pts[j].x > v.x) { e->pts[j + 1] = e->pts[j]; j--; }
        e->pts[j + 1] = v;
    }
    e->found = 1;
}

/* Closest points of segments p1q1 and p2q2 (2-D, non-intersecting or touching). */
static double seg_seg(usg_point p1, usg_point q1, usg_point p2, usg_point q2, usg_point *c1, usg_point *c2) {
    double d1x = q1.x - p1.x, d1y = q1.y - p1.y, d2x = q2.x - p2.x, d2y = q2.y - p2.y;
    double rx = p1.x - p2.x, ry = p1.y - p2.y;
    double a = d1x * d1x + d1y * d1y, e = d2x * d2x + d2y * d2y, f = d2x * rx + d2y * ry;
    double sv, tv;
    if (a <= 1e-12 && e <= 1e-12) {
        sv = tv = 0;
    } else if (a <= 1e-12) {
        sv = 0;
        tv = fmin(1, fmax(0, f / e));
    } else {
        double c = d1x * rx + d1y * ry;
        if (e <= 1e-12) {
            tv = 0;
            sv = fmin(1, fmax(0, -c / a));
        } else {
            double b = d1x * d2x + d1y * d2y, den = a * e - b * b;
            sv = den > 1e-12 ? fmin(1, fmax(0, (b * f - c * e) / den)) : 0;
            tv = (b * sv + f) / e;
            if (tv < 0) { tv = 0; sv = fmin(1, fmax(0, -c / a)); }
            else if (tv > 1) { tv = 1; sv = fmin(1, fmax(0, (b - c) / a)); }
        }
    }
    c1->x = p1.x + d1x * sv; c1->y = p1.y + d1y * sv;
    c2->x = p2.x + d2x * tv; c2->y = p2.y + d2y * tv;
    return hypot(c1->x - c2->x, c1->y - c2->y);
}

/* Midpoint of the closest pair of points between two polylines. */
static usg_point closest_midpoint(const usg_edge *a, const usg_edge *b) {
    double best = INFINITY;
    usg_point ca = a->pts[0], cb = b->pts[0];
    for (int i = 0; i < a->n; i++) {
        for (int j = 0; j < b->n; j++) {
            double d = hypot(a->pts[i].x - b->pts[j].x, a->pts[i].y - b->pts[j].y);
            if (d > best + 3.0) continue;
            int i1 = i + 1 < a->n ? i + 1 : i, j1 = j + 1 < b->n ? j + 1 : j;
            usg_point p, q;
            double sd = seg_seg(a->pts[i], a->pts[i1], b->pts[j], b->pts[j1], &p, &q);
            if (sd < best) { best = sd; ca = p; cb = q; }
        }
    }
    return (usg_point){(ca.x + cb.x) / 2, (ca.y + cb.y) / 2};
}

/* Tip and entry of the needle in canonical image px; 0 if no part is in the image. */
static int truth_needle(const usg_sim *s, const sim_pose *P, double len, usg_needle *nd) {
    const sim_needle_path *n = &s->a.needle;
    double tx, ty;
    sim_pose_apply(P, n->px + len * n->ux, n->py + len * n->uy, &tx, &ty);
    if (!sim_geom_inside(&s->g, tx, ty)) return 0;
    double lo = 0, hi = -1;
    for (double t = 0; t <= len; t += 0.25) {
        double x, y;
        sim_pose_apply(P, n->px + t * n->ux, n->py + t * n->uy, &x, &y);
        if (sim_geom_inside(&s->g, x, y)) { hi = t; break; }
        lo = t;
    }
    if (hi < 0) return 0;
    for (int it = 0; it < 40 && hi > 0; it++) {
        double mid = 0.5 * (lo + hi), x, y;
        sim_pose_apply(P, n->px + mid * n->ux, n->py + mid * n->uy, &x, &y);
        if (sim_geom_inside(&s->g, x, y)) hi = mid; else lo = mid;
    }
    double ex, ey;
    sim_pose_apply(P, n->px + hi * n->ux, n->py + hi * n->uy, &ex, &ey);
    nd->found = 1;
    nd->tip = (usg_point){tx, ty};
    nd->entry = (usg_point){ex, ey};
    nd->confidence = 1.0;
    return 1;
}

static double axis_angle(usg_point a, usg_point b) {
    double d = atan2(b.y - a.y, b.x - a.x) / DEG;
    d = fmod(d, 180.0);
    if (d < 0) d += 180.0;
    if (d >= 180.0) d -= 180.0;
    return d;
}

/* Distance from q to the ray from e through t (and beyond). */
static double ray_distance(usg_point e, usg_point t, usg_point q) {
    double dx = t.x - e.x, dy = t.y - e.y, len = hypot(dx, dy);
    if (len <= 0) return hypot(q.x - e.x, q.y - e.y);
    double along = ((q.x - e.x) * dx + (q.y - e.y) * dy) / len;
    if (along < 0) return hypot(q.x - e.x, q.y - e.y);
    return fabs((q.x - e.x) * dy - (q.y - e.y) * dx) / len;
}

/* Canonical image px -> written frame px (mirror for medial right, then the clip offset). */
static usg_point to_frame(const usg_sim *s, usg_point p) {
    if (s->p.medial_side == USG_SIDE_RIGHT) p.x = (s->g.w - 1) - p.x;
    p.x += s->L.clip_x;
    p.y += s->L.clip_y;
    return p;
}

static void edge_to_frame(const usg_sim *s, usg_edge *e) {
    for (int i = 0; i < e->n; i++) e->pts[i] = to_frame(s, e->pts[i]);
    if (s->p.medial_side == USG_SIDE_RIGHT) {
        for (int i = 0, j = e->n - 1; i < j; i++, j--) {
            usg_point t = e->pts[i];
            e->pts[i] = e->pts[j];
            e->pts[j] = t;
        }
    }
}

void sim_truth_make(const usg_sim *s, int index, const sim_pose *P, double len, usg_result *r) {
    usg_result_reset(r, index, index * 1000.0 / s->p.fps);
    r->has_spacing = 1;
    r->spacing_mm = s->g.sp;
    if (s->a.medium == USG_SIM_MEDIUM_SIJ) { /* a tank floor is no bone */
        truth_edge(s, &s->a.sacrum, P, &r->sacrum);
        truth_edge(s, &s->a.ilium, P, &r->ilium);
    }
    if (r->sacrum.found && r->ilium.found) {
        r->target.found = 1;
        r->target.point = closest_midpoint(&r->sacrum, &r->ilium);
    }
    if (len >= 0) truth_needle(s, P, len, &r->needle);
    /* into frame coordinates */
    edge_to_frame(s, &r->sacrum);
    edge_to_frame(s, &r->ilium);
    if (r->target.found) r->target.point = to_frame(s, r->target.point);
    if (r->needle.found) {
        r->needle.tip = to_frame(s, r->needle.tip);
        r->needle.entry = to_frame(s, r->needle.entry);
        r->needle.angle_deg = axis_angle(r->needle.entry, r->needle.tip);
        if (r->target.found) {
            usg_point t = r->target.point, tip = r->needle.tip;
            r->target.has_needle_metrics = 1;
            r->target.tip_distance_mm = hypot(tip.x - t.x, tip.y - t.y) * s->g.sp;
            r->target.trajectory_miss_mm = ray_distance(r->needle.entry, tip, t) * s->g.sp;
        }
    }
}
