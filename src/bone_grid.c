/* bone_grid.c - the scan-line grid of the bone stage: the clipped image
 * reduced to block means, read as columns (linear probe) or sampled along
 * rays from the apex (curvilinear, bilinear between block centres). */
#include "bone_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Working resolution: about this many pixels per depth step squared. */
#define GRID_TARGET_SAMPLES 80000.0

void usg_bone_grid_free(usg_bone_grid *g) {
    free(g->red); free(g->rowsum); free(g->lut); free(g->wx); free(g->wy);
    free(g->lo); free(g->hi);
    memset(g, 0, sizeof *g);
}

void usg_bone_grid_point(const usg_bone_grid *g, int j, double di, double *x, double *y) {
    if (g->fan) {
        double th = g->th0 + (j + 0.5) * g->dth, r = g->r0 + di * g->sy;
        *x = g->ax + r * sin(th);
        *y = g->ay + r * cos(th);
    } else {
        *x = j * g->sx + (g->sx - 1) * 0.5;
        *y = di * g->sy + (g->sy - 1) * 0.5;
    }
}

/* Valid depth range of each scan line. */
static void valid_ranges(usg_bone_grid *g) {
    for (int j = 0; j < g->nr; j++) {
        int lo = g->nd, hi = 0;
        for (int i = 0; i < g->nd; i++) {
            if (!g->fan || g->lut[(size_t)j * g->nd + i] >= 0) {
                if (i < lo) lo = i;
                hi = i + 1;
            }
        }
        if (lo >= hi) lo = hi = 0;
        g->lo[j] = (int16_t)lo; g->hi[j] = (int16_t)hi;
    }
}

/* Bilinear taps in the reduced image for the fan sample k at (x, y). */
static void place_fan_sample(usg_bone_grid *g, const usg_probe *p, size_t k, double x, double y) {
    g->lut[k] = -1;
    if (x < 0 || y < 0 || x > g->img_w - 1 || y > g->img_h - 1 || !usg_probe_inside(p, x, y)) return;
    double u = (x + 0.5) / g->sx - 0.5, v = (y + 0.5) / g->sy - 0.5; /* block-centre units */
    if (u < 0) u = 0;
    if (v < 0) v = 0;
    if (u > g->dw - 1) u = g->dw - 1;
    if (v > g->dh - 1) v = g->dh - 1;
    int u0 = (int)u, v0 = (int)v;
    if (u0 > g->dw - 2) u0 = g->dw - 2;
    if (v0 > g->dh - 2) v0 = g->dh - 2;
    g->lut[k] = v0 * g->dw + u0;
    g->wx[k] = (float)(u - u0);
    g->wy[k] = (float)(v - v0);
}

static usg_status grid_alloc(usg_bone_grid *g) {
    size_t n = (size_t)g->nr * g->nd;
    g->red = malloc((size_t)g->dw * g->dh * sizeof *g->red);
    g->rowsum = malloc((size_t)g->img_w * sizeof *g->rowsum);
    g->lo = malloc((size_t)g->nr * sizeof *g->lo);
    g->hi = malloc((size_t)g->nr * sizeof *g->hi);
    int ok = g->red && g->rowsum && g->lo && g->hi;
    if (g->fan) {
        g->lut = malloc(n * sizeof *g->lut);
        g->wx = malloc(n * sizeof *g->wx);
        g->wy = malloc(n * sizeof *g->wy);
        ok = ok && g->lut && g->wx && g->wy;
    }
    if (!ok) {
        usg_bone_grid_free(g);
        return usg_fail(USG_ERR_NOMEM, "bone: out of memory for the scan grid");
    }
    return USG_OK;
}

