/* test_replay.c - usguide replay end to end: result lines, overlays, options, exit codes. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "usg/result.h"

static int count_files(const char *dir, const char *suffix) {
    tu_run r = tu_sh("ls '%s' | grep -c '%s$'", dir, suffix);
    int n = atoi(r.out);
    tu_run_free(&r);
    return n;
}

Test(replay, bone_recording_writes_21_lines_and_21_overlays, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    const char *dir = tu_scratch("replay_l14");
    tu_run r = tu_sh("cd '%s' && %s replay %s --probe %s/probes/plus_bone_l14.ini --results r.jsonl --overlay out/",
                     dir, USGUIDE_BIN, tu_shared("BoneUltrasound_L14.igs.mha"), USG_SOURCE_DIR);
    cr_expect_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "21 frames processed, 0 with errors") != NULL, "%s", r.err);
    char path[1100];
    snprintf(path, sizeof path, "%s/r.jsonl", dir);
    cr_expect_eq(tu_count_lines(path), 21);
    snprintf(path, sizeof path, "%s/out", dir);
    cr_expect_eq(count_files(path, ".png"), 21);
    /* every line parses, frames in order, latency present */
    snprintf(path, sizeof path, "%s/r.jsonl", dir);
    char *text = tu_read_file(path, NULL);
    usg_result *res = malloc(sizeof *res);
    int k = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), k++) {
        cr_assert_eq(usg_result_from_json(line, res), USG_OK, "line %d: %s", k, usg_last_error());
        cr_expect_eq(res->frame, k);
        cr_expect_eq(res->status, USG_FRAME_OK);
        cr_expect(res->has_latency && res->latency.total > 0);
        cr_expect(res->latency.overlay > 0, "overlay time is part of the latency");
    }
    free(res);
    free(text);
    tu_run_free(&r);
}

Test(replay, mhd_recording_gives_10_lines, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    tu_run r = tu_sh("%s replay %s --probe %s/probes/plus_prostate_video.ini --results - --quiet", USGUIDE_BIN,
                     tu_shared("Prostate10_video.igs.mhd"), USG_SOURCE_DIR);
    cr_expect_eq(r.status, 0, "%s", r.err);
    int lines = 0;
    for (char *p = r.out; *p; p++) lines += *p == '\n';
    cr_expect_eq(lines, 10);
    cr_expect(strncmp(r.out, "{\"frame\": 0, \"t_ms\": 0.000, \"status\": \"ok\"", 42) == 0, "%s", r.out);
    tu_run_free(&r);
}

Test(replay, frames_limit_and_video_overlay, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    const char *dir = tu_scratch("replay_video");
    tu_run r = tu_sh("cd '%s' && %s replay %s --probe %s/probes/plus_spine_phantom.ini --frames 4 --results r.jsonl "
                     "--overlay o.avi --quiet", dir, USGUIDE_BIN, tu_shared("SpinePhantomFreehand.igs.mha"), USG_SOURCE_DIR);
    cr_expect_eq(r.status, 0, "%s", r.err);
    char path[1100];
    snprintf(path, sizeof path, "%s/r.jsonl", dir);
    cr_expect_eq(tu_count_lines(path), 4);
    snprintf(path, sizeof path, "%s/o.avi", dir);
    struct stat st;
    cr_expect(stat(path, &st) == 0 && st.st_size > 10000, "o.avi written");
    tu_run_free(&r);
    /* and the video reads back as a source with 4 frames */
    r = tu_sh("%s replay %s/o.avi --probe %s/probes/plus_spine_phantom.ini --results - --quiet", USGUIDE_BIN, dir,
              USG_SOURCE_DIR);
    cr_expect_eq(r.status, 0, "%s", r.err);
    int lines = 0;
    for (char *p = r.out; *p; p++) lines += *p == '\n';
    cr_expect_eq(lines, 4);
    tu_run_free(&r);
}

