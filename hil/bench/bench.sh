#!/usr/bin/env bash
# The HIL benchmark suite: `iscsilab serve` beside Debian's tgtd in the same run.
#
# Links: loopback, and a veth pair between two network namespaces that this script makes
# and removes (targets and the iperf3 server in one namespace, the clients in the other).
# Storage: fileio on a page-cached file, blockio on a loop device, nullio on no storage at
# all (reads return zeros, writes vanish: what the transport alone costs). On each link, iperf3
# (one stream) gives the link's limit; libiscsi's iscsi-perf reads (4 KiB random at QD1
# and QD32; 128 KiB, 1 MiB and 8 MiB sequential at QD16, QD4, QD2); QEMU's iSCSI driver
# writes (qemu-img bench: 4 KiB at QD32, 128 KiB at QD16). For each point and target:
# IOPS, MB/s and the target process's CPU seconds. Then the reactors matrix: iscsilab
# with --reactors 1 and 2, each against 1 and 2 client processes.
# Writes results.json and SVG plots (hil/bench/results.py), prints a table, the aims
# (met / NOT met) and a one-line summary. Not a test: exit 0 when it ran, whatever the
# figures; 1 when no point could be measured, 2 on bad usage or missing tools, 130 on
# Ctrl-C. hil/bench/README.md tells how to read it and how to run it on lab hardware.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
    cat <<'EOF'
Usage: hil/bench/bench.sh [OPTIONS]

  --seconds N          duration of each point (default 10; --quick 2, --smoke 1)
  --reps N             run every point N times, the workloads in turn, and report for
                       each figure the median of its runs (default 1)
  --links LIST         lo,veth (default both)
  --storage LIST       fileio,blockio,nullio (default all three); nullio is SCST's
                       vdisk_nullio beside tgtd's null backing store: the transport's
                       ceiling, printed beside the aims and not judged by them
  --quick              a fast look: 2 s per point, loopback only, fileio only
  --smoke              the smoke test's run: 1 s per point, loopback, all three storages,
                       four workloads (4k QD1 and QD32, 128k reads, 4k writes), reactors
  --reactors-matrix    run only the reactors section (the full run includes it)
  --no-reactors-matrix leave the reactors section out
  --target [NAME=]URL  client half only, against a target elsewhere (repeatable, or a
                       comma list); iscsi://HOST[:PORT]/IQN/LUN. NAME labels it in the
                       output (iscsilab and tgtd give the ratios and aims)
  --iperf3-server HOST with --target: an iperf3 server (iperf3 -s) near the targets
  --link-name NAME     with --target: what to call the network in the output (default lab)
  --no-writes          leave out the write points (they overwrite the LUN)
  --size-mb N          size of each backing file (default 512; --smoke 128)
  --veth-mtu N         MTU of the veth pair (default 1500)
  --bin PATH           the iscsilab binary (default build/iscsilab)
  --out DIR            results folder (default hil/bench/results/<UTC timestamp>)
  --no-install         do not apt-get install missing packages
  -h, --help           this text
EOF
}

die() { echo "bench: $*" >&2; exit 2; }

# ---------------------------------------------------------------- options
seconds="" links="" storages="" mode=full sections="" size_mb="" reps=1
bin=$root/build/iscsilab out="" install=1 writes=1 veth_mtu=1500 iperf3_server="" link_name=lab
remote=()
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=${2:?}; shift ;;
        --reps) reps=${2:?}; shift ;;
        --links) links=${2:?}; shift ;;
        --storage) storages=${2:?}; shift ;;
        --quick) mode=quick ;;
        --smoke) mode=smoke ;;
        --reactors-matrix) sections=reactors ;;
        --no-reactors-matrix) sections=main ;;
        --target) IFS=, read -ra more <<<"${2:?}"; remote+=("${more[@]}"); shift ;;
        --iperf3-server) iperf3_server=${2:?}; shift ;;
        --link-name) link_name=${2:?}; shift ;;
        --no-writes) writes=0 ;;
        --size-mb) size_mb=${2:?}; shift ;;
        --veth-mtu) veth_mtu=${2:?}; shift ;;
        --bin) bin=${2:?}; shift ;;
        --out) out=${2:?}; shift ;;
        --no-install) install=0 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
    shift
done
case $mode in
    quick) : "${seconds:=2}" "${links:=lo}" "${storages:=fileio}" ;;
    smoke) : "${seconds:=1}" "${links:=lo}" "${storages:=fileio,blockio,nullio}" "${size_mb:=128}" ;;
