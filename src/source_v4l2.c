/* source_v4l2.c - /dev/videoN frame source (a V4L2 frame grabber) through
 * the OpenCV shim: size, fps and pixel format requests, grey frames (the shim
 * converts YUYV / MJPEG / BGR). When the device fails or vanishes it is
 * closed and reopened with back-off (100 ms doubling to 2 s); meanwhile
 * usg_source_next returns USG_ERR_IO and the live loop shows NO SIGNAL. A
 * stalled device blocks inside the driver read: the live loop notices the
 * missing frames by itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cvshim/cvshim.h"
#include "live_impl.h"
#include "source_impl.h"

#define V4L2_BACKOFF_MIN_MS 100.0
#define V4L2_BACKOFF_MAX_MS 2000.0

typedef struct v4l2_src {
    char path[256];
    usg_source_opts opts;
    cvshim_capture *cap;
    usg_image grey;          /* allocated by the shim to the frame size */
    int index;
    double backoff_ms, next_try_ms;
} v4l2_src;

static usg_status open_device(v4l2_src *v) {
    return cvshim_capture_open_device(v->path, v->opts.width, v->opts.height, v->opts.fps,
                                      v->opts.pixel_format, &v->cap);
}

static void sleep_ms(double ms) {
    if (ms <= 0) return;
    long long ns = (long long)(ms * 1e6);
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

/* Reopen a lost device when its back-off has passed (waiting at most the timeout). */
static usg_status reopen(v4l2_src *v) {
    int timeout = v->opts.timeout_ms > 0 ? v->opts.timeout_ms : 2000;
    double wait = v->next_try_ms - usg_now_ms();
    sleep_ms(wait > timeout ? timeout : wait);
    if (usg_now_ms() < v->next_try_ms) {
        return usg_fail(USG_ERR_IO, "%s: no signal, reopening in %.0f ms", v->path,
                        v->next_try_ms - usg_now_ms());
    }
    usg_status st = open_device(v);
    if (st != USG_OK) {
        v->cap = NULL;
        v->backoff_ms = v->backoff_ms * 2 > V4L2_BACKOFF_MAX_MS ? V4L2_BACKOFF_MAX_MS : v->backoff_ms * 2;
        v->next_try_ms = usg_now_ms() + v->backoff_ms;
        return usg_fail_context(USG_ERR_IO, "no signal");
    }
    v->backoff_ms = V4L2_BACKOFF_MIN_MS;
    return USG_OK;
}

static usg_status v4l2_next(usg_source *s, usg_frame *out) {
    v4l2_src *v = s->priv;
    if (!v->cap) {
        usg_status st = reopen(v);
        if (st != USG_OK) return st;
    }
    double t;
    usg_status st = cvshim_capture_read(v->cap, &v->grey, &t);
    double arrived = usg_now_ms(); /* after the driver handed the frame over (and the shim converted it) */
    if (st == USG_ERR_FRAME) {
        out->index = v->index++;
        out->t_ms = arrived;
        return st;
    }
    if (st != USG_OK) {
        /* the device failed or vanished: close it and reopen with back-off */
        cvshim_capture_close(v->cap);
        v->cap = NULL;
        v->next_try_ms = usg_now_ms() + v->backoff_ms;
        return usg_fail_context(st == USG_ERR_NOMEM ? st : USG_ERR_IO, "no signal");
    }
    out->image = v->grey;
    out->index = v->index++;
    out->t_ms = arrived;
    out->has_spacing = 0;
    return USG_OK;
}

static void v4l2_close(usg_source *s) {
    v4l2_src *v = s->priv;
    if (!v) return;
    cvshim_capture_close(v->cap);
    usg_image_free(&v->grey);
    free(v);
    s->priv = NULL;
}

static const usg_source_vt v4l2_vt = {v4l2_next, v4l2_close};

usg_status usg_source_open_v4l2(usg_source *s, const char *path, const usg_source_opts *o) {
    v4l2_src *v = calloc(1, sizeof *v);
    if (!v) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    if (snprintf(v->path, sizeof v->path, "%s", path) >= (int)sizeof v->path) {
        free(v);
        return usg_fail(USG_ERR_ARG, "%s: device path too long", path);
    }
    if (o) v->opts = *o;
    v->backoff_ms = V4L2_BACKOFF_MIN_MS;
    usg_status st = open_device(v);
    if (st != USG_OK) {
        free(v);
        return st;
    }
    s->vt = &v4l2_vt;
    s->priv = v;
    s->count = -1;
    s->fps = cvshim_capture_fps(v->cap);
    return USG_OK;
}
