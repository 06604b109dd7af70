/* test_igtl.c - OpenIGTLink: message packing/unpacking with igtlutil (IMAGE
 * grey/RGB, header versions 1 and 2, CRC and size checks), the igtl:// source
 * against our own server on loopback, and a client that never reads. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <igtl_header.h>
#include <igtl_image.h>
#include <igtl_util.h>

#include "igtl_msg.h"
#include "live_impl.h"
#include "testutil.h"
#include "usg/igtl_server.h"
#include "usg/source.h"

/* A grey test image: value = (3x + 5y) mod 256. */
static void fill_grey(usg_image *img) {
    for (int y = 0; y < img->height; y++) {
        for (int x = 0; x < img->width; x++) usg_image_row(img, y)[x] = (uint8_t)((3 * x + 5 * y) & 255);
    }
}

Test(igtl, grey_image_round_trip_v1) {
    usg_image img, back = {0};
    cr_assert_eq(usg_image_alloc(&img, 37, 21), USG_OK);
    fill_grey(&img);
    uint8_t *msg = malloc(igtlm_image_msg_size(37, 21, 1));
    size_t n = igtlm_pack_image_grey(&img, 0.25, 0.5, "Probe", 0x100000002ULL, msg);
    cr_assert_eq(n, (size_t)(58 + 72 + 37 * 21));
    igtlm_header h;
    cr_assert_eq(igtlm_header_decode(msg, "t", &h), USG_OK, "%s", usg_last_error());
    cr_expect_eq(h.version, 1u);
    cr_expect_str_eq(h.type, "IMAGE");
    cr_expect_str_eq(h.device, "Probe");
    cr_expect_eq(h.timestamp, 0x100000002ULL);
    cr_expect_eq(h.body_size, (uint64_t)(72 + 37 * 21));
    cr_assert_eq(igtlm_check_crc(&h, msg + 58, "t"), USG_OK, "%s", usg_last_error());
    const uint8_t *content;
    size_t len;
    cr_assert_eq(igtlm_content(&h, msg + 58, &content, &len, "t"), USG_OK);
    igtlm_image_info info;
    cr_assert_eq(igtlm_image_unpack(content, len, "t", &back, &info), USG_OK, "%s", usg_last_error());
    cr_expect_eq(info.width, 37);
    cr_expect_eq(info.height, 21);
    cr_expect_eq(info.components, 1);
    cr_expect_float_eq(info.spacing_x_mm, 0.25, 1e-6);
    cr_expect_float_eq(info.spacing_y_mm, 0.5, 1e-6);
    cr_expect_eq(usg_image_checksum(&back), usg_image_checksum(&img));
    usg_image_free(&img);
    usg_image_free(&back);
    free(msg);
}

Test(igtl, rgb_image_becomes_luma) {
    usg_rgb rgb;
    cr_assert_eq(usg_rgb_alloc(&rgb, 4, 2), USG_OK);
    const uint8_t px[8][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255},
                              {0, 0, 0},   {10, 20, 30}, {200, 100, 50}, {128, 128, 128}};
    for (int i = 0; i < 8; i++) memcpy(rgb.data + (i / 4) * rgb.stride + (i % 4) * 3, px[i], 3);
    uint8_t *msg = malloc(igtlm_image_msg_size(4, 2, 3));
    igtlm_pack_image_rgb(&rgb, 1, 1, "Image", 0, msg);
    igtlm_header h;
    cr_assert_eq(igtlm_header_decode(msg, "t", &h), USG_OK);
    usg_image grey = {0};
    igtlm_image_info info;
    cr_assert_eq(igtlm_image_unpack(msg + 58, (size_t)h.body_size, "t", &grey, &info), USG_OK, "%s",
                 usg_last_error());
    cr_expect_eq(info.components, 3);
    /* BT.601: round(0.299 R + 0.587 G + 0.114 B) */
    const uint8_t want[8] = {76, 150, 29, 255, 0, 18, 124, 128};
    for (int i = 0; i < 8; i++) {
        cr_expect_eq(usg_image_row(&grey, i / 4)[i % 4], want[i], "pixel %d: %d", i, usg_image_row(&grey, i / 4)[i % 4]);
    }
    usg_image_free(&grey);
    usg_rgb_free(&rgb);
    free(msg);
}

