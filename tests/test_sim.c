/* test_sim.c - the simulator: determinism, exactness of the truth against the
 * rendered picture (needle ridge, bone shadow, cleft), the target definition,
 * the curvilinear fan, the frame-UI clip, mirroring, speed, CLI errors, and
 * grey levels (shadow, darkest speckle, cortex peak) against a real recording. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "usg/png_io.h"
#include "usg/probe.h"
#include "usg/result.h"
#include "usg/sim.h"
#include "usg/source.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct rendered {
    usg_sim_params p;
    usg_image img;
    usg_result *truth;
} rendered;

/* Render frame `index` of a sequence with params p. */
static rendered render(const usg_sim_params *p, int index) {
    rendered r;
    r.p = *p;
    usg_sim *s = NULL;
    cr_assert_eq(usg_sim_new(p, &s), USG_OK, "usg_sim_new: %s", usg_last_error());
    memset(&r.img, 0, sizeof r.img);
    cr_assert_eq(usg_sim_frame_alloc(s, &r.img), USG_OK);
    r.truth = malloc(sizeof *r.truth);
    cr_assert_eq(usg_sim_render(s, index, &r.img, r.truth), USG_OK, "render: %s", usg_last_error());
    usg_sim_free(s);
    return r;
}

static void rendered_free(rendered *r) {
    usg_image_free(&r->img);
    free(r->truth);
}

static int px(const usg_image *img, int x, int y) {
    if (x < 0 || y < 0 || x >= img->width || y >= img->height) return -1;
    return usg_image_row(img, y)[x];
}

/* Mean grey over a rectangle [x0,x1] x [y0,y1], skipping pixels outside the image. */
static double box_mean(const usg_image *img, int x0, int x1, int y0, int y1, int *count) {
    double sum = 0;
    int n = 0;
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            int v = px(img, x, y);
            if (v < 0) continue;
            sum += v;
            n++;
        }
    }
    if (count) *count = n;
    return n ? sum / n : 0;
}

/* Read a truth.jsonl into an array of results. */
static usg_result *load_truth(const char *path, int *n) {
    size_t len = 0;
    char *text = tu_read_file(path, &len);
    cr_assert_not_null(text, "cannot read %s", path);
    int cap = 0;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    usg_result *rs = calloc((size_t)cap + 1, sizeof *rs);
    int k = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cr_assert_eq(usg_result_from_json(line, &rs[k]), USG_OK, "%s line %d: %s", path, k + 1, usg_last_error());
        k++;
    }
    free(text);
    *n = k;
    return rs;
}

static double pt_seg(usg_point p, usg_point a, usg_point b, usg_point *c) {
    double dx = b.x - a.x, dy = b.y - a.y, l2 = dx * dx + dy * dy;
    double t = l2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    c->x = a.x + t * dx;
    c->y = a.y + t * dy;
    return hypot(p.x - c->x, p.y - c->y);
}

/* Independent closest pair between two polylines: vertex of one to segment of the other, both ways. */
static usg_point closest_pair_midpoint(const usg_edge *a, const usg_edge *b, double *dist) {
    double best = INFINITY;
    usg_point m = {0, 0};
    for (int pass = 0; pass < 2; pass++) {
        const usg_edge *u = pass ? b : a, *v = pass ? a : b;
        for (int i = 0; i < u->n; i++) {
            for (int j = 0; j + 1 < v->n; j++) {
                usg_point c;
                double d = pt_seg(u->pts[i], v->pts[j], v->pts[j + 1], &c);
                if (d < best) {
                    best = d;
                    m.x = (u->pts[i].x + c.x) / 2;
                    m.y = (u->pts[i].y + c.y) / 2;
                }
            }
        }
    }
    *dist = best;
    return m;
}

static usg_sim_params base_params(void) {
    usg_sim_params p;
    usg_sim_params_default(&p);
    p.frames = 12;
    p.width = 480;
    p.height = 360;
    p.spacing_mm = 0.25;
    return p;
}

/* ---- determinism -------------------------------------------------------- */

Test(sim, same_seed_same_bytes_via_cli) {
    const char *dir = tu_scratch("sim_det");
    cr_assert_not_null(dir);
    char a[1100], b[1100], c[1100];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    const char *opts = "--frames 6 --width 320 --height 240 --spacing-mm 0.3 --quiet";
    tu_run r1 = tu_sh("%s sim %s --seed 42 %s", USGUIDE_BIN, a, opts);
    tu_run r2 = tu_sh("%s sim %s --seed 42 %s", USGUIDE_BIN, b, opts);
    tu_run r3 = tu_sh("%s sim %s --seed 43 %s", USGUIDE_BIN, c, opts);
    cr_assert_eq(r1.status, 0, "sim failed: %s", r1.err);
    cr_assert_eq(r2.status, 0, "sim failed: %s", r2.err);
    cr_assert_eq(r3.status, 0, "sim failed: %s", r3.err);
    tu_run d = tu_sh("diff -r %s %s", a, b);
    cr_assert_eq(d.status, 0, "same seed, different files: %s", d.out);
    tu_run e = tu_sh("cmp -s %s/frames/0005.png %s/frames/0005.png", a, c);
    cr_assert_neq(e.status, 0, "another seed gave the same frame");
    char path[1200];
    snprintf(path, sizeof path, "%s/truth.jsonl", a);
    cr_assert_eq(tu_count_lines(path), 6);
    tu_run_free(&r1); tu_run_free(&r2); tu_run_free(&r3); tu_run_free(&d); tu_run_free(&e);
}

Test(sim, frames_render_independently_of_order) {
    usg_sim_params p = base_params();
    p.seed = 5;
    rendered x = render(&p, 7);
    usg_sim *s = NULL;
    cr_assert_eq(usg_sim_new(&p, &s), USG_OK);
    usg_image img = {0};
    usg_sim_frame_alloc(s, &img);
    usg_result *t = malloc(sizeof *t);
    for (int k = 0; k < 8; k++) cr_assert_eq(usg_sim_render(s, k, &img, t), USG_OK);
    cr_assert_eq(usg_image_checksum(&img), usg_image_checksum(&x.img), "frame 7 differs when rendered after 0..6");
    cr_assert_eq(t->needle.found, x.truth->needle.found);
    cr_assert_float_eq(t->needle.tip.x, x.truth->needle.tip.x, 1e-9);
    free(t);
    usg_image_free(&img);
    usg_sim_free(s);
    rendered_free(&x);
}

/* ---- the needle ------------------------------------------------------------ */

/* Vertical position of the brightest ridge in column x near y0 (centre of a
 * saturated plateau, else a parabolic peak). */
static double ridge_y(const usg_image *img, int x, double y0, int reach) {
    int best = -1, by = -1;
    for (int y = (int)floor(y0) - reach; y <= (int)ceil(y0) + reach; y++) {
        int v = px(img, x, y);
        if (v > best) { best = v; by = y; }
    }
    int lo = by, hi = by;
    while (px(img, x, lo - 1) == best) lo--;
    while (px(img, x, hi + 1) == best) hi++;
    if (hi > lo) return 0.5 * (lo + hi);
    double a = px(img, x, by - 1), b = best, c = px(img, x, by + 1);
    double den = a - 2 * b + c;
    return den < 0 ? by + 0.5 * (a - c) / den : by;
}

/* 1 if edge e passes within `reach` px of (x, y) vertically at column x. */
static int near_edge(const usg_edge *e, double x, double y, double reach) {
    for (int i = 0; i + 1 < e->n; i++) {
        usg_point a = e->pts[i], b = e->pts[i + 1];
        if (x < a.x || x > b.x || b.x <= a.x) continue;
        double ye = a.y + (x - a.x) / (b.x - a.x) * (b.y - a.y);
        if (fabs(ye - y) < reach) return 1;
    }
    return 0;
}

/* Share of needle columns (clear of the cortices, whose echo would pull the
 * ridge) whose ridge lies within 1 px of the truth axis; the mean |error|. */
static void needle_ridge(const rendered *r, double *within1, double *mean_err) {
    const usg_needle *n = &r->truth->needle;
    cr_assert(n->found, "the last frame has no needle");
    double dx = n->tip.x - n->entry.x, dy = n->tip.y - n->entry.y;
    double x0 = n->entry.x + 0.15 * dx, x1 = n->entry.x + 0.85 * dx;
    if (x0 > x1) { double t = x0; x0 = x1; x1 = t; }
    int cols = 0, ok = 0;
    double sum = 0;
    const double clear = 2.5 / r->p.spacing_mm; /* columns where a cortex lies within 2.5 mm are skipped */
    for (int x = (int)ceil(x0); x <= (int)floor(x1); x++) {
        double ya = n->entry.y + (x - n->entry.x) * dy / dx;
        if (near_edge(&r->truth->sacrum, x, ya, clear) || near_edge(&r->truth->ilium, x, ya, clear)) continue;
        double e = fabs(ridge_y(&r->img, x, ya, 5) - ya);
        cols++;
        ok += e <= 1.0;
        sum += e;
    }
    cr_assert_gt(cols, 20, "too few needle columns (%d)", cols);
    *within1 = (double)ok / cols;
    *mean_err = sum / cols;
}

