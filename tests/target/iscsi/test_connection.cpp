#define BOOST_TEST_MODULE connection
#include <boost/test/unit_test.hpp>

#include <random>

#include "support/conn_rig.hpp"
#include "target/iscsi/driver.hpp"
#include "target/bytes.hpp"
#include "target/mgmt/scst.hpp"
#include "target/scsi/command.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;
using namespace iscsilab::testing;


BOOST_AUTO_TEST_SUITE(connection_suite)

BOOST_AUTO_TEST_CASE(login_then_write_with_immediate_unsolicited_and_r2t_then_read) {
    Rig rig;
    auto s = rig.connect();
    Pdu lr = rig.full_login(*s);
    auto k = keys_of(lr);
    BOOST_TEST(k["InitialR2T"] == "No");
    BOOST_TEST(k["ImmediateData"] == "Yes");

    // TEST UNIT READY first: a new nexus sees the power-on unit attention.
    auto out = rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    BOOST_REQUIRE(out.size() == 1u);
    auto tur = ScsiResponsePdu::decode(out[0].bhs);
    BOOST_TEST(tur.status == 0x02);
    BOOST_TEST(static_cast<int>(ld8(out[0].data, 2 + 2) & 0x0f) == 0x6);  // UNIT ATTENTION
    out = rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    BOOST_TEST(ScsiResponsePdu::decode(out[0].bhs).status == 0x00);

    // WRITE(10) of 256 blocks (128 KiB): 8 KiB immediate, unsolicited to 64 KiB, the rest by R2T.
    const std::uint32_t len = 128 * 1024;
    Bytes payload = pattern(len, 7);
    std::uint32_t witt = 0;
    out = rig.exchange(*s, rig.command({0x2a, 0, 0, 0, 0, 16, 0, 1, 0, 0}, len, false, true,
                                       std::span<const std::byte>(payload.data(), 8192), false, &witt));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::R2T);
    auto r2t = R2TPdu::decode(out[0].bhs);
    BOOST_TEST(r2t.buffer_offset == 65536u);  // after the first burst
    BOOST_TEST(r2t.desired_data_transfer_length == 65536u);
    BOOST_TEST(r2t.r2tsn == 0u);
    // Unsolicited Data-Out: 8192..65536 in 8 KiB PDUs, DataSN from 0.
    Bytes wire;
    std::uint32_t sn = 0;
    for (std::uint32_t off = 8192; off < 65536; off += 8192) {
        auto d = data_out(witt, kReservedTag, sn++, off, std::span<const std::byte>(payload.data() + off, 8192), off + 8192 == 65536);
        wire.insert(wire.end(), d.begin(), d.end());
    }
    // Solicited: DataSN restarts at 0 for the R2T's sequence.
    sn = 0;
    for (std::uint32_t off = 65536; off < len; off += 8192) {
        auto d = data_out(witt, r2t.ttt, sn++, off, std::span<const std::byte>(payload.data() + off, 8192), off + 8192 == len);
        wire.insert(wire.end(), d.begin(), d.end());
    }
    out = rig.exchange(*s, wire);
    BOOST_REQUIRE(out.size() == 1u);
    auto wr = ScsiResponsePdu::decode(out[0].bhs);
    BOOST_TEST(wr.status == 0x00);
    BOOST_TEST(!wr.overflow);
    BOOST_TEST(!wr.underflow);
    BOOST_TEST(std::equal(payload.begin(), payload.end(), rig.stores.last->data.begin() + 16 * 512));

    // READ(10) it back: Data-In of at most the initiator's 8 KiB, status in the last.
    out = rig.exchange(*s, rig.command({0x28, 0, 0, 0, 0, 16, 0, 1, 0, 0}, len, true, false));
    BOOST_REQUIRE(out.size() == len / 8192);
    Bytes back;
    for (std::size_t i = 0; i < out.size(); ++i) {
        BOOST_REQUIRE(out[i].opcode() == Opcode::DataIn);
        auto d = DataInPdu::decode(out[i].bhs);
        BOOST_TEST(d.datasn == i);
        BOOST_TEST(d.buffer_offset == back.size());
        BOOST_TEST(d.status_present == (i + 1 == out.size()));
        back.insert(back.end(), out[i].data.begin(), out[i].data.end());
    }
    BOOST_TEST((back == payload));
}

