/* sim_impl.h - internals of the ultrasound simulator shared by src/sim*.c.
 *
 * Coordinates: "canonical" image pixels, x right, y down, sacrum on the left;
 * the medial-right case is a mirror applied at the end. The anatomy frame is
 * the canonical image frame at zero probe jitter; per frame an affine map
 * (small rotation + translation) takes anatomy points to image points. */
#ifndef USG_SIM_IMPL_H
#define USG_SIM_IMPL_H

#include <stdint.h>
#include "usg/sim.h"

/* ---- random numbers (sim_rng.c) ---------------------------------------- */

/* xoshiro256** seeded through splitmix64 from (seed, stream). */
typedef struct sim_rng { uint64_t s[4]; } sim_rng;
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(sim_rng *r);
double sim_rng_uniform(sim_rng *r);                 /* [0, 1) */
double sim_rng_range(sim_rng *r, double a, double b); /* [a, b) */
void sim_rng_gauss2(sim_rng *r, float *a, float *b);  /* two N(0,1) */

/* A smooth random 1-D function: a sum of a few sinusoids. */
#define SIM_WAVE_N 3
typedef struct sim_wave { double amp[SIM_WAVE_N], freq[SIM_WAVE_N], phase[SIM_WAVE_N]; } sim_wave;
/* Amplitude `amp` in total, periods between pmin and pmax (same unit as x). */
void sim_wave_init(sim_wave *w, sim_rng *r, double amp, double pmin, double pmax);
double sim_wave_eval(const sim_wave *w, double x);

/* Smooth value noise in [0, 1] at (x, y) with feature size `scale`. */
double sim_vnoise(uint64_t seed, double x, double y, double scale);

/* ---- geometry of the probe (sim_geom.c) -------------------------------- */

typedef struct sim_geom {
    usg_geometry kind;
    int w, h;              /* image size, px */
    double sp;             /* mm per px */
    /* curvilinear fan (px, degrees from the vertical) */
    double ax, ay, r_in, r_out, a0_deg, a1_deg;
    /* acquisition grid: lines x samples, `pad` extra lines on each side */
    int n_lines, n_samples, pad;
    double dtheta;         /* radians per line (curvilinear) */
    double theta0;         /* angle of line `pad` (curvilinear) */
} sim_geom;

/* Set up the geometry for an image; pad is the lateral kernel radius in lines. */
void sim_geom_init(sim_geom *g, usg_geometry kind, int w, int h, double sp);
void sim_geom_set_pad(sim_geom *g, int pad);
/* 1 if the canonical image point (x, y) is inside the imaged region. */
int sim_geom_inside(const sim_geom *g, double x, double y);
/* Image point of grid cell (line u, sample v), fractional allowed. */
void sim_geom_cell_to_image(const sim_geom *g, double u, double v, double *x, double *y);
/* Grid coordinates of an image point. */
void sim_geom_image_to_cell(const sim_geom *g, double x, double y, double *u, double *v);
/* Image point at lateral position `lat` along the face and depth `dep` below it (inverse of face_coords). */
void sim_geom_face_to_image(const sim_geom *g, double lat, double dep, double *x, double *y);
/* Depth below the probe face (px) and lateral position along it (px) of an image point. */
void sim_geom_face_coords(const sim_geom *g, double x, double y, double *lat, double *dep);
/* Unit beam direction through an image point (down for linear, radial for curvilinear). */
void sim_geom_beam_dir(const sim_geom *g, double x, double y, double *bx, double *by);
/* Spacing between adjacent lines at sample v, in px. */
double sim_geom_line_spacing(const sim_geom *g, double v);
/* y of the probe face at the image centre. */
double sim_geom_face_y(const sim_geom *g);

/* ---- anatomy (sim_anatomy.c) -------------------------------------------- */

/* A bone surface y(x), tabulated densely over [x0, x0 + (n-1) * step]; the bone body lies below. */
typedef struct sim_bone {
    double x0, step;
    int n;
    double *y;
    double end_x;          /* the cleft-side end (the x where the bone stops) */
    int end_is_right;      /* 1: the bone extends to the left of end_x (sacrum) */
    sim_wave amp_mod;      /* smooth brightness variation along x */
} sim_bone;