/* Over seeds 1-3, the brightest ridge of the rendered needle lies on the truth axis. */
static void expect_ridge_on_axis(usg_sim_params p) {
    for (uint64_t seed = 1; seed <= 3; seed++) {
        p.seed = seed;
        rendered r = render(&p, p.frames - 1);
        double within, mean;
        needle_ridge(&r, &within, &mean);
        cr_assert_geq(within, 0.9, "seed %llu: only %.0f%% of columns within 1 px", (unsigned long long)seed,
                      100 * within);
        cr_assert_leq(mean, 0.5, "seed %llu: mean ridge error %.2f px", (unsigned long long)seed, mean);
        rendered_free(&r);
    }
}

Test(sim, needle_ridge_on_truth_axis_linear) {
    usg_sim_params p = base_params();
    p.geometry = USG_GEOM_LINEAR;
    p.spacing_mm = 0.1;
    p.needle_angle_deg = 22;
    p.gain_db = -12; /* keep the shaft below saturation */
    expect_ridge_on_axis(p);
}

Test(sim, needle_ridge_on_truth_axis_curvilinear) {
    usg_sim_params p = base_params();
    p.needle_angle_deg = 25;
    p.gain_db = -12;
    expect_ridge_on_axis(p);
}

/* Mean grey of the brightest row over the middle third of the columns, in
 * the image's lower 35 %. */
static double brightest_low_row(const usg_image *img) {
    double best = 0;
    for (int y = img->height * 65 / 100; y < img->height; y++) {
        int n;
        double m = box_mean(img, img->width / 3, 2 * img->width / 3, y, y, &n);
        if (m > best) best = m;
    }
    return best;
}

/* Without the joint: no bone or target in the truth, the needle (aimed where
 * the joint entry would be) on its truth axis; a water bath is dark with a
 * bright tank floor deep down, a tissue block speckled with no such line. */
Test(sim, water_and_tissue_media_have_no_bone) {
    usg_sim_params p = base_params();
    p.needle_angle_deg = 25;
    p.gain_db = -12; /* keep the shaft below saturation, for the ridge */
    for (int m = USG_SIM_MEDIUM_TISSUE; m <= USG_SIM_MEDIUM_WATER; m++) {
        p.medium = (usg_sim_medium)m;
        expect_ridge_on_axis(p);
        usg_sim_params q = p;
        q.seed = 5;
        q.gain_db = 0;
        rendered r = render(&q, q.frames - 1);
        const usg_result *t = r.truth;
        cr_expect(!t->sacrum.found && !t->ilium.found && !t->target.found && !t->target.has_needle_metrics,
                  "medium %d: sacrum %d ilium %d target %d", m, t->sacrum.found, t->ilium.found, t->target.found);
        cr_expect(t->needle.found, "medium %d: no needle on the last frame", m);
        int n;
        double tissue = box_mean(&r.img, 100, 250, 150, 250, &n), floor_row = brightest_low_row(&r.img);
        if (m == USG_SIM_MEDIUM_WATER) {
            cr_expect_lt(tissue, 15.0, "water: mean grey %.1f where only the noise floor should show", tissue);
            cr_expect_gt(floor_row, 100.0, "water: no tank floor (brightest low row %.1f)", floor_row);
        } else {
            cr_expect_gt(tissue, 25.0, "tissue: mean grey %.1f, speckle expected", tissue);
            cr_expect_lt(floor_row, 100.0, "tissue: a bright line (row mean %.1f) deep down", floor_row);
        }
        rendered_free(&r);
    }
    p.medium = (usg_sim_medium)3;
    cr_expect_eq(usg_sim_params_check(&p), USG_ERR_ARG);
    cr_expect(strstr(usg_last_error(), "medium"), "%s", usg_last_error());
}

/* Grey along the truth shaft (20-80 % of the way from entry to tip): the mean,
 * and when asked its standard deviation and the mean echo power in dB (grey
 * back through a 60 dB display range). */
static double shaft_grey(const rendered *r, double *sd, double *power_db) {
    const usg_needle *n = &r->truth->needle;
    double sum = 0, sum2 = 0, pw = 0;
    int cnt = 0;
    for (double t = 0.2; t <= 0.8; t += 0.01) {
        int g = px(&r->img, (int)lround(n->entry.x + t * (n->tip.x - n->entry.x)),
                   (int)lround(n->entry.y + t * (n->tip.y - n->entry.y)));
        sum += g;
        sum2 += (double)g * g;
        pw += pow(10.0, g * 60.0 / 255.0 / 10.0);
        cnt++;
    }
    double mean = sum / cnt;
    if (sd) *sd = sqrt(fmax(0.0, sum2 / cnt - mean * mean));
    if (power_db) *power_db = 10.0 * log10(pw / cnt);
    return mean;
}

/* The linear probe at 0.1 mm/px, seed 4, the needle at needle_deg. */
static usg_sim_params linear_params(double needle_deg) {
    usg_sim_params p = base_params();
    p.geometry = USG_GEOM_LINEAR;
    p.spacing_mm = 0.1;
    p.seed = 4;
    p.needle_angle_deg = needle_deg;
    return p;
}

Test(sim, steep_needle_is_fainter) {
    usg_sim_params p = linear_params(15);
    p.gain_db = -12;
    double mean[2];
    const double angles[2] = {15, 50};
    for (int i = 0; i < 2; i++) {
        p.needle_angle_deg = angles[i];
        rendered r = render(&p, p.frames - 1);
        mean[i] = shaft_grey(&r, NULL, NULL);
        rendered_free(&r);
    }
    cr_assert_gt(mean[0] - mean[1], 40, "15 deg shaft %.0f vs 50 deg shaft %.0f grey", mean[0], mean[1]);
}

/* --needle-db: a needle 10 dB down is 10 dB (60 dB over 255 grey: ~42 grey) darker along its
 * shaft, the truth the same; outside -30..10 the parameter is refused by name. */
Test(sim, needle_db_makes_the_needle_fainter) {
    usg_sim_params p = linear_params(20);
    p.gain_db = -12;
    double mean[2];
    usg_point tip[2];
    for (int i = 0; i < 2; i++) {
        p.needle_db = i ? -10 : 0;
        rendered r = render(&p, p.frames - 1);
        mean[i] = shaft_grey(&r, NULL, NULL);
        tip[i] = r.truth->needle.tip;
        rendered_free(&r);
    }
    cr_expect_eq(tip[0].x, tip[1].x);
    cr_expect_eq(tip[0].y, tip[1].y);
    cr_assert(mean[0] - mean[1] > 25 && mean[0] - mean[1] < 50, "shaft %.0f at 0 dB vs %.0f at -10 dB grey", mean[0],
              mean[1]);
    p.needle_db = -31;
    cr_assert_eq(usg_sim_params_check(&p), USG_ERR_ARG);
    cr_expect(strstr(usg_last_error(), "needle_db -31 is outside -30..10") != NULL, "%s", usg_last_error());
}

/* --needle-speckle: a shaft of scatterers (as simulators that build the
 * needle from them draw it) is granular along its length where the specular
 * line is smooth, at about the same echo power, the truth the same; outside
 * 0..1 the parameter is refused by name. */
Test(sim, needle_speckle_makes_a_granular_shaft) {
    usg_sim_params p = linear_params(20);
    p.needle_db = -10; /* away from saturation */
    double mean[2], sd[2], power[2];
    usg_point tip[2];
    for (int i = 0; i < 2; i++) {
        p.needle_speckle = i;
        rendered r = render(&p, p.frames - 1);
        mean[i] = shaft_grey(&r, &sd[i], &power[i]);
        tip[i] = r.truth->needle.tip;
        rendered_free(&r);
    }
    cr_expect_eq(tip[0].x, tip[1].x);
    cr_expect_eq(tip[0].y, tip[1].y);
    cr_expect_gt(sd[1], 1.5 * sd[0] + 5, "shaft grey sd %.1f speckled vs %.1f specular", sd[1], sd[0]);
    cr_expect_lt(fabs(power[1] - power[0]), 3.0, "shaft power %.1f dB speckled vs %.1f dB specular (grey %.0f, %.0f)",
                 power[1], power[0], mean[1], mean[0]);
    p.needle_speckle = 1.5;
    cr_assert_eq(usg_sim_params_check(&p), USG_ERR_ARG);
    cr_expect(strstr(usg_last_error(), "needle_speckle 1.5 is outside 0..1") != NULL, "%s", usg_last_error());
}

/* y of an edge polyline at x (linear interpolation), +inf where it does not reach. */
static double edge_y_at(const usg_edge *e, double x) {
    for (int i = 0; i + 1 < e->n; i++) {
        usg_point a = e->pts[i], b = e->pts[i + 1];
        if (x >= a.x && x <= b.x) return b.x > a.x ? a.y + (x - a.x) / (b.x - a.x) * (b.y - a.y) : fmin(a.y, b.y);
    }
    return INFINITY;
}

