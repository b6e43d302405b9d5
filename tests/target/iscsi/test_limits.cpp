// What one initiator may hold of the target: the bound on commands' data buffers
// (TASK SET FULL / BUSY past it, memory committed only as write data arrives) and the
// driver's limits on connections, pending logins and sessions (iscsi/limits.hpp).
#define BOOST_TEST_MODULE limits
#include <boost/test/unit_test.hpp>

#include "support/conn_rig.hpp"
#include "target/buffer_pool.hpp"
#include "target/scsi/sense.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;
using namespace iscsilab::testing;

namespace {

constexpr std::uint8_t kBusy = 0x08, kTaskSetFull = 0x28, kGood = 0x00;

// The process's pool is shared by every test: each sets its bound and puts it back.
struct Bound {
    explicit Bound(std::size_t bytes) { BufferPool::instance().set_max_reserved_bytes(bytes); }
    ~Bound() { BufferPool::instance().set_max_reserved_bytes(SIZE_MAX); }
};

std::uint64_t reserved() { return BufferPool::instance().stats().reserved_bytes; }
std::uint64_t in_use() { return BufferPool::instance().stats().in_use_bytes; }

// WRITE(16) / READ(10) of n 512-byte blocks at LBA 0.
Bytes write16(Rig& rig, std::uint32_t blocks, std::span<const std::byte> imm = {}, bool final_bit = true,
              std::uint32_t* itt = nullptr) {
    return rig.command({0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<int>(blocks >> 24), static_cast<int>((blocks >> 16) & 0xff),
                        static_cast<int>((blocks >> 8) & 0xff), static_cast<int>(blocks & 0xff), 0, 0},
                       blocks * 512, false, true, imm, final_bit, itt);
}
Bytes read10(Rig& rig, std::uint32_t blocks) {
    return rig.command({0x28, 0, 0, 0, 0, 0, 0, static_cast<int>(blocks >> 8), static_cast<int>(blocks & 0xff), 0},
                       blocks * 512, true, false);
}

const std::vector<KeyValue> kSolicitedOnly = {{"InitialR2T", "Yes"}, {"ImmediateData", "No"}, {"MaxOutstandingR2T", "1"}};

// The unit attention of a new nexus (SAM-5 §5.14: POWER ON OCCURRED) goes to the first
// command: a TEST UNIT READY takes it.
void take_unit_attention(Rig& rig, MemoryStream& s) {
    auto out = rig.exchange(s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
}

std::uint8_t status_of(const Pdu& p) {
    BOOST_REQUIRE(p.opcode() == Opcode::ScsiResponse);

    return ScsiResponsePdu::decode(p.bhs).status;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(buffer_bound)

BOOST_AUTO_TEST_CASE(a_write_whose_data_never_comes_commits_no_buffer) {
    Bound bound(1u << 20);
    Rig rig(" RspTimeout 5\n");
    auto s = rig.connect();
    rig.full_login(*s, kSolicitedOnly);
    const std::uint64_t before = in_use();
    // Eight 8 MiB writes, 64 MiB in all against a 1 MiB bound: each is solicited, none
    // is refused, and nothing is committed while no data comes.
    for (int i = 0; i < 8; ++i) {
        auto out = rig.exchange(*s, write16(rig, 16384));
        BOOST_REQUIRE_EQUAL(out.size(), 1u);
        BOOST_CHECK(out[0].opcode() == Opcode::R2T);
    }
    BOOST_CHECK_EQUAL(reserved(), 0u);
    BOOST_CHECK_EQUAL(in_use(), before);
    // RspTimeout (iSCSI-SCST README) ends the wait: the connection closes and holds nothing.
    rig.loop.advance(std::chrono::seconds(6));
    BOOST_CHECK(s->closed);
    BOOST_CHECK_EQUAL(reserved(), 0u);
}

BOOST_AUTO_TEST_CASE(the_first_data_out_commits_the_buffer_and_the_status_gives_it_back) {
    Bound bound(1u << 20);
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s, kSolicitedOnly);
    take_unit_attention(rig, *s);
    std::uint32_t itt = 0;
    auto out = rig.exchange(*s, write16(rig, 8, {}, true, &itt));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    const auto r2t = R2TPdu::decode(out[0].bhs);
    BOOST_CHECK_EQUAL(reserved(), 0u);
    const Bytes half = pattern(2048, 1);
    out = rig.exchange(*s, data_out(itt, r2t.ttt, 0, 0, half, false));
    BOOST_CHECK(out.empty());
    BOOST_CHECK_EQUAL(reserved(), BufferPool::footprint(4096));
    out = rig.exchange(*s, data_out(itt, r2t.ttt, 1, 2048, half, true));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_CHECK_EQUAL(status_of(out[0]), kGood);
    BOOST_CHECK_EQUAL(reserved(), 0u);
}

BOOST_AUTO_TEST_CASE(a_read_past_the_bound_is_busy_when_alone_and_task_set_full_beside_others) {
    Bound bound(64u << 10);
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    take_unit_attention(rig, *s);
    // SAM-5 §5.3.1: BUSY with no other task of the nexus in the task set.
    auto out = rig.exchange(*s, read10(rig, 256));  // 128 KiB
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_CHECK_EQUAL(status_of(out[0]), kBusy);
    BOOST_CHECK_EQUAL(reserved(), 0u);
    // A write waiting for its data is another task: the read is TASK SET FULL now.
    std::uint32_t witt = 0;
    out = rig.exchange(*s, write16(rig, 8, {}, true, &witt));
    out = rig.exchange(*s, read10(rig, 256));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_CHECK_EQUAL(status_of(out[0]), kTaskSetFull);
    // Within the bound, a read goes through, and its claim ends with its Data-In.
    out = rig.exchange(*s, read10(rig, 64));  // 32 KiB
    BOOST_REQUIRE(!out.empty());
    BOOST_CHECK(out.back().opcode() == Opcode::DataIn);
    BOOST_CHECK_EQUAL(reserved(), 0u);
}

BOOST_AUTO_TEST_CASE(immediate_data_past_the_bound_is_dropped_and_the_write_refused) {
    Bound bound(16u << 10);
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);  // ImmediateData=Yes, InitialR2T=No, FirstBurstLength 64 KiB
    // 32 KiB write, 8 KiB immediate, F=0: up to FirstBurstLength of unsolicited data is
    // owed. Its status waits for the last of it (RFC 3720 §10.17.1), then BUSY.
    std::uint32_t itt = 0;
    const Bytes imm = pattern(8192, 2);
    auto out = rig.exchange(*s, write16(rig, 64, imm, false, &itt));
    BOOST_CHECK(out.empty());
    BOOST_CHECK_EQUAL(reserved(), 0u);
    out = rig.exchange(*s, data_out(itt, kReservedTag, 0, 8192, pattern(8192, 3), false));
    BOOST_CHECK(out.empty());
    out = rig.exchange(*s, data_out(itt, kReservedTag, 1, 16384, pattern(8192, 4), true));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_CHECK_EQUAL(status_of(out[0]), kBusy);
    // Nothing reached the device.
    BOOST_CHECK_EQUAL(rig.stores.last->requests, 0);
}

BOOST_AUTO_TEST_CASE(solicited_data_past_the_bound_is_drained_then_refused) {
    Bound bound(4096);
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s, kSolicitedOnly);
    std::uint32_t itt = 0;
    auto out = rig.exchange(*s, write16(rig, 16, {}, true, &itt));  // 8 KiB: over the bound
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    const auto r2t = R2TPdu::decode(out[0].bhs);
    out = rig.exchange(*s, data_out(itt, r2t.ttt, 0, 0, pattern(4096, 5), false));
    BOOST_CHECK(out.empty());
    out = rig.exchange(*s, data_out(itt, r2t.ttt, 1, 4096, pattern(4096, 6), true));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_CHECK_EQUAL(status_of(out[0]), kBusy);
    BOOST_CHECK_EQUAL(rig.stores.last->requests, 0);
    BOOST_CHECK_EQUAL(reserved(), 0u);
    BOOST_CHECK_GE(BufferPool::instance().stats().refused, 1u);
}

