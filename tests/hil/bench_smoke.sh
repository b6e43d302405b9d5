#!/usr/bin/env bash
# The benchmark suite cannot rot: hil/bench/bench.sh --smoke (loopback, fileio, blockio
# and nullio, a handful of points for 1 s each, the reactors matrix) against
# `iscsilab serve` and tgtd; then results.json parses and holds non-zero IOPS for both
# targets on each storage, the no-storage ceiling is printed beside the aims, and every
# SVG plot it lists exists and parses as XML. Needs root (network namespace, loop
# devices, tgtd). Meant to finish in about a minute.
# The loop device's own QD1 round trip is measured and printed in blockio's aim 4.
# Usage: tests/hil/bench_smoke.sh [ISCSILAB]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build/iscsilab}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
out=$(mktemp -d /tmp/iscsilab-bench-smoke-XXXXXX)
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }

start=$(date +%s)
bash "$root/hil/bench/bench.sh" --smoke --bin "$bin" --out "$out" >"$out/bench.out" 2>&1
# shellcheck disable=SC2034  # rc is read by check, through eval
rc=$?
took=$(( $(date +%s) - start ))
cat "$out/bench.out"
echo "bench.sh --smoke took ${took} s"
check "bench.sh --smoke exits 0" '[ $rc -eq 0 ]'
check "results.json parses" '"$py" -c "import json, sys; json.load(open(sys.argv[1]))" "$out/results.json" 2>/dev/null'
check "non-zero IOPS for both targets on fileio, blockio and nullio" '"$py" - "$out/results.json" <<"PY"
import json, sys
res = json.load(open(sys.argv[1]))
need = {(t, s) for t in ("iscsilab", "tgtd") for s in ("fileio", "blockio", "nullio")}
have = {(p["target"], p["storage"]) for p in res["points"] if p["ok"] and p["iops"] > 0}
missing = sorted(need - have)
if missing:
    print("no IOPS for", missing)
sys.exit(1 if missing else 0)
PY'
check "the reactors matrix has IOPS in its cells" '"$py" -c "
import json, sys
r = json.load(open(sys.argv[1]))[\"reactors\"]
sys.exit(0 if len(r) == 4 and all(c[\"iops_total\"] > 0 for c in r) else 1)" "$out/results.json"'
check "results.json names the machine, the versions and the parameters" '"$py" -c "
import json, sys
r = json.load(open(sys.argv[1]))
ok = r[\"machine\"][\"nproc\"] and r[\"versions\"][\"iscsilab\"] and r[\"versions\"][\"tgtd\"] and r[\"parameters\"][\"workloads\"]
sys.exit(0 if ok else 1)" "$out/results.json"'
check "the plots are listed: throughput, IOPS against queue depth, reactors" '"$py" -c "
import json, sys
p = set(json.load(open(sys.argv[1]))[\"plots\"])
sys.exit(0 if {\"throughput_lo.svg\", \"iops_qd_lo.svg\", \"reactors.svg\"} <= p else 1)" "$out/results.json"'
check "every SVG listed exists and parses as XML" '"$py" -c "
import json, os, sys, xml.dom.minidom
d = os.path.dirname(sys.argv[1])
for name in json.load(open(sys.argv[1]))[\"plots\"]:
    xml.dom.minidom.parse(os.path.join(d, name))" "$out/results.json"'
check "the aims and the one-line summary are printed" 'grep -q "^aim 4 \[lo fileio\]" "$out/bench.out" && grep -q "^bench: .* points measured" "$out/bench.out"'
check "the ceiling is printed, and aim 2 is read against it" 'grep -qE "^ceiling \[lo nullio\] .* [0-9,]+ IOPS per target cpu-s .*: a ceiling, not an aim$" "$out/bench.out" && grep -qE "^aim 2 \[lo fileio\] .*; [0-9,]+ with no storage\)" "$out/bench.out"'
check "the loop device's own round trip is measured and read beside aim 4" '"$py" -c "
import json, sys
d = [x for x in json.load(open(sys.argv[1]))[\"devices\"] if x[\"storage\"] == \"blockio\"]
sys.exit(0 if d and all(x[\"ok\"] and x[\"qd1_read_us\"] > 0 for x in d) else 1)" "$out/results.json" && grep -qE "^aim 4 \[lo blockio\] .*the device alone [0-9,]+ us\) vs tgtd" "$out/bench.out"'
# What this run made (its work folder and namespaces, from its parameters) is gone.
work=$("$py" -c "import json, sys; print(json.load(open(sys.argv[1]))[\"parameters\"][\"work_dir\"])" "$out/results.json" 2>/dev/null)
nss=$("$py" -c "import json, sys; print(\" \".join(json.load(open(sys.argv[1]))[\"parameters\"][\"namespaces\"]))" "$out/results.json" 2>/dev/null)
left() {
    [ -n "$work" ] || return 0
    [ -e "$work" ] && return 0
    losetup -a | grep -qF "$work/" && return 0
    pgrep -f "$work/" >/dev/null && return 0
    local n
    for n in $nss; do ip netns list | grep -q "^$n\b" && return 0; done
    return 1
}
check "no namespace, loop device, target or work folder is left behind" '! left'
if [ $fail -eq 0 ]; then
    rm -rf "$out"
    echo "1 passed, 0 failed"
else
    echo "kept $out for a look"
    echo "0 passed, 1 failed"
fi
exit $fail
