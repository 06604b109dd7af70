/* test_pipeline.c - the pipeline's frame handling: clip offsets, the PLUS
 * near-side-down orientation, frame size checks, degradation levels. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "usg/pipeline.h"
#include "usg/sim.h"

/* A simulated SIJ sequence with a needle (seed 3); tests run its last frames. */
typedef struct scene {
    usg_sim *sim;
    usg_image frame;
    usg_probe probe;
    usg_result *truth;
} scene;

#define SCENE_FRAMES 31
#define SCENE_RUN 6 /* frames fed before the compared one: time for the tracker to lock */

static void make_scene(scene *s, int frame_ui) {
    usg_sim_params p;
    usg_sim_params_default(&p);
    p.seed = 3;
    p.frames = SCENE_FRAMES;
    p.frame_ui = frame_ui;
    cr_assert_eq(usg_sim_new(&p, &s->sim), USG_OK, "%s", usg_last_error());
    memset(&s->frame, 0, sizeof s->frame);
    cr_assert_eq(usg_sim_frame_alloc(s->sim, &s->frame), USG_OK);
    s->truth = malloc(sizeof *s->truth);
    usg_sim_probe(s->sim, &s->probe);
}

static void free_scene(scene *s) {
    usg_image_free(&s->frame);
    usg_sim_free(s->sim);
    free(s->truth);
}

static void flip_rows(const usg_image *in, usg_image *out) {
    for (int y = 0; y < in->height; y++) memcpy(usg_image_row(out, in->height - 1 - y), usg_image_row(in, y), in->width);
}

/* Run the last SCENE_RUN frames through a fresh pipeline (frames flipped
 * vertically when `flip`); *res holds the last frame's result. */
static void run(scene *s, const usg_probe *probe, int flip, usg_result *res) {
    usg_pipeline_params pp;
    memset(&pp, 0, sizeof pp);
    pp.probe = *probe;
    pp.denoise = usg_denoise_default();
    pp.medial_side = probe->medial_side;
    usg_pipeline *pl;
    cr_assert_eq(usg_pipeline_new(&pp, s->frame.width, s->frame.height, &pl), USG_OK, "%s", usg_last_error());
    usg_image flipped;
    cr_assert_eq(usg_image_alloc(&flipped, s->frame.width, s->frame.height), USG_OK);
    for (int k = SCENE_FRAMES - SCENE_RUN; k < SCENE_FRAMES; k++) {
        cr_assert_eq(usg_sim_render(s->sim, k, &s->frame, s->truth), USG_OK);
        if (flip) flip_rows(&s->frame, &flipped);
        usg_result_reset(res, k, 0);
        cr_assert_eq(usg_pipeline_process(pl, flip ? &flipped : &s->frame, res), USG_OK, "%s", usg_last_error());
    }
    usg_image_free(&flipped);
    usg_pipeline_free(pl);
}

Test(pipeline, near_side_down_orientation_mirrors_every_output) {
    scene s;
    make_scene(&s, 0);
    usg_result *up = malloc(sizeof *up), *down = malloc(sizeof *down);
    run(&s, &s.probe, 0, up);
    cr_assert(up->needle.found && up->sacrum.found && up->ilium.found && up->target.found,
              "the scene must exercise every stage");
    usg_probe mn = s.probe;
    strcpy(mn.orientation, "MN");
    run(&s, &mn, 1, down);
    double H = s.frame.height - 1;
    cr_assert(down->needle.found);
    cr_expect_float_eq(down->needle.tip.x, up->needle.tip.x, 1e-9);
    cr_expect_float_eq(down->needle.tip.y, H - up->needle.tip.y, 1e-9);
    cr_expect_float_eq(down->needle.entry.y, H - up->needle.entry.y, 1e-9);
    cr_expect_float_eq(remainder(down->needle.angle_deg + up->needle.angle_deg, 180.0), 0.0, 1e-6,
                       "angles %g and %g must mirror", down->needle.angle_deg, up->needle.angle_deg);
    cr_assert_eq(down->sacrum.n, up->sacrum.n);
    for (int i = 0; i < up->sacrum.n; i++) {
        cr_expect_float_eq(down->sacrum.pts[i].x, up->sacrum.pts[i].x, 1e-9);
        cr_expect_float_eq(down->sacrum.pts[i].y, H - up->sacrum.pts[i].y, 1e-9);
    }
    cr_expect_float_eq(down->target.point.y, H - up->target.point.y, 1e-9);
    cr_expect_float_eq(down->target.tip_distance_mm, up->target.tip_distance_mm, 1e-9);
    /* depth below the transducer is the same number either way */
    cr_expect_float_eq(usg_probe_depth_mm(&mn, s.frame.width, s.frame.height, down->target.point.y),
                       usg_probe_depth_mm(&s.probe, s.frame.width, s.frame.height, up->target.point.y), 1e-9);
    free(up);
    free(down);
    free_scene(&s);
}

Test(pipeline, clip_offsets_results_into_frame_pixels) {
    scene a, b;
    make_scene(&a, 0);
    make_scene(&b, 1); /* the same image inside a grabbed screen, at the profile's clip */
    cr_assert(b.probe.has_clip);
    usg_result *ra = malloc(sizeof *ra), *rb = malloc(sizeof *rb);
    run(&a, &a.probe, 0, ra);
    run(&b, &b.probe, 0, rb);
    cr_assert(ra->needle.found && rb->needle.found);
    cr_expect_float_eq(rb->needle.tip.x, ra->needle.tip.x + b.probe.clip_x, 1e-9);
    cr_expect_float_eq(rb->needle.tip.y, ra->needle.tip.y + b.probe.clip_y, 1e-9);
    cr_assert_eq(rb->ilium.n, ra->ilium.n);
    cr_expect_float_eq(rb->ilium.pts[0].y, ra->ilium.pts[0].y + b.probe.clip_y, 1e-9);
    free(ra);
    free(rb);
    free_scene(&a);
    free_scene(&b);
}

