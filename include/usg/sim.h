/* usg/sim.h - synthetic B-mode ultrasound of the sacroiliac joint with exact ground truth.
 *
 * The picture comes from a small physical model, not from drawing:
 *  - tissue (skin, subcutaneous fat with septa, fascia, gluteal muscle with
 *    fibre striations, the hypoechoic joint cleft) is a field of random complex
 *    scatterers whose variance is the local echogenicity;
 *  - the sacral and iliac cortices and the needle are specular reflectors whose
 *    strength falls with the angle between the beam and the surface normal; the
 *    cortex has a short internal echo tail, the needle a reverberation tail and a
 *    bright bevel tip; bone transmits almost nothing, so a shadow falls beneath
 *    it along each beam line;
 *  - fasciae and fibrous septa are weaker specular interfaces; the cortex also
 *    shows its probe-to-bone multiple echo, faint, at twice the depth;
 *  - each beam line is convolved with a separable point-spread function (axial
 *    and lateral Gaussian, FWHM 3/f and 6/f + 0.1/f * depth mm for f in MHz),
 *    attenuated with depth (0.5 dB/cm/MHz), given receiver noise, envelope
 *    detected, amplified by time-gain compensation, given an electronic noise
 *    floor (so a shadow is a faint textured grey, not black, and the deepest
 *    speckle nulls are filled), lightly smoothed (a scanner's video filter)
 *    and log compressed to a dynamic range in dB;
 *  - bone scatters weakly just under the cortex (seen through the shadow,
 *    fading over about a centimetre);
 *  - curvilinear probes are simulated on a polar (line, sample) grid and scan
 *    converted into a fan that is black outside; linear probes on the pixel grid.
 * Between frames the probe jitters slightly and the speckle partly decorrelates;
 * the needle advances toward the joint entry after a few needle-free frames.
 * Anatomy (slopes, depths, cleft width, cortical curvature, layer thickness,
 * fibre direction) varies with the seed. Both cortices slope down toward the
 * cleft; the ilium is the steeper and usually (about 3 seeds in 4) the
 * shallower bone, by 1.5-5 mm 10 mm from the cleft; with a needle, the bone on
 * its side is kept flatter than the needle and its end below the needle line. Everything is deterministic: the same
 * parameters give the same bytes, and any frame can be rendered on its own.
 *
 * Usage:
 *     usg_sim_params p;
 *     usg_sim_params_default(&p);
 *     p.seed = 7; p.geometry = USG_GEOM_CURVILINEAR;
 *     usg_sim *s;
 *     if (usg_sim_new(&p, &s) != USG_OK) { puts(usg_last_error()); ... }
 *     usg_image frame = {0};
 *     usg_sim_frame_alloc(s, &frame);
 *     usg_result truth;
 *     for (int k = 0; k < p.frames; k++) usg_sim_render(s, k, &frame, &truth);
 *     usg_image_free(&frame);
 *     usg_sim_free(s);
 * or write a whole sequence folder with usg_sim_write_sequence().
 *
 * Truth coordinates are pixels of the written frame (with frame_ui, of the
 * whole grabbed-screen frame: the image sits at the profile's clip). Bone edges
 * are points on the true cortical surface (the interface the soft tissue meets),
 * ordered by x and at most 1 px apart, over the part inside the imaged region.
 * The needle is its axis: tip, and entry where the shaft enters the imaged
 * region. The target is the midpoint of the closest pair of points between the
 * two edges. */
#ifndef USG_SIM_H
#define USG_SIM_H

#include <stdint.h>
#include "usg/image.h"
#include "usg/probe.h"
#include "usg/result.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the needle comes from: the ilium side (lateral), the sacrum side (medial), or none. */
typedef enum usg_sim_needle {
    USG_SIM_NEEDLE_NONE = 0,
    USG_SIM_NEEDLE_LATERAL = 1,
    USG_SIM_NEEDLE_MEDIAL = 2
} usg_sim_needle;

/* What the probe looks into: the sacroiliac joint (layers, both cortices, the
 * cleft), the same soft tissue with no bone (an ex-vivo tissue block), or a
 * water bath (anechoic, with the tank's floor as a bright specular line deep
 * in the image, slightly tilted, shadowing what lies below). Without the joint
 * the truth has no bone edges and no target; the needle is aimed where the
 * joint entry would be. */
typedef enum usg_sim_medium {
    USG_SIM_MEDIUM_SIJ = 0,
    USG_SIM_MEDIUM_TISSUE = 1,
    USG_SIM_MEDIUM_WATER = 2
} usg_sim_medium;

