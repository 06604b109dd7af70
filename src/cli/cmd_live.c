/* cmd_live.c - usguide live SOURCE: the latency-bounded loop (usg/live.h)
 * wired to its outputs (results, overlay recording, window, OpenIGTLink
 * server) and the end-of-run summary. */
#include "cli.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cvshim/cvshim.h"
#include "usg/igtl_server.h"
#include "usg/live.h"
#include "usg/overlay.h"

#define LIVE_SOURCE_TIMEOUT_MS 500 /* one source read; NO SIGNAL and stop checks follow it */
#define LIVE_WINDOW "usguide live"

typedef struct live_cli {
    cli_run_opts o;
    usg_source_opts so;
    usg_source *src;
    usg_probe probe;
    usg_live_params lp;
    usg_live *lv;
    cli_results out;
    usg_recorder *rec;
    int rec_failed;
    struct rec_queue *rq;     /* overlay recording on its own thread */
    usg_igtl_server *srv;
    usg_result *blank;        /* an empty result to go with a NO SIGNAL card */
    int window;
    int results_failed;
    long done;
    char last_fault[256];
} live_cli;

static usg_live *volatile g_live;

static void on_sigint(int sig) {
    (void)sig;
    usg_live_stop(g_live);
}

/* ---- device options only live has (taken out before the shared parser) ---- */

static int parse_size(const char *arg, usg_source_opts *so) {
    char *e;
    long w = strtol(arg, &e, 10);
    if (*e != 'x' && *e != 'X') w = -1;
    long h = w > 0 ? strtol(e + 1, &e, 10) : -1;
    if (w < 1 || h < 1 || w > USG_MAX_SIDE || h > USG_MAX_SIDE || *e) {
        cli_error("--size: expected WIDTHxHEIGHT, got '%s'", arg);
        return CLI_EXIT_USAGE;
    }
    so->width = (int)w;
    so->height = (int)h;
    return 0;
}

static int parse_pixfmt(const char *arg, usg_source_opts *so) {
    if (strlen(arg) != 4) {
        cli_error("--pixel-format: expected a FOURCC such as YUYV, MJPG or GREY, got '%s'", arg);
        return CLI_EXIT_USAGE;
    }
    memcpy(so->pixel_format, arg, 5);
    return 0;
}

/* Remove --size WxH, --pixel-format FOURCC and --no-realtime from argv (compacting it). */
static int take_device_opts(int *argc, char **argv, usg_source_opts *so, int *realtime) {
    int n = 1;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--no-realtime")) {
            *realtime = 0;
            continue;
        }
        int is_size = !strcmp(argv[i], "--size"), is_fmt = !strcmp(argv[i], "--pixel-format");
        if (!is_size && !is_fmt) {
            argv[n++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            cli_error("%s needs a value", argv[i]);
            return CLI_EXIT_USAGE;
        }
        int rc = is_size ? parse_size(argv[i + 1], so) : parse_pixfmt(argv[i + 1], so);
        if (rc) return rc;
        i++;
    }
    *argc = n;
    argv[n] = NULL;
    return 0;
}

static void device_usage(void) {
    printf("\nMore live options:\n"
           "  --size WxH              /dev/videoN capture size request (default: the device's)\n"
           "  --pixel-format FOURCC   YUYV, MJPG, GREY, ... (default: the device's); --fps sets the rate\n"
           "  --no-realtime           do not raise the loop's threads (default: SCHED_FIFO if permitted,\n"
           "                          else nice -10)\n\n"
           "Budget: a frame over --budget-ms raises the degradation level (1 needle window only,\n"
           "2 no denoise, 3 bone reused); at level 3 overruns drop frames; 15 calm frames recover.\n"
           "Dropped frames get \"status\": \"dropped\" result lines. --overlay is written by its own\n"
           "thread: overlays it cannot keep up with (a PNG directory at 60 fps) are counted, not waited\n"
           "for; prefer .avi/.mp4 at high rates. Ctrl-C stops cleanly with the summary.\n"
           "The full-frame needle search (acquisition) runs on a worker thread: the loop only tracks,\n"
           "and a needle found by the worker is tracked from the next frame on.\n");
}