BOOST_AUTO_TEST_CASE(one_initiator_holds_at_most_half_the_bound) {
    Bound bound(64u << 10);
    Rig rig;
    // Initiator X: two 32 KiB writes, each sent a first Data-Out and then nothing. The
    // first claims half the bound; the second would pass X's half and is refused.
    auto x = rig.connect();
    rig.full_login(*x, kSolicitedOnly);
    take_unit_attention(rig, *x);
    std::uint32_t itt1 = 0, itt2 = 0;
    auto out = rig.exchange(*x, write16(rig, 64, {}, true, &itt1));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    rig.exchange(*x, data_out(itt1, R2TPdu::decode(out[0].bhs).ttt, 0, 0, pattern(512, 7), false));
    BOOST_CHECK_EQUAL(reserved(), 32u << 10);
    out = rig.exchange(*x, write16(rig, 64, {}, true, &itt2));
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    const auto ttt2 = R2TPdu::decode(out[0].bhs).ttt;
    rig.exchange(*x, data_out(itt2, ttt2, 0, 0, pattern(512, 8), false));
    BOOST_CHECK_EQUAL(reserved(), 32u << 10);
    // Initiator Y still has the other half: a 16 KiB read goes through.
    rig.initiator = "iqn.2026-11.org.example:other";
    auto y = rig.connect();
    rig.full_login(*y);
    take_unit_attention(rig, *y);
    out = rig.exchange(*y, read10(rig, 32));
    BOOST_REQUIRE(!out.empty());
    BOOST_CHECK(out.back().opcode() == Opcode::DataIn);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(driver_limits)

BOOST_AUTO_TEST_CASE(commands_outside_the_window_are_logged_once_and_counted_at_close) {
    Rig rig;
    std::vector<std::string> log;
    rig.driver.set_log([&](std::string_view l) { log.emplace_back(l); });
    auto s = rig.connect();
    rig.full_login(*s);
    // RFC 3720 §3.2.2.1: silently ignored, and a flood of them is one log line.
    rig.cmdsn += 1000;
    for (int i = 0; i < 100; ++i) BOOST_CHECK(rig.exchange(*s, read10(rig, 1)).empty());
    auto count = [&](std::string_view what) {
        return std::count_if(log.begin(), log.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; });
    };
    BOOST_CHECK_EQUAL(count("outside the window"), 1);
    // Every 1024 of them, the stream reads nothing for a while.
    BOOST_CHECK_EQUAL(s->holds, 0);
    for (int i = 0; i < 1948; ++i) rig.exchange(*s, read10(rig, 1));
    BOOST_CHECK_EQUAL(s->holds, 2);
    s->peer_close();
    rig.loop.run();
    BOOST_CHECK_EQUAL(count("2048 commands outside the CmdSN window"), 1);
}

