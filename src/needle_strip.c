/* needle_strip.c - the image resampled along a candidate needle axis, its
 * along-axis smoothing and its across-axis ridge contrast. */
#include "needle_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

usg_status nd_strip_init(nd_strip *s, int cap_len, int cap_rows) {
    memset(s, 0, sizeof *s);
    s->cap_len = cap_len;
    s->cap_rows = cap_rows;
    size_t n = (size_t)cap_len * (size_t)cap_rows;
    s->val = malloc(n * sizeof(float));
    s->sm = malloc(n * sizeof(float));
    s->con = malloc(n * sizeof(float));
    s->ok = malloc(n);
    s->smok = malloc(n);
    s->conok = malloc(n);
    if (!s->val || !s->sm || !s->con || !s->ok || !s->smok || !s->conok) {
        nd_strip_free(s);
        return usg_fail(USG_ERR_NOMEM, "needle: out of memory for a %dx%d strip", cap_len, cap_rows);
    }
    return USG_OK;
}

void nd_strip_free(nd_strip *s) {
    free(s->val); free(s->sm); free(s->con);
    free(s->ok); free(s->smok); free(s->conok);
    memset(s, 0, sizeof *s);
}

int nd_line_clip(const nd_line *l, int w, int h, double margin, double *u_lo, double *u_hi) {
    double lo = -1e9, hi = 1e9;
    const double p[2] = {l->px, l->py}, d[2] = {l->dx, l->dy};
    const double mx[2] = {w - 1 - margin, h - 1 - margin};
    for (int k = 0; k < 2; k++) {
        if (fabs(d[k]) < 1e-12) {
            if (p[k] < margin || p[k] > mx[k]) return 0;
            continue;
        }
        double a = (margin - p[k]) / d[k], b = (mx[k] - p[k]) / d[k];
        if (a > b) { double t = a; a = b; b = t; }
        if (a > lo) lo = a;
        if (b < hi) hi = b;
    }
    if (hi - lo < 2) return 0;
    *u_lo = lo;
    *u_hi = hi;
    return 1;
}

float nd_bilinear(const usg_image *img, double x, double y) {
    if (!(x >= 0 && y >= 0 && x <= img->width - 1 && y <= img->height - 1)) return 0;
    int ix = (int)x, iy = (int)y;
    if (ix >= img->width - 1) ix = img->width - 2;
    if (iy >= img->height - 1) iy = img->height - 2;
    if (ix < 0) ix = 0;
    if (iy < 0) iy = 0;
    float fx = (float)(x - ix), fy = (float)(y - iy);
    const uint8_t *a = usg_image_row(img, iy) + ix;
    const uint8_t *b = a + (img->height > 1 ? img->stride : 0);
    int dx = img->width > 1;
    float top = a[0] + fx * (a[dx] - a[0]);
    float bot = b[0] + fx * (b[dx] - b[0]);
    return top + fy * (bot - top);
}

void nd_strip_sample(nd_strip *s, const usg_image *img, const uint8_t *mask, const nd_line *line,
                     double u_lo, double u_hi, int half) {
    int len = (int)floor(u_hi - u_lo) + 1;
    if (len > s->cap_len) len = s->cap_len;
    if (len < 1) len = 1;
    if (2 * half + 1 > s->cap_rows) half = (s->cap_rows - 1) / 2;
    s->len = len;
    s->half = half;
    s->rows = 2 * half + 1;
    s->u0 = u_lo;
    s->line = *line;
    const int w = img->width, h = img->height;
    const double dx = line->dx, dy = line->dy;
    for (int v = -half; v <= half; v++) {
        float *row = nd_strip_row(s, s->val, v);
        uint8_t *ok = nd_strip_okrow(s, s->ok, v);
        double x = line->px + u_lo * dx - v * dy, y = line->py + u_lo * dy + v * dx;
        for (int k = 0; k < len; k++, x += dx, y += dy) {
            if (!(x >= 0 && y >= 0 && x <= w - 1 && y <= h - 1)) {
                row[k] = 0;
                ok[k] = 0;
                continue;
            }
            int ix = (int)x, iy = (int)y;
            if (mask && !mask[(ptrdiff_t)(int)(y + 0.5) * w + (int)(x + 0.5)]) {
                row[k] = 0;
                ok[k] = 0;
                continue;
            }
            if (ix >= w - 1) ix = w - 2;
            if (iy >= h - 1) iy = h - 2;
            if (ix < 0 || iy < 0) { row[k] = 0; ok[k] = 0; continue; }
            float fx = (float)(x - ix), fy = (float)(y - iy);
            const uint8_t *a = usg_image_row(img, iy) + ix;
            const uint8_t *b = a + img->stride;
            float top = a[0] + fx * (a[1] - a[0]);
            float bot = b[0] + fx * (b[1] - b[0]);
            row[k] = top + fy * (bot - top);
            ok[k] = 1;
        }
    }
}

void nd_strip_contrast(nd_strip *s, int a, int w) {
    const int len = s->len;
    for (int v = -s->half; v <= s->half; v++) {
        const float *val = nd_strip_row(s, s->val, v);
        const uint8_t *ok = nd_strip_okrow(s, s->ok, v);
        float *sm = nd_strip_row(s, s->sm, v);
        uint8_t *smok = nd_strip_okrow(s, s->smok, v);
        /* sliding window over [k - a, k + a] */
        float sum = 0;
        int cnt = 0;
        for (int k = 0; k < a && k < len; k++) {
            if (ok[k]) { sum += val[k]; cnt++; }
        }
        for (int k = 0; k < len; k++) {
            int in = k + a, out = k - a - 1;
            if (in < len && ok[in]) { sum += val[in]; cnt++; }
            if (out >= 0 && ok[out]) { sum -= val[out]; cnt--; }
            if (ok[k] && cnt > a) {
                sm[k] = sum / (float)cnt;
                smok[k] = 1;
            } else {
                sm[k] = 0;
                smok[k] = 0;
            }
        }
    }
    for (int v = -s->half; v <= s->half; v++) {
        float *con = nd_strip_row(s, s->con, v);
        uint8_t *cok = nd_strip_okrow(s, s->conok, v);
        if (v - w < -s->half || v + w > s->half) {
            memset(cok, 0, (size_t)len);
            memset(con, 0, (size_t)len * sizeof(float));
            continue;
        }
        const float *m = nd_strip_row(s, s->sm, v), *lo = nd_strip_row(s, s->sm, v - w),
                    *hi = nd_strip_row(s, s->sm, v + w);
        const uint8_t *mo = nd_strip_okrow(s, s->smok, v), *loo = nd_strip_okrow(s, s->smok, v - w),
                      *hio = nd_strip_okrow(s, s->smok, v + w);
        for (int k = 0; k < len; k++) {
            cok[k] = mo[k] & loo[k] & hio[k];
            con[k] = cok[k] ? m[k] - 0.5f * (lo[k] + hi[k]) : 0;
        }
    }
}

float nd_median(float *v, int n) {
    if (n <= 0) return 0;
    int lo = 0, hi = n - 1, k = n / 2;
    while (lo < hi) {
        float piv = v[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < piv) i++;
            while (v[j] > piv) j--;
            if (i <= j) {
                float t = v[i]; v[i] = v[j]; v[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else break;
    }
    return v[k];
}
