/* sim_tissue.c - the echogenicity map of the soft tissue (scatterer variance
 * per anatomy pixel) and the fixed complex scatterer field: subcutaneous fat
 * with lobules and septa, the fascia, gluteal muscle with fibre striations,
 * an intermuscular fascia, and the hypoechoic joint cleft. */
#include "sim_impl.h"

#include <math.h>
#include <stdlib.h>

#define DEG (M_PI / 180.0)

enum { STREAM_TISSUE = 10, STREAM_SCAT = 11, STREAM_SEPTA = 12 };
enum { LAYER_FAT = 0, LAYER_MUSCLE = 1, LAYER_CLEFT = 2 };

/* Echogenicity of the layers (muscle ~ 1 is the reference). */
#define ECHO_FAT 0.20f
#define ECHO_MUSCLE 0.85f
#define ECHO_CLEFT 0.06f
#define ECHO_FASCIA 6.0
#define ECHO_INTER 4.0

static float *cell(const sim_tissue *t, int x, int y) {
    return t->echo + (size_t)(y + t->m) * (size_t)t->stride + (size_t)(x + t->m);
}

/* A bright streak from (x0,y0) to (x1,y1): Gaussian across, tapered along,
 * added only where the layer matches. */
static void streak(sim_tissue *t, const uint8_t *layer, int want, double x0, double y0, double x1, double y1,
                   double sigma, double amp) {
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    if (len2 < 1e-9) return;
    double reach = 3.0 * sigma;
    int xa = (int)floor(fmin(x0, x1) - reach), xb = (int)ceil(fmax(x0, x1) + reach);
    int ya = (int)floor(fmin(y0, y1) - reach), yb = (int)ceil(fmax(y0, y1) + reach);
    if (xa < -t->m) xa = -t->m;
    if (ya < -t->m) ya = -t->m;
    if (xb >= t->w + t->m) xb = t->w + t->m - 1;
    if (yb >= t->h + t->m) yb = t->h + t->m - 1;
    for (int y = ya; y <= yb; y++) {
        for (int x = xa; x <= xb; x++) {
            size_t idx = (size_t)(y + t->m) * (size_t)t->stride + (size_t)(x + t->m);
            if (layer[idx] != want) continue;
            double s = ((x - x0) * dx + (y - y0) * dy) / len2;
            if (s < 0 || s > 1) continue;
            double px = x0 + s * dx - x, py = y0 + s * dy - y;
            double d2 = px * px + py * py;
            t->echo[idx] += (float)(amp * sin(M_PI * s) * exp(-d2 / (2 * sigma * sigma)));
        }
    }
}

/* Base layers, fasciae and the cleft; fills `layer`. */
static void base_layers(sim_tissue *t, uint8_t *layer, const sim_anatomy *a, const sim_geom *g, uint64_t seed) {
    double mm = 1.0 / g->sp;
    double sf = 0.35 * mm;
    for (int y = -t->m; y < t->h + t->m; y++) {
        for (int x = -t->m; x < t->w + t->m; x++) {
            double lat, dep;
            sim_geom_face_coords(g, x, y, &lat, &dep);
            double fat = a->fat_px + sim_wave_eval(&a->fat_wave, lat);
            size_t idx = (size_t)(y + t->m) * (size_t)t->stride + (size_t)(x + t->m);
            double e;
            if (dep < fat) {
                layer[idx] = LAYER_FAT;
                e = ECHO_FAT * (0.5 + 1.0 * sim_vnoise(seed, x, y, 3.0 * mm));
            } else {
                layer[idx] = LAYER_MUSCLE;
                e = ECHO_MUSCLE * (0.7 + 0.6 * sim_vnoise(seed + 1, x, y, 5.0 * mm));
            }
            double df = dep - fat;
            e += ECHO_FASCIA * (0.5 + sim_vnoise(seed + 2, lat, 0, 6.0 * mm)) * exp(-df * df / (2 * sf * sf));
            if (a->has_inter) {
                double di = dep - (a->inter_px + sim_wave_eval(&a->inter_wave, lat));
                e += ECHO_INTER * (0.4 + sim_vnoise(seed + 3, lat, 0, 8.0 * mm)) * exp(-di * di / (2 * sf * sf));
            }
            /* the joint cleft: below the line joining the two cortical ends */
            if (sim_anatomy_in_cleft(a, x, y)) {
                e = ECHO_CLEFT;
                layer[idx] = LAYER_CLEFT;
            }
            t->echo[idx] = (float)e;
        }
    }
}

