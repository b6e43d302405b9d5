// Captures in, for the checker: pcap and pcapng files that tcpdump, dumpcap or our
// simulation wrote (libpcap reads them), link layers Ethernet (with VLAN tags), Linux
// cooked (v1 and v2), BSD loopback and raw IP; IPv4 and IPv6; TCP to the checker, UDP
// records of our own to it too. Optionally a copy of the capture with a violation
// record after each frame that completed an offending PDU.
#pragma once

#include <cstdint>
#include <string>

#include "reports/checker/checker.hpp"

namespace iscsilab::checker {

struct CaptureSummary {
    bool usable = false;
    std::string error;            // why the input is unusable (exit 2)
    bool cut_off = false;         // the file ends inside a frame
    std::string cut_note;
    std::uint64_t frames = 0, tcp_segments = 0, target_segments = 0;
    int linktype = -1;
};

// Reads `path` into `checker` (and finishes it). With `annotate_path`, writes a copy
// with violation records; its errors land in `error` too.
CaptureSummary check_capture(const std::string& path, WireChecker& checker, const std::string& annotate_path = {});

// One UDP/IPv4 frame in the given link type, for records written into captures.
std::vector<std::byte> udp_frame(int linktype, std::uint32_t src_ip, std::uint32_t dst_ip, std::uint16_t port,
                                 std::span<const std::byte> payload);

}  // namespace iscsilab::checker
