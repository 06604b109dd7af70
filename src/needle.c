/* needle.c - in-plane needle detection, tip localisation and tracking.
 *
 * Acquisition (full frame): half-resolution Hessian ridge filter, thinned
 * ridge pixels vote in a Hough space only near their own orientation, the
 * strongest lines are measured at full resolution. Tracking: the same
 * measurement in a strip around the Kalman prediction only.
 *
 * Measurement of a line: the image is resampled along it (a strip), the
 * across-axis ridge contrast peaks are fitted robustly (straightness), the
 * shaft is the maximal run of contrast along the axis, the tip the sub-pixel
 * half-level crossing of the intensity at its far end. Bone is rejected by
 * the acoustic shadow beneath it and by the bone stage's edges. */
#include "usg/needle.h"
#include "needle_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ND_MAX_ANGLE 78.0   /* steepest accepted axis, degrees from horizontal */
#define ND_CANDIDATES 8
#define ND_COAST 2          /* frames a lost track is still drawn (predicted) */

typedef struct nd_meas {
    nd_line line;           /* refined axis, d from entry to tip */
    double u_entry, u_tip;  /* along line */
    usg_point tip, entry;
    double noise, level, snr, len_mm, fill, rms, shadow, bone_frac, score;
    int border_entry;       /* the entry end touches the imaged region's boundary */
} nd_meas;

struct usg_needle_tracker {
    int w, h;
    double sp;              /* mm per pixel */
    uint8_t *mask;          /* w x h: 1 inside the imaged region (eroded) */
    int w2, h2;
    float *half;
    uint8_t *mask2;         /* half resolution: where ridge votes count */
    float *ridge;
    nd_hessian hs;
    nd_hough hg;
    nd_strip st;
    float *scratch;
    int scratch_cap;
    float *pk_v, *pk_c;     /* per strip column: peak offset and contrast */
    uint8_t *pk_ok;
    int flank, box_a, r_track, r_acq;
    /* track */
    int tracking, misses, hits;
    nd_kf1 kth, krho;
    nd_kf2 ks;
    double s_entry, conf;
};

/* ---------------------------------------------------------------- setup */

