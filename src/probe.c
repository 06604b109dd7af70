/* probe.c - probe profile INI parsing, validation, saving and fan geometry. */
#include "usg/probe.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void usg_probe_default(usg_probe *p) {
    memset(p, 0, sizeof *p);
    p->geometry = USG_GEOM_LINEAR;
    snprintf(p->orientation, sizeof p->orientation, "MF");
    p->medial_side = USG_SIDE_AUTO;
}

/* Which keys were seen (for required-key checks). */
typedef struct seen_keys {
    int geometry, spacing, spacing_x, spacing_y, apex, radius, angle, name;
} seen_keys;

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* Parse exactly n finite numbers separated by spaces/commas. */
static int parse_numbers(const char *v, double *out, int n) {
    const char *p = v;
    for (int i = 0; i < n; i++) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        char *end;
        errno = 0;
        double d = strtod(p, &end);
        if (end == p || errno || !isfinite(d)) return 0;
        out[i] = d;
        p = end;
    }
    while (*p == ' ' || *p == '\t') p++;
    return *p == 0;
}

#define BAD(fmt, ...) usg_fail(USG_ERR_ARG, "%s:%d: " fmt, src, line, __VA_ARGS__)

static usg_status set_positive(const char *src, int line, const char *key, const char *v, double *dst) {
    double d;
    if (!parse_numbers(v, &d, 1)) return BAD("%s: '%s' is not a number", key, v);
    if (!(d > 0) || d > 100) return BAD("%s = %s: must be > 0 and <= 100 mm per pixel", key, v);
    *dst = d;
    return USG_OK;
}

static usg_status parse_side(const char *src, int line, const char *v, usg_side *out) {
    if (!strcmp(v, "left")) *out = USG_SIDE_LEFT;
    else if (!strcmp(v, "right")) *out = USG_SIDE_RIGHT;
    else if (!strcmp(v, "auto")) *out = USG_SIDE_AUTO;
    else return BAD("medial_side = %s: must be left, right or auto", v);
    return USG_OK;
}

static usg_status parse_orientation(const char *src, int line, const char *v, usg_probe *p) {
    size_t n = strlen(v);
    int ok = n >= 2 && n <= 3 && strchr("MU", v[0]) && strchr("FN", v[1]) && (n == 2 || strchr("AD", v[2]));
    if (!ok) return BAD("orientation = %s: expected M or U then F or N (PLUS: MF, MN, UF, UN)", v);
    snprintf(p->orientation, sizeof p->orientation, "%s", v);
    return USG_OK;
}

static usg_status set_key(const char *src, int line, const char *key, const char *v, usg_probe *p, seen_keys *seen) {
    double d[4];
    if (!strcmp(key, "name")) {
        snprintf(p->name, sizeof p->name, "%s", v);
        seen->name = 1;
    } else if (!strcmp(key, "geometry")) {
        if (!strcmp(v, "linear")) p->geometry = USG_GEOM_LINEAR;
        else if (!strcmp(v, "curvilinear")) p->geometry = USG_GEOM_CURVILINEAR;
        else return BAD("geometry = %s: must be linear or curvilinear", v);
        seen->geometry = 1;
    } else if (!strcmp(key, "spacing_mm")) {
        usg_status st = set_positive(src, line, key, v, &p->spacing_x_mm);
        if (st != USG_OK) return st;
        p->spacing_y_mm = p->spacing_x_mm;
        seen->spacing = 1;
    } else if (!strcmp(key, "spacing_x_mm")) {
        seen->spacing_x = 1;
        return set_positive(src, line, key, v, &p->spacing_x_mm);
    } else if (!strcmp(key, "spacing_y_mm")) {
        seen->spacing_y = 1;
        return set_positive(src, line, key, v, &p->spacing_y_mm);
    } else if (!strcmp(key, "clip")) {
        if (!parse_numbers(v, d, 4)) return BAD("clip = %s: expected 4 numbers: x y w h", v);
        for (int i = 0; i < 4; i++) {
            if (d[i] != floor(d[i]) || d[i] < 0 || d[i] > USG_MAX_SIDE) return BAD("clip = %s: values must be whole pixels in 0..%d", v, USG_MAX_SIDE);
        }
        if (d[2] < 16 || d[3] < 16) return BAD("clip = %s: width and height must be at least 16 px", v);
        p->has_clip = 1;
        p->clip_x = (int)d[0]; p->clip_y = (int)d[1]; p->clip_w = (int)d[2]; p->clip_h = (int)d[3];
    } else if (!strcmp(key, "orientation")) {
        return parse_orientation(src, line, v, p);
    } else if (!strcmp(key, "medial_side")) {
        return parse_side(src, line, v, &p->medial_side);
    } else if (!strcmp(key, "apex")) {
        if (!parse_numbers(v, d, 2)) return BAD("apex = %s: expected 2 numbers: x y", v);
        p->apex_x = d[0]; p->apex_y = d[1];
        seen->apex = 1;
    } else if (!strcmp(key, "radius")) {
        if (!parse_numbers(v, d, 2)) return BAD("radius = %s: expected 2 numbers: inner outer", v);
        if (d[0] < 0 || d[1] <= d[0]) return BAD("radius = %s: need 0 <= inner < outer", v);
        p->radius_inner = d[0]; p->radius_outer = d[1];
        seen->radius = 1;
    } else if (!strcmp(key, "angle")) {
        if (!parse_numbers(v, d, 2)) return BAD("angle = %s: expected 2 numbers: start end (degrees)", v);
        if (d[0] >= d[1] || d[0] < -89 || d[1] > 89) return BAD("angle = %s: need -89 <= start < end <= 89 degrees", v);
        p->angle_start_deg = d[0]; p->angle_end_deg = d[1];
        seen->angle = 1;
    } else if (!strcmp(key, "denoise")) {
        static const char *const ok[] = {"none", "median", "bilateral", "guided", "srad"};
        int found = 0;
        for (int i = 0; i < 5; i++) found |= !strcmp(v, ok[i]);
        if (!found) return BAD("denoise = %s: must be none, median, bilateral, guided or srad", v);
        snprintf(p->denoise, sizeof p->denoise, "%s", v);
    } else {
        return usg_fail(USG_ERR_ARG, "%s:%d: unknown key '%s' in [probe]", src, line, key);
    }
    return USG_OK;
}

