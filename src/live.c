/* live.c - the latency-bounded live loop (usg/live.h): a capture thread that
 * stamps frames into a one-slot mailbox, and the processing side that always
 * takes the newest frame, holds the per-frame budget and reports every frame. */
#include "usg/live.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "live_impl.h"
#include "usg/overlay.h"

#define LIVE_WAIT_MS 50.0          /* longest sleep of either thread between stop checks */
#define LIVE_CARD_EVERY_MS 200.0   /* NO SIGNAL refresh */
#define LIVE_FAULT_SPACING_MS 20.0 /* spin guard between transient source failures */
#define LIVE_DEFAULT_FPS 30.0
#define LIVE_CARD_W 640
#define LIVE_CARD_H 480
#define LIVE_RT_PRIORITY 10        /* SCHED_FIFO priority of the loop's threads */
#define LIVE_NICE (-10)            /* fallback when SCHED_FIFO is not permitted */

struct usg_live {
    usg_source *src;
    usg_live_params p;
    int live_src;
    double period_ms;         /* pace of recordings; nominal period of live sources (0 unknown) */
    int auto_budget;          /* budget follows the measured frame period */
    mailbox mb;
    mb_take *take;
    atomic_int stop;
    atomic_long frames_in;
    pthread_t cap;
    int cap_started;
    /* processing side */
    budget bud;
    histo hist;               /* capture-to-overlay latency */
    histo wait_hist;          /* of it: before processing began (mailbox, CPU contention) */
    usg_pipeline *pl;
    int pl_w, pl_h;
    usg_pipeline_params pp;   /* with the spacing in use */
    usg_rgb overlay, card;
    usg_result *res;
    usg_live_status status;
    long processed, dropped, dropped_budget, degraded, errors;
    double t_start, t_end;
    double fps_t0, fps_ema;   /* last processed frame, mean interval */
    double last_card_ms;
    int have_prev;            /* measured frame period (auto budget) */
    int prev_index;
    double prev_stamp, period_ema;
    int exit_status;
    char fault_msg[256];
    /* the caller's scheduling, restored after the run */
    int sched_changed;        /* 0 none, 1 policy, 2 nice */
    int old_policy, old_nice;
    struct sched_param old_param;
    char sched[64];
    /* recordings: the first frame, read before the pacing clock starts */
    int primed;
    usg_status primed_st;
    usg_frame primed_fr;
    char primed_msg[256];
};

void usg_live_params_default(usg_live_params *p) {
    memset(p, 0, sizeof *p);
    usg_probe_default(&p->pipeline.probe);
    p->no_signal_ms = 1000;
    p->status_line = 1;
    p->realtime = 1;
}

usg_status usg_live_new(usg_source *src, const usg_live_params *p, usg_live **out) {
    *out = NULL;
    if (!src || !p) return usg_fail(USG_ERR_ARG, "live: no source or parameters");
    if (p->budget_ms < 0 || p->pace_fps < 0 || p->no_signal_ms < 0) {
        return usg_fail(USG_ERR_ARG, "live: budget, pace and no-signal time must not be negative");
    }
    usg_live *lv = calloc(1, sizeof *lv);
    if (!lv) return usg_fail(USG_ERR_NOMEM, "live: out of memory");
    lv->src = src;
    lv->p = *p;
    if (lv->p.no_signal_ms == 0) lv->p.no_signal_ms = 1000;
    lv->pp = p->pipeline;
    lv->live_src = usg_source_is_live(src);
    double fps = lv->live_src ? usg_source_fps(src)
                              : (p->pace_fps > 0 ? p->pace_fps
                                                 : (usg_source_fps(src) > 0 ? usg_source_fps(src)
                                                                            : LIVE_DEFAULT_FPS));
    lv->period_ms = fps > 0 ? 1000.0 / fps : 0;
    lv->auto_budget = p->budget_ms <= 0 && lv->period_ms <= 0;
    double b = p->budget_ms > 0 ? p->budget_ms
                                : (lv->period_ms > 0 ? lv->period_ms : 1000.0 / LIVE_DEFAULT_FPS);
    budget_init(&lv->bud, b, USG_DEGRADE_MAX);
    lv->take = malloc(sizeof *lv->take);
    lv->res = malloc(sizeof *lv->res);
    if (!lv->take || !lv->res || histo_init(&lv->hist) || histo_init(&lv->wait_hist) ||
        mailbox_init(&lv->mb)) {
        free(lv->take);
        free(lv->res);
        histo_free(&lv->hist);
        histo_free(&lv->wait_hist);
        free(lv);
        return usg_fail(USG_ERR_NOMEM, "live: out of memory");
    }
    atomic_init(&lv->stop, 0);
    atomic_init(&lv->frames_in, 0);
    *out = lv;
    return USG_OK;
}