BOOST_AUTO_TEST_CASE(residuals_follow_edtl) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // eat the UA
    // INQUIRY with allocation length 255: fewer bytes exist, so underflow.
    auto out = rig.exchange(*s, rig.command({0x12, 0, 0, 0, 255, 0}, 255, true, false));
    BOOST_REQUIRE(out.size() == 1u);
    auto d = DataInPdu::decode(out[0].bhs);
    BOOST_TEST(d.underflow);
    BOOST_TEST(d.residual == 255u - out[0].data.size());
    // READ(10) of one block with EDTL 200: 200 bytes, overflow of 312.
    out = rig.exchange(*s, rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 200, true, false));
    BOOST_REQUIRE(out.size() == 1u);
    d = DataInPdu::decode(out[0].bhs);
    BOOST_TEST(out[0].data.size() == 200u);
    BOOST_TEST(d.overflow);
    BOOST_TEST(d.residual == 312u);
}

BOOST_AUTO_TEST_CASE(cmdsn_window) {
    Rig rig;
    auto s = rig.connect();
    auto lr = LoginResponsePdu::decode(rig.full_login(*s).bhs);
    // RFC 3720 §3.2.2.1: MaxCmdSN = ExpCmdSN + QueuedCommands - 1 (32 by default).
    BOOST_TEST(lr.sn.expcmdsn == 1u);
    BOOST_TEST(lr.sn.maxcmdsn == 32u);
    // Out of window: silently ignored.
    rig.cmdsn = 100;
    BOOST_TEST(rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false)).empty());
    // Below ExpCmdSN (a duplicate): ignored too.
    rig.cmdsn = 0;
    BOOST_TEST(rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false)).empty());
    // CmdSN 2 arrives before 1: held, then both answered in order.
    rig.cmdsn = 2;
    BOOST_TEST(rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false)).empty());
    rig.cmdsn = 1;
    auto out = rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    BOOST_REQUIRE(out.size() == 2u);
    auto second = ScsiResponsePdu::decode(out[1].bhs);
    BOOST_TEST(second.sn.expcmdsn == 3u);
    BOOST_TEST(sn_le(second.sn.expcmdsn - 1, second.sn.maxcmdsn));
}

// RFC 3720 §3.2.2.1: with QueuedCommands commands in flight, MaxCmdSN = ExpCmdSN - 1 and
// a command at ExpCmdSN is outside the window: ignored, not run as a third.
BOOST_AUTO_TEST_CASE(closed_window_ignores_cmdsn_at_expcmdsn) {
    Rig rig(" QueuedCommands 2\n");
    auto s = rig.connect();
    rig.full_login(*s);
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // the unit attention
    rig.stores.last->hold = true;
    Bytes both = rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, true, false);
    Bytes second = rig.command({0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0}, 512, true, false);
    both.insert(both.end(), second.begin(), second.end());
    BOOST_TEST(rig.exchange(*s, both).empty());  // both at the device: the window is closed
    const std::uint32_t third = rig.cmdsn;
    BOOST_TEST(rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false)).empty());
    rig.stores.last->hold = false;
    rig.stores.last->release();
    rig.loop.run();
    auto out = drain(*s);
    BOOST_REQUIRE(out.size() == 2u);  // a Data-In with status for each read, nothing for the third
    for (const auto& p : out) BOOST_TEST((p.opcode() == Opcode::DataIn));
    // Sent again once the window opened, it runs.
    rig.cmdsn = third;
    out = rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(ScsiResponsePdu::decode(out[0].bhs).status == 0x00);
}

BOOST_AUTO_TEST_CASE(nop_ping_is_echoed) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    NopOutPdu n;
    n.immediate = true;
    n.itt = 4242;
    n.cmdsn = rig.cmdsn;
    Bytes data = pattern(100, 3);
    auto out = rig.exchange(*s, frame(n.encode(100), data));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::NopIn);
    auto in = NopInPdu::decode(out[0].bhs);
    BOOST_TEST(in.itt == 4242u);
    BOOST_TEST(in.ttt == kReservedTag);
    BOOST_TEST((out[0].data == data));
}

