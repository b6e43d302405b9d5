#!/usr/bin/env bash
# Wireshark's own iSCSI dissector reads every smoke pcap: at least one decoded iSCSI PDU
# per PDU the simulation sent, no malformed packet, no expert warning or error.
set -u
bin=$1
suite=$2
command -v tshark >/dev/null || { echo "FAILED: tshark is not installed"; exit 1; }
tmp=$(mktemp -d /tmp/iscsilab-tshark-XXXXXX)
"$bin" run "$suite" --seed 3 --pcap "$tmp" >"$tmp/run.txt" || { echo "FAILED: the suite failed"; cat "$tmp/run.txt"; exit 1; }
fail=0 checked=0
while read -r name pdus; do
    f="$tmp/${name//\//_}-seed3.pcap"
    [ -f "$f" ] || { echo "FAILED: no pcap for $name"; fail=1; continue; }
    decoded=$(tshark -r "$f" -Y iscsi -T fields -e iscsi.opcode 2>/dev/null | tr ',' '\n' | grep -c .)
    bad=$(tshark -r "$f" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null | wc -l)
    checked=$((checked + 1))
    if [ "$decoded" -ge "$pdus" ] && [ "$bad" -eq 0 ]; then
        echo "ok: $name: $decoded iSCSI PDUs decoded for $pdus sent, nothing malformed"
    else
        echo "FAILED: $name: $decoded decoded for $pdus sent, $bad malformed or warned frames"
        tshark -r "$f" -Y '_ws.malformed || _ws.expert.severity >= warning' 2>/dev/null | head -5
        fail=1
    fi
done < <(grep -E '^\[[0-9]+/[0-9]+\] PASS' "$tmp/run.txt" | sed -E 's/.*PASS +([^ ]+) .* pdus=([0-9]+).*/\1 \2/')
[ "$checked" -ge 12 ] || { echo "FAILED: only $checked pcaps checked"; fail=1; }
rm -rf "$tmp"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
