#!/usr/bin/env bash
# The fault suite: it passes, it is deterministic under faults (the same seed gives the
# same digests, with one worker or two), and its checks can fail: the same bit flips
# without digests must be caught by the initiators' data verification, and an
# unexplained command timeout or session recovery is reported, and so are synced
# writes a power loss took, misdirected writes and reads, and expected fault effects
# and RFC-checked answers that did not happen.
#
# Usage: faults.sh BIN SUITE [SWARM_DIVISOR]: the swarms below run 1/SWARM_DIVISOR of
# their seeds (default 1): the sanitizer build, which runs the same code some eight
# times slower, runs a quarter.
set -u
bin=$1
suite=$2
div=${3:-1}
tmp=$(mktemp -d /tmp/iscsilab-faults-XXXXXX)
fail=0
digests() { grep -E '^\[[0-9]+/[0-9]+\]' "$1" | sed -E 's/.*\] (PASS|FAIL) +([^ ]+) +seed=([0-9]+) digest=([0-9a-f]+).*/\2 \3 \4/'; }

"$bin" run "$suite" --seed 21 --repeat 2 >"$tmp/a.txt"; rc=$?
tail -1 "$tmp/a.txt"
if [ $rc -ne 0 ]; then echo "FAILED: the fault suite"; grep -v PASS "$tmp/a.txt"; fail=1; fi
"$bin" run "$suite" --seed 21 --repeat 2 --jobs 2 >"$tmp/b.txt"
n=$(digests "$tmp/a.txt" | wc -l)
if [ "$n" -ge 16 ] && diff <(digests "$tmp/a.txt") <(digests "$tmp/b.txt") >/dev/null; then
    echo "ok: $n runs under faults, same seeds, same digests"
else
    echo "FAILED: digests differ between two runs of the same seeds ($n runs)"; fail=1
fi

# Swarm: the random plans (twelve faults of every kind, drawn from the seed) over many
# seeds; every run must hold the invariants.
swarm() {  # FILE SEEDS WHAT
    set -- "$1" $(( ($2 + div - 1) / div )) "$3"
    "$bin" run "$suite/$1" --seed 5000 --repeat "$2" --jobs 2 >"$tmp/swarm-$1.txt"
    if [ $? -eq 0 ] && grep -q "^$2 passed, 0 failed" "$tmp/swarm-$1.txt"; then
        echo "ok: $2 seeds of $3 hold every invariant"
    else
        echo "FAILED: $3"; grep -A30 FAIL "$tmp/swarm-$1.txt" | head -60; fail=1
    fi
}
swarm 13-random-plan.yaml 100 "random fault plans"
swarm 16-random-plan-small-bursts.yaml 30 "random fault plans with small bursts"
swarm 33-random-plan-swarm.yaml 40 "random fault plans of every kind, on links that cut segments at random bytes"

# The checks can fail: each scenario below must fail the run with the text given.
must_fail() {  # SCENARIO TEXT WHAT
    "$bin" run "$1" --seed 21 >"$1.txt"
    if [ $? -ne 0 ] && grep -q "$2" "$1.txt"; then
        echo "ok: $3"
    else
        echo "FAILED: not caught: $3"; cat "$1.txt"; fail=1
    fi
}

# Without digests a flipped bit goes unnoticed by iSCSI; the shadow copy must catch it.
sed -e '/HeaderDigest CRC32C,None/d' -e '/DataDigest CRC32C,None/d' \
    -e 's/keys: { HeaderDigest: "CRC32C", DataDigest: "CRC32C" }/keys: {}/' \
    -e '/negotiated:/d' "$suite/02-digest-errors.yaml" >"$tmp/no-digests.yaml"
must_fail "$tmp/no-digests.yaml" "data verification failed" "without digests the corruption is caught by data verification"

# A timeout the plan does not explain is a failure. No fault at all, but an initiator
# too impatient for a 3 ms disk (command_timeout 500us) aborts commands on its own.
sed -e '/^faults:/,$d' -e 's/    discovery: false/    discovery: false\n    command_timeout: 500us/' \
    "$suite/01-link-reset.yaml" >"$tmp/impatient.yaml"
must_fail "$tmp/impatient.yaml" "commands timed out without a fault to explain them" \
    "a command timeout without a fault to explain it fails the run"

# A session recovery the plan cannot explain fails the run too: a 20 ms latency spike
# breaks no session, but an initiator that gives up on an ABORT TASK after 1 ms does.
sed -e 's/    command_timeout: 500us/    command_timeout: 1ms/' "$tmp/impatient.yaml" >"$tmp/spike.yaml"
printf 'faults:\n  - { kind: latency_spike, extra: 20ms, at: 5ms, duration: 30ms }\n' >>"$tmp/spike.yaml"
must_fail "$tmp/spike.yaml" "session recoveries without a fault to cause them (ABORT TASK unanswered" \
    "a session recovery without a fault to explain it fails the run"

# nv_cache=1 promises a cache that survives power loss; on this volatile disk the
# target then skips the flush of SYNCHRONIZE CACHE, and synced writes are lost: the
# durability check must say so.
sed -e 's#            filename disk0#            filename disk0\n            nv_cache 1#' -e '/^expect:/,$d' \
    "$suite/09-power-loss-write-back.yaml" >"$tmp/nv-cache.yaml"
must_fail "$tmp/nv-cache.yaml" "data verification failed" \
    "SYNCHRONIZE CACHE skipped (nv_cache on a volatile cache) loses synced writes, and is caught"

# A misdirected write or read is invisible to iSCSI: only the data checks see it. Without
# `min_data_errors` (which makes them the point of the run) each run fails on them.
for f in 21-misdirected-write 22-misdirected-read; do
    sed -e '/min_data_errors:/d' "$suite/$f.yaml" >"$tmp/$f.yaml"
    must_fail "$tmp/$f.yaml" "data verification failed" "$f is caught by data verification"
done

# An expectation of what the faults did fails when they did not: the resets inside a
# PDU taken out of the plan, `seen: { pdus_cut: 6 }` is not met.
sed -e '/^faults:/d' -e '/kind: pdu_cut/d' -e '/min_recoveries:/d' -e '/max_recoveries:/d' "$suite/17-pdu-cut.yaml" >"$tmp/no-cut.yaml"
must_fail "$tmp/no-cut.yaml" "expected at least 6 pdus_cut, saw 0" "a fault effect the run expects but did not see fails it"

# The answers the initiators check against the RFC are expected by name: the same run
# with another misbehaviour does not meet `seen: { excess_data_out: 3 }`.
sed -e 's/what: excess_data_out/what: nop_ping/' "$suite/30-misbehave-excess-data-out.yaml" >"$tmp/other-misbehaviour.yaml"
must_fail "$tmp/other-misbehaviour.yaml" "expected at least 3 excess_data_out, saw 0" \
    "an RFC-checked answer the run expects but never got fails it"

[ $fail -eq 0 ] && rm -rf "$tmp"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
