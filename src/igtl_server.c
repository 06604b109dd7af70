/* igtl_server.c - the live loop's OpenIGTLink server (usg/igtl_server.h):
 * a one-slot hand-over from the processing thread, and a server thread that
 * packs each frame once and feeds every client through non-blocking sockets,
 * skipping a frame for a client that is still busy with the previous one. */
#include "usg/igtl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "igtl_msg.h"

#define SRV_MAX_CLIENTS 16
#define SRV_POLL_MS 100

/* What one published frame carries (the overlay pixels live in a buffer beside it). */
typedef struct srv_frame {
    usg_rgb img;
    size_t cap;              /* bytes allocated in img.data */
    usg_needle needle;
    usg_target target;
    double sx, sy;
} srv_frame;

typedef struct srv_client {
    int fd;
    uint8_t *buf;            /* the frame's messages being sent */
    size_t cap, len, off;    /* off < len: still sending */
} srv_client;

struct usg_igtl_server {
    int lfd, port;
    int wake[2];             /* pipe: publish -> server thread */
    pthread_t th;
    atomic_int stop;
    pthread_mutex_t mu;
    srv_frame fr[3];         /* publisher, slot, server thread */
    int pub, slot, work, pending;
    uint8_t *msg;            /* packed messages of the frame being sent */
    size_t msg_cap, msg_len;
    srv_client cl[SRV_MAX_CLIENTS];
    int ncl;
    /* counters (usg_igtl_server_stats), written by both threads */
    atomic_long clients_total, clients_now, published, packed, sent, dropped;
    atomic_int idle;         /* nothing pending to pack or send (server thread's view) */
};

/* ---- packing ------------------------------------------------------------ */

static int grow(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    uint8_t *p = realloc(*buf, need);
    if (!p) return -1;
    *buf = p;
    *cap = need;
    return 0;
}

/* Pack IMAGE, TRANSFORM (if a needle) and POINT (if a target) into s->msg. */
static int pack_frame(usg_igtl_server *s, const srv_frame *f) {
    size_t need = igtlm_image_msg_size(f->img.width, f->img.height, 3) + igtlm_transform_msg_size() +
                  igtlm_point_msg_size();
    if (grow(&s->msg, &s->msg_cap, need)) return -1;
    double sx = f->sx > 0 ? f->sx : 1, sy = f->sy > 0 ? f->sy : 1;
    uint64_t ts = igtlm_now_timestamp();
    size_t n = igtlm_pack_image_rgb(&f->img, sx, sy, "Image", ts, s->msg);
    if (f->needle.found) {
        double dx = (f->needle.tip.x - f->needle.entry.x) * sx;
        double dy = (f->needle.tip.y - f->needle.entry.y) * sy;
        double len = hypot(dx, dy);
        if (len > 0) {
            dx /= len;
            dy /= len;
        } else {
            dx = 1;
            dy = 0;
        }
        double r[3][3] = {{dx, -dy, 0}, {dy, dx, 0}, {0, 0, 1}};
        double t[3] = {f->needle.tip.x * sx, f->needle.tip.y * sy, 0};
        n += igtlm_pack_transform(r, t, "NeedleTipToImage", ts, s->msg + n);
    }
    if (f->target.found) {
        double pos[3] = {f->target.point.x * sx, f->target.point.y * sy, 0};
        const uint8_t rgba[4] = {0, 255, 0, 255};
        n += igtlm_pack_point("Target", "Target", pos, 1.0, rgba, "Image", "Target", ts, s->msg + n);
    }
    s->msg_len = n;
    return 0;
}

/* ---- clients ------------------------------------------------------------ */

static void drop_client(usg_igtl_server *s, int i) {
    close(s->cl[i].fd);
    free(s->cl[i].buf);
    s->cl[i] = s->cl[--s->ncl];
    atomic_store(&s->clients_now, s->ncl);
}

