/* sim_anatomy.c - the simulated anatomy drawn from the seed: tissue layers,
 * the sacral and iliac cortical surfaces forming a V toward the joint cleft,
 * the needle path toward the joint entry, and the probe jitter per frame.
 * All lengths here are in pixels of the canonical image (sacrum on the left). */
#include "sim_impl.h"

#include <math.h>
#include <stdlib.h>

#define DEG (M_PI / 180.0)
#define TABLE_STEP 0.25 /* px between tabulated surface samples */

enum { STREAM_ANATOMY = 1, STREAM_NEEDLE = 2, STREAM_JITTER = 3, STREAM_MEDIUM = 4 };

double sim_bone_y(const sim_bone *b, double x) {
    double f = (x - b->x0) / b->step;
    if (f <= 0) return b->y[0];
    if (f >= b->n - 1) return b->y[b->n - 1];
    int i = (int)f;
    double t = f - i;
    return b->y[i] * (1 - t) + b->y[i + 1] * t;
}

int sim_bone_covers(const sim_bone *b, double x) { return b->end_is_right ? x <= b->end_x : x >= b->end_x; }

int sim_anatomy_in_bone(const sim_anatomy *a, double x, double y) {
    if (a->medium == USG_SIM_MEDIUM_TISSUE) return 0;
    if (a->medium == USG_SIM_MEDIUM_WATER) return y >= sim_bone_y(&a->sacrum, x);
    if (sim_bone_covers(&a->sacrum, x)) return y >= sim_bone_y(&a->sacrum, x);
    if (sim_bone_covers(&a->ilium, x)) return y >= sim_bone_y(&a->ilium, x);
    return y >= a->cleft_floor_px;
}

int sim_anatomy_in_cleft(const sim_anatomy *a, double x, double y) {
    if (a->medium != USG_SIM_MEDIUM_SIJ) return 0;
    double xs = a->sacrum.end_x, xi = a->ilium.end_x;
    if (x <= xs || x >= xi) return 0;
    double ys = sim_bone_y(&a->sacrum, xs), yi = sim_bone_y(&a->ilium, xi);
    return y > ys + (x - xs) / (xi - xs) * (yi - ys);
}

#define CLOSE_SHARE 0.25      /* share of seeds where the two bones lie at about the same depth */
#define LEAD_REF_MM 10.0      /* the ilium's lead (how much shallower) is set this far from the cleft */
#define NEEDLE_CLEAR_MM 0.5   /* the needle line passes at least this far above the near bone's end */

/* Shape of one bone: depth rises (gets shallower) away from the cleft with
 * slope `slope` flattening after `s_flat`, a rounded corner of radius r_c at the
 * cleft end, and a small smooth wobble (none with x = NAN). */
typedef struct bone_shape { double end_y, slope, s_flat, r_c; sim_wave wobble; } bone_shape;

static double bone_profile(const bone_shape *s, double dist, double x) {
    double kappa = s->slope / (2.0 * s->s_flat);
    double d = dist < s->s_flat ? dist : s->s_flat;
    double rise = s->slope * d - kappa * d * d;
    double corner = 0;
    if (dist < s->r_c) {
        double q = s->r_c - dist;
        corner = s->r_c - sqrt(s->r_c * s->r_c - q * q);
    }
    double taper = dist < 4.0 * s->r_c ? dist / (4.0 * s->r_c) : 1.0; /* no wobble at the very end */
    return s->end_y - rise + corner + (isnan(x) ? 0.0 : taper * sim_wave_eval(&s->wobble, x));
}

static usg_status bone_table(sim_bone *b, const bone_shape *s, double end_x, int left_bone, double x_lo, double x_hi) {
    b->step = TABLE_STEP;
    b->end_x = end_x;
    b->end_is_right = left_bone;
    b->x0 = left_bone ? x_lo : end_x;
    double x1 = left_bone ? end_x : x_hi;
    b->n = (int)floor((x1 - b->x0) / b->step) + 1;
    if (b->n < 2) return usg_fail(USG_ERR_ARG, "simulator: bone outside the image");
    if (left_bone) b->x0 = end_x - (b->n - 1) * b->step; /* a sample exactly at the end */
    b->y = malloc(sizeof(double) * (size_t)b->n);
    if (!b->y) return usg_fail(USG_ERR_NOMEM, "simulator: out of memory for a bone surface");
    for (int i = 0; i < b->n; i++) {
        double x = b->x0 + i * b->step;
        b->y[i] = bone_profile(s, fabs(x - end_x), x);
    }
    return USG_OK;
}