esac
: "${seconds:=10}" "${links:=lo,veth}" "${storages:=fileio,blockio,nullio}" "${size_mb:=512}" "${sections:=main,reactors}"
[[ $seconds =~ ^[0-9]+([.][0-9]+)?$ ]] && awk -v s="$seconds" 'BEGIN { exit !(s > 0) }' || die "--seconds wants a positive number"
[[ $link_name =~ ^[A-Za-z0-9_-]+$ ]] || die "--link-name wants letters, digits, - and _"
[[ $reps =~ ^[0-9]+$ ]] && [ "$reps" -ge 1 ] || die "--reps wants a number >= 1"
[[ $veth_mtu =~ ^[0-9]+$ ]] && [ "$veth_mtu" -ge 576 ] || die "--veth-mtu wants a number >= 576"
[[ $size_mb =~ ^[0-9]+$ ]] && [ "$size_mb" -ge 64 ] || die "--size-mb wants a number >= 64"
IFS=, read -ra link_list <<<"$links"
IFS=, read -ra storage_list <<<"$storages"
for l in "${link_list[@]}"; do [[ $l == lo || $l == veth ]] || die "unknown link $l (lo, veth)"; done
for s in "${storage_list[@]}"; do [[ $s == fileio || $s == blockio || $s == nullio ]] || die "unknown storage $s (fileio, blockio, nullio)"; done
# The reactors matrix alone needs only the first link and storage.
[ "$sections" = reactors ] && link_list=("${link_list[0]}") storage_list=("${storage_list[0]}")
if [ ${#remote[@]} -gt 0 ]; then
    local_mode=0
    [[ $sections == reactors ]] && die "--reactors-matrix needs the local target (it restarts iscsilab)"
    sections=main
else
    local_mode=1
    [ -n "$iperf3_server" ] && die "--iperf3-server goes with --target"
fi
[ "$(id -u)" -eq 0 ] || { [ $local_mode -eq 0 ] || die "run as root (network namespaces, loop devices, tgtd)"; }

# Workloads: name op pattern bytes qd. Sequential queue depths: 16, 4, 2.
all_workloads=(
    "r4k-qd1 read random 4096 1"
    "r4k-qd32 read random 4096 32"
    "r128k-qd16 read sequential 131072 16"
    "r1m-qd4 read sequential 1048576 4"
    "r8m-qd2 read sequential 8388608 2"
    "w4k-qd32 write sequential 4096 32"
    "w128k-qd16 write sequential 131072 16"
)
workloads=()
for w in "${all_workloads[@]}"; do
    read -r name op _ <<<"$w"
    [ "$op" = write ] && [ "$writes" -eq 0 ] && continue
    if [ "$mode" = smoke ]; then
        case $name in r4k-qd1|r4k-qd32|r128k-qd16|w4k-qd32) ;; *) continue ;; esac
    fi
    workloads+=("$w")
done
reactor_counts=(1 2)
client_counts=(1 2)

# ---------------------------------------------------------------- tools
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || true
need_pkgs=(iperf3 qemu-utils qemu-block-extra libiscsi-bin python3 python3-matplotlib procps)
[ $local_mode -eq 1 ] && need_pkgs+=(tgt iproute2 util-linux)
missing=()
for p in "${need_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ $install -eq 1 ] || die "missing packages: ${missing[*]} (or drop --no-install)"
    echo "bench: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
    export DEBIAN_FRONTEND=noninteractive
    # iperf3 asks whether to start a daemon at boot: no.
    echo "iperf3 iperf3/start_daemon boolean false" | $sudo_cmd debconf-set-selections
    $sudo_cmd apt-get update -q >/dev/null
    $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install failed"
    py=/usr/bin/python3
fi
"$py" -c 'import matplotlib' 2>/dev/null || die "$py has no matplotlib (apt-get install python3-matplotlib)"
for t in iscsi-perf iscsi-readcapacity16 qemu-img iperf3 timeout awk; do
    command -v "$t" >/dev/null || die "$t missing"
done
if [ $local_mode -eq 1 ]; then
    for t in tgtd tgtadm ip losetup; do command -v "$t" >/dev/null || die "$t missing"; done
fi

