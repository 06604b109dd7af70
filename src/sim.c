/* sim.c - the simulator's public API: parameters, life cycle, the probe
 * profile, and the per-frame render (scatterers -> axial PSF -> speculars ->
 * lateral PSF and display -> scan conversion -> frame composition -> truth),
 * and the needle alone laid over a real frame (usg_sim_render_over). */
#include "usg/sim.h"
#include "sim_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void usg_sim_params_default(usg_sim_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->frames = 40;
    p->width = 640;
    p->height = 480;
    p->spacing_mm = 0.2;
    p->geometry = USG_GEOM_CURVILINEAR;
    p->needle = USG_SIM_NEEDLE_LATERAL;
    p->medial_side = USG_SIDE_LEFT;
    p->gain_db = 0;
    p->dynamic_range_db = 60;
    p->needle_free_frames = -1;
    p->needle_withdraw_frames = 0;
    p->jitter_mm = -1;
    p->decorrelation = -1;
    p->speckle = -1;
    p->fps = 20;
}

static usg_status range_err(const char *name, double v, const char *allowed) {
    return usg_fail(USG_ERR_ARG, "simulator: %s %g is outside %s", name, v, allowed);
}

usg_status usg_sim_params_check(const usg_sim_params *p) {
    if (p->frames < 1 || p->frames > 100000) return range_err("frames", p->frames, "1..100000");
    if (p->width < 64 || p->width > 4096) return range_err("width", p->width, "64..4096");
    if (p->height < 64 || p->height > 4096) return range_err("height", p->height, "64..4096");
    if (!(p->spacing_mm >= 0.03 && p->spacing_mm <= 1.0)) return range_err("spacing_mm", p->spacing_mm, "0.03..1");
    if (p->geometry != USG_GEOM_LINEAR && p->geometry != USG_GEOM_CURVILINEAR) {
        return usg_fail(USG_ERR_ARG, "simulator: unknown geometry %d", (int)p->geometry);
    }
    if (p->needle < USG_SIM_NEEDLE_NONE || p->needle > USG_SIM_NEEDLE_MEDIAL) {
        return usg_fail(USG_ERR_ARG, "simulator: unknown needle side %d", (int)p->needle);
    }
    if (p->medial_side != USG_SIDE_LEFT && p->medial_side != USG_SIDE_RIGHT) {
        return usg_fail(USG_ERR_ARG, "simulator: medial side must be left or right");
    }
    if (!(p->gain_db >= -60 && p->gain_db <= 60)) return range_err("gain_db", p->gain_db, "-60..60");
    if (!(p->dynamic_range_db >= 20 && p->dynamic_range_db <= 100)) {
        return range_err("dynamic_range_db", p->dynamic_range_db, "20..100");
    }
    if (!(p->freq_mhz == 0 || (p->freq_mhz >= 1 && p->freq_mhz <= 20))) {
        return range_err("freq_mhz", p->freq_mhz, "1..20 (or 0 for the default)");
    }
    if (!(p->needle_angle_deg == 0 || (p->needle_angle_deg >= 3 && p->needle_angle_deg <= 75))) {
        return range_err("needle_angle_deg", p->needle_angle_deg, "3..75 (or 0 for the seed's)");
    }
    if (!(p->needle_miss_mm >= -20 && p->needle_miss_mm <= 20)) {
        return range_err("needle_miss_mm", p->needle_miss_mm, "-20..20");
    }
    if (!(p->target_depth_mm >= 0 && p->target_depth_mm <= 300)) {
        return range_err("target_depth_mm", p->target_depth_mm, "0..300");
    }
    if (p->needle_free_frames < -1 || p->needle_free_frames > p->frames) {
        return range_err("needle_free_frames", p->needle_free_frames, "-1..frames");
    }
    if (p->needle_withdraw_frames < 0 || p->needle_withdraw_frames > p->frames / 2) {
        return range_err("needle_withdraw_frames", p->needle_withdraw_frames, "0..frames/2");
    }
    if (!(p->jitter_mm == -1 || (p->jitter_mm >= 0 && p->jitter_mm <= 5))) {
        return range_err("jitter_mm", p->jitter_mm, "0..5 (or -1 for the default)");
    }
    if (!(p->decorrelation == -1 || (p->decorrelation >= 0 && p->decorrelation <= 1))) {
        return range_err("decorrelation", p->decorrelation, "0..1 (or -1 for the default)");
    }
    if (!(p->speckle == -1 || (p->speckle >= 0 && p->speckle <= 1))) {
        return range_err("speckle", p->speckle, "0..1 (or -1 for the default)");
    }
    if (p->medium < USG_SIM_MEDIUM_SIJ || p->medium > USG_SIM_MEDIUM_WATER) {
        return usg_fail(USG_ERR_ARG, "simulator: unknown medium %d", (int)p->medium);
    }
    if (!(p->fps > 0 && p->fps <= 1000)) return range_err("fps", p->fps, "0..1000");
    if (!(p->needle_db >= -30 && p->needle_db <= 10)) return range_err("needle_db", p->needle_db, "-30..10");
    if (!(p->needle_speckle >= 0 && p->needle_speckle <= 1)) {
        return range_err("needle_speckle", p->needle_speckle, "0..1");
    }
    return USG_OK;
}

