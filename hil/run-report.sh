#!/usr/bin/env bash
# The main job: the RFC 3720 conformance report. On a fresh Debian 12 machine it installs
# what is missing, makes a coverage build (target/ instrumented), runs the scenario
# suites (wire checker on every run), the peer suite (libiscsi's iscsi-test-cu against
# iscsilab serve, captured and checked), the unit tests, and gcovr; then writes
# reports/out/index.html, report.md, junit.xml and results.json and prints the summary.
# Usage: hil/run-report.sh [extra `iscsilab report` options]
# Exit 0: nothing violated or failed; 1: the report shows violations or failures;
# 2: the report could not be made.
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
echo "== building (coverage build in build-cov)"
hil/setup.sh build-cov -DISCSILAB_COVERAGE=ON || exit 2
# Counters of an earlier run would add to this one's.
find build-cov -name '*.gcda' -delete
rm -rf reports/out
build-cov/iscsilab report --out reports/out --unit-tests build-cov/tests --coverage build-cov --source-root "$PWD" "$@"
rc=$?
echo "main job took $(( $(date +%s) - start )) s; open $PWD/reports/out/index.html"
exit $rc
