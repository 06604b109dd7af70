/* test_eval.c - metrics of usg/eval.h with exact expected values, and the
 * `usguide eval` command: JSON/table output, --require exit codes, malformed
 * files with line numbers, missing and extra frames, --per-frame. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "usg/eval.h"

#define SP 0.2 /* mm per pixel in all tests */
#define EPS 1e-12

/* ---- building frames ----------------------------------------------------- */

/* A horizontal edge of 21 points, x = x0, x0+2, ..., x0+40, at height y. */
static void hline(usg_edge *e, double x0, double y) {
    e->found = 1;
    e->n = 21;
    for (int i = 0; i < e->n; i++) {
        e->pts[i].x = x0 + 2 * i;
        e->pts[i].y = y;
    }
}

static void shift_edge(usg_edge *e, double dx, double dy) {
    for (int i = 0; i < e->n; i++) {
        e->pts[i].x += dx;
        e->pts[i].y += dy;
    }
}

/* A full truth frame: needle tip (300, 200) at 150 deg, sacrum y = 100 over
 * x 0..40, ilium y = 150 over x 100..140, target (70, 125). */
static usg_result *full_frame(int frame) {
    usg_result *r = calloc(1, sizeof *r);
    r->frame = frame;
    r->has_spacing = 1;
    r->spacing_mm = SP;
    r->needle.found = 1;
    r->needle.tip = (usg_point){300, 200};
    r->needle.entry = (usg_point){400, 200 - 100 * tan(30 * M_PI / 180)};
    r->needle.angle_deg = 150;
    r->needle.confidence = 1;
    hline(&r->sacrum, 0, 100);
    hline(&r->ilium, 100, 150);
    r->target.found = 1;
    r->target.point = (usg_point){70, 125};
    return r;
}

static usg_result *copy_frame(const usg_result *t) {
    usg_result *r = malloc(sizeof *r);
    memcpy(r, t, sizeof *r);
    r->has_spacing = 0;
    return r;
}

static usg_eval *E;
static usg_eval_metrics M;

static void setup(void) { cr_assert_eq(usg_eval_new(&E), USG_OK); }
static void teardown(void) { usg_eval_free(E); }

TestSuite(eval, .init = setup, .fini = teardown);

static void add(const usg_result *t, const usg_result *r, usg_eval_frame *f) {
    cr_assert_eq(usg_eval_add(E, t, r, f), USG_OK, "%s", usg_last_error());
}

/* ---- library ------------------------------------------------------------- */

Test(eval, truth_against_itself) {
    usg_result *t = full_frame(0);
    usg_eval_frame f;
    add(t, t, &f);
    usg_eval_get_metrics(E, &M);
    cr_assert_eq(M.frames, 1);
    cr_assert_eq(M.needle_recall, 1.0);
    cr_assert(isnan(M.needle_fp_rate), "fp rate is n/a without needle-free frames");
    cr_assert_eq(M.tip_err_median_mm, 0.0);
    cr_assert_eq(M.angle_err_p95_deg, 0.0);
    cr_assert_eq(M.bone_mean_dist_mm[USG_BONE_SACRUM], 0.0);
    cr_assert_eq(M.bone_coverage[USG_BONE_ILIUM], 1.0);
    cr_assert_eq(M.label_swaps, 0);
    cr_assert_eq(M.target_err_p95_mm, 0.0);
    cr_assert_eq(f.bone[USG_BONE_SACRUM].covered, 21);
    free(t);
}

