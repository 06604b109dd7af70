/* test_sources.c - frame sources: the shared PLUS recordings decode to known
 * pixels; PNG conversions; every bad-input case gives a clear error. */
#include <criterion/criterion.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "testutil.h"
#include "usg/png_io.h"
#include "usg/source.h"

/* Decode a whole source; returns the frame count and the first/last checksums. */
static int decode_all(const char *path, int *w, int *h, uint32_t *first, uint32_t *last, int *bad) {
    usg_source *s = NULL;
    cr_assert_eq(usg_source_open(path, NULL, &s), USG_OK, "%s: %s", path, usg_last_error());
    int n = 0;
    *bad = 0;
    for (;;) {
        usg_frame f;
        usg_status st = usg_source_next(s, &f);
        if (st == USG_ERR_EOF) break;
        if (st == USG_ERR_FRAME) {
            (*bad)++;
            n++;
            continue;
        }
        cr_assert_eq(st, USG_OK, "%s", usg_last_error());
        cr_assert_eq(f.index, n);
        if (n == 0) *first = usg_image_checksum(&f.image);
        *last = usg_image_checksum(&f.image);
        *w = f.image.width;
        *h = f.image.height;
        n++;
    }
    cr_assert_eq(usg_source_count(s), n);
    usg_source_close(s);
    return n;
}

typedef struct recording {
    const char *file;
    int frames, w, h;
    uint32_t first, last; /* Adler-32 of the first and last frame (zlib.adler32 of the raw bytes) */
} recording;

static const recording recordings[] = {
    {"BoneUltrasound_L14.igs.mha", 21, 820, 616, 0xdc2662afu, 0xefc91329u},
    {"SpinePhantomFreehand.igs.mha", 21, 820, 616, 0x5e3c46dcu, 0xccd4d4dbu},
    {"UltrasonixCurvilinearScanConvertedData.igs.mha", 5, 820, 616, 0x074ca788u, 0x31da93acu},
    {"Prostate10_video.igs.mhd", 10, 640, 480, 0x9872c0d8u, 0xd3dc00c0u},
};

Test(shared_recordings, decode_with_known_pixels, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    for (size_t i = 0; i < sizeof recordings / sizeof recordings[0]; i++) {
        const recording *r = &recordings[i];
        int w = 0, h = 0, bad = 0;
        uint32_t first = 0, last = 0;
        int n = decode_all(tu_shared(r->file), &w, &h, &first, &last, &bad);
        cr_expect_eq(n, r->frames, "%s: %d frames", r->file, n);
        cr_expect_eq(bad, 0, "%s", r->file);
        cr_expect_eq(w, r->w, "%s width", r->file);
        cr_expect_eq(h, r->h, "%s height", r->file);
        cr_expect_eq(first, r->first, "%s first frame checksum 0x%08x", r->file, first);
        cr_expect_eq(last, r->last, "%s last frame checksum 0x%08x", r->file, last);
    }
}

Test(shared_recordings, timestamps_and_fps, .description = "needs ../shared/data/plus") {
    if (!tu_have_shared()) cr_skip_test("../shared/data/plus is absent");
    usg_source *s;
    cr_assert_eq(usg_source_open(tu_shared("BoneUltrasound_L14.igs.mha"), NULL, &s), USG_OK);
    usg_frame f;
    cr_assert_eq(usg_source_next(s, &f), USG_OK);
    cr_expect_float_eq(f.t_ms, 0.0, 1e-9);
    cr_assert_eq(usg_source_next(s, &f), USG_OK);
    cr_expect_float_eq(f.t_ms, (232.628014 - 232.542071) * 1000.0, 1e-6);
    cr_expect(usg_source_fps(s) > 11.0 && usg_source_fps(s) < 12.5, "fps %g", usg_source_fps(s));
    usg_source_close(s);
    /* the .mhd lacks Seq_Frame0002: its stamp is interpolated between frames 1 and 3 */
    cr_assert_eq(usg_source_open(tu_shared("Prostate10_video.igs.mhd"), NULL, &s), USG_OK);
    double t[4];
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(usg_source_next(s, &f), USG_OK);
        t[i] = f.t_ms;
    }
    cr_expect_float_eq(t[1], 500.0, 1e-9);
    cr_expect_float_eq(t[2], 750.0, 1e-9);
    cr_expect_float_eq(t[3], 1000.0, 1e-9);
    usg_source_close(s);
}

