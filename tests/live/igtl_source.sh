#!/bin/bash
# igtl_source.sh - `usguide live igtl://...` against the OpenIGTLink example
# ImagerServer (Debian openigtlink-examples): 256x256 8-bit IMAGE messages at
# 30 fps with spacing 1 x 1 mm. No probe profile is given, so every processed
# frame proves the spacing was taken from the messages.
. "$(dirname "$0")/common.sh"
port=$(free_port)
start_image_server "$port" 30
out="$SCRATCH/igtl_source.jsonl"
timeout 20 "$USGUIDE" live "igtl://127.0.0.1:$port" --frames 45 --results "$out" 2>"$SCRATCH/igtl_source.err"
rc=$?
cat "$SCRATCH/igtl_source.err" >&2
[ $rc -eq 0 ] || fail "usguide live exited with $rc"
[ "$(wc -l < "$out")" -eq 45 ] || fail "expected 45 result lines, got $(wc -l < "$out")"
check_order "$out" 45
ok=$(count_status "$out" ok); dropped=$(count_status "$out" dropped)
[ $(( ok + dropped )) -eq 45 ] || fail "frames neither ok nor dropped: $(grep -v '"status": "ok"\|"status": "dropped"' "$out" | head -3)"
[ "$ok" -ge 40 ] || fail "only $ok of 45 frames processed"
grep -q "frames in 45, processed $ok, dropped $dropped" "$SCRATCH/igtl_source.err" || fail "summary does not match the results"
grep -q '"e2e": [0-9]' "$out" || fail "no capture-to-overlay latency in the results"
note "igtl source: $ok processed, $dropped dropped"