/* The joint entry: midpoint of the closest pair of points between the two
 * tabulated surfaces (searched within `reach` px of the cleft ends). */
static void exact_target(sim_anatomy *a, double reach) {
    const sim_bone *s = &a->sacrum, *i = &a->ilium;
    int s0 = s->n - 1 - (int)(reach / s->step), i1 = (int)(reach / i->step);
    if (s0 < 0) s0 = 0;
    if (i1 > i->n - 1) i1 = i->n - 1;
    double best = INFINITY;
    for (int k = s0; k < s->n; k++) {
        double px = s->x0 + k * s->step, py = s->y[k];
        for (int j = 0; j < i1; j++) {
            double ax = i->x0 + j * i->step, ay = i->y[j], bx = ax + i->step, by = i->y[j + 1];
            double dx = bx - ax, dy = by - ay, t = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy);
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double cx = ax + t * dx, cy = ay + t * dy, d = hypot(px - cx, py - cy);
            if (d < best) {
                best = d;
                a->target_x = 0.5 * (px + cx);
                a->target_y = 0.5 * (py + cy);
            }
        }
    }
}

/* Image depth (px) below the face at the image centre. */
static double image_depth(const sim_geom *g) {
    return g->kind == USG_GEOM_CURVILINEAR ? g->r_out - g->r_in : g->h - 1.0;
}

/* Skin height at x: the probe face (arc or top row), or the fan's corner height outside it. */
static double skin_y(const sim_geom *g, double x) {
    if (g->kind != USG_GEOM_CURVILINEAR) return 0.0;
    double dx = x - g->ax, half = g->r_in * sin(g->a1_deg * DEG);
    if (fabs(dx) >= half) return g->ay + g->r_in * cos(g->a1_deg * DEG);
    return g->ay + sqrt(g->r_in * g->r_in - dx * dx);
}

/* 1 if the point is in bone or closer than `clear` px above a bone surface. */
static int near_bone(const sim_anatomy *a, double x, double y, double clear) {
    return sim_anatomy_in_bone(a, x, y + clear) || sim_anatomy_in_bone(a, x - clear, y) ||
           sim_anatomy_in_bone(a, x + clear, y);
}

/* Insertion angle from horizontal: the parameter, else drawn from the seed (12..40 deg). */
static double sim_needle_angle(const usg_sim_params *p) {
    if (p->needle_angle_deg > 0) return p->needle_angle_deg;
    sim_rng r;
    sim_rng_seed(&r, p->seed, STREAM_NEEDLE);
    return sim_rng_range(&r, 12.0, 40.0);
}

static usg_status build_needle(sim_anatomy *a, const usg_sim_params *p, const sim_geom *g) {
    sim_needle_path *n = &a->needle;
    n->present = p->needle != USG_SIM_NEEDLE_NONE;
    if (!n->present) return USG_OK;
    sim_rng r;
    sim_rng_seed(&r, p->seed, STREAM_NEEDLE);
    (void)sim_rng_uniform(&r); /* the angle's draw, see sim_needle_angle */
    double mm = 1.0 / g->sp;
    double theta = sim_needle_angle(p);
    n->angle_deg = theta;
    int from_right = p->needle == USG_SIM_NEEDLE_LATERAL; /* canonical: ilium on the right */
    n->ux = (from_right ? -1.0 : 1.0) * cos(theta * DEG);
    n->uy = sin(theta * DEG);
    /* aim beside the target by the requested miss, on the superficial side */
    double nx = n->uy, ny = -n->ux;
    if (ny > 0) { nx = -nx; ny = -ny; }
    double ax = a->target_x + p->needle_miss_mm * mm * nx, ay = a->target_y + p->needle_miss_mm * mm * ny;
    double standoff = sim_rng_range(&r, 0.0, 1.5) * mm;
    /* back along the path to the skin */
    double t = 0;
    while (ay - t * n->uy > skin_y(g, ax - t * n->ux)) t += 0.25;
    n->px = ax - t * n->ux;
    n->py = ay - t * n->uy;
    double len = t - standoff;
    /* stop before touching bone: walk the path */
    double clear = 0.4 * mm; /* the needle radius, with a margin */
    for (double s = 0; s <= len; s += 0.25) {
        if (near_bone(a, n->px + s * n->ux, n->py + s * n->uy, clear)) {
            len = s - 0.25;
            break;
        }
    }
    n->len_final = len;
    /* where the path enters the imaged region (zero jitter) */
    double entry = -1;
    for (double s = 0; s <= len; s += 0.25) {
        if (sim_geom_inside(g, n->px + s * n->ux, n->py + s * n->uy)) {
            entry = s;
            break;
        }
    }
    if (entry < 0 || len - entry < 5.0 * mm) {
        return usg_fail(USG_ERR_ARG, "simulator: needle at %.1f deg from the %s does not reach 5 mm into the image "
                        "(try another angle, side or seed)", theta, from_right ? "right" : "left");
    }
    double first = entry + sim_rng_range(&r, 5.0, 9.0) * mm;
    double half = entry + 0.5 * (len - entry);
    n->len_start = first < half ? first : half;
    n->len_out = fmax(0.0, entry - 1.0 * mm); /* the tip 1 mm outside the image */
    int nfree = p->needle_free_frames;
    if (nfree < 0) { /* from the seed: 3..5, at most a third of the sequence */
        nfree = 3 + (int)(sim_rng_uniform(&r) * 3.0);
        if (nfree > p->frames / 3) nfree = p->frames / 3;
    }
    n->free_frames = nfree;
    n->withdraw_frames = p->needle_withdraw_frames;
    return USG_OK;
}

