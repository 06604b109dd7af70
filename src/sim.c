/* sim.c - the simulator's public API: parameters, the per-frame render
 * (scatterers -> PSF -> speculars -> display) and its exact ground truth. */
#include "usg/sim.h"
#include "sim_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEG (M_PI / 180.0)

/* Echo strengths relative to muscle-like scatter (amplitude per line). */
#define A_BONE 160.0
#define BONE_FLOOR 0.25       /* diffuse share of the cortical echo at oblique incidence */
#define BONE_LOBE_DEG 35.0
#define BONE_TRANSMIT 0.05    /* amplitude passing the cortex: -26 dB */
#define BONE_REVERB 0.02      /* probe-to-cortex multiple echo at twice the depth: -34 dB */
#define A_NEEDLE 60.0
#define NEEDLE_FLOOR 0.06
#define NEEDLE_LOBE_DEG 22.0
#define NEEDLE_DIAMETER_MM 0.72
#define NEEDLE_REVERBS 6
#define NEEDLE_REVERB_DECAY 0.35
#define SKIN_ECHO 2.5f
#define FACE_ECHO 10.0f

struct usg_sim {
    usg_sim_params p;
    sim_geom g;
    sim_anatomy a;
    sim_tissue t;
    sim_beam b;
    usg_image canon;
    sim_ui_layout L;
    int fw, fh;
    double jitter_px, keep, fresh;
};

void usg_sim_params_default(usg_sim_params *p) {
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->frames = 40;
    p->width = 640;
    p->height = 480;
    p->spacing_mm = 0.2;
    p->geometry = USG_GEOM_CURVILINEAR;
    p->needle = USG_SIM_NEEDLE_LATERAL;
    p->medial_side = USG_SIDE_LEFT;
    p->gain_db = 0;
    p->dynamic_range_db = 60;
    p->needle_free_frames = -1;
    p->jitter_mm = -1;
    p->decorrelation = -1;
    p->fps = 20;
}

static usg_status range_err(const char *name, double v, const char *allowed) {
    return usg_fail(USG_ERR_ARG, "simulator: %s %g is outside %s", name, v, allowed);
}

usg_status usg_sim_params_check(const usg_sim_params *p) {
    if (p->frames < 1 || p->frames > 100000) return range_err("frames", p->frames, "1..100000");
    if (p->width < 64 || p->width > 4096) return range_err("width", p->width, "64..4096");
    if (p->height < 64 || p->height > 4096) return range_err("height", p->height, "64..4096");
    if (!(p->spacing_mm >= 0.03 && p->spacing_mm <= 1.0)) return range_err("spacing_mm", p->spacing_mm, "0.03..1");
    if (p->geometry != USG_GEOM_LINEAR && p->geometry != USG_GEOM_CURVILINEAR) {
        return usg_fail(USG_ERR_ARG, "simulator: unknown geometry %d", (int)p->geometry);
    }
    if (p->needle < USG_SIM_NEEDLE_NONE || p->needle > USG_SIM_NEEDLE_MEDIAL) {
        return usg_fail(USG_ERR_ARG, "simulator: unknown needle side %d", (int)p->needle);
    }
    if (p->medial_side != USG_SIDE_LEFT && p->medial_side != USG_SIDE_RIGHT) {
        return usg_fail(USG_ERR_ARG, "simulator: medial side must be left or right");
    }
    if (!(p->gain_db >= -60 && p->gain_db <= 60)) return range_err("gain_db", p->gain_db, "-60..60");
    if (!(p->dynamic_range_db >= 20 && p->dynamic_range_db <= 100)) {
        return range_err("dynamic_range_db", p->dynamic_range_db, "20..100");
    }
    if (!(p->freq_mhz == 0 || (p->freq_mhz >= 1 && p->freq_mhz <= 20))) {
        return range_err("freq_mhz", p->freq_mhz, "1..20 (or 0 for the default)");
    }
    if (!(p->needle_angle_deg == 0 || (p->needle_angle_deg >= 5 && p->needle_angle_deg <= 75))) {
        return range_err("needle_angle_deg", p->needle_angle_deg, "5..75 (or 0 for the seed's)");
    }
    if (!(p->needle_miss_mm >= -20 && p->needle_miss_mm <= 20)) {
        return range_err("needle_miss_mm", p->needle_miss_mm, "-20..20");
    }
    if (!(p->target_depth_mm >= 0 && p->target_depth_mm <= 300)) {
        return range_err("target_depth_mm", p->target_depth_mm, "0..300");
    }
    if (p->needle_free_frames < -1 || p->needle_free_frames > p->frames) {
        return range_err("needle_free_frames", p->needle_free_frames, "-1..frames");
    }
    if (!(p->jitter_mm == -1 || (p->jitter_mm >= 0 && p->jitter_mm <= 5))) {
        return range_err("jitter_mm", p->jitter_mm, "0..5 (or -1 for the default)");
    }
    if (!(p->decorrelation == -1 || (p->decorrelation >= 0 && p->decorrelation <= 1))) {
        return range_err("decorrelation", p->decorrelation, "0..1 (or -1 for the default)");
    }
    if (!(p->fps > 0 && p->fps <= 1000)) return range_err("fps", p->fps, "0..1000");
    return USG_OK;
}

