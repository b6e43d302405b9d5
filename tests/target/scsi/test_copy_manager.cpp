#define BOOST_TEST_MODULE copy_manager
#include <boost/test/unit_test.hpp>

#include "support/scsi_checks.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "target/bytes.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/scsi/copy_manager.hpp"
#include "target/scsi/spc.hpp"

using namespace iscsilab;
using namespace iscsilab::scsi;
namespace limits = iscsilab::scsi::copy_limits;

namespace {

// An in-memory backing store that can fail a byte range and hold completions back (to
// make the copy manager's commands complete later, on the test's say).
class TestStore final : public BlockStore {
public:
    explicit TestStore(std::uint64_t size) : data(size) {}
    std::uint64_t size_bytes() const override { return data.size(); }
    void submit(const BlockRequest& r, std::function<void(BlockStatus)> done) override {
        std::unique_lock lock(mu);  // requests may come from several threads
        ++requests;
        largest_request = std::max(largest_request, r.length);
        if (r.op == BlockOp::read) ++reads;
        if (r.op == BlockOp::write) ++writes;
        const bool bad = fail_from && r.offset + r.length > *fail_from && r.offset < *fail_from + fail_length;
        BlockStatus st = BlockStatus::medium_error;
        if (!bad) {
            if (r.op == BlockOp::read)
                std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(r.offset), r.length, r.buffer.begin());
            else if (r.op == BlockOp::write)
                std::copy_n(r.buffer.begin(), r.length, data.begin() + static_cast<std::ptrdiff_t>(r.offset));
            st = BlockStatus::ok;
        }
        if (hold) {
            held.push_back([done = std::move(done), st] { done(st); });
            return;
        }
        lock.unlock();
        done(st);
    }
    // Completes the held requests, oldest first, including any they submit in turn.
    void release_all() {
        while (!held.empty()) {
            auto f = std::move(held.front());
            held.pop_front();
            f();
        }
    }
    Bytes data;
    int requests = 0, reads = 0, writes = 0;
    std::uint64_t largest_request = 0;
    std::optional<std::uint64_t> fail_from;  // bytes [fail_from, fail_from + fail_length) fail
    std::uint64_t fail_length = 0;
    bool hold = false;
    std::deque<std::function<void()>> held;
    std::mutex mu;
};

void run_sync(handlers::Vdisk& dev, const std::shared_ptr<Command>& cmd) {
    bool done = false;
    dev.execute(cmd, {}, [&] { done = true; });
    BOOST_REQUIRE(done);
}

// A logical unit: a vdisk over a TestStore, and the NAA designator of its VPD page 83h
// (what libiscsi's populate_tgt_desc() picks).
struct Lu {
    std::shared_ptr<TestStore> store;
    std::shared_ptr<handlers::Vdisk> dev;
    Bytes vpd83;
    Bytes naa;
    std::uint32_t block_size = 512;

    Lu(const std::string& name, std::uint64_t size, std::uint32_t bs = 512) : block_size(bs) {
        store = std::make_shared<TestStore>(size);
        handlers::VdiskConfig c;
        c.name = name;
        c.filename = "/mem/" + name;
        c.blocksize = bs;
        dev = std::make_shared<handlers::Vdisk>(c, store);
        auto inq = std::make_shared<Command>();
        const int cdb[] = {0x12, 0x01, 0x83, 0x00, 0xff, 0x00};
        for (int i = 0; i < 6; ++i) inq->cdb[static_cast<std::size_t>(i)] = static_cast<std::byte>(cdb[i]);
        run_sync(*dev, inq);
        BOOST_REQUIRE(inq->data_in);
        vpd83 = inq->data_in->to_vector();
        // Walk the designation descriptors for the NAA one (type 3, LU association).
        for (std::size_t off = 4; off + 4 <= vpd83.size(); off += 4 + ld8(vpd83, off + 3)) {
            if ((ld8(vpd83, off + 1) & 0x3f) != 0x03) continue;
            auto d = std::span<const std::byte>(vpd83).subspan(off + 4, ld8(vpd83, off + 3));
            naa.assign(d.begin(), d.end());
        }
        BOOST_REQUIRE_EQUAL(naa.size(), 8u);
    }
    std::uint64_t blocks() const { return store->data.size() / block_size; }
    void fill(std::uint32_t seed) {
        for (std::size_t i = 0; i < store->data.size(); ++i)
            store->data[i] = static_cast<std::byte>((i * 2654435761u + seed) >> 7);
    }
    std::span<const std::byte> bytes(std::uint64_t lba, std::uint64_t n) const {
        return std::span<const std::byte>(store->data).subspan(lba * block_size, n * block_size);
    }
};

// The target: some LUs, a resolver over their VPD 83h pages, and a copy manager. intercept
// sees each internal command first and may answer it itself (returns true).
struct World {
    std::vector<std::unique_ptr<Lu>> lus;
    std::mutex submitted_mu;  // internal commands may come from several threads
    std::vector<std::shared_ptr<Command>> submitted;
    std::function<bool(const std::shared_ptr<Command>&, const Completion&)> intercept;
    std::unique_ptr<CopyManager> cm;
    std::shared_ptr<Nexus> nexus = std::make_shared<Nexus>();

    World() {
        nexus->id = 7;
        nexus->initiator_name = "iqn.2024-01.test:init";
        cm = std::make_unique<CopyManager>([this](const Designator& d, const Nexus&) -> std::optional<CopyDevice> {
            for (auto& lu : lus) {
                if (!matches_vpd83(d, lu->vpd83)) continue;
                auto dev = lu->dev;
                return CopyDevice{lu->block_size, lu->blocks(), [this, dev](std::shared_ptr<Command> c, Completion done) {
                                      {
                                          std::lock_guard lock(submitted_mu);
                                          submitted.push_back(c);
                                      }
                                      if (intercept && intercept(c, done)) return;
                                      dev->execute(std::move(c), {}, std::move(done));
                                  }};
            }
            return std::nullopt;
        });
    }
    Lu& add(const std::string& name, std::uint64_t size, std::uint32_t bs = 512) {
        lus.push_back(std::make_unique<Lu>(name, size, bs));
        return *lus.back();
    }
};

// ---- parameter lists ----

