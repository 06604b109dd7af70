/* source_igtl.c - igtl://HOST[:PORT] frame source: an OpenIGTLink client
 * that receives IMAGE messages (8-bit grey or RGB, header versions 1 and 2),
 * checks CRCs and sizes, skips other message types, and reconnects with
 * back-off (100 ms doubling to 2 s) when the server goes away or stalls.
 *
 * usg_source_next codes: USG_OK a frame; USG_ERR_FRAME one bad IMAGE (CRC,
 * unsupported kind); USG_ERR_NET the connection is down (reconnecting on the
 * next calls); USG_ERR_TIMEOUT nothing arrived within the read timeout. A
 * call blocks at most about the read timeout (opts->timeout_ms, default 2 s).
 * A frame's t_ms is its arrival on the monotonic clock (usg_now_ms), taken
 * when the message was complete, before its CRC check and decoding. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include "igtl_msg.h"
#include "live_impl.h"
#include "source_impl.h"

#define IGTL_DEFAULT_PORT 18944
#define IGTL_BACKOFF_MIN_MS 100.0
#define IGTL_BACKOFF_MAX_MS 2000.0
#define IGTL_STALL_RECONNECT_MS 5000.0 /* reconnect when a connection is silent this long */

typedef struct igtl_src {
    char host[256];
    int port;
    char peer[300];
    int fd;
    int timeout_ms;
    uint8_t *body;
    size_t cap;
    usg_image grey;
    int index;
    double backoff_ms, next_try_ms;
    double last_data_ms;
} igtl_src;

static usg_status parse_uri(const char *uri, igtl_src *g) {
    const char *p = uri + strlen("igtl://");
    const char *end;
    size_t hl;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end) return usg_fail(USG_ERR_ARG, "%s: bad address (unclosed '[')", uri);
        hl = (size_t)(end - p - 1);
        p++;
        end++;
    } else {
        end = strchr(p, ':');
        if (!end) end = p + strlen(p);
        hl = (size_t)(end - p);
    }
    if (hl == 0 || hl >= sizeof g->host) return usg_fail(USG_ERR_ARG, "%s: no host (igtl://HOST:PORT)", uri);
    memcpy(g->host, p, hl);
    g->host[hl] = 0;
    g->port = IGTL_DEFAULT_PORT;
    if (*end == ':') {
        char *e;
        long port = strtol(end + 1, &e, 10);
        if (*e || port < 1 || port > 65535) return usg_fail(USG_ERR_ARG, "%s: bad port", uri);
        g->port = (int)port;
    } else if (*end && !(*end == '/' && end[1] == 0)) {
        return usg_fail(USG_ERR_ARG, "%s: expected igtl://HOST:PORT", uri);
    }
    snprintf(g->peer, sizeof g->peer, "igtl://%s:%d", g->host, g->port);
    return USG_OK;
}

/* Close a broken connection abortively (RST): the server's side of it then
 * leaves no TIME_WAIT behind, so a restarted server can bind its port again
 * even without SO_REUSEADDR (as the OpenIGTLink example servers do). */
