/* cmd_sim.c - `usguide sim OUTDIR`: write a synthetic SIJ sequence with exact ground truth. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "usg/sim.h"

static void sim_usage(FILE *f) {
    fprintf(f,
            "usage: usguide sim OUTDIR [options]\n\n"
            "Write a synthetic B-mode sequence of the sacroiliac joint with exact ground truth:\n"
            "  OUTDIR/frames/NNNN.png   8-bit grey frames\n"
            "  OUTDIR/truth.jsonl       one result line per frame (CONTRACT.md schema + spacing_mm)\n"
            "  OUTDIR/probe.ini         the probe profile of the frames\n"
            "The same options and seed always give the same bytes.\n\n"
            "options:\n"
            "  --seed N                 random seed (anatomy, speckle, jitter); default 1\n"
            "  --frames N               number of frames; default 40\n"
            "  --width W, --height H    ultrasound image size in px; default 640 x 480\n"
            "  --spacing-mm S           mm per px (isotropic, 0.03..1); default 0.2\n"
            "  --geometry linear|curvilinear   probe geometry; default curvilinear (a scan-converted fan)\n"
            "  --needle lateral|medial|none    insertion side: from the ilium side, the sacrum side, or no needle;\n"
            "                           default lateral\n"
            "  --medium sij|tissue|water       what the probe looks into: the sacroiliac joint, soft tissue\n"
            "                           with no bone, or a water bath with the tank's floor; default sij\n"
            "  --medial-side left|right where the sacrum (midline) lies in the image; default left\n"
            "  --gain-db G              display gain in dB (-60..60); default 0\n"
            "  --needle-db D            the needle's echo against the usual, dB (-30..10): a fainter or\n"
            "                           brighter needle than this simulator draws; default 0\n"
            "  --needle-speckle S       share of the shaft's echo from scatterers of random phase (0..1):\n"
            "                           0 a smooth specular line, 1 a line of speckle, as simulators that\n"
            "                           build the needle from scatterers draw it; default 0\n"
            "  --dynamic-range-db D     log-compression range in dB (20..100); default 60\n"
            "  --freq-mhz F             centre frequency (1..20); default 3.5 curvilinear, 7.5 linear\n"
            "  --needle-angle-deg A     insertion angle from the skin (3..75); default from the seed (12..40)\n"
            "  --needle-miss-mm M       aim the needle M mm beside the joint entry; default 0\n"
            "  --target-depth-mm D      depth of the joint entry below the probe face; default from the seed\n"
            "  --needle-free N          frames before the needle appears; default from the seed (3..5)\n"
            "  --needle-withdraw N      withdraw the needle over the last N frames (0..frames/2), steadily\n"
            "                           back out of the image; default 0 (inserted to the end)\n"
            "  --jitter-mm J            probe jitter amplitude (0..5); default 0.5\n"
            "  --decorrelation R        share of fresh speckle per frame (0..1); default 0.25\n"
            "  --speckle S              speckle share of the tissue's echo (0..1): 0 is a flat echo of the same\n"
            "                           mean power (as strong speckle reduction shows it); default 1\n"
            "  --plain-tissue           the soft tissue one uniform muscle-like echo: no fat layer, fibres,\n"
            "                           fasciae or septa (with --speckle 0: a flat grey, as a simple simulator)\n"
            "  --fps F                  frame rate for the time stamps; default 20\n"
            "  --frame-ui               embed the image in a grabbed-screen frame with scanner text and depth\n"
            "                           ticks (probe.ini gets clip =, truth is in frame pixels)\n"
            "  --background REC         lay the needle alone over the frames of a real recording (a file\n"
            "                           usguide replay reads): its echo power adds to theirs, at the level it\n"
            "                           has over our own tissue; size, spacing and geometry come from the\n"
            "                           recording's profile (linear, transducer at the top), the medium is\n"
            "                           tissue (the truth has the needle only); frames cycle 0..n-1..0\n"
            "  --background-probe INI   the recording's probe profile (required with --background)\n"
            "  --quiet                  no progress output\n"
            "  --help                   this text\n\n"
            "exit status: 0 written, 2 bad usage or the files could not be written.\n");
}

static int parse_double(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) {
        cli_error("sim: %s expects a number, got '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < -1000000000L || v > 1000000000L) {
        cli_error("sim: %s expects an integer, got '%s'", opt, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_seed(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        cli_error("sim: --seed expects a non-negative integer, got '%s'", s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int parse_choice(const char *opt, const char *s, const char *const *names, int n, int *out) {
    for (int i = 0; i < n; i++) {
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    }
    cli_error("sim: %s expects one of %s%s%s%s%s, got '%s'", opt, names[0], n > 1 ? "|" : "", n > 1 ? names[1] : "",
              n > 2 ? "|" : "", n > 2 ? names[2] : "", s);
    return -1;
}

/* Apply one option with its value; -1 on a bad value or unknown option. */
static int apply(usg_sim_params *p, const char *opt, const char *val) {
    static const char *const geoms[] = {"linear", "curvilinear"};
    static const char *const needles[] = {"none", "lateral", "medial"};
    static const char *const sides[] = {"left", "right"};
    static const char *const media[] = {"sij", "tissue", "water"};
    int k;
    if (!strcmp(opt, "--seed")) return parse_seed(val, &p->seed);
    if (!strcmp(opt, "--frames")) return parse_int(opt, val, &p->frames);
    if (!strcmp(opt, "--width")) return parse_int(opt, val, &p->width);
    if (!strcmp(opt, "--height")) return parse_int(opt, val, &p->height);
    if (!strcmp(opt, "--spacing-mm")) return parse_double(opt, val, &p->spacing_mm);
    if (!strcmp(opt, "--gain-db")) return parse_double(opt, val, &p->gain_db);
    if (!strcmp(opt, "--needle-db")) return parse_double(opt, val, &p->needle_db);
    if (!strcmp(opt, "--needle-speckle")) return parse_double(opt, val, &p->needle_speckle);
    if (!strcmp(opt, "--dynamic-range-db")) return parse_double(opt, val, &p->dynamic_range_db);
    if (!strcmp(opt, "--freq-mhz")) return parse_double(opt, val, &p->freq_mhz);
    if (!strcmp(opt, "--needle-angle-deg")) return parse_double(opt, val, &p->needle_angle_deg);
    if (!strcmp(opt, "--needle-miss-mm")) return parse_double(opt, val, &p->needle_miss_mm);
    if (!strcmp(opt, "--target-depth-mm")) return parse_double(opt, val, &p->target_depth_mm);
    if (!strcmp(opt, "--needle-free")) return parse_int(opt, val, &p->needle_free_frames);
    if (!strcmp(opt, "--needle-withdraw")) return parse_int(opt, val, &p->needle_withdraw_frames);
    if (!strcmp(opt, "--jitter-mm")) return parse_double(opt, val, &p->jitter_mm);
    if (!strcmp(opt, "--decorrelation")) return parse_double(opt, val, &p->decorrelation);
    if (!strcmp(opt, "--speckle")) return parse_double(opt, val, &p->speckle);
    if (!strcmp(opt, "--fps")) return parse_double(opt, val, &p->fps);
    if (!strcmp(opt, "--geometry")) {
        if (parse_choice(opt, val, geoms, 2, &k)) return -1;
        p->geometry = k ? USG_GEOM_CURVILINEAR : USG_GEOM_LINEAR;
        return 0;
    }
    if (!strcmp(opt, "--medium")) {
        if (parse_choice(opt, val, media, 3, &k)) return -1;
        p->medium = (usg_sim_medium)k;
        return 0;
    }
    if (!strcmp(opt, "--needle")) {
        if (parse_choice(opt, val, needles, 3, &k)) return -1;
        p->needle = (usg_sim_needle)k;
        return 0;
    }
    if (!strcmp(opt, "--medial-side")) {
        if (parse_choice(opt, val, sides, 2, &k)) return -1;
        p->medial_side = k ? USG_SIDE_RIGHT : USG_SIDE_LEFT;
        return 0;
    }
    cli_error("sim: unknown option '%s' (try usguide sim --help)", opt);
    return -1;
}