double sim_needle_length(const sim_anatomy *a, int index, int frames) {
    const sim_needle_path *n = &a->needle;
    if (!n->present || index < n->free_frames) return -1;
    /* withdrawn steadily from the deepest tip (frame `deepest`) until it is out of the image */
    int deepest = frames - 1 - n->withdraw_frames;
    if (index > deepest) return n->len_final + (n->len_out - n->len_final) * (index - deepest) / n->withdraw_frames;
    int span = deepest - n->free_frames;
    double t = span > 0 ? (double)(index - n->free_frames) / span : 1.0;
    /* advanced in three pushes: monotone, with slow phases between */
    double ease = t - 0.8 * sin(6.0 * M_PI * t) / (6.0 * M_PI);
    return n->len_start + (n->len_final - n->len_start) * ease;
}

/* Tabulate both bones with the ilium's end dy below the sacrum's around the
 * nominal joint entry, shoulders kept below `top` (fat plus some muscle), and
 * find the exact joint entry. The shapes are copied (s_flat may shrink). */
static usg_status build_bones(sim_anatomy *a, const sim_geom *g, const bone_shape *sac0, const bone_shape *ili0,
                              double dy, double cleft, double top) {
    bone_shape sac = *sac0, ili = *ili0;
    sac.end_y = a->nominal_y - dy / 2;
    ili.end_y = a->nominal_y + dy / 2;
    bone_shape *shapes[2] = {&sac, &ili};
    for (int i = 0; i < 2; i++) {
        double max_rise = shapes[i]->end_y - top;
        if (shapes[i]->slope * shapes[i]->s_flat / 2 > max_rise)
            shapes[i]->s_flat = fmax(2.0 / g->sp, 2.0 * max_rise / shapes[i]->slope);
    }
    sim_anatomy_free(a);
    double margin = 0.25 * g->w + 64, xt = a->nominal_x;
    usg_status st = bone_table(&a->sacrum, &sac, xt - cleft / 2, 1, -margin, g->w + margin);
    if (st == USG_OK) st = bone_table(&a->ilium, &ili, xt + cleft / 2, 0, -margin, g->w + margin);
    if (st == USG_OK) exact_target(a, 20.0 / g->sp);
    return st;
}

/* Smallest vertical gap (px) between the needle line aimed at the joint entry
 * (beside it by the requested miss) and the near bone's surface, over that bone. */
static double needle_gap(const sim_anatomy *a, const usg_sim_params *p, double theta_deg) {
    int lateral = p->needle == USG_SIM_NEEDLE_LATERAL;
    const sim_bone *b = lateral ? &a->ilium : &a->sacrum;
    double ux = (lateral ? -1.0 : 1.0) * cos(theta_deg * DEG), uy = sin(theta_deg * DEG);
    double nx = uy, ny = -ux;
    if (ny > 0) { nx = -nx; ny = -ny; }
    double miss = p->needle_miss_mm / p->spacing_mm;
    double ax = a->target_x + miss * nx, ay = a->target_y + miss * ny;
    double best = INFINITY;
    for (int k = 0; k < b->n; k++) {
        double x = b->x0 + k * b->step;
        double t = (x - ax) / ux; /* along the path, negative before the aim point */
        if (t > 0) continue;
        double gap = b->y[k] - (ay + t * uy);
        if (gap < best) best = gap;
    }
    return best;
}

/* Without the joint: no bone; in water, the tank's floor (a straight line
 * tilted up to 3 deg, 6-12 mm below the aim point, at least at 80 % of the
 * image depth) in the sacrum's table, covering every x. The aim point stays. */