/* Simulation parameters. A value of 0 (or -1 where noted) means "choose from the seed". */
typedef struct usg_sim_params {
    uint64_t seed;
    int frames;               /* number of frames, >= 1 */
    int width, height;        /* ultrasound image size in px (without the UI frame) */
    double spacing_mm;        /* isotropic mm per px, 0.03..1 */
    usg_geometry geometry;    /* linear or curvilinear */
    usg_sim_needle needle;    /* insertion side or none */
    usg_side medial_side;     /* LEFT or RIGHT: where the sacrum (midline) lies */
    double gain_db;           /* display gain added before log compression */
    double dynamic_range_db;  /* log-compression range, 20..100 */
    double freq_mhz;          /* centre frequency; 0: 3.5 curvilinear, 7.5 linear */
    double needle_angle_deg;  /* insertion angle from the skin plane, 0: seed (12..40) */
    double needle_miss_mm;    /* aim this far beside the joint entry (perpendicular) */
    double target_depth_mm;   /* depth of the joint entry below the probe face, 0: seed */
    int needle_free_frames;   /* frames before the needle shows, -1: seed (3..5) */
    int needle_withdraw_frames; /* the needle withdrawn over the last N frames, back out of the image; 0: never */
    double jitter_mm;         /* probe jitter amplitude, -1: default 0.5 */
    double decorrelation;     /* share of fresh speckle per frame 0..1, -1: default 0.25 */
    double speckle;           /* speckle share of the scatter 0..1 (0: a flat echo of the same mean
                               * power, as strong speckle reduction shows), -1: 1 */
    int plain_tissue;         /* 1: the soft tissue one uniform muscle-like echo (no fat layer, fibres,
                               * fasciae or septa), as a simple simulator draws it */
    double needle_db;         /* the needle's echo (shaft, bevel, tail) against the usual, -30..10 dB:
                               * a fainter or brighter needle than our simulator draws; default 0 */
    double needle_speckle;    /* share of the shaft's echo power from scatterers of random phase, 0..1:
                               * 0 a coherent specular line (default), 1 a line of speckle (as
                               * simulators that build the needle from scatterers draw it) */
    double fps;               /* frame rate for t_ms, > 0 */
    int frame_ui;             /* 1: embed the image in a grabbed-screen frame with scanner UI */
    usg_sim_medium medium;    /* default USG_SIM_MEDIUM_SIJ */
} usg_sim_params;

typedef struct usg_sim usg_sim; /* opaque */

/* Defaults: seed 1, 40 frames, 640x480, 0.2 mm/px, curvilinear, needle lateral,
 * medial side left, gain 0 dB, dynamic range 60 dB, the rest from the seed, 20 fps,
 * medium SIJ. */
void usg_sim_params_default(usg_sim_params *p);

/* Check parameters. USG_ERR_ARG naming the parameter and its allowed range. */
usg_status usg_sim_params_check(const usg_sim_params *p);

/* Build a simulator: draws the anatomy from the seed and allocates every buffer
 * (rendering allocates nothing). Errors: USG_ERR_ARG (bad parameters, or a
 * geometry that does not fit, e.g. a target deeper than the image),
 * USG_ERR_NOMEM. On error *out is NULL. */
usg_status usg_sim_new(const usg_sim_params *p, usg_sim **out);

/* The probe profile describing the written frames (geometry, spacing, fan,
 * clip with frame_ui, medial side). */
void usg_sim_probe(const usg_sim *s, usg_probe *out);

/* Size of the written frames (the UI frame with frame_ui, else the image). */
void usg_sim_frame_size(const usg_sim *s, int *w, int *h);

/* Allocate a frame of the written size (caller frees with usg_image_free). */
usg_status usg_sim_frame_alloc(const usg_sim *s, usg_image *frame);

/* Render frame `index` (0..frames-1) into `frame` (frame-sized) and fill
 * `truth` (spacing_mm set). Independent of the order of calls.
 * USG_ERR_ARG for a bad index or frame size. */
usg_status usg_sim_render(usg_sim *s, int index, usg_image *frame, usg_result *truth);

/* Render frame `index` as the needle alone (shaft, bevel and reverberation
 * tail through the same beam, with this simulator's pose, jitter and timing)
 * laid over `background`, a real B-mode image of the image size (w x h, read
 * on this simulator's dynamic range): the needle's echo power adds to the
 * background's, at the level it would have over this simulator's own tissue
 * moved by the difference of the two images' median tissue greys (pixels under
 * 13 grey, shadow or black, left out), so it stands over the real tissue as
 * it stands over ours (needle_db moves it further). Fills
 * `truth` (needle only: the background's bone is not known). The first call
 * renders frame 0 once to measure our tissue's median grey.
 * USG_ERR_ARG for a bad index, frame or background size, or frame_ui. */
usg_status usg_sim_render_over(usg_sim *s, int index, const usg_image *background, usg_image *frame,
                               usg_result *truth);

/* Free (NULL is ignored). */
void usg_sim_free(usg_sim *s);

/* Progress callback for usg_sim_write_sequence: frames done out of total. */
typedef void (*usg_sim_progress_fn)(int done, int total, void *user);

/* Write a sequence folder: OUTDIR/frames/NNNN.png, OUTDIR/truth.jsonl (one
 * usg_result JSON line per frame, with spacing_mm) and OUTDIR/probe.ini.
 * Creates OUTDIR and OUTDIR/frames if needed; frame files (NNNN.png) already in
 * OUTDIR/frames are removed first, so the folder holds exactly this sequence.
 * `progress` may be NULL.
 * Errors: those of usg_sim_new, USG_ERR_IO naming the path. */
usg_status usg_sim_write_sequence(const usg_sim_params *p, const char *outdir,
                                  usg_sim_progress_fn progress, void *user);

/* The same with the needle laid over the frames of a real recording
 * (usg_sim_render_over): `background` is a source path (usg_source_open) and
 * `bg_probe` its profile, which must be linear with the transducer at the top
 * and square pixels. The written frames are the profile's clipped image; the
 * simulator takes its size, spacing and geometry from it, the medium "tissue"
 * (no bone in the truth) and no UI frame, whatever `p` says. Background frames
 * are used in order, then backwards and forwards again (0..n-1..0..) when the
 * sequence is longer. probe.ini keeps the profile's medial side.
 * Errors: USG_ERR_ARG (profile), the source's errors naming the file (frames
 * that cannot be decoded are skipped), USG_ERR_FORMAT if none can be read,
 * and those of usg_sim_write_sequence. */
usg_status usg_sim_write_over(const usg_sim_params *p, const char *background, const usg_probe *bg_probe,
                              const char *outdir, usg_sim_progress_fn progress, void *user);

#ifdef __cplusplus
}
#endif
#endif
