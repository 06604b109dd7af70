/* usg/png_io.h - PNG reading and writing (libpng).
 *
 * Reading converts any PNG (grey, grey+alpha, palette, RGB, RGBA, 1-16 bit)
 * to 8-bit grey (ITU-R BT.601 luma, 16-bit samples scaled to 8). */
#ifndef USG_PNG_IO_H
#define USG_PNG_IO_H

#include "usg/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read the size of a PNG without decoding it. */
usg_status usg_png_info(const char *path, int *w, int *h);

/* Decode `path` into *img. If img->data is NULL a buffer is allocated (caller
 * frees with usg_image_free); otherwise img must already be exactly the
 * image's size (USG_ERR_FRAME naming both sizes if not) and is filled in place.
 * Errors: USG_ERR_IO (cannot open), USG_ERR_FRAME (corrupt/truncated data). */
usg_status usg_png_read_grey(const char *path, usg_image *img);

/* Encode a grey image as an 8-bit grey PNG. */
usg_status usg_png_write_grey(const char *path, const usg_image *img);

/* Encode an RGB image as an 8-bit RGB PNG. */
usg_status usg_png_write_rgb(const char *path, const usg_rgb *img);

#ifdef __cplusplus
}
#endif
#endif