static usg_status check_required(const char *src, const seen_keys *s, usg_probe *p) {
    if (!s->geometry) return usg_fail(USG_ERR_ARG, "%s: missing required key 'geometry' in [probe]", src);
    if (!s->spacing && !(s->spacing_x && s->spacing_y)) {
        if (s->spacing_x || s->spacing_y) {
            return usg_fail(USG_ERR_ARG, "%s: missing required key '%s' (spacing_x_mm and spacing_y_mm go together)",
                            src, s->spacing_x ? "spacing_y_mm" : "spacing_x_mm");
        }
        return usg_fail(USG_ERR_ARG, "%s: missing required key 'spacing_mm' in [probe]", src);
    }
    if (p->geometry == USG_GEOM_CURVILINEAR) {
        const char *miss = !s->apex ? "apex" : !s->radius ? "radius" : !s->angle ? "angle" : NULL;
        if (miss) return usg_fail(USG_ERR_ARG, "%s: missing required key '%s' for a curvilinear probe", src, miss);
    }
    return USG_OK;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

usg_status usg_probe_parse(const char *text, const char *src, usg_probe *out) {
    usg_probe p;
    usg_probe_default(&p);
    seen_keys seen;
    memset(&seen, 0, sizeof seen);
    int line = 0, in_probe = 0, had_section = 0;
    const char *cur = text;
    char buf[1024];
    while (*cur) {
        const char *nl = strchr(cur, '\n');
        size_t len = nl ? (size_t)(nl - cur) : strlen(cur);
        line++;
        if (len >= sizeof buf) return BAD("line is longer than %zu characters", sizeof buf - 1);
        memcpy(buf, cur, len);
        buf[len] = 0;
        cur += len + (nl ? 1 : 0);
        char *c = strpbrk(buf, ";#");
        if (c) *c = 0;
        char *s = trim(buf);
        if (!*s) continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (!e || trim(e + 1)[0]) return BAD("malformed section header '%s'", s);
            *e = 0;
            char *name = trim(s + 1);
            if (strcmp(name, "probe") != 0) return usg_fail(USG_ERR_ARG, "%s:%d: unknown section [%s] (expected [probe])", src, line, name);
            in_probe = had_section = 1;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) return BAD("expected 'key = value', got '%s'", s);
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        if (!in_probe) return BAD("key '%s' outside the [probe] section", key);
        if (!*val) return BAD("%s: empty value", key);
        usg_status st = set_key(src, line, key, val, &p, &seen);
        if (st != USG_OK) return st;
    }
    if (!had_section) return usg_fail(USG_ERR_ARG, "%s: no [probe] section", src);
    usg_status st = check_required(src, &seen, &p);
    if (st != USG_OK) return st;
    if (!seen.name) snprintf(p.name, sizeof p.name, "%s", base_name(src));
    *out = p;
    return USG_OK;
}