static usg_status replace_bones(sim_anatomy *a, const usg_sim_params *p, const sim_geom *g) {
    sim_anatomy_free(a);
    a->sacrum.n = a->ilium.n = 0;
    a->medium = p->medium;
    if (p->medium != USG_SIM_MEDIUM_WATER) return USG_OK;
    sim_rng r;
    sim_rng_seed(&r, p->seed, STREAM_MEDIUM);
    double mm = 1.0 / g->sp, face = sim_geom_face_y(g);
    double floor_y = fmax(a->target_y + sim_rng_range(&r, 6.0, 12.0) * mm, face + 0.8 * image_depth(g));
    double slope = tan(sim_rng_range(&r, -3.0, 3.0) * DEG), margin = 0.25 * g->w + 64;
    sim_bone *b = &a->sacrum;
    b->step = TABLE_STEP;
    b->x0 = -margin;
    b->n = (int)floor((g->w + 2 * margin) / b->step) + 1;
    b->end_x = INFINITY;
    b->end_is_right = 1;
    b->y = malloc(sizeof(double) * (size_t)b->n);
    if (!b->y) return usg_fail(USG_ERR_NOMEM, "simulator: out of memory for the tank floor");
    for (int i = 0; i < b->n; i++) b->y[i] = floor_y + slope * (b->x0 + i * b->step - a->target_x);
    sim_wave_init(&b->amp_mod, &r, 0.3, 4 * mm, 20 * mm);
    return USG_OK;
}

