/* result_parse.c - usg_result_from_json: a small, strict, allocation-free JSON
 * reader for one line of the results / truth schema (CONTRACT.md "Results").
 *
 * JSON syntax is checked strictly (RFC 8259: no trailing commas, no comments,
 * no NaN/Infinity, no raw control characters in strings); known keys must have
 * the right type; unknown keys are skipped (any JSON value, nested up to 64
 * levels). Errors are USG_ERR_FORMAT with "column N: ..." (1-based byte
 * column of the problem); callers add the file and line.
 *
 * Rules beyond syntax:
 * - "frame" (an integer) is required; "status" defaults to "ok" and must be
 *   one of ok, error, dropped.
 * - each stage object needs "found"; when true, needle needs "tip", "entry"
 *   and "angle_deg", sacrum/ilium need "edge", target needs "point". With
 *   "found": false other keys are ignored.
 * - null is accepted for optional numbers (t_ms, confidence, tip_distance_mm,
 *   trajectory_miss_mm, latency entries, spacing_mm) and means "not given".
 * - an edge holds at most USG_EDGE_MAX points. */
#include "usg/result.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JP_MAX_DEPTH 64
#define JP_KEY_CAP 32
#define JP_NUM_CAP 64

typedef struct jp {
    const char *s; /* start of the line */
    const char *p; /* cursor */
} jp;

static int jp_col(const jp *j, const char *at) { return (int)(at - j->s) + 1; }

static usg_status jp_fail_at(const jp *j, const char *at, const char *what) {
    return usg_fail(USG_ERR_FORMAT, "column %d: %s", jp_col(j, at), what);
}

/* "column N: expected X, found 'c'" at the cursor. */
static usg_status jp_expected(const jp *j, const char *what) {
    unsigned char c = (unsigned char)*j->p;
    if (c == 0) {
        return usg_fail(USG_ERR_FORMAT, "column %d: expected %s, found end of line",
                        jp_col(j, j->p), what);
    }
    if (c < 0x20 || c >= 0x7f) {
        return usg_fail(USG_ERR_FORMAT, "column %d: expected %s, found byte 0x%02x",
                        jp_col(j, j->p), what, c);
    }
    return usg_fail(USG_ERR_FORMAT, "column %d: expected %s, found '%c'", jp_col(j, j->p), what,
                    c);
}

static void jp_ws(jp *j) {
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r') {
        j->p++;
    }
}

/* Skip whitespace, then consume `c` or fail. */
static usg_status jp_char(jp *j, char c, const char *what) {
    jp_ws(j);
    if (*j->p != c) {
        return jp_expected(j, what);
    }
    j->p++;
    return USG_OK;
}

/* Consume the literal `lit` (true/false/null) at the cursor. */
static int jp_literal(jp *j, const char *lit) {
    size_t n = strlen(lit);
    if (strncmp(j->p, lit, n) != 0) {
        return 0;
    }
    j->p += n;
    return 1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static usg_status jp_hex4(jp *j, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0) {
            return jp_fail_at(j, j->p + i, "bad \\u escape: expected 4 hex digits");
        }
        v = v * 16 + (unsigned)h;
    }
    j->p += 4;
    *out = v;
    return USG_OK;
}

/* Append byte c to buf (cap includes the NUL); sets *trunc when it does not fit. */
static void put_byte(char *buf, size_t cap, size_t *len, int *trunc, unsigned char c) {
    if (!buf) {
        return;
    }
    if (*len + 1 < cap) {
        buf[(*len)++] = (char)c;
    } else {
        *trunc = 1;
    }
}

