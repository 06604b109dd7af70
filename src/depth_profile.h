/* depth_profile.h - the tissue's grey by depth, and how much of it the depth
 * alone leaves beneath an echo (internal; shared by the bone and needle stages).
 *
 * Grey levels are log amplitude, and tissue falls off with depth where the
 * scanner's gain does not make up for its attenuation: the beam beneath any
 * echo is then darker than the tissue above it without being a bone's shadow.
 * A stage adds its samples by depth (usg_depth_profile_add), takes the
 * profile (usg_depth_profile_finish) and reads its shadow ratios against
 * usg_depth_profile_falloff. Allocated once; nothing per frame. */
#ifndef USG_DEPTH_PROFILE_H
#define USG_DEPTH_PROFILE_H

#include "usg/status.h"

#include <stddef.h>

typedef struct usg_depth_profile {
    int n;          /* depth bands of band_mm from depth 0 */
    double band_mm;
    int *hist;      /* n x 256 grey histograms (usg_depth_profile_add) */
    double *grey;   /* per band: median grey (> 10) within the window; 0 none (finish) */
} usg_depth_profile;

/* Allocate a profile of bands of band_mm down to depth_mm. Errors:
 * USG_ERR_ARG (no depth or band), USG_ERR_NOMEM. Free with usg_depth_profile_free. */
usg_status usg_depth_profile_init(usg_depth_profile *p, double depth_mm, double band_mm);
void usg_depth_profile_free(usg_depth_profile *p);

/* Empty the histograms (start of a frame). */
void usg_depth_profile_clear(usg_depth_profile *p);

/* The band of depth depth_mm (clamped to the profile). */
static inline int usg_depth_profile_band(const usg_depth_profile *p, double depth_mm) {
    int b = (int)(depth_mm / p->band_mm);
    return b < 0 ? 0 : (b >= p->n ? p->n - 1 : b);
}

/* Count a sample of grey (0-255) at depth depth_mm. */
static inline void usg_depth_profile_add(usg_depth_profile *p, double depth_mm, int grey) {
    p->hist[(size_t)usg_depth_profile_band(p, depth_mm) * 256 + (grey < 0 ? 0 : (grey > 255 ? 255 : grey))]++;
}

/* For each of nb bands, the median grey (> 10: black is shadow or the display
 * floor, not tissue) of the histograms hist (nb x 256) of the bands within r
 * of it (a sliding window) into out; 0 where they hold no such grey. */
void usg_window_medians(const int *hist, int nb, int r, double *out);

/* The profile: each band's median over the bands within window_mm. */
void usg_depth_profile_finish(usg_depth_profile *p, double window_mm);

/* The share of the tissue's grey above_mm above depth_mm that the depth alone
 * leaves below_mm beneath it: the larger of the profile's own ratio and its
 * trend above carried on down (a bone's shadow across the frame darkens the
 * profile beneath, not above), within [min, 1]; 1 where the profile has no
 * tissue above or no room above for the trend. */
double usg_depth_profile_falloff(const usg_depth_profile *p, double depth_mm, double above_mm, double below_mm,
                                 double min);

#endif