Test(eval, shifted_points_give_exact_errors) {
    usg_result *t = full_frame(0);
    usg_result *r = copy_frame(t);
    r->needle.tip.x += 3; /* 3-4-5: 5 px = 1.0 mm */
    r->needle.tip.y += 4;
    r->needle.angle_deg = 170; /* 20 deg off */
    shift_edge(&r->sacrum, 0, 3); /* 3 px = 0.6 mm, within 1 mm: covered */
    shift_edge(&r->ilium, 0, -6); /* 6 px = 1.2 mm: not covered */
    r->target.point.x -= 6; /* 6-8-10: 2.0 mm */
    r->target.point.y -= 8;
    usg_eval_frame f;
    add(t, r, &f);
    cr_assert_float_eq(f.tip_err_mm, 1.0, EPS);
    cr_assert_float_eq(f.angle_err_deg, 20.0, EPS);
    cr_assert_float_eq(f.bone[USG_BONE_SACRUM].mean_dist_mm, 0.6, EPS);
    cr_assert_eq(f.bone[USG_BONE_SACRUM].coverage, 1.0);
    cr_assert_float_eq(f.bone[USG_BONE_ILIUM].mean_dist_mm, 1.2, EPS);
    cr_assert_eq(f.bone[USG_BONE_ILIUM].coverage, 0.0);
    cr_assert_float_eq(f.target_err_mm, 2.0, EPS);
    cr_assert_eq(f.label_swap, 0);
    usg_eval_get_metrics(E, &M);
    cr_assert_float_eq(M.tip_err_p95_mm, 1.0, EPS);
    cr_assert_float_eq(M.bone_mean_dist_mm[USG_BONE_SACRUM], 0.6, EPS);
    cr_assert_float_eq(M.target_err_median_mm, 2.0, EPS);
    free(t);
    free(r);
}

Test(eval, coverage_limit_is_inclusive_and_sideways_shift_counts_ends) {
    usg_result *t = full_frame(0);
    usg_result *r = copy_frame(t);
    shift_edge(&r->sacrum, 0, 5); /* exactly 1.0 mm: covered */
    shift_edge(&r->ilium, 10, 0); /* along the line: the last 5 result points overhang */
    usg_eval_frame f;
    add(t, r, &f);
    cr_assert_eq(f.bone[USG_BONE_SACRUM].coverage, 1.0);
    cr_assert_float_eq(f.bone[USG_BONE_SACRUM].mean_dist_mm, 1.0, EPS);
    /* overhang of 2, 4, 6, 8, 10 px beyond the truth end: (30 px / 21) * 0.2 mm */
    cr_assert_float_eq(f.bone[USG_BONE_ILIUM].mean_dist_mm, 30.0 / 21 * SP, EPS);
    /* truth points x = 100..108 are 10..2 px from the result start; 1 mm = 5 px:
     * 100, 102, 104 (10, 8, 6 px) are out, 106 (4 px), 108 (2 px) and the 16 from
     * 110 on are in: 18 of 21 */
    cr_assert_eq(f.bone[USG_BONE_ILIUM].covered, 18);
    free(t);
    free(r);
}

/* Brute-force distance from p to the polyline of e (reference for the index). */
static double ref_dist(usg_point p, const usg_edge *e) {
    double best = INFINITY;
    for (int i = 0; i < (e->n > 1 ? e->n - 1 : 1); i++) {
        usg_point a = e->pts[i], b = e->pts[e->n > 1 ? i + 1 : i];
        double dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
        double t = l2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        best = fmin(best, hypot(a.x + t * dx - p.x, a.y + t * dy - p.y));
    }
    return best;
}

/* A random walk of n points (not ordered by x: the index must not rely on it). */
static void random_walk(usg_edge *e, int n, unsigned *seed) {
    e->found = 1;
    e->n = n;
    double x = 200, y = 200;
    for (int i = 0; i < n; i++) {
        x += (double)(rand_r(seed) % 2001 - 1000) / 100.0;
        y += (double)(rand_r(seed) % 2001 - 1000) / 100.0;
        e->pts[i] = (usg_point){x, y};
    }
}

