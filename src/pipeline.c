/* pipeline.c - clip -> denoise -> bone -> needle -> target, timed per stage.
 * Stages see the clipped image and clipped coordinates; results are moved to
 * full-frame coordinates at the end. Everything is allocated in _new. */
#include "usg/pipeline.h"
#include "usg/bone.h"
#include "usg/needle.h"
#include "usg/target.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct usg_pipeline {
    usg_pipeline_params p;
    int fw, fh;             /* frame size */
    int cx, cy, cw, ch;     /* clip rectangle */
    usg_denoiser *dn;
    usg_bone_detector *bone;
    usg_needle_tracker *needle;
    usg_target_tracker *target;
    usg_image den;          /* clip-sized denoised frame */
    usg_edge *sacrum, *ilium; /* clipped coordinates, kept for degraded frames */
    usg_degrade degrade;
};

double usg_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

void usg_pipeline_free(usg_pipeline *pl) {
    if (!pl) return;
    usg_denoiser_free(pl->dn);
    usg_bone_detector_free(pl->bone);
    usg_needle_tracker_free(pl->needle);
    usg_target_tracker_free(pl->target);
    usg_image_free(&pl->den);
    free(pl->sacrum);
    free(pl->ilium);
    free(pl);
}

static usg_status make_stages(usg_pipeline *pl) {
    usg_status st = usg_image_alloc(&pl->den, pl->cw, pl->ch);
    if (st != USG_OK) return st;
    pl->sacrum = calloc(1, sizeof *pl->sacrum);
    pl->ilium = calloc(1, sizeof *pl->ilium);
    if (!pl->sacrum || !pl->ilium) return usg_fail(USG_ERR_NOMEM, "pipeline: out of memory");
    if ((st = usg_denoiser_new(pl->p.denoise, pl->cw, pl->ch, &pl->dn)) != USG_OK) return st;
    usg_bone_params bp = {&pl->p.probe, pl->p.medial_side};
    if ((st = usg_bone_detector_new(&bp, pl->cw, pl->ch, &pl->bone)) != USG_OK) return st;
    usg_needle_params np = {&pl->p.probe, pl->p.medial_side};
    if ((st = usg_needle_tracker_new(&np, pl->cw, pl->ch, &pl->needle)) != USG_OK) return st;
    return usg_target_tracker_new(&pl->p.probe, &pl->target);
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

static void shift_point(usg_point *pt, double dx, double dy) {
    pt->x += dx;
    pt->y += dy;
}

static void copy_edge(const usg_edge *src, usg_edge *dst, double dx, double dy) {
    dst->found = src->found;
    dst->n = src->found ? src->n : 0;
    for (int i = 0; i < dst->n; i++) {
        dst->pts[i] = src->pts[i];
        shift_point(&dst->pts[i], dx, dy);
    }
}

/* Run bone detection unless degraded to reuse the previous edges. */
static usg_status run_bone(usg_pipeline *pl, const usg_image *img) {
    if (pl->degrade >= USG_DEGRADE_NO_BONE) return USG_OK;
    return usg_bone_detector_process(pl->bone, img, pl->sacrum, pl->ilium);
}

usg_status usg_pipeline_process(usg_pipeline *pl, const usg_image *frame, usg_result *res) {
    if (frame->width != pl->fw || frame->height != pl->fh) {
        return usg_fail(USG_ERR_FRAME, "frame is %dx%d, the sequence started at %dx%d", frame->width, frame->height,
                        pl->fw, pl->fh);
    }
    double t0 = usg_now_ms();
    usg_image raw = usg_image_view(frame, pl->cx, pl->cy, pl->cw, pl->ch);
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
        st = usg_needle_tracker_process(pl->needle, img, &raw, pl->sacrum, pl->ilium,
                                        pl->degrade >= USG_DEGRADE_WINDOW_ONLY, &needle);
    }
    double t3 = usg_now_ms();
    usg_target target;
    memset(&target, 0, sizeof target);
    if (st == USG_OK) st = usg_target_tracker_process(pl->target, pl->sacrum, pl->ilium, &needle, &target);
    double t4 = usg_now_ms();
    if (st != USG_OK) return st;

    double dx = pl->cx, dy = pl->cy;
    copy_edge(pl->sacrum, &res->sacrum, dx, dy);
    copy_edge(pl->ilium, &res->ilium, dx, dy);
    res->needle = needle;
    if (needle.found) {
        shift_point(&res->needle.tip, dx, dy);
        shift_point(&res->needle.entry, dx, dy);
    }
    res->target = target;
    if (target.found) shift_point(&res->target.point, dx, dy);
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
    usg_bone_detector_reset(pl->bone);
    usg_needle_tracker_reset(pl->needle);
    usg_target_tracker_reset(pl->target);
    pl->sacrum->found = pl->sacrum->n = 0;
    pl->ilium->found = pl->ilium->n = 0;
}