Bytes cscd_for(const Bytes& naa, std::uint32_t block_size, std::uint8_t byte1 = 0x00) {
    Bytes d(32);
    st8(d, 0, 0xe4);
    st8(d, 1, byte1);          // LU ID TYPE, NUL, PERIPHERAL DEVICE TYPE
    st8(d, 4, 0x01);           // code set: binary
    st8(d, 5, 0x03);           // association: LU; designator type: NAA
    st8(d, 7, static_cast<std::uint8_t>(naa.size()));
    std::copy(naa.begin(), naa.end(), d.begin() + 8);
    st24(d, 29, block_size);   // DISK BLOCK LENGTH
    return d;
}

Bytes cscd(const Lu& lu, std::uint8_t byte1 = 0x00) { return cscd_for(lu.naa, lu.block_size, byte1); }

Bytes segment(std::uint16_t src, std::uint16_t dst, std::uint16_t blocks, std::uint64_t src_lba, std::uint64_t dst_lba,
              bool dc = false) {
    Bytes d(28);
    st8(d, 0, 0x02);
    st8(d, 1, dc ? 0x02 : 0x00);
    st16(d, 2, 0x18);
    st16(d, 4, src);
    st16(d, 6, dst);
    st16(d, 10, blocks);
    st64(d, 12, src_lba);
    st64(d, 20, dst_lba);
    return d;
}

struct ListSpec {
    std::uint8_t list_id = 1;
    std::uint8_t usage = 0;  // LIST ID USAGE
    std::vector<Bytes> cscds, segments;
    std::uint32_t inline_data = 0;
};

Bytes parameter_list(const ListSpec& s) {
    Bytes t, g;
    for (const auto& c : s.cscds) t.insert(t.end(), c.begin(), c.end());
    for (const auto& c : s.segments) g.insert(g.end(), c.begin(), c.end());
    Bytes p(16);
    st8(p, 0, s.list_id);
    st8(p, 1, static_cast<std::uint8_t>(s.usage << 3));
    st16(p, 2, static_cast<std::uint16_t>(t.size()));
    st32(p, 8, static_cast<std::uint32_t>(g.size()));
    st32(p, 12, s.inline_data);
    p.insert(p.end(), t.begin(), t.end());
    p.insert(p.end(), g.begin(), g.end());
    p.resize(p.size() + s.inline_data);
    return p;
}

struct Ran {
    std::shared_ptr<Command> cmd;
    int done_calls = 0;
};

std::shared_ptr<Command> xcopy_command(const Bytes& list, const World& w, std::optional<std::uint32_t> pll = std::nullopt) {
    auto c = std::make_shared<Command>();
    c->cdb[0] = std::byte{0x83};
    st32(std::span<std::byte>(c->cdb), 10, pll ? *pll : static_cast<std::uint32_t>(list.size()));
    c->data_out = list;
    c->direction = DataDirection::Write;
    c->nexus = w.nexus;
    return c;
}

Ran xcopy(World& w, const Bytes& list, bool dsense = false, std::optional<std::uint32_t> pll = std::nullopt) {
    Ran r{xcopy_command(list, w, pll), 0};
    auto calls = std::make_shared<int>(0);
    w.cm->extended_copy(r.cmd, [calls] { ++*calls; }, dsense);
    r.done_calls = *calls;
    return r;
}

std::shared_ptr<Command> rcr(World& w, std::uint8_t sa, std::uint8_t list_id, std::uint32_t alloc = 1024,
                             const Nexus* nexus = nullptr) {
    auto c = std::make_shared<Command>();
    c->cdb[0] = std::byte{0x84};
    c->cdb[1] = static_cast<std::byte>(sa);
    c->cdb[2] = static_cast<std::byte>(list_id);
    st32(std::span<std::byte>(c->cdb), 10, alloc);
    w.cm->receive_copy_results(*c, nexus ? *nexus : *w.nexus);
    return c;
}

void expect_good(const Ran& r) {
    BOOST_TEST(r.done_calls == 1);
    BOOST_TEST(static_cast<int>(r.cmd->status) == 0);
    if (r.cmd->status != Status::Good) {
        auto s = decode_sense(r.cmd->sense);
        if (s) BOOST_TEST_MESSAGE("sense " << int(s->key) << " " << int(s->code.asc) << "/" << int(s->code.ascq));
    }
}

using iscsilab::testing::expect_sense;

void expect_sense(const Ran& r, SenseKey k, Asc a) {
    BOOST_TEST(r.done_calls == 1);
    expect_sense(*r.cmd, k, a);
}

// Fixed-format sense fields by hand (decode_sense keeps what it always kept).
std::uint16_t segment_number(const Command& c) { return ld16(c.sense, 10); }
std::uint8_t sks_flags(const Command& c) { return ld8(c.sense, 15); }
std::uint16_t field_pointer(const Command& c) { return ld16(c.sense, 16); }

bool same(std::span<const std::byte> a, std::span<const std::byte> b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(copy_manager_suite)

// ---- copies ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(copy_between_two_lus_lands_byte_exact) {
    World w;
    Lu& a = w.add("a", 2u << 20);
    Lu& b = w.add("b", 2u << 20);
    a.fill(1);
    Bytes before = b.store->data;
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a), cscd(b)}, {segment(0, 1, 100, 10, 50)}}));
    expect_good(r);
    BOOST_TEST(same(b.bytes(50, 100), a.bytes(10, 100)));
    // Nothing else of b changed, and a is as it was.
    BOOST_TEST(same(b.bytes(0, 50), std::span<const std::byte>(before).subspan(0, 50 * 512)));
    BOOST_TEST(same(b.bytes(150, b.blocks() - 150), std::span<const std::byte>(before).subspan(150 * 512)));
    // The internal commands came from the copy manager's own nexus, READ(16) then WRITE(16).
    BOOST_REQUIRE_EQUAL(w.submitted.size(), 2u);
    BOOST_TEST(w.submitted[0]->opcode() == op::Read16);
    BOOST_TEST(w.submitted[1]->opcode() == op::Write16);
    BOOST_TEST(w.submitted[0]->nexus->initiator_port == "copy_manager");
    BOOST_TEST(w.submitted[0]->nexus->id == CopyManager::kDefaultNexusId);
    BOOST_TEST(static_cast<int>(w.submitted[0]->attr) == static_cast<int>(TaskAttribute::HeadOfQueue));
    BOOST_TEST(w.cm->active_copies() == 0u);
}