/* ---- outputs ------------------------------------------------------------ */

static void write_result(live_cli *c, const usg_result *r) {
    if (c->results_failed || cli_results_write(&c->out, r) == 0) return;
    c->results_failed = 1;
    usg_live_stop(c->lv);
}

/* ---- overlay recording on a writer thread ----------------------------------
 * Encoding a PNG takes longer than a 60 fps frame period, so the processing
 * thread only copies the overlay into one of REC_SLOTS buffers; a writer
 * thread encodes them in order. When all buffers are full the overlay of
 * that frame is not recorded (counted in the summary) rather than delaying
 * the loop. */
#define REC_SLOTS 6

typedef struct rec_queue {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    usg_recorder *rec;        /* borrowed from live_cli */
    usg_rgb buf[REC_SLOTS];
    int index[REC_SLOTS];
    int head, n, stop;
    long written, skipped, failed;
} rec_queue;

static void *rec_main(void *arg) {
    rec_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->n == 0 && !q->stop) pthread_cond_wait(&q->cv, &q->mu);
        if (q->n == 0) break;
        int k = q->head;
        pthread_mutex_unlock(&q->mu);
        usg_status st = usg_recorder_write(q->rec, &q->buf[k], q->index[k]);
        if (st != USG_OK) cli_error("--overlay: %s", usg_last_error());
        pthread_mutex_lock(&q->mu);
        if (st == USG_OK) q->written++;
        else q->failed++;
        q->head = (q->head + 1) % REC_SLOTS;
        q->n--;
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static rec_queue *rec_start(usg_recorder *rec, int w, int h) {
    rec_queue *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->rec = rec;
    for (int i = 0; i < REC_SLOTS; i++) {
        if (usg_rgb_alloc(&q->buf[i], w, h) != USG_OK) goto fail;
    }
    if (pthread_mutex_init(&q->mu, NULL) || pthread_cond_init(&q->cv, NULL)) goto fail;
    /* a normal thread: not the real-time scheduling of the loop that starts it */
    pthread_attr_t at;
    struct sched_param sp = {.sched_priority = 0};
    pthread_attr_init(&at);
    pthread_attr_setinheritsched(&at, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&at, SCHED_OTHER);
    pthread_attr_setschedparam(&at, &sp);
    int bad = pthread_create(&q->th, &at, rec_main, q);
    pthread_attr_destroy(&at);
    if (bad) goto fail;
    return q;
fail:
    for (int i = 0; i < REC_SLOTS; i++) usg_rgb_free(&q->buf[i]);
    free(q);
    return NULL;
}

/* Queue one overlay (copied); skipped when the writer is REC_SLOTS frames behind. */
static void rec_push(rec_queue *q, const usg_rgb *ov, int index) {
    pthread_mutex_lock(&q->mu);
    int full = q->n == REC_SLOTS;
    int k = (q->head + q->n) % REC_SLOTS;
    pthread_mutex_unlock(&q->mu);
    if (full || ov->width != q->buf[k].width || ov->height != q->buf[k].height) {
        q->skipped++;
        return;
    }
    /* slot k is not the writer's until n counts it */
    for (int y = 0; y < ov->height; y++) {
        memcpy(q->buf[k].data + (size_t)y * q->buf[k].stride, ov->data + (size_t)y * ov->stride,
               (size_t)ov->width * 3);
    }
    q->index[k] = index;
    pthread_mutex_lock(&q->mu);
    q->n++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Write what is queued, stop the writer, free the queue (the recorder stays open). */
static void rec_finish(rec_queue *q, long *written, long *skipped) {
    pthread_mutex_lock(&q->mu);
    q->stop = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->th, NULL);
    *written = q->written;
    *skipped = q->skipped + q->failed;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    for (int i = 0; i < REC_SLOTS; i++) usg_rgb_free(&q->buf[i]);
    free(q);
}

