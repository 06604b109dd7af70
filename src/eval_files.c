/* eval_files.c - usg_eval_files: pair a truth and a results JSON Lines file by
 * frame. The results are indexed first (frame -> file offset; every line is
 * parsed, so a malformed line is reported before any scoring), then the truth
 * streams by and each frame's result line is read back from its offset: only
 * two usg_result buffers are ever held, whatever the order of either file. */
#include "usg/eval.h"
#include "eval_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct res_entry {
    int frame;
    int line;
    long off;
    int used;
} res_entry;

typedef struct tline {
    int frame, line;
} tline;

typedef struct linereader {
    FILE *f;
    const char *path;
    char *buf;
    size_t cap;
    int line;
} linereader;

/* Spool standard input into a temporary file so that it can be indexed and re-read. */
static usg_status lr_open_stdin(linereader *lr) {
    lr->path = "stdin";
    lr->f = tmpfile();
    if (!lr->f) {
        return usg_fail(USG_ERR_IO, "stdin: cannot make a temporary file: %s", strerror(errno));
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (fwrite(chunk, 1, n, lr->f) != n) {
            return usg_fail(USG_ERR_IO, "stdin: cannot spool to a temporary file: %s",
                            strerror(errno));
        }
    }
    if (ferror(stdin)) {
        return usg_fail(USG_ERR_IO, "stdin: read error");
    }
    rewind(lr->f);
    return USG_OK;
}

static usg_status lr_open(linereader *lr, const char *path) {
    memset(lr, 0, sizeof *lr);
    if (!strcmp(path, "-")) {
        return lr_open_stdin(lr);
    }
    lr->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        return usg_fail(USG_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode)) {
        return usg_fail(USG_ERR_IO, "%s: not a regular file", path);
    }
    lr->f = fopen(path, "rb");
    if (!lr->f) {
        return usg_fail(USG_ERR_IO, "%s: %s", path, strerror(errno));
    }
    return USG_OK;
}

static void lr_close(linereader *lr) {
    if (lr->f) {
        fclose(lr->f);
    }
    free(lr->buf);
    lr->f = NULL;
    lr->buf = NULL;
}

static int is_blank(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
        s++;
    }
    return *s == 0;
}

/* Next non-blank line into lr->buf; *off receives its offset. USG_ERR_EOF at the end. */
static usg_status lr_next(linereader *lr, long *off) {
    for (;;) {
        *off = ftell(lr->f);
        errno = 0;
        ssize_t n = getline(&lr->buf, &lr->cap, lr->f);
        if (n < 0) {
            if (ferror(lr->f)) {
                return usg_fail(USG_ERR_IO, "%s:%d: read error: %s", lr->path, lr->line + 1,
                                strerror(errno ? errno : EIO));
            }
            return USG_ERR_EOF;
        }
        lr->line++;
        if ((size_t)n != strlen(lr->buf)) {
            return usg_fail(USG_ERR_FORMAT, "%s:%d: NUL byte in the line", lr->path, lr->line);
        }
        if (!is_blank(lr->buf)) {
            return USG_OK;
        }
    }
}

/* Parse lr->buf, adding "path:line" to an error. */
static usg_status lr_parse(linereader *lr, usg_result *r) {
    usg_status st = usg_result_from_json(lr->buf, r);
    if (st) {
        char where[1100];
        snprintf(where, sizeof where, "%s:%d", lr->path, lr->line);
        return usg_fail_context(st, where);
    }
    return USG_OK;
}

static int cmp_res_entry(const void *a, const void *b) {
    const res_entry *x = a, *y = b;
    if (x->frame != y->frame) return (x->frame > y->frame) - (x->frame < y->frame);
    return (x->line > y->line) - (x->line < y->line);
}

static int cmp_tline(const void *a, const void *b) {
    const tline *x = a, *y = b;
    if (x->frame != y->frame) return (x->frame > y->frame) - (x->frame < y->frame);
    return (x->line > y->line) - (x->line < y->line);
}

/* Grow *v (elements of size `sz`) to hold n + 1. */
static usg_status grow(void **v, int *cap, int n, size_t sz) {
    if (n < *cap) {
        return USG_OK;
    }
    int nc = *cap ? *cap * 2 : 1024;
    void *p = realloc(*v, (size_t)nc * sz);
    if (!p) {
        return usg_fail(USG_ERR_NOMEM, "eval: out of memory for %d lines", nc);
    }
    *v = p;
    *cap = nc;
    return USG_OK;
}

/* Index every result line by frame (each line is parsed: errors are found here). */
static usg_status index_results(linereader *lr, usg_result *scratch, res_entry **out, int *nout) {
    res_entry *idx = NULL;
    int n = 0, cap = 0;
    usg_status st;
    long off;
    while ((st = lr_next(lr, &off)) == USG_OK) {
        st = lr_parse(lr, scratch);
        if (!st) st = grow((void **)&idx, &cap, n, sizeof *idx);
        if (st) break;
        idx[n++] = (res_entry){scratch->frame, lr->line, off, 0};
    }
    if (st == USG_ERR_EOF) {
        st = USG_OK;
        qsort(idx, (size_t)n, sizeof *idx, cmp_res_entry);
        for (int i = 1; i < n; i++) {
            if (idx[i].frame == idx[i - 1].frame) {
                st = usg_fail(USG_ERR_FORMAT, "%s:%d: frame %d already on line %d", lr->path,
                              idx[i].line, idx[i].frame, idx[i - 1].line);
                break;
            }
        }
    }
    if (st) {
        free(idx);
        return st;
    }
    *out = idx;
    *nout = n;
    return USG_OK;
}