/* Send what the socket takes now. Returns -1 if the client is gone. */
static int flush_client(usg_igtl_server *s, srv_client *c) {
    while (c->off < c->len) {
        ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            c->off += (size_t)w;
            if (c->off == c->len) atomic_fetch_add(&s->sent, 1);
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        return -1;
    }
    return 0;
}

/* Give the packed frame to every client that is free; the busy ones miss it. */
static void deliver(usg_igtl_server *s) {
    for (int i = 0; i < s->ncl; i++) {
        srv_client *c = &s->cl[i];
        if (c->off < c->len) {
            atomic_fetch_add(&s->dropped, 1);
            continue;
        }
        if (grow(&c->buf, &c->cap, s->msg_len)) {
            atomic_fetch_add(&s->dropped, 1);
            continue;
        }
        memcpy(c->buf, s->msg, s->msg_len);
        c->len = s->msg_len;
        c->off = 0;
        if (flush_client(s, c) < 0) drop_client(s, i--);
    }
}

static void accept_clients(usg_igtl_server *s) {
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) return;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (s->ncl == SRV_MAX_CLIENTS) {
            close(fd);
            continue;
        }
        s->cl[s->ncl++] = (srv_client){.fd = fd};
        atomic_fetch_add(&s->clients_total, 1);
        atomic_store(&s->clients_now, s->ncl);
    }
}

