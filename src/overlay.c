/* overlay.c - draws a frame's result over the frame (RGB), via the shim's
 * anti-aliased primitives. No allocation: the caller owns the RGB buffer. */
#include "usg/overlay.h"
#include "cvshim/cvshim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum {
    COL_CLIP = 0x5A8FA8,
    COL_SCALE = 0xE0E0E0,
    COL_SACRUM = 0xFFC83D,  /* amber */
    COL_ILIUM = 0xE040FB,   /* magenta */
    COL_TARGET = 0x39FF88,  /* green */
    COL_NEEDLE = 0x40E0FF,  /* cyan */
    COL_NEEDLE_COAST = 0x2A7F8F, /* dim cyan: predicted, not measured */
    COL_HIT = 0x39FF88,
    COL_MISS = 0xFF4040,
    COL_PATH = 0xD0D0D0,    /* no target: neutral */
    COL_TEXT = 0xFFFFFF,
    COL_SHADOW = 0x000000
};

/* Text drawn with a dark halo so it stays readable over speckle. */
static void label(usg_rgb *img, const char *text, int x, int y, double scale, unsigned col) {
    cvshim_text(img, text, x, y, scale, COL_SHADOW, 3);
    cvshim_text(img, text, x, y, scale, col, 1);
}

/* Text scale from the image size: ~13 px glyphs at 640x480. */
static double text_scale(const usg_rgb *img) {
    double s = img->height / 640.0;
    return s < 0.5 ? 0.5 : s > 1.2 ? 1.2 : s;
}

static void clip_rect(const usg_probe *p, const usg_rgb *img, int *x, int *y, int *w, int *h) {
    usg_probe_clip_rect(p, img->width, img->height, x, y, w, h);
}

/* A point of the fan (radius r, angle a in radians from the vertical) in frame pixels. */
static usg_point fan_point(const usg_rgb *img, const usg_probe *p, double r, double a) {
    return usg_probe_to_frame(p, img->width, img->height, p->apex_x + r * sin(a), p->apex_y + r * cos(a));
}

/* Arc of the fan at radius r, as a polyline in frame pixels. */
static void fan_arc(usg_rgb *img, const usg_probe *p, double r) {
    double xy[2 * 33];
    for (int i = 0; i <= 32; i++) {
        double a = (p->angle_start_deg + (p->angle_end_deg - p->angle_start_deg) * i / 32.0) * M_PI / 180.0;
        usg_point q = fan_point(img, p, r, a);
        xy[2 * i] = q.x;
        xy[2 * i + 1] = q.y;
    }
    cvshim_polyline(img, xy, 33, COL_CLIP, 1);
}

static void draw_fan(usg_rgb *img, const usg_probe *p) {
    fan_arc(img, p, p->radius_inner);
    fan_arc(img, p, p->radius_outer);
    const double ends[2] = {p->angle_start_deg, p->angle_end_deg};
    for (int k = 0; k < 2; k++) {
        double a = ends[k] * M_PI / 180.0;
        usg_point q0 = fan_point(img, p, p->radius_inner, a), q1 = fan_point(img, p, p->radius_outer, a);
        cvshim_line(img, q0.x, q0.y, q1.x, q1.y, COL_CLIP, 1);
    }
}

/* Frame row of a depth (mm) below the transducer face: usg_probe_depth_mm is linear in y. */
static double row_of_depth(const usg_rgb *img, const usg_probe *p, double mm) {
    double d0 = usg_probe_depth_mm(p, img->width, img->height, 0);
    double d1 = usg_probe_depth_mm(p, img->width, img->height, 1);
    return (mm - d0) / (d1 - d0);
}

/* Depth scale in cm along the right side of the clip, from the skin line down
 * (up when the transducer is at the bottom). */
