/* usg/igtl_server.h - OpenIGTLink server for the live loop's outputs.
 *
 * Each published frame goes to every connected client as (protocol header
 * version 1):
 *   IMAGE     "Image"             the overlay, RGB 8-bit, spacing in mm (1 if unknown);
 *   TRANSFORM "NeedleTipToImage"  when a needle was found: translation = the tip,
 *                                 x axis = the needle direction (entry to tip),
 *                                 z axis = the image normal;
 *   POINT     "Target"            when a target was found: one element "Target".
 * The "Image" frame: x right, y down, millimetres, origin at the centre of the
 * top-left pixel (the IMAGE matrix puts the image centre at ((w-1)/2*sx, (h-1)/2*sy, 0)).
 *
 * Publishing never blocks: it copies the overlay and returns; a server thread
 * packs (CRC64) and sends with non-blocking sockets. A client that has not
 * taken the previous frame completely when the next is ready misses that
 * frame (counted per server in dropped); a client that closes or fails is
 * removed. Incoming data from clients is read and ignored.
 *
 *   usg_igtl_server *srv; usg_igtl_server_open("127.0.0.1", 18944, &srv);
 *   ... per frame: usg_igtl_server_publish(srv, &overlay, &result, sx, sy);
 *   usg_igtl_server_close(srv);
 */
#ifndef USG_IGTL_SERVER_H
#define USG_IGTL_SERVER_H

#include "usg/image.h"
#include "usg/result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct usg_igtl_server usg_igtl_server;

/* Counters since open. */
typedef struct usg_igtl_server_stats {
    long clients_total;     /* connections accepted */
    long clients_now;       /* connected now */
    long published;         /* frames handed to publish */
    long packed;            /* frames the server thread packed (publish calls faster than it are merged) */
    long sent;              /* frame deliveries completed (one per client per frame) */
    long dropped;           /* frame deliveries skipped because a client was still busy */
} usg_igtl_server_stats;

/* Listen on bind_addr:port (bind_addr NULL = 127.0.0.1; port 0 = a free port,
 * see usg_igtl_server_port) and start the server thread. USG_ERR_NET naming
 * the address when it cannot listen. */
usg_status usg_igtl_server_open(const char *bind_addr, int port, usg_igtl_server **out);

/* The TCP port listened on. */
int usg_igtl_server_port(const usg_igtl_server *s);

/* Hand one frame's overlay (RGB) and result to the server (copied; never
 * blocks on clients). sx/sy: mm per pixel (0 = unknown: pixels). Allocates
 * only when the overlay size grows. USG_ERR_NOMEM. */
usg_status usg_igtl_server_publish(usg_igtl_server *s, const usg_rgb *overlay, const usg_result *r,
                                   double sx_mm, double sy_mm);

/* Wait up to timeout_ms until the last published frame has been packed and
 * every client has taken what it was given (before closing, so clients get
 * the last frame). Returns 1 when everything went out, 0 on timeout. */
int usg_igtl_server_flush(usg_igtl_server *s, int timeout_ms);

/* Current counters. */
void usg_igtl_server_get_stats(usg_igtl_server *s, usg_igtl_server_stats *st);

/* Stop the thread, close all connections, free (NULL ignored). */
void usg_igtl_server_close(usg_igtl_server *s);

#ifdef __cplusplus
}
#endif
#endif
