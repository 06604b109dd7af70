/* test_bone.c - bone surface segmentation on synthetic B-mode images with
 * exact surfaces (bright cortex, shadow beneath, speckled tissue, a fascia
 * line without shadow as a distractor), linear and curvilinear, and on the
 * real PLUS recording against a hand annotation (tests/data/l14_cortex.txt). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "usg/bone.h"
#include "usg/denoise.h"
#include "usg/source.h"

/* ---- synthetic scene ---------------------------------------------------- */

typedef struct scene {
    int w, h;
    double cleft_x, gap;          /* cleft centre and width, px */
    double left_end_y, right_end_y;
    double left_slope, right_slope; /* rise (px per px) away from the cleft */
    int bones;                    /* 0: tissue only */
    int fan;                      /* 1: black outside the probe's fan */
    double lift, range;           /* display: grey = lift + range * grey (0, 1: as rendered) */
    unsigned seed;
    int needle;                   /* 1: a needle from (nx0, ny0) to its tip (nx1, ny1): a bright */
    double nx0, ny0, nx1, ny1;    /* thin line with a reverberation tail, tissue going on beneath */
    double layer;                 /* > 0: the speckle 3-60 px beneath the needle this times as bright ... */
    double layer_fade;            /* ... > 0: and darker with depth beneath it, by 1/e over this many px */
    double comb_px;               /* > 0: the needle's reverberation tail a comb of bright echoes this deep */
} scene;

static double lcg(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return ((*s >> 8) & 0xffffff) / 16777216.0;
}

/* Surface depth of the left (x <= cleft - gap/2) or right bone at x. */
static double surf_y(const scene *sc, double x, int *which) {
    double le = sc->cleft_x - sc->gap / 2, re = sc->cleft_x + sc->gap / 2;
    if (x <= le) { *which = 0; return sc->left_end_y - sc->left_slope * (le - x); }
    if (x >= re) { *which = 1; return sc->right_end_y - sc->right_slope * (x - re); }
    *which = -1;
    return 1e9;
}

/* The needle axis's depth at column x. */
static double needle_y(const scene *sc, double x) {
    return sc->ny0 + (x - sc->nx0) * (sc->ny1 - sc->ny0) / (sc->nx1 - sc->nx0);
}

/* Is (x, y) 3-60 px beneath the needle's axis, over its length? */
static int beneath_needle(const scene *sc, double x, double y) {
    if (x < fmin(sc->nx0, sc->nx1) || x > fmax(sc->nx0, sc->nx1)) return 0;
    double d = y - needle_y(sc, x);
    return d >= 3 && d <= 60;
}

/* The needle's echo at (x, y): its shaft (1.2 px sigma) and, beneath it along
 * the beam (down), a reverberation tail fading over ~5 px. */
static double needle_echo(const scene *sc, double x, double y) {
    double dx = sc->nx1 - sc->nx0, dy = sc->ny1 - sc->ny0, len = hypot(dx, dy);
    double t = ((x - sc->nx0) * dx + (y - sc->ny0) * dy) / (len * len);
    if (t < 0 || t > 1) return 0;
    double d = y - (sc->ny0 + (x - sc->nx0) * dy / dx); /* vertical offset below the axis */
    double v = 210 * exp(-0.5 * (d / 1.2) * (d / 1.2));
    if (sc->comb_px > 0) {
        if (d > 1.5 && d < sc->comb_px) v += 150 * (0.5 + 0.5 * cos(2 * M_PI * d / 3.0));
    } else if (d > 1.5 && d < 12) {
        v += 70 * exp(-(d - 1.5) / 5.0);
    }
    return v;
}

