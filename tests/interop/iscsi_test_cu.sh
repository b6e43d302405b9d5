#!/usr/bin/env bash
# libiscsi's conformance suite (iscsi-test-cu --dataloss) against `iscsilab serve -c`
# with a 64 MiB vdisk_fileio LUN. Every family must pass with zero failures, and no
# test may be skipped except for features outside the target's command set.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=$1
families=${ISCSILAB_CU_FAMILIES:-"SCSI.Inquiry SCSI.ReadCapacity10 SCSI.ReadCapacity16 SCSI.Read6 SCSI.Read10
 SCSI.Read12 SCSI.Read16 SCSI.Write10 SCSI.Write12 SCSI.Write16 SCSI.TestUnitReady SCSI.Mandatory
 SCSI.ModeSense6 SCSI.Verify10 SCSI.Verify12 SCSI.Verify16 SCSI.WriteVerify10 SCSI.WriteVerify12
 SCSI.WriteVerify16 SCSI.ReportSupportedOpcodes iSCSI.iSCSIcmdsn iSCSI.iSCSIdatasn iSCSI.iSCSIResiduals
 iSCSI.iSCSITMF SCSI.Reserve6"}
# Skips that are about features the issue does not ask for (persistent reservations,
# thin provisioning).
allowed_skips='PERSISTENT RESERVE IN is not implemented|Logical unit is fully provisioned'

tmp=$(mktemp -d /tmp/iscsilab-cu-XXXXXX)
truncate -s 64M "$tmp/disk.img"
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
url="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:cu/0"
passed=0 failed=0 total_tests=0
for f in $families; do
    if run_cu_family "$url" "$f" "$tmp" "$allowed_skips"; then
        passed=$((passed + 1)); echo "PASS $f: $cu_passed/$cu_total tests"
    else
        failed=$((failed + 1)); echo "FAIL $f: rc=$cu_rc row='$cu_row'"
        [ -n "$cu_skips" ] && echo "  unexpected skips: $cu_skips"
        grep -E 'FAILED|CU_ASSERT|CU_FAIL' "$tmp/$f.log" | head -20 | sed 's/^/  /'
    fi
    total_tests=$((total_tests + ${cu_ran:-0}))
done
stop_serve || failed=$((failed + 1))
echo "iscsi-test-cu: $total_tests tests in $((passed + failed)) families"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && rm -rf "$tmp" "$WORK"
[ "$failed" -eq 0 ]
