#!/usr/bin/env bash
# Determinism: the smoke suite run twice with the same seed gives the same digests and
# byte-identical pcaps; another seed changes the workload's digests.
set -u
bin=$1
suite=$2
tmp=$(mktemp -d /tmp/iscsilab-det-XXXXXX)
fail=0
digests() { grep -E '^\[[0-9]+/[0-9]+\]' "$1" | sed -E 's/.*\] (PASS|FAIL) +([^ ]+) +seed=([0-9]+) digest=([0-9a-f]+).*/\2 \4/'; }
"$bin" run "$suite" --seed 11 --pcap "$tmp/a" >"$tmp/a.txt" || { echo "FAILED: first run"; cat "$tmp/a.txt"; fail=1; }
"$bin" run "$suite" --seed 11 --pcap "$tmp/b" --jobs 2 >"$tmp/b.txt" || { echo "FAILED: second run"; fail=1; }
"$bin" run "$suite" --seed 12 >"$tmp/c.txt" || { echo "FAILED: third run"; fail=1; }
n=$(digests "$tmp/a.txt" | wc -l)
if [ "$n" -lt 12 ] || ! diff <(digests "$tmp/a.txt") <(digests "$tmp/b.txt"); then
    echo "FAILED: the same seed gave different digests"; fail=1
else
    echo "ok: $n scenarios, same seed, same digests (one run serial, one with 2 jobs)"
fi
pcaps=0
for f in "$tmp"/a/*.pcap; do
    pcaps=$((pcaps + 1))
    cmp -s "$f" "$tmp/b/$(basename "$f")" || { echo "FAILED: $(basename "$f") differs between runs"; fail=1; }
done
[ "$pcaps" -eq "$n" ] && echo "ok: $pcaps pcaps byte-identical" || { echo "FAILED: $pcaps pcaps for $n scenarios"; fail=1; }
changed=$(join <(digests "$tmp/a.txt" | sort) <(digests "$tmp/c.txt" | sort) | awk '$2 != $3' | wc -l)
if [ "$changed" -ge $((n - 1)) ]; then
    echo "ok: seed 12 changed $changed of $n digests"
else
    echo "FAILED: seed 12 changed only $changed of $n digests"; fail=1
fi
rm -rf "$tmp"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
