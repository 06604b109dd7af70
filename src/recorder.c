/* recorder.c - overlay output: a PNG per frame in a directory, or a video file. */
#include "usg/recorder.h"
#include "usg/fs.h"
#include "usg/png_io.h"
#include "cvshim/cvshim.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

usg_status usg_recorder_open(const char *path, int width, int height, double fps, usg_recorder **out) {
    *out = NULL;
    usg_recorder *r = calloc(1, sizeof *r);
    if (!r) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->w = width;
    r->h = height;
    usg_status st = is_video_name(path) ? usg_mkdirs_for_file(path) : usg_mkdirs(path);
    if (st == USG_OK && is_video_name(path)) st = cvshim_writer_open(path, width, height, fps, &r->video);
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
