/* sim_beam.c - image formation: separable point-spread function on the
 * (line, sample) grid (axial Gaussian, lateral Gaussian widening with depth),
 * depth attenuation, receiver noise, time-gain compensation, envelope, log
 * compression to a dynamic range, and scan conversion into the image. */
#include "sim_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ATTEN_DB_CM_MHZ 0.5   /* soft-tissue attenuation */
#define TGC_SHARE 0.9         /* share of the round-trip attenuation the TGC gives back */
#define TGC_MAX_DB 30.0       /* the TGC sliders' range */
#define NOISE_DB (-55.0)      /* receiver noise relative to muscle-like scatter at the face */
#define FLOOR_DB (4.0)       /* electronic noise floor after TGC (white per sample, then
                               * smoothed by the video filter): the faint grey texture that
                               * fills an acoustic shadow and the deepest speckle nulls */
#define LEVEL_TOP_DB 61.5     /* echo level (dB re muscle rms) shown as white at 0 dB gain */

static double freq_of(const usg_sim_params *p) {
    if (p->freq_mhz > 0) return p->freq_mhz;
    return p->geometry == USG_GEOM_CURVILINEAR ? 3.5 : 7.5;
}

/* Lateral FWHM in mm at depth d mm: aperture-limited, widening with depth. */
static double lateral_fwhm_mm(double f, double d_mm) { return 6.0 / f + 0.1 / f * d_mm; }

static double axial_fwhm_mm(double f) { return 3.0 / f; }

static usg_status alloc_f(float **p, size_t n) {
    *p = calloc(n, sizeof(float));
    return *p ? USG_OK : usg_fail(USG_ERR_NOMEM, "simulator: out of memory for the beam grid");
}

/* Lateral kernels per sample (unit energy), radius R lines. */
static void lateral_kernels(sim_beam *b, double f) {
    const sim_geom *g = b->g;
    int R = b->lat_r;
    for (int j = 0; j < b->ns; j++) {
        double sigma = lateral_fwhm_mm(f, j * g->sp) / 2.3548 / g->sp / sim_geom_line_spacing(g, j);
        double e = 0;
        for (int k = -R; k <= R; k++) {
            double w = exp(-(double)k * k / (2 * sigma * sigma));
            b->lat_w[(size_t)(k + R) * b->ns + j] = (float)w;
            e += w * w;
        }
        float norm = (float)(1.0 / sqrt(e));
        for (int k = -R; k <= R; k++) b->lat_w[(size_t)(k + R) * b->ns + j] *= norm;
    }
}

static int lateral_radius(const sim_geom *g, double f) {
    double smax = 0;
    for (int j = 0; j < g->n_samples; j++) {
        double s = lateral_fwhm_mm(f, j * g->sp) / 2.3548 / g->sp / sim_geom_line_spacing(g, j);
        if (s > smax) smax = s;
    }
    return (int)ceil(3.0 * smax);
}

static void scan_map(sim_beam *b) {
    const sim_geom *g = b->g;
    for (int y = 0; y < g->h; y++) {
        for (int x = 0; x < g->w; x++) {
            size_t i = (size_t)y * g->w + x;
            if (!sim_geom_inside(g, x, y)) {
                b->map_u[i] = -1;
                continue;
            }
            double u, v;
            sim_geom_image_to_cell(g, x, y, &u, &v);
            b->map_u[i] = (float)u;
            b->map_v[i] = (float)v;
        }
    }
}

usg_status sim_beam_new(sim_beam *b, sim_geom *g, const usg_sim_params *p) {
    memset(b, 0, sizeof *b);
    double f = freq_of(p);
    b->lat_r = lateral_radius(g, f);
    sim_geom_set_pad(g, b->lat_r);
    b->g = g;
    b->nl = g->n_lines;
    b->ns = g->n_samples;
    b->ax_sigma = fmax(0.6, axial_fwhm_mm(f) / 2.3548 / g->sp);
    b->ax_r = (int)ceil(3.0 * b->ax_sigma);
    size_t n = (size_t)b->nl * b->ns, npx = (size_t)g->w * g->h;
    usg_status st = USG_OK;
    float **bufs[] = {&b->re, &b->im, &b->re2, &b->im2, &b->cell_x, &b->cell_y, &b->grey};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0] && st == USG_OK; i++) st = alloc_f(bufs[i], n);
    if (st == USG_OK) st = alloc_f(&b->att, (size_t)b->ns);
    if (st == USG_OK) st = alloc_f(&b->tgc, (size_t)b->ns);
    if (st == USG_OK) st = alloc_f(&b->lat_w, (size_t)(2 * b->lat_r + 1) * b->ns);
    if (st == USG_OK) st = alloc_f(&b->ax_w, (size_t)(2 * b->ax_r + 1));
    if (st == USG_OK) st = alloc_f(&b->map_u, npx);
    if (st == USG_OK) st = alloc_f(&b->map_v, npx);
    if (st != USG_OK) {
        sim_beam_free(b);
        return st;
    }
    double e = 0;
    for (int k = -b->ax_r; k <= b->ax_r; k++) {
        double w = exp(-(double)k * k / (2 * b->ax_sigma * b->ax_sigma));
        b->ax_w[k + b->ax_r] = (float)w;
        e += w * w;
    }
    for (int k = 0; k <= 2 * b->ax_r; k++) b->ax_w[k] = (float)(b->ax_w[k] / sqrt(e));
    lateral_kernels(b, f);
    for (int j = 0; j < b->ns; j++) {
        double db = ATTEN_DB_CM_MHZ * f * 2.0 * (j * g->sp / 10.0);
        b->att[j] = (float)pow(10.0, -db / 20.0);
        b->tgc[j] = (float)pow(10.0, fmin(TGC_SHARE * db, TGC_MAX_DB) / 20.0);
    }
    for (int i = 0; i < b->nl; i++) {
        for (int j = 0; j < b->ns; j++) {
            double x, y;
            sim_geom_cell_to_image(g, i, j, &x, &y);
            b->cell_x[(size_t)i * b->ns + j] = (float)x;
            b->cell_y[(size_t)i * b->ns + j] = (float)y;
        }
    }
    scan_map(b);
    b->level_top = LEVEL_TOP_DB;
    b->gain_db = p->gain_db;
    b->dr_db = p->dynamic_range_db;
    b->noise_sigma = pow(10.0, NOISE_DB / 20.0);
    b->floor_power = pow(10.0, FLOOR_DB / 10.0);
    return USG_OK;
}