# ---------------------------------------------------------------- folders, cleanup
stamp=$(date -u +%Y%m%dT%H%M%SZ)
[ -n "$out" ] || out=$here/results/$stamp
mkdir -p "$out/logs" "$out/raw" || die "cannot make $out"
out=$(cd "$out" && pwd)
rm -f "$out"/raw/records.jsonl "$out"/*.svg "$out"/results.json
work=$(mktemp -d "${TMPDIR:-/tmp}/iscsilab-bench-XXXXXX") || die "no work folder"
records=$out/raw/records.jsonl
: >"$records"

ns_t="" ns_c="" loops=() isl_pid="" tgt_pid="" tgt_ctl="" iperf_pid="" client_pids=()
cleanup() {
    local p
    trap - EXIT INT TERM
    for p in "${client_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    [ -n "$iperf_pid" ] && kill -TERM "$iperf_pid" 2>/dev/null
    stop_iscsilab
    stop_tgtd
    [ -n "$ns_c" ] && ip netns del "$ns_c" 2>/dev/null
    [ -n "$ns_c" ] && ip link del "isbt$$" 2>/dev/null   # only if it never left this namespace
    [ -n "$ns_t" ] && ip netns del "$ns_t" 2>/dev/null
    for p in "${loops[@]}"; do losetup -d "$p" 2>/dev/null; done
    [ -n "$tgt_ctl" ] && rm -f "/var/run/tgtd/socket.$tgt_ctl" "/var/run/tgtd/socket.$tgt_ctl.lock"
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "bench: interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------- helpers
json_esc() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '%s' "${s//[$'\t\r\n']/ }"; }
rec() { printf '%s\n' "$1" >>"$records"; }
fcalc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
human() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%dM", b / 1048576; else printf "%dk", b / 1024 }'; }
clk_tck=$(getconf CLK_TCK)

# utime + stime of a whole process (all its threads), in clock ticks; -1 if it is gone.
cpu_ticks() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
    s=${s##*) }
    local -a f
    read -ra f <<<"$s"
    echo $((f[11] + f[12]))
}
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# Around each point, what else the machine did: the CPU time of this shell's reaped
# children (the clients: timeout and what it waited for), the whole machine's busy
# cores from /proc/stat, and the 1-minute load average. mark_start / mark_end set M_*.
children_s() { # in the main shell only: `times` in a subshell sees that subshell
    awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); n += a[1] * 60 + a[2] }; printf "%.3f", n }' "$work/times"
}
stat_busy() { awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8 + $9; printf "%d %d", b, b + $5 + $6 }' /proc/stat; }
mark_start() {
    times >"$work/times"; M_CH0=$(children_s)
    read -r M_B0 M_T0 < <(stat_busy)
}
mark_end() {
    times >"$work/times"
    local ch1 b1 t1
    ch1=$(children_s)
    read -r b1 t1 < <(stat_busy)
    M_CLIENT=$(fcalc "$ch1 - $M_CH0")
    M_BUSY=$(awk -v b="$((b1 - M_B0))" -v t="$((t1 - M_T0))" -v n="$(nproc)" 'BEGIN { printf "%.3f", (t > 0 ? b / t * n : 0) }')
    M_LOAD=$(cut -d' ' -f1 /proc/loadavg)
}

# Waits for a background client, so that Ctrl-C reaches the trap at once.
wait_client() {
    local rc=0
    wait "$1" || rc=$?
    client_pids=()
    return $rc
}

step=0 total=0 failures=0 measured=0
progress() { step=$((step + 1)); printf '[%d/%d] %s ... ' "$step" "$total" "$1"; }

# The binary may be rebuilt by someone else during a run: use a copy, taken when it is whole.
take_binary() {
    local i s1 s2
    for i in $(seq 1 150); do
        if [ -x "$bin" ]; then
            s1=$(stat -c %s:%Y "$bin" 2>/dev/null); sleep 1; s2=$(stat -c %s:%Y "$bin" 2>/dev/null)
            if [ -n "$s1" ] && [ "$s1" = "$s2" ] && cp -p "$bin" "$work/iscsilab" 2>/dev/null && "$work/iscsilab" serve --help >/dev/null 2>&1; then
                return 0
            fi
        fi
        [ "$i" -eq 1 ] && echo "bench: waiting for $bin (being rebuilt?)"
        sleep 1
    done
    return 1
}

# ---------------------------------------------------------------- links
addr_for() { case $1 in lo) echo 127.0.0.1 ;; veth) echo 10.213.0.1 ;; esac; }
target_cmd=() client_cmd=()
ns_t_name=isb-t-$$ ns_c_name=isb-c-$$
make_namespaces() {
    ns_t=$ns_t_name ns_c=$ns_c_name
    ip netns add "$ns_t" || die "cannot add network namespace $ns_t"
    ip netns exec "$ns_t" ip link set lo up
    if [[ " ${link_list[*]} " == *" veth "* ]]; then
        ip netns add "$ns_c" || die "cannot add network namespace $ns_c"
        ip netns exec "$ns_c" ip link set lo up
        ip link add "isbt$$" mtu "$veth_mtu" type veth peer name "isbc$$" mtu "$veth_mtu" || die "cannot add a veth pair"
        ip link set "isbt$$" netns "$ns_t"
        ip link set "isbc$$" netns "$ns_c"
        ip netns exec "$ns_t" ip addr add 10.213.0.1/30 dev "isbt$$"
        ip netns exec "$ns_c" ip addr add 10.213.0.2/30 dev "isbc$$"
        ip netns exec "$ns_t" ip link set "isbt$$" up
        ip netns exec "$ns_c" ip link set "isbc$$" up
    else
        ns_c=""
    fi
}
use_link() {
    link=$1
    addr=$(addr_for "$link")
    target_cmd=(ip netns exec "$ns_t")
    if [ "$link" = veth ]; then client_cmd=(ip netns exec "$ns_c"); else client_cmd=(ip netns exec "$ns_t"); fi
}

# ---------------------------------------------------------------- backing storage
# name -> path of what each target serves
declare -A backing
make_backing() {
    local s t first=""
    echo "bench: preparing ${size_mb} MiB backing files (${storage_list[*]})"
    for s in "${storage_list[@]}"; do
        [ "$s" = nullio ] && continue  # nothing to back it
        for t in iscsilab tgtd; do
            local img=$work/$s-$t.img
            if [ -z "$first" ]; then
                dd if=/dev/urandom of="$img" bs=1M count="$size_mb" status=none || die "cannot write $img"
                first=$img
            else
                cp "$first" "$img" || die "cannot copy $img"
            fi
            if [ "$s" = blockio ]; then
                local dev
                dev=$(losetup --find --show "$img") || die "losetup failed on $img"
                loops+=("$dev")
                backing[$s-$t]=$dev
            else
                backing[$s-$t]=$img
            fi
        done
    done
}
# Reads what a phase serves once, so that it is in the page cache before measuring (for
# a loop device: its backing file, with O_DIRECT on the device).
warm() {
    local s=$1 t
    [ "$s" = nullio ] && return 0
    for t in iscsilab tgtd; do
        if [ "$s" = blockio ]; then
            dd if="${backing[$s-$t]}" of=/dev/null bs=4M iflag=direct status=none
        else
            cat "${backing[$s-$t]}" >/dev/null
        fi
    done
}

# The loop device's own QD1 round trip, the floor under aim 4 on blockio as iperf3 is the
# ceiling over aim 1: 4 KiB O_DIRECT reads one at a time with dd, which waits for each, on
# the device iscsilab serves (warm, so its backing file is in the page cache). Once per
# link, beside the points it explains; it takes a fraction of a second.
device_point() { # storage
    local s=$1 dev n=20000 t0 t1 err="" us=0
    [ "$s" = blockio ] || return 0
    dev=${backing[$s-iscsilab]}
    progress "device $dev alone, O_DIRECT 4k reads qd1 (dd)"
    t0=$EPOCHREALTIME
    if dd if="$dev" of=/dev/null bs=4k count=$n iflag=direct status=none 2>"$work/dd.err"; then
        t1=$EPOCHREALTIME
        us=$(fcalc "($t1 - $t0) * 1e6 / $n")
        printf '%.1f us per read\n' "$us"
    else
        err=$(head -1 "$work/dd.err")
        echo "FAILED: $err"
        failures=$((failures + 1))
    fi
    rec "{\"kind\": \"device\", \"link\": \"$link\", \"storage\": \"$s\", \"device\": \"$dev\", \"tool\": \"dd iflag=direct bs=4k count=$n\", \"qd1_read_us\": $us, \"error\": \"$(json_esc "$err")\"}"
}

# ---------------------------------------------------------------- targets
isl_port=3260 tgt_port=3261
isl_iqn() { echo "iqn.2026-11.org.iscsilab:bench-$1"; }
tgt_iqn() { echo "iqn.2026-11.org.iscsilab:tgtd-$1"; }

start_iscsilab() { # storage reactors(or "")
    local s=$1 r=$2 handler=vdisk_fileio conf=$work/iscsilab-$1.conf attr
    [ "$s" = blockio ] && handler=vdisk_blockio
    attr="filename ${backing[$s-iscsilab]:-}"
    [ "$s" = nullio ] && handler=vdisk_nullio attr="size_mb $size_mb"
    cat >"$conf" <<CONF
HANDLER $handler {
    DEVICE bench0 {
        $attr
    }
}
TARGET_DRIVER iscsi {
    enabled 1
    TARGET $(isl_iqn "$s") {
        LUN 0 bench0
        enabled 1
    }
}
CONF
    cp "$conf" "$out/logs/"
    rm -f "$work/ready"
    local args=(serve -q -c "$conf" --listen "$addr:$isl_port" --ready-file "$work/ready"
                --state-dir "$work/state" --mgmt-socket "$work/iscsilab.sock")
    [ -n "$r" ] && args+=(--reactors "$r")
    local log=$out/logs/iscsilab-$link-$s${r:+-r$r}.log
    "${target_cmd[@]}" "$work/iscsilab" "${args[@]}" >"$log" 2>&1 &
    isl_pid=$!
    local i
    for i in $(seq 1 100); do
        [ -s "$work/ready" ] && return 0
        alive "$isl_pid" || break
        sleep 0.1
    done
    echo "bench: iscsilab did not start ($link $s); its log:" >&2
    tail -20 "$log" >&2
    stop_iscsilab
    return 1
}
stop_iscsilab() {
    [ -n "$isl_pid" ] || return 0
    kill -TERM "$isl_pid" 2>/dev/null
    local i
    for i in $(seq 1 50); do alive "$isl_pid" || break; sleep 0.1; done
    kill -KILL "$isl_pid" 2>/dev/null
    wait "$isl_pid" 2>/dev/null
    isl_pid=""
}

pick_tgt_ctl() {
    local c=$((5000 + $$ % 4000)) i
    for i in $(seq 1 100); do
        [ -e "/var/run/tgtd/socket.$c" ] || { tgt_ctl=$c; return; }
        c=$((c + 1))
    done
    tgt_ctl=$c
}
tgtadm_() { tgtadm -C "$tgt_ctl" "$@"; }
start_tgtd() { # storage
    local s=$1 log=$out/logs/tgtd-$link-$1.log i lu=(-b "${backing[$1-tgtd]:-}")
    # tgt's null backing store (bs_null.c): reads are answered without reading anything, writes
    # vanish; its path is only a name.
    [ "$s" = nullio ] && lu=(-E null -b nullio)
    "${target_cmd[@]}" tgtd -f -C "$tgt_ctl" --iscsi "portal=$addr:$tgt_port" >"$log" 2>&1 &
    tgt_pid=$!
    for i in $(seq 1 50); do
        alive "$tgt_pid" || break
        tgtadm_ --op show --mode sys >/dev/null 2>&1 && break
        sleep 0.1
    done
    if alive "$tgt_pid" &&
        tgtadm_ --lld iscsi --op new --mode target --tid 1 -T "$(tgt_iqn "$s")" >>"$log" 2>&1 &&
        tgtadm_ --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 "${lu[@]}" >>"$log" 2>&1 &&
        tgtadm_ --lld iscsi --op bind --mode target --tid 1 -I ALL >>"$log" 2>&1; then
        return 0
    fi
    echo "bench: tgtd did not start ($link $s); its log:" >&2
    tail -20 "$log" >&2
    stop_tgtd
    return 1
}
stop_tgtd() {
    [ -n "$tgt_pid" ] || return 0
    if alive "$tgt_pid"; then
        tgtadm_ --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1
        tgtadm_ --op delete --mode system >/dev/null 2>&1
        local i
        for i in $(seq 1 30); do alive "$tgt_pid" || break; sleep 0.1; done
    fi
    kill -KILL "$tgt_pid" 2>/dev/null
    wait "$tgt_pid" 2>/dev/null
    tgt_pid=""
}

# ---------------------------------------------------------------- measuring
# Prints the logical block size of a LUN, or nothing when it cannot be reached.
lun_blocksize() {
    timeout 20 "${client_cmd[@]}" iscsi-readcapacity16 "$1" 2>/dev/null |
        sed -nE 's/^LOGICAL BLOCK LENGTH IN BYTES:([0-9]+).*/\1/p'
}

