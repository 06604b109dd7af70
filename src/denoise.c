/* denoise.c - the speckle reduction stage: one method chosen at _new.
 *
 * median and bilateral go through the OpenCV shim; the guided filter and SRAD
 * are O(N) C (denoise_guided.c, denoise_srad.c). Parameters are for B-mode
 * images of 0.1-0.3 mm/px; README's denoise table gives their cost and effect. */
#include "usg/denoise.h"
#include "cvshim/cvshim.h"
#include "denoise_impl.h"

#include <stdlib.h>
#include <string.h>

/* Method parameters (chosen by measurement, see README). */
#define MEDIAN_KSIZE 5
#define BILATERAL_D 5
#define BILATERAL_SIGMA_COLOR 40.0
#define BILATERAL_SIGMA_SPACE 3.0
#define GUIDED_RADIUS 3
#define GUIDED_EPS 400.0f
#define SRAD_ITERS 2
#define SRAD_DT 1.0f

struct usg_denoiser {
    usg_denoise_method m;
    int w, h;
    usg_dn_scratch s;
};

static const char *const names[] = {"none", "median", "bilateral", "guided", "srad"};
#define N_METHODS ((int)(sizeof names / sizeof names[0]))

/* Measured on the eight sample sequences (README, "Speckle reduction"): the
 * bilateral filter gives the lowest needle tip error and joint-entry target
 * error at 1.2 ms per 640x480 frame on one core; bone edges are the same with
 * every method (the bone stage averages blocks itself). */
usg_denoise_method usg_denoise_default(void) { return USG_DENOISE_BILATERAL; }

usg_status usg_denoise_parse(const char *name, usg_denoise_method *out) {
    for (int i = 0; i < N_METHODS; i++) {
        if (name && !strcmp(name, names[i])) { *out = (usg_denoise_method)i; return USG_OK; }
    }
    return usg_fail(USG_ERR_ARG, "unknown denoise method '%s' (none, median, bilateral, guided, srad)",
                    name ? name : "(null)");
}

const char *usg_denoise_name(usg_denoise_method m) {
    return (unsigned)m < (unsigned)N_METHODS ? names[m] : "?";
}

/* Scratch planes for the C filters (none for the others). */
static usg_status scratch_alloc(usg_dn_scratch *s, int w, int h) {
    s->cap = (size_t)w * h;
    s->line_cap = (size_t)(w > h ? w : h);
    for (int i = 0; i < USG_DN_PLANES; i++) {
        s->plane[i] = malloc(s->cap * sizeof(float));
        if (!s->plane[i]) return usg_fail(USG_ERR_NOMEM, "denoiser: out of memory for %dx%d", w, h);
    }
    s->line = malloc(s->line_cap * sizeof(double));
    if (!s->line) return usg_fail(USG_ERR_NOMEM, "denoiser: out of memory for %dx%d", w, h);
    return USG_OK;
}

usg_status usg_denoiser_new(usg_denoise_method m, int w, int h, usg_denoiser **out) {
    *out = NULL;
    if ((unsigned)m >= (unsigned)N_METHODS)
        return usg_fail(USG_ERR_ARG, "denoiser: unknown method %d", (int)m);
    if (w < 1 || h < 1 || w > USG_MAX_SIDE || h > USG_MAX_SIDE)
        return usg_fail(USG_ERR_ARG, "denoiser: bad frame size %dx%d", w, h);
    usg_denoiser *d = calloc(1, sizeof *d);
    if (!d) return usg_fail(USG_ERR_NOMEM, "denoiser: out of memory");
    d->m = m; d->w = w; d->h = h;
    if (m == USG_DENOISE_GUIDED || m == USG_DENOISE_SRAD) {
        usg_status st = scratch_alloc(&d->s, w, h);
        if (st != USG_OK) { usg_denoiser_free(d); return st; }
    }
    *out = d;
    return USG_OK;
}

usg_status usg_denoiser_process(usg_denoiser *d, const usg_image *in, usg_image *out) {
    if (!d || !in || !out || !in->data || !out->data)
        return usg_fail(USG_ERR_ARG, "denoiser: missing image");
    if (in->width != out->width || in->height != out->height)
        return usg_fail(USG_ERR_ARG, "denoiser: input %dx%d and output %dx%d differ",
                        in->width, in->height, out->width, out->height);
    if (in->width > d->w || in->height > d->h || in->width < 1 || in->height < 1)
        return usg_fail(USG_ERR_ARG, "denoiser: frame %dx%d outside the %dx%d it was made for",
                        in->width, in->height, d->w, d->h);
    switch (d->m) {
    case USG_DENOISE_MEDIAN:
        return cvshim_median(in, out, MEDIAN_KSIZE);
    case USG_DENOISE_BILATERAL:
        return cvshim_bilateral(in, out, BILATERAL_D, BILATERAL_SIGMA_COLOR, BILATERAL_SIGMA_SPACE);
    case USG_DENOISE_GUIDED:
        usg_guided_filter(in, out, GUIDED_RADIUS, GUIDED_EPS, &d->s);
        return USG_OK;
    case USG_DENOISE_SRAD:
        usg_srad_filter(in, out, SRAD_ITERS, SRAD_DT, &d->s);
        return USG_OK;
    case USG_DENOISE_NONE:
    default:
        return usg_image_copy(in, out);
    }
}

void usg_denoiser_free(usg_denoiser *d) {
    if (!d) return;
    for (int i = 0; i < USG_DN_PLANES; i++) free(d->s.plane[i]);
    free(d->s.line);
    free(d);
}