void usg_live_stop(usg_live *lv) {
    if (lv) atomic_store(&lv->stop, 1);
}

static int stopping(usg_live *lv) { return atomic_load(&lv->stop) != 0; }

/* Sleep until the monotonic time `due_ms`, waking every LIVE_WAIT_MS to check for stop. */
static void sleep_until(usg_live *lv, double due_ms) {
    for (;;) {
        double left = due_ms - usg_now_ms();
        if (left <= 0 || stopping(lv)) return;
        if (left > LIVE_WAIT_MS) left = LIVE_WAIT_MS;
        long long ns = (long long)(left * 1e6);
        struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
        nanosleep(&ts, NULL);
    }
}

/* ---- capture thread ----------------------------------------------------- */

/* Transient failures of a live source: show NO SIGNAL and keep reading (the
 * source reconnects). Everything else ends the capture. */
static int transient(usg_status st) {
    return st == USG_ERR_TIMEOUT || st == USG_ERR_NET || st == USG_ERR_IO;
}

static void publish_frame(usg_live *lv, const usg_frame *fr, double stamp, double t_ms) {
    mb_frame *f = mailbox_producer_frame(&lv->mb, fr->image.width, fr->image.height);
    if (!f) {
        mailbox_post_error(&lv->mb, fr->index, t_ms, stamp, "live: out of memory for a frame");
        return;
    }
    for (int y = 0; y < fr->image.height; y++) {
        memcpy(usg_image_row(&f->img, y), usg_image_row(&fr->image, y), (size_t)fr->image.width);
    }
    f->index = fr->index;
    f->t_ms = t_ms;
    f->stamp_ms = stamp;
    f->has_spacing = fr->has_spacing;
    f->spacing_x_mm = fr->spacing_x_mm;
    f->spacing_y_mm = fr->spacing_y_mm;
    mailbox_publish(&lv->mb);
}

static void *capture_main(void *arg) {
    usg_live *lv = arg;
    usg_frame fr;
    double due = 0, t0 = -1, last_fault = -1e300;
    long n = 0;
    while (!stopping(lv)) {
        if (lv->p.max_frames > 0 && n >= lv->p.max_frames) {
            mailbox_close(&lv->mb, USG_OK, "");
            return NULL;
        }
        usg_status st;
        if (lv->primed) {
            /* the first frame was read (and the pipeline made for it) before the clock started */
            lv->primed = 0;
            fr = lv->primed_fr;
            st = lv->primed_st;
            usg_fail(st, "%s", lv->primed_msg);
        } else {
            memset(&fr, 0, sizeof fr);
            st = usg_source_next(lv->src, &fr);
        }
        if (!lv->live_src && (st == USG_OK || st == USG_ERR_FRAME)) {
            /* a recording stands in for a device: frame k arrives at t0 + k * period */
            double now = usg_now_ms();
            due = due == 0 ? now : due + lv->period_ms;
            if (due < now - lv->period_ms) due = now; /* decoding fell behind: do not burst */
            sleep_until(lv, due);
            if (stopping(lv)) break;
        }
        double stamp = usg_now_ms();
        /* live sources stamp the arrival themselves (before CRC checks and decoding) */
        if (lv->live_src && fr.t_ms > stamp - 1000.0 && fr.t_ms <= stamp) stamp = fr.t_ms;
        if (st == USG_OK || st == USG_ERR_FRAME) {
            if (t0 < 0) t0 = stamp;
            double t_ms = lv->live_src ? stamp - t0 : fr.t_ms;
            if (st == USG_OK) publish_frame(lv, &fr, stamp, t_ms);
            else mailbox_post_error(&lv->mb, fr.index, t_ms, stamp, usg_last_error());
            atomic_fetch_add(&lv->frames_in, 1);
            n++;
        } else if (lv->live_src && transient(st)) {
            mailbox_post_fault(&lv->mb, usg_last_error());
            sleep_until(lv, last_fault + LIVE_FAULT_SPACING_MS);
            last_fault = usg_now_ms();
        } else {
            mailbox_close(&lv->mb, st == USG_ERR_EOF ? USG_OK : st,
                          st == USG_ERR_EOF ? "" : usg_last_error());
            return NULL;
        }
    }
    mailbox_close(&lv->mb, USG_OK, "stopped");
    return NULL;
}

/* ---- scheduling --------------------------------------------------------- */

