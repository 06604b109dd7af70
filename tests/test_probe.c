/* test_probe.c - probe profile parsing: values, defaults, file:line errors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "usg/probe.h"

static usg_status parse(const char *text, usg_probe *p) { return usg_probe_parse(text, "p.ini", p); }

static void expect_error(const char *text, const char *msg) {
    usg_probe p;
    cr_expect_neq(parse(text, &p), USG_OK, "accepted: %s", text);
    cr_expect_str_eq(usg_last_error(), msg);
}

Test(probe, curvilinear_profile_from_the_contract) {
    const char *text =
        "[probe]\nname = Generic C5-2 curvilinear\ngeometry = curvilinear        ; or linear\n"
        "spacing_mm = 0.15             ; mm per pixel\nclip = 60 40 640 480\norientation = MF\n"
        "medial_side = auto\n; fan\napex = 320 -120\nradius = 130 600\nangle = -35 35\n";
    usg_probe p;
    cr_assert_eq(parse(text, &p), USG_OK, "%s", usg_last_error());
    cr_expect_str_eq(p.name, "Generic C5-2 curvilinear");
    cr_expect_eq(p.geometry, USG_GEOM_CURVILINEAR);
    cr_expect_float_eq(p.spacing_x_mm, 0.15, 1e-12);
    cr_expect_float_eq(p.spacing_y_mm, 0.15, 1e-12);
    cr_expect(p.has_clip && p.clip_x == 60 && p.clip_y == 40 && p.clip_w == 640 && p.clip_h == 480);
    cr_expect_str_eq(p.orientation, "MF");
    cr_expect_eq(p.medial_side, USG_SIDE_AUTO);
    cr_expect_float_eq(p.apex_y, -120.0, 1e-12);
    cr_expect_float_eq(p.radius_outer, 600.0, 1e-12);
    cr_expect_float_eq(p.angle_start_deg, -35.0, 1e-12);
    /* fan membership: straight below the apex inside, outside the angle not */
    cr_expect(usg_probe_inside(&p, 320, 200));
    cr_expect(!usg_probe_inside(&p, 320, 0));   /* r = 120 < inner radius */
    cr_expect(!usg_probe_inside(&p, 0, 100));   /* angle about -58 degrees */
}

Test(probe, defaults_and_anisotropic_spacing) {
    usg_probe p;
    cr_assert_eq(parse("[probe]\ngeometry = linear\nspacing_x_mm = 0.1\nspacing_y_mm = 0.2\n", &p), USG_OK);
    cr_expect_str_eq(p.name, "p.ini");
    cr_expect(!p.has_clip);
    cr_expect_str_eq(p.orientation, "MF");
    cr_expect_float_eq(usg_probe_spacing(&p), 0.141421356, 1e-8);
    int x, y, w, h;
    usg_probe_clip_rect(&p, 640, 480, &x, &y, &w, &h);
    cr_expect(x == 0 && y == 0 && w == 640 && h == 480);
}

Test(probe, errors_name_file_line_and_key) {
    expect_error("[probe]\ngeometry = linear\nspacing_mm = 0.1\ncolour = red\n", "p.ini:4: unknown key 'colour' in [probe]");
    expect_error("[scanner]\ngeometry = linear\n", "p.ini:1: unknown section [scanner] (expected [probe])");
    expect_error("[probe]\ngeometry = phased\nspacing_mm = 0.1\n", "p.ini:2: geometry = phased: must be linear or curvilinear");
    expect_error("[probe]\ngeometry = linear\nspacing_mm = -0.1\n", "p.ini:3: spacing_mm = -0.1: must be > 0 and <= 100 mm per pixel");
    expect_error("[probe]\ngeometry = linear\nspacing_mm = abc\n", "p.ini:3: spacing_mm: 'abc' is not a number");
    expect_error("[probe]\ngeometry = linear\n", "p.ini: missing required key 'spacing_mm' in [probe]");
    expect_error("[probe]\nspacing_mm = 0.1\n", "p.ini: missing required key 'geometry' in [probe]");
    expect_error("[probe]\ngeometry = linear\nspacing_x_mm = 0.1\n", "p.ini: missing required key 'spacing_y_mm' (spacing_x_mm and spacing_y_mm go together)");
    expect_error("[probe]\ngeometry = curvilinear\nspacing_mm = 0.1\napex = 1 2\nangle = -30 30\n", "p.ini: missing required key 'radius' for a curvilinear probe");
    expect_error("[probe]\ngeometry = linear\nspacing_mm = 0.1\nclip = 1 2 3\n", "p.ini:4: clip = 1 2 3: expected 4 numbers: x y w h");
    expect_error("[probe]\ngeometry = linear\nspacing_mm = 0.1\nmedial_side = up\n", "p.ini:4: medial_side = up: must be left, right or auto");
    expect_error("[probe]\ngeometry = linear\nspacing_mm = 0.1\nangle = 30 -30\n", "p.ini:4: angle = 30 -30: need -89 <= start < end <= 89 degrees");
    expect_error("geometry = linear\n", "p.ini:1: key 'geometry' outside the [probe] section");
    expect_error("[probe]\ngeometry linear\n", "p.ini:2: expected 'key = value', got 'geometry linear'");
    expect_error("[probe]\ngeometry = linear\nspacing_mm = 0.1\norientation = XX\n", "p.ini:4: orientation = XX: expected M or U then F or N (PLUS: MF, MN, UF, UN)");
}