BOOST_AUTO_TEST_CASE(reject_reasons) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    // Opcode 0x1c is not an initiator opcode: Command Not Supported, header echoed.
    Bhs bogus{};
    bogus[0] = std::byte{0x1c};
    st32(bogus, 16, 99);
    auto out = rig.exchange(*s, frame(bogus));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::Reject);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(out[0].bhs).reason) == 0x05);
    BOOST_TEST((std::equal(bogus.begin(), bogus.end(), out[0].data.begin())));
    // SNACK at ERL 0.
    SnackPdu sn;
    out = rig.exchange(*s, frame(sn.encode()));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(out[0].bhs).reason) == 0x05);
    // A Login Request in full feature phase.
    LoginRequestPdu l;
    out = rig.exchange(*s, frame(l.encode(0)));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(out[0].bhs).reason) == 0x04);
    // Immediate data on a read: protocol error.
    Bytes imm(512);
    out = rig.exchange(*s, rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, true, false, imm));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(out[0].bhs).reason) == 0x04);
    BOOST_TEST(!s->closed);
}

BOOST_AUTO_TEST_CASE(oversized_segment_rejected_and_closed) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    NopOutPdu n;
    n.itt = 1;
    n.immediate = true;
    Bytes big(2u << 20);  // over our 1 MiB MaxRecvDataSegmentLength
    auto out = rig.exchange(*s, frame(n.encode(static_cast<std::uint32_t>(big.size())), big));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(out[0].bhs).reason) == 0x04);
    BOOST_TEST(s->closed);
    BOOST_TEST(rig.driver.connection_count() == 0u);
}

BOOST_AUTO_TEST_CASE(digests_after_login) {
    Rig rig("  HeaderDigest CRC32C,None\n  DataDigest CRC32C,None\n");
    auto s = rig.connect();
    auto lr = rig.full_login(*s, {{"HeaderDigest", "CRC32C"}, {"DataDigest", "CRC32C"}});
    BOOST_TEST(keys_of(lr)["HeaderDigest"] == "CRC32C");
    DigestSettings d{true, true};
    NopOutPdu n;
    n.immediate = true;
    n.itt = 5;
    Bytes data = pattern(33, 1);
    s->inject(frame(n.encode(33), data, d));
    rig.loop.run();
    auto out = drain(*s, d);
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST((out[0].data == data));
    // A bad header digest ends the connection (RFC 3720 §6.7).
    Bytes bad = frame(n.encode(0), {}, d);
    bad[49] ^= std::byte{0xff};
    s->inject(bad);
    rig.loop.run();
    BOOST_TEST(s->closed);
}

BOOST_AUTO_TEST_CASE(data_digest_error_rejects) {
    Rig rig("  DataDigest CRC32C\n");
    auto s = rig.connect();
    rig.full_login(*s, {{"DataDigest", "CRC32C"}});
    DigestSettings d{false, true};
    NopOutPdu n;
    n.immediate = true;
    n.itt = 5;
    Bytes wire = frame(n.encode(16), pattern(16, 2), d);
    wire[50] ^= std::byte{1};
    s->inject(wire);
    rig.loop.run();
    auto out = drain(*s, d);
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(out[0].bhs).reason) == 0x02);
    BOOST_TEST(!s->closed);  // a NOP-Out can simply be dropped
}

