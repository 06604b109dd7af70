/* cmd_bench.c - usguide bench [INPUT]: per-stage latency percentiles on this
 * machine. Frames are decoded once (timed: the decode benchmark), kept in
 * memory, then run through the pipeline R times in tracking mode (state kept
 * across frames) and in acquisition mode (all state reset before every frame).
 * Without INPUT a 640x480 curvilinear SIJ sequence is simulated in memory. */
#define _GNU_SOURCE
#include "cli.h"
#include "usg/pool.h"
#include "usg/overlay.h"
#include "usg/sim.h"

#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_MAX_FRAMES 1000

typedef struct bench_opts {
    const char *input, *probe_path, *denoise;
    int frames, repeat, cpu, json, threads;
} bench_opts;

typedef struct frames_in_memory {
    usg_image *img;
    int n;
    usg_probe probe;
    double *decode_ms; /* per decoded frame; NULL for simulated input */
    int n_decode;
} frames_in_memory;

/* Latency samples for one mode: per stage, per frame. */
enum { ST_DENOISE, ST_BONE, ST_NEEDLE, ST_TARGET, ST_BONE_TARGET, ST_PIPELINE, ST_OVERLAY, ST_COUNT };
static const char *const stage_names[ST_COUNT] = {"denoise", "bone", "needle", "target", "bone+target",
                                                  "pipeline", "overlay"};

typedef struct samples {
    double *v[ST_COUNT];
    int n;
} samples;

static void bench_usage(FILE *f) {
    fprintf(f,
            "usage: usguide bench [INPUT] [options]\n\n"
            "Per-stage latency percentiles (ms) on this machine, single-threaded unless --threads.\n"
            "INPUT: any replay input (its probe.ini or --probe); without it a 640x480\n"
            "curvilinear SIJ sequence with a needle is simulated in memory (seed 1, 60 frames).\n"
            "Modes: decode (reading the input), tracking (state kept across frames), and\n"
            "acquisition (every tracker reset before each frame: the full-frame search cost).\n\n"
            "options:\n"
            "  --probe FILE      probe profile for INPUT\n"
            "  --denoise METHOD  none | median | bilateral | guided | srad (default: profile, else %s)\n"
            "  --frames N        use the first N frames (default: all, at most %d)\n"
            "  --repeat R        passes over the frames per mode (default 5)\n"
            "  --cpu N           pin to CPU N (default: not pinned)\n"
            "  --threads N       threads for the full-frame needle search (default 1; 0: one per processor)\n"
            "  --json            one JSON object instead of the table\n",
            usg_denoise_name(usg_denoise_default()), BENCH_MAX_FRAMES);
}

