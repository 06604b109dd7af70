/* usg/eval.h - scoring results against ground truth (CONTRACT.md "Metrics").
 *
 * Usage:
 *     usg_eval *e;
 *     usg_eval_new(&e);
 *     usg_eval_files(e, "seq/truth.jsonl", "results.jsonl", 0, NULL, NULL);
 *     usg_eval_metrics m;
 *     usg_eval_get_metrics(e, &m);
 *     usg_eval_free(e);
 * or, without files, usg_eval_add() for each truth frame and usg_eval_add_extra()
 * for each result frame that is not in the truth.
 *
 * Definitions (the same text is in `usguide eval --help`):
 * - Frames are matched by "frame". Every truth frame is scored; a truth frame
 *   with no result line is "missing" and counts as nothing found (needle not
 *   found, bones not found so coverage 0 for its truth points, target missed =
 *   infinite error). A result frame with status "error" or "dropped" also
 *   counts as nothing found. Result frames not in the truth are counted
 *   (frames_extra) and otherwise ignored.
 * - Distances are in pixels times the truth line's spacing_mm.
 * - needle_recall = frames where truth and result needle are found / frames
 *   where the truth needle is found. needle_fp_rate = frames with a result
 *   needle / frames whose truth has no needle.
 * - tip_err: |result tip - truth tip| (mm), on frames where both are found.
 *   angle_err: |result angle - truth angle| modulo 180, folded to 0..90 deg,
 *   on the same frames.
 * - <bone>_mean_dist_mm (sacrum, ilium): mean, over every result edge point of
 *   every frame where truth and result both have that bone, of the distance
 *   from the point to the truth polyline (segments between consecutive truth
 *   points). <bone>_coverage: share of all truth edge points (frames where the
 *   truth has the bone) whose distance to the result polyline is <= 1 mm
 *   (+1e-9 for rounding); truth points of frames where the result has no such
 *   bone are not covered. <bone>_fp_frames: frames where the result has the
 *   bone and the truth does not. An edge with "found": true and no points is
 *   taken as not found.
 * - label_swaps: frames where the truth has both bones, the result has at
 *   least one, and every result bone found lies strictly closer (mean
 *   point-to-polyline distance) to the other truth bone than to its own
 *   truth bone: sacrum taken for ilium and/or ilium taken for sacrum.
 * - target_err: |result point - truth point| (mm) on frames where the truth
 *   target is found; infinite when the result target is not found.
 *   target_fp_frames: result target on a frame whose truth has none.
 * - Percentiles are nearest-rank: the p-th percentile of n sorted samples is
 *   sample number ceil(p/100 * n) (1-based), so "p95 <= x" means at least 95 %
 *   of the samples are <= x; the median is p50 (the lower middle sample for
 *   an even count). Infinite samples sort last.
 * - A metric without samples (a ratio with a zero denominator, a percentile of
 *   no samples, a mean of no points) is n/a, represented as NAN. */
#ifndef USG_EVAL_H
#define USG_EVAL_H

#include "usg/result.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { USG_BONE_SACRUM = 0, USG_BONE_ILIUM = 1 };

/* How a truth frame's result was found. */
typedef enum usg_eval_presence {
    USG_EVAL_RESULT_OK = 0,      /* matched, status ok */
    USG_EVAL_RESULT_MISSING = 1, /* no result line for this frame */
    USG_EVAL_RESULT_ERROR = 2,   /* matched, status error */
    USG_EVAL_RESULT_DROPPED = 3  /* matched, status dropped */
} usg_eval_presence;

/* Per-bone numbers of one frame. */
typedef struct usg_eval_bone {
    int truth_found, result_found; /* result_found counts only with >= 1 point */
    int truth_n, result_n;         /* points */
    double dist_sum_mm;            /* sum over result points of distance to the truth polyline */
    int dist_n;                    /* result points summed (0 unless both found) */
    int covered;                   /* truth points within 1 mm of the result polyline */
    double mean_dist_mm;           /* dist_sum_mm / dist_n, NAN if dist_n == 0 */
    double coverage;               /* covered / truth_n, NAN if truth_n == 0 */
} usg_eval_bone;

