/* cli.h - shared pieces of the usguide command line (the only code that prints). */
#ifndef USG_CLI_H
#define USG_CLI_H

#include <stdio.h>
#include "usg/probe.h"
#include "usg/result.h"
#include "usg/source.h"
#include "usg/pipeline.h"
#include "usg/recorder.h"

/* Exit codes (CONTRACT.md). */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FRAMES = 1, CLI_EXIT_USAGE = 2 };

/* Verbosity: 0 quiet, 1 normal, 2 verbose. */
extern int cli_verbosity;

/* Print "usguide: <msg>" to stderr (always, errors). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print to stderr when verbosity >= level. */
void cli_info(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Commands: each parses its own argv (argv[0] is the command name) and returns an exit code. */
int cmd_replay(int argc, char **argv);
int cmd_live(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* Options shared by replay and live (CONTRACT.md). */
typedef struct cli_run_opts {
    const char *input;
    const char *probe_path;     /* NULL: probe.ini beside the input */
    const char *medial_side;    /* NULL: from the profile */
    const char *results_path;   /* NULL: none; "-" stdout */
    const char *overlay_path;   /* NULL: none */
    int window;
    int serve_port;             /* 0: none */
    const char *serve_bind;
    long max_frames;            /* <=0: all */
    int pace_realtime;
    const char *denoise;        /* NULL: profile, else default */
    double fps;                 /* live file pace; 0: recording's */
    double budget_ms;           /* live; 0: frame period */
    int threads;                /* --threads: the needle search's threads, 0 one per processor */
} cli_run_opts;

/* Parse the shared options; `live` selects live defaults and extra options.
 * Returns 0, or an exit code (help printed: CLI_EXIT_OK; bad usage: CLI_EXIT_USAGE). */
int cli_parse_run_opts(int argc, char **argv, int live, cli_run_opts *o);

/* Find and load the probe profile for an input: --probe, else probe.ini beside
 * the input (or its parent); none is an error (exit 2) except for OpenIGTLink
 * sources, whose images carry their spacing (defaults, spacing 0). Prints errors. */
int cli_load_probe(const cli_run_opts *o, const usg_source *src, usg_probe *probe);

/* Build pipeline params from options + profile. Prints errors; returns 0 or an exit code. */
int cli_pipeline_params(const cli_run_opts *o, const usg_probe *probe, usg_pipeline_params *pp);

/* Results writer: one JSON line per frame, flushed each line. */
typedef struct cli_results {
    FILE *f;
    int owned;
    char *buf;
    size_t cap;
} cli_results;
int cli_results_open(cli_results *w, const char *path);     /* 0 or exit code */
int cli_results_write(cli_results *w, const usg_result *r); /* 0 or -1 */
void cli_results_close(cli_results *w);

/* Progress bar on stderr when it is a terminal (and not quiet). total <= 0: unknown. */
void cli_progress(long done, long total);
void cli_progress_end(void);

#endif