usg_status usg_sim_new(const usg_sim_params *p, usg_sim **out) {
    *out = NULL;
    usg_status st = usg_sim_params_check(p);
    if (st != USG_OK) return st;
    usg_sim *s = calloc(1, sizeof *s);
    if (!s) return usg_fail(USG_ERR_NOMEM, "simulator: out of memory");
    s->p = *p;
    sim_geom_init(&s->g, p->geometry, p->width, p->height, p->spacing_mm);
    st = sim_beam_new(&s->b, &s->g, p); /* sets the grid padding */
    if (st == USG_OK) st = sim_anatomy_build(&s->a, p, &s->g);
    if (st == USG_OK) st = sim_tissue_build(&s->t, &s->a, &s->g, p, 48 + s->g.pad);
    if (st == USG_OK) st = usg_image_alloc(&s->canon, p->width, p->height);
    if (st == USG_OK && !(s->layer = malloc(sizeof(float) * (size_t)p->width * (size_t)p->height))) {
        st = usg_fail(USG_ERR_NOMEM, "simulator: out of memory");
    }
    s->tissue_grey = -1;
    if (st != USG_OK) {
        usg_sim_free(s);
        return st;
    }
    if (p->frame_ui) {
        sim_ui_layout_for(p->width, p->height, &s->L);
    } else {
        s->L.frame_w = p->width;
        s->L.frame_h = p->height;
        s->L.clip_x = s->L.clip_y = 0;
    }
    s->jitter_px = (p->jitter_mm >= 0 ? p->jitter_mm : 0.5) / p->spacing_mm;
    double fresh = p->decorrelation >= 0 ? p->decorrelation : 0.25;
    s->keep = sqrt(1.0 - fresh);
    s->fresh = sqrt(fresh);
    s->speckle = p->speckle >= 0 ? p->speckle : 1.0;
    *out = s;
    return USG_OK;
}

void usg_sim_free(usg_sim *s) {
    if (!s) return;
    sim_beam_free(&s->b);
    sim_anatomy_free(&s->a);
    sim_tissue_free(&s->t);
    usg_image_free(&s->canon);
    free(s->layer);
    free(s);
}

void usg_sim_probe(const usg_sim *s, usg_probe *out) {
    usg_probe_default(out);
    const sim_geom *g = &s->g;
    int curv = g->kind == USG_GEOM_CURVILINEAR;
    snprintf(out->name, sizeof out->name, "usguide sim %s", curv ? "C5-2 curvilinear" : "L12-5 linear");
    out->geometry = g->kind;
    out->spacing_x_mm = out->spacing_y_mm = g->sp;
    if (s->p.frame_ui) {
        out->has_clip = 1;
        out->clip_x = s->L.clip_x;
        out->clip_y = s->L.clip_y;
        out->clip_w = g->w;
        out->clip_h = g->h;
    }
    snprintf(out->orientation, sizeof out->orientation, "MF");
    out->medial_side = s->p.medial_side;
    if (curv) {
        out->apex_x = g->ax;
        out->apex_y = g->ay;
        out->radius_inner = g->r_in;
        out->radius_outer = g->r_out;
        out->angle_start_deg = g->a0_deg;
        out->angle_end_deg = g->a1_deg;
    }
}

void usg_sim_frame_size(const usg_sim *s, int *w, int *h) {
    *w = s->L.frame_w;
    *h = s->L.frame_h;
}

usg_status usg_sim_frame_alloc(const usg_sim *s, usg_image *frame) {
    return usg_image_alloc(frame, s->L.frame_w, s->L.frame_h);
}

static void compose(usg_sim *s, usg_image *frame, int index) {
    if (s->p.frame_ui) {
        for (int y = 0; y < frame->height; y++) memset(usg_image_row(frame, y), 0, (size_t)frame->width);
        sim_ui_paint(frame, &s->L, &s->g, &s->p, index);
    }
    int mirror = s->p.medial_side == USG_SIDE_RIGHT, w = s->g.w;
    for (int y = 0; y < s->g.h; y++) {
        const uint8_t *src = usg_image_row(&s->canon, y);
        uint8_t *dst = usg_image_row(frame, y + s->L.clip_y) + s->L.clip_x;
        if (!mirror) {
            memcpy(dst, src, (size_t)w);
        } else {
            for (int x = 0; x < w; x++) dst[x] = src[w - 1 - x];
        }
    }
}

