/* cmd_eval.c - `usguide eval TRUTH RESULTS`: the metrics of CONTRACT.md as a
 * table or one JSON object, accuracy gates (--require) and a per-frame dump.
 * The metric definitions live in usg/eval.h and in the help text below. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "usg/eval.h"

#define EVAL_MAX_REQ 64

static const char eval_help[] =
    "usage: usguide eval TRUTH RESULTS [options]\n"
    "\n"
    "Score RESULTS (JSON Lines from replay/live; - = standard input) against TRUTH\n"
    "(truth.jsonl from `usguide sim`, or a sequence directory holding truth.jsonl,\n"
    "or its frames/ directory).\n"
    "\n"
    "options:\n"
    "  --json               print the metrics as one JSON object (n/a = null,\n"
    "                       infinite = 1e999) instead of a table\n"
    "  --require NAME<=V    exit 1 unless metric NAME is <= V (or NAME>=V);\n"
    "                       repeatable; a metric that is n/a is not checked\n"
    "  --per-frame FILE     write one tab-separated line per truth frame to FILE\n"
    "                       (- = stdout, not with --json) to find bad frames\n"
    "  --spacing MM         mm per pixel for truth lines without spacing_mm\n"
    "  -q, --quiet          no warnings on stderr\n"
    "\n"
    "Matching: frames are matched by \"frame\". A truth frame without a result line\n"
    "is missing and counts as nothing found (needle not found, bones not found so\n"
    "their truth points are not covered, target infinite); so does a result frame\n"
    "with status error or dropped. Result frames not in TRUTH are counted\n"
    "(frames_extra) and reported. Distances are pixels times the truth spacing_mm.\n"
    "\n"
    "Metrics (names for --require):\n"
    "  frames, frames_missing, frames_error (error or dropped), frames_extra\n"
    "  needle_recall        truth needle found and result needle found / truth needle found\n"
    "  needle_fp_rate       result needle found / frames whose truth has no needle\n"
    "  tip_err_median_mm, tip_err_p95_mm\n"
    "                       |result tip - truth tip| on frames with both needles\n"
    "  angle_err_median_deg, angle_err_p95_deg\n"
    "                       axis angle difference modulo 180, folded to 0..90\n"
    "  sacrum_mean_dist_mm, ilium_mean_dist_mm\n"
    "                       mean over all result edge points (frames where truth and\n"
    "                       result have the bone) of the distance to the truth polyline\n"
    "  sacrum_coverage, ilium_coverage\n"
    "                       share of all truth edge points within 1 mm of the result\n"
    "                       polyline (frames without the result bone: not covered)\n"
    "  sacrum_fp_frames, ilium_fp_frames\n"
    "                       result bone on a frame whose truth has none\n"
    "  label_swaps          frames where the truth has both bones, the result at least\n"
    "                       one, and every result bone lies strictly closer (mean point\n"
    "                       distance) to the other truth bone than to its own\n"
    "  target_err_median_mm, target_err_p95_mm\n"
    "                       |result target - truth target| on frames with a truth\n"
    "                       target; a missed target counts as infinite\n"
    "  target_missed        frames with a truth target and no result target\n"
    "  target_fp_frames     result target on a frame whose truth has none\n"
    "\n"
    "Percentiles are nearest-rank: p95 is sample number ceil(0.95 n) of the n sorted\n"
    "samples, so p95 <= x means at least 95 % of the samples are <= x; the median is\n"
    "p50 (the lower middle sample for an even count). A metric without samples\n"
    "(no truth needle for needle_recall, no needle pair for tip_err_*, ...) is n/a.\n"
    "\n"
    "Exit status: 0 all requirements met; 1 a requirement missed (each is printed\n"
    "with its value); 2 bad usage, or an unreadable or malformed file (the message\n"
    "names the file and line).\n";

typedef struct eval_req {
    int metric;
    int at_least; /* 1: >=, 0: <= */
    double value;
    const char *text;
} eval_req;