static void put_utf8(char *buf, size_t cap, size_t *len, int *trunc, unsigned cp) {
    if (cp < 0x80) {
        put_byte(buf, cap, len, trunc, (unsigned char)cp);
    } else if (cp < 0x800) {
        put_byte(buf, cap, len, trunc, (unsigned char)(0xc0 | (cp >> 6)));
        put_byte(buf, cap, len, trunc, (unsigned char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        put_byte(buf, cap, len, trunc, (unsigned char)(0xe0 | (cp >> 12)));
        put_byte(buf, cap, len, trunc, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        put_byte(buf, cap, len, trunc, (unsigned char)(0x80 | (cp & 0x3f)));
    } else {
        put_byte(buf, cap, len, trunc, (unsigned char)(0xf0 | (cp >> 18)));
        put_byte(buf, cap, len, trunc, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
        put_byte(buf, cap, len, trunc, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        put_byte(buf, cap, len, trunc, (unsigned char)(0x80 | (cp & 0x3f)));
    }
}

/* One \uXXXX escape (cursor after the 'u'), with surrogate pairs. */
static usg_status jp_unicode(jp *j, unsigned *cp) {
    const char *at = j->p - 2;
    unsigned hi;
    usg_status st = jp_hex4(j, &hi);
    if (st) return st;
    if (hi >= 0xdc00 && hi <= 0xdfff) {
        return jp_fail_at(j, at, "bad \\u escape: lone low surrogate");
    }
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (j->p[0] != '\\' || j->p[1] != 'u') {
            return jp_fail_at(j, at, "bad \\u escape: high surrogate without its pair");
        }
        j->p += 2;
        unsigned lo;
        st = jp_hex4(j, &lo);
        if (st) return st;
        if (lo < 0xdc00 || lo > 0xdfff) {
            return jp_fail_at(j, at, "bad \\u escape: high surrogate without its pair");
        }
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (hi == 0) {
        return jp_fail_at(j, at, "\\u0000 is not allowed in a string");
    }
    *cp = hi;
    return USG_OK;
}

/* A JSON string into buf (NUL-terminated, may be NULL to skip). *trunc is set
 * when the string did not fit (it is cut, possibly inside a UTF-8 sequence). */
static usg_status jp_string(jp *j, char *buf, size_t cap, int *trunc) {
    size_t len = 0;
    int tr = 0;
    jp_ws(j);
    if (*j->p != '"') {
        return jp_expected(j, "a string");
    }
    j->p++;
    for (;;) {
        unsigned char c = (unsigned char)*j->p;
        if (c == 0) {
            return jp_fail_at(j, j->p, "unterminated string");
        }
        if (c < 0x20) {
            return jp_fail_at(j, j->p, "control character in a string");
        }
        j->p++;
        if (c == '"') {
            break;
        }
        if (c != '\\') {
            put_byte(buf, cap, &len, &tr, c);
            continue;
        }
        char e = *j->p++;
        unsigned cp = 0;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
            usg_status st = jp_unicode(j, &cp);
            if (st) return st;
            break;
        }
        default:
            return jp_fail_at(j, j->p - 2, "bad escape in a string");
        }
        put_utf8(buf, cap, &len, &tr, cp);
    }
    if (buf && cap > 0) {
        buf[len] = 0;
    }
    if (trunc) {
        *trunc = tr;
    }
    return USG_OK;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Advance past digits; returns how many. */
static int skip_digits(jp *j) {
    int n = 0;
    while (is_digit(*j->p)) {
        j->p++;
        n++;
    }
    return n;
}

/* A JSON number (strict grammar), finite. */
static usg_status jp_number(jp *j, double *out) {
    jp_ws(j);
    const char *start = j->p;
    if (*j->p == '-') {
        j->p++;
    }
    if (*j->p == '0') {
        j->p++;
    } else if (!skip_digits(j)) {
        j->p = start;
        return jp_expected(j, "a number");
    }
    if (*j->p == '.') {
        j->p++;
        if (!skip_digits(j)) {
            return jp_expected(j, "a digit after '.'");
        }
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-') {
            j->p++;
        }
        if (!skip_digits(j)) {
            return jp_expected(j, "a digit in the exponent");
        }
    }
    size_t n = (size_t)(j->p - start);
    if (n >= JP_NUM_CAP) {
        return jp_fail_at(j, start, "number too long");
    }
    char tmp[JP_NUM_CAP];
    memcpy(tmp, start, n);
    tmp[n] = 0;
    double v = strtod(tmp, NULL);
    if (!isfinite(v)) {
        return jp_fail_at(j, start, "number out of range");
    }
    *out = v;
    return USG_OK;
}

/* A number or null; *given is 0 for null. */
static usg_status jp_opt_number(jp *j, double *out, int *given) {
    jp_ws(j);
    if (jp_literal(j, "null")) {
        *given = 0;
        return USG_OK;
    }
    *given = 1;
    return jp_number(j, out);
}

static usg_status jp_int(jp *j, int *out) {
    jp_ws(j);
    const char *start = j->p;
    double v;
    usg_status st = jp_number(j, &v);
    if (st) return st;
    if (v != floor(v) || v < -2147483648.0 || v > 2147483647.0) {
        return jp_fail_at(j, start, "expected an integer");
    }
    *out = (int)v;
    return USG_OK;
}

static usg_status jp_bool(jp *j, int *out) {
    jp_ws(j);
    if (jp_literal(j, "true")) {
        *out = 1;
    } else if (jp_literal(j, "false")) {
        *out = 0;
    } else {
        return jp_expected(j, "true or false");
    }
    return USG_OK;
}

/* [x, y] */
static usg_status jp_point(jp *j, usg_point *pt) {
    usg_status st = jp_char(j, '[', "'[' (a point [x, y])");
    if (!st) st = jp_number(j, &pt->x);
    if (!st) st = jp_char(j, ',', "',' between x and y");
    if (!st) st = jp_number(j, &pt->y);
    if (!st) st = jp_char(j, ']', "']' after [x, y]");
    return st;
}

/* [[x, y], ...] with at most USG_EDGE_MAX points. */
static usg_status jp_points(jp *j, usg_point *pts, int *n) {
    usg_status st = jp_char(j, '[', "'[' (a list of points)");
    if (st) return st;
    *n = 0;
    jp_ws(j);
    if (*j->p == ']') {
        j->p++;
        return USG_OK;
    }
    for (;;) {
        jp_ws(j);
        if (*n == USG_EDGE_MAX) {
            return jp_fail_at(j, j->p, "too many edge points (at most 4096)");
        }
        st = jp_point(j, &pts[*n]);
        if (st) return st;
        (*n)++;
        jp_ws(j);
        if (*j->p == ',') {
            j->p++;
        } else if (*j->p == ']') {
            j->p++;
            return USG_OK;
        } else {
            return jp_expected(j, "',' or ']' in the list of points");
        }
    }
}

static usg_status jp_skip_value(jp *j, int depth);

/* Skip the rest of an array or object whose opener was consumed. */
static usg_status jp_skip_container(jp *j, char close, int depth) {
    jp_ws(j);
    if (*j->p == close) {
        j->p++;
        return USG_OK;
    }
    for (;;) {
        usg_status st;
        if (close == '}') {
            st = jp_string(j, NULL, 0, NULL);
            if (!st) st = jp_char(j, ':', "':' after a key");
            if (st) return st;
        }
        st = jp_skip_value(j, depth + 1);
        if (st) return st;
        jp_ws(j);
        if (*j->p == ',') {
            j->p++;
        } else if (*j->p == close) {
            j->p++;
            return USG_OK;
        } else {
            return jp_expected(j, close == '}' ? "',' or '}'" : "',' or ']'");
        }
    }
}

static usg_status jp_skip_value(jp *j, int depth) {
    jp_ws(j);
    if (depth > JP_MAX_DEPTH) {
        return jp_fail_at(j, j->p, "nested too deeply");
    }
    char c = *j->p;
    if (c == '{' || c == '[') {
        j->p++;
        return jp_skip_container(j, c == '{' ? '}' : ']', depth);
    }
    if (c == '"') {
        return jp_string(j, NULL, 0, NULL);
    }
    if (jp_literal(j, "true") || jp_literal(j, "false") || jp_literal(j, "null")) {
        return USG_OK;
    }
    if (c == '-' || is_digit(c)) {
        double v;
        return jp_number(j, &v);
    }
    return jp_expected(j, "a value");
}

/* Object walker: calls `key_fn` for each key with the cursor before its value;
 * key_fn consumes the value (returning 0 for unknown keys lets the walker
 * skip it). `open` receives the position of the '{'. */
typedef usg_status (*jp_key_fn)(jp *j, const char *key, void *ctx, int *handled);

static usg_status jp_object(jp *j, jp_key_fn key_fn, void *ctx, const char **open) {
    usg_status st = jp_char(j, '{', "'{'");
    if (st) return st;
    if (open) {
        *open = j->p - 1;
    }
    jp_ws(j);
    if (*j->p == '}') {
        j->p++;
        return USG_OK;
    }
    for (;;) {
        char key[JP_KEY_CAP];
        int trunc = 0, handled = 0;
        st = jp_string(j, key, sizeof key, &trunc);
        if (!st) st = jp_char(j, ':', "':' after a key");
        if (st) return st;
        if (!trunc) {
            st = key_fn(j, key, ctx, &handled);
            if (st) return st;
        }
        if (!handled) {
            st = jp_skip_value(j, 1);
            if (st) return st;
        }
        jp_ws(j);
        if (*j->p == ',') {
            j->p++;
        } else if (*j->p == '}') {
            j->p++;
            return USG_OK;
        } else {
            return jp_expected(j, "',' or '}'");
        }
    }
}

/* ---- stage objects ------------------------------------------------------- */

enum { HAS_FOUND = 1, HAS_A = 2, HAS_B = 4, HAS_C = 8, HAS_D = 16 };

typedef struct needle_ctx {
    usg_needle *n;
    unsigned seen;
} needle_ctx;

static usg_status needle_key(jp *j, const char *key, void *vctx, int *handled) {
    needle_ctx *c = vctx;
    int given = 1;
    usg_status st = USG_OK;
    *handled = 1;
    if (!strcmp(key, "found")) {
        st = jp_bool(j, &c->n->found);
        c->seen |= HAS_FOUND;
    } else if (!strcmp(key, "tip")) {
        st = jp_point(j, &c->n->tip);
        c->seen |= HAS_A;
    } else if (!strcmp(key, "entry")) {
        st = jp_point(j, &c->n->entry);
        c->seen |= HAS_B;
    } else if (!strcmp(key, "angle_deg")) {
        st = jp_number(j, &c->n->angle_deg);
        c->seen |= HAS_C;
    } else if (!strcmp(key, "confidence")) {
        st = jp_opt_number(j, &c->n->confidence, &given);
    } else {
        *handled = 0;
    }
    return st;
}

/* Check "found" and, when found, the required keys (names in order of bits A, B, C). */
static usg_status check_found(const jp *j, const char *open, const char *stage, int found,
                              unsigned seen, unsigned need, const char *const names[]) {
    char msg[96];
    if (!(seen & HAS_FOUND)) {
        snprintf(msg, sizeof msg, "%s: missing \"found\"", stage);
        return jp_fail_at(j, open, msg);
    }
    if (!found) {
        return USG_OK;
    }
    static const unsigned bits[] = {HAS_A, HAS_B, HAS_C};
    for (int i = 0; i < 3; i++) {
        if ((need & bits[i]) && !(seen & bits[i])) {
            snprintf(msg, sizeof msg, "%s: found but no \"%s\"", stage, names[i]);
            return jp_fail_at(j, open, msg);
        }
    }
    return USG_OK;
}

static usg_status parse_needle(jp *j, usg_needle *n) {
    static const char *const names[] = {"tip", "entry", "angle_deg"};
    needle_ctx c = {n, 0};
    const char *open = j->p;
    memset(n, 0, sizeof *n);
    usg_status st = jp_object(j, needle_key, &c, &open);
    if (!st) st = check_found(j, open, "needle", n->found, c.seen, HAS_A | HAS_B | HAS_C, names);
    if (!st && !n->found) memset(n, 0, sizeof *n);
    return st;
}

typedef struct edge_ctx {
    usg_edge *e;
    unsigned seen;
} edge_ctx;

static usg_status edge_key(jp *j, const char *key, void *vctx, int *handled) {
    edge_ctx *c = vctx;
    usg_status st = USG_OK;
    *handled = 1;
    if (!strcmp(key, "found")) {
        st = jp_bool(j, &c->e->found);
        c->seen |= HAS_FOUND;
    } else if (!strcmp(key, "edge")) {
        st = jp_points(j, c->e->pts, &c->e->n);
        c->seen |= HAS_A;
    } else {
        *handled = 0;
    }
    return st;
}

static usg_status parse_edge(jp *j, usg_edge *e, const char *stage) {
    static const char *const names[] = {"edge", "", ""};
    edge_ctx c = {e, 0};
    const char *open = j->p;
    e->found = 0;
    e->n = 0;
    usg_status st = jp_object(j, edge_key, &c, &open);
    if (!st) st = check_found(j, open, stage, e->found, c.seen, HAS_A, names);
    if (!st && !e->found) e->n = 0;
    return st;
}

typedef struct target_ctx {
    usg_target *t;
    unsigned seen;
} target_ctx;

static usg_status target_key(jp *j, const char *key, void *vctx, int *handled) {
    target_ctx *c = vctx;
    usg_status st = USG_OK;
    int given = 0;
    *handled = 1;
    if (!strcmp(key, "found")) {
        st = jp_bool(j, &c->t->found);
        c->seen |= HAS_FOUND;
    } else if (!strcmp(key, "point")) {
        st = jp_point(j, &c->t->point);
        c->seen |= HAS_A;
    } else if (!strcmp(key, "tip_distance_mm")) {
        st = jp_opt_number(j, &c->t->tip_distance_mm, &given);
        if (given) c->seen |= HAS_B;
    } else if (!strcmp(key, "trajectory_miss_mm")) {
        st = jp_opt_number(j, &c->t->trajectory_miss_mm, &given);
        if (given) c->seen |= HAS_C;
    } else {
        *handled = 0;
    }
    return st;
}

static usg_status parse_target(jp *j, usg_target *t) {
    static const char *const names[] = {"point", "", ""};
    target_ctx c = {t, 0};
    const char *open = j->p;
    memset(t, 0, sizeof *t);
    usg_status st = jp_object(j, target_key, &c, &open);
    if (!st) st = check_found(j, open, "target", t->found, c.seen, HAS_A, names);
    if (st) return st;
    if (!t->found) {
        memset(t, 0, sizeof *t);
    } else {
        t->has_needle_metrics = (c.seen & (HAS_B | HAS_C)) == (HAS_B | HAS_C);
        if (!t->has_needle_metrics) {
            t->tip_distance_mm = t->trajectory_miss_mm = 0;
        }
    }
    return USG_OK;
}

static usg_status latency_key(jp *j, const char *key, void *vctx, int *handled) {
    usg_latency *l = vctx;
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"total", offsetof(usg_latency, total)},     {"denoise", offsetof(usg_latency, denoise)},
        {"bone", offsetof(usg_latency, bone)},       {"needle", offsetof(usg_latency, needle)},
        {"target", offsetof(usg_latency, target)},   {"overlay", offsetof(usg_latency, overlay)},
        {"e2e", offsetof(usg_latency, e2e)},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!strcmp(key, fields[i].name)) {
            int given = 0;
            double *dst = (double *)((char *)l + fields[i].off);
            usg_status st = jp_opt_number(j, dst, &given);
            if (!given) *dst = 0;
            if (dst == &l->e2e) l->has_e2e = given;
            *handled = 1;
            return st;
        }
    }
    *handled = 0;
    return USG_OK;
}

