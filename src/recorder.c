/* recorder.c - overlay output: a PNG per frame in a directory, or a video file. */
#include "usg/recorder.h"
#include "usg/png_io.h"
#include "cvshim/cvshim.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct usg_recorder {
    char path[PATH_MAX];
    cvshim_writer *video; /* NULL: PNG directory */
    int w, h;
};

static int is_video_name(const char *p) {
    const char *dot = strrchr(p, '.');
    return dot && (!strcasecmp(dot, ".avi") || !strcasecmp(dot, ".mp4") || !strcasecmp(dot, ".mkv") ||
                   !strcasecmp(dot, ".m4v"));
}

/* mkdir -p */
static usg_status make_dirs(const char *path) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return usg_fail(USG_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return usg_fail(USG_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return usg_fail(USG_ERR_IO, "%s: exists and is not a directory", buf);
    return USG_OK;
}

usg_status usg_recorder_open(const char *path, int width, int height, double fps, usg_recorder **out) {
    *out = NULL;
    usg_recorder *r = calloc(1, sizeof *r);
    if (!r) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->w = width;
    r->h = height;
    usg_status st = is_video_name(path) ? cvshim_writer_open(path, width, height, fps, &r->video) : make_dirs(path);
    if (st != USG_OK) {
        free(r);
        return st;
    }
    *out = r;
    return USG_OK;
}

usg_status usg_recorder_write(usg_recorder *r, const usg_rgb *img, int index) {
    if (r->video) return cvshim_writer_write(r->video, img);
    char name[PATH_MAX + 16];
    snprintf(name, sizeof name, "%s/%04d.png", r->path, index);
    return usg_png_write_rgb(name, img);
}

usg_status usg_recorder_close(usg_recorder *r) {
    if (!r) return USG_OK;
    cvshim_writer_close(r->video);
    free(r);
    return USG_OK;
}
