#!/usr/bin/env bash
# vdisk_blockio on a real block device: a 64 MiB file behind a loop device, served by
# `iscsilab serve` with O_DIRECT through io_uring (hil/uring_store.hpp).
#  - the device is held open with O_DIRECT, and the iscsi-test-cu families of
#    iscsi_test_cu.sh pass against it with no failure; serve then stops cleanly;
#  - a blocksize below the device's logical block size is refused, naming both;
#  - FUA and SYNCHRONIZE CACHE: pattern A written with WRITE(16) FUA=1, pattern B with a
#    plain WRITE(16), then SYNCHRONIZE CACHE(10), all GOOD; serve is killed with SIGKILL
#    (no chance to flush anything of its own), the loop device detached, and the backing
#    file read with O_DIRECT holds A and B. The same on a plain file with vdisk_blockio
#    and with vdisk_fileio o_direct=1.
# Needs root (losetup). Usage: blockio.sh ISCSILAB WRITE_TOOL
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=$1 tool=$2
passed=0 failed=0
check() {
    if eval "$2"; then echo "ok: $1"; passed=$((passed + 1)); else echo "FAILED: $1"; failed=$((failed + 1)); fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

tmp=$(mktemp -d /tmp/iscsilab-blockio-XXXXXX)
loops=()
SERVE_PID=
cleanup() {
    [ -n "$SERVE_PID" ] && kill -KILL "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
    rm -rf "$tmp" "${WORK:-/nonexistent-iscsilab}"
}
trap cleanup EXIT
export ISCSILAB_SOCKET=$tmp/mgmt.sock

# Not a skip: without loop devices this test cannot say anything, and says so.
if [ "$(id -u)" -ne 0 ] || ! command -v losetup >/dev/null; then
    check "root and losetup are available (uid $(id -u), losetup: $(command -v losetup || echo none))" false
    finish
fi
new_loop() {  # new_loop VAR FILE [losetup args]: attaches FILE, its device in VAR
    local dev
    dev=$(losetup --find --show "${@:3}" "$2") || return 1
    loops+=("$dev")
    printf -v "$1" %s "$dev"
}
detach_loop() {
    losetup -d "$1" || return 1
    local keep=()
    for l in "${loops[@]}"; do [ "$l" != "$1" ] && keep+=("$l"); done
    loops=("${keep[@]}")
}
conf() {  # conf HANDLER FILENAME [ATTR VALUE]...: one device as LUN 0 of one target
    local handler=$1 file=$2
    shift 2
    echo "HANDLER $handler {"
    echo "    DEVICE disk1 {"
    echo "        filename $file"
    while [ $# -ge 2 ]; do echo "        $1 $2"; shift 2; done
    echo "    }"
    echo "}"
    echo "TARGET_DRIVER iscsi {"
    echo "    enabled 1"
    echo "    TARGET iqn.2026-11.org.iscsilab:blockio {"
    echo "        LUN 0 disk1"
    echo "        enabled 1"
    echo "    }"
    echo "}"
}
# Whether the running serve holds PATH open with O_DIRECT (octal 040000 in fdinfo's flags).
opened_direct() {
    local fd target flags
    for fd in /proc/"$SERVE_PID"/fd/*; do
        target=$(readlink "$fd") || continue
        [ "$target" = "$1" ] || continue
        flags=$(awk '/^flags:/ {print $2}' /proc/"$SERVE_PID"/fdinfo/"${fd##*/}")
        [ $((8#$flags & 8#040000)) -ne 0 ] && return 0
    done
    return 1
}

truncate -s 64M "$tmp/backing.img"
loop=
new_loop loop "$tmp/backing.img"
check "losetup attached the 64 MiB backing file ($loop)" '[ -b "$loop" ]'
[ -b "$loop" ] || finish

# ---- iscsi-test-cu against vdisk_blockio on the loop device ----
# The families and allowed skips of iscsi_test_cu.sh, read from it so that both run the same.
families=${ISCSILAB_CU_FAMILIES:-$(awk '/^families=/ {on = 1; sub(/^[^"]*"/, "")}
    on {line = $0; if (sub(/"}$/, "", line)) {print line; exit} print line}' "$here/iscsi_test_cu.sh")}
eval "$(grep '^allowed_skips=' "$here/iscsi_test_cu.sh")"
check "the iscsi-test-cu families of iscsi_test_cu.sh were found ($(echo $families | wc -w))" \
    '[ "$(echo $families | wc -w)" -ge 20 ] && [ -n "${allowed_skips:-}" ]'

conf vdisk_blockio "$loop" >"$tmp/cu.conf"
start_serve "$bin" "$tmp/cu.conf" || { check "serve starts with vdisk_blockio on $loop" false; finish; }
check "serve holds $loop open with O_DIRECT" 'opened_direct "$loop"'
check "the LUN is served by vdisk_blockio" 'grep -q "disk1 (64 MiB, vdisk_blockio)" "$WORK/serve.out"'
url="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:blockio/0"
cu_ok=0 families_failed=0 cu_tests=0
for f in $families; do
    if run_cu_family "$url" "$f" "$tmp" "$allowed_skips"; then
        cu_ok=$((cu_ok + 1))
        echo "  PASS $f: $cu_passed/$cu_total tests"
    else
        families_failed=$((families_failed + 1))
        echo "  FAIL $f: rc=$cu_rc row='$cu_row'"
        [ -n "$cu_skips" ] && echo "    unexpected skips: $cu_skips"
        grep -E 'FAILED|CU_ASSERT|CU_FAIL' "$tmp/$f.log" | head -20 | sed 's/^/    /'
    fi
    cu_tests=$((cu_tests + ${cu_ran:-0}))
done
echo "iscsi-test-cu on vdisk_blockio: $cu_tests tests in $((cu_ok + families_failed)) families, $cu_ok passed, $families_failed failed"
check "iscsi-test-cu on vdisk_blockio ($loop): every family passed" '[ "$families_failed" -eq 0 ] && [ "$cu_ok" -gt 0 ]'
check "serve stops cleanly (every request drained)" 'stop_serve'
SERVE_PID=
rm -rf "$WORK"

# ---- a blocksize the device cannot do alone ----
truncate -s 16M "$tmp/4k.img"
loop4k=
new_loop loop4k "$tmp/4k.img" --sector-size 4096
conf vdisk_blockio "$loop4k" blocksize 512 >"$tmp/4k.conf"
"$bin" serve -c "$tmp/4k.conf" --listen 127.0.0.1:0 --state-dir none >"$tmp/4k.out" 2>"$tmp/4k.err"
rc=$?
check "blocksize 512 on a device of 4096-byte logical blocks is refused (exit $rc), naming both" \
    '[ "$rc" -ne 0 ] && grep -q "blocksize 512" "$tmp/4k.err" && grep -q "logical block size 4096" "$tmp/4k.err"'
detach_loop "$loop4k"

# ---- FUA and SYNCHRONIZE CACHE, then SIGKILL ----
A_LBA=2048 B_LBA=40000 BLOCKS=256 BS=512
fua_test() {  # fua_test NAME HANDLER FILENAME BACKING_FILE [ATTR VALUE]...
    local name=$1 handler=$2 file=$3 backing=$4
    shift 4
    conf "$handler" "$file" "$@" >"$tmp/fua.conf"
    start_serve "$bin" "$tmp/fua.conf" || { check "$name: serve starts" false; return; }
    check "$name: serve holds $file open with O_DIRECT" 'opened_direct "$file"'
    local u="iscsi://$PORTAL/iqn.2026-11.org.iscsilab:blockio/0" r
    r=$("$tool" "$u" write $A_LBA $BLOCKS 11 fua)
    check "$name: WRITE(16) FUA=1 of pattern A at LBA $A_LBA: $r" '[ "$r" = "status GOOD" ]'
    r=$("$tool" "$u" write $B_LBA $BLOCKS 22)
    check "$name: WRITE(16) of pattern B at LBA $B_LBA: $r" '[ "$r" = "status GOOD" ]'
    r=$("$tool" "$u" sync)
    check "$name: SYNCHRONIZE CACHE(10): $r" '[ "$r" = "status GOOD" ]'
    kill -KILL "$SERVE_PID"
    wait "$SERVE_PID" 2>/dev/null
    SERVE_PID=
    rm -rf "$WORK"
    [ "$file" != "$backing" ] && { check "$name: losetup -d $file" 'detach_loop "$file"'; }
    "$tool" pattern 11 $((BLOCKS * BS)) >"$tmp/A.expected"
    "$tool" pattern 22 $((BLOCKS * BS)) >"$tmp/B.expected"
    dd if="$backing" of="$tmp/A.read" iflag=direct bs=$BS skip=$A_LBA count=$BLOCKS status=none
    dd if="$backing" of="$tmp/B.read" iflag=direct bs=$BS skip=$B_LBA count=$BLOCKS status=none
    check "$name: after SIGKILL the backing file holds pattern A (FUA)" 'cmp -s "$tmp/A.expected" "$tmp/A.read"'
    check "$name: after SIGKILL the backing file holds pattern B (SYNCHRONIZE CACHE)" 'cmp -s "$tmp/B.expected" "$tmp/B.read"'
}
fua_test "blockio on $loop" vdisk_blockio "$loop" "$tmp/backing.img"
truncate -s 64M "$tmp/plain.img"
fua_test "blockio on a plain file" vdisk_blockio "$tmp/plain.img" "$tmp/plain.img"
truncate -s 64M "$tmp/odirect.img"
fua_test "fileio o_direct=1" vdisk_fileio "$tmp/odirect.img" "$tmp/odirect.img" o_direct 1
finish