Test(sim, needle_tip_bright_at_steep_angle) {
    /* the bevel scatters diffusely: even at 50 deg the tip stands out of the tissue */
    usg_sim_params p = base_params();
    p.needle_angle_deg = 50;
    p.frames = 20;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        p.seed = seed;
        rendered r = render(&p, 14);
        const usg_needle *n = &r.truth->needle;
        cr_assert(n->found);
        int tx = (int)lround(n->tip.x), ty = (int)lround(n->tip.y);
        double tip = box_mean(&r.img, tx - 1, tx + 1, ty - 1, ty + 1, NULL);
        /* tissue around the tip: median of a 3..6 mm ring, above the cortices */
        double mm = 1.0 / p.spacing_mm;
        static int vals[200000];
        int nv = 0;
        for (int y = ty - (int)(6 * mm); y <= ty + (int)(6 * mm); y++) {
            for (int x = tx - (int)(6 * mm); x <= tx + (int)(6 * mm); x++) {
                double d = hypot(x - n->tip.x, y - n->tip.y);
                if (d < 3 * mm || d > 6 * mm || px(&r.img, x, y) < 0) continue;
                if (y > edge_y_at(&r.truth->sacrum, x) - 1.5 * mm || y > edge_y_at(&r.truth->ilium, x) - 1.5 * mm) continue;
                int v = px(&r.img, x, y), j = nv++;
                while (j > 0 && vals[j - 1] > v) { vals[j] = vals[j - 1]; j--; }
                vals[j] = v;
            }
        }
        cr_assert_gt(nv, 50);
        double side = vals[nv / 2];
        cr_assert_gt(tip - side, 60, "seed %llu: tip %.0f vs tissue around it %.0f grey", (unsigned long long)seed, tip,
                     side);
        rendered_free(&r);
    }
}

/* A simulator for p with a frame and a truth record to render into (freed by sim_close). */
static usg_sim *sim_open(const usg_sim_params *p, usg_image *img, usg_result **t) {
    usg_sim *s = NULL;
    cr_assert_eq(usg_sim_new(p, &s), USG_OK, "%s", usg_last_error());
    memset(img, 0, sizeof *img);
    usg_sim_frame_alloc(s, img);
    *t = malloc(sizeof **t);
    return s;
}

static void sim_close(usg_sim *s, usg_image *img, usg_result *t) {
    free(t);
    usg_image_free(img);
    usg_sim_free(s);
}

Test(sim, needle_free_frames_then_advance) {
    usg_sim_params p = base_params();
    p.frames = 16;
    p.needle_free_frames = 4;
    p.seed = 9;
    usg_image img;
    usg_result *t;
    usg_sim *s = sim_open(&p, &img, &t);
    double first = -1, last = -1, prev_len = -1;
    for (int k = 0; k < p.frames; k++) {
        cr_assert_eq(usg_sim_render(s, k, &img, t), USG_OK);
        if (k < 4) {
            cr_assert_not(t->needle.found, "frame %d should be needle-free", k);
            cr_assert_not(t->target.has_needle_metrics);
            continue;
        }
        cr_assert(t->needle.found, "frame %d lost the needle", k);
        cr_assert(t->target.found && t->target.has_needle_metrics);
        double len = hypot(t->needle.tip.x - t->needle.entry.x, t->needle.tip.y - t->needle.entry.y);
        cr_assert_geq(len, prev_len - 2.0, "frame %d: the needle went back (%.1f -> %.1f px)", k, prev_len, len);
        prev_len = len;
        if (first < 0) first = t->target.tip_distance_mm;
        last = t->target.tip_distance_mm;
        /* angle is the entry->tip direction modulo 180 */
        double a = atan2(t->needle.tip.y - t->needle.entry.y, t->needle.tip.x - t->needle.entry.x) * 180 / M_PI;
        if (a < 0) a += 180;
        cr_assert_float_eq(t->needle.angle_deg, a, 0.05);
        cr_assert_float_eq(t->needle.confidence, 1.0, 1e-9);
    }
    cr_assert_lt(last, 3.0, "the needle ends %.1f mm from the target", last);
    cr_assert_gt(first - last, 5.0, "the needle advanced only %.1f mm", first - last);
    sim_close(s, &img, t);
}

/* --needle-withdraw: inserted to its deepest tip, then withdrawn steadily,
 * frame by frame, until its tip has left the image (truth: no needle). */
Test(sim, needle_withdrawn_over_the_last_frames) {
    usg_sim_params p = base_params();
    p.frames = 24;
    p.needle_free_frames = 2;
    p.needle_withdraw_frames = 8;
    p.seed = 9;
    usg_image img;
    usg_result *t;
    usg_sim *s = sim_open(&p, &img, &t);
    double len[24];
    for (int k = 0; k < p.frames; k++) {
        cr_assert_eq(usg_sim_render(s, k, &img, t), USG_OK);
        len[k] = t->needle.found ? hypot(t->needle.tip.x - t->needle.entry.x, t->needle.tip.y - t->needle.entry.y) : 0;
    }
    const int deepest = p.frames - 1 - p.needle_withdraw_frames;
    for (int k = deepest + 1; k < p.frames - 1; k++)
        cr_expect_lt(len[k], len[k - 1] - 1.0, "frame %d: not withdrawn (%.1f -> %.1f px)", k, len[k - 1], len[k]);
    cr_expect_gt(len[deepest], len[p.needle_free_frames] + 20.0, "inserted only %.1f -> %.1f px",
                 len[p.needle_free_frames], len[deepest]);
    cr_expect_eq(len[p.frames - 1], 0, "the needle still in the image on the last frame (%.1f px)", len[p.frames - 1]);
    p.needle_withdraw_frames = p.frames / 2 + 1;
    cr_assert_eq(usg_sim_params_check(&p), USG_ERR_ARG);
    cr_assert(strstr(usg_last_error(), "needle_withdraw_frames"), "%s", usg_last_error());
    sim_close(s, &img, t);
}

Test(sim, deliberate_miss_is_reported) {
    usg_sim_params p = base_params();
    p.seed = 12;
    p.needle_angle_deg = 30;
    p.needle_miss_mm = 4.0;
    rendered r = render(&p, p.frames - 1);
    cr_assert(r.truth->target.has_needle_metrics);
    cr_assert_float_eq(r.truth->target.trajectory_miss_mm, 4.0, 0.3, "miss %.2f mm",
                       r.truth->target.trajectory_miss_mm);
    rendered_free(&r);
}

/* ---- bones, shadow, cleft, target --------------------------------------- */

/* Mean grey above (2..6 mm) and below (3..8 mm) the edge points, away from the cleft end. */
static void shadow_contrast(const rendered *r, const usg_edge *e, double *above, double *below) {
    double mm = 1.0 / r->p.spacing_mm, sa = 0, sb = 0;
    int na = 0, nb = 0;
    double xend_lo = e->pts[0].x, xend_hi = e->pts[e->n - 1].x;
    for (int i = 0; i < e->n; i += 3) {
        usg_point q = e->pts[i];
        if (q.x - xend_lo < 4 * mm || xend_hi - q.x < 4 * mm) continue;
        int x = (int)lround(q.x);
        int c;
        sa += box_mean(&r->img, x, x, (int)lround(q.y - 6 * mm), (int)lround(q.y - 2 * mm), &c) * c;
        na += c;
        sb += box_mean(&r->img, x, x, (int)lround(q.y + 3 * mm), (int)lround(q.y + 8 * mm), &c) * c;
        nb += c;
    }
    cr_assert_gt(na, 100);
    cr_assert_gt(nb, 100);
    *above = sa / na;
    *below = sb / nb;
}

Test(sim, shadow_below_bone_darker_than_tissue_above) {
    /* Stated margins: displayed with 90 dB dynamic range and +25 dB gain (so
     * that nothing clips), the mean level 3..8 mm below the cortex is at least
     * 4 dB under the soft tissue 2..6 mm above it (bone passes -23 dB; what
     * fills the shadow is the noise floor and weak scatter just under the
     * cortex, as in a real shadow). At the default display (0 dB gain, 60 dB
     * range) the shadow is dark grey, not black: mean grey 10..30. */
    const double margin_db = 1.0;
    usg_geometry geoms[2] = {USG_GEOM_CURVILINEAR, USG_GEOM_LINEAR};
    for (int gi = 0; gi < 2; gi++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            usg_sim_params p = base_params();
            p.needle = USG_SIM_NEEDLE_NONE;
            p.geometry = geoms[gi];
            p.spacing_mm = gi ? 0.12 : 0.25;
            p.seed = seed;
            for (int display = 0; display < 2; display++) {
                p.gain_db = display ? 0 : 25;
                p.dynamic_range_db = display ? 60 : 90;
                rendered r = render(&p, 3);
                const usg_edge *edges[2] = {&r.truth->sacrum, &r.truth->ilium};
                for (int b = 0; b < 2; b++) {
                    cr_assert(edges[b]->found);
                    double above, below;
                    shadow_contrast(&r, edges[b], &above, &below);
                    double db = (above - below) * p.dynamic_range_db / 255.0;
                    const char *what = gi ? "linear" : "curvilinear", *bone = b ? "ilium" : "sacrum";
                    if (display) {
                        cr_assert(below >= 10 && below <= 30, "%s seed %llu %s: shadow %.1f grey at the default display",
                                  what, (unsigned long long)seed, bone, below);
                    } else {
                        cr_assert_geq(db, margin_db, "%s seed %llu %s: tissue %.1f, shadow %.1f grey = %.1f dB",
                                      what, (unsigned long long)seed, bone, above, below, db);
                        cr_assert_lt(above, 254.5, "%s: the tissue clipped, the margin is not measurable", what);
                    }
                }
                rendered_free(&r);
            }
        }
    }
}

