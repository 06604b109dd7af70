/* sim_rng.c - deterministic random numbers for the simulator: xoshiro256**
 * seeded by splitmix64, smooth random waves and value noise. No time, no rand(). */
#include "sim_impl.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL) ^ 0x5851f42d4c957f2dULL;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sim_rng_next(sim_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double sim_rng_uniform(sim_rng *r) { return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

double sim_rng_range(sim_rng *r, double a, double b) { return a + (b - a) * sim_rng_uniform(r); }

void sim_rng_gauss2(sim_rng *r, float *a, float *b) {
    double u1 = sim_rng_uniform(r), u2 = sim_rng_uniform(r);
    double rad = sqrt(-2.0 * log(1.0 - u1));
    double ang = 2.0 * M_PI * u2;
    *a = (float)(rad * cos(ang));
    *b = (float)(rad * sin(ang));
}

void sim_wave_init(sim_wave *w, sim_rng *r, double amp, double pmin, double pmax) {
    double weights[SIM_WAVE_N], total = 0;
    for (int i = 0; i < SIM_WAVE_N; i++) {
        weights[i] = sim_rng_range(r, 0.3, 1.0);
        total += weights[i];
    }
    for (int i = 0; i < SIM_WAVE_N; i++) {
        double period = pmin * pow(pmax / pmin, sim_rng_uniform(r));
        w->amp[i] = amp * weights[i] / total;
        w->freq[i] = 2.0 * M_PI / period;
        w->phase[i] = sim_rng_range(r, 0, 2.0 * M_PI);
    }
}

double sim_wave_eval(const sim_wave *w, double x) {
    double v = 0;
    for (int i = 0; i < SIM_WAVE_N; i++) v += w->amp[i] * sin(w->freq[i] * x + w->phase[i]);
    return v;
}

static double lattice(uint64_t seed, int64_t i, int64_t j) {
    uint64_t x = seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)j * 0xc2b2ae3d27d4eb4fULL);
    return (double)(splitmix64(&x) >> 11) * (1.0 / 9007199254740992.0);
}

static double smooth(double t) { return t * t * (3.0 - 2.0 * t); }

double sim_vnoise(uint64_t seed, double x, double y, double scale) {
    double fx = x / scale, fy = y / scale;
    double ix = floor(fx), iy = floor(fy);
    double tx = smooth(fx - ix), ty = smooth(fy - iy);
    int64_t i = (int64_t)ix, j = (int64_t)iy;
    double a = lattice(seed, i, j), b = lattice(seed, i + 1, j);
    double c = lattice(seed, i, j + 1), d = lattice(seed, i + 1, j + 1);
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}
