/* source.c - the frame source interface: dispatch by URI/path, common calls. */
#include "source_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Directory part of a path ("." if none). */
static void dir_of(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, cap, ".");
    } else if (slash == path) {
        snprintf(out, cap, "/");
    } else {
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
    }
}

static usg_status open_file(usg_source *s, const char *path) {
    dir_of(path, s->dir, sizeof s->dir);
    if (has_suffix(path, ".png")) {
        s->kind = USG_SOURCE_PNG;
        return usg_source_open_png(s, path);
    }
    if (has_suffix(path, ".mha") || has_suffix(path, ".mhd")) {
        s->kind = USG_SOURCE_METAIMAGE;
        return usg_source_open_metaimage(s, path);
    }
    s->kind = USG_SOURCE_VIDEO;
    return usg_source_open_video(s, path);
}

static usg_status dispatch(usg_source *s, const char *uri, const usg_source_opts *o) {
    if (!strncmp(uri, "igtl://", 7)) {
        s->kind = USG_SOURCE_IGTL;
        s->live = 1;
        return usg_source_open_igtl(s, uri, o);
    }
    if (!strncmp(uri, "/dev/video", 10)) {
        s->kind = USG_SOURCE_V4L2;
        s->live = 1;
        return usg_source_open_v4l2(s, uri, o);
    }
    struct stat st;
    if (stat(uri, &st) != 0) return usg_fail(USG_ERR_IO, "%s: cannot open: %s", uri, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        s->kind = USG_SOURCE_PNG_DIR;
        return usg_source_open_png_dir(s, uri);
    }
    return open_file(s, uri);
}

usg_status usg_source_open(const char *uri, const usg_source_opts *opts, usg_source **out) {
    *out = NULL;
    if (!uri || !*uri) return usg_fail(USG_ERR_ARG, "no input given");
    usg_source *s = calloc(1, sizeof *s);
    if (!s) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", uri);
    usg_source_opts defaults;
    memset(&defaults, 0, sizeof defaults);
    s->count = -1;
    snprintf(s->name, sizeof s->name, "%s", uri);
    usg_status st = dispatch(s, uri, opts ? opts : &defaults);
    if (st != USG_OK) {
        free(s);
        return st;
    }
    *out = s;
    return USG_OK;
}

usg_status usg_source_next(usg_source *s, usg_frame *out) {
    memset(out, 0, sizeof *out);
    return s->vt->next(s, out);
}

int usg_source_count(const usg_source *s) { return s->count; }
double usg_source_fps(const usg_source *s) { return s->fps; }
usg_source_kind usg_source_get_kind(const usg_source *s) { return s->kind; }
int usg_source_is_live(const usg_source *s) { return s->live; }
const char *usg_source_dir(const usg_source *s) { return s->dir; }

void usg_source_close(usg_source *s) {
    if (!s) return;
    if (s->vt && s->vt->close) s->vt->close(s);
    free(s);
}
