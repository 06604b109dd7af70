/* usg/target.h - the joint-entry target and the needle trajectory metrics.
 *
 * The target is the midpoint of the closest pair of points between the sacral
 * and iliac edges (CONTRACT.md), smoothed over time. */
#ifndef USG_TARGET_H
#define USG_TARGET_H

#include "usg/result.h"
#include "usg/probe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The unsmoothed target of two edges: midpoint of their closest pair.
 * Returns 0 (and leaves *out untouched) when either edge is missing. */
int usg_target_closest_midpoint(const usg_edge *a, const usg_edge *b, usg_point *out);

/* Distance from the tip to the target and from the target to the needle axis
 * extended beyond the tip (as a ray from entry through tip), in mm. */
void usg_target_needle_metrics(const usg_needle *n, usg_point target,
                               double spacing_x_mm, double spacing_y_mm,
                               double *tip_distance_mm, double *trajectory_miss_mm);

typedef struct usg_target_tracker usg_target_tracker;

/* Make a tracker; `probe` gives spacing (copied). */
usg_status usg_target_tracker_new(const usg_probe *probe, usg_target_tracker **out);

/* Compute this frame's target from the edges (smoothed over time), and, when
 * the needle is found, the needle metrics. found = 0 if either edge is missing. */
usg_status usg_target_tracker_process(usg_target_tracker *t, const usg_edge *sacrum,
                                      const usg_edge *ilium, const usg_needle *needle,
                                      usg_target *out);

/* Forget temporal state. */
void usg_target_tracker_reset(usg_target_tracker *t);

/* Free (NULL is ignored). */
void usg_target_tracker_free(usg_target_tracker *t);

#ifdef __cplusplus
}
#endif
#endif
