#!/usr/bin/env bash
# The wire checker's decoder against Wireshark's: every PDU of every smoke-suite pcap,
# as `iscsilab check --pdus` and `tshark -T json` see them, must agree on opcode, ITT,
# the sequence numbers (CmdSN/StatSN, ExpStatSN/ExpCmdSN, MaxCmdSN, DataSN/R2TSN/
# ExpDataSN), the buffer offset and the data segment length, PDU by PDU, frame by frame.
# Usage: tshark_decode.sh ISCSILAB SUITE_DIR
set -u
bin=$1
suite=$2
D=$(mktemp -d /tmp/iscsilab-decode-XXXXXX)
"$bin" run "$suite" --jobs 2 --pcap "$D" >"$D/run.txt" || { echo "FAILED: the suite"; tail -20 "$D/run.txt"; exit 1; }
fail=0
n=0
for f in "$D"/*.pcap; do
    n=$((n + 1))
    "$bin" check --pdus "$f" >"$D/ours.tsv" 2>"$D/err"
    rc=$?
    if [ $rc -ne 0 ]; then echo "FAILED: iscsilab check exited $rc on $f"; cat "$D/err"; fail=1; continue; fi
    tshark -r "$f" -Y iscsi -T json --no-duplicate-keys -J "frame iscsi" >"$D/theirs.json" 2>/dev/null
    python3 - "$D/ours.tsv" "$D/theirs.json" "$(basename "$f")" <<'PY' || fail=1
import json, sys
ours_path, theirs_path, name = sys.argv[1:4]
ours = []
for line in open(ours_path):
    f = line.rstrip("\n").split("\t")
    if len(f) != 11 or f[0] == "frame":
        continue
    ours.append(dict(frame=int(f[0]), opcode=int(f[3], 16), itt=int(f[4], 16), sn24=int(f[5]), sn28=int(f[6]),
                     sn32=int(f[7]), sn36=int(f[8]), offset=int(f[9]), dsl=int(f[10])))
theirs = []
for pkt in json.load(open(theirs_path)):
    layers = pkt["_source"]["layers"]
    frame = int(layers["frame"]["frame.number"])
    pdus = layers.get("iscsi", [])
    if isinstance(pdus, dict):
        pdus = [pdus]
    for p in pdus:
        theirs.append((frame, p))
# Wireshark field -> our column, for the fields it shows on a PDU.
fields = {"iscsi.cmdsn": "sn24", "iscsi.statsn": "sn24", "iscsi.expstatsn": "sn28", "iscsi.expcmdsn": "sn28",
          "iscsi.maxcmdsn": "sn32", "iscsi.datasn": "sn36", "iscsi.r2tsn": "sn36", "iscsi.expdatasn": "sn36",
          "iscsi.bufferOffset": "offset", "iscsi.datasegmentlength": "dsl"}
def num(v):
    return int(v, 16) if v.startswith("0x") else int(v)
bad = 0
compared = 0
if len(ours) != len(theirs):
    print(f"FAILED: {name}: {len(ours)} PDUs decoded by the checker, {len(theirs)} by tshark")
    bad += 1
for k, (o, (frame, p)) in enumerate(zip(ours, theirs)):
    diffs = []
    if o["frame"] != frame:
        diffs.append(f"frame {o['frame']} vs {frame}")
    if o["opcode"] != num(p.get("iscsi.opcode", "-1")):
        diffs.append(f"opcode 0x{o['opcode']:02x} vs {p.get('iscsi.opcode')}")
    if "iscsi.initiatortasktag" in p and o["itt"] != num(p["iscsi.initiatortasktag"]):
        diffs.append(f"ITT 0x{o['itt']:x} vs {p['iscsi.initiatortasktag']}")
    for wf, col in fields.items():
        if wf in p and isinstance(p[wf], str):
            compared += 1
            if num(p[wf]) != o[col]:
                diffs.append(f"{wf} {o[col]} vs {p[wf]}")
    if diffs:
        bad += 1
        if bad <= 5:
            print(f"FAILED: {name}: PDU {k}: " + "; ".join(diffs))
if bad == 0:
    print(f"ok: {name}: {len(ours)} PDUs, {compared} fields agree with tshark")
sys.exit(1 if bad else 0)
PY
done
[ "$n" -ge 16 ] || { echo "FAILED: only $n pcaps"; fail=1; }
[ $fail -eq 0 ] && rm -rf "$D"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
