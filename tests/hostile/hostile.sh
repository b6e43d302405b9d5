#!/usr/bin/env bash
# One bad initiator must not hurt the others. On loopback, `iscsilab serve` runs a nullio
# LUN under explicit limits; a well-behaved client (libiscsi's iscsi-perf, 4 KiB random
# reads at queue depth 16) measures its IOPS alone, then again while each attack of
# hostile_tool runs beside it:
#   slow-login      64 connections sending a Login Request one byte a second
#   abandon         1,000 logins abandoned at every step, by RST or half-close
#   write-no-data   32 sessions filling their CmdSN window with 8 MiB WRITEs, no Data-Out
#   write-partial-data  the same, each R2T answered with 512 bytes and then nothing
#   cmdsn-flood     commands far outside the CmdSN window, as fast as they go
#   text-no-finish  Text Requests continued (C bit) and never finished
#   nop-flood       1 MiB NOP-Out pings, their answers left unread for a while
#   many-sessions   one initiator opening up to 2,000 sessions
# The target's VmRSS is sampled every 100 ms through the whole suite. An attack passes
# when the client keeps at least half its baseline IOPS, the peak RSS stays within the
# bound (the "memory bound: N MiB" line of serve, else RSS at start + --max-cmd-mem + 64
# MiB), the target lives, what the attack expects of the target happened (login timeout,
# RspTimeout, refused sessions, commands still answered), and none of the attacker's
# sessions is left once it has gone. Halfway through each attack a newcomer tries to log
# in (three tries, a second apart, as initiators retry): shown, not judged. After the
# suite the client must still log in and do I/O, and the target must hold no more
# descriptors than before.
#
# Usage: tests/hostile/hostile.sh BUILD_DIR [--tool PATH] [--only ATTACK[,ATTACK...]]
#                                 [--seconds S] [--keep]
# Prints a table, the details of each attack, a one-line summary and, on failure, the
# command that replays what failed. Exit 0 all passed, 1 something failed, 2 bad usage or
# missing tools.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)

usage() { sed -n '/^# Usage:/,/^# missing tools/p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "hostile: $*" >&2; exit 2; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || die "no build directory $1"
shift
tool="" only="" attack_s=8 keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --tool) tool=${2:?}; shift ;;
        --only) only=${2:?}; shift ;;
        --seconds) attack_s=${2:?}; shift ;;
        --keep) keep=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
    shift
done
bin=$build/iscsilab
[ -n "$tool" ] || for t in "$build/tests/hostile_tool" "$build/hostile_tool"; do [ -x "$t" ] && tool=$t && break; done
[ -x "$bin" ] || die "no $bin (build it first)"
[ -n "$tool" ] && [ -x "$tool" ] || die "no hostile_tool under $build (build the hostile_tool target)"
for t in iscsi-perf iscsi-readcapacity16 timeout awk; do command -v "$t" >/dev/null || die "$t missing (apt-get install libiscsi-bin)"; done
[[ $attack_s =~ ^[0-9]+$ ]] && [ "$attack_s" -ge 4 ] || die "--seconds wants a whole number >= 4"
all_attacks=(slow-login abandon write-no-data write-partial-data cmdsn-flood text-no-finish nop-flood many-sessions)
attacks=("${all_attacks[@]}")
if [ -n "$only" ]; then
    IFS=, read -ra attacks <<<"$only"
    for a in "${attacks[@]}"; do [[ " ${all_attacks[*]} " == *" $a "* ]] || die "unknown attack $a (${all_attacks[*]})"; done
fi

# ---------------------------------------------------------------- configuration
IQN=iqn.2026-11.org.iscsilab:hostile
CLIENT=iqn.2026-11.org.iscsilab:client
ATTACKER_PREFIX=iqn.2026-11.org.iscsilab:hostile-
# The limits under test. write-no-data needs 32 sessions of one initiator, so that is the
# per-initiator limit; many-sessions must be held to it.
MAX_CONNECTIONS=128
MAX_PENDING_LOGINS=16
MAX_SESSIONS=64
MAX_SESSIONS_PER_INITIATOR=32
LOGIN_TIMEOUT=3
RSP_TIMEOUT=5
QUEUED_COMMANDS=32
MAX_CMD_MEM=256        # MiB of command data buffers (serve --max-cmd-mem)
SLACK_MIB=64
HARD_CAP_MIB=4096      # past this RSS the attack is stopped, to spare the machine
LEAD=1.5               # the client runs this long alone before each attack
BASE_S=5