BOOST_AUTO_TEST_CASE(abort_task_waiting_for_data) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s, {{"InitialR2T", "Yes"}});
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    std::uint32_t witt = 0;
    auto out = rig.exchange(*s, rig.command({0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0}, 4096, false, true, {}, true, &witt));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::R2T);
    const std::uint32_t ttt = R2TPdu::decode(out[0].bhs).ttt;
    TaskMgmtRequestPdu tm;
    tm.function = TmfFunction::AbortTask;
    tm.itt = 777;
    tm.referenced_task_tag = witt;
    tm.cmdsn = rig.cmdsn;
    out = rig.exchange(*s, frame(tm.encode()));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::TaskMgmtResponse);
    BOOST_TEST(static_cast<int>(TaskMgmtResponsePdu::decode(out[0].bhs).response) == 0);
    // Late data for the aborted task is dropped; no response ever comes for it.
    Bytes late(4096);
    out = rig.exchange(*s, data_out(witt, ttt, 0, 0, late, true));
    BOOST_TEST(out.empty());
    // Unknown task.
    tm.referenced_task_tag = 123456;
    tm.itt = 778;
    out = rig.exchange(*s, frame(tm.encode()));
    BOOST_TEST(static_cast<int>(TaskMgmtResponsePdu::decode(out[0].bhs).response) == 1);
    // Unknown LUN.
    tm.lun = scsi::encode_lun(9);
    tm.function = TmfFunction::LogicalUnitReset;
    out = rig.exchange(*s, frame(tm.encode()));
    BOOST_TEST(static_cast<int>(TaskMgmtResponsePdu::decode(out[0].bhs).response) == 2);
    tm.function = TmfFunction::TaskReassign;
    tm.lun = 0;
    out = rig.exchange(*s, frame(tm.encode()));
    BOOST_TEST(static_cast<int>(TaskMgmtResponsePdu::decode(out[0].bhs).response) == 4);
}

BOOST_AUTO_TEST_CASE(abort_task_before_it_arrives) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // CmdSN 1, the UA
    // CmdSN 2 is lost on the way; CmdSN 3 waits for it. ABORT TASK names CmdSN 2.
    rig.cmdsn = 3;
    BOOST_TEST(rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false)).empty());
    TaskMgmtRequestPdu tm;
    tm.function = TmfFunction::AbortTask;
    tm.immediate = true;
    tm.itt = 500;
    tm.referenced_task_tag = 4242;
    tm.refcmdsn = 2;
    tm.cmdsn = 4;
    auto out = rig.exchange(*s, frame(tm.encode()));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(static_cast<int>(TaskMgmtResponsePdu::decode(out[0].bhs).response) == 0);  // Function Complete
    // When CmdSN 2 does arrive it is not run, and CmdSN 3 proceeds.
    rig.cmdsn = 2;
    rig.itt = 4242;
    out = rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    BOOST_REQUIRE(out.size() == 1u);
    auto r = ScsiResponsePdu::decode(out[0].bhs);
    BOOST_TEST(r.itt != 4242u);
    BOOST_TEST(r.sn.expcmdsn == 4u);
}

BOOST_AUTO_TEST_CASE(lun_reset_waits_for_the_device) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    rig.stores.last->hold = true;
    auto out = rig.exchange(*s, rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, true, false));
    BOOST_TEST(out.empty());  // the read is at the device
    TaskMgmtRequestPdu tm;
    tm.function = TmfFunction::LogicalUnitReset;
    tm.immediate = true;
    tm.itt = 900;
    out = rig.exchange(*s, frame(tm.encode()));
    BOOST_TEST(out.empty());  // not before the aborted read has ended
    rig.stores.last->hold = false;
    rig.stores.last->release();
    rig.loop.run();
    out = drain(*s);
    BOOST_REQUIRE(out.size() == 1u);  // the TMF response, and no response for the read
    BOOST_TEST(out[0].opcode() == Opcode::TaskMgmtResponse);
}