Test(eval, distances_match_brute_force_on_unordered_polylines) {
    usg_result *t = full_frame(0), *r = copy_frame(t);
    unsigned seed = 12345;
    for (int round = 0; round < 20; round++) {
        int nt = 1 + rand_r(&seed) % 300, nr = 1 + rand_r(&seed) % 300;
        random_walk(&t->sacrum, nt, &seed);
        random_walk(&r->sacrum, nr, &seed);
        double sum = 0;
        for (int i = 0; i < nr; i++) sum += ref_dist(r->sacrum.pts[i], &t->sacrum);
        int covered = 0;
        for (int i = 0; i < nt; i++) covered += ref_dist(t->sacrum.pts[i], &r->sacrum) * SP <= 1.0;
        usg_eval_frame f;
        add(t, r, &f);
        cr_assert_float_eq(f.bone[USG_BONE_SACRUM].dist_sum_mm, sum * SP, 1e-9, "round %d", round);
        cr_assert_eq(f.bone[USG_BONE_SACRUM].covered, covered, "round %d", round);
    }
    free(t);
    free(r);
}

Test(eval, vertical_and_folded_edges) {
    usg_result *t = full_frame(0), *r = copy_frame(t);
    /* a vertical truth edge x = 50, y = 0..40, result 3 px to the right */
    for (int i = 0; i < 21; i++) {
        t->sacrum.pts[i] = (usg_point){50, 2 * i};
        r->sacrum.pts[i] = (usg_point){53, 2 * i};
    }
    /* a U-turn: out along y = 150, back along y = 160; result 2 px above the top run */
    for (int i = 0; i < 21; i++) {
        double x = i < 11 ? 100 + 4 * i : 140 - 4 * (i - 10);
        t->ilium.pts[i] = (usg_point){x, i < 11 ? 150 : 160};
        r->ilium.pts[i] = (usg_point){100 + 2 * i, 148};
    }
    usg_eval_frame f;
    add(t, r, &f);
    cr_assert_float_eq(f.bone[USG_BONE_SACRUM].mean_dist_mm, 0.6, EPS);
    cr_assert_eq(f.bone[USG_BONE_SACRUM].covered, 21);
    cr_assert_float_eq(f.bone[USG_BONE_ILIUM].mean_dist_mm, 2 * SP, EPS);
    /* the 11 points of the top run are 2 px = 0.4 mm away; the bottom run 12 px */
    cr_assert_eq(f.bone[USG_BONE_ILIUM].covered, 11);
    free(t);
    free(r);
}

Test(eval, angle_error_is_modulo_180) {
    usg_result *t = full_frame(0);
    usg_result *r = copy_frame(t);
    t->needle.angle_deg = 175;
    r->needle.angle_deg = 5; /* the same axis direction within 10 deg */
    usg_eval_frame f;
    add(t, r, &f);
    cr_assert_float_eq(f.angle_err_deg, 10.0, EPS);
    t->needle.angle_deg = 0;
    r->needle.angle_deg = 90;
    add(t, r, &f);
    cr_assert_float_eq(f.angle_err_deg, 90.0, EPS);
    free(t);
    free(r);
}

Test(eval, percentiles_are_nearest_rank) {
    double v[20];
    for (int i = 0; i < 20; i++) v[i] = 20 - i; /* 20..1 */
    cr_assert_eq(usg_eval_percentile(v, 20, 50), 10.0);
    cr_assert_eq(usg_eval_percentile(v, 20, 95), 19.0);
    cr_assert_eq(usg_eval_percentile(v, 20, 100), 20.0);
    for (int i = 0; i < 20; i++) v[i] = i == 0 ? INFINITY : i; /* 1..19 and inf */
    cr_assert_eq(usg_eval_percentile(v, 20, 95), 19.0);
    cr_assert_eq(usg_eval_percentile(v, 20, 100), INFINITY);
    double w[3] = {3, 1, 2};
    cr_assert_eq(usg_eval_percentile(w, 3, 50), 2.0);
    cr_assert_eq(usg_eval_percentile(w, 3, 95), 3.0);
    double u[2] = {2, 1};
    cr_assert_eq(usg_eval_percentile(u, 2, 50), 1.0, "lower middle for an even count");
    cr_assert(isnan(usg_eval_percentile(u, 0, 50)));
}

