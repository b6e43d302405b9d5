#!/usr/bin/env bash
# Data-In by sendfile(2) from the page cache (vdisk_fileio, serve --sendfile-min), end to
# end: QEMU's iSCSI driver copies a LUN backed by a 24 MiB file of random bytes, held in
# the page cache, to a file (qemu-img convert, reads of up to 2 MiB):
#  - the copy is the backing file, byte for byte;
#  - with --sendfile-min 65536, serve sent with sendfile (strace, attached to it, counts
#    the calls);
#  - by default (sendfile off) and with --sendfile-min 0, serve makes no sendfile call
#    and the copy is the same.
# Usage: sendfile.sh ISCSILAB
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=$1
passed=0 failed=0
check() {
    if eval "$2"; then echo "ok: $1"; passed=$((passed + 1)); else echo "FAILED: $1"; failed=$((failed + 1)); fi
}
tmp=$(mktemp -d /tmp/iscsilab-sendfile-XXXXXX)
SERVE_PID= STRACE_PID=
cleanup() {
    [ -n "$STRACE_PID" ] && kill "$STRACE_PID" 2>/dev/null
    [ -n "$SERVE_PID" ] && kill -KILL "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
    rm -rf "$tmp" "${WORK:-/nonexistent-iscsilab}"
}
trap cleanup EXIT
export ISCSILAB_SOCKET=$tmp/mgmt.sock

head -c $((24 << 20)) /dev/urandom >"$tmp/backing.img"
cat "$tmp/backing.img" >/dev/null  # in the page cache
cat >"$tmp/sf.conf" <<CONF
HANDLER vdisk_fileio {
    DEVICE disk1 {
        filename $tmp/backing.img
    }
}
TARGET_DRIVER iscsi {
    enabled 1
    TARGET iqn.2026-11.org.iscsilab:sendfile {
        LUN 0 disk1
        enabled 1
    }
}
CONF

# One copy of the LUN with serve started with the given options; sets CALLS (sendfile
# calls strace saw) and leaves the copy in $tmp/copy-NAME.img.
copy_lun() { # name serve-options...
    local name=$1
    shift
    SERVE_ARGS=("$@")
    start_serve "$bin" "$tmp/sf.conf" || { check "$name: serve starts" false; return 1; }
    strace -f -qq -e trace=sendfile -e signal=none -o "$tmp/strace-$name" -p "$SERVE_PID" 2>"$tmp/strace-$name.err" &
    STRACE_PID=$!
    # strace says nothing once attached: wait until the tracer shows in serve's status.
    for _ in $(seq 1 50); do
        [ "$(awk '/^TracerPid/ {print $2}' "/proc/$SERVE_PID/status")" != 0 ] && break
        sleep 0.1
    done
    qemu-img convert -f raw -O raw "iscsi://$PORTAL/iqn.2026-11.org.iscsilab:sendfile/0" "$tmp/copy-$name.img" \
        >"$tmp/qemu-$name.log" 2>&1
    local rc=$?
    kill "$STRACE_PID" 2>/dev/null
    wait "$STRACE_PID" 2>/dev/null
    STRACE_PID=
    check "$name: qemu-img convert read the LUN (exit $rc)" '[ "$rc" -eq 0 ]' || cat "$tmp/qemu-$name.log"
    check "$name: serve stops cleanly" 'stop_serve'
    SERVE_PID=
    CALLS=$(grep -c 'sendfile(' "$tmp/strace-$name" 2>/dev/null || true)
    [ -n "$CALLS" ] || CALLS=0
    return 0
}

if ! command -v strace >/dev/null; then
    check "strace is available (hil/setup.sh installs it)" false
else
    # cachestat(2), which tells serve the pages are all cached, came with Linux 6.5: before
    # it every read is made into memory, and the check is that none leaves by sendfile.
    kernel=$(uname -r | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
    has_cachestat=1
    [ "$(printf '%s\n6.5\n' "$kernel" | sort -V | head -1)" = 6.5 ] || has_cachestat=0
    copy_lun on --sendfile-min 65536 && {
        check "--sendfile-min 65536: the copy is the backing file, byte for byte" \
            'cmp -s "$tmp/backing.img" "$tmp/copy-on.img"'
        if [ "$has_cachestat" = 1 ]; then
            check "--sendfile-min 65536: serve sent Data-In with sendfile ($CALLS calls)" '[ "$CALLS" -gt 0 ]'
        else
            check "--sendfile-min 65536 on Linux $kernel (no cachestat): no sendfile call ($CALLS)" '[ "$CALLS" -eq 0 ]'
        fi
    }
    copy_lun default && {
        check "default: the copy is the backing file, byte for byte" 'cmp -s "$tmp/backing.img" "$tmp/copy-default.img"'
        check "default: no sendfile call ($CALLS)" '[ "$CALLS" -eq 0 ]'
    }
    copy_lun never --sendfile-min 0 && {
        check "--sendfile-min 0: the copy is the backing file, byte for byte" \
            'cmp -s "$tmp/backing.img" "$tmp/copy-never.img"'
        check "--sendfile-min 0: no sendfile call ($CALLS)" '[ "$CALLS" -eq 0 ]'
    }
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
