/* sim_write.c - write a simulated sequence folder: frames/NNNN.png,
 * truth.jsonl and probe.ini. */
#include "usg/sim.h"
#include "usg/fs.h"
#include "usg/png_io.h"

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

static usg_status write_frames(usg_sim *s, const usg_sim_params *p, const char *outdir, FILE *truth,
                               const char *truth_path, usg_sim_progress_fn progress, void *user) {
    usg_image frame = {0};
    usg_status st = usg_sim_frame_alloc(s, &frame);
    size_t cap = usg_result_json_capacity();
    char *json = malloc(cap);
    usg_result *r = malloc(sizeof *r);
    size_t plen = strlen(outdir) + 32;
    char *path = malloc(plen);
    if (st == USG_OK && (!json || !r || !path)) st = usg_fail(USG_ERR_NOMEM, "simulator: out of memory");
    for (int k = 0; k < p->frames && st == USG_OK; k++) {
        st = usg_sim_render(s, k, &frame, r);
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

usg_status usg_sim_write_sequence(const usg_sim_params *p, const char *outdir, usg_sim_progress_fn progress,
                                  void *user) {
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
        snprintf(path, plen, "%s/probe.ini", outdir);
        st = usg_probe_save(&probe, path);
    }
    if (st == USG_OK) {
        snprintf(path, plen, "%s/truth.jsonl", outdir);
        FILE *f = fopen(path, "w");
        if (!f) {
            st = usg_fail(USG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        } else {
            st = write_frames(s, p, outdir, f, path, progress, user);
            if (fclose(f) != 0 && st == USG_OK) st = usg_fail(USG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        }
    }
    free(path);
    usg_sim_free(s);
    return st;
}
