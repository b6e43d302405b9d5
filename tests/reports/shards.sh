#!/usr/bin/env bash
# Sharded reports merge: `iscsilab report --shard 0/2` and `--shard 1/2` on two
# "machines", merged with `iscsilab report --from`, give the same totals as one
# unsharded run (requirements by status, by chapter and level, scenario runs), and
# the same wire tallies per requirement.
# Usage: shards.sh ISCSILAB SOURCE_DIR
set -u
bin=$1
src=$2
D=$(mktemp -d /tmp/iscsilab-shards-XXXXXX)
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }
cd "$src"
common=(--no-peer --suites scenarios/smoke scenarios/faults --jobs 2)
"$bin" report "${common[@]}" --shard 0/2 --out "$D/shard0" >"$D/s0.txt" 2>&1
"$bin" report "${common[@]}" --shard 1/2 --out "$D/shard1" >"$D/s1.txt" 2>&1
"$bin" report --from "$D/shard0" "$D/shard1" --out "$D/merged" >"$D/m.txt" 2>&1
"$bin" report "${common[@]}" --out "$D/whole" >"$D/w.txt" 2>&1
for f in s0 s1 m w; do tail -1 "$D/$f.txt" | sed "s/^/    $f: /"; done
python3 - "$D/merged/results.json" "$D/whole/results.json" "$D/shard0/results.json" "$D/shard1/results.json" <<'PY' || fail=1
import json, sys
m, w, s0, s1 = (json.load(open(p)) for p in sys.argv[1:5])
bad = 0
def same(name, a, b):
    global bad
    ok = a == b
    print(("ok" if ok else "FAILED") + f": {name}" + ("" if ok else f": merged {a} vs whole {b}"))
    bad += not ok
n0, n1 = len(s0["scenario_runs"]), len(s1["scenario_runs"])
ok = n0 > 0 and n1 > 0 and n0 + n1 == len(w["scenario_runs"])
print(("ok" if ok else "FAILED") + f": the shards split the runs ({n0} + {n1} = {len(w['scenario_runs'])})")
bad += not ok
ms, ws = m["report"]["summary"], w["report"]["summary"]
for key in ("requirements", "must_level", "scenarios", "by_section", "by_level"):
    same("totals: " + key, ms[key], ws[key])
mr = {r["id"]: (r["status"], sum(o["exercised"] for o in r["observations"] if o["kind"] == "wire")) for r in m["report"]["requirements"]}
wr = {r["id"]: (r["status"], sum(o["exercised"] for o in r["observations"] if o["kind"] == "wire")) for r in w["report"]["requirements"]}
same("every requirement's status and wire tally", mr, wr)
same("the runs' digests", sorted(r["digest"] for r in m["scenario_runs"]), sorted(r["digest"] for r in w["scenario_runs"]))
sys.exit(1 if bad else 0)
PY
[ $fail -eq 0 ] && rm -rf "$D"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
