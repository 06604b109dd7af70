/* main.c - usguide command dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"replay", cmd_replay, "process recorded frames (as fast as possible, or --pace realtime)"},
    {"live", cmd_live, "process a live source with the latency-bounded loop"},
    {"sim", cmd_sim, "write a synthetic SIJ sequence with exact ground truth"},
    {"eval", cmd_eval, "score results against ground truth"},
    {"bench", cmd_bench, "per-stage latency percentiles on this machine"},
};

static void usage(FILE *f) {
    fprintf(f,
            "usguide %s - real-time ultrasound needle guidance for sacroiliac-joint injections\n\n"
            "usage:\n"
            "  usguide replay INPUT  [options]\n"
            "  usguide live   SOURCE [options]\n"
            "  usguide sim    OUTDIR [options]\n"
            "  usguide eval   TRUTH RESULTS [options]\n"
            "  usguide bench  [INPUT] [options]\n"
            "  usguide --help | usguide CMD --help | usguide --version\n\n",
            USG_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].summary);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("usguide %s\n", USG_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(argv[1], commands[i].name)) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "usguide: unknown command '%s' (try usguide --help)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
