/* png_io.c - PNG decode to 8-bit grey and encode (libpng, setjmp error path). */
#include "usg/png_io.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

typedef struct png_err_ctx {
    const char *path;
    char msg[256];
} png_err_ctx;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_err_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static FILE *open_png(const char *path, usg_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *st = usg_fail(USG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        *st = usg_fail(USG_ERR_FRAME, "%s: not a PNG file (bad signature)", path);
        return NULL;
    }
    *st = USG_OK;
    return f;
}

/* Shared setup of a libpng read struct; NULL on allocation failure. */
static png_structp make_reader(png_err_ctx *ctx, png_infop *info) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, on_png_error, on_png_warning);
    if (!png) return NULL;
    *info = png_create_info_struct(png);
    if (!*info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return NULL;
    }
    return png;
}

/* Configure libpng transforms so every input type reads as 8-bit grey. */
static void to_grey8(png_structp png, png_infop info) {
    int ct = png_get_color_type(png, info);
    int bd = png_get_bit_depth(png, info);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bd == 16) png_set_scale_16(png);
    if (ct & PNG_COLOR_MASK_ALPHA || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if (ct == PNG_COLOR_TYPE_RGB || ct == PNG_COLOR_TYPE_RGB_ALPHA || ct == PNG_COLOR_TYPE_PALETTE) {
        /* BT.601 luma weights in 1/100000 units */
        png_set_rgb_to_gray_fixed(png, 1, 29900, 58700);
    }
    png_read_update_info(png, info);
}

/* Decode `path`: with info_only just its size into *w, *h; otherwise the
 * pixels into *img (see usg_png_read_grey). One libpng set-up serves both. */
static usg_status png_decode(const char *path, int info_only, int *w, int *h, usg_image *img) {
    usg_status st;
    FILE *f = open_png(path, &st);
    if (!f) return st;
    png_err_ctx ctx = {path, ""};
    png_infop info = NULL;
    png_structp png = make_reader(&ctx, &info);
    if (!png) {
        fclose(f);
        return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    }
    volatile int allocated = 0;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        if (allocated) usg_image_free(img);
        return usg_fail(USG_ERR_FRAME, "%s: corrupt or truncated PNG: %s", path, ctx.msg);
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    *w = (int)png_get_image_width(png, info);
    *h = (int)png_get_image_height(png, info);
    st = USG_OK;
    if (*w < 1 || *h < 1 || *w > USG_MAX_SIDE || *h > USG_MAX_SIDE) {
        st = usg_fail(USG_ERR_FRAME, "%s: PNG size %dx%d is outside 1..%d", path, *w, *h, USG_MAX_SIDE);
    } else if (!info_only && img->data && (img->width != *w || img->height != *h)) {
        st = usg_fail(USG_ERR_FRAME, "%s: frame is %dx%d, the sequence is %dx%d", path, *w, *h, img->width,
                      img->height);
    }
    if (st != USG_OK || info_only) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        return st;
    }
    to_grey8(png, info);
    if (png_get_rowbytes(png, info) != (size_t)*w) {
        st = usg_fail(USG_ERR_UNSUPPORTED, "%s: PNG layout could not be converted to 8-bit grey", path);
    } else if (!img->data) {
        st = usg_image_alloc(img, *w, *h);
        allocated = st == USG_OK;
    }
    if (st == USG_OK) {
        int passes = png_set_interlace_handling(png);
        for (int p = 0; p < passes; p++) {
            for (int y = 0; y < *h; y++) png_read_row(png, usg_image_row(img, y), NULL);
        }
        png_read_end(png, NULL);
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return st;
}

usg_status usg_png_info(const char *path, int *w, int *h) { return png_decode(path, 1, w, h, NULL); }

usg_status usg_png_read_grey(const char *path, usg_image *img) {
    int w, h;
    return png_decode(path, 0, &w, &h, img);
}

/* Encode rows of `channels` bytes per pixel. */
static usg_status write_png(const char *path, const uint8_t *data, int w, int h, int stride, int channels) {
    FILE *f = fopen(path, "wb");
    if (!f) return usg_fail(USG_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    png_err_ctx ctx = {path, ""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return usg_fail(USG_ERR_NOMEM, "%s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return usg_fail(USG_ERR_IO, "%s: PNG write failed: %s", path, ctx.msg);
    }
    png_init_io(png, f);
    png_set_compression_level(png, 6);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, data + (ptrdiff_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f) != 0) return usg_fail(USG_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return USG_OK;
}

usg_status usg_png_write_grey(const char *path, const usg_image *img) {
    return write_png(path, img->data, img->width, img->height, img->stride, 1);
}

usg_status usg_png_write_rgb(const char *path, const usg_rgb *img) {
    return write_png(path, img->data, img->width, img->height, img->stride, 3);
}