static usg_status make_masks(usg_needle_tracker *t, const usg_probe *probe) {
    int w = t->w, h = t->h;
    usg_image m = {t->mask, w, h, w};
    if (probe) {
        usg_status st = usg_probe_mask(probe, &m);
        if (st != USG_OK) return st;
    } else {
        memset(t->mask, 255, (size_t)w * h);
    }
    /* half resolution: all four pixels inside, then eroded by the filter radius + 1 */
    int r = t->hs.r + 1, w2 = t->w2, h2 = t->h2;
    uint8_t *a = t->mask2, *b = malloc((size_t)w2 * h2);
    if (!b) return usg_fail(USG_ERR_NOMEM, "needle: out of memory");
    for (int y = 0; y < h2; y++) {
        for (int x = 0; x < w2; x++) {
            const uint8_t *p = t->mask + (size_t)(2 * y) * w + 2 * x;
            a[y * w2 + x] = p[0] && p[1] && p[w] && p[w + 1];
        }
    }
    for (int y = 0; y < h2; y++) {
        for (int x = 0; x < w2; x++) {
            uint8_t v = 1;
            for (int k = -r; k <= r && v; k++) {
                int xx = x + k;
                v = xx >= 0 && xx < w2 && a[y * w2 + xx];
            }
            b[y * w2 + x] = v;
        }
    }
    for (int y = 0; y < h2; y++) {
        for (int x = 0; x < w2; x++) {
            uint8_t v = 1;
            for (int k = -r; k <= r && v; k++) {
                int yy = y + k;
                v = yy >= 0 && yy < h2 && b[yy * w2 + x];
            }
            a[y * w2 + x] = v;
        }
    }
    free(b);
    /* full resolution: erode by 1 px so samples never straddle the boundary */
    uint8_t *c = malloc((size_t)w * h);
    if (!c) return usg_fail(USG_ERR_NOMEM, "needle: out of memory");
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int v = t->mask[y * w + x] != 0;
            if (v && (x == 0 || y == 0 || x == w - 1 || y == h - 1)) v = 0;
            if (v) {
                v = t->mask[y * w + x - 1] && t->mask[y * w + x + 1] && t->mask[(y - 1) * w + x] &&
                    t->mask[(y + 1) * w + x];
            }
            c[y * w + x] = (uint8_t)v;
        }
    }
    memcpy(t->mask, c, (size_t)w * h);
    free(c);
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
    t->w = w;
    t->h = h;
    const usg_probe *probe = p ? p->probe : NULL;
    t->sp = probe ? usg_probe_spacing(probe) : 0;
    if (!(t->sp > 0)) t->sp = 0.15;
    t->flank = clampi((int)lrint(0.9 / t->sp), 3, 9);
    t->box_a = clampi((int)lrint(1.2 / t->sp), 3, 12);
    t->r_track = clampi((int)lrint(1.5 / t->sp), 6, 16);
    t->r_acq = clampi((int)lrint(1.8 / t->sp), 8, 20);
    t->w2 = w / 2;
    t->h2 = h / 2;
    size_t n2 = (size_t)t->w2 * t->h2;
    int cap_len = (int)ceil(hypot(w, h)) + 4;
    int cap_rows = 2 * (t->r_acq + t->flank) + 1;
    usg_status st = nd_hessian_init(&t->hs, t->w2, t->h2, clampd(0.22 / t->sp, 1.0, 3.0));
    if (st == USG_OK) st = nd_hough_init(&t->hg, t->w2, t->h2, ND_MAX_ANGLE);
    if (st == USG_OK) st = nd_strip_init(&t->st, cap_len, cap_rows);
    if (st == USG_OK) {
        t->mask = malloc((size_t)w * h);
        t->mask2 = malloc(n2);
        t->half = malloc(n2 * sizeof(float));
        t->ridge = malloc(n2 * sizeof(float));
        t->scratch_cap = 4 * cap_len + 1024;
        t->scratch = malloc((size_t)t->scratch_cap * sizeof(float));
        t->pk_v = malloc((size_t)cap_len * sizeof(float));
        t->pk_c = malloc((size_t)cap_len * sizeof(float));
        t->pk_ok = malloc((size_t)cap_len);
        if (!t->mask || !t->mask2 || !t->half || !t->ridge || !t->scratch || !t->pk_v || !t->pk_c || !t->pk_ok) {
            st = usg_fail(USG_ERR_NOMEM, "needle: out of memory for %dx%d frames", w, h);
        }
    }
    if (st == USG_OK) st = make_masks(t, probe);
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

void usg_needle_tracker_free(usg_needle_tracker *t) {
    if (!t) return;
    nd_hessian_free(&t->hs);
    nd_hough_free(&t->hg);
    nd_strip_free(&t->st);
    free(t->mask); free(t->mask2); free(t->half); free(t->ridge);
    free(t->scratch); free(t->pk_v); free(t->pk_c); free(t->pk_ok);
    free(t);
}

/* ---------------------------------------------------------- measurement */

/* Robust noise of the ridge contrast: MAD of the outermost search rows. */
static double strip_noise(usg_needle_tracker *t, int rs) {
    const nd_strip *s = &t->st;
    int n = 0;
    for (int v = -rs; v <= rs; v += 2 * rs) {
        for (int dv = 0; dv < 2; dv++) {
            int vv = v < 0 ? v + dv : v - dv;
            const float *c = nd_strip_row(s, s->con, vv);
            const uint8_t *ok = nd_strip_okrow(s, s->conok, vv);
            for (int k = 0; k < s->len && n < t->scratch_cap; k += 2) {
                if (ok[k]) t->scratch[n++] = fabsf(c[k]);
            }
        }
    }
    if (n < 20) return -1;
    double mad = nd_median(t->scratch, n) * 1.4826;
    return mad < 0.5 ? 0.5 : mad;
}