/* Raise the calling thread (threads it creates next inherit it). */
static void raise_priority(usg_live *lv) {
    snprintf(lv->sched, sizeof lv->sched, "normal");
    if (!lv->p.realtime) return;
    pthread_getschedparam(pthread_self(), &lv->old_policy, &lv->old_param);
    struct sched_param sp = {.sched_priority = LIVE_RT_PRIORITY};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0) {
        lv->sched_changed = 1;
        snprintf(lv->sched, sizeof lv->sched, "SCHED_FIFO %d", LIVE_RT_PRIORITY);
        return;
    }
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    lv->old_nice = getpriority(PRIO_PROCESS, tid);
    if (errno == 0 && lv->old_nice > LIVE_NICE && setpriority(PRIO_PROCESS, tid, LIVE_NICE) == 0) {
        lv->sched_changed = 2;
        snprintf(lv->sched, sizeof lv->sched, "nice %d", LIVE_NICE);
        return;
    }
    snprintf(lv->sched, sizeof lv->sched, "normal (not permitted to raise)");
}

static void restore_priority(usg_live *lv) {
    if (lv->sched_changed == 1) pthread_setschedparam(pthread_self(), lv->old_policy, &lv->old_param);
    if (lv->sched_changed == 2) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), lv->old_nice);
    lv->sched_changed = 0;
}

/* ---- processing side ---------------------------------------------------- */

static int emit(usg_live *lv, usg_live_event ev, const usg_result *r, const usg_image *frame,
                const usg_rgb *overlay, const char *msg) {
    if (!lv->p.on_output) return 0;
    usg_live_output o = {.event = ev, .result = r, .frame = frame, .overlay = overlay,
                         .message = msg, .status = lv->status,
                         .spacing_x_mm = lv->pp.probe.spacing_x_mm,
                         .spacing_y_mm = lv->pp.probe.spacing_y_mm};
    return lv->p.on_output(&o, lv->p.user);
}

/* A frame that will not be processed: its result line. */
static int emit_unprocessed(usg_live *lv, int index, double t_ms, usg_frame_status kind,
                            const char *msg) {
    usg_result_reset(lv->res, index, t_ms);
    if (kind == USG_FRAME_DROPPED) {
        lv->res->status = USG_FRAME_DROPPED;
        lv->dropped++;
        lv->status.dropped = lv->dropped;
        return emit(lv, USG_LIVE_DROPPED, lv->res, NULL, NULL, NULL);
    }
    usg_result_set_error(lv->res, msg);
    lv->errors++;
    return emit(lv, USG_LIVE_ERROR, lv->res, NULL, NULL, msg);
}

static int emit_event(usg_live *lv, const mb_event *e) {
    return emit_unprocessed(lv, e->index, e->t_ms,
                            e->kind == MB_DROPPED ? USG_FRAME_DROPPED : USG_FRAME_ERROR, e->msg);
}

static usg_status ensure_rgb(usg_rgb *img, int w, int h) {
    if (img->data && img->width == w && img->height == h) return USG_OK;
    usg_rgb_free(img);
    return usg_rgb_alloc(img, w, h);
}

/* (Re)make the pipeline for frames of w x h; spacing from the source when the profile has none. */
static usg_status ensure_pipeline(usg_live *lv, int w, int h, int has_spacing, double sx, double sy) {
    if (lv->pl && lv->pl_w == w && lv->pl_h == h) return USG_OK;
    usg_pipeline_free(lv->pl);
    lv->pl = NULL;
    lv->pp = lv->p.pipeline;
    if (lv->pp.probe.spacing_x_mm <= 0 && has_spacing && sx > 0 && sy > 0) {
        lv->pp.probe.spacing_x_mm = sx;
        lv->pp.probe.spacing_y_mm = sy;
    }
    usg_status st = usg_pipeline_new(&lv->pp, w, h, &lv->pl);
    if (st != USG_OK) {
        lv->pl = NULL;
        return st;
    }
    lv->pl_w = w;
    lv->pl_h = h;
    st = ensure_rgb(&lv->overlay, w, h);
    if (st != USG_OK) {
        usg_pipeline_free(lv->pl);
        lv->pl = NULL;
    }
    return st;
}

static void track_period(usg_live *lv, const mb_frame *f) {
    if (lv->have_prev && f->index > lv->prev_index) {
        double per = (f->stamp_ms - lv->prev_stamp) / (double)(f->index - lv->prev_index);
        lv->period_ema = lv->period_ema > 0 ? 0.9 * lv->period_ema + 0.1 * per : per;
        if (lv->auto_budget && lv->period_ema > 0) lv->bud.budget_ms = lv->period_ema;
    }
    lv->have_prev = 1;
    lv->prev_index = f->index;
    lv->prev_stamp = f->stamp_ms;
}