BOOST_AUTO_TEST_CASE(copy_within_one_lu) {
    // libiscsi's ExtendedCopy.Simple: one CSCD for both ends, the start copied to the end.
    World w;
    Lu& a = w.add("a", 4u << 20);
    a.fill(2);
    const std::uint64_t dst = a.blocks() - 2048;
    Bytes src(a.bytes(0, 2048).begin(), a.bytes(0, 2048).end());
    auto r = xcopy(w, parameter_list({1, 2, {cscd(a)}, {segment(0, 0, 2048, 0, dst)}}));
    expect_good(r);
    BOOST_TEST(same(a.bytes(dst, 2048), src));
}

BOOST_AUTO_TEST_CASE(segments_run_in_order) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Lu& b = w.add("b", 1u << 20);
    a.fill(3);
    Bytes a0(a.bytes(0, 8).begin(), a.bytes(0, 8).end());
    // a[0..8) -> b[100..108); then b[100..108) -> a[500..508): the second sees the first.
    // Then a[500..508) -> a[900..908) within a.
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a), cscd(b)},
                                      {segment(0, 1, 8, 0, 100), segment(1, 0, 8, 100, 500), segment(0, 0, 8, 500, 900)}}));
    expect_good(r);
    BOOST_TEST(same(b.bytes(100, 8), a0));
    BOOST_TEST(same(a.bytes(500, 8), a0));
    BOOST_TEST(same(a.bytes(900, 8), a0));
    auto st = rcr(w, 0x00, 1);
    BOOST_REQUIRE(st->data_in);
    BOOST_TEST(ld16(*st->data_in, 5) == 3u);  // SEGMENTS PROCESSED
}

BOOST_AUTO_TEST_CASE(large_segment_moves_in_bounded_chunks) {
    World w;
    Lu& a = w.add("a", 16u << 20, 4096);
    Lu& b = w.add("b", 16u << 20, 4096);
    a.fill(4);
    const std::uint16_t blocks = 2560 + 3;  // 10 MiB and a bit: 11 chunks, the last short
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a), cscd(b)}, {segment(0, 1, blocks, 7, 11)}}));
    expect_good(r);
    BOOST_TEST(same(b.bytes(11, blocks), a.bytes(7, blocks)));
    BOOST_TEST(a.store->largest_request <= limits::kCopyChunkBytes);
    BOOST_TEST(b.store->largest_request <= limits::kCopyChunkBytes);
    BOOST_TEST(a.store->reads == 11);
    BOOST_TEST(b.store->writes == 11);
    for (const auto& c : w.submitted) BOOST_TEST(c->expected_transfer_length <= limits::kCopyChunkBytes);
}

BOOST_AUTO_TEST_CASE(dc_counts_destination_blocks_across_block_sizes) {
    World w;
    Lu& a = w.add("a", 1u << 20, 512);
    Lu& b = w.add("b", 1u << 20, 4096);
    a.fill(5);
    // DC set: 3 destination blocks of 4096 bytes = 24 source blocks of 512.
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a), cscd(b)}, {segment(0, 1, 3, 16, 2, true)}}));
    expect_good(r);
    BOOST_TEST(same(b.bytes(2, 3), a.bytes(16, 24)));
    // DC clear: 7 source blocks of 512 are no whole number of 4096-byte blocks.
    auto bad = xcopy(w, parameter_list({2, 0, {cscd(a), cscd(b)}, {segment(0, 1, 7, 0, 0)}}));
    expect_sense(bad, SenseKey::CopyAborted, asc::UnexpectedInexactSegment);
    BOOST_TEST(field_pointer(*bad.cmd) == 10u);
}

BOOST_AUTO_TEST_CASE(zero_blocks_is_an_empty_segment) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 0, 5, 6)}}));
    expect_good(r);
    BOOST_TEST(w.submitted.empty());
}

// ---- failures while processing segments -----------------------------------------------

BOOST_AUTO_TEST_CASE(out_of_range_lba_is_copy_aborted_before_any_write) {
    // libiscsi's ValidSegDescr: 2048 blocks to the last LBA.
    World w;
    Lu& a = w.add("a", 2u << 20);
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 2048, 0, a.blocks() - 1)}}));
    expect_sense(r, SenseKey::CopyAborted, asc::NoAdditionalSense);
    BOOST_TEST(segment_number(*r.cmd) == 0u);
    BOOST_TEST(sks_flags(*r.cmd) == 0xa0u);  // SKSV, SD: relative to the segment descriptor
    BOOST_TEST(field_pointer(*r.cmd) == 20u);  // DESTINATION LOGICAL BLOCK ADDRESS
    BOOST_TEST(a.store->writes == 0);
    // A source range that wraps around the 64-bit LBA space.
    auto wrap = xcopy(w, parameter_list({2, 0, {cscd(a)}, {segment(0, 0, 2, ~std::uint64_t{0}, 0)}}));
    expect_sense(wrap, SenseKey::CopyAborted, asc::NoAdditionalSense);
    BOOST_TEST(field_pointer(*wrap.cmd) == 12u);
}

BOOST_AUTO_TEST_CASE(failed_read_ends_copy_with_forwarded_sense_and_segment_number) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Lu& b = w.add("b", 1u << 20);
    a.fill(6);
    a.store->fail_from = 300 * 512;
    a.store->fail_length = 512;
    // Segment 0 is fine; segment 1 reads the bad block.
    auto r = xcopy(w, parameter_list({9, 0, {cscd(a), cscd(b)}, {segment(0, 1, 10, 0, 0), segment(0, 1, 10, 295, 40)}}));
    expect_sense(r, SenseKey::CopyAborted, asc::NoAdditionalSense);
    BOOST_TEST(segment_number(*r.cmd) == 1u);
    BOOST_TEST(ld8(r.cmd->sense, 8) == 18u);  // SOURCE SENSE DATA OFFSET
    BOOST_TEST(ld8(r.cmd->sense, 9) == 0u);   // DESTINATION SENSE DATA OFFSET
    BOOST_TEST(!(ld8(r.cmd->sense, 15) & 0x80));  // no field at fault
    BOOST_REQUIRE(r.cmd->sense.size() > 19u);
    BOOST_TEST(ld8(r.cmd->sense, 18) == 0x02u);  // the READ's status: CHECK CONDITION
    auto fwd = decode_sense(std::span<const std::byte>(r.cmd->sense).subspan(19));
    BOOST_REQUIRE(fwd.has_value());
    BOOST_TEST(static_cast<int>(fwd->key) == static_cast<int>(SenseKey::MediumError));
    BOOST_TEST(ld8(r.cmd->sense, 7) == r.cmd->sense.size() - 8);
    // Segment 0 landed; COPY STATUS says so.
    BOOST_TEST(same(b.bytes(0, 10), a.bytes(0, 10)));
    auto st = rcr(w, 0x00, 9);
    BOOST_REQUIRE(st->data_in);
    BOOST_TEST(ld8(*st->data_in, 4) == 0x02u);  // completed with errors
    BOOST_TEST(ld16(*st->data_in, 5) == 1u);
    BOOST_TEST(ld32(*st->data_in, 8) == 10u * 512u);
}