first_error() { # log -> a short reason
    tr '\r' '\n' <"$1" | grep -m1 -iE 'fail|error|abort|refused|unable|cannot|denied|no route' |
        tr -cd '[:alnum:] ._:/=()-' | cut -c1-160
}

# iscsi-perf until SIGINT. Sets P_IOPS P_WALL P_CPU P_ERR.
perf_run() { # url bytes qd pattern pid initiator log [blocksize]
    local url=$1 bytes=$2 qd=$3 pattern=$4 pid=$5 ini=$6 log=$7 bs=${8:-512}
    local dur args c0 c1 t0 t1 cpid rc=0
    # iscsi-perf prints its average once a second: run past the last full second. Only
    # one SIGINT (--foreground: not to the process group as well), or it aborts its
    # requests in flight and exits with 1.
    dur=$(fcalc "$seconds + 0.3")
    args=(-i "$ini" -m "$qd" -b $((bytes / bs)))
    [ "$pattern" = random ] && args+=(-r)
    mark_start
    c0=$(cpu_ticks "$pid"); t0=$EPOCHREALTIME
    timeout --foreground --preserve-status -k 10 -s INT "$dur" "${client_cmd[@]}" iscsi-perf "${args[@]}" "$url" >"$log" 2>&1 &
    cpid=$!; client_pids=("$cpid")
    wait_client "$cpid" || rc=$?
    t1=$EPOCHREALTIME; c1=$(cpu_ticks "$pid")
    mark_end
    P_WALL=$(fcalc "$t1 - $t0")
    P_CPU=-1
    [ "$c0" -ge 0 ] && [ "$c1" -ge 0 ] && P_CPU=$((c1 - c0))
    P_IOPS=$(tr '\r' '\n' <"$log" | grep -o 'iops average [0-9]* ([0-9]* MB/s)' | tail -1 |
             sed -E 's/iops average ([0-9]+) .*/\1/')
    P_ERR=""
    if [ -z "$P_IOPS" ] || [ "$P_IOPS" = 0 ] || [ "$rc" -ne 0 ]; then
        [ -n "$P_IOPS" ] || P_IOPS=0
        P_ERR=$(first_error "$log")
        [ -n "$P_ERR" ] || P_ERR="iscsi-perf exited with $rc"
        [ "$rc" -ne 0 ] || [ "$P_IOPS" != 0 ] || P_ERR="iscsi-perf printed no average"
    fi
}