/* Per column: the contrast peak over v in [-rs, rs], sub-pixel. */
static void strip_peaks(usg_needle_tracker *t, int rs) {
    const nd_strip *s = &t->st;
    for (int k = 0; k < s->len; k++) {
        float best = -1e30f;
        int bv = 0, any = 0;
        for (int v = -rs; v <= rs; v++) {
            if (!nd_strip_okrow(s, s->conok, v)[k]) continue;
            float c = nd_strip_row(s, s->con, v)[k];
            if (c > best) { best = c; bv = v; any = 1; }
        }
        t->pk_ok[k] = (uint8_t)any;
        t->pk_c[k] = any ? best : 0;
        t->pk_v[k] = (float)bv;
        if (any && bv > -rs && bv < rs && nd_strip_okrow(s, s->conok, bv - 1)[k] &&
            nd_strip_okrow(s, s->conok, bv + 1)[k]) {
            double l = nd_strip_row(s, s->con, bv - 1)[k], r = nd_strip_row(s, s->con, bv + 1)[k];
            double den = l - 2.0 * best + r;
            if (den < 0) t->pk_v[k] = (float)(bv + clampd(0.5 * (l - r) / den, -0.5, 0.5));
        }
    }
}

/* Robust (Tukey IRLS) fit v = a + b u of the peaks above thr; refined line out. */
static int fit_axis(usg_needle_tracker *t, double thr, double scale0, nd_line *out) {
    const nd_strip *s = &t->st;
    int n = 0;
    for (int k = 0; k < s->len; k++) {
        if (t->pk_ok[k] && t->pk_c[k] > thr) t->scratch[n++] = t->pk_v[k];
    }
    if (n < 8) return 0;
    double a = nd_median(t->scratch, n), b = 0, um = 0;
    double scale = scale0;
    for (int it = 0; it < 5; it++) {
        double sw = 0, su = 0, sv = 0, suu = 0, suv = 0;
        for (int k = 0; k < s->len; k++) {
            if (!t->pk_ok[k] || t->pk_c[k] <= thr) continue;
            double u = s->u0 + k, r = t->pk_v[k] - (a + b * u);
            if (fabs(r) >= scale) continue;
            double q = 1 - (r / scale) * (r / scale), wt = t->pk_c[k] * q * q;
            sw += wt; su += wt * u; sv += wt * t->pk_v[k];
            suu += wt * u * u; suv += wt * u * t->pk_v[k];
        }
        if (sw <= 0) return 0;
        um = su / sw;
        double vm = sv / sw, var = suu / sw - um * um;
        if (var < 4.0) return 0;
        b = (suv / sw - um * vm) / var;
        a = vm - b * um;
        scale = scale * 0.7 < 2.0 ? 2.0 : scale * 0.7;
    }
    const nd_line *l = &s->line;
    usg_point p = nd_line_at(l, um, a + b * um);
    double dx = l->dx - b * l->dy, dy = l->dy + b * l->dx, nn = hypot(dx, dy);
    out->px = p.x;
    out->py = p.y;
    out->dx = dx / nn;
    out->dy = dy / nn;
    return 1;
}

/* Maximal-sum run of (c - thr) over valid columns. Returns the sum; 0 if none. */
static double best_run(const usg_needle_tracker *t, double thr, int *k0, int *k1) {
    double best = 0, cur = 0;
    int start = 0;
    *k0 = *k1 = -1;
    for (int k = 0; k < t->st.len; k++) {
        double c = t->pk_ok[k] ? t->pk_c[k] - thr : -thr;
        if (cur <= 0) { cur = 0; start = k; }
        cur += c;
        if (cur > best) { best = cur; *k0 = start; *k1 = k; }
    }
    return best;
}

/* Mean image value along `dir` from q, between d0 and d1 px; counts valid samples. */
static void band_sum(const usg_needle_tracker *t, const usg_image *img, usg_point q, double nx, double ny,
                     double d0, double d1, double *sum, int *cnt) {
    for (double d = d0; d <= d1; d += 1.0) {
        double x = q.x + d * nx, y = q.y + d * ny;
        int ix = (int)lrint(x), iy = (int)lrint(y);
        if (ix < 0 || iy < 0 || ix >= t->w || iy >= t->h || !t->mask[iy * t->w + ix]) continue;
        *sum += nd_bilinear(img, x, y);
        (*cnt)++;
    }
}

