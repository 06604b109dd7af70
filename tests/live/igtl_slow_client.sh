#!/bin/bash
# igtl_slow_client.sh - a client that connects to --serve and never reads:
# the loop's latency and throughput must stay what they are without it.
# (That publishing never waits for a client, and that the frames it cannot
# take are skipped and counted, is checked in test_igtl.c with 60 large frames.)
. "$(dirname "$0")/common.sh"
port=$(free_port)
seq_file="$SHARED/Prostate10_video.igs.mhd"
[ -f "$seq_file" ] || { echo "no shared recording $seq_file: skipped"; exit 0; }
probe="$SRC/probes/plus_prostate_video.ini"
run() { # run NAME [stuck client?]
    local err="$SCRATCH/slow_$1.err"
    # 10 frames as a device at 20 fps, repeated: --frames counts arrivals, the file has 10
    timeout 20 "$USGUIDE" live "$seq_file" --probe "$probe" --fps 20 \
        --serve "$port" 2>"$err" &
    local lp=$!
    track $lp
    if [ "$2" = stuck ]; then
        wait_port "$port" 5
        # connect, never read; the socket stays open until this shell ends
        exec 5<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect the stuck client"
    fi
    wait $lp || fail "usguide live ($1) failed: $(cat "$err")"
    cat "$err" >&2
}
run alone none
run stuck stuck
p50() { sed -n 's/.*latency ms: p50 \([0-9.]*\) .*/\1/p' "$SCRATCH/slow_$1.err"; }
processed() { sed -n 's/.*processed \([0-9]*\),.*/\1/p' "$SCRATCH/slow_$1.err"; }
note "p50 alone $(p50 alone) ms, with a stuck client $(p50 stuck) ms; processed $(processed alone) / $(processed stuck)"
awk -v a="$(p50 alone)" -v s="$(p50 stuck)" 'BEGIN { exit !(s <= 2 * a + 5) }' ||
    fail "a stuck client raised the median latency from $(p50 alone) to $(p50 stuck) ms"
[ "$(processed stuck)" -ge $(( $(processed alone) - 1 )) ] || fail "fewer frames processed with a stuck client"
grep -q "serve: 1 clients" "$SCRATCH/slow_stuck.err" || fail "the stuck client was not connected"