Test(eval, missing_error_and_dropped_frames_count_as_nothing_found) {
    usg_result *t = full_frame(0);
    usg_result *r = copy_frame(t);
    usg_eval_frame f;
    add(t, NULL, &f);
    cr_assert_eq(f.presence, USG_EVAL_RESULT_MISSING);
    r->status = USG_FRAME_ERROR;
    add(t, r, &f);
    cr_assert_eq(f.presence, USG_EVAL_RESULT_ERROR);
    cr_assert_eq(f.result_needle, 0);
    r->status = USG_FRAME_DROPPED;
    add(t, r, &f);
    cr_assert_eq(f.presence, USG_EVAL_RESULT_DROPPED);
    r->status = USG_FRAME_OK;
    add(t, r, &f);
    usg_eval_get_metrics(E, &M);
    cr_assert_eq(M.frames, 4);
    cr_assert_eq(M.frames_missing, 1);
    cr_assert_eq(M.frames_error, 2);
    cr_assert_float_eq(M.needle_recall, 0.25, EPS);
    cr_assert_float_eq(M.bone_coverage[USG_BONE_SACRUM], 0.25, EPS);
    cr_assert_eq(M.bone_mean_dist_mm[USG_BONE_SACRUM], 0.0, "only the found frame has distances");
    cr_assert_eq(M.target_missed, 3);
    cr_assert_eq(M.target_err_median_mm, INFINITY, "3 of 4 targets infinite");
    cr_assert_eq(M.tip_err_p95_mm, 0.0, "tip error only over found needles");
    free(t);
    free(r);
}

Test(eval, false_positives_and_na) {
    usg_result *t = full_frame(0);
    usg_result *r = copy_frame(t);
    t->needle.found = 0;
    t->sacrum.found = 0;
    t->target.found = 0;
    usg_eval_frame f;
    add(t, r, &f);
    add(t, NULL, &f);
    usg_eval_get_metrics(E, &M);
    cr_assert(isnan(M.needle_recall), "no truth needle: recall n/a");
    cr_assert_float_eq(M.needle_fp_rate, 0.5, EPS);
    cr_assert(isnan(M.tip_err_median_mm));
    cr_assert(isnan(M.angle_err_p95_deg));
    cr_assert(isnan(M.bone_mean_dist_mm[USG_BONE_SACRUM]));
    cr_assert(isnan(M.bone_coverage[USG_BONE_SACRUM]));
    cr_assert_eq(M.bone_fp_frames[USG_BONE_SACRUM], 1);
    cr_assert(isnan(M.target_err_p95_mm));
    cr_assert_eq(M.target_fp, 1);
    cr_assert_eq(M.bone_coverage[USG_BONE_ILIUM], 0.5);
    int i = usg_eval_metric_find("needle_recall");
    cr_assert(isnan(usg_eval_metric_value(&M, i)));
    cr_assert_eq(usg_eval_metric_value(&M, usg_eval_metric_find("sacrum_fp_frames")), 1.0);
    cr_assert_eq(usg_eval_metric_value(&M, usg_eval_metric_find("ilium_coverage")), 0.5);
    cr_assert_eq(usg_eval_metric_find("no_such_metric"), -1);
    free(t);
    free(r);
}

Test(eval, label_swaps) {
    usg_result *t = full_frame(0);
    usg_result *r = copy_frame(t);
    usg_edge tmp = r->sacrum;
    r->sacrum = r->ilium;
    r->ilium = tmp;
    usg_eval_frame f;
    add(t, r, &f);
    cr_assert_eq(f.label_swap, 1);
    r->ilium.found = 0; /* only the sacrum found, lying on the truth ilium */
    add(t, r, &f);
    cr_assert_eq(f.label_swap, 1);
    r->ilium = t->ilium; /* both result bones on the truth ilium: no swap */
    add(t, r, &f);
    cr_assert_eq(f.label_swap, 0);
    add(t, t, &f);
    cr_assert_eq(f.label_swap, 0);
    usg_eval_get_metrics(E, &M);
    cr_assert_eq(M.label_swaps, 2);
    free(t);
    free(r);
}

