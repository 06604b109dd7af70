/* needle.c - in-plane needle detection, tip localisation and tracking.
 *
 * Acquisition (full frame, half resolution): a Hessian (steerable second
 * derivative) ridge filter at a fine scale, and at a coarse scale on a
 * quarter-resolution image for steep axes; thinned ridge pixels vote in a
 * Hough space only near their own orientation; the strongest lines are
 * screened for a run of strong echo off the bone stage's cortices with no
 * acoustic shadow beneath (darker than half the tissue above), ranked by echo
 * mass, and measured at full resolution (needle_measure.c).
 * A measurement is a needle if it is straight, long enough (5 mm from the
 * imaged region's edge), ends in a clear step at its tip (a fascia fades
 * out), its echo stands well above the frame's tissue (24 dB for shafts up to
 * 22 mm: pieces of fasciae reach ~22) or its tip is the bright end (a bevel
 * echo far above the tissue and above the shaft), it stands above the tissue
 * beside it, and it is not bone (shadow beneath, black or grey; the bone
 * stage's edges). A frame whose imaged region is mostly black (narrow display
 * range, low gain, a water bath) has no shadows to go by, and its tissue lies
 * below the display floor: the further, the more of it is black, so the echo a
 * shaft needs is relieved with that share. Echo levels assume a 60 dB display range.
 * Tracking: Kalman filters on the axis direction (measurement variance from
 * the shaft's length), its offset and the tip position along it predict the
 * needle; the measurement runs in a band around the prediction (fast path),
 * with relaxed thresholds; when it fails the full search runs (unless
 * degraded); while the track is weak (short or faint: maybe a fascia) the full
 * search also runs every third frame and a clearly stronger needle takes
 * over; after ND_COAST misses the track is dropped and nothing is reported. */
#include "usg/needle.h"
#include "needle_internal.h"
#include "depth_profile.h"
#include "usg/pool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ND_MAX_ANGLE 78.0   /* steepest accepted axis, degrees from horizontal */
/* A line acquired closer to the horizontal than this is level with the skin:
 * a fascia, not an inserted needle. The shallowest needle (3 deg) measures
 * less on a curvilinear probe: its echo is smeared along the arcs of the
 * beams' lateral blur, which tilt against a needle entering at the fan's
 * side (2.7 deg on the image, fitted under 2.5 on some of its first frames). */
#define ND_LEVEL_DEG 2.0
/* Ridge filter scales (mm): a 22G needle blurred by the point-spread function
 * across a shallow axis (axial blur), and across a steep one (lateral blur);
 * the coarse scale votes only for axes at least ND_STEEP_DEG from horizontal. */
#ifndef ND_RIDGE_SIGMA_MM
#define ND_RIDGE_SIGMA_MM 0.44
#endif
#ifndef ND_RIDGE_SIGMA2_MM
#define ND_RIDGE_SIGMA2_MM 0.8
#endif
#define ND_STEEP_DEG 35.0
#define ND_PIVOT_MM 10.0     /* an acquired shaft shorter than this is tried at the steep angles about its tip */
#define ND_PIVOT_STEP_DEG 5.0
#define ND_PIVOT_BEVEL_DB 10.0 /* ... and a longer one through its tip this much fainter against it is the needle ... */
#define ND_PIVOT_SCORE 0.5     /* ... scoring at least this share of it */
#define ND_PIVOT_LIT 0.8       /* ... as does one lit from the edge over this share of its length, the short one not */
#define ND_PEAKS 80        /* Hough peaks screened */
#define ND_STEEP_PEAKS 20  /* ... and steep ones apart */
#define ND_STEEP_CANDIDATES 4 /* steep lines measured even when weaker than ND_CANDIDATES others */
/* Lines ND_CORTEX_DEG or more from the horizontal whose every bright stretch
 * the screen (bright_run) reads as over a shadow are measured too, the best
 * ND_SHADED_CANDIDATES of them: a needle passing from under a fascia over a
 * darker muscle (l14_a30_med's first frame, the beam 3-5 mm beneath 0.14-0.55
 * of the tissue above). Such a line counts only as a needle by every gate on
 * its own frame (strict_needle): no weak shaft of theirs is remembered, as one
 * measured again on later frames grew along a layer's edge in the spine
 * phantom (sp_none). */
#define ND_SHADED_CANDIDATES 3
#ifndef ND_CANDIDATES
#define ND_CANDIDATES 16   /* measured at most */
#endif
/* The next ND_MORE_CANDIDATES by echo mass are measured too (a faint needle
 * among the bright speckle and fasciae of real tissue ranks lower), their
 * echo read over the tissue at their own depth: the median grey of
 * ND_BAND_MM bands within ND_LOCAL_MM above and below (the bone stage's
 * cortices left out; never below the frame's median). Real tissue's near
 * field can be far brighter than its depth: a line of its speckle stands out
 * over the frame's median, not over its neighbours. */
#define ND_MORE_CANDIDATES 24
#define ND_BAND_MM 1.0
#define ND_LOCAL_MM 5.0
/* The tissue's falloff with depth (attenuation the scanner's gain does not
 * make up for) darkens the beam beneath any echo: the shadow tests read the
 * beam beneath against what the depth alone leaves of the tissue above it
 * (depth_falloff), from the frame's depth profile (median grey of each band
 * within ND_TREND_MM, black left out), the falloff excusing no more than
 * ND_FALLOFF_MIN (a cortex's shadow is far darker). */
#define ND_TREND_MM 2.0
#define ND_FALLOFF_MIN 0.4
/* ... for a shaft at least this long, or one being tracked (a short bright
 * streak in steeply attenuating tissue is as often speckle) */
#define ND_FALLOFF_LEN_MM 8.0
#define ND_MAX_CANDIDATES (ND_CANDIDATES + ND_STEEP_CANDIDATES + ND_SHADED_CANDIDATES + ND_MORE_CANDIDATES)
/* B-mode grey per dB of echo amplitude: 255 grey over a 60 dB display range */
#define ND_GREY_PER_DB (255.0 / 60.0)
/* a track shorter or fainter than this keeps the full search running; a
 * candidate that scores ND_SWITCH times more replaces it */
#define ND_WEAK_MM 12.0
#define ND_WEAK_SNR 10.0
#define ND_SWITCH 1.5
#define ND_RESEARCH 3
/* echo above the tissue needed by a shaft up to 22 mm: bright muscle fibres
 * and fasciae entering at the fan's edge reach 25.3 dB (320 needle-free
 * sequences of our simulator, 6 with a false needle at 24 dB); a fainter
 * needle is taken once it has grown (ND_GROW_*) */
#ifndef ND_SHORT_DB
#define ND_SHORT_DB 27.0
#endif
/* A shaft from the region's edge that ends at a step, its echo this far over
 * the frame's tissue and no more than ND_LOUD_BESIDE_DB less over the tissue
 * beside it, needs only the snr a growing shaft needs (ND_GROW_SNR): along a
 * nearly level line the ridge filter's noise is the speckle's lateral streaks,
 * and a 5 deg needle standing 28 dB over the tissue stood only 3.9-4.6 times
 * that noise (the fasciae in the same frames stand 13-17 dB over it, at a
 * higher snr). Every other gate still holds it (among them the echo a short
 * shaft needs over the tissue, ND_SHORT_DB). */
#define ND_LOUD_DB 24.0
#define ND_LOUD_BESIDE_DB 4.0
#define ND_SHADOW_RATIO 0.65f /* below/above tissue ratio under a run that marks a cortex's shadow */
/* a reverberation ladder's ripple (dB) that shows a shaft's darker tissue beneath is no shadow, down to this ratio */
#define ND_LADDER_DB 1.6
#define ND_LADDER_SHADOW 0.3
#define ND_SLAB_ABOVE (1.5 * ND_FLOOR_GREY) /* a line with no more than this grey 2-6 mm above (anechoic) ... */
#define ND_SLAB_BELOW 0.7 /* ... and this share of its own grey beneath is a thick reflector's near edge */
#define ND_SLAB_LIT 0.5 /* ... as is, with no bone beneath, one with this share of its grey on one side ... */
#define ND_SLAB_CONTRAST 3.0 /* ... this many times the other side's (or the other side anechoic, beneath) */
#define ND_SLAB_BONE_SHARE 0.3 /* a shaft with a bone edge within 6 mm beneath more than this share of it has no slab */
#define ND_MIN_BORDER_MM 4.0 /* shortest shaft acquired from the region's edge (3 mm pieces of fasciae pass) */
/* shortest shaft acquired away from the region's edge (its first part out of
 * plane): the straight 15 mm stretch of a curved tissue interface in a real
 * abdominal scan passed for a needle at 15 */
#define ND_MIN_INNER_MM 20.0
#define ND_TIP_DB 30.0  /* a bevel this far above the tissue ... */
#ifndef ND_BEVEL_SNR
#define ND_BEVEL_SNR 1.5 /* tracking, a bright bevel at a step where predicted: the shaft's least snr ... */
#endif
#ifndef ND_BEVEL_FILL
#define ND_BEVEL_FILL 0.15 /* ... and fill */
#endif
#define ND_BEVEL_DB 3.0
#ifndef ND_LIT_BEVEL_DB
#define ND_LIT_BEVEL_DB 15.0 /* a bevel this far above its shaft ... */
#endif
#ifndef ND_LIT_BEVEL_SHADOW
#define ND_LIT_BEVEL_SHADOW 0.3 /* ... vouches for darker tissue beneath the shaft, down to this ratio */
#endif
#ifndef ND_FAINT_BESIDE_DB
#define ND_FAINT_BESIDE_DB 8.0 /* a shaft less than this above the tissue beside it: its bevel is read at its own depth */
#endif
#define ND_STEEP_BEVEL_DEG 45.0 /* steepness from which a bevel vouches for a bent or faint shaft */ /* ... and this far above its shaft makes a faint shaft a needle */
#define ND_ANGLE_PX_DEG 60.0 /* angle noise (deg) of a 1 px long shaft; / length in px */
#define ND_BEND_MM 0.3 /* sagitta over a shaft of 8 mm or more that makes it a fascia (and 1.5 px) */
#define ND_CORTEX_DEG 20.0
#define ND_CORTEX_MM 15.0
#define ND_CORTEX_SHADOW 0.9
#define ND_FLOORED_SHARE 0.6 /* black share of the imaged region above which the tissue is below the display floor */
#define ND_BATH_SHARE 0.90  /* ... and above which it is a water bath: what shows at all is far above it */
#ifndef ND_FLOORED_DB
#define ND_FLOORED_DB 10.0 /* relief of the echo a shaft needs in a floored frame */
#endif
#define ND_LINE_EDGE_MM 5.0     /* a bone edge at least this long ... */
#define ND_LINE_EDGE_RMS_MM 0.15 /* ... this straight (RMS off its line) ... */
#define ND_EDGE_HOOK_MM 0.3     /* ... once the points at its ends this far off its line are left out) ... */
#define ND_LIT_EDGE 0.7         /* ... and this bright 2-6 mm beneath as above (little shadow) may be a needle ... */
#define ND_LIT_NEEDLE 0.8       /* ... and a needle along it with no shadow (this ratio) is one */
#define ND_DIM_EDGE 0.45        /* ... or one grown from the region's edge with no more shadow than this leaves */
#define ND_STRAIGHT_R_MM 500.0  /* ... and straight (its sagitta that of an arc of at least this radius, ... */
#define ND_STRAIGHT_PX 0.5      /* ... or this measurement floor, px) */
#define ND_ON_EDGE_MM 1.0       /* a needle with ND_ON_EDGE_SHARE of such an edge's points this close to its axis ... */
#define ND_CLAIM_EDGE_MM 8.0   /* bone edges all shorter than this are pieces of a needle's echo (bone_in_pieces) */
#define ND_ON_EDGE_SHARE 0.6    /* ... is what the bone stage took for bone */
/* An advancing needle confirms itself: a straight shaft from the region's edge
 * ending at a step, too faint or too short for the gates above (a needle
 * fainter than our fasciae, as another simulator or scanner may show it), is a
 * needle when, on the same line from the same entry, it has set a new
 * longest shaft ND_GROW_RECORDS times within ND_GROW_WIN frames (a fascia's
 * measured length wanders about a level, a needle's tip moves on). */
