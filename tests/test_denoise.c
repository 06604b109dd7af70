/* test_denoise.c - speckle reduction: names, exact behaviour on flat images,
 * speckle variance reduction with an edge kept, size checks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "usg/denoise.h"

static const usg_denoise_method all[] = {USG_DENOISE_NONE, USG_DENOISE_MEDIAN, USG_DENOISE_BILATERAL,
                                         USG_DENOISE_GUIDED, USG_DENOISE_SRAD};
#define N_ALL 5

/* Fully developed speckle (Rayleigh amplitude) of mean ~m over a step:
 * left half m1, right half m2. Deterministic. */
static void speckle_step(usg_image *img, double m1, double m2, unsigned seed) {
    for (int y = 0; y < img->height; y++) {
        uint8_t *row = usg_image_row(img, y);
        for (int x = 0; x < img->width; x++) {
            seed = seed * 1664525u + 1013904223u;
            double u = ((seed >> 8) & 0xffffff) / 16777216.0;
            double m = x < img->width / 2 ? m1 : m2;
            double v = m * sqrt(-2.0 * log(1.0 - 0.999 * u)) / 1.2533;
            row[x] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

/* Mean and standard deviation of img over columns [x0, x1). */
static void stats(const usg_image *img, int x0, int x1, double *mean, double *sd) {
    double s = 0, s2 = 0;
    int n = 0;
    for (int y = 8; y < img->height - 8; y++)
        for (int x = x0; x < x1; x++) {
            double v = usg_image_row(img, y)[x];
            s += v; s2 += v * v; n++;
        }
    *mean = s / n;
    *sd = sqrt(s2 / n - *mean * *mean);
}

Test(denoise, names_parse_and_print) {
    const char *names[] = {"none", "median", "bilateral", "guided", "srad"};
    for (int i = 0; i < N_ALL; i++) {
        usg_denoise_method m;
        cr_assert_eq(usg_denoise_parse(names[i], &m), USG_OK);
        cr_expect_eq(m, all[i]);
        cr_expect_str_eq(usg_denoise_name(m), names[i]);
    }
    usg_denoise_method m;
    cr_expect_eq(usg_denoise_parse("nlm", &m), USG_ERR_ARG);
    cr_expect_str_eq(usg_last_error(), "unknown denoise method 'nlm' (none, median, bilateral, guided, srad)");
    cr_expect_str_eq(usg_denoise_name((usg_denoise_method)42), "?");
    /* the default is one of the methods */
    cr_expect_neq(strcmp(usg_denoise_name(usg_denoise_default()), "?"), 0);
}

Test(denoise, flat_image_is_unchanged_by_every_method) {
    usg_image in, out;
    usg_image_alloc(&in, 64, 48);
    usg_image_alloc(&out, 64, 48);
    memset(in.data, 90, (size_t)in.stride * in.height);
    for (int i = 0; i < N_ALL; i++) {
        usg_denoiser *d;
        cr_assert_eq(usg_denoiser_new(all[i], 64, 48, &d), USG_OK);
        cr_assert_eq(usg_denoiser_process(d, &in, &out), USG_OK, "%s", usg_last_error());
        cr_expect_eq(usg_image_checksum(&out), usg_image_checksum(&in), "%s changed a flat image",
                     usg_denoise_name(all[i]));
        usg_denoiser_free(d);
    }
    usg_image_free(&in);
    usg_image_free(&out);
}

Test(denoise, none_is_an_exact_copy) {
    usg_image in, out;
    usg_image_alloc(&in, 97, 61);
    usg_image_alloc(&out, 97, 61);
    speckle_step(&in, 60, 120, 5);
    usg_denoiser *d;
    cr_assert_eq(usg_denoiser_new(USG_DENOISE_NONE, 97, 61, &d), USG_OK);
    cr_assert_eq(usg_denoiser_process(d, &in, &out), USG_OK);
    cr_expect_eq(usg_image_checksum(&out), usg_image_checksum(&in));
    usg_denoiser_free(d);
    usg_image_free(&in);
    usg_image_free(&out);
}

Test(denoise, filters_reduce_speckle_and_keep_the_step) {
    const int w = 160, h = 120;
    usg_image in, out;
    usg_image_alloc(&in, w, h);
    usg_image_alloc(&out, w, h);
    speckle_step(&in, 50, 150, 11);
    double m_in, sd_in, m_out, sd_out;
    stats(&in, 8, w / 2 - 12, &m_in, &sd_in);
    for (int i = 1; i < N_ALL; i++) {
        usg_denoiser *d;
        cr_assert_eq(usg_denoiser_new(all[i], w, h, &d), USG_OK);
        cr_assert_eq(usg_denoiser_process(d, &in, &out), USG_OK, "%s", usg_last_error());
        stats(&out, 8, w / 2 - 12, &m_out, &sd_out);
        const char *nm = usg_denoise_name(all[i]);
        cr_expect(sd_out < 0.75 * sd_in, "%s: speckle sd %.1f -> %.1f", nm, sd_in, sd_out);
        /* the step (mean 50 | 150) stays a step: 4 px either side keep their levels */
        double ml, mr, sdl, sdr;
        stats(&out, w / 2 - 12, w / 2 - 4, &ml, &sdl);
        stats(&out, w / 2 + 4, w / 2 + 12, &mr, &sdr);
        cr_expect(mr - ml > 0.6 * (150 - 50), "%s: step %.1f -> %.1f", nm, ml, mr);
        usg_denoiser_free(d);
    }
    usg_image_free(&in);
    usg_image_free(&out);
}

Test(denoise, sizes_are_checked) {
    usg_denoiser *d;
    cr_expect_eq(usg_denoiser_new(USG_DENOISE_GUIDED, 0, 10, &d), USG_ERR_ARG);
    cr_expect_null(d);
    cr_assert_eq(usg_denoiser_new(USG_DENOISE_GUIDED, 32, 32, &d), USG_OK);
    usg_image big, small;
    usg_image_alloc(&big, 40, 32);
    usg_image_alloc(&small, 20, 32);
    cr_expect_eq(usg_denoiser_process(d, &big, &big), USG_ERR_ARG);
    cr_expect_str_eq(usg_last_error(), "denoiser: frame 40x32 outside the 32x32 it was made for");
    cr_expect_eq(usg_denoiser_process(d, &small, &big), USG_ERR_ARG);
    cr_expect_str_eq(usg_last_error(), "denoiser: input 20x32 and output 40x32 differ");
    /* a smaller frame than made for is fine */
    usg_image s2;
    usg_image_alloc(&s2, 20, 32);
    cr_expect_eq(usg_denoiser_process(d, &small, &s2), USG_OK);
    usg_denoiser_free(d);
    usg_image_free(&big);
    usg_image_free(&small);
    usg_image_free(&s2);
}
