/* denoise_guided.c - self-guided filter (He, Sun & Tang 2013) in O(N), in
 * its fast form (He & Sun 2015: coefficients on the half-size image): every
 * box mean is two running-sum passes, independent of the radius. */
#include "denoise_impl.h"

/* Box means of radius r along one row: src -> dst, windows clipped at the
 * ends (mean over the pixels inside); the interior is a branch-free running sum. */
static void row_mean(const float *src, float *dst, int w, int r) {
    if (2 * r + 1 > w) { /* every window clipped */
        for (int x = 0; x < w; x++) {
            int lo = x - r < 0 ? 0 : x - r, hi = x + r > w - 1 ? w - 1 : x + r;
            float s = 0;
            for (int k = lo; k <= hi; k++) s += src[k];
            dst[x] = s / (float)(hi - lo + 1);
        }
        return;
    }
    float s = 0;
    for (int k = 0; k < r; k++) s += src[k];
    for (int x = 0; x <= r; x++) { /* left border: window [0, x + r] */
        s += src[x + r];
        dst[x] = s / (float)(x + r + 1);
    }
    const float inv = 1.0f / (float)(2 * r + 1);
    for (int x = r + 1; x < w - r; x++) {
        s += src[x + r] - src[x - r - 1];
        dst[x] = s * inv;
    }
    for (int x = w - r > r + 1 ? w - r : r + 1; x < w; x++) { /* right border */
        s -= src[x - r - 1];
        dst[x] = s / (float)(w - (x - r));
    }
}

/* Box mean of radius r over a w x h float plane (stride w), in place.
 * Windows are clipped at the borders (mean over the pixels inside).
 * `tmp` is a w x h plane, `acc` a line of at least w floats (as doubles). */
static void box_mean(float *p, int w, int h, int r, float *tmp, double *acc_d) {
    for (int y = 0; y < h; y++) row_mean(p + (size_t)y * w, tmp + (size_t)y * w, w, r);
    /* vertical: tmp -> p, with a running column sum */
    float *acc = (float *)acc_d;
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
        const float inv = 1.0f / (float)(hi - lo + 1);
        float *dst = p + (size_t)y * w;
        for (int x = 0; x < w; x++) dst[x] = acc[x] * inv;
    }
}

void usg_guided_filter(const usg_image *in, usg_image *out, int r, float eps, usg_dn_scratch *s) {
    const int w = in->width, h = in->height;
    /* fast guided filter (He & Sun 2015): a and b on the image halved in
     * each direction, radius halved; then q = A(up) * I + B(up) at full size */
    const int hw = w / 2, hh = h / 2;
    if (hw < 2 || hh < 2) { usg_image_copy(in, out); return; }
    const int hr = (r + 1) / 2;
    float *mi = s->plane[0], *mii = s->plane[1], *tmp = s->plane[2];
    for (int y = 0; y < hh; y++) {
        const uint8_t *r0 = usg_image_row(in, 2 * y), *r1 = usg_image_row(in, 2 * y + 1);
        float *a = mi + (size_t)y * hw, *b = mii + (size_t)y * hw;
        for (int x = 0; x < hw; x++) {
            float v = 0.25f * (float)(r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]);
            a[x] = v;
            b[x] = v * v;
        }
    }
    box_mean(mi, hw, hh, hr, tmp, s->line);
    box_mean(mii, hw, hh, hr, tmp, s->line);
    const size_t n = (size_t)hw * hh;
    for (size_t i = 0; i < n; i++) { /* a into mii, b into mi */
        float var = mii[i] - mi[i] * mi[i];
        if (var < 0) var = 0;
        float a = var / (var + eps);
        mii[i] = a;
        mi[i] = (1.0f - a) * mi[i];
    }
    box_mean(mii, hw, hh, hr, tmp, s->line);
    box_mean(mi, hw, hh, hr, tmp, s->line);
    /* upsample A, B by 2 (bilinear, pixel centres) one output row at a time */
    float *la = (float *)s->line, *lb = la + hw;
    for (int y = 0; y < h; y++) {
        float v = 0.5f * (float)y - 0.25f;
        if (v < 0) v = 0;
        int v0 = (int)v;
        if (v0 > hh - 2) v0 = hh - 2;
        float fv = v - (float)v0;
        if (fv > 1) fv = 1;
        const float *a0 = mii + (size_t)v0 * hw, *a1 = a0 + hw, *b0 = mi + (size_t)v0 * hw, *b1 = b0 + hw;
        for (int x = 0; x < hw; x++) {
            la[x] = a0[x] + fv * (a1[x] - a0[x]);
            lb[x] = b0[x] + fv * (b1[x] - b0[x]);
        }
        const uint8_t *src = usg_image_row(in, y);
        uint8_t *dst = usg_image_row(out, y);
        for (int x = 0; x < w; x++) {
            int k = x >> 1, k0, k1;
            float f;
            if (x & 1) { k0 = k; k1 = k + 1 < hw ? k + 1 : hw - 1; f = 0.25f; }
            else { k0 = k > 0 ? k - 1 : 0; k1 = k < hw ? k : hw - 1; f = k > 0 ? 0.75f : 1.0f; }
            if (k0 > hw - 1) k0 = k1 = hw - 1;
            float A = la[k0] + f * (la[k1] - la[k0]), B = lb[k0] + f * (lb[k1] - lb[k0]);
            float q = A * src[x] + B + 0.5f;
            dst[x] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
        }
    }
}
