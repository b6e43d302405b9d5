#!/bin/bash
# The real runtime links no SystemC (DESIGN.md, "Rooms"). Fails when
#  - what iscsilab_runtime is told to link (CMake's link libraries, followed through every
#    target: tests/CMakeLists.txt) names the simulation or the report side, SystemC,
#    yaml-cpp, libpcap or xxhash;
#  - serve_only, a program linked against iscsilab_runtime alone, loads one of those
#    libraries (ldd) or holds a symbol of theirs or of the simulation's rooms (nm);
#  - the runtime library itself defines or needs such a symbol.
# The same checks over `iscsilab`, which does link the simulation, must find SystemC:
# that shows they can fail.
#
#   runtime_links_no_sim.sh SERVE_ONLY LIBISCSILAB_RUNTIME.a ISCSILAB "RUNTIME LINKS" "ISCSILAB LINKS"
set -u
serve_only=$1 runtime_lib=$2 iscsilab=$3 runtime_links=$4 iscsilab_links=$5
links='iscsilab_(sim|testbed|checker|report|catalogue)$|SYSTEMC|systemc|YAMLCPP|yaml-cpp|PCAP|pcap|XXHASH|xxhash'
libs='lib(systemc|yaml-cpp|pcap|xxhash)[.-]'
syms='sc_core::|sc_dt::|tlm::|YAML::|\bpcap_[a-z_]+|\bXXH[0-9A-Za-z_]+|iscsilab::(model|sim|scenario|faults|capture|checker|catalogue|report)::'
fail=0

named() { tr ' ' '\n' <<<"$1" | grep -E "$links"; }
loads() { ldd "$1" | grep -E "$libs"; }
holds() { { nm -C "$1" 2>/dev/null; nm -D -C "$1" 2>/dev/null; } | grep -E "$syms"; }

for f in "$serve_only" "$runtime_lib" "$iscsilab"; do
    [ -f "$f" ] || { echo "missing: $f"; exit 2; }
done
# Not vacuous: the walk reached the runtime's own dependencies, and the program holds the
# runtime (a stripped binary would show no symbols at all).
if ! grep -qw iscsilab_core <<<"$runtime_links"; then
    echo "FAIL: the link walk of iscsilab_runtime did not reach iscsilab_core: '$runtime_links'"; exit 1
fi
if ! nm -C "$serve_only" | grep -q 'iscsilab::hil::serve('; then
    echo "FAIL: no iscsilab::hil::serve symbol in $serve_only: cannot judge it"; exit 1
fi

if n=$(named "$runtime_links"); then
    echo "FAIL: iscsilab_runtime links (directly or through a target it links):"; echo "$n"; fail=1
fi
if l=$(loads "$serve_only"); then
    echo "FAIL: $serve_only (iscsilab_runtime alone) loads:"; echo "$l"; fail=1
fi
if s=$(holds "$serve_only"); then
    echo "FAIL: $serve_only holds symbols of the simulation side:"; echo "$s" | sort -u | head -20; fail=1
fi
if s=$(nm -C "$runtime_lib" 2>/dev/null | grep -E "$syms"); then
    echo "FAIL: $runtime_lib defines or needs symbols of the simulation side:"; echo "$s" | sort -u | head -20; fail=1
fi

# The controls: the same checks find SystemC where it is.
if ! named "$iscsilab_links" | grep -q iscsilab_sim || ! loads "$iscsilab" | grep -q libsystemc ||
    ! holds "$iscsilab" | grep -q 'sc_core::'; then
    echo "FAIL: the checks find no SystemC in iscsilab either: they would not see it in the runtime"; fail=1
fi

[ $fail = 0 ] && echo "ok: iscsilab_runtime links no SystemC, yaml-cpp, libpcap or xxhash"
exit $fail