Test(replay, png_folder_layouts_and_probe_lookup, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    const char *dir = tu_scratch("replay_folders");
    /* make a PNG sequence: the overlay of a recording */
    tu_run r = tu_sh("cd '%s' && %s replay %s --probe %s/probes/plus_prostate_video.ini --frames 3 --overlay pngs --quiet",
                     dir, USGUIDE_BIN, tu_shared("Prostate10_video.igs.mhd"), USG_SOURCE_DIR);
    cr_assert_eq(r.status, 0, "%s", r.err);
    tu_run_free(&r);
    /* no profile anywhere: exit 2 naming the input */
    r = tu_sh("cd '%s' && %s replay pngs --quiet", dir, USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "pngs: no probe profile: give --probe FILE or put probe.ini beside the input") != NULL, "%s", r.err);
    tu_run_free(&r);
    /* sequence layout: seq/probe.ini beside seq/frames/ (PNGs), given as seq or as seq/frames */
    r = tu_sh("cd '%s' && mkdir seq && mv pngs seq/frames && cp %s/probes/plus_prostate_video.ini seq/probe.ini && "
              "%s replay seq --results - --quiet && %s replay seq/frames --results - --quiet",
              dir, USG_SOURCE_DIR, USGUIDE_BIN, USGUIDE_BIN);
    cr_expect_eq(r.status, 0, "%s", r.err);
    int lines = 0;
    for (char *p = r.out; *p; p++) lines += *p == '\n';
    cr_expect_eq(lines, 6);
    tu_run_free(&r);
}

Test(replay, usage_errors_are_exit_2) {
    tu_run r = tu_sh("%s replay", USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "replay: expected exactly one INPUT") != NULL, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s replay x --pace slow", USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--pace slow: expected realtime or fast") != NULL, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s replay x --denoise wavelet", USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "unknown denoise method 'wavelet'") != NULL, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s replay x --frames 0", USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    tu_run_free(&r);
    r = tu_sh("%s replay x --threads 9", USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--threads 9: expected a whole number in 0..8") != NULL, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s bench --threads -1", USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--threads -1: expected 0..8") != NULL, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s frobnicate", USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "unknown command 'frobnicate'") != NULL, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s replay --help", USGUIDE_BIN);
    cr_expect_eq(r.status, 0);
    cr_expect(strstr(r.out, "--pace realtime|fast") != NULL);
    cr_expect(strstr(r.out, "--threads N") != NULL);
    tu_run_free(&r);
}

/* The full needle search on one thread or four: the same result lines but
 * for the measured latencies (a sample sequence with a needle; the replay's
 * first frames and every third frame of a weak track run the full search). */
Test(replay, search_threads_give_the_same_results) {
    const char *dir = tu_scratch("replay_threads");
    const char *seqs[] = {"curv_lateral", "curv_steep_faint", "linear_medial"};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        for (int th = 1; th <= 4; th += 3) {
            tu_run r = tu_sh("%s replay %s/sample_frames/%s --quiet --threads %d --results - | "
                             "sed 's/, \"latency_ms\": {[^}]*}//' > %s/%s_%d.jsonl",
                             USGUIDE_BIN, USG_SOURCE_DIR, seqs[i], th, dir, seqs[i], th);
            cr_assert_eq(r.status, 0, "%s --threads %d: %s", seqs[i], th, r.err);
            tu_run_free(&r);
        }
        tu_run d = tu_sh("cmp %s/%s_1.jsonl %s/%s_4.jsonl && grep -c '\"needle\": {\"found\": true' %s/%s_1.jsonl",
                         dir, seqs[i], dir, seqs[i], dir, seqs[i]);
        cr_expect_eq(d.status, 0, "%s: results differ between 1 and 4 threads: %s", seqs[i], d.out);
        cr_expect_geq(atoi(d.out), 20, "%s: a needle on %d frames only", seqs[i], atoi(d.out));
        tu_run_free(&d);
    }
}

