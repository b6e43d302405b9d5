#!/usr/bin/env bash
# `iscsilab check` on captures: a capture whose target breaks three rules on purpose
# (tests/support/bad_capture.cpp) gives exit 1 and names each rule's id; its annotated
# copy carries the verdicts as violation records that tshark with our plugin decodes
# (filter iscsilab.violation); input that is not a capture, or holds no iSCSI, exits 2
# with a one-line reason; a capture cut off mid-PDU is checked up to the cut and says so.
# Usage: check_cli.sh ISCSILAB BAD_CAPTURE PLUGIN SMOKE_SUITE
set -u
bin=$1
bad_capture=$2
plugin=$3
suite=$4
D=$(mktemp -d /tmp/iscsilab-check-XXXXXX)
chmod 755 "$D"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fail=1; fi; }
as_nobody() {
    local home=$1; shift
    if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$home" "$@"; else env HOME="$home" "$@"; fi
}
# Each break is judged under every catalogue id that states it (the RFC says some twice).
want_ids="3720-10.17-reject-itt-reserved 3720-10.4-statsn-advances-per-status 3720-10.7-datasn-starts-at-zero 3720-3.2-datain-datasn-from-zero 3720-3.2-statsn-per-connection"

"$bad_capture" "$D/bad.pcap"
"$bin" check "$D/bad.pcap" --annotate "$D/annotated.pcap" >"$D/out.txt" 2>&1
rc=$?
cat "$D/out.txt" | sed 's/^/    /'
check "a capture with three target violations exits 1 (got $rc)" '[ $rc -eq 1 ]'
got_ids=$(sed -nE 's/^VIOLATION ([^ ]+) .*/\1/p' "$D/out.txt" | sort -u | tr '\n' ' ' | sed 's/ $//')
check "the violations name the rules broken ($got_ids)" '[ "$got_ids" = "$want_ids" ]'
check "each violation names its connection, PDU index and frame" 'grep -qE "^VIOLATION .* connection 0 \(192.0.2.10:40000 -> 192.0.2.1:3260\) PDU #[0-9]+ t=[0-9.]+ s frame [0-9]+" "$D/out.txt"'
check "the summary line counts them" 'tail -1 "$D/out.txt" | grep -q "5 violations by the target, 0 by the initiator"'

# The annotated copy, read by real tshark with our plugin (as nobody: root ignores
# personal plugins).
mkdir -p "$D/home/.local/lib/wireshark/plugins/4.0/epan"
cp "$plugin" "$D/home/.local/lib/wireshark/plugins/4.0/epan/iscsilab.so"
chmod -R a+rX "$D"
ws_ids=$(as_nobody "$D/home" tshark -r "$D/annotated.pcap" -Y iscsilab.violation -T fields -e iscsilab.violation.id 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ $//')
check "tshark with the plugin shows the violation records ($ws_ids)" '[ "$ws_ids" = "$want_ids" ]'
text=$(as_nobody "$D/home" tshark -r "$D/annotated.pcap" -Y 'iscsilab.violation.id == "3720-3.2-datain-datasn-from-zero"' -T fields -e iscsilab.violation.text 2>/dev/null)
check "a record says what broke the rule ($text)" 'echo "$text" | grep -q "DataSN 1 where 0 was next"'
# Each record follows the frame that completed the offending PDU.
pairs=$(as_nobody "$D/home" tshark -r "$D/annotated.pcap" -T fields -e frame.number -e iscsi.opcode -e iscsilab.violation.id 2>/dev/null |
        awk -F'\t' '$3!="" {print prev_op "->" $3} {prev_op=$2}' | sort | tr '\n' ' ')
check "each record comes right after its PDU ($pairs)" 'echo "$pairs" | grep -q "0x25->3720-3.2-datain-datasn-from-zero" && echo "$pairs" | grep -q "0x21->3720-3.2-statsn-per-connection"'
orig=$(tshark -r "$D/bad.pcap" 2>/dev/null | wc -l); copy=$(tshark -r "$D/annotated.pcap" 2>/dev/null | wc -l)
check "the copy holds every original frame plus the five records ($orig + 5 = $copy)" '[ $((orig + 5)) -eq "$copy" ]'
check "without the plugin tshark knows no iscsilab.violation field" '! as_nobody "$D" tshark -r "$D/annotated.pcap" -Y iscsilab.violation >/dev/null 2>&1'

# Unusable input: exit 2 and one line saying why.
echo "this is not a capture" >"$D/text.pcap"
"$bin" check "$D/text.pcap" >"$D/o1" 2>"$D/e1"; rc=$?
check "a file that is not a pcap exits 2 with one line ($(cat "$D/e1"))" '[ $rc -eq 2 ] && [ "$(wc -l <"$D/e1")" -eq 1 ] && grep -q "not a readable capture" "$D/e1"'
"$bin" check "$D/bad.pcap" --port 9999 >"$D/o2" 2>"$D/e2"; rc=$?
check "a pcap with no iSCSI on the port exits 2 ($(cat "$D/e2"))" '[ $rc -eq 2 ] && [ "$(wc -l <"$D/e2")" -eq 1 ] && grep -q "no iSCSI" "$D/e2"'
tshark -r "$D/annotated.pcap" -Y udp -w "$D/udp-only.pcap" 2>/dev/null
"$bin" check "$D/udp-only.pcap" >"$D/o3" 2>"$D/e3"; rc=$?
check "a pcap holding only UDP exits 2 ($(cat "$D/e3"))" '[ $rc -eq 2 ] && grep -q "no iSCSI" "$D/e3"'
: >"$D/empty.pcap"
"$bin" check "$D/empty.pcap" >"$D/o4" 2>"$D/e4"; rc=$?
check "an empty file exits 2" '[ $rc -eq 2 ] && [ "$(wc -l <"$D/e4")" -eq 1 ]'

# A capture cut off in the middle of a PDU: checked up to the cut, and it says so.
"$bin" run "$suite/11-large-transfers.yaml" --pcap "$D/sim" >/dev/null || { echo "FAILED: the scenario"; fail=1; }
full=$(ls "$D"/sim/*.pcap)
size=$(stat -c %s "$full")
head -c $((size / 2 + 777)) "$full" >"$D/cut.pcap"
"$bin" check "$D/cut.pcap" >"$D/o5" 2>&1; rc=$?
tail -3 "$D/o5" | sed 's/^/    /'
check "a capture cut mid-PDU is checked up to the cut (exit $rc)" '[ $rc -eq 0 ] && grep -q "cut off" "$D/o5"'
pdus_cut=$(tail -1 "$D/o5" | sed -nE 's/.* ([0-9]+) PDUs;.*/\1/p')
pdus_full=$("$bin" check "$full" | tail -1 | sed -nE 's/.* ([0-9]+) PDUs;.*/\1/p')
check "the cut capture was read up to the cut ($pdus_cut of $pdus_full PDUs)" '[ "${pdus_cut:-0}" -gt 100 ] && [ "$pdus_cut" -lt "$pdus_full" ]'
# A capture that starts mid-connection: the checker finds the first whole BHS.
tshark -r "$full" -Y "frame.number > 500" -w "$D/late.pcap" 2>/dev/null
"$bin" check "$D/late.pcap" >"$D/o6" 2>&1; rc=$?
tail -2 "$D/o6" | sed 's/^/    /'
check "a capture starting mid-connection is checked from the first whole BHS (exit $rc)" '[ $rc -eq 0 ] && grep -q "skipped to find a whole BHS" "$D/o6"'

[ $fail -eq 0 ] && rm -rf "$D"
[ $fail -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
