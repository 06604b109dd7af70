/* source_video.c - video files through the OpenCV shim. */
#include "source_impl.h"
#include "cvshim/cvshim.h"

#include <stdlib.h>

typedef struct video_src {
    cvshim_capture *cap;
    usg_image img;
    int next;
} video_src;

static usg_status video_next(usg_source *s, usg_frame *out) {
    video_src *v = s->priv;
    double t = 0;
    usg_status st = cvshim_capture_read(v->cap, &v->img, &t);
    out->index = v->next;
    out->t_ms = s->fps > 0 ? v->next * 1000.0 / s->fps : t;
    if (st == USG_ERR_EOF) return st;
    v->next++;
    if (st != USG_OK) return USG_ERR_FRAME;
    out->image = v->img;
    return USG_OK;
}

static void video_close(usg_source *s) {
    video_src *v = s->priv;
    if (!v) return;
    cvshim_capture_close(v->cap);
    usg_image_free(&v->img);
    free(v);
}

static const usg_source_vt video_vt = {video_next, video_close};

usg_status usg_source_open_video(usg_source *s, const char *path) {
    video_src *v = calloc(1, sizeof *v);
    if (!v) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    usg_status st = cvshim_capture_open_file(path, &v->cap);
    if (st != USG_OK) {
        free(v);
        return st;
    }
    s->vt = &video_vt;
    s->priv = v;
    s->count = cvshim_capture_count(v->cap);
    s->fps = cvshim_capture_fps(v->cap);
    return USG_OK;
}
