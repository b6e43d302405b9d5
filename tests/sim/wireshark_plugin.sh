#!/usr/bin/env bash
# The fault records in a simulated capture, read by real tshark with our Wireshark
# plugin: one decoded record per fault the run reports, with its kind and text; no
# malformed frame; the iSCSI PDUs around them still decode. Without the plugin tshark
# knows no such protocol (the decoding is the plugin's doing).
# As root tshark ignores personal plugins, so it runs as nobody with a HOME of its own.
set -u
bin=$1
plugin=$2
suite=$3
D=$(mktemp -d /tmp/iscsilab-ws-XXXXXX)
chmod 755 "$D"
mkdir -p "$D/home/.local/lib/wireshark/plugins/4.0/epan" "$D/bare" "$D/pcap"
cp "$plugin" "$D/home/.local/lib/wireshark/plugins/4.0/epan/iscsilab.so"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }
as_nobody() {
    local home=$1; shift
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$home" "$@"
    else
        env HOME="$home" "$@"
    fi
}

"$bin" run "$suite/08-cold-reset-and-crash.yaml" "$suite/09-power-loss-write-back.yaml" --seed 4 --pcap "$D/pcap" >"$D/run.txt" || {
    echo "FAILED: the scenarios"; cat "$D/run.txt"; exit 1; }
chmod -R a+rX "$D"
for f in "$D"/pcap/*.pcap; do
    name=$(basename "$f" .pcap)
    scenario=${name%-seed4}
    want=$(grep -F " ${scenario/_//} " "$D/run.txt" | sed -nE 's/.* faults=([0-9]+).*/\1/p' | head -1)
    got=$(as_nobody "$D/home" tshark -r "$f" -Y iscsilab -T fields -e iscsilab.sequence 2>"$D/err" | wc -l)
    check "$name: $got fault records decoded, the run reported ${want:-?}" '[ -n "$want" ] && [ "$got" -eq "$want" ] && [ "$got" -gt 0 ]'
    texts=$(as_nobody "$D/home" tshark -r "$f" -Y iscsilab -T fields -e iscsilab.kind -e iscsilab.text 2>/dev/null)
    echo "$texts" | sed 's/^/    /'
    bad=$(as_nobody "$D/home" tshark -r "$f" -Y '_ws.malformed || _ws.expert.severity >= "error"' 2>/dev/null | wc -l)
    check "$name: no malformed frame or expert error" '[ "$bad" -eq 0 ]'
    pdus=$(as_nobody "$D/home" tshark -r "$f" -Y iscsi -T fields -e frame.number 2>/dev/null | wc -l)
    check "$name: $pdus frames with iSCSI PDUs still decode" '[ "$pdus" -gt 100 ]'
done
check "power loss records name their kind" 'as_nobody "$D/home" tshark -r "$D"/pcap/*power-loss*.pcap -Y "iscsilab.kind == 7" 2>/dev/null | grep -q "lost power"'
check "without the plugin tshark knows no iscsilab protocol" '! as_nobody "$D/bare" tshark -r "$D"/pcap/*power-loss*.pcap -Y iscsilab >/dev/null 2>&1'

[ $fail -eq 0 ] && rm -rf "$D"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
