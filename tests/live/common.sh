# common.sh - helpers for the live-mode peer tests (sourced by tests/live/*.sh).
# Every network test uses 127.0.0.1 only, bounded in time, on a free port.
set -u

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "== $*" >&2; }

# 0 if a TCP socket listens on port $1 (read from /proc/net/tcp*, without
# connecting: the example servers serve one client at a time, a probe
# connection would be that client).
port_busy() {
    local hex
    hex=$(printf '%04X' "$1")
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v h=":$hex" '$2 ~ h"$" && $4 == "0A" { f = 1 } END { exit !f }'
}

# A free TCP port on 127.0.0.1 (random in 20000..59999, checked).
free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM + $$) % 40000 ))
        if ! port_busy "$p"; then echo "$p"; return 0; fi
    done
    fail "no free port found"
}

# Wait until 127.0.0.1:$1 accepts connections (at most $2 seconds).
wait_port() {
    local i
    for i in $(seq 1 $(( ${2:-5} * 20 ))); do
        port_busy "$1" && return 0
        sleep 0.05
    done
    fail "nothing listens on 127.0.0.1:$1 after ${2:-5} s"
}

# Wait until file $1 has at least $2 lines (at most $3 seconds; a loaded
# machine starts processes slowly); prints the count reached.
wait_lines() {
    local i n=0
    for i in $(seq 1 $(( $3 * 20 ))); do
        n=$(wc -l < "$1" 2>/dev/null || echo 0)
        [ "$n" -ge "$2" ] && break
        sleep 0.05
    done
    echo "$n"
}

# Processes started by this script, ended on exit (by PID only).
PIDS=""
track() { PIDS="$PIDS $1"; }
cleanup() {
    local p
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT

# Start the example image server (sends 256x256 grey IMAGE messages) on port $1 at $2 fps; sets SERVER_PID.
start_image_server() {
    "$IMAGER_SERVER" "$1" "$2" "$IMAGER_IMG" >/dev/null 2>>"$SCRATCH/imager_server.err" &
    SERVER_PID=$!
    track "$SERVER_PID"
    wait_port "$1" 5
}

# A field of the summary line: summary_field FILE "processed" -> the number after it.
summary_field() { sed -n "s/.*[ ,]$2 \([0-9.]*\).*/\1/p" "$1" | head -1; }

# Number of result lines whose status is $2 in results file $1.
count_status() { grep -c "\"status\": \"$2\"" "$1"; }

# Check that result lines in $1 are frames 0..$2-1 in order.
check_order() {
    local got
    got=$(sed -n 's/^{"frame": \([0-9]*\),.*/\1/p' "$1" | tr '\n' ' ')
    [ "$got" = "$(seq -s ' ' 0 $(( $2 - 1 ))) " ] || fail "result frames are not 0..$(( $2 - 1 )) in order: $got"
}