/* Read and ignore what a client sends; -1 when it has closed. */
static int drain_client(srv_client *c) {
    uint8_t junk[4096];
    for (;;) {
        ssize_t r = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r > 0) continue;
        if (r == 0) return -1;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

/* ---- the server thread -------------------------------------------------- */

static void take_published(usg_igtl_server *s) {
    pthread_mutex_lock(&s->mu);
    int have = s->pending;
    if (have) {
        int t = s->work;
        s->work = s->slot;
        s->slot = t;
        s->pending = 0;
        atomic_store(&s->idle, 0); /* until this frame has gone out */
    }
    pthread_mutex_unlock(&s->mu);
    if (!have) return;
    if (pack_frame(s, &s->fr[s->work]) == 0) {
        atomic_fetch_add(&s->packed, 1);
        deliver(s);
    }
}

static void *server_main(void *arg) {
    usg_igtl_server *s = arg;
    struct pollfd p[2 + SRV_MAX_CLIENTS];
    while (!atomic_load(&s->stop)) {
        int n = 0;
        p[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        p[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        int ncl = s->ncl;
        for (int i = 0; i < ncl; i++) {
            short ev = POLLIN;
            if (s->cl[i].off < s->cl[i].len) ev |= POLLOUT;
            p[n++] = (struct pollfd){.fd = s->cl[i].fd, .events = ev};
        }
        if (poll(p, (nfds_t)n, SRV_POLL_MS) < 0 && errno != EINTR) break;
        /* clients first (their indices match p[2..] only before any change) */
        for (int i = ncl - 1; i >= 0; i--) {
            short re = p[2 + i].revents;
            int gone = (re & (POLLERR | POLLNVAL)) != 0;
            if (!gone && (re & (POLLIN | POLLHUP))) gone = drain_client(&s->cl[i]) < 0;
            if (!gone && (re & POLLOUT)) gone = flush_client(s, &s->cl[i]) < 0;
            if (gone) drop_client(s, i);
        }
        if (p[1].revents & POLLIN) accept_clients(s);
        if (p[0].revents & POLLIN) {
            char junk[64];
            while (read(s->wake[0], junk, sizeof junk) > 0) {
            }
            take_published(s);
        }
        int busy = 0;
        for (int i = 0; i < s->ncl; i++) busy |= s->cl[i].off < s->cl[i].len;
        pthread_mutex_lock(&s->mu);
        busy |= s->pending;
        pthread_mutex_unlock(&s->mu);
        atomic_store(&s->idle, !busy);
    }
    return NULL;
}

/* ---- public ------------------------------------------------------------- */

static int make_wake_pipe(int fd[2]) {
    if (pipe(fd) < 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL, 0) | O_NONBLOCK);
        fcntl(fd[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

usg_status usg_igtl_server_open(const char *bind_addr, int port, usg_igtl_server **out) {
    *out = NULL;
    if (port < 0 || port > 65535) return usg_fail(USG_ERR_ARG, "serve: bad port %d", port);
    usg_igtl_server *s = calloc(1, sizeof *s);
    if (!s) return usg_fail(USG_ERR_NOMEM, "serve: out of memory");
    s->wake[0] = s->wake[1] = -1;
    s->lfd = igtlm_listen(bind_addr, port);
    if (s->lfd < 0) {
        free(s);
        return USG_ERR_NET;
    }
    s->port = igtlm_local_port(s->lfd);
    s->pub = 0;
    s->slot = 1;
    s->work = 2;
    atomic_init(&s->stop, 0);
    atomic_init(&s->idle, 1);
    if (make_wake_pipe(s->wake) < 0 || pthread_mutex_init(&s->mu, NULL) ||
        pthread_create(&s->th, NULL, server_main, s)) {
        if (s->wake[0] >= 0) close(s->wake[0]);
        if (s->wake[1] >= 0) close(s->wake[1]);
        close(s->lfd);
        free(s);
        return usg_fail(USG_ERR_NET, "serve: cannot start the server thread");
    }
    *out = s;
    return USG_OK;
}

int usg_igtl_server_port(const usg_igtl_server *s) { return s->port; }

usg_status usg_igtl_server_publish(usg_igtl_server *s, const usg_rgb *overlay, const usg_result *r,
                                   double sx_mm, double sy_mm) {
    srv_frame *f = &s->fr[s->pub]; /* the publisher's own buffer: no lock needed */
    size_t row = (size_t)overlay->width * 3, need = row * overlay->height;
    if (grow(&f->img.data, &f->cap, need)) {
        return usg_fail(USG_ERR_NOMEM, "serve: out of memory for a %dx%d overlay", overlay->width,
                        overlay->height);
    }
    f->img.width = overlay->width;
    f->img.height = overlay->height;
    f->img.stride = (int)row;
    for (int y = 0; y < overlay->height; y++) {
        memcpy(f->img.data + y * row, overlay->data + (size_t)y * overlay->stride, row);
    }
    f->needle = r->needle;
    f->target = r->target;
    f->sx = sx_mm;
    f->sy = sy_mm;
    pthread_mutex_lock(&s->mu);
    int t = s->slot;
    s->slot = s->pub;
    s->pub = t;
    s->pending = 1;
    atomic_fetch_add(&s->published, 1);
    pthread_mutex_unlock(&s->mu);
    char one = 1;
    ssize_t w = write(s->wake[1], &one, 1); /* a full pipe already means "wake up" */
    (void)w;
    return USG_OK;
}

int usg_igtl_server_flush(usg_igtl_server *s, int timeout_ms) {
    for (int waited = 0;; waited += 5) {
        pthread_mutex_lock(&s->mu);
        int pending = s->pending;
        pthread_mutex_unlock(&s->mu);
        if (!pending && atomic_load(&s->idle)) return 1;
        if (waited >= timeout_ms) return 0;
        usleep(5000);
    }
}

void usg_igtl_server_get_stats(usg_igtl_server *s, usg_igtl_server_stats *st) {
    st->clients_total = atomic_load(&s->clients_total);
    st->clients_now = atomic_load(&s->clients_now);
    st->published = atomic_load(&s->published);
    st->packed = atomic_load(&s->packed);
    st->sent = atomic_load(&s->sent);
    st->dropped = atomic_load(&s->dropped);
}

void usg_igtl_server_close(usg_igtl_server *s) {
    if (!s) return;
    atomic_store(&s->stop, 1);
    char one = 1;
    ssize_t w = write(s->wake[1], &one, 1);
    (void)w;
    pthread_join(s->th, NULL);
    while (s->ncl) drop_client(s, 0);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    for (int i = 0; i < 3; i++) free(s->fr[i].img.data);
    free(s->msg);
    free(s);
}
