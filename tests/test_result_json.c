/* test_result_json.c - usg_result_from_json: the CONTRACT.md lines, escapes,
 * unknown keys, and exact error messages with columns. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usg/result.h"

static usg_result *R;

static void setup(void) { R = calloc(1, sizeof *R); }
static void teardown(void) { free(R); }

TestSuite(result_json, .init = setup, .fini = teardown);

/* The example line of CONTRACT.md "Results". */
static const char contract_line[] =
    "{\"frame\": 12, \"t_ms\": 400.0, \"status\": \"ok\","
    " \"needle\": {\"found\": true, \"tip\": [358.5, 249.2], \"entry\": [639.0, 87.1],"
    " \"angle_deg\": 150.0, \"confidence\": 0.93},"
    " \"sacrum\": {\"found\": true, \"edge\": [[0.0, 185.3], [2.0, 185.9]]},"
    " \"ilium\":  {\"found\": true, \"edge\": [[360.0, 250.1], [362.0, 249.0]]},"
    " \"target\": {\"found\": true, \"point\": [355.2, 252.0], \"tip_distance_mm\": 0.4,"
    " \"trajectory_miss_mm\": 0.2},"
    " \"latency_ms\": {\"total\": 1.9, \"denoise\": 0.4, \"bone\": 0.6, \"needle\": 0.7,"
    " \"target\": 0.05, \"overlay\": 0.2}}\n";

Test(result_json, contract_example) {
    cr_assert_eq(usg_result_from_json(contract_line, R), USG_OK, "%s", usg_last_error());
    cr_assert_eq(R->frame, 12);
    cr_assert_eq(R->t_ms, 400.0);
    cr_assert_eq(R->status, USG_FRAME_OK);
    cr_assert_eq(R->needle.found, 1);
    cr_assert_eq(R->needle.tip.x, 358.5);
    cr_assert_eq(R->needle.tip.y, 249.2);
    cr_assert_eq(R->needle.entry.x, 639.0);
    cr_assert_eq(R->needle.entry.y, 87.1);
    cr_assert_eq(R->needle.angle_deg, 150.0);
    cr_assert_eq(R->needle.confidence, 0.93);
    cr_assert_eq(R->sacrum.found, 1);
    cr_assert_eq(R->sacrum.n, 2);
    cr_assert_eq(R->sacrum.pts[1].x, 2.0);
    cr_assert_eq(R->sacrum.pts[1].y, 185.9);
    cr_assert_eq(R->ilium.n, 2);
    cr_assert_eq(R->ilium.pts[0].x, 360.0);
    cr_assert_eq(R->ilium.pts[1].y, 249.0);
    cr_assert_eq(R->target.found, 1);
    cr_assert_eq(R->target.point.x, 355.2);
    cr_assert_eq(R->target.has_needle_metrics, 1);
    cr_assert_eq(R->target.tip_distance_mm, 0.4);
    cr_assert_eq(R->target.trajectory_miss_mm, 0.2);
    cr_assert_eq(R->has_latency, 1);
    cr_assert_eq(R->latency.total, 1.9);
    cr_assert_eq(R->latency.target, 0.05);
    cr_assert_eq(R->latency.has_e2e, 0);
    cr_assert_eq(R->has_spacing, 0);
}

Test(result_json, truth_line_and_nothing_found) {
    const char *line = "{\"frame\":3,\"status\":\"ok\",\"spacing_mm\":0.15,"
                       "\"needle\":{\"found\":false},\"sacrum\":{\"found\":false},"
                       "\"ilium\":{\"found\":false},\"target\":{\"found\":false}}";
    cr_assert_eq(usg_result_from_json(line, R), USG_OK, "%s", usg_last_error());
    cr_assert_eq(R->frame, 3);
    cr_assert_eq(R->has_spacing, 1);
    cr_assert_eq(R->spacing_mm, 0.15);
    cr_assert_eq(R->needle.found, 0);
    cr_assert_eq(R->sacrum.found, 0);
    cr_assert_eq(R->sacrum.n, 0);
    cr_assert_eq(R->target.found, 0);
    cr_assert_eq(R->has_latency, 0);
}

Test(result_json, previous_contents_are_cleared) {
    cr_assert_eq(usg_result_from_json(contract_line, R), USG_OK);
    cr_assert_eq(usg_result_from_json("{\"frame\": 13}", R), USG_OK);
    cr_assert_eq(R->frame, 13);
    cr_assert_eq(R->t_ms, 0);
    cr_assert_eq(R->needle.found, 0);
    cr_assert_eq(R->sacrum.found, 0);
    cr_assert_eq(R->sacrum.n, 0);
    cr_assert_eq(R->target.found, 0);
    cr_assert_eq(R->has_latency, 0);
    cr_assert_eq(R->status, USG_FRAME_OK);
}