/* Processed frames per second: from a moving average of the intervals. */
static void update_fps(usg_live *lv, double now) {
    if (lv->fps_t0 > 0 && now > lv->fps_t0) {
        double per = now - lv->fps_t0;
        lv->fps_ema = lv->fps_ema > 0 ? 0.9 * lv->fps_ema + 0.1 * per : per;
        lv->status.fps = 1000.0 / lv->fps_ema;
    }
    lv->fps_t0 = now;
}

static int process_frame(usg_live *lv, const mb_frame *f) {
    track_period(lv, f);
    if (budget_should_drop(&lv->bud)) {
        lv->dropped_budget++;
        return emit_unprocessed(lv, f->index, f->t_ms, USG_FRAME_DROPPED, NULL);
    }
    double t_begin = usg_now_ms();
    int fresh = !lv->pl || lv->pl_w != f->img.width || lv->pl_h != f->img.height;
    usg_status st = ensure_pipeline(lv, f->img.width, f->img.height, f->has_spacing, f->spacing_x_mm,
                                    f->spacing_y_mm);
    usg_result *r = lv->res;
    usg_result_reset(r, f->index, f->t_ms);
    int level = lv->bud.level;
    if (st == USG_OK) {
        usg_pipeline_set_degrade(lv->pl, (usg_degrade)level);
        st = usg_pipeline_process(lv->pl, &f->img, r);
    }
    if (st != USG_OK) return emit_unprocessed(lv, f->index, f->t_ms, USG_FRAME_ERROR, usg_last_error());
    char line[160];
    snprintf(line, sizeof line, "%.1f fps  latency %.1f ms  drops %ld  degrade %d", lv->status.fps,
             lv->status.e2e_ms, lv->dropped, level);
    double t_ov = usg_now_ms();
    st = usg_overlay_render(&f->img, r, usg_pipeline_probe(lv->pl),
                            lv->p.status_line ? line : NULL, &lv->overlay);
    double now = usg_now_ms();
    if (st != USG_OK) return emit_unprocessed(lv, f->index, f->t_ms, USG_FRAME_ERROR, usg_last_error());
    double e2e = now - f->stamp_ms;
    r->has_latency = 1;
    r->latency.overlay = now - t_ov;
    r->latency.total += r->latency.overlay;
    r->latency.has_e2e = 1;
    r->latency.e2e = e2e;
    r->degraded = level;
    lv->processed++;
    if (level > 0) lv->degraded++;
    histo_add(&lv->hist, e2e);
    histo_add(&lv->wait_hist, t_begin - f->stamp_ms);
    if (!fresh) budget_update(&lv->bud, e2e); /* making the pipeline is not an overrun */
    update_fps(lv, now);
    lv->status.e2e_ms = e2e;
    lv->status.degrade = lv->bud.level;
    lv->status.no_signal = 0;
    return emit(lv, USG_LIVE_FRAME, r, &f->img, &lv->overlay, NULL);
}

/* Live sources: the NO SIGNAL card while frames do not come. */
static int check_signal(usg_live *lv, const mb_take *t) {
    if (!lv->live_src) return 0;
    double now = usg_now_ms();
    double since = now - (t->last_arrival_ms > 0 ? t->last_arrival_ms : lv->t_start);
    if (!t->fault && since < lv->p.no_signal_ms) return 0;
    if (lv->status.no_signal && now - lv->last_card_ms < LIVE_CARD_EVERY_MS) return 0;
    lv->status.no_signal = 1;
    lv->last_card_ms = now;
    if (t->fault) snprintf(lv->fault_msg, sizeof lv->fault_msg, "%s", t->fault_msg);
    else snprintf(lv->fault_msg, sizeof lv->fault_msg, "no frame for %.0f ms", since);
    int w = lv->pl ? lv->pl_w : LIVE_CARD_W, h = lv->pl ? lv->pl_h : LIVE_CARD_H;
    const usg_rgb *card = NULL;
    if (ensure_rgb(&lv->card, w, h) == USG_OK &&
        usg_overlay_no_signal(lv->fault_msg, &lv->card) == USG_OK) {
        card = &lv->card;
    }
    return emit(lv, USG_LIVE_NO_SIGNAL, NULL, NULL, card, lv->fault_msg);
}

