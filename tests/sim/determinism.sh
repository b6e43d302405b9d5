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
# Shards split the suite without loss or overlap; --repeat runs consecutive seeds.
"$bin" run "$suite" --seed 11 --shard 0/2 >"$tmp/s0.txt"
"$bin" run "$suite" --seed 11 --shard 1/2 >"$tmp/s1.txt"
if diff <(digests "$tmp/a.txt" | sort) <(cat <(digests "$tmp/s0.txt") <(digests "$tmp/s1.txt") | sort) >/dev/null; then
    echo "ok: shards 0/2 and 1/2 together ran the suite once, with the same digests"
else
    echo "FAILED: shards do not add up to the suite"; fail=1
fi
one=$(ls "$suite"/*.yaml | head -1)
"$bin" run "$one" --seed 11 --repeat 2 >"$tmp/r.txt"
if grep -q "seed=11 " "$tmp/r.txt" && grep -q "seed=12 " "$tmp/r.txt" && grep -q "^2 passed, 0 failed" "$tmp/r.txt"; then
    echo "ok: --repeat 2 ran seeds 11 and 12"
else
    echo "FAILED: --repeat"; fail=1
fi
# A failure names the command that replays it.
printf 'name: broken\ntarget: { config: "HANDLER nosuch {\\n}\\n" }\ninitiators: []\n' >"$tmp/broken.yaml"
"$bin" run "$tmp/broken.yaml" --seed 5 >"$tmp/f.txt"
if [ $? -ne 0 ] && grep -q "replay: iscsilab run $tmp/broken.yaml --seed 5" "$tmp/f.txt" && grep -q "^0 passed, 1 failed" "$tmp/f.txt"; then
    echo "ok: a failing scenario prints its replay command"
else
    echo "FAILED: no replay command for a failure"; cat "$tmp/f.txt"; fail=1
fi
rm -rf "$tmp"
echo "$( [ $fail -eq 0 ] && echo 1 || echo 0) passed, $( [ $fail -eq 0 ] && echo 0 || echo 1) failed"
exit $fail