/* The numbers of one truth frame (for a per-frame dump). */
typedef struct usg_eval_frame {
    int frame;
    usg_eval_presence presence;
    double spacing_mm;
    int truth_needle, result_needle; /* found flags (result: after presence) */
    double tip_err_mm, angle_err_deg; /* NAN unless both needles found */
    usg_eval_bone bone[2];            /* USG_BONE_SACRUM, USG_BONE_ILIUM */
    int label_swap;
    int truth_target, result_target;
    double target_err_mm; /* NAN if no truth target; INFINITY if missed */
} usg_eval_frame;

/* The summary. Doubles are NAN when n/a. */
typedef struct usg_eval_metrics {
    int frames;         /* truth frames */
    int frames_missing; /* truth frames without a result line */
    int frames_error;   /* matched result frames with status error or dropped */
    int frames_extra;   /* result frames not in the truth */
    int first_extra;    /* lowest such frame number (valid if frames_extra > 0) */
    int needle_truth, needle_hits, needle_absent, needle_fp;
    double needle_recall, needle_fp_rate;
    double tip_err_median_mm, tip_err_p95_mm;
    double angle_err_median_deg, angle_err_p95_deg;
    double bone_mean_dist_mm[2], bone_coverage[2];
    int bone_fp_frames[2];
    int label_swaps;
    int target_truth, target_missed, target_fp;
    double target_err_median_mm, target_err_p95_mm;
} usg_eval_metrics;

typedef struct usg_eval usg_eval; /* opaque accumulator */

/* A new, empty accumulator (holds two usg_result scratch buffers for
 * usg_eval_files and growing arrays of per-frame errors). Free with usg_eval_free. */
usg_status usg_eval_new(usg_eval **out);
void usg_eval_free(usg_eval *e);

/* Score one truth frame against its result (`result` NULL: missing from the
 * results). The truth must have spacing_mm > 0 (USG_ERR_ARG otherwise). If
 * `frame_out` is not NULL it receives the frame's numbers. USG_ERR_NOMEM. */
usg_status usg_eval_add(usg_eval *e, const usg_result *truth, const usg_result *result,
                        usg_eval_frame *frame_out);

/* Count a result frame that has no truth frame. */
void usg_eval_add_extra(usg_eval *e, int frame);

/* Called by usg_eval_files for each truth frame, in truth order. */
typedef void (*usg_eval_frame_fn)(const usg_eval_frame *f, void *user);

/* Score a whole sequence: `truth_path` is a truth JSON Lines file, or a
 * directory holding truth.jsonl (or a directory named "frames" whose parent
 * holds it); `results_path` a results JSON Lines file, or "-" for standard
 * input (spooled to a temporary file). Results are indexed by frame, then
 * read back as the truth streams by. Blank lines are skipped.
 * `default_spacing_mm` (> 0) is used for truth lines without spacing_mm; 0
 * makes such a line an error. `fn` (may be NULL) sees every truth frame.
 * Errors name the file and line: USG_ERR_IO (unreadable), USG_ERR_FORMAT
 * (malformed line, a frame twice in one file, missing spacing), USG_ERR_NOMEM. */
usg_status usg_eval_files(usg_eval *e, const char *truth_path, const char *results_path,
                          double default_spacing_mm, usg_eval_frame_fn fn, void *user);

/* The metrics of everything added so far. Sorts the stored samples in place
 * (their order means nothing), so do not call it concurrently on one `e`. */
void usg_eval_get_metrics(const usg_eval *e, usg_eval_metrics *out);

/* Nearest-rank percentile p (0 < p <= 100) of n samples, sorting `v` in place
 * (INFINITY allowed, NAN not). NAN if n == 0. */
double usg_eval_percentile(double *v, int n, double p);

/* Named metrics (stable snake_case names for tables, JSON and --require). */
typedef enum usg_eval_kind {
    USG_EVAL_COUNT = 0, /* an integer count */
    USG_EVAL_RATIO = 1, /* 0..1 */
    USG_EVAL_MM = 2,
    USG_EVAL_DEG = 3
} usg_eval_kind;

/* Number of named metrics. */
int usg_eval_metric_count(void);
/* Name of metric i (0 <= i < count), e.g. "needle_recall"; NULL if out of range. */
const char *usg_eval_metric_name(int i);
/* Kind of metric i. */
usg_eval_kind usg_eval_metric_kind(int i);
/* Value of metric i in `m`: counts as doubles, NAN when n/a. */
double usg_eval_metric_value(const usg_eval_metrics *m, int i);
/* Index of the metric called `name`, or -1. */
int usg_eval_metric_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
