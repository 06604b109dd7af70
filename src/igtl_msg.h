/* igtl_msg.h - internal: OpenIGTLink messages through the C igtlutil layer
 * (Debian libopenigtlink-dev): header checks, CRC, IMAGE unpacking to grey
 * (8-bit grey or RGB, header versions 1 and 2) and packing of the messages
 * the live server sends (IMAGE, TRANSFORM, POINT), plus the few socket
 * helpers both ends need. */
#ifndef USG_IGTL_MSG_H
#define USG_IGTL_MSG_H

#include <stddef.h>
#include <stdint.h>
#include "usg/image.h"

#define IGTLM_HEADER_SIZE 58
#define IGTLM_IMAGE_HEADER_SIZE 72
#define IGTLM_TRANSFORM_SIZE 48
#define IGTLM_POINT_SIZE 136
#define IGTLM_V2_EXT_HEADER_MIN 12
/* Largest body accepted from a peer: an RGB image of 4096 x 4096 plus headers. */
#define IGTLM_MAX_BODY ((uint64_t)4096 * 4096 * 4 + 4096)

/* A decoded message header (host byte order, NUL-terminated names). */
typedef struct igtlm_header {
    unsigned version;
    char type[13];
    char device[21];
    uint64_t timestamp;
    uint64_t body_size;
    uint64_t crc;
} igtlm_header;

/* Decode and check the 58 header bytes: version 1 or 2, a type name, a body
 * size within IGTLM_MAX_BODY. USG_ERR_NET naming the problem and `peer`. */
usg_status igtlm_header_decode(const uint8_t raw[IGTLM_HEADER_SIZE], const char *peer,
                               igtlm_header *out);

/* Check the body's CRC64 against the header. USG_ERR_NET on mismatch. */
usg_status igtlm_check_crc(const igtlm_header *h, const uint8_t *body, const char *peer);

/* The message content inside a body: the whole body for version 1; for
 * version 2 the part after the extended header and before the metadata.
 * USG_ERR_NET if the version 2 sizes do not add up. */
usg_status igtlm_content(const igtlm_header *h, const uint8_t *body, const uint8_t **content,
                         size_t *len, const char *peer);

/* Image facts from an IMAGE content block. */
typedef struct igtlm_image_info {
    int width, height;          /* whole image */
    int components;             /* 1 grey, 3 RGB, 4 RGBA */
    double spacing_x_mm, spacing_y_mm;
} igtlm_image_info;

/* Unpack an IMAGE content block into `grey`, which is (re)allocated to the
 * image size when its size differs (caller frees with usg_image_free; no
 * allocation while the size stays). RGB(A) becomes grey as luma (BT.601).
 * A sub-volume update is written at its offset. Errors: USG_ERR_FRAME for a
 * kind we cannot show (scalar type other than uint8, 3-D volumes, other
 * component counts) and for inconsistent sizes, naming `peer`. */
usg_status igtlm_image_unpack(const uint8_t *content, size_t len, const char *peer,
                              usg_image *grey, igtlm_image_info *info);

/* ---- packing (host to network order, CRC set) ---- */

/* Bytes a packed message takes: IMAGE of w x h x components, TRANSFORM, POINT (one element). */
size_t igtlm_image_msg_size(int w, int h, int components);
size_t igtlm_transform_msg_size(void);
size_t igtlm_point_msg_size(void);

/* An IMAGE message (header version 1) of an RGB image, device `device`, in
 * the frame "x right, y down, mm, origin at the centre of the top-left
 * pixel" (the IGTL matrix origin is the image centre). Spacing 0 means 1.
 * out must hold igtlm_image_msg_size(w, h, 3). Returns the bytes written. */
size_t igtlm_pack_image_rgb(const usg_rgb *img, double sx_mm, double sy_mm, const char *device,
                            uint64_t timestamp, uint8_t *out);

/* Same for a grey image (1 component). */
size_t igtlm_pack_image_grey(const usg_image *img, double sx_mm, double sy_mm, const char *device,
                             uint64_t timestamp, uint8_t *out);

/* A TRANSFORM message: 3x3 rotation `r` (row-major r[row][col]) and translation `t` in mm. */
size_t igtlm_pack_transform(const double r[3][3], const double t[3], const char *device,
                            uint64_t timestamp, uint8_t *out);

/* A POINT message with one element named `name` at `pos` (mm), owner image `owner`. */
size_t igtlm_pack_point(const char *name, const char *group, const double pos[3], double radius,
                        const uint8_t rgba[4], const char *owner, const char *device,
                        uint64_t timestamp, uint8_t *out);

/* The current wall-clock time as an OpenIGTLink timestamp (seconds << 32 | fraction). */
uint64_t igtlm_now_timestamp(void);

/* ---- sockets ---- */

/* Connect a TCP socket to host:port within timeout_ms. Returns the fd, or -1
 * with USG_ERR_NET set naming host:port and the reason. */
int igtlm_connect(const char *host, int port, int timeout_ms);

/* Read exactly n bytes before the monotonic deadline (ms, usg_now_ms clock).
 * USG_OK; USG_ERR_TIMEOUT when the deadline passes (partial data is lost for
 * the caller: treat the stream as broken unless nothing was read, see *got);
 * USG_ERR_NET when the peer closed or failed. */
usg_status igtlm_read_full(int fd, uint8_t *buf, size_t n, double deadline_ms, size_t *got,
                           const char *peer);

/* Listen on addr:port (addr NULL = 127.0.0.1; port 0 = any free port, read
 * back with igtlm_local_port). Non-blocking, SO_REUSEADDR. -1 with USG_ERR_NET. */
int igtlm_listen(const char *addr, int port);

/* The local port a socket is bound to (-1 on error). */
int igtlm_local_port(int fd);

#endif