static res_entry *find_result(res_entry *idx, int n, int frame) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (idx[mid].frame < frame) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < n && idx[lo].frame == frame ? &idx[lo] : NULL;
}

/* Read the result line at `ri` into r. */
static usg_status read_result_at(linereader *lr, const res_entry *ri, usg_result *r) {
    long off;
    if (fseek(lr->f, ri->off, SEEK_SET) != 0) {
        return usg_fail(USG_ERR_IO, "%s: seek failed: %s", lr->path, strerror(errno));
    }
    lr->line = ri->line - 1;
    usg_status st = lr_next(lr, &off);
    if (st == USG_ERR_EOF) {
        return usg_fail(USG_ERR_IO, "%s:%d: the file changed while being read", lr->path,
                        ri->line);
    }
    return st ? st : lr_parse(lr, r);
}

static usg_status check_truth_dups(tline *tl, int n, const char *path) {
    qsort(tl, (size_t)n, sizeof *tl, cmp_tline);
    for (int i = 1; i < n; i++) {
        if (tl[i].frame == tl[i - 1].frame) {
            return usg_fail(USG_ERR_FORMAT, "%s:%d: frame %d already on line %d", path,
                            tl[i].line, tl[i].frame, tl[i - 1].line);
        }
    }
    return USG_OK;
}

/* Stream the truth, scoring each frame against its indexed result. */
static usg_status score_truth(usg_eval *e, linereader *tr, linereader *rr, res_entry *idx, int nidx,
                              double default_sp, usg_eval_frame_fn fn, void *user) {
    tline *tl = NULL;
    int ntl = 0, captl = 0;
    usg_status st;
    long off;
    while ((st = lr_next(tr, &off)) == USG_OK) {
        usg_result *t, *res;
        usg_eval_scratch(e, &t, &res);
        st = lr_parse(tr, t);
        if (!st) st = grow((void **)&tl, &captl, ntl, sizeof *tl);
        if (st) break;
        tl[ntl++] = (tline){t->frame, tr->line};
        double sp = t->has_spacing ? t->spacing_mm : default_sp;
        if (!(sp > 0)) {
            st = usg_fail(USG_ERR_FORMAT, "%s:%d: no positive spacing_mm in the truth line",
                          tr->path, tr->line);
            break;
        }
        res_entry *ri = find_result(idx, nidx, t->frame);
        if (ri) {
            ri->used = 1;
            st = read_result_at(rr, ri, res);
            if (st) break;
        }
        usg_eval_frame f;
        st = usg_eval_add_spaced(e, t, ri ? res : NULL, sp, &f);
        if (st) break;
        if (fn) {
            fn(&f, user);
        }
    }
    if (st == USG_ERR_EOF) {
        st = check_truth_dups(tl, ntl, tr->path);
    }
    free(tl);
    return st;
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The truth file for TRUTH: the path itself, or DIR/truth.jsonl, or for a
 * DIR named "frames" without one, the parent's truth.jsonl (the sequence layout
 * of CONTRACT.md). */
static void truth_file(const char *truth, char *out, size_t cap) {
    if (!is_dir(truth)) {
        snprintf(out, cap, "%s", truth);
        return;
    }
    size_t n = strlen(truth);
    while (n > 1 && truth[n - 1] == '/') {
        n--;
    }
    snprintf(out, cap, "%.*s/truth.jsonl", (int)n, truth);
    int frames_dir = n >= 6 && !strncmp(truth + n - 6, "frames", 6) &&
                     (n == 6 || truth[n - 7] == '/');
    if (!is_file(out) && frames_dir) {
        snprintf(out, cap, "%.*struth.jsonl", (int)(n - 6), truth);
    }
}

usg_status usg_eval_files(usg_eval *e, const char *truth_path, const char *results_path,
                          double default_spacing_mm, usg_eval_frame_fn fn, void *user) {
    char tpath[4096];
    truth_file(truth_path, tpath, sizeof tpath);
    linereader tr, rr;
    usg_status st = lr_open(&rr, results_path);
    if (!st) st = lr_open(&tr, tpath);
    if (st) {
        lr_close(&rr);
        return st;
    }
    res_entry *idx = NULL;
    int nidx = 0;
    usg_result *tbuf, *rbuf;
    usg_eval_scratch(e, &tbuf, &rbuf);
    st = index_results(&rr, rbuf, &idx, &nidx);
    if (!st) st = score_truth(e, &tr, &rr, idx, nidx, default_spacing_mm, fn, user);
    for (int i = 0; !st && i < nidx; i++) {
        if (!idx[i].used) {
            usg_eval_add_extra(e, idx[i].frame);
        }
    }
    free(idx);
    lr_close(&tr);
    lr_close(&rr);
    return st;
}