/* ---- synthetic MetaImage files ---- */

static const char *mha_header(char *buf, size_t cap, const char *dims, const char *type, int compressed,
                              long comp_size, const char *data_file, const char *extra) {
    snprintf(buf, cap,
             "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
             "CompressedData = %s\n%s%sDimSize = %s\nElementType = %s\n"
             "Seq_Frame0000_Timestamp = 1.0\nSeq_Frame0000_ImageStatus = OK\n"
             "Seq_Frame0001_Timestamp = 1.1\nSeq_Frame0001_ImageStatus = %s\n"
             "ElementDataFile = %s\n",
             compressed ? "True" : "False", compressed && comp_size > 0 ? "CompressedDataSize = " : "",
             compressed && comp_size > 0 ? "" : "", dims, type, extra ? extra : "OK", data_file);
    (void)comp_size;
    return buf;
}

/* Write header + payload; returns the path (static). */
static const char *write_mha(const char *dir, const char *name, const char *header, const void *data, size_t len) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t hl = strlen(header);
    char *all = malloc(hl + len);
    memcpy(all, header, hl);
    if (len) memcpy(all + hl, data, len);
    cr_assert_eq(tu_write_file(path, all, hl + len), 0);
    free(all);
    return path;
}

static uint8_t *ramp(size_t n) {
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7 + i / 13);
    return p;
}

/* Run the CLI on a file with a plain linear profile and return the result. */
static tu_run replay(const char *path, const char *results) {
    return tu_sh("printf '[probe]\\ngeometry = linear\\nspacing_mm = 0.2\\n' > %s.ini && "
                 "%s replay '%s' --probe %s.ini --results '%s' --quiet", results, USGUIDE_BIN, path, results, results);
}

Test(metaimage, raw_local_two_frames_decode) {
    const char *dir = tu_scratch("mha_raw");
    char hdr[1024];
    uint8_t *px = ramp(2 * 32 * 24);
    const char *p = write_mha(dir, "ok.mha", mha_header(hdr, sizeof hdr, "32 24 2", "MET_UCHAR", 0, 0, "LOCAL", NULL), px, 2 * 32 * 24);
    usg_source *s;
    cr_assert_eq(usg_source_open(p, NULL, &s), USG_OK, "%s", usg_last_error());
    usg_frame f;
    cr_assert_eq(usg_source_next(s, &f), USG_OK);
    cr_expect_eq(f.image.width, 32);
    cr_expect_eq(f.image.height, 24);
    cr_expect_eq(usg_image_checksum(&f.image), (uint32_t)adler32(1, px, 32 * 24));
    cr_assert_eq(usg_source_next(s, &f), USG_OK);
    cr_expect_eq(usg_image_checksum(&f.image), (uint32_t)adler32(1, px + 32 * 24, 32 * 24));
    cr_expect_float_eq(f.t_ms, 100.0, 1e-6);
    cr_expect_eq(usg_source_next(s, &f), USG_ERR_EOF);
    usg_source_close(s);
    free(px);
}

Test(metaimage, zlib_local_decodes) {
    const char *dir = tu_scratch("mha_zlib");
    size_t n = 2 * 40 * 30;
    uint8_t *px = ramp(n);
    uLongf clen = compressBound(n);
    uint8_t *c = malloc(clen);
    cr_assert_eq(compress(c, &clen, px, n), Z_OK);
    char hdr[1024];
    const char *p = write_mha(dir, "z.mha", mha_header(hdr, sizeof hdr, "40 30 2", "MET_UCHAR", 1, 0, "LOCAL", NULL), c, clen);
    int w, h, bad;
    uint32_t first, last;
    cr_expect_eq(decode_all(p, &w, &h, &first, &last, &bad), 2);
    cr_expect_eq(bad, 0);
    cr_expect_eq(first, (uint32_t)adler32(1, px, 40 * 30));
    cr_expect_eq(last, (uint32_t)adler32(1, px + 40 * 30, 40 * 30));
    free(px);
    free(c);
}