/* Handle one take: events before the frame, the frame, events after it. */
static int handle_take(usg_live *lv, const mb_take *t, int drop_frame) {
    int stop = 0, i = 0;
    int fi = t->frame ? t->frame->index : -1;
    for (; i < t->n_ev && (!t->frame || t->ev[i].index < fi); i++) stop |= emit_event(lv, &t->ev[i]);
    if (t->frame) {
        stop |= drop_frame ? emit_unprocessed(lv, fi, t->frame->t_ms, USG_FRAME_DROPPED, NULL)
                           : process_frame(lv, t->frame);
    }
    for (; i < t->n_ev; i++) stop |= emit_event(lv, &t->ev[i]);
    return stop;
}

/* A recording stands in for a device that is already running: read its
 * first frame and make the pipeline for it before the pacing clock starts,
 * so start-up work is not counted as latency of the first frames. (A live
 * source's first frame comes when it comes: there the first frames pay it.) */
static void prime(usg_live *lv) {
    if (lv->live_src) return;
    memset(&lv->primed_fr, 0, sizeof lv->primed_fr);
    lv->primed_st = usg_source_next(lv->src, &lv->primed_fr);
    snprintf(lv->primed_msg, sizeof lv->primed_msg, "%s", lv->primed_st == USG_OK ? "" : usg_last_error());
    lv->primed = 1;
    const usg_frame *f = &lv->primed_fr;
    if (lv->primed_st == USG_OK) {
        ensure_pipeline(lv, f->image.width, f->image.height, f->has_spacing, f->spacing_x_mm, f->spacing_y_mm);
    }
}

usg_status usg_live_run(usg_live *lv) {
    lv->t_start = usg_now_ms();
    raise_priority(lv); /* the capture thread inherits it */
    prime(lv);
    if (pthread_create(&lv->cap, NULL, capture_main, lv)) {
        restore_priority(lv);
        return usg_fail(USG_ERR_NOMEM, "live: cannot start the capture thread");
    }
    lv->cap_started = 1;
    mb_take *t = lv->take;
    t->closed = 0;
    for (;;) {
        if (stopping(lv)) break;
        mailbox_take(&lv->mb, LIVE_WAIT_MS, t);
        int stop = handle_take(lv, t, 0);
        if (!t->frame && t->n_ev == 0) stop |= check_signal(lv, t);
        if (stop) usg_live_stop(lv);
        if (t->closed) break;
    }
    /* stop: report what already arrived (as dropped) until the capture thread
     * has closed the mailbox - taking keeps it from waiting on a full event list */
    usg_live_stop(lv);
    while (!t->closed) {
        mailbox_take(&lv->mb, LIVE_WAIT_MS, t);
        handle_take(lv, t, 1);
    }
    pthread_join(lv->cap, NULL);
    lv->cap_started = 0;
    lv->t_end = usg_now_ms();
    restore_priority(lv);
    lv->exit_status = t->close_status;
    if (t->close_status != USG_OK) return usg_fail((usg_status)t->close_status, "%s", t->close_msg);
    return USG_OK;
}

void usg_live_get_stats(const usg_live *lv, usg_live_stats *st) {
    memset(st, 0, sizeof *st);
    st->frames_in = atomic_load(&((usg_live *)lv)->frames_in);
    st->processed = lv->processed;
    st->dropped = lv->dropped;
    st->dropped_budget = lv->dropped_budget;
    st->degraded = lv->degraded;
    st->errors = lv->errors;
    st->faults = lv->mb.faults;
    st->budget_ms = lv->bud.budget_ms;
    st->pace_fps = lv->live_src || lv->period_ms <= 0 ? 0 : 1000.0 / lv->period_ms;
    st->e2e_p50 = histo_quantile(&lv->hist, 0.50);
    st->e2e_p95 = histo_quantile(&lv->hist, 0.95);
    st->e2e_p99 = histo_quantile(&lv->hist, 0.99);
    st->e2e_max = lv->hist.max;
    st->e2e_mean = lv->hist.n ? lv->hist.sum / (double)lv->hist.n : 0;
    st->wait_p50 = histo_quantile(&lv->wait_hist, 0.50);
    st->wait_p99 = histo_quantile(&lv->wait_hist, 0.99);
    st->wall_ms = (lv->t_end > 0 ? lv->t_end : usg_now_ms()) - lv->t_start;
    snprintf(st->sched, sizeof st->sched, "%s", lv->sched[0] ? lv->sched : "not started");
}

void usg_live_free(usg_live *lv) {
    if (!lv) return;
    if (lv->cap_started) {
        usg_live_stop(lv);
        pthread_join(lv->cap, NULL);
    }
    usg_pipeline_free(lv->pl);
    usg_rgb_free(&lv->overlay);
    usg_rgb_free(&lv->card);
    mailbox_destroy(&lv->mb);
    histo_free(&lv->hist);
    histo_free(&lv->wait_hist);
    free(lv->take);
    free(lv->res);
    free(lv);
}