#define ND_GROW_WIN 10       /* frames a weak shaft is remembered */
#define ND_GROW_CAP 64       /* weak shafts remembered at most */
#define ND_GROW_STEP_MM 0.5  /* a new longest shaft: this much longer than the longest before */
#define ND_GROW_RECORDS 3    /* ... set this many times (this frame's included) ... */
#define ND_GROW_MM 2.0       /* ... and this much longer than the shortest remembered */
#define ND_GROW_SNR 4.0      /* such a shaft's least snr ... */
#define ND_GROW_DB 6.0       /* ... its echo this far above the tissue ... */
#define ND_GROW_BESIDE_DB 4.0 /* ... and above the tissue beside it (a needle in a bright phantom's speckle) */
#define ND_DIM_TIP_DB 6.0     /* ... and its tip's echo at most this far under its shaft's */
#define ND_GROW_ENTRY_MM 2.0 /* the same entry: within this */
#define ND_GROW_DEG 3.0      /* the same line: within this */
#define ND_GROW_STILL_MM 1.0 /* lines remembered before the probe moved this far since are not counted
                              * (a sliding probe brings structures in from the region's edge: they seem to grow) */
#define ND_GROW_RECALL 4     /* remembered shafts measured again at most per frame (the Hough lines may miss a faint one) */
/* A track's own shaft going on fainter than a track needs (a faint needle's
 * deep stretch, the echo falling with depth): on the predicted line
 * (ND_GROW_DEG) from the track's entry (ND_GROW_ENTRY_MM), its tip near the
 * predicted tip, an established track (ND_PIN_HITS) takes it down to this snr
 * and fill. */
#define ND_CONT_SNR 2.5
#define ND_CONT_FILL 0.45
#define ND_CONT_OFF_MM 1.0 /* ... its tip this near the predicted axis (and less than ND_RETRACT_MM behind) */
/* ... and, when neither its refit nor its own axis gives the track a needle
 * (the last resort before the track is lost), its echo down to this far over
 * the tissue (9 dB otherwise): a needle going deeper fades, and a narrow
 * display range puts its deep stretch near the display floor, 8 dB over the
 * black tissue there, still standing clear of the tissue beside it */
#define ND_FADING_DB 6.0
#define ND_TURN_DEG 8.0 /* a track's shaft of ND_TURN_MM or more takes a faint refit no further turned than this */
#define ND_TURN_MM 8.0
#define ND_COAST 2          /* frames a lost track is still drawn (predicted) */
#define ND_WITHDRAW_MM 0.25  /* a tip the filter moves back this fast (mm a frame) is being withdrawn: not coasted when lost */
#define ND_RETREAT_MM 1.0   /* a needle found behind the track's tip, this much further back than on the frame before: withdrawn */
#define ND_PIN_HITS 5       /* a track measured this many frames is measured on its own axis when a refit fails ... */
#define ND_PIN_SNR 4.0      /* ... and taken with its bevel found, or a shaft of this snr ... */
#define ND_PIN_FILL 0.5     /* ... and fill */

/* A remembered shaft (see ND_GROW_WIN). */
typedef struct nd_seen {
    long frame;
    usg_point entry;
    double dx, dy, len_mm;
    int at_depth;   /* one of the ND_MORE_CANDIDATES, read over its depth's tissue: measured again so */
    int edge;       /* a bone stage's straight edge (needle_like_edge), not a measured shaft: not measured again */
    double odo_mm;  /* the probe's motion odometer then (nd_motion) */
} nd_seen;

struct usg_needle_tracker {
    nd_ctx c;
    usg_pool *pool;         /* the full search's candidates are measured on its threads ... */
    nd_ctx wc[USG_POOL_MAX_THREADS - 1]; /* ... each worker thread on its own context */
    int nwc;
    int w2, h2;
    float *half;
    uint8_t *mask2;         /* half resolution: where ridge votes count */
    uint8_t *bone2;         /* half resolution: on a bone stage's cortex (this frame) */
    nd_hough_peak pk[ND_PEAKS + ND_STEEP_PEAKS]; /* this frame's candidate lines (vote_lines) */
    int npk;
    float *ridge;
    int w4, h4;             /* quarter resolution, for the coarse scale */
    float *quarter, *ridge4;
    uint8_t *mask4;
    nd_hessian hs, hs2;     /* fine and coarse ridge filters */
    nd_hough hg;
    int r_track, r_acq;
    double median;          /* this frame's tissue echo: median grey of what is not black */
    int nbands;             /* ND_BAND_MM depth bands of the frame ... */
    int *band_hist;         /* ... their grey histograms (nbands x 256, band_levels) ... */
    double *band_grey;      /* ... and the tissue grey at each (local_grey) */
    usg_depth_profile prof; /* the frame's grey by depth, cortices in (frame_levels, depth_falloff) */
    double black_share;     /* share of the imaged region that is black (grey <= ND_FLOOR_GREY) */
    int floored;            /* most of the imaged region is black: a narrow display range (or
                             * low gain) puts the tissue below the display floor, so black
                             * beneath an echo is no acoustic shadow */
    /* track */
    int tracking, misses, hits;
    nd_kf1 kth, krho;
    nd_kf2 ks;
    double s_entry, conf;
    /* weak shafts of the last frames, a ring (see ND_GROW_WIN) */
    long frame_no;
    long behind_frame;      /* the last frame a needle was found behind the track's tip (behind_prediction) ... */
    double behind_u;        /* ... its tip's distance from the track's entry along the axis (px) */
    nd_seen seen[ND_GROW_CAP];
    int nseen, seen_next;
    nd_motion mo;           /* the probe's motion between frames */
};

/* ---------------------------------------------------------------- setup */

/* Separable square erosion of a w x h 0/1 mask by radius r (tmp: w x h).
 * Beyond the image counts as inside: the filters clamp at the image edge
 * (no step there), only a black region's edge (a fan) makes false ridges. */
static void erode(uint8_t *a, uint8_t *tmp, int w, int h, int r) {
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t v = 1;
            for (int k = -r; k <= r && v; k++) v = x + k < 0 || x + k >= w || a[y * w + x + k];
            tmp[y * w + x] = v && a[y * w + x];
        }
    }
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t v = 1;
            for (int k = -r; k <= r && v; k++) v = y + k < 0 || y + k >= h || tmp[(y + k) * w + x];
            a[y * w + x] = v && tmp[y * w + x];
        }
    }
}

/* Region masks: full resolution (eroded 1 px) and half resolution (eroded by the filter radius). */
static usg_status make_masks(usg_needle_tracker *t, const usg_probe *probe) {
    const int w = t->c.w, h = t->c.h, w2 = t->w2, h2 = t->h2;
    uint8_t *full = malloc((size_t)w * h), *b = malloc((size_t)w2 * h2);
    if (!full || !b) {
        free(full);
        free(b);
        return usg_fail(USG_ERR_NOMEM, "needle: out of memory");
    }
    usg_image m = {full, w, h, w};
    if (probe) {
        usg_status st = usg_probe_mask(probe, &m);
        if (st != USG_OK) {
            free(full);
            free(b);
            return st;
        }
    } else {
        memset(full, 255, (size_t)w * h);
    }
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int i = y * w + x, v = full[i] && x > 0 && y > 0 && x < w - 1 && y < h - 1;
            if (v) v = full[i - 1] && full[i + 1] && full[i - w] && full[i + w];
            t->c.mask[i] = (uint8_t)v;
        }
    }
    nd_ctx_distance(&t->c);
    uint8_t *a = t->mask2;
    for (int y = 0; y < h2; y++) {
        for (int x = 0; x < w2; x++) {
            const uint8_t *p = full + (size_t)(2 * y) * w + 2 * x;
            a[y * w2 + x] = p[0] && p[1] && p[w] && p[w + 1];
        }
    }
    for (int y = 0; y < t->h4; y++) {
        for (int x = 0; x < t->w4; x++) {
            const uint8_t *p = a + (size_t)(2 * y) * w2 + 2 * x;
            t->mask4[y * t->w4 + x] = p[0] && p[1] && p[w2] && p[w2 + 1];
        }
    }
    erode(t->mask4, b, t->w4, t->h4, t->hs2.r + 1);
    erode(a, b, w2, h2, t->hs.r + 1);
    free(full);
    free(b);
    return USG_OK;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
