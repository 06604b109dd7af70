/* image.c - image buffers, views, copies, checksums. */
#include "usg/image.h"

#include <stdlib.h>
#include <string.h>

static usg_status check_size(int w, int h) {
    if (w < 1 || h < 1 || w > USG_MAX_SIDE || h > USG_MAX_SIDE) {
        return usg_fail(USG_ERR_ARG, "image size %dx%d is outside 1..%d", w, h, USG_MAX_SIDE);
    }
    return USG_OK;
}

static usg_status alloc_bytes(void **data, int w, int h, size_t elem) {
    usg_status st = check_size(w, h);
    if (st != USG_OK) return st;
    *data = calloc((size_t)w * (size_t)h, elem);
    if (!*data) return usg_fail(USG_ERR_NOMEM, "out of memory for a %dx%d image", w, h);
    return USG_OK;
}

usg_status usg_image_alloc(usg_image *img, int w, int h) {
    memset(img, 0, sizeof *img);
    usg_status st = alloc_bytes((void **)&img->data, w, h, 1);
    if (st != USG_OK) return st;
    img->width = w; img->height = h; img->stride = w;
    return USG_OK;
}

void usg_image_free(usg_image *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

usg_status usg_imagef_alloc(usg_imagef *img, int w, int h) {
    memset(img, 0, sizeof *img);
    usg_status st = alloc_bytes((void **)&img->data, w, h, sizeof(float));
    if (st != USG_OK) return st;
    img->width = w; img->height = h; img->stride = w;
    return USG_OK;
}

void usg_imagef_free(usg_imagef *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

usg_status usg_rgb_alloc(usg_rgb *img, int w, int h) {
    memset(img, 0, sizeof *img);
    usg_status st = alloc_bytes((void **)&img->data, w, h, 3);
    if (st != USG_OK) return st;
    img->width = w; img->height = h; img->stride = 3 * w;
    return USG_OK;
}

void usg_rgb_free(usg_rgb *img) {
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

usg_image usg_image_view(const usg_image *img, int x, int y, int w, int h) {
    int x0 = clampi(x, 0, img->width), y0 = clampi(y, 0, img->height);
    int x1 = clampi(x + w, x0, img->width), y1 = clampi(y + h, y0, img->height);
    usg_image v;
    v.data = img->data ? img->data + (ptrdiff_t)y0 * img->stride + x0 : NULL;
    v.width = x1 - x0;
    v.height = y1 - y0;
    v.stride = img->stride;
    return v;
}

usg_status usg_image_copy(const usg_image *src, usg_image *dst) {
    if (src->width != dst->width || src->height != dst->height) {
        return usg_fail(USG_ERR_ARG, "image copy: %dx%d into %dx%d", src->width, src->height,
                        dst->width, dst->height);
    }
    for (int y = 0; y < src->height; y++) {
        memcpy(usg_image_row(dst, y), usg_image_row(src, y), (size_t)src->width);
    }
    return USG_OK;
}

usg_status usg_rgb_from_grey(const usg_image *src, usg_rgb *dst) {
    if (src->width != dst->width || src->height != dst->height) {
        return usg_fail(USG_ERR_ARG, "grey to RGB: %dx%d into %dx%d", src->width, src->height,
                        dst->width, dst->height);
    }
    for (int y = 0; y < src->height; y++) {
        const uint8_t *s = usg_image_row(src, y);
        uint8_t *d = dst->data + (ptrdiff_t)y * dst->stride;
        for (int x = 0; x < src->width; x++) {
            d[3 * x] = d[3 * x + 1] = d[3 * x + 2] = s[x];
        }
    }
    return USG_OK;
}

uint32_t usg_image_checksum(const usg_image *img) {
    uint32_t a = 1, b = 0;
    for (int y = 0; y < img->height; y++) {
        const uint8_t *r = usg_image_row(img, y);
        for (int x = 0; x < img->width; x++) {
            a = (a + r[x]) % 65521u;
            b = (b + a) % 65521u;
        }
    }
    return (b << 16) | a;
}
