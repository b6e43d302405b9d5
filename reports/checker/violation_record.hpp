// Violation records: each verdict of the wire checker can travel in a capture as a UDP
// datagram of this small protocol (port 47474, like the fault records of faults/, with
// its own magic), right after the frame that completed the offending PDU. The Wireshark
// plugin (fabric/capture/wireshark) decodes it as `iscsilab.violation`.
//
// Layout (network byte order):
//   0  magic "ILVR"       4  version (1)        5  flags (bit 0: the initiator's PDU)
//   6  connection (4)     10 PDU index (8)      18 time, ns (8)      26 frame (8)
//  34  id length (1)      35 id (ASCII)         then text length (2), text (UTF-8)
#pragma once

#include <cstdint>
#include <vector>

#include "reports/checker/checker.hpp"

namespace iscsilab::checker {

inline constexpr std::uint16_t VIOLATION_RECORD_PORT = 47474;
inline constexpr std::uint32_t VIOLATION_RECORD_MAGIC = 0x494c5652;  // "ILVR"
inline constexpr std::size_t VIOLATION_RECORD_HEADER = 35;

std::vector<std::byte> encode_violation_record(const Violation& v);

}  // namespace iscsilab::checker
