/* depth_profile.c - the tissue's grey by depth (see depth_profile.h). */
#include "depth_profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

usg_status usg_depth_profile_init(usg_depth_profile *p, double depth_mm, double band_mm) {
    memset(p, 0, sizeof *p);
    if (!(depth_mm > 0) || !(band_mm > 0)) return usg_fail(USG_ERR_ARG, "depth profile: depth %g mm, band %g mm", depth_mm, band_mm);
    p->n = (int)(depth_mm / band_mm) + 1;
    p->band_mm = band_mm;
    p->hist = malloc((size_t)p->n * 256 * sizeof(int));
    p->grey = calloc((size_t)p->n, sizeof(double));
    if (!p->hist || !p->grey) {
        usg_depth_profile_free(p);
        return usg_fail(USG_ERR_NOMEM, "depth profile: out of memory for %d bands", (int)(depth_mm / band_mm) + 1);
    }
    usg_depth_profile_clear(p);
    return USG_OK;
}

void usg_depth_profile_free(usg_depth_profile *p) {
    free(p->hist);
    free(p->grey);
    p->hist = NULL;
    p->grey = NULL;
    p->n = 0;
}

void usg_depth_profile_clear(usg_depth_profile *p) {
    memset(p->hist, 0, (size_t)p->n * 256 * sizeof(int));
}

void usg_window_medians(const int *hist, int nb, int r, double *out) {
    int win[256] = {0}, n = 0, lo = 0, hi = -1;
    for (int b = 0; b < nb; b++) {
        for (; hi < b + r && hi < nb - 1; hi++) { /* bands up to b + r in ... */
            const int *h = hist + (size_t)(hi + 1) * 256;
            for (int g = 11; g < 256; g++) { win[g] += h[g]; n += h[g]; }
        }
        for (; lo < b - r; lo++) { /* ... those above b - r out */
            const int *h = hist + (size_t)lo * 256;
            for (int g = 11; g < 256; g++) { win[g] -= h[g]; n -= h[g]; }
        }
        int acc = 0, g = 11;
        for (; g < 255; g++) {
            acc += win[g];
            if (acc >= n / 2) break;
        }
        out[b] = n == 0 ? 0 : g;
    }
}

void usg_depth_profile_finish(usg_depth_profile *p, double window_mm) {
    int r = (int)(window_mm / p->band_mm + 0.5);
    usg_window_medians(p->hist, p->n, r, p->grey);
}

double usg_depth_profile_falloff(const usg_depth_profile *p, double depth_mm, double above_mm, double below_mm,
                                 double min) {
    double za = depth_mm - above_mm, span = above_mm + below_mm;
    if (za - span < 0) return 1.0; /* (no trend to tell: the near field is often the brightest) */
    double a = p->grey[usg_depth_profile_band(p, za)], b = p->grey[usg_depth_profile_band(p, depth_mm + below_mm)];
    if (a <= 0) return 1.0;
    /* the trend above: a less the step from further up to a */
    double f = fmax(b, 2 * a - p->grey[usg_depth_profile_band(p, za - span)]) / a;
    return f < min ? min : (f > 1.0 ? 1.0 : f);
}
