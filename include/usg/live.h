/* usg/live.h - the latency-bounded live loop.
 *
 * Two threads and nothing that queues:
 *  - a capture thread reads the source, stamps every frame on arrival
 *    (monotonic clock) and puts it in a one-slot mailbox where the newest
 *    frame always wins (a recording is paced at its frame rate, as a device);
 *  - the processing thread (the caller of usg_live_run) always takes the
 *    newest frame, runs the pipeline, renders the overlay and hands the
 *    result to the output callback.
 *
 * Budget (per-frame deadline on capture-to-overlay latency, default the
 * source's frame period). Applied in this order:
 *  1. a processed frame that ran over the budget raises the pipeline's
 *     degradation level by one: 1 = needle tracking window only, 2 = plus no
 *     speckle reduction, 3 = plus bone edges and target reused from the last
 *     full frame (usg_degrade in usg/pipeline.h);
 *  2. only at level 3, the time over budget becomes debt: frames are dropped
 *     while there is debt, each paying one budget off (at most 3 in a row for
 *     a one-off stall);
 *  3. 15 frames in a row under 60 % of the budget lower the level by one.
 * Frames overwritten in the mailbox (arrived while the processing thread was
 * busy with an older one) are dropped too. Every dropped or undecodable frame
 * still reaches the callback, as a result with status "dropped" / "error",
 * in input order.
 *
 * Scheduling: with `realtime` the processing thread (the caller, restored
 * when usg_live_run returns) and the capture thread run SCHED_FIFO (priority
 * 10) when the process may (CAP_SYS_NICE), else at nice -10 when it may,
 * else unchanged: on a loaded machine this is what keeps the wake-up of the
 * processing thread and the frame's processing from waiting behind other
 * processes. Threads the output callback creates (a GUI toolkit's) inherit it.
 *
 * Live sources that stall or vanish: after no_signal_ms without a frame (or
 * at once when the source reports a connection failure) the callback gets
 * USG_LIVE_NO_SIGNAL events (a "NO SIGNAL" card) about 5 times a second,
 * while the source reconnects with back-off; the loop keeps running.
 *
 * Example:
 *   usg_live_params lp; usg_live_params_default(&lp);
 *   lp.pipeline = pp; lp.on_output = my_output; lp.user = &ctx;
 *   usg_live *lv; usg_live_new(src, &lp, &lv);
 *   usg_live_run(lv);            // returns at the end, on error or usg_live_stop
 *   usg_live_stats st; usg_live_get_stats(lv, &st);
 *   usg_live_free(lv);
 */
#ifndef USG_LIVE_H
#define USG_LIVE_H

#include "usg/image.h"
#include "usg/pipeline.h"
#include "usg/result.h"
#include "usg/source.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct usg_live usg_live;

typedef enum usg_live_event {
    USG_LIVE_FRAME = 0,     /* a processed frame: result, frame and overlay are set */
    USG_LIVE_DROPPED = 1,   /* a dropped frame: result only (status "dropped") */
    USG_LIVE_ERROR = 2,     /* a frame that could not be decoded or processed: result only */
    USG_LIVE_NO_SIGNAL = 3  /* no frames: overlay is the NO SIGNAL card, message says why */
} usg_live_event;

/* Rolling figures, for a status line. */
typedef struct usg_live_status {
    double fps;             /* processed frames per second (about the last second) */
    double e2e_ms;          /* capture-to-overlay latency of the last processed frame */
    long dropped;           /* frames dropped so far */
    int degrade;            /* degradation level in use */
    int no_signal;          /* 1 while there is no signal */
} usg_live_status;

/* What the output callback gets. Pointers are valid during the call only. */
typedef struct usg_live_output {
    usg_live_event event;
    const usg_result *result;   /* FRAME, DROPPED, ERROR */
    const usg_image *frame;     /* FRAME: the grey input frame */
    const usg_rgb *overlay;     /* FRAME: overlay with status line; NO_SIGNAL: the card (NULL before the first frame size is known) */
    const char *message;        /* NO_SIGNAL: why (e.g. "igtl://...: connection refused, retrying") */
    usg_live_status status;
    double spacing_x_mm, spacing_y_mm; /* in use for this frame (profile, else the source's), 0 = unknown */
} usg_live_output;

/* Output callback, on the processing thread. Return nonzero to stop the loop. */
typedef int (*usg_live_output_fn)(const usg_live_output *out, void *user);

typedef struct usg_live_params {
    usg_pipeline_params pipeline;  /* probe spacing 0 = take it from the source (IGTL) */
    double budget_ms;              /* per-frame deadline; 0 = the frame period */
    double pace_fps;               /* recordings: pace; 0 = the recording's rate, else 30 */
    long max_frames;               /* stop after this many input frames; <= 0 = all */
    double no_signal_ms;           /* live sources: NO SIGNAL after this long without a frame (0 = 1000) */
    int status_line;               /* draw the status line into the overlay */
    int realtime;                  /* raise the loop's threads: SCHED_FIFO if permitted, else nice -10, else as is */
    usg_live_output_fn on_output;  /* may be NULL */
    void *user;
} usg_live_params;

/* Fill defaults: budget from the frame period, pace from the recording,
 * all frames, NO SIGNAL after 1 s, status line on, realtime on, no callback. */
void usg_live_params_default(usg_live_params *p);

/* Summary of a run. */
typedef struct usg_live_stats {
    long frames_in;         /* frames that arrived (incl. undecodable ones) */
    long processed;         /* frames processed (result status ok) */
    long dropped;           /* frames dropped (mailbox overwrite or budget) */
    long dropped_budget;    /* of which by the budget (debt) */
    long degraded;          /* processed frames with degradation level > 0 */
    long errors;            /* frames with status error */
    long faults;            /* transient source failures (no signal, reconnects) */
    double budget_ms;       /* the budget in use */
    double pace_fps;        /* recordings: the pace used; live: 0 */
    /* capture-to-overlay latency of processed frames, ms */
    double e2e_p50, e2e_p95, e2e_p99, e2e_max, e2e_mean;
    /* of it, the time from the capture stamp until processing began (mailbox
     * hand-over plus waiting for the CPU), ms */
    double wait_p50, wait_p99;
    double wall_ms;         /* duration of the run */
    char sched[64];         /* scheduling the loop's threads ran with, e.g. "SCHED_FIFO 10" */
} usg_live_stats;

/* Make a live loop over `src` (borrowed: it must outlive the loop; the loop
 * reads it from its capture thread). Nothing runs until usg_live_run.
 * USG_ERR_ARG for bad parameters, USG_ERR_NOMEM. */
usg_status usg_live_new(usg_source *src, const usg_live_params *p, usg_live **out);

/* Run on the calling thread until the source ends, max_frames have arrived,
 * the callback or usg_live_stop asks to stop, or the source fails for good.
 * Every frame that arrived has reached the callback when it returns.
 * Returns USG_OK for a normal end or a stop request; the source's error for a
 * fatal source failure (a recording that cannot be read any more). */
usg_status usg_live_run(usg_live *lv);

/* Ask a running loop to stop soon (within ~50 ms plus one source read).
 * Async-signal-safe: may be called from a SIGINT handler. */
void usg_live_stop(usg_live *lv);

/* Summary so far (or of the finished run). */
void usg_live_get_stats(const usg_live *lv, usg_live_stats *st);

/* Free (NULL ignored). Must not be running. */
void usg_live_free(usg_live *lv);

#ifdef __cplusplus
}
#endif
#endif