usg_status sim_anatomy_build(sim_anatomy *a, const usg_sim_params *p, const sim_geom *g) {
    a->medium = USG_SIM_MEDIUM_SIJ;
    sim_rng r;
    sim_rng_seed(&r, p->seed, STREAM_ANATOMY);
    double mm = 1.0 / g->sp;
    double face = sim_geom_face_y(g), depth = image_depth(g);
    double depth_mm = depth / mm;
    /* joint entry */
    double dt_mm = p->target_depth_mm;
    if (dt_mm <= 0) {
        double lo = fmax(0.45 * depth_mm, 12.0), hi = fmin(0.65 * depth_mm, 60.0);
        dt_mm = sim_rng_range(&r, lo, hi > lo ? hi : lo + 1e-9);
    } else {
        (void)sim_rng_uniform(&r); /* keep the stream aligned */
    }
    if (dt_mm > 0.8 * depth_mm || dt_mm < 8.0) {
        return usg_fail(USG_ERR_ARG, "simulator: target depth %.1f mm does not fit an image %.1f mm deep "
                        "(8 mm .. 80 %% of the depth)", dt_mm, depth_mm);
    }
    a->target_x = a->nominal_x = (g->w - 1) / 2.0 + sim_rng_range(&r, -0.12, 0.12) * g->w;
    a->target_y = a->nominal_y = face + dt_mm * mm;
    /* soft-tissue layers */
    a->skin_px = sim_rng_range(&r, 1.2, 2.2) * mm;
    a->fat_px = fmax(3.0, sim_rng_range(&r, 0.15, 0.35) * dt_mm) * mm;
    sim_wave_init(&a->fat_wave, &r, sim_rng_range(&r, 0.8, 2.5) * mm, 15 * mm, 60 * mm);
    a->fibre_deg = sim_rng_range(&r, -20.0, 20.0);
    /* cortices: both slope down toward the cleft; the ilium (the posterior
     * iliac border, lateral) is the steeper and usually the shallower bone */
    double cleft = sim_rng_range(&r, 2.0, 5.5) * mm;
    double lead = (sim_rng_uniform(&r) < CLOSE_SHARE ? sim_rng_range(&r, -0.3, 1.0) : sim_rng_range(&r, 1.5, 5.0)) * mm;
    int near_left = p->needle == USG_SIM_NEEDLE_MEDIAL, near_right = p->needle == USG_SIM_NEEDLE_LATERAL;
    double theta = sim_needle_angle(p);
    bone_shape sac, ili;
    sac.r_c = sim_rng_range(&r, 0.6, 1.4) * mm;
    ili.r_c = sim_rng_range(&r, 0.6, 1.4) * mm;
    double slope_i = sim_rng_range(&r, 16.0, 40.0), ratio = sim_rng_range(&r, 0.35, 0.75);
    if (near_right) slope_i = fmax(3.0, fmin(slope_i, theta - 10.0)); /* the needle passes over the ilium */
    double slope_s = ratio * slope_i;
    if (near_left) slope_s = fmax(2.0, fmin(slope_s, theta - 12.0));  /* ... over the sacrum */
    sac.slope = tan(slope_s * DEG);
    ili.slope = tan(slope_i * DEG);
    sac.s_flat = sim_rng_range(&r, 25.0, 50.0) * mm;
    ili.s_flat = sim_rng_range(&r, 25.0, 50.0) * mm;
    sim_wave_init(&sac.wobble, &r, sim_rng_range(&r, 0.1, 0.45) * mm, 10 * mm, 40 * mm);
    sim_wave_init(&ili.wobble, &r, sim_rng_range(&r, 0.1, 0.45) * mm, 10 * mm, 40 * mm);
    /* end depths (dy: the ilium's end below the sacrum's) giving the lead 10 mm
     * from the cleft; then, with a needle, the near bone's end lowered until the
     * needle line toward the joint entry clears it */
    double dref = LEAD_REF_MM * mm;
    sac.end_y = ili.end_y = 0;
    double dy = bone_profile(&sac, dref, NAN) - bone_profile(&ili, dref, NAN) - lead;
    usg_status st = USG_OK;
    for (int it = 0; it < 12; it++) {
        st = build_bones(a, g, &sac, &ili, dy, cleft, face + a->fat_px + 8.5 * mm);
        if (st != USG_OK || p->needle == USG_SIM_NEEDLE_NONE) break;
        double short_by = NEEDLE_CLEAR_MM * mm - needle_gap(a, p, theta);
        if (short_by <= 0.02 * mm) break;
        dy += (near_right ? 2.0 : -2.0) * short_by;
    }
    if (st != USG_OK) return st;
    sim_wave_init(&a->sacrum.amp_mod, &r, 0.6, 4 * mm, 20 * mm);
    sim_wave_init(&a->ilium.amp_mod, &r, 0.6, 4 * mm, 20 * mm);
    a->cleft_floor_px = fmax(sim_bone_y(&a->sacrum, a->sacrum.end_x), sim_bone_y(&a->ilium, a->ilium.end_x)) + 0.5 * mm + sim_rng_range(&r, 4.0, 9.0) * mm;
    /* intermuscular fascia between the fat and the shallowest bone */
    double shallowest = fmin(sim_bone_y(&a->sacrum, a->sacrum.x0), sim_bone_y(&a->ilium, a->ilium.x0 + (a->ilium.n - 1) * a->ilium.step));
    a->has_inter = sim_rng_uniform(&r) < 0.6;
    a->inter_px = a->fat_px + sim_rng_range(&r, 0.35, 0.6) * (shallowest - face - a->fat_px);
    sim_wave_init(&a->inter_wave, &r, sim_rng_range(&r, 0.8, 2.0) * mm, 20 * mm, 70 * mm);
    /* probe jitter: smooth functions of the frame index */
    sim_rng rj;
    sim_rng_seed(&rj, p->seed, STREAM_JITTER);
    sim_wave_init(&a->jit_x, &rj, 1.0, 8.0, 30.0);
    sim_wave_init(&a->jit_y, &rj, 0.35, 8.0, 30.0);
    sim_wave_init(&a->jit_rot, &rj, 1.0, 10.0, 40.0);
    if (p->medium != USG_SIM_MEDIUM_SIJ && (st = replace_bones(a, p, g)) != USG_OK) return st;
    return build_needle(a, p, g);
}

void sim_anatomy_free(sim_anatomy *a) {
    free(a->sacrum.y);
    free(a->ilium.y);
    a->sacrum.y = a->ilium.y = NULL;
}

void sim_pose_for_frame(const sim_anatomy *a, const sim_geom *g, double jitter_px, int index, sim_pose *P) {
    double k = index;
    double rot = sim_wave_eval(&a->jit_rot, k) * 0.6 * DEG * (jitter_px * g->sp / 0.5);
    P->c = cos(rot);
    P->s = sin(rot);
    P->cx = (g->w - 1) / 2.0;
    P->cy = sim_geom_face_y(g);
    P->tx = sim_wave_eval(&a->jit_x, k) * jitter_px;
    P->ty = sim_wave_eval(&a->jit_y, k) * jitter_px;
}

void sim_pose_apply(const sim_pose *P, double x, double y, double *ox, double *oy) {
    double dx = x - P->cx, dy = y - P->cy;
    *ox = P->c * dx - P->s * dy + P->cx + P->tx;
    *oy = P->s * dx + P->c * dy + P->cy + P->ty;
}

void sim_pose_invert(const sim_pose *P, double x, double y, double *ox, double *oy) {
    double dx = x - P->cx - P->tx, dy = y - P->cy - P->ty;
    *ox = P->c * dx + P->s * dy + P->cx;
    *oy = -P->s * dx + P->c * dy + P->cy;
}