Test(igtl, corrupt_body_fails_crc_and_names_the_peer) {
    usg_image img;
    usg_image_alloc(&img, 8, 8);
    fill_grey(&img);
    uint8_t *msg = malloc(igtlm_image_msg_size(8, 8, 1));
    igtlm_pack_image_grey(&img, 1, 1, "Image", 0, msg);
    msg[58 + 72 + 10] ^= 0x40;
    igtlm_header h;
    cr_assert_eq(igtlm_header_decode(msg, "igtl://x:1", &h), USG_OK);
    cr_expect_eq(igtlm_check_crc(&h, msg + 58, "igtl://x:1"), USG_ERR_NET);
    cr_expect(strstr(usg_last_error(), "igtl://x:1") && strstr(usg_last_error(), "CRC"), "%s", usg_last_error());
    usg_image_free(&img);
    free(msg);
}

Test(igtl, bad_headers_and_sizes_are_rejected) {
    usg_image img, back = {0};
    usg_image_alloc(&img, 8, 8);
    uint8_t *msg = malloc(igtlm_image_msg_size(8, 8, 1));
    igtlm_pack_image_grey(&img, 1, 1, "Image", 0, msg);
    igtlm_header h;
    uint8_t bad[58];
    memcpy(bad, msg, 58);
    bad[1] = 7; /* version 7 */
    cr_expect_eq(igtlm_header_decode(bad, "p", &h), USG_ERR_NET);
    cr_expect(strstr(usg_last_error(), "version 7") != NULL, "%s", usg_last_error());
    memcpy(bad, msg, 58);
    memset(bad + 42, 0xff, 8); /* body size 2^64-1 */
    cr_expect_eq(igtlm_header_decode(bad, "p", &h), USG_ERR_NET);
    /* content one byte short of what the image header says */
    igtlm_image_info info;
    cr_expect_eq(igtlm_image_unpack(msg + 58, 72 + 63, "p", &back, &info), USG_ERR_FRAME);
    cr_expect(strstr(usg_last_error(), "135 bytes") != NULL, "%s", usg_last_error());
    /* 16-bit scalars are not shown */
    msg[58 + 3] = IGTL_IMAGE_STYPE_TYPE_UINT16;
    cr_expect_eq(igtlm_image_unpack(msg + 58, 72 + 64, "p", &back, &info), USG_ERR_FRAME);
    cr_expect(strstr(usg_last_error(), "scalar type 5") != NULL, "%s", usg_last_error());
    usg_image_free(&img);
    free(msg);
}

/* A version 2 message: extended header (12 bytes) + IMAGE content + metadata. */
static size_t make_v2_image(const usg_image *img, uint8_t *out) {
    uint8_t *v1 = malloc(igtlm_image_msg_size(img->width, img->height, 1));
    size_t n1 = igtlm_pack_image_grey(img, 0.2, 0.2, "V2Image", 0, v1);
    size_t content = n1 - 58;
    const char meta_key[] = "Modality", meta_val[] = "US";
    size_t meta_h = 2 + 8, meta = sizeof meta_key - 1 + sizeof meta_val - 1;
    uint8_t *body = out + 58;
    body[0] = 0; body[1] = 12;                      /* extended header size */
    body[2] = 0; body[3] = (uint8_t)meta_h;         /* metadata header size */
    body[4] = body[5] = body[6] = 0; body[7] = (uint8_t)meta; /* metadata size */
    memset(body + 8, 0, 4);                         /* message id */
    memcpy(body + 12, v1 + 58, content);
    uint8_t *mh = body + 12 + content;
    memset(mh, 0, meta_h);
    mh[1] = 1;                                      /* one entry */
    mh[3] = sizeof meta_key - 1;                    /* key size */
    mh[9] = sizeof meta_val - 1;                    /* value size */
    memcpy(mh + meta_h, meta_key, sizeof meta_key - 1);
    memcpy(mh + meta_h + sizeof meta_key - 1, meta_val, sizeof meta_val - 1);
    size_t body_size = 12 + content + meta_h + meta;
    igtl_header h;
    memset(&h, 0, sizeof h);
    h.version = 2;
    memcpy(h.name, "IMAGE", 5);
    memcpy(h.device_name, "V2Image", 7);
    h.body_size = body_size;
    h.crc = crc64(body, body_size, 0LL);
    igtl_header_convert_byte_order(&h);
    memcpy(out, &h, 58);
    free(v1);
    return 58 + body_size;
}