static void record(live_cli *c, const usg_rgb *ov, int index) {
    if (!c->o.overlay_path || c->rec_failed) return;
    if (!c->rec) {
        double fps = c->lp.pace_fps > 0 ? c->lp.pace_fps : 30.0;
        if (usg_recorder_open(c->o.overlay_path, ov->width, ov->height, fps, &c->rec) != USG_OK) {
            cli_error("--overlay: %s", usg_last_error());
            c->rec_failed = 1;
            return;
        }
        c->rq = rec_start(c->rec, ov->width, ov->height);
        if (!c->rq) {
            cli_error("--overlay: cannot start the writer (out of memory)");
            c->rec_failed = 1;
            return;
        }
    }
    rec_push(c->rq, ov, index);
}

/* Finish the overlay recording: drain the writer, close the file. */
static void record_finish(live_cli *c) {
    if (c->rq) {
        long written, skipped;
        rec_finish(c->rq, &written, &skipped);
        c->rq = NULL;
        cli_info(1, "usguide live: overlay: %ld frames written to %s, %ld not recorded (the writer fell behind)",
                 written, c->o.overlay_path, skipped);
    }
    if (c->rec && usg_recorder_close(c->rec) != USG_OK) cli_error("--overlay: %s", usg_last_error());
    c->rec = NULL;
}

/* Show in the window; returns 1 when the user asked to quit (q or Esc). */
static int show(live_cli *c, const usg_rgb *img) {
    if (!c->window || !img) return 0;
    if (cvshim_window_show(LIVE_WINDOW, img) != USG_OK) {
        cli_error("--window: %s", usg_last_error());
        c->window = 0;
        return 0;
    }
    int key = cvshim_window_poll(1);
    return key == 'q' || key == 'Q' || key == 27;
}

static void serve(live_cli *c, const usg_rgb *img, const usg_result *r, const usg_live_output *o) {
    if (!c->srv || !img) return;
    if (usg_igtl_server_publish(c->srv, img, r, o->spacing_x_mm, o->spacing_y_mm) != USG_OK) {
        cli_error("--serve: %s", usg_last_error());
    }
}

static int on_output(const usg_live_output *o, void *user) {
    live_cli *c = user;
    int quit = 0;
    switch (o->event) {
    case USG_LIVE_ERROR:
        cli_error("frame %d: %s", o->result->frame, o->result->error);
        /* fall through */
    case USG_LIVE_DROPPED:
        write_result(c, o->result);
        break;
    case USG_LIVE_FRAME:
        write_result(c, o->result);
        record(c, o->overlay, o->result->frame);
        serve(c, o->overlay, o->result, o);
        quit = show(c, o->overlay);
        if (c->last_fault[0]) cli_info(1, "usguide: signal back at frame %d", o->result->frame);
        c->last_fault[0] = 0;
        break;
    case USG_LIVE_NO_SIGNAL:
        /* once when the signal goes (every change of reason with --verbose) */
        if (!c->last_fault[0] || (cli_verbosity >= 2 && strcmp(c->last_fault, o->message))) {
            cli_info(1, "usguide: NO SIGNAL: %s", o->message);
        }
        snprintf(c->last_fault, sizeof c->last_fault, "%s", o->message);
        serve(c, o->overlay, c->blank, o);
        quit = show(c, o->overlay);
        break;
    }
    if (o->event != USG_LIVE_NO_SIGNAL) cli_progress(++c->done, c->o.max_frames);
    return quit;
}

/* ---- setup, run, summary ------------------------------------------------ */

