#!/usr/bin/env bash
# Runs the libFuzzer entry points of a fuzz build (ISCSILAB_FUZZ=ON), one after the other.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [NAME...]   (NAME: framer_conn, cdb, ...; all
# by default). Each runs SECONDS from a copy of its committed corpus (which never grows
# here) with its dictionary, and prints its execs/s, final coverage (cov, ft), the corpus
# size before and after, and a one-line summary. Any crash, leak, sanitizer report or
# timeout fails the run, with the one command that replays the input that caused it.
set -uo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(framer_conn login_keys chap cdb scst_conf mgmt)
work=$build/fuzz-work
failed=()
summaries=()
for name in "${names[@]}"; do
    bin=$build/tests/fuzz/fuzz_$name
    if [ ! -x "$bin" ]; then
        echo "fuzz_$name: no $bin (configure with CC=clang CXX=clang++ -DISCSILAB_FUZZ=ON and build)" >&2
        failed+=("$name")
        continue
    fi
    dir=$work/$name
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp "$here/corpus/$name/"* "$dir/corpus/" 2>/dev/null
    before=$(ls "$dir/corpus" | wc -l)
    dict=()
    [ -f "$here/dict/$name.dict" ] && dict=(-dict="$here/dict/$name.dict")
    echo "== fuzz_$name: $seconds s from $before inputs${dict:+ with dict/$name.dict}"
    "$bin" "$dir/corpus" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" >"$dir/log" 2>&1
    rc=$?
    after=$(ls "$dir/corpus" | wc -l)
    # libFuzzer's last status line: "#N DONE cov: C ft: F corp: ... exec/s: E rss: ..."
    last=$(grep -E '^#[0-9]+' "$dir/log" | grep 'cov:' | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    echo "   execs/s: ${rate:-?}   cov: ${cov:-?}   ft: ${ft:-?}   corpus: $before -> $after inputs   (log: $dir/log)"
    artifact=$(ls -t "$dir/artifacts/" 2>/dev/null | head -1)
    if [ $rc -ne 0 ] || [ -n "$artifact" ]; then
        what=$(grep -m1 -E '^SUMMARY: |ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:|^fuzz: ' "$dir/log")
        echo "   FAILED (exit $rc): ${what:-see the log}"
        if [ -n "$artifact" ]; then
            echo "   replay: $bin $dir/artifacts/$artifact"
            echo "   keep it: cp $dir/artifacts/$artifact $here/corpus/$name/regress-SHORT-NAME"
        fi
        grep -B2 -A25 -m1 -E '^==[0-9]+==ERROR|runtime error:|^fuzz: |ERROR: libFuzzer' "$dir/log" | head -40 | sed 's/^/   | /'
        failed+=("$name")
        summaries+=("fuzz_$name: FAILED after ${execs:-?} runs (${what:-exit $rc})")
    else
        summaries+=("fuzz_$name: ok, ${execs:-?} runs in $seconds s (${rate:-?}/s), cov ${cov:-?} ft ${ft:-?}, corpus $before -> $after")
    fi
done
echo "== fuzzing summary"
printf '%s\n' "${summaries[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing FAILED: ${failed[*]}"
    exit 1
fi
echo "fuzzing passed: ${#names[@]} entry points, $seconds s each"
