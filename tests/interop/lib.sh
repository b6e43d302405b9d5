# Shared by the interop tests: start `iscsilab serve` on a free loopback port and stop it.
# Usage: start_serve BINARY CONFIG_OR_EMPTY; sets SERVE_PID and PORTAL.
set -u

start_serve() {
    local bin=$1 conf=$2
    WORK=$(mktemp -d /tmp/iscsilab-interop-XXXXXX)
    local args=(serve --listen 127.0.0.1:0 --ready-file "$WORK/ready" --state-dir "$WORK/state")
    [ -n "$conf" ] && args+=(-c "$conf")
    # SERVE_ARGS (an array, may be unset): more of serve's options.
    [ -n "${SERVE_ARGS+x}" ] && args+=("${SERVE_ARGS[@]}")
    "$bin" "${args[@]}" >"$WORK/serve.out" 2>"$WORK/serve.err" &
    SERVE_PID=$!
    for _ in $(seq 1 100); do
        [ -s "$WORK/ready" ] && break
        kill -0 "$SERVE_PID" 2>/dev/null || { echo "serve exited early:"; cat "$WORK/serve.err"; return 1; }
        sleep 0.1
    done
    [ -s "$WORK/ready" ] || { echo "serve did not start"; return 1; }
    PORTAL=$(cat "$WORK/ready")
}

stop_serve() {
    kill -TERM "$SERVE_PID" 2>/dev/null
    local rc=0
    wait "$SERVE_PID" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "serve exited with $rc; its log:"
        tail -50 "$WORK/serve.err"
        return 1
    fi
    return 0
}

# Runs one iscsi-test-cu family against URL, its log in DIR/FAMILY.log, and judges it:
# returns 0 when it ran tests, none failed, and nothing was skipped beyond the pattern
# ALLOWED_SKIPS. Leaves cu_rc, cu_row (CUnit's "tests" row), cu_total, cu_ran,
# cu_passed, cu_failed and cu_skips (unexpected skip lines) for the caller's report.
# RESERVE(6) tests need a second initiator (-I).
run_cu_family() {
    local url=$1 family=$2 dir=$3 allowed_skips=$4 out extra=() inactive
    out="$dir/$family.log"
    [ "$family" = SCSI.Reserve6 ] && extra=(-i iqn.2026-11.org.example:first -I iqn.2026-11.org.example:second)
    (cd "$dir" && timeout 600 iscsi-test-cu "${extra[@]}" --dataloss -t "$family" "$url" >"$out" 2>&1)
    cu_rc=$?
    cu_row=$(grep -E '^ +tests ' "$out" | tail -1)
    read -r _ cu_total cu_ran cu_passed cu_failed inactive <<<"$cu_row"
    cu_skips=$(grep -o '\[SKIPPED\].*' "$out" | grep -Ev "$allowed_skips" || true)
    [ "$cu_rc" -eq 0 ] && [ -n "$cu_row" ] && [ "${cu_failed:-1}" = 0 ] && [ "${cu_ran:-0}" -gt 0 ] && [ -z "$cu_skips" ]
}