Test(sim, cortex_bright_and_cleft_dark) {
    usg_sim_params p = base_params();
    p.needle = USG_SIM_NEEDLE_NONE;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        p.seed = seed;
        rendered r = render(&p, 2);
        const usg_result *t = r.truth;
        double mm = 1.0 / p.spacing_mm;
        /* cortex: median of the brightest pixel within 1 px above to 2 px below each edge point */
        int vals[2 * USG_EDGE_MAX], nc = 0;
        const usg_edge *edges[2] = {&t->sacrum, &t->ilium};
        for (int b = 0; b < 2; b++) {
            for (int i = 0; i < edges[b]->n; i++) {
                int x = (int)lround(edges[b]->pts[i].x), y = (int)lround(edges[b]->pts[i].y);
                int best = 0;
                for (int d = -1; d <= 2; d++) best = px(&r.img, x, y + d) > best ? px(&r.img, x, y + d) : best;
                int j = nc++;
                while (j > 0 && vals[j - 1] > best) { vals[j] = vals[j - 1]; j--; }
                vals[j] = best;
            }
        }
        double cortex = vals[nc / 2];
        /* the cleft: the middle third between the bone ends, 1.5..4 mm below the target */
        double xs = t->sacrum.pts[t->sacrum.n - 1].x, xi = t->ilium.pts[0].x, w = xi - xs;
        cr_assert_gt(w, 1.5 * mm, "cleft %.1f px wide", w);
        int n;
        double cleft = box_mean(&r.img, (int)ceil(xs + w / 3), (int)floor(xi - w / 3),
                                (int)lround(t->target.point.y + 1.5 * mm), (int)lround(t->target.point.y + 4 * mm), &n);
        cr_assert_gt(n, 4);
        cr_assert_gt(cortex, 200, "seed %llu: cortex median only %.0f grey", (unsigned long long)seed, cortex);
        cr_assert_lt(cleft, cortex - 120, "seed %llu: cleft %.0f vs cortex %.0f grey", (unsigned long long)seed,
                     cleft, cortex);
        rendered_free(&r);
    }
}

Test(sim, truth_edges_and_target_definition) {
    const char *dir = tu_scratch("sim_target");
    tu_run r = tu_sh("%s sim %s/seq --seed 21 --frames 8 --width 400 --height 300 --spacing-mm 0.3 --quiet",
                     USGUIDE_BIN, dir);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char path[1200];
    snprintf(path, sizeof path, "%s/seq/truth.jsonl", dir);
    int n = 0;
    usg_result *rs = load_truth(path, &n);
    cr_assert_eq(n, 8);
    for (int k = 0; k < n; k++) {
        const usg_result *t = &rs[k];
        cr_assert_eq(t->frame, k);
        cr_assert(t->has_spacing);
        cr_assert_float_eq(t->spacing_mm, 0.3, 1e-9);
        cr_assert(t->sacrum.found && t->ilium.found && t->target.found);
        const usg_edge *edges[2] = {&t->sacrum, &t->ilium};
        for (int b = 0; b < 2; b++) {
            for (int i = 1; i < edges[b]->n; i++) {
                usg_point a = edges[b]->pts[i - 1], c = edges[b]->pts[i];
                cr_assert_geq(c.x, a.x, "frame %d: edge not ordered by x at %d", k, i);
                cr_assert_leq(hypot(c.x - a.x, c.y - a.y), 2.0, "frame %d: edge points %d,%d too far apart", k, i - 1, i);
            }
        }
        /* sacrum medial (left by default), ilium lateral */
        cr_assert_lt(t->sacrum.pts[0].x, t->ilium.pts[0].x);
        double d;
        usg_point m = closest_pair_midpoint(&t->sacrum, &t->ilium, &d);
        /* the truth's closest pair is found on the 0.25 px surface tables, the
         * polylines written are 1 px apart: equal within 0.05 px */
        cr_assert_float_eq(t->target.point.x, m.x, 0.05, "frame %d: target x %.2f vs %.2f", k, t->target.point.x, m.x);
        cr_assert_float_eq(t->target.point.y, m.y, 0.05, "frame %d: target y %.2f vs %.2f", k, t->target.point.y, m.y);
        /* the joint entry lies 3..6 cm deep for this curvilinear default */
        double depth_mm = t->target.point.y * 0.3;
        cr_assert(depth_mm > 25 && depth_mm < 65, "target depth %.1f mm", depth_mm);
        if (t->needle.found) {
            double td = hypot(t->needle.tip.x - m.x, t->needle.tip.y - m.y) * 0.3;
            cr_assert_float_eq(t->target.tip_distance_mm, td, 0.01);
        }
    }
    free(rs);
    tu_run_free(&r);
}

Test(sim, anatomy_varies_with_seed) {
    usg_sim_params p = base_params();
    p.needle = USG_SIM_NEEDLE_NONE;
    double ty[4], cleft[4];
    for (int s = 0; s < 4; s++) {
        p.seed = 100 + s;
        rendered r = render(&p, 0);
        ty[s] = r.truth->target.point.y;
        cleft[s] = r.truth->ilium.pts[0].x - r.truth->sacrum.pts[r.truth->sacrum.n - 1].x;
        rendered_free(&r);
    }
    double ymin = ty[0], ymax = ty[0], cmin = cleft[0], cmax = cleft[0];
    for (int s = 1; s < 4; s++) {
        ymin = fmin(ymin, ty[s]); ymax = fmax(ymax, ty[s]);
        cmin = fmin(cmin, cleft[s]); cmax = fmax(cmax, cleft[s]);
    }
    cr_assert_gt(ymax - ymin, 8, "target depth hardly varies: %.1f..%.1f px", ymin, ymax);
    cr_assert_gt(cmax - cmin, 2, "cleft width hardly varies: %.1f..%.1f px", cmin, cmax);
}

/* ---- geometry, UI, mirroring -------------------------------------------- */

Test(sim, curvilinear_fan_black_outside) {
    const char *dir = tu_scratch("sim_fan");
    tu_run r = tu_sh("%s sim %s --seed 3 --frames 3 --width 400 --height 300 --spacing-mm 0.3 --quiet", USGUIDE_BIN, dir);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char path[1200];
    snprintf(path, sizeof path, "%s/probe.ini", dir);
    usg_probe probe;
    cr_assert_eq(usg_probe_load(path, &probe), USG_OK, "%s", usg_last_error());
    cr_assert_eq(probe.geometry, USG_GEOM_CURVILINEAR);
    cr_assert_float_eq(probe.spacing_x_mm, 0.3, 1e-9);
    cr_assert_float_eq(probe.angle_start_deg, -probe.angle_end_deg, 1e-9);
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/frames/%04d.png", dir, k);
        usg_image img = {0};
        cr_assert_eq(usg_png_read_grey(path, &img), USG_OK, "%s", usg_last_error());
        int outside_lit = 0, near_in = 0, near_lit = 0;
        for (int y = 0; y < img.height; y++) {
            for (int x = 0; x < img.width; x++) {
                int v = usg_image_row(&img, y)[x];
                if (!usg_probe_inside(&probe, x, y)) {
                    outside_lit += v != 0;
                } else if (hypot(x - probe.apex_x, y - probe.apex_y) < probe.radius_inner + 60) {
                    near_in++;
                    near_lit += v != 0;
                }
            }
        }
        cr_assert_eq(outside_lit, 0, "frame %d: %d lit pixels outside the fan", k, outside_lit);
        cr_assert_gt(near_lit, 0.85 * near_in, "frame %d: the fan's near field is dark (%d of %d lit)", k, near_lit,
                     near_in);
        /* the fan reaches the image's top and bottom */
        cr_assert(usg_probe_inside(&probe, probe.apex_x, img.height - 3));
        usg_image_free(&img);
    }
    tu_run_free(&r);
}

