/* cli_common.c - option parsing, probe lookup, results writing and progress
 * shared by the usguide commands. */
#include "cli.h"
#include "usg/fs.h"
#include "usg/pool.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_verbosity = 1;

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("usguide: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_info(int level, const char *fmt, ...) {
    if (cli_verbosity < level) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void run_usage(FILE *f, const char *cmd, int live) {
    fprintf(f,
            "usage: usguide %s %s [options]\n\n"
            "%s"
            "options:\n"
            "  --probe FILE            probe profile (default: probe.ini beside the input)\n"
            "  --medial-side SIDE      left | right | auto: where the midline (sacrum) lies\n"
            "  --results FILE          JSON Lines, one object per input frame ('-' = stdout)\n"
            "  --overlay PATH          overlay output: a directory (PNG per frame) or .avi/.mp4\n"
            "  --window                show the overlay live in a window\n"
            "  --serve PORT            OpenIGTLink server: overlay IMAGE, NeedleTipToImage, Target\n"
            "  --serve-bind ADDR       address for --serve (default 127.0.0.1)\n"
            "  --frames N              stop after N frames\n"
            "  --denoise METHOD        none | median | bilateral | guided | srad (default: profile, else %s)\n"
            "  --threads N             threads for the full-frame needle search, 1-%d (default 0: one per\n"
            "                          processor); the results are the same for any N\n"
            "%s"
            "  --quiet, --verbose      less / more on stderr\n"
            "  -h, --help              this help\n\n"
            "exit status: 0 all frames processed; 1 some frames could not be decoded or processed;\n"
            "2 bad usage, bad profile or unreadable input.\n",
            cmd, live ? "SOURCE" : "INPUT",
            live ? "SOURCE: /dev/videoN, igtl://HOST:PORT, or a recording paced as a device.\n\n"
                 : "INPUT: a PNG file or folder, a PLUS .mha/.igs.mha/.seq.mha/.mhd sequence, or a video file.\n\n",
            usg_denoise_name(usg_denoise_default()), USG_POOL_MAX_THREADS,
            live ? "  --fps N                 pace of a file/folder source (default: its timestamps, else 30)\n"
                   "  --budget-ms MS          per-frame deadline (default: the source's frame period)\n"
                 : "  --pace realtime|fast    replay at the recorded frame rate or as fast as possible (default fast)\n");
}

enum { OPT_PROBE = 256, OPT_MEDIAL, OPT_RESULTS, OPT_OVERLAY, OPT_WINDOW, OPT_SERVE, OPT_SERVE_BIND, OPT_FRAMES,
       OPT_PACE, OPT_DENOISE, OPT_FPS, OPT_BUDGET, OPT_QUIET, OPT_VERBOSE, OPT_THREADS };

static int parse_long(const char *opt, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < lo || n > hi) {
        cli_error("%s %s: expected a whole number in %ld..%ld", opt, v, lo, hi);
        return CLI_EXIT_USAGE;
    }
    *out = n;
    return 0;
}

static int parse_double(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !(d >= lo && d <= hi)) {
        cli_error("%s %s: expected a number in %g..%g", opt, v, lo, hi);
        return CLI_EXIT_USAGE;
    }
    *out = d;
    return 0;
}

static int apply_opt(int c, const char *arg, int live, cli_run_opts *o) {
    long n;
    int rc = 0;
    switch (c) {
    case OPT_PROBE: o->probe_path = arg; break;
    case OPT_MEDIAL:
        if (strcmp(arg, "left") && strcmp(arg, "right") && strcmp(arg, "auto")) {
            cli_error("--medial-side %s: expected left, right or auto", arg);
            return CLI_EXIT_USAGE;
        }
        o->medial_side = arg;
        break;
    case OPT_RESULTS: o->results_path = arg; break;
    case OPT_OVERLAY: o->overlay_path = arg; break;
    case OPT_WINDOW: o->window = 1; break;
    case OPT_SERVE:
        rc = parse_long("--serve", arg, 1, 65535, &n);
        o->serve_port = (int)n;
        break;
    case OPT_SERVE_BIND: o->serve_bind = arg; break;
    case OPT_FRAMES: rc = parse_long("--frames", arg, 1, LONG_MAX, &o->max_frames); break;
    case OPT_PACE:
        if (live) {
            cli_error("--pace is for replay; live paces file sources with --fps");
            return CLI_EXIT_USAGE;
        }
        if (strcmp(arg, "realtime") && strcmp(arg, "fast")) {
            cli_error("--pace %s: expected realtime or fast", arg);
            return CLI_EXIT_USAGE;
        }
        o->pace_realtime = !strcmp(arg, "realtime");
        break;
    case OPT_DENOISE: {
        usg_denoise_method m;
        if (usg_denoise_parse(arg, &m) != USG_OK) {
            cli_error("--denoise: %s", usg_last_error());
            return CLI_EXIT_USAGE;
        }
        o->denoise = arg;
        break;
    }
    case OPT_FPS: rc = parse_double("--fps", arg, 0.1, 1000, &o->fps); break;
    case OPT_BUDGET: rc = parse_double("--budget-ms", arg, 0.01, 100000, &o->budget_ms); break;
    case OPT_THREADS:
        rc = parse_long("--threads", arg, 0, USG_POOL_MAX_THREADS, &n);
        o->threads = (int)n;
        break;
    case OPT_QUIET: cli_verbosity = 0; break;
    case OPT_VERBOSE: cli_verbosity = 2; break;
    default: return CLI_EXIT_USAGE;
    }
    return rc;
}

