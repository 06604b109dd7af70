#!/bin/bash
# igtl_serve.sh - `usguide live --serve PORT` read by the OpenIGTLink example
# ReceiveClient: it must print IMAGE messages from device "Image" with the
# frame size, and TRANSFORM NeedleTipToImage / POINT Target exactly when the
# results found a needle / target.
. "$(dirname "$0")/common.sh"
port=$(free_port)
seq_file="$SHARED/Prostate10_video.igs.mhd"   # 640x480, 10 frames
[ -f "$seq_file" ] || { echo "no shared recording $seq_file: skipped"; exit 0; }
probe="$SRC/probes/plus_prostate_video.ini"
out="$SCRATCH/igtl_serve.jsonl"
# 10 frames at 5 fps: 2 s, the client joins after the first frame or two.
timeout 20 "$USGUIDE" live "$seq_file" --probe "$probe" --fps 5 \
    --serve "$port" --results "$out" 2>"$SCRATCH/igtl_serve.err" &
live_pid=$!
track $live_pid
wait_port "$port" 5
timeout 10 "$RECEIVE_CLIENT" 127.0.0.1 "$port" >"$SCRATCH/receive_client.out" 2>"$SCRATCH/receive_client.err"
wait $live_pid
rc=$?
cat "$SCRATCH/igtl_serve.err" >&2
[ $rc -eq 0 ] || fail "usguide live exited with $rc"
rcerr="$SCRATCH/receive_client.err"
images=$(grep -c "Receiving IMAGE data type." "$rcerr")
[ "$images" -ge 5 ] || fail "ReceiveClient got $images IMAGE messages (expected >= 5): $(head -20 "$rcerr")"
[ "$(grep -c 'Device Name           : Image$' "$rcerr")" -eq "$images" ] || fail "IMAGE device name is not 'Image'"
[ "$(grep -c 'Dimensions            : (640, 480, 1)' "$rcerr")" -eq "$images" ] || fail "IMAGE size is not 640x480x1"
grep -q 'Scalar Type           : 3' "$rcerr" || fail "IMAGE scalar type is not uint8 (3)"
grep -q 'Spacing               : (0.3' "$rcerr" || fail "IMAGE spacing is not the profile's 0.3 mm"
sent=$(sed -n 's/.*serve: 1 clients, \([0-9]*\) frame deliveries.*/\1/p' "$SCRATCH/igtl_serve.err")
[ "$sent" = "$images" ] || fail "the server counted ${sent:-?} deliveries, the client got $images IMAGE messages"
needles=$(grep -c '"needle": {"found": true' "$out")
targets=$(grep -c '"target": {"found": true' "$out")
transforms=$(grep -c "Receiving TRANSFORM data type." "$rcerr")
points=$(grep -c "Receiving POINT data type." "$rcerr")
if [ "$needles" -eq 10 ]; then [ "$transforms" -eq "$images" ] || fail "$transforms TRANSFORM for $images IMAGE"; fi
if [ "$needles" -eq 0 ]; then [ "$transforms" -eq 0 ] || fail "TRANSFORM sent without a needle"; fi
if [ "$targets" -eq 10 ]; then [ "$points" -eq "$images" ] || fail "$points POINT for $images IMAGE"; fi
if [ "$targets" -eq 0 ]; then [ "$points" -eq 0 ] || fail "POINT sent without a target"; fi
[ "$points" -eq 0 ] || [ "$(grep -c ' Name      : Target$' "$rcerr")" -eq "$points" ] || fail "POINT element is not named Target"
[ "$points" -eq 0 ] || [ "$(grep -c ' Owner     : Image$' "$rcerr")" -eq "$points" ] || fail "POINT owner is not the image 'Image'"
[ $(( transforms + points )) -gt 0 ] || fail "neither TRANSFORM nor POINT arrived (needle found $needles, target $targets of 10)"
note "serve: $images IMAGE, $transforms TRANSFORM, $points POINT (needle in $needles, target in $targets of 10 frames)"
