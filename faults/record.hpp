// Fault records: each fault the plan fires travels in the run's capture as a UDP
// datagram of this small protocol (port 47474, from 192.0.2.254), next to the TCP
// segments it disturbs, so a reader of the pcap sees cause and effect together. The
// Wireshark plugin in fabric/capture/wireshark decodes it.
//
// Layout (network byte order):
//   0  magic "ILFR"        4  version (1)        5  kind (faults::Kind)
//   6  direction (0 to the target, 1 to the initiator, 2 both, 0xff none)
//   7  initiator (0xff: all or none)            8  sequence number (4)
//  12  simulated time, ns (8)                   20  duration, ns (8; 0 none)
//  28  text length (2)                          30  text (UTF-8): what happened
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "target/ports.hpp"

namespace iscsilab::faults {

inline constexpr std::uint16_t kRecordPort = 47474;
inline constexpr std::uint32_t kRecordMagic = 0x494c4652;  // "ILFR"
inline constexpr std::size_t kRecordHeader = 30;

struct Record {
    std::uint8_t kind = 0;
    std::uint8_t direction = 0xff;
    std::uint8_t initiator = 0xff;
    std::uint32_t sequence = 0;
    Nanos time{0};
    Nanos duration{0};
    std::string text;
};

Bytes encode_record(const Record& r);
// nullopt when the bytes are not a whole version-1 record.
std::optional<Record> decode_record(std::span<const std::byte> b);

}  // namespace iscsilab::faults