usg_status usg_sim_new(const usg_sim_params *p, usg_sim **out) {
    *out = NULL;
    usg_status st = usg_sim_params_check(p);
    if (st != USG_OK) return st;
    usg_sim *s = calloc(1, sizeof *s);
    if (!s) return usg_fail(USG_ERR_NOMEM, "simulator: out of memory");
    s->p = *p;
    sim_geom_init(&s->g, p->geometry, p->width, p->height, p->spacing_mm);
    st = sim_beam_new(&s->b, &s->g, p); /* sets the grid padding */
    if (st == USG_OK) st = sim_anatomy_build(&s->a, p, &s->g);
    if (st == USG_OK) st = sim_tissue_build(&s->t, &s->a, &s->g, p, 48 + s->g.pad);
    if (st == USG_OK) st = usg_image_alloc(&s->canon, p->width, p->height);
    if (st != USG_OK) {
        usg_sim_free(s);
        return st;
    }
    if (p->frame_ui) {
        sim_ui_layout_for(p->width, p->height, &s->L);
    } else {
        s->L.frame_w = p->width;
        s->L.frame_h = p->height;
        s->L.clip_x = s->L.clip_y = 0;
    }
    s->jitter_px = (p->jitter_mm >= 0 ? p->jitter_mm : 0.5) / p->spacing_mm;
    double fresh = p->decorrelation >= 0 ? p->decorrelation : 0.25;
    s->keep = sqrt(1.0 - fresh);
    s->fresh = sqrt(fresh);
    *out = s;
    return USG_OK;
}

void usg_sim_free(usg_sim *s) {
    if (!s) return;
    sim_beam_free(&s->b);
    sim_anatomy_free(&s->a);
    sim_tissue_free(&s->t);
    usg_image_free(&s->canon);
    free(s);
}

void usg_sim_probe(const usg_sim *s, usg_probe *out) {
    usg_probe_default(out);
    const sim_geom *g = &s->g;
    int curv = g->kind == USG_GEOM_CURVILINEAR;
    snprintf(out->name, sizeof out->name, "usguide sim %s", curv ? "C5-2 curvilinear" : "L12-5 linear");
    out->geometry = g->kind;
    out->spacing_x_mm = out->spacing_y_mm = g->sp;
    if (s->p.frame_ui) {
        out->has_clip = 1;
        out->clip_x = s->L.clip_x;
        out->clip_y = s->L.clip_y;
        out->clip_w = g->w;
        out->clip_h = g->h;
    }
    snprintf(out->orientation, sizeof out->orientation, "MF");
    out->medial_side = s->p.medial_side;
    if (curv) {
        out->apex_x = g->ax;
        out->apex_y = g->ay;
        out->radius_inner = g->r_in;
        out->radius_outer = g->r_out;
        out->angle_start_deg = g->a0_deg;
        out->angle_end_deg = g->a1_deg;
    }
}

