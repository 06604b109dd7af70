/* denoise_guided.c - self-guided filter (He, Sun & Tang 2013) in O(N):
 * every box mean is two running-sum passes, independent of the radius. */
#include "denoise_impl.h"

/* Box mean of radius r over a w x h float plane (stride w), in place.
 * Windows are clipped at the borders (mean over the pixels inside).
 * `tmp` is a w x h plane, `acc` a line of max(w, h) doubles. */
static void box_mean(float *p, int w, int h, int r, float *tmp, double *acc) {
    /* horizontal: p -> tmp */
    for (int y = 0; y < h; y++) {
        const float *src = p + (size_t)y * w;
        float *dst = tmp + (size_t)y * w;
        double s = 0;
        int lo = 0, hi = -1; /* current window [lo, hi] */
        for (int x = 0; x < w; x++) {
            int nlo = x - r < 0 ? 0 : x - r, nhi = x + r >= w ? w - 1 : x + r;
            while (hi < nhi) s += src[++hi];
            while (lo < nlo) s -= src[lo++];
            dst[x] = (float)(s / (hi - lo + 1));
        }
    }
    /* vertical: tmp -> p, with a running column sum */
    for (int x = 0; x < w; x++) acc[x] = 0;
    int lo = 0, hi = -1;
    for (int y = 0; y < h; y++) {
        int nlo = y - r < 0 ? 0 : y - r, nhi = y + r >= h ? h - 1 : y + r;
        while (hi < nhi) {
            const float *row = tmp + (size_t)(++hi) * w;
            for (int x = 0; x < w; x++) acc[x] += row[x];
        }
        while (lo < nlo) {
            const float *row = tmp + (size_t)(lo++) * w;
            for (int x = 0; x < w; x++) acc[x] -= row[x];
        }
        double inv = 1.0 / (hi - lo + 1);
        float *dst = p + (size_t)y * w;
        for (int x = 0; x < w; x++) dst[x] = (float)(acc[x] * inv);
    }
}

void usg_guided_filter(const usg_image *in, usg_image *out, int r, float eps, usg_dn_scratch *s) {
    int w = in->width, h = in->height;
    float *mi = s->plane[0], *mii = s->plane[1], *tmp = s->plane[2];
    for (int y = 0; y < h; y++) {
        const uint8_t *row = usg_image_row(in, y);
        for (int x = 0; x < w; x++) {
            float v = row[x];
            mi[(size_t)y * w + x] = v;
            mii[(size_t)y * w + x] = v * v;
        }
    }
    box_mean(mi, w, h, r, tmp, s->line);
    box_mean(mii, w, h, r, tmp, s->line);
    /* a = var / (var + eps) into mii, b = (1 - a) * mean into mi */
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) {
        float var = mii[i] - mi[i] * mi[i];
        if (var < 0) var = 0;
        float a = var / (var + eps);
        mii[i] = a;
        mi[i] = (1.0f - a) * mi[i];
    }
    box_mean(mii, w, h, r, tmp, s->line);
    box_mean(mi, w, h, r, tmp, s->line);
    for (int y = 0; y < h; y++) {
        const uint8_t *src = usg_image_row(in, y);
        uint8_t *dst = usg_image_row(out, y);
        const float *a = mii + (size_t)y * w, *b = mi + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float q = a[x] * src[x] + b[x] + 0.5f;
            dst[x] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        }
    }
}