work=$(mktemp -d /tmp/iscsilab-hostile-XXXXXX) || die "no work folder"
serve_pid="" sampler_pid="" client_pid="" attack_pid=""
cleanup() {
    trap - EXIT INT TERM
    local p
    for p in "$attack_pid" "$client_pid" "$sampler_pid"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
    if [ -n "$serve_pid" ]; then
        kill -TERM "$serve_pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$serve_pid" 2>/dev/null
    fi
    wait 2>/dev/null
    if [ "$keep" -eq 1 ]; then echo "hostile: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo; echo "hostile: interrupted"; exit 130' INT TERM

write_conf() { # with_limits(0|1) with_timeout(0|1)
    {
        echo "HANDLER vdisk_nullio {"
        echo "    DEVICE null0 {"
        echo "    }"
        echo "}"
        echo "TARGET_DRIVER iscsi {"
        echo "    enabled 1"
        if [ "$1" -eq 1 ]; then
            echo "    max_connections $MAX_CONNECTIONS"
            echo "    max_pending_logins $MAX_PENDING_LOGINS"
            echo "    max_sessions $MAX_SESSIONS"
            echo "    max_sessions_per_initiator $MAX_SESSIONS_PER_INITIATOR"
        fi
        [ "$2" -eq 1 ] && echo "    login_timeout $LOGIN_TIMEOUT"
        echo "    TARGET $IQN {"
        echo "        QueuedCommands $QUEUED_COMMANDS"
        echo "        RspTimeout $RSP_TIMEOUT"
        echo "        LUN 0 null0"
        echo "        enabled 1"
        echo "    }"
        echo "}"
    } >"$work/scst.conf"
}

notes=() failures=() failed_attacks=()
note() { notes+=("$1"); echo "hostile: $1"; }
fail_suite() { failures+=("$1"); echo "hostile: FAIL: $1"; }

rss_kb() { local k v _; while read -r k v _; do [ "$k" = VmRSS: ] && { echo "$v"; return; }; done <"/proc/$1/status" 2>/dev/null; echo 0; }
fd_count() { local a=(/proc/"$1"/fd/*); echo "${#a[@]}"; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

start_serve() {
    rm -f "$work/ready"
    : >"$work/serve.err"
    local args=(serve -c "$work/scst.conf" --listen 127.0.0.1:0 --ready-file "$work/ready"
                --state-dir "$work/state" --mgmt-socket "$work/mgmt.sock")
    [ "$has_max_cmd_mem" -eq 1 ] && args+=(--max-cmd-mem "$MAX_CMD_MEM")
    # Appending, so that the log can be cut between attacks.
    "$bin" "${args[@]}" >"$work/serve.out" 2>>"$work/serve.err" &
    serve_pid=$!
    for _ in $(seq 1 100); do
        [ -s "$work/ready" ] && return 0
        alive "$serve_pid" || break
        sleep 0.1
    done
    wait "$serve_pid" 2>/dev/null
    serve_pid=""
    return 1
}

# ---------------------------------------------------------------- start the target
has_max_cmd_mem=0
"$bin" serve --help 2>&1 | grep -q -- '--max-cmd-mem' && has_max_cmd_mem=1
[ "$has_max_cmd_mem" -eq 1 ] || fail_suite "serve has no --max-cmd-mem: command buffers are not bounded"
write_conf 1 1
if ! start_serve; then
    why=$(grep -v '^$' "$work/serve.err" | tail -1)
    fail_suite "the target refused the limits of this configuration: $why"
    # Run the attacks anyway against what the target takes, to see what they do.
    write_conf 0 1
    if ! start_serve; then
        why2=$(grep -v '^$' "$work/serve.err" | tail -1)
        fail_suite "... and login_timeout: $why2"
        write_conf 0 0
        start_serve || { cat "$work/serve.err"; die "serve does not start even without limits"; }
        note "running with no connection or session limits and the built-in login timeout"
    else
        note "running with login_timeout but no connection or session limits"
    fi
fi
PORTAL=$(cat "$work/ready")
URL=iscsi://$PORTAL/$IQN/0
adm() { "$bin" adm --socket "$work/mgmt.sock" "$@"; }
echo "hostile: serve (pid $serve_pid) on $PORTAL; configuration:"
sed 's/^/    /' "$work/scst.conf"

# The memory bound: serve's own, or computed from the configuration.
sleep 0.3
rss0_kb=$(rss_kb "$serve_pid")
bound_mib=$(grep -hoE 'memory bound: [0-9]+ MiB' "$work/serve.out" "$work/serve.err" | head -1 | grep -oE '[0-9]+')
if [ -n "$bound_mib" ]; then
    bound_how="serve's 'memory bound' line"
else
    bound_mib=$(( rss0_kb / 1024 + MAX_CMD_MEM + SLACK_MIB ))
    bound_how="computed: RSS at start $((rss0_kb / 1024)) MiB + max-cmd-mem $MAX_CMD_MEM MiB + $SLACK_MIB MiB slack"
fi
echo "hostile: memory bound $bound_mib MiB ($bound_how)"

# RSS every 100 ms for the whole suite: "time kB". Past the hard cap the running attack
# (whose pid is in attack.pid) is stopped.
(
    while kill -0 "$serve_pid" 2>/dev/null; do
        r=$(rss_kb "$serve_pid")
        echo "$EPOCHREALTIME $r"
        if [ "$r" -gt $((HARD_CAP_MIB * 1024)) ] && [ -s "$work/attack.pid" ]; then
            kill -TERM "$(cat "$work/attack.pid")" 2>/dev/null && echo "hard cap" >"$work/hardcap"
        fi
        sleep 0.1
    done
) >"$work/rss.log" 2>/dev/null &
sampler_pid=$!

peak_mib() { # from to (EPOCHREALTIME)
    awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 > m { m = $2 } END { printf "%d", (m + 1023) / 1024 }' "$work/rss.log"
}

# ---------------------------------------------------------------- the client
# iscsi-perf prints "iops current N" once a second and runs until SIGINT (one SIGINT
# only, or it aborts its requests in flight). C_IOPS: the mean of the seconds that lie
# wholly in [from, to] of its run; C_MIN the lowest of them; C_ERR why there are none.
client_start() { # seconds log
    timeout --foreground --preserve-status -k 5 -s INT "$1" \
        iscsi-perf -i "$CLIENT" -m 16 -b 8 -r "$URL" >"$2" 2>&1 &
    client_pid=$!
}
client_wait() { wait "$client_pid" 2>/dev/null; client_pid=""; }
client_iops() { # log from to
    read -r C_IOPS C_MIN C_N < <(tr '\r' '\n' <"$1" |
        sed -nE 's/^([0-9]+):([0-9]+):([0-9]+) - .*iops current ([0-9]+) .*/\1 \2 \3 \4/p' |
        awk -v a="$2" -v b="$3" '{ s = $1 * 3600 + $2 * 60 + $3; if (s - 1 >= a - 0.001 && s <= b + 0.001) { n++; t += $4; if (min == "" || $4 < min) min = $4 } }
            END { if (n) printf "%d %d %d\n", t / n, min, n; else print "0 0 0" }')
    C_ERR=""
    if [ "$C_N" -eq 0 ]; then
        C_ERR=$(tr '\r' '\n' <"$1" | grep -v 'press CTRL-C' |
            grep -oiE '[a-z][a-z ]*(fail|error|retries|abort|refused|unable|cannot)[a-z ]*' | head -1 | cut -c1-120)
        [ -n "$C_ERR" ] || C_ERR="no complete second measured"
    fi
}

attacker_sessions() { adm ls "targets/iscsi/$IQN/sessions" 2>/dev/null | grep -c "^$ATTACKER_PREFIX" ; }

echo
echo "hostile: baseline: the client alone for $BASE_S s"
client_start "$(awk -v a="$BASE_S" 'BEGIN { print a + 1.3 }')" "$work/baseline.log"
client_wait
client_iops "$work/baseline.log" 1 "$((BASE_S + 1))"
base=$C_IOPS
[ "$base" -gt 0 ] || { tail -5 "$work/baseline.log"; die "no baseline: $C_ERR"; }
echo "hostile: baseline $base IOPS (lowest second $C_MIN)"
sleep 1.2   # the client's connection closes
fd0=$(fd_count "$serve_pid")

# ---------------------------------------------------------------- the attacks
# name -> seconds, count, expect-close
declare -A A_SECS A_ARGS
# The writes run past RspTimeout, so that the target has to end them.
long_s=$((attack_s > RSP_TIMEOUT + 4 ? attack_s : RSP_TIMEOUT + 4))
# slow-login runs past login_timeout + 2 s, or an overdue connection could not show.
slow_s=$((attack_s > LOGIN_TIMEOUT + 4 ? attack_s : LOGIN_TIMEOUT + 4))
A_SECS=([slow-login]=$slow_s [abandon]=$attack_s [write-no-data]=$long_s [write-partial-data]=$long_s
        [cmdsn-flood]=$attack_s [text-no-finish]=$attack_s [nop-flood]=$attack_s [many-sessions]=$attack_s)
A_ARGS=([slow-login]="--count 64 --expect-close $((LOGIN_TIMEOUT + 2))"
        [abandon]="--count 1000 --expect-close 3"
        [write-no-data]="--count 32 --expect-close $((RSP_TIMEOUT + 2))"
        [write-partial-data]="--count 32 --expect-close $((RSP_TIMEOUT + 2))"
        [cmdsn-flood]="" [text-no-finish]="--count 4" [nop-flood]="" [many-sessions]="--count 2000")

rows=() details=()
log_count() { grep -ciE "$2" "$1" 2>/dev/null; }
# The target's refusals so far, "kind count" a line (targets/iscsi/refusals), if it has them.
refusals() { adm cat targets/iscsi/refusals 2>/dev/null | awk 'NF == 2 && $2 ~ /^[0-9]+$/'; }
refusal_delta() { # before after -> "kind +n, ..."
    awk 'FILENAME == ARGV[1] { b[$1] = $2; next } $2 > b[$1] { printf "%s%s +%d", sep, $1, $2 - b[$1]; sep = ", " }' "$1" "$2"
}
# A new initiator logs in and reads the capacity: three tries, a second apart.
newcomer() { # log
    local try
    for try in 1 2 3; do
        timeout 4 iscsi-readcapacity16 -i iqn.2026-11.org.iscsilab:newcomer "$URL" >>"$1" 2>&1 && { echo "ok (try $try)"; return; }
        sleep 1
    done
    echo "refused 3 times"
}

run_attack() {
    local name=$1 secs=${A_SECS[$1]} verdict=PASS why=() did=()
    local log=$work/$name.client.log out=$work/$name.out slog=$work/$name.serve.log
    echo
    echo "hostile: $name for $secs s beside the client"
    : >"$work/serve.err"
    rm -f "$work/hardcap"
    refusals >"$work/$name.refusals0"
    client_start "$(awk -v l="$LEAD" -v s="$secs" 'BEGIN { print l + s + 0.6 }')" "$log"
    sleep "$LEAD"
    local t0=$EPOCHREALTIME
    # An attacker sits on a host of its own; here it shares two cores with the target and
    # the client. At nice 10 it takes the CPU the others leave rather than splitting it
    # with them, so what the client loses is what the target gives away, not what the
    # attacking process burns (its rates are printed below either way).
    # shellcheck disable=SC2086  # the arguments are words
    nice -n 10 "$tool" "$name" --portal "$PORTAL" --target "$IQN" --seconds "$secs" ${A_ARGS[$name]} >"$out" 2>&1 &
    attack_pid=$!
    echo "$attack_pid" >"$work/attack.pid"
    # Halfway through: can a new initiator log in?
    sleep "$(awk -v s="$secs" 'BEGIN { print s / 2 - 1 }')"
    local mid
    mid=$(newcomer "$work/$name.mid.log")
    wait "$attack_pid"
    local arc=$?
    attack_pid=""
    : >"$work/attack.pid"
    client_wait
    client_iops "$log" "$LEAD" "$(awk -v l="$LEAD" -v s="$secs" 'BEGIN { print l + s }')"
    # What the attacker left must go once it has gone: its sessions, within 5 s.
    local left=0 t2
    for _ in $(seq 1 25); do
        left=$(attacker_sessions)
        [ "$left" -eq 0 ] && break
        sleep 0.2
    done
    t2=$EPOCHREALTIME
    local peak pct
    peak=$(peak_mib "$t0" "$t2")
    pct=$(awk -v c="$C_IOPS" -v b="$base" 'BEGIN { printf "%d", c * 100 / b }')
    cp "$work/serve.err" "$slog"
    refusals >"$work/$name.refusals1"

    if ! alive "$serve_pid"; then verdict=FAIL; why+=("the target died"); fi
    if [ "$pct" -lt 50 ]; then verdict=FAIL; why+=("client at $pct% of baseline${C_ERR:+ ($C_ERR)}"); fi
    if [ "$peak" -gt "$bound_mib" ]; then verdict=FAIL; why+=("RSS $peak MiB over the bound $bound_mib MiB"); fi
    [ -e "$work/hardcap" ] && why+=("attack stopped at the hard cap of $HARD_CAP_MIB MiB")
    if [ "$left" -ne 0 ]; then verdict=FAIL; why+=("$left attacker sessions left 5 s after it ended"); fi
    [ "$arc" -ne 0 ] && { verdict=FAIL; why+=("hostile_tool exited with $arc"); }
    local summary
    summary=$(sed -n "s/^summary: $name: //p" "$out" | tail -1)
    [ -n "$summary" ] || { verdict=FAIL; why+=("hostile_tool printed no summary"); }
    # What the attack expects of the target.
    local overdue held
    overdue=$(grep -oE 'overdue=[0-9]+' <<<"$summary" | grep -oE '[0-9]+')
    case $name in
        slow-login)
            [ "${overdue:-0}" -eq 0 ] || { verdict=FAIL; why+=("$overdue connections outlived the login timeout ($LOGIN_TIMEOUT s) by 2 s"); } ;;
        abandon)
            [ "${overdue:-0}" -eq 0 ] || { verdict=FAIL; why+=("$overdue half-closed connections still held after 3 s"); } ;;
        write-no-data|write-partial-data)
            [ "${overdue:-0}" -eq 0 ] || { verdict=FAIL; why+=("$overdue sessions outlived RspTimeout ($RSP_TIMEOUT s) by 2 s"); } ;;
        cmdsn-flood|nop-flood)
            grep -q 'afterwards: answered' <<<"$summary" || grep -q 'closed the connection' <<<"$summary" ||
                { verdict=FAIL; why+=("the session no longer answers an in-window command"); } ;;
        text-no-finish)
            local ans tot
            read -r ans tot < <(sed -nE 's/.*; ([0-9]+) of ([0-9]+) sessions still run commands.*/\1 \2/p' <<<"$summary")
            [ -n "${tot:-}" ] && [ "$ans" = "$tot" ] || { verdict=FAIL; why+=("only ${ans:-?} of ${tot:-?} sessions still run commands"); } ;;
        many-sessions)
            held=$(grep -oE 'held=[0-9]+' <<<"$summary" | grep -oE '[0-9]+')
            [ "${held:-0}" -le "$MAX_SESSIONS_PER_INITIATOR" ] ||
                { verdict=FAIL; why+=("one initiator held $held sessions (max_sessions_per_initiator $MAX_SESSIONS_PER_INITIATOR)"); } ;;
    esac
    # What the target did: as the attacker saw it, its refusals (the tree), its log.
    local n tdid ref
    tdid=$(sed -n 's/^did: //p' "$out" | tail -1)
    [ -n "$tdid" ] && did+=("$tdid")
    ref=$(refusal_delta "$work/$name.refusals0" "$work/$name.refusals1")
    [ -n "$ref" ] && did+=("refusals: $ref")
    n=$(log_count "$slog" 'login timed out'); [ "$n" -gt 0 ] && did+=("log: $n login timeouts")
    n=$(log_count "$slog" 'RspTimeout'); [ "$n" -gt 0 ] && did+=("log: $n RspTimeouts")
    n=$(log_count "$slog" 'TASK SET FULL|BUSY'); [ "$n" -gt 0 ] && did+=("log: $n lines of TASK SET FULL/BUSY")
    n=$(log_count "$slog" 'invariant broken'); [ "$n" -gt 0 ] && { verdict=FAIL; why+=("$n broken invariants"); did+=("$n broken invariants"); }
    local logmb
    logmb=$(( $(stat -c %s "$slog") / 1048576 ))
    [ "$logmb" -gt 0 ] && did+=("log grew $logmb MiB ($(grep -c . "$slog") lines)")
    did+=("newcomer login: $mid")
    local didtxt
    didtxt=$(printf '%s; ' "${did[@]}")
    rows+=("$(printf '%-18s %7s %5s%% %7s %8s %6s  %-4s  %s' "$name" "$C_IOPS" "$pct" "$C_MIN" "$peak" "$bound_mib" "$verdict" "${didtxt%; }")")
    details+=("$name: $summary")
    if [ ${#why[@]} -gt 0 ]; then
        local whytxt
        whytxt=$(printf '%s; ' "${why[@]}")
        details+=("    $verdict: ${whytxt%; }")
    fi
    echo "hostile: $name: client $C_IOPS IOPS ($pct%), peak RSS $peak MiB, $verdict"
    if [ "$verdict" = FAIL ]; then
        failed_attacks+=("$name")
        echo "--- hostile_tool output"; tail -25 "$out"
        echo "--- serve log (last 10 lines)"; tail -10 "$slog"
    fi
    if ! alive "$serve_pid"; then return 1; fi
    return 0
}

target_died=0
for a in "${attacks[@]}"; do
    run_attack "$a" || { target_died=1; fail_suite "the target died during $a"; break; }
done

# ---------------------------------------------------------------- after the suite
echo
after="-"
if [ "$target_died" -eq 0 ]; then
    echo "hostile: after the suite: the client alone for 3 s"
    client_start 4.3 "$work/after.log"
    client_wait
    client_iops "$work/after.log" 1 4
    after=$C_IOPS
    if [ "$after" -gt 0 ]; then
        echo "hostile: after the suite the client logs in and reads: $after IOPS ($((after * 100 / base))% of baseline)"
    else
        fail_suite "after the suite the client cannot log in and read: $C_ERR"
    fi
    sleep 1.5
    left=$(adm ls "targets/iscsi/$IQN/sessions" 2>/dev/null | grep -c .)
    [ "$left" -eq 0 ] || fail_suite "sessions left after the suite: $(adm ls "targets/iscsi/$IQN/sessions" | tr '\n' ' ')"
    fd1=$(fd_count "$serve_pid")
    echo "hostile: serve's descriptors: $fd0 before the attacks, $fd1 after"
    [ "$fd1" -le $((fd0 + 4)) ] || fail_suite "serve holds $((fd1 - fd0)) more descriptors than before the attacks"
    kill -TERM "$serve_pid" 2>/dev/null
    src=0
    wait "$serve_pid" || src=$?
    serve_pid=""
    [ "$src" -eq 0 ] || fail_suite "serve exited with $src on SIGTERM"
fi
kill -TERM "$sampler_pid" 2>/dev/null
wait "$sampler_pid" 2>/dev/null
sampler_pid=""
overall_peak=$(awk '$2 > m { m = $2 } END { printf "%d", (m + 1023) / 1024 }' "$work/rss.log")

# ---------------------------------------------------------------- report
echo
echo "hostile: baseline $base IOPS (iscsi-perf -m 16 -b 8 -r, 4 KiB random reads); memory bound $bound_mib MiB ($bound_how)"
printf '%-18s %7s %6s %7s %8s %6s  %-4s  %s\n' attack "IOPS" "base" "min 1s" "RSS MiB" "bound" "" "what the target did"
for r in "${rows[@]}"; do echo "$r"; done
echo
for d in "${details[@]}"; do echo "$d"; done
for n in "${notes[@]}"; do echo "note: $n"; done
echo "peak RSS of serve over the whole suite: $overall_peak MiB (at start $((rss0_kb / 1024)) MiB)"
nfail=$(( ${#failed_attacks[@]} + ${#failures[@]} ))
if [ "$nfail" -eq 0 ]; then
    echo "hostile: PASS: ${#rows[@]} attacks, client >= 50% of $base IOPS throughout, peak RSS $overall_peak MiB within $bound_mib MiB, no state left"
    exit 0
fi
for f in "${failures[@]}"; do echo "FAIL: $f"; done
echo "hostile: FAIL: ${#failed_attacks[@]} of ${#rows[@]} attacks failed${failed_attacks[*]:+ (${failed_attacks[*]})}, ${#failures[@]} suite checks failed; peak RSS $overall_peak MiB, bound $bound_mib MiB"
replay_only=""
[ ${#failed_attacks[@]} -gt 0 ] && replay_only=" --only $(IFS=,; echo "${failed_attacks[*]}")"
echo "replay: bash $here/hostile.sh $build --tool $tool$replay_only"
exit 1
