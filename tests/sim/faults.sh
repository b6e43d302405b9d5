#!/usr/bin/env bash
# The fault suite: it passes, it is deterministic under faults (the same seed gives the
# same digests, with one worker or two), and its checks can fail: the same bit flips
# without digests must be caught by the initiators' data verification, and an
# unexplained session recovery is reported, and so are synced writes a power loss took.
set -u
bin=$1
suite=$2
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

# Without digests a flipped bit goes unnoticed by iSCSI; the shadow copy must catch it.
sed -e '/HeaderDigest CRC32C,None/d' -e '/DataDigest CRC32C,None/d' \
    -e 's/keys: { HeaderDigest: "CRC32C", DataDigest: "CRC32C" }/keys: {}/' \
    -e '/negotiated:/d' "$suite/02-digest-errors.yaml" >"$tmp/no-digests.yaml"
"$bin" run "$tmp/no-digests.yaml" --seed 21 >"$tmp/c.txt"
if [ $? -ne 0 ] && grep -q "data verification failed" "$tmp/c.txt"; then
    echo "ok: without digests the corruption is caught by data verification"
else
    echo "FAILED: corruption without digests went unnoticed"; cat "$tmp/c.txt"; fail=1
fi

# A recovery the plan does not explain is a failure. No fault at all, but an initiator
# too impatient for a 3 ms disk (command_timeout 500us) drops its connection itself.
sed -e '/^faults:/,$d' -e 's/    discovery: false/    discovery: false\n    command_timeout: 500us/' \
    "$suite/01-link-reset.yaml" >"$tmp/impatient.yaml"
"$bin" run "$tmp/impatient.yaml" --seed 21 >"$tmp/d.txt"
if [ $? -ne 0 ] && grep -q "session recoveries without a fault to cause them (no answer from the target" "$tmp/d.txt"; then
    echo "ok: a recovery without a fault to explain it fails the run"
else
    echo "FAILED: an unexplained recovery passed"; cat "$tmp/d.txt"; fail=1
fi

# nv_cache=1 promises a cache that survives power loss; on this volatile disk the
# target then skips the flush of SYNCHRONIZE CACHE, and synced writes are lost: the
# durability check must say so.
sed -e 's#            filename disk0#            filename disk0\n            nv_cache 1#' -e '/^expect:/,$d' \
    "$suite/09-power-loss-write-back.yaml" >"$tmp/nv-cache.yaml"
"$bin" run "$tmp/nv-cache.yaml" --seed 21 >"$tmp/f.txt"
if [ $? -ne 0 ] && grep -q "data verification failed" "$tmp/f.txt"; then
    echo "ok: SYNCHRONIZE CACHE skipped (nv_cache on a volatile cache) loses synced writes, and is caught"
else
    echo "FAILED: lost synced writes went unnoticed"; cat "$tmp/f.txt"; fail=1
fi

[ $fail -eq 0 ] && rm -rf "$tmp"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