typedef struct eval_opts {
    const char *truth, *results;
    int json, quiet;
    const char *per_frame;
    double spacing;
    eval_req req[EVAL_MAX_REQ];
    int nreq;
} eval_opts;

/* Parse "NAME<=V" / "NAME>=V". Returns 0 or prints and returns CLI_EXIT_USAGE. */
static int parse_require(const char *s, eval_req *r) {
    const char *op = strstr(s, "<=");
    const char *ge = strstr(s, ">=");
    if (!op || (ge && ge < op)) {
        op = ge;
    }
    if (!op) {
        cli_error("eval: --require '%s': expected NAME<=VALUE or NAME>=VALUE", s);
        return CLI_EXIT_USAGE;
    }
    char name[64];
    size_t n = (size_t)(op - s);
    if (n == 0 || n >= sizeof name) {
        cli_error("eval: --require '%s': bad metric name", s);
        return CLI_EXIT_USAGE;
    }
    memcpy(name, s, n);
    name[n] = 0;
    r->metric = usg_eval_metric_find(name);
    if (r->metric < 0) {
        cli_error("eval: --require '%s': unknown metric '%s' (see usguide eval --help)", s, name);
        return CLI_EXIT_USAGE;
    }
    char *end;
    errno = 0;
    r->value = strtod(op + 2, &end);
    if (end == op + 2 || *end != 0 || errno == ERANGE || isnan(r->value)) {
        cli_error("eval: --require '%s': bad value '%s'", s, op + 2);
        return CLI_EXIT_USAGE;
    }
    r->at_least = op[0] == '>';
    r->text = s;
    return 0;
}

/* The value of option argv[*i] ("--opt V" or "--opt=V"); NULL if missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt) {
    size_t n = strlen(opt);
    if (argv[*i][n] == '=') {
        return argv[*i] + n + 1;
    }
    if (*i + 1 >= argc) {
        cli_error("eval: %s needs a value", opt);
        return NULL;
    }
    return argv[++*i];
}

static int is_opt(const char *arg, const char *opt) {
    size_t n = strlen(opt);
    return !strncmp(arg, opt, n) && (arg[n] == 0 || arg[n] == '=');
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, eval_opts *o) {
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(eval_help, stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (is_opt(a, "--require")) {
            if (!(v = opt_value(argc, argv, &i, "--require"))) return CLI_EXIT_USAGE;
            if (o->nreq == EVAL_MAX_REQ) {
                cli_error("eval: at most %d --require", EVAL_MAX_REQ);
                return CLI_EXIT_USAGE;
            }
            if (parse_require(v, &o->req[o->nreq++])) return CLI_EXIT_USAGE;
        } else if (is_opt(a, "--per-frame")) {
            if (!(o->per_frame = opt_value(argc, argv, &i, "--per-frame"))) return CLI_EXIT_USAGE;
        } else if (is_opt(a, "--spacing")) {
            if (!(v = opt_value(argc, argv, &i, "--spacing"))) return CLI_EXIT_USAGE;
            char *end;
            o->spacing = strtod(v, &end);
            if (end == v || *end || !(o->spacing > 0) || isinf(o->spacing)) {
                cli_error("eval: --spacing '%s': expected a positive number of mm", v);
                return CLI_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1] != 0) {
            cli_error("eval: unknown option '%s' (try usguide eval --help)", a);
            return CLI_EXIT_USAGE;
        } else if (npos < 2) {
            *(npos++ ? &o->results : &o->truth) = a;
        } else {
            cli_error("eval: unexpected argument '%s'", a);
            return CLI_EXIT_USAGE;
        }
    }
    if (npos != 2) {
        cli_error("eval: expected TRUTH and RESULTS (try usguide eval --help)");
        return CLI_EXIT_USAGE;
    }
    if (o->json && o->per_frame && !strcmp(o->per_frame, "-")) {
        cli_error("eval: --per-frame - cannot share stdout with --json");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* ---- output -------------------------------------------------------------- */