Test(eval, truth_needs_spacing) {
    usg_result *t = full_frame(4);
    t->has_spacing = 0;
    cr_assert_eq(usg_eval_add(E, t, t, NULL), USG_ERR_ARG);
    cr_assert_str_eq(usg_last_error(), "eval: truth frame 4 has no positive spacing_mm");
    free(t);
}

Test(eval, metric_names_are_stable) {
    static const char *names[] = {
        "frames", "frames_missing", "frames_error", "frames_extra", "needle_recall",
        "needle_fp_rate", "tip_err_median_mm", "tip_err_p95_mm", "angle_err_median_deg",
        "angle_err_p95_deg", "sacrum_mean_dist_mm", "sacrum_coverage", "sacrum_fp_frames",
        "ilium_mean_dist_mm", "ilium_coverage", "ilium_fp_frames", "label_swaps",
        "target_err_median_mm", "target_err_p95_mm", "target_missed", "target_fp_frames"};
    int n = (int)(sizeof names / sizeof names[0]);
    cr_assert_eq(usg_eval_metric_count(), n);
    for (int i = 0; i < n; i++) {
        cr_assert_str_eq(usg_eval_metric_name(i), names[i]);
    }
}

/* ---- files and the CLI --------------------------------------------------- */

/* One JSON line: a needle tip (tx, ty) at angle `ang` (no needle if ang < 0),
 * sacrum/ilium shifted down by sdy/idy (no bone if NAN), target (gx, gy) or none
 * if gx < 0. */
typedef struct spec {
    int frame;
    double tx, ty, ang, sdy, idy, gx, gy;
    const char *status;
} spec;

static void put_edge(FILE *f, const char *name, double x0, double y) {
    if (isnan(y)) {
        fprintf(f, ", \"%s\": {\"found\": false}", name);
        return;
    }
    fprintf(f, ", \"%s\": {\"found\": true, \"edge\": [", name);
    for (int i = 0; i < 21; i++) fprintf(f, "%s[%g, %g]", i ? ", " : "", x0 + 2 * i, y);
    fprintf(f, "]}");
}

static void put_line(FILE *f, const spec *s, int truth) {
    fprintf(f, "{\"frame\": %d, \"t_ms\": %g, \"status\": \"%s\"", s->frame, s->frame * 33.3,
            s->status ? s->status : "ok");
    if (truth) fprintf(f, ", \"spacing_mm\": 0.2");
    if (s->ang >= 0) {
        fprintf(f, ", \"needle\": {\"found\": true, \"tip\": [%g, %g], \"entry\": [639, 87],"
                   " \"angle_deg\": %g, \"confidence\": 0.9}",
                s->tx, s->ty, s->ang);
    } else {
        fprintf(f, ", \"needle\": {\"found\": false}");
    }
    put_edge(f, "sacrum", 0, 100 + s->sdy);
    put_edge(f, "ilium", 100, 150 + s->idy);
    if (s->gx >= 0) {
        fprintf(f, ", \"target\": {\"found\": true, \"point\": [%g, %g]}", s->gx, s->gy);
    } else {
        fprintf(f, ", \"target\": {\"found\": false}");
    }
    fprintf(f, "}\n");
}

static void write_lines(const char *path, const spec *s, int n, int truth) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    for (int i = 0; i < n; i++) put_line(f, &s[i], truth);
    fclose(f);
}

/* Truth: 4 frames; frame 2 has no needle. */
static const spec truth4[] = {
    {0, 300, 200, 150, 0, 0, 70, 125, NULL},
    {1, 300, 200, 150, 0, 0, 70, 125, NULL},
    {2, 0, 0, -1, 0, 0, 70, 125, NULL},
    {3, 300, 200, 150, 0, 0, 70, 125, NULL},
};

/* Results: frame 0 tip +(3,4) px = 1 mm, angle +2, sacrum +3 px = 0.6 mm,
 * target +(6,8) = 2 mm; frame 1 tip +(6,8) = 2 mm, angle -10, sacrum +6 px =
 * 1.2 mm (uncovered); frame 2 a false needle, target missed; frame 3 absent;
 * frame 7 is not in the truth. Listed out of order on purpose. */
