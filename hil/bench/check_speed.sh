#!/usr/bin/env bash
# The wire checker's speed on a large capture: the simulation-speed scenario (4
# initiators x 32 outstanding 4 KiB reads; 400,000 PDUs, ~900 MB) is written as a pcap,
# then `iscsilab check` reads it back. Prints PDUs per second for the checker and, as
# baselines measured in the same run, for the simulation that produced the PDUs (which
# ran the checker inside it) and for tshark decoding the first 100,000 frames of the
# same file. Aim: >= 1,000,000 PDUs per second, so the checker never dominates a run.
# Usage: hil/bench/check_speed.sh [BINARY]
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/iscsilab}
[ -x "$bin" ] || { echo "no $bin: build first (hil/setup.sh)"; exit 2; }
D=$(mktemp -d /tmp/iscsilab-checkspeed-XXXXXX)
trap 'rm -rf "$D"' EXIT
now() { date +%s.%N; }
echo "writing the capture ..."
out=$("$bin" run scenarios/bench/sim-speed.yaml --seed 1 --pcap "$D")
line=$(grep -E '^\[1/1\]' <<<"$out")
sim_wall=$(sed -E 's/.* wall=([0-9.]+)s.*/\1/' <<<"$line")
sim_pdus=$(sed -E 's/.* pdus=([0-9]+).*/\1/' <<<"$line")
pcap=$(ls "$D"/*.pcap)
cat "$pcap" >/dev/null   # into the page cache, as it was for the simulation's writes
echo "checking $(du -h "$pcap" | cut -f1) ..."
t0=$(now); summary=$("$bin" check "$pcap" | tail -1); rc=$?; t1=$(now)
echo "$summary"
pdus=$(sed -nE 's/.* ([0-9]+) PDUs;.*/\1/p' <<<"$summary")
echo "tshark on the first 100000 frames ..."
t2=$(now); ts_pdus=$(tshark -r "$pcap" -c 100000 -Y iscsi -T fields -e iscsi.opcode 2>/dev/null | tr ',' '\n' | wc -l); t3=$(now)
awk -v p="$pdus" -v a="$t0" -v b="$t1" -v sp="$sim_pdus" -v sw="$sim_wall" -v tp="$ts_pdus" -v c="$t2" -v d="$t3" 'BEGIN {
    check = p / (b - a); sim = sp / sw; ts = tp / (d - c)
    printf "checker:             %10.0f PDUs/s (%d PDUs in %.3f s)\n", check, p, b - a
    printf "simulation (baseline): %8.0f PDUs/s, checker inside -> checker/simulation %.1fx\n", sim, check / sim
    printf "tshark (baseline):   %10.0f PDUs/s -> checker/tshark %.1fx\n", ts, check / ts
    printf "aim >= 1000000 PDUs/s: %s\n", (check >= 1000000 ? "met" : "NOT met")
}'
[ "$rc" -eq 0 ]
