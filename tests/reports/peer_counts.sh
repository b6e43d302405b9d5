#!/usr/bin/env bash
# The peer-suite figures of the report equal a direct iscsi-test-cu run counted the same
# way: a test is skipped when a [SKIPPED] line falls between its "Test: NAME ..." and
# the passed/FAILED that closes it (libiscsi reports skips to CUnit as passes), counted
# here by an awk script of its own. The same families, against the same devices as the
# peer suite's LUN 0 (a 256 MiB thin-provisioned vdisk_fileio LUN, with a second path
# through another target), through `iscsilab peer-suite` and `iscsilab report --from`.
# Usage: peer_counts.sh ISCSILAB
set -u
here=$(cd "$(dirname "$0")/../interop" && pwd)
. "$here/lib.sh"
bin=$1
families=${ISCSILAB_PEER_FAMILIES:-"SCSI.Inquiry,SCSI.ReadCapacity16,SCSI.Unmap,SCSI.WriteSame16,iSCSI.iSCSIcmdsn,SCSI.Reserve6"}
D=$(mktemp -d /tmp/iscsilab-peercount-XXXXXX)
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }
truncate -s 256M "$D/disk0.img"
cat >"$D/c.conf" <<CONF
HANDLER vdisk_fileio {
    DEVICE disk0 {
        filename $D/disk0.img
        thin_provisioned 1
    }
}
TARGET_DRIVER iscsi {
    enabled 1
    TARGET iqn.2026-11.org.iscsilab:peer {
        LUN 0 disk0
        enabled 1
    }
    TARGET iqn.2026-11.org.iscsilab:peer-path2 {
        LUN 0 disk0
        enabled 1
    }
}
CONF
start_serve "$bin" "$D/c.conf" || exit 1
(cd "$D" && timeout 600 iscsi-test-cu --dataloss -i iqn.2026-11.org.iscsilab:peer-a -I iqn.2026-11.org.iscsilab:peer-b \
    -t "$families" "iscsi://$PORTAL/iqn.2026-11.org.iscsilab:peer/0" "iscsi://$PORTAL/iqn.2026-11.org.iscsilab:peer-path2/0" \
    >"$D/direct.log" 2>&1)
stop_serve || fail=1
read -r d_pass d_skip d_fail < <(awk '
    function close_test(outcome) { if (outcome == "passed") { if (skipped) s++; else p++ } else f++; intest = 0 }
    {
        line = $0
        if (match(line, /^ +Test: [^ ]+ \.\.\./)) { intest = 1; skipped = 0; line = substr(line, RLENGTH + 1) }
        if (!intest) next
        if (line ~ /^ *passed/) { close_test("passed"); next }
        if (line ~ /^ *FAILED/) { close_test("failed"); next }
        if (line ~ /\[SKIPPED\]/) skipped = 1
        if (line ~ /passed$/) { close_test("passed"); next }
        if (line ~ /FAILED$/) { close_test("failed"); next }
    }
    END { if (intest) f++; print p + 0, s + 0, f + 0 }' "$D/direct.log")
cunit=$(grep -E '^ +tests ' "$D/direct.log" | tail -1 | awk '{print $2}')
echo "direct iscsi-test-cu: $d_pass passed, $d_skip skipped, $d_fail failed (CUnit ran $cunit)"
check "the direct run's counts cover every test CUnit ran" '[ $((d_pass + d_skip + d_fail)) -eq "${cunit:-0}" ]'
check "the families include skips (else the test proves little)" '[ "$d_skip" -gt 0 ] && [ "$d_pass" -gt 0 ]'

"$bin" peer-suite --tests "$families" --results "$D/peer.json" | sed 's/^/    /'
"$bin" report --from "$D/peer.json" --out "$D/report" >"$D/report.txt" 2>&1
tail -1 "$D/report.txt" | sed 's/^/    /'
read -r r_pass r_skip r_fail r_total < <(python3 -c "
import json,sys; p=json.load(open(sys.argv[1]))['report']['summary']['peer']; print(p['passed'], p['skipped'], p['failed'], p['total'])" "$D/report/results.json")
check "the report's peer figures ($r_pass passed, $r_skip skipped, $r_fail failed) equal the direct run's" \
    '[ "$r_pass" = "$d_pass" ] && [ "$r_skip" = "$d_skip" ] && [ "$r_fail" = "$d_fail" ]'
page=$(grep -o 'id="fig-peer-skipped">[0-9]*' "$D/report/index.html" | grep -o '[0-9]*$')
check "index.html shows the same skipped count ($page)" '[ "$page" = "$d_skip" ]'

[ $fail -eq 0 ] && rm -rf "$D" "$WORK"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