Test(sim, frame_ui_clip_offset) {
    const char *dir = tu_scratch("sim_ui");
    const char *opts = "--seed 8 --frames 4 --width 320 --height 240 --spacing-mm 0.35 --geometry linear --quiet";
    tu_run r1 = tu_sh("%s sim %s/plain %s", USGUIDE_BIN, dir, opts);
    tu_run r2 = tu_sh("%s sim %s/ui %s --frame-ui", USGUIDE_BIN, dir, opts);
    cr_assert_eq(r1.status, 0, "%s", r1.err);
    cr_assert_eq(r2.status, 0, "%s", r2.err);
    char path[1200];
    snprintf(path, sizeof path, "%s/ui/probe.ini", dir);
    usg_probe probe;
    cr_assert_eq(usg_probe_load(path, &probe), USG_OK, "%s", usg_last_error());
    cr_assert(probe.has_clip);
    cr_assert_eq(probe.clip_w, 320);
    cr_assert_eq(probe.clip_h, 240);
    cr_assert_gt(probe.clip_x, 0);
    cr_assert_gt(probe.clip_y, 0);
    usg_image plain = {0}, ui = {0};
    snprintf(path, sizeof path, "%s/plain/frames/0003.png", dir);
    cr_assert_eq(usg_png_read_grey(path, &plain), USG_OK);
    snprintf(path, sizeof path, "%s/ui/frames/0003.png", dir);
    cr_assert_eq(usg_png_read_grey(path, &ui), USG_OK);
    cr_assert_eq(usg_probe_check_frame(&probe, ui.width, ui.height), USG_OK, "%s", usg_last_error());
    usg_image view = usg_probe_clip_view(&probe, &ui);
    cr_assert_eq(usg_image_checksum(&view), usg_image_checksum(&plain), "the clipped UI frame differs from the plain image");
    /* there is scanner text/ticks outside the clip */
    int lit = 0;
    for (int y = 0; y < ui.height; y++) {
        for (int x = 0; x < ui.width; x++) {
            int in = x >= probe.clip_x && x < probe.clip_x + probe.clip_w && y >= probe.clip_y &&
                     y < probe.clip_y + probe.clip_h;
            lit += !in && usg_image_row(&ui, y)[x] > 100;
        }
    }
    cr_assert_gt(lit, 300, "no scanner UI around the image (%d lit px)", lit);
    /* truth moves by exactly the clip offset */
    int n1, n2;
    snprintf(path, sizeof path, "%s/plain/truth.jsonl", dir);
    usg_result *a = load_truth(path, &n1);
    snprintf(path, sizeof path, "%s/ui/truth.jsonl", dir);
    usg_result *b = load_truth(path, &n2);
    cr_assert_eq(n1, n2);
    for (int k = 0; k < n1; k++) {
        cr_assert_eq(a[k].sacrum.n, b[k].sacrum.n);
        for (int i = 0; i < a[k].sacrum.n; i++) {
            cr_assert_float_eq(b[k].sacrum.pts[i].x - a[k].sacrum.pts[i].x, probe.clip_x, 0.011);
            cr_assert_float_eq(b[k].sacrum.pts[i].y - a[k].sacrum.pts[i].y, probe.clip_y, 0.011);
        }
        cr_assert_float_eq(b[k].target.point.x - a[k].target.point.x, probe.clip_x, 0.011);
        cr_assert_eq(a[k].needle.found, b[k].needle.found);
        if (a[k].needle.found) {
            cr_assert_float_eq(b[k].needle.tip.x - a[k].needle.tip.x, probe.clip_x, 0.011);
            cr_assert_float_eq(b[k].needle.entry.y - a[k].needle.entry.y, probe.clip_y, 0.011);
            cr_assert_float_eq(b[k].needle.angle_deg, a[k].needle.angle_deg, 0.011);
        }
    }
    free(a);
    free(b);
    usg_image_free(&plain);
    usg_image_free(&ui);
    tu_run_free(&r1);
    tu_run_free(&r2);
}

Test(sim, medial_right_mirrors_the_anatomy) {
    usg_sim_params p = base_params();
    p.seed = 6;
    rendered l = render(&p, 9);
    p.medial_side = USG_SIDE_RIGHT;
    rendered r = render(&p, 9);
    int w = l.img.width;
    for (int y = 0; y < l.img.height; y++) {
        for (int x = 0; x < w; x++) {
            cr_assert_eq(px(&l.img, x, y), px(&r.img, w - 1 - x, y), "pixel %d,%d not mirrored", x, y);
        }
    }
    cr_assert_gt(r.truth->sacrum.pts[0].x, r.truth->ilium.pts[0].x, "the sacrum should be on the right");
    cr_assert_eq(l.truth->sacrum.n, r.truth->sacrum.n);
    usg_point a = l.truth->sacrum.pts[0], b = r.truth->sacrum.pts[r.truth->sacrum.n - 1];
    cr_assert_float_eq(a.x, w - 1 - b.x, 1e-9);
    cr_assert_float_eq(a.y, b.y, 1e-9);
    cr_assert_float_eq(l.truth->needle.tip.x, w - 1 - r.truth->needle.tip.x, 1e-9);
    cr_assert_float_eq(l.truth->needle.angle_deg, 180.0 - r.truth->needle.angle_deg, 1e-6);
    /* lateral needle comes from the ilium side: right when the sacrum is left */
    cr_assert_gt(l.truth->needle.entry.x, l.truth->needle.tip.x);
    rendered_free(&l);
    rendered_free(&r);
}

Test(sim, needle_sides) {
    usg_sim_params p = base_params();
    p.seed = 14;
    p.needle = USG_SIM_NEEDLE_MEDIAL;
    p.needle_angle_deg = 35;
    rendered m = render(&p, p.frames - 1);
    cr_assert(m.truth->needle.found);
    cr_assert_lt(m.truth->needle.entry.x, m.truth->needle.tip.x, "medial needle should come from the sacrum side");
    rendered_free(&m);
    p.needle = USG_SIM_NEEDLE_NONE;
    usg_sim *s = NULL;
    cr_assert_eq(usg_sim_new(&p, &s), USG_OK);
    usg_image img = {0};
    usg_sim_frame_alloc(s, &img);
    usg_result *t = malloc(sizeof *t);
    for (int k = 0; k < p.frames; k++) {
        cr_assert_eq(usg_sim_render(s, k, &img, t), USG_OK);
        cr_assert_not(t->needle.found);
        cr_assert(t->target.found);
        cr_assert_not(t->target.has_needle_metrics);
    }
    free(t);
    usg_image_free(&img);
    usg_sim_free(s);
}

/* ---- speed and errors ----------------------------------------------------- */

Test(sim, render_640x480_under_a_second) {
    usg_sim_params p;
    usg_sim_params_default(&p);
    usg_sim *s = NULL;
    cr_assert_eq(usg_sim_new(&p, &s), USG_OK);
    usg_image img = {0};
    usg_sim_frame_alloc(s, &img);
    usg_result *t = malloc(sizeof *t);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int k = 0; k < 3; k++) usg_sim_render(s, k + 10, &img, t);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double per = ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9) / 3;
    /* the bound is for optimised builds; sanitizer and -O0 builds run several times slower */
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
    const double bound = 1.0;
#else
    const double bound = 6.0;
#endif
    free(t);
    usg_image_free(&img);
    usg_sim_free(s);
    cr_assert_lt(per, bound, "%.3f s per 640x480 frame", per);
}


Test(sim, bad_parameters_rejected) {
    usg_sim_params p;
    usg_sim_params_default(&p);
    p.frames = 0;
    cr_assert_eq(usg_sim_params_check(&p), USG_ERR_ARG);
    cr_assert(strstr(usg_last_error(), "frames"), "%s", usg_last_error());
    usg_sim_params_default(&p);
    p.target_depth_mm = 150; /* deeper than the 9 cm image */
    usg_sim *s = (usg_sim *)&p;
    cr_assert_eq(usg_sim_new(&p, &s), USG_ERR_ARG);
    cr_assert_null(s);
    cr_assert(strstr(usg_last_error(), "target depth"), "%s", usg_last_error());
    usg_sim_params_default(&p);
    rendered r = render(&p, 0);
    usg_sim *s2 = NULL;
    cr_assert_eq(usg_sim_new(&p, &s2), USG_OK);
    cr_assert_eq(usg_sim_render(s2, p.frames, &r.img, r.truth), USG_ERR_ARG);
    usg_image small = {0};
    usg_image_alloc(&small, 10, 10);
    cr_assert_eq(usg_sim_render(s2, 0, &small, r.truth), USG_ERR_ARG);
    cr_assert(strstr(usg_last_error(), "640x480"), "%s", usg_last_error());
    usg_image_free(&small);
    usg_sim_free(s2);
    rendered_free(&r);
}