/* Below/above brightness ratio across the shaft: bone has a black shadow beneath. */
static double shadow_ratio(const usg_needle_tracker *t, const usg_image *img, const nd_meas *m) {
    double nx = -m->line.dy, ny = m->line.dx;
    if (ny < 0) { nx = -nx; ny = -ny; }
    double d0 = 2.0 / t->sp, d1 = 6.0 / t->sp, below = 0, above = 0;
    int nb = 0, na = 0;
    double lo = fmin(m->u_entry, m->u_tip), hi = fmax(m->u_entry, m->u_tip);
    for (double u = lo; u <= hi; u += 6.0) {
        usg_point q = nd_line_at(&m->line, u, 0);
        double sb = 0, sa = 0;
        int cb = 0, ca = 0;
        band_sum(t, img, q, nx, ny, d0, d1, &sb, &cb);
        band_sum(t, img, q, -nx, -ny, d0, d1, &sa, &ca);
        if (cb > 3 && ca > 3) {
            below += sb / cb;
            above += sa / ca;
            nb++;
            na++;
        }
    }
    if (nb < 2 || na < 2 || above <= 0) return 1.0;
    return below / above;
}

/* Share of shaft stations within 1.5 mm of a bone edge. */
static double bone_fraction(const usg_needle_tracker *t, const nd_meas *m, const usg_edge *e1, const usg_edge *e2) {
    const usg_edge *edges[2] = {e1, e2};
    double lim = 1.5 / t->sp, lim2 = lim * lim;
    int near = 0, tot = 0;
    double lo = fmin(m->u_entry, m->u_tip), hi = fmax(m->u_entry, m->u_tip);
    for (double u = lo; u <= hi; u += 4.0) {
        usg_point q = nd_line_at(&m->line, u, 0);
        int hit = 0;
        for (int e = 0; e < 2 && !hit; e++) {
            const usg_edge *ed = edges[e];
            if (!ed || !ed->found || ed->n < 2) continue;
            int a = 0, b = ed->n - 1;
            while (a < b) { /* first point with x >= q.x - lim */
                int mid = (a + b) / 2;
                if (ed->pts[mid].x < q.x - lim) a = mid + 1;
                else b = mid;
            }
            for (int i = a; i < ed->n && ed->pts[i].x <= q.x + lim; i++) {
                double dx = ed->pts[i].x - q.x, dy = ed->pts[i].y - q.y;
                if (dx * dx + dy * dy <= lim2) { hit = 1; break; }
            }
        }
        near += hit;
        tot++;
    }
    return tot ? (double)near / tot : 0;
}

/* Sub-pixel tip: half-level crossing between shaft and background near the
 * coarse end k_end, walking in direction dir (+1 / -1) along the strip. */
static double refine_tip(usg_needle_tracker *t, int k_end, int dir, double noise) {
    const nd_strip *s = &t->st;
    float *prof = t->scratch; /* centre rows, unsmoothed along u */
    int len = s->len;
    if (len + 64 > t->scratch_cap) return k_end;
    float *tmp = t->scratch + len;
    uint8_t okc[3];
    for (int k = 0; k < len; k++) {
        double sum = 0;
        int c = 0;
        for (int v = -1; v <= 1; v++) {
            okc[v + 1] = nd_strip_okrow(s, s->ok, v)[k];
            if (okc[v + 1]) { sum += nd_strip_row(s, s->val, v)[k]; c++; }
        }
        prof[k] = c ? (float)(sum / c) : -1.0f;
    }
    int n = 0;
    for (int i = 4; i <= 30; i++) {
        int k = k_end - dir * i;
        if (k >= 0 && k < len && prof[k] >= 0) tmp[n++] = prof[k];
    }
    if (n < 5) return k_end;
    double ls = nd_median(tmp, n);
    n = 0;
    for (int i = 6; i <= 36; i++) {
        int k = k_end + dir * i;
        if (k >= 0 && k < len && prof[k] >= 0) tmp[n++] = prof[k];
    }
    if (n < 8) { /* runs out of the image: the tip is the last visible shaft sample */
        int k = k_end;
        while (k + dir >= 0 && k + dir < len && prof[k + dir] >= 0 && prof[k + dir] > 0.5 * ls) k += dir;
        return k;
    }
    double lb = nd_median(tmp, n);
    if (ls - lb < 2 * noise) return k_end;
    double tau = 0.5 * (ls + lb);
    int reach = 2 * t->box_a + 6;
    /* step fit: the cumulative sum of (p - tau) from the shaft side peaks at the edge */
    double cum = 0, best = -1e30;
    int kb = k_end;
    for (int i = -reach; i <= reach; i++) {
        int k = k_end + dir * i;
        if (k < 0 || k >= len || prof[k] < 0) continue;
        cum += prof[k] - tau;
        if (cum > best) { best = cum; kb = k; }
    }
    /* sub-pixel: 3-tap smoothed crossing between kb and kb + dir */
    int k1 = kb + dir;
    if (k1 - 1 < 0 || k1 + 1 >= len || kb - 1 < 0 || kb + 1 >= len) return kb;
    double p0 = (prof[kb - 1] + prof[kb] + prof[kb + 1]) / 3.0;
    double p1 = (prof[k1 - 1] + prof[k1] + prof[k1 + 1]) / 3.0;
    double frac = 0.5;
    if (p0 - p1 > 1e-6) frac = clampd((p0 - tau) / (p0 - p1), 0.0, 1.0);
    return kb + dir * frac;
}

