/* usg/image.h - grey, float and RGB image buffers and zero-copy views.
 *
 * An image is a pointer to its top-left pixel plus width, height and a row
 * stride (in elements). A view into a larger image (a clip rectangle) shares
 * its data: it costs nothing and must not be freed. Buffers made by the
 * *_alloc functions are owned by the caller and released with *_free. */
#ifndef USG_IMAGE_H
#define USG_IMAGE_H

#include <stdint.h>
#include <stddef.h>
#include "usg/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A point in pixels: x to the right, y down, origin at the centre of the top-left pixel. */
typedef struct usg_point { double x, y; } usg_point;

/* 8-bit grey image; stride in bytes. */
typedef struct usg_image {
    uint8_t *data;
    int width, height, stride;
} usg_image;

/* 32-bit float grey image; stride in floats. */
typedef struct usg_imagef {
    float *data;
    int width, height, stride;
} usg_imagef;

/* 8-bit interleaved RGB image (R, G, B per pixel); stride in bytes. */
typedef struct usg_rgb {
    uint8_t *data;
    int width, height, stride;
} usg_rgb;

/* Largest accepted frame side, in pixels: larger sizes are rejected as bad input. */
#define USG_MAX_SIDE 16384

/* Allocate a zeroed w x h grey image. Errors: USG_ERR_ARG for sizes outside
 * 1..USG_MAX_SIDE, USG_ERR_NOMEM. On error *img is zeroed. */
usg_status usg_image_alloc(usg_image *img, int w, int h);
/* Release an image made by usg_image_alloc (safe on a zeroed struct). */
void usg_image_free(usg_image *img);

/* Same for float images. */
usg_status usg_imagef_alloc(usg_imagef *img, int w, int h);
void usg_imagef_free(usg_imagef *img);

/* Same for RGB images. */
usg_status usg_rgb_alloc(usg_rgb *img, int w, int h);
void usg_rgb_free(usg_rgb *img);

/* A view of the rectangle (x, y, w, h) of `img`, clamped to the image; the
 * result may be empty (width or height 0). Shares img's data. */
usg_image usg_image_view(const usg_image *img, int x, int y, int w, int h);

/* Copy src into dst (same size required; USG_ERR_ARG otherwise). */
usg_status usg_image_copy(const usg_image *src, usg_image *dst);

/* Paint a grey image into an RGB image of the same size (grey -> R=G=B). */
usg_status usg_rgb_from_grey(const usg_image *src, usg_rgb *dst);

/* Pointer to row y (no bounds check). */
static inline uint8_t *usg_image_row(const usg_image *img, int y) {
    return img->data + (ptrdiff_t)y * img->stride;
}
static inline float *usg_imagef_row(const usg_imagef *img, int y) {
    return img->data + (ptrdiff_t)y * img->stride;
}

/* Adler-32 style checksum over the pixels of an image (row by row, ignoring
 * stride padding): the reference value for decoder regression tests. */
uint32_t usg_image_checksum(const usg_image *img);

#ifdef __cplusplus
}
#endif
#endif