static void render(const scene *sc, const usg_probe *p, usg_image *img) {
    unsigned s = sc->seed * 7919u + 17u;
    for (int y = 0; y < sc->h; y++) {
        uint8_t *row = usg_image_row(img, y);
        for (int x = 0; x < sc->w; x++) {
            double u = lcg(&s);
            double v = 45.0 * sqrt(-2.0 * log(1.0 - 0.999 * u)) / 1.25; /* Rayleigh speckle, mean ~45 */
            if (sc->needle && sc->layer > 0 && beneath_needle(sc, x, y)) {
                v *= sc->layer;
                if (sc->layer_fade > 0) v *= exp(-(y - needle_y(sc, x) - 3) / sc->layer_fade);
            }
            double fascia = 70 + 8 * sin(x / 70.0);
            v += 150 * exp(-0.5 * pow((y - fascia) / 1.5, 2));
            if (sc->bones) {
                int which;
                double sy = surf_y(sc, x, &which);
                if (which >= 0) {
                    double d = y - sy;
                    v += 200 * exp(-0.5 * (d / 1.6) * (d / 1.6));
                    if (d > 3) v *= 0.12;
                }
            }
            if (sc->needle) v += needle_echo(sc, x, y);
            if (v > 255) v = 255;
            if (sc->range > 0) v = sc->lift + sc->range * v;
            if (sc->fan && !usg_probe_inside(p, x, y)) v = 0;
            row[x] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

static scene default_scene(void) {
    scene sc = {.w = 640, .h = 480, .cleft_x = 330, .gap = 22, .left_end_y = 330, .right_end_y = 320,
                .left_slope = 0.45, .right_slope = 0.55, .bones = 1, .fan = 0, .seed = 1};
    return sc;
}

static usg_probe linear_probe(double sp) {
    usg_probe p;
    usg_probe_default(&p);
    p.spacing_x_mm = p.spacing_y_mm = sp;
    p.geometry = USG_GEOM_LINEAR;
    return p;
}

/* Mean distance (px) of edge points to the true surface of bone `which`
 * (vertical distance, the surfaces are gentle), and coverage of the true
 * surface's columns inside the image that have an edge point within tol px. */
static void score_edge(const scene *sc, const usg_edge *e, int which, double tol,
                       double *mean_dist, double *coverage) {
    double sum = 0;
    for (int i = 0; i < e->n; i++) {
        int wh;
        double sy = surf_y(sc, e->pts[i].x, &wh);
        double d = wh == which ? fabs(e->pts[i].y - sy) : 1e3;
        sum += d;
    }
    *mean_dist = e->n ? sum / e->n : INFINITY;
    int n = 0, cov = 0;
    for (int x = 0; x < sc->w; x++) {
        int wh;
        double sy = surf_y(sc, x, &wh);
        if (wh != which || sy < 0 || sy >= sc->h) continue;
        n++;
        for (int i = 0; i < e->n; i++)
            if (hypot(e->pts[i].x - x, e->pts[i].y - sy) <= tol) { cov++; break; }
    }
    *coverage = n ? (double)cov / n : 0;
}

static void check_polyline(const usg_edge *e) {
    for (int i = 1; i < e->n; i++) {
        cr_assert(e->pts[i].x > e->pts[i - 1].x, "x not increasing at %d", i);
        double d = hypot(e->pts[i].x - e->pts[i - 1].x, e->pts[i].y - e->pts[i - 1].y);
        cr_assert(d <= 2.0 + 1e-9, "points %d and %d are %.2f px apart", i - 1, i, d);
    }
}

typedef struct run {
    usg_edge sacrum, ilium;
} run;

/* Run the detector over `frames` frames of the scene (seed + k); with
 * `needle`, it is told that needle before every frame. */
static run *detect_with(const scene *sc, const usg_probe *p, usg_side medial, int frames, const usg_needle *needle) {
    usg_bone_params bp = {.probe = p, .medial_side = medial};
    usg_bone_detector *d;
    cr_assert_eq(usg_bone_detector_new(&bp, sc->w, sc->h, &d), USG_OK, "%s", usg_last_error());
    usg_image img;
    cr_assert_eq(usg_image_alloc(&img, sc->w, sc->h), USG_OK);
    run *r = calloc(1, sizeof *r);
    scene s2 = *sc;
    for (int k = 0; k < frames; k++) {
        s2.seed = sc->seed + (unsigned)k;
        render(&s2, p, &img);
        if (needle) usg_bone_detector_set_needle(d, needle);
        cr_assert_eq(usg_bone_detector_process(d, &img, &r->sacrum, &r->ilium), USG_OK, "%s", usg_last_error());
    }
    usg_image_free(&img);
    usg_bone_detector_free(d);
    return r;
}

static run *detect(const scene *sc, const usg_probe *p, usg_side medial, int frames) {
    return detect_with(sc, p, medial, frames, NULL);
}

/* Both bones found, each within 0.3 mm of its true surface on average and
 * covering over 90 % of it (1 mm tolerance), at sp mm per pixel. */
static void expect_both_accurate(const scene *sc, const run *r, double sp) {
    cr_assert(r->sacrum.found && r->ilium.found, "sacrum %d, ilium %d", r->sacrum.found, r->ilium.found);
    double md, cov;
    score_edge(sc, &r->sacrum, 0, 1.0 / sp, &md, &cov);
    cr_expect(md * sp < 0.3 && cov > 0.9, "sacrum mean distance %.3f mm, coverage %.3f", md * sp, cov);
    score_edge(sc, &r->ilium, 1, 1.0 / sp, &md, &cov);
    cr_expect(md * sp < 0.3 && cov > 0.9, "ilium mean distance %.3f mm, coverage %.3f", md * sp, cov);
}

/* ---- tests ---------------------------------------------------------------- */

Test(bone, linear_v_both_edges_accurate_and_labelled_medial_left) {
    scene sc = default_scene();
    usg_probe p = linear_probe(0.15);
    run *r = detect(&sc, &p, USG_SIDE_LEFT, 1);
    cr_assert(r->sacrum.found && r->ilium.found);
    check_polyline(&r->sacrum);
    check_polyline(&r->ilium);
    expect_both_accurate(&sc, r, 0.15);
    free(r);
}

Test(bone, medial_right_swaps_the_labels) {
    scene sc = default_scene();
    usg_probe p = linear_probe(0.15);
    run *r = detect(&sc, &p, USG_SIDE_RIGHT, 1);
    cr_assert(r->sacrum.found && r->ilium.found);
    cr_expect(r->sacrum.pts[0].x > sc.cleft_x, "sacrum starts at x %.1f", r->sacrum.pts[0].x);
    cr_expect(r->ilium.pts[r->ilium.n - 1].x < sc.cleft_x);
    free(r);
}

Test(bone, auto_side_takes_the_shallower_bone_as_ilium) {
    scene sc = default_scene();
    usg_probe p = linear_probe(0.15);
    /* right bone shallower overall: ilium on the right, sacrum left */
    sc.left_slope = 0.25; sc.right_slope = 0.6;
    run *r = detect(&sc, &p, USG_SIDE_AUTO, 3);
    cr_assert(r->sacrum.found && r->ilium.found);
    cr_expect(r->sacrum.pts[0].x < sc.cleft_x);
    free(r);
    /* left bone shallower: ilium on the left */
    sc.left_slope = 0.6; sc.right_slope = 0.25;
    r = detect(&sc, &p, USG_SIDE_AUTO, 3);
    cr_assert(r->sacrum.found && r->ilium.found);
    cr_expect(r->sacrum.pts[0].x > sc.cleft_x, "sacrum starts at x %.1f", r->sacrum.pts[0].x);
    free(r);
}

Test(bone, auto_side_uses_the_steeper_rise_when_depths_match) {
    /* The steeper bone lies 1.5 mm deeper on average over the first 25 mm from
     * the cleft (its end is deeper by the difference in rise, plus 10 px): the
     * depth alone would take it for the sacrum; the steeper rise makes it the ilium. */
    scene sc = default_scene();
    usg_probe p = linear_probe(0.15);
    double half = 0.5 * 25.0 / 0.15; /* mean distance of the compared points, px */
    sc.left_slope = 0.15; sc.right_slope = 0.5;
    sc.left_end_y = 300; sc.right_end_y = 310 + (sc.right_slope - sc.left_slope) * half;
    run *r = detect(&sc, &p, USG_SIDE_AUTO, 3);
    cr_assert(r->sacrum.found && r->ilium.found);
    cr_expect(r->sacrum.pts[0].x < sc.cleft_x, "steeper right bone: sacrum starts at x %.1f", r->sacrum.pts[0].x);
    free(r);
    sc.left_slope = 0.5; sc.right_slope = 0.15;
    sc.right_end_y = 300; sc.left_end_y = 310 + (sc.left_slope - sc.right_slope) * half;
    r = detect(&sc, &p, USG_SIDE_AUTO, 3);
    cr_assert(r->sacrum.found && r->ilium.found);
    cr_expect(r->sacrum.pts[0].x > sc.cleft_x, "steeper left bone: sacrum starts at x %.1f", r->sacrum.pts[0].x);
    free(r);
}

/* The two bones' facing ends 14 mm apart (15 mm between the ends of the
 * surfaces the detector follows; on a curvilinear probe the ilium's steep
 * wall down into the cleft, beyond the steepest surface followed, is not part
 * of its surface, and its end seen lies that much farther from the sacrum's):
 * both are reported, each in its place. A build that paired only ends within
 * 12 mm reported the larger bone alone, and the needle stage took the other
 * cortex, unreported, for a needle. */
Test(bone, bones_whose_ends_lie_14_mm_apart_are_both_reported) {
    scene sc = default_scene();
    usg_probe p = linear_probe(0.15);
    sc.gap = sqrt(pow(14.0 / 0.15, 2) - pow(sc.left_end_y - sc.right_end_y, 2));
    sc.cleft_x = 360;
    run *r = detect(&sc, &p, USG_SIDE_LEFT, 1);
    expect_both_accurate(&sc, r, 0.15);
    free(r);
}

/* A surface 12 mm long whose end lies 14 mm from a bone's is not taken for
 * the other bone (both must span 15 mm that far apart; the soft-tissue lines
 * that far from a bone span 3-10 mm): the bone is reported alone, nothing on
 * the short surface's side. (Within 12 mm the same surface is paired.) */
Test(bone, a_short_surface_14_mm_from_a_bone_is_not_its_partner) {
    scene sc = default_scene();
    usg_probe p = linear_probe(0.15);
    sc.gap = sqrt(pow(14.0 / 0.15, 2) - pow(sc.left_end_y - sc.right_end_y, 2));
    sc.cleft_x = 12.0 / 0.15 + sc.gap / 2; /* the left surface: x 0..80 px */
    run *r = detect(&sc, &p, USG_SIDE_LEFT, 1);
    const usg_edge *e[2] = {&r->sacrum, &r->ilium};
    int found = 0;
    for (int i = 0; i < 2; i++) {
        if (!e[i]->found) continue;
        found++;
        cr_expect(e[i]->pts[0].x > sc.cleft_x, "an edge from x %.1f: the short surface was reported", e[i]->pts[0].x);
    }
    cr_expect_eq(found, 1, "%d surfaces reported", found);
    free(r);
}

/* A scanner's gain adds a constant to the log-compressed grey levels and its
 * display range scales them: the noise floor in the shadow lifted to grey 64,
 * the cortex at 244 (the ratio of shadow to cortex greys, 0.26, is no shadow
 * by grey ratio alone). The surfaces are found as accurately; tissue with
 * only a fascia still shows no bone. */
Test(bone, lifted_display_floor_and_narrower_range) {
    scene sc = default_scene();
    sc.lift = 60;
    sc.range = 0.75;
    usg_probe p = linear_probe(0.15);
    run *r = detect(&sc, &p, USG_SIDE_LEFT, 1);
    expect_both_accurate(&sc, r, 0.15);
    free(r);
    sc.bones = 0;
    r = detect(&sc, &p, USG_SIDE_LEFT, 1);
    cr_expect(!r->sacrum.found && !r->ilium.found, "tissue only: sacrum %d, ilium %d", r->sacrum.found, r->ilium.found);
    free(r);
}

Test(bone, tissue_without_bone_finds_nothing) {
    scene sc = default_scene();
    sc.bones = 0;
    usg_probe p = linear_probe(0.15);
    for (unsigned seed = 1; seed <= 3; seed++) {
        sc.seed = seed;
        run *r = detect(&sc, &p, USG_SIDE_LEFT, 1);
        cr_expect(!r->sacrum.found && r->sacrum.n == 0, "seed %u: sacrum with %d points", seed, r->sacrum.n);
        cr_expect(!r->ilium.found && r->ilium.n == 0, "seed %u: ilium with %d points", seed, r->ilium.n);
        free(r);
    }
}

/* A needle in tissue with no bone: so much brighter than the speckle beneath
 * it that it passes for a shadowed surface; told where the needle was, the
 * detector drops it (tissue, not shadow, beneath). */
Test(bone, a_needle_it_is_told_of_is_not_bone) {
    scene sc = default_scene();
    sc.bones = 0;
    sc.needle = 1;
    sc.nx0 = 639; sc.ny0 = 150; sc.nx1 = 300; sc.ny1 = 270; /* 19 deg from the right */
    usg_probe p = linear_probe(0.15);
    usg_needle nd = {.found = 1, .entry = {639, 150}, .tip = {300, 270}};
    int untold = 0;
    for (unsigned seed = 1; seed <= 3; seed++) {
        sc.seed = seed;
        run *r = detect(&sc, &p, USG_SIDE_LEFT, 3);
        untold += r->sacrum.found || r->ilium.found;
        free(r);
        r = detect_with(&sc, &p, USG_SIDE_LEFT, 3, &nd);
        cr_expect(!r->sacrum.found && !r->ilium.found, "seed %u: told of the needle, still a bone: sacrum %d, ilium %d points",
                  seed, r->sacrum.n, r->ilium.n);
        free(r);
    }
    cr_expect(untold > 0, "the needle passed for bone in no seed: this test checks nothing");
}

/* Edge points of e over the needle a-b but its last `short_px` to b, from
 * `above_px` above its axis to `below_px` beneath it (px, across the axis). */
static int points_near_needle(const usg_edge *e, usg_point a, usg_point b, double short_px, double above_px,
                              double below_px) {
    double L = hypot(b.x - a.x, b.y - a.y), ux = (b.x - a.x) / L, uy = (b.y - a.y) / L;
    double nx = ux >= 0 ? -uy : uy, ny = ux >= 0 ? ux : -ux; /* the normal pointing deeper */
    int n = 0;
    for (int i = 0; i < e->n; i++) {
        double rx = e->pts[i].x - a.x, ry = e->pts[i].y - a.y, along = rx * ux + ry * uy, off = rx * nx + ry * ny;
        n += along >= 0 && along <= L - short_px && off >= -above_px && off <= below_px;
    }
    return n;
}

/* The needle scene sc (a needle from the right at 21 deg, no bone), seeds
 * 1-3, 3 frames each: told of the needle, the detector leaves no edge point
 * from above_px over its axis to below_px beneath it (but for the last 20 px
 * before its tip); untold, some seed has them (else nothing was checked). */
static void expect_kept_off_needle(scene sc, double above_px, double below_px) {
    sc.bones = 0;
    sc.needle = 1;
    sc.nx0 = 639; sc.ny0 = 120; sc.nx1 = 300; sc.ny1 = 250;
    usg_probe p = linear_probe(0.15);
    usg_needle nd = {.found = 1, .entry = {639, 120}, .tip = {300, 250}};
    int untold = 0;
    for (unsigned seed = 1; seed <= 3; seed++) {
        sc.seed = seed;
        run *r = detect(&sc, &p, USG_SIDE_LEFT, 3);
        untold += points_near_needle(&r->sacrum, nd.entry, nd.tip, 20, above_px, below_px) +
                      points_near_needle(&r->ilium, nd.entry, nd.tip, 20, above_px, below_px) > 0;
        free(r);
        r = detect_with(&sc, &p, USG_SIDE_LEFT, 3, &nd);
        int on = points_near_needle(&r->sacrum, nd.entry, nd.tip, 20, above_px, below_px) +
                 points_near_needle(&r->ilium, nd.entry, nd.tip, 20, above_px, below_px);
        cr_expect(on == 0, "seed %u: told of the needle, %d edge points still along it (sacrum %d, ilium %d points)", seed,
                  on, r->sacrum.n, r->ilium.n);
        free(r);
    }
    cr_expect(untold > 0, "the path kept off the needle in every seed untold: this test checks nothing");
}

/* A needle over a darker layer (the speckle beneath it at 0.45 of the tissue
 * above, as a muscle under a fascia) in tissue with no bone passes for a
 * shadowed cortex. Told where the needle was, the detector keeps off it (its
 * evidence cleared but for the last 3 mm before its tip): no surface within
 * 1 mm of it. */
Test(bone, a_needle_over_darker_tissue_is_not_bone) {
    scene sc = default_scene();
    sc.layer = 0.45;
    expect_kept_off_needle(sc, 1.0 / 0.15, 1.0 / 0.15);
}

/* A needle with a reverberation tail of bright echoes 1.8 mm deep, over
 * tissue that darkens with depth beneath it (0.45 of the grey above just
 * beneath, falling by 1/e over 6 mm: a deep field that fades): the bone
 * evidence lies at the tail's lower end, where the beam beneath falls deeper
 * into that tissue than beneath the needle's axis (a partial shadow there, a
 * darker one beneath the tail). Told where the needle was, the detector keeps
 * off its echo and its tail: no surface from 1 mm above its axis to 2 mm
 * beneath it. */
Test(bone, a_needle_over_fading_tissue_is_not_bone_down_its_flank) {
    scene sc = default_scene();
    sc.layer = 0.45;
    sc.layer_fade = 40;
    sc.comb_px = 12;
    expect_kept_off_needle(sc, 1.0 / 0.15, 2.0 / 0.15);
}

/* A "needle" lying along a cortex (a line drawn on the right bone's surface)
 * does not remove the cortex: the shadow beneath it is bone's. */
Test(bone, a_needle_along_a_shadowed_cortex_keeps_the_cortex) {
    scene sc = default_scene();
    usg_probe p = linear_probe(0.15);
    int w;
    double x0 = sc.cleft_x + sc.gap / 2 + 4, x1 = 620;
    usg_needle nd = {.found = 1, .entry = {x1, surf_y(&sc, x1, &w)}, .tip = {x0, surf_y(&sc, x0, &w)}};
    run *r = detect_with(&sc, &p, USG_SIDE_LEFT, 3, &nd);
    double md, cov;
    score_edge(&sc, &r->ilium, 1, 3.0, &md, &cov);
    cr_expect(r->ilium.found && md < 1.5 && cov > 0.9, "ilium: found %d, mean %.2f px, coverage %.2f", r->ilium.found, md, cov);
    free(r);
}

Test(bone, curvilinear_fan) {
    scene sc = default_scene();
    sc.fan = 1;
    usg_probe p = linear_probe(0.2);
    p.geometry = USG_GEOM_CURVILINEAR;
    p.apex_x = 320; p.apex_y = -150; p.radius_inner = 150; p.radius_outer = 620;
    p.angle_start_deg = -30; p.angle_end_deg = 30;
    run *r = detect(&sc, &p, USG_SIDE_LEFT, 1);
    cr_assert(r->sacrum.found && r->ilium.found);
    check_polyline(&r->sacrum);
    check_polyline(&r->ilium);
    for (int i = 0; i < r->sacrum.n; i++)
        cr_assert(usg_probe_inside(&p, r->sacrum.pts[i].x, r->sacrum.pts[i].y), "point %d outside the fan", i);
    double md, cov;
    score_edge(&sc, &r->sacrum, 0, 1.0 / 0.2, &md, &cov);
    cr_expect(md * 0.2 < 0.4, "sacrum mean distance %.3f mm", md * 0.2);
    score_edge(&sc, &r->ilium, 1, 1.0 / 0.2, &md, &cov);
    cr_expect(md * 0.2 < 0.4, "ilium mean distance %.3f mm", md * 0.2);
    free(r);
}

Test(bone, labels_stay_put_over_a_noisy_sequence) {
    scene sc = default_scene();
    usg_probe p = linear_probe(0.15);
    usg_bone_params bp = {.probe = &p, .medial_side = USG_SIDE_AUTO};
    usg_bone_detector *d;
    cr_assert_eq(usg_bone_detector_new(&bp, sc.w, sc.h, &d), USG_OK);
    usg_image img;
    usg_image_alloc(&img, sc.w, sc.h);
    usg_edge *s = calloc(1, sizeof *s), *il = calloc(1, sizeof *il);
    for (int k = 0; k < 12; k++) {
        sc.seed = 100 + (unsigned)k;
        sc.cleft_x = 330 + 3 * sin(k * 0.7); /* probe jitter */
        render(&sc, &p, &img);
        cr_assert_eq(usg_bone_detector_process(d, &img, s, il), USG_OK);
        cr_expect(s->found && il->found, "frame %d", k);
        cr_expect(s->found && s->pts[s->n - 1].x < sc.cleft_x, "frame %d: sacrum swapped", k);
    }
    usg_image_free(&img);
    usg_bone_detector_free(d);
    free(s); free(il);
}

Test(bone, rejects_a_wrong_image_size) {
    usg_probe p = linear_probe(0.15);
    usg_bone_params bp = {.probe = &p, .medial_side = USG_SIDE_LEFT};
    usg_bone_detector *d;
    cr_assert_eq(usg_bone_detector_new(&bp, 640, 480, &d), USG_OK);
    usg_image img;
    usg_image_alloc(&img, 320, 240);
    usg_edge *s = calloc(1, sizeof *s), *il = calloc(1, sizeof *il);
    cr_expect_eq(usg_bone_detector_process(d, &img, s, il), USG_ERR_ARG);
    cr_expect_str_eq(usg_last_error(), "bone: image is 320x240, the detector was made for 640x480");
    usg_image_free(&img);
    usg_bone_detector_free(d);
    free(s); free(il);
    usg_probe nosp;
    usg_probe_default(&nosp);
    cr_expect_eq(usg_bone_detector_new(&(usg_bone_params){.probe = &nosp}, 640, 480, &d), USG_ERR_ARG);
}

/* ---- real tissue: BoneUltrasound_L14 against the hand annotation ---------- */

#define L14_MAX_PTS 256
typedef struct l14_annot {
    int frame[8], n[8], frames;
    usg_point pts[8][L14_MAX_PTS];
} l14_annot;

static void load_annotation(l14_annot *a) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/l14_cortex.txt", USG_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    memset(a, 0, sizeof *a);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        int k;
        double x, y;
        if (line[0] == '#' || sscanf(line, "%d %lf %lf", &k, &x, &y) != 3) continue;
        int i = 0;
        while (i < a->frames && a->frame[i] != k) i++;
        if (i == a->frames) { cr_assert(a->frames < 8); a->frame[a->frames++] = k; }
        cr_assert(a->n[i] < L14_MAX_PTS);
        a->pts[i][a->n[i]++] = (usg_point){x, y};
    }
    fclose(f);
    cr_assert_geq(a->frames, 5, "annotation covers %d frames", a->frames);
}

static double dist_to_polyline(usg_point p, const usg_point *q, int n) {
    double best = INFINITY;
    for (int i = 0; i + 1 < n; i++) {
        double dx = q[i + 1].x - q[i].x, dy = q[i + 1].y - q[i].y, l2 = dx * dx + dy * dy;
        double t = l2 > 0 ? ((p.x - q[i].x) * dx + (p.y - q[i].y) * dy) / l2 : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double d = hypot(p.x - q[i].x - t * dx, p.y - q[i].y - t * dy);
        if (d < best) best = d;
    }
    return best;
}

Test(bone, real_l14_cortex_matches_the_hand_annotation, .timeout = 120) {
    if (!tu_have_shared()) cr_skip_test("shared recordings not present");
    l14_annot *an = malloc(sizeof *an);
    load_annotation(an);
    char ini[1024];
    snprintf(ini, sizeof ini, "%s/probes/plus_bone_l14.ini", USG_SOURCE_DIR);
    usg_probe p;
    cr_assert_eq(usg_probe_load(ini, &p), USG_OK, "%s", usg_last_error());
    usg_source *src;
    cr_assert_eq(usg_source_open(tu_shared("BoneUltrasound_L14.igs.mha"), NULL, &src), USG_OK, "%s", usg_last_error());
    usg_bone_detector *d = NULL;
    usg_denoiser *dn = NULL;
    usg_image den = {0};
    usg_edge *e[2] = {calloc(1, sizeof(usg_edge)), calloc(1, sizeof(usg_edge))};
    const double sp = usg_probe_spacing(&p);
    double sum = 0;
    int npts = 0, covered = 0, ann = 0, seen = 0;
    usg_frame fr;
    while (usg_source_next(src, &fr) == USG_OK) {
        usg_image v = usg_probe_clip_view(&p, &fr.image);
        if (!d) {
            usg_bone_params bp = {.probe = &p, .medial_side = p.medial_side};
            cr_assert_eq(usg_bone_detector_new(&bp, v.width, v.height, &d), USG_OK, "%s", usg_last_error());
            cr_assert_eq(usg_denoiser_new(usg_denoise_default(), v.width, v.height, &dn), USG_OK);
            cr_assert_eq(usg_image_alloc(&den, v.width, v.height), USG_OK);
        }
        cr_assert_eq(usg_denoiser_process(dn, &v, &den), USG_OK, "%s", usg_last_error());
        cr_assert_eq(usg_bone_detector_process(d, &den, e[0], e[1]), USG_OK, "%s", usg_last_error());
        int a = 0;
        while (a < an->frames && an->frame[a] != fr.index) a++;
        if (a == an->frames) continue;
        seen++;
        const usg_point *q = an->pts[a];
        int nq = an->n[a];
        cr_expect(e[0]->found || e[1]->found, "frame %d: no bone found", fr.index);
        /* every reported bone point, in full-frame pixels, against the annotation */
        for (int b = 0; b < 2; b++) {
            for (int i = 0; i < e[b]->n; i++) {
                usg_point pt = {e[b]->pts[i].x + p.clip_x, e[b]->pts[i].y + p.clip_y};
                sum += dist_to_polyline(pt, q, nq) * sp;
                npts++;
            }
        }
        /* annotated points within 1 mm of a reported edge */
        for (int i = 0; i < nq; i++) {
            ann++;
            for (int b = 0; b < 2; b++) {
                usg_point shifted[USG_EDGE_MAX];
                int m = e[b]->n;
                for (int k = 0; k < m; k++) shifted[k] = (usg_point){e[b]->pts[k].x + p.clip_x, e[b]->pts[k].y + p.clip_y};
                if (m > 1 && dist_to_polyline(q[i], shifted, m) * sp <= 1.0) { covered++; break; }
            }
        }
    }
    cr_expect_eq(seen, an->frames, "annotated frames seen %d of %d", seen, an->frames);
    cr_assert_gt(npts, 0);
    double mean = sum / npts, cov = (double)covered / ann;
    cr_expect(mean <= 1.0, "mean distance to the annotated cortex %.3f mm (limit 1.0)", mean);
    cr_expect(cov >= 0.5, "annotated cortex covered %.2f (limit 0.5)", cov);
    fprintf(stderr, "L14: mean distance %.3f mm over %d points, coverage %.2f of %d annotated points\n",
            mean, npts, cov, ann);
    usg_source_close(src);
    usg_bone_detector_free(d);
    usg_denoiser_free(dn);
    usg_image_free(&den);
    free(e[0]); free(e[1]); free(an);
}