BOOST_AUTO_TEST_CASE(lun_reset_waits_for_other_sessions_tasks) {
    // SAM-5 §7: a LUN RESET is complete when the tasks it aborts are gone in every task
    // set it reaches; another session's read still at the device holds the response.
    Rig rig;
    auto a = rig.connect();
    rig.full_login(*a);
    rig.exchange(*a, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // the power-on UA
    const std::uint32_t a_cmdsn = rig.cmdsn;
    auto b = rig.connect();
    rig.cmdsn = 1;
    BOOST_REQUIRE(LoginResponsePdu::decode(rig.login(*b, Rig::full_keys(), 2).bhs).status_class == 0);  // another ISID
    rig.exchange(*b, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    rig.stores.last->hold = true;
    auto out = rig.exchange(*b, rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, true, false));
    BOOST_TEST(out.empty());  // B's read is at the device
    rig.cmdsn = a_cmdsn;
    TaskMgmtRequestPdu tm;
    tm.function = TmfFunction::LogicalUnitReset;
    tm.immediate = true;
    tm.itt = 900;
    tm.cmdsn = a_cmdsn;
    out = rig.exchange(*a, frame(tm.encode()));
    BOOST_TEST(out.empty());  // not while B's read works
    rig.stores.last->hold = false;
    rig.stores.last->release();
    rig.loop.run();
    out = drain(*a);
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0].opcode() == Opcode::TaskMgmtResponse);
    BOOST_TEST(drain(*b).empty());  // B's read ended without a response (TAS=0)
}

// SAM-5 §6.5 / RFC 3720 §10.9: a changed LUN inventory reaches a session in full feature
// phase as an Asynchronous Message with the sense data, in place of a unit attention.
BOOST_AUTO_TEST_CASE(lun_inventory_change_is_an_async_message) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    auto ua = rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // the power-on UA
    BOOST_REQUIRE(ua.size() == 1u);
    const std::uint32_t next_statsn = ScsiResponsePdu::decode(ua[0].bhs).sn.statsn + 1;
    BOOST_REQUIRE(rig.scst.add_device("vdisk_fileio", "d1", {{"filename", "/mem1"}}).empty());
    BOOST_REQUIRE(rig.driver.find_target(kIqn)->luns().add_lun("", 1, rig.scst.device("d1"), false).empty());
    rig.loop.run();
    auto out = drain(*s);
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::AsyncMessage);
    auto m = AsyncMessagePdu::decode(out[0].bhs);
    BOOST_TEST(static_cast<int>(m.event) == static_cast<int>(AsyncEvent::ScsiAsyncEvent));
    BOOST_TEST(scsi::decode_lun(m.lun) == 0u);           // the LUN whose device carried it
    BOOST_TEST(m.sn.statsn == next_statsn);                // it takes the next StatSN
    BOOST_REQUIRE(out[0].data.size() >= 2u + 14u);
    BOOST_TEST(ld16(out[0].data, 0) == out[0].data.size() - 2);  // SenseLength
    auto sense = scsi::decode_sense(std::span<const std::byte>(out[0].data).subspan(2));
    BOOST_REQUIRE(sense.has_value());
    BOOST_TEST(static_cast<int>(sense->key) == static_cast<int>(scsi::SenseKey::UnitAttention));
    BOOST_TEST(sense->code.asc == 0x3f);
    BOOST_TEST(sense->code.ascq == 0x0e);
    rig.expstatsn = m.sn.statsn + 1;
    // Told once: no unit attention follows for the same event.
    out = rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(ScsiResponsePdu::decode(out[0].bhs).status == 0);
}

namespace {
// PERSISTENT RESERVE OUT's 24-byte parameter list (SPC-4 §6.16.3).
Bytes prout_params(std::uint64_t key, std::uint64_t sa_key) {
    Bytes p(24);
    st64(p, 0, key);
    st64(p, 8, sa_key);
    return p;
}
std::uint8_t status_of(const std::vector<Pdu>& out) {
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::ScsiResponse);
    return ScsiResponsePdu::decode(out[0].bhs).status;
}
}  // namespace

