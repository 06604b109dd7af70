#!/bin/bash
# live_latency.sh - capture-to-overlay latency of `usguide live` on a paced
# sample sequence at 30 and 60 fps, alone and with a CPU hog on the other
# core, one run with the budget squeezed to 1 ms (drops, not delay), and the
# hog runs again with --no-realtime (threads not raised) for comparison.
#
# usage: tests/bench/live_latency.sh [USGUIDE] [SEQUENCE_DIR]
#   USGUIDE       the CLI (default: build/usguide beside this script's repo)
#   SEQUENCE_DIR  a folder of PNG frames (default: a 600-frame `usguide sim`
#                 sequence, made once and kept in ${TMPDIR:-/tmp}/usguide_live_bench_600)
# Environment: HOG_CORE (default 1) - the core the hog spins on (taskset).
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
usguide=${1:-$here/build/usguide}
seq=${2:-}
[ -x "$usguide" ] || { echo "usage: $0 [USGUIDE] [SEQUENCE_DIR] ($usguide is not executable)" >&2; exit 2; }
if [ -z "$seq" ]; then
    cache="${TMPDIR:-/tmp}/usguide_live_bench_600"
    if [ ! -f "$cache/truth.jsonl" ] || [ "$(ls "$cache/frames" 2>/dev/null | wc -l)" -ne 600 ]; then
        echo "making the sample sequence (usguide sim, 600 frames, 640x480) in $cache ..." >&2
        rm -rf "$cache"
        "$usguide" sim "$cache" --frames 600 --seed 5 --fps 60 --quiet || exit 2
    fi
    seq="$cache/frames"
    probe="$cache/probe.ini"
else
    probe=""
    [ -f "$seq/probe.ini" ] || [ -f "$seq/../probe.ini" ] || { echo "$seq: no probe.ini beside the frames" >&2; exit 2; }
fi
n=$(ls "$seq" | grep -c '\.png$')

hog_pid=""
start_hog() {
    if command -v taskset >/dev/null; then
        taskset -c "${HOG_CORE:-1}" sh -c 'while :; do :; done' &
    else
        sh -c 'while :; do :; done' &
    fi
    hog_pid=$!
}
stop_hog() { [ -n "$hog_pid" ] && kill "$hog_pid" 2>/dev/null && wait "$hog_pid" 2>/dev/null; hog_pid=""; }
trap stop_hog EXIT

# run FPS LOAD [extra args]: one line of the table
run() {
    local fps=$1 load=$2; shift 2
    [ "$load" = hog ] && start_hog
    local err
    err=$("$usguide" live "$seq" ${probe:+--probe "$probe"} --fps "$fps" "$@" 2>&1 >/dev/null)
    stop_hog
    local sum lat
    sum=$(echo "$err" | grep "usguide live: frames in")
    lat=$(echo "$err" | grep "capture-to-overlay latency")
    local p50 p95 p99 max processed dropped degraded sched wait99
    sched=$(echo "$err" | sed -n 's/.*; threads \(.*\)$/\1/p' | tr ' ' '_')
    wait99=$(echo "$err" | sed -n 's/.*waiting before processing ms: p50 [0-9.]* p99 \([0-9.]*\).*/\1/p')
    p50=$(echo "$lat" | sed -n 's/.* p50 \([0-9.]*\).*/\1/p')
    p95=$(echo "$lat" | sed -n 's/.* p95 \([0-9.]*\).*/\1/p')
    p99=$(echo "$lat" | sed -n 's/.* p99 \([0-9.]*\).*/\1/p')
    max=$(echo "$lat" | sed -n 's/.* max \([0-9.]*\).*/\1/p')
    processed=$(echo "$sum" | sed -n 's/.*processed \([0-9]*\).*/\1/p')
    dropped=$(echo "$sum" | sed -n 's/.*dropped \([0-9]*\).*/\1/p')
    degraded=$(echo "$sum" | sed -n 's/.*degraded \([0-9]*\).*/\1/p')
    printf '%-4s %-5s %-12s %8s %8s %8s %8s %9s %7s %8s %9s  %s\n' "$fps" "$load" "${*:-default}" "$p50" "$p95" "$p99" "$max" \
        "$processed" "$dropped" "$degraded" "$wait99" "$sched"
}

echo "usguide live latency (capture stamp to overlay ready; wait = stamp to processing start): $n frames of $seq, $(nproc) cores, load before start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %-5s %-12s %8s %8s %8s %8s %9s %7s %8s %9s  %s\n' fps load budget p50_ms p95_ms p99_ms max_ms processed dropped degraded wait_p99 threads
run 30 idle
run 30 hog
run 60 idle
run 60 hog
run 60 idle --budget-ms 1
# the same without raising the loop's threads (SCHED_FIFO / nice), for comparison
run 30 hog --no-realtime
run 60 hog --no-realtime