# One qemu-img bench run; sets Q_WALL Q_SELF Q_RC.
qemu_run() { # url bytes qd count log
    local t0 t1
    t0=$EPOCHREALTIME
    timeout -k 10 600 "${client_cmd[@]}" qemu-img bench -w -f raw -t none -n -d "$3" -s "$2" -c "$4" \
        --pattern=90 "$1" >"$5" 2>&1 &
    client_pids=("$!")
    Q_RC=0
    wait_client "$!" || Q_RC=$?
    t1=$EPOCHREALTIME
    Q_WALL=$(fcalc "$t1 - $t0")
    Q_SELF=$(sed -nE 's/^Run completed in ([0-9.]+) seconds.*/\1/p' "$5")
    [ -n "$Q_SELF" ] || Q_SELF=0
}
# Calibrates COUNT on short runs, then writes for about --seconds. Sets W_COUNT W_WALL
# W_SELF W_CPU W_ERR.
write_run() { # url bytes qd pid log
    local url=$1 bytes=$2 qd=$3 pid=$4 log=$5 count cal_min c0 c1
    count=$(( bytes >= 131072 ? 200 : 1000 ))
    cal_min=$(fcalc "($seconds / 10 > 0.2) ? $seconds / 10 : 0.2")
    W_ERR="" W_COUNT=0 W_WALL=0 W_SELF=0 W_CPU=-1
    for _ in 1 2 3 4 5 6; do
        qemu_run "$url" "$bytes" "$qd" "$count" "$log.cal"
        if [ "$Q_RC" -ne 0 ]; then
            W_ERR=$(first_error "$log.cal"); [ -n "$W_ERR" ] || W_ERR="qemu-img exited with $Q_RC"
            cp "$log.cal" "$log"
            return
        fi
        awk -v a="$Q_SELF" -v b="$cal_min" 'BEGIN { exit !(a >= b) }' && break
        count=$((count * 4))
    done
    count=$(awk -v c="$count" -v t="$Q_SELF" -v s="$seconds" -v q="$qd" \
        'BEGIN { if (t <= 0) t = 0.001; n = int(c / t * s); if (n < 4 * q) n = 4 * q; print n }')
    mark_start
    c0=$(cpu_ticks "$pid")
    qemu_run "$url" "$bytes" "$qd" "$count" "$log"
    c1=$(cpu_ticks "$pid")
    mark_end
    [ "$c0" -ge 0 ] && [ "$c1" -ge 0 ] && W_CPU=$((c1 - c0))
    W_WALL=$Q_WALL W_SELF=$Q_SELF
    if [ "$Q_RC" -ne 0 ]; then
        W_ERR=$(first_error "$log"); [ -n "$W_ERR" ] || W_ERR="qemu-img exited with $Q_RC"
    else
        W_COUNT=$count
    fi
}