// RFC 3720 §10.10.2: a Text Request may continue without end, each part answered. Every
// part is still answered, but past the pace (256 a second, as many at once) the
// connection's input is held for as long as the debt takes to pay back.
BOOST_AUTO_TEST_CASE(text_requests_in_bulk_are_answered_at_a_pace) {
    Rig rig;
    std::vector<std::string> log;
    rig.driver.set_log([&](std::string_view l) { log.emplace_back(l); });
    auto s = rig.connect();
    rig.full_login(*s);
    const Bytes part(16, std::byte{'K'});  // a key name that never ends
    auto send_part = [&](std::uint32_t itt) {
        iscsi::TextRequestPdu t;
        t.immediate = true;
        t.final_bit = false;
        t.continue_bit = true;
        t.itt = itt;
        t.cmdsn = rig.cmdsn;
        auto out = rig.exchange(*s, frame(t.encode(static_cast<std::uint32_t>(part.size())), part));
        BOOST_REQUIRE_EQUAL(out.size(), 1u);
        BOOST_CHECK(out[0].opcode() == iscsi::Opcode::TextResponse);
    };
    for (std::uint32_t i = 0; i < 256; ++i) send_part(0x100 + i % 8);
    BOOST_CHECK_EQUAL(s->holds, 0);
    for (std::uint32_t i = 0; i < 44; ++i) send_part(0x100 + i % 8);
    BOOST_CHECK_EQUAL(s->holds, 44);
    const auto paced = std::count_if(log.begin(), log.end(), [](const std::string& l) {
        return l.find("Text Requests past 256 a second") != std::string::npos;
    });
    BOOST_CHECK_EQUAL(paced, 1);
    // A second later the debt is paid and there is room again.
    rig.loop.advance(std::chrono::seconds(1));
    for (std::uint32_t i = 0; i < 200; ++i) send_part(0x200 + i % 8);
    BOOST_CHECK_EQUAL(s->holds, 44);
}

BOOST_AUTO_TEST_CASE(limits_parse_and_refuse_bad_values) {
    DriverLimits l;
    BOOST_CHECK(l.set("max_connections", "10").empty());
    BOOST_CHECK_EQUAL(l.max_connections, 10u);
    BOOST_CHECK(l.set("max_connections", "0").empty());  // no bound
    BOOST_CHECK(!l.set("max_connections", "-1").empty());
    BOOST_CHECK(!l.set("max_connections", "ten").empty());
    BOOST_CHECK(!l.set("login_timeout", "0").empty());
    BOOST_CHECK(!l.set("no_such_limit", "1").empty());
    BOOST_CHECK(l.set("login_timeout", "7\n").empty());
    BOOST_CHECK_EQUAL(l.get("login_timeout"), "7");
}