static double clampd(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

usg_status usg_needle_tracker_new(const usg_needle_params *p, int w, int h, usg_needle_tracker **out) {
    if (!out) return usg_fail(USG_ERR_ARG, "needle: NULL output");
    *out = NULL;
    if (w < 16 || h < 16 || w > USG_MAX_SIDE || h > USG_MAX_SIDE) {
        return usg_fail(USG_ERR_ARG, "needle: image size %dx%d out of range (16..%d)", w, h, USG_MAX_SIDE);
    }
    usg_needle_tracker *t = calloc(1, sizeof *t);
    if (!t) return usg_fail(USG_ERR_NOMEM, "needle: out of memory");
    const usg_probe *probe = p ? p->probe : NULL;
    double sp = probe ? usg_probe_spacing(probe) : 0;
    if (!(sp > 0)) sp = 0.15;
    t->r_track = clampi((int)lrint(1.5 / sp), 6, 16);
    t->r_acq = clampi((int)lrint(1.8 / sp), 8, 12); /* the Hough line is good to a few px, whatever the spacing */
    t->w2 = w / 2;
    t->h2 = h / 2;
    t->w4 = t->w2 / 2;
    t->h4 = t->h2 / 2;
    size_t n2 = (size_t)t->w2 * t->h2;
    int rmax = t->r_acq > t->r_track ? t->r_acq : t->r_track;
    usg_status st = nd_ctx_init(&t->c, w, h, sp, 2 * (rmax + 2 * ND_WIDE_SCALE * nd_flank_px(sp)) + 1);
    if (st == USG_OK) st = nd_hessian_init(&t->hs, t->w2, t->h2, clampd(ND_RIDGE_SIGMA_MM / (2.0 * sp), 1.0, 3.0));
    if (st == USG_OK) st = nd_hessian_init(&t->hs2, t->w4, t->h4, clampd(ND_RIDGE_SIGMA2_MM / (4.0 * sp), 1.0, 3.0));
    if (st == USG_OK) st = nd_hough_init(&t->hg, t->w2, t->h2, ND_MAX_ANGLE);
    if (st == USG_OK) {
        t->mask2 = malloc(n2);
        t->bone2 = malloc(n2);
        t->half = malloc(n2 * sizeof(float));
        t->ridge = malloc(n2 * sizeof(float));
        t->quarter = malloc((size_t)t->w4 * t->h4 * sizeof(float));
        t->ridge4 = malloc((size_t)t->w4 * t->h4 * sizeof(float));
        t->mask4 = malloc((size_t)t->w4 * t->h4);
        t->nbands = (int)(h * sp / ND_BAND_MM) + 1;
        t->band_hist = malloc((size_t)t->nbands * 256 * sizeof(int));
        t->band_grey = malloc((size_t)t->nbands * sizeof(double));
        if (!t->band_hist || !t->band_grey || !t->mask2 || !t->bone2 || !t->half || !t->ridge || !t->quarter || !t->ridge4 || !t->mask4) st = usg_fail(USG_ERR_NOMEM, "needle: out of memory for %dx%d frames", w, h);
    }
    if (st == USG_OK) st = usg_depth_profile_init(&t->prof, h * sp, ND_BAND_MM);
    if (st == USG_OK) st = make_masks(t, probe);
    if (st == USG_OK) st = nd_motion_init(&t->mo, w, h, t->c.mask, sp);
    if (st == USG_OK) st = usg_pool_new(p ? p->threads : 0, &t->pool);
    for (int k = 0; st == USG_OK && k < usg_pool_threads(t->pool) - 1; k++) {
        st = nd_ctx_init_worker(&t->wc[k], &t->c);
        if (st == USG_OK) t->nwc = k + 1;
    }
    if (probe && probe->geometry == USG_GEOM_CURVILINEAR) {
        t->c.fan = 1;
        t->c.apex_x = probe->apex_x;
        t->c.apex_y = probe->apex_y;
    }
    if (st != USG_OK) {
        usg_needle_tracker_free(t);
        return st;
    }
    *out = t;
    return USG_OK;
}

void usg_needle_tracker_reset(usg_needle_tracker *t) {
    if (!t) return;
    t->tracking = 0;
    t->misses = 0;
    t->hits = 0;
    t->conf = 0;
}

void usg_needle_tracker_clear(usg_needle_tracker *t) {
    if (!t) return;
    usg_needle_tracker_reset(t);
    t->nseen = t->seen_next = 0;
}

void usg_needle_tracker_free(usg_needle_tracker *t) {
    if (!t) return;
    usg_pool_free(t->pool);
    for (int k = 0; k < t->nwc; k++) nd_ctx_free(&t->wc[k]);
    nd_ctx_free(&t->c);
    nd_hessian_free(&t->hs);
    nd_hessian_free(&t->hs2);
    nd_hough_free(&t->hg);
    free(t->mask2); free(t->bone2); free(t->half); free(t->ridge);
    free(t->quarter); free(t->ridge4); free(t->mask4); free(t->band_hist); free(t->band_grey);
    usg_depth_profile_free(&t->prof);
    nd_motion_free(&t->mo);
    free(t);
}

/* The tissue grey a measurement's echo is read over: at its shaft and at its tip. */
typedef struct nd_levels {
    double shaft, tip;
} nd_levels;

/* The frame's median for both (frame_levels). */
static nd_levels frame_ref(const usg_needle_tracker *t) {
    return (nd_levels){t->median, t->median};
}

/* Is m's tip a bright bevel: its echo ND_TIP_DB over the tissue (lv) and
 * ND_BEVEL_DB over its shaft's? */
static int bright_bevel(const nd_levels *lv, const nd_meas *m) {
    return (m->i_tip - lv->tip) / ND_GREY_PER_DB >= ND_TIP_DB && (m->i_tip - m->i_shaft) / ND_GREY_PER_DB >= ND_BEVEL_DB;
}

/* A steep shaft from the imaged region's edge ending in a bright bevel at a
 * step (a fascia is seldom steep, and fades out): such a shaft's lateral blur
 * bends its measured peaks and lowers its contrast. */
static int steep_bevel(const nd_levels *lv, const nd_meas *m) {
    double ang = fabs(atan2(m->line.dy, m->line.dx)) * 180.0 / M_PI;
    if (ang > 90) ang = 180 - ang;
    return ang >= ND_STEEP_BEVEL_DEG && m->border_entry && m->tip_step && bright_bevel(lv, m);
}

/* A shaft from the region's edge ending at a step in a bevel echo far above
 * the tissue (ND_TIP_DB) and ND_LIT_BEVEL_DB above its own shaft: a cortex's
 * echo is near the top of the display range, with no room for a spot so far
 * above it, so darker tissue beneath such a shaft (a layer under a fascia,
 * down to ND_LIT_BEVEL_SHADOW of the tissue above) is no bone's shadow. */
static int bevel_lit_shaft(const nd_levels *lv, const nd_meas *m, double shadow) {
    return m->border_entry && m->tip_step && shadow >= ND_LIT_BEVEL_SHADOW &&
           (m->i_tip - lv->tip) / ND_GREY_PER_DB >= ND_TIP_DB && (m->i_tip - m->i_shaft) / ND_GREY_PER_DB >= ND_LIT_BEVEL_DB;
}

/* Does a reverberation ladder ring beneath m's shaft (its ripple at least
 * ND_LADDER_DB, the tissue just beneath at least as bright as that above:
 * the rungs), over a beam that is no bone's black shadow (ND_LADDER_SHADOW)?
 * Then the darker tissue further down is only tissue: a cortex's echo fades
 * smoothly into its shadow, it does not ring. */
static int ringing_shaft(const nd_meas *m, double shadow) {
    return m->ladder / ND_GREY_PER_DB >= ND_LADDER_DB && m->tail >= 1.0 && shadow >= ND_LADDER_SHADOW;
}

/* Is one side of a shaft of grey `shaft` a thick reflector's body: the band
 * 2-6 mm off on that side (`body`) at least ND_SLAB_LIT of the shaft's grey
 * and ND_SLAB_CONTRAST times the band on the other side (`other`)? */
static int slab_body(double body, double other, double shaft) {
    return body >= ND_SLAB_LIT * shaft && body >= ND_SLAB_CONTRAST * other;
}

/* Is m an edge of a thick reflector (a fluid's far wall, a slab of echo, a
 * phantom's wall) rather than a thin shaft? Its near edge: anechoic above
 * (the 2-6 mm band within ND_SLAB_ABOVE grey, near the display floor) and
 * still ND_SLAB_BELOW of its own grey 2-6 mm beneath. Or, unless a bone
 * edge's surface lies within 6 mm straight beneath more than
 * ND_SLAB_BONE_SHARE of it (a shallow needle over a cortex has the cortex's
 * glare beneath it): beneath anechoic above at ND_SLAB_LIT of its grey, or
 * either side a thick reflector's body (slab_body): its near edge under dark
 * tissue, or its far edge over a fluid. A needle is thin: what rings beneath
 * it fades within a few mm. Not in a water bath (beyond ND_BATH_SHARE of the
 * region black), where black above is only water and a needle's saturated
 * reverberations may run on. */
static int slab_edge(const usg_needle_tracker *t, const nd_meas *m) {
    if (t->black_share > ND_BATH_SHARE) return 0;
    if (m->deep_below >= ND_SLAB_BELOW * m->i_shaft && m->deep_above <= ND_SLAB_ABOVE) return 1;
    if (m->bone_below > ND_SLAB_BONE_SHARE) return 0;
    return (m->deep_below >= ND_SLAB_LIT * m->i_shaft && m->deep_above <= ND_SLAB_ABOVE) ||
           slab_body(m->deep_below, m->deep_above, m->i_shaft) || slab_body(m->deep_above, m->deep_below, m->i_shaft);
}

/* The bend (sagitta, px) over a shaft of 8 mm or more beyond which it is a
 * fascia, not a needle (ND_BEND_MM, at least 1.5 px), times `scale`. */
static double bend_limit_px(const usg_needle_tracker *t, double scale) {
    return fmax(1.5, ND_BEND_MM / t->c.sp) * scale;
}

/* While tracking: a bright bevel (bright_bevel) ending at a step where the
 * track predicts its tip. (Not a tip on a cortex: its echo runs on into the
 * bone with no step, and a bright end there, measured on a track's axis, is
 * as often the cortex.) */
static int bevel_at_pred(const nd_levels *lv, const nd_meas *m) {
    return m->tip_step && m->tip_at_pred && bright_bevel(lv, m);
}

/* How far a shaft's history vouches for it (implausible_at's `vouched`). */
enum {
    ND_VOUCH_NONE = 0,
    ND_VOUCH_HISTORY = 1, /* its growth at acquisition, or its continuing the track */
    ND_VOUCH_FADING = 2   /* ... and the track is lost without it (tracking: its echo down to ND_FADING_DB) */
};

/* Why a measurement is not a needle (0: it is one). `tracking` relaxes the
 * thresholds (hysteresis); `vouched` (ND_VOUCH_*) says the shaft's history
 * vouches for it: at acquisition (its growth) the echo a shaft from the
 * region's edge needs falls to ND_GROW_SNR, ND_GROW_DB and ND_GROW_BESIDE_DB
 * and the shadow ratio beneath it to a track's, while tracking (it continues
 * the track) its snr and fill to ND_CONT_SNR and ND_CONT_FILL, and, as the
 * track's last resort, its echo over the tissue to ND_FADING_DB. */
static int implausible_at(const usg_needle_tracker *t, const nd_levels *lv, const nd_meas *m, int tracking,
                          int vouched) {
    /* a shaft whose first part is hidden in brighter echo enters at the
     * region's edge only as far as its growth or the track vouches for */
    nd_meas inner;
    if (m->hidden_mm > 0 && !tracking && !vouched) {
        inner = *m;
        inner.border_entry = 0;
        inner.len_mm -= m->hidden_mm;
        m = &inner;
    }
    double ang = fabs(atan2(m->line.dy, m->line.dx)) * 180.0 / M_PI;
    if (ang > 90) ang = 180 - ang;
    if (ang > ND_MAX_ANGLE + 2) return 1;
    if (!tracking && ang < ND_LEVEL_DEG) return 1;
    /* the beam beneath against the tissue above, as far as the depth's falloff does not darken it */
    double shadow = tracking || m->len_mm >= ND_FALLOFF_LEN_MM ? m->shadow / m->falloff : m->shadow;
    /* a needle is straight; fasciae and septa bend (the sagitta grows with the square of the length:
     * on a short stretch it says nothing) */
    if (!tracking && m->len_mm >= 8.0 && m->bend_px > bend_limit_px(t, steep_bevel(lv, m) ? 2.0 : 1.0)) return 14;
    if (m->len_mm < (tracking ? 2.0 : (m->border_entry ? ND_MIN_BORDER_MM : 8.0))) return 2;
    /* a bevel echo far above the tissue and above the shaft at a clear step
     * (a steep needle's shaft can be fainter than a fascia, its bevel is not) */
    /* (while tracking, a bevel that ends on a cortex or in the joint needs no step) */
    int bright_tip = (m->tip_step || tracking) && bright_bevel(lv, m);
    /* (while tracking, a bright bevel at a step carries a faint steep shaft; without
     * the step, a bright end is as often a cortex's glare at the joint) */
    /* (and where the track predicts it, such a bevel carries a steep shaft the
     * beam hardly shows at all) */
    /* (a tip on a cortex has no step: its echo runs on into the bone) */
    int bevel_track = tracking && bright_tip && (m->tip_step || m->tip_on_bone), at_pred = bevel_track && m->tip_at_pred;
    double need_snr = tracking ? (at_pred ? ND_BEVEL_SNR : (bevel_track ? 2.5 : 4.0))
                               : (m->border_entry ? (bright_tip ? (steep_bevel(lv, m) ? 4.0 : 5.0) : 6.0) : 12.0);
    if (vouched) need_snr = fmin(need_snr, tracking ? ND_CONT_SNR : ND_GROW_SNR);
    /* echo strength (grey levels are log amplitude, ND_GREY_PER_DB): a needle
     * is a specular reflector, far above the typical tissue echo of the frame
     * and above the tissue beside it; muscle fibres and fasciae are weaker */
    double above_tissue_db = (m->i_shaft - lv->shaft) / ND_GREY_PER_DB;
    double above_bg_db = (m->i_shaft - m->i_bg) / ND_GREY_PER_DB;
    if (!tracking && m->border_entry && m->tip_step && above_tissue_db >= ND_LOUD_DB &&
        above_bg_db >= ND_LOUD_DB - ND_LOUD_BESIDE_DB) {
        need_snr = fmin(need_snr, ND_GROW_SNR);
    }
    if (m->snr < need_snr) return 3;
    double need_fill = tracking ? (at_pred ? ND_BEVEL_FILL : (bevel_track ? 0.35 : 0.5)) : 0.6;
    if (m->fill < (vouched && tracking ? fmin(need_fill, ND_CONT_FILL) : need_fill)) return 4;
    if (m->rms > (tracking || steep_bevel(lv, m) ? 1.5 : 1.2)) return 5; /* (a steep shaft's lateral blur) */
    /* (beside a steep shaft the normal points across the beam, not into a
     * shadow: the tissue on its two sides may differ; a bright bevel at a
     * step at the end of a shaft from the edge is no cortex; a shaft its
     * growth vouches for may lie over darker tissue, as a track's may: a
     * cortex does not advance along its line) */
    if (shadow < (tracking || vouched ? 0.45 : 0.55) && (tracking || !steep_bevel(lv, m)) && !bevel_lit_shaft(lv, m, shadow) &&
        !ringing_shaft(m, shadow)) {
        return 6;
    }
    if (!tracking && slab_edge(t, m)) return 18;
    /* the straight stretch of a fascia that bends at its "tip": as bright a line runs on from it, turned */
    if (!tracking && m->kink_deg != 0) return 19;
    /* a long, nearly level line with darker tissue beneath is a cortex even
     * when its shadow is not black (a scanner's noise floor, a wide display range) */
    if (!tracking && ang < ND_CORTEX_DEG && m->len_mm > ND_CORTEX_MM && m->shadow < ND_CORTEX_SHADOW) return 16;
    if (m->bone_frac > (tracking ? 0.5 : 0.3)) return 7;
    if (!tracking && !m->tip_step) return 15; /* a needle ends abruptly at its tip; a fascia fades out */
    if (!tracking && m->tip.y < m->entry.y - 2) return 10; /* a needle goes in, downward */
    /* a short streak needs a stronger echo, the more so near the horizontal (pieces of fasciae) */
    /* (fasciae entering at the fan's edge reach ~20 dB over 5-20 mm) */
    double need_db = tracking ? 9.0 : clampd(ND_SHORT_DB - 0.5 * (m->len_mm - 22.0), 13.0, ND_SHORT_DB) + (ang < 10.0 ? 2.0 : 0.0);
    /* (a floored frame's tissue lies below the display floor, the further the more of the
     * region is black: beyond 90 % black what shows at all stands far above the tissue,
     * a needle in a water bath or at a narrow display range) */
    if (t->floored && !tracking) {
        double relief = ND_FLOORED_DB * clampd((t->black_share - ND_BATH_SHARE) / 0.05, 0.0, 1.0);
        need_db = fmax(need_db - relief, fmin(need_db, 8.0));
    }
    if (vouched && !tracking) need_db = fmin(need_db, ND_GROW_DB);
    if (vouched == ND_VOUCH_FADING && tracking) need_db = fmin(need_db, ND_FADING_DB);
    /* ... unless its tip is the bright end (a bevel) */
    if (above_tissue_db < need_db && !bright_tip) return 11;
    /* a shaft that fades out before its bevel: the bevel must carry it */
    if (!tracking && m->faded_mm > 0 && (!bright_tip || !m->border_entry)) return 17;
    /* an inserted needle shows from the imaged region's edge; one that does not
     * (its first part out of plane) must be unmistakable */
    if (!tracking && !m->border_entry &&
        (above_tissue_db < 20.0 || m->len_mm < ND_MIN_INNER_MM || m->fill < 0.85 || ang < 10.0 || shadow < ND_CORTEX_SHADOW)) {
        return 13; /* (darker tissue beneath: a cortex the bone stage missed) */
    }
    /* (beside a steep shaft the flanks hold its lateral blur; a bevel vouches for it, and a
     * steep shaft from the edge with a bright bevel at a step needs only 3 dB: a 70 deg
     * needle's first 5-9 mm) */
    double need_beside = bevel_track ? 2.0 : (tracking || bright_tip ? (!tracking && steep_bevel(lv, m) ? 3.0 : 5.0) : 8.0);
    if (vouched && !tracking) need_beside = fmin(need_beside, ND_GROW_BESIDE_DB);
    if (above_bg_db < need_beside) return 12;
    return 0;
}

static int implausible(const usg_needle_tracker *t, const nd_meas *m, int tracking) {
    nd_levels lv = frame_ref(t);
    return implausible_at(t, &lv, m, tracking, ND_VOUCH_NONE);
}

static int plausible(const usg_needle_tracker *t, const nd_meas *m, int tracking) {
    return implausible(t, m, tracking) == 0;
}

/* The step (dB) from a measurement's shaft up to its tip. */
static double bevel_db(const nd_meas *m) {
    return (m->i_tip - m->i_shaft) / ND_GREY_PER_DB;
}

/* A needle by every gate but its echo (a shaft from the region's edge ending
 * at a step, with ND_GROW_SNR and ND_GROW_DB, lit up to its tip: the
 * brightest echo of its last ~1.5 mm at most ND_DIM_TIP_DB under the
 * shaft's): what growth may confirm. (A line that ran on past a needle's tip
 * through speckle ends dim, and its length, remembered, hid the needle's
 * growth for 10 frames.) */
static int weak_shaft(const usg_needle_tracker *t, const nd_levels *lv, const nd_meas *m) {
    return m->border_entry && m->tip_step && bevel_db(m) >= -ND_DIM_TIP_DB && implausible_at(t, lv, m, 0, ND_VOUCH_HISTORY) == 0;
}

/* Remember a line of this frame from `entry` along (dx, dy), len_mm long: a
 * weak (or plausible) shaft, or (edge) a bone stage's straight edge. */
static void remember_line(usg_needle_tracker *t, usg_point entry, double dx, double dy, double len_mm, int at_depth,
                          int edge) {
    nd_seen *s = &t->seen[t->seen_next];
    s->frame = t->frame_no;
    s->entry = entry;
    s->dx = dx;
    s->dy = dy;
    s->len_mm = len_mm;
    s->at_depth = at_depth;
    s->edge = edge;
    s->odo_mm = t->mo.odo_mm;
    t->seen_next = (t->seen_next + 1) % ND_GROW_CAP;
    if (t->nseen < ND_GROW_CAP) t->nseen++;
}

/* Is the remembered shaft s on the line (entry, dx, dy): within ND_GROW_DEG, from within ND_GROW_ENTRY_MM? */
static int seen_on(const usg_needle_tracker *t, const nd_seen *s, usg_point entry, double dx, double dy) {
    return fabs(s->dx * dx + s->dy * dy) >= cos(ND_GROW_DEG * M_PI / 180.0) &&
           hypot(s->entry.x - entry.x, s->entry.y - entry.y) * t->c.sp <= ND_GROW_ENTRY_MM;
}

/* Has a line of length len_mm from `entry` along (dx, dy) grown over the last
 * frames (ND_GROW_RECORDS new longest lines, this one included, and ND_GROW_MM
 * over the shortest)? Counted among the remembered lines of its kind (edge:
 * the bone stage's edges; else measured shafts) from the frames since the
 * probe last moved ND_GROW_STILL_MM (nd_motion): a needle grows in still
 * tissue. */
static int grown_on(const usg_needle_tracker *t, usg_point entry, double dx, double dy, double len_mm, int edge) {
    double longest[ND_GROW_WIN], shortest = len_mm;
    int have[ND_GROW_WIN] = {0};
    for (int i = 0; i < t->nseen; i++) {
        const nd_seen *s = &t->seen[i];
        long age = t->frame_no - s->frame;
        if (age < 1 || age > ND_GROW_WIN || s->edge != edge || t->mo.odo_mm - s->odo_mm > ND_GROW_STILL_MM ||
            !seen_on(t, s, entry, dx, dy)) {
            continue;
        }
        int k = ND_GROW_WIN - (int)age; /* oldest first */
        longest[k] = have[k] ? fmax(longest[k], s->len_mm) : s->len_mm;
        have[k] = 1;
        shortest = fmin(shortest, s->len_mm);
    }
    double most = -1;
    int records = 0;
    for (int k = 0; k < ND_GROW_WIN; k++) {
        if (!have[k]) continue;
        if (most >= 0 && longest[k] >= most + ND_GROW_STEP_MM) records++;
        most = fmax(most, longest[k]);
    }
    if (most < 0 || len_mm < most + ND_GROW_STEP_MM) return 0;
    return records + 1 >= ND_GROW_RECORDS && len_mm - shortest >= ND_GROW_MM;
}

/* Has the shaft m grown on its line (grown_on, among the measured shafts)? */
static int grown(const usg_needle_tracker *t, const nd_meas *m) {
    return grown_on(t, m->entry, m->line.dx, m->line.dy, m->len_mm, 0);
}

/* The depth band (ND_BAND_MM) of full-resolution row y. */
static int band_of(const usg_needle_tracker *t, double y) {
    return clampi((int)(y * t->c.sp / ND_BAND_MM), 0, t->nbands - 1);
}

/* The share of the tissue's grey d0-d1 mm above depth y (px) that its depth
 * alone leaves d0-d1 mm beneath it (usg_depth_profile_falloff, down to
 * ND_FALLOFF_MIN); 1 in a floored frame (black beneath is no evidence). */
static double depth_falloff(const usg_needle_tracker *t, double y, double d0_mm, double d1_mm) {
    if (t->floored) return 1.0;
    double c = 0.5 * (d0_mm + d1_mm);
    return usg_depth_profile_falloff(&t->prof, y * t->c.sp, c, c, ND_FALLOFF_MIN);
}

/* 1 for a line of direction (dx, dy) at least ND_CORTEX_DEG from the
 * horizontal: straight, nearly level lines are more often cortices, and the
 * bone stage's edges along them are held to the strict tests below. */
static int steep_line(double dx, double dy) {
    double ang = fabs(atan2(dy, dx)) * 180.0 / M_PI;
    if (ang > 90) ang = 180 - ang;
    return ang >= ND_CORTEX_DEG;
}

/* 1 when shaft m is as straight as steel: its bend no more than the sagitta
 * of an arc of ND_STRAIGHT_R_MM over its length (or ND_STRAIGHT_PX). A
 * steel shaft bends far less than a cortex curves. */
static int steel_straight(const usg_needle_tracker *t, const nd_meas *m) {
    double sagitta_mm = m->len_mm * m->len_mm / (8.0 * ND_STRAIGHT_R_MM);
    return m->bend_px <= fmax(ND_STRAIGHT_PX, sagitta_mm / t->c.sp);
}

/* 1 when the beam 2-6 mm beneath shaft m is no bone's shadow: as bright as
 * the tissue above (ND_LIT_NEEDLE, against the depth's falloff), or, in a
 * floored frame where the tissue above is black (no evidence), a line steep
 * enough (steep_line) to be no level cortex's. */
static int unshadowed(const usg_needle_tracker *t, const usg_image *img, const nd_meas *m) {
    double lit = nd_band_ratio(&t->c, img, m->entry, m->tip, 2.0, 6.0);
    if (lit > 0) lit /= depth_falloff(t, 0.5 * (m->entry.y + m->tip.y), 2.0, 6.0);
    return lit >= ND_LIT_NEEDLE || (lit < 0 && t->floored && steep_line(m->line.dx, m->line.dy));
}

/* nd_measure, with the depth's falloff at the shaft's middle over the band
 * of its shadow (2-6 mm beneath it, against the tissue above: m->falloff). */
static int measure_on(const usg_needle_tracker *t, nd_ctx *c, const usg_image *img, const nd_line *l, int r,
                      const nd_hint *hint, const usg_edge *e1, const usg_edge *e2, nd_meas *m) {
    if (!nd_measure(c, img, l, r, hint, e1, e2, m)) return 0;
    m->falloff = depth_falloff(t, 0.5 * (m->entry.y + m->tip.y), 2.0, 6.0);
    return 1;
}

/* measure_on the tracker's own context. */
static int measure(usg_needle_tracker *t, const usg_image *img, const nd_line *l, int r, const nd_hint *hint,
                   const usg_edge *e1, const usg_edge *e2, nd_meas *m) {
    return measure_on(t, &t->c, img, l, r, hint, e1, e2, m);
}

/* The frame's typical tissue echo: the median grey of the imaged region's
 * pixels that are not shadow or black (grey > 10), on a sparse sample; and
 * its depth profile (t->prof). */
static void frame_levels(usg_needle_tracker *t, const usg_image *img) {
    int hist[256] = {0};
    usg_depth_profile_clear(&t->prof);
    for (int y = 1; y < t->c.h; y += 3) {
        const uint8_t *row = usg_image_row(img, y), *m = t->c.mask + (size_t)y * t->c.w;
        const double z = y * t->c.sp;
        for (int x = 1; x < t->c.w; x += 3) {
            if (m[x]) { hist[row[x]]++; usg_depth_profile_add(&t->prof, z, row[x]); }
        }
    }
    int nt = 0, acc = 0, v = 11, nblack = 0;
    for (int g = 11; g < 256; g++) nt += hist[g];
    for (int g = 0; g <= (int)ND_FLOOR_GREY; g++) nblack += hist[g];
    while (v < 255 && acc + hist[v] < 0.5 * nt) acc += hist[v++];
    t->median = v;
    t->black_share = nblack + nt > 0 ? (double)nblack / (nblack + nt) : 0;
    t->floored = t->black_share > ND_FLOORED_SHARE;
    if (t->floored) t->median = 10; /* the typical tissue is below the display floor; what shows is echoes */
    t->c.tissue_grey = v;
    usg_depth_profile_finish(&t->prof, ND_TREND_MM);
}

/* The tissue grey of each depth band (t->band_grey): the median grey within
 * ND_LOCAL_MM above and below it, never below the frame's median, the
 * frame's median in a floored frame; of the imaged region's pixels, not black
 * (grey > 10), not on a cortex the bone stage found (mark_bone first), on the
 * sparse sample of frame_levels (per-band histograms in t->band_hist, summed
 * over a sliding window of bands). */
static void band_levels(usg_needle_tracker *t, const usg_image *img) {
    const int nb = t->nbands, r = (int)lrint(ND_LOCAL_MM / ND_BAND_MM);
    memset(t->band_hist, 0, (size_t)nb * 256 * sizeof(int));
    for (int y = 1; y < t->c.h; y += 3) {
        const uint8_t *row = usg_image_row(img, y), *m = t->c.mask + (size_t)y * t->c.w;
        const uint8_t *b2 = t->bone2 + (size_t)clampi(y / 2, 0, t->h2 - 1) * t->w2;
        int *hist = t->band_hist + (size_t)band_of(t, y) * 256;
        for (int x = 1; x < t->c.w; x += 3) {
            if (m[x] && row[x] > 10 && !b2[clampi(x / 2, 0, t->w2 - 1)]) hist[row[x]]++;
        }
    }
    usg_window_medians(t->band_hist, nb, r, t->band_grey);
    for (int b = 0; b < nb; b++) {
        double g = t->band_grey[b];
        t->band_grey[b] = t->floored || g == 0 ? t->median : fmax(g, t->median);
    }
}

/* The tissue grey at depth y (px) (band_levels). */
static double local_grey(const usg_needle_tracker *t, double y) {
    return t->band_grey[band_of(t, y)];
}


/* ---------------------------------------------------------- acquisition */

/* Cheap screen of a Hough line on the half-resolution image: the echo mass
 * (sum of dB above the threshold) of its best run of at least 2 mm whose echo
 * (max over +-2 px across) is 12 dB above the tissue median, with no
 * acoustic shadow 3-5 mm beneath it (a cortex: darker than 35 % of the
 * tissue median or than half the tissue 3-5 mm above); 0 if none. Fibres, faint
 * fasciae and bone surfaces score low or nothing. */
/* Mark the half-resolution pixels on the bone stage's cortices: from 1 mm
 * above each edge point to 2.5 mm beneath it, +-1 mm sideways. */
static void mark_bone(usg_needle_tracker *t, const usg_edge *e1, const usg_edge *e2) {
    memset(t->bone2, 0, (size_t)t->w2 * t->h2);
    const usg_edge *edges[2] = {e1, e2};
    const double s2 = 2.0 * t->c.sp;
    const int up = clampi((int)lrint(1.0 / s2), 1, 20), down = clampi((int)lrint(2.5 / s2), 1, 40),
              side = clampi((int)lrint(1.0 / s2), 1, 20);
    for (int e = 0; e < 2; e++) {
        if (!edges[e] || !edges[e]->found) continue;
        for (int i = 0; i < edges[e]->n; i++) {
            int x = (int)lrint(edges[e]->pts[i].x / 2.0), y = (int)lrint(edges[e]->pts[i].y / 2.0);
            for (int yy = clampi(y - up, 0, t->h2 - 1); yy <= clampi(y + down, 0, t->h2 - 1); yy++) {
                uint8_t *row = t->bone2 + (size_t)yy * t->w2;
                for (int xx = clampi(x - side, 0, t->w2 - 1); xx <= clampi(x + side, 0, t->w2 - 1); xx++) row[xx] = 1;
            }
        }
    }
}

/* The echo mass of the best run (2 mm or more, gaps of up to 2 px) along
 * Hough peak pk at half resolution of samples 12 dB over the frame's median
 * and off the bone stage's cortices; with shadow_test, of samples whose beam
 * 3-5 mm beneath is not in shadow either. 0 when there is no such run. */
static double bright_run(const usg_needle_tracker *t, const nd_hough_peak *pk, int shadow_test) {
    double th = pk->theta_deg * M_PI / 180.0, dx = cos(th), dy = sin(th);
    nd_line l = {t->hg.cx - pk->rho * dy, t->hg.cy + pk->rho * dx, dx, dy};
    double ulo, uhi;
    if (!nd_line_clip(&l, t->w2, t->h2, 0.0, &ulo, &uhi)) return 0;
    const float thr = (float)(t->median + 12.0 * ND_GREY_PER_DB), dark = (float)(0.35 * t->median);
    const int need = (int)ceil(2.0 / (2 * t->c.sp)), w2 = t->w2, h2 = t->h2;
    const int b0 = clampi((int)lrint(3.0 / (2 * t->c.sp)), 1, 60), b1 = clampi((int)lrint(5.0 / (2 * t->c.sp)), b0 + 1, 100);
    int run = 0, gap = 0;
    double mass = 0, best_mass = 0;
    for (double u = ulo; u <= uhi; u += 1.0) {
        float best = 0;
        int bx = 0, by = 0;
        for (int v = -2; v <= 2; v++) {
            int x = (int)lrint(l.px + u * dx - v * dy), y = (int)lrint(l.py + u * dy + v * dx);
            if (x < 0 || y < 0 || x >= w2 || y >= h2) continue;
            float g = t->half[y * w2 + x];
            if (g > best) { best = g; bx = x; by = y; }
        }
        int ok = best >= thr && !t->bone2[by * w2 + bx]; /* not on a cortex the bone stage found */
        if (ok && shadow_test) { /* not on a cortex: the tissue beneath is not in shadow (black, or
                   * at a scanner's noise floor: far darker than the tissue above) */
            float sum = 0, sum_up = 0;
            int n = 0, n_up = 0;
            for (int d = b0; d <= b1 && by + d < h2; d++) { sum += t->half[(by + d) * w2 + bx]; n++; }
            for (int d = b0; d <= b1 && by - d >= 0; d++) { sum_up += t->half[(by - d) * w2 + bx]; n_up++; }
            float fall = n == 0 ? 1.0f : (float)depth_falloff(t, 2.0 * by, b0 * 2 * t->c.sp, b1 * 2 * t->c.sp);
            ok = n == 0 || ((t->floored || sum / n >= dark * fall) && (n_up == 0 || sum / n >= ND_SHADOW_RATIO * fall * sum_up / n_up));
        }
        if (ok) {
            run += 1 + gap;
            gap = 0;
            mass += best - thr;
            if (run >= need && mass > best_mass) best_mass = mass;
        } else if (++gap > 2) {
            run = 0;
            gap = 0;
            mass = 0;
        }
    }
    return best_mass;
}

/* Ridge filter at one scale on a w x h image, then its thinned ridge pixels
 * above the 96th percentile vote (at half-resolution coordinates: x * f +
 * (f - 1) / 2, weight times f: a pixel spans f half-resolution pixels)
 * near their own orientation, for axes at least min_deg from
 * the horizontal. */
static void vote_scale(usg_needle_tracker *t, nd_hessian *hs, const float *img, const uint8_t *mask, float *ridge,
                       int w, int h, double f, double min_deg) {
    nd_hessian_run(hs, img);
    float maxr = 0;
    for (int i = 0; i < w * h; i++) {
        float r = mask[i] ? nd_hessian_ridge(hs, i) : 0;
        ridge[i] = r;
        if (r > maxr) maxr = r;
    }
    if (maxr <= 0) return;
    enum { NB = 512 };
    int hist[NB] = {0}, tot = 0;
    for (int i = 0; i < w * h; i++) { /* over the orientations that vote */
        if (!mask[i] || (min_deg > 0 && fabs(nd_hessian_angle(hs, i)) * 180.0 / M_PI < min_deg - 3)) continue;
        hist[(int)(ridge[i] / maxr * (NB - 1))]++;
        tot++;
    }
    int acc = 0, b = 0;
    while (b < NB - 1 && acc + hist[b] < 0.96 * tot) acc += hist[b++];
    float thr = (float)((b + 0.5) / (NB - 1) * maxr);
    if (thr <= 0) thr = maxr * 0.1f;
    for (int y = 1; y < h - 1; y++) {
        for (int x = 1; x < w - 1; x++) {
            int i = y * w + x;
            float r = ridge[i];
            if (r <= thr) continue;
            double a = nd_hessian_angle(hs, i);
            int ox = (int)lrint(-sin(a)), oy = (int)lrint(cos(a));
            if (r < ridge[i + oy * w + ox] || r < ridge[i - oy * w - ox]) continue; /* thin */
            double deg = a * 180.0 / M_PI;
            if (fabs(deg) < min_deg - 3) continue;
            if (deg < 0) deg += 180.0;
            float wgt = r / thr;
            nd_hough_vote(&t->hg, f * x + 0.5 * (f - 1), f * y + 0.5 * (f - 1), deg, 3, (float)f * (wgt > 4 ? 4 : wgt));
        }
    }
}

/* The best candidate lines by echo mass, in decreasing order. */
typedef struct nd_cands {
    int n, cap;
    nd_hough_peak pk[ND_MAX_CANDIDATES];
    double score[ND_MAX_CANDIDATES];
} nd_cands;

/* Insert p with score sc when it is among the cap best. */
static void cands_keep(nd_cands *c, const nd_hough_peak *p, double sc) {
    if (c->n == c->cap && sc <= c->score[c->n - 1]) return;
    int j = c->n < c->cap ? c->n++ : c->cap - 1;
    while (j > 0 && c->score[j - 1] < sc) { c->score[j] = c->score[j - 1]; c->pk[j] = c->pk[j - 1]; j--; }
    c->score[j] = sc;
    c->pk[j] = *p;
}

/* Are two Hough peaks the same line? */
static int same_peak(const nd_hough_peak *a, const nd_hough_peak *b) {
    return a->theta_deg == b->theta_deg && a->rho == b->rho;
}

/* A Hough peak's angle from the horizontal (degrees, 0-90). */
static double peak_deg(const nd_hough_peak *p) {
    return p->theta_deg <= 90 ? p->theta_deg : 180 - p->theta_deg;
}

static int steep_peak(const nd_hough_peak *p) {
    return peak_deg(p) >= ND_STEEP_DEG;
}

/* Do two measurements find the same needle: tips within 2 mm, axes within 8 degrees? */
static int same_needle(const nd_meas *a, const nd_meas *b, double sp) {
    double c = fabs(a->line.dx * b->line.dx + a->line.dy * b->line.dy);
    return c > cos(8.0 * M_PI / 180.0) && hypot(a->tip.x - b->tip.x, a->tip.y - b->tip.y) * sp < 2.0;
}

/* Is a shaft from the region's edge lit over nearly all its length (its run
 * ND_PIVOT_LIT of it)? A spot's width measured as a shaft and carried on to the
 * edge through unlit tissue is not. */
static int lit_to_border(const nd_meas *m) {
    return m->border_entry && m->run_mm >= ND_PIVOT_LIT * m->len_mm;
}

/* A short shaft (under ND_PIVOT_MM) may be a steep needle's bevel spot, which
 * is wider across the beam than along it, measured along its width: lines
 * through its tip at the steep angles are measured too, and a longer needle
 * with the same tip takes its place when it scores better, or when its shaft
 * is ND_PIVOT_BEVEL_DB fainter against its tip than the short one's (a bevel
 * at the end of a shaft, where the short one's "shaft" is the spot itself:
 * at a high gain the spot saturates and spreads) and it scores at least
 * ND_PIVOT_SCORE of the short one, or when it is lit from the region's edge
 * nearly to its tip and the short one is not (lit_to_border) and it scores
 * ND_PIVOT_SCORE of it. Of those, a lit one first, then the best score. */
static void pivot(usg_needle_tracker *t, const usg_image *img, const usg_edge *e1, const usg_edge *e2, nd_meas *best) {
    if (best->len_mm >= ND_PIVOT_MM) return;
    const nd_meas first = *best;
    int moved = 0;
    for (double a = ND_STEEP_DEG; a <= ND_MAX_ANGLE; a += ND_PIVOT_STEP_DEG) {
        for (int side = -1; side <= 1; side += 2) {
            double r = a * M_PI / 180.0;
            nd_line l = {first.tip.x, first.tip.y, side * cos(r), sin(r)};
            nd_meas m;
            if (!measure(t, img, &l, t->r_acq, NULL, e1, e2, &m) || !plausible(t, &m, 0)) continue;
            if (m.len_mm <= first.len_mm || hypot(m.tip.x - first.tip.x, m.tip.y - first.tip.y) * t->c.sp >= 1.5) continue;
            int spot = m.tip_step && bevel_db(&m) >= bevel_db(&first) + ND_PIVOT_BEVEL_DB &&
                       m.score >= ND_PIVOT_SCORE * first.score;
            int lit = lit_to_border(&m) && !lit_to_border(&first) && m.score >= ND_PIVOT_SCORE * first.score;
            /* (a lit one before any unlit one, else the better score) */
            int better = !moved || (lit_to_border(&m) != lit_to_border(best) ? lit_to_border(&m) : m.score > best->score);
            if ((m.score > first.score || spot || lit) && better) {
                *best = m;
                moved = 1;
            }
        }
    }
}

/* The frame's candidate lines (t->pk, t->npk): the oriented-filter votes at
 * half and quarter resolution, the strongest Hough peaks, and the strongest
 * steep ones apart. Independent of the bone edges. */
static void vote_lines(usg_needle_tracker *t, const usg_image *img) {
    nd_downsample2(img, t->half, t->w2, t->h2);
    nd_hough_clear(&t->hg);
    vote_scale(t, &t->hs, t->half, t->mask2, t->ridge, t->w2, t->h2, 1.0, 0.0);
    /* a steep needle crosses the beam obliquely: a wider line, weaker echo */
    nd_downsample2f(t->half, t->w2, t->quarter, t->w4, t->h4);
    vote_scale(t, &t->hs2, t->quarter, t->mask4, t->ridge4, t->w4, t->h4, 2.0, ND_STEEP_DEG);
    /* the strongest lines, and the strongest steep ones apart (a steep shaft
     * gathers fewer votes than the fibres and fasciae of the frame) */
    nd_hough_peak *pk = t->pk;
    int np = nd_hough_peaks(&t->hg, pk, ND_PEAKS, 0.0);
    int n_all = np;
    for (int i = 0, n = nd_hough_peaks(&t->hg, pk + np, ND_STEEP_PEAKS, ND_STEEP_DEG); i < n; i++) {
        int dup = 0;
        for (int j = 0; j < n_all && !dup; j++) dup = nd_hough_near(&pk[n_all + i], &pk[j]);
        if (!dup) pk[np++] = pk[n_all + i];
    }
    t->npk = np;
}

/* The levels of m read over the tissue at its own depth: its shaft's middle and its tip. */
static nd_levels local_ref(const usg_needle_tracker *t, const nd_meas *m) {
    return (nd_levels){local_grey(t, 0.5 * (m->entry.y + m->tip.y)), local_grey(t, m->tip.y)};
}

/* The levels one of the first ND_CANDIDATES (or steep ones) is read over: the frame's
 * median, but for a shaft hardly above the tissue beside it (under
 * ND_FAINT_BESIDE_DB), which its bevel alone must carry, the bevel over the
 * tissue at its own depth (a bright near field over a dark deep one puts the
 * near field's brightest speckle 30 dB over the frame's median, not over its
 * own depth's tissue). */
static nd_levels acq_ref(const usg_needle_tracker *t, const nd_meas *m) {
    nd_levels lv = frame_ref(t);
    if ((m->i_shaft - m->i_bg) / ND_GREY_PER_DB < ND_FAINT_BESIDE_DB) lv.tip = local_grey(t, m->tip.y);
    return lv;
}

/* Share of edge e's points within ND_ON_EDGE_MM of the axis from entry to tip. */
static double share_on_axis(const usg_needle_tracker *t, usg_point entry, usg_point tip, const usg_edge *e) {
    double L = hypot(tip.x - entry.x, tip.y - entry.y), lim = ND_ON_EDGE_MM / t->c.sp;
    if (L <= 0) return 0;
    double dx = (tip.x - entry.x) / L, dy = (tip.y - entry.y) / L;
    int on = 0;
    for (int i = 0; i < e->n; i++) {
        double rx = e->pts[i].x - entry.x, ry = e->pts[i].y - entry.y;
        double along = rx * dx + ry * dy;
        on += along >= -lim && along <= L + lim && fabs(rx * dy - ry * dx) <= lim;
    }
    return e->n > 0 ? (double)on / e->n : 0;
}

/* Does the needle m lie along bone edge e (NULL or not found: no), ND_ON_EDGE_SHARE of its points on its axis? */
static int along_edge(const usg_needle_tracker *t, const nd_meas *m, const usg_edge *e) {
    return e && e->found && share_on_axis(t, m->entry, m->tip, e) >= ND_ON_EDGE_SHARE;
}

/* A needle by every gate but the bone stage's claim on it (refused for its
 * bone_frac alone), from the region's edge, with no bone's shadow beneath
 * (unshadowed): a needle so bright that its echo and reverberations merge
 * into a band the bone stage takes for a cortex, splitting it into edges too
 * bent for needle_like_edge (at a 40-50 dB display range, where the tissue
 * and any shadow lie below the display floor). What its growth (grown) may
 * confirm: a cortex does not advance along its line. */
static int claimed_shaft(const usg_needle_tracker *t, const usg_image *img, const nd_levels *lv, const nd_meas *m) {
    if (!m->border_entry || !unshadowed(t, img, m)) return 0;
    nd_meas free_of_bone = *m;
    free_of_bone.bone_frac = 0;
    return implausible_at(t, lv, &free_of_bone, 0, ND_VOUCH_NONE) == 0;
}

/* Length (mm) of bone edge e from its first point to its last. */
static double edge_span_mm(const usg_needle_tracker *t, const usg_edge *e) {
    return e->n > 1 ? hypot(e->pts[e->n - 1].x - e->pts[0].x, e->pts[e->n - 1].y - e->pts[0].y) * t->c.sp : 0;
}

/* Is every edge the bone stage found (e1, e2) shorter than ND_CLAIM_EDGE_MM:
 * pieces of a needle's own echo (its first millimetres' shaft, its bevel's
 * glare) that a boneless frame's bone stage took for cortices, not a cortex,
 * which runs on for centimetres? A needle so claimed (claimed_shaft) is taken
 * without waiting for its growth. */
static int bone_in_pieces(const usg_needle_tracker *t, const usg_edge *e1, const usg_edge *e2) {
    const usg_edge *edges[2] = {e1, e2};
    for (int i = 0; i < 2; i++) {
        if (edges[i] && edges[i]->found && edge_span_mm(t, edges[i]) >= ND_CLAIM_EDGE_MM) return 0;
    }
    return 1;
}

/* Is acquisition's measurement m a needle by every gate (read over the frame's tissue)? */
static int strict_needle(const usg_needle_tracker *t, const nd_meas *m) {
    nd_levels lv = acq_ref(t, m);
    return implausible_at(t, &lv, m, 0, ND_VOUCH_NONE) == 0;
}

/* Judge a candidate line's measurement m: 1 when it is a needle (by the
 * gates, or a weak shaft that has grown, or one along `grown_edge`, a bone
 * stage's edge that has grown: NULL for none, or one the bone stage's edges
 * e1, e2 claim that they are pieces of: bone_in_pieces); a weak shaft is
 * remembered either way. `at_depth`: one of the ND_MORE_CANDIDATES, read over
 * the tissue at its own depth (local_ref). */
static int judge_line(usg_needle_tracker *t, const usg_image *img, int at_depth, const usg_edge *grown_edge,
                      const usg_edge *e1, const usg_edge *e2, const nd_meas *m) {
    nd_levels lv = at_depth ? local_ref(t, m) : acq_ref(t, m);
    int why = implausible_at(t, &lv, m, 0, ND_VOUCH_NONE), strict = why == 0;
    int weak_one = !strict && weak_shaft(t, &lv, m), claimed = why == 7 && claimed_shaft(t, img, &lv, m);
    if (weak_one || strict || claimed) remember_line(t, m->entry, m->line.dx, m->line.dy, m->len_mm, at_depth, 0);
    return strict || (claimed && (grown(t, m) || bone_in_pieces(t, e1, e2))) ||
           (weak_one && (grown(t, m) || along_edge(t, m, grown_edge)));
}

/* Measure a candidate line l (acquisition) and judge it (judge_line): 1 with *m filled when it is a needle. */
static int try_line(usg_needle_tracker *t, const usg_image *img, const nd_line *l, const usg_edge *e1,
                    const usg_edge *e2, int at_depth, const usg_edge *grown_edge, nd_meas *m) {
    return measure(t, img, l, t->r_acq, NULL, e1, e2, m) && judge_line(t, img, at_depth, grown_edge, e1, e2, m);
}

/* The candidate lines of a full search, measured on the pool's threads. */
typedef struct nd_batch {
    usg_needle_tracker *t;  /* its contexts are the threads' (nothing else of it is written) */
    const usg_image *img;
    const usg_edge *e1, *e2;
    const nd_line *lines;
    nd_meas *meas;
    int *got;
} nd_batch;

static void measure_batch_one(void *arg, int i, int thread) {
    nd_batch *b = arg;
    nd_ctx *c = thread == 0 ? &b->t->c : &b->t->wc[thread - 1];
    b->got[i] = measure_on(b->t, c, b->img, &b->lines[i], b->t->r_acq, NULL, b->e1, b->e2, &b->meas[i]);
}

/* Measure lines[0..n-1] (acquisition) into meas[i], got[i] = 1 where measured;
 * each line's measurement depends on it alone, so the threads change nothing
 * but the time. */
static void measure_batch(usg_needle_tracker *t, const usg_image *img, const usg_edge *e1, const usg_edge *e2,
                          const nd_line *lines, int n, nd_meas *meas, int *got) {
    for (int k = 0; k < t->nwc; k++) nd_ctx_sync(&t->wc[k], &t->c);
    nd_batch b = {t, img, e1, e2, lines, meas, got};
    usg_pool_run(t->pool, n, measure_batch_one, &b);
}

/* Was a shaft on the remembered shaft s's line measured on this frame? */
static int measured_now(const usg_needle_tracker *t, const nd_seen *s) {
    for (int i = 0; i < t->nseen; i++) {
        const nd_seen *o = &t->seen[i];
        if (!o->edge && o->frame == t->frame_no && seen_on(t, o, s->entry, s->dx, s->dy)) return 1;
    }
    return 0;
}

/* The needle among the frame's candidate lines (vote_lines), given the bone
 * stage's edges (e1, e2: NULL or not found for none) and `grown_edge` (see
 * try_line): 1 with *best filled. */
static int pick_line(usg_needle_tracker *t, const usg_image *img, const usg_edge *e1, const usg_edge *e2,
                     const usg_edge *grown_edge, nd_meas *best) {
    mark_bone(t, e1, e2);
    band_levels(t, img);
    const nd_hough_peak *pk = t->pk;
    int np = t->npk;
    /* screened by echo mass: the best ND_CANDIDATES, the best steep ones too,
     * the best shaded ones (ND_SHADED_CANDIDATES), then the next
     * ND_MORE_CANDIDATES (read over their own depth's tissue) */
    nd_cands all = {.cap = ND_CANDIDATES + ND_MORE_CANDIDATES}, steep = {.cap = ND_STEEP_CANDIDATES},
             shaded = {.cap = ND_SHADED_CANDIDATES};
    for (int i = 0; i < np; i++) {
        double sc = bright_run(t, &pk[i], 1);
        if (sc <= 0) {
            double sc0 = peak_deg(&pk[i]) >= ND_CORTEX_DEG ? bright_run(t, &pk[i], 0) : 0;
            if (sc0 > 0) cands_keep(&shaded, &pk[i], sc0);
            continue;
        }
        cands_keep(&all, &pk[i], sc);
        if (steep_peak(&pk[i])) cands_keep(&steep, &pk[i], sc);
    }
    nd_hough_peak cand[ND_MAX_CANDIDATES];
    int n_first = all.n < ND_CANDIDATES ? all.n : ND_CANDIDATES, nc = n_first;
    memcpy(cand, all.pk, sizeof cand[0] * (size_t)n_first);
    for (int i = 0; i < steep.n; i++) { /* the steep ones not already in */
        int dup = 0;
        for (int j = 0; j < n_first && !dup; j++) dup = same_peak(&cand[j], &steep.pk[i]);
        if (!dup) cand[nc++] = steep.pk[i];
    }
    const int n_shaded0 = nc;
    for (int i = 0; i < shaded.n; i++) cand[nc++] = shaded.pk[i];
    const int n_shaded1 = nc, n_sure = nc;
    for (int i = n_first; i < all.n; i++) { /* the next ones not among the steep */
        int dup = 0;
        for (int j = n_first; j < n_sure && !dup; j++) dup = same_peak(&cand[j], &all.pk[i]);
        if (!dup) cand[nc++] = all.pk[i];
    }
    nd_meas ok[ND_MAX_CANDIDATES], meas[ND_MAX_CANDIDATES];
    nd_line lines[ND_MAX_CANDIDATES];
    int got[ND_MAX_CANDIDATES], nok = 0;
    for (int i = 0; i < nc; i++) {
        double th = cand[i].theta_deg * M_PI / 180.0, c = cos(th), s = sin(th);
        double x2 = t->hg.cx - cand[i].rho * s, y2 = t->hg.cy + cand[i].rho * c;
        lines[i] = (nd_line){2 * x2 + 0.5, 2 * y2 + 0.5, c, s};
    }
    measure_batch(t, img, e1, e2, lines, nc, meas, got);
    for (int i = 0; i < nc; i++) {
        if (!got[i]) continue;
        /* (a shaded line counts only as a needle by every gate: ND_SHADED_CANDIDATES) */
        if (i >= n_shaded0 && i < n_shaded1 && !strict_needle(t, &meas[i])) continue;
        ok[nok] = meas[i];
        nok += judge_line(t, img, i >= n_sure, grown_edge, e1, e2, &ok[nok]);
    }
    /* the lines of the weak shafts of the last frames not measured on this
     * one, newest first (a faint needle is not always among the Hough lines) */
    nd_meas extra[ND_GROW_RECALL];
    const nd_seen *tried[ND_GROW_RECALL];
    int nextra = 0, ntried = 0;
    for (int i = 0; i < t->nseen && ntried < ND_GROW_RECALL; i++) {
        const nd_seen *s = &t->seen[(t->seen_next - 1 - i + ND_GROW_CAP) % ND_GROW_CAP];
        long age = t->frame_no - s->frame;
        int dup = s->edge || age < 1 || age > ND_GROW_WIN || measured_now(t, s);
        for (int j = 0; j < ntried && !dup; j++) dup = seen_on(t, tried[j], s->entry, s->dx, s->dy);
        if (dup) continue;
        nd_line l = {s->entry.x, s->entry.y, s->dx, s->dy};
        tried[ntried++] = s;
        nextra += try_line(t, img, &l, e1, e2, s->at_depth, grown_edge, &extra[nextra]);
    }
    if (!nok && !nextra) return 0;
    for (int i = 0; i < nextra && nok < ND_MAX_CANDIDATES; i++) ok[nok++] = extra[i];
    /* the best score, of those measured at the ridge filter's own scale if
     * any (a short shaft's axis is coarser at the wide scale) */
    int b = 0;
    for (int i = 1; i < nok; i++) {
        if (ok[i].wide != ok[b].wide ? !ok[i].wide : ok[i].score > ok[b].score) b = i;
    }
    /* several lines may converge on the same needle, each measured a little
     * differently (a short shaft's axis is sensitive to the starting line):
     * of those, the one whose echo peaks lie closest to its axis */
    int pick = b;
    for (int i = 0; i < nok; i++) {
        if (i != b && ok[i].wide == ok[b].wide && same_needle(&ok[i], &ok[b], t->c.sp) && ok[i].rms < ok[pick].rms) pick = i;
    }
    *best = ok[pick];
    pivot(t, img, e1, e2, best);
    return 1;
}

/* Full-frame search: the probe's motion (nd_motion), vote_lines, then pick_line. */
static int acquire(usg_needle_tracker *t, const usg_image *img, const usg_edge *e1, const usg_edge *e2,
                   nd_meas *best) {
    nd_motion_update(&t->mo, img, t->frame_no); /* (what the growth of remembered lines is read against) */
    vote_lines(t, img);
    return pick_line(t, img, e1, e2, NULL, best);
}

/* Least-squares line through e's points lo..hi: centre (*mx, *my), unit
 * direction (*dx, *dy); the RMS off it (px). */
static double edge_line_fit(const usg_edge *e, int lo, int hi, double *mx, double *my, double *dx, double *dy) {
    double cx = 0, cy = 0, sxx = 0, sxy = 0, syy = 0, ss = 0;
    int n = hi - lo + 1;
    for (int i = lo; i <= hi; i++) { cx += e->pts[i].x; cy += e->pts[i].y; }
    cx /= n;
    cy /= n;
    for (int i = lo; i <= hi; i++) {
        double x = e->pts[i].x - cx, y = e->pts[i].y - cy;
        sxx += x * x; sxy += x * y; syy += y * y;
    }
    double th = 0.5 * atan2(2 * sxy, sxx - syy);
    *mx = cx; *my = cy; *dx = cos(th); *dy = sin(th);
    for (int i = lo; i <= hi; i++) {
        double off = (e->pts[i].x - cx) * *dy - (e->pts[i].y - cy) * *dx;
        ss += off * off;
    }
    return sqrt(ss / n);
}

/* A bone edge fitted by a line (straight_edge). */
typedef struct nd_edge_line {
    usg_point a, b;  /* its ends on the line */
    double len_mm;
    double r;        /* beam 2-6 mm beneath against the tissue above, for the depth's falloff (< 0: no evidence) */
    int steep;       /* steep_line */
} nd_edge_line;

/* Fit bone edge e by a line: 1 with *out filled when it is straight (at
 * least ND_LINE_EDGE_MM long, RMS off its fitted line at most
 * ND_LINE_EDGE_RMS_MM, once the points at either end that stray more than
 * ND_EDGE_HOOK_MM off it are left out: the bone stage hooks a shaft's edge into
 * the speckle or the bevel's echo at its ends). */
static int straight_edge(const usg_needle_tracker *t, const usg_image *img, const usg_edge *e, nd_edge_line *out) {
    if (!e || !e->found || e->n < 3) return 0;
    int lo = 0, hi = e->n - 1;
    double mx, my, dx, dy, rms = 0, tol = ND_EDGE_HOOK_MM / t->c.sp;
    edge_line_fit(e, lo, hi, &mx, &my, &dx, &dy);
    const int steep = steep_line(dx, dy);
    for (int pass = 0; steep && pass < 3 && hi - lo >= 2; pass++) {
        rms = edge_line_fit(e, lo, hi, &mx, &my, &dx, &dy);
        int lo0 = lo, hi0 = hi;
        while (lo < hi && fabs((e->pts[lo].x - mx) * dy - (e->pts[lo].y - my) * dx) > tol) lo++;
        while (hi > lo && fabs((e->pts[hi].x - mx) * dy - (e->pts[hi].y - my) * dx) > tol) hi--;
        if (lo == lo0 && hi == hi0) break;
    }
    if (hi - lo < 2) return 0;
    rms = edge_line_fit(e, lo, hi, &mx, &my, &dx, &dy);
    const usg_point *p0 = &e->pts[lo], *p1 = &e->pts[hi];
    double u0 = (p0->x - mx) * dx + (p0->y - my) * dy, u1 = (p1->x - mx) * dx + (p1->y - my) * dy;
    out->len_mm = fabs(u1 - u0) * t->c.sp;
    if (out->len_mm < ND_LINE_EDGE_MM || rms * t->c.sp > ND_LINE_EDGE_RMS_MM) return 0;
    out->a = (usg_point){mx + u0 * dx, my + u0 * dy};
    out->b = (usg_point){mx + u1 * dx, my + u1 * dy};
    out->r = nd_band_ratio(&t->c, img, out->a, out->b, 2.0, 6.0);
    if (out->r > 0) out->r /= depth_falloff(t, 0.5 * (out->a.y + out->b.y), 2.0, 6.0);
    out->steep = steep;
    return 1;
}

/* What needle_like_edge makes of a bone stage's edge. */
enum { ND_EDGE_NOT = 0, ND_EDGE_GROWN, ND_EDGE_LIT };

/* The kind of bone edge e (ND_EDGE_*): a straight one (straight_edge) with
 * little shadow beneath it (nd_band_ratio 2-6 mm >= ND_LIT_EDGE; a frame whose
 * tissue lies below the display floor gives no evidence, and there
 * straightness decides) is ND_EDGE_LIT: in soft tissue with no bone, the bone
 * stage takes a needle's shaft for a cortex until the tracker tells it of the
 * needle. Cortices are seldom so straight, and shadow what lies beneath. A
 * straight edge from the imaged region's edge is remembered (remember_line, as
 * an edge); one with a partial shadow (down to ND_DIM_EDGE: a needle over
 * tissue darker than that above it) that has grown on its line from there over
 * the last frames (grown_on: a needle advancing, which a cortex does not) is
 * ND_EDGE_GROWN. */
static int needle_like_edge(usg_needle_tracker *t, const usg_image *img, const usg_edge *e) {
    nd_edge_line el;
    if (!straight_edge(t, img, e, &el)) return ND_EDGE_NOT;
    if (el.r >= ND_LIT_EDGE || (el.r < 0 && t->floored && el.steep)) return ND_EDGE_LIT;
    /* from the region's edge: its end there is the entry */
    double ba = nd_ctx_border_px(&t->c, el.a.x, el.a.y), bb = nd_ctx_border_px(&t->c, el.b.x, el.b.y);
    usg_point entry = ba <= bb ? el.a : el.b, far = ba <= bb ? el.b : el.a;
    if (fmin(ba, bb) * t->c.sp > ND_GROW_ENTRY_MM) return ND_EDGE_NOT;
    double ex = (far.x - entry.x) / (el.len_mm / t->c.sp), ey = (far.y - entry.y) / (el.len_mm / t->c.sp);
    int grew = el.r >= ND_DIM_EDGE && grown_on(t, entry, ex, ey, el.len_mm, 1);
    remember_line(t, entry, ex, ey, el.len_mm, 0, 1);
    return grew ? ND_EDGE_GROWN : ND_EDGE_NOT;
}

/* Is bone edge e the tracked needle itself (p: its prediction): a straight
 * edge (straight_edge) with no more than a partial shadow beneath
 * (ND_DIM_EDGE) lying along the predicted shaft (ND_ON_EDGE_SHARE of its
 * points)? Over tissue darker than that above it the bone stage's path keeps
 * to the shaft's lower flank, where the beam beneath falls into that tissue,
 * even once told of the needle. */
static int track_edge(const usg_needle_tracker *t, const usg_image *img, const usg_edge *e, const usg_needle *p) {
    nd_edge_line el;
    return straight_edge(t, img, e, &el) && (el.r >= ND_DIM_EDGE || (el.r < 0 && t->floored)) &&
           share_on_axis(t, p->entry, p->tip, e) >= ND_ON_EDGE_SHARE;
}

/* Acquisition past the bone stage's needle-like edges (needle_like_edge),
 * after acquire() on the same frame: its candidate lines picked from again
 * without those edges, a needle along one of them (ND_ON_EDGE_SHARE of its
 * points on the axis) is the needle the bone stage claimed before the tracker
 * had found it: along an ND_EDGE_LIT edge, with no shadow beneath
 * (nd_band_ratio 2-6 mm >= ND_LIT_NEEDLE, with evidence) and straight (a steel
 * shaft bends far less than a cortex curves: ND_STRAIGHT_R_MM); along an
 * ND_EDGE_GROWN one, its growth vouching for a weak shaft (try_line), a
 * partial shadow and a saturated shaft's measured bend. 0 when there is no
 * such edge or needle. */
static int acquire_past_bone(usg_needle_tracker *t, const usg_image *img, const usg_edge *e1, const usg_edge *e2,
                             nd_meas *best) {
    const usg_edge *edge[2] = {e1, e2}, *keep[2] = {e1, e2};
    int kind[2], any = 0;
    for (int i = 0; i < 2; i++) {
        kind[i] = needle_like_edge(t, img, edge[i]);
        if (kind[i] != ND_EDGE_NOT) { keep[i] = NULL; any = 1; }
    }
    const usg_edge *grown_edge = kind[0] == ND_EDGE_GROWN ? e1 : (kind[1] == ND_EDGE_GROWN ? e2 : NULL);
    nd_meas m;
    if (!any || !pick_line(t, img, keep[0], keep[1], grown_edge, &m)) return 0;
    double lit = nd_band_ratio(&t->c, img, m.entry, m.tip, 2.0, 6.0);
    if (lit > 0) lit /= depth_falloff(t, 0.5 * (m.entry.y + m.tip.y), 2.0, 6.0);
    /* along a grown edge: a partial shadow beneath (ND_DIM_EDGE) and the
     * acquisition's own bend limit (bend_limit_px) */
    int grown_ok = m.bend_px <= bend_limit_px(t, 1) && lit >= ND_DIM_EDGE;
    for (int i = 0; i < 2; i++) {
        if (kind[i] == ND_EDGE_NOT || !along_edge(t, &m, edge[i])) continue;
        if (kind[i] == ND_EDGE_LIT ? steel_straight(t, &m) && unshadowed(t, img, &m) : grown_ok) { *best = m; return 1; }
    }
    return 0;
}

/* -------------------------------------------------------------- tracking */

static void centre(const usg_needle_tracker *t, double *cx, double *cy) {
    *cx = (t->c.w - 1) / 2.0;
    *cy = (t->c.h - 1) / 2.0;
}

/* Track coordinates of a measurement: direction angle (unwrapped near ref_deg),
 * offset of the axis from the image centre, tip and entry along the axis. */
static void meas_coords(const usg_needle_tracker *t, const nd_meas *m, double ref_deg, double *th, double *rho,
                        double *s_tip, double *s_entry) {
    double cx, cy;
    centre(t, &cx, &cy);
    double a = atan2(m->line.dy, m->line.dx) * 180.0 / M_PI;
    while (a - ref_deg > 180) a -= 360;
    while (a - ref_deg < -180) a += 360;
    *th = a;
    double dx = m->line.dx, dy = m->line.dy;
    *rho = -dy * (m->line.px - cx) + dx * (m->line.py - cy);
    *s_tip = dx * (m->tip.x - cx) + dy * (m->tip.y - cy);
    *s_entry = dx * (m->entry.x - cx) + dy * (m->entry.y - cy);
}

static nd_line track_line(const usg_needle_tracker *t) {
    double cx, cy;
    centre(t, &cx, &cy);
    double a = t->kth.x * M_PI / 180.0, dx = cos(a), dy = sin(a);
    nd_line l = {cx - t->krho.x * dy, cy + t->krho.x * dx, dx, dy};
    return l;
}

/* Variance (deg^2) of a measured axis direction: about ND_ANGLE_PX_DEG / the
 * shaft's length in px (a px of lateral noise at its ends), at least 0.3 deg. */
static double angle_var(const usg_needle_tracker *t, const nd_meas *m) {
    double L = fmax(m->len_mm / t->c.sp, 1.0), sd = fmax(ND_ANGLE_PX_DEG / L, 0.3);
    return sd * sd;
}

static void start_track(usg_needle_tracker *t, const nd_meas *m) {
    double th, rho, st, se;
    meas_coords(t, m, 0, &th, &rho, &st, &se);
    double r_th = angle_var(t, m);
    nd_kf1_init(&t->kth, th, r_th, 0.3 * 0.3, r_th);
    nd_kf1_init(&t->krho, rho, 4.0, 1.0, 0.5 * 0.5);
    nd_kf2_init(&t->ks, st, 4.0, 9.0, 1.0);
    t->s_entry = se;
    t->tracking = 1;
    t->hits = 1;
    t->misses = 0;
}

static void update_track(usg_needle_tracker *t, const nd_meas *m) {
    double th, rho, st, se;
    meas_coords(t, m, t->kth.x, &th, &rho, &st, &se);
    if (fabs(th - t->kth.x) > 8.0 || fabs(rho - t->krho.x) > 20.0) {
        start_track(t, m); /* a jump: the measurement wins */
        return;
    }
    t->kth.r = angle_var(t, m);
    nd_kf1_update(&t->kth, th);
    nd_kf1_update(&t->krho, rho);
    if (fabs(st - t->ks.x[0]) > 6.0 / t->c.sp) {
        nd_kf2_init(&t->ks, st, 4.0, t->ks.q, t->ks.r); /* the tip jumped: restart its motion */
    } else {
        nd_kf2_update(&t->ks, st);
        double vmax = ND_TIP_VMAX_MM / t->c.sp;
        if (t->ks.x[1] > vmax) t->ks.x[1] = vmax;
        if (t->ks.x[1] < -vmax) t->ks.x[1] = -vmax;
    }
    t->s_entry = se;
    t->hits++;
    t->misses = 0;
}

/* Is the track too weak to rule out a fascia (a short or faint shaft)?
 * Checked on every ND_RESEARCH-th frame of a track only: the full search
 * costs ~20 times the window. */
static int weak(const usg_needle_tracker *t, const nd_meas *m) {
    if (t->hits % ND_RESEARCH != 0) return 0;
    return m->len_mm < ND_WEAK_MM || m->snr < ND_WEAK_SNR;
}

/* Do two measurements lie on the same axis (within 5 degrees and 3 mm at the tip)? */
static int same_line(const nd_meas *a, const nd_meas *b, double sp) {
    double c = fabs(a->line.dx * b->line.dx + a->line.dy * b->line.dy);
    double off = fabs(-b->line.dy * (a->tip.x - b->line.px) + b->line.dx * (a->tip.y - b->line.py));
    return c > cos(5.0 * M_PI / 180.0) && off * sp < 3.0;
}

/* Do two measurements enter the imaged region at the same place (within 2 mm)?
 * An inserted needle's entry stays put while it advances: a line from the
 * track's entry in another direction is a chord to some other echo (a cortex
 * the needle approaches), not a better needle. */
static int same_entry(const nd_meas *a, const nd_meas *b, double sp) {
    return a->border_entry && b->border_entry && hypot(a->entry.x - b->entry.x, a->entry.y - b->entry.y) * sp < 2.0;
}

/* Is m the tracked needle's own shaft (within 5 degrees and 1.5 mm of the
 * predicted axis) with its tip ND_RETRACT_MM or more behind the predicted
 * tip? The shaft faded out and its bevel is lost (in a cortex's glare at the
 * joint): the track coasts rather than jump back centimetres. */
static int behind_prediction(const usg_needle_tracker *t, const nd_meas *m, const usg_needle *p) {
    double dx = p->tip.x - p->entry.x, dy = p->tip.y - p->entry.y, L = hypot(dx, dy);
    if (L <= 0) return 0;
    dx /= L;
    dy /= L;
    double off = fabs(-dy * (m->tip.x - p->tip.x) + dx * (m->tip.y - p->tip.y));
    double behind = dx * (p->tip.x - m->tip.x) + dy * (p->tip.y - m->tip.y);
    return fabs(m->line.dx * dx + m->line.dy * dy) > cos(5.0 * M_PI / 180.0) && off * t->c.sp < 1.5 &&
           behind * t->c.sp >= ND_RETRACT_MM;
}

/* Is m, found behind the track's tip (behind_prediction), further back than
 * the needle found behind it on the frame before, by ND_RETREAT_MM: a needle
 * being withdrawn, not a shaft fading short of its bevel (whose visible end
 * stays put)? Remembers m's place for the next frame. */
static int retreating(usg_needle_tracker *t, const nd_meas *m, const usg_needle *p) {
    double dx = p->tip.x - p->entry.x, dy = p->tip.y - p->entry.y, L = hypot(dx, dy);
    if (L <= 0) return 0;
    double u = ((m->tip.x - p->entry.x) * dx + (m->tip.y - p->entry.y) * dy) / L;
    int back = t->behind_frame == t->frame_no - 1 && (t->behind_u - u) * t->c.sp >= ND_RETREAT_MM;
    t->behind_frame = t->frame_no;
    t->behind_u = u;
    return back;
}

/* Does m continue an established track's needle (p, its prediction): on the
 * predicted line from its entry, its tip on the predicted axis near the
 * predicted tip? (A refit swung 1 mm off the axis walks the track off the
 * needle; a tip ND_RETRACT_MM behind is the deep stretch faded out: taking it
 * would stall the track.) */
static int continues(const usg_needle_tracker *t, const nd_meas *m, const usg_needle *p) {
    double dx = p->tip.x - p->entry.x, dy = p->tip.y - p->entry.y, L = hypot(dx, dy);
    if (t->hits < ND_PIN_HITS || L <= 0 || !m->border_entry || !m->tip_at_pred) return 0;
    dx /= L;
    dy /= L;
    double off = fabs(-dy * (m->tip.x - p->tip.x) + dx * (m->tip.y - p->tip.y));
    double behind = dx * (p->tip.x - m->tip.x) + dy * (p->tip.y - m->tip.y);
    return fabs(m->line.dx * dx + m->line.dy * dy) >= cos(ND_GROW_DEG * M_PI / 180.0) &&
           hypot(m->entry.x - p->entry.x, m->entry.y - p->entry.y) * t->c.sp <= ND_GROW_ENTRY_MM &&
           off * t->c.sp <= ND_CONT_OFF_MM && behind * t->c.sp < ND_RETRACT_MM;
}

/* Is the tracked needle being withdrawn (its tip moving back ND_WITHDRAW_MM a frame or faster)? */
static int withdrawing(const usg_needle_tracker *t) {
    return t->ks.x[1] * t->c.sp < -ND_WITHDRAW_MM;
}

/* Has m's axis turned more than ND_TURN_DEG from the track's (p: its
 * prediction, a shaft of ND_TURN_MM or more, or one being withdrawn, whose
 * axis is well known)? An inserted needle does not swing so far between
 * frames: a faint shaft's refit that does was pulled onto the speckle beside
 * it, and a withdrawn needle's last millimetres onto some other echo at the
 * entry. */
static int turned(const usg_needle_tracker *t, const nd_meas *m, const usg_needle *p) {
    double dx = p->tip.x - p->entry.x, dy = p->tip.y - p->entry.y, L = hypot(dx, dy);
    if (!(L > 0) || (L * t->c.sp < ND_TURN_MM && !withdrawing(t))) return 0;
    return fabs(m->line.dx * dx + m->line.dy * dy) < L * cos(ND_TURN_DEG * M_PI / 180.0);
}

/* Does the track take m (p: its prediction): a needle, or its own shaft
 * continuing fainter? Turned off the track's axis (turned), only a needle by
 * the acquisition's gates. */
static int takes(const usg_needle_tracker *t, const nd_meas *m, const usg_needle *p) {
    nd_levels lv = frame_ref(t);
    if (turned(t, m, p) && !plausible(t, m, 0)) return 0;
    return plausible(t, m, 1) || (continues(t, m, p) && implausible_at(t, &lv, m, 1, ND_VOUCH_HISTORY) == 0);
}

/* Does the track take m (p: its prediction) as its last resort: its own
 * shaft continuing (continues) fainter still, down to ND_FADING_DB over the
 * tissue (ND_VOUCH_FADING)? Asked only when neither the refit nor the
 * track's own axis gave a needle (a needle fading into a narrow display
 * range's floor at depth was lost 5 frames before the joint). */
static int takes_fading(const usg_needle_tracker *t, const nd_meas *m, const usg_needle *p) {
    nd_levels lv = frame_ref(t);
    return continues(t, m, p) && implausible_at(t, &lv, m, 1, ND_VOUCH_FADING) == 0;
}

static double meas_confidence(const nd_meas *m) {
    double a = clampd((m->snr - 3.0) / 12.0, 0, 1);
    double b = clampd(m->len_mm / 10.0, 0.3, 1);
    return clampd(0.2 + 0.8 * a * b * m->fill, 0, 1);
}

/* The point of the track's axis at s (along it from the image centre's foot). */
static usg_point track_point(const usg_needle_tracker *t, double s) {
    nd_line l = track_line(t);
    double cx, cy;
    centre(t, &cx, &cy);
    double u0 = l.dx * (l.px - cx) + l.dy * (l.py - cy); /* u of the line point from the centre */
    return nd_line_at(&l, s - u0, 0);
}

/* The track's predicted needle (coasting, and the prediction for the window). */
static void fill_output(const usg_needle_tracker *t, usg_needle *out) {
    out->found = 1;
    out->tip = track_point(t, t->ks.x[0]);
    out->entry = track_point(t, t->s_entry);
    double a = fmod(t->kth.x, 180.0);
    if (a < 0) a += 180.0;
    out->angle_deg = a;
    out->confidence = t->conf;
}

usg_status usg_needle_tracker_process(usg_needle_tracker *t, const usg_image *img, const usg_image *raw,
                                      const usg_edge *sacrum, const usg_edge *ilium, int window_only,
                                      usg_needle *out) {
    if (!t || !img || !out) return usg_fail(USG_ERR_ARG, "needle: NULL argument");
    memset(out, 0, sizeof *out);
    if (!img->data || img->width != t->c.w || img->height != t->c.h) {
        return usg_fail(USG_ERR_ARG, "needle: image is %dx%d, the tracker was made for %dx%d", img->width,
                        img->height, t->c.w, t->c.h);
    }
    (void)raw;
    t->frame_no++;
    frame_levels(t, img);
    nd_meas m;
    int got = 0;
    const usg_edge *b1 = sacrum, *b2 = ilium; /* the bone edges the needle is measured against */
    if (t->tracking) {
        nd_kf1_predict(&t->kth);
        nd_kf1_predict(&t->krho);
        nd_kf2_predict(&t->ks);
        nd_line pred = track_line(t);
        nd_hint hint = {.pinned = 0};
        usg_needle p;
        fill_output(t, &p);
        hint.entry = p.entry;
        hint.tip = p.tip;
        /* a tip the filter moves back toward the entry: the last tip holds
         * for a shaft that fades out (coasting on the prediction there fed the
         * retreat back as a measurement, and the tip crept up the shaft,
         * 2-12 mm, while the needle went on into a cortex's glare) */
        hint.hold = t->ks.x[1] < 0 ? track_point(t, t->ks.x[0] - t->ks.x[1]) : p.tip;
        hint.dx = pred.dx;
        hint.dy = pred.dy;
        hint.speed_px = fabs(t->ks.x[1]);
        hint.withdrawing = withdrawing(t);
        /* the bone stage's edges but the needle itself (track_edge) */
        if (track_edge(t, img, sacrum, &p)) b1 = NULL;
        if (track_edge(t, img, ilium, &p)) b2 = NULL;
        int okm = measure(t, img, &pred, t->r_track, &hint, b1, b2, &m);
        nd_meas refit;
        const int refit_ok = okm;
        if (refit_ok) refit = m;
        okm = okm && takes(t, &m, &p);
        if (!okm && t->hits >= ND_PIN_HITS) {
            /* a faint shaft (a steep needle's deep stretch) whose refit was
             * pulled off by the speckle: an established track's axis is better
             * than one refitted on it, so the shaft and tip are measured on it;
             * taken with its bevel found (past a faded stretch, or a bright
             * bevel at a step where the track predicts it: a 65 deg needle's
             * faint deep shaft running on to its bevel was dropped 2 frames
             * before it reached the joint), or a shaft as clear as a track
             * needs without one (a faint shaft's bright end on the pinned axis,
             * with no step, is as often a cortex beyond the tip) */
            hint.pinned = 1;
            nd_levels lv = frame_ref(t);
            okm = measure(t, img, &pred, t->r_track, &hint, b1, b2, &m) &&
                  (m.faded_mm > 0 || bevel_at_pred(&lv, &m) || (m.snr >= ND_PIN_SNR && m.fill >= ND_PIN_FILL)) &&
                  takes(t, &m, &p);
        }
        if (!okm && refit_ok && takes_fading(t, &refit, &p)) { /* the last resort */
            m = refit;
            okm = 1;
        }
        if (okm) {
            update_track(t, &m);
            got = 1;
            /* a weak track (a short or faint shaft) may be a fascia picked up
             * before the needle showed: while it stays weak the full search
             * also runs, and a clearly stronger needle elsewhere takes over */
            nd_meas a;
            if (!window_only && weak(t, &m) && acquire(t, img, sacrum, ilium, &a) && a.score > ND_SWITCH * m.score &&
                !same_line(&a, &m, t->c.sp) && !same_entry(&a, &m, t->c.sp)) {
                start_track(t, &a);
                m = a;
            }
        }
        if (!got && !window_only &&
            (acquire(t, img, sacrum, ilium, &m) || acquire_past_bone(t, img, sacrum, ilium, &m)) &&
            (!behind_prediction(t, &m, &p) || retreating(t, &m, &p))) {
            update_track(t, &m);
            got = 1;
        }
        if (!got) {
            t->misses++;
            /* (a needle being withdrawn that vanishes has left the plane or the skin) */
            if (t->misses > ND_COAST || t->hits < 3 || withdrawing(t)) {
                usg_needle_tracker_reset(t);
                return USG_OK;
            }
            t->conf *= 0.5;
            fill_output(t, out);
            out->tip = nd_tip_out_of_bone(b1, b2, out->entry, out->tip, t->c.sp);
            return USG_OK;
        }
    } else if (acquire(t, img, sacrum, ilium, &m)) {
        start_track(t, &m);
        got = 1;
    } else if (acquire_past_bone(t, img, sacrum, ilium, &m)) {
        /* the edges it was found along are the needle itself, no bone its tip may not enter
         * (one running on past the tip into the bevel's echo hooks over the axis there) */
        if (along_edge(t, &m, sacrum)) b1 = NULL;
        if (along_edge(t, &m, ilium)) b2 = NULL;
        start_track(t, &m);
        got = 1;
    }
    if (!got) return USG_OK;
    t->conf = meas_confidence(&m);
    /* a measured frame reports its measurement (sub-pixel already; smoothing
     * would only lag an advancing tip); the filter predicts and coasts */
    out->found = 1;
    out->tip = m.tip;
    out->entry = m.entry;
    if (t->hits >= 2) { /* the filtered direction (a short shaft's own is noisy): the entry swung about the tip */
        double L = hypot(m.tip.x - m.entry.x, m.tip.y - m.entry.y), th = t->kth.x * M_PI / 180.0;
        out->entry.x = m.tip.x - L * cos(th);
        out->entry.y = m.tip.y - L * sin(th);
    }
    double a = fmod(atan2(out->tip.y - out->entry.y, out->tip.x - out->entry.x) * 180.0 / M_PI, 180.0);
    out->angle_deg = a < 0 ? a + 180.0 : a;
    out->tip = nd_tip_out_of_bone(b1, b2, out->entry, out->tip, t->c.sp);
    out->confidence = t->conf;
    return USG_OK;
}
