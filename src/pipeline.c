/* pipeline.c - clip -> denoise -> bone -> needle -> target, timed per stage.
 * Stages see the clipped image, normalised so the transducer is at the top
 * (flipped when the profile's orientation says near side down), in clipped
 * coordinates; results are mapped to full-frame coordinates at the end.
 * Everything is allocated in _new. */
#include "usg/pipeline.h"
#include "usg/bone.h"
#include "usg/needle.h"
#include "usg/target.h"
#include "thread_start.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* The asynchronous needle acquisition worker (params.async_needle_acquisition). */
typedef struct acq_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, quit, busy, done; /* under mu */
    usg_needle_tracker *tracker;   /* owned by the worker while busy */
    usg_image img;                 /* the frame handed over (denoised, clipped, normalised) */
    usg_edge *sacrum, *ilium;      /* its bone edges */
    usg_needle found;              /* the worker's result for that frame */
} acq_worker;

struct usg_pipeline {
    usg_pipeline_params p;
    int fw, fh;             /* frame size */
    int cx, cy, cw, ch;     /* clip rectangle */
    usg_denoiser *dn;
    usg_bone_detector *bone;
    usg_needle_tracker *needle;
    usg_target_tracker *target;
    usg_image den;          /* clip-sized denoised frame */
    usg_image flipped;      /* clip-sized, near-side-down profiles only */
    usg_edge *sacrum, *ilium; /* clipped coordinates, kept for degraded frames */
    usg_needle last_needle; /* last frame's needle, clipped coordinates */
    usg_degrade degrade;
    acq_worker acq;         /* used when p.async_needle_acquisition */
    int tracking;           /* async: the caller's tracker holds a track */
};

double usg_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void acq_stop(acq_worker *w);

void usg_pipeline_free(usg_pipeline *pl) {
    if (!pl) return;
    acq_stop(&pl->acq);
    usg_denoiser_free(pl->dn);
    usg_bone_detector_free(pl->bone);
    usg_needle_tracker_free(pl->needle);
    usg_target_tracker_free(pl->target);
    usg_image_free(&pl->den);
    usg_image_free(&pl->flipped);
    free(pl->sacrum);
    free(pl->ilium);
    free(pl);
}

/* ---- asynchronous needle acquisition ---- */

static void *acq_main(void *arg) {
    acq_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit) break;
        pthread_mutex_unlock(&w->mu);
        usg_needle n;
        usg_needle_tracker_reset(w->tracker);
        if (usg_needle_tracker_process(w->tracker, &w->img, &w->img, w->sacrum, w->ilium, 0, &n) != USG_OK) {
            n.found = 0;
        }
        pthread_mutex_lock(&w->mu);
        w->found = n;
        w->busy = 0;
        w->done = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Buffers and the thread, at normal priority even when the caller runs real-time. */
static usg_status acq_start(acq_worker *w, int cw, int ch) {
    usg_status st = usg_image_alloc(&w->img, cw, ch);
    if (st != USG_OK) return st;
    w->sacrum = calloc(1, sizeof *w->sacrum);
    w->ilium = calloc(1, sizeof *w->ilium);
    if (!w->sacrum || !w->ilium) return usg_fail(USG_ERR_NOMEM, "pipeline: out of memory");
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = usg_thread_start_normal(&w->thread, acq_main, w);
    if (rc != 0) return usg_fail(USG_ERR_NOMEM, "pipeline: cannot start the needle acquisition thread (error %d)", rc);
    w->running = 1;
    return USG_OK;
}

/* Wait until the worker is idle (its tracker and buffers are the caller's
 * again) and forget a result it may hold. */
static void acq_wait_idle(acq_worker *w) {
    if (!w->running) return;
    pthread_mutex_lock(&w->mu);
    while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
    w->done = 0;
    pthread_mutex_unlock(&w->mu);
}

static void acq_stop(acq_worker *w) {
    if (w->running) {
        pthread_mutex_lock(&w->mu);
        w->quit = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        w->running = 0;
    }
    usg_needle_tracker_free(w->tracker);
    w->tracker = NULL;
    usg_image_free(&w->img);
    free(w->sacrum);
    free(w->ilium);
    w->sacrum = w->ilium = NULL;
}

static void copy_edge_raw(const usg_edge *src, usg_edge *dst) {
    dst->found = src->found;
    dst->n = src->found ? src->n : 0;
    memcpy(dst->pts, src->pts, sizeof(usg_point) * (size_t)dst->n);
}