Test(metaimage, image_status_not_ok_is_reported_not_processed) {
    const char *dir = tu_scratch("mha_status");
    char hdr[1024];
    uint8_t *px = ramp(2 * 32 * 24);
    const char *p = write_mha(dir, "st.mha", mha_header(hdr, sizeof hdr, "32 24 2", "MET_UCHAR", 0, 0, "LOCAL", "INVALID"), px, 2 * 32 * 24);
    char res[1100];
    snprintf(res, sizeof res, "%s/r.jsonl", dir);
    tu_run r = replay(p, res);
    cr_expect_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "frame 1: ImageStatus = INVALID: frame not processed") != NULL, "%s", r.err);
    char *out = tu_read_file(res, NULL);
    cr_assert_not_null(out);
    cr_expect(strstr(out, "{\"frame\": 0, \"t_ms\": 0.000, \"status\": \"ok\"") != NULL, "%s", out);
    cr_expect(strstr(out, "{\"frame\": 1, \"t_ms\": 100.000, \"status\": \"error\", \"error\": \"") != NULL, "%s", out);
    cr_expect(strstr(out, "ImageStatus = INVALID") != NULL);
    free(out);
    tu_run_free(&r);
    free(px);
}

Test(metaimage, truncated_raw_data_gives_error_lines_and_exit_1) {
    const char *dir = tu_scratch("mha_trunc");
    char hdr[1024];
    uint8_t *px = ramp(3 * 32 * 24);
    /* three frames declared, one and a half present */
    const char *p = write_mha(dir, "t.mha", mha_header(hdr, sizeof hdr, "32 24 3", "MET_UCHAR", 0, 0, "LOCAL", NULL), px, 32 * 24 * 3 / 2);
    char res[1100];
    snprintf(res, sizeof res, "%s/r.jsonl", dir);
    tu_run r = replay(p, res);
    cr_expect_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "t.mha: frame 1: truncated data: needs 1536 bytes, the file holds 1152") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "t.mha: frame 2: truncated data") != NULL, "%s", r.err);
    cr_expect_eq(tu_count_lines(res), 3);
    tu_run_free(&r);
    free(px);
}

Test(metaimage, dimsize_too_small_for_the_data_is_exit_2) {
    const char *dir = tu_scratch("mha_dims");
    char hdr[1024];
    uint8_t *px = ramp(2 * 32 * 24);
    const char *p = write_mha(dir, "d.mha", mha_header(hdr, sizeof hdr, "30 24 2", "MET_UCHAR", 0, 0, "LOCAL", NULL), px, 2 * 32 * 24);
    tu_run r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, p);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "d.mha: the data holds 1536 bytes but DimSize 30 24 2 (x1 channels) needs 1440: wrong DimSize?") != NULL, "%s", r.err);
    tu_run_free(&r);
    free(px);
}

Test(metaimage, bad_dimsize_values_are_exit_2) {
    const char *dir = tu_scratch("mha_dims2");
    char hdr[1024];
    const char *p = write_mha(dir, "d2.mha", mha_header(hdr, sizeof hdr, "32 -4 2", "MET_UCHAR", 0, 0, "LOCAL", NULL), "x", 1);
    tu_run r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, p);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "d2.mha:") && strstr(r.err, "DimSize = 32 -4 2: -4 is out of range"), "%s", r.err);
    tu_run_free(&r);
}

Test(metaimage, zlib_stream_that_does_not_inflate) {
    const char *dir = tu_scratch("mha_badz");
    char hdr[1024];
    uint8_t junk[512];
    for (int i = 0; i < 512; i++) junk[i] = (uint8_t)(i * 131 + 17);
    const char *p = write_mha(dir, "bz.mha", mha_header(hdr, sizeof hdr, "32 24 2", "MET_UCHAR", 1, 0, "LOCAL", NULL), junk, sizeof junk);
    char res[1100];
    snprintf(res, sizeof res, "%s/r.jsonl", dir);
    tu_run r = replay(p, res);
    cr_expect_eq(r.status, 1, "exit %d", r.status);
    cr_expect(strstr(r.err, "bz.mha: frame 0: zlib stream does not inflate") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "bz.mha: frame 1: zlib stream does not inflate") != NULL, "%s", r.err);
    cr_expect_eq(tu_count_lines(res), 2);
    tu_run_free(&r);
}

