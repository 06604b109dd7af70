/* cmd_replay.c - usguide replay INPUT: process recorded frames in order,
 * one result line per input frame, overlay per frame, exit codes per CONTRACT. */
#include "cli.h"
#include "usg/igtl_server.h"
#include "usg/overlay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cvshim/cvshim.h"

typedef struct replay {
    cli_run_opts o;
    usg_source *src;
    usg_probe probe;
    usg_pipeline_params pp;
    usg_pipeline *pl;
    usg_recorder *rec;
    usg_igtl_server *srv;
    cli_results out;
    usg_result *res;
    usg_rgb rgb;
    long frames_done, frames_bad;
    double start_ms, first_t_ms;
} replay;

static void replay_close(replay *r) {
    usg_igtl_server_close(r->srv);
    usg_pipeline_free(r->pl);
    if (usg_recorder_close(r->rec) != USG_OK) cli_error("%s", usg_last_error());
    cli_results_close(&r->out);
    usg_source_close(r->src);
    usg_rgb_free(&r->rgb);
    free(r->res);
}

/* Make the pipeline and the overlay outputs once the frame size is known. */
static int start_pipeline(replay *r, const usg_image *img) {
    if (usg_pipeline_new(&r->pp, img->width, img->height, &r->pl) != USG_OK) {
        cli_error("%s: %s", r->o.input, usg_last_error());
        return CLI_EXIT_USAGE;
    }
    if (!r->o.overlay_path && !r->o.window && !r->srv) return 0;
    if (usg_rgb_alloc(&r->rgb, img->width, img->height) != USG_OK) {
        cli_error("%s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    double fps = usg_source_fps(r->src) > 0 ? usg_source_fps(r->src) : 30.0;
    if (r->o.overlay_path && usg_recorder_open(r->o.overlay_path, img->width, img->height, fps, &r->rec) != USG_OK) {
        cli_error("--overlay: %s", usg_last_error());
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* Sleep until the frame's recorded time (--pace realtime). */
static void pace(replay *r, double t_ms) {
    if (!r->o.pace_realtime) return;
    if (r->frames_done == 0) {
        r->start_ms = usg_now_ms();
        r->first_t_ms = t_ms;
        return;
    }
    double wait = (t_ms - r->first_t_ms) - (usg_now_ms() - r->start_ms);
    if (wait > 0 && wait < 10000) {
        struct timespec ts = {(time_t)(wait / 1000), (long)(fmod(wait, 1000.0) * 1e6)};
        nanosleep(&ts, NULL);
    }
}

static void show_and_record(replay *r, const usg_image *img, const usg_result *res, int index) {
    if (!r->rgb.data) return;
    double t0 = usg_now_ms();
    if (img) {
        usg_overlay_render(img, res, &r->probe, NULL, &r->rgb);
    } else {
        usg_overlay_no_signal(res->error, &r->rgb);
    }
    r->res->latency.overlay = usg_now_ms() - t0;
    r->res->latency.total += r->res->latency.overlay;
    if (r->rec && usg_recorder_write(r->rec, &r->rgb, index) != USG_OK) cli_error("--overlay: %s", usg_last_error());
    if (r->srv && img && usg_igtl_server_publish(r->srv, &r->rgb, res, r->probe.spacing_x_mm, r->probe.spacing_y_mm) != USG_OK) {
        cli_error("--serve: %s", usg_last_error());
    }
    if (r->o.window) {
        if (cvshim_window_show("usguide", &r->rgb) != USG_OK) {
            cli_error("%s", usg_last_error());
            r->o.window = 0;
        } else {
            cvshim_window_poll(1);
        }
    }
}

/* One frame: decode status -> process -> overlay -> result line. Returns 0, or an exit code to stop. */
static int replay_frame(replay *r, usg_status st, const usg_frame *fr) {
    usg_result *res = r->res;
    usg_result_reset(res, fr->index, fr->t_ms);
    pace(r, fr->t_ms);
    if (st == USG_OK && !r->pl) {
        int rc = start_pipeline(r, &fr->image);
        if (rc) return rc;
    }
    if (st == USG_OK && usg_pipeline_process(r->pl, &fr->image, res) != USG_OK) st = USG_ERR_FRAME;
    if (st != USG_OK) {
        usg_result_set_error(res, usg_last_error());
        cli_error("frame %d: %s", fr->index, usg_last_error());
        r->frames_bad++;
        show_and_record(r, NULL, res, fr->index);
    } else {
        show_and_record(r, &fr->image, res, fr->index);
    }
    r->frames_done++;
    if (cli_results_write(&r->out, res) != 0) return CLI_EXIT_USAGE;
    return 0;
}

static int replay_loop(replay *r) {
    long total = usg_source_count(r->src);
    if (r->o.max_frames > 0 && (total < 0 || total > r->o.max_frames)) total = r->o.max_frames;
    for (;;) {
        if (r->o.max_frames > 0 && r->frames_done >= r->o.max_frames) break;
        usg_frame fr;
        usg_status st = usg_source_next(r->src, &fr);
        if (st == USG_ERR_EOF) break;
        if (st != USG_OK && st != USG_ERR_FRAME) {
            cli_error("%s", usg_last_error());
            return CLI_EXIT_USAGE;
        }
        int rc = replay_frame(r, st, &fr);
        if (rc) return rc;
        cli_progress(r->frames_done, total);
    }
    cli_progress_end();
    return 0;
}

int cmd_replay(int argc, char **argv) {
    replay r;
    memset(&r, 0, sizeof r);
    int rc = cli_parse_run_opts(argc, argv, 0, &r.o);
    if (rc) return rc < 0 ? CLI_EXIT_OK : rc;
    r.res = calloc(1, sizeof *r.res);
    if (!r.res) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    if (usg_source_open(r.o.input, NULL, &r.src) != USG_OK) {
        cli_error("%s", usg_last_error());
        replay_close(&r);
        return CLI_EXIT_USAGE;
    }
    if (r.o.serve_port && usg_igtl_server_open(r.o.serve_bind, r.o.serve_port, &r.srv) != USG_OK) {
        cli_error("--serve: %s", usg_last_error());
        replay_close(&r);
        return CLI_EXIT_USAGE;
    }
    rc = cli_load_probe(&r.o, r.src, &r.probe);
    if (!rc) rc = cli_pipeline_params(&r.o, &r.probe, &r.pp);
    if (!rc) rc = cli_results_open(&r.out, r.o.results_path);
    if (!rc) rc = replay_loop(&r);
    if (!rc && r.frames_done == 0) {
        cli_error("%s: no frames", r.o.input);
        rc = CLI_EXIT_USAGE;
    }
    if (!rc) {
        cli_info(1, "usguide: %ld frame%s processed, %ld with errors", r.frames_done - r.frames_bad,
                 r.frames_done - r.frames_bad == 1 ? "" : "s", r.frames_bad);
        rc = r.frames_bad ? CLI_EXIT_FRAMES : CLI_EXIT_OK;
    }
    replay_close(&r);
    return rc;
}