show_result() { # iops bytes cpu_ticks wall err
    if [ -n "$5" ]; then
        echo "FAILED: $5"
        failures=$((failures + 1))
        return
    fi
    measured=$((measured + 1))
    awk -v i="$1" -v b="$2" -v c="$3" -v w="$4" -v hz="$clk_tck" 'BEGIN {
        printf "%.0f IOPS, %.1f MB/s", i, i * b / 1e6
        if (c >= 0) { cs = c / hz; printf ", target cpu %.2f s", cs; if (cs > 0) printf " (%.0f IOPS/cpu-s)", i * w / cs }
        printf "\n" }'
}

# One point: a workload against one target. cpu pid "" when the target is not ours.
run_point() { # target storage workload url pid blocksize
    local tname=$1 s=$2 w=$3 url=$4 pid=$5 bs=$6
    local name op pattern bytes qd label log
    read -r name op pattern bytes qd <<<"$w"
    label="$op $(human "$bytes")$([ "$pattern" = random ] && echo " rand") qd$qd"
    progress "$tname $link $s $label"
    log=$out/logs/$link-$s-$tname-$name.log
    local tool=qemu-img iops=0 wall=0 cpu=-1 err="" count=0 self=0
    M_CLIENT=0 M_BUSY=0 M_LOAD=0
    [ "$op" = read ] && tool=iscsi-perf
    if [ -z "$bs" ]; then
        err="target not reachable"
    elif [ "$op" = read ]; then
        perf_run "$url" "$bytes" "$qd" "$pattern" "${pid:-0}" iqn.2026-11.org.iscsilab:bench-client "$log" "$bs"
        iops=$P_IOPS wall=$P_WALL cpu=$P_CPU err=$P_ERR
    else
        write_run "$url" "$bytes" "$qd" "${pid:-0}" "$log"
        wall=$W_WALL cpu=$W_CPU err=$W_ERR count=$W_COUNT self=$W_SELF
        iops=$(awk -v n="$count" -v w="$wall" 'BEGIN { printf "%.1f", (w > 0 ? n / w : 0) }')
    fi
    [ -z "$pid" ] && cpu=-1
    show_result "$iops" "$bytes" "$cpu" "$wall" "$err"
    rec "{\"kind\": \"point\", \"link\": \"$link\", \"storage\": \"$s\", \"target\": \"$(json_esc "$tname")\", \"workload\": \"$name\", \"rep\": ${rep:-1}, \"op\": \"$op\", \"pattern\": \"$pattern\", \"bytes\": $bytes, \"qd\": $qd, \"tool\": \"$tool\", \"wall_s\": $wall, \"cpu_ticks\": $cpu, \"iops_reported\": $iops, \"count\": $count, \"qemu_s\": $self, \"client_cpu_s\": $M_CLIENT, \"machine_busy_cores\": $M_BUSY, \"loadavg_1m\": $M_LOAD, \"url\": \"$(json_esc "$url")\", \"error\": \"$(json_esc "$err")\"}"
}

iperf_point() { # server-addr(or host) label
    local host=$1 isecs log=$out/logs/iperf3-$link.json err="" bps=0
    progress "iperf3 $link one stream"
    isecs=$(awk -v s="$seconds" 'BEGIN { n = int(s); if (n < s) n++; if (n < 1) n = 1; print n }')
    if [ $local_mode -eq 1 ]; then
        "${target_cmd[@]}" iperf3 -s -p 5201 -1 >"$out/logs/iperf3-server-$link.log" 2>&1 &
        iperf_pid=$!
        local i
        for i in $(seq 1 30); do
            "${target_cmd[@]}" ss -ltn 2>/dev/null | grep -q ':5201 ' && break
            sleep 0.1
        done
    fi
    timeout -k 5 $((isecs + 30)) "${client_cmd[@]}" iperf3 -c "$host" -p 5201 -t "$isecs" -J >"$log" 2>"$log.err" &
    client_pids=("$!")
    wait_client "$!" || err="iperf3 failed"
    bps=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"])' "$log" 2>/dev/null) || bps=0
    [ -n "$bps" ] && [ "$bps" != 0 ] || { bps=0; [ -n "$err" ] || err="iperf3 gave no rate"; }
    if [ -n "$iperf_pid" ]; then kill -TERM "$iperf_pid" 2>/dev/null; wait "$iperf_pid" 2>/dev/null; iperf_pid=""; fi
    if [ -n "$err" ]; then
        echo "FAILED: $err"; failures=$((failures + 1))
    else
        awk -v b="$bps" 'BEGIN { printf "%.2f Gbit/s (%.0f MB/s)\n", b / 1e9, b / 8e6 }'
    fi
    rec "{\"kind\": \"iperf3\", \"link\": \"$link\", \"rep\": ${rep:-1}, \"seconds\": $isecs, \"bits_per_second\": $bps, \"error\": \"$err\"}"
}