usg_status usg_bone_grid_init(usg_bone_grid *g, const usg_probe *p, int w, int h) {
    memset(g, 0, sizeof *g);
    g->img_w = w; g->img_h = h;
    g->sy = (int)lround(sqrt((double)w * h / GRID_TARGET_SAMPLES));
    if (g->sy < 1) g->sy = 1;
    g->sx = 2 * g->sy;
    g->dw = w / g->sx; g->dh = h / g->sy;
    if (g->dw < 2 || g->dh < 8) return usg_fail(USG_ERR_ARG, "bone: image %dx%d too small", w, h);
    double sp = usg_probe_spacing(p);
    g->fan = p->geometry == USG_GEOM_CURVILINEAR;
    if (g->fan) {
        double a0 = p->angle_start_deg * M_PI / 180.0, a1 = p->angle_end_deg * M_PI / 180.0;
        if (!(a1 > a0) || !(p->radius_outer > p->radius_inner) || p->radius_inner < 0)
            return usg_fail(USG_ERR_ARG, "bone: probe '%s': empty fan", p->name);
        g->ax = p->apex_x; g->ay = p->apex_y; g->r0 = p->radius_inner; g->th0 = a0;
        g->nr = (int)ceil((a1 - a0) * p->radius_outer / g->sx);
        g->nd = (int)ceil((p->radius_outer - p->radius_inner) / g->sy);
        g->dth = (a1 - a0) / g->nr;
        g->depth_mm = g->sy * sp;
        g->lateral_mm = g->dth * 0.5 * (p->radius_inner + p->radius_outer) * sp;
    } else {
        g->nr = g->dw;
        g->nd = g->dh;
        g->depth_mm = g->sy * p->spacing_y_mm;
        g->lateral_mm = g->sx * p->spacing_x_mm;
    }
    if (g->nr < 2 || g->nd < 8 || g->nr > 16384 || g->nd > 16384)
        return usg_fail(USG_ERR_ARG, "bone: probe '%s': scan grid %dx%d unusable for %dx%d",
                        p->name, g->nr, g->nd, w, h);
    usg_status st = grid_alloc(g);
    if (st != USG_OK) return st;
    if (g->fan) {
        for (int j = 0; j < g->nr; j++) {
            for (int i = 0; i < g->nd; i++) {
                double x, y;
                usg_bone_grid_point(g, j, i, &x, &y);
                place_fan_sample(g, p, (size_t)j * g->nd + i, x, y);
            }
        }
    }
    valid_ranges(g);
    return USG_OK;
}

/* Sums of sx adjacent values of rs into out (the block sums of one block row). */
static void group_sums(const uint16_t *rs, int dw, int sx, float inv, float *out) {
    if (sx == 4) {
        for (int bj = 0; bj < dw; bj++) {
            const uint16_t *q = rs + 4 * bj;
            out[bj] = (float)(q[0] + q[1] + q[2] + q[3]) * inv;
        }
        return;
    }
    if (sx == 2) {
        for (int bj = 0; bj < dw; bj++) out[bj] = (float)(rs[2 * bj] + rs[2 * bj + 1]) * inv;
        return;
    }
    for (int bj = 0; bj < dw; bj++) {
        unsigned s = 0;
        for (int k = 0; k < sx; k++) s += rs[bj * sx + k];
        out[bj] = (float)s * inv;
    }
}

/* Block means of img into g->red. */
static void reduce(usg_bone_grid *g, const usg_image *img) {
    const int sx = g->sx, sy = g->sy, wuse = g->dw * sx;
    const float inv = 1.0f / (float)(sx * sy);
    uint16_t *rs = g->rowsum;
    for (int bi = 0; bi < g->dh; bi++) {
        const uint8_t *r0 = usg_image_row(img, bi * sy);
        for (int x = 0; x < wuse; x++) rs[x] = r0[x];
        for (int k = 1; k < sy; k++) {
            const uint8_t *r = usg_image_row(img, bi * sy + k);
            for (int x = 0; x < wuse; x++) rs[x] = (uint16_t)(rs[x] + r[x]);
        }
        group_sums(rs, g->dw, sx, inv, g->red + (size_t)bi * g->dw);
    }
}

void usg_bone_grid_sample(usg_bone_grid *g, const usg_image *img, float *a) {
    reduce(g, img);
    const int nd = g->nd;
    if (!g->fan) { /* transpose: scan line j = block column j */
        for (int i = 0; i < nd; i++) {
            const float *row = g->red + (size_t)i * g->dw;
            for (int j = 0; j < g->nr; j++) a[(size_t)j * nd + i] = row[j];
        }
        return;
    }
    const size_t n = (size_t)g->nr * nd;
    const int dw = g->dw;
    for (size_t k = 0; k < n; k++) {
        int32_t o = g->lut[k];
        if (o < 0) { a[k] = 0; continue; }
        const float *p = g->red + o;
        float wx = g->wx[k], wy = g->wy[k];
        float top = p[0] + wx * (p[1] - p[0]), bot = p[dw] + wx * (p[dw + 1] - p[dw]);
        a[k] = top + wy * (bot - top);
    }
}