static const spec results4[] = {
    {1, 306, 208, 140, 6, 0, 70, 125, NULL},
    {7, 1, 1, 10, 0, 0, 5, 5, NULL},
    {0, 303, 204, 152, 3, 0, 76, 133, NULL},
    {2, 10, 10, 90, 0, 0, -1, 0, NULL},
};

static char Tpath[1100], Rpath[1100], Dir[1024];

static void write_case(void) {
    snprintf(Dir, sizeof Dir, "%s", tu_scratch("eval"));
    snprintf(Tpath, sizeof Tpath, "%s/truth.jsonl", Dir);
    snprintf(Rpath, sizeof Rpath, "%s/results.jsonl", Dir);
    write_lines(Tpath, truth4, 4, 1);
    write_lines(Rpath, results4, 4, 0);
}

/* The JSON summary must contain `"name": value`. */
static void has(const char *json, const char *name, const char *value) {
    char want[128];
    snprintf(want, sizeof want, "\"%s\": %s", name, value);
    cr_assert_not_null(strstr(json, want), "missing %s in %s", want, json);
}

Test(eval_cli, truth_against_itself_is_perfect) {
    write_case();
    tu_run r = tu_sh("%s eval %s %s --json", USGUIDE_BIN, Tpath, Tpath);
    cr_assert_eq(r.status, 0, "%s", r.err);
    has(r.out, "frames", "4");
    has(r.out, "frames_missing", "0");
    has(r.out, "needle_recall", "1");
    has(r.out, "needle_fp_rate", "0");
    has(r.out, "tip_err_median_mm", "0");
    has(r.out, "tip_err_p95_mm", "0");
    has(r.out, "angle_err_p95_deg", "0");
    has(r.out, "sacrum_mean_dist_mm", "0");
    has(r.out, "sacrum_coverage", "1");
    has(r.out, "ilium_coverage", "1");
    has(r.out, "label_swaps", "0");
    has(r.out, "target_err_p95_mm", "0");
    cr_assert_eq(strchr(r.out, '\n') - r.out + 1, (long)strlen(r.out), "one JSON line");
    tu_run_free(&r);
}

Test(eval_cli, perturbed_copy_gives_exact_errors) {
    write_case();
    tu_run r = tu_sh("%s eval %s %s --json", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 0, "%s", r.err);
    has(r.out, "frames", "4");
    has(r.out, "frames_missing", "1");
    has(r.out, "frames_extra", "1");
    has(r.out, "frames_error", "0");
    has(r.out, "needle_recall", "0.666666666667"); /* 2 of 3 */
    has(r.out, "needle_fp_rate", "1");              /* 1 of 1 */
    has(r.out, "tip_err_median_mm", "1");
    has(r.out, "tip_err_p95_mm", "2");
    has(r.out, "angle_err_median_deg", "2");
    has(r.out, "angle_err_p95_deg", "10");
    has(r.out, "sacrum_mean_dist_mm", "0.6"); /* (0.6 + 1.2 + 0) / 3 */
    has(r.out, "sacrum_coverage", "0.5");     /* 21 + 0 + 21 + 0 of 84 */
    has(r.out, "ilium_mean_dist_mm", "0");
    has(r.out, "ilium_coverage", "0.75");
    has(r.out, "target_err_median_mm", "2"); /* {0, 2, inf, inf} */
    has(r.out, "target_err_p95_mm", "1e999");
    has(r.out, "target_missed", "2");
    cr_assert_not_null(strstr(r.err, "1 of 4 truth frames have no result line"), "%s", r.err);
    cr_assert_not_null(strstr(r.err, "1 result frames are not in the truth (lowest: frame 7)"),
                       "%s", r.err);
    tu_run_free(&r);
}

