/* test_pipeline.c - the pipeline's frame handling: clip offsets, the PLUS
 * near-side-down orientation, frame size checks, degradation levels. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "usg/pipeline.h"
#include "usg/sim.h"

typedef struct scene {
    usg_image frame;
    usg_probe probe;
    usg_result *truth;
} scene;

/* A simulated SIJ frame with a needle (frame 30 of seed 3). */
static void make_scene(scene *s, int frame_ui) {
    usg_sim_params p;
    usg_sim_params_default(&p);
    p.seed = 3;
    p.frames = 31;
    p.frame_ui = frame_ui;
    usg_sim *sim;
    cr_assert_eq(usg_sim_new(&p, &sim), USG_OK, "%s", usg_last_error());
    memset(&s->frame, 0, sizeof s->frame);
    cr_assert_eq(usg_sim_frame_alloc(sim, &s->frame), USG_OK);
    s->truth = malloc(sizeof *s->truth);
    cr_assert_eq(usg_sim_render(sim, 30, &s->frame, s->truth), USG_OK);
    usg_sim_probe(sim, &s->probe);
    usg_sim_free(sim);
}

static void free_scene(scene *s) {
    usg_image_free(&s->frame);
    free(s->truth);
}

static void run(const usg_probe *probe, const usg_image *frame, usg_result *res) {
    usg_pipeline_params pp;
    memset(&pp, 0, sizeof pp);
    pp.probe = *probe;
    pp.denoise = usg_denoise_default();
    pp.medial_side = probe->medial_side;
    usg_pipeline *pl;
    cr_assert_eq(usg_pipeline_new(&pp, frame->width, frame->height, &pl), USG_OK, "%s", usg_last_error());
    usg_result_reset(res, 0, 0);
    cr_assert_eq(usg_pipeline_process(pl, frame, res), USG_OK, "%s", usg_last_error());
    usg_pipeline_free(pl);
}

static void flip_rows(const usg_image *in, usg_image *out) {
    cr_assert_eq(usg_image_alloc(out, in->width, in->height), USG_OK);
    for (int y = 0; y < in->height; y++) memcpy(usg_image_row(out, in->height - 1 - y), usg_image_row(in, y), in->width);
}

Test(pipeline, near_side_down_orientation_mirrors_every_output) {
    scene s;
    make_scene(&s, 0);
    usg_result *up = malloc(sizeof *up), *down = malloc(sizeof *down);
    run(&s.probe, &s.frame, up);
    cr_assert(up->needle.found && up->sacrum.found && up->ilium.found && up->target.found,
              "the scene must exercise every stage");
    usg_image flipped;
    flip_rows(&s.frame, &flipped);
    usg_probe mn = s.probe;
    strcpy(mn.orientation, "MN");
    run(&mn, &flipped, down);
    double H = s.frame.height - 1;
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
    usg_image_free(&flipped);
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
    run(&a.probe, &a.frame, ra);
    run(&b.probe, &b.frame, rb);
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
