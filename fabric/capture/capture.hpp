// What a capture sees: TCP segments with their real payload bytes, stamped with
// simulated (or real) time, and UDP datagrams that carry records of our own (the fault
// plan's events). The pcap writer turns them into Ethernet/IPv4/TCP or UDP frames.
#pragma once

#include <cstdint>
#include <span>

#include "target/ports.hpp"

namespace iscsilab::capture {

namespace tcp_flags {
inline constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
}

struct Endpoint {
    std::uint32_t ip = 0;  // host order
    std::uint16_t port = 0;
};

struct Segment {
    Nanos time{0};
    Endpoint src, dst;
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    std::span<const std::byte> payload;
};

struct Datagram {
    Nanos time{0};
    Endpoint src, dst;
    std::span<const std::byte> payload;
};

class PacketTap {
public:
    virtual ~PacketTap() = default;
    virtual void segment(const Segment& s) = 0;
    virtual void datagram(const Datagram&) {}
};

}  // namespace iscsilab::capture