Test(replay, output_folders_are_created, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    const char *dir = tu_scratch("replay_mkdirs");
    tu_run r = tu_sh("cd '%s' && %s replay %s --probe %s/probes/plus_prostate_video.ini --frames 2 "
                     "--results a/b/r.jsonl --overlay c/d --quiet", dir, USGUIDE_BIN,
                     tu_shared("Prostate10_video.igs.mhd"), USG_SOURCE_DIR);
    cr_expect_eq(r.status, 0, "%s", r.err);
    char path[1100];
    snprintf(path, sizeof path, "%s/a/b/r.jsonl", dir);
    cr_expect_eq(tu_count_lines(path), 2);
    snprintf(path, sizeof path, "%s/c/d", dir);
    cr_expect_eq(count_files(path, ".png"), 2);
    tu_run_free(&r);
    /* a results path under a regular file is an error naming it */
    r = tu_sh("cd '%s' && %s replay %s --probe %s/probes/plus_prostate_video.ini --results a/b/r.jsonl/x.jsonl --quiet",
              dir, USGUIDE_BIN, tu_shared("Prostate10_video.igs.mhd"), USG_SOURCE_DIR);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "--results: a/b/r.jsonl: exists and is not a directory") != NULL, "%s", r.err);
    tu_run_free(&r);
}

/* Frames of `recording` (with probe profile `probe`) whose result line reports a needle; -1 on failure. */
static int needle_frames(const char *recording, const char *probe, int frames, int *lines) {
    char limit[32] = "";
    if (frames > 0) snprintf(limit, sizeof limit, " --frames %d", frames);
    tu_run r = tu_sh("%s replay %s --probe %s/probes/%s --results - --quiet%s", USGUIDE_BIN, tu_shared(recording),
                     USG_SOURCE_DIR, probe, limit);
    int n = r.status == 0 ? 0 : -1;
    *lines = 0;
    for (char *p = r.out; *p; p++) *lines += *p == '\n';
    for (const char *p = r.out; n >= 0 && (p = strstr(p, "\"needle\": {\"found\": true")) != NULL; p++) n++;
    tu_run_free(&r);
    return n;
}

/* Real scans with no needle in them: bone under muscle, a spine phantom and an
 * abdominal fan whose curved bright interfaces hold straight stretches (one,
 * 15 mm long and away from the fan's edge, passed for a needle on 4 of its 5
 * frames). (Prostate10_video is not here: the stripes inside a saturated slab
 * beside its fan's edge pass for a needle; see README, Known limitations.) */
Test(replay, real_scans_without_a_needle_report_none, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    static const struct { const char *rec, *probe; int frames; } scans[] = {
        {"BoneUltrasound_L14.igs.mha", "plus_bone_l14.ini", 21},
        {"SpinePhantomFreehand.igs.mha", "plus_spine_phantom.ini", 21},
        {"UltrasonixCurvilinearScanConvertedData.igs.mha", "plus_ultrasonix_curvilinear.ini", 5},
    };
    for (size_t i = 0; i < sizeof scans / sizeof scans[0]; i++) {
        int lines = 0, n = needle_frames(scans[i].rec, scans[i].probe, 0, &lines);
        cr_expect_eq(lines, scans[i].frames, "%s: %d result lines", scans[i].rec, lines);
        cr_expect_eq(n, 0, "%s: a needle reported on %d of %d frames", scans[i].rec, n, lines);
    }
}

/* Prostate10_video's first nine frames: the straight edges of a saturated
 * slab 5-6 mm thick beside the fan's edge passed for a needle, its near edge
 * under a dark (not black) pocket and its far edge over black: each is a
 * thick reflector's edge, its body on one side at least half as bright as the
 * edge and three times the other side, not a thin shaft (slab_edge). (Its
 * tenth frame still shows a false needle: README, Known limitations.) */
Test(replay, a_fluid_s_far_wall_in_a_real_scan_is_no_needle, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    int lines = 0, n = needle_frames("Prostate10_video.igs.mhd", "plus_prostate_video.ini", 9, &lines);
    cr_expect_eq(lines, 9, "Prostate10_video: %d result lines", lines);
    cr_expect_eq(n, 0, "Prostate10_video: a needle reported on %d of its first %d frames", n, lines);
}
