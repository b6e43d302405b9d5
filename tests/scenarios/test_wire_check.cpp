#define BOOST_TEST_MODULE wire_check
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "reports/checker/violation_record.hpp"
#include "scenarios/engine/wire_check.hpp"

// libsystemc.so wants an sc_main; Boost.Test's main runs the tests.
extern "C" int sc_main(int, char**) { return 0; }

// The simulation's side of the wire checker: what the simulated links deliver is
// judged, a violation becomes a failure line naming the rule's id, the connection, the
// PDU's index and time, and a violation record goes into the run's trace (and pcap).
using namespace iscsilab;

namespace {

struct Sim {
    std::vector<capture::Datagram> emitted;
    std::vector<std::vector<std::byte>> payloads;
    scenario::WireCheckTap tap{[this](const capture::Datagram& d) {
        payloads.emplace_back(d.payload.begin(), d.payload.end());
        emitted.push_back(d);
    }};
    std::uint32_t seq[2] = {100, 900};
    std::int64_t t = 0;
    void send(int dir, std::uint8_t flags, const std::vector<std::byte>& payload) {
        capture::Segment s;
        s.time = Nanos(t += 1000);
        s.src = dir == 0 ? capture::Endpoint{0xc000020au, 40000} : capture::Endpoint{0xc0000201u, 3260};
        s.dst = dir == 0 ? capture::Endpoint{0xc0000201u, 3260} : capture::Endpoint{0xc000020au, 40000};
        s.seq = seq[dir];
        s.flags = flags;
        s.payload = payload;
        tap.segment(s);
        seq[dir] += static_cast<std::uint32_t>(payload.size()) + ((flags & capture::tcp_flags::SYN) ? 1 : 0);
    }
};

std::vector<std::byte> bhs(std::uint8_t opcode, std::uint8_t flags, std::uint32_t itt, std::uint32_t f24, std::uint32_t f28,
                           std::uint32_t f32, const std::string& data = {}) {
    std::vector<std::byte> b(48);
    b[0] = std::byte(opcode);
    b[1] = std::byte(flags);
    auto put = [&](std::size_t at, std::uint32_t v) {
        for (int k = 0; k < 4; ++k) b[at + k] = std::byte(v >> (24 - 8 * k));
    };
    put(16, itt);
    put(24, f24);
    put(28, f28);
    put(32, f32);
    b[5] = std::byte(data.size() >> 16);
    b[6] = std::byte(data.size() >> 8);
    b[7] = std::byte(data.size());
    for (char c : data) b.push_back(std::byte(c));
    while (b.size() % 4) b.push_back(std::byte{0});
    return b;
}

void login(Sim& s) {
    using namespace capture::tcp_flags;
    s.send(0, SYN, {});
    s.send(1, SYN | ACK, {});
    const std::string keys = std::string("InitiatorName=iqn.x:i") + '\0' + "TargetName=iqn.x:t" + '\0';
    auto req = bhs(0x43, 0x87, 1, 1, 0, 0, keys);
    s.send(0, PSH | ACK, req);
    auto rsp = bhs(0x23, 0x87, 1, 5, 1, 16, std::string("TargetPortalGroupTag=1") + '\0');
    rsp[15] = std::byte{9};  // TSIH
    s.send(1, PSH | ACK, rsp);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(wire_check_suite)

BOOST_AUTO_TEST_CASE(a_clean_exchange_fails_nothing) {
    Sim s;
    login(s);
    s.send(0, capture::tcp_flags::ACK, bhs(0x01, 0x81, 2, 1, 6, 0));           // TEST UNIT READY
    s.send(1, capture::tcp_flags::ACK, bhs(0x21, 0x80, 2, 6, 2, 17));          // its response, StatSN 6
    const auto lines = s.tap.finish();
    BOOST_TEST(lines.empty());
    BOOST_TEST(s.emitted.empty());
    BOOST_TEST(s.tap.checker().pdus() == 4u);
}

BOOST_AUTO_TEST_CASE(a_violation_fails_the_run_and_rides_in_the_trace) {
    Sim s;
    login(s);
    s.send(0, capture::tcp_flags::ACK, bhs(0x01, 0x81, 2, 1, 6, 0));
    s.send(1, capture::tcp_flags::ACK, bhs(0x21, 0x80, 2, 8, 2, 17));          // StatSN 8: 6 was next
    const auto lines = s.tap.finish();
    // The break is judged under both ids that state it: StatSN per connection (§3.2.2.2)
    // and per status (§10.4).
    BOOST_REQUIRE_EQUAL(lines.size(), 2u);
    BOOST_TEST(lines[1].find("3720-10.4-statsn-advances-per-status") != std::string::npos);
    const std::string& l = lines[0];
    BOOST_TEST_MESSAGE(l);
    BOOST_TEST(l.find("3720-3.2-statsn-per-connection") != std::string::npos);
    BOOST_TEST(l.find("broken by the target") != std::string::npos);
    BOOST_TEST(l.find("connection 0 (192.0.2.10:40000 -> 192.0.2.1:3260)") != std::string::npos);
    BOOST_TEST(l.find("PDU #3 at 0.006000 ms") != std::string::npos);
    BOOST_TEST(l.find("StatSN 8 where 6 was next") != std::string::npos);
    // The record: our UDP protocol, magic "ILVR", the id inside, at the PDU's time.
    BOOST_REQUIRE_EQUAL(s.emitted.size(), 2u);
    BOOST_TEST(s.emitted[0].time.count() == 6000);
    BOOST_TEST(s.emitted[0].dst.port == checker::VIOLATION_RECORD_PORT);
    const auto& p = s.payloads[0];
    BOOST_REQUIRE(p.size() > checker::VIOLATION_RECORD_HEADER);
    BOOST_TEST(std::memcmp(p.data(), "ILVR", 4) == 0);
    const auto id_len = std::to_integer<std::size_t>(p[34]);
    const std::string id(reinterpret_cast<const char*>(p.data()) + 35, id_len);
    BOOST_TEST(id == "3720-3.2-statsn-per-connection");
}

BOOST_AUTO_TEST_SUITE_END()
