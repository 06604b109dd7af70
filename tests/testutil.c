#include "testutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp_fd_file(const char *path) {
    size_t n = 0;
    char *s = tu_read_file(path, &n);
    if (!s) {
        s = calloc(1, 1);
    }
    return s;
}

tu_run tu_sh(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char out_path[] = "/tmp/usg_test_outXXXXXX";
    char err_path[] = "/tmp/usg_test_errXXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    if (fo >= 0) close(fo);
    if (fe >= 0) close(fe);
    char full[9000];
    snprintf(full, sizeof full, "(%s) >%s 2>%s </dev/null", cmd, out_path, err_path);
    int st = system(full);
    tu_run r;
    if (st == -1) {
        r.status = -1;
    } else if (WIFEXITED(st)) {
        r.status = WEXITSTATUS(st);
    } else {
        r.status = 128 + WTERMSIG(st);
    }
    r.out = slurp_fd_file(out_path);
    r.err = slurp_fd_file(err_path);
    unlink(out_path);
    unlink(err_path);
    return r;
}

void tu_run_free(tu_run *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

const char *tu_scratch(const char *tag) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s.%d", USG_TEST_TMP, tag, (int)getpid());
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        return NULL;
    }
    return path;
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int tu_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

int tu_count_lines(const char *path) {
    size_t n = 0;
    char *s = tu_read_file(path, &n);
    if (!s) return -1;
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += s[i] == '\n';
    free(s);
    return lines;
}

int tu_have_shared(void) {
    struct stat st;
    return stat(USG_SHARED_DATA, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *tu_shared(const char *name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", USG_SHARED_DATA, name);
    return path;
}