/* Human form of a metric value. */
static void fmt_value(char *buf, size_t cap, double v, usg_eval_kind kind) {
    if (isnan(v)) {
        snprintf(buf, cap, "n/a");
    } else if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    } else if (kind == USG_EVAL_COUNT) {
        snprintf(buf, cap, "%.0f", v);
    } else if (kind == USG_EVAL_RATIO) {
        snprintf(buf, cap, "%.4f", v);
    } else if (kind == USG_EVAL_MM) {
        snprintf(buf, cap, "%.3f", v);
    } else {
        snprintf(buf, cap, "%.2f", v);
    }
}

/* Full-precision form for requirement messages (a near miss must show). */
static void fmt_exact(char *buf, size_t cap, double v) {
    if (isnan(v)) {
        snprintf(buf, cap, "n/a");
    } else if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    } else {
        snprintf(buf, cap, "%.10g", v);
    }
}

/* JSON number form (n/a: null; infinite: 1e999, which JSON readers take as infinity). */
static void fmt_json(char *buf, size_t cap, double v) {
    if (isnan(v)) {
        snprintf(buf, cap, "null");
    } else if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "1e999" : "-1e999");
    } else {
        snprintf(buf, cap, "%.12g", v);
    }
}

static const char *kind_unit(usg_eval_kind k) {
    return k == USG_EVAL_MM ? "mm" : (k == USG_EVAL_DEG ? "deg" : "");
}

/* The counts behind a ratio metric, for the table ("" if none). */
static void ratio_detail(const usg_eval_metrics *m, const char *name, char *buf, size_t cap) {
    buf[0] = 0;
    if (!strcmp(name, "needle_recall")) {
        snprintf(buf, cap, "(%d/%d frames)", m->needle_hits, m->needle_truth);
    } else if (!strcmp(name, "needle_fp_rate")) {
        snprintf(buf, cap, "(%d/%d frames)", m->needle_fp, m->needle_absent);
    } else if (!strcmp(name, "target_missed")) {
        snprintf(buf, cap, "(of %d truth targets)", m->target_truth);
    }
}

static void print_table(const usg_eval_metrics *m) {
    for (int i = 0; i < usg_eval_metric_count(); i++) {
        const char *name = usg_eval_metric_name(i);
        usg_eval_kind k = usg_eval_metric_kind(i);
        char val[64], det[64];
        fmt_value(val, sizeof val, usg_eval_metric_value(m, i), k);
        ratio_detail(m, name, det, sizeof det);
        const char *unit = kind_unit(k);
        printf("%-22s %10s%s%s%s%s\n", name, val, *unit ? " " : "", unit, *det ? " " : "", det);
    }
}

static void print_json(const usg_eval_metrics *m) {
    putchar('{');
    for (int i = 0; i < usg_eval_metric_count(); i++) {
        char val[64];
        fmt_json(val, sizeof val, usg_eval_metric_value(m, i));
        printf("%s\"%s\": %s", i ? ", " : "", usg_eval_metric_name(i), val);
    }
    printf("}\n");
}

/* ---- per-frame dump ------------------------------------------------------ */

static const char *presence_name(usg_eval_presence p) {
    switch (p) {
    case USG_EVAL_RESULT_OK: return "ok";
    case USG_EVAL_RESULT_MISSING: return "missing";
    case USG_EVAL_RESULT_ERROR: return "error";
    case USG_EVAL_RESULT_DROPPED: return "dropped";
    }
    return "?";
}

static const char *needle_outcome(const usg_eval_frame *f) {
    if (f->truth_needle) return f->result_needle ? "hit" : "miss";
    return f->result_needle ? "fp" : "none";
}