# The reactors matrix: iscsilab alone, --reactors R, C clients in parallel (4 KiB random
# reads at QD32, different initiator names).
reactor_cell() { # reactors clients url
    local r=$1 c=$2 url=$3 i dur c0 c1 t0 t1 sum=0 list="" err=""
    progress "iscsilab $link ${storage_list[0]} reactors $r, $c client(s), read 4k rand qd32"
    dur=$(fcalc "$seconds + 0.3")
    local pids=()
    mark_start
    c0=$(cpu_ticks "$isl_pid"); t0=$EPOCHREALTIME
    for i in $(seq 1 "$c"); do
        timeout --foreground --preserve-status -k 10 -s INT "$dur" "${client_cmd[@]}" iscsi-perf -i "iqn.2026-11.org.iscsilab:bench-client$i" \
            -m 32 -b 8 -r "$url" >"$out/logs/reactors-r$r-c$c-client$i.log" 2>&1 &
        pids+=("$!")
    done
    client_pids=("${pids[@]}")
    local bad=0
    for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
    client_pids=()
    t1=$EPOCHREALTIME; c1=$(cpu_ticks "$isl_pid")
    mark_end
    for i in $(seq 1 "$c"); do
        local v
        v=$(tr '\r' '\n' <"$out/logs/reactors-r$r-c$c-client$i.log" | grep -o 'iops average [0-9]*' | tail -1 | awk '{print $3}')
        [ -n "$v" ] || { v=0; err="client $i printed no average"; }
        [ "$bad" -eq 0 ] || [ -n "$err" ] || err="$bad client(s) exited with an error"
        sum=$((sum + v)); list+="${list:+, }$v"
    done
    local cpu=-1
    [ "$c0" -ge 0 ] && [ "$c1" -ge 0 ] && cpu=$((c1 - c0))
    local wall; wall=$(fcalc "$t1 - $t0")
    show_result "$sum" 4096 "$cpu" "$wall" "$err"
    rec "{\"kind\": \"reactors\", \"link\": \"$link\", \"storage\": \"${storage_list[0]}\", \"reactors\": $r, \"clients\": $c, \"wall_s\": $wall, \"cpu_ticks\": $cpu, \"client_iops\": [$list], \"client_cpu_s\": $M_CLIENT, \"machine_busy_cores\": $M_BUSY, \"loadavg_1m\": $M_LOAD, \"error\": \"$err\"}"
}

# ---------------------------------------------------------------- parameters
bin_mtime="" bin_sha=""
if [ $local_mode -eq 1 ]; then
    take_binary || die "no usable $bin (build it first: hil/setup.sh)"
    bin_mtime=$(date -u -r "$work/iscsilab" +%Y-%m-%dT%H:%M:%SZ)
    bin_sha=$(sha256sum "$work/iscsilab" | cut -c1-16)
fi
wl_json=""
for w in "${workloads[@]}"; do
    read -r name op pattern bytes qd <<<"$w"
    [ "$op" = read ] && tool=iscsi-perf || tool=qemu-img
    wl_json+="${wl_json:+, }{\"name\": \"$name\", \"op\": \"$op\", \"pattern\": \"$pattern\", \"bytes\": $bytes, \"qd\": $qd, \"tool\": \"$tool\"}"
done
remote_json=""
for t in "${remote[@]}"; do remote_json+="${remote_json:+, }\"$(json_esc "$t")\""; done
arr_json() { local a="" x; for x in "$@"; do a+="${a:+, }\"$x\""; done; printf '[%s]' "$a"; }
[ $local_mode -eq 1 ] && links_json=$(arr_json "${link_list[@]}") || links_json="[\"$link_name\"]"
[ $local_mode -eq 1 ] && storages_json=$(arr_json "${storage_list[@]}") || storages_json='["remote"]'
cat >"$out/raw/params.json" <<JSON
{
  "started_utc": "$stamp",
  "mode": "$([ $local_mode -eq 1 ] && echo local || echo remote)",
  "run": "$mode",
  "seconds": $seconds,
  "reps": $reps,
  "links": $links_json,
  "storages": $storages_json,
  "sections": "$sections",
  "size_mb": $size_mb,
  "veth_mtu": $veth_mtu,
  "veth_addresses": {"target": "10.213.0.1/30", "client": "10.213.0.2/30"},
  "workloads": [$wl_json],
  "reactors_matrix": {"reactors": [$(IFS=,; echo "${reactor_counts[*]}")], "clients": [$(IFS=,; echo "${client_counts[*]}")],
                      "workload": {"op": "read", "pattern": "random", "bytes": 4096, "qd": 32, "tool": "iscsi-perf"}},
  "remote_targets": [$remote_json],
  "iperf3_server": "$(json_esc "$iperf3_server")",
  "target_cpu": $([ $local_mode -eq 1 ] && echo true || echo false),
  "clk_tck": $clk_tck,
  "iscsilab_reactors_main": "default (one per core)",
  "iscsilab_binary": "$(json_esc "$bin")",
  "iscsilab_binary_mtime": "$bin_mtime",
  "iscsilab_binary_sha256": "$bin_sha",
  "loadavg_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "repo": "$(json_esc "$root")",
  "work_dir": "$(json_esc "$work")",
  "namespaces": $([ $local_mode -eq 1 ] && arr_json "$ns_t_name" "$ns_c_name" || echo '[]'),
  "tgtd_backing": "default bstype rdwr (buffered pread/pwrite), file for fileio, the loop device for blockio; bstype null for nullio",
  "qemu_img_bench": "qemu-img bench -w -f raw -t none -n -d QD -s SIZE -c COUNT --pattern=90 URL; COUNT calibrated on short runs for about the point's duration",
  "iscsi_perf": "iscsi-perf -i NAME -m QD -b BLOCKS [-r] URL, stopped with SIGINT after the point's duration (+0.3 s)"
}
JSON

