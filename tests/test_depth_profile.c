/* test_depth_profile.c - the tissue's grey by depth and its falloff (src/depth_profile.c). */
#include <criterion/criterion.h>
#include <math.h>

#include "depth_profile.h"

/* A profile of 1 mm bands down to 60 mm, each band's samples all of grey g(depth). */
static void fill(usg_depth_profile *p, double (*g)(double)) {
    cr_assert_eq(usg_depth_profile_init(p, 60.0, 1.0), USG_OK);
    usg_depth_profile_clear(p);
    for (double z = 0.25; z < 60.0; z += 0.5) {
        for (int k = 0; k < 20; k++) usg_depth_profile_add(p, z, (int)lrint(g(z)));
    }
    usg_depth_profile_finish(p, 2.0);
}

static double flat(double z) { (void)z; return 120.0; }
static double falling(double z) { return 200.0 - 5.0 * z; }               /* 5 grey per mm all the way down */
static double shadowed(double z) { return z < 30.0 ? 120.0 : 30.0; }      /* a cortex across the frame at 30 mm */
static double near_bright(double z) { return z < 8.0 ? 220.0 : 120.0; }  /* a bright near field over flat tissue */

Test(depth_profile, flat_tissue_leaves_the_beam_beneath_as_it_is) {
    usg_depth_profile p;
    fill(&p, flat);
    cr_expect_float_eq(p.grey[20], 120.0, 1e-9);
    cr_expect_float_eq(usg_depth_profile_falloff(&p, 25.0, 4.0, 4.0, 0.4), 1.0, 1e-9);
    usg_depth_profile_free(&p);
}

Test(depth_profile, a_steady_falloff_is_read_from_the_profile) {
    usg_depth_profile p;
    fill(&p, falling);
    /* at 20 mm: 4 mm above (band 16: ~117.5) and beneath (band 24: ~77.5) */
    double f = usg_depth_profile_falloff(&p, 20.0, 4.0, 4.0, 0.1);
    cr_expect(fabs(f - 77.5 / 117.5) < 0.02, "falloff %.3f, want %.3f", f, 77.5 / 117.5);
    /* never below the floor it is given */
    cr_expect_float_eq(usg_depth_profile_falloff(&p, 20.0, 4.0, 4.0, 0.8), 0.8, 1e-9);
    usg_depth_profile_free(&p);
}

Test(depth_profile, a_shadow_across_the_frame_is_no_falloff) {
    usg_depth_profile p;
    fill(&p, shadowed);
    /* the profile beneath is dark, but the tissue above does not fall off */
    cr_expect_float_eq(usg_depth_profile_falloff(&p, 29.0, 4.0, 4.0, 0.4), 1.0, 1e-9);
    usg_depth_profile_free(&p);
}

Test(depth_profile, no_room_above_for_the_trend_is_no_falloff) {
    usg_depth_profile p;
    fill(&p, near_bright);
    /* at 10 mm the trend would reach above the skin: the bright near field says nothing */
    cr_expect_float_eq(usg_depth_profile_falloff(&p, 10.0, 4.0, 4.0, 0.4), 1.0, 1e-9);
    usg_depth_profile_free(&p);
}

Test(depth_profile, black_is_not_tissue) {
    usg_depth_profile p;
    cr_assert_eq(usg_depth_profile_init(&p, 10.0, 1.0), USG_OK);
    usg_depth_profile_clear(&p);
    for (int k = 0; k < 30; k++) usg_depth_profile_add(&p, 5.5, 4);   /* black: shadow or the display floor */
    for (int k = 0; k < 10; k++) usg_depth_profile_add(&p, 5.5, 90);
    usg_depth_profile_finish(&p, 0.0);
    cr_expect_float_eq(p.grey[5], 90.0, 1e-9);
    cr_expect_float_eq(p.grey[4], 0.0, 1e-9, "a band with no tissue has no grey");
    usg_depth_profile_free(&p);
}

Test(depth_profile, impossible_sizes_are_refused) {
    usg_depth_profile p;
    cr_expect_eq(usg_depth_profile_init(&p, 0.0, 1.0), USG_ERR_ARG);
    cr_expect_eq(usg_depth_profile_init(&p, 50.0, -1.0), USG_ERR_ARG);
}