void sim_beam_free(sim_beam *b) {
    float **bufs[] = {&b->re, &b->im, &b->re2, &b->im2, &b->cell_x, &b->cell_y, &b->grey, &b->att,
                      &b->tgc, &b->lat_w, &b->ax_w, &b->map_u, &b->map_v};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
}

void sim_beam_splat(sim_beam *b, double x, double y, double ar, double ai) {
    double u, v;
    sim_geom_image_to_cell(b->g, x, y, &u, &v);
    if (u < 0 || u >= b->nl - 1 || v < -b->ax_r || v >= b->ns + b->ax_r) return;
    int i0 = (int)u;
    double fu = u - i0;
    int vi = (int)floor(v);
    double vc = v < 0 ? 0 : v >= b->ns ? b->ns - 1 : v;
    double scale = b->att[(int)vc] / sim_geom_line_spacing(b->g, vc);
    double norm = b->ax_w[b->ax_r]; /* unit-energy peak */
    double inv2s2 = 1.0 / (2 * b->ax_sigma * b->ax_sigma);
    for (int j = vi - b->ax_r; j <= vi + b->ax_r + 1; j++) {
        if (j < 0 || j >= b->ns) continue;
        double d = j - v;
        double gw = scale * norm * exp(-d * d * inv2s2);
        size_t c0 = (size_t)i0 * b->ns + j, c1 = c0 + b->ns;
        b->re[c0] += (float)(ar * gw * (1 - fu));
        b->im[c0] += (float)(ai * gw * (1 - fu));
        b->re[c1] += (float)(ar * gw * fu);
        b->im[c1] += (float)(ai * gw * fu);
    }
}

double sim_beam_flat_gain(const sim_beam *b, int j) {
    double a1 = 0, a2 = 0, l1 = 0, l2 = 0;
    for (int k = 0; k <= 2 * b->ax_r; k++) { a1 += b->ax_w[k]; a2 += (double)b->ax_w[k] * b->ax_w[k]; }
    for (int k = 0; k <= 2 * b->lat_r; k++) {
        double w = b->lat_w[(size_t)k * b->ns + j];
        l1 += w;
        l2 += w * w;
    }
    return a1 > 0 && l1 > 0 ? sqrt(a2 * l2) / (a1 * l1) : 0.0;
}

static void axial_line(const float *in, float *out, int ns, const float *w, int R) {
    for (int j = 0; j < ns; j++) {
        int ka = j - R < 0 ? R - j : 0, kb = j + R >= ns ? R + (ns - 1 - j) : 2 * R;
        float s = 0;
        for (int k = ka; k <= kb; k++) s += w[k] * in[j - R + k];
        out[j] = s;
    }
}

void sim_beam_axial(sim_beam *b) {
    for (int i = 0; i < b->nl; i++) {
        size_t o = (size_t)i * b->ns;
        axial_line(b->re + o, b->re2 + o, b->ns, b->ax_w, b->ax_r);
        axial_line(b->im + o, b->im2 + o, b->ns, b->ax_w, b->ax_r);
    }
    float *t = b->re; b->re = b->re2; b->re2 = t;
    t = b->im; b->im = b->im2; b->im2 = t;
}

/* Scanner video filter: a binomial smoothing of the detected intensity, 3 taps
 * along the beam and 5 across lines (fills the deepest speckle nulls as real
 * post-processing does, without moving echoes in depth). */
