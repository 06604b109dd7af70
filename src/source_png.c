/* source_png.c - a single PNG file, or a directory of PNG frames taken in
 * lexicographic order of file name (frames/ subfolder accepted). */
#include "source_impl.h"
#include "usg/png_io.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Frame period used for PNG sequences, which carry no timestamps. */
#define USG_PNG_DEFAULT_FPS 30.0

typedef struct png_src {
    char **files;  /* full paths, sorted */
    int n, next;
    usg_image img; /* sized from the first readable frame */
} png_src;

static usg_status png_next(usg_source *s, usg_frame *out) {
    png_src *p = s->priv;
    if (p->next >= p->n) return USG_ERR_EOF;
    int i = p->next++;
    out->index = i;
    out->t_ms = i * 1000.0 / USG_PNG_DEFAULT_FPS;
    usg_status st = usg_png_read_grey(p->files[i], &p->img);
    if (st != USG_OK) return USG_ERR_FRAME; /* the message names the file; the sequence goes on */
    out->image = p->img;
    return USG_OK;
}

static void png_close(usg_source *s) {
    png_src *p = s->priv;
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->files[i]);
    free(p->files);
    usg_image_free(&p->img);
    free(p);
}

static const usg_source_vt png_vt = {png_next, png_close};

/* Allocate the frame buffer from the first frame whose header reads. */
static usg_status size_from_first(usg_source *s, png_src *p) {
    for (int i = 0; i < p->n; i++) {
        int w, h;
        if (usg_png_info(p->files[i], &w, &h) == USG_OK) return usg_image_alloc(&p->img, w, h);
    }
    if (p->n == 1) return USG_ERR_FORMAT; /* the message names the file and its problem */
    return usg_fail(USG_ERR_FORMAT, "%s: no readable PNG frame (%d file%s, all corrupt)", s->name, p->n,
                    p->n == 1 ? "" : "s");
}

static usg_status attach(usg_source *s, png_src *p) {
    s->vt = &png_vt;
    s->priv = p;
    s->count = p->n;
    s->fps = USG_PNG_DEFAULT_FPS;
    usg_status st = size_from_first(s, p);
    if (st != USG_OK) {
        png_close(s);
        s->priv = NULL;
    }
    return st;
}

usg_status usg_source_open_png(usg_source *s, const char *path) {
    png_src *p = calloc(1, sizeof *p);
    char *copy = strdup(path);
    if (!p || !copy) {
        free(p);
        free(copy);
        return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    }
    p->files = malloc(sizeof *p->files);
    if (!p->files) {
        free(p);
        free(copy);
        return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    }
    p->files[0] = copy;
    p->n = 1;
    return attach(s, p);
}

static int is_png_name(const char *n) {
    size_t len = strlen(n);
    return n[0] != '.' && len > 4 && strcasecmp(n + len - 4, ".png") == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* List the PNG files of dir (full paths, sorted). Returns the count, -1 on error. */
static int list_pngs(const char *dir, char ***out) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 64;
    char **v = malloc(cap * sizeof *v);
    struct dirent *e;
    while (v && (e = readdir(d))) {
        if (!is_png_name(e->d_name)) continue;
        if (n == cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        v[n] = malloc(len);
        if (!v[n]) break;
        snprintf(v[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (!v) return -1;
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

usg_status usg_source_open_png_dir(usg_source *s, const char *path) {
    char frames[PATH_MAX + 8];
    snprintf(frames, sizeof frames, "%s/frames", path);
    png_src *p = calloc(1, sizeof *p);
    if (!p) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    p->n = list_pngs(path, &p->files);
    if (p->n < 0) {
        free(p);
        return usg_fail(USG_ERR_IO, "%s: cannot list directory: %s", path, strerror(errno));
    }
    /* A sequence folder: probe.ini and truth.jsonl beside frames/. */
    snprintf(s->dir, sizeof s->dir, "%s", path);
    if (p->n == 0 && is_dir(frames)) {
        free(p->files);
        p->n = list_pngs(frames, &p->files);
        if (p->n < 0) {
            free(p);
            return usg_fail(USG_ERR_IO, "%s: cannot list directory: %s", frames, strerror(errno));
        }
    } else {
        /* The frames folder itself: metadata may sit in its parent. */
        char probe[PATH_MAX + 16];
        snprintf(probe, sizeof probe, "%s/probe.ini", path);
        if (!file_exists(probe)) snprintf(s->dir, sizeof s->dir, "%s/..", path);
    }
    if (p->n == 0) {
        free(p->files);
        free(p);
        return usg_fail(USG_ERR_FORMAT, "%s: no PNG frames in this directory (nor in %s/frames)", path, path);
    }
    return attach(s, p);
}
