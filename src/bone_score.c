/* bone_score.c - per-sample bone evidence on the scan grid (after Foroughi
 * et al. 2007): a cortex is a bright reflector with a dark acoustic shadow
 * beneath it along the beam. Evidence = brightness (relative to the image's
 * bright end)^2 x shadow^2, shadow = 1 - (mean below / sample) / shadow_ratio:
 * 1 under a perfect shadow, 0 when the beam below keeps shadow_ratio of the
 * sample's brightness (a fascia over speckled tissue).
 * The shadow mean is a prefix-sum difference: linear time. */
#include "bone_impl.h"

#include <string.h>

/* Grey levels are log-compressed amplitude: a scanner's gain adds a constant
 * to them and its display range scales them. The evidence is measured
 * between the image's dark end (*dark: the 2nd percentile of the valid
 * samples, shadow or noise floor, less DARK_BLACK) and its bright end
 * (*bright, the 99th), so neither changes it much (short of clipping). */
#define DARK_BLACK 16.0f /* grey levels at the dark end that count as black */

static void grey_levels(const usg_bone_grid *g, const float *a, float *dark, float *bright) {
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
    size_t want_hi = n - n / 100, want_lo = n / 50, acc = 0;
    int b = 0, lo = -1;
    for (; b < 255; b++) {
        acc += hist[b];
        if (lo < 0 && acc > want_lo) lo = b;
        if (acc >= want_hi) break;
    }
    if (lo < 0) lo = b;
    *bright = b < 16 ? 16.0f : (float)b;
    /* (the first grey levels are black: dark speckle grains of any image reach
     * them; only a floor lifted above them is the scanner's) */
    float dk = (float)lo - DARK_BLACK;
    *dark = dk < 0 ? 0 : (dk < *bright - 16.0f ? dk : *bright - 16.0f);
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
    float dark, bright;
    grey_levels(g, a, &dark, &bright);
    const float inv_bright = 1.0f / (bright - dark);
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
            float below = (prefix[b1] - prefix[b0]) / (float)(b1 - b0) - dark;
            float v = tmp[i] - dark;
            if (below < 0) below = 0;
            if (v <= 0) continue;
            float sh = 1.0f - below / ((v + 1.0f) * sp->shadow_ratio);
            if (sh <= 0) continue;
            float br = v * inv_bright;
            if (br > 1) br = 1;
            fc[i] = br * br * sh * sh;
        }
    }
}