Test(igtl, version2_message_skips_extended_header_and_metadata) {
    usg_image img, back = {0};
    usg_image_alloc(&img, 16, 9);
    fill_grey(&img);
    uint8_t *msg = malloc(4096);
    make_v2_image(&img, msg);
    igtlm_header h;
    cr_assert_eq(igtlm_header_decode(msg, "p", &h), USG_OK, "%s", usg_last_error());
    cr_expect_eq(h.version, 2u);
    cr_assert_eq(igtlm_check_crc(&h, msg + 58, "p"), USG_OK);
    const uint8_t *content;
    size_t len;
    cr_assert_eq(igtlm_content(&h, msg + 58, &content, &len, "p"), USG_OK, "%s", usg_last_error());
    cr_expect_eq(len, (size_t)(72 + 16 * 9));
    igtlm_image_info info;
    cr_assert_eq(igtlm_image_unpack(content, len, "p", &back, &info), USG_OK, "%s", usg_last_error());
    cr_expect_eq(usg_image_checksum(&back), usg_image_checksum(&img));
    cr_expect_float_eq(info.spacing_x_mm, 0.2, 1e-6);
    /* metadata sizes that overrun the body */
    msg[58 + 6] = 1; /* metadata size 266 > body */
    cr_expect_eq(igtlm_content(&h, msg + 58, &content, &len, "p"), USG_ERR_NET);
    usg_image_free(&img);
    usg_image_free(&back);
    free(msg);
}

/* ---- loopback: our server -> the igtl:// source ------------------------- */

Test(igtl, server_to_source_over_loopback) {
    usg_igtl_server *srv;
    cr_assert_eq(usg_igtl_server_open(NULL, 0, &srv), USG_OK, "%s", usg_last_error());
    int port = usg_igtl_server_port(srv);
    cr_assert(port > 0);
    char uri[64];
    snprintf(uri, sizeof uri, "igtl://127.0.0.1:%d", port);
    usg_source_opts so = {.timeout_ms = 300};
    usg_source *src;
    cr_assert_eq(usg_source_open(uri, &so, &src), USG_OK, "%s", usg_last_error());
    cr_expect_eq(usg_source_get_kind(src), USG_SOURCE_IGTL);
    cr_expect(usg_source_is_live(src));
    /* wait until the server thread has accepted the client */
    usg_igtl_server_stats st;
    for (int i = 0; i < 100; i++) {
        usg_igtl_server_get_stats(srv, &st);
        if (st.clients_now == 1) break;
        usleep(10000);
    }
    cr_assert_eq(st.clients_now, 1);
    usg_rgb ov;
    usg_rgb_alloc(&ov, 64, 48);
    for (int y = 0; y < 48; y++) {
        for (int x = 0; x < 64; x++) {
            uint8_t *p = ov.data + y * ov.stride + 3 * x;
            p[0] = p[1] = p[2] = (uint8_t)(x + y);
        }
    }
    usg_result *r = calloc(1, sizeof *r);
    usg_result_reset(r, 0, 0);
    r->needle.found = 1;
    r->needle.entry = (usg_point){10, 10};
    r->needle.tip = (usg_point){20, 20};
    r->target.found = 1;
    r->target.point = (usg_point){30, 5};
    cr_assert_eq(usg_igtl_server_publish(srv, &ov, r, 0.5, 0.5), USG_OK);
    usg_frame fr;
    usg_status s = usg_source_next(src, &fr);
    cr_assert_eq(s, USG_OK, "%s", usg_last_error());
    cr_expect_eq(fr.index, 0);
    cr_expect_eq(fr.image.width, 64);
    cr_expect_eq(fr.image.height, 48);
    cr_expect_eq(usg_image_row(&fr.image, 7)[9], 16);
    cr_expect(fr.has_spacing);
    cr_expect_float_eq(fr.spacing_x_mm, 0.5, 1e-6);
    /* the TRANSFORM and POINT that followed are skipped; nothing else comes */
    s = usg_source_next(src, &fr);
    cr_expect_eq(s, USG_ERR_TIMEOUT, "%s", usg_last_error());
    /* the server goes away: the source says so and does not end */
    usg_igtl_server_close(srv);
    s = usg_source_next(src, &fr);
    cr_expect(s == USG_ERR_NET || s == USG_ERR_TIMEOUT, "%d %s", s, usg_last_error());
    s = usg_source_next(src, &fr);
    cr_expect(s == USG_ERR_NET || s == USG_ERR_TIMEOUT, "%d %s", s, usg_last_error());
    usg_source_close(src);
    usg_rgb_free(&ov);
    free(r);
}