Test(eval_cli, table_output) {
    write_case();
    tu_run r = tu_sh("%s eval %s %s -q", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_not_null(strstr(r.out, "needle_recall              0.6667 (2/3 frames)\n"), "%s",
                       r.out);
    cr_assert_not_null(strstr(r.out, "sacrum_mean_dist_mm         0.600 mm\n"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "target_err_p95_mm             inf mm\n"), "%s", r.out);
    cr_assert_str_eq(r.err, "");
    tu_run_free(&r);
}

Test(eval_cli, require_gates) {
    write_case();
    tu_run r = tu_sh("%s eval %s %s -q --require tip_err_p95_mm'<='2"
                     " --require needle_recall'>='0.6",
                     USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s eval %s %s -q --require tip_err_p95_mm'<='1.5 --require=needle_recall'>='0.98"
              " --require label_swaps'<='0",
              USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert_not_null(
        strstr(r.err, "requirement tip_err_p95_mm<=1.5 missed: tip_err_p95_mm is 2\n"), "%s",
        r.err);
    cr_assert_not_null(
        strstr(r.err, "requirement needle_recall>=0.98 missed: needle_recall is 0.6666666667\n"),
        "%s", r.err);
    cr_assert_null(strstr(r.err, "label_swaps"), "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s eval %s %s -q --require target_err_p95_mm'<='100", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 1, "an infinite p95 fails any bound");
    cr_assert_not_null(strstr(r.err, "target_err_p95_mm is inf"), "%s", r.err);
    tu_run_free(&r);
}

Test(eval_cli, require_on_na_metric_passes) {
    const spec none[] = {{0, 0, 0, -1, 0, 0, 70, 125, NULL}, {1, 0, 0, -1, 0, 0, 70, 125, NULL}};
    snprintf(Dir, sizeof Dir, "%s", tu_scratch("eval_na"));
    snprintf(Tpath, sizeof Tpath, "%s/truth.jsonl", Dir);
    write_lines(Tpath, none, 2, 1);
    tu_run r = tu_sh("%s eval %s %s --json --require tip_err_p95_mm'<='1 --require "
                     "needle_recall'>='0.98 --require needle_fp_rate'<='0",
                     USGUIDE_BIN, Dir, Tpath);
    cr_assert_eq(r.status, 0, "%s", r.err);
    has(r.out, "needle_recall", "null");
    has(r.out, "tip_err_p95_mm", "null");
    has(r.out, "needle_fp_rate", "0");
    cr_assert_not_null(
        strstr(r.err, "requirement tip_err_p95_mm<=1 not checked: the metric is n/a (no samples)"),
        "%s", r.err);
    tu_run_free(&r);
}

Test(eval_cli, bad_usage_exits_2) {
    write_case();
    tu_run r = tu_sh("%s eval %s %s --require tip_err'<='1", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 2);
    cr_assert_not_null(strstr(r.err, "unknown metric 'tip_err'"), "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s eval %s %s --require tip_err_p95_mm=1", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 2);
    cr_assert_not_null(strstr(r.err, "expected NAME<=VALUE or NAME>=VALUE"), "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s eval %s %s --require tip_err_p95_mm'<='x", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 2);
    tu_run_free(&r);
    r = tu_sh("%s eval %s", USGUIDE_BIN, Tpath);
    cr_assert_eq(r.status, 2);
    tu_run_free(&r);
    r = tu_sh("%s eval %s %s/nope.jsonl", USGUIDE_BIN, Tpath, Dir);
    cr_assert_eq(r.status, 2);
    cr_assert_not_null(strstr(r.err, "nope.jsonl: No such file or directory"), "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s eval --help", USGUIDE_BIN);
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "nearest-rank"));
    cr_assert_not_null(strstr(r.out, "label_swaps"));
    tu_run_free(&r);
}