static void on_progress(int done, int total, void *user) {
    (void)user;
    cli_progress(done, total);
}

int cmd_sim(int argc, char **argv) {
    usg_sim_params p;
    usg_sim_params_default(&p);
    const char *outdir = NULL, *background = NULL, *bg_probe_path = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sim_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(a, "--frame-ui")) { p.frame_ui = 1; continue; }
        if (!strcmp(a, "--plain-tissue")) { p.plain_tissue = 1; continue; }
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (!strncmp(a, "--", 2)) {
            char opt[64];
            const char *eq = strchr(a, '='), *val;
            if (eq) {
                size_t n = (size_t)(eq - a) < sizeof opt - 1 ? (size_t)(eq - a) : sizeof opt - 1;
                memcpy(opt, a, n);
                opt[n] = 0;
                val = eq + 1;
            } else {
                snprintf(opt, sizeof opt, "%s", a);
                if (i + 1 >= argc) {
                    cli_error("sim: %s needs a value (try usguide sim --help)", a);
                    return CLI_EXIT_USAGE;
                }
                val = argv[++i];
            }
            if (!strcmp(opt, "--background")) background = val;
            else if (!strcmp(opt, "--background-probe")) bg_probe_path = val;
            else if (apply(&p, opt, val)) return CLI_EXIT_USAGE;
            continue;
        }
        if (outdir) {
            cli_error("sim: more than one OUTDIR ('%s' and '%s')", outdir, a);
            return CLI_EXIT_USAGE;
        }
        outdir = a;
    }
    if (!outdir) {
        cli_error("sim: missing OUTDIR (usage: usguide sim OUTDIR [options])");
        return CLI_EXIT_USAGE;
    }
    if (usg_sim_params_check(&p) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    if (!background != !bg_probe_path) {
        cli_error("sim: --background and --background-probe go together (the recording and its profile)");
        return CLI_EXIT_USAGE;
    }
    usg_probe bg_probe;
    if (bg_probe_path && usg_probe_load(bg_probe_path, &bg_probe) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    usg_status st = background
                        ? usg_sim_write_over(&p, background, &bg_probe, outdir, quiet ? NULL : on_progress, NULL)
                        : usg_sim_write_sequence(&p, outdir, quiet ? NULL : on_progress, NULL);
    if (!quiet) cli_progress_end();
    if (st != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    if (!quiet) cli_info(1, "sim: wrote %d frames to %s\n", p.frames, outdir);
    return CLI_EXIT_OK;
}
