/* testutil.h - helpers shared by the Criterion tests: run the CLI, make
 * scratch directories, read files. */
#ifndef USG_TESTUTIL_H
#define USG_TESTUTIL_H

#include <stddef.h>

/* Output of a finished command. Free with tu_run_free. */
typedef struct tu_run {
    int status;   /* exit status, or 128+signal */
    char *out;    /* stdout (NUL-terminated) */
    char *err;    /* stderr */
} tu_run;

/* Run `sh -c cmd`, capturing stdout and stderr. */
tu_run tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tu_run_free(tu_run *r);

/* A fresh empty scratch directory under the build tree, named after `tag`.
 * Returns a static buffer valid until the next call. */
const char *tu_scratch(const char *tag);

/* Read a whole file (NUL-terminated, caller frees); NULL if unreadable. */
char *tu_read_file(const char *path, size_t *len);

/* Write bytes to a file; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t len);

/* Count lines in a file (-1 if unreadable). */
int tu_count_lines(const char *path);

/* 1 if ../shared/data/plus is present. */
int tu_have_shared(void);

/* Path to a file in the shared recordings (static buffer). */
const char *tu_shared(const char *name);

#endif
