#!/bin/sh
# needle_latency.sh USGUIDE SEQUENCE [MAX_MS] - needle stage latency benchmark
# (issue 6): runs `usguide bench SEQUENCE --json`, prints the needle stage
# medians in tracking mode and in acquisition mode (the tracker reset before
# every frame: the full-frame search cost). With MAX_MS, exits 1 when the
# tracking median exceeds it. THREADS (default 1: one core) sets the full
# search's threads (`usguide bench --threads`; 0: one per processor).
# Not a CTest test: timings depend on the machine's load.
set -eu
json=$("$1" bench "$2" --repeat "${REPEAT:-3}" --threads "${THREADS:-1}" --json)
p50() { # p50 of one "mode/stage" entry of the bench JSON
    printf '%s\n' "$json" | awk -v key="\"$1\": " '{
        i = index($0, key); if (!i) exit 1
        s = substr($0, i + length(key)); j = index(s, "\"p50\": ")
        s = substr(s, j + 7); sub(/[,}].*/, "", s); print s }'
}
t=$(p50 tracking/needle)
a=$(p50 acquisition/needle)
echo "needle stage p50: tracking $t ms, acquisition $a ms ($2, ${THREADS:-1} search thread(s))"
[ $# -ge 3 ] || exit 0
awk -v t="$t" -v m="$3" 'BEGIN { exit !(t + 0 <= m + 0) }' || {
    echo "needle_latency: tracking median $t ms exceeds $3 ms" >&2
    exit 1
}