// SPC-4 §5.13.11.2.6: PREEMPT AND ABORT ends the preempted nexus's tasks, and answers only
// once they are gone; the preempted initiator learns of it by a unit attention, and its
// writes conflict from then on.
BOOST_AUTO_TEST_CASE(preempt_and_abort_ends_the_other_sessions_tasks) {
    Rig rig;
    auto a = rig.connect();
    rig.full_login(*a);
    rig.exchange(*a, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    std::uint32_t a_cmdsn = rig.cmdsn;
    auto b = rig.connect();
    rig.cmdsn = 1;
    BOOST_REQUIRE(LoginResponsePdu::decode(rig.login(*b, Rig::full_keys(), 2).bhs).status_class == 0);
    rig.exchange(*b, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    std::uint32_t b_cmdsn = rig.cmdsn;
    auto on = [&](MemoryStream& s, std::uint32_t& sn, auto&& make) {
        rig.cmdsn = sn;
        auto out = rig.exchange(s, make());
        sn = rig.cmdsn;
        return out;
    };
    // A registers 0xA and reserves Write Exclusive; B registers 0xB.
    const Bytes reg_a = prout_params(0, 0xA), reg_b = prout_params(0, 0xB), res_a = prout_params(0xA, 0);
    BOOST_TEST(status_of(on(*a, a_cmdsn, [&] { return rig.command({0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0}, 24, false, true, reg_a); })) == 0);
    BOOST_TEST(status_of(on(*b, b_cmdsn, [&] { return rig.command({0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0}, 24, false, true, reg_b); })) == 0);
    BOOST_TEST(status_of(on(*a, a_cmdsn, [&] { return rig.command({0x5f, 0x01, 0x01, 0, 0, 0, 0, 0, 24, 0}, 24, false, true, res_a); })) == 0);
    // A's read waits at the device.
    rig.stores.last->hold = true;
    auto out = on(*a, a_cmdsn, [&] { return rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, true, false); });
    BOOST_TEST(out.empty());
    // B preempts A's key and aborts A's tasks.
    const Bytes preempt = prout_params(0xB, 0xA);
    out = on(*b, b_cmdsn, [&] { return rig.command({0x5f, 0x05, 0x01, 0, 0, 0, 0, 0, 24, 0}, 24, false, true, preempt); });
    BOOST_TEST(out.empty());  // not while A's read is at the device
    rig.stores.last->hold = false;
    rig.stores.last->release();
    rig.loop.run();
    BOOST_TEST(status_of(drain(*b)) == 0);
    BOOST_TEST(drain(*a).empty());  // A's read ended without a response (TAS=0)
    // A hears REGISTRATIONS PREEMPTED, then its write conflicts: B holds the reservation.
    out = on(*a, a_cmdsn, [&] { return rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false); });
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(ScsiResponsePdu::decode(out[0].bhs).status == 2);
    auto sense = scsi::decode_sense(std::span<const std::byte>(out[0].data).subspan(2));
    BOOST_REQUIRE(sense.has_value());
    BOOST_TEST(sense->code.asc == 0x2a);
    BOOST_TEST(sense->code.ascq == 0x05);
    const Bytes block(512);
    BOOST_TEST(status_of(on(*a, a_cmdsn, [&] { return rig.command({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, false, true, block); })) == 0x18);
    BOOST_TEST(status_of(on(*b, b_cmdsn, [&] { return rig.command({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, false, true, block); })) == 0);
}

BOOST_AUTO_TEST_CASE(rsp_timeout_closes_a_stalled_connection) {
    Rig rig("  RspTimeout 5\n  NopInInterval 0\n");
    auto s = rig.connect();
    rig.full_login(*s, {{"InitialR2T", "Yes"}});
    auto out = rig.exchange(*s, rig.command({0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0}, 4096, false, true));
    BOOST_REQUIRE(out.size() == 1u);  // R2T, never answered
    rig.loop.advance(std::chrono::seconds(4));
    BOOST_TEST(!s->closed);
    rig.loop.advance(std::chrono::milliseconds(1100));  // just past RspTimeout
    BOOST_TEST(s->closed);
}

BOOST_AUTO_TEST_CASE(nop_in_pings_an_idle_initiator) {
    Rig rig("  RspTimeout 5\n  NopInInterval 10\n");
    auto s = rig.connect();
    rig.full_login(*s);
    rig.loop.advance(std::chrono::seconds(11));
    auto out = drain(*s);
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::NopIn);
    auto ping = NopInPdu::decode(out[0].bhs);
    BOOST_TEST(ping.itt == kReservedTag);
    BOOST_TEST(ping.ttt != kReservedTag);
    // Answered: the connection stays.
    NopOutPdu reply;
    reply.immediate = true;
    reply.itt = kReservedTag;
    reply.ttt = ping.ttt;
    s->inject(frame(reply.encode(0)));
    rig.loop.advance(std::chrono::seconds(9));
    BOOST_TEST(!s->closed);
    // Not answered: closed after RspTimeout.
    rig.loop.advance(std::chrono::seconds(30));
    BOOST_TEST(s->closed);
}

BOOST_AUTO_TEST_CASE(logout_closes) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    LogoutRequestPdu l;
    l.immediate = true;
    l.itt = 31;
    l.cmdsn = rig.cmdsn;
    auto out = rig.exchange(*s, frame(l.encode()));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(static_cast<int>(LogoutResponsePdu::decode(out[0].bhs).response) == 0);
    rig.loop.run();
    BOOST_TEST(s->closed);
    BOOST_TEST(rig.driver.sessions().empty());
}