# ---------------------------------------------------------------- the run
t_start=$EPOCHREALTIME
nw=${#workloads[@]}
if [ $local_mode -eq 1 ]; then
    do_main=0 do_reactors=0
    [[ $sections == *main* ]] && do_main=1
    [[ $sections == *reactors* ]] && do_reactors=1
    [ $do_main -eq 1 ] && total=$(( ${#link_list[@]} * reps * (1 + ${#storage_list[@]} * 2 * nw) ))
    # One device point per link for blockio.
    [ $do_main -eq 1 ] && [[ " ${storage_list[*]} " == *" blockio "* ]] &&
        total=$((total + ${#link_list[@]}))
    [ $do_reactors -eq 1 ] && total=$((total + ${#reactor_counts[@]} * ${#client_counts[@]}))
    pick_tgt_ctl
    make_namespaces
    make_backing
    echo "bench: $total steps, ${seconds} s each; links ${link_list[*]}; storage ${storage_list[*]}; results in $out"
    awk '$1 > 0.7 { printf "bench: load average %s before the run: other work on this machine makes the figures noisy\n", $1 }' /proc/loadavg
    if [ $do_main -eq 1 ]; then
        for link in "${link_list[@]}"; do
            use_link "$link"
            for rep in $(seq 1 "$reps"); do iperf_point "$addr"; done
            for s in "${storage_list[@]}"; do
                warm "$s"
                device_point "$s"
                isl_ok=1 tgt_ok=1
                start_iscsilab "$s" "" || isl_ok=0
                start_tgtd "$s" || tgt_ok=0
                isl_url="iscsi://$addr:$isl_port/$(isl_iqn "$s")/0"
                tgt_url="iscsi://$addr:$tgt_port/$(tgt_iqn "$s")/1"
                isl_bs="" tgt_bs=""
                [ $isl_ok -eq 1 ] && isl_bs=$(lun_blocksize "$isl_url")
                [ $tgt_ok -eq 1 ] && tgt_bs=$(lun_blocksize "$tgt_url")
                # Repetitions go round the workloads, so that a noisy minute touches
                # one run of several points rather than every run of one.
                for rep in $(seq 1 "$reps"); do
                    for w in "${workloads[@]}"; do
                        alive "$isl_pid" || isl_bs=""
                        run_point iscsilab "$s" "$w" "$isl_url" "$isl_pid" "$isl_bs"
                        alive "$tgt_pid" || tgt_bs=""
                        run_point tgtd "$s" "$w" "$tgt_url" "$tgt_pid" "$tgt_bs"
                    done
                done
                stop_iscsilab
                stop_tgtd
            done
        done
    fi
    if [ $do_reactors -eq 1 ]; then
        use_link "${link_list[0]}"
        s=${storage_list[0]}
        warm "$s"
        for r in "${reactor_counts[@]}"; do
            if start_iscsilab "$s" "$r"; then
                for c in "${client_counts[@]}"; do
                    reactor_cell "$r" "$c" "iscsi://$addr:$isl_port/$(isl_iqn "$s")/0"
                done
                stop_iscsilab
            else
                for c in "${client_counts[@]}"; do
                    progress "iscsilab $link $s reactors $r, $c client(s)"; echo "FAILED: iscsilab did not start"
                    failures=$((failures + 1))
                done
            fi
        done
    fi
else
    # Remote targets: the client half only; no namespaces, no target CPU figures.
    link=$link_name s=remote
    target_cmd=() client_cmd=()
    total=$(( ${#remote[@]} * nw * reps ))
    [ -n "$iperf3_server" ] && total=$((total + reps))
    echo "bench: $total steps, ${seconds} s each, against ${#remote[@]} remote target(s); no target CPU figures; results in $out"
    if [ -n "$iperf3_server" ]; then for rep in $(seq 1 "$reps"); do iperf_point "$iperf3_server"; done; fi
    names=() urls=() sizes=()
    i=0
    for t in "${remote[@]}"; do
        i=$((i + 1))
        if [[ $t == *=iscsi://* ]]; then names+=("${t%%=*}"); urls+=("${t#*=}"); else names+=("target$i"); urls+=("$t"); fi
        bs=$(lun_blocksize "${urls[-1]}")
        [ -n "$bs" ] || echo "bench: ${names[-1]} (${urls[-1]}) does not answer READ CAPACITY(16)" >&2
        sizes+=("$bs")
    done
    for rep in $(seq 1 "$reps"); do
        for w in "${workloads[@]}"; do
            for i in "${!names[@]}"; do
                run_point "${names[$i]}" remote "$w" "${urls[$i]}" "" "${sizes[$i]}"
            done
        done
    done
fi
elapsed=$(fcalc "$EPOCHREALTIME - $t_start")

# ---------------------------------------------------------------- results
echo
"$py" "$here/results.py" build "$out" --elapsed "$elapsed" --failures "$failures"
rc=$?
if [ $rc -ne 0 ]; then
    echo "bench: results.py failed (exit $rc); the raw records are in $out/raw" >&2
    exit 1
fi
[ "$measured" -gt 0 ] || { echo "bench: no point could be measured" >&2; exit 1; }
exit 0
