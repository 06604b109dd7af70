/* bone_extend.c - the cleft-side end of a bone surface at full resolution
 * (see usg_bone_wall in bone_impl.h): the target, the closest pair of the two
 * edges, depends on exactly these ends. */
#include "bone_impl.h"

#include <math.h>
#include <stdlib.h>

#define LEVEL_MM0 1.0     /* tissue level measured 1..3 mm above the end */
#define LEVEL_MM1 3.0
#define SHADOW_SHARE 0.25 /* the shadow ends where the grey exceeds this share of the tissue level */
#define BELOW_SURFACE_MM 1.0 /* first row: this far under the surface at `inner` */
#define BELOW_END_MM 2.5  /* last row: this far under the deeper end */
#define WALL_ROWS_MM 1.0  /* the wall's position: median boundary over the last rows */
#define WALL_TOL_MM 0.3   /* the wall's top: first row whose boundary is this close to the wall */
#define MEDIAN_ROWS 5     /* boundary smoothing across rows (odd) */
#define MAX_ROWS 512
#define SHADOW_MM0 2.0    /* the bone's own shadow level: 2..4 mm under the surface near the end */
#define SHADOW_MM1 4.0
#define CLEFT_MM0 0.5     /* the cleft's level: mid-gap, 0.5..2.5 mm below the deeper end */
#define CLEFT_MM1 2.5
#define EDGE_HALF_PX 3    /* wall edge in a grey shadow: means of 3 px either side, */
#define EDGE_MAX_PX 1024
#define EDGE_MIN_SHARE 0.15 /* ... a step of at least this share of the tissue level */

/* Bilinear grey value at (x, y), -1 outside the image. */
static float pixel(const usg_image *img, double x, double y) {
    if (x < 0 || y < 0 || x > img->width - 1 || y > img->height - 1) return -1;
    int x0 = (int)x, y0 = (int)y;
    if (x0 > img->width - 2) x0 = img->width - 2;
    if (y0 > img->height - 2) y0 = img->height - 2;
    float fx = (float)(x - x0), fy = (float)(y - y0);
    const uint8_t *p = usg_image_row(img, y0) + x0;
    float top = p[0] + fx * (p[1] - p[0]);
    float bot = p[img->stride] + fx * (p[img->stride + 1] - p[img->stride]);
    return top + fy * (bot - top);
}

/* Beam coordinates: lateral u (x, or angle from the apex) and depth r (y, or radius). */
static void to_beam(const usg_bone_grid *g, usg_point p, double *u, double *r) {
    if (g->fan) { *u = atan2(p.x - g->ax, p.y - g->ay); *r = hypot(p.x - g->ax, p.y - g->ay); }
    else { *u = p.x; *r = p.y; }
}

static void from_beam(const usg_bone_grid *g, double u, double r, double *x, double *y) {
    if (g->fan) { *x = g->ax + r * sin(u); *y = g->ay + r * cos(u); }
    else { *x = u; *y = r; }
}

/* Lateral step of 1 px at depth r, in u units. */
static double u_step(const usg_bone_grid *g, double r) { return g->fan ? 1.0 / (r > 1 ? r : 1) : 1.0; }

/* Mean grey over 3 x 3 px around beam point (u, r); -1 if any is outside. */
static float beam_mean(const usg_bone_grid *g, const usg_image *img, double u, double r) {
    double du = u_step(g, r), s = 0;
    for (int i = -1; i <= 1; i++) {
        for (int k = -1; k <= 1; k++) {
            double x, y;
            from_beam(g, u + k * du, r + i, &x, &y);
            float v = pixel(img, x, y);
            if (v < 0) return -1;
            s += v;
        }
    }
    return (float)(s / 9.0);
}

/* Where the shadow ends on row r, scanning from u0 in direction dir up to
 * u_stop; NAN if u0 is not in shadow or no end is found. */
static double row_boundary(const usg_bone_grid *g, const usg_image *img, double r, double u0,
                           int dir, double u_stop, float thr) {
    float v = beam_mean(g, img, u0, r);
    if (v < 0 || v >= thr) return NAN;
    double du = u_step(g, r) * dir;
    for (double u = u0 + du; (u_stop - u) * dir > 0; u += du) {
        float w = beam_mean(g, img, u, r);
        if (w < 0) return NAN;
        if (w >= thr) return u - du * (w - thr) / (w - v > 1e-3f ? w - v : 1e-3f); /* interpolated */
        v = w;
    }
    return NAN;
}

/* Where the bone's wall is on row r (below the surface's end) when its shadow
 * is grey, not dark (a noise floor, scatter under the cortex) and the cleft
 * beside it darker: scanning from u0 in direction dir up to u_stop, the
 * strongest grey edge, at least min_step; NAN if none. */
static double row_wall_edge(const usg_bone_grid *g, const usg_image *img, double r, double u0, int dir,
                            double u_stop, float min_step) {
    float v[EDGE_MAX_PX];
    double du = u_step(g, r) * dir;
    int n = 0;
    for (double u = u0; (u_stop - u) * dir > 0 && n < EDGE_MAX_PX; u += du) {
        float w = beam_mean(g, img, u, r);
        if (w < 0) return NAN;
        v[n++] = w;
    }
    const int h = EDGE_HALF_PX;
    float best = 0;
    int at = -1;
    for (int i = h; i + h <= n; i++) {
        float a = 0, b = 0;
        for (int k = 1; k <= h; k++) { a += v[i - k]; b += v[i + k - 1]; }
        float fall = (a - b) / h; /* from the bone's grey shadow into the darker cleft */
        if (fall > best) { best = fall; at = i; }
    }
    return at >= 0 && best >= min_step ? u0 + (at - 0.5) * du : NAN;
}

