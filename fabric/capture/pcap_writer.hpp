// A pcap file (libpcap, nanosecond time stamps) of synthesized Ethernet/IPv4/TCP frames
// around real payload bytes, so Wireshark's own iSCSI dissector reads a simulated run.
#pragma once

#include <string>

#include "fabric/capture/capture.hpp"

struct pcap;
struct pcap_dumper;

namespace iscsilab::capture {

class PcapWriter final : public PacketTap {
public:
    explicit PcapWriter(const std::string& path);  // throws std::runtime_error
    ~PcapWriter() override;
    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;
    void segment(const Segment& s) override;
    void datagram(const Datagram& d) override;
    std::uint64_t frames() const { return frames_; }

private:
    pcap* pcap_ = nullptr;
    pcap_dumper* dumper_ = nullptr;
    void write(Nanos time, std::span<const std::byte> frame);
    std::uint16_t ip_id_ = 1;
    std::uint64_t frames_ = 0;
};

// The Internet checksum (RFC 1071) over a byte span, continuing from sum.
std::uint16_t internet_checksum(std::span<const std::byte> b, std::uint32_t sum = 0);

}  // namespace iscsilab::capture
