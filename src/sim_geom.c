/* sim_geom.c - probe geometry of the simulator: the linear pixel grid or the
 * curvilinear fan, and the (line, sample) acquisition grid behind it. */
#include "sim_impl.h"

#include <math.h>

#define DEG (M_PI / 180.0)
#define PROBE_RADIUS_MM 50.0   /* C5-2 class curvilinear face radius */
#define MAX_HALF_ANGLE_DEG 35.0

/* Values written to probe.ini are kept at 0.01 so the profile reproduces them exactly. */
static double round2(double v) { return round(v * 100.0) / 100.0; }

/* Fan that fills the image: top corners of the inner arc at y = 1, bottom at h - 2. */
static void fit_fan(sim_geom *g) {
    double half_w = (g->w - 1) / 2.0 - 1.0;
    g->r_in = round2(fmin(PROBE_RADIUS_MM / g->sp, 0.8 * g->h));
    double a = MAX_HALF_ANGLE_DEG * DEG;
    for (int it = 0; it < 50; it++) {
        g->ay = 1.0 - g->r_in * cos(a);
        g->r_out = (g->h - 2.0) - g->ay;
        double amax = asin(fmin(1.0, half_w / g->r_out));
        double inner = asin(fmin(1.0, half_w / g->r_in));
        double na = fmin(fmin(amax, inner), MAX_HALF_ANGLE_DEG * DEG);
        if (fabs(na - a) < 1e-9) break;
        a = na;
    }
    /* whole degrees/100 keep the profile readable; shrink a hair to stay inside */
    double a_deg = floor(a / DEG * 100.0) / 100.0;
    g->ay = round2(1.0 - g->r_in * cos(a_deg * DEG));
    g->r_out = floor((g->h - 2.0) - g->ay);
    g->ax = (g->w - 1) / 2.0;
    g->a0_deg = -a_deg;
    g->a1_deg = a_deg;
}

void sim_geom_init(sim_geom *g, usg_geometry kind, int w, int h, double sp) {
    g->kind = kind;
    g->w = w;
    g->h = h;
    g->sp = sp;
    g->ax = g->ay = g->r_in = g->r_out = g->a0_deg = g->a1_deg = 0;
    g->pad = 0;
    if (kind == USG_GEOM_CURVILINEAR) {
        fit_fan(g);
        g->dtheta = 0.9 / g->r_out;
        g->n_samples = (int)ceil(g->r_out - g->r_in) + 2;
    } else {
        g->dtheta = 0;
        g->n_samples = h;
    }
    sim_geom_set_pad(g, 0);
}

void sim_geom_set_pad(sim_geom *g, int pad) {
    g->pad = pad;
    if (g->kind == USG_GEOM_CURVILINEAR) {
        int core = (int)ceil((g->a1_deg - g->a0_deg) * DEG / g->dtheta) + 1;
        g->n_lines = core + 2 * pad;
        g->theta0 = g->a0_deg * DEG;
    } else {
        g->n_lines = g->w + 2 * pad;
        g->theta0 = 0;
    }
}

int sim_geom_inside(const sim_geom *g, double x, double y) {
    if (x < 0 || y < 0 || x > g->w - 1 || y > g->h - 1) return 0;
    if (g->kind != USG_GEOM_CURVILINEAR) return 1;
    double dx = x - g->ax, dy = y - g->ay;
    double r = sqrt(dx * dx + dy * dy);
    if (r < g->r_in || r > g->r_out) return 0;
    double a = atan2(dx, dy) / DEG;
    return a >= g->a0_deg && a <= g->a1_deg;
}

void sim_geom_cell_to_image(const sim_geom *g, double u, double v, double *x, double *y) {
    if (g->kind == USG_GEOM_CURVILINEAR) {
        double th = g->theta0 + (u - g->pad) * g->dtheta, r = g->r_in + v;
        *x = g->ax + r * sin(th);
        *y = g->ay + r * cos(th);
    } else {
        *x = u - g->pad;
        *y = v;
    }
}

void sim_geom_image_to_cell(const sim_geom *g, double x, double y, double *u, double *v) {
    if (g->kind == USG_GEOM_CURVILINEAR) {
        double dx = x - g->ax, dy = y - g->ay;
        *u = (atan2(dx, dy) - g->theta0) / g->dtheta + g->pad;
        *v = sqrt(dx * dx + dy * dy) - g->r_in;
    } else {
        *u = x + g->pad;
        *v = y;
    }
}

void sim_geom_face_coords(const sim_geom *g, double x, double y, double *lat, double *dep) {
    if (g->kind == USG_GEOM_CURVILINEAR) {
        double dx = x - g->ax, dy = y - g->ay;
        *lat = atan2(dx, dy) * g->r_in;
        *dep = sqrt(dx * dx + dy * dy) - g->r_in;
    } else {
        *lat = x;
        *dep = y;
    }
}

void sim_geom_face_to_image(const sim_geom *g, double lat, double dep, double *x, double *y) {
    if (g->kind == USG_GEOM_CURVILINEAR) {
        double th = lat / g->r_in, r = g->r_in + dep;
        *x = g->ax + r * sin(th);
        *y = g->ay + r * cos(th);
    } else {
        *x = lat;
        *y = dep;
    }
}

void sim_geom_beam_dir(const sim_geom *g, double x, double y, double *bx, double *by) {
    if (g->kind == USG_GEOM_CURVILINEAR) {
        double dx = x - g->ax, dy = y - g->ay, r = sqrt(dx * dx + dy * dy);
        *bx = dx / r;
        *by = dy / r;
    } else {
        *bx = 0;
        *by = 1;
    }
}

double sim_geom_line_spacing(const sim_geom *g, double v) {
    return g->kind == USG_GEOM_CURVILINEAR ? (g->r_in + v) * g->dtheta : 1.0;
}

double sim_geom_face_y(const sim_geom *g) { return g->kind == USG_GEOM_CURVILINEAR ? g->ay + g->r_in : 0.0; }