/* Async needle stage: adopt a finished acquisition (swap trackers), track in a
 * window, and when nothing is tracked hand this frame to an idle worker. */
static usg_status needle_async(usg_pipeline *pl, const usg_image *img, usg_needle *out) {
    acq_worker *w = &pl->acq;
    pthread_mutex_lock(&w->mu);
    int busy = w->busy;
    if (w->done) {
        w->done = 0;
        if (w->found.found && !pl->tracking) {
            usg_needle_tracker *t = pl->needle;
            pl->needle = w->tracker;
            w->tracker = t;
            pl->tracking = 1;
        }
    }
    pthread_mutex_unlock(&w->mu);
    memset(out, 0, sizeof *out);
    usg_status st = USG_OK;
    if (pl->tracking) {
        st = usg_needle_tracker_process(pl->needle, img, img, pl->sacrum, pl->ilium, 1, out);
        pl->tracking = st == USG_OK && out->found;
    }
    if (!pl->tracking && !busy) {
        usg_image_copy(img, &w->img);
        copy_edge_raw(pl->sacrum, w->sacrum);
        copy_edge_raw(pl->ilium, w->ilium);
        pthread_mutex_lock(&w->mu);
        w->busy = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    return st;
}

static usg_status run_needle(usg_pipeline *pl, const usg_image *img, const usg_image *raw, usg_needle *out) {
    if (pl->p.async_needle_acquisition) return needle_async(pl, img, out);
    return usg_needle_tracker_process(pl->needle, img, raw, pl->sacrum, pl->ilium,
                                      pl->degrade >= USG_DEGRADE_WINDOW_ONLY, out);
}

static usg_status make_stages(usg_pipeline *pl) {
    usg_status st = usg_image_alloc(&pl->den, pl->cw, pl->ch);
    if (st == USG_OK && usg_probe_near_side_down(&pl->p.probe)) st = usg_image_alloc(&pl->flipped, pl->cw, pl->ch);
    if (st != USG_OK) return st;
    pl->sacrum = calloc(1, sizeof *pl->sacrum);
    pl->ilium = calloc(1, sizeof *pl->ilium);
    if (!pl->sacrum || !pl->ilium) return usg_fail(USG_ERR_NOMEM, "pipeline: out of memory");
    if ((st = usg_denoiser_new(pl->p.denoise, pl->cw, pl->ch, &pl->dn)) != USG_OK) return st;
    usg_bone_params bp = {&pl->p.probe, pl->p.medial_side};
    if ((st = usg_bone_detector_new(&bp, pl->cw, pl->ch, &pl->bone)) != USG_OK) return st;
    usg_needle_params np = {&pl->p.probe, pl->p.medial_side, pl->p.needle_threads};
    if ((st = usg_needle_tracker_new(&np, pl->cw, pl->ch, &pl->needle)) != USG_OK) return st;
    if (pl->p.async_needle_acquisition &&
        (st = usg_needle_tracker_new(&np, pl->cw, pl->ch, &pl->acq.tracker)) != USG_OK) return st;
    if ((st = usg_target_tracker_new(&pl->p.probe, &pl->target)) != USG_OK) return st;
    return pl->p.async_needle_acquisition ? acq_start(&pl->acq, pl->cw, pl->ch) : USG_OK;
}

usg_status usg_pipeline_new(const usg_pipeline_params *p, int frame_w, int frame_h, usg_pipeline **out) {
    *out = NULL;
    usg_status st = usg_probe_check_frame(&p->probe, frame_w, frame_h);
    if (st != USG_OK) return st;
    usg_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl) return usg_fail(USG_ERR_NOMEM, "pipeline: out of memory");
    pl->p = *p;
    pl->fw = frame_w;
    pl->fh = frame_h;
    usg_probe_clip_rect(&p->probe, frame_w, frame_h, &pl->cx, &pl->cy, &pl->cw, &pl->ch);
    st = make_stages(pl);
    if (st != USG_OK) {
        usg_pipeline_free(pl);
        return st;
    }
    *out = pl;
    return USG_OK;
}

/* A point of the normalised clipped image in frame pixels. */
static usg_point to_frame(const usg_pipeline *pl, usg_point p) {
    return usg_probe_to_frame(&pl->p.probe, pl->fw, pl->fh, p.x, p.y);
}

static void copy_edge(const usg_pipeline *pl, const usg_edge *src, usg_edge *dst) {
    dst->found = src->found;
    dst->n = src->found ? src->n : 0;
    for (int i = 0; i < dst->n; i++) dst->pts[i] = to_frame(pl, src->pts[i]); /* a flip keeps the x order */
}

