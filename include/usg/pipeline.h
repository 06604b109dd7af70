/* usg/pipeline.h - the per-frame processing pipeline: clip, denoise, bone,
 * target, needle, trajectory. All stage buffers are made in _new; the
 * per-frame path allocates nothing. Result coordinates are full-frame pixels. */
#ifndef USG_PIPELINE_H
#define USG_PIPELINE_H

#include "usg/image.h"
#include "usg/probe.h"
#include "usg/result.h"
#include "usg/denoise.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct usg_pipeline_params {
    usg_probe probe;               /* copied */
    usg_denoise_method denoise;
    usg_side medial_side;          /* resolved: CLI > profile > auto */
    /* Live mode: the full-frame needle search runs on a worker thread. While no
     * needle is tracked, the newest frame goes to the worker (a second tracker);
     * the caller's thread only tracks in a window, so its per-frame time stays
     * small. When the worker locks on, the trackers swap and tracking goes on
     * from the next frame. Results then depend on thread timing (replay keeps
     * this off: deterministic). */
    int async_needle_acquisition;
    /* Threads measuring the full needle search's candidate lines, the
     * caller's included (usg_needle_params.threads: 0 one per processor, 1
     * the caller's only). Any count gives the same results. */
    int needle_threads;
} usg_pipeline_params;

/* Degradation levels for the live loop's budget, in the order applied. */
typedef enum usg_degrade {
    USG_DEGRADE_NONE = 0,
    USG_DEGRADE_WINDOW_ONLY = 1,   /* needle: tracking window only, no full-frame search */
    USG_DEGRADE_NO_DENOISE = 2,    /* plus: skip speckle reduction */
    USG_DEGRADE_NO_BONE = 3,       /* plus: reuse the previous bone edges and target */
    USG_DEGRADE_MAX = 3
} usg_degrade;

typedef struct usg_pipeline usg_pipeline;

/* Make a pipeline for frames of frame_w x frame_h. USG_ERR_ARG if the
 * profile's clip does not fit the frame. */
usg_status usg_pipeline_new(const usg_pipeline_params *p, int frame_w, int frame_h, usg_pipeline **out);

/* Process one frame (must be frame_w x frame_h; USG_ERR_FRAME naming both
 * sizes otherwise). Fills the stage outputs and latency_ms of *res; leaves
 * frame, t_ms and status as the caller set them. */
usg_status usg_pipeline_process(usg_pipeline *pl, const usg_image *frame, usg_result *res);

/* Set the degradation level (live loop). */
void usg_pipeline_set_degrade(usg_pipeline *pl, usg_degrade level);

/* The probe profile in use. */
const usg_probe *usg_pipeline_probe(const usg_pipeline *pl);

/* The frame size the pipeline was made for. */
void usg_pipeline_frame_size(const usg_pipeline *pl, int *w, int *h);

/* Forget all temporal state (a new sequence). */
void usg_pipeline_reset(usg_pipeline *pl);

/* Free (NULL is ignored). */
void usg_pipeline_free(usg_pipeline *pl);

/* Monotonic clock in milliseconds (for stamps and stage timing). */
double usg_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif
