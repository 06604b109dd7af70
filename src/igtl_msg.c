/* igtl_msg.c - OpenIGTLink message checks, IMAGE unpacking and packing of
 * IMAGE / TRANSFORM / POINT with the C igtlutil layer, and socket helpers. */
#include "igtl_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <igtl_header.h>
#include <igtl_image.h>
#include <igtl_point.h>
#include <igtl_transform.h>
#include <igtl_util.h>

#include "live_impl.h"

_Static_assert(sizeof(igtl_header) == IGTLM_HEADER_SIZE, "igtl header size");
_Static_assert(sizeof(igtl_image_header) == IGTLM_IMAGE_HEADER_SIZE, "igtl image header size");
_Static_assert(sizeof(igtl_point_element) == IGTLM_POINT_SIZE, "igtl point size");

static void copy_name(char *dst, size_t cap, const char *src, size_t n) {
    size_t k = 0;
    while (k < n && k + 1 < cap && src[k]) {
        dst[k] = src[k];
        k++;
    }
    dst[k] = 0;
}

usg_status igtlm_header_decode(const uint8_t raw[IGTLM_HEADER_SIZE], const char *peer,
                               igtlm_header *out) {
    igtl_header h;
    memcpy(&h, raw, sizeof h);
    igtl_header_convert_byte_order(&h);
    if (h.version != 1 && h.version != 2) {
        return usg_fail(USG_ERR_NET, "%s: OpenIGTLink header version %u (expected 1 or 2)", peer,
                        (unsigned)h.version);
    }
    if (h.name[0] == 0) return usg_fail(USG_ERR_NET, "%s: OpenIGTLink message without a type", peer);
    if (h.body_size > IGTLM_MAX_BODY) {
        return usg_fail(USG_ERR_NET, "%s: OpenIGTLink body of %llu bytes is larger than %llu", peer,
                        (unsigned long long)h.body_size, (unsigned long long)IGTLM_MAX_BODY);
    }
    out->version = h.version;
    copy_name(out->type, sizeof out->type, h.name, IGTL_HEADER_TYPE_SIZE);
    copy_name(out->device, sizeof out->device, h.device_name, IGTL_HEADER_NAME_SIZE);
    out->timestamp = h.timestamp;
    out->body_size = h.body_size;
    out->crc = h.crc;
    return USG_OK;
}

usg_status igtlm_check_crc(const igtlm_header *h, const uint8_t *body, const char *peer) {
    igtl_uint64 crc = crc64((unsigned char *)body, h->body_size, 0LL);
    if (crc != h->crc) {
        return usg_fail(USG_ERR_NET, "%s: %s message '%s': CRC mismatch (corrupt data)", peer,
                        h->type, h->device);
    }
    return USG_OK;
}

static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

usg_status igtlm_content(const igtlm_header *h, const uint8_t *body, const uint8_t **content,
                         size_t *len, const char *peer) {
    if (h->version < 2) {
        *content = body;
        *len = (size_t)h->body_size;
        return USG_OK;
    }
    if (h->body_size < IGTLM_V2_EXT_HEADER_MIN) {
        return usg_fail(USG_ERR_NET, "%s: version 2 %s message of %llu bytes has no extended header",
                        peer, h->type, (unsigned long long)h->body_size);
    }
    uint64_t ext = be16(body), meta_h = be16(body + 2), meta = be32(body + 4);
    if (ext < IGTLM_V2_EXT_HEADER_MIN || ext + meta_h + meta > h->body_size) {
        return usg_fail(USG_ERR_NET,
                        "%s: version 2 %s message: extended header %llu + metadata %llu + %llu "
                        "bytes do not fit a body of %llu",
                        peer, h->type, (unsigned long long)ext, (unsigned long long)meta_h,
                        (unsigned long long)meta, (unsigned long long)h->body_size);
    }
    *content = body + ext;
    *len = (size_t)(h->body_size - ext - meta_h - meta);
    return USG_OK;
}

/* ---- IMAGE unpacking ---------------------------------------------------- */

static usg_status check_image_header(const igtl_image_header *ih, size_t len, const char *peer) {
    if (ih->scalar_type != IGTL_IMAGE_STYPE_TYPE_UINT8) {
        return usg_fail(USG_ERR_FRAME, "%s: IMAGE scalar type %u is not supported (8-bit unsigned only)",
                        peer, (unsigned)ih->scalar_type);
    }
    if (ih->num_components != 1 && ih->num_components != 3 && ih->num_components != 4) {
        return usg_fail(USG_ERR_FRAME, "%s: IMAGE with %u components (grey, RGB or RGBA only)", peer,
                        (unsigned)ih->num_components);
    }
    if (ih->size[0] < 1 || ih->size[1] < 1 || ih->size[2] != 1) {
        return usg_fail(USG_ERR_FRAME, "%s: IMAGE of %ux%ux%u is not a 2-D image", peer,
                        (unsigned)ih->size[0], (unsigned)ih->size[1], (unsigned)ih->size[2]);
    }
    for (int k = 0; k < 3; k++) {
        if (ih->subvol_size[k] < 1 ||
            (unsigned)ih->subvol_offset[k] + ih->subvol_size[k] > ih->size[k]) {
            return usg_fail(USG_ERR_FRAME, "%s: IMAGE sub-volume %ux%ux%u at %u,%u,%u outside %ux%ux%u",
                            peer, (unsigned)ih->subvol_size[0], (unsigned)ih->subvol_size[1],
                            (unsigned)ih->subvol_size[2], (unsigned)ih->subvol_offset[0],
                            (unsigned)ih->subvol_offset[1], (unsigned)ih->subvol_offset[2],
                            (unsigned)ih->size[0], (unsigned)ih->size[1], (unsigned)ih->size[2]);
        }
    }
    size_t data = (size_t)ih->subvol_size[0] * ih->subvol_size[1] * ih->num_components;
    if (len != IGTLM_IMAGE_HEADER_SIZE + data) {
        return usg_fail(USG_ERR_FRAME,
                        "%s: IMAGE content is %zu bytes, its header says %zu (%ux%u x %u components + %d)",
                        peer, len, IGTLM_IMAGE_HEADER_SIZE + data, (unsigned)ih->subvol_size[0],
                        (unsigned)ih->subvol_size[1], (unsigned)ih->num_components,
                        IGTLM_IMAGE_HEADER_SIZE);
    }
    return USG_OK;
}

/* One row of n pixels with c components to grey (BT.601 luma, rounded). */
static void row_to_grey(const uint8_t *src, int n, int c, uint8_t *dst) {
    if (c == 1) {
        memcpy(dst, src, (size_t)n);
        return;
    }
    for (int x = 0; x < n; x++, src += c) {
        dst[x] = (uint8_t)((299u * src[0] + 587u * src[1] + 114u * src[2] + 500u) / 1000u);
    }
}

usg_status igtlm_image_unpack(const uint8_t *content, size_t len, const char *peer,
                              usg_image *grey, igtlm_image_info *info) {
    if (len < IGTLM_IMAGE_HEADER_SIZE) {
        return usg_fail(USG_ERR_FRAME, "%s: IMAGE content of %zu bytes is shorter than its %d-byte header",
                        peer, len, IGTLM_IMAGE_HEADER_SIZE);
    }
    igtl_image_header ih;
    memcpy(&ih, content, sizeof ih);
    igtl_image_convert_byte_order(&ih);
    usg_status st = check_image_header(&ih, len, peer);
    if (st != USG_OK) return st;
    int w = ih.size[0], h = ih.size[1], c = ih.num_components;
    if (w > USG_MAX_SIDE || h > USG_MAX_SIDE) {
        return usg_fail(USG_ERR_FRAME, "%s: IMAGE of %dx%d is too large", peer, w, h);
    }
    if (!grey->data || grey->width != w || grey->height != h) {
        usg_image_free(grey);
        st = usg_image_alloc(grey, w, h);
        if (st != USG_OK) return st;
    }
    const uint8_t *px = content + IGTLM_IMAGE_HEADER_SIZE;
    int sw = ih.subvol_size[0], sh = ih.subvol_size[1];
    for (int y = 0; y < sh; y++) {
        row_to_grey(px + (size_t)y * sw * c, sw, c,
                    usg_image_row(grey, ih.subvol_offset[1] + y) + ih.subvol_offset[0]);
    }
    float spacing[3], origin[3], ni[3], nj[3], nk[3];
    igtl_image_get_matrix(spacing, origin, ni, nj, nk, &ih);
    info->width = w;
    info->height = h;
    info->components = c;
    info->spacing_x_mm = spacing[0];
    info->spacing_y_mm = spacing[1];
    return USG_OK;
}

/* ---- packing ------------------------------------------------------------ */

uint64_t igtlm_now_timestamp(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec << 32 | igtl_nanosec_to_frac((igtl_uint32)ts.tv_nsec);
}

/* Copy a name into a zeroed fixed field (NUL-padded, not necessarily terminated). */
static void put_name(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    memcpy(dst, src, n < cap ? n : cap);
}

/* Write the header for a body already in place at out + IGTLM_HEADER_SIZE. */
static void put_header(uint8_t *out, const char *type, const char *device, uint64_t timestamp,
                       size_t body_size) {
    igtl_header h;
    memset(&h, 0, sizeof h);
    h.version = IGTL_HEADER_VERSION;
    put_name(h.name, IGTL_HEADER_TYPE_SIZE, type);
    put_name(h.device_name, IGTL_HEADER_NAME_SIZE, device);
    h.timestamp = timestamp;
    h.body_size = body_size;
    h.crc = crc64(out + IGTLM_HEADER_SIZE, body_size, 0LL);
    igtl_header_convert_byte_order(&h);
    memcpy(out, &h, sizeof h);
}

size_t igtlm_image_msg_size(int w, int h, int components) {
    return IGTLM_HEADER_SIZE + IGTLM_IMAGE_HEADER_SIZE + (size_t)w * h * components;
}
size_t igtlm_transform_msg_size(void) { return IGTLM_HEADER_SIZE + IGTLM_TRANSFORM_SIZE; }
size_t igtlm_point_msg_size(void) { return IGTLM_HEADER_SIZE + IGTLM_POINT_SIZE; }

static void put_image_header(uint8_t *dst, int w, int h, int c, double sx, double sy) {
    igtl_image_header ih;
    memset(&ih, 0, sizeof ih);
    ih.version = IGTL_IMAGE_HEADER_VERSION;
    ih.num_components = (igtl_uint8)c;
    ih.scalar_type = IGTL_IMAGE_STYPE_TYPE_UINT8;
    ih.endian = igtl_is_little_endian() ? IGTL_IMAGE_ENDIAN_LITTLE : IGTL_IMAGE_ENDIAN_BIG;
    ih.coord = IGTL_IMAGE_COORD_RAS;
    ih.size[0] = ih.subvol_size[0] = (igtl_uint16)w;
    ih.size[1] = ih.subvol_size[1] = (igtl_uint16)h;
    ih.size[2] = ih.subvol_size[2] = 1;
    if (sx <= 0) sx = 1;
    if (sy <= 0) sy = 1;
    float spacing[3] = {(float)sx, (float)sy, 1.0f};
    float origin[3] = {(float)((w - 1) * 0.5 * sx), (float)((h - 1) * 0.5 * sy), 0.0f};
    float ni[3] = {1, 0, 0}, nj[3] = {0, 1, 0}, nk[3] = {0, 0, 1};
    igtl_image_set_matrix(spacing, origin, ni, nj, nk, &ih);
    igtl_image_convert_byte_order(&ih);
    memcpy(dst, &ih, sizeof ih);
}

static size_t pack_image(const uint8_t *data, int w, int h, int stride, int c, double sx, double sy,
                         const char *device, uint64_t timestamp, uint8_t *out) {
    uint8_t *body = out + IGTLM_HEADER_SIZE;
    put_image_header(body, w, h, c, sx, sy);
    uint8_t *px = body + IGTLM_IMAGE_HEADER_SIZE;
    size_t row = (size_t)w * c;
    for (int y = 0; y < h; y++) memcpy(px + y * row, data + (size_t)y * stride, row);
    size_t body_size = IGTLM_IMAGE_HEADER_SIZE + row * h;
    put_header(out, "IMAGE", device, timestamp, body_size);
    return IGTLM_HEADER_SIZE + body_size;
}

size_t igtlm_pack_image_rgb(const usg_rgb *img, double sx_mm, double sy_mm, const char *device,
                            uint64_t timestamp, uint8_t *out) {
    return pack_image(img->data, img->width, img->height, img->stride, 3, sx_mm, sy_mm, device,
                      timestamp, out);
}

size_t igtlm_pack_image_grey(const usg_image *img, double sx_mm, double sy_mm, const char *device,
                             uint64_t timestamp, uint8_t *out) {
    return pack_image(img->data, img->width, img->height, img->stride, 1, sx_mm, sy_mm, device,
                      timestamp, out);
}

size_t igtlm_pack_transform(const double r[3][3], const double t[3], const char *device,
                            uint64_t timestamp, uint8_t *out) {
    igtl_float32 m[12];
    for (int col = 0; col < 3; col++) {
        for (int row = 0; row < 3; row++) m[col * 3 + row] = (igtl_float32)r[row][col];
    }
    for (int k = 0; k < 3; k++) m[9 + k] = (igtl_float32)t[k];
    igtl_transform_convert_byte_order(m);
    memcpy(out + IGTLM_HEADER_SIZE, m, sizeof m);
    put_header(out, "TRANSFORM", device, timestamp, IGTLM_TRANSFORM_SIZE);
    return IGTLM_HEADER_SIZE + IGTLM_TRANSFORM_SIZE;
}

size_t igtlm_pack_point(const char *name, const char *group, const double pos[3], double radius,
                        const uint8_t rgba[4], const char *owner, const char *device,
                        uint64_t timestamp, uint8_t *out) {
    igtl_point_element e;
    memset(&e, 0, sizeof e);
    put_name(e.name, IGTL_POINT_LEN_NAME, name);
    put_name(e.group_name, IGTL_POINT_LEN_GROUP_NAME, group);
    memcpy(e.rgba, rgba, 4);
    for (int k = 0; k < 3; k++) e.position[k] = (igtl_float32)pos[k];
    e.radius = (igtl_float32)radius;
    put_name(e.owner, IGTL_POINT_LEN_OWNER, owner);
    igtl_point_convert_byte_order(&e, 1);
    memcpy(out + IGTLM_HEADER_SIZE, &e, sizeof e);
    put_header(out, "POINT", device, timestamp, IGTLM_POINT_SIZE);
    return IGTLM_HEADER_SIZE + IGTLM_POINT_SIZE;
}

/* ---- sockets ------------------------------------------------------------ */

static int set_nonblock(int fd, int on) {
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* Connect one resolved address with a timeout; the fd or -1 (errno set). */
static int connect_addr(const struct addrinfo *ai, int timeout_ms) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return -1;
    set_nonblock(fd, 1);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) goto fail;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0) {
            errno = ETIMEDOUT;
            goto fail;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) goto fail;
        if (err) {
            errno = err;
            goto fail;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

int igtlm_connect(const char *host, int port, int timeout_ms) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0) {
        usg_fail(USG_ERR_NET, "%s:%d: cannot resolve: %s", host, port, gai_strerror(g));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = connect_addr(ai, timeout_ms);
        if (fd < 0) err = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) usg_fail(USG_ERR_NET, "%s:%d: cannot connect: %s", host, port, strerror(err));
    return fd;
}

usg_status igtlm_read_full(int fd, uint8_t *buf, size_t n, double deadline_ms, size_t *got,
                           const char *peer) {
    size_t have = 0;
    *got = 0;
    while (have < n) {
        ssize_t r = recv(fd, buf + have, n - have, MSG_DONTWAIT);
        if (r > 0) {
            have += (size_t)r;
            *got = have;
            continue;
        }
        if (r == 0) return usg_fail(USG_ERR_NET, "%s: the server closed the connection", peer);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return usg_fail(USG_ERR_NET, "%s: receive failed: %s", peer, strerror(errno));
        }
        double left = deadline_ms - usg_now_ms();
        if (left <= 0) return usg_fail(USG_ERR_TIMEOUT, "%s: no data for a while (stalled)", peer);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(left + 1));
        if (pr < 0 && errno != EINTR) {
            return usg_fail(USG_ERR_NET, "%s: poll failed: %s", peer, strerror(errno));
        }
    }
    return USG_OK;
}

int igtlm_listen(const char *addr, int port) {
    const char *a = addr && *addr ? addr : "127.0.0.1";
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int g = getaddrinfo(a, ps, &hints, &res);
    if (g != 0) {
        usg_fail(USG_ERR_NET, "serve %s:%d: bad address: %s", a, port, gai_strerror(g));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 8) < 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        usg_fail(USG_ERR_NET, "serve %s:%d: %s", a, port, strerror(e));
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

int igtlm_local_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}
