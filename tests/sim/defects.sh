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

fail=0
printf '%-26s %8s %-14s %8s %s\n' defect "caught" "shrunk faults" steps "replay"
for d in "${defects[@]}"; do
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
if [ $fail -eq 0 ]; then echo "defects: the swarm caught all ${#defects[@]}, each shrunk to at most 3 faults that replay"; fi
exit $fail
