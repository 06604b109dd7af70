/* pipeline.c - clip -> denoise -> bone -> needle -> target, timed per stage.
 * Stages see the clipped image, normalised so the transducer is at the top
 * (flipped when the profile's orientation says near side down), in clipped
 * coordinates; results are mapped to full-frame coordinates at the end.
 * Everything is allocated in _new. */
#include "usg/pipeline.h"
#include "usg/bone.h"
#include "usg/needle.h"
#include "usg/target.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

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
    usg_image_free(&pl->flipped);
    free(pl->sacrum);
    free(pl->ilium);
    free(pl);
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
        st = usg_needle_tracker_process(pl->needle, img, &raw, pl->sacrum, pl->ilium,
                                        pl->degrade >= USG_DEGRADE_WINDOW_ONLY, &needle);
    }
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
    usg_bone_detector_reset(pl->bone);
    usg_needle_tracker_reset(pl->needle);
    usg_target_tracker_reset(pl->target);
    pl->sacrum->found = pl->sacrum->n = 0;
    pl->ilium->found = pl->ilium->n = 0;
}
