#include "reports/checker/capture.hpp"

#include <pcap/pcap.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>

#include "reports/checker/violation_record.hpp"
#include "reports/checker/wire.hpp"

namespace iscsilab::checker {

namespace {

// Link types (pcap-linktype(7)).
constexpr int LT_NULL = 0, LT_EN10MB = 1, LT_RAW = 101, LT_RAW_OLD = 12, LT_LOOP = 108, LT_SLL = 113, LT_SLL2 = 276,
              LT_IPV4 = 228, LT_IPV6 = 229;

struct Frame {
    std::span<const std::byte> b;
};

// Strips the link layer: the offset of the IP header, and its version (4 or 6), or -1.
int ip_offset(int linktype, std::span<const std::byte> f, int& version) {
    auto need = [&](std::size_t n) { return f.size() >= n; };
    std::size_t at = 0;
    std::uint16_t ethertype = 0;
    switch (linktype) {
        case LT_EN10MB:
            if (!need(14)) return -1;
            ethertype = be16(f, 12);
            at = 14;
            while ((ethertype == 0x8100 || ethertype == 0x88a8) && need(at + 4)) {
                ethertype = be16(f, at + 2);
                at += 4;
            }
            break;
        case LT_SLL:
            if (!need(16)) return -1;
            ethertype = be16(f, 14);
            at = 16;
            break;
        case LT_SLL2:
            if (!need(20)) return -1;
            ethertype = be16(f, 0);
            at = 20;
            break;
        case LT_NULL:
        case LT_LOOP: {
            if (!need(4)) return -1;
            at = 4;
            ethertype = 0;  // family decides below
            break;
        }
        case LT_RAW:
        case LT_RAW_OLD:
        case LT_IPV4:
        case LT_IPV6:
            at = 0;
            break;
        default:
            return -1;
    }
    if (!need(at + 1)) return -1;
    if (ethertype == 0x0800) version = 4;
    else if (ethertype == 0x86dd) version = 6;
    else if (ethertype == 0) version = std::to_integer<int>(f[at]) >> 4;
    else return -1;
    return static_cast<int>(at);
}

std::uint16_t checksum(std::span<const std::byte> b) {
    std::uint32_t sum = 0;
    for (std::size_t k = 0; k + 1 < b.size(); k += 2) sum += be16(b, k);
    if (b.size() & 1) sum += std::to_integer<std::uint32_t>(b.back()) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

void put16(std::vector<std::byte>& v, std::size_t at, std::uint16_t x) {
    v[at] = std::byte(x >> 8);
    v[at + 1] = std::byte(x);
}

}  // namespace

std::vector<std::byte> udp_frame(int linktype, std::uint32_t src_ip, std::uint32_t dst_ip, std::uint16_t port,
                                 std::span<const std::byte> payload) {
    std::vector<std::byte> link;
    switch (linktype) {
        case LT_EN10MB: link.assign(14, std::byte{0}); link[12] = std::byte{0x08}; break;
        case LT_SLL: link.assign(16, std::byte{0}); link[1] = std::byte{4}; link[14] = std::byte{0x08}; break;
        case LT_SLL2: link.assign(20, std::byte{0}); link[0] = std::byte{0x08}; break;
        case LT_NULL: { link.assign(4, std::byte{0}); const std::uint32_t af = 2; std::memcpy(link.data(), &af, 4); break; }
        case LT_LOOP: link.assign(4, std::byte{0}); link[3] = std::byte{2}; break;
        default: break;  // raw IP
    }
    const std::size_t ip_at = link.size();
    std::vector<std::byte> f = link;
    f.resize(ip_at + 28 + payload.size());
    const auto total = static_cast<std::uint16_t>(28 + payload.size());
    f[ip_at] = std::byte{0x45};
    put16(f, ip_at + 2, total);
    f[ip_at + 8] = std::byte{64};
    f[ip_at + 9] = std::byte{17};
    for (int k = 0; k < 4; ++k) {
        f[ip_at + 12 + k] = std::byte(src_ip >> (24 - 8 * k));
        f[ip_at + 16 + k] = std::byte(dst_ip >> (24 - 8 * k));
    }
    put16(f, ip_at + 10, checksum(std::span<const std::byte>(f).subspan(ip_at, 20)));
    put16(f, ip_at + 20, port);
    put16(f, ip_at + 22, port);
    put16(f, ip_at + 24, static_cast<std::uint16_t>(8 + payload.size()));
    // UDP checksum 0: none (RFC 768), which Wireshark accepts for IPv4.
    std::memcpy(f.data() + ip_at + 28, payload.data(), payload.size());
    return f;
}

CaptureSummary check_capture(const std::string& path, WireChecker& w, const std::string& annotate_path) {
    CaptureSummary sum;
    char err[PCAP_ERRBUF_SIZE] = {};
    // Large captures are read in big gulps: fewer system calls than stdio's default. The
    // buffer is set before libpcap reads a byte, and outlives the stream (pcap_close
    // closes it).
    std::vector<char> gulp(4u << 20);
    FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) {
        sum.error = "not a readable capture: " + path + ": cannot be opened";
        return sum;
    }
    setvbuf(file, gulp.data(), _IOFBF, gulp.size());
    std::unique_ptr<pcap_t, void (*)(pcap_t*)> in(pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, err),
                                                  pcap_close);
    if (!in) {
        std::fclose(file);
        sum.error = std::string("not a readable capture: ") + err;
        return sum;
    }
    sum.linktype = pcap_datalink(in.get());
    std::unique_ptr<pcap_t, void (*)(pcap_t*)> dead(nullptr, pcap_close);
    std::unique_ptr<pcap_dumper_t, void (*)(pcap_dumper_t*)> out(nullptr, pcap_dump_close);
    if (!annotate_path.empty()) {
        dead.reset(pcap_open_dead_with_tstamp_precision(sum.linktype, 262144, PCAP_TSTAMP_PRECISION_NANO));
        out.reset(pcap_dump_open(dead.get(), annotate_path.c_str()));
        if (!out) {
            sum.error = "cannot write " + annotate_path + ": " + pcap_geterr(dead.get());
            return sum;
        }
    }
    std::deque<std::vector<std::byte>> pending;  // violation records for the frame being read
    auto previous = w.on_violation;
    if (out)
        w.on_violation = [&](const Violation& v) {
            if (previous) previous(v);
            pending.push_back(encode_violation_record(v));
        };

    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    int rc;
    while ((rc = pcap_next_ex(in.get(), &h, &data)) == 1) {
        ++sum.frames;
        const std::span<const std::byte> f(reinterpret_cast<const std::byte*>(data), h->caplen);
        const std::int64_t t = static_cast<std::int64_t>(h->ts.tv_sec) * 1000000000 + h->ts.tv_usec;
        const bool frame_truncated = h->caplen < h->len;
        int version = 0;
        const int at = ip_offset(sum.linktype, f, version);
        if (at >= 0) {
            auto ip = f.subspan(static_cast<std::size_t>(at));
            TcpSegment s;
            s.time_ns = t;
            s.frame = sum.frames;
            s.truncated = frame_truncated;
            std::uint8_t proto = 0;
            std::size_t l4 = 0, ip_end = ip.size();
            bool ok = false;
            if (version == 4 && ip.size() >= 20) {
                const std::size_t ihl = (std::to_integer<std::size_t>(ip[0]) & 0xf) * 4;
                const std::uint16_t frag = be16(ip, 6);
                ip_end = std::min<std::size_t>(ip.size(), be16(ip, 2));
                if (ihl >= 20 && ip.size() >= ihl && (frag & 0x3fff) == 0) {
                    proto = u8(ip, 9);
                    l4 = ihl;
                    s.src = Address::v4(be32(ip, 12), 0);
                    s.dst = Address::v4(be32(ip, 16), 0);
                    ok = true;
                }
                if (be16(ip, 2) > ip.size()) s.truncated = true;
            } else if (version == 6 && ip.size() >= 40) {
                proto = u8(ip, 6);
                l4 = 40;
                ip_end = std::min<std::size_t>(ip.size(), 40 + std::size_t{be16(ip, 4)});
                for (int k = 0; k < 16; ++k) {
                    s.src.ip[k] = u8(ip, 8 + k);
                    s.dst.ip[k] = u8(ip, 24 + k);
                }
                ok = true;
            }
            if (ok && proto == 6 && ip_end >= l4 + 20) {
                auto tcp = ip.subspan(l4, ip_end - l4);
                const std::size_t off = (std::to_integer<std::size_t>(tcp[12]) >> 4) * 4;
                if (off >= 20 && tcp.size() >= off) {
                    s.src.port = be16(tcp, 0);
                    s.dst.port = be16(tcp, 2);
                    s.seq = be32(tcp, 4);
                    const std::uint8_t fl = u8(tcp, 13);
                    s.fin = fl & 0x01;
                    s.syn = fl & 0x02;
                    s.rst = fl & 0x04;
                    s.has_ack = fl & 0x10;
                    s.ack = be32(tcp, 8);
                    s.payload = tcp.subspan(off);
                    ++sum.tcp_segments;
                    w.segment(s);
                }
            } else if (ok && proto == 17 && ip_end >= l4 + 8) {
                auto udp = ip.subspan(l4, ip_end - l4);
                if (be16(udp, 2) == VIOLATION_RECORD_PORT) w.record(t, udp.subspan(8));
            }
        }
        if (out) {
            pcap_dump(reinterpret_cast<u_char*>(out.get()), h, data);
            while (!pending.empty()) {
                const auto frame = udp_frame(sum.linktype, 0xc00002feu, 0xc00002feu, VIOLATION_RECORD_PORT, pending.front());
                pcap_pkthdr rh = *h;
                rh.caplen = rh.len = static_cast<bpf_u_int32>(frame.size());
                pcap_dump(reinterpret_cast<u_char*>(out.get()), &rh, reinterpret_cast<const u_char*>(frame.data()));
                pending.pop_front();
            }
        }
    }
    if (rc == PCAP_ERROR) {
        const std::string e = pcap_geterr(in.get());
        sum.cut_off = true;
        sum.cut_note = "the capture is cut off after frame " + std::to_string(sum.frames) + " (" + e + "); checked up to there";
        w.note(sum.cut_note);
    }
    w.finish();
    w.on_violation = previous;
    sum.target_segments = w.pdus();
    if (sum.frames == 0 && !sum.cut_off) {
        sum.error = "the capture holds no frames";
    } else if (w.connections() == 0) {
        sum.error = "no iSCSI in the capture: no TCP segment to or from the target port";
    } else if (w.pdus() == 0) {
        sum.error = "no iSCSI PDU found in the TCP traffic to or from the target port";
    } else {
        sum.usable = true;
    }
    return sum;
}

}  // namespace iscsilab::checker
