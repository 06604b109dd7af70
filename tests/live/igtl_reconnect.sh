#!/bin/bash
# igtl_reconnect.sh - kill the image server mid-stream and start it again:
# `usguide live` must report NO SIGNAL, reconnect by itself and go on to the
# requested frame count without restarting (one process, frames in order).
. "$(dirname "$0")/common.sh"
port=$(free_port)
start_image_server "$port" 30
out="$SCRATCH/igtl_reconnect.jsonl"
err="$SCRATCH/igtl_reconnect.err"
rm -f "$out" "$err" # (a previous run's lines would count as this one's)
timeout 30 "$USGUIDE" live "igtl://127.0.0.1:$port" --frames 90 --results "$out" 2>"$err" &
live_pid=$!
track $live_pid
before=$(wait_lines "$out" 10 15)
[ "$before" -ge 10 ] || fail "only $before frames in 15 s before the server was killed"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
before=$(wc -l < "$out")
note "server killed after $before frames"
sleep 1.5
during=$(wc -l < "$out")
kill -0 $live_pid 2>/dev/null || fail "usguide live ended when the server went away"
start_image_server "$port" 30
note "server restarted ($during frames while it was away)"
wait $live_pid
rc=$?
cat "$err" >&2
[ $rc -eq 0 ] || fail "usguide live exited with $rc"
[ "$(wc -l < "$out")" -eq 90 ] || fail "expected 90 result lines, got $(wc -l < "$out")"
check_order "$out" 90
[ "$during" -le $(( before + 2 )) ] || fail "frames kept coming while the server was down ($before -> $during)"
grep -q "NO SIGNAL" "$err" || fail "no NO SIGNAL report while the server was away"
faults=$(sed -n 's/.*no-signal events \([0-9]*\).*/\1/p' "$err")
[ "${faults:-0}" -ge 1 ] || fail "summary reports no no-signal events"