/* The clipped view, flipped into a buffer when the transducer is at the bottom. */
static usg_image normalised_view(usg_pipeline *pl, const usg_image *frame) {
    usg_image raw = usg_image_view(frame, pl->cx, pl->cy, pl->cw, pl->ch);
    if (!pl->flipped.data) return raw;
    for (int y = 0; y < pl->ch; y++) {
        memcpy(usg_image_row(&pl->flipped, pl->ch - 1 - y), usg_image_row(&raw, y), (size_t)pl->cw);
    }
    return pl->flipped;
}

static void needle_to_frame(const usg_pipeline *pl, usg_needle *n) {
    if (!n->found) return;
    n->tip = to_frame(pl, n->tip);
    n->entry = to_frame(pl, n->entry);
    if (pl->flipped.data) { /* the axis direction mirrors */
        double a = atan2(n->tip.y - n->entry.y, n->tip.x - n->entry.x) * 180.0 / M_PI;
        n->angle_deg = fmod(a + 360.0, 180.0);
    }
}

/* Run bone detection unless degraded to reuse the previous edges. */
static usg_status run_bone(usg_pipeline *pl, const usg_image *img) {
    if (pl->degrade >= USG_DEGRADE_NO_BONE) return USG_OK;
    usg_bone_detector_set_needle(pl->bone, &pl->last_needle);
    return usg_bone_detector_process(pl->bone, img, pl->sacrum, pl->ilium);
}

usg_status usg_pipeline_process(usg_pipeline *pl, const usg_image *frame, usg_result *res) {
    if (frame->width != pl->fw || frame->height != pl->fh) {
        return usg_fail(USG_ERR_FRAME, "frame is %dx%d, the sequence started at %dx%d", frame->width, frame->height,
                        pl->fw, pl->fh);
    }
    double t0 = usg_now_ms();
    usg_image raw = normalised_view(pl, frame);
    const usg_image *img = &raw;
    usg_status st = USG_OK;
    if (pl->degrade < USG_DEGRADE_NO_DENOISE) {
        st = usg_denoiser_process(pl->dn, &raw, &pl->den);
        img = &pl->den;
    }
    double t1 = usg_now_ms();
    if (st == USG_OK) st = run_bone(pl, img);
    double t2 = usg_now_ms();
    usg_needle needle;
    memset(&needle, 0, sizeof needle);
    if (st == USG_OK) {
        st = run_needle(pl, img, &raw, &needle);
    }
    pl->last_needle = needle; /* clipped pixels, for the next frame's bone stage */
    double t3 = usg_now_ms();
    usg_target target;
    memset(&target, 0, sizeof target);
    if (st == USG_OK) st = usg_target_tracker_process(pl->target, pl->sacrum, pl->ilium, &needle, &target);
    double t4 = usg_now_ms();
    if (st != USG_OK) return st;

    copy_edge(pl, pl->sacrum, &res->sacrum);
    copy_edge(pl, pl->ilium, &res->ilium);
    res->needle = needle;
    needle_to_frame(pl, &res->needle);
    res->target = target;
    if (target.found) res->target.point = to_frame(pl, target.point);
    res->degraded = (int)pl->degrade;
    res->has_latency = 1;
    res->latency.denoise = t1 - t0;
    res->latency.bone = t2 - t1;
    res->latency.needle = t3 - t2;
    res->latency.target = t4 - t3;
    res->latency.total = t4 - t0;
    return USG_OK;
}

void usg_pipeline_set_degrade(usg_pipeline *pl, usg_degrade level) {
    if (level < USG_DEGRADE_NONE) level = USG_DEGRADE_NONE;
    if (level > USG_DEGRADE_MAX) level = USG_DEGRADE_MAX;
    pl->degrade = level;
}

const usg_probe *usg_pipeline_probe(const usg_pipeline *pl) { return &pl->p.probe; }

void usg_pipeline_frame_size(const usg_pipeline *pl, int *w, int *h) {
    *w = pl->fw;
    *h = pl->fh;
}

void usg_pipeline_reset(usg_pipeline *pl) {
    acq_wait_idle(&pl->acq);
    pl->tracking = 0;
    pl->last_needle.found = 0;
    usg_bone_detector_reset(pl->bone);
    usg_needle_tracker_clear(pl->needle);
    usg_target_tracker_reset(pl->target);
    pl->sacrum->found = pl->sacrum->n = 0;
    pl->ilium->found = pl->ilium->n = 0;
}