Test(eval_cli, malformed_lines_name_file_and_line) {
    write_case();
    FILE *f = fopen(Rpath, "a");
    fprintf(f, "\n{\"frame\": 9, \"needle\": {\"found\": tru}}\n");
    fclose(f);
    tu_run r = tu_sh("%s eval %s %s", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 2);
    char want[1400];
    snprintf(want, sizeof want, "%s:6: column 34: expected true or false, found 't'", Rpath);
    cr_assert_not_null(strstr(r.err, want), "%s", r.err);
    tu_run_free(&r);

    f = fopen(Tpath, "a");
    fprintf(f, "{\"frame\": 1, \"spacing_mm\": 0.2}\n");
    fclose(f);
    write_lines(Rpath, results4, 4, 0);
    r = tu_sh("%s eval %s %s", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 2);
    snprintf(want, sizeof want, "%s:5: frame 1 already on line 2", Tpath);
    cr_assert_not_null(strstr(r.err, want), "%s", r.err);
    tu_run_free(&r);

    write_lines(Tpath, truth4, 4, 0); /* no spacing_mm */
    r = tu_sh("%s eval %s %s", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 2);
    snprintf(want, sizeof want, "%s:1: no positive spacing_mm in the truth line", Tpath);
    cr_assert_not_null(strstr(r.err, want), "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s eval %s %s --spacing 0.2 --json -q", USGUIDE_BIN, Tpath, Rpath);
    cr_assert_eq(r.status, 0, "%s", r.err);
    has(r.out, "sacrum_mean_dist_mm", "0.6");
    tu_run_free(&r);
}

Test(eval_cli, error_frames_and_directory_truth) {
    write_case();
    spec res[4];
    memcpy(res, truth4, sizeof res);
    res[1].status = "error";
    res[3].status = "dropped";
    write_lines(Rpath, res, 4, 0);
    tu_run r = tu_sh("%s eval %s %s --json", USGUIDE_BIN, Dir, Rpath);
    cr_assert_eq(r.status, 0, "%s", r.err);
    has(r.out, "frames_error", "2");
    has(r.out, "needle_recall", "0.333333333333");
    has(r.out, "sacrum_coverage", "0.5");
    has(r.out, "target_missed", "2");
    tu_run_free(&r);
}

Test(eval_cli, per_frame_dump) {
    write_case();
    char pf[1200];
    snprintf(pf, sizeof pf, "%s/frames.tsv", Dir);
    tu_run r = tu_sh("%s eval %s %s -q --json --per-frame %s", USGUIDE_BIN, Tpath, Rpath, pf);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char *s = tu_read_file(pf, NULL);
    cr_assert_not_null(s);
    cr_assert_str_eq(s,
                     "frame\tresult\tneedle\ttip_err_mm\tangle_err_deg\tsacrum_dist_mm\tsacrum_cov"
                     "\tilium_dist_mm\tilium_cov\tlabel_swap\ttarget_err_mm\n"
                     "0\tok\thit\t1.0000\t2.0000\t0.6000\t1.0000\t0.0000\t1.0000\t0\t2.0000\n"
                     "1\tok\thit\t2.0000\t10.0000\t1.2000\t0.0000\t0.0000\t1.0000\t0\t0.0000\n"
                     "2\tok\tfp\tn/a\tn/a\t0.0000\t1.0000\t0.0000\t1.0000\t0\tinf\n"
                     "3\tmissing\tmiss\tn/a\tn/a\tn/a\t0.0000\tn/a\t0.0000\t0\tinf\n");
    free(s);
    tu_run_free(&r);
}

Test(eval_cli, results_from_stdin_and_truth_from_frames_dir) {
    write_case();
    char frames[1100];
    snprintf(frames, sizeof frames, "%s/frames", Dir);
    tu_run r = tu_sh("mkdir -p %s && cat %s | %s eval %s/ - --json -q", frames, Rpath, USGUIDE_BIN,
                     frames);
    cr_assert_eq(r.status, 0, "%s", r.err);
    has(r.out, "frames", "4");
    has(r.out, "tip_err_p95_mm", "2");
    has(r.out, "sacrum_coverage", "0.5");
    tu_run_free(&r);
    r = tu_sh("printf '{\"frame\": 0}\\n{\"frame\": 0}\\n' | %s eval %s -", USGUIDE_BIN, Tpath);
    cr_assert_eq(r.status, 2);
    cr_assert_not_null(strstr(r.err, "stdin:2: frame 0 already on line 1"), "%s", r.err);
    tu_run_free(&r);
}
