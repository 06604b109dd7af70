/* result.c - per-frame results: reset, errors and JSON serialisation. */
#include "usg/result.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void usg_result_reset(usg_result *r, int frame, double t_ms) {
    r->frame = frame;
    r->t_ms = t_ms;
    r->status = USG_FRAME_OK;
    r->error[0] = 0;
    memset(&r->needle, 0, sizeof r->needle);
    r->sacrum.found = r->sacrum.n = 0;
    r->ilium.found = r->ilium.n = 0;
    memset(&r->target, 0, sizeof r->target);
    r->has_latency = 0;
    memset(&r->latency, 0, sizeof r->latency);
    r->has_spacing = 0;
    r->spacing_mm = 0;
    r->degraded = 0;
}

void usg_result_set_error(usg_result *r, const char *msg) {
    r->status = USG_FRAME_ERROR;
    snprintf(r->error, sizeof r->error, "%s", msg ? msg : "error");
}

/* Bounded appender: records overflow instead of writing past the end. */
typedef struct jbuf {
    char *p;
    size_t cap, len;
    int overflow;
} jbuf;

static void put(jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(jbuf *b, const char *fmt, ...) {
    if (b->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->overflow = 1;
        return;
    }
    b->len += (size_t)n;
}

/* A JSON number: finite values only (JSON has no inf/nan); others become null. */
static void put_num(jbuf *b, double v, int decimals) {
    if (isfinite(v)) put(b, "%.*f", decimals, v);
    else put(b, "null");
}

static void put_point(jbuf *b, usg_point p) {
    put(b, "[");
    put_num(b, p.x, 2);
    put(b, ",");
    put_num(b, p.y, 2);
    put(b, "]");
}

static void put_string(jbuf *b, const char *s) {
    put(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') put(b, "\\%c", c);
        else if (c == '\n') put(b, "\\n");
        else if (c == '\t') put(b, "\\t");
        else if (c < 0x20) put(b, "\\u%04x", c);
        else put(b, "%c", c);
    }
    put(b, "\"");
}

static int finite_point(usg_point p) { return isfinite(p.x) && isfinite(p.y); }

/* A stage result with non-finite coordinates is written as not found. */
static void put_needle(jbuf *b, const usg_needle *n) {
    int found = n->found && finite_point(n->tip) && finite_point(n->entry) && isfinite(n->angle_deg);
    put(b, ", \"needle\": {\"found\": %s", found ? "true" : "false");
    if (found) {
        put(b, ", \"tip\": ");
        put_point(b, n->tip);
        put(b, ", \"entry\": ");
        put_point(b, n->entry);
        put(b, ", \"angle_deg\": ");
        put_num(b, n->angle_deg, 2);
        put(b, ", \"confidence\": ");
        put_num(b, n->confidence, 3);
    }
    put(b, "}");
}

static void put_edge(jbuf *b, const char *name, const usg_edge *e) {
    int n = e->n < USG_EDGE_MAX ? e->n : USG_EDGE_MAX, finite = 0;
    for (int i = 0; i < n; i++) finite += finite_point(e->pts[i]);
    int found = e->found && finite > 0;
    put(b, ", \"%s\": {\"found\": %s", name, found ? "true" : "false");
    if (found) {
        put(b, ", \"edge\": [");
        for (int i = 0, k = 0; i < n; i++) {
            if (!finite_point(e->pts[i])) continue;
            if (k++) put(b, ",");
            put_point(b, e->pts[i]);
        }
        put(b, "]");
    }
    put(b, "}");
}

static void put_target(jbuf *b, const usg_target *t) {
    int found = t->found && finite_point(t->point);
    put(b, ", \"target\": {\"found\": %s", found ? "true" : "false");
    if (found) {
        put(b, ", \"point\": ");
        put_point(b, t->point);
        if (t->has_needle_metrics) {
            put(b, ", \"tip_distance_mm\": ");
            put_num(b, t->tip_distance_mm, 3);
            put(b, ", \"trajectory_miss_mm\": ");
            put_num(b, t->trajectory_miss_mm, 3);
        }
    }
    put(b, "}");
}

static void put_latency(jbuf *b, const usg_latency *l) {
    put(b, ", \"latency_ms\": {\"total\": %.3f, \"denoise\": %.3f, \"bone\": %.3f, \"needle\": %.3f, "
           "\"target\": %.3f, \"overlay\": %.3f",
        l->total, l->denoise, l->bone, l->needle, l->target, l->overlay);
    if (l->has_e2e) put(b, ", \"e2e\": %.3f", l->e2e);
    put(b, "}");
}

static const char *status_name(usg_frame_status s) {
    return s == USG_FRAME_ERROR ? "error" : s == USG_FRAME_DROPPED ? "dropped" : "ok";
}

usg_status usg_result_to_json(const usg_result *r, char *buf, size_t cap, size_t *len) {
    jbuf b = {buf, cap, 0, 0};
    put(&b, "{\"frame\": %d, \"t_ms\": ", r->frame);
    put_num(&b, r->t_ms, 3);
    put(&b, ", \"status\": \"%s\"", status_name(r->status));
    if (r->status == USG_FRAME_ERROR) {
        put(&b, ", \"error\": ");
        put_string(&b, r->error);
    }
    if (r->has_spacing) put(&b, ", \"spacing_mm\": %.6g", r->spacing_mm);
    if (r->status == USG_FRAME_OK) {
        put_needle(&b, &r->needle);
        put_edge(&b, "sacrum", &r->sacrum);
        put_edge(&b, "ilium", &r->ilium);
        put_target(&b, &r->target);
    }
    if (r->degraded > 0) put(&b, ", \"degraded\": %d", r->degraded);
    if (r->has_latency) put_latency(&b, &r->latency);
    put(&b, "}\n");
    if (b.overflow) {
        if (cap) buf[0] = 0;
        return usg_fail(USG_ERR_ARG, "result JSON for frame %d does not fit %zu bytes", r->frame, cap);
    }
    if (len) *len = b.len;
    return USG_OK;
}

size_t usg_result_json_capacity(void) {
    /* two edges of USG_EDGE_MAX points at <= 24 chars each, an escaped error, the rest */
    return (size_t)2 * USG_EDGE_MAX * 24 + 6 * 256 + 4096;
}