Test(result_json, error_and_dropped_status_with_escapes) {
    const char *line = "{\"frame\": 4, \"status\": \"error\", \"error\":"
                       " \"bad \\\"frame\\\" \\\\ \\/ \\u00e9 \\ud83d\\ude00\\n\\t\"}";
    cr_assert_eq(usg_result_from_json(line, R), USG_OK, "%s", usg_last_error());
    cr_assert_eq(R->status, USG_FRAME_ERROR);
    cr_assert_str_eq(R->error, "bad \"frame\" \\ / \xc3\xa9 \xf0\x9f\x98\x80\n\t");
    cr_assert_eq(usg_result_from_json("{\"frame\": 5, \"status\": \"dropped\"}", R), USG_OK);
    cr_assert_eq(R->status, USG_FRAME_DROPPED);
    cr_assert_eq(R->error[0], 0);
}

Test(result_json, long_error_string_is_truncated) {
    char line[1200];
    int n = snprintf(line, sizeof line, "{\"frame\": 1, \"status\": \"error\", \"error\": \"");
    for (int i = 0; i < 600; i++) line[n++] = 'a' + i % 26;
    snprintf(line + n, sizeof line - (size_t)n, "\"}");
    cr_assert_eq(usg_result_from_json(line, R), USG_OK, "%s", usg_last_error());
    cr_assert_eq(strlen(R->error), sizeof R->error - 1);
    cr_assert_eq(R->error[0], 'a');
    cr_assert_eq(R->error[254], 'a' + 254 % 26);
}

Test(result_json, unknown_keys_and_nulls) {
    const char *line =
        "{\"extra\": {\"a\": [1, {\"b\": null}, -2.5e-3], \"c\": \"x\\\"}\"}, \"frame\": 7,"
        " \"t_ms\": null, \"degraded\": 2, \"flag\": true, \"gone\": false, \"nothing\": null,"
        " \"needle\": {\"found\": true, \"tip\": [1, 2], \"entry\": [3, 4], \"angle_deg\": 45,"
        " \"confidence\": null, \"why\": [\"x\"]},"
        " \"target\": {\"found\": true, \"point\": [5, 6], \"tip_distance_mm\": null},"
        " \"latency_ms\": {\"total\": 3, \"e2e\": 9.5, \"capture\": 1}}";
    cr_assert_eq(usg_result_from_json(line, R), USG_OK, "%s", usg_last_error());
    cr_assert_eq(R->frame, 7);
    cr_assert_eq(R->degraded, 2);
    cr_assert_eq(R->needle.found, 1);
    cr_assert_eq(R->needle.tip.y, 2);
    cr_assert_eq(R->needle.angle_deg, 45);
    cr_assert_eq(R->needle.confidence, 0);
    cr_assert_eq(R->target.found, 1);
    cr_assert_eq(R->target.point.y, 6);
    cr_assert_eq(R->target.has_needle_metrics, 0);
    cr_assert_eq(R->latency.total, 3);
    cr_assert_eq(R->latency.has_e2e, 1);
    cr_assert_eq(R->latency.e2e, 9.5);
}

Test(result_json, found_false_ignores_other_keys) {
    const char *line = "{\"frame\": 1, \"needle\": {\"found\": false, \"tip\": [1, 2]},"
                       " \"sacrum\": {\"edge\": [[1, 2]], \"found\": false}}";
    cr_assert_eq(usg_result_from_json(line, R), USG_OK, "%s", usg_last_error());
    cr_assert_eq(R->needle.found, 0);
    cr_assert_eq(R->needle.tip.x, 0);
    cr_assert_eq(R->sacrum.found, 0);
    cr_assert_eq(R->sacrum.n, 0);
}

/* An edge with n points along x, as JSON, into a malloc'd string. */
static char *edge_line(int n) {
    size_t cap = 64 + (size_t)n * 32;
    char *s = malloc(cap);
    size_t len =
        (size_t)snprintf(s, cap, "{\"frame\": 1, \"ilium\": {\"found\": true, \"edge\": [");
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(s + len, cap - len, "%s[%d, %d.5]", i ? ", " : "", 2 * i, i % 7);
    }
    snprintf(s + len, cap - len, "]}}");
    return s;
}