void usg_sim_frame_size(const usg_sim *s, int *w, int *h) {
    *w = s->L.frame_w;
    *h = s->L.frame_h;
}

usg_status usg_sim_frame_alloc(const usg_sim *s, usg_image *frame) {
    return usg_image_alloc(frame, s->L.frame_w, s->L.frame_h);
}

/* ---- rendering ---------------------------------------------------------- */

static double hash_unit(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ b * 0xbf58476d1ce4e5b9ULL ^ c * 0x94d049bb133111ebULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* Specular reflectance: a lobe around normal incidence plus a diffuse floor. */
static double reflectance(double cos_inc, double floor, double lobe_deg) {
    double a = acos(fmin(1.0, fabs(cos_inc))) / (lobe_deg * DEG);
    return floor + (1.0 - floor) * exp(-a * a);
}

/* Scatterers with the bone shadow, attenuation and noise, line by line. */
static void fill_scatterers(usg_sim *s, const sim_pose *P, sim_rng *r) {
    sim_beam *b = &s->b;
    int skin = (int)ceil(s->a.skin_px), face = (int)ceil(0.4 / s->g.sp);
    for (int i = 0; i < b->nl; i++) {
        float transmit = 1.0f;
        for (int j = 0; j < b->ns; j++) {
            size_t c = (size_t)i * b->ns + j;
            double qx, qy;
            sim_pose_invert(P, b->cell_x[c], b->cell_y[c], &qx, &qy);
            if (transmit == 1.0f && sim_anatomy_in_bone(&s->a, qx, qy)) transmit = (float)BONE_TRANSMIT;
            float e = j < face ? FACE_ECHO : j < skin ? SKIN_ECHO : sim_tissue_echo(&s->t, qx, qy);
            float zr, zi, fr, fi, nr, ni;
            sim_tissue_scat(&s->t, qx, qy, &zr, &zi);
            sim_rng_gauss2(r, &fr, &fi);
            sim_rng_gauss2(r, &nr, &ni);
            float amp = sqrtf(e) * transmit * b->att[j];
            float keep = (float)s->keep, fresh = (float)s->fresh, ns = (float)b->noise_sigma;
            b->re[c] = amp * (keep * zr + fresh * fr) + ns * nr;
            b->im[c] = amp * (keep * zi + fresh * fi) + ns * ni;
        }
    }
}

/* The cortical echo of one bone: a specular surface line plus an internal echo
 * tail (cortex thickness, scatter inside it) fading over about a millimetre. */
#define CORTEX_LAYERS 12
#define CORTEX_LAYER_MM 0.09
static void splat_bone(usg_sim *s, const sim_bone *bone, int id, const sim_pose *P) {
    double px = 0, py = 0;
    for (int k = 0; k < bone->n; k++) {
        double x0 = bone->x0 + k * bone->step;
        double x, y;
        sim_pose_apply(P, x0, bone->y[k], &x, &y);
        if (k == 0) { px = x; py = y; continue; }
        double tx = x - px, ty = y - py, ds = sqrt(tx * tx + ty * ty);
        px = x; py = y;
        if (x < -s->g.pad - 8 || x > s->g.w + s->g.pad + 8 || ds <= 0) continue;
        double bx, by;
        sim_geom_beam_dir(&s->g, x, y, &bx, &by);
        double cos_inc = (-ty * bx + tx * by) / ds;
        double a = A_BONE * reflectance(cos_inc, BONE_FLOOR, BONE_LOBE_DEG) *
                   (1.0 + sim_wave_eval(&bone->amp_mod, x0)) * ds;
        sim_beam_splat(&s->b, x, y, a, 0);
        /* the multiple reflection probe face <-> cortex, seen at twice the range */
        double lat, dep, rx, ry;
        sim_geom_face_coords(&s->g, x, y, &lat, &dep);
        sim_geom_face_to_image(&s->g, lat, 2.0 * dep, &rx, &ry);
        sim_beam_splat(&s->b, rx, ry, a * BONE_REVERB, 0);
        double al = a;
        for (int l = 1; l <= CORTEX_LAYERS; l++) {
            al *= 0.8;
            /* nearly in phase from layer to layer (a smooth band), textured along the surface */
            double ph = 0.35 * l + 0.6 * (hash_unit(s->p.seed, (uint64_t)(id * 16 + l), (uint64_t)(k / 6)) - 0.5);
            double tex = 0.5 + hash_unit(s->p.seed ^ 0x5bd1e995u, (uint64_t)(id * 16 + l), (uint64_t)(k / 6));
            double off = l * CORTEX_LAYER_MM / s->g.sp;
            sim_beam_splat(&s->b, x + off * bx, y + off * by, 0.22 * tex * al * cos(ph), 0.22 * tex * al * sin(ph));
        }
    }
}

/* Specular soft-tissue interfaces (fasciae, septa), tapered at their ends,
 * not drawn inside bone or the cleft shadow. */
#define SEPTUM_FLOOR 0.15
#define SEPTUM_LOBE_DEG 25.0
static void splat_septa(usg_sim *s, const sim_pose *P) {
    const double step = 0.5;
    for (int i = 0; i < s->t.nseg; i++) {
        const sim_seg *g = &s->t.segs[i];
        double dx = g->x1 - g->x0, dy = g->y1 - g->y0, len = sqrt(dx * dx + dy * dy);
        if (len <= 0) continue;
        double ux = P->c * dx - P->s * dy, uy = P->s * dx + P->c * dy;
        int n = (int)ceil(len / step);
        for (int k = 0; k < n; k++) {
            double f = (k + 0.5) / n, ax = g->x0 + f * dx, ay = g->y0 + f * dy;
            if (sim_anatomy_in_bone(&s->a, ax, ay) || sim_anatomy_in_cleft(&s->a, ax, ay)) continue;
            double x, y, bx, by;
            sim_pose_apply(P, ax, ay, &x, &y);
            if (x < -s->g.pad - 8 || x > s->g.w + s->g.pad + 8) continue;
            sim_geom_beam_dir(&s->g, x, y, &bx, &by);
            double cos_inc = (-uy * bx + ux * by) / len;
            double taper = len > 8 ? fmin(1.0, fmin(f, 1 - f) * len / 4.0) : sin(M_PI * f);
            double a = g->amp * taper * reflectance(cos_inc, SEPTUM_FLOOR, SEPTUM_LOBE_DEG) * (len / n);
            sim_beam_splat(&s->b, x, y, a, 0);
        }
    }
}

/* The needle: specular shaft with a bright bevel and a reverberation tail. */
static void splat_needle(usg_sim *s, const sim_pose *P, double len) {
    const sim_needle_path *n = &s->a.needle;
    double ux = P->c * n->ux - P->s * n->uy, uy = P->s * n->ux + P->c * n->uy;
    double mm = 1.0 / s->g.sp, step = 0.3, tip_zone = 1.2 * mm;
    for (double t = 0; t <= len; t += step) {
        double x, y;
        sim_pose_apply(P, n->px + t * n->ux, n->py + t * n->uy, &x, &y);
        double bx, by;
        sim_geom_beam_dir(&s->g, x, y, &bx, &by);
        double cos_inc = -uy * bx + ux * by;
        double boost = len - t < tip_zone ? 1.0 + 1.2 * (1.0 - (len - t) / tip_zone) : 1.0;
        double a = A_NEEDLE * reflectance(cos_inc, NEEDLE_FLOOR, NEEDLE_LOBE_DEG) * boost * step;
        sim_beam_splat(&s->b, x, y, a, 0);
        /* multiple echoes inside the needle: delayed by its diameter each, their
         * phase advancing a quarter period (so they add in intensity, not amplitude) */
        double decay = a;
        for (int k = 1; k <= NEEDLE_REVERBS; k++) {
            decay *= NEEDLE_REVERB_DECAY;
            double off = k * NEEDLE_DIAMETER_MM * mm, ph = 0.5 * M_PI * k;
            sim_beam_splat(&s->b, x + off * bx, y + off * by, decay * cos(ph), decay * sin(ph));
        }
    }
}

/* ---- truth -------------------------------------------------------------- */

static void edge_push(usg_edge *e, double x, double y) {
    if (e->n < USG_EDGE_MAX) e->pts[e->n++] = (usg_point){x, y};
}

/* The visible part of a bone surface, in canonical image px, one point per px of arc. */
static void truth_edge(const usg_sim *s, const sim_bone *bone, const sim_pose *P, usg_edge *e) {
    e->n = 0;
    e->found = 0;
    int best0 = -1, best1 = -1, run0 = -1;
    for (int k = 0; k <= bone->n; k++) {
        int in = 0;
        if (k < bone->n) {
            double x, y;
            sim_pose_apply(P, bone->x0 + k * bone->step, bone->y[k], &x, &y);
            in = sim_geom_inside(&s->g, x, y);
        }
        if (in && run0 < 0) run0 = k;
        if (!in && run0 >= 0) {
            if (k - 1 - run0 > best1 - best0) { best0 = run0; best1 = k - 1; }
            run0 = -1;
        }
    }
    if (best0 < 0 || best1 - best0 < 4) return;
    double lx, ly, carry = 0;
    sim_pose_apply(P, bone->x0 + best0 * bone->step, bone->y[best0], &lx, &ly);
    edge_push(e, lx, ly);
    for (int k = best0 + 1; k <= best1; k++) {
        double x, y;
        sim_pose_apply(P, bone->x0 + k * bone->step, bone->y[k], &x, &y);
        double dx = x - lx, dy = y - ly, seg = sqrt(dx * dx + dy * dy);
        double at = 1.0 - carry; /* arc position of the next point on this segment */
        while (at <= seg) {
            edge_push(e, lx + dx * at / seg, ly + dy * at / seg);
            at += 1.0;
        }
        carry = seg - (at - 1.0);
        lx = x; ly = y;
    }
    usg_point last = e->pts[e->n - 1];
    if (fabs(last.x - lx) + fabs(last.y - ly) > 1e-6) edge_push(e, lx, ly);
    /* ordered by x (a rotated near-vertical corner can step back a hair) */
    for (int i = 1; i < e->n; i++) {
        usg_point v = e->pts[i];
        int j = i - 1;
        while (j >= 0 && e->pts[j].x > v.x) { e->pts[j + 1] = e->pts[j]; j--; }
        e->pts[j + 1] = v;
    }
    e->found = 1;
}

/* Closest points of segments p1q1 and p2q2 (2-D, non-intersecting or touching). */
static double seg_seg(usg_point p1, usg_point q1, usg_point p2, usg_point q2, usg_point *c1, usg_point *c2) {
    double d1x = q1.x - p1.x, d1y = q1.y - p1.y, d2x = q2.x - p2.x, d2y = q2.y - p2.y;
    double rx = p1.x - p2.x, ry = p1.y - p2.y;
    double a = d1x * d1x + d1y * d1y, e = d2x * d2x + d2y * d2y, f = d2x * rx + d2y * ry;
    double sv, tv;
    if (a <= 1e-12 && e <= 1e-12) {
        sv = tv = 0;
    } else if (a <= 1e-12) {
        sv = 0;
        tv = fmin(1, fmax(0, f / e));
    } else {
        double c = d1x * rx + d1y * ry;
        if (e <= 1e-12) {
            tv = 0;
            sv = fmin(1, fmax(0, -c / a));
        } else {
            double b = d1x * d2x + d1y * d2y, den = a * e - b * b;
            sv = den > 1e-12 ? fmin(1, fmax(0, (b * f - c * e) / den)) : 0;
            tv = (b * sv + f) / e;
            if (tv < 0) { tv = 0; sv = fmin(1, fmax(0, -c / a)); }
            else if (tv > 1) { tv = 1; sv = fmin(1, fmax(0, (b - c) / a)); }
        }
    }
    c1->x = p1.x + d1x * sv; c1->y = p1.y + d1y * sv;
    c2->x = p2.x + d2x * tv; c2->y = p2.y + d2y * tv;
    return hypot(c1->x - c2->x, c1->y - c2->y);
}

/* Midpoint of the closest pair of points between two polylines. */
static usg_point closest_midpoint(const usg_edge *a, const usg_edge *b) {
    double best = INFINITY;
    usg_point ca = a->pts[0], cb = b->pts[0];
    for (int i = 0; i < a->n; i++) {
        for (int j = 0; j < b->n; j++) {
            double d = hypot(a->pts[i].x - b->pts[j].x, a->pts[i].y - b->pts[j].y);
            if (d > best + 3.0) continue;
            int i1 = i + 1 < a->n ? i + 1 : i, j1 = j + 1 < b->n ? j + 1 : j;
            usg_point p, q;
            double sd = seg_seg(a->pts[i], a->pts[i1], b->pts[j], b->pts[j1], &p, &q);
            if (sd < best) { best = sd; ca = p; cb = q; }
        }
    }
    return (usg_point){(ca.x + cb.x) / 2, (ca.y + cb.y) / 2};
}

/* Tip and entry of the needle in canonical image px; 0 if no part is in the image. */
static int truth_needle(const usg_sim *s, const sim_pose *P, double len, usg_needle *nd) {
    const sim_needle_path *n = &s->a.needle;
    double tx, ty;
    sim_pose_apply(P, n->px + len * n->ux, n->py + len * n->uy, &tx, &ty);
    if (!sim_geom_inside(&s->g, tx, ty)) return 0;
    double lo = 0, hi = -1;
    for (double t = 0; t <= len; t += 0.25) {
        double x, y;
        sim_pose_apply(P, n->px + t * n->ux, n->py + t * n->uy, &x, &y);
        if (sim_geom_inside(&s->g, x, y)) { hi = t; break; }
        lo = t;
    }
    if (hi < 0) return 0;
    for (int it = 0; it < 40 && hi > 0; it++) {
        double mid = 0.5 * (lo + hi), x, y;
        sim_pose_apply(P, n->px + mid * n->ux, n->py + mid * n->uy, &x, &y);
        if (sim_geom_inside(&s->g, x, y)) hi = mid; else lo = mid;
    }
    double ex, ey;
    sim_pose_apply(P, n->px + hi * n->ux, n->py + hi * n->uy, &ex, &ey);
    nd->found = 1;
    nd->tip = (usg_point){tx, ty};
    nd->entry = (usg_point){ex, ey};
    nd->confidence = 1.0;
    return 1;
}

static double axis_angle(usg_point a, usg_point b) {
    double d = atan2(b.y - a.y, b.x - a.x) / DEG;
    d = fmod(d, 180.0);
    if (d < 0) d += 180.0;
    if (d >= 180.0) d -= 180.0;
    return d;
}

/* Distance from q to the ray from e through t (and beyond). */
static double ray_distance(usg_point e, usg_point t, usg_point q) {
    double dx = t.x - e.x, dy = t.y - e.y, len = hypot(dx, dy);
    if (len <= 0) return hypot(q.x - e.x, q.y - e.y);
    double along = ((q.x - e.x) * dx + (q.y - e.y) * dy) / len;
    if (along < 0) return hypot(q.x - e.x, q.y - e.y);
    return fabs((q.x - e.x) * dy - (q.y - e.y) * dx) / len;
}

/* Canonical image px -> written frame px (mirror for medial right, then the clip offset). */
static usg_point to_frame(const usg_sim *s, usg_point p) {
    if (s->p.medial_side == USG_SIDE_RIGHT) p.x = (s->g.w - 1) - p.x;
    p.x += s->L.clip_x;
    p.y += s->L.clip_y;
    return p;
}

static void edge_to_frame(const usg_sim *s, usg_edge *e) {
    for (int i = 0; i < e->n; i++) e->pts[i] = to_frame(s, e->pts[i]);
    if (s->p.medial_side == USG_SIDE_RIGHT) {
        for (int i = 0, j = e->n - 1; i < j; i++, j--) {
            usg_point t = e->pts[i];
            e->pts[i] = e->pts[j];
            e->pts[j] = t;
        }
    }
}

static void make_truth(const usg_sim *s, int index, const sim_pose *P, double len, usg_result *r) {
    usg_result_reset(r, index, index * 1000.0 / s->p.fps);
    r->has_spacing = 1;
    r->spacing_mm = s->g.sp;
    truth_edge(s, &s->a.sacrum, P, &r->sacrum);
    truth_edge(s, &s->a.ilium, P, &r->ilium);
    if (r->sacrum.found && r->ilium.found) {
        r->target.found = 1;
        r->target.point = closest_midpoint(&r->sacrum, &r->ilium);
    }
    if (len >= 0) truth_needle(s, P, len, &r->needle);
    /* into frame coordinates */
    edge_to_frame(s, &r->sacrum);
    edge_to_frame(s, &r->ilium);
    if (r->target.found) r->target.point = to_frame(s, r->target.point);
    if (r->needle.found) {
        r->needle.tip = to_frame(s, r->needle.tip);
        r->needle.entry = to_frame(s, r->needle.entry);
        r->needle.angle_deg = axis_angle(r->needle.entry, r->needle.tip);
        if (r->target.found) {
            usg_point t = r->target.point, tip = r->needle.tip;
            r->target.has_needle_metrics = 1;
            r->target.tip_distance_mm = hypot(tip.x - t.x, tip.y - t.y) * s->g.sp;
            r->target.trajectory_miss_mm = ray_distance(r->needle.entry, tip, t) * s->g.sp;
        }
    }
}

static void compose(usg_sim *s, usg_image *frame, int index) {
    if (s->p.frame_ui) {
        for (int y = 0; y < frame->height; y++) memset(usg_image_row(frame, y), 0, (size_t)frame->width);
        sim_ui_paint(frame, &s->L, &s->g, &s->p, index);
    }
    int mirror = s->p.medial_side == USG_SIDE_RIGHT, w = s->g.w;
    for (int y = 0; y < s->g.h; y++) {
        const uint8_t *src = usg_image_row(&s->canon, y);
        uint8_t *dst = usg_image_row(frame, y + s->L.clip_y) + s->L.clip_x;
        if (!mirror) {
            memcpy(dst, src, (size_t)w);
        } else {
            for (int x = 0; x < w; x++) dst[x] = src[w - 1 - x];
        }
    }
}

usg_status usg_sim_render(usg_sim *s, int index, usg_image *frame, usg_result *truth) {
    if (index < 0 || index >= s->p.frames) {
        return usg_fail(USG_ERR_ARG, "simulator: frame %d is outside 0..%d", index, s->p.frames - 1);
    }
    if (!frame || !frame->data || frame->width != s->L.frame_w || frame->height != s->L.frame_h) {
        return usg_fail(USG_ERR_ARG, "simulator: frame buffer must be %dx%d", s->L.frame_w, s->L.frame_h);
    }
    sim_pose P;
    sim_pose_for_frame(&s->a, &s->g, s->jitter_px, index, &P);
    sim_rng r;
    sim_rng_seed(&r, s->p.seed, 1000u + (uint64_t)index);
    fill_scatterers(s, &P, &r);
    sim_beam_axial(&s->b);
    splat_septa(s, &P);
    splat_bone(s, &s->a.sacrum, 0, &P);
    splat_bone(s, &s->a.ilium, 1, &P);
    double len = sim_needle_length(&s->a, index, s->p.frames);
    if (len >= 0) splat_needle(s, &P, len);
    sim_beam_finish(&s->b);
    sim_beam_scan_convert(&s->b, &s->canon);
    compose(s, frame, index);
    if (truth) make_truth(s, index, &P, len, truth);
    return USG_OK;
}