typedef struct sim_needle_path {
    int present;
    double px, py;         /* skin puncture (anatomy px) */
    double ux, uy;         /* unit direction, pointing into the body */
    double len_final;      /* puncture -> final tip, px */
    double len_start;      /* puncture -> tip on the first needle frame, px */
    int free_frames;
    int withdraw_frames;   /* withdrawn over the last this many frames (0: never) ... */
    double len_out;        /* ... back to this length, its tip out of the image (px) */
    double angle_deg;      /* insertion angle from horizontal */
} sim_needle_path;

typedef struct sim_anatomy {
    usg_sim_medium medium;             /* without the joint (tissue, water) the bone tables are
                                        * empty, except that in water `sacrum` holds the tank's
                                        * floor, covering every x */
    double skin_px;                    /* skin thickness */
    double fat_px;  sim_wave fat_wave; /* fat/muscle fascia depth below the face */
    int has_inter; double inter_px; sim_wave inter_wave; /* intermuscular fascia */
    double fibre_deg;                  /* muscle fibre direction from horizontal */
    sim_bone sacrum, ilium;
    double cleft_floor_px;             /* depth (y) where bone closes the cleft */
    double nominal_x, nominal_y;       /* the cleft's centre as drawn (anatomy frame) */
    double target_x, target_y;         /* the joint entry (anatomy frame) */
    sim_needle_path needle;
    /* jitter */
    sim_wave jit_x, jit_y, jit_rot;
} sim_anatomy;

/* Draw the anatomy and the needle path from the parameters (canonical frame). */
usg_status sim_anatomy_build(sim_anatomy *a, const usg_sim_params *p, const sim_geom *g);
void sim_anatomy_free(sim_anatomy *a);
/* Surface y of a bone at x (linear interpolation; clamps at the table ends). */
double sim_bone_y(const sim_bone *b, double x);
/* 1 if x lies within the bone's extent (left of the end for the sacrum, right for the ilium). */
int sim_bone_covers(const sim_bone *b, double x);
/* 1 if the anatomy point lies in the joint cleft (between the bone ends, below the line joining them). */
int sim_anatomy_in_cleft(const sim_anatomy *a, double x, double y);
/* 1 if the anatomy point is inside bone (either bone, or the floor of the cleft). */
int sim_anatomy_in_bone(const sim_anatomy *a, double x, double y);

/* Per-frame pose: image = R(rot) * (anatomy - c) + c + t. */
typedef struct sim_pose { double c, s, cx, cy, tx, ty; } sim_pose;
void sim_pose_for_frame(const sim_anatomy *a, const sim_geom *g, double jitter_px, int index, sim_pose *P);
void sim_pose_apply(const sim_pose *P, double x, double y, double *ox, double *oy);
void sim_pose_invert(const sim_pose *P, double x, double y, double *ox, double *oy);

/* Needle length (puncture -> tip, px) at frame `index`, or -1 if no needle shows. */
double sim_needle_length(const sim_anatomy *a, int index, int frames);

/* ---- tissue echogenicity map (sim_tissue.c) ---------------------------- */

/* A specular soft-tissue interface (fascia, fibrous septum): anatomy px, amplitude per px. */
typedef struct sim_seg { float x0, y0, x1, y1, amp; } sim_seg;

typedef struct sim_tissue {
    sim_seg *segs;   /* specular interfaces, rendered per frame */
    int nseg, seg_cap;
    int w, h, m;     /* map covers x in [-m, w+m), y in [-m, h+m) of the anatomy frame */
    int stride;
    float *echo;     /* echogenicity (scatterer variance), muscle ~ 1 */
    float *scat;     /* fixed complex scatterers, 2 floats per cell */
} sim_tissue;

usg_status sim_tissue_build(sim_tissue *t, const sim_anatomy *a, const sim_geom *g,
                            const usg_sim_params *p, int margin);
void sim_tissue_free(sim_tissue *t);
/* Echogenicity at an anatomy point (bilinear; edge-clamped). */
float sim_tissue_echo(const sim_tissue *t, double x, double y);
/* Fixed scatterer at an anatomy point (nearest cell). */
void sim_tissue_scat(const sim_tissue *t, double x, double y, float *re, float *im);

/* ---- beam formation and display (sim_beam.c) ---------------------------- */

