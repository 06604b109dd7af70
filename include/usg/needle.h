/* usg/needle.h - needle detection, tracking and tip localisation.
 *
 * Works on the denoised (or raw) clipped image; output coordinates in
 * clipped-image pixels. Tracks across frames (Kalman on angle, offset, tip);
 * a full-frame search acquires, a window around the prediction tracks. */
#ifndef USG_NEEDLE_H
#define USG_NEEDLE_H

#include "usg/image.h"
#include "usg/probe.h"
#include "usg/result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct usg_needle_params {
    const usg_probe *probe;   /* spacing, fan; copied at _new */
    usg_side medial_side;     /* helps to know the insertion side; AUTO allowed */
    int threads;              /* threads measuring the full search's candidate lines, the caller's
                               * included: 0 one per processor (up to USG_POOL_MAX_THREADS), 1 the
                               * caller's only; the results are the same whatever the count */
} usg_needle_params;

typedef struct usg_needle_tracker usg_needle_tracker;

/* Make a tracker for clipped images of w x h. */
usg_status usg_needle_tracker_new(const usg_needle_params *p, int w, int h, usg_needle_tracker **out);

/* Find the needle in `img`. `raw` is the undenoised clipped frame (may equal img);
 * `sacrum`/`ilium` (clipped coordinates, may be NULL) let the tracker reject
 * bone edges. `window_only` (degraded mode) skips the full-frame search when a
 * track exists. Fills *out (found = 0 when no needle). */
usg_status usg_needle_tracker_process(usg_needle_tracker *t, const usg_image *img,
                                      const usg_image *raw,
                                      const usg_edge *sacrum, const usg_edge *ilium,
                                      int window_only, usg_needle *out);

/* Forget the track (the shafts seen in the last frames, which an advancing
 * needle's growth is read from, are kept: see usg_needle_tracker_clear). */
void usg_needle_tracker_reset(usg_needle_tracker *t);

/* Forget the track and the shafts seen: a new sequence. */
void usg_needle_tracker_clear(usg_needle_tracker *t);

/* Free (NULL is ignored). */
void usg_needle_tracker_free(usg_needle_tracker *t);

#ifdef __cplusplus
}
#endif
#endif