// RFC 3720 §10.14: the nexus is lost before the Logout Response leaves, so an initiator
// that logs in again at once finds no reservation (or PREVENT) of the old one.
BOOST_AUTO_TEST_CASE(logout_loses_the_nexus_before_its_response_leaves) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // eat the UA
    auto out = rig.exchange(*s, rig.command({0x16, 0, 0, 0, 0, 0}, 0, false, false));  // RESERVE(6)
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(ScsiResponsePdu::decode(out[0].bhs).status == 0);
    auto dev = rig.scst.device("d0");
    BOOST_REQUIRE(dev);
    BOOST_REQUIRE(dev->spc2_reserved());
    LogoutRequestPdu l;
    l.immediate = true;
    l.itt = 32;
    l.cmdsn = rig.cmdsn;
    s->inject(frame(l.encode()));  // no task to wait for: the response leaves at once
    auto resp = drain(*s);
    BOOST_REQUIRE(resp.size() == 1u);
    BOOST_TEST(!s->closed);  // the close comes after the response has left
    BOOST_TEST(!dev->spc2_reserved());
    rig.loop.run();
    BOOST_TEST(s->closed);
}

BOOST_AUTO_TEST_CASE(session_reinstatement) {
    Rig rig;
    auto a = rig.connect();
    rig.full_login(*a);
    auto b = rig.connect();
    rig.cmdsn = 1;
    rig.full_login(*b);  // same InitiatorName and ISID
    rig.loop.run();
    BOOST_TEST(a->closed);
    BOOST_TEST(!b->closed);
    BOOST_TEST(rig.driver.sessions().size() == 1u);
}

BOOST_AUTO_TEST_CASE(reinstatement_waits_for_the_old_sessions_tasks) {
    // RFC 3720 §6.3.5: the old session's tasks end before the new session runs; one
    // still writing at the device would otherwise land over the new session's writes.
    Rig rig;
    auto a = rig.connect();
    rig.full_login(*a);
    rig.exchange(*a, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // the power-on UA
    rig.stores.last->hold = true;
    auto out = rig.exchange(*a, rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, true, false));
    BOOST_TEST(out.empty());  // at the device
    a->peer_close();           // the connection dies; the read is still running
    rig.loop.run();
    BOOST_TEST(rig.driver.sessions().empty());
    auto b = rig.connect();
    rig.cmdsn = 1;
    LoginRequestPdu r;
    r.csg = 1;
    r.nsg = 3;
    r.transit = true;
    r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};  // the same
    r.itt = rig.itt++;
    r.cmdsn = rig.cmdsn;
    std::vector<KeyValue> kv = {{"InitiatorName", "iqn.2026-11.org.example:host"}, {"TargetName", kIqn},
                                {"SessionType", "Normal"}};
    for (auto& k : Rig::full_keys()) kv.push_back(k);
    Bytes keys = text_bytes(kv);
    auto reply = rig.exchange(*b, frame(r.encode(static_cast<std::uint32_t>(keys.size())), keys));
    BOOST_TEST(reply.empty());  // no final Login Response while the old read works
    rig.stores.last->hold = false;
    rig.stores.last->release();
    rig.loop.run();
    out = drain(*b);
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0].opcode() == Opcode::LoginResponse);
    BOOST_TEST(LoginResponsePdu::decode(out[0].bhs).status_class == 0);
}

