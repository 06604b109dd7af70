/* test_target.c - joint-entry target: closest pair between the edges, needle
 * metrics, temporal smoothing, missing edges. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "usg/target.h"

static usg_edge *edge_new(void) { return calloc(1, sizeof(usg_edge)); }

/* A straight edge from (x0, y0) to (x1, y1), points 1 px apart in x. */
static void line_edge(usg_edge *e, double x0, double y0, double x1, double y1) {
    e->found = 1;
    e->n = 0;
    int n = (int)lround(x1 - x0) + 1;
    for (int i = 0; i < n; i++) {
        double t = n > 1 ? (double)i / (n - 1) : 0;
        e->pts[e->n++] = (usg_point){x0 + t * (x1 - x0), y0 + t * (y1 - y0)};
    }
}

static usg_probe probe_01(void) {
    usg_probe p;
    usg_probe_default(&p);
    p.spacing_x_mm = p.spacing_y_mm = 0.1;
    return p;
}

Test(target, midpoint_of_the_closest_pair_of_a_v) {
    usg_edge *s = edge_new(), *i = edge_new();
    line_edge(s, 0, 100, 100, 200);   /* sacrum deepens to the right */
    line_edge(i, 110, 190, 300, 50);  /* ilium deepens to the left */
    usg_point m;
    cr_assert(usg_target_closest_midpoint(s, i, &m));
    /* closest pair: the sacrum's end (100, 200) and the ilium's end (110, 190) */
    cr_expect_float_eq(m.x, 105.0, 1e-9);
    cr_expect_float_eq(m.y, 195.0, 1e-9);
    free(s); free(i);
}

Test(target, closest_pair_inside_segments_not_only_vertices) {
    usg_edge *a = edge_new(), *b = edge_new();
    a->found = b->found = 1;
    a->n = b->n = 2;
    a->pts[0] = (usg_point){0, 0}; a->pts[1] = (usg_point){10, 0};
    b->pts[0] = (usg_point){3, 4}; b->pts[1] = (usg_point){7, 2};
    usg_point m;
    cr_assert(usg_target_closest_midpoint(a, b, &m));
    cr_expect_float_eq(m.x, 7.0, 1e-9);
    cr_expect_float_eq(m.y, 1.0, 1e-9);
    /* crossing edges: the crossing point */
    b->pts[0] = (usg_point){4, -2}; b->pts[1] = (usg_point){6, 2};
    cr_assert(usg_target_closest_midpoint(a, b, &m));
    cr_expect_float_eq(m.x, 5.0, 1e-9);
    cr_expect_float_eq(m.y, 0.0, 1e-9);
    free(a); free(b);
}

Test(target, pruned_search_matches_brute_force_on_long_wavy_edges) {
    usg_edge *a = edge_new(), *b = edge_new();
    a->found = b->found = 1;
    for (int k = 0; k < 400; k++) a->pts[a->n++] = (usg_point){k * 1.5, 200 + 30 * sin(k * 0.05)};
    for (int k = 0; k < 300; k++) b->pts[b->n++] = (usg_point){100 + k * 1.7, 150 + 25 * cos(k * 0.07)};
    double best = INFINITY;
    usg_point bp = {0, 0};
    for (int i = 0; i < a->n; i++)
        for (int k = 0; k < b->n; k++) {
            double d = hypot(a->pts[i].x - b->pts[k].x, a->pts[i].y - b->pts[k].y);
            if (d < best) {
                best = d;
                bp = (usg_point){(a->pts[i].x + b->pts[k].x) / 2, (a->pts[i].y + b->pts[k].y) / 2};
            }
        }
    usg_point m;
    cr_assert(usg_target_closest_midpoint(a, b, &m));
    /* segments can only come closer than vertices: within a vertex spacing */
    cr_expect(hypot(m.x - bp.x, m.y - bp.y) < 2.0, "(%g,%g) vs (%g,%g)", m.x, m.y, bp.x, bp.y);
    free(a); free(b);
}

Test(target, missing_edge_gives_no_target) {
    usg_edge *s = edge_new(), *i = edge_new();
    line_edge(s, 0, 100, 100, 200);
    usg_point m = {-1, -1};
    cr_expect(!usg_target_closest_midpoint(s, i, &m));
    cr_expect_float_eq(m.x, -1.0, 0);
    usg_probe p = probe_01();
    usg_target_tracker *t;
    cr_assert_eq(usg_target_tracker_new(&p, &t), USG_OK);
    usg_target out = {.found = 1};
    cr_assert_eq(usg_target_tracker_process(t, s, i, NULL, &out), USG_OK);
    cr_expect_eq(out.found, 0);
    usg_target_tracker_free(t);
    free(s); free(i);
}

