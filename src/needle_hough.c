/* needle_hough.c - Hough transform over (axis angle, offset) with votes
 * restricted to the local ridge orientation, and peak picking. */
#include "needle_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

usg_status nd_hough_init(nd_hough *hg, int w, int h, double max_angle_deg) {
    memset(hg, 0, sizeof *hg);
    hg->nth = 180;
    hg->nrho = (int)ceil(hypot(w, h)) + 5;
    hg->rho_off = (hg->nrho - 1) / 2.0;
    hg->cx = (w - 1) / 2.0;
    hg->cy = (h - 1) / 2.0;
    for (int b = 0; b < 180; b++) {
        double t = b * M_PI / 180.0;
        hg->cs[b] = (float)cos(t);
        hg->sn[b] = (float)sin(t);
        hg->allowed[b] = (b <= max_angle_deg || b >= 180 - max_angle_deg);
    }
    hg->acc = calloc((size_t)hg->nth * (size_t)hg->nrho, sizeof(float));
    if (!hg->acc) return usg_fail(USG_ERR_NOMEM, "needle: out of memory for the Hough accumulator");
    return USG_OK;
}

void nd_hough_free(nd_hough *hg) {
    free(hg->acc);
    hg->acc = NULL;
}

void nd_hough_clear(nd_hough *hg) {
    memset(hg->acc, 0, (size_t)hg->nth * (size_t)hg->nrho * sizeof(float));
}

void nd_hough_vote(nd_hough *hg, double x, double y, double theta_deg, int spread, float weight) {
    int t0 = (int)lrint(theta_deg);
    double rx = x - hg->cx, ry = y - hg->cy;
    for (int dt = -spread; dt <= spread; dt++) {
        int b = ((t0 + dt) % 180 + 180) % 180;
        if (!hg->allowed[b]) continue;
        double rho = -rx * hg->sn[b] + ry * hg->cs[b];
        int idx = (int)lrint(rho + hg->rho_off);
        if (idx < 0 || idx >= hg->nrho) continue;
        hg->acc[(size_t)b * hg->nrho + idx] += weight;
    }
}

/* Zero the neighbourhood of (b, idx), following the line across the 0/180 wrap. */
static void suppress(nd_hough *hg, int b0, int idx0, int db, int dr) {
    for (int dt = -db; dt <= db; dt++) {
        int b = b0 + dt, idx = idx0;
        if (b < 0 || b >= 180) {
            b = (b + 180) % 180;
            idx = hg->nrho - 1 - idx0;
        }
        float *row = hg->acc + (size_t)b * hg->nrho;
        for (int r = idx - dr; r <= idx + dr; r++) {
            if (r >= 0 && r < hg->nrho) row[r] = 0;
        }
    }
}

int nd_hough_peaks(nd_hough *hg, nd_hough_peak *out, int k) {
    int n = 0;
    size_t total = (size_t)hg->nth * (size_t)hg->nrho;
    while (n < k) {
        size_t best = 0;
        float bv = 0;
        for (size_t i = 0; i < total; i++) {
            if (hg->acc[i] > bv) { bv = hg->acc[i]; best = i; }
        }
        if (bv <= 0) break;
        int b = (int)(best / (size_t)hg->nrho), idx = (int)(best % (size_t)hg->nrho);
        /* sub-bin refinement of the offset by a parabola */
        double off = 0;
        const float *row = hg->acc + (size_t)b * hg->nrho;
        if (idx > 0 && idx < hg->nrho - 1) {
            double l = row[idx - 1], c = row[idx], r = row[idx + 1], den = l - 2 * c + r;
            if (den < 0) off = 0.5 * (l - r) / den;
        }
        out[n].theta_deg = b;
        out[n].rho = idx + off - hg->rho_off;
        out[n].votes = bv;
        n++;
        suppress(hg, b, idx, 4, 6);
    }
    return n;
}
