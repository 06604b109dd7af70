/* sim_write.c - write a simulated sequence folder (or the needle laid over a
 * recording's frames, usg_sim_write_over): frames/NNNN.png,
 * truth.jsonl and probe.ini. */
#include "usg/sim.h"
#include "usg/fs.h"
#include "usg/png_io.h"
#include "usg/source.h"

#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <ctype.h>

/* 1 if `name` is a frame file name the simulator writes: digits then ".png". */
static int is_frame_name(const char *name) {
    size_t n = strlen(name), d = 0;
    while (d < n && isdigit((unsigned char)name[d])) d++;
    return d >= 4 && n == d + 4 && !strcmp(name + d, ".png");
}

/* Remove frames left by an earlier (longer) run so the folder holds exactly this sequence. */
static usg_status remove_old_frames(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return usg_fail(USG_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    size_t cap = strlen(dir) + 300;
    char *path = malloc(cap);
    usg_status st = path ? USG_OK : usg_fail(USG_ERR_NOMEM, "simulator: out of memory");
    struct dirent *e;
    while (st == USG_OK && (e = readdir(d)) != NULL) {
        if (!is_frame_name(e->d_name)) continue;
        snprintf(path, cap, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) st = usg_fail(USG_ERR_IO, "%s: cannot remove an old frame: %s", path, strerror(errno));
    }
    closedir(d);
    free(path);
    return st;
}

/* Frames of a real recording to lay the needle over (clipped copies). */
typedef struct bg_frames {
    usg_image *img;
    int n, cap;
    const usg_probe *probe;
} bg_frames;

/* Background frame for sequence frame k: 0, 1, .. n-1, n-2, .. 0, 1, .. */
static int ping_pong(int k, int n) {
    if (n < 2) return 0;
    int period = 2 * (n - 1), m = k % period;
    return m < n ? m : period - m;
}

static usg_status write_frames(usg_sim *s, const usg_sim_params *p, const bg_frames *bg, const char *outdir,
                               FILE *truth, const char *truth_path, usg_sim_progress_fn progress, void *user) {
    usg_image frame = {0};
    usg_status st = usg_sim_frame_alloc(s, &frame);
    size_t cap = usg_result_json_capacity();
    char *json = malloc(cap);
    usg_result *r = malloc(sizeof *r);
    size_t plen = strlen(outdir) + 32;
    char *path = malloc(plen);
    if (st == USG_OK && (!json || !r || !path)) st = usg_fail(USG_ERR_NOMEM, "simulator: out of memory");
    for (int k = 0; k < p->frames && st == USG_OK; k++) {
        st = bg ? usg_sim_render_over(s, k, &bg->img[ping_pong(k, bg->n)], &frame, r)
                : usg_sim_render(s, k, &frame, r);
        if (st != USG_OK) break;
        snprintf(path, plen, "%s/frames/%04d.png", outdir, k);
        st = usg_png_write_grey(path, &frame);
        size_t len = 0;
        if (st == USG_OK) st = usg_result_to_json(r, json, cap, &len);
        if (st == USG_OK && fwrite(json, 1, len, truth) != len) {
            st = usg_fail(USG_ERR_IO, "%s: write failed: %s", truth_path, strerror(errno));
        }
        if (st == USG_OK && progress) progress(k + 1, p->frames, user);
    }
    free(path);
    free(r);
    free(json);
    usg_image_free(&frame);
    return st;
}

/* The sequence folder, over `bg` when not NULL. */
static usg_status write_folder(const usg_sim_params *p, const bg_frames *bg, const char *outdir,
                               usg_sim_progress_fn progress, void *user) {
    usg_sim *s = NULL;
    usg_status st = usg_sim_new(p, &s);
    if (st != USG_OK) return st;
    size_t plen = strlen(outdir) + 32;
    char *path = malloc(plen);
    if (!path) {
        usg_sim_free(s);
        return usg_fail(USG_ERR_NOMEM, "simulator: out of memory");
    }
    st = usg_mkdirs(outdir);
    snprintf(path, plen, "%s/frames", outdir);
    if (st == USG_OK) st = usg_mkdirs(path);
    if (st == USG_OK) st = remove_old_frames(path);
    if (st == USG_OK) {
        usg_probe probe;
        usg_sim_probe(s, &probe);
        if (bg) {
            snprintf(probe.name, sizeof probe.name, "usguide sim needle over %.100s", bg->probe->name);
            probe.medial_side = bg->probe->medial_side;
        }
        snprintf(path, plen, "%s/probe.ini", outdir);
        st = usg_probe_save(&probe, path);
    }
    if (st == USG_OK) {
        snprintf(path, plen, "%s/truth.jsonl", outdir);
        FILE *f = fopen(path, "w");
        if (!f) {
            st = usg_fail(USG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        } else {
            st = write_frames(s, p, bg, outdir, f, path, progress, user);
            if (fclose(f) != 0 && st == USG_OK) st = usg_fail(USG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        }
    }
    free(path);
    usg_sim_free(s);
    return st;
}

usg_status usg_sim_write_sequence(const usg_sim_params *p, const char *outdir, usg_sim_progress_fn progress,
                                  void *user) {
    return write_folder(p, NULL, outdir, progress, user);
}

#define BG_MAX_FRAMES 2000

static usg_status check_bg_probe(const usg_probe *pr, const char *background) {
    if (pr->geometry != USG_GEOM_LINEAR) {
        return usg_fail(USG_ERR_ARG, "%s: the needle is laid over linear-probe images only (profile '%s' is curvilinear)",
                        background, pr->name);
    }
    if (usg_probe_near_side_down(pr)) {
        return usg_fail(USG_ERR_ARG, "%s: the needle is laid over images with the transducer at the top only "
                        "(profile '%s' has orientation %s)", background, pr->name, pr->orientation);
    }
    double sx = pr->spacing_x_mm, sy = pr->spacing_y_mm;
    if (!(sx > 0 && sy > 0) || fabs(sx - sy) > 0.01 * sx) {
        return usg_fail(USG_ERR_ARG, "%s: the profile '%s' must give square pixels (spacing %g x %g mm)", background,
                        pr->name, sx, sy);
    }
    return USG_OK;
}

/* Append a clipped copy of one recorded frame. */
static usg_status keep_frame(bg_frames *bg, const usg_image *raw, const char *background, int index) {
    usg_status st = usg_probe_check_frame(bg->probe, raw->width, raw->height);
    if (st != USG_OK) {
        char where[600];
        snprintf(where, sizeof where, "%s: frame %d", background, index);
        return usg_fail_context(USG_ERR_FORMAT, where);
    }
    if (bg->n == bg->cap) {
        int cap = bg->cap ? 2 * bg->cap : 32;
        usg_image *img = realloc(bg->img, sizeof *img * (size_t)cap);
        if (!img) return usg_fail(USG_ERR_NOMEM, "simulator: out of memory for the background frames");
        bg->img = img;
        bg->cap = cap;
    }
    usg_image view = usg_probe_clip_view(bg->probe, raw), *dst = &bg->img[bg->n];
    st = usg_image_alloc(dst, view.width, view.height);
    if (st == USG_OK) st = usg_image_copy(&view, dst);
    if (st == USG_OK) bg->n++;
    else usg_image_free(dst);
    return st;
}

/* Read every frame of the recording (those that cannot be decoded are skipped). */
static usg_status read_background(bg_frames *bg, const char *background) {
    usg_source *src = NULL;
    usg_status st = usg_source_open(background, NULL, &src);
    if (st != USG_OK) return st;
    if (usg_source_is_live(src)) {
        usg_source_close(src);
        return usg_fail(USG_ERR_ARG, "%s: the background must be a recording, not a live source", background);
    }
    while (st == USG_OK && bg->n < BG_MAX_FRAMES) {
        usg_frame f;
        usg_status r = usg_source_next(src, &f);
        if (r == USG_ERR_EOF) break;
        if (r == USG_ERR_FRAME) continue;
        st = r == USG_OK ? keep_frame(bg, &f.image, background, f.index) : r;
    }
    usg_source_close(src);
    if (st == USG_OK && bg->n == 0) st = usg_fail(USG_ERR_FORMAT, "%s: no frame could be read", background);
    return st;
}

usg_status usg_sim_write_over(const usg_sim_params *p, const char *background, const usg_probe *bg_probe,
                              const char *outdir, usg_sim_progress_fn progress, void *user) {
    usg_status st = check_bg_probe(bg_probe, background);
    if (st != USG_OK) return st;
    bg_frames bg = {.probe = bg_probe};
    st = read_background(&bg, background);
    if (st == USG_OK) {
        usg_sim_params q = *p;
        q.width = bg.img[0].width;
        q.height = bg.img[0].height;
        q.spacing_mm = bg_probe->spacing_x_mm;
        q.geometry = USG_GEOM_LINEAR;
        q.medium = USG_SIM_MEDIUM_TISSUE;
        q.frame_ui = 0;
        st = write_folder(&q, &bg, outdir, progress, user);
    }
    for (int i = 0; i < bg.n; i++) usg_image_free(&bg.img[i]);
    free(bg.img);
    return st;
}
