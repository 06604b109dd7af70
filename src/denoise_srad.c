/* denoise_srad.c - speckle-reducing anisotropic diffusion (Yu & Acton 2002).
 *
 * Each iteration: the instantaneous coefficient of variation q at every pixel,
 * the speckle scale q0 as the median of q over the image (speckle dominates a
 * B-mode image; edges are few), the diffusion coefficient
 * c = 1 / (1 + (q^2 - q0^2) / (q0^2 (1 + q0^2))), then an explicit step.
 * Borders replicate. O(N) per iteration. */
#include "denoise_impl.h"

#include <string.h>

#define Q2_BINS 1024
#define Q2_MAX 1.0f

/* Coefficient c (into cplane) for image u; returns nothing. */
static void srad_coeff(const float *u, float *cplane, int w, int h) {
    static const float inv_bin = Q2_BINS / Q2_MAX;
    unsigned hist[Q2_BINS];
    memset(hist, 0, sizeof hist);
    /* pass 1: q^2 into cplane and its histogram */
    for (int y = 0; y < h; y++) {
        const float *r = u + (size_t)y * w;
        const float *rn = y > 0 ? r - w : r, *rs = y < h - 1 ? r + w : r;
        float *c = cplane + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float i0 = r[x];
            float dn = rn[x] - i0, ds = rs[x] - i0;
            float dw = (x > 0 ? r[x - 1] : i0) - i0, de = (x < w - 1 ? r[x + 1] : i0) - i0;
            float inv = 1.0f / i0;
            float g2 = (dn * dn + ds * ds + dw * dw + de * de) * inv * inv;
            float l = (dn + ds + dw + de) * inv;
            float den = 1.0f + 0.25f * l;
            float q2 = (0.5f * g2 - 0.0625f * l * l) / (den * den + 1e-6f);
            if (q2 < 0) q2 = 0;
            c[x] = q2;
            int b = (int)(q2 * inv_bin);
            hist[b < Q2_BINS ? b : Q2_BINS - 1]++;
        }
    }
    /* q0^2: the median of q^2 */
    size_t half = (size_t)w * h / 2, acc = 0;
    int b = 0;
    while (b < Q2_BINS - 1 && (acc += hist[b]) < half) b++;
    float q02 = (b + 0.5f) / inv_bin;
    float k = 1.0f / (q02 * (1.0f + q02));
    /* pass 2: coefficient */
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
        float c = 1.0f / (1.0f + (cplane[i] - q02) * k);
        cplane[i] = c < 0 ? 0 : c > 1 ? 1 : c;
    }
}

/* One explicit diffusion step u -> v with coefficients c. */
static void srad_step(const float *u, const float *cp, float *v, int w, int h, float dt) {
    for (int y = 0; y < h; y++) {
        const float *r = u + (size_t)y * w, *c = cp + (size_t)y * w;
        const float *rn = y > 0 ? r - w : r, *rs = y < h - 1 ? r + w : r;
        const float *cs = y < h - 1 ? c + w : c;
        float *o = v + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float i0 = r[x];
            float dn = rn[x] - i0, ds = rs[x] - i0;
            float dw = (x > 0 ? r[x - 1] : i0) - i0, de = (x < w - 1 ? r[x + 1] : i0) - i0;
            float ce = x < w - 1 ? c[x + 1] : c[x];
            float div = cs[x] * ds + c[x] * dn + ce * de + c[x] * dw;
            o[x] = i0 + 0.25f * dt * div;
        }
    }
}

void usg_srad_filter(const usg_image *in, usg_image *out, int iters, float dt, usg_dn_scratch *s) {
    int w = in->width, h = in->height;
    float *u = s->plane[0], *v = s->plane[1], *c = s->plane[2];
    for (int y = 0; y < h; y++) {
        const uint8_t *row = usg_image_row(in, y);
        for (int x = 0; x < w; x++) u[(size_t)y * w + x] = row[x] + 1.0f; /* > 0 for q */
    }
    for (int it = 0; it < iters; it++) {
        srad_coeff(u, c, w, h);
        srad_step(u, c, v, w, h, dt);
        float *t = u; u = v; v = t;
    }
    for (int y = 0; y < h; y++) {
        uint8_t *dst = usg_image_row(out, y);
        const float *r = u + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float q = r[x] - 0.5f;
            dst[x] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        }
    }
}