Test(probe, save_and_load_round_trip) {
    usg_probe a, b;
    cr_assert_eq(parse("[probe]\nname = rt\ngeometry = curvilinear\nspacing_mm = 0.25\nclip = 10 20 300 200\n"
                       "medial_side = right\napex = 150 -50\nradius = 60 260\nangle = -40 40\ndenoise = srad\n", &a), USG_OK);
    const char *dir = tu_scratch("probe_rt");
    char path[1100];
    snprintf(path, sizeof path, "%s/probe.ini", dir);
    cr_assert_eq(usg_probe_save(&a, path), USG_OK);
    cr_assert_eq(usg_probe_load(path, &b), USG_OK, "%s", usg_last_error());
    cr_expect_str_eq(b.name, "rt");
    cr_expect_eq(b.medial_side, USG_SIDE_RIGHT);
    cr_expect(b.clip_x == 10 && b.clip_y == 20 && b.clip_w == 300 && b.clip_h == 200);
    cr_expect_float_eq(b.radius_inner, 60.0, 1e-9);
    cr_expect_str_eq(b.denoise, "srad");
}

Test(probe, clip_must_fit_the_frame_and_views_share_data) {
    usg_probe p;
    cr_assert_eq(parse("[probe]\nname = small\ngeometry = linear\nspacing_mm = 0.1\nclip = 10 5 40 30\n", &p), USG_OK);
    cr_expect_eq(usg_probe_check_frame(&p, 50, 35), USG_OK);
    cr_expect_eq(usg_probe_check_frame(&p, 49, 35), USG_ERR_ARG);
    cr_expect_str_eq(usg_last_error(), "probe 'small': clip 10 5 40 30 does not fit the 49x35 frame");
    usg_image frame;
    cr_assert_eq(usg_image_alloc(&frame, 50, 35), USG_OK);
    usg_image v = usg_probe_clip_view(&p, &frame);
    cr_expect_eq(v.data, frame.data + 5 * 50 + 10);
    cr_expect(v.width == 40 && v.height == 30 && v.stride == 50);
    usg_image_free(&frame);
}

Test(probe, cli_reports_profile_errors_with_exit_2, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    const char *dir = tu_scratch("probe_cli");
    char path[1100];
    snprintf(path, sizeof path, "%s/bad.ini", dir);
    cr_assert_eq(tu_write_file(path, "[probe]\ngeometry = linear\nspacing_mm = 0\n", 41), 0);
    tu_run r = tu_sh("%s replay %s --probe %s --quiet", USGUIDE_BIN, tu_shared("Prostate10_video.igs.mhd"), path);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "bad.ini:3: spacing_mm = 0: must be > 0 and <= 100 mm per pixel") != NULL, "%s", r.err);
    tu_run_free(&r);
    /* a clip larger than the frame */
    r = tu_sh("%s replay %s --probe %s/probes/plus_bone_l14.ini --quiet", USGUIDE_BIN, tu_shared("Prostate10_video.igs.mhd"), USG_SOURCE_DIR);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "clip 176 0 467 616 does not fit the 640x480 frame") != NULL, "%s", r.err);
    tu_run_free(&r);
}

Test(probe, shipped_profiles_parse) {
    const char *names[] = {"generic_c5-2_sij.ini", "generic_linear.ini", "plus_bone_l14.ini", "plus_spine_phantom.ini",
                           "plus_ultrasonix_curvilinear.ini", "plus_prostate_video.ini"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/probes/%s", USG_SOURCE_DIR, names[i]);
        usg_probe p;
        cr_expect_eq(usg_probe_load(path, &p), USG_OK, "%s: %s", names[i], usg_last_error());
        cr_expect(p.spacing_x_mm > 0);
    }
}
