/* sim_echo.c - the echoes of one frame: the scatterer field with bone shadow,
 * attenuation and receiver noise; the specular echoes of the cortices (with an
 * internal tail and the multiple echo at twice the depth), of fasciae and
 * fibrous septa, and of the needle (bevel tip, reverberation tail). */
#include "sim_impl.h"

#include <math.h>

#define DEG (M_PI / 180.0)

/* Echo strengths relative to muscle-like scatter (amplitude per line). */
#define A_BONE 190.0
#define BONE_FLOOR 0.25       /* diffuse share of the cortical echo at oblique incidence */
#define BONE_LOBE_DEG 35.0
#define BONE_TRANSMIT 0.07    /* amplitude passing the cortex: -23 dB */
#define BONE_ECHO 0.6         /* bone's own scatter (uniform, no fibres), re muscle-like scatter */
#define BONE_SCATTER 600.0    /* ... times this just under the cortex (trabecular scatter and
                               * reverberation; seen through the -23 dB transmission) */
#define BONE_SCATTER_MM 15.0  /* ... fading over this depth into the bone */
#define BONE_REVERB 0.006     /* probe-to-cortex multiple echo at twice the depth: -44 dB */
#define A_NEEDLE 71.0
#define NEEDLE_FLOOR 0.06
#define NEEDLE_LOBE_DEG 22.0
#define A_BEVEL 297.0        /* diffuse echo of the bevel, any angle */
#define NEEDLE_DIAMETER_MM 0.72
#define NEEDLE_REVERBS 6
#define NEEDLE_REVERB_DECAY 0.35
#define NEEDLE_STEP_PX 0.3
#define NEEDLE_SPECKLE_GAIN 6.0
#define SKIN_ECHO 2.5f
#define FACE_ECHO 10.0f


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
void sim_echo_scatterers(usg_sim *s, const sim_pose *P, sim_rng *r) {
    sim_beam *b = &s->b;
    int face = (int)ceil(0.4 / s->g.sp); /* the probe's lens ring-down */
    int skin = s->a.medium == USG_SIM_MEDIUM_WATER ? 0 : (int)ceil(s->a.skin_px);
    for (int i = 0; i < b->nl; i++) {
        float transmit = 1.0f;
        int j_bone = -1; /* first sample inside bone on this line */
        for (int j = 0; j < b->ns; j++) {
            size_t c = (size_t)i * b->ns + j;
            double qx, qy;
            sim_pose_invert(P, b->cell_x[c], b->cell_y[c], &qx, &qy);
            if (j_bone < 0 && sim_anatomy_in_bone(&s->a, qx, qy)) {
                transmit = (float)BONE_TRANSMIT;
                j_bone = j;
            }
            float e = j < face ? FACE_ECHO : j < skin ? SKIN_ECHO : sim_tissue_echo(&s->t, qx, qy);
            if (j_bone >= 0) e = (float)(BONE_ECHO * (1.0 + BONE_SCATTER * exp(-(j - j_bone) * s->g.sp / BONE_SCATTER_MM)));
            float zr, zi, fr, fi, nr, ni;
            sim_tissue_scat(&s->t, qx, qy, &zr, &zi);
            sim_rng_gauss2(r, &fr, &fi);
            sim_rng_gauss2(r, &nr, &ni);
            float amp = sqrtf(e) * transmit * b->att[j];
            float keep = (float)s->keep, fresh = (float)s->fresh, ns = (float)b->noise_sigma;
            float sr = keep * zr + fresh * fr, si = keep * zi + fresh * fi;
            if (s->speckle < 1.0) { /* the random phasor mixed with a fixed one of the same mean power (|1+i|^2 = 2) */
                float a = (float)sqrt(s->speckle), f = (float)(sqrt(1.0 - s->speckle) * sim_beam_flat_gain(b, j));
                sr = a * sr + f;
                si = a * si + f;
            }
            b->re[c] = amp * sr + ns * nr;
            b->im[c] = amp * si + ns * ni;
        }
    }
}

/* The cortical echo of one bone: a specular surface line plus an internal echo
 * tail (cortex thickness, scatter inside it) fading over about a millimetre. */