static void smooth_line(const float *in, float *out, int n, int step, const float *w, int r) {
    for (int j = 0; j < n; j++) {
        float acc = 0;
        for (int k = -r; k <= r; k++) {
            int q = j + k < 0 ? 0 : j + k >= n ? n - 1 : j + k;
            acc += w[k + r] * in[(size_t)q * step];
        }
        out[(size_t)j * step] = acc;
    }
}

/* The electronic noise floor (white, one value per sample, the same power at
 * every depth: it is added after the TGC; none when r is NULL) and the video
 * filter over both. */
static void floor_and_smooth(sim_beam *b, sim_rng *r) {
    static const float w3[3] = {0.25f, 0.5f, 0.25f};
    static const float w5[5] = {1 / 16.f, 4 / 16.f, 6 / 16.f, 4 / 16.f, 1 / 16.f};
    int nl = b->nl, ns = b->ns;
    float *p = b->grey, *tmp = b->im2; /* im2 is free after the lateral pass */
    const float fl = (float)(0.5 * b->floor_power);
    for (int i = 0; i < nl; i++) {
        float *line = p + (size_t)i * ns;
        for (int j = 0; r && j < ns; j++) {
            float nr, ni;
            sim_rng_gauss2(r, &nr, &ni);
            line[j] += fl * (nr * nr + ni * ni);
        }
        smooth_line(line, tmp + (size_t)i * ns, ns, 1, w3, 1);
    }
    for (int j = 0; j < ns; j++) smooth_line(tmp + j, p + j, nl, ns, w5, 2);
}

/* Lateral pass, envelope and TGC: the echo power into b->grey. */
static void beam_power(sim_beam *b) {
    int R = b->lat_r, ns = b->ns;
    float *ore = b->re2, *oim = b->im2;
    for (int i = 0; i < b->nl; i++) {
        memset(ore, 0, sizeof(float) * ns);
        memset(oim, 0, sizeof(float) * ns);
        for (int k = -R; k <= R; k++) {
            int src = i + k;
            if (src < 0 || src >= b->nl) continue;
            const float *w = b->lat_w + (size_t)(k + R) * ns;
            const float *sre = b->re + (size_t)src * ns, *sim = b->im + (size_t)src * ns;
            for (int j = 0; j < ns; j++) {
                ore[j] += w[j] * sre[j];
                oim[j] += w[j] * sim[j];
            }
        }
        float *pw = b->grey + (size_t)i * ns;
        for (int j = 0; j < ns; j++) pw[j] = (ore[j] * ore[j] + oim[j] * oim[j]) * b->tgc[j] * b->tgc[j];
    }
}

/* b->grey from power to dB above the level shown as black; clamped to the
 * grey range 0..255 when `clamp`, else kept in dB (at least -200). */
static void log_compress(sim_beam *b, int clamp) {
    double lo = b->level_top - b->gain_db - b->dr_db; /* dB shown as black */
    float k255 = (float)(255.0 / b->dr_db);
    size_t n = (size_t)b->nl * b->ns;
    for (size_t c = 0; c < n; c++) {
        float level = 10.0f * log10f(b->grey[c] + 1e-20f) - (float)lo;
        if (!clamp) {
            b->grey[c] = level < -200.0f ? -200.0f : level;
            continue;
        }
        float gv = level * k255;
        b->grey[c] = gv < 0 ? 0 : gv > 255 ? 255 : gv;
    }
}

void sim_beam_finish(sim_beam *b, sim_rng *r) {
    beam_power(b);
    floor_and_smooth(b, r);
    log_compress(b, 1);
}

void sim_beam_finish_levels(sim_beam *b) {
    beam_power(b);
    floor_and_smooth(b, NULL);
    log_compress(b, 0);
}

/* b->grey at grid position (u, v) (bilinear), or `outside` where u < 0. */
static float grid_sample(const sim_beam *b, float u, float v, float outside) {
    if (u < 0) return outside;
    int iu = (int)u, iv = (int)v;
    if (iu > b->nl - 2) iu = b->nl - 2;
    if (iv > b->ns - 2) iv = b->ns - 2;
    float fu = u - iu, fv = v - iv;
    const float *g0 = b->grey + (size_t)iu * b->ns + iv, *g1 = g0 + b->ns;
    float top = g0[0] + (g1[0] - g0[0]) * fu, bot = g0[1] + (g1[1] - g0[1]) * fu;
    return top + (bot - top) * fv;
}

void sim_beam_scan_convert(const sim_beam *b, usg_image *img) {
    const sim_geom *g = b->g;
    for (int y = 0; y < g->h; y++) {
        uint8_t *row = usg_image_row(img, y);
        for (int x = 0; x < g->w; x++) {
            size_t i = (size_t)y * g->w + x;
            row[x] = (uint8_t)(grid_sample(b, b->map_u[i], b->map_v[i], 0.0f) + 0.5f);
        }
    }
}

void sim_beam_scan_convert_levels(const sim_beam *b, float *out) {
    size_t n = (size_t)b->g->w * b->g->h;
    for (size_t i = 0; i < n; i++) out[i] = grid_sample(b, b->map_u[i], b->map_v[i], -200.0f);
}