static void put_num(FILE *out, double v) {
    if (isnan(v)) {
        fputs("\tn/a", out);
    } else if (isinf(v)) {
        fputs("\tinf", out);
    } else {
        fprintf(out, "\t%.4f", v);
    }
}

static void per_frame_header(FILE *out) {
    fputs("frame\tresult\tneedle\ttip_err_mm\tangle_err_deg\tsacrum_dist_mm\tsacrum_cov"
          "\tilium_dist_mm\tilium_cov\tlabel_swap\ttarget_err_mm\n",
          out);
}

static void per_frame_line(const usg_eval_frame *f, void *user) {
    FILE *out = user;
    fprintf(out, "%d\t%s\t%s", f->frame, presence_name(f->presence), needle_outcome(f));
    put_num(out, f->tip_err_mm);
    put_num(out, f->angle_err_deg);
    for (int b = 0; b < 2; b++) {
        put_num(out, f->bone[b].mean_dist_mm);
        put_num(out, f->bone[b].coverage);
    }
    fprintf(out, "\t%d", f->label_swap);
    put_num(out, f->target_err_mm);
    fputc('\n', out);
}

/* ---- requirements -------------------------------------------------------- */

/* Check each --require; prints the missed ones. Returns the number missed. */
static int check_requirements(const eval_opts *o, const usg_eval_metrics *m) {
    int missed = 0;
    for (int i = 0; i < o->nreq; i++) {
        const eval_req *r = &o->req[i];
        double v = usg_eval_metric_value(m, r->metric);
        char val[64];
        fmt_exact(val, sizeof val, v);
        if (isnan(v)) {
            if (!o->quiet) {
                cli_error("eval: requirement %s not checked: the metric is n/a (no samples)",
                          r->text);
            }
            continue;
        }
        int ok = r->at_least ? v >= r->value : v <= r->value;
        if (!ok) {
            cli_error("eval: requirement %s missed: %s is %s", r->text,
                      usg_eval_metric_name(r->metric), val);
            missed++;
        }
    }
    return missed;
}

static void warn_frames(const eval_opts *o, const usg_eval_metrics *m) {
    if (o->quiet) {
        return;
    }
    if (m->frames_missing) {
        cli_error("eval: warning: %d of %d truth frames have no result line (scored as nothing "
                  "found)",
                  m->frames_missing, m->frames);
    }
    if (m->frames_extra) {
        cli_error("eval: warning: %d result frames are not in the truth (lowest: frame %d)",
                  m->frames_extra, m->first_extra);
    }
}

static int run_eval(const eval_opts *o, usg_eval *e) {
    FILE *pf = NULL;
    if (o->per_frame) {
        pf = strcmp(o->per_frame, "-") ? fopen(o->per_frame, "w") : stdout;
        if (!pf) {
            cli_error("eval: %s: %s", o->per_frame, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        per_frame_header(pf);
    }
    usg_status st = usg_eval_files(e, o->truth, o->results, o->spacing,
                                   pf ? per_frame_line : NULL, pf);
    int werr = 0;
    if (pf) {
        werr = ferror(pf) != 0;
        werr |= pf != stdout ? fclose(pf) != 0 : fflush(pf) != 0;
    }
    if (st) {
        cli_error("eval: %s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    if (werr) {
        cli_error("eval: %s: write error", o->per_frame);
        return CLI_EXIT_USAGE;
    }
    usg_eval_metrics m;
    usg_eval_get_metrics(e, &m);
    if (o->json) {
        print_json(&m);
    } else {
        print_table(&m);
    }
    fflush(stdout);
    warn_frames(o, &m);
    return check_requirements(o, &m) ? CLI_EXIT_FRAMES : CLI_EXIT_OK;
}

int cmd_eval(int argc, char **argv) {
    static eval_opts o; /* static: the requirement table is large-ish */
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    usg_eval *e;
    if (usg_eval_new(&e)) {
        cli_error("eval: %s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    rc = run_eval(&o, e);
    usg_eval_free(e);
    return rc;
}