Test(target, needle_metrics_in_mm) {
    usg_needle n = {.found = 1, .tip = {100, 100}, .entry = {0, 0}};
    double tip_d, miss;
    /* target on the axis beyond the tip */
    usg_target_needle_metrics(&n, (usg_point){130, 130}, 0.1, 0.1, &tip_d, &miss);
    cr_expect_float_eq(tip_d, sqrt(2.0) * 3.0, 1e-9);
    cr_expect_float_eq(miss, 0.0, 1e-9);
    /* target beside the axis (1, 1): miss = |110 - 90| / sqrt(2) px */
    usg_target_needle_metrics(&n, (usg_point){110, 90}, 0.1, 0.1, &tip_d, &miss);
    cr_expect_float_eq(miss, 20.0 / sqrt(2.0) * 0.1, 1e-9);
    cr_expect_float_eq(tip_d, hypot(1.0, 1.0), 1e-9);
    /* target behind the entry: distance to the entry */
    usg_target_needle_metrics(&n, (usg_point){-30, -40}, 0.1, 0.1, &tip_d, &miss);
    cr_expect_float_eq(miss, 5.0, 1e-9);
    /* anisotropic spacing */
    usg_needle v = {.found = 1, .tip = {0, 100}, .entry = {0, 0}};
    usg_target_needle_metrics(&v, (usg_point){20, 100}, 0.2, 0.1, &tip_d, &miss);
    cr_expect_float_eq(tip_d, 4.0, 1e-9);
    cr_expect_float_eq(miss, 4.0, 1e-9);
}

Test(target, smoothing_follows_small_moves_and_jumps_on_large_ones) {
    usg_edge *s = edge_new(), *i = edge_new();
    usg_probe p = probe_01();
    usg_target_tracker *t;
    cr_assert_eq(usg_target_tracker_new(&p, &t), USG_OK);
    usg_needle n = {.found = 1, .tip = {100, 180}, .entry = {0, 80}};
    usg_target out;
    line_edge(s, 0, 100, 100, 200);
    line_edge(i, 110, 190, 300, 50);
    cr_assert_eq(usg_target_tracker_process(t, s, i, &n, &out), USG_OK);
    cr_expect(out.found && out.has_needle_metrics);
    cr_expect_float_eq(out.point.x, 105.0, 1e-9);
    double tip_d, miss;
    usg_target_needle_metrics(&n, out.point, 0.1, 0.1, &tip_d, &miss);
    cr_expect_float_eq(out.tip_distance_mm, tip_d, 1e-9);
    /* a 0.4 mm move (4 px) is smoothed: the output moves part of the way */
    line_edge(s, 0, 104, 100, 204);
    line_edge(i, 110, 194, 300, 54);
    cr_assert_eq(usg_target_tracker_process(t, s, i, NULL, &out), USG_OK);
    cr_expect(out.point.y > 195.0 && out.point.y < 199.0, "y %g", out.point.y);
    cr_expect_eq(out.has_needle_metrics, 0);
    /* a 5 mm move (50 px) is taken at once */
    line_edge(s, 0, 154, 100, 254);
    line_edge(i, 110, 244, 300, 104);
    cr_assert_eq(usg_target_tracker_process(t, s, i, NULL, &out), USG_OK);
    cr_expect_float_eq(out.point.y, 249.0, 1e-9);
    /* after a reset the first target is raw */
    usg_target_tracker_reset(t);
    line_edge(s, 0, 100, 100, 200);
    line_edge(i, 110, 190, 300, 50);
    cr_assert_eq(usg_target_tracker_process(t, s, i, NULL, &out), USG_OK);
    cr_expect_float_eq(out.point.y, 195.0, 1e-9);
    usg_target_tracker_free(t);
    free(s); free(i);
}

Test(target, tracker_needs_spacing) {
    usg_probe p;
    usg_probe_default(&p);
    usg_target_tracker *t = (usg_target_tracker *)1;
    cr_expect_eq(usg_target_tracker_new(&p, &t), USG_ERR_ARG);
    cr_expect_null(t);
    cr_expect(strstr(usg_last_error(), "spacing") != NULL, "%s", usg_last_error());
}