BOOST_AUTO_TEST_CASE(discovery_send_targets) {
    Rig rig;
    auto s = rig.connect();
    LoginRequestPdu r;
    r.csg = 1;
    r.nsg = 3;
    r.transit = true;
    r.itt = 1;
    Bytes data = text_bytes({{"InitiatorName", "iqn.x"}, {"SessionType", "Discovery"}});
    auto out = rig.exchange(*s, frame(r.encode(static_cast<std::uint32_t>(data.size())), data));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(LoginResponsePdu::decode(out[0].bhs).transit);
    TextRequestPdu t;
    t.itt = 2;
    t.cmdsn = 0;
    t.immediate = true;
    Bytes q = text_bytes({{"SendTargets", "All"}});
    out = rig.exchange(*s, frame(t.encode(static_cast<std::uint32_t>(q.size())), q));
    BOOST_REQUIRE(out.size() == 1u);
    auto k = keys_of(out[0]);
    BOOST_TEST(k["TargetName"] == kIqn);
    BOOST_TEST(k["TargetAddress"] == "10.0.0.1:3260,1");
    // No SCSI in a discovery session.
    ScsiCommandPdu c;
    c.immediate = true;
    out = rig.exchange(*s, frame(c.encode(0)));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0].opcode() == Opcode::Reject);
}

BOOST_AUTO_TEST_CASE(login_failure_closes) {
    Rig rig;
    auto s = rig.connect();
    LoginRequestPdu r;
    r.csg = 1;
    r.nsg = 3;
    r.transit = true;
    Bytes data = text_bytes({{"InitiatorName", "iqn.x"}, {"TargetName", "iqn.2026-11.org.example:none"}});
    auto out = rig.exchange(*s, frame(r.encode(static_cast<std::uint32_t>(data.size())), data));
    BOOST_REQUIRE(out.size() == 1u);
    auto resp = LoginResponsePdu::decode(out[0].bhs);
    BOOST_TEST(resp.status_class == 2);
    BOOST_TEST(resp.status_detail == 3);
    BOOST_TEST(s->closed);
    // A non-login PDU before login also ends the connection, without a crash.
    auto s2 = rig.connect();
    s2->inject(rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    rig.loop.run();
    BOOST_TEST(s2->closed);
}

// Seeded garbage after a good login: the target answers or closes, never crashes or hangs,
// and leaks no connection.
BOOST_AUTO_TEST_CASE(garbage_never_crashes) {
    for (std::uint32_t seed = 1; seed <= 300; ++seed) {
        Rig rig;
        auto s = rig.connect();
        rig.full_login(*s);
        std::mt19937 gen(seed);
        for (int round = 0; round < 20 && !s->closed; ++round) {
            Bhs h{};
            for (auto& b : h) b = static_cast<std::byte>(gen());
            // Keep plausible opcodes most of the time so deep paths get exercised.
            static const int ops[] = {0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x10, 0x3f};
            h[0] = static_cast<std::byte>((gen() % 4 ? ops[gen() % 8] : int(gen() & 0x3f)) | (gen() % 2 ? 0x40 : 0));
            std::uint32_t dsl = gen() % 3 == 0 ? gen() % 20000 : gen() % 64;
            st24(h, 5, dsl);
            h[4] = static_cast<std::byte>(gen() % 4 == 0 ? gen() % 3 : 0);
            if (gen() % 2) st32(h, 24, rig.cmdsn++);
            Bytes data(padded(dsl) + std::size_t{ld8(h, 4)} * 4);
            for (auto& b : data) b = static_cast<std::byte>(gen());
            Bytes wire(h.begin(), h.end());
            wire.insert(wire.end(), data.begin(), data.end());
            s->inject(wire);
            rig.loop.advance(std::chrono::milliseconds(10));
            drain(*s);
        }
        rig.loop.advance(std::chrono::seconds(120));
        BOOST_TEST(rig.driver.connection_count() <= 1u);
        if (s->closed) BOOST_TEST(rig.driver.connection_count() == 0u);
    }
}

BOOST_AUTO_TEST_SUITE_END()
