#!/bin/bash
# accuracy_table.sh - replay every sample sequence and print one Markdown row
# of `usguide eval` metrics per sequence (the README's accuracy table).
#
# usage: tests/bench/accuracy_table.sh [USGUIDE] [SEQUENCE_DIR...] [-- REPLAY_OPTIONS]
#   USGUIDE        the CLI (default: build/usguide of this repo)
#   SEQUENCE_DIR   sequence folders with truth.jsonl (default: sample_frames/*/)
#   REPLAY_OPTIONS passed to `usguide replay` (e.g. -- --medial-side auto)
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
usguide=$here/build/usguide
if [ $# -gt 0 ] && [ "$1" != "--" ] && [ -x "$1" ] && [ ! -d "$1" ]; then usguide=$1; shift; fi
seqs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do seqs+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#seqs[@]} -gt 0 ] || seqs=("$here"/sample_frames/*/)
[ -x "$usguide" ] || { echo "$usguide is not executable (build first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cols="needle_recall needle_fp_rate tip_err_median_mm tip_err_p95_mm angle_err_median_deg angle_err_p95_deg sacrum_mean_dist_mm sacrum_coverage ilium_mean_dist_mm ilium_coverage label_swaps target_err_median_mm target_err_p95_mm"
echo "| sequence | recall | FP rate | tip p50 / p95 mm | angle p50 / p95 deg | sacrum mm / cov | ilium mm / cov | swaps | target p50 / p95 mm |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
status=0
for d in "${seqs[@]}"; do
    d=${d%/}
    name=$(basename "$d")
    "$usguide" replay "$d" --quiet --results "$tmp/$name.jsonl" "$@" || status=1
    "$usguide" eval "$d" "$tmp/$name.jsonl" -q > "$tmp/$name.txt" || status=1
    awk -v name="$name" -v cols="$cols" '
        BEGIN { n = split(cols, c, " ") }
        { v[$1] = $2 }
        END {
            for (i = 1; i <= n; i++) if (!(c[i] in v)) v[c[i]] = "n/a"
            printf "| %s | %s | %s | %s / %s | %s / %s | %s / %s | %s / %s | %s | %s / %s |\n", name,
                v["needle_recall"], v["needle_fp_rate"], v["tip_err_median_mm"], v["tip_err_p95_mm"],
                v["angle_err_median_deg"], v["angle_err_p95_deg"], v["sacrum_mean_dist_mm"], v["sacrum_coverage"],
                v["ilium_mean_dist_mm"], v["ilium_coverage"], v["label_swaps"], v["target_err_median_mm"], v["target_err_p95_mm"]
        }' "$tmp/$name.txt"
done
exit $status