BOOST_AUTO_TEST_CASE(failed_write_forwards_destination_sense) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Lu& b = w.add("b", 1u << 20);
    b.store->fail_from = 0;
    b.store->fail_length = 1u << 20;
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a), cscd(b)}, {segment(0, 1, 4, 0, 0)}}));
    expect_sense(r, SenseKey::CopyAborted, asc::NoAdditionalSense);
    BOOST_TEST(ld8(r.cmd->sense, 8) == 0u);
    BOOST_TEST(ld8(r.cmd->sense, 9) == 18u);
    auto fwd = decode_sense(std::span<const std::byte>(r.cmd->sense).subspan(19));
    BOOST_REQUIRE(fwd.has_value());
    BOOST_TEST(fwd->code.asc == asc::WriteError.asc);
}

BOOST_AUTO_TEST_CASE(descriptor_format_sense_carries_segment_and_forwarded_sense) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    a.store->fail_from = 0;
    a.store->fail_length = 512;
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 1, 2, 3), segment(0, 0, 1, 0, 3)}}), true);
    BOOST_TEST(r.done_calls == 1);
    const Bytes& s = r.cmd->sense;
    BOOST_REQUIRE(s.size() >= 8u);
    BOOST_TEST(ld8(s, 0) == 0x72u);
    BOOST_TEST(ld8(s, 1) == 0x0au);
    BOOST_TEST(ld8(s, 7) == s.size() - 8);
    bool csi = false, fwd = false;
    for (std::size_t off = 8; off + 2 <= s.size(); off += 2 + ld8(s, off + 1)) {
        if (ld8(s, off) == 0x01) {
            csi = true;
            BOOST_TEST(ld16(s, off + 6) == 1u);  // segment 1, the third and fourth bytes
        }
        if (ld8(s, off) == 0x0c) {
            fwd = true;
            BOOST_TEST((ld8(s, off + 2) & 0x0f) == 1u);  // from the copy source
            BOOST_TEST(ld8(s, off + 3) == 0x02u);
        }
    }
    BOOST_TEST(csi);
    BOOST_TEST(fwd);
}

BOOST_AUTO_TEST_CASE(unknown_designator_is_copy_target_device_not_reachable) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes stranger = cscd(a);
    st8(stranger, 15, ld8(stranger, 15) ^ 0xff);  // a designator no LU has
    auto r = xcopy(w, parameter_list({1, 0, {stranger, cscd(a)}, {segment(0, 1, 1, 0, 0)}}));
    expect_sense(r, SenseKey::CopyAborted, asc::CopyTargetDeviceNotReachable);
    BOOST_TEST(field_pointer(*r.cmd) == 4u);  // SOURCE CSCD DESCRIPTOR ID
    // Unused, it is no error at all.
    auto ok = xcopy(w, parameter_list({2, 0, {stranger, cscd(a)}, {segment(1, 1, 1, 0, 1)}}));
    expect_good(ok);
    // The NUL bit (obsolete in SPC-4) names no device either.
    auto nul = xcopy(w, parameter_list({3, 0, {cscd(a, 0x20)}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(nul, SenseKey::CopyAborted, asc::CopyTargetDeviceNotReachable);
}

BOOST_AUTO_TEST_CASE(cscd_index_beyond_the_list_is_unreachable_copy_target) {
    // libiscsi's ValidSegDescr: DESTINATION CSCD DESCRIPTOR ID 1 with one descriptor.
    World w;
    Lu& a = w.add("a", 1u << 20);
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a)}, {segment(0, 1, 8, 0, 100)}}));
    expect_sense(r, SenseKey::CopyAborted, asc::UnreachableCopyTarget);
    BOOST_TEST(field_pointer(*r.cmd) == 6u);
    BOOST_TEST(sks_flags(*r.cmd) == 0xa0u);
}

BOOST_AUTO_TEST_CASE(non_block_peripheral_type_is_incorrect_copy_target_device_type) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a, 0x01)}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(r, SenseKey::CopyAborted, asc::IncorrectCopyTargetDeviceType);
}

BOOST_AUTO_TEST_CASE(unit_attention_on_the_copy_managers_nexus_is_retried) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    a.fill(7);
    int uas = 0;
    w.intercept = [&](const std::shared_ptr<Command>& c, const Completion& done) {
        if (uas >= 2) return false;
        ++uas;
        c->fail(Sense{SenseKey::UnitAttention, asc::PowerOnResetOrBusDeviceReset}, false);
        done();
        return true;
    };
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 4, 0, 100)}}));
    expect_good(r);
    BOOST_TEST(same(a.bytes(100, 4), a.bytes(0, 4)));
    BOOST_TEST(uas == 2);
}

// ---- parameter list errors ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(zero_parameter_list_length_is_good) {
    World w;
    auto r = xcopy(w, Bytes{});
    expect_good(r);
    BOOST_TEST(w.cm->held_results() == 0u);
}

BOOST_AUTO_TEST_CASE(header_shorter_than_16_bytes_is_parameter_list_length_error) {
    World w;
    auto r = xcopy(w, Bytes(10));
    expect_sense(r, SenseKey::IllegalRequest, asc::ParameterListLengthError);
}

BOOST_AUTO_TEST_CASE(truncated_cscd_descriptor_is_parameter_list_length_error) {
    // libiscsi's ParamHdr: the list ends one byte before the end of the CSCD descriptor.
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes full = parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}});
    auto r = xcopy(w, Bytes(full.begin(), full.begin() + 16 + 32 - 1));
    expect_sense(r, SenseKey::IllegalRequest, asc::ParameterListLengthError);
}