static void draw_depth_scale(usg_rgb *img, const usg_probe *p, int cx, int cy, int cw, int ch, double ts) {
    if (!(p->spacing_y_mm > 0)) return;
    double x = cx + cw - 6, y0 = row_of_depth(img, p, 0);
    int up = usg_probe_near_side_down(p);
    cvshim_line(img, x, y0, x, up ? cy : cy + ch - 1, COL_SCALE, 1);
    for (int mm = 0;; mm += 5) {
        double y = row_of_depth(img, p, mm);
        if (y > cy + ch - 1 || y < cy) break;
        int major = mm % 10 == 0;
        cvshim_line(img, x - (major ? 10 : 5), y, x, y, COL_SCALE, 1);
        if (major && mm > 0) {
            char t[16];
            snprintf(t, sizeof t, "%d", mm / 10);
            int tw, th;
            cvshim_text_size(t, ts, 1, &tw, &th);
            label(img, t, (int)(x - 14 - tw), (int)(y + th / 3), ts, COL_SCALE);
        }
    }
    label(img, "cm", (int)(x - 28), (int)(up ? y0 - 6 : y0 + 16 * ts + 2), ts, COL_SCALE);
}

/* A bone edge; its name sits toward the outer end, away from the joint cleft
 * (and the needle tip) near the image centre. */
static void draw_edge(usg_rgb *img, const usg_edge *e, unsigned col, const char *name, double ts) {
    if (!e->found || e->n < 1) return;
    for (int i = 1; i < e->n; i++) {
        cvshim_line(img, e->pts[i - 1].x, e->pts[i - 1].y, e->pts[i].x, e->pts[i].y, col, 2);
    }
    int outer_left = e->pts[e->n / 2].x < img->width / 2.0;
    const usg_point *at = &e->pts[outer_left ? e->n / 5 : e->n - 1 - e->n / 5];
    int tw, th;
    cvshim_text_size(name, ts * 0.9, 1, &tw, &th);
    label(img, name, (int)at->x - tw / 2, (int)at->y - th, ts * 0.9, col);
}

static void draw_target(usg_rgb *img, const usg_target *t, const usg_probe *p, double ts) {
    if (!t->found) return;
    double x = t->point.x, y = t->point.y, r = 9;
    cvshim_circle(img, x, y, r, COL_TARGET, 1);
    cvshim_line(img, x - 2 * r, y, x - 4, y, COL_TARGET, 1);
    cvshim_line(img, x + 4, y, x + 2 * r, y, COL_TARGET, 1);
    cvshim_line(img, x, y - 2 * r, x, y - 4, COL_TARGET, 1);
    cvshim_line(img, x, y + 4, x, y + 2 * r, COL_TARGET, 1);
    char text[48];
    if (p->spacing_y_mm > 0) snprintf(text, sizeof text, "target %.1f mm", usg_probe_depth_mm(p, img->width, img->height, y));
    else snprintf(text, sizeof text, "target");
    label(img, text, (int)(x + 2 * r + 4), (int)(y + 5), ts, COL_TARGET);
}

/* Dashed line from (x0,y0) to (x1,y1): 8 px on, 6 px off. */
static void dashed(usg_rgb *img, double x0, double y0, double x1, double y1, unsigned col) {
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
    if (len < 1e-6) return;
    dx /= len;
    dy /= len;
    for (double s = 0; s < len; s += 14) {
        double e = s + 8 < len ? s + 8 : len;
        cvshim_line(img, x0 + dx * s, y0 + dy * s, x0 + dx * e, y0 + dy * e, col, 2);
    }
}

/* The projected path: from the tip along the axis to the target's depth (or the image bottom). */
static void draw_path(usg_rgb *img, const usg_result *res, int cy, int ch) {
    const usg_needle *n = &res->needle;
    double dx = n->tip.x - n->entry.x, dy = n->tip.y - n->entry.y;
    double len = sqrt(dx * dx + dy * dy);
    if (len < 1e-6) return;
    dx /= len;
    dy /= len;
    double stop_y = res->target.found ? res->target.point.y : cy + ch - 1;
    double s = fabs(dy) > 1e-3 ? (stop_y - n->tip.y) / dy : 0;
    if (s <= 0) s = 0.15 * len; /* the target is not ahead in depth: a short stub */
    unsigned col = COL_PATH;
    if (res->target.found && res->target.has_needle_metrics) {
        col = res->target.trajectory_miss_mm <= USG_TRAJECTORY_HIT_MM ? COL_HIT : COL_MISS;
    }
    dashed(img, n->tip.x, n->tip.y, n->tip.x + dx * s, n->tip.y + dy * s, col);
}