/* ---- the top level ------------------------------------------------------- */

typedef struct top_ctx {
    usg_result *r;
    int has_frame;
} top_ctx;

static usg_status parse_status(jp *j, usg_frame_status *out) {
    jp_ws(j);
    const char *at = j->p;
    char s[16];
    int trunc = 0;
    usg_status st = jp_string(j, s, sizeof s, &trunc);
    if (st) return st;
    if (!trunc && !strcmp(s, "ok")) {
        *out = USG_FRAME_OK;
    } else if (!trunc && !strcmp(s, "error")) {
        *out = USG_FRAME_ERROR;
    } else if (!trunc && !strcmp(s, "dropped")) {
        *out = USG_FRAME_DROPPED;
    } else {
        return jp_fail_at(j, at, "status must be \"ok\", \"error\" or \"dropped\"");
    }
    return USG_OK;
}

static usg_status top_key(jp *j, const char *key, void *vctx, int *handled) {
    top_ctx *c = vctx;
    usg_result *r = c->r;
    int given = 0;
    usg_status st = USG_OK;
    *handled = 1;
    if (!strcmp(key, "frame")) {
        st = jp_int(j, &r->frame);
        c->has_frame = 1;
    } else if (!strcmp(key, "t_ms")) {
        st = jp_opt_number(j, &r->t_ms, &given);
    } else if (!strcmp(key, "status")) {
        st = parse_status(j, &r->status);
    } else if (!strcmp(key, "error")) {
        st = jp_string(j, r->error, sizeof r->error, NULL);
    } else if (!strcmp(key, "needle")) {
        st = parse_needle(j, &r->needle);
    } else if (!strcmp(key, "sacrum")) {
        st = parse_edge(j, &r->sacrum, "sacrum");
    } else if (!strcmp(key, "ilium")) {
        st = parse_edge(j, &r->ilium, "ilium");
    } else if (!strcmp(key, "target")) {
        st = parse_target(j, &r->target);
    } else if (!strcmp(key, "latency_ms")) {
        memset(&r->latency, 0, sizeof r->latency);
        st = jp_object(j, latency_key, &r->latency, NULL);
        r->has_latency = 1;
    } else if (!strcmp(key, "spacing_mm")) {
        st = jp_opt_number(j, &r->spacing_mm, &given);
        r->has_spacing = given;
        if (!given) r->spacing_mm = 0;
    } else if (!strcmp(key, "degraded")) {
        st = jp_int(j, &r->degraded);
    } else {
        *handled = 0;
    }
    return st;
}

usg_status usg_result_from_json(const char *line, usg_result *out) {
    if (!line || !out) {
        return usg_fail(USG_ERR_ARG, "usg_result_from_json: NULL argument");
    }
    jp j = {line, line};
    top_ctx c = {out, 0};
    usg_result_reset(out, 0, 0); /* nothing found; edge point arrays untouched */
    jp_ws(&j);
    if (*j.p == 0) {
        return jp_fail_at(&j, j.p, "empty line (expected a JSON object)");
    }
    const char *open = j.p;
    usg_status st = jp_object(&j, top_key, &c, &open);
    if (st) return st;
    jp_ws(&j);
    if (*j.p != 0) {
        return jp_fail_at(&j, j.p, "unexpected text after the JSON object");
    }
    if (!c.has_frame) {
        return jp_fail_at(&j, open, "missing \"frame\"");
    }
    return USG_OK;
}
