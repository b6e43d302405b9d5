#define BOOST_TEST_MODULE conn_scsi
#include <boost/test/unit_test.hpp>

#include "support/conn_rig.hpp"
#include "target/iscsi/pdu.hpp"

// The SCSI command path of a connection (target/iscsi/conn_scsi.cpp) where it meets the
// stream: Data-In from where a READ's bytes lie (Slice::source), asked of the store only
// when the stream takes such slices and no DataDigest is on.

using namespace iscsilab;
using namespace iscsilab::iscsi;
using namespace iscsilab::testing;

BOOST_AUTO_TEST_SUITE(conn_scsi)

BOOST_AUTO_TEST_CASE(data_in_leaves_from_the_store_when_the_stream_takes_sources) {
    Rig rig;
    auto s = rig.connect();
    s->wire_sources = true;
    rig.full_login(*s);
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // eat the UA
    auto& store = *rig.stores.last;
    const Bytes want = pattern(64 * 1024, 9);
    std::copy(want.begin(), want.end(), store.data.begin() + 8 * 512);
    store.offer_sources = true;
    const int before = store.requests;
    // READ(10) of 128 blocks from LBA 8.
    auto out = rig.exchange(*s, rig.command({0x28, 0, 0, 0, 0, 8, 0, 0, 128, 0}, 64 * 1024, true, false));
    Bytes got;
    for (const auto& p : out) got.insert(got.end(), p.data.begin(), p.data.end());
    BOOST_TEST((got == want));
    BOOST_TEST(store.requests == before);  // nothing read into memory
    BOOST_TEST(store.sources == 1);
    BOOST_TEST(s->sourced_bytes == want.size());
    auto last = DataInPdu::decode(out.back().bhs);
    BOOST_TEST(last.status_present);
    BOOST_TEST(last.status == 0);
}

