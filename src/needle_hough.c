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

/* Is bin (b, idx) a local maximum over its 3x3 neighbourhood (ties broken by index)? */
static int local_max(const nd_hough *hg, int b, int idx) {
    float v = hg->acc[(size_t)b * hg->nrho + idx];
    for (int db = -1; db <= 1; db++) {
        int bb = b + db, ii = idx;
        if (bb < 0 || bb >= 180) { /* across the wrap the offset changes sign */
            bb = (bb + 180) % 180;
            ii = hg->nrho - 1 - idx;
        }
        const float *row = hg->acc + (size_t)bb * hg->nrho;
        for (int dr = -1; dr <= 1; dr++) {
            int r = ii + dr;
            if ((db == 0 && dr == 0) || r < 0 || r >= hg->nrho) continue;
            if (row[r] > v || (row[r] == v && (db < 0 || (db == 0 && dr < 0)))) return 0;
        }
    }
    return 1;
}

/* Distance test between two peaks in (angle, offset), following the 0/180 wrap. */
int nd_hough_near(const nd_hough_peak *a, const nd_hough_peak *b) {
    double dt = fabs(a->theta_deg - b->theta_deg), dr = fabs(a->rho - b->rho);
    if (dt > 90) { dt = 180 - dt; dr = fabs(a->rho + b->rho); }
    return dt <= 4 && dr <= 6;
}

int nd_hough_peaks(nd_hough *hg, nd_hough_peak *out, int k, double min_deg) {
    enum { POOL = 128 };
    nd_hough_peak pool[POOL];
    int np = 0;
    for (int b = 0; b < 180; b++) {
        if (!hg->allowed[b] || (b <= 90 ? b : 180 - b) < min_deg) continue;
        const float *row = hg->acc + (size_t)b * hg->nrho;
        for (int idx = 0; idx < hg->nrho; idx++) {
            float v = row[idx];
            if (v <= 0 || (np == POOL && v <= pool[np - 1].votes)) continue;
            if (!local_max(hg, b, idx)) continue;
            double off = 0;
            if (idx > 0 && idx < hg->nrho - 1) { /* sub-bin offset by a parabola */
                double l = row[idx - 1], r = row[idx + 1], den = l - 2 * v + r;
                if (den < 0) off = 0.5 * (l - r) / den;
            }
            int pos = np < POOL ? np++ : POOL - 1;
            while (pos > 0 && pool[pos - 1].votes < v) { pool[pos] = pool[pos - 1]; pos--; }
            pool[pos].theta_deg = b;
            pool[pos].rho = idx + off - hg->rho_off;
            pool[pos].votes = v;
        }
    }
    int n = 0;
    for (int i = 0; i < np && n < k; i++) {
        int keep = 1;
        for (int j = 0; j < n && keep; j++) keep = !nd_hough_near(&pool[i], &out[j]);
        if (keep) out[n++] = pool[i];
    }
    return n;
}
