/* usg/result.h - the per-frame result (CONTRACT.md "Results") and its JSON form.
 *
 * A usg_result has fixed capacity (no allocation per frame). Coordinates are
 * pixels of the input frame as given (before any clip), x right, y down,
 * origin at the centre of the top-left pixel. */
#ifndef USG_RESULT_H
#define USG_RESULT_H

#include <stddef.h>
#include "usg/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define USG_EDGE_MAX 4096

typedef struct usg_needle {
    int found;
    usg_point tip, entry;
    double angle_deg;   /* atan2(dy, dx) entry -> tip, degrees modulo 180 */
    double confidence;  /* 0..1 */
} usg_needle;

typedef struct usg_edge {
    int found;
    int n;
    usg_point pts[USG_EDGE_MAX]; /* ordered by x, at most 2 px apart */
} usg_edge;

typedef struct usg_target {
    int found;
    usg_point point;
    int has_needle_metrics; /* tip_distance_mm / trajectory_miss_mm valid */
    double tip_distance_mm, trajectory_miss_mm;
} usg_target;

typedef struct usg_latency {
    double total, denoise, bone, needle, target, overlay;
    int has_e2e;
    double e2e;
} usg_latency;

typedef enum usg_frame_status {
    USG_FRAME_OK = 0,
    USG_FRAME_ERROR = 1,
    USG_FRAME_DROPPED = 2
} usg_frame_status;

typedef struct usg_result {
    int frame;
    double t_ms;
    usg_frame_status status;
    char error[256];         /* with USG_FRAME_ERROR */
    usg_needle needle;
    usg_edge sacrum, ilium;
    usg_target target;
    int has_latency;
    usg_latency latency;
    int has_spacing;         /* truth files: spacing_mm */
    double spacing_mm;
    int degraded;            /* live: degradation level used (0 = none); written when > 0 */
} usg_result;

/* Reset a result to "nothing found" for frame `frame` at time t_ms. */
void usg_result_reset(usg_result *r, int frame, double t_ms);

/* Mark a result as a frame error with a message (copied, truncated to fit). */
void usg_result_set_error(usg_result *r, const char *msg);

/* Serialise as one JSON object followed by '\n' into buf (capacity cap).
 * Writes the length (excluding the NUL) to *len. USG_ERR_ARG if it does not fit. */
usg_status usg_result_to_json(const usg_result *r, char *buf, size_t cap, size_t *len);

/* Capacity that always suffices for usg_result_to_json. */
size_t usg_result_json_capacity(void);

/* Parse one JSON line (results or truth schema) into *out. Unknown keys are
 * ignored. USG_ERR_FORMAT with the column of the problem on malformed JSON. */
usg_status usg_result_from_json(const char *line, usg_result *out);

#ifdef __cplusplus
}
#endif
#endif
