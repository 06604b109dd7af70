/* test_result_write.c - the JSON writer: exact text, escaping, non-finite values, capacity. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "usg/result.h"

static usg_result *fresh(void) {
    usg_result *r = malloc(sizeof *r);
    usg_result_reset(r, 12, 400.0);
    return r;
}

static char *to_json(const usg_result *r) {
    static char buf[1 << 20];
    size_t len = 0;
    cr_assert_eq(usg_result_to_json(r, buf, sizeof buf, &len), USG_OK, "%s", usg_last_error());
    cr_assert_eq(len, strlen(buf));
    return buf;
}

Test(result_write, exact_text_of_a_full_result) {
    usg_result *r = fresh();
    r->needle = (usg_needle){1, {358.5, 249.25}, {639.0, 87.1}, 150.0, 0.93};
    r->sacrum.found = 1;
    r->sacrum.n = 2;
    r->sacrum.pts[0] = (usg_point){0, 185.3};
    r->sacrum.pts[1] = (usg_point){2, 185.9};
    r->target = (usg_target){1, {355.2, 252.0}, 1, 0.4, 0.2};
    r->has_latency = 1;
    r->latency = (usg_latency){1.9, 0.4, 0.6, 0.7, 0.05, 0.2, 0, 0};
    cr_expect_str_eq(to_json(r),
        "{\"frame\": 12, \"t_ms\": 400.000, \"status\": \"ok\", "
        "\"needle\": {\"found\": true, \"tip\": [358.50,249.25], \"entry\": [639.00,87.10], \"angle_deg\": 150.00, \"confidence\": 0.930}, "
        "\"sacrum\": {\"found\": true, \"edge\": [[0.00,185.30],[2.00,185.90]]}, "
        "\"ilium\": {\"found\": false}, "
        "\"target\": {\"found\": true, \"point\": [355.20,252.00], \"tip_distance_mm\": 0.400, \"trajectory_miss_mm\": 0.200}, "
        "\"latency_ms\": {\"total\": 1.900, \"denoise\": 0.400, \"bone\": 0.600, \"needle\": 0.700, \"target\": 0.050, \"overlay\": 0.200}}\n");
    free(r);
}

Test(result_write, error_frames_are_listed_with_an_escaped_message) {
    usg_result *r = fresh();
    usg_result_set_error(r, "a \"bad\"\tframe\\");
    r->needle.found = 1; /* not written for an error frame */
    cr_expect_str_eq(to_json(r), "{\"frame\": 12, \"t_ms\": 400.000, \"status\": \"error\", \"error\": \"a \\\"bad\\\"\\tframe\\\\\"}\n");
    r->status = USG_FRAME_DROPPED;
    cr_expect_str_eq(to_json(r), "{\"frame\": 12, \"t_ms\": 400.000, \"status\": \"dropped\"}\n");
    free(r);
}

Test(result_write, non_finite_coordinates_are_not_found) {
    usg_result *r = fresh();
    r->needle = (usg_needle){1, {NAN, 1}, {2, 3}, 10, 0.5};
    r->ilium.found = 1;
    r->ilium.n = 3;
    r->ilium.pts[0] = (usg_point){1, 2};
    r->ilium.pts[1] = (usg_point){INFINITY, 2};
    r->ilium.pts[2] = (usg_point){3, 2};
    r->sacrum.found = 1;
    r->sacrum.n = 1;
    r->sacrum.pts[0] = (usg_point){NAN, NAN};
    r->target = (usg_target){1, {NAN, 2}, 0, 0, 0};
    const char *j = to_json(r);
    cr_expect(strstr(j, "\"needle\": {\"found\": false}") != NULL, "%s", j);
    cr_expect(strstr(j, "\"ilium\": {\"found\": true, \"edge\": [[1.00,2.00],[3.00,2.00]]}") != NULL, "%s", j);
    cr_expect(strstr(j, "\"sacrum\": {\"found\": false}") != NULL, "%s", j);
    cr_expect(strstr(j, "\"target\": {\"found\": false}") != NULL, "%s", j);
    free(r);
}

Test(result_write, capacity_always_suffices_and_small_buffers_fail_cleanly) {
    usg_result *r = fresh();
    r->sacrum.found = r->ilium.found = 1;
    r->sacrum.n = r->ilium.n = USG_EDGE_MAX;
    for (int i = 0; i < USG_EDGE_MAX; i++) r->sacrum.pts[i] = r->ilium.pts[i] = (usg_point){-16383.99, -16383.99};
    usg_result_set_error(r, "x");
    r->status = USG_FRAME_OK;
    size_t cap = usg_result_json_capacity(), len;
    char *buf = malloc(cap);
    cr_expect_eq(usg_result_to_json(r, buf, cap, &len), USG_OK, "%s", usg_last_error());
    char small[64];
    cr_expect_eq(usg_result_to_json(r, small, sizeof small, &len), USG_ERR_ARG);
    cr_expect_str_eq(small, "");
    cr_expect_str_eq(usg_last_error(), "result JSON for frame 12 does not fit 64 bytes");
    free(buf);
    free(r);
}
