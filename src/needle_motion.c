/* needle_motion.c - how far the probe moved between frames: the shift of the
 * whole image (4x4 block means inside the imaged region) that best matches
 * the frame before (least mean absolute difference over shifts of up to
 * ND_MOTION_R blocks, refined to sub-block by a parabola), summed into an
 * odometer. A needle grows along its line while the tissue stays; with the
 * probe sliding, structures slide in from the region's edge and seem to grow. */
#include "needle_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "usg/status.h"

#define ND_MOTION_BLOCK 4 /* px per block side */
#define ND_MOTION_R 3     /* largest shift searched, blocks */
/* A shift is taken when it matches clearly better than none (its difference
 * under this share of the unshifted one's): speckle that decorrelates
 * between frames matches no shift better than another. */
#define ND_MOTION_CLEAR 0.95
/* ... and refined only where the differences around it curve this much
 * (against their level): a flat neighbourhood has no vertex to find. */
#define ND_MOTION_CURV 0.05

usg_status nd_motion_init(nd_motion *mo, int w, int h, const uint8_t *mask, double sp) {
    memset(mo, 0, sizeof *mo);
    mo->w = w / ND_MOTION_BLOCK;
    mo->h = h / ND_MOTION_BLOCK;
    mo->block_mm = ND_MOTION_BLOCK * sp;
    size_t n = (size_t)mo->w * mo->h;
    if (n == 0) return USG_OK;
    mo->prev = malloc(n * sizeof(float));
    mo->cur = malloc(n * sizeof(float));
    mo->ok = malloc(n);
    if (!mo->prev || !mo->cur || !mo->ok) {
        nd_motion_free(mo);
        return usg_fail(USG_ERR_NOMEM, "needle: out of memory for the motion estimate");
    }
    /* a block counts when it lies wholly inside the imaged region */
    for (int by = 0; by < mo->h; by++) {
        for (int bx = 0; bx < mo->w; bx++) {
            int in = 1;
            for (int y = 0; y < ND_MOTION_BLOCK && in; y++) {
                const uint8_t *row = mask ? mask + (size_t)(by * ND_MOTION_BLOCK + y) * w + bx * ND_MOTION_BLOCK : NULL;
                for (int x = 0; x < ND_MOTION_BLOCK && in && row; x++) in = row[x] != 0;
            }
            mo->ok[(size_t)by * mo->w + bx] = (uint8_t)in;
        }
    }
    return USG_OK;
}

void nd_motion_free(nd_motion *mo) {
    free(mo->prev);
    free(mo->cur);
    free(mo->ok);
    mo->prev = mo->cur = NULL;
    mo->ok = NULL;
}

/* Mean absolute difference between cur and prev shifted by (dx, dy) blocks,
 * over every other valid block; a large value when too few overlap. */
static double mad_at(const nd_motion *mo, int dx, int dy) {
    double s = 0;
    long n = 0;
    for (int y = ND_MOTION_R; y < mo->h - ND_MOTION_R; y += 2) {
        const float *c = mo->cur + (size_t)y * mo->w, *p = mo->prev + (size_t)(y + dy) * mo->w + dx;
        const uint8_t *ok = mo->ok + (size_t)y * mo->w, *okp = mo->ok + (size_t)(y + dy) * mo->w + dx;
        for (int x = ND_MOTION_R + (y / 2) % 2; x < mo->w - ND_MOTION_R; x += 2) {
            if (ok[x] && okp[x]) {
                s += fabs(c[x] - p[x]);
                n++;
            }
        }
    }
    return n >= 16 ? s / n : 1e30;
}

/* Sub-sample offset of a parabola's vertex through (-1, a), (0, b), (1, c);
 * 0 where it hardly curves (ND_MOTION_CURV). */
static double vertex(double a, double b, double c) {
    double d = a - 2 * b + c;
    return d > ND_MOTION_CURV * b && d > 1e-9 ? fmin(0.5, fmax(-0.5, 0.5 * (a - c) / d)) : 0.0;
}

void nd_motion_update(nd_motion *mo, const usg_image *img, long frame_no) {
    if (!mo->cur || (mo->have_prev && mo->prev_frame == frame_no)) return;
    for (int by = 0; by < mo->h; by++) {
        float *out = mo->cur + (size_t)by * mo->w;
        for (int bx = 0; bx < mo->w; bx++) {
            int s = 0;
            for (int y = 0; y < ND_MOTION_BLOCK; y++) {
                const uint8_t *row = usg_image_row(img, by * ND_MOTION_BLOCK + y) + bx * ND_MOTION_BLOCK;
                for (int x = 0; x < ND_MOTION_BLOCK; x++) s += row[x];
            }
            out[bx] = (float)s / (ND_MOTION_BLOCK * ND_MOTION_BLOCK);
        }
    }
    mo->last_mm = 0;
    if (mo->have_prev) { /* (against the frame taken last, however many were not: the net shift since) */
        double mad[2 * ND_MOTION_R + 1][2 * ND_MOTION_R + 1];
        int bx = 0, by = 0;
        for (int dy = -ND_MOTION_R; dy <= ND_MOTION_R; dy++) {
            for (int dx = -ND_MOTION_R; dx <= ND_MOTION_R; dx++) {
                mad[dy + ND_MOTION_R][dx + ND_MOTION_R] = mad_at(mo, dx, dy);
                if (mad[dy + ND_MOTION_R][dx + ND_MOTION_R] < mad[by + ND_MOTION_R][bx + ND_MOTION_R]) {
                    bx = dx;
                    by = dy;
                }
            }
        }
        if (mad[by + ND_MOTION_R][bx + ND_MOTION_R] >= ND_MOTION_CLEAR * mad[ND_MOTION_R][ND_MOTION_R]) bx = by = 0;
        double sx = bx, sy = by;
        int cx = bx + ND_MOTION_R, cy = by + ND_MOTION_R;
        if (bx > -ND_MOTION_R && bx < ND_MOTION_R) sx += vertex(mad[cy][cx - 1], mad[cy][cx], mad[cy][cx + 1]);
        if (by > -ND_MOTION_R && by < ND_MOTION_R) sy += vertex(mad[cy - 1][cx], mad[cy][cx], mad[cy + 1][cx]);
        mo->last_mm = hypot(sx, sy) * mo->block_mm;
        mo->odo_mm += mo->last_mm;
    }
    float *t = mo->prev;
    mo->prev = mo->cur;
    mo->cur = t;
    mo->have_prev = 1;
    mo->prev_frame = frame_no;
}