Test(metaimage, truncated_zlib_stream) {
    const char *dir = tu_scratch("mha_tz");
    size_t n = 2 * 64 * 48;
    uint8_t *px = ramp(n);
    for (size_t i = 0; i < n; i++) px[i] ^= (uint8_t)(i * 2654435761u >> 24); /* less compressible */
    uLongf clen = compressBound(n);
    uint8_t *c = malloc(clen);
    cr_assert_eq(compress(c, &clen, px, n), Z_OK);
    char hdr[1024];
    const char *p = write_mha(dir, "tz.mha", mha_header(hdr, sizeof hdr, "64 48 2", "MET_UCHAR", 1, 0, "LOCAL", NULL), c, clen * 3 / 4);
    char res[1100];
    snprintf(res, sizeof res, "%s/r.jsonl", dir);
    tu_run r = replay(p, res);
    cr_expect_eq(r.status, 1);
    cr_expect(strstr(r.err, "tz.mha: frame 1: compressed data is truncated") != NULL, "%s", r.err);
    char *out = tu_read_file(res, NULL);
    cr_assert_not_null(out);
    cr_expect(strstr(out, "{\"frame\": 0, \"t_ms\": 0.000, \"status\": \"ok\"") != NULL, "%s", out);
    free(out);
    tu_run_free(&r);
    free(px);
    free(c);
}

Test(metaimage, unsupported_element_type) {
    const char *dir = tu_scratch("mha_type");
    char hdr[1024];
    const char *p = write_mha(dir, "f.mha", mha_header(hdr, sizeof hdr, "4 4 1", "MET_FLOAT", 0, 0, "LOCAL", NULL), "0123456789abcdef", 16);
    tu_run r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, p);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "f.mha: ElementType MET_FLOAT is not supported (8-bit MET_UCHAR only)") != NULL, "%s", r.err);
    tu_run_free(&r);
}

Test(metaimage, missing_raw_file_of_mhd) {
    const char *dir = tu_scratch("mhd_missing");
    char hdr[1024];
    const char *p = write_mha(dir, "m.mhd", mha_header(hdr, sizeof hdr, "4 4 1", "MET_UCHAR", 0, 0, "gone.raw", NULL), "", 0);
    tu_run r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, p);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "m.mhd: cannot open its data file") && strstr(r.err, "gone.raw: No such file or directory"), "%s", r.err);
    tu_run_free(&r);
}

Test(metaimage, header_without_data_line) {
    const char *dir = tu_scratch("mha_hdr");
    const char *p = write_mha(dir, "h.mha", "ObjectType = Image\nNDims = 3\nDimSize = 4 4 1\n", "", 0);
    tu_run r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, p);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "h.mha: header ends without an ElementDataFile line (truncated header?)") != NULL, "%s", r.err);
    tu_run_free(&r);
}

/* ---- PNG ---- */

/* Write a PNG of any colour type / depth with libpng; pixels from a formula. */
static void write_test_png(const char *path, int w, int h, int color_type, int depth) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    int ch = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    int bpp = ch * depth / 8;
    uint8_t *row = malloc((size_t)w * bpp);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t v = (uint8_t)(x * 10 + y);
            for (int c = 0; c < ch; c++) {
                uint8_t s = (c == 3 || (ch == 2 && c == 1)) ? 255 : v; /* opaque alpha */
                if (depth == 16) {
                    row[(x * ch + c) * 2] = s;
                    row[(x * ch + c) * 2 + 1] = s;
                } else {
                    row[x * ch + c] = s;
                }
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(row);
}

Test(png, every_layout_reads_as_grey) {
    const char *dir = tu_scratch("png_layouts");
    const struct { int type, depth; } cases[] = {
        {PNG_COLOR_TYPE_GRAY, 8}, {PNG_COLOR_TYPE_GRAY, 16}, {PNG_COLOR_TYPE_RGB, 8},
        {PNG_COLOR_TYPE_RGBA, 8}, {PNG_COLOR_TYPE_RGB, 16}, {PNG_COLOR_TYPE_GRAY_ALPHA, 8}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/c%zu.png", dir, i);
        write_test_png(path, 20, 10, cases[i].type, cases[i].depth);
        usg_image img = {0};
        cr_assert_eq(usg_png_read_grey(path, &img), USG_OK, "case %zu: %s", i, usg_last_error());
        cr_expect_eq(img.width, 20);
        cr_expect_eq(img.height, 10);
        for (int y = 0; y < 10; y++)
            for (int x = 0; x < 20; x++) {
                int want = (uint8_t)(x * 10 + y), got = usg_image_row(&img, y)[x];
                cr_expect(abs(got - want) <= 1, "case %zu (%d,%d): %d vs %d", i, x, y, got, want);
            }
        usg_image_free(&img);
    }
}

