#!/usr/bin/env bash
# Side-by-side benchmark on loopback: libiscsi's iscsi-perf against `iscsilab serve` and
# against Debian's tgtd, same machine, same run, same kind of backing file.
#   4 KiB random reads at 32 outstanding, 128 KiB sequential reads at 16 outstanding.
# Prints each figure and the ratio iscsilab/tgtd. Not a test: no threshold.
# Usage: hil/bench/perf_vs_tgtd.sh [BINARY] [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/iscsilab}
secs=${2:-10}
[ -x "$bin" ] || { echo "no $bin: build first (hil/setup.sh)"; exit 2; }
command -v tgtd >/dev/null || { echo "tgtd missing: apt-get install tgt"; exit 2; }

work=$(mktemp -d /tmp/iscsilab-bench-XXXXXX)
size_mb=512
echo "bench: preparing two ${size_mb} MiB backing files with data"
dd if=/dev/urandom of="$work/a.img" bs=1M count=$size_mb status=none
cp "$work/a.img" "$work/b.img"

port_ours=3271 port_tgt=3272 ctl=7
cat >"$work/bench.conf" <<CONF
HANDLER vdisk_fileio {
    DEVICE bench0 {
        filename $work/a.img
    }
}
TARGET_DRIVER iscsi {
    enabled 1
    TARGET iqn.2026-11.org.iscsilab:bench {
        LUN 0 bench0
        enabled 1
    }
}
CONF

cleanup() {
    [ -n "${ours_pid:-}" ] && kill -TERM "$ours_pid" 2>/dev/null && wait "$ours_pid" 2>/dev/null
    tgtadm -C $ctl --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1
    tgtadm -C $ctl --op delete --mode system >/dev/null 2>&1
    [ -n "${tgt_pid:-}" ] && { sleep 0.5; kill -KILL "$tgt_pid" 2>/dev/null; }
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" serve -q -c "$work/bench.conf" --listen 127.0.0.1:$port_ours --ready-file "$work/ready" --state-dir "$work/state" >"$work/ours.log" 2>&1 &
ours_pid=$!
for _ in $(seq 50); do [ -s "$work/ready" ] && break; sleep 0.1; done

tgtd -f -C $ctl --iscsi portal=127.0.0.1:$port_tgt >"$work/tgtd.log" 2>&1 &
tgt_pid=$!
sleep 1
tgtadm -C $ctl --lld iscsi --op new --mode target --tid 1 -T iqn.2026-11.org.iscsilab:tgtd-baseline
tgtadm -C $ctl --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$work/b.img"
tgtadm -C $ctl --lld iscsi --op bind --mode target --tid 1 -I ALL

# Runs iscsi-perf for $secs seconds; prints "IOPS MBps" from its last average.
perf() {
    local url=$1; shift
    local out
    out=$(timeout -s INT "$secs" iscsi-perf "$@" "$url" 2>&1 | tr '\r' '\n' | grep -o 'iops average [0-9]* ([0-9]* MB/s)' | tail -1)
    [ -n "$out" ] || { echo "0 0"; return; }
    sed -E 's/iops average ([0-9]+) \(([0-9]+) MB\/s\)/\1 \2/' <<<"$out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

ours_url="iscsi://127.0.0.1:$port_ours/iqn.2026-11.org.iscsilab:bench/0"
tgt_url="iscsi://127.0.0.1:$port_tgt/iqn.2026-11.org.iscsilab:tgtd-baseline/1"

echo "bench: 4 KiB random reads, 32 outstanding, ${secs} s each"
read -r r_ours_iops r_ours_mb < <(perf "$ours_url" -m 32 -b 8 -r)
read -r r_tgt_iops r_tgt_mb < <(perf "$tgt_url" -m 32 -b 8 -r)
echo "  iscsilab: $r_ours_iops IOPS"
echo "  tgtd:     $r_tgt_iops IOPS"
echo "  ratio iscsilab/tgtd: $(ratio "$r_ours_iops" "$r_tgt_iops")"

echo "bench: 128 KiB sequential reads, 16 outstanding, ${secs} s each"
read -r s_ours_iops s_ours_mb < <(perf "$ours_url" -m 16 -b 256)
read -r s_tgt_iops s_tgt_mb < <(perf "$tgt_url" -m 16 -b 256)
echo "  iscsilab: $s_ours_mb MB/s"
echo "  tgtd:     $s_tgt_mb MB/s"
echo "  ratio iscsilab/tgtd: $(ratio "$s_ours_mb" "$s_tgt_mb")"

echo "bench summary: 4k-rand-read ${r_ours_iops}/${r_tgt_iops} IOPS ($(ratio "$r_ours_iops" "$r_tgt_iops")x), 128k-seq-read ${s_ours_mb}/${s_tgt_mb} MB/s ($(ratio "$s_ours_mb" "$s_tgt_mb")x) iscsilab/tgtd"
