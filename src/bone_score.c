/* bone_score.c - per-sample bone evidence on the scan grid (after Foroughi
 * et al. 2007): a cortex is a bright reflector with a dark acoustic shadow
 * beneath it along the beam. Evidence = brightness (relative to the image's
 * bright end)^2 x shadow^2, shadow = 1 - (mean below / sample) / shadow_ratio:
 * 1 under a perfect shadow, 0 when the beam below keeps shadow_ratio of the
 * sample's brightness (a fascia over speckled tissue).
 * The shadow mean is a prefix-sum difference: linear time. */
#include "bone_impl.h"

#include <string.h>

/* Brightness scale: the 99th percentile of the valid samples. */
static float bright_level(const usg_bone_grid *g, const float *a) {
    unsigned hist[256];
    memset(hist, 0, sizeof hist);
    size_t n = 0;
    for (int j = 0; j < g->nr; j++) {
        const float *col = a + (size_t)j * g->nd;
        for (int i = g->lo[j]; i < g->hi[j]; i++) {
            int b = (int)col[i];
            hist[b > 255 ? 255 : b]++;
            n++;
        }
    }
    size_t want = n - n / 100, acc = 0;
    int b = 0;
    while (b < 255 && (acc += hist[b]) < want) b++;
    return b < 16 ? 16.0f : (float)b;
}

/* Box-smooth col[lo, hi) along depth into out (half-width r). */
static void smooth_depth(const float *col, int lo, int hi, int r, float *out, float *prefix) {
    prefix[lo] = 0;
    for (int i = lo; i < hi; i++) prefix[i + 1] = prefix[i] + col[i];
    for (int i = lo; i < hi; i++) {
        int a = i - r < lo ? lo : i - r, b = i + r + 1 > hi ? hi : i + r + 1;
        out[i] = (prefix[b] - prefix[a]) / (float)(b - a);
    }
}

void usg_bone_score(const usg_bone_grid *g, const usg_bone_score_params *sp, const float *a,
                    float *f, float *prefix, float *tmp) {
    const float inv_bright = 1.0f / bright_level(g, a);
    const int nd = g->nd;
    for (int j = 0; j < g->nr; j++) {
        const float *col = a + (size_t)j * nd;
        float *fc = f + (size_t)j * nd;
        int lo = g->lo[j], hi = g->hi[j];
        for (int i = 0; i < nd; i++) fc[i] = 0;
        if (hi - lo < 2) continue;
        smooth_depth(col, lo, hi, sp->smooth, tmp, prefix); /* prefix: of col */
        int need = sp->shadow_len / 4 > 1 ? sp->shadow_len / 4 : 1;
        for (int i = lo; i < hi; i++) {
            int b0 = i + sp->gap, b1 = b0 + sp->shadow_len;
            if (b1 > hi) b1 = hi;
            if (b1 - b0 < need) break; /* no room to see a shadow */
            float below = (prefix[b1] - prefix[b0]) / (float)(b1 - b0);
            float v = tmp[i];
            float sh = 1.0f - below / ((v + 1.0f) * sp->shadow_ratio);
            if (sh <= 0) continue;
            float br = v * inv_bright;
            if (br > 1) br = 1;
            fc[i] = br * br * sh * sh;
        }
    }
}
