#!/usr/bin/env bash
# The wire checker on a real capture: dumpcap records loopback while libiscsi's
# iscsi-test-cu runs its core families against `iscsilab serve` (or, with `tgtd` as the
# second argument, against Debian's tgtd, the baseline target), then `iscsilab check`
# judges every PDU. Against iscsilab the target must show no violation (libiscsi breaks
# rules on purpose in some tests: those count as the initiator's deviations). Against
# tgtd the findings are printed, not asserted.
# Usage: capture_check.sh ISCSILAB [tgtd]
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=$1
peer=${2:-iscsilab}
families="SCSI.Inquiry SCSI.ReadCapacity16 SCSI.Read10 SCSI.Write10 SCSI.Write16 SCSI.TestUnitReady SCSI.Verify16
 SCSI.WriteVerify16 iSCSI.iSCSIcmdsn iSCSI.iSCSIdatasn iSCSI.iSCSIResiduals iSCSI.iSCSITMF"
tmp=$(mktemp -d /tmp/iscsilab-capcheck-XXXXXX)
truncate -s 64M "$tmp/disk.img"
if [ "$peer" = tgtd ]; then
    port=3262
    ctl=$((RANDOM % 1000 + 100))
    tgtd -f -C "$ctl" --iscsi portal=127.0.0.1:$port >"$tmp/tgtd.log" 2>&1 &
    tgt_pid=$!
    sleep 1
    tgtadm -C "$ctl" --lld iscsi --op new --mode target --tid 1 -T iqn.2026-11.org.iscsilab:cu
    tgtadm -C "$ctl" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$tmp/disk.img"
    tgtadm -C "$ctl" --lld iscsi --op bind --mode target --tid 1 -I ALL
    url="iscsi://127.0.0.1:$port/iqn.2026-11.org.iscsilab:cu/1"
else
    cat >"$tmp/cu.conf" <<CONF
HANDLER vdisk_fileio {
    DEVICE disk1 {
        filename $tmp/disk.img
    }
}
TARGET_DRIVER iscsi {
    enabled 1
    TARGET iqn.2026-11.org.iscsilab:cu {
        LUN 0 disk1
        enabled 1
    }
}
CONF
    start_serve "$bin" "$tmp/cu.conf" || exit 1
    port=${PORTAL##*:}
    url="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:cu/0"
fi
# A large buffer: loopback runs fast, and a dropped packet leaves a connection unjudged.
dumpcap -q -B 512 -i lo -f "tcp port $port" -w "$tmp/cu.pcap" >"$tmp/dumpcap.log" 2>&1 &
cap_pid=$!
# dumpcap names its file once the interface is open: before that, a connection would be
# captured from its middle (a loaded machine has taken more than a second).
for _ in $(seq 1 300); do
    grep -q '^File: ' "$tmp/dumpcap.log" 2>/dev/null && break
    kill -0 $cap_pid 2>/dev/null || { echo "dumpcap exited: $(cat "$tmp/dumpcap.log")"; exit 1; }
    sleep 0.1
done
grep -q '^File: ' "$tmp/dumpcap.log" || { echo "dumpcap did not start capturing within 30 s"; kill $cap_pid; exit 1; }
for f in $families; do
    (cd "$tmp" && timeout 600 iscsi-test-cu --dataloss -t "$f" "$url" >"$tmp/$f.log" 2>&1)
    echo "iscsi-test-cu $f: $(grep -E '^ +tests ' "$tmp/$f.log" | tail -1 | sed 's/  */ /g')"
done
sleep 1
kill -INT $cap_pid; wait $cap_pid 2>/dev/null
if [ "$peer" = tgtd ]; then
    tgtadm -C "$ctl" --op delete --mode target --tid 1 --force >/dev/null 2>&1
    tgtadm -C "$ctl" --op delete --mode system >/dev/null 2>&1
    wait $tgt_pid 2>/dev/null
else
    stop_serve
fi
"$bin" check "$tmp/cu.pcap" --port "$port" --rules >"$tmp/check.txt"
rc=$?
grep -v '^rule ' "$tmp/check.txt" | head -200
grep -h "dropped" "$tmp/dumpcap.log" 
echo "rules with verdicts:"; grep '^rule ' "$tmp/check.txt" | awk '$5 > 0 || $7 > 0' | sed 's/^/  /'
if [ "$peer" = tgtd ]; then
    echo "tgtd capture judged (exit $rc); kept at $tmp/cu.pcap"
    exit 0
fi
if [ "$rc" -eq 0 ] && grep -q "0 violations by the target" "$tmp/check.txt"; then
    echo "1 passed, 0 failed"
    rm -rf "$tmp" "$WORK"
    exit 0
fi
echo "FAILED: the checker found violations by the target (exit $rc); capture at $tmp/cu.pcap"
echo "0 passed, 1 failed"
exit 1
