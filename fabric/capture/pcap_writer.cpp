#include "fabric/capture/pcap_writer.hpp"

#include <pcap/pcap.h>

#include <stdexcept>
#include <vector>

#include "target/bytes.hpp"

namespace iscsilab::capture {

std::uint16_t internet_checksum(std::span<const std::byte> b, std::uint32_t sum) {
    std::size_t i = 0;
    for (; i + 1 < b.size(); i += 2) sum += ld16(b, i);
    if (i < b.size()) sum += std::uint32_t{ld8(b, i)} << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

namespace {
// Ethernet (locally administered MACs derived from the IPs) and IPv4 (RFC 791, no
// options, DF) headers for a frame of `f.size()` bytes.
void link_and_ip(std::span<std::byte> b, const Endpoint& src, const Endpoint& dst, std::uint8_t protocol,
                 std::uint16_t id) {
    st16(b, 0, 0x0200);
    st32(b, 2, dst.ip);
    st16(b, 6, 0x0200);
    st32(b, 8, src.ip);
    st16(b, 12, 0x0800);
    auto ip = b.subspan(14, 20);
    st8(ip, 0, 0x45);
    st16(ip, 2, static_cast<std::uint16_t>(b.size() - 14));
    st16(ip, 4, id);
    st16(ip, 6, 0x4000);
    st8(ip, 8, 64);
    st8(ip, 9, protocol);
    st32(ip, 12, src.ip);
    st32(ip, 16, dst.ip);
    st16(ip, 10, internet_checksum(ip));
}
// The TCP/UDP pseudo-header (RFC 793 §3.1, RFC 768) as a partial sum.
std::uint32_t pseudo_header_sum(const Endpoint& src, const Endpoint& dst, std::uint8_t protocol, std::size_t len) {
    return (src.ip >> 16) + (src.ip & 0xffff) + (dst.ip >> 16) + (dst.ip & 0xffff) + protocol +
           static_cast<std::uint32_t>(len);
}
}  // namespace

PcapWriter::PcapWriter(const std::string& path) {
    pcap_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    if (!pcap_) throw std::runtime_error("pcap_open_dead failed");
    dumper_ = pcap_dump_open(pcap_, path.c_str());
    if (!dumper_) {
        std::string err = pcap_geterr(pcap_);
        pcap_close(pcap_);
        throw std::runtime_error(path + ": " + err);
    }
}

PcapWriter::~PcapWriter() {
    if (dumper_) pcap_dump_close(dumper_);
    if (pcap_) pcap_close(pcap_);
}

void PcapWriter::segment(const Segment& s) {
    const std::size_t tcp_len = 20 + s.payload.size();
    std::vector<std::byte> f(14 + 20 + tcp_len);
    std::span<std::byte> b(f);
    link_and_ip(b, s.src, s.dst, 6, ip_id_++);
    // TCP (RFC 793), no options.
    auto tcp = b.subspan(34, tcp_len);
    st16(tcp, 0, s.src.port);
    st16(tcp, 2, s.dst.port);
    st32(tcp, 4, s.seq);
    st32(tcp, 8, (s.flags & tcp_flags::ACK) ? s.ack : 0);
    st8(tcp, 12, 5 << 4);
    st8(tcp, 13, s.flags);
    st16(tcp, 14, 65535);
    std::copy(s.payload.begin(), s.payload.end(), tcp.begin() + 20);
    st16(tcp, 16, internet_checksum(tcp, pseudo_header_sum(s.src, s.dst, 6, tcp_len)));
    write(s.time, f);
}

void PcapWriter::datagram(const Datagram& d) {
    // UDP (RFC 768) with its checksum over the pseudo-header.
    const std::size_t udp_len = 8 + d.payload.size();
    std::vector<std::byte> f(14 + 20 + udp_len);
    std::span<std::byte> b(f);
    link_and_ip(b, d.src, d.dst, 17, ip_id_++);
    auto udp = b.subspan(34, udp_len);
    st16(udp, 0, d.src.port);
    st16(udp, 2, d.dst.port);
    st16(udp, 4, static_cast<std::uint16_t>(udp_len));
    std::copy(d.payload.begin(), d.payload.end(), udp.begin() + 8);
    const std::uint16_t sum = internet_checksum(udp, pseudo_header_sum(d.src, d.dst, 17, udp_len));
    st16(udp, 6, sum == 0 ? 0xffff : sum);  // 0 would mean "no checksum"
    write(d.time, f);
}

void PcapWriter::write(Nanos time, std::span<const std::byte> f) {
    pcap_pkthdr h{};
    const auto ns = time.count();
    h.ts.tv_sec = static_cast<time_t>(ns / 1000000000);
    h.ts.tv_usec = static_cast<suseconds_t>(ns % 1000000000);  // nanoseconds with PRECISION_NANO
    h.caplen = h.len = static_cast<bpf_u_int32>(f.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, reinterpret_cast<const u_char*>(f.data()));
    ++frames_;
}

}  // namespace iscsilab::capture
