#!/usr/bin/env bash
# The swarm against deliberate defects (a build made with -DISCSILAB_DEFECTS=ON; see
# scenarios/README.md, "Deliberate defects"): for each defect, a swarm over the default
# mix must fail within 2,000 runs; the shrinker must reduce the first failure to a
# scenario of at most 3 faults that fails the same way when replayed with `iscsilab run
# --defect`, and passes without the defect (so the defect, not the scenario, fails it).
# Usage: defects.sh ISCSILAB_WITH_DEFECTS [DEFECT...]
set -uo pipefail
bin=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -gt 0 ]; then
    defects=("$@")
else
    # The build lists its defects when asked for one it does not know.
    mapfile -t defects < <("$bin" run /dev/null --defect none-such 2>&1 | sed -n 's/.*known: *//p' | tr ' ' '\n' | grep .)
fi
[ $# -gt 0 ] || [ ${#defects[@]} -ge 10 ] || { echo "FAIL: $bin knows ${#defects[@]} defects, not at least 10 (built without -DISCSILAB_DEFECTS=ON?)"; exit 1; }

# The defects in commands the default mix never sends are caught by their own scenario
# instead: it must fail with the defect (and passes without it in sim_scsi).
here=$(cd "$(dirname "$0")/../.." && pwd)
declare -A by_scenario=(
    [caw_not_atomic]=scenarios/scsi/03-caw-race.yaml
    [pr_not_enforced]=scenarios/scsi/01-pr-preempt-and-abort.yaml
    [unmap_not_zeroed]=scenarios/scsi/02-unmap-reads-zeros.yaml
)

fail=0
printf '%-26s %8s %-14s %8s %s\n' defect "caught" "shrunk faults" steps "replay"
for d in "${defects[@]}"; do
    if [ -n "${by_scenario[$d]:-}" ]; then
        scn="$here/${by_scenario[$d]}"
        "$bin" run "$scn" --seed 1 --defect "$d" > "$work/$d.log" 2>&1
        rc=$?
        "$bin" run "$scn" --seed 1 > "$work/$d.clean" 2>&1
        rc_clean=$?
        if [ $rc -eq 1 ] && [ $rc_clean -eq 0 ]; then
            printf '%-26s %8s %-14s %8s %s\n' "$d" "seed 1" "-" "-" "ok: $(basename "$scn") fails with it, passes without"
        else
            echo "FAIL: defect $d: $(basename "$scn") exit $rc with the defect, $rc_clean without"; tail -3 "$work/$d.log"; fail=1
        fi
        continue
    fi
    out="$work/$d"
    "$bin" swarm --runs 2000 --seed 1 --jobs 2 --fail-fast --defect "$d" --out "$out" > "$work/$d.log" 2>&1
    rc=$?
    if [ $rc -ne 1 ] && [ $rc -ne 3 ]; then
        echo "FAIL: defect $d: the swarm did not catch it in 2000 runs (exit $rc)"; tail -3 "$work/$d.log"; fail=1; continue
    fi
    seed=$(sed -n 's/^  shrinking seed \([0-9]*\) .*/\1/p' "$work/$d.log" | head -1)
    shrunk="$out/seed-$seed-shrunk.yaml"
    line=$(grep -E '^  shrunk in [0-9]+ steps' "$work/$d.log" | head -1)
    faults=$(sed -nE 's/.* -> ([0-9]+) faults?, .*/\1/p' <<<"$line")
    steps=$(sed -nE 's/^  shrunk in ([0-9]+) steps.*/\1/p' <<<"$line")
    if [ -z "$seed" ] || [ ! -f "$shrunk" ] || [ -z "$faults" ]; then
        echo "FAIL: defect $d: no shrunk scenario"; grep -E "shrink|FAILED" "$work/$d.log" | tail -3; fail=1; continue
    fi
    verdict=ok
    [ "$faults" -le 3 ] || { verdict="$faults faults > 3"; fail=1; }
    "$bin" run "$shrunk" --seed "$seed" --defect "$d" > "$work/$d.replay" 2>&1
    [ $? -eq 1 ] || { verdict="replay with the defect passed"; fail=1; }
    "$bin" run "$shrunk" --seed "$seed" > "$work/$d.clean" 2>&1
    [ $? -eq 0 ] || { verdict="fails without the defect too"; fail=1; grep -m3 "^      " "$work/$d.clean"; }
    caught=$(( seed - 1 + 1 ))
    printf '%-26s %8s %-14s %8s %s\n' "$d" "run $caught" "$faults" "$steps" "$verdict"
done
if [ $fail -eq 0 ]; then echo "defects: all ${#defects[@]} caught: the swarm's each shrunk to at most 3 faults that replay, the rest by their scenarios"; fi
exit $fail
