#define BOOST_TEST_MODULE framer
#include <boost/test/unit_test.hpp>

#include <optional>

#include "support/harness.hpp"
#include "target/iscsi/crc32c.hpp"
#include "target/buffer_pool.hpp"
#include "target/iscsi/framer.hpp"
#include "target/bytes.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;
using iscsilab::testing::frame;

namespace {
struct Collected {
    std::vector<Pdu> pdus;
    std::vector<FrameError> errors;
    PduReader reader{[this](Pdu&& p, FrameError e) {
        errors.push_back(e);
        pdus.push_back(std::move(p));
        return true;
    }};
};
// A reader whose placer puts every data segment into a pool buffer of its own, as the
// connection does a write's (Connection::place_segment).
struct Placing : Collected {
    std::vector<BufferPtr> given;
    std::optional<std::uint32_t> discard_itt;  // the PDU whose segment is dropped
    Placing() {
        reader.set_placer([this](const Pdu& h) {
            const std::uint32_t n = h.view().data_segment_length();
            if (discard_itt && BhsView{h.bhs}.itt() == *discard_itt) return Placement::discarded();
            BufferPtr b = BufferPool::instance().get(n);
            given.push_back(b);
            return Placement::at(std::span<std::byte>(b->data(), n), b);
        });
    }
    // Writes bytes at room(), as a stream's readv would, and tells the reader.
    bool put(std::span<const std::byte> b) {
        auto room = reader.room();
        BOOST_REQUIRE(b.size() <= room.size());
        std::copy(b.begin(), b.end(), room.begin());
        return reader.placed(b.size());
    }
};
Bytes payload(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>(i * 13 + 1);
    return b;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(framer_suite)

BOOST_AUTO_TEST_CASE(byte_at_a_time_with_padding) {
    NopOutPdu n;
    n.itt = 1;
    Bytes data = payload(5);  // padded to 8 on the wire
    Bytes wire = frame(n.encode(5), data);
    BOOST_TEST(wire.size() == 48u + 8u);
    Bytes two = wire;
    two.insert(two.end(), wire.begin(), wire.end());
    Collected c;
    for (auto b : two) c.reader.feed(std::span<const std::byte>(&b, 1));
    BOOST_REQUIRE(c.pdus.size() == 2u);
    BOOST_TEST(c.pdus[0].data.size() == 5u);
    BOOST_TEST((c.pdus[1].data == data));
    BOOST_TEST(static_cast<int>(c.errors[1]) == static_cast<int>(FrameError::none));
}

BOOST_AUTO_TEST_CASE(ahs_is_collected) {
    ScsiCommandPdu c;
    Bhs h = c.encode(0, 2);
    Bytes wire(h.begin(), h.end());
    Bytes ahs = payload(8);
    wire.insert(wire.end(), ahs.begin(), ahs.end());
    Collected col;
    col.reader.feed(wire);
    BOOST_REQUIRE(col.pdus.size() == 1u);
    BOOST_TEST((col.pdus[0].ahs == ahs));
}

BOOST_AUTO_TEST_CASE(digests_pass_and_fail) {
    DigestSettings d{true, true};
    NopOutPdu n;
    Bytes data = payload(1000);
    Bytes wire = frame(n.encode(1000), data, d);
    BOOST_TEST(wire.size() == 48u + 4u + 1000u + 4u);
    {
        Collected c;
        c.reader.set_digests(d);
        c.reader.feed(wire);
        BOOST_REQUIRE(c.pdus.size() == 1u);
        BOOST_TEST(static_cast<int>(c.errors[0]) == static_cast<int>(FrameError::none));
        BOOST_TEST((c.pdus[0].data == data));
    }
    {
        Bytes bad = wire;
        bad[60] ^= std::byte{1};  // inside the data segment
        Collected c;
        c.reader.set_digests(d);
        c.reader.feed(bad);
        BOOST_REQUIRE(c.pdus.size() == 1u);
        BOOST_TEST(static_cast<int>(c.errors[0]) == static_cast<int>(FrameError::data_digest));
    }
    {
        Bytes bad = wire;
        bad[20] ^= std::byte{1};  // inside the BHS
        Collected c;
        c.reader.set_digests(d);
        BOOST_TEST(!c.reader.feed(bad));  // framing stops: the header cannot be trusted
        BOOST_REQUIRE(c.errors.size() == 1u);
        BOOST_TEST(static_cast<int>(c.errors[0]) == static_cast<int>(FrameError::header_digest));
    }
}

BOOST_AUTO_TEST_CASE(header_digest_is_little_endian_crc_of_bhs) {
    NopOutPdu n;
    Bhs h = n.encode(0);
    Bytes wire = frame(h, {}, DigestSettings{true, false});
    std::uint32_t crc = crc32c(h);
    BOOST_TEST(static_cast<std::uint8_t>(wire[48]) == (crc & 0xff));
    BOOST_TEST(static_cast<std::uint8_t>(wire[51]) == (crc >> 24));
}

BOOST_AUTO_TEST_CASE(oversized_segment_is_skipped_not_buffered) {
    NopOutPdu n;
    Bytes big = payload(10000);
    Bytes wire = frame(n.encode(10000), big);
    NopOutPdu n2;
    n2.itt = 2;
    Bytes after = frame(n2.encode(0));
    wire.insert(wire.end(), after.begin(), after.end());
    Collected c;
    c.reader.set_max_data_segment_length(8192);
    c.reader.feed(wire);
    BOOST_REQUIRE(c.pdus.size() == 2u);
    BOOST_TEST(static_cast<int>(c.errors[0]) == static_cast<int>(FrameError::data_too_long));
    BOOST_TEST(c.pdus[0].data.empty());
    BOOST_TEST(static_cast<int>(c.errors[1]) == static_cast<int>(FrameError::none));
    BOOST_TEST(BhsView{c.pdus[1].bhs}.itt() == 2u);
}

BOOST_AUTO_TEST_CASE(large_data_is_shared_not_copied) {
    auto owner = std::make_shared<Bytes>(payload(4096));
    Slice s{owner, std::span<const std::byte>(owner->data(), owner->size())};
    NopOutPdu n;
    auto slices = frame_pdu(n.encode(4096), s, {});
    BOOST_REQUIRE(slices.size() == 2u);
    BOOST_TEST(slices[1].bytes.data() == owner->data());
}

BOOST_AUTO_TEST_CASE(a_placed_segment_is_received_in_its_room) {
    Placing c;
    NopOutPdu n;
    const Bytes data = payload(4096);  // no padding: the PDU ends with its last byte
    const Bytes wire = frame(n.encode(4096), data);
    const std::span<const std::byte> w(wire);
    BOOST_TEST(c.reader.room().empty());  // nothing to place before a header is in
    c.reader.feed(w.first(48 + 100));     // the header and the segment's first bytes
    BOOST_REQUIRE(c.given.size() == 1u);
    BOOST_TEST(c.reader.room().size() == 4096u - 100u);
    BOOST_TEST(c.reader.room().data() == c.given[0]->data() + 100);
    BOOST_TEST(c.put(w.subspan(48 + 100, 2000)));
    BOOST_TEST(c.pdus.empty());
    BOOST_TEST(c.put(w.subspan(48 + 2100)));
    BOOST_REQUIRE(c.pdus.size() == 1u);
    BOOST_TEST(c.pdus[0].data_placed);
    BOOST_TEST(c.pdus[0].placed == c.given[0]);
    BOOST_TEST(std::equal(data.begin(), data.end(), c.given[0]->data()));
    BOOST_TEST(c.reader.room().empty());  // the next header is awaited
}

BOOST_AUTO_TEST_CASE(padding_and_digest_after_a_placed_segment_come_by_feed) {
    Placing c;
    c.reader.set_digests({false, true});
    const Bytes data = payload(5);
    for (bool good : {true, false}) {
        NopOutPdu n;
        Bytes wire = frame(n.encode(5), data);  // BHS, 5 bytes, 3 of padding
        const std::uint32_t crc = crc32c(std::span<const std::byte>(wire.data() + 48, 8));
        for (int i = 0; i < 4; ++i) wire.push_back(static_cast<std::byte>((good ? crc : ~crc) >> (8 * i)));
        const std::span<const std::byte> w(wire);
        c.reader.feed(w.first(48));
        BOOST_TEST(c.reader.room().size() == 5u);
        const std::size_t before = c.pdus.size();
        BOOST_TEST(c.put(w.subspan(48, 5)));
        BOOST_TEST(c.reader.room().empty());
        BOOST_TEST(c.pdus.size() == before);  // padding and digest still to come
        c.reader.feed(w.subspan(53));
        BOOST_REQUIRE(c.pdus.size() == before + 1);
        BOOST_TEST(static_cast<int>(c.errors.back()) ==
                   static_cast<int>(good ? FrameError::none : FrameError::data_digest));
    }
}

BOOST_AUTO_TEST_CASE(placing_past_the_room_stops_framing) {
    Placing c;
    NopOutPdu n;
    const Bytes wire = frame(n.encode(64), payload(64));
    c.reader.feed(std::span<const std::byte>(wire).first(48));
    BOOST_REQUIRE(c.reader.room().size() == 64u);
    BOOST_TEST(!c.reader.placed(65));
    BOOST_TEST(c.reader.stopped());
    BOOST_TEST(c.pdus.empty());
}

// SegmentFate::discard: the segment is read off the stream, never kept, and the PDU is
// handed over with its length; the next PDU frames as usual, cut anywhere.
BOOST_AUTO_TEST_CASE(a_discarded_segment_is_skipped_not_kept) {
    for (std::size_t cut : {1u, 7u, 48u, 1000u, 100000u}) {
        Placing c;
        c.discard_itt = 9;
        NopOutPdu a;
        a.itt = 9;
        NopOutPdu b;
        b.itt = 10;
        Bytes wire = frame(a.encode(6001), payload(6001));  // 3 bytes of padding
        const Bytes next = frame(b.encode(16), payload(16));
        wire.insert(wire.end(), next.begin(), next.end());
        for (std::size_t at = 0; at < wire.size(); at += cut)
            c.reader.feed(std::span<const std::byte>(wire).subspan(at, std::min(cut, wire.size() - at)));
        BOOST_TEST_CONTEXT("fed " << cut << " bytes at a time") {
            BOOST_REQUIRE(c.pdus.size() == 2u);
            BOOST_TEST(c.pdus[0].data_discarded);
            BOOST_TEST(c.pdus[0].data.empty());
            BOOST_TEST(c.pdus[0].data.capacity() == 0u);  // nothing was buffered for it
            BOOST_TEST(c.pdus[0].data_length() == 6001u);
            BOOST_TEST(static_cast<int>(c.errors[0]) == static_cast<int>(FrameError::none));
            BOOST_TEST(c.given.size() == 1u);  // only the second was placed
            BOOST_TEST(c.pdus[1].data_placed);
            BOOST_TEST(!c.pdus[1].data_discarded);
        }
    }
}

// RFC 3720 §6.7: a digest error is answered whatever the PDU, so a discarded segment's
// DataDigest is still checked, over the bytes it drops.
BOOST_AUTO_TEST_CASE(a_discarded_segment_still_has_its_digest_checked) {
    Placing c;
    c.discard_itt = 9;
    c.reader.set_digests({false, true});
    const Bytes data = payload(1001);
    for (bool good : {true, false}) {
        NopOutPdu n;
        n.itt = 9;
        Bytes wire = frame(n.encode(1001), data);
        const std::uint32_t crc = crc32c(std::span<const std::byte>(wire.data() + 48, 1004));
        for (int i = 0; i < 4; ++i) wire.push_back(static_cast<std::byte>((good ? crc : ~crc) >> (8 * i)));
        for (std::size_t at = 0; at < wire.size(); at += 5)
            c.reader.feed(std::span<const std::byte>(wire).subspan(at, std::min<std::size_t>(5, wire.size() - at)));
        BOOST_REQUIRE(!c.pdus.empty());
        BOOST_TEST(c.pdus.back().data_discarded);
        BOOST_TEST(static_cast<int>(c.errors.back()) ==
                   static_cast<int>(good ? FrameError::none : FrameError::data_digest));
    }
    BOOST_TEST(c.pdus.size() == 2u);
}

BOOST_AUTO_TEST_CASE(stop_from_sink) {
    int seen = 0;
    PduReader r([&](Pdu&&, FrameError) {
        ++seen;
        return false;
    });
    NopOutPdu n;
    Bytes one = frame(n.encode(0));
    Bytes two = one;
    two.insert(two.end(), one.begin(), one.end());
    BOOST_TEST(!r.feed(two));
    BOOST_TEST(seen == 1);
    BOOST_TEST(r.stopped());
}

BOOST_AUTO_TEST_SUITE_END()