Test(pipeline, a_frame_of_another_size_is_a_frame_error) {
    scene s;
    make_scene(&s, 0);
    cr_assert_eq(usg_sim_render(s.sim, SCENE_FRAMES - 1, &s.frame, s.truth), USG_OK);
    usg_pipeline_params pp;
    memset(&pp, 0, sizeof pp);
    pp.probe = s.probe;
    usg_pipeline *pl;
    cr_assert_eq(usg_pipeline_new(&pp, s.frame.width, s.frame.height, &pl), USG_OK);
    usg_image small = usg_image_view(&s.frame, 0, 0, s.frame.width - 2, s.frame.height);
    usg_result *r = malloc(sizeof *r);
    usg_result_reset(r, 0, 0);
    cr_expect_eq(usg_pipeline_process(pl, &small, r), USG_ERR_FRAME);
    cr_expect_str_eq(usg_last_error(), "frame is 638x480, the sequence started at 640x480");
    /* degraded to level 3, bones and target are reused from the last full frame */
    cr_assert_eq(usg_pipeline_process(pl, &s.frame, r), USG_OK);
    usg_point first = r->sacrum.pts[0];
    usg_pipeline_set_degrade(pl, USG_DEGRADE_NO_BONE);
    cr_assert_eq(usg_pipeline_process(pl, &s.frame, r), USG_OK);
    cr_expect_eq(r->degraded, 3);
    cr_expect(r->sacrum.found);
    cr_expect_float_eq(r->sacrum.pts[0].x, first.x, 1e-12);
    cr_expect_float_eq(r->latency.bone, 0.0, 0.01);
    free(r);
    usg_pipeline_free(pl);
    free_scene(&s);
}

/* Live mode: the full-frame needle search runs on a worker thread. Paced like a
 * device, the needle is picked up within a few frames of the synchronous
 * pipeline, at the same place, and never on a needle-free frame. */
Test(pipeline, async_needle_acquisition_matches_the_synchronous_tracker) {
    usg_sim_params p;
    usg_sim_params_default(&p);
    p.seed = 3;
    p.frames = 24;
    usg_sim *sim;
    cr_assert_eq(usg_sim_new(&p, &sim), USG_OK, "%s", usg_last_error());
    usg_image frame = {0};
    cr_assert_eq(usg_sim_frame_alloc(sim, &frame), USG_OK);
    usg_probe probe;
    usg_sim_probe(sim, &probe);
    usg_pipeline_params pp;
    memset(&pp, 0, sizeof pp);
    pp.probe = probe;
    pp.denoise = usg_denoise_default();
    pp.medial_side = probe.medial_side;
    usg_pipeline *sync_pl, *async_pl;
    cr_assert_eq(usg_pipeline_new(&pp, frame.width, frame.height, &sync_pl), USG_OK);
    pp.async_needle_acquisition = 1;
    cr_assert_eq(usg_pipeline_new(&pp, frame.width, frame.height, &async_pl), USG_OK, "%s", usg_last_error());
    usg_result *truth = malloc(sizeof *truth), *rs = malloc(sizeof *rs), *ra = malloc(sizeof *ra);
    int first_sync = -1, first_async = -1, both = 0;
    for (int i = 0; i < p.frames; i++) {
        cr_assert_eq(usg_sim_render(sim, i, &frame, truth), USG_OK);
        usg_result_reset(rs, i, 0);
        usg_result_reset(ra, i, 0);
        cr_assert_eq(usg_pipeline_process(sync_pl, &frame, rs), USG_OK);
        cr_assert_eq(usg_pipeline_process(async_pl, &frame, ra), USG_OK);
        if (!truth->needle.found) cr_expect(!ra->needle.found, "frame %d: a needle before it shows", i);
        if (rs->needle.found && first_sync < 0) first_sync = i;
        if (ra->needle.found && first_async < 0) first_async = i;
        if (rs->needle.found && ra->needle.found) {
            both++;
            cr_expect(hypot(ra->needle.tip.x - rs->needle.tip.x, ra->needle.tip.y - rs->needle.tip.y) < 2.0,
                      "frame %d: async tip (%g,%g) vs sync (%g,%g)", i, ra->needle.tip.x, ra->needle.tip.y,
                      rs->needle.tip.x, rs->needle.tip.y);
        }
        struct timespec pace = {0, 40 * 1000 * 1000}; /* 25 fps: time for the worker */
        nanosleep(&pace, NULL);
    }
    cr_expect(first_sync >= 0, "the synchronous pipeline finds the needle");
    cr_expect(first_async >= 0 && first_async <= first_sync + 3, "async first found at %d, sync at %d", first_async,
              first_sync);
    cr_expect(both >= p.frames - first_sync - 4, "%d frames with both", both);
    usg_pipeline_reset(async_pl); /* waits for the worker */
    usg_pipeline_free(async_pl);
    usg_pipeline_free(sync_pl);
    usg_image_free(&frame);
    usg_sim_free(sim);
    free(truth);
    free(rs);
    free(ra);
}
