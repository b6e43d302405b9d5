#!/usr/bin/env bash
# `iscsilab serve` with no configuration: libiscsi's iscsi-ls finds the target and its
# LUN, iscsi-inq gets an answer, and the program says how to reach it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=$1
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }

start_serve "$bin" "" || exit 1
iqn=iqn.2026-11.org.iscsilab:default
ls_out=$(iscsi-ls -s "iscsi://$PORTAL/" 2>&1); ls_rc=$?
echo "$ls_out"
check "iscsi-ls exits 0" '[ $ls_rc -eq 0 ]'
check "iscsi-ls lists the default target" 'grep -q "Target:$iqn Portal:$PORTAL,1" <<<"$ls_out"'
check "iscsi-ls lists LUN 0 as a 1 GiB disk" 'grep -Eq "Lun:0 +Type:DIRECT_ACCESS \(Size:1023M\)" <<<"$ls_out"'
inq_out=$(iscsi-inq "iscsi://$PORTAL/$iqn/0" 2>&1); inq_rc=$?
check "iscsi-inq exits 0" '[ $inq_rc -eq 0 ]'
check "iscsi-inq shows our vendor" 'grep -q "Vendor:ISCSILAB" <<<"$inq_out"'
vpd=$(iscsi-inq -e 1 -c 0x80 "iscsi://$PORTAL/$iqn/0" 2>&1)
check "iscsi-inq reads the unit serial number page" 'grep -qi "serial" <<<"$vpd"'
bad=$(iscsi-inq "iscsi://$PORTAL/iqn.2026-11.org.iscsilab:nosuch/0" 2>&1); bad_rc=$?
check "a login to a missing target fails" '[ $bad_rc -ne 0 ]'
check "the banner says how to reach the target" 'grep -q "iscsi-ls -s iscsi://$PORTAL/" "$WORK/serve.out"'
stop_serve || fail=1
check "serve ends with a one-line summary" 'grep -q "connections accepted" "$WORK/serve.out"'
rm -rf "$WORK"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