usg_status usg_probe_load(const char *path, usg_probe *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return usg_fail(USG_ERR_IO, "%s: cannot open probe profile: %s", path, strerror(errno));
    char *text = malloc(65537);
    if (!text) {
        fclose(f);
        return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = fread(text, 1, 65536, f);
    int too_big = n == 65536 && fgetc(f) != EOF;
    fclose(f);
    if (too_big) {
        free(text);
        return usg_fail(USG_ERR_ARG, "%s: probe profile is larger than 64 KiB", path);
    }
    text[n] = 0;
    if (memchr(text, 0, n)) {
        free(text);
        return usg_fail(USG_ERR_ARG, "%s: probe profile contains NUL bytes (binary file?)", path);
    }
    usg_status st = usg_probe_parse(text, path, out);
    free(text);
    return st;
}

static const char *side_name(usg_side s) {
    return s == USG_SIDE_LEFT ? "left" : s == USG_SIDE_RIGHT ? "right" : "auto";
}

usg_status usg_probe_save(const usg_probe *p, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return usg_fail(USG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    fprintf(f, "[probe]\nname = %s\ngeometry = %s\n", p->name,
            p->geometry == USG_GEOM_CURVILINEAR ? "curvilinear" : "linear");
    if (p->spacing_x_mm == p->spacing_y_mm) {
        fprintf(f, "spacing_mm = %.6g\n", p->spacing_x_mm);
    } else {
        fprintf(f, "spacing_x_mm = %.6g\nspacing_y_mm = %.6g\n", p->spacing_x_mm, p->spacing_y_mm);
    }
    if (p->has_clip) fprintf(f, "clip = %d %d %d %d\n", p->clip_x, p->clip_y, p->clip_w, p->clip_h);
    fprintf(f, "orientation = %s\nmedial_side = %s\n", p->orientation, side_name(p->medial_side));
    if (p->geometry == USG_GEOM_CURVILINEAR) {
        fprintf(f, "apex = %.6g %.6g\nradius = %.6g %.6g\nangle = %.6g %.6g\n", p->apex_x, p->apex_y,
                p->radius_inner, p->radius_outer, p->angle_start_deg, p->angle_end_deg);
    }
    if (p->denoise[0]) fprintf(f, "denoise = %s\n", p->denoise);
    if (fclose(f) != 0) return usg_fail(USG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return USG_OK;
}

usg_status usg_probe_check_frame(const usg_probe *p, int w, int h) {
    if (!p->has_clip) return USG_OK;
    if ((long)p->clip_x + p->clip_w > w || (long)p->clip_y + p->clip_h > h) {
        return usg_fail(USG_ERR_ARG, "probe '%s': clip %d %d %d %d does not fit the %dx%d frame", p->name, p->clip_x,
                        p->clip_y, p->clip_w, p->clip_h, w, h);
    }
    return USG_OK;
}

void usg_probe_clip_rect(const usg_probe *p, int frame_w, int frame_h, int *x, int *y, int *w, int *h) {
    if (p->has_clip) {
        *x = p->clip_x; *y = p->clip_y; *w = p->clip_w; *h = p->clip_h;
    } else {
        *x = 0; *y = 0; *w = frame_w; *h = frame_h;
    }
}

usg_image usg_probe_clip_view(const usg_probe *p, const usg_image *frame) {
    int x, y, w, h;
    usg_probe_clip_rect(p, frame->width, frame->height, &x, &y, &w, &h);
    return usg_image_view(frame, x, y, w, h);
}

int usg_probe_inside(const usg_probe *p, double x, double y) {
    if (p->geometry != USG_GEOM_CURVILINEAR) return 1;
    double dx = x - p->apex_x, dy = y - p->apex_y;
    double r = sqrt(dx * dx + dy * dy);
    if (r < p->radius_inner || r > p->radius_outer) return 0;
    double a = atan2(dx, dy) * 180.0 / M_PI; /* angle from the vertical, positive to the right */
    return a >= p->angle_start_deg && a <= p->angle_end_deg;
}

usg_status usg_probe_mask(const usg_probe *p, usg_image *mask) {
    for (int y = 0; y < mask->height; y++) {
        uint8_t *row = usg_image_row(mask, y);
        for (int x = 0; x < mask->width; x++) row[x] = usg_probe_inside(p, x, y) ? 255 : 0;
    }
    return USG_OK;
}

double usg_probe_spacing(const usg_probe *p) { return sqrt(p->spacing_x_mm * p->spacing_y_mm); }

int usg_probe_near_side_down(const usg_probe *p) { return p->orientation[1] == 'N'; }

usg_point usg_probe_to_frame(const usg_probe *p, int frame_w, int frame_h, double x, double y) {
    int cx, cy, cw, ch;
    usg_probe_clip_rect(p, frame_w, frame_h, &cx, &cy, &cw, &ch);
    usg_point out = {cx + x, cy + (usg_probe_near_side_down(p) ? ch - 1 - y : y)};
    return out;
}

double usg_probe_depth_mm(const usg_probe *p, int frame_w, int frame_h, double y) {
    int cx, cy, cw, ch;
    usg_probe_clip_rect(p, frame_w, frame_h, &cx, &cy, &cw, &ch);
    double yn = usg_probe_near_side_down(p) ? ch - 1 - (y - cy) : y - cy; /* normalised row */
    double skin = p->geometry == USG_GEOM_CURVILINEAR ? p->apex_y + p->radius_inner : 0;
    return (yn - skin) * p->spacing_y_mm;
}