/* Decide which end is the entry: the one on the imaged region's boundary,
 * else the shallower one (for a near-horizontal axis, the one nearer a side). */
static int entry_is_low_end(const usg_needle_tracker *t, const nd_line *l, int k0, int k1, int kv0, int kv1) {
    int margin = 2 * t->box_a + 4;
    int b0 = k0 - kv0 <= margin, b1 = kv1 - k1 <= margin;
    if (b0 != b1) return b0;
    usg_point p0 = nd_line_at(l, t->st.u0 + k0, 0), p1 = nd_line_at(l, t->st.u0 + k1, 0);
    if (fabs(l->dy) > 0.05) return p0.y < p1.y;
    double s0 = fmin(p0.x, t->w - 1 - p0.x), s1 = fmin(p1.x, t->w - 1 - p1.x);
    return s0 <= s1;
}

/* Measure the needle near `guess` (search +-rs px across it). `want_dir`
 * (may be NULL) fixes the entry->tip direction. Returns 1 with *m filled. */
static int measure(usg_needle_tracker *t, const usg_image *img, const nd_line *guess, int rs,
                   const double *want_dir, const usg_edge *e1, const usg_edge *e2, nd_meas *m) {
    double ulo, uhi;
    memset(m, 0, sizeof *m);
    if (!nd_line_clip(guess, t->w, t->h, 1.0, &ulo, &uhi)) return 0;
    nd_strip_sample(&t->st, img, t->mask, guess, ulo, uhi, rs + t->flank);
    nd_strip_contrast(&t->st, t->box_a, t->flank);
    double noise = strip_noise(t, rs);
    if (noise < 0) return 0;
    strip_peaks(t, rs);
    nd_line ref;
    if (!fit_axis(t, 3.0 * noise, rs, &ref)) return 0;
    /* second pass, narrow, on the refined axis */
    if (!nd_line_clip(&ref, t->w, t->h, 1.0, &ulo, &uhi)) return 0;
    nd_strip_sample(&t->st, img, t->mask, &ref, ulo, uhi, 3 + t->flank);
    nd_strip_contrast(&t->st, t->box_a, t->flank);
    strip_peaks(t, 2);
    int k0, k1;
    if (best_run(t, 4.0 * noise, &k0, &k1) <= 0) return 0;
    int n = 0;
    for (int k = k0; k <= k1; k++) if (t->pk_ok[k]) t->scratch[n++] = t->pk_c[k];
    double level = nd_median(t->scratch, n);
    double thr = fmax(3.0 * noise, 0.35 * level);
    if (best_run(t, thr, &k0, &k1) <= 0) return 0;
    /* shaft statistics */
    int fill = 0, cnt = 0;
    double sw = 0, svv = 0;
    n = 0;
    for (int k = k0; k <= k1; k++) {
        cnt++;
        if (!t->pk_ok[k]) continue;
        if (t->pk_c[k] > thr) {
            fill++;
            sw += t->pk_c[k];
            svv += t->pk_c[k] * t->pk_v[k] * t->pk_v[k];
        }
        t->scratch[n++] = t->pk_c[k];
    }
    m->level = nd_median(t->scratch, n);
    m->noise = noise;
    m->snr = m->level / noise;
    m->fill = cnt ? (double)fill / cnt : 0;
    m->rms = sw > 0 ? sqrt(svv / sw) : 99;
    /* valid extent of the centre row */
    const uint8_t *okc = nd_strip_okrow(&t->st, t->st.ok, 0);
    int kv0 = 0, kv1 = t->st.len - 1;
    while (kv0 < t->st.len && !okc[kv0]) kv0++;
    while (kv1 > 0 && !okc[kv1]) kv1--;
    m->line = ref;
    int low_entry;
    if (want_dir) low_entry = ref.dx * want_dir[0] + ref.dy * want_dir[1] >= 0;
    else low_entry = entry_is_low_end(t, &ref, k0, k1, kv0, kv1);
    int ke = low_entry ? k0 : k1, kt = low_entry ? k1 : k0, dir = low_entry ? 1 : -1;
    m->border_entry = low_entry ? (k0 - kv0 <= 2 * t->box_a + 4) : (kv1 - k1 <= 2 * t->box_a + 4);
    double ktip = refine_tip(t, kt, dir, noise);
    if (m->border_entry) ke = low_entry ? kv0 : kv1;
    m->u_entry = t->st.u0 + ke;
    m->u_tip = t->st.u0 + ktip;
    if (!low_entry) { /* flip the line so that d points from entry to tip */
        m->line.dx = -ref.dx;
        m->line.dy = -ref.dy;
        m->u_entry = -m->u_entry;
        m->u_tip = -m->u_tip;
    }
    m->tip = nd_line_at(&m->line, m->u_tip, 0);
    m->entry = nd_line_at(&m->line, m->u_entry, 0);
    m->len_mm = fabs(m->u_tip - m->u_entry) * t->sp;
    m->shadow = shadow_ratio(t, img, m);
    m->bone_frac = bone_fraction(t, m, e1, e2);
    m->score = m->snr * sqrt(m->len_mm) * m->fill;
    return 1;
}