static usg_status check_render(const usg_sim *s, int index, const usg_image *frame) {
    if (index < 0 || index >= s->p.frames) {
        return usg_fail(USG_ERR_ARG, "simulator: frame %d is outside 0..%d", index, s->p.frames - 1);
    }
    if (!frame || !frame->data || frame->width != s->L.frame_w || frame->height != s->L.frame_h) {
        return usg_fail(USG_ERR_ARG, "simulator: frame buffer must be %dx%d", s->L.frame_w, s->L.frame_h);
    }
    return USG_OK;
}

/* This simulator's own image of frame `index` into s->canon; returns the needle length (-1: none). */
static double render_canon(usg_sim *s, int index, sim_pose *P) {
    sim_pose_for_frame(&s->a, &s->g, s->jitter_px, index, P);
    sim_rng r;
    sim_rng_seed(&r, s->p.seed, 1000u + (uint64_t)index);
    sim_echo_scatterers(s, P, &r);
    sim_beam_axial(&s->b);
    double len = sim_needle_length(&s->a, index, s->p.frames);
    sim_echo_speculars(s, P, len);
    sim_beam_finish(&s->b, &r);
    sim_beam_scan_convert(&s->b, &s->canon);
    return len;
}

usg_status usg_sim_render(usg_sim *s, int index, usg_image *frame, usg_result *truth) {
    usg_status st = check_render(s, index, frame);
    if (st != USG_OK) return st;
    sim_pose P;
    double len = render_canon(s, index, &P);
    compose(s, frame, index);
    if (truth) sim_truth_make(s, index, &P, len, truth);
    return USG_OK;
}

#define TISSUE_FLOOR_GREY 13 /* 5 % of the grey range: darker is shadow or black, not tissue */

/* Median grey of the tissue of an image: over the pixels inside the
 * simulator's imaged region brighter than TISSUE_FLOOR_GREY (an image half in
 * shadow still gives its tissue's level); 0 if there are none. */
static double median_grey(const sim_geom *g, const usg_image *img) {
    size_t hist[256] = {0}, n = 0;
    for (int y = 0; y < img->height; y++) {
        const uint8_t *row = usg_image_row(img, y);
        for (int x = 0; x < img->width; x++) {
            if (row[x] < TISSUE_FLOOR_GREY || !sim_geom_inside(g, x, y)) continue;
            hist[row[x]]++;
            n++;
        }
    }
    size_t acc = 0;
    for (int v = 0; v < 256 && n; v++) {
        acc += hist[v];
        if (2 * acc >= n) return v;
    }
    return 0;
}

/* Lay the needle's levels (s->layer, canonical, dB above black) raised by
 * `shift_db` over the background: the two echo powers add. */
static void lay_over(const usg_sim *s, const usg_image *bg, double shift_db, usg_image *frame) {
    const double k = s->p.dynamic_range_db / 255.0;
    int w = s->g.w, mirror = s->p.medial_side == USG_SIDE_RIGHT;
    for (int y = 0; y < s->g.h; y++) {
        const uint8_t *src = usg_image_row(bg, y);
        const float *lay = s->layer + (size_t)y * w;
        uint8_t *dst = usg_image_row(frame, y);
        for (int x = 0; x < w; x++) {
            double ln = lay[mirror ? w - 1 - x : x] + shift_db, lb = src[x] * k;
            double level = ln < lb - 40 ? lb : 10.0 * log10(pow(10.0, lb / 10.0) + pow(10.0, ln / 10.0));
            double gv = level / k + 0.5;
            dst[x] = (uint8_t)(gv > 255 ? 255 : gv);
        }
    }
}

usg_status usg_sim_render_over(usg_sim *s, int index, const usg_image *background, usg_image *frame,
                               usg_result *truth) {
    usg_status st = check_render(s, index, frame);
    if (st != USG_OK) return st;
    if (s->p.frame_ui) return usg_fail(USG_ERR_ARG, "simulator: a needle over a background takes no scanner UI frame");
    if (!background || !background->data || background->width != s->g.w || background->height != s->g.h) {
        return usg_fail(USG_ERR_ARG, "simulator: the background must be %dx%d (the image size)", s->g.w, s->g.h);
    }
    sim_pose P;
    if (s->tissue_grey < 0) {
        (void)render_canon(s, 0, &P);
        s->tissue_grey = median_grey(&s->g, &s->canon);
    }
    sim_pose_for_frame(&s->a, &s->g, s->jitter_px, index, &P);
    size_t n = (size_t)s->b.nl * s->b.ns;
    memset(s->b.re, 0, sizeof(float) * n);
    memset(s->b.im, 0, sizeof(float) * n);
    double len = sim_needle_length(&s->a, index, s->p.frames);
    sim_echo_needle(s, &P, len);
    sim_beam_finish_levels(&s->b);
    sim_beam_scan_convert_levels(&s->b, s->layer);
    double shift_db = (median_grey(&s->g, background) - s->tissue_grey) * s->p.dynamic_range_db / 255.0;
    lay_over(s, background, shift_db, frame);
    if (truth) sim_truth_make(s, index, &P, len, truth);
    return USG_OK;
}
