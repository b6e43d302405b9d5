#!/usr/bin/env bash
# Persistent reservations with APTPL survive a restart of `iscsilab serve` (SPC-4 §5.13.5,
# as SCST keeps them in /var/lib/scst/pr): a registration and a Write Exclusive
# reservation made through iSCSI are there after the restart, and still bar another
# initiator's writes. Registrations made without APTPL do not survive, and a serve with
# no state directory refuses APTPL.
# Usage: pr_aptpl.sh ISCSILAB PR_TOOL
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$1 tool=$2
D=$(mktemp -d /tmp/iscsilab-aptpl-XXXXXX)
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }
truncate -s 16M "$D/a.img" "$D/b.img"
cat >"$D/c.conf" <<CONF
HANDLER vdisk_fileio {
    DEVICE pa {
        filename $D/a.img
    }
    DEVICE pb {
        filename $D/b.img
    }
}
TARGET_DRIVER iscsi {
    enabled 1
    TARGET iqn.2026-11.org.iscsilab:aptpl {
        LUN 0 pa
        LUN 1 pb
        enabled 1
    }
}
CONF
serve_pid=
start() {  # start STATE_DIR
    rm -f "$D/ready"
    "$bin" serve -q -c "$D/c.conf" --listen 127.0.0.1:0 --ready-file "$D/ready" --state-dir "$1" \
        --mgmt-socket "$D/mgmt.sock" >>"$D/serve.log" 2>&1 &
    serve_pid=$!
    for _ in $(seq 1 100); do [ -s "$D/ready" ] && break; sleep 0.1; done
    PORTAL=$(cat "$D/ready")
}
stop() {
    kill -TERM "$serve_pid" 2>/dev/null
    wait "$serve_pid" 2>/dev/null
}
trap 'kill -KILL $serve_pid 2>/dev/null; rm -rf "$D"' EXIT
A=iqn.2026-11.org.example:host-a
B=iqn.2026-11.org.example:host-b

start "$D/state"
url0="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:aptpl/0"
url1="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:aptpl/1"
r1=$("$tool" "$url0" "$A" register 0xabc123 aptpl)
r2=$("$tool" "$url0" "$A" reserve 0xabc123 1)
r3=$("$tool" "$url1" "$A" register 0x777)
check "REGISTER with APTPL answered GOOD ($r1)" '[ "$r1" = "status GOOD" ]'
check "RESERVE Write Exclusive answered GOOD ($r2)" '[ "$r2" = "status GOOD" ]'
check "REGISTER without APTPL answered GOOD ($r3)" '[ "$r3" = "status GOOD" ]'
check "the state file of pa was written" '[ -s "$D/state/pr/pa" ]'
check "no state file for pb (APTPL 0)" '[ ! -e "$D/state/pr/pb" ]'
stop

start "$D/state"
url0="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:aptpl/0"
url1="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:aptpl/1"
show=$("$tool" "$url0" "$B" show)
echo "$show" | sed 's/^/    after restart, pa: /'
check "the APTPL registration survived the restart" 'echo "$show" | grep -q "^keys 0xabc123$"'
check "the Write Exclusive reservation survived the restart" 'echo "$show" | grep -q "^reservation 0xabc123 type 1$"'
wb=$("$tool" "$url0" "$B" write 8)
check "another initiator's WRITE is refused after the restart ($wb)" '[ "$wb" = "status RESERVATION_CONFLICT" ]'
wa=$("$tool" "$url0" "$A" write 8)
check "the holder still writes after the restart ($wa)" '[ "$wa" = "status GOOD" ]'
show1=$("$tool" "$url1" "$B" show)
check "the registration without APTPL is gone ($show1)" 'echo "$show1" | grep -q "^keys$"'
stop

start none
url1="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:aptpl/1"
r4=$("$tool" "$url1" "$A" register 0x55 aptpl)
check "with no state directory, APTPL is refused ($r4)" 'echo "$r4" | grep -q "CHECK_CONDITION sense ILLEGAL_REQUEST ascq 0x2600"'
stop

[ "$fail" -eq 0 ] && echo "pr_aptpl: passed" || { echo "pr_aptpl: FAILED; serve log:"; tail -20 "$D/serve.log"; }
[ "$fail" -eq 0 ]
