// Writes a small pcap of one iSCSI connection whose target breaks three wire rules on
// purpose, for the tests of `iscsilab check`: a SCSI Response with a StatSN that skips
// one (3720-3.2-statsn-per-connection), a Data-In whose DataSN starts at 1
// (3720-3.2-datain-datasn-from-zero) and a Reject whose ITT is not 0xffffffff
// (3720-10.17-reject-itt-reserved). The PDU bytes are written here by hand, field by
// field, so the test does not lean on the target's encoder.
// Usage: bad_capture OUT.pcap
#include <array>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "fabric/capture/pcap_writer.hpp"

using namespace iscsilab;

namespace {

struct Pdu {
    std::vector<std::byte> b = std::vector<std::byte>(48);
    void u8(std::size_t at, unsigned v) { b[at] = std::byte(v); }
    void u32(std::size_t at, std::uint32_t v) {
        for (int k = 0; k < 4; ++k) b[at + k] = std::byte(v >> (24 - 8 * k));
    }
    void data(const std::string& s) {
        b.insert(b.end(), reinterpret_cast<const std::byte*>(s.data()), reinterpret_cast<const std::byte*>(s.data()) + s.size());
        const auto n = static_cast<std::uint32_t>(s.size());
        b[5] = std::byte(n >> 16);
        b[6] = std::byte(n >> 8);
        b[7] = std::byte(n);
        while (b.size() % 4) b.push_back(std::byte{0});
    }
};

std::string keys(std::initializer_list<const char*> kv) {
    std::string s;
    for (const char* k : kv) s += std::string(k) + '\0';
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: bad_capture OUT.pcap\n";
        return 2;
    }
    capture::PcapWriter w(argv[1]);
    const capture::Endpoint ini{0xc000020au, 40000}, tgt{0xc0000201u, 3260};
    std::uint32_t seq[2] = {1000, 5000};
    std::int64_t t = 1000;
    auto seg = [&](int dir, std::uint8_t flags, const std::vector<std::byte>& payload) {
        capture::Segment s;
        s.time = Nanos(t += 10000);
        s.src = dir == 0 ? ini : tgt;
        s.dst = dir == 0 ? tgt : ini;
        s.seq = seq[dir];
        s.ack = seq[1 - dir];
        s.flags = flags;
        s.payload = payload;
        w.segment(s);
        seq[dir] += static_cast<std::uint32_t>(payload.size()) + ((flags & capture::tcp_flags::SYN) ? 1 : 0);
    };
    using namespace capture::tcp_flags;
    seg(0, SYN, {});
    seg(1, SYN | ACK, {});
    const std::uint8_t isid[6] = {0x80, 0, 0, 0, 0, 1};
    // Login Request: CSG 1 (operational), NSG 3 (full feature), T.
    Pdu login;
    login.u8(0, 0x43);
    login.u8(1, 0x87);
    for (int k = 0; k < 6; ++k) login.u8(8 + k, isid[k]);
    login.u32(16, 1);
    login.u32(24, 1);
    login.data(keys({"InitiatorName=iqn.2026-11.org.example:host", "TargetName=iqn.2026-11.org.example:t",
                     "SessionType=Normal"}));
    seg(0, PSH | ACK, login.b);
    Pdu lr;
    lr.u8(0, 0x23);
    lr.u8(1, 0x87);
    for (int k = 0; k < 6; ++k) lr.u8(8 + k, isid[k]);
    lr.u8(15, 7);  // TSIH
    lr.u32(16, 1);
    lr.u32(24, 10);  // StatSN
    lr.u32(28, 1);
    lr.u32(32, 32);
    lr.data(keys({"TargetPortalGroupTag=1"}));
    seg(1, PSH | ACK, lr.b);
    // TEST UNIT READY, then a SCSI Response whose StatSN skips one (11 was next).
    Pdu tur;
    tur.u8(0, 0x01);
    tur.u8(1, 0x81);
    tur.u32(16, 2);
    tur.u32(24, 1);
    tur.u32(28, 11);
    seg(0, PSH | ACK, tur.b);
    Pdu rsp;
    rsp.u8(0, 0x21);
    rsp.u8(1, 0x80);
    rsp.u32(16, 2);
    rsp.u32(24, 12);
    rsp.u32(28, 2);
    rsp.u32(32, 33);
    seg(1, PSH | ACK, rsp.b);
    // READ of 512 bytes; its only Data-In carries DataSN 1.
    Pdu rd;
    rd.u8(0, 0x01);
    rd.u8(1, 0xc1);
    rd.u32(16, 3);
    rd.u32(20, 512);
    rd.u32(24, 2);
    rd.u32(28, 13);
    seg(0, PSH | ACK, rd.b);
    Pdu din;
    din.u8(0, 0x25);
    din.u8(1, 0x81);  // F and S
    din.u32(16, 3);
    din.u32(20, 0xffffffffu);
    din.u32(24, 13);
    din.u32(28, 3);
    din.u32(32, 34);
    din.u32(36, 1);  // DataSN: should be 0
    din.data(std::string(512, 'x'));
    seg(1, PSH | ACK, din.b);
    // An unknown opcode 0x1c (vendor) draws a Reject that keeps the PDU's ITT.
    Pdu vendor;
    vendor.u8(0, 0x1c);
    vendor.u8(1, 0x80);
    vendor.u32(16, 4);
    vendor.u32(24, 3);
    vendor.u32(28, 14);
    seg(0, PSH | ACK, vendor.b);
    Pdu rej;
    rej.u8(0, 0x3f);
    rej.u8(1, 0x80);
    rej.u8(2, 0x05);
    rej.u32(16, 4);  // should be 0xffffffff
    rej.u32(24, 14);
    rej.u32(28, 3);
    rej.u32(32, 34);
    rej.data(std::string(reinterpret_cast<const char*>(vendor.b.data()), 48));
    seg(1, PSH | ACK, rej.b);
    seg(0, FIN | ACK, {});
    seg(1, FIN | ACK, {});
    return 0;
}