Test(igtl, connect_failure_is_an_input_error_naming_the_address) {
    usg_igtl_server *srv;
    cr_assert_eq(usg_igtl_server_open(NULL, 0, &srv), USG_OK);
    int port = usg_igtl_server_port(srv);
    usg_igtl_server_close(srv); /* now nothing listens there */
    char uri[64];
    snprintf(uri, sizeof uri, "igtl://127.0.0.1:%d", port);
    usg_source *src;
    cr_expect_eq(usg_source_open(uri, NULL, &src), USG_ERR_IO);
    cr_expect(strstr(usg_last_error(), "cannot connect") != NULL, "%s", usg_last_error());
    cr_expect_eq(usg_source_open("igtl://127.0.0.1:99999", NULL, &src), USG_ERR_ARG);
    cr_expect(strstr(usg_last_error(), "bad port") != NULL, "%s", usg_last_error());
}

/* A client that connects and never reads must not slow publishing down:
 * its frames are skipped (counted), another client still gets every frame. */
Test(igtl, stuck_client_never_blocks_publish) {
    usg_igtl_server *srv;
    cr_assert_eq(usg_igtl_server_open("127.0.0.1", 0, &srv), USG_OK);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)usg_igtl_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int stuck = socket(AF_INET, SOCK_STREAM, 0);
    int rcv = 4096;
    setsockopt(stuck, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    cr_assert_eq(connect(stuck, (struct sockaddr *)&a, sizeof a), 0);
    usg_igtl_server_stats st;
    for (int i = 0; i < 100; i++) {
        usg_igtl_server_get_stats(srv, &st);
        if (st.clients_now == 1) break;
        usleep(10000);
    }
    cr_assert_eq(st.clients_now, 1);
    usg_rgb ov;
    usg_rgb_alloc(&ov, 820, 616); /* 1.5 MB per frame */
    usg_result *r = calloc(1, sizeof *r);
    usg_result_reset(r, 0, 0);
    double took[60];
    for (int i = 0; i < 60; i++) {
        double t0 = usg_now_ms();
        cr_assert_eq(usg_igtl_server_publish(srv, &ov, r, 0, 0), USG_OK);
        took[i] = usg_now_ms() - t0;
        usleep(15000);
    }
    usg_igtl_server_get_stats(srv, &st);
    /* a copy of 1.5 MB: well under a millisecond; the median tolerates a loaded
     * machine, the maximum would be unbounded if publish waited for the client */
    double sorted[60];
    memcpy(sorted, took, sizeof took);
    for (int i = 1; i < 60; i++) {
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    }
    cr_expect(sorted[30] < 5.0, "publish took %.2f ms (median) with a stuck client", sorted[30]);
    cr_expect(sorted[59] < 100.0, "publish took %.2f ms once with a stuck client", sorted[59]);
    cr_expect(st.dropped > 40, "only %ld frames skipped for the stuck client", st.dropped);
    cr_expect_eq(st.clients_now, 1, "the stuck client is still connected");
    close(stuck);
    usg_igtl_server_close(srv);
    usg_rgb_free(&ov);
    free(r);
}
