/* usg/overlay.h - draws a frame's result over the frame.
 *
 * Layers: the clip outline and fan, a depth scale in cm, bone edges (sacrum
 * and ilium in two colours), the joint-entry target crosshair with its depth,
 * the needle shaft, tip marker and dashed projected path coloured by hit/miss,
 * the tip-to-target distance, and an optional status line. Lines are
 * anti-aliased. */
#ifndef USG_OVERLAY_H
#define USG_OVERLAY_H

#include "usg/image.h"
#include "usg/probe.h"
#include "usg/result.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A trajectory counts as a hit when it passes within this many mm of the target. */
#define USG_TRAJECTORY_HIT_MM 2.0

/* Render `frame` (grey, full frame) with `res` into `out` (RGB, same size,
 * caller-allocated). `status_line` may be NULL. No allocation. */
usg_status usg_overlay_render(const usg_image *frame, const usg_result *res,
                              const usg_probe *probe, const char *status_line,
                              usg_rgb *out);

/* Render a "NO SIGNAL" card into `out` (live sources that stall). */
usg_status usg_overlay_no_signal(const char *detail, usg_rgb *out);

#ifdef __cplusplus
}
#endif
#endif