/* Fibre striations in muscle and septa in fat. */
static void streaks(sim_tissue *t, const uint8_t *layer, const sim_anatomy *a, const sim_geom *g, uint64_t seed) {
    sim_rng r;
    sim_rng_seed(&r, seed, STREAM_TISSUE);
    double mm = 1.0 / g->sp;
    double area_mm2 = (double)(t->w + 2 * t->m) * (t->h + 2 * t->m) * g->sp * g->sp;
    int n = (int)(area_mm2 / 16.0);
    for (int i = 0; i < n; i++) {
        double cx = sim_rng_range(&r, -t->m, t->w + t->m - 1), cy = sim_rng_range(&r, -t->m, t->h + t->m - 1);
        int xi = (int)cx, yi = (int)cy;
        int lay = layer[(size_t)(yi + t->m) * (size_t)t->stride + (size_t)(xi + t->m)];
        double ang, len, sigma, amp;
        double u1 = sim_rng_uniform(&r), u2 = sim_rng_uniform(&r), u3 = sim_rng_uniform(&r), u4 = sim_rng_uniform(&r);
        if (lay == LAYER_CLEFT) continue;
        if (lay == LAYER_MUSCLE) {
            ang = (a->fibre_deg + (u1 - 0.5) * 14.0) * DEG;
            len = (2.0 + 9.0 * u2) * mm;
            sigma = (0.15 + 0.2 * u3) * mm;
            amp = (3.0 + 40.0 * u4 * u4) * (0.3 + 1.4 * sim_vnoise(seed + 5, cx, cy, 8.0 * mm));
        } else {
            if (u4 > 0.3) continue;
            ang = (u1 - 0.5) * 60.0 * DEG;
            len = (4.0 + 12.0 * u2) * mm;
            sigma = (0.12 + 0.12 * u3) * mm;
            amp = 4.0 + 12.0 * u3;
        }
        double hx = 0.5 * len * cos(ang), hy = 0.5 * len * sin(ang);
        streak(t, layer, lay, cx - hx, cy - hy, cx + hx, cy + hy, sigma, amp);
    }
}

/* Specular interfaces: amplitudes are per px of length, relative to muscle scatter. */
#define A_FASCIA 14.0
#define A_INTER 6.0
#define A_SEPTUM 5.0

static void add_seg(sim_tissue *t, double x0, double y0, double x1, double y1, double amp) {
    if (t->nseg >= t->seg_cap || amp <= 0) return;
    t->segs[t->nseg++] = (sim_seg){(float)x0, (float)y0, (float)x1, (float)y1, (float)amp};
}

/* A fascia following the face at depth base + wave(lat), in 2 px pieces whose
 * strength varies slowly and drops out in places (interrupted lines). */
static void fascia(sim_tissue *t, const sim_geom *g, double base, const sim_wave *w, double amp, uint64_t seed) {
    double mm = 1.0 / g->sp;
    double lo = -t->m, hi = t->w + t->m;
    if (g->kind == USG_GEOM_CURVILINEAR) {
        lo = (g->a0_deg * M_PI / 180.0 - 0.2) * g->r_in;
        hi = (g->a1_deg * M_PI / 180.0 + 0.2) * g->r_in;
    }
    double px = 0, py = 0;
    for (double lat = lo; lat <= hi; lat += 2.0) {
        double x, y;
        sim_geom_face_to_image(g, lat, base + sim_wave_eval(w, lat), &x, &y);
        if (lat > lo) {
            double v = sim_vnoise(seed, lat, 0, 5.0 * mm);
            add_seg(t, px, py, x, y, amp * fmax(0.0, 1.6 * v - 0.3));
        }
        px = x;
        py = y;
    }
}

/* Fibrous septa: short specular segments along the fibres in muscle, random in fat. */
static void septa(sim_tissue *t, const uint8_t *layer, const sim_anatomy *a, const sim_geom *g, uint64_t seed) {
    sim_rng r;
    sim_rng_seed(&r, seed, STREAM_SEPTA);
    double mm = 1.0 / g->sp;
    double area_mm2 = (double)(t->w + 2 * t->m) * (t->h + 2 * t->m) * g->sp * g->sp;
    int n = (int)(area_mm2 / 30.0);
    for (int i = 0; i < n; i++) {
        double cx = sim_rng_range(&r, -t->m, t->w + t->m - 1), cy = sim_rng_range(&r, -t->m, t->h + t->m - 1);
        double u1 = sim_rng_uniform(&r), u2 = sim_rng_uniform(&r), u3 = sim_rng_uniform(&r);
        int lay = layer[(size_t)((int)cy + t->m) * (size_t)t->stride + (size_t)((int)cx + t->m)];
        double ang, len;
        if (lay == LAYER_MUSCLE) {
            ang = (a->fibre_deg + (u1 - 0.5) * 16.0) * DEG;
            len = (3.0 + 10.0 * u2) * mm;
        } else if (lay == LAYER_FAT && u3 < 0.5) {
            ang = (u1 - 0.5) * 70.0 * DEG;
            len = (3.0 + 8.0 * u2) * mm;
        } else {
            continue;
        }
        double hx = 0.5 * len * cos(ang), hy = 0.5 * len * sin(ang);
        add_seg(t, cx - hx, cy - hy, cx + hx, cy + hy, A_SEPTUM * (0.2 + 0.8 * u3 * u3) / 0.5);
    }
}