BOOST_AUTO_TEST_CASE(truncated_segment_descriptor_is_parameter_list_length_error) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes full = parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}});
    auto r = xcopy(w, Bytes(full.begin(), full.end() - 1));
    expect_sense(r, SenseKey::IllegalRequest, asc::ParameterListLengthError);
    // The same when the data is all there but the CDB's PARAMETER LIST LENGTH is short.
    auto r2 = xcopy(w, full, false, static_cast<std::uint32_t>(full.size() - 1));
    expect_sense(r2, SenseKey::IllegalRequest, asc::ParameterListLengthError);
}

BOOST_AUTO_TEST_CASE(descriptor_lists_beyond_maximum_length_are_parameter_list_length_error) {
    // libiscsi's DescrLimits, third case: more CSCDs than allowed too, but the length
    // is what is reported.
    World w;
    Lu& a = w.add("a", 4u << 20);
    ListSpec s{3, 0, {}, {}};
    for (int i = 0; i <= limits::kMaxTargetDescriptors; ++i) s.cscds.push_back(cscd(a));
    while ((s.cscds.size() * 32 + s.segments.size() * 28) <= limits::kMaxDescriptorListLength)
        s.segments.push_back(segment(0, 0, 2048, 0, a.blocks() - 2048));
    auto r = xcopy(w, parameter_list(s));
    expect_sense(r, SenseKey::IllegalRequest, asc::ParameterListLengthError);
}

BOOST_AUTO_TEST_CASE(too_many_target_descriptors) {
    World w;
    Lu& a = w.add("a", 4u << 20);
    ListSpec s{1, 0, {}, {segment(0, 0, 2048, 0, a.blocks() - 2048)}};
    for (int i = 0; i <= limits::kMaxTargetDescriptors; ++i) s.cscds.push_back(cscd(a));
    auto r = xcopy(w, parameter_list(s));
    expect_sense(r, SenseKey::IllegalRequest, asc::TooManyTargetDescriptors);
}

BOOST_AUTO_TEST_CASE(too_many_segment_descriptors) {
    World w;
    Lu& a = w.add("a", 4u << 20);
    ListSpec s{2, 0, {cscd(a)}, {}};
    for (int i = 0; i <= limits::kMaxSegmentDescriptors; ++i) s.segments.push_back(segment(0, 0, 2048, 0, a.blocks() - 2048));
    auto r = xcopy(w, parameter_list(s));
    expect_sense(r, SenseKey::IllegalRequest, asc::TooManySegmentDescriptors);
    BOOST_TEST(a.store->requests == 0);
    // Exactly the maximum is fine.
    s.segments.pop_back();
    for (auto& seg : s.segments) seg = segment(0, 0, 1, 0, 1);
    expect_good(xcopy(w, parameter_list(s)));
}

BOOST_AUTO_TEST_CASE(unsupported_target_descriptor_type_code) {
    // libiscsi's DescrType: a Fibre Channel N_Port_Name CSCD (E0h).
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes fc = cscd(a);
    st8(fc, 0, 0xe0);
    auto r = xcopy(w, parameter_list({1, 0, {fc}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(r, SenseKey::IllegalRequest, asc::UnsupportedTargetDescriptorTypeCode);
    BOOST_TEST(field_pointer(*r.cmd) == 16u);
}

BOOST_AUTO_TEST_CASE(unsupported_segment_descriptor_type_code) {
    // libiscsi's DescrType: a stream-to-stream segment descriptor (03h, 20 bytes).
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes stream(20);
    st8(stream, 0, 0x03);
    st16(stream, 2, 0x10);
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a)}, {stream}}));
    expect_sense(r, SenseKey::IllegalRequest, asc::UnsupportedSegmentDescriptorTypeCode);
}

BOOST_AUTO_TEST_CASE(wrong_segment_descriptor_length_is_invalid_field) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes seg = segment(0, 0, 1, 0, 1);
    st16(seg, 2, 0x40);  // claims far beyond the list
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a)}, {seg}}));
    expect_sense(r, SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
    BOOST_TEST(field_pointer(*r.cmd) == 16u + 32u + 2u);
    BOOST_TEST(sks_flags(*r.cmd) == 0x80u);  // SKSV, C/D 0: in the parameter list
}

BOOST_AUTO_TEST_CASE(cscd_list_not_whole_descriptors_is_invalid_field) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes list = parameter_list({1, 0, {cscd(a)}, {}});
    list.resize(list.size() + 8);
    st8(list, 48, 0xe4);
    st16(list, 2, 40);  // 32 + 8: a second descriptor cut short
    auto r = xcopy(w, list);
    expect_sense(r, SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
    BOOST_TEST(field_pointer(*r.cmd) == 2u);
}

BOOST_AUTO_TEST_CASE(inline_data_is_inline_data_length_exceeded) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    auto r = xcopy(w, parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}, 4}));
    expect_sense(r, SenseKey::IllegalRequest, asc::InlineDataLengthExceeded);
}