static void drop_connection(igtl_src *g) {
    if (g->fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(g->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(g->fd);
    }
    g->fd = -1;
    g->next_try_ms = usg_now_ms() + g->backoff_ms;
}

static void sleep_ms(double ms) {
    if (ms <= 0) return;
    long long ns = (long long)(ms * 1e6);
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

/* Connect when it is time (waiting at most the read timeout for the back-off). */
static usg_status ensure_connected(igtl_src *g) {
    if (g->fd >= 0) return USG_OK;
    double wait = g->next_try_ms - usg_now_ms();
    if (wait > g->timeout_ms) {
        sleep_ms(g->timeout_ms);
        return usg_fail(USG_ERR_NET, "%s: disconnected, reconnecting in %.0f ms", g->peer,
                        g->next_try_ms - usg_now_ms());
    }
    sleep_ms(wait);
    g->fd = igtlm_connect(g->host, g->port, g->timeout_ms);
    if (g->fd < 0) {
        g->backoff_ms = g->backoff_ms * 2 > IGTL_BACKOFF_MAX_MS ? IGTL_BACKOFF_MAX_MS : g->backoff_ms * 2;
        g->next_try_ms = usg_now_ms() + g->backoff_ms;
        return usg_fail_context(USG_ERR_NET, "no signal");
    }
    g->backoff_ms = IGTL_BACKOFF_MIN_MS;
    g->last_data_ms = usg_now_ms();
    return USG_OK;
}

static usg_status read_body(igtl_src *g, const igtlm_header *h) {
    if (h->body_size > g->cap) {
        uint8_t *b = realloc(g->body, (size_t)h->body_size);
        if (!b) return usg_fail(USG_ERR_NOMEM, "%s: out of memory for a %llu-byte message", g->peer,
                                (unsigned long long)h->body_size);
        g->body = b;
        g->cap = (size_t)h->body_size;
    }
    size_t got;
    /* the body follows its header at once: allow the read timeout for it */
    return igtlm_read_full(g->fd, g->body, (size_t)h->body_size, usg_now_ms() + g->timeout_ms,
                           &got, g->peer);
}

/* One IMAGE body to a frame; USG_ERR_FRAME for a bad one (the stream goes on).
 * t_ms is the arrival stamp (taken when the body was complete). */
static usg_status image_to_frame(igtl_src *g, const igtlm_header *h, double arrived, usg_frame *out) {
    out->index = g->index++;
    out->t_ms = arrived;
    usg_status st = igtlm_check_crc(h, g->body, g->peer);
    if (st != USG_OK) return USG_ERR_FRAME;
    const uint8_t *content;
    size_t len;
    st = igtlm_content(h, g->body, &content, &len, g->peer);
    if (st != USG_OK) return USG_ERR_FRAME;
    igtlm_image_info info;
    st = igtlm_image_unpack(content, len, g->peer, &g->grey, &info);
    if (st != USG_OK) return st == USG_ERR_NOMEM ? st : USG_ERR_FRAME;
    out->image = g->grey;
    out->has_spacing = info.spacing_x_mm > 0 && info.spacing_y_mm > 0;
    out->spacing_x_mm = info.spacing_x_mm;
    out->spacing_y_mm = info.spacing_y_mm;
    return USG_OK;
}

static usg_status igtl_next(usg_source *s, usg_frame *out) {
    igtl_src *g = s->priv;
    for (;;) {
        usg_status st = ensure_connected(g);
        if (st != USG_OK) return st;
        uint8_t raw[IGTLM_HEADER_SIZE];
        size_t got;
        st = igtlm_read_full(g->fd, raw, sizeof raw, usg_now_ms() + g->timeout_ms, &got, g->peer);
        if (st == USG_ERR_TIMEOUT && got == 0) {
            double silent = usg_now_ms() - g->last_data_ms;
            if (silent >= IGTL_STALL_RECONNECT_MS) drop_connection(g);
            return usg_fail(USG_ERR_TIMEOUT, "%s: no image for %.0f ms%s", g->peer, silent,
                            g->fd < 0 ? ", reconnecting" : "");
        }
        igtlm_header h;
        if (st == USG_OK) st = igtlm_header_decode(raw, g->peer, &h);
        if (st == USG_OK) st = read_body(g, &h);
        if (st != USG_OK) {
            /* broken stream (closed, garbage or cut mid-message): start over */
            drop_connection(g);
            return st == USG_ERR_NOMEM ? st : usg_fail_context(USG_ERR_NET, "no signal");
        }
        g->last_data_ms = usg_now_ms();
        if (strcmp(h.type, "IMAGE") != 0) continue; /* other message types are not ours */
        return image_to_frame(g, &h, g->last_data_ms, out);
    }
}

static void igtl_close(usg_source *s) {
    igtl_src *g = s->priv;
    if (!g) return;
    if (g->fd >= 0) close(g->fd);
    free(g->body);
    usg_image_free(&g->grey);
    free(g);
    s->priv = NULL;
}

static const usg_source_vt igtl_vt = {igtl_next, igtl_close};

usg_status usg_source_open_igtl(usg_source *s, const char *uri, const usg_source_opts *o) {
    igtl_src *g = calloc(1, sizeof *g);
    if (!g) return usg_fail(USG_ERR_NOMEM, "%s: out of memory", uri);
    g->fd = -1;
    usg_status st = parse_uri(uri, g);
    if (st != USG_OK) {
        free(g);
        return st;
    }
    g->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : 2000;
    g->backoff_ms = IGTL_BACKOFF_MIN_MS;
    /* the first connection must work: a wrong address is bad input, not a lost signal */
    g->fd = igtlm_connect(g->host, g->port, g->timeout_ms);
    if (g->fd < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", usg_last_error());
        free(g);
        return usg_fail(USG_ERR_IO, "%s (is the server running?)", why);
    }
    g->last_data_ms = usg_now_ms();
    s->vt = &igtl_vt;
    s->priv = g;
    s->count = -1;
    s->fps = 0;
    return USG_OK;
}