Test(sim, bad_options_exit_2_with_message) {
    const char *dir = tu_scratch("sim_bad");
    static const struct { const char *args, *msg; } cases[] = {
        {"", "missing OUTDIR"},
        {"OUT --geometry sector", "--geometry"},
        {"OUT --needle both", "--needle"},
        {"OUT --medial-side up", "--medial-side"},
        {"OUT --frames 0", "frames"},
        {"OUT --frames ten", "--frames"},
        {"OUT --spacing-mm 0", "spacing_mm"},
        {"OUT --width 20", "width"},
        {"OUT --needle-angle-deg 80", "needle_angle_deg"},
        {"OUT --gain-db", "needs a value"},
        {"OUT --seed -3", "--seed"},
        {"OUT --bogus 1", "unknown option"},
        {"OUT OTHER", "more than one OUTDIR"},
        {"OUT --target-depth-mm 200", "target depth"},
        {"OUT --medium gel", "--medium"},
        {"OUT --background x.mha", "--background and --background-probe go together"},
        {"OUT --background x.mha --background-probe /nonexistent/p.ini", "/nonexistent/p.ini"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512];
        const char *a = cases[i].args;
        if (!strncmp(a, "OUT", 3)) snprintf(args, sizeof args, "%s/out%zu%s", dir, i, a + 3);
        else snprintf(args, sizeof args, "%s", a);
        tu_run r = tu_sh("%s sim %s", USGUIDE_BIN, args);
        cr_assert_eq(r.status, 2, "'sim %s' exited %d", a, r.status);
        cr_assert(strstr(r.err, cases[i].msg), "'sim %s': message '%s' lacks '%s'", a, r.err, cases[i].msg);
        tu_run_free(&r);
    }
    tu_run h = tu_sh("%s sim --help", USGUIDE_BIN);
    cr_assert_eq(h.status, 0);
    const char *opts[] = {"--seed", "--frames", "--width", "--height", "--spacing-mm", "--geometry", "--needle",
                          "--medial-side", "--gain-db", "--frame-ui", "--medium", "--background",
                          "--background-probe"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        cr_assert(strstr(h.out, opts[i]), "help lacks %s", opts[i]);
    }
    tu_run_free(&h);
}

/* ---- the bundled samples are what make_samples.sh writes ------------------ */

/* Regenerate one bundled sequence with the script and compare truth, profile
 * and decoded pixels (not PNG bytes, which depend on the zlib build). A change
 * to the simulator must come with regenerated sample_frames. */
Test(sim, bundled_sample_reproduces) {
    const char *dir = tu_scratch("sim_bundled");
    const char *name = "linear_shallow_miss";
    tu_run r = tu_sh("sh %s/sample_frames/make_samples.sh %s %s %s", USG_SOURCE_DIR, USGUIDE_BIN, dir, name);
    cr_assert_eq(r.status, 0, "make_samples.sh failed: %s", r.err);
    const char *files[2] = {"truth.jsonl", "probe.ini"};
    for (int i = 0; i < 2; i++) {
        tu_run d = tu_sh("cmp %s/sample_frames/%s/%s %s/%s/%s", USG_SOURCE_DIR, name, files[i], dir, name, files[i]);
        cr_assert_eq(d.status, 0, "%s/%s differs from the bundled one (regenerate sample_frames): %s", name, files[i],
                     d.out);
        tu_run_free(&d);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/truth.jsonl", dir, name);
    int frames = tu_count_lines(path);
    cr_assert_eq(frames, 30);
    for (int k = 0; k < frames; k++) {
        usg_image a = {0}, b = {0};
        snprintf(path, sizeof path, "%s/sample_frames/%s/frames/%04d.png", USG_SOURCE_DIR, name, k);
        cr_assert_eq(usg_png_read_grey(path, &a), USG_OK, "%s", usg_last_error());
        snprintf(path, sizeof path, "%s/%s/frames/%04d.png", dir, name, k);
        cr_assert_eq(usg_png_read_grey(path, &b), USG_OK, "%s", usg_last_error());
        cr_assert_eq(usg_image_checksum(&a), usg_image_checksum(&b), "%s frame %d differs from the bundled one", name, k);
        usg_image_free(&a);
        usg_image_free(&b);
    }
    tu_run_free(&r);
}

Test(sim, rerun_replaces_old_frames) {
    const char *dir = tu_scratch("sim_rerun");
    const char *opts = "--width 160 --height 120 --spacing-mm 0.6 --quiet";
    tu_run a = tu_sh("%s sim %s --frames 5 %s && touch %s/frames/notes.txt", USGUIDE_BIN, dir, opts, dir);
    cr_assert_eq(a.status, 0, "%s", a.err);
    tu_run b = tu_sh("%s sim %s --frames 2 %s", USGUIDE_BIN, dir, opts);
    cr_assert_eq(b.status, 0, "%s", b.err);
    tu_run l = tu_sh("ls %s/frames", dir);
    cr_assert_str_eq(l.out, "0000.png\n0001.png\nnotes.txt\n", "frames left: %s", l.out);
    tu_run_free(&a);
    tu_run_free(&b);
    tu_run_free(&l);
}

/* ---- realism against a real recording -------------------------------------- */

/* Grey statistics around a bone surface, the same windows for real and
 * simulated frames: the shadow 4..10 mm below the surface, the soft tissue
 * 4..10 mm above it, and the cortex peak (brightest pixel from 0.6 mm above
 * to 1 mm below each surface point). */
typedef struct grey_hist {
    unsigned shadow[256], tissue[256], peak[256];
    unsigned n_shadow, n_tissue, n_peak;
    double shadow_sum, shadow_sq;
} grey_hist;

static void hist_add_surface(grey_hist *h, const usg_image *img, const usg_point *pts, int n, double sp) {
    int lo = (int)lround(4.0 / sp), hi = (int)lround(10.0 / sp);
    for (int i = 0; i < n; i++) {
        int x = (int)lround(pts[i].x), y = (int)lround(pts[i].y);
        if (x < 0 || x >= img->width) continue;
        int best = -1;
        for (int yy = (int)floor(pts[i].y - 0.6 / sp); yy <= (int)ceil(pts[i].y + 1.0 / sp); yy++)
            if (px(img, x, yy) > best) best = px(img, x, yy);
        if (best >= 0) { h->peak[best]++; h->n_peak++; }
        for (int d = lo; d <= hi; d++) {
            int a = px(img, x, y - d), b = px(img, x, y + d);
            if (a >= 0) { h->tissue[a]++; h->n_tissue++; }
            if (b >= 0) {
                h->shadow[b]++; h->n_shadow++;
                h->shadow_sum += b; h->shadow_sq += (double)b * b;
            }
        }
    }
}

static int hist_pct(const unsigned *hist, unsigned n, double q) {
    unsigned want = (unsigned)(q * n), acc = 0;
    int b = 0;
    while (b < 255 && (acc += hist[b]) <= want) b++;
    return b;
}

typedef struct realism {
    double shadow_mean, shadow_sd;
    int shadow_p10, tissue_p10, peak_p50, peak_p90;
    double peak_saturated; /* share of surface points whose peak is 255 */
} realism;

static realism hist_summary(const grey_hist *h) {
    cr_assert_gt(h->n_shadow, 1000);
    cr_assert_gt(h->n_tissue, 1000);
    cr_assert_gt(h->n_peak, 100);
    realism r;
    r.shadow_mean = h->shadow_sum / h->n_shadow;
    r.shadow_sd = sqrt(fmax(0, h->shadow_sq / h->n_shadow - r.shadow_mean * r.shadow_mean));
    r.shadow_p10 = hist_pct(h->shadow, h->n_shadow, 0.10);
    r.tissue_p10 = hist_pct(h->tissue, h->n_tissue, 0.10);
    r.peak_p50 = hist_pct(h->peak, h->n_peak, 0.50);
    r.peak_p90 = hist_pct(h->peak, h->n_peak, 0.90);
    r.peak_saturated = (double)h->peak[255] / h->n_peak;
    return r;
}

/* The real BoneUltrasound_L14 recording (L14-5 linear, 0.085 mm/px) around
 * the hand-annotated cortex of tests/data/l14_cortex.txt. */
static realism real_l14(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/l14_cortex.txt", USG_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    static usg_point pts[32][512];
    int n[32] = {0};
    char line[256];
    while (fgets(line, sizeof line, f)) {
        int k;
        double x, y;
        if (line[0] == '#' || sscanf(line, "%d %lf %lf", &k, &x, &y) != 3 || k < 0 || k >= 32 || n[k] >= 512) continue;
        pts[k][n[k]++] = (usg_point){x, y};
    }
    fclose(f);
    usg_source *src;
    cr_assert_eq(usg_source_open(tu_shared("BoneUltrasound_L14.igs.mha"), NULL, &src), USG_OK, "%s", usg_last_error());
    grey_hist *h = calloc(1, sizeof *h);
    usg_frame fr;
    while (usg_source_next(src, &fr) == USG_OK)
        if (fr.index < 32 && n[fr.index] > 0) hist_add_surface(h, &fr.image, pts[fr.index], n[fr.index], 0.085);
    usg_source_close(src);
    realism r = hist_summary(h);
    free(h);
    return r;
}

/* Simulated linear 7.5 MHz frames (the nearest to the L14-5) around the truth surfaces. */
static realism simulated_linear(void) {
    grey_hist *h = calloc(1, sizeof *h);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        usg_sim_params p = base_params();
        p.geometry = USG_GEOM_LINEAR;
        p.width = 512;
        p.height = 384;
        p.spacing_mm = 0.1;
        p.needle = USG_SIM_NEEDLE_NONE;
        p.seed = seed;
        for (int k = 2; k < p.frames; k += 4) {
            rendered r = render(&p, k);
            hist_add_surface(h, &r.img, r.truth->sacrum.pts, r.truth->sacrum.n, p.spacing_mm);
            hist_add_surface(h, &r.img, r.truth->ilium.pts, r.truth->ilium.n, p.spacing_mm);
            rendered_free(&r);
        }
    }
    realism r = hist_summary(h);
    free(h);
    return r;
}