/* Mean grey over beam points (u, r0..r1 step 1), -1 if none inside. */
static double column_mean(const usg_bone_grid *g, const usg_image *img, double u, double r0, double r1) {
    double s = 0;
    int n = 0;
    for (double r = r0; r <= r1; r += 1.0) {
        float v = beam_mean(g, img, u, r);
        if (v >= 0) { s += v; n++; }
    }
    return n > 0 ? s / n : -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the non-NAN values of v[0..n); NAN if fewer than `need`. */
static double median_of(const double *v, int n, int need) {
    double t[MAX_ROWS];
    int m = 0;
    for (int i = 0; i < n; i++) if (!isnan(v[i])) t[m++] = v[i];
    if (m < need) return NAN;
    qsort(t, (size_t)m, sizeof t[0], cmp_double);
    return t[m / 2];
}

int usg_bone_wall(const usg_bone_grid *g, const usg_image *img, const usg_bone_wall_params *wp,
                  usg_point end, usg_point inner, usg_point other, double *out_x, double *out_y) {
    const double sp = wp->spacing_mm;
    double ue, re, ui, ri, uo, ro;
    to_beam(g, end, &ue, &re);
    to_beam(g, inner, &ui, &ri);
    to_beam(g, other, &uo, &ro);
    int dir = uo > ue ? 1 : -1;
    if ((ue - ui) * dir <= 0) return 0;
    /* tissue level above the end */
    double lev = 0;
    int nl = 0;
    for (double mm = LEVEL_MM0; mm <= LEVEL_MM1 + 1e-9; mm += 0.5) {
        float v = beam_mean(g, img, ue, re - mm / sp);
        if (v >= 0) { lev += v; nl++; }
    }
    if (nl == 0 || lev / nl < 4) return 0;
    const float thr = (float)(SHADOW_SHARE * lev / nl);
    const int r0 = (int)ceil(ri + BELOW_SURFACE_MM / sp);
    const int r1 = (int)floor((re > ro ? re : ro) + BELOW_END_MM / sp);
    const int nrow = r1 - r0 + 1;
    if (nrow < MEDIAN_ROWS || nrow > MAX_ROWS) return 0;
    double b[MAX_ROWS], med[MAX_ROWS];
    /* the bone's own shadow near the end: dark (the boundary is where it ends)
     * or grey; a grey one needs a visibly darker cleft beside it (else the
     * cleft is closed or blurred shut: no wall), then above the end the
     * boundary is where the grey rises from the shadow's level toward the
     * tissue's, below it the wall is the falling edge into the cleft */
    double sh = column_mean(g, img, ui, ri + SHADOW_MM0 / sp, ri + SHADOW_MM1 / sp);
    const int grey = sh >= thr;
    const float min_step = (float)fmax(4.0, EDGE_MIN_SHARE * lev / nl);
    const double umid = 0.5 * (ue + uo), rdeep = re > ro ? re : ro;
    if (grey) {
        double cl = column_mean(g, img, umid, rdeep + CLEFT_MM0 / sp, rdeep + CLEFT_MM1 / sp);
        if (cl < 0 || cl > sh - min_step) return 0;
    }
    const float thr_grey = (float)(sh + SHADOW_SHARE * fmax(0.0, lev / nl - sh));
    for (int i = 0; i < nrow; i++) {
        int row = r0 + i;
        if (!grey) b[i] = row_boundary(g, img, row, ui, dir, uo, thr);
        else if (row < re) b[i] = row_boundary(g, img, row, ui, dir, uo, thr_grey);
        else b[i] = row_wall_edge(g, img, row, ui, dir, umid, min_step);
    }
    const int h = MEDIAN_ROWS / 2;
    for (int i = 0; i < nrow; i++) {
        int a = i - h < 0 ? 0 : i - h, z = i + h >= nrow ? nrow - 1 : i + h;
        med[i] = median_of(b + a, z - a + 1, 3);
    }
    /* the wall: median boundary over the deepest rows */
    int deep = (int)lround(WALL_ROWS_MM / sp);
    if (deep < 3) deep = 3;
    if (deep > nrow) deep = nrow;
    double uw = median_of(med + nrow - deep, deep, 3);
    /* a wall between this bone's end and the middle of the gap; farther out
     * the boundary found is the other bone's echo across a dark cleft */
    if (isnan(uw) || (uw - ue) * dir < 0 || (uw - ue) * dir >= (uo - uw) * dir) return 0;
    /* the wall's top, and the boundary from the end down to it */
    int n = 0;
    for (int i = 0; i < nrow && n < wp->cap; i++) {
        if (isnan(med[i])) continue;
        double tol = WALL_TOL_MM / sp * u_step(g, r0 + i);
        int top = (med[i] - uw) * dir >= -tol;
        double u = top ? uw : med[i];
        if ((u - ue) * dir > 0) {
            from_beam(g, u, r0 + i, &out_x[n], &out_y[n]);
            n++;
        }
        if (top) break;
    }
    return n;
}