BOOST_AUTO_TEST_CASE(connections_past_max_connections_are_closed_and_logged_once) {
    Rig rig("", " max_connections 2\n");
    std::vector<std::string> log;
    rig.driver.set_log([&](std::string_view l) { log.emplace_back(l); });
    auto a = rig.connect(), b = rig.connect();
    BOOST_CHECK(!a->closed && !b->closed);
    std::vector<std::shared_ptr<MemoryStream>> refused;
    for (int i = 0; i < 5; ++i) refused.push_back(rig.connect());
    for (auto& r : refused) BOOST_CHECK(r->closed);
    auto count = [&](std::string_view what) {
        return std::count_if(log.begin(), log.end(), [&](const std::string& l) { return l.find(what) != std::string::npos; });
    };
    BOOST_CHECK_EQUAL(count("refused (max_connections)"), 1);
    BOOST_CHECK_EQUAL(rig.driver.refusal_totals()["max_connections"], 5u);
    // One goes; the next connection is taken, and the log says how many were refused.
    a->peer_close();
    rig.loop.run();
    auto c = rig.connect();
    BOOST_CHECK(!c->closed);
    BOOST_CHECK_EQUAL(count("after 5 refusals"), 1);
}

BOOST_AUTO_TEST_CASE(pending_logins_are_bounded_and_time_out) {
    Rig rig("", " max_pending_logins 2\n login_timeout 3\n");
    auto a = rig.connect(), b = rig.connect(), c = rig.connect();
    BOOST_CHECK(!a->closed && !b->closed);
    BOOST_CHECK(c->closed);
    BOOST_CHECK_EQUAL(rig.driver.pending_login_count(), 2u);
    // A login that completes frees its slot at once.
    rig.full_login(*a);
    BOOST_CHECK_EQUAL(rig.driver.pending_login_count(), 1u);
    auto d = rig.connect();
    BOOST_CHECK(!d->closed);
    // One that never does is closed at login_timeout, not the default 30 s.
    rig.loop.advance(std::chrono::milliseconds(2900));
    BOOST_CHECK(!b->closed);
    rig.loop.advance(std::chrono::milliseconds(200));
    BOOST_CHECK(b->closed);
    BOOST_CHECK(!a->closed);
    BOOST_CHECK_EQUAL(rig.driver.pending_login_count(), 0u);
}

BOOST_AUTO_TEST_CASE(sessions_past_the_per_initiator_limit_get_out_of_resources) {
    Rig rig("", " max_sessions_per_initiator 2\n");
    std::vector<std::shared_ptr<MemoryStream>> conns;
    for (std::uint8_t i = 1; i <= 3; ++i) {
        conns.push_back(rig.connect());
        Pdu p = rig.login(*conns.back(), Rig::full_keys(), i);
        const auto r = LoginResponsePdu::decode(p.bhs);
        if (i <= 2) {
            BOOST_CHECK_EQUAL(r.status_class, 0);
        } else {
            // RFC 3720 §10.13.5: 0x0302, Out of resources.
            BOOST_CHECK_EQUAL(r.status_class, 3);
            BOOST_CHECK_EQUAL(r.status_detail, 2);
            BOOST_CHECK(conns.back()->closed);
        }
    }
    BOOST_CHECK_EQUAL(rig.driver.sessions().size(), 2u);
    // Reinstating one of the two (same ISID) is not a third session.
    auto again = rig.connect();
    Pdu p = rig.login(*again, Rig::full_keys(), 1);
    BOOST_CHECK_EQUAL(LoginResponsePdu::decode(p.bhs).status_class, 0);
}

BOOST_AUTO_TEST_CASE(max_sessions_bounds_all_initiators) {
    Rig rig("", " max_sessions 1\n");
    auto a = rig.connect();
    rig.full_login(*a);
    auto b = rig.connect();
    Pdu p = rig.login(*b, Rig::full_keys(), 2);
    BOOST_CHECK_EQUAL(LoginResponsePdu::decode(p.bhs).status_class, 3);
    BOOST_CHECK_EQUAL(LoginResponsePdu::decode(p.bhs).status_detail, 2);
}

BOOST_AUTO_TEST_SUITE_END()