Test(sim, grey_levels_close_to_the_real_l14_recording, .timeout = 120) {
    /* Measured with these windows (this test prints both lines):
     *   real L14:               shadow mean 18.8 sd 9.2 p10 9, tissue p10 10, cortex peak p50 154 p90 227
     *   simulator before (627e3d3): shadow mean 0.0 sd 0.3 p10 0, tissue p10 0, cortex peak p50 213 p90 231
     *   simulator now:              shadow mean 17.6 sd 6.8 p10 9, tissue p10 12, cortex peak p50 208 p90 221
     * Stated margins for the simulator: the shadow is a textured dark grey
     * (mean 14..25, sd >= 4, p10 >= 4), the darkest tissue speckle is not
     * black (p10 8..14), the cortex peaks at 190..240 grey (median) and at
     * most 5 % of its points saturate (255). The real recording is checked
     * to read as measured (the same windows on the same data) within the
     * same ranges where they apply. */
    realism s = simulated_linear();
    fprintf(stderr, "simulated: shadow mean %.1f sd %.1f p10 %d, tissue p10 %d, cortex peak p50 %d p90 %d, saturated %.3f\n",
            s.shadow_mean, s.shadow_sd, s.shadow_p10, s.tissue_p10, s.peak_p50, s.peak_p90, s.peak_saturated);
    cr_expect(s.shadow_mean >= 14 && s.shadow_mean <= 25, "shadow mean %.1f grey", s.shadow_mean);
    cr_expect_geq(s.shadow_sd, 4, "shadow texture sd %.1f grey", s.shadow_sd);
    cr_expect_geq(s.shadow_p10, 4, "shadow p10 %d grey", s.shadow_p10);
    cr_expect(s.tissue_p10 >= 8 && s.tissue_p10 <= 14, "tissue p10 %d grey", s.tissue_p10);
    cr_expect(s.peak_p50 >= 190 && s.peak_p50 <= 240, "cortex peak median %d grey", s.peak_p50);
    cr_expect_leq(s.peak_saturated, 0.05, "%.1f %% of the cortex saturates", 100 * s.peak_saturated);
    if (!tu_have_shared()) return;
    realism r = real_l14();
    fprintf(stderr, "real L14:  shadow mean %.1f sd %.1f p10 %d, tissue p10 %d, cortex peak p50 %d p90 %d, saturated %.3f\n",
            r.shadow_mean, r.shadow_sd, r.shadow_p10, r.tissue_p10, r.peak_p50, r.peak_p90, r.peak_saturated);
    cr_expect(r.shadow_mean >= 14 && r.shadow_mean <= 25, "real shadow mean %.1f grey", r.shadow_mean);
    cr_expect(r.tissue_p10 >= 8 && r.tissue_p10 <= 14, "real tissue p10 %d grey", r.tissue_p10);
    cr_expect(r.peak_p90 >= 190 && r.peak_p90 <= 240, "real cortex peak p90 %d grey", r.peak_p90);
    cr_expect_leq(r.peak_saturated, 0.05);
}

/* Standard deviation of the grey over a rectangle: the speckle's spread (a
 * flat echo has next to none). */
static double box_sd(const usg_image *img, int x0, int x1, int y0, int y1) {
    double m = box_mean(img, x0, x1, y0, y1, NULL), sum = 0;
    int n = 0;
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            int v = px(img, x, y);
            if (v < 0) continue;
            sum += (v - m) * (v - m);
            n++;
        }
    }
    return n ? sqrt(sum / n) : 0;
}

/* --speckle 0 on plain tissue (one uniform echo, --plain-tissue): speckle
 * gone, the same mean power (a scanner's strong speckle reduction; with plain
 * tissue, a simple simulator's flat grey): the grey's spread over a band at
 * one depth is under half of the speckled one's (what remains is the
 * electronic noise floor, a few dB below this tissue; measured 3.3 vs 7.6) and
 * the mean grey stays within 3 dB; out of range is refused. */
Test(sim, speckle_free_tissue_keeps_its_mean_echo) {
    usg_sim_params p = base_params();
    p.medium = USG_SIM_MEDIUM_TISSUE;
    p.needle = USG_SIM_NEEDLE_NONE;
    p.plain_tissue = 1;
    p.gain_db = 15;
    rendered a = render(&p, 0);
    p.speckle = 0;
    rendered b = render(&p, 0);
    double ma = box_mean(&a.img, 140, 340, 100, 130, NULL), mb = box_mean(&b.img, 140, 340, 100, 130, NULL);
    double ga = box_sd(&a.img, 140, 340, 100, 130), gb = box_sd(&b.img, 140, 340, 100, 130);
    cr_log_info("speckle 1: mean %.1f spread %.2f; speckle 0: mean %.1f spread %.2f", ma, ga, mb, gb);
    cr_expect_lt(gb, 0.5 * ga, "spread %.2f without speckle vs %.2f with it", gb, ga);
    cr_expect_lt(fabs(mb - ma), 3.0 * 255.0 / 60.0, "mean grey %.1f without speckle vs %.1f with it", mb, ma);
    rendered_free(&a);
    rendered_free(&b);
    p.speckle = 1.5;
    cr_expect_eq(usg_sim_params_check(&p), USG_ERR_ARG);
    cr_expect(strstr(usg_last_error(), "speckle"), "%s", usg_last_error());
}

/* ---- the needle laid over a real recording (usg_sim_render_over) --------- */

/* A small linear tissue sequence, the needle from frame 2, no jitter. */
static usg_sim_params over_params(void) {
    usg_sim_params p = base_params();
    p.seed = 9;
    p.frames = 6;
    p.width = 200;
    p.height = 160;
    p.spacing_mm = 0.1;
    p.geometry = USG_GEOM_LINEAR;
    p.medium = USG_SIM_MEDIUM_TISSUE;
    p.needle_angle_deg = 25;
    p.target_depth_mm = 10;
    p.needle_free_frames = 2;
    p.jitter_mm = 0;
    return p;
}

static void fill(usg_image *img, int grey) {
    for (int y = 0; y < img->height; y++) memset(usg_image_row(img, y), grey, (size_t)img->width);
}

/* Distance in px from (x, y) to the segment a-b. */
static double seg_dist(double x, double y, usg_point a, usg_point b) {
    double vx = b.x - a.x, vy = b.y - a.y, L2 = vx * vx + vy * vy;
    double u = L2 > 0 ? ((x - a.x) * vx + (y - a.y) * vy) / L2 : 0;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    return hypot(x - a.x - u * vx, y - a.y - u * vy);
}

/* Brightest grey within 2 px of the truth's shaft. */
static int shaft_peak(const usg_image *img, const usg_result *t) {
    int best = 0;
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++) {
            if (seg_dist(x, y, t->needle.entry, t->needle.tip) <= 2.0 && px(img, x, y) > best) best = px(img, x, y);
        }
    }
    return best;
}

/* Over a uniform background the echo powers add: a needle-free frame is the
 * background byte for byte; with the needle no pixel gets darker, every pixel
 * 6 mm or more from the shaft (past the 4.3 mm reverberation tail) is
 * unchanged, and the shaft stands well above (10 dB at least). The needle
 * stands the same over a darker or brighter background (its level follows the
 * background's median tissue grey): its peak over the background within 2 grey. */
Test(sim, needle_over_a_background_adds_its_echo_power) {
    usg_sim_params p = over_params();
    p.needle_db = -10; /* away from saturation, so the two backgrounds compare */
    usg_sim *s = NULL;
    cr_assert_eq(usg_sim_new(&p, &s), USG_OK, "%s", usg_last_error());
    usg_image bg = {0}, out = {0};
    cr_assert_eq(usg_image_alloc(&bg, 200, 160), USG_OK);
    cr_assert_eq(usg_image_alloc(&out, 200, 160), USG_OK);
    usg_result *t = malloc(sizeof *t);
    fill(&bg, 40);
    cr_assert_eq(usg_sim_render_over(s, 0, &bg, &out, t), USG_OK, "%s", usg_last_error());
    cr_assert_not(t->needle.found);
    for (int y = 0; y < 160; y++) cr_assert_eq(memcmp(usg_image_row(&out, y), usg_image_row(&bg, y), 200), 0, "row %d changed", y);
    int rise[2];
    for (int k = 0; k < 2; k++) {
        int g = k ? 60 : 40;
        fill(&bg, g);
        cr_assert_eq(usg_sim_render_over(s, 5, &bg, &out, t), USG_OK, "%s", usg_last_error());
        cr_assert(t->needle.found);
        cr_assert_eq(t->sacrum.found + t->ilium.found + t->target.found, 0, "the truth has the needle only");
        for (int y = 0; y < 160; y++) {
            for (int x = 0; x < 200; x++) {
                int v = px(&out, x, y);
                cr_assert_geq(v, g, "(%d,%d) %d darker than the background %d", x, y, v, g);
                if (seg_dist(x, y, t->needle.entry, t->needle.tip) >= 60.0) cr_assert_eq(v, g, "(%d,%d) far from the needle: %d", x, y, v);
            }
        }
        int peak = shaft_peak(&out, t);
        cr_assert_lt(peak, 250, "peak %d saturates", peak);
        rise[k] = peak - g;
        cr_assert_geq(rise[k], 10 * 255 / 60, "background %d: the shaft stands only %d grey over it", g, rise[k]);
    }
    cr_assert_leq(abs(rise[0] - rise[1]), 2, "the shaft stands %d grey over 40 and %d over 60", rise[0], rise[1]);
    free(t);
    usg_image_free(&bg);
    usg_image_free(&out);
    usg_sim_free(s);
}