int cli_parse_run_opts(int argc, char **argv, int live, cli_run_opts *o) {
    static const struct option longs[] = {
        {"probe", required_argument, 0, OPT_PROBE},       {"medial-side", required_argument, 0, OPT_MEDIAL},
        {"results", required_argument, 0, OPT_RESULTS},   {"overlay", required_argument, 0, OPT_OVERLAY},
        {"window", no_argument, 0, OPT_WINDOW},           {"serve", required_argument, 0, OPT_SERVE},
        {"serve-bind", required_argument, 0, OPT_SERVE_BIND}, {"frames", required_argument, 0, OPT_FRAMES},
        {"pace", required_argument, 0, OPT_PACE},         {"denoise", required_argument, 0, OPT_DENOISE},
        {"fps", required_argument, 0, OPT_FPS},           {"budget-ms", required_argument, 0, OPT_BUDGET},
        {"quiet", no_argument, 0, OPT_QUIET},             {"verbose", no_argument, 0, OPT_VERBOSE},
        {"threads", required_argument, 0, OPT_THREADS},
        {"help", no_argument, 0, 'h'},                    {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->serve_bind = "127.0.0.1";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == 'h') {
            run_usage(stdout, argv[0], live);
            return -1;
        }
        if (c == '?' || c == ':') {
            cli_error("%s: unknown option or missing value: %s (see usguide %s --help)", argv[0], argv[optind - 1], argv[0]);
            return CLI_EXIT_USAGE;
        }
        if (!live && (c == OPT_FPS || c == OPT_BUDGET)) {
            cli_error("%s is for live mode", c == OPT_FPS ? "--fps" : "--budget-ms");
            return CLI_EXIT_USAGE;
        }
        int rc = apply_opt(c, optarg, live, o);
        if (rc) return rc;
    }
    if (optind != argc - 1) {
        cli_error("%s: expected exactly one %s (see usguide %s --help)", argv[0], live ? "SOURCE" : "INPUT", argv[0]);
        return CLI_EXIT_USAGE;
    }
    o->input = argv[optind];
    return 0;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_load_probe(const cli_run_opts *o, const usg_source *src, usg_probe *probe) {
    char found[PATH_MAX + 16] = "";
    if (o->probe_path) {
        snprintf(found, sizeof found, "%s", o->probe_path);
    } else if (src && usg_source_dir(src)[0]) {
        snprintf(found, sizeof found, "%s/probe.ini", usg_source_dir(src));
        if (!file_exists(found)) found[0] = 0;
    }
    if (!found[0]) {
        usg_probe_default(probe);
        snprintf(probe->name, sizeof probe->name, "(no profile)");
        if (src && usg_source_get_kind(src) == USG_SOURCE_IGTL) return 0; /* spacing comes with the images */
        cli_error("%s: no probe profile: give --probe FILE or put probe.ini beside the input "
                  "(the spacing in mm is needed; see probes/)", o->input);
        return CLI_EXIT_USAGE;
    }
    if (usg_probe_load(found, probe) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    cli_info(2, "usguide: probe profile %s (%s)", found, probe->name);
    return 0;
}

int cli_pipeline_params(const cli_run_opts *o, const usg_probe *probe, usg_pipeline_params *pp) {
    memset(pp, 0, sizeof *pp);
    pp->probe = *probe;
    pp->medial_side = probe->medial_side;
    pp->needle_threads = o->threads;
    if (o->medial_side) {
        pp->medial_side = !strcmp(o->medial_side, "left") ? USG_SIDE_LEFT
                        : !strcmp(o->medial_side, "right") ? USG_SIDE_RIGHT : USG_SIDE_AUTO;
    }
    const char *dn = o->denoise ? o->denoise : probe->denoise[0] ? probe->denoise : NULL;
    pp->denoise = usg_denoise_default();
    if (dn && usg_denoise_parse(dn, &pp->denoise) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int cli_results_open(cli_results *w, const char *path) {
    memset(w, 0, sizeof *w);
    w->cap = usg_result_json_capacity();
    w->buf = malloc(w->cap);
    if (!w->buf) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    if (!path) return 0;
    if (!strcmp(path, "-")) {
        w->f = stdout;
        return 0;
    }
    if (usg_mkdirs_for_file(path) != USG_OK) {
        cli_error("--results: %s", usg_last_error());
        free(w->buf);
        w->buf = NULL;
        return CLI_EXIT_USAGE;
    }
    w->f = fopen(path, "w");
    if (!w->f) {
        cli_error("%s: cannot create results file: %s", path, strerror(errno));
        free(w->buf);
        w->buf = NULL;
        return CLI_EXIT_USAGE;
    }
    w->owned = 1;
    return 0;
}

int cli_results_write(cli_results *w, const usg_result *r) {
    if (!w->f) return 0;
    size_t len = 0;
    if (usg_result_to_json(r, w->buf, w->cap, &len) != USG_OK) {
        cli_error("%s", usg_last_error());
        return -1;
    }
    if (fwrite(w->buf, 1, len, w->f) != len || fflush(w->f) != 0) {
        cli_error("results: write failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void cli_results_close(cli_results *w) {
    if (w->owned && w->f) fclose(w->f);
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static int progress_shown;

void cli_progress(long done, long total) {
    if (cli_verbosity < 1 || !isatty(STDERR_FILENO)) return;
    progress_shown = 1;
    if (total > 0) {
        int width = 40, fill = (int)(width * done / (total > 0 ? total : 1));
        fprintf(stderr, "\r[%.*s%*s] %ld/%ld", fill, "########################################", width - fill, "", done,
                total);
    } else {
        fprintf(stderr, "\r%ld frames", done);
    }
    fflush(stderr);
}

void cli_progress_end(void) {
    if (progress_shown) fputc('\n', stderr);
    progress_shown = 0;
}
