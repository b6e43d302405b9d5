#!/usr/bin/env bash
# Swarm throughput on the default mix, one worker process (one core), beside the bare
# SimKernel's event rate measured in the same run: runs per second per core, kernel
# events per run, and the share of the kernel's own speed that a swarm run keeps.
# Aim: at least 20 runs per second per core.
# Usage: hil/bench/swarm_speed.sh [BUILD_DIR] [RUNS]
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
runs=${2:-1000}
bin=$build/iscsilab
rate=$build/sim_kernel_rate
[ -x "$bin" ] && [ -x "$rate" ] || { echo "no $bin or $rate: build first (hil/setup.sh)"; exit 2; }
base=$("$rate")
echo "$base"
out=$("$bin" swarm --runs "$runs" --seed 1 --jobs 1 --no-shrink --out "$(mktemp -d)")
summary=$(grep -E '^swarm: [0-9]+ runs, ' <<<"$out")
echo "$summary"
ev=$(sed -E 's/.* ([0-9]+) events\/s$/\1/' <<<"$base")
rps=$(sed -E 's/.* ([0-9.]+) runs\/s on .*/\1/' <<<"$summary")
epr=$(sed -E 's/.* ([0-9]+) kernel events and .*/\1/' <<<"$summary")
awk -v ev="$ev" -v rps="$rps" -v epr="$epr" 'BEGIN {
    verdict = "NOT met"; if (rps + 0 >= 20) verdict = "met"
    printf "swarm: %.1f runs per second per core (aim at least 20: %s)\n", rps, verdict
    printf "swarm: %.0f kernel events per run, %.0f kernel events/s = %.3f of the bare kernel rate (%.0f events/s)\n",
           epr, epr * rps, epr * rps / ev, ev
    printf "the bare kernel alone would run %.0f such runs per second\n", ev / epr
}'
grep -q " 0 failed" <<<"$summary"
