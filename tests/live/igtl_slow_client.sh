#!/bin/bash
# igtl_slow_client.sh - a client that connects to --serve and never reads:
# the server must skip frames for it (counted) and the loop's latency must
# stay what it is without it (p99 within the frame period).
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
p99_alone=$(sed -n 's/.* p99 \([0-9.]*\) .*/\1/p' "$SCRATCH/slow_alone.err")
p99_stuck=$(sed -n 's/.* p99 \([0-9.]*\) .*/\1/p' "$SCRATCH/slow_stuck.err")
skipped=$(sed -n 's/.*deliveries, \([0-9]*\) skipped.*/\1/p' "$SCRATCH/slow_stuck.err")
note "p99 alone $p99_alone ms, with a stuck client $p99_stuck ms, $skipped frames skipped for it"
awk -v a="$p99_stuck" 'BEGIN { exit !(a < 50.0) }' || fail "p99 latency $p99_stuck ms with a stuck client (frame period 50 ms)"
grep -q "frames in 10, processed 10, dropped 0" "$SCRATCH/slow_stuck.err" || fail "frames were dropped with a stuck client"