static int parse_bench_opts(int argc, char **argv, bench_opts *o) {
    static const struct option longs[] = {{"probe", required_argument, 0, 'p'}, {"denoise", required_argument, 0, 'd'},
                                          {"frames", required_argument, 0, 'n'}, {"repeat", required_argument, 0, 'r'},
                                          {"cpu", required_argument, 0, 'c'},    {"json", no_argument, 0, 'j'},
                                          {"threads", required_argument, 0, 't'},
                                          {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->repeat = 5;
    o->cpu = -1;
    o->threads = 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'p': o->probe_path = optarg; break;
        case 'd': o->denoise = optarg; break;
        case 'n': o->frames = atoi(optarg); if (o->frames < 1) { cli_error("--frames %s: expected >= 1", optarg); return CLI_EXIT_USAGE; } break;
        case 'r': o->repeat = atoi(optarg); if (o->repeat < 1 || o->repeat > 1000) { cli_error("--repeat %s: expected 1..1000", optarg); return CLI_EXIT_USAGE; } break;
        case 'c': o->cpu = atoi(optarg); break;
        case 'j': o->json = 1; break;
        case 't': o->threads = atoi(optarg); if (o->threads < 0 || o->threads > USG_POOL_MAX_THREADS) { cli_error("--threads %s: expected 0..%d", optarg, USG_POOL_MAX_THREADS); return CLI_EXIT_USAGE; } break;
        case 'h': bench_usage(stdout); return -1;
        default: cli_error("bench: unknown option or missing value: %s (see usguide bench --help)", argv[optind - 1]); return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        cli_error("bench: at most one INPUT");
        return CLI_EXIT_USAGE;
    }
    o->input = optind == argc - 1 ? argv[optind] : NULL;
    if (o->frames > BENCH_MAX_FRAMES || o->frames == 0) o->frames = BENCH_MAX_FRAMES;
    return 0;
}

static void free_frames(frames_in_memory *fm) {
    for (int i = 0; i < fm->n; i++) usg_image_free(&fm->img[i]);
    free(fm->img);
    free(fm->decode_ms);
}

static int keep_frame(frames_in_memory *fm, const usg_image *src) {
    if (usg_image_alloc(&fm->img[fm->n], src->width, src->height) != USG_OK) return -1;
    usg_image_copy(src, &fm->img[fm->n]);
    fm->n++;
    return 0;
}

/* Decode INPUT, timing each frame, and keep the good frames. */
static int load_input(const bench_opts *o, frames_in_memory *fm) {
    usg_source *src;
    if (usg_source_open(o->input, NULL, &src) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    cli_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.input = o->input;
    ro.probe_path = o->probe_path;
    int rc = cli_load_probe(&ro, src, &fm->probe);
    fm->img = calloc(o->frames, sizeof *fm->img);
    fm->decode_ms = calloc(o->frames, sizeof *fm->decode_ms);
    while (!rc && fm->n < o->frames) {
        usg_frame fr;
        double t0 = usg_now_ms();
        usg_status st = usg_source_next(src, &fr);
        double dt = usg_now_ms() - t0;
        if (st == USG_ERR_EOF) break;
        if (st == USG_ERR_FRAME) continue;
        if (st != USG_OK) { cli_error("%s", usg_last_error()); rc = CLI_EXIT_USAGE; break; }
        fm->decode_ms[fm->n_decode++] = dt;
        if (fm->n > 0 && (fr.image.width != fm->img[0].width || fr.image.height != fm->img[0].height)) continue;
        if (keep_frame(fm, &fr.image) != 0) { cli_error("out of memory"); rc = CLI_EXIT_USAGE; }
    }
    usg_source_close(src);
    if (!rc && fm->n == 0) { cli_error("%s: no decodable frames", o->input); rc = CLI_EXIT_USAGE; }
    return rc;
}

/* Simulate the default benchmark sequence in memory. */
static int load_sim(const bench_opts *o, frames_in_memory *fm) {
    usg_sim_params p;
    usg_sim_params_default(&p);
    p.seed = 1;
    p.frames = o->frames < 60 ? o->frames : 60;
    usg_sim *s;
    if (usg_sim_new(&p, &s) != USG_OK) { cli_error("sim: %s", usg_last_error()); return CLI_EXIT_USAGE; }
    usg_sim_probe(s, &fm->probe);
    fm->img = calloc(p.frames, sizeof *fm->img);
    usg_result *truth = malloc(sizeof *truth);
    int rc = fm->img && truth ? 0 : CLI_EXIT_USAGE;
    for (int i = 0; !rc && i < p.frames; i++) {
        if (usg_sim_frame_alloc(s, &fm->img[i]) != USG_OK || usg_sim_render(s, i, &fm->img[i], truth) != USG_OK) {
            cli_error("sim: %s", usg_last_error());
            rc = CLI_EXIT_USAGE;
        }
        fm->n = i + 1;
    }
    free(truth);
    usg_sim_free(s);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static double pct(const double *sorted, int n, double p) {
    if (n <= 0) return NAN;
    int k = (int)ceil(p / 100.0 * n);
    return sorted[k < 1 ? 0 : k > n ? n - 1 : k - 1];
}

static int alloc_samples(samples *s, int n) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < ST_COUNT; i++) if (!(s->v[i] = malloc(sizeof(double) * (size_t)n))) return -1;
    return 0;
}

static void free_samples(samples *s) {
    for (int i = 0; i < ST_COUNT; i++) free(s->v[i]);
}

static void record(samples *s, const usg_latency *l, double overlay_ms) {
    int k = s->n++;
    s->v[ST_DENOISE][k] = l->denoise;
    s->v[ST_BONE][k] = l->bone;
    s->v[ST_NEEDLE][k] = l->needle;
    s->v[ST_TARGET][k] = l->target;
    s->v[ST_BONE_TARGET][k] = l->bone + l->target;
    s->v[ST_PIPELINE][k] = l->total;
    s->v[ST_OVERLAY][k] = overlay_ms;
}

/* Run every frame `repeat` times; acquisition resets all state before each frame. */
static int run_mode(usg_pipeline *pl, const frames_in_memory *fm, int repeat, int acquisition, usg_result *res,
                    usg_rgb *rgb, samples *out) {
    for (int r = 0; r < repeat; r++) {
        usg_pipeline_reset(pl);
        for (int i = 0; i < fm->n; i++) {
            if (acquisition) usg_pipeline_reset(pl);
            usg_result_reset(res, i, 0);
            if (usg_pipeline_process(pl, &fm->img[i], res) != USG_OK) {
                cli_error("frame %d: %s", i, usg_last_error());
                return CLI_EXIT_FRAMES;
            }
            double t0 = usg_now_ms();
            usg_overlay_render(&fm->img[i], res, &fm->probe, NULL, rgb);
            record(out, &res->latency, usg_now_ms() - t0);
        }
    }
    return 0;
}

static void sort_samples(samples *s) {
    for (int i = 0; i < ST_COUNT; i++) qsort(s->v[i], s->n, sizeof(double), cmp_double);
}

static void print_row(const char *mode, const char *stage, const double *v, int n, int json, int *first) {
    double p50 = pct(v, n, 50), p95 = pct(v, n, 95), p99 = pct(v, n, 99), mx = n ? v[n - 1] : NAN;
    if (json) {
        printf("%s\"%s/%s\": {\"n\": %d, \"p50\": %.4f, \"p95\": %.4f, \"p99\": %.4f, \"max\": %.4f}", *first ? "" : ", ",
               mode, stage, n, p50, p95, p99, mx);
        *first = 0;
    } else {
        printf("%-12s %-12s %6d %9.3f %9.3f %9.3f %9.3f\n", mode, stage, n, p50, p95, p99, mx);
    }
}

static void report(const bench_opts *o, const frames_in_memory *fm, usg_denoise_method dn, samples *trk, samples *acq) {
    int first = 1;
    if (o->json) {
        printf("{\"input\": \"%s\", \"width\": %d, \"height\": %d, \"frames\": %d, \"repeat\": %d, \"denoise\": \"%s\", "
               "\"threads\": %d, ",
               o->input ? o->input : "sim:seed=1", fm->img[0].width, fm->img[0].height, fm->n, o->repeat, usg_denoise_name(dn),
               o->threads);
        printf("\"latency_ms\": {");
    } else {
        printf("usguide bench: %s, %dx%d, %d frames x %d passes, denoise %s, probe '%s', needle search threads %d\n",
               o->input ? o->input : "simulated SIJ sequence (seed 1)", fm->img[0].width, fm->img[0].height, fm->n,
               o->repeat, usg_denoise_name(dn), fm->probe.name, o->threads);
        printf("%-12s %-12s %6s %9s %9s %9s %9s\n", "mode", "stage", "n", "p50 ms", "p95 ms", "p99 ms", "max ms");
    }
    if (fm->n_decode) {
        double *d = malloc(sizeof(double) * (size_t)fm->n_decode);
        memcpy(d, fm->decode_ms, sizeof(double) * (size_t)fm->n_decode);
        qsort(d, fm->n_decode, sizeof(double), cmp_double);
        print_row("decode", "frame", d, fm->n_decode, o->json, &first);
        free(d);
    }
    samples *modes[2] = {trk, acq};
    const char *names[2] = {"tracking", "acquisition"};
    for (int m = 0; m < 2; m++) {
        sort_samples(modes[m]);
        for (int s = 0; s < ST_COUNT; s++) print_row(names[m], stage_names[s], modes[m]->v[s], modes[m]->n, o->json, &first);
    }
    if (o->json) printf("}}\n");
}

static int bench_run(const bench_opts *o, frames_in_memory *fm) {
    cli_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.denoise = o->denoise;
    ro.threads = o->threads;
    usg_pipeline_params pp;
    int rc = cli_pipeline_params(&ro, &fm->probe, &pp);
    if (rc) return rc;
    usg_pipeline *pl;
    if (usg_pipeline_new(&pp, fm->img[0].width, fm->img[0].height, &pl) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    usg_result *res = malloc(sizeof *res);
    usg_rgb rgb;
    samples trk, acq;
    int n = fm->n * o->repeat;
    if (!res || usg_rgb_alloc(&rgb, fm->img[0].width, fm->img[0].height) != USG_OK || alloc_samples(&trk, n) ||
        alloc_samples(&acq, n)) {
        cli_error("out of memory");
        rc = CLI_EXIT_USAGE;
    }
    if (!rc) rc = run_mode(pl, fm, o->repeat, 0, res, &rgb, &trk);
    if (!rc) rc = run_mode(pl, fm, o->repeat, 1, res, &rgb, &acq);
    if (!rc) report(o, fm, pp.denoise, &trk, &acq);
    free_samples(&trk);
    free_samples(&acq);
    usg_rgb_free(&rgb);
    free(res);
    usg_pipeline_free(pl);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    bench_opts o;
    int rc = parse_bench_opts(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) cli_error("--cpu %d: cannot pin (continuing unpinned)", o.cpu);
    }
    frames_in_memory fm;
    memset(&fm, 0, sizeof fm);
    rc = o.input ? load_input(&o, &fm) : load_sim(&o, &fm);
    if (!rc) rc = bench_run(&o, &fm);
    free_frames(&fm);
    return rc;
}