BOOST_AUTO_TEST_CASE(a_data_digest_keeps_data_in_in_memory) {
    // RFC 3720 §12.1: the digest covers the bytes, so they are read to compute it.
    Rig rig("  DataDigest CRC32C,None\n");
    auto s = rig.connect();
    s->wire_sources = true;
    rig.full_login(*s, {{"DataDigest", "CRC32C"}});
    const DigestSettings d{false, true};
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false), d);
    auto& store = *rig.stores.last;
    const Bytes want = pattern(64 * 1024, 4);
    std::copy(want.begin(), want.end(), store.data.begin());
    store.offer_sources = true;
    auto out = rig.exchange(*s, rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 128, 0}, 64 * 1024, true, false), d);
    Bytes got;
    for (const auto& p : out) got.insert(got.end(), p.data.begin(), p.data.end());
    BOOST_TEST((got == want));
    BOOST_TEST(store.sources == 0);
    BOOST_TEST(s->sourced_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(a_stream_without_sources_gets_bytes_in_memory) {
    Rig rig;
    auto s = rig.connect();
    rig.full_login(*s);
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    auto& store = *rig.stores.last;
    store.offer_sources = true;
    const int before = store.requests;
    auto out = rig.exchange(*s, rig.command({0x28, 0, 0, 0, 0, 0, 0, 0, 128, 0}, 64 * 1024, true, false));
    BOOST_TEST(!out.empty());
    BOOST_TEST(store.sources == 0);
    BOOST_TEST(store.requests == before + 1);
}

namespace {

// A session in full feature phase, its power-on unit attention taken.
std::shared_ptr<MemoryStream> ready(Rig& rig) {
    auto s = rig.connect();
    rig.full_login(*s);
    rig.exchange(*s, rig.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
    return s;
}

// WRITE(10) of 16 KiB at LBA 4: 8 KiB of immediate data, then 8 KiB of unsolicited
// Data-Out (InitialR2T=No, FirstBurstLength 64 KiB).
Bytes write_in_two(Rig& rig, std::span<const std::byte> data) {
    std::uint32_t itt = 0;
    Bytes wire = rig.command({0x2a, 0, 0, 0, 0, 4, 0, 0, 32, 0}, 16 * 1024, false, true, data.first(8192), false, &itt);
    const Bytes d = data_out(itt, kReservedTag, 0, 8192, data.subspan(8192), true);
    wire.insert(wire.end(), d.begin(), d.end());
    return wire;
}

}  // namespace

// A stream that reads the rest of a data segment straight into the task's buffer
// (ByteStream::Handler::receive_into): immediate data and an unsolicited Data-Out, each
// read after its header, reach the device whole, and no byte of them came by on_bytes.
BOOST_AUTO_TEST_CASE(write_data_is_received_straight_into_the_task_buffer) {
    Rig rig;
    auto s = ready(rig);
    const Bytes want = pattern(16 * 1024, 5);
    s->inject_in_reads(write_in_two(rig, want), 16);  // no read holds both a header and data after it
    rig.loop.run();
    BOOST_TEST(s->placed_bytes == want.size());
    auto out = drain(*s);
    BOOST_REQUIRE(out.size() == 1u);
    auto r = ScsiResponsePdu::decode(out[0].bhs);
    BOOST_TEST(r.status == 0);
    const auto& store = *rig.stores.last;
    BOOST_TEST(std::equal(want.begin(), want.end(), store.data.begin() + 4 * 512));
}

// Reads that cut PDUs anywhere: part of a segment comes with its header (copied), the
// rest into its place, and the next PDU's header with the tail of a read.
BOOST_AUTO_TEST_CASE(reads_cut_anywhere_mix_placed_and_copied_bytes) {
    for (std::size_t read : {1000u, 3000u, 5001u, 70000u}) {
        Rig rig;
        auto s = ready(rig);
        const Bytes want = pattern(16 * 1024, static_cast<int>(read));
        const Bytes wire = write_in_two(rig, want);
        s->inject_in_reads(wire, read);
        rig.loop.run();
        BOOST_TEST_CONTEXT("reads of " << read << " bytes") {
            BOOST_TEST((read >= wire.size() ? s->placed_bytes == 0 : s->placed_bytes > 0));
            auto out = drain(*s);
            BOOST_REQUIRE(out.size() == 1u);
            BOOST_TEST(ScsiResponsePdu::decode(out[0].bhs).status == 0);
            BOOST_TEST(std::equal(want.begin(), want.end(), rig.stores.last->data.begin() + 4 * 512));
        }
    }
}

// A Data-Out whose Target Transfer Tag names no outstanding R2T is refused on its
// header: its segment is never offered a place (nothing placed, though the stream reads
// header by header), the Reject follows, and the task ends with CHECK CONDITION once its
// unsolicited burst is closed; nothing reaches the device.
BOOST_AUTO_TEST_CASE(a_data_out_with_an_unknown_ttt_is_refused_at_its_header) {
    Rig rig;
    auto s = ready(rig);
    const Bytes want = pattern(16 * 1024, 8);
    const std::span<const std::byte> w(want);
    std::uint32_t itt = 0;
    // WRITE(10) of 32 blocks at LBA 100: 8 KiB immediate, 8 KiB unsolicited still owed.
    BOOST_TEST(rig.exchange(*s, rig.command({0x2a, 0, 0, 0, 0, 100, 0, 0, 32, 0}, 16 * 1024, false, true, w.first(8192),
                                            false, &itt))
                   .empty());
    s->inject_in_reads(data_out(itt, 0x1234, 0, 8192, w.subspan(8192), true), 16);
    rig.loop.run();
    BOOST_TEST(s->placed_bytes == 0u);
    auto out = drain(*s);
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::Reject);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(out[0].bhs).reason) == 0x04);
    // The unsolicited burst's last PDU: the task, its data failed, ends.
    out = rig.exchange(*s, data_out(itt, kReservedTag, 0, 8192, w.subspan(8192), true));
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(ScsiResponsePdu::decode(out[0].bhs).status == 0x02);
    const auto& store = *rig.stores.last;
    BOOST_TEST(std::none_of(store.data.begin() + 100 * 512, store.data.begin() + 132 * 512,
                            [](std::byte b) { return b != std::byte{0}; }));
    BOOST_TEST(!s->closed);
}

// A command outside the CmdSN window is dropped with its data unread, but a data digest
// error on it is still answered (RFC 3720 §6.7): Reject, Data-Digest-Error, and the
// connection ends as for any SCSI data lost at ERL 0.
BOOST_AUTO_TEST_CASE(a_digest_error_on_a_command_outside_the_window_is_still_rejected) {
    Rig rig("  DataDigest CRC32C\n");
    auto s = rig.connect();
    rig.full_login(*s, {{"DataDigest", "CRC32C"}});
    const DigestSettings d{false, true};
    rig.cmdsn += 500;  // far outside [ExpCmdSN, MaxCmdSN]
    const Bytes imm = pattern(4096, 2);
    ScsiCommandPdu c;
    c.write = true;
    c.final_bit = true;
    c.itt = rig.itt++;
    c.cmdsn = rig.cmdsn;
    c.expstatsn = rig.expstatsn;
    c.expected_data_transfer_length = 4096;
    c.cdb[0] = std::byte{0x2a};
    c.cdb[8] = std::byte{8};
    const Bytes good = frame(c.encode(4096), imm, d);
    s->inject(good);
    rig.loop.run();
    BOOST_TEST(drain(*s, d).empty());  // ignored, RFC 3720 §3.2.2.1
    BOOST_TEST(!s->closed);
    Bytes bad = good;
    bad.back() ^= std::byte{0x01};
    s->inject(bad);
    rig.loop.run();
    auto out = drain(*s, d);
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_REQUIRE(out[0].opcode() == Opcode::Reject);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(out[0].bhs).reason) == 0x02);
    BOOST_TEST(s->closed);
}

BOOST_AUTO_TEST_SUITE_END()
