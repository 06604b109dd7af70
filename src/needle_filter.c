/* needle_filter.c - downsampling and the Hessian (steerable second derivative)
 * ridge filter used by the needle acquisition search. */
#include "needle_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nd_downsample2(const usg_image *in, float *out, int w2, int h2) {
    for (int y = 0; y < h2; y++) {
        const uint8_t *a = usg_image_row(in, 2 * y);
        const uint8_t *b = usg_image_row(in, 2 * y + 1);
        float *o = out + (ptrdiff_t)y * w2;
        for (int x = 0; x < w2; x++) {
            o[x] = 0.25f * (float)(a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1]);
        }
    }
}

void nd_downsample2f(const float *in, int w, float *out, int w2, int h2) {
    for (int y = 0; y < h2; y++) {
        const float *a = in + (ptrdiff_t)(2 * y) * w, *b = a + w;
        float *o = out + (ptrdiff_t)y * w2;
        for (int x = 0; x < w2; x++) o[x] = 0.25f * (a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1]);
    }
}

usg_status nd_hessian_init(nd_hessian *hs, int w, int h, double sigma) {
    memset(hs, 0, sizeof *hs);
    int r = (int)ceil(3.0 * sigma);
    if (r < 1) r = 1;
    if (r > 15) r = 15;
    hs->w = w;
    hs->h = h;
    hs->r = r;
    double s2 = sigma * sigma, sum = 0, sum2 = 0;
    for (int i = -r; i <= r; i++) sum += exp(-0.5 * i * i / s2);
    for (int i = -r; i <= r; i++) {
        double g = exp(-0.5 * i * i / s2) / sum;
        hs->g[i + r] = (float)g;
        hs->g1[i + r] = (float)(-i / s2 * g);
        hs->g2[i + r] = (float)((i * i / (s2 * s2) - 1.0 / s2) * g);
        sum2 += hs->g2[i + r];
    }
    for (int i = 0; i < 2 * r + 1; i++) hs->g2[i] -= (float)(sum2 / (2 * r + 1)); /* zero DC */
    size_t n = (size_t)w * (size_t)h;
    float **bufs[6] = {&hs->t0, &hs->t1, &hs->t2, &hs->xx, &hs->yy, &hs->xy};
    for (int i = 0; i < 6; i++) {
        *bufs[i] = malloc(n * sizeof(float));
        if (!*bufs[i]) {
            nd_hessian_free(hs);
            return usg_fail(USG_ERR_NOMEM, "needle: out of memory for the %dx%d ridge filter", w, h);
        }
    }
    return USG_OK;
}

void nd_hessian_free(nd_hessian *hs) {
    free(hs->t0); free(hs->t1); free(hs->t2);
    free(hs->xx); free(hs->yy); free(hs->xy);
    memset(hs, 0, sizeof *hs);
}

/* Horizontal convolution with clamped borders (taps outer: vectorisable). */
static void conv_rows(const float *in, float *out, int w, int h, const float *k, int r) {
    for (int y = 0; y < h; y++) {
        const float *src = in + (ptrdiff_t)y * w;
        float *dst = out + (ptrdiff_t)y * w;
        if (w > 2 * r) {
            for (int x = r; x < w - r; x++) dst[x] = 0;
            for (int i = 0; i <= 2 * r; i++) {
                const float kk = k[i], *s = src + i - r;
                for (int x = r; x < w - r; x++) dst[x] += kk * s[x];
            }
        }
        for (int x = 0; x < w; x++) {
            if (x == r && w > 2 * r) x = w - r; /* interior done above */
            if (x >= w) break;
            float acc = 0;
            for (int i = -r; i <= r; i++) {
                int xx = x + i < 0 ? 0 : (x + i >= w ? w - 1 : x + i);
                acc += k[i + r] * src[xx];
            }
            dst[x] = acc;
        }
    }
}

/* Vertical convolution with clamped borders (row-wise accumulation, vectorisable). */
static void conv_cols(const float *in, float *out, int w, int h, const float *k, int r) {
    for (int y = 0; y < h; y++) {
        float *dst = out + (ptrdiff_t)y * w;
        memset(dst, 0, (size_t)w * sizeof(float));
        for (int i = -r; i <= r; i++) {
            int yy = y + i < 0 ? 0 : (y + i >= h ? h - 1 : y + i);
            const float *src = in + (ptrdiff_t)yy * w;
            float kk = k[i + r];
            for (int x = 0; x < w; x++) dst[x] += kk * src[x];
        }
    }
}

void nd_hessian_run(nd_hessian *hs, const float *in) {
    int w = hs->w, h = hs->h, r = hs->r;
    conv_rows(in, hs->t0, w, h, hs->g, r);
    conv_rows(in, hs->t1, w, h, hs->g1, r);
    conv_rows(in, hs->t2, w, h, hs->g2, r);
    conv_cols(hs->t2, hs->xx, w, h, hs->g, r);
    conv_cols(hs->t0, hs->yy, w, h, hs->g2, r);
    conv_cols(hs->t1, hs->xy, w, h, hs->g1, r);
}

float nd_hessian_ridge(const nd_hessian *hs, int i) {
    float a = hs->xx[i], b = hs->yy[i], c = hs->xy[i];
    float m = 0.5f * (a + b);
    float d = sqrtf(0.25f * (a - b) * (a - b) + c * c);
    float l1 = m - d, l2 = m + d;
    float r = -l1 - fabsf(l2);
    return r > 0 ? r : 0;
}

double nd_hessian_angle(const nd_hessian *hs, int i) {
    return 0.5 * atan2(2.0 * hs->xy[i], (double)hs->xx[i] - hs->yy[i]);
}
