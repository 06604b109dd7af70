/* needle_kalman.c - the small Kalman filters of the needle track: a random
 * walk for the axis angle and offset, constant velocity for the tip. */
#include "needle_internal.h"

void nd_kf1_init(nd_kf1 *k, double x, double p0, double q, double r) {
    k->x = x;
    k->p = p0;
    k->q = q;
    k->r = r;
}

void nd_kf1_predict(nd_kf1 *k) { k->p += k->q; }

double nd_kf1_update(nd_kf1 *k, double z) {
    double s = k->p + k->r, y = z - k->x, g = k->p / s;
    k->x += g * y;
    k->p *= (1 - g);
    return y * y / s;
}

void nd_kf2_init(nd_kf2 *k, double x, double p0, double q, double r) {
    k->x[0] = x;
    k->x[1] = 0;
    k->P[0][0] = p0;
    k->P[0][1] = k->P[1][0] = 0;
    k->P[1][1] = p0;
    k->q = q;
    k->r = r;
}

void nd_kf2_predict(nd_kf2 *k) {
    /* x' = F x, P' = F P F^T + Q with F = [1 1; 0 1], Q = q [1/4 1/2; 1/2 1] (white acceleration) */
    k->x[0] += k->x[1];
    double p00 = k->P[0][0] + k->P[0][1] + k->P[1][0] + k->P[1][1];
    double p01 = k->P[0][1] + k->P[1][1];
    double p11 = k->P[1][1];
    k->P[0][0] = p00 + 0.25 * k->q;
    k->P[0][1] = k->P[1][0] = p01 + 0.5 * k->q;
    k->P[1][1] = p11 + k->q;
}

double nd_kf2_update(nd_kf2 *k, double z) {
    double s = k->P[0][0] + k->r, y = z - k->x[0];
    double g0 = k->P[0][0] / s, g1 = k->P[1][0] / s;
    k->x[0] += g0 * y;
    k->x[1] += g1 * y;
    double p00 = k->P[0][0], p01 = k->P[0][1], p11 = k->P[1][1];
    k->P[0][0] = (1 - g0) * p00;
    k->P[0][1] = k->P[1][0] = (1 - g0) * p01;
    k->P[1][1] = p11 - g1 * p01;
    return y * y / s;
}