static int open_outputs(live_cli *c) {
    const char *d = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
    if (c->o.window && (!d || !*d) && (!wl || !*wl)) {
        cli_error("--window: no display (DISPLAY is not set); use --serve or --overlay instead");
        return CLI_EXIT_USAGE;
    }
    int rc = cli_results_open(&c->out, c->o.results_path);
    if (rc) return rc;
    c->window = c->o.window;
    c->blank = calloc(1, sizeof *c->blank);
    if (!c->blank) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    usg_result_reset(c->blank, -1, 0);
    if (c->o.serve_port &&
        usg_igtl_server_open(c->o.serve_bind, c->o.serve_port, &c->srv) != USG_OK) {
        cli_error("--serve: %s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    if (c->srv) cli_info(1, "usguide: serving OpenIGTLink on %s:%d", c->o.serve_bind, c->o.serve_port);
    return 0;
}

static int setup(live_cli *c) {
    c->so.fps = c->o.fps;
    c->so.timeout_ms = LIVE_SOURCE_TIMEOUT_MS;
    if (usg_source_open(c->o.input, &c->so, &c->src) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    int rc = cli_load_probe(&c->o, c->src, &c->probe);
    if (!rc) rc = cli_pipeline_params(&c->o, &c->probe, &c->lp.pipeline);
    if (rc) return rc;
    c->lp.pipeline.async_needle_acquisition = 1; /* the full-frame needle search on the other core */
    c->lp.budget_ms = c->o.budget_ms;
    c->lp.pace_fps = usg_source_is_live(c->src) ? 0 : c->o.fps;
    c->lp.max_frames = c->o.max_frames;
    c->lp.on_output = on_output;
    c->lp.user = c;
    rc = open_outputs(c);
    if (rc) return rc;
    if (usg_live_new(c->src, &c->lp, &c->lv) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static void summary(live_cli *c) {
    usg_live_stats st;
    usg_live_get_stats(c->lv, &st);
    cli_progress_end();
    record_finish(c);
    cli_info(1, "usguide live: frames in %ld, processed %ld, dropped %ld (budget %ld), degraded %ld, errors %ld, "
                "no-signal events %ld",
             st.frames_in, st.processed, st.dropped, st.dropped_budget, st.degraded, st.errors, st.faults);
    char pace[48] = "";
    if (st.pace_fps > 0) snprintf(pace, sizeof pace, ", paced at %.1f fps", st.pace_fps);
    cli_info(1, "usguide live: capture-to-overlay latency ms: p50 %.2f p95 %.2f p99 %.2f max %.2f "
                "(budget %.2f ms%s, %.1f s)",
             st.e2e_p50, st.e2e_p95, st.e2e_p99, st.e2e_max, st.budget_ms, pace, st.wall_ms / 1000.0);
    cli_info(1, "usguide live: of it waiting before processing ms: p50 %.2f p99 %.2f; threads %s", st.wait_p50,
             st.wait_p99, st.sched);
    if (c->srv) {
        usg_igtl_server_flush(c->srv, 300); /* the last frame to every client that takes it */
        usg_igtl_server_stats ss;
        usg_igtl_server_get_stats(c->srv, &ss);
        cli_info(1, "usguide live: serve: %ld clients, %ld frame deliveries, %ld skipped for busy clients",
                 ss.clients_total, ss.sent, ss.dropped);
    }
}

static void teardown(live_cli *c) {
    usg_live_free(c->lv);
    usg_igtl_server_close(c->srv);
    record_finish(c);
    if (c->o.window) cvshim_window_close(LIVE_WINDOW);
    cli_results_close(&c->out);
    usg_source_close(c->src);
    free(c->blank);
}

int cmd_live(int argc, char **argv) {
    live_cli c;
    memset(&c, 0, sizeof c);
    usg_live_params_default(&c.lp);
    int rc = take_device_opts(&argc, argv, &c.so, &c.lp.realtime);
    if (rc) return rc;
    rc = cli_parse_run_opts(argc, argv, 1, &c.o);
    if (rc < 0) device_usage();
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    rc = setup(&c);
    if (!rc) {
        g_live = c.lv;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends at once */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        usg_status st = usg_live_run(c.lv);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        g_live = NULL;
        summary(&c);
        usg_live_stats ls;
        usg_live_get_stats(c.lv, &ls);
        if (st != USG_OK) {
            cli_error("%s", usg_last_error());
            rc = CLI_EXIT_USAGE;
        } else if (c.results_failed) {
            rc = CLI_EXIT_USAGE;
        } else {
            rc = ls.errors > 0 ? CLI_EXIT_FRAMES : CLI_EXIT_OK;
        }
    }
    teardown(&c);
    return rc;
}