#define HAZE_LAYERS 12
#define HAZE_STEP_MM 0.2
#define HAZE_LEVEL 0.03
#define HAZE_DECAY_MM 0.8
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
        /* reverberation haze under the cortex: weak, incoherent, fading over a few mm */
        for (int l = 1; l <= HAZE_LAYERS; l++) {
            double d_mm = 1.0 + l * HAZE_STEP_MM;
            double ph = 2 * M_PI * hash_unit(s->p.seed ^ 0x68e31da4u, (uint64_t)(id * 64 + l), (uint64_t)k);
            double ah = a * HAZE_LEVEL * exp(-d_mm / HAZE_DECAY_MM), off = d_mm / s->g.sp;
            sim_beam_splat(&s->b, x + off * bx, y + off * by, ah * cos(ph), ah * sin(ph));
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

/* The random share of the shaft's echo at t px from the entry (needle length
 * len): scatterers of random phase and Rayleigh amplitude, fixed in the
 * needle's material (indexed from the tip, so they move with it), as
 * simulators that build the needle from scatterers and real shafts in tissue
 * show it. Scaled to the shaft's coherent amplitude a and the speckle share. */
static void needle_scatter(const usg_sim *s, double a, double len, double t, double *ar, double *ai) {
    uint64_t m = (uint64_t)(int64_t)floor((len - t) / NEEDLE_STEP_PX + 0.5) + (1u << 20);
    double u1 = fmax(1e-12, hash_unit(s->p.seed ^ 0x2545f491u, m, 1));
    double ph = 2 * M_PI * hash_unit(s->p.seed ^ 0x2545f491u, m, 2);
    double g = a * sqrt(-log(u1)) * NEEDLE_SPECKLE_GAIN * sqrt(s->p.needle_speckle);
    *ar = g * cos(ph);
    *ai = g * sin(ph);
}

/* The needle: specular shaft with a bright bevel and a reverberation tail. */
static void splat_needle(usg_sim *s, const sim_pose *P, double len) {
    const sim_needle_path *n = &s->a.needle;
    double ux = P->c * n->ux - P->s * n->uy, uy = P->s * n->ux + P->c * n->uy;
    double mm = 1.0 / s->g.sp, step = NEEDLE_STEP_PX, tip_zone = 1.2 * mm;
    const double gain = s->p.needle_db == 0 ? 1.0 : pow(10.0, s->p.needle_db / 20.0);
    const double sp = s->p.needle_speckle, coherent = sp > 0 ? sqrt(1 - sp) : 1.0;
    for (double t = 0; t <= len; t += step) {
        double x, y;
        sim_pose_apply(P, n->px + t * n->ux, n->py + t * n->uy, &x, &y);
        double bx, by;
        sim_geom_beam_dir(&s->g, x, y, &bx, &by);
        double cos_inc = -uy * bx + ux * by;
        /* the bevel: brighter, and scattering diffusely so it shows at any angle */
        double bevel = len - t < tip_zone ? 1.0 - (len - t) / tip_zone : 0.0;
        double shaft = A_NEEDLE * reflectance(cos_inc, NEEDLE_FLOOR, NEEDLE_LOBE_DEG) * (1.0 + 1.2 * bevel);
        double ar = (shaft * coherent + A_BEVEL * bevel) * step * gain, ai = 0;
        if (sp > 0) {
            double sr, si;
            needle_scatter(s, shaft * step * gain, len, t, &sr, &si);
            ar += sr;
            ai += si;
        }
        sim_beam_splat(&s->b, x, y, ar, ai);
        /* multiple echoes inside the needle: delayed by its diameter each, their
         * phase advancing a quarter period (so they add in intensity, not amplitude) */
        double dr = ar, di = ai;
        for (int k = 1; k <= NEEDLE_REVERBS; k++) {
            dr *= NEEDLE_REVERB_DECAY;
            di *= NEEDLE_REVERB_DECAY;
            double off = k * NEEDLE_DIAMETER_MM * mm, ph = 0.5 * M_PI * k, c = cos(ph), sn = sin(ph);
            sim_beam_splat(&s->b, x + off * bx, y + off * by, dr * c - di * sn, dr * sn + di * c);
        }
    }
}

void sim_echo_needle(usg_sim *s, const sim_pose *P, double needle_len) {
    if (needle_len >= 0) splat_needle(s, P, needle_len);
}

void sim_echo_speculars(usg_sim *s, const sim_pose *P, double needle_len) {
    splat_septa(s, P);
    splat_bone(s, &s->a.sacrum, 0, P);
    splat_bone(s, &s->a.ilium, 1, P);
    sim_echo_needle(s, P, needle_len);
}