Test(png, write_then_read_is_lossless) {
    const char *dir = tu_scratch("png_rt");
    usg_image a, b = {0};
    cr_assert_eq(usg_image_alloc(&a, 33, 17), USG_OK);
    for (int i = 0; i < 33 * 17; i++) a.data[i] = (uint8_t)(i * 37);
    char path[1100];
    snprintf(path, sizeof path, "%s/g.png", dir);
    cr_assert_eq(usg_png_write_grey(path, &a), USG_OK);
    cr_assert_eq(usg_png_read_grey(path, &b), USG_OK);
    cr_expect_eq(usg_image_checksum(&a), usg_image_checksum(&b));
    usg_image_free(&a);
    usg_image_free(&b);
}

Test(png, corrupt_png_in_a_folder_is_a_frame_error) {
    const char *dir = tu_scratch("png_corrupt");
    char path[1100];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%04d.png", dir, i);
        write_test_png(path, 24, 16, PNG_COLOR_TYPE_GRAY, 8);
    }
    /* frame 1: keep the signature and header, cut the data */
    snprintf(path, sizeof path, "%s/0001.png", dir);
    size_t len;
    char *bytes = tu_read_file(path, &len);
    cr_assert_eq(tu_write_file(path, bytes, 40), 0);
    free(bytes);
    /* frame 3: another size */
    snprintf(path, sizeof path, "%s/0003.png", dir);
    write_test_png(path, 30, 16, PNG_COLOR_TYPE_GRAY, 8);
    char res[1100];
    snprintf(res, sizeof res, "%s.jsonl", dir);
    tu_run r = replay(dir, res);
    cr_expect_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "0001.png: corrupt or truncated PNG") != NULL, "%s", r.err);
    cr_expect(strstr(r.err, "0003.png: frame is 30x16, the sequence is 24x16") != NULL, "%s", r.err);
    cr_expect_eq(tu_count_lines(res), 4);
    char *out = tu_read_file(res, NULL);
    cr_assert_not_null(out);
    cr_expect(strstr(out, "{\"frame\": 2, \"t_ms\": 66.667, \"status\": \"ok\"") != NULL, "%s", out);
    free(out);
    tu_run_free(&r);
}

Test(png, not_a_png_and_missing_input_are_exit_2) {
    const char *dir = tu_scratch("png_bad");
    char path[1100];
    snprintf(path, sizeof path, "%s/x.png", dir);
    cr_assert_eq(tu_write_file(path, "hello", 5), 0);
    tu_run r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, path);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "x.png: not a PNG file (bad signature)") != NULL, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s replay /nonexistent/seq --quiet", USGUIDE_BIN);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "/nonexistent/seq: cannot open: No such file or directory") != NULL, "%s", r.err);
    tu_run_free(&r);
    r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, dir); /* a folder with only the corrupt file */
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "x.png: not a PNG file (bad signature)") != NULL, "%s", r.err);
    tu_run_free(&r);
    snprintf(path, sizeof path, "%s/y.png", dir); /* two corrupt files */
    cr_assert_eq(tu_write_file(path, "hello", 5), 0);
    r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, dir);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "no readable PNG frame (2 files, all corrupt)") != NULL, "%s", r.err);
    tu_run_free(&r);
}

Test(video, corrupt_video_file_is_exit_2) {
    const char *dir = tu_scratch("video_bad");
    char path[1100];
    snprintf(path, sizeof path, "%s/v.avi", dir);
    cr_assert_eq(tu_write_file(path, "RIFF0000AVI garbage garbage", 27), 0);
    tu_run r = tu_sh("%s replay '%s' --quiet", USGUIDE_BIN, path);
    cr_expect_eq(r.status, 2);
    cr_expect(strstr(r.err, "v.avi: OpenCV cannot open this video file") != NULL, "%s", r.err);
    tu_run_free(&r);
}
