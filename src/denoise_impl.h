/* denoise_impl.h - the C speckle filters behind usg_denoiser (internal).
 *
 * Each filter works on an 8-bit image with float scratch buffers that the
 * denoiser allocates once for its largest frame (no allocation per frame). */
#ifndef USG_DENOISE_IMPL_H
#define USG_DENOISE_IMPL_H

#include "usg/image.h"

/* Scratch for the C filters: float planes of `cap` floats each (w x h, row
 * stride = width of the frame being filtered) and one double line of
 * `line_cap` for running sums. */
#define USG_DN_PLANES 3
typedef struct usg_dn_scratch {
    float *plane[USG_DN_PLANES];
    size_t cap;
    double *line;
    size_t line_cap;
} usg_dn_scratch;

/* Self-guided filter (He et al. 2013) of radius r and regulariser eps (grey
 * levels squared): O(N) box filters by running sums. in/out same size. */
void usg_guided_filter(const usg_image *in, usg_image *out, int r, float eps, usg_dn_scratch *s);

/* Speckle-reducing anisotropic diffusion (Yu & Acton 2002): `iters`
 * explicit steps of size dt. in/out same size. */
void usg_srad_filter(const usg_image *in, usg_image *out, int iters, float dt, usg_dn_scratch *s);

#endif