/* Below this confidence the tracker is coasting on its prediction: drawn dim and marked. */
#define USG_OVERLAY_COAST_CONFIDENCE 0.3

static void draw_needle(usg_rgb *img, const usg_result *res, int cy, int ch, double ts) {
    const usg_needle *n = &res->needle;
    if (!n->found) return;
    int coasting = n->confidence < USG_OVERLAY_COAST_CONFIDENCE;
    unsigned col = coasting ? COL_NEEDLE_COAST : COL_NEEDLE;
    cvshim_line(img, n->entry.x, n->entry.y, n->tip.x, n->tip.y, col, coasting ? 1 : 2);
    draw_path(img, res, cy, ch);
    cvshim_circle(img, n->tip.x, n->tip.y, 5, col, 2);
    if (coasting) label(img, "predicted", (int)n->tip.x + 10, (int)n->tip.y + 18, ts * 0.8, col);
    if (res->target.found && res->target.has_needle_metrics) {
        char text[64];
        unsigned col = res->target.trajectory_miss_mm <= USG_TRAJECTORY_HIT_MM ? COL_HIT : COL_MISS;
        snprintf(text, sizeof text, "%.1f mm to target", res->target.tip_distance_mm);
        label(img, text, (int)n->tip.x + 10, (int)n->tip.y - 10, ts, col);
    }
}

static void draw_status(usg_rgb *img, const char *status_line, double ts) {
    if (!status_line || !*status_line) return;
    int tw, th;
    cvshim_text_size(status_line, ts, 1, &tw, &th);
    cvshim_shade_rect(img, 0, 0, tw + 12, th + 10, 0x000000, 0.55);
    cvshim_text(img, status_line, 6, th + 2, ts, COL_TEXT, 1);
}

usg_status usg_overlay_render(const usg_image *frame, const usg_result *res, const usg_probe *probe,
                              const char *status_line, usg_rgb *out) {
    usg_status st = usg_rgb_from_grey(frame, out);
    if (st != USG_OK) return st;
    int cx, cy, cw, ch;
    clip_rect(probe, out, &cx, &cy, &cw, &ch);
    double ts = text_scale(out);
    if (probe->has_clip) cvshim_rect(out, cx, cy, cw, ch, COL_CLIP, 1);
    if (probe->geometry == USG_GEOM_CURVILINEAR) draw_fan(out, probe);
    draw_depth_scale(out, probe, cx, cy, cw, ch, ts);
    if (res && res->status == USG_FRAME_OK) {
        draw_edge(out, &res->sacrum, COL_SACRUM, "sacrum", ts);
        draw_edge(out, &res->ilium, COL_ILIUM, "ilium", ts);
        draw_target(out, &res->target, probe, ts);
        draw_needle(out, res, cy, ch, ts);
    } else if (res && res->status == USG_FRAME_ERROR) {
        label(out, "FRAME ERROR", cx + 10, cy + ch / 2, ts * 1.5, COL_MISS);
    }
    draw_status(out, status_line, ts);
    return USG_OK;
}

usg_status usg_overlay_no_signal(const char *detail, usg_rgb *out) {
    memset(out->data, 0, (size_t)out->stride * out->height);
    double ts = text_scale(out) * 2.0;
    int tw, th;
    cvshim_text_size("NO SIGNAL", ts, 2, &tw, &th);
    cvshim_text(out, "NO SIGNAL", (out->width - tw) / 2, out->height / 2, ts, COL_MISS, 2);
    if (detail && *detail) {
        double ds = text_scale(out);
        cvshim_text_size(detail, ds, 1, &tw, &th);
        cvshim_text(out, detail, (out->width - tw) / 2, out->height / 2 + 2 * th + 6, ds, COL_TEXT, 1);
    }
    return USG_OK;
}
