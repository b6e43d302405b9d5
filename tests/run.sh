#!/usr/bin/env bash
# Every test: set up and build, run unit and interop tests, then the same again built
# with AddressSanitizer + UndefinedBehaviorSanitizer (any report fails the run).
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
hil/setup.sh build || exit 1
echo "== tests (RelWithDebInfo)"
(cd build && ctest --output-on-failure --output-junit junit.xml) ; rc1=$?

echo "== tests under ASan + UBSan"
hil/setup.sh build-asan -DISCSILAB_SANITIZE=ON || exit 1
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd build-asan && ctest --output-on-failure --output-junit junit.xml) ; rc2=$?

echo "tests took $(( $(date +%s) - start )) s"
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && echo "all test runs passed" || echo "some tests FAILED (plain: $rc1, sanitizers: $rc2)"
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]