/* Is this measurement a needle? `tracking` relaxes the thresholds (hysteresis). */
static int plausible(const usg_needle_tracker *t, const nd_meas *m, int tracking) {
    double ang = fabs(atan2(m->line.dy, m->line.dx)) * 180.0 / M_PI;
    if (ang > 90) ang = 180 - ang;
    if (ang > ND_MAX_ANGLE + 2) return 0;
    double min_len = tracking ? 2.0 : (m->border_entry ? 3.0 : 6.0);
    if (m->len_mm < min_len) return 0;
    if (m->snr < (tracking ? 4.0 : 6.0)) return 0;
    if (m->fill < (tracking ? 0.5 : 0.6)) return 0;
    if (m->rms > (tracking ? 1.5 : 1.2)) return 0;
    if (m->shadow < (tracking ? 0.45 : 0.55)) return 0;
    if (m->bone_frac > (tracking ? 0.5 : 0.3)) return 0;
    (void)t;
    return 1;
}

/* ---------------------------------------------------------- acquisition */

static int acquire(usg_needle_tracker *t, const usg_image *img, const usg_edge *e1, const usg_edge *e2,
                   nd_meas *best) {
    const int w2 = t->w2, h2 = t->h2;
    nd_downsample2(img, t->half, w2, h2);
    nd_hessian_run(&t->hs, t->half);
    float maxr = 0;
    for (int y = 0; y < h2; y++) {
        for (int x = 0; x < w2; x++) {
            int i = y * w2 + x;
            float r = t->mask2[i] ? nd_hessian_ridge(&t->hs, i) : 0;
            t->ridge[i] = r;
            if (r > maxr) maxr = r;
        }
    }
    if (maxr <= 0) return 0;
    /* threshold: the 96th percentile of the ridge strength inside the region */
    enum { NB = 512 };
    int hist[NB] = {0}, tot = 0;
    for (int i = 0; i < w2 * h2; i++) {
        if (!t->mask2[i]) continue;
        int b = (int)(t->ridge[i] / maxr * (NB - 1));
        hist[b]++;
        tot++;
    }
    int acc = 0, b = 0;
    while (b < NB - 1 && acc + hist[b] < 0.96 * tot) acc += hist[b++];
    float thr = (float)((b + 0.5) / (NB - 1) * maxr);
    if (thr <= 0) thr = maxr * 0.1f;
    nd_hough_clear(&t->hg);
    for (int y = 1; y < h2 - 1; y++) {
        for (int x = 1; x < w2 - 1; x++) {
            int i = y * w2 + x;
            float r = t->ridge[i];
            if (r <= thr) continue;
            double a = nd_hessian_angle(&t->hs, i);
            int ox = (int)lrint(-sin(a)), oy = (int)lrint(cos(a));
            if (r < t->ridge[i + oy * w2 + ox] || r < t->ridge[i - oy * w2 - ox]) continue;
            double deg = a * 180.0 / M_PI;
            if (deg < 0) deg += 180.0;
            float wgt = r / thr;
            nd_hough_vote(&t->hg, x, y, deg, 3, wgt > 4 ? 4 : wgt);
        }
    }
    nd_hough_peak pk[ND_CANDIDATES];
    int np = nd_hough_peaks(&t->hg, pk, ND_CANDIDATES);
    int found = 0;
    for (int i = 0; i < np; i++) {
        double th = pk[i].theta_deg * M_PI / 180.0, c = cos(th), s = sin(th);
        double x2 = t->hg.cx - pk[i].rho * s, y2 = t->hg.cy + pk[i].rho * c;
        nd_line l = {2 * x2 + 0.5, 2 * y2 + 0.5, c, s};
        nd_meas m;
        if (!measure(t, img, &l, t->r_acq, NULL, e1, e2, &m)) continue;
        if (!plausible(t, &m, 0)) continue;
        if (!found || m.score > best->score) {
            *best = m;
            found = 1;
        }
    }
    return found;
}

