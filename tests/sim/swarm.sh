#!/usr/bin/env bash
# `iscsilab swarm`: exit codes, the same per-run digests whatever --jobs, shards that are
# disjoint and together complete (from --shard and from the Slurm and Kubernetes
# variables), JSON results that merge, and a failing run's replay line, drawn scenario
# and shrunk scenario that fails the same way when replayed with `iscsilab run`.
# Usage: swarm.sh ISCSILAB SOURCE_DIR
set -uo pipefail
bin=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
runs() { grep -oE '^(PASS|FAIL) .* seed=[0-9]+ digest=[0-9a-f]+' | sed -E 's/.* (seed=[0-9]+ digest=[0-9a-f]+)/\1/' | sort -t= -k2 -n; }

# Bad input is exit code 2, with a message.
"$bin" swarm "$work/none.yaml" --runs 1 >/dev/null 2>&1; [ $? -eq 2 ] || bad "a missing scenario is not exit 2"
"$bin" swarm --runs 1 --shard 3/2 >/dev/null 2>&1; [ $? -eq 2 ] || bad "--shard 3/2 is not exit 2"
JOB_COMPLETION_INDEX=1 "$bin" swarm --runs 1 >/dev/null 2>&1; [ $? -eq 2 ] || bad "JOB_COMPLETION_INDEX without a count is not exit 2"

# The same runs, the same digests, with one job or two, and twice.
"$bin" swarm --runs 60 --seed 500 -v -j1 --no-shrink --out "$work/o" > "$work/j1.log"; rc1=$?
"$bin" swarm --runs 60 --seed 500 -v -j2 --no-shrink --out "$work/o" > "$work/j2.log"
"$bin" swarm --runs 60 --seed 500 -v -j2 --no-shrink --out "$work/o" > "$work/j2b.log"
runs < "$work/j1.log" > "$work/j1"
runs < "$work/j2.log" > "$work/j2"
runs < "$work/j2b.log" > "$work/j2b"
[ "$(wc -l < "$work/j1")" -eq 60 ] || bad "60 runs did not print 60 lines ($(wc -l < "$work/j1"))"
cmp -s "$work/j1" "$work/j2" || bad "digests differ between --jobs 1 and --jobs 2"
cmp -s "$work/j2" "$work/j2b" || bad "digests differ between two runs of the same seeds"
grep -q "^swarm: 60 runs, " "$work/j1.log" || bad "no summary line"
[ $rc1 -le 1 ] || [ $rc1 -eq 3 ] || bad "unexpected exit code $rc1"

# Shards: disjoint, together the whole, each run as it was unsharded.
for i in 0 1 2; do "$bin" swarm --runs 60 --seed 500 -v --no-shrink --shard $i/3 --out "$work/o" | runs > "$work/s$i"; done
sort -t= -k2 -n "$work/s0" "$work/s1" "$work/s2" > "$work/sall"
cmp -s "$work/sall" "$work/j1" || bad "the three shards are not the unsharded runs"
[ -z "$(cut -d' ' -f1 "$work/s0" "$work/s1" "$work/s2" | sort | uniq -d)" ] || bad "shards overlap"
# The same shares from a Slurm array and a Kubernetes Indexed Job.
SLURM_ARRAY_TASK_ID=11 SLURM_ARRAY_TASK_MIN=10 SLURM_ARRAY_TASK_COUNT=3 "$bin" swarm --runs 60 --seed 500 -v --no-shrink --out "$work/o" | runs > "$work/slurm1"
cmp -s "$work/slurm1" "$work/s1" || bad "SLURM_ARRAY_TASK_ID 11 of 10..12 is not shard 1/3"
JOB_COMPLETION_INDEX=2 "$bin" swarm --runs 60 --seed 500 -v --no-shrink --shards 3 --out "$work/o" | runs > "$work/k8s2"
cmp -s "$work/k8s2" "$work/s2" || bad "JOB_COMPLETION_INDEX 2 with --shards 3 is not shard 2/3"
JOB_COMPLETION_INDEX=0 ISCSILAB_SHARDS=3 "$bin" swarm --runs 60 --seed 500 -v --no-shrink --out "$work/o" | runs > "$work/k8s0"
cmp -s "$work/k8s0" "$work/s0" || bad "JOB_COMPLETION_INDEX 0 with ISCSILAB_SHARDS=3 is not shard 0/3"

# --minutes: no run starts after the time is up; what ran is reported, the rest counted.
"$bin" swarm --runs 1000000 --seed 1 -j2 --minutes 0.02 --no-shrink --out "$work/o" > "$work/min.log" 2>&1; rc=$?
grep -qE "^swarm: [0-9]+ runs, .* not run \(time limit\)" "$work/min.log" || bad "--minutes did not stop the swarm ($(tail -1 "$work/min.log"))"
[ $rc -eq 0 ] || bad "--minutes: exit $rc"

# Results from shards merge into one report.
"$bin" swarm --runs 20 --seed 900 --shard 0/2 --no-shrink --results "$work/r0.json" --out "$work/o" >/dev/null
"$bin" swarm --runs 20 --seed 900 --shard 1/2 --no-shrink --results "$work/r1.json" --out "$work/o" >/dev/null
"$bin" report --from "$work/r0.json" "$work/r1.json" --out "$work/report" --catalogue "$src/reports/catalogue" > "$work/report.log" 2>&1
grep -q "20 swarm runs" "$work/report/report.md" || bad "the merged report does not count 20 swarm runs ($(grep -i swarm "$work/report/report.md" | head -3))"

# A failing swarm: a base scenario whose target refuses its configuration fails every
# run the same way; the first is written out, shrunk, and its shrunk file replays.
sed 's/blocksize 512/blocksize 513/' "$src/scenarios/smoke/09-blocksize-512.yaml" > "$work/broken.yaml"
grep -q "blocksize 513" "$work/broken.yaml" || bad "could not break the base scenario"
"$bin" swarm "$work/broken.yaml" --runs 4 --seed 7 --out "$work/fail" > "$work/fail.log" 2>&1; rc=$?
[ $rc -eq 1 ] || bad "a failing swarm exits $rc, not 1"
grep -q "^FAILED 4 run(s): " "$work/fail.log" || bad "the 4 failures are not one kind"
grep -q "replay: iscsilab swarm $work/broken.yaml --seed 7 --runs 1" "$work/fail.log" || bad "no replay line for seed 7"
[ -f "$work/fail/seed-7.yaml" ] || bad "no drawn scenario for seed 7"
[ -f "$work/fail/seed-7-shrunk.yaml" ] || bad "no shrunk scenario for seed 7"
grep -q "fails the same way on replay" "$work/fail.log" || bad "the shrunk scenario was not replayed"
"$bin" run "$work/fail/seed-7-shrunk.yaml" --seed 7 > "$work/replay.log"; [ $? -eq 1 ] || bad "iscsilab run of the shrunk scenario passed"
grep -q "0 passed, 1 failed" "$work/replay.log" || bad "the replay does not fail"

if [ $fail -eq 0 ]; then echo "swarm: exit codes, --jobs, shards, job arrays, results and shrink: all as expected"; fi
exit $fail