static void scatterers(sim_tissue *t, uint64_t seed) {
    sim_rng r;
    sim_rng_seed(&r, seed, STREAM_SCAT);
    size_t n = (size_t)t->stride * (size_t)(t->h + 2 * t->m);
    for (size_t i = 0; i < n; i++) sim_rng_gauss2(&r, &t->scat[2 * i], &t->scat[2 * i + 1]);
}

usg_status sim_tissue_build(sim_tissue *t, const sim_anatomy *a, const sim_geom *g, const usg_sim_params *p,
                            int margin) {
    t->w = g->w;
    t->h = g->h;
    t->m = margin;
    t->stride = g->w + 2 * margin;
    size_t n = (size_t)t->stride * (size_t)(g->h + 2 * margin);
    t->echo = malloc(n * sizeof(float));
    t->scat = malloc(2 * n * sizeof(float));
    t->seg_cap = (int)(n * g->sp * g->sp / 30.0) + 4 * (g->w + g->h + 4 * margin) + 64;
    t->nseg = 0;
    t->segs = malloc((size_t)t->seg_cap * sizeof(sim_seg));
    uint8_t *layer = malloc(n);
    if (!t->echo || !t->scat || !t->segs || !layer) {
        free(layer);
        sim_tissue_free(t);
        return usg_fail(USG_ERR_NOMEM, "simulator: out of memory for the tissue map");
    }
    if (a->medium == USG_SIM_MEDIUM_WATER || p->plain_tissue) { /* water is anechoic: only the noise floor shows */
        const float e = a->medium == USG_SIM_MEDIUM_WATER ? 0.0f : ECHO_MUSCLE;
        for (size_t i = 0; i < n; i++) t->echo[i] = e;
    } else {
        base_layers(t, layer, a, g, p->seed * 7919u + 17u);
        streaks(t, layer, a, g, p->seed);
        fascia(t, g, a->fat_px, &a->fat_wave, A_FASCIA, p->seed * 31u + 1u);
        if (a->has_inter) fascia(t, g, a->inter_px, &a->inter_wave, A_INTER, p->seed * 31u + 2u);
        septa(t, layer, a, g, p->seed);
    }
    scatterers(t, p->seed);
    free(layer);
    return USG_OK;
}

void sim_tissue_free(sim_tissue *t) {
    free(t->echo);
    free(t->scat);
    free(t->segs);
    t->echo = t->scat = NULL;
    t->segs = NULL;
}

float sim_tissue_echo(const sim_tissue *t, double x, double y) {
    double lo = -t->m, hx = t->w + t->m - 1.001, hy = t->h + t->m - 1.001;
    x = x < lo ? lo : x > hx ? hx : x;
    y = y < lo ? lo : y > hy ? hy : y;
    int xi = (int)floor(x), yi = (int)floor(y);
    float fx = (float)(x - xi), fy = (float)(y - yi);
    const float *c = cell(t, xi, yi);
    float top = c[0] + (c[1] - c[0]) * fx;
    float bot = c[t->stride] + (c[t->stride + 1] - c[t->stride]) * fx;
    return top + (bot - top) * fy;
}

void sim_tissue_scat(const sim_tissue *t, double x, double y, float *re, float *im) {
    int xi = (int)lround(x), yi = (int)lround(y);
    if (xi < -t->m) xi = -t->m;
    if (yi < -t->m) yi = -t->m;
    if (xi >= t->w + t->m) xi = t->w + t->m - 1;
    if (yi >= t->h + t->m) yi = t->h + t->m - 1;
    size_t idx = (size_t)(yi + t->m) * (size_t)t->stride + (size_t)(xi + t->m);
    *re = t->scat[2 * idx];
    *im = t->scat[2 * idx + 1];
}
