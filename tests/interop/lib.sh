# Shared by the interop tests: start `iscsilab serve` on a free loopback port and stop it.
# Usage: start_serve BINARY CONFIG_OR_EMPTY; sets SERVE_PID and PORTAL.
set -u

start_serve() {
    local bin=$1 conf=$2
    WORK=$(mktemp -d /tmp/iscsilab-interop-XXXXXX)
    local args=(serve --listen 127.0.0.1:0 --ready-file "$WORK/ready" --state-dir "$WORK/state")
    [ -n "$conf" ] && args+=(-c "$conf")
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