/* -------------------------------------------------------------- tracking */

static void centre(const usg_needle_tracker *t, double *cx, double *cy) {
    *cx = (t->w - 1) / 2.0;
    *cy = (t->h - 1) / 2.0;
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

static void start_track(usg_needle_tracker *t, const nd_meas *m) {
    double th, rho, st, se;
    meas_coords(t, m, 0, &th, &rho, &st, &se);
    nd_kf1_init(&t->kth, th, 1.0, 0.3 * 0.3, 0.3 * 0.3);
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
    nd_kf1_update(&t->kth, th);
    nd_kf1_update(&t->krho, rho);
    nd_kf2_update(&t->ks, st);
    t->s_entry = se;
    t->hits++;
    t->misses = 0;
}

static double meas_confidence(const nd_meas *m) {
    double a = clampd((m->snr - 3.0) / 12.0, 0, 1);
    double b = clampd(m->len_mm / 10.0, 0.3, 1);
    return clampd(0.2 + 0.8 * a * b * m->fill, 0, 1);
}

static void fill_output(const usg_needle_tracker *t, usg_needle *out) {
    nd_line l = track_line(t);
    double cx, cy;
    centre(t, &cx, &cy);
    double u0 = l.dx * (l.px - cx) + l.dy * (l.py - cy); /* u of the line point from the centre */
    usg_point tip = nd_line_at(&l, t->ks.x[0] - u0, 0), entry = nd_line_at(&l, t->s_entry - u0, 0);
    out->found = 1;
    out->tip = tip;
    out->entry = entry;
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
    if (!img->data || img->width != t->w || img->height != t->h) {
        return usg_fail(USG_ERR_ARG, "needle: image is %dx%d, the tracker was made for %dx%d", img->width,
                        img->height, t->w, t->h);
    }
    (void)raw;
    nd_meas m;
    int got = 0;
    if (t->tracking) {
        nd_kf1_predict(&t->kth);
        nd_kf1_predict(&t->krho);
        nd_kf2_predict(&t->ks);
        nd_line pred = track_line(t);
        double dir[2] = {pred.dx, pred.dy};
        if (measure(t, img, &pred, t->r_track, dir, sacrum, ilium, &m) && plausible(t, &m, 1)) {
            update_track(t, &m);
            got = 1;
        }
        if (!got && !window_only && acquire(t, img, sacrum, ilium, &m)) {
            update_track(t, &m);
            got = 1;
        }
        if (!got) {
            t->misses++;
            if (t->misses > ND_COAST || t->hits < 3) {
                usg_needle_tracker_reset(t);
                return USG_OK;
            }
            t->conf *= 0.5;
            fill_output(t, out);
            return USG_OK;
        }
    } else if (acquire(t, img, sacrum, ilium, &m)) {
        start_track(t, &m);
        got = 1;
    }
    if (!got) return USG_OK;
    t->conf = meas_confidence(&m);
    fill_output(t, out);
    return USG_OK;
}