typedef struct sim_beam {
    const sim_geom *g;
    int nl, ns;              /* grid lines (incl. pad) x samples */
    float *re, *im;          /* field, line-major: [line * ns + sample] */
    float *re2, *im2;        /* scratch for the lateral pass */
    float *cell_x, *cell_y;  /* image position of each cell */
    float *att, *tgc;        /* per sample: amplitude attenuation and TGC gain */
    float *lat_w;            /* lateral kernels: [(k + R) * ns + sample] */
    int lat_r;
    float *ax_w; int ax_r;   /* axial kernel (unit energy) */
    double ax_sigma;         /* axial sigma, samples */
    float *grey;             /* log-compressed grid, [line * ns + sample] */
    float *map_u, *map_v;    /* scan conversion: grid coords per image px (u < 0: outside) */
    double level_top;        /* dB mapped to white (before gain) */
    double gain_db, dr_db;
    double noise_sigma;
    double floor_power;      /* mean intensity of the noise floor after TGC */
} sim_beam;

usg_status sim_beam_new(sim_beam *b, sim_geom *g, const usg_sim_params *p);
void sim_beam_free(sim_beam *b);
/* Splat a specular point echo at image point (x, y) with complex amplitude (ar, ai)
 * into the axially filtered field (before the lateral pass). */
void sim_beam_splat(sim_beam *b, double x, double y, double ar, double ai);
/* Axial pass over the scatterer field (in place). */
void sim_beam_axial(sim_beam *b);
/* For a scatter field with no speckle (one fixed phasor everywhere) at sample
 * j of a line: the amplitude factor that gives it, after the point-spread
 * function, the mean power random scatter of the same strength has (a fixed
 * phasor sums coherently over the PSF, random ones do not). */
double sim_beam_flat_gain(const sim_beam *b, int j);
/* Lateral pass, envelope, TGC, the electronic noise floor (white, drawn from r),
 * video smoothing and log compression into b->grey. */
void sim_beam_finish(sim_beam *b, sim_rng *r);
/* The same without the noise floor, and into dB above the level shown as
 * black, unclamped (at least -200): an echo alone, to lay over another image. */
void sim_beam_finish_levels(sim_beam *b);
/* Scan convert b->grey into a canonical image (w x h). */
void sim_beam_scan_convert(const sim_beam *b, usg_image *img);
/* Scan convert the levels of sim_beam_finish_levels into `out` (w x h floats,
 * -200 outside the imaged region). */
void sim_beam_scan_convert_levels(const sim_beam *b, float *out);

/* ---- scanner UI around the image (sim_ui.c) ----------------------------- */

typedef struct sim_ui_layout { int frame_w, frame_h, clip_x, clip_y; } sim_ui_layout;
void sim_ui_layout_for(int w, int h, sim_ui_layout *L);
/* Paint the UI frame around an already-placed image: text, depth ticks, grey bar. */
void sim_ui_paint(usg_image *frame, const sim_ui_layout *L, const sim_geom *g,
                  const usg_sim_params *p, int index);

/* ---- the simulator object (sim.c) and its stages -------------------------- */

struct usg_sim {
    usg_sim_params p;
    sim_geom g;
    sim_anatomy a;
    sim_tissue t;
    sim_beam b;
    usg_image canon;       /* the image before mirroring and the UI frame */
    sim_ui_layout L;       /* written frame size and the image's place in it */
    double jitter_px;      /* probe jitter amplitude */
    double keep, fresh;    /* speckle mix: sqrt(1 - decorrelation), sqrt(decorrelation) */
    double speckle;        /* speckle share of the scatter (usg_sim_params.speckle), 0..1 */
    float *layer;          /* usg_sim_render_over: the needle alone, dB above black (w x h) */
    double tissue_grey;    /* usg_sim_render_over: median grey of this simulator's own tissue, -1 before */
};

/* Echoes of one frame (sim_echo.c): scatterers with shadow, attenuation and
 * noise into the beam grid, then (after the axial pass) the specular echoes. */
void sim_echo_scatterers(usg_sim *s, const sim_pose *P, sim_rng *r);
void sim_echo_speculars(usg_sim *s, const sim_pose *P, double needle_len);
/* The needle's echoes alone (shaft, bevel, reverberation tail) into the beam grid. */
void sim_echo_needle(usg_sim *s, const sim_pose *P, double needle_len);

/* Exact truth of one frame in written-frame px (sim_truth.c). */
void sim_truth_make(const usg_sim *s, int index, const sim_pose *P, double needle_len, usg_result *r);

#endif