Test(result_json, edge_capacity) {
    char *s = edge_line(USG_EDGE_MAX);
    cr_assert_eq(usg_result_from_json(s, R), USG_OK, "%s", usg_last_error());
    cr_assert_eq(R->ilium.n, USG_EDGE_MAX);
    cr_assert_eq(R->ilium.pts[USG_EDGE_MAX - 1].x, 2.0 * (USG_EDGE_MAX - 1));
    cr_assert_eq(R->ilium.pts[USG_EDGE_MAX - 1].y, (USG_EDGE_MAX - 1) % 7 + 0.5);
    free(s);
    s = edge_line(USG_EDGE_MAX + 1);
    cr_assert_eq(usg_result_from_json(s, R), USG_ERR_FORMAT);
    /* the 4097th point starts after the 4096 ones and their ", " separators */
    const char *p = strstr(s, "[8192, ");
    cr_assert_not_null(p);
    char want[96];
    snprintf(want, sizeof want, "column %d: too many edge points (at most 4096)", (int)(p - s) + 1);
    cr_assert_str_eq(usg_last_error(), want);
    free(s);
}

/* Parse must fail with exactly this message. */
static void bad(const char *line, const char *msg) {
    cr_assert_eq(usg_result_from_json(line, R), USG_ERR_FORMAT, "accepted: %s", line);
    cr_assert_str_eq(usg_last_error(), msg, "line: %s\n   got: %s", line, usg_last_error());
}

Test(result_json, syntax_errors_name_the_column) {
    bad("", "column 1: empty line (expected a JSON object)");
    bad("[1]", "column 1: expected '{', found '['");
    bad("{\"frame\": 1,}", "column 13: expected a string, found '}'");
    bad("{\"frame\" 1}", "column 10: expected ':' after a key, found '1'");
    bad("{\"frame\": 01}", "column 12: expected ',' or '}', found '1'");
    bad("{\"frame\": NaN}", "column 11: expected a number, found 'N'");
    bad("{\"frame\": 1.}", "column 13: expected a digit after '.', found '}'");
    bad("{\"frame\": 1e}", "column 13: expected a digit in the exponent, found '}'");
    bad("{\"frame\": 1.5}", "column 11: expected an integer");
    bad("{\"frame\": 1e999}", "column 11: number out of range");
    bad("{\"frame\": 1} x", "column 14: unexpected text after the JSON object");
    bad("{\"frame\": 1", "column 12: expected ',' or '}', found end of line");
    bad("{\"frame\": 1, \"x\": \"abc", "column 23: unterminated string");
    bad("{\"frame\": 1, \"x\": \"a\tb\"}", "column 21: control character in a string");
    bad("{\"frame\": 1, \"x\": \"a\\qb\"}", "column 21: bad escape in a string");
    bad("{\"frame\": 1, \"x\": \"\\u12g4\"}", "column 24: bad \\u escape: expected 4 hex digits");
    bad("{\"frame\": 1, \"x\": \"\\udc00\"}", "column 20: bad \\u escape: lone low surrogate");
    bad("{\"frame\": 1, \"x\": \"\\ud800x\"}",
        "column 20: bad \\u escape: high surrogate without its pair");
    bad("{\"frame\": 1, \"x\": \"\\u0000\"}", "column 20: \\u0000 is not allowed in a string");
    bad("{\"frame\": 1, \"x\": tru}", "column 19: expected a value, found 't'");
    bad("{\"frame\": 1, \"x\": [1 2]}", "column 22: expected ',' or ']', found '2'");
}

Test(result_json, schema_errors_name_the_column) {
    bad("{\"t_ms\": 1}", "column 1: missing \"frame\"");
    bad("{\"frame\": 1, \"status\": \"fine\"}",
        "column 24: status must be \"ok\", \"error\" or \"dropped\"");
    bad("{\"frame\": 1, \"needle\": {\"tip\": [1, 2]}}", "column 24: needle: missing \"found\"");
    bad("{\"frame\": 1, \"needle\": {\"found\": true, \"tip\": [1, 2]}}",
        "column 24: needle: found but no \"entry\"");
    bad("{\"frame\": 1, \"sacrum\": {\"found\": true}}",
        "column 24: sacrum: found but no \"edge\"");
    bad("{\"frame\": 1, \"target\": {\"found\": 1}}",
        "column 34: expected true or false, found '1'");
    bad("{\"frame\": 1, \"ilium\": {\"found\": true, \"edge\": [[1, 2, 3]]}}",
        "column 53: expected ']' after [x, y], found ','");
    bad("{\"frame\": 1, \"ilium\": {\"found\": true, \"edge\": [[1, \"2\"]]}}",
        "column 52: expected a number, found '\"'");
    bad("{\"frame\": 1, \"needle\": null}", "column 24: expected '{', found 'n'");
    bad("{\"frame\": 1, \"needle\": {\"found\": true, \"tip\": [1, 2], \"entry\": [1, 2], "
        "\"angle_deg\": null}}",
        "column 85: expected a number, found 'n'");
}

Test(result_json, deep_nesting_is_bounded) {
    char line[400];
    int n = snprintf(line, sizeof line, "{\"frame\": 1, \"x\": ");
    for (int i = 0; i < 100; i++) line[n++] = '[';
    line[n] = 0;
    cr_assert_eq(usg_result_from_json(line, R), USG_ERR_FORMAT);
    cr_assert_str_eq(usg_last_error(), "column 83: nested too deeply");
}

