#!/usr/bin/env bash
# The whole test suite: a Release build and an ASan+UBSan build, each built from
# scratch-or-incrementally and run through CTest (unit tests, CLI round trips,
# accuracy gates, OpenIGTLink peers, the window test).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
run() {
  local dir=$1; shift
  echo "=== $dir: configure and build"
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
  echo "=== $dir: ctest"
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS"
}
run build -DCMAKE_BUILD_TYPE=Release
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  run build-asan -DCMAKE_BUILD_TYPE=Debug -DUSG_SANITIZE=ON
echo "=== all tests passed (Release and ASan+UBSan)"