BOOST_AUTO_TEST_CASE(list_id_usage_errors) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    auto reserved = xcopy(w, parameter_list({1, 1, {cscd(a)}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(reserved, SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
    BOOST_TEST(field_pointer(*reserved.cmd) == 1u);
    BOOST_TEST(sks_flags(*reserved.cmd) == (0x80u | 0x08u | 4u));  // bit pointer: LIST ID USAGE
    auto nonzero = xcopy(w, parameter_list({1, 3, {cscd(a)}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(nonzero, SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
    BOOST_TEST(field_pointer(*nonzero.cmd) == 0u);
    expect_good(xcopy(w, parameter_list({0, 3, {cscd(a)}, {segment(0, 0, 1, 0, 1)}})));
}

BOOST_AUTO_TEST_CASE(designator_longer_than_20_bytes_is_invalid_field) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes c = cscd(a);
    st8(c, 7, 21);
    auto r = xcopy(w, parameter_list({1, 0, {c}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(r, SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
    BOOST_TEST(field_pointer(*r.cmd) == 16u + 7u);
}

BOOST_AUTO_TEST_CASE(disk_block_length_must_match_the_lu) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes c = cscd(a);
    st24(c, 29, 4096);
    auto r = xcopy(w, parameter_list({1, 0, {c}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(r, SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
    BOOST_TEST(field_pointer(*r.cmd) == 16u + 29u);
}

BOOST_AUTO_TEST_CASE(reserved_lu_id_type_is_ignored) {
    // libiscsi's ValidTgtDescr: SPC-4 (INQUIRY version 6) ignores LU ID TYPE.
    World w;
    Lu& a = w.add("a", 1u << 20);
    expect_good(xcopy(w, parameter_list({1, 0, {cscd(a, 0x80)}, {segment(0, 0, 8, 0, 100)}})));
}

BOOST_AUTO_TEST_CASE(cdb_errors) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Bytes list = parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}});
    auto lid4 = xcopy_command(list, w);
    lid4->cdb[1] = std::byte{0x01};  // EXTENDED COPY(LID4)
    int calls = 0;
    w.cm->extended_copy(lid4, [&] { ++calls; });
    BOOST_TEST(calls == 1);
    expect_sense(*lid4, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    BOOST_TEST(ld16(lid4->sense, 16) == 1u);
    auto reserved = xcopy_command(list, w);
    reserved->cdb[5] = std::byte{0x01};
    w.cm->extended_copy(reserved, [&] { ++calls; });
    expect_sense(*reserved, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    BOOST_TEST(ld16(reserved->sense, 16) == 5u);
    BOOST_TEST(a.store->requests == 0);
}

BOOST_AUTO_TEST_CASE(malformed_lists_never_crash_and_end_once) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Lu& b = w.add("b", 1u << 20);
    const Bytes good = parameter_list({1, 0, {cscd(a), cscd(b)}, {segment(0, 1, 4, 0, 0), segment(1, 0, 4, 8, 8)}});
    // Every truncation of a good list.
    for (std::size_t n = 1; n < good.size(); ++n) {
        auto r = xcopy(w, Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
        BOOST_TEST(r.done_calls == 1);
        BOOST_TEST(static_cast<int>(r.cmd->status) == static_cast<int>(Status::CheckCondition));
    }
    // Random corruption of a good list, and random lists.
    std::mt19937 rng(12345);
    for (int i = 0; i < 3000; ++i) {
        Bytes l = good;
        if (i % 3 == 0) l.resize(rng() % 200);
        const int flips = 1 + static_cast<int>(rng() % 6);
        for (int f = 0; f < flips && !l.empty(); ++f) l[rng() % l.size()] = static_cast<std::byte>(rng());
        auto r = xcopy(w, l);
        BOOST_TEST(r.done_calls == 1);
    }
    BOOST_TEST(w.cm->active_copies() == 0u);
}

// ---- RECEIVE COPY RESULTS -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(operating_parameters_bytes) {
    World w;
    auto c = rcr(w, 0x03, 0);
    BOOST_TEST(static_cast<int>(c->status) == 0);
    BOOST_REQUIRE(c->data_in);
    const Bytes d = c->data_in->to_vector();
    BOOST_REQUIRE_EQUAL(d.size(), 46u);
    BOOST_TEST(ld32(d, 0) == 42u);  // AVAILABLE DATA
    BOOST_TEST(ld8(d, 4) == 1u);    // SNLID
    BOOST_TEST(ld16(d, 8) == 8u);   // MAXIMUM CSCD DESCRIPTOR COUNT
    BOOST_TEST(ld16(d, 10) == 128u);
    BOOST_TEST(ld32(d, 12) == 8u * 32u + 128u * 28u);
    BOOST_TEST(ld32(d, 16) == 256u << 20);
    BOOST_TEST(ld32(d, 20) == 0u);  // inline data
    BOOST_TEST(ld32(d, 24) == 0u);  // held data
    BOOST_TEST(ld32(d, 28) == 0u);  // stream
    BOOST_TEST(ld16(d, 34) == 16u);
    BOOST_TEST(ld8(d, 36) == 16u);
    BOOST_TEST(ld8(d, 37) == 9u);
    BOOST_TEST(ld8(d, 43) == 2u);
    BOOST_TEST(ld8(d, 44) == 0x02u);
    BOOST_TEST(ld8(d, 45) == 0xe4u);
    BOOST_TEST(*c->spdtl == 46u);
}

BOOST_AUTO_TEST_CASE(copy_status_after_a_copy) {
    // libiscsi's ReceiveCopyResults.CopyStatus: none before, GOOD after.
    World w;
    Lu& a = w.add("a", 4u << 20);
    expect_sense(*rcr(w, 0x00, 1), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    expect_good(xcopy(w, parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 2048, 0, a.blocks() - 2048)}})));
    // Another I_T nexus does not see it.
    Nexus other;
    other.id = 8;
    auto theirs = rcr(w, 0x00, 1, 1024, &other);
    expect_sense(*theirs, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    BOOST_TEST(ld16(theirs->sense, 16) == 2u);  // LIST IDENTIFIER
    auto st = rcr(w, 0x00, 1);
    BOOST_TEST(static_cast<int>(st->status) == 0);
    BOOST_REQUIRE(st->data_in);
    const Bytes d = st->data_in->to_vector();
    BOOST_REQUIRE_EQUAL(d.size(), 12u);
    BOOST_TEST(ld32(d, 0) == 8u);
    BOOST_TEST(ld8(d, 4) == 0x01u);  // completed, no errors
    BOOST_TEST(ld16(d, 5) == 1u);
    BOOST_TEST(ld8(d, 7) == 0u);     // bytes
    BOOST_TEST(ld32(d, 8) == 2048u * 512u);
    // All of it transferred: no longer held.
    expect_sense(*rcr(w, 0x00, 1), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    // LIST ID USAGE 10b and 11b hold nothing once done.
    expect_good(xcopy(w, parameter_list({2, 2, {cscd(a)}, {segment(0, 0, 1, 0, 1)}})));
    expect_good(xcopy(w, parameter_list({0, 3, {cscd(a)}, {segment(0, 0, 1, 0, 1)}})));
    BOOST_TEST(w.cm->held_results() == 0u);
}

BOOST_AUTO_TEST_CASE(allocation_length_truncates) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    auto op = rcr(w, 0x03, 0, 10);
    BOOST_REQUIRE(op->data_in);
    BOOST_TEST(op->data_in->size() == 10u);
    BOOST_TEST(ld32(*op->data_in, 0) == 42u);  // AVAILABLE DATA is not truncated
    expect_good(xcopy(w, parameter_list({4, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}})));
    auto part = rcr(w, 0x00, 4, 4);
    BOOST_REQUIRE(part->data_in);
    BOOST_TEST(part->data_in->size() == 4u);
    // Not all of it went: still held.
    auto whole = rcr(w, 0x00, 4, 12);
    BOOST_REQUIRE(whole->data_in);
    BOOST_TEST(ld8(*whole->data_in, 4) == 0x01u);
    auto none = rcr(w, 0x00, 4, 0);
    expect_sense(*none, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
}

BOOST_AUTO_TEST_CASE(other_service_actions_are_invalid_field_in_cdb) {
    World w;
    for (std::uint8_t sa : {0x01, 0x02, 0x04, 0x05, 0x1f}) {
        auto c = rcr(w, sa, 0);
        expect_sense(*c, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
        BOOST_TEST(ld16(c->sense, 16) == 1u);
    }
}

BOOST_AUTO_TEST_CASE(transfer_count_switches_units_beyond_4_gib) {
    // A logical unit that keeps nothing: a READ returns a buffer from the pool, a WRITE
    // hands it back. 17 segments of 65535 blocks of 4096 bytes pass 4 GiB.
    World w;
    const Bytes naa{std::byte{0x51}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}, std::byte{6}, std::byte{7}, std::byte{8}};
    CopyDevice sink{4096, 1u << 20, [](std::shared_ptr<Command> c, Completion done) {
                        if (c->opcode() == op::Read16)
                            c->data_in = BufferPool::instance().get(std::size_t{ld32(c->cdb_bytes(), 10)} * 4096u);
                        else
                            c->data_out = DataBuffer{};
                        c->status = Status::Good;
                        done();
                    }};
    w.cm = std::make_unique<CopyManager>([&](const Designator& d, const Nexus&) -> std::optional<CopyDevice> {
        if (d.designator == naa) return sink;
        return std::nullopt;
    });
    ListSpec s{5, 0, {cscd_for(naa, 4096)}, {}};
    for (int i = 0; i < 17; ++i) s.segments.push_back(segment(0, 0, 65535, 0, 65535));
    expect_good(xcopy(w, parameter_list(s)));
    auto st = rcr(w, 0x00, 5);
    BOOST_REQUIRE(st->data_in);
    const std::uint64_t total = 17ull * 65535ull * 4096ull;
    BOOST_TEST(ld8(*st->data_in, 7) == 1u);  // KiB
    BOOST_TEST(ld32(*st->data_in, 8) == total >> 10);
    BOOST_TEST(ld16(*st->data_in, 5) == 17u);
}

// ---- concurrency, aborts, asynchronous completion -------------------------------------

BOOST_AUTO_TEST_CASE(asynchronous_completion_and_operation_in_progress) {
    World w;
    Lu& a = w.add("a", 4u << 20);
    a.fill(8);
    a.store->hold = true;
    auto r1 = xcopy_command(parameter_list({6, 0, {cscd(a)}, {segment(0, 0, 4096, 0, 4096)}}), w);
    int calls = 0;
    w.cm->extended_copy(r1, [&] { ++calls; });
    BOOST_TEST(calls == 0);
    BOOST_TEST(w.cm->active_copies() == 1u);
    // In progress.
    auto st = rcr(w, 0x00, 6);
    BOOST_REQUIRE(st->data_in);
    BOOST_TEST(ld8(*st->data_in, 4) == 0x00u);
    // The same list identifier from the same nexus while it runs.
    auto dup = xcopy(w, parameter_list({6, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(dup, SenseKey::IllegalRequest, asc::OperationInProgress);
    // Run it out: 2 MiB in 1 MiB chunks, each completion submitting the next command.
    a.store->release_all();
    BOOST_TEST(calls == 1);
    BOOST_TEST(static_cast<int>(r1->status) == 0);
    BOOST_TEST(same(a.bytes(4096, 4096), a.bytes(0, 4096)));
    BOOST_TEST(w.cm->active_copies() == 0u);
}

BOOST_AUTO_TEST_CASE(concurrent_copies_are_bounded) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    a.store->hold = true;
    int calls = 0;
    std::vector<std::shared_ptr<Command>> running;
    for (int i = 0; i < limits::kTotalConcurrentCopies; ++i) {
        running.push_back(xcopy_command(parameter_list({static_cast<std::uint8_t>(i), 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}}), w));
        w.cm->extended_copy(running.back(), [&] { ++calls; });
    }
    BOOST_TEST(w.cm->active_copies() == static_cast<std::size_t>(limits::kTotalConcurrentCopies));
    auto more = xcopy(w, parameter_list({99, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}}));
    expect_sense(more, SenseKey::IllegalRequest, asc::InsufficientResources);
    a.store->release_all();
    BOOST_TEST(calls == limits::kTotalConcurrentCopies);
    BOOST_TEST(w.cm->active_copies() == 0u);
}

BOOST_AUTO_TEST_CASE(aborted_copy_stops_between_chunks_and_ends_once) {
    World w;
    Lu& a = w.add("a", 8u << 20);
    Lu& b = w.add("b", 8u << 20);
    a.fill(9);
    std::shared_ptr<Command> outer = xcopy_command(parameter_list({7, 0, {cscd(a), cscd(b)}, {segment(0, 1, 8192, 0, 0)}}), w);
    int writes = 0;
    w.intercept = [&](const std::shared_ptr<Command>& c, const Completion& done) {
        if (c->opcode() != op::Write16) return false;
        // The first WRITE completes, and meanwhile the initiator aborts the task.
        ++writes;
        b.dev->execute(c, {}, [&outer, done] {
            outer->aborted = true;
            done();
        });
        return true;
    };
    int calls = 0;
    w.cm->extended_copy(outer, [&] { ++calls; });
    BOOST_TEST(calls == 1);
    BOOST_TEST(writes == 1);
    BOOST_TEST(static_cast<int>(outer->status) == 0);  // untouched: the transport handles aborts
    BOOST_TEST(same(b.bytes(0, 2048), a.bytes(0, 2048)));  // the first chunk (1 MiB)
    BOOST_TEST(std::all_of(b.bytes(2048, 2048).begin(), b.bytes(2048, 2048).end(), [](std::byte x) { return x == std::byte{0}; }));
    BOOST_TEST(w.cm->active_copies() == 0u);
    BOOST_TEST(w.cm->held_results() == 0u);  // an aborted copy leaves no status
}

BOOST_AUTO_TEST_CASE(completions_late_and_out_of_order) {
    // Eight copies at once, their internal commands held back and completed later, newest
    // first (as a store's completions may come back on any thread, in any order);
    // RECEIVE COPY RESULTS polls meanwhile.
    World w;
    Lu& a = w.add("a", 16u << 20);
    Lu& b = w.add("b", 16u << 20);
    a.fill(10);
    std::vector<std::function<void()>> held;
    w.intercept = [&](const std::shared_ptr<Command>& c, const Completion& done) {
        auto dev = c->opcode() == op::Read16 ? a.dev : b.dev;
        held.push_back([dev, c, done] { dev->execute(c, {}, done); });
        return true;
    };
    constexpr int kCopies = 8;
    int finished = 0;
    std::vector<std::shared_ptr<Command>> cmds;
    for (int i = 0; i < kCopies; ++i) {
        const std::uint64_t lba = static_cast<std::uint64_t>(i) * 4096;  // 2 MiB apart
        cmds.push_back(xcopy_command(parameter_list({static_cast<std::uint8_t>(i), 0, {cscd(a), cscd(b)},
                                                     {segment(0, 1, 4096, lba, lba)}}), w));
        w.cm->extended_copy(cmds.back(), [&] { ++finished; });
    }
    for (int rounds = 0; finished < kCopies && rounds < 10000; ++rounds) {
        for (int i = 0; i < kCopies; ++i) (void)rcr(w, 0x03, 0);
        auto batch = std::move(held);
        held.clear();
        for (auto it = batch.rbegin(); it != batch.rend(); ++it) (*it)();
    }
    BOOST_REQUIRE(finished == kCopies);
    for (const auto& c : cmds) BOOST_TEST(static_cast<int>(c->status) == 0);
    BOOST_TEST(same(b.bytes(0, 8 * 4096), a.bytes(0, 8 * 4096)));
    BOOST_TEST(w.cm->active_copies() == 0u);
    BOOST_TEST(w.cm->held_results() == static_cast<std::size_t>(kCopies));
}

BOOST_AUTO_TEST_CASE(forget_nexus_discards_its_statuses) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    expect_good(xcopy(w, parameter_list({1, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}})));
    expect_good(xcopy(w, parameter_list({2, 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}})));
    BOOST_TEST(w.cm->held_results() == 2u);
    w.cm->forget_nexus(w.nexus->id);
    BOOST_TEST(w.cm->held_results() == 0u);
}

BOOST_AUTO_TEST_CASE(held_statuses_are_bounded_per_nexus) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    for (int i = 0; i < 100; ++i)
        expect_good(xcopy(w, parameter_list({static_cast<std::uint8_t>(i), 0, {cscd(a)}, {segment(0, 0, 1, 0, 1)}})));
    BOOST_TEST(w.cm->held_results() == limits::kMaxHeldResultsPerNexus);
    // The newest are the ones kept.
    BOOST_TEST(static_cast<int>(rcr(w, 0x00, 99)->status) == 0);
    expect_sense(*rcr(w, 0x00, 0), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
}

// ---- VPD pages ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(third_party_copy_vpd_lists_what_libiscsi_looks_for) {
    Bytes p = CopyManager::third_party_copy_vpd(0x00);
    BOOST_REQUIRE(p.size() >= 4u);
    BOOST_TEST(ld8(p, 1) == 0x8fu);
    BOOST_TEST(ld16(p, 2) == p.size() - 4);
    // Walk the descriptors as libiscsi's unmarshaller does.
    bool rcr_copy_status = false, xcopy_lid1 = false;
    std::vector<std::uint16_t> types;
    for (std::size_t off = 4; off < p.size();) {
        const std::uint16_t type = ld16(p, off), len = ld16(p, off + 2);
        BOOST_TEST((len + 4) % 4 == 0);
        BOOST_REQUIRE(off + 4 + len <= p.size());
        types.push_back(type);
        if (type == 0x0001) {
            std::size_t j = off + 5, end = off + 5 + ld8(p, off + 4);
            while (j < end) {
                const std::uint8_t opc = ld8(p, j), n = ld8(p, j + 1);
                for (std::uint8_t k = 0; k < n; ++k) {
                    if (opc == 0x84 && ld8(p, j + 2 + k) == 0x00) rcr_copy_status = true;
                    if (opc == 0x83 && ld8(p, j + 2 + k) == 0x00) xcopy_lid1 = true;
                }
                j += 2 + n;
            }
        }
        if (type == 0x0004) BOOST_TEST(ld16(p, off + 8) == limits::kMaxTargetDescriptors);
        off += 4 + len;
    }
    BOOST_TEST(rcr_copy_status);
    BOOST_TEST(xcopy_lid1);
    BOOST_TEST((types == std::vector<std::uint16_t>{0x0001, 0x0004, 0x0008, 0x000c, 0x8001}));
}

BOOST_AUTO_TEST_CASE(vpd83_matching_is_exact_and_bounded) {
    World w;
    Lu& a = w.add("a", 1u << 20);
    Designator d{1, 0, 3, a.naa};
    BOOST_TEST(matches_vpd83(d, a.vpd83));
    Designator wrong_type = d;
    wrong_type.designator_type = 2;
    BOOST_TEST(!matches_vpd83(wrong_type, a.vpd83));
    Designator port = d;
    port.association = 1;
    BOOST_TEST(!matches_vpd83(port, a.vpd83));
    Designator shorter = d;
    shorter.designator.pop_back();
    BOOST_TEST(!matches_vpd83(shorter, a.vpd83));
    // Malformed pages: cut anywhere, or a descriptor claiming more than the page.
    for (std::size_t n = 0; n < a.vpd83.size(); ++n)
        BOOST_TEST(!matches_vpd83(d, std::span<const std::byte>(a.vpd83).subspan(0, n)));
    Bytes liar = a.vpd83;
    st8(liar, 7, 0xff);
    BOOST_TEST(!matches_vpd83(d, liar));
}

BOOST_AUTO_TEST_SUITE_END()