/* ---- round trip through usg_result_to_json ------------------------------- */

static void round_trip(const usg_result *in, usg_result *out) {
    size_t cap = usg_result_json_capacity(), len = 0;
    char *buf = malloc(cap);
    cr_assert_eq(usg_result_to_json(in, buf, cap, &len), USG_OK, "%s", usg_last_error());
    cr_assert_eq(strlen(buf), len);
    cr_assert_eq(usg_result_from_json(buf, out), USG_OK, "%s\n%s", usg_last_error(), buf);
    free(buf);
}

static void assert_same_point(usg_point a, usg_point b) {
    cr_assert_eq(a.x, b.x);
    cr_assert_eq(a.y, b.y);
}

static void assert_same_edge(const usg_edge *a, const usg_edge *b) {
    cr_assert_eq(a->found, b->found);
    cr_assert_eq(a->n, b->n);
    for (int i = 0; i < a->n; i++) assert_same_point(a->pts[i], b->pts[i]);
}

Test(result_json, round_trip_full_result) {
    usg_result *in = calloc(1, sizeof *in);
    usg_result_reset(in, 41, 1366.333);
    in->needle = (usg_needle){1, {358.5, 249.25}, {639, 87.1}, 150.25, 0.925};
    in->sacrum.found = 1;
    in->sacrum.n = USG_EDGE_MAX;
    for (int i = 0; i < USG_EDGE_MAX; i++) {
        in->sacrum.pts[i] = (usg_point){i * 0.5, 185.75 - (i % 8) * 0.25};
    }
    in->ilium.found = 1;
    in->ilium.n = 3;
    in->ilium.pts[0] = (usg_point){360, 250.1};
    in->ilium.pts[1] = (usg_point){362, 249};
    in->ilium.pts[2] = (usg_point){364, -0.5};
    in->target = (usg_target){1, {355.2, 252}, 1, 0.4, 0.125};
    in->has_latency = 1;
    in->latency = (usg_latency){1.9, 0.4, 0.6, 0.7, 0.05, 0.2, 1, 12.5};
    in->has_spacing = 1;
    in->spacing_mm = 0.15;
    in->degraded = 2;
    round_trip(in, R);
    cr_assert_eq(R->frame, 41);
    cr_assert_eq(R->t_ms, 1366.333);
    cr_assert_eq(R->status, USG_FRAME_OK);
    cr_assert_eq(R->needle.found, 1);
    assert_same_point(R->needle.tip, in->needle.tip);
    assert_same_point(R->needle.entry, in->needle.entry);
    cr_assert_eq(R->needle.angle_deg, 150.25);
    cr_assert_eq(R->needle.confidence, 0.925);
    assert_same_edge(&R->sacrum, &in->sacrum);
    assert_same_edge(&R->ilium, &in->ilium);
    cr_assert_eq(R->target.found, 1);
    assert_same_point(R->target.point, in->target.point);
    cr_assert_eq(R->target.has_needle_metrics, 1);
    cr_assert_eq(R->target.tip_distance_mm, 0.4);
    cr_assert_eq(R->target.trajectory_miss_mm, 0.125);
    cr_assert_eq(R->has_latency, 1);
    cr_assert_eq(memcmp(&R->latency, &in->latency, sizeof R->latency), 0);
    cr_assert_eq(R->has_spacing, 1);
    cr_assert_eq(R->spacing_mm, 0.15);
    cr_assert_eq(R->degraded, 2);
    free(in);
}

Test(result_json, round_trip_nothing_found_and_error) {
    usg_result *in = calloc(1, sizeof *in);
    usg_result_reset(in, 0, 0);
    round_trip(in, R);
    cr_assert_eq(R->frame, 0);
    cr_assert_eq(R->needle.found, 0);
    cr_assert_eq(R->sacrum.found, 0);
    cr_assert_eq(R->ilium.found, 0);
    cr_assert_eq(R->target.found, 0);
    cr_assert_eq(R->has_latency, 0);
    cr_assert_eq(R->has_spacing, 0);
    usg_result_reset(in, 7, 233.1);
    usg_result_set_error(in, "decode: \"bad\" \\ zlib\n\x01 stream");
    round_trip(in, R);
    cr_assert_eq(R->frame, 7);
    cr_assert_eq(R->status, USG_FRAME_ERROR);
    cr_assert_str_eq(R->error, "decode: \"bad\" \\ zlib\n\x01 stream");
    usg_result_reset(in, 8, 266.4);
    in->status = USG_FRAME_DROPPED;
    round_trip(in, R);
    cr_assert_eq(R->status, USG_FRAME_DROPPED);
    free(in);
}