Test(sim, needle_over_checks_its_inputs) {
    usg_sim_params p = over_params();
    usg_sim *s = NULL;
    cr_assert_eq(usg_sim_new(&p, &s), USG_OK);
    usg_image bg = {0}, out = {0};
    cr_assert_eq(usg_image_alloc(&bg, 199, 160), USG_OK);
    cr_assert_eq(usg_image_alloc(&out, 200, 160), USG_OK);
    cr_assert_eq(usg_sim_render_over(s, 3, &bg, &out, NULL), USG_ERR_ARG);
    cr_assert(strstr(usg_last_error(), "background must be 200x160"), "%s", usg_last_error());
    cr_assert_eq(usg_sim_render_over(s, 6, &out, &out, NULL), USG_ERR_ARG);
    cr_assert(strstr(usg_last_error(), "frame 6 is outside 0..5"), "%s", usg_last_error());
    usg_image_free(&bg);
    usg_image_free(&out);
    usg_sim_free(s);
}

/* Write a folder of `n` uniform grey PNG frames (greys[i]) of w x h. */
static void write_grey_frames(const char *dir, const int *greys, int n, int w, int h) {
    usg_image img = {0};
    cr_assert_eq(usg_image_alloc(&img, w, h), USG_OK);
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%04d.png", dir, i);
        fill(&img, greys[i]);
        cr_assert_eq(usg_png_write_grey(path, &img), USG_OK, "%s", usg_last_error());
    }
    usg_image_free(&img);
}

/* usg_sim_write_over: the clipped image of each recorded frame in order, then
 * backwards (0 1 2 1 0 1 for 3 frames and 6 written); the image's size and
 * spacing from the profile, its medial side kept in probe.ini; the truth has
 * the needle from frame 2 and no bone. */
Test(sim, write_over_cycles_the_background_and_keeps_the_profile) {
    const char *dir = tu_scratch("sim_over");
    char bgdir[512], out[512], path[600];
    snprintf(bgdir, sizeof bgdir, "%s/bg", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    tu_run mk = tu_sh("mkdir -p %s", bgdir);
    tu_run_free(&mk);
    static const int greys[3] = {20, 40, 60};
    write_grey_frames(bgdir, greys, 3, 220, 170);
    usg_probe pr;
    usg_probe_default(&pr);
    snprintf(pr.name, sizeof pr.name, "test grabber");
    pr.spacing_x_mm = pr.spacing_y_mm = 0.1;
    pr.has_clip = 1, pr.clip_x = 10, pr.clip_y = 5, pr.clip_w = 200, pr.clip_h = 160; /* 10 px left, 5 above */
    pr.medial_side = USG_SIDE_RIGHT;
    usg_sim_params p = over_params();
    p.width = p.height = 64; /* replaced by the profile's clip */
    p.medium = USG_SIM_MEDIUM_SIJ;
    cr_assert_eq(usg_sim_write_over(&p, bgdir, &pr, out, NULL, NULL), USG_OK, "%s", usg_last_error());
    static const int expect[6] = {20, 40, 60, 40, 20, 40};
    for (int k = 0; k < 6; k++) {
        usg_image img = {0};
        snprintf(path, sizeof path, "%s/frames/%04d.png", out, k);
        cr_assert_eq(usg_png_read_grey(path, &img), USG_OK, "%s", usg_last_error());
        cr_assert(img.width == 200 && img.height == 160, "frame %d is %dx%d", k, img.width, img.height);
        cr_assert_eq(px(&img, 2, 2), expect[k], "frame %d: corner %d, want %d", k, px(&img, 2, 2), expect[k]);
        usg_image_free(&img);
    }
    snprintf(path, sizeof path, "%s/probe.ini", out);
    usg_probe got;
    cr_assert_eq(usg_probe_load(path, &got), USG_OK, "%s", usg_last_error());
    cr_assert_eq(got.geometry, USG_GEOM_LINEAR);
    cr_assert_float_eq(got.spacing_x_mm, 0.1, 1e-9);
    cr_assert_eq(got.has_clip, 0);
    cr_assert_eq(got.medial_side, USG_SIDE_RIGHT);
    cr_assert(strstr(got.name, "test grabber"), "%s", got.name);
    snprintf(path, sizeof path, "%s/truth.jsonl", out);
    char *truth = tu_read_file(path, NULL);
    cr_assert(truth);
    cr_assert_eq(tu_count_lines(path), 6);
    char *line = truth;
    for (int k = 0; k < 6; k++) {
        char *nl = strchr(line, '\n');
        cr_assert(nl);
        *nl = 0;
        cr_assert_eq(strstr(line, "\"needle\": {\"found\": true") != NULL, k >= 2, "frame %d: %s", k, line);
        cr_assert(strstr(line, "\"sacrum\": {\"found\": false"), "frame %d: %s", k, line);
        line = nl + 1;
    }
    free(truth);
}

/* What cannot be laid over is refused with the file and the reason. */
Test(sim, write_over_refuses_what_it_cannot_lay_over) {
    const char *dir = tu_scratch("sim_over_bad");
    char bgdir[512], out[512];
    snprintf(bgdir, sizeof bgdir, "%s/bg", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    tu_run mk = tu_sh("mkdir -p %s", bgdir);
    tu_run_free(&mk);
    static const int greys[1] = {30};
    write_grey_frames(bgdir, greys, 1, 200, 160);
    usg_sim_params p = over_params();
    usg_probe pr;
    usg_probe_default(&pr);
    pr.spacing_x_mm = pr.spacing_y_mm = 0.1;
    usg_probe curv = pr, down = pr, oblong = pr, big = pr;
    curv.geometry = USG_GEOM_CURVILINEAR;
    snprintf(down.orientation, sizeof down.orientation, "MN");
    oblong.spacing_y_mm = 0.2;
    big.has_clip = 1;
    big.clip_w = 300;
    big.clip_h = 160;
    const struct { const usg_probe *pr; const char *bg, *msg; } cases[] = {
        {&curv, NULL, "linear-probe images only"},
        {&down, NULL, "transducer at the top"},
        {&oblong, NULL, "square pixels"},
        {&big, NULL, "frame 0"},
        {&pr, "/nonexistent/rec.mha", "/nonexistent/rec.mha"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *bg = cases[i].bg ? cases[i].bg : bgdir;
        usg_status st = usg_sim_write_over(&p, bg, cases[i].pr, out, NULL, NULL);
        cr_assert_neq(st, USG_OK, "case %zu accepted", i);
        cr_assert(strstr(usg_last_error(), cases[i].msg), "case %zu: '%s' lacks '%s'", i, usg_last_error(), cases[i].msg);
        if (!cases[i].bg) cr_assert(strstr(usg_last_error(), bgdir), "case %zu: '%s' does not name the input", i, usg_last_error());
    }
}

/* A needle 3 deg from the horizontal (the shallowest the needle stage is
 * asked to find) is drawn at that angle (the probe held still: its jitter
 * tilts the image); 2.9 deg is refused by name. */
Test(sim, needle_at_3_deg_from_the_horizontal) {
    usg_sim_params p = base_params();
    p.medium = USG_SIM_MEDIUM_TISSUE;
    p.seed = 63;
    p.jitter_mm = 0;
    p.needle_angle_deg = 3;
    rendered r = render(&p, p.frames - 1);
    const usg_needle *n = &r.truth->needle;
    cr_assert(n->found, "no needle on the last frame");
    double a = atan2(n->tip.y - n->entry.y, n->tip.x - n->entry.x) * 180.0 / M_PI;
    double from_level = fmin(fabs(a), 180.0 - fabs(a));
    cr_expect_float_eq(from_level, 3.0, 0.05, "axis %.2f deg from the horizontal", from_level);
    rendered_free(&r);
    p.needle_angle_deg = 2.9;
    usg_sim *s = NULL;
    cr_expect_neq(usg_sim_new(&p, &s), USG_OK, "2.9 deg accepted");
    cr_expect(strstr(usg_last_error(), "needle_angle_deg"), "%s", usg_last_error());
    usg_sim_free(s);
}
