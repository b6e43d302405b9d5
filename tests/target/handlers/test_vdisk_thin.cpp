#define BOOST_TEST_MODULE vdisk_thin
#include <boost/test/unit_test.hpp>

#include "support/scsi_checks.hpp"

#include <deque>

#include "target/bytes.hpp"
#include "target/handlers/lba_range_lock.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/scsi/midlevel.hpp"

using namespace iscsilab;
using namespace iscsilab::scsi;

namespace {

// A memory store that keeps what the BlockStore port promises about provisioning: write
// and write_same map the blocks they touch, unmap zeroes and deallocates them, and
// provisioning() reports it, in 512-byte units. With `hold`, completions wait for
// release_one()/release_all(), so a test decides the interleaving.
class HoleStore final : public BlockStore {
public:
    static constexpr std::uint64_t kUnit = 512;
    explicit HoleStore(std::uint64_t size) : data(size), mapped(size / kUnit, false) {}
    std::uint64_t size_bytes() const override { return data.size(); }

    struct Op {
        BlockOp op;
        std::uint64_t offset, length;
    };
    void submit(const BlockRequest& r, std::function<void(BlockStatus)> done) override {
        ops.push_back({r.op, r.offset, r.length});
        switch (r.op) {
            case BlockOp::read:
                std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(r.offset), r.buffer.size(), r.buffer.begin());
                break;
            case BlockOp::write:
                std::copy(r.buffer.begin(), r.buffer.end(), data.begin() + static_cast<std::ptrdiff_t>(r.offset));
                mark(r.offset, r.buffer.size(), true);
                break;
            case BlockOp::write_same:
                BOOST_REQUIRE(!r.buffer.empty());
                BOOST_REQUIRE(r.length % r.buffer.size() == 0);
                for (std::uint64_t k = 0; k < r.length; k += r.buffer.size())
                    std::copy(r.buffer.begin(), r.buffer.end(), data.begin() + static_cast<std::ptrdiff_t>(r.offset + k));
                mark(r.offset, r.length, true);
                break;
            case BlockOp::unmap:
                std::fill_n(data.begin() + static_cast<std::ptrdiff_t>(r.offset), r.length, std::byte{0});
                mark(r.offset, r.length, false);
                break;
            case BlockOp::flush: break;
        }
        if (hold) held.push_back([done] { done(BlockStatus::ok); });
        else done(BlockStatus::ok);
    }
    void provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                      std::function<void(BlockStatus, std::vector<Extent>)> done) override {
        std::vector<Extent> out;
        for (std::uint64_t at = offset; at < offset + length && out.size() < max_extents; at += kUnit) {
            const bool m = mapped[at / kUnit];
            if (!out.empty() && out.back().mapped == m) out.back().length += kUnit;
            else out.push_back(Extent{at, kUnit, m});
        }
        done(BlockStatus::ok, std::move(out));
    }
    void release_one() {
        BOOST_REQUIRE(!held.empty());
        auto f = std::move(held.front());
        held.pop_front();
        f();
    }
    void release_all() {
        while (!held.empty()) release_one();
    }
    std::size_t count(BlockOp op) const {
        return static_cast<std::size_t>(std::count_if(ops.begin(), ops.end(), [&](const Op& o) { return o.op == op; }));
    }

    Bytes data;
    std::vector<bool> mapped;
    std::vector<Op> ops;
    bool hold = false;
    std::deque<std::function<void()>> held;

private:
    void mark(std::uint64_t off, std::uint64_t len, bool m) {
        for (std::uint64_t u = off / kUnit; u < (off + len) / kUnit; ++u) mapped[u] = m;
    }
};

constexpr std::uint32_t kBlocks = 2048;  // of 512 bytes: 1 MiB

struct Lu {
    std::shared_ptr<HoleStore> store;
    std::shared_ptr<handlers::Vdisk> dev;
    std::shared_ptr<Nexus> nexus = std::make_shared<Nexus>();

    explicit Lu(bool thin, std::uint64_t bytes = std::uint64_t{kBlocks} * 512, std::string handler = "vdisk_fileio")
        : store(std::make_shared<HoleStore>(bytes)) {
        handlers::VdiskConfig c;
        c.handler = std::move(handler);
        c.name = "t0";
        c.filename = "/mem";
        BOOST_REQUIRE(c.set("thin_provisioned", thin ? "1" : "0").empty());
        dev = std::make_shared<handlers::Vdisk>(c, store);
        nexus->id = 1;
        run({0x00, 0, 0, 0, 0, 0});  // the power-on unit attention
    }
    static std::shared_ptr<Command> make(std::initializer_list<int> cdb, Bytes out) {
        auto c = std::make_shared<Command>();
        int i = 0;
        for (int b : cdb) c->cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        c->data_out = std::move(out);
        return c;
    }
    // Runs a command that must end before submit returns (the store is not holding).
    std::shared_ptr<Command> run(std::initializer_list<int> cdb, Bytes out = {}, AccessContext ctx = {}) {
        auto c = make(cdb, std::move(out));
        c->nexus = nexus;
        bool done = false;
        scsi::submit(dev, c, ctx, [&] { done = true; });
        BOOST_REQUIRE(done);
        return c;
    }
    // Submits a command that may wait (held store, range lock); *done turns true at its end.
    std::shared_ptr<Command> start(std::initializer_list<int> cdb, Bytes out, std::shared_ptr<bool> done) {
        auto c = make(cdb, std::move(out));
        c->nexus = nexus;
        scsi::submit(dev, c, {}, [done] { *done = true; });
        return c;
    }
    Bytes read(std::uint64_t lba, std::uint32_t blocks) {
        auto c = run({0x88, 0, 0, 0, 0, 0, static_cast<int>(lba >> 24 & 0xff), static_cast<int>(lba >> 16 & 0xff),
                      static_cast<int>(lba >> 8 & 0xff), static_cast<int>(lba & 0xff), static_cast<int>(blocks >> 24 & 0xff),
                      static_cast<int>(blocks >> 16 & 0xff), static_cast<int>(blocks >> 8 & 0xff), static_cast<int>(blocks & 0xff), 0, 0});
        BOOST_REQUIRE(good(*c));
        return c->data_in->to_vector();
    }
    void write(std::uint32_t lba, Bytes data) {
        const auto blocks = static_cast<int>(data.size() / 512);
        auto c = run({0x2a, 0, static_cast<int>(lba >> 24), static_cast<int>(lba >> 16 & 0xff), static_cast<int>(lba >> 8 & 0xff),
                      static_cast<int>(lba & 0xff), 0, blocks >> 8, blocks & 0xff, 0},
                     std::move(data));
        BOOST_REQUIRE(good(*c));
    }
    static bool good(const Command& c) { return c.status == Status::Good; }
};

Bytes filled(std::size_t n, int v) { return Bytes(n, static_cast<std::byte>(v)); }
bool all_zero(const Bytes& b) {
    return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

// An UNMAP parameter list (SBC-3 §5.28.2) with these (LBA, blocks) descriptors.
Bytes unmap_list(std::initializer_list<std::pair<std::uint64_t, std::uint32_t>> ds) {
    Bytes p(8 + 16 * ds.size());
    st16(p, 0, static_cast<std::uint16_t>(p.size() - 2));
    st16(p, 2, static_cast<std::uint16_t>(p.size() - 8));
    std::size_t at = 8;
    for (const auto& [lba, n] : ds) {
        st64(p, at, lba);
        st32(p, at + 8, n);
        at += 16;
    }
    return p;
}

// UNMAP's CDB for a parameter list of len bytes.
std::shared_ptr<Command> unmap(Lu& lu, Bytes list, int len = -1, AccessContext ctx = {}) {
    if (len < 0) len = static_cast<int>(list.size());
    return lu.run({0x42, 0, 0, 0, 0, 0, 0, len >> 8, len & 0xff, 0}, std::move(list), ctx);
}

using iscsilab::testing::expect_sense;

std::shared_ptr<Command> write_same16(Lu& lu, std::uint64_t lba, std::uint32_t blocks, int flags, Bytes out) {
    return lu.run({0x93, flags, static_cast<int>(lba >> 56), static_cast<int>(lba >> 48 & 0xff), static_cast<int>(lba >> 40 & 0xff),
                   static_cast<int>(lba >> 32 & 0xff), static_cast<int>(lba >> 24 & 0xff), static_cast<int>(lba >> 16 & 0xff),
                   static_cast<int>(lba >> 8 & 0xff), static_cast<int>(lba & 0xff), static_cast<int>(blocks >> 24),
                   static_cast<int>(blocks >> 16 & 0xff), static_cast<int>(blocks >> 8 & 0xff), static_cast<int>(blocks & 0xff), 0, 0},
                  std::move(out));
}

std::shared_ptr<Command> get_lba_status(Lu& lu, std::uint64_t lba, std::uint32_t alloc = 1024) {
    return lu.run({0x9e, 0x12, static_cast<int>(lba >> 56), static_cast<int>(lba >> 48 & 0xff), static_cast<int>(lba >> 40 & 0xff),
                   static_cast<int>(lba >> 32 & 0xff), static_cast<int>(lba >> 24 & 0xff), static_cast<int>(lba >> 16 & 0xff),
                   static_cast<int>(lba >> 8 & 0xff), static_cast<int>(lba & 0xff), static_cast<int>(alloc >> 24),
                   static_cast<int>(alloc >> 16 & 0xff), static_cast<int>(alloc >> 8 & 0xff), static_cast<int>(alloc & 0xff), 0, 0});
}

struct Status_ {
    std::uint64_t lba;
    std::uint32_t blocks;
    int provisioning;
};
std::vector<Status_> descriptors(const Command& c) {
    std::vector<Status_> out;
    const Bytes d = c.data_in->to_vector();
    BOOST_REQUIRE(d.size() >= 8);
    BOOST_TEST(ld32(d, 0) == d.size() - 4);
    for (std::size_t at = 8; at + 16 <= d.size(); at += 16) out.push_back({ld64(d, at), ld32(d, at + 8), ld8(d, at + 12) & 0x0f});
    return out;
}

// COMPARE AND WRITE of `blocks` at lba: verify instance then write instance.
std::shared_ptr<Command> caw_cmd(std::uint32_t lba, int blocks, Bytes out) {
    return Lu::make({0x89, 0, 0, 0, 0, 0, static_cast<int>(lba >> 24), static_cast<int>(lba >> 16 & 0xff), static_cast<int>(lba >> 8 & 0xff),
                     static_cast<int>(lba & 0xff), 0, 0, 0, blocks, 0, 0},
                    std::move(out));
}

Bytes concat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vdisk_thin)

BOOST_AUTO_TEST_CASE(thin_provisioned_attribute) {
    handlers::VdiskConfig c;
    c.handler = "vdisk_blockio";
    BOOST_TEST(c.set("thin_provisioned", "1").empty());
    BOOST_TEST(c.thin_provisioned);
    BOOST_TEST(!c.set("thin_provisioned", "2").empty());
    handlers::VdiskConfig n;
    n.handler = "vdisk_nullio";
    BOOST_TEST(!n.set("thin_provisioned", "1").empty());  // no store to deallocate
    Lu lu(true);
    auto names = lu.dev->attribute_names();
    BOOST_TEST((std::find(names.begin(), names.end(), "thin_provisioned") != names.end()));
    BOOST_TEST(*lu.dev->get_attribute("thin_provisioned") == "1");
    BOOST_TEST(*Lu(false).dev->get_attribute("thin_provisioned") == "0");
}

BOOST_AUTO_TEST_CASE(unmap_then_read_zeros) {
    Lu lu(true);
    lu.write(0, filled(64 * 512, 'a'));
    // Two descriptors, out of order and overlapping: one store request for [4, 20).
    auto c = unmap(lu, unmap_list({{10, 10}, {4, 8}, {0, 0}}));
    BOOST_TEST(Lu::good(*c));
    BOOST_TEST(lu.store->count(BlockOp::unmap) == 1u);
    BOOST_TEST(all_zero(lu.read(4, 16)));  // LBPRZ
    BOOST_TEST((lu.read(0, 4) == filled(4 * 512, 'a')));
    BOOST_TEST((lu.read(20, 44) == filled(44 * 512, 'a')));
    // No parameter list at all, and zero blocks at the end of the LU: nothing, GOOD.
    BOOST_TEST(Lu::good(*unmap(lu, {}, 0)));
    BOOST_TEST(Lu::good(*unmap(lu, unmap_list({{kBlocks, 0}}))));
    BOOST_TEST(Lu::good(*unmap(lu, unmap_list({}))));
    BOOST_TEST(Lu::good(*unmap(lu, Bytes(8))));  // an all-zero header: no descriptors
    BOOST_TEST(lu.store->count(BlockOp::unmap) == 1u);
}

BOOST_AUTO_TEST_CASE(unmap_parameter_errors) {
    Lu lu(true);
    lu.write(0, filled(8 * 512, 'a'));
    // SBC-3 §5.28: a list shorter than its header.
    for (int len = 1; len < 8; ++len)
        expect_sense(*unmap(lu, Bytes(8), len), SenseKey::IllegalRequest, asc::ParameterListLengthError);
    // The header promised but not sent.
    expect_sense(*unmap(lu, Bytes(4), 24), SenseKey::IllegalRequest, asc::ParameterListLengthError);
    // Block descriptors that run past the UNMAP DATA LENGTH.
    {
        Bytes p = unmap_list({{0, 1}});
        st16(p, 0, 6);
        auto c = unmap(lu, p);
        expect_sense(*c, SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
        BOOST_TEST((ld8(c->sense, 15) & 0xc0) == 0x80);  // SKSV, C/D=0: a parameter list byte
        BOOST_TEST(*decode_sense(c->sense)->field_pointer == 2u);
    }
    // Past the capacity, and wrapping around: LBA OUT OF RANGE; nothing is unmapped, not
    // even the good descriptor before it.
    expect_sense(*unmap(lu, unmap_list({{0, 1}, {kBlocks - 1, 2}})), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*unmap(lu, unmap_list({{kBlocks + 1, 0}})), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*unmap(lu, unmap_list({{~0ull, 2}})), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    // More than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (256).
    {
        Bytes p(8 + 16 * 257);
        st16(p, 0, static_cast<std::uint16_t>(p.size() - 2));
        st16(p, 2, static_cast<std::uint16_t>(p.size() - 8));
        expect_sense(*unmap(lu, p), SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
    }
    BOOST_TEST(lu.store->count(BlockOp::unmap) == 0u);
    BOOST_TEST((lu.read(0, 8) == filled(8 * 512, 'a')));
    // A last descriptor the BLOCK DESCRIPTOR DATA LENGTH cuts short is ignored.
    {
        Bytes p = unmap_list({{0, 1}, {1, 1}});
        st16(p, 2, 16 + 8);
        BOOST_TEST(Lu::good(*unmap(lu, p)));
        BOOST_TEST(lu.store->count(BlockOp::unmap) == 1u);
        BOOST_TEST((lu.read(1, 1) == filled(512, 'a')));
    }
    // ANCHOR without ANC_SUP; the LU write-protected.
    expect_sense(*lu.run({0x42, 0x01, 0, 0, 0, 0, 0, 0, 24, 0}, unmap_list({{0, 1}})), SenseKey::IllegalRequest,
                 asc::InvalidFieldInCdb);
    AccessContext ro;
    ro.read_only = true;
    expect_sense(*unmap(lu, unmap_list({{0, 1}}), -1, ro), SenseKey::DataProtect, asc::WriteProtected);
    // Fully provisioned: no UNMAP at all (libiscsi's Unmap.VPD wants it refused).
    Lu full(false);
    expect_sense(*unmap(full, unmap_list({{0, 1}})), SenseKey::IllegalRequest, asc::InvalidCommandOperationCode);
}

BOOST_AUTO_TEST_CASE(unmap_too_many_blocks) {
    // MAXIMUM UNMAP LBA COUNT is 256 MiB of blocks: 512 Ki blocks of 512 bytes.
    Lu lu(true, 1ull << 29);
    expect_sense(*unmap(lu, unmap_list({{0, 1u << 19}, {1u << 19, 1}})), SenseKey::IllegalRequest,
                 asc::InvalidFieldInParameterList);
    BOOST_TEST(lu.store->count(BlockOp::unmap) == 0u);
    BOOST_TEST(Lu::good(*unmap(lu, unmap_list({{0, 1u << 19}}))));
}

BOOST_AUTO_TEST_CASE(write_same_fills) {
    Lu lu(false);
    Bytes block(512);
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<std::byte>(i * 7);
    // WRITE SAME(10), 5 blocks at LBA 3: one store request with a one-block buffer.
    auto c = lu.run({0x41, 0, 0, 0, 0, 3, 0, 0, 5, 0}, block);
    BOOST_TEST(Lu::good(*c));
    BOOST_TEST(lu.store->count(BlockOp::write_same) == 1u);
    BOOST_TEST(lu.store->ops.back().length == 5u * 512);
    auto got = lu.read(3, 5);
    for (int k = 0; k < 5; ++k) BOOST_TEST((Bytes(got.begin() + k * 512, got.begin() + (k + 1) * 512) == block));
    BOOST_TEST(all_zero(lu.read(8, 1)));
    // NUMBER OF LOGICAL BLOCKS 0: to the last LBA (WSNZ=0).
    BOOST_TEST(Lu::good(*write_same16(lu, kBlocks - 4, 0, 0, block)));
    BOOST_TEST(lu.store->ops.back().length == 4u * 512);
    // Beyond the end, also with 0 blocks one past it, and WRPROTECT without protection.
    expect_sense(*write_same16(lu, kBlocks - 1, 2, 0, block), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*write_same16(lu, kBlocks, 0, 0, block), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*write_same16(lu, ~0ull, 1, 0, block), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*write_same16(lu, 0, 1, 0x20, block), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    // ANCHOR (not supported, with or without UNMAP).
    expect_sense(*write_same16(lu, 0, 1, 0x10, block), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    // Data-Out of anything but one block.
    expect_sense(*write_same16(lu, 0, 1, 0, Bytes(256)), SenseKey::IllegalRequest, asc::InvalidFieldInInformationUnit);
    expect_sense(*write_same16(lu, 0, 1, 0, Bytes(1024)), SenseKey::IllegalRequest, asc::InvalidFieldInInformationUnit);
    expect_sense(*write_same16(lu, 0, 1, 0, {}), SenseKey::IllegalRequest, asc::InvalidFieldInInformationUnit);
    // Write-protected.
    AccessContext ro;
    ro.read_only = true;
    expect_sense(*lu.run({0x41, 0, 0, 0, 0, 0, 0, 0, 1, 0}, block, ro), SenseKey::DataProtect, asc::WriteProtected);
    BOOST_TEST(lu.store->count(BlockOp::write_same) == 2u);
}

BOOST_AUTO_TEST_CASE(write_same_maximum_length) {
    Lu lu(true, 32ull << 20);  // 64 Ki blocks; MAXIMUM WRITE SAME LENGTH is 16 Ki (8 MiB)
    Bytes zero(512);
    expect_sense(*write_same16(lu, 0, 16385, 0, zero), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    expect_sense(*write_same16(lu, 0, 0, 0x08, zero), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);  // 0: the whole LU
    BOOST_TEST(Lu::good(*write_same16(lu, (32ull << 20) / 512 - 16384, 0, 0x08, zero)));
    BOOST_TEST(lu.store->count(BlockOp::unmap) == 1u);
}

BOOST_AUTO_TEST_CASE(write_same_unmap) {
    Lu lu(true);
    lu.write(0, filled(32 * 512, 0xff));
    // UNMAP=1 with a zero block: deallocated, and reads zeros.
    BOOST_TEST(Lu::good(*lu.run({0x41, 0x08, 0, 0, 0, 0, 0, 0, 16, 0}, Bytes(512))));
    BOOST_TEST(lu.store->count(BlockOp::unmap) == 1u);
    BOOST_TEST(lu.store->count(BlockOp::write_same) == 0u);
    BOOST_TEST(all_zero(lu.read(0, 16)));
    BOOST_TEST(!lu.store->mapped[0]);
    // UNMAP=1 with data in the block: deallocated all the same (SBC-3 §5.43: a thin LU
    // should deallocate), and the blocks read zeros, not the block.
    BOOST_TEST(Lu::good(*write_same16(lu, 16, 8, 0x08, filled(512, 0xa6))));
    BOOST_TEST(lu.store->count(BlockOp::unmap) == 2u);
    BOOST_TEST(lu.store->count(BlockOp::write_same) == 0u);
    BOOST_TEST(all_zero(lu.read(16, 8)));
    BOOST_TEST((lu.read(24, 8) == filled(8 * 512, 0xff)));
    // A fully provisioned LU refuses the UNMAP bit, and does not report it usable.
    Lu full(false);
    auto c = full.run({0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0}, Bytes(512));
    expect_sense(*c, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    BOOST_TEST(*decode_sense(c->sense)->field_pointer == 1u);
    auto one = full.run({0xa3, 0x0c, 0x01, 0x41, 0, 0, 0, 0, 1, 0, 0, 0});
    BOOST_TEST((ld8(*one->data_in, 5) & 0x08) == 0);
    auto thin_one = lu.run({0xa3, 0x0c, 0x01, 0x41, 0, 0, 0, 0, 1, 0, 0, 0});
    BOOST_TEST((ld8(*thin_one->data_in, 5) & 0x08) == 0x08);
}

BOOST_AUTO_TEST_CASE(write_same_ndob) {
    Lu lu(true);
    lu.write(0, filled(16 * 512, 0x55));
    // NDOB without UNMAP: zeros written, no Data-Out.
    BOOST_TEST(Lu::good(*write_same16(lu, 0, 4, 0x01, {})));
    BOOST_TEST(lu.store->count(BlockOp::write_same) == 1u);
    BOOST_TEST(all_zero(lu.read(0, 4)));
    BOOST_TEST(lu.store->mapped[0]);
    // NDOB with UNMAP: deallocated.
    BOOST_TEST(Lu::good(*write_same16(lu, 4, 4, 0x09, {})));
    BOOST_TEST(lu.store->count(BlockOp::unmap) == 1u);
    BOOST_TEST(all_zero(lu.read(4, 4)));
    BOOST_TEST(!lu.store->mapped[4]);
    // NDOB with a Data-Out Buffer after all.
    expect_sense(*write_same16(lu, 8, 1, 0x01, Bytes(512)), SenseKey::IllegalRequest, asc::InvalidFieldInInformationUnit);
    BOOST_TEST((lu.read(8, 8) == filled(8 * 512, 0x55)));
}

BOOST_AUTO_TEST_CASE(get_lba_status_after_unmap) {
    Lu lu(true);
    lu.write(0, filled(64 * 512, 'x'));
    BOOST_TEST(Lu::good(*unmap(lu, unmap_list({{8, 8}}))));
    auto all = descriptors(*get_lba_status(lu, 0));
    BOOST_REQUIRE(all.size() == 4u);
    BOOST_TEST((all[0].lba == 0 && all[0].blocks == 8 && all[0].provisioning == 0));
    BOOST_TEST((all[1].lba == 8 && all[1].blocks == 8 && all[1].provisioning == 1));
    BOOST_TEST((all[2].lba == 16 && all[2].blocks == 48 && all[2].provisioning == 0));
    BOOST_TEST((all[3].lba == 64 && all[3].blocks == kBlocks - 64 && all[3].provisioning == 1));  // never written
    // The first descriptor holds the starting LBA; the allocation length limits the rest.
    auto from10 = get_lba_status(lu, 10, 24);
    BOOST_TEST(ld32(*from10->data_in, 0) == 20u);
    auto d = descriptors(*from10);
    BOOST_REQUIRE(d.size() == 1u);
    BOOST_TEST((d[0].lba == 10 && d[0].blocks == 6 && d[0].provisioning == 1));
    // The last LBA, and past it.
    BOOST_TEST(Lu::good(*get_lba_status(lu, kBlocks - 1)));
    expect_sense(*get_lba_status(lu, kBlocks), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*get_lba_status(lu, ~0ull), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    // A fully provisioned LU: all mapped, whatever the store holds.
    Lu full(false);
    auto f = descriptors(*get_lba_status(full, 5));
    BOOST_REQUIRE(f.size() == 1u);
    BOOST_TEST((f[0].lba == 5 && f[0].blocks == kBlocks - 5 && f[0].provisioning == 0));
}

BOOST_AUTO_TEST_CASE(get_lba_status_partial_blocks_are_mapped) {
    // 4096-byte blocks over a store that deallocates 512-byte units: a block freed in
    // part still holds data, so it is mapped.
    handlers::VdiskConfig c;
    c.name = "big";
    c.blocksize = 4096;
    c.thin_provisioned = true;
    auto store = std::make_shared<HoleStore>(64 * 4096);
    std::fill(store->mapped.begin(), store->mapped.end(), true);
    std::fill(store->mapped.begin() + 12, store->mapped.begin() + 40, false);  // bytes 6144..20479
    auto dev = std::make_shared<handlers::Vdisk>(c, store);
    auto cmd = Lu::make({0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, {});
    scsi::submit(dev, cmd, {}, [] {});
    auto d = descriptors(*cmd);
    BOOST_REQUIRE(d.size() == 3u);
    BOOST_TEST((d[0].lba == 0 && d[0].blocks == 2 && d[0].provisioning == 0));
    BOOST_TEST((d[1].lba == 2 && d[1].blocks == 3 && d[1].provisioning == 1));
    BOOST_TEST((d[2].lba == 5 && d[2].blocks == 59 && d[2].provisioning == 0));
}

BOOST_AUTO_TEST_CASE(compare_and_write_success) {
    Lu lu(false);
    lu.write(100, filled(2 * 512, 'A'));
    auto c = lu.run({0x89, 0x08, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 2, 0, 0}, concat(filled(1024, 'A'), filled(1024, 'B')));
    BOOST_TEST(Lu::good(*c));
    BOOST_TEST((lu.read(100, 2) == filled(1024, 'B')));
    BOOST_TEST(*c->spdtl == 2048u);
    // No blocks and no data: nothing, GOOD. No blocks with data (256 wrapped to 0): refused.
    BOOST_TEST(Lu::good(*lu.run({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0})));
    expect_sense(*lu.run({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Bytes(512 * 512)), SenseKey::IllegalRequest,
                 asc::InvalidFieldInCdb);
    // Data-Out of anything but both instances.
    expect_sense(*lu.run({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1, 0, 0}, Bytes(4 * 512)), SenseKey::IllegalRequest,
                 asc::InvalidFieldInInformationUnit);
    expect_sense(*lu.run({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 3, 0, 0}, Bytes(4 * 512)), SenseKey::IllegalRequest,
                 asc::InvalidFieldInInformationUnit);
    // Past the end; WRPROTECT; write-protected.
    expect_sense(*lu.run({0x89, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0}, Bytes(4 * 512)), SenseKey::IllegalRequest,
                 asc::LbaOutOfRange);
    expect_sense(*lu.run({0x89, 0x20, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1, 0, 0}, Bytes(2 * 512)), SenseKey::IllegalRequest,
                 asc::InvalidFieldInCdb);
    AccessContext ro;
    ro.read_only = true;
    expect_sense(*lu.run({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1, 0, 0}, Bytes(2 * 512), ro), SenseKey::DataProtect,
                 asc::WriteProtected);
    BOOST_TEST((lu.read(100, 2) == filled(1024, 'B')));
}

BOOST_AUTO_TEST_CASE(compare_and_write_miscompare_reports_the_offset) {
    Lu lu(true);
    lu.write(7, filled(3 * 512, 'A'));
    Bytes verify = filled(3 * 512, 'A');
    verify[3 * 512 - 27] = std::byte{'C'};
    const std::size_t writes = lu.store->count(BlockOp::write);
    auto c = lu.run({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0}, concat(verify, filled(3 * 512, 'B')));
    expect_sense(*c, SenseKey::Miscompare, asc::MiscompareDuringVerify);
    auto s = decode_sense(c->sense);
    BOOST_REQUIRE(s->information.has_value());
    BOOST_TEST(*s->information == 3u * 512 - 27);
    BOOST_TEST((ld8(c->sense, 0) & 0x80) == 0x80);  // VALID
    BOOST_TEST(lu.store->count(BlockOp::write) == writes);
    BOOST_TEST((lu.read(7, 3) == filled(3 * 512, 'A')));
}

BOOST_AUTO_TEST_CASE(compare_and_write_holds_its_range_against_an_overlapping_write) {
    Lu lu(false);
    lu.write(10, filled(4 * 512, 'A'));
    lu.store->hold = true;
    lu.store->ops.clear();

    // COMPARE AND WRITE of LBAs 10..13: its read reaches the store and is held there.
    auto caw_done = std::make_shared<bool>(false);
    auto caw = caw_cmd(10, 4, concat(filled(4 * 512, 'A'), filled(4 * 512, 'B')));
    caw->nexus = lu.nexus;
    scsi::submit(lu.dev, caw, {}, [caw_done] { *caw_done = true; });
    BOOST_REQUIRE(lu.store->ops.size() == 1u);
    BOOST_TEST((lu.store->ops[0].op == BlockOp::read));

    // A WRITE of LBA 12 from another initiator: it must not reach the store in between.
    auto other = std::make_shared<Nexus>();
    other->id = 2;
    auto w_done = std::make_shared<bool>(false);
    auto w = Lu::make({0x2a, 0, 0, 0, 0, 12, 0, 0, 1, 0}, filled(512, 'W'));
    w->nexus = other;
    scsi::submit(lu.dev, w, {}, [] {});  // the power-on unit attention of nexus 2
    w = Lu::make({0x2a, 0, 0, 0, 0, 12, 0, 0, 1, 0}, filled(512, 'W'));
    w->nexus = other;
    scsi::submit(lu.dev, w, {}, [w_done] { *w_done = true; });
    BOOST_TEST(lu.store->ops.size() == 1u);  // waiting in the range lock

    // A WRITE that does not overlap goes straight through.
    auto far_done = std::make_shared<bool>(false);
    auto far = Lu::make({0x2a, 0, 0, 0, 0, 20, 0, 0, 1, 0}, filled(512, 'F'));
    far->nexus = other;
    scsi::submit(lu.dev, far, {}, [far_done] { *far_done = true; });
    BOOST_REQUIRE(lu.store->ops.size() == 2u);
    BOOST_TEST(lu.store->ops[1].offset == 20u * 512);

    // The read completes: the compare matches and the CAW's write goes out (held).
    lu.store->release_one();  // the read
    BOOST_REQUIRE(lu.store->ops.size() == 3u);
    BOOST_TEST((lu.store->ops[2].op == BlockOp::write && lu.store->ops[2].offset == 10u * 512));
    BOOST_TEST(!*w_done);
    lu.store->release_one();  // the far write
    BOOST_TEST(*far_done);
    BOOST_TEST(lu.store->ops.size() == 3u);  // the overlapping write still waits
    // The CAW's write completes: the CAW ends, and only now the WRITE starts.
    lu.store->release_one();
    BOOST_TEST(*caw_done);
    BOOST_TEST(Lu::good(*caw));
    BOOST_REQUIRE(lu.store->ops.size() == 4u);
    BOOST_TEST((lu.store->ops[3].op == BlockOp::write && lu.store->ops[3].offset == 12u * 512));
    lu.store->release_all();
    BOOST_TEST(*w_done);
    lu.store->hold = false;
    Bytes want = concat(concat(filled(2 * 512, 'B'), filled(512, 'W')), filled(512, 'B'));
    BOOST_TEST((lu.read(10, 4) == want));
    BOOST_TEST(lu.dev->config().name == "t0");
}

BOOST_AUTO_TEST_CASE(compare_and_write_waits_for_a_write_in_flight) {
    Lu lu(true);
    lu.write(0, filled(2 * 512, 'A'));
    lu.store->hold = true;
    lu.store->ops.clear();
    auto w_done = std::make_shared<bool>(false);
    lu.start({0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0}, filled(512, 'Z'), w_done);
    BOOST_REQUIRE(lu.store->ops.size() == 1u);
    // The CAW expects what is there before the write lands; it must wait for the write
    // and then see 'Z' in block 1: a miscompare at byte 512.
    auto caw_done = std::make_shared<bool>(false);
    auto caw = lu.start({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0}, concat(filled(1024, 'A'), filled(1024, 'B')), caw_done);
    BOOST_TEST(lu.store->ops.size() == 1u);
    // A second CAW on the same blocks queues behind the first (first come, first served).
    auto caw2_done = std::make_shared<bool>(false);
    lu.start({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, concat(filled(512, 'A'), filled(512, 'C')), caw2_done);
    lu.store->release_one();  // the write
    BOOST_TEST(*w_done);
    BOOST_REQUIRE(lu.store->ops.size() == 2u);
    BOOST_TEST((lu.store->ops[1].op == BlockOp::read));
    lu.store->release_one();  // the first CAW's read: miscompare, nothing written
    BOOST_TEST(*caw_done);
    expect_sense(*caw, SenseKey::Miscompare, asc::MiscompareDuringVerify);
    BOOST_TEST(*decode_sense(caw->sense)->information == 512u);
    // Now the second CAW reads, matches block 0, and writes.
    BOOST_REQUIRE(lu.store->ops.size() == 3u);
    lu.store->release_all();
    BOOST_TEST(*caw2_done);
    lu.store->hold = false;
    BOOST_TEST((lu.read(0, 2) == concat(filled(512, 'C'), filled(512, 'Z'))));
}

BOOST_AUTO_TEST_CASE(range_lock_is_first_come_first_served) {
    using handlers::LbaRangeLock;
    LbaRangeLock lock;
    std::vector<std::string> order;
    LbaRangeLock::Ticket w1 = 0, w2 = 0, x = 0, w3 = 0;
    lock.lock(0, 10, LbaRangeLock::Mode::shared, [&](auto t) { w1 = t; order.push_back("w1"); });
    lock.lock(5, 10, LbaRangeLock::Mode::shared, [&](auto t) { w2 = t; order.push_back("w2"); });  // shared: no wait
    lock.lock(8, 1, LbaRangeLock::Mode::exclusive, [&](auto t) { x = t; order.push_back("x"); });
    lock.lock(0, 1, LbaRangeLock::Mode::shared, [&](auto t) { w3 = t; order.push_back("w3"); });   // no overlap with x
    lock.lock(8, 2, LbaRangeLock::Mode::shared, [&](auto) { order.push_back("w4"); });             // behind x
    lock.lock(9, 0, LbaRangeLock::Mode::exclusive, [&](auto t) { BOOST_TEST(t == 0u); order.push_back("empty"); });
    BOOST_TEST((order == std::vector<std::string>{"w1", "w2", "w3", "empty"}));
    BOOST_TEST(lock.waiting() == 2u);
    lock.unlock(w1);
    BOOST_TEST(order.size() == 4u);  // w2 still overlaps x
    lock.unlock(w2);
    BOOST_TEST((order == std::vector<std::string>{"w1", "w2", "w3", "empty", "x"}));
    lock.unlock(x);
    BOOST_TEST(order.back() == "w4");
    lock.unlock(x);  // twice: nothing
    lock.unlock(w3);
    BOOST_TEST(lock.held() == 1u);
    BOOST_TEST(lock.waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(pre_fetch_range_errors) {
    Lu lu(false);
    // PRE-FETCH(10): GOOD (not CONDITION MET), IMMED and GROUP NUMBER allowed.
    auto ok = lu.run({0x34, 0x02, 0, 0, 0, 0, 0x03, 0, 16, 0});
    BOOST_TEST(static_cast<int>(ok->status) == static_cast<int>(Status::Good));
    BOOST_TEST(Lu::good(*lu.run({0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0})));  // 0: to the end
    BOOST_TEST(Lu::good(*lu.run({0x34, 0, 0, 0, 0x07, 0xf0, 0, 0, 16, 0})));
    expect_sense(*lu.run({0x34, 0, 0, 0, 0x07, 0xf1, 0, 0, 16, 0}), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*lu.run({0x34, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0}), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*lu.run({0x34, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0}), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*lu.run({0x34, 0x01, 0, 0, 0, 0, 0, 0, 1, 0}), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    // PRE-FETCH(16).
    BOOST_TEST(Lu::good(*lu.run({0x90, 0x02, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 1, 0x03, 0})));
    expect_sense(*lu.run({0x90, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*lu.run({0x90, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0}), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    BOOST_TEST(lu.store->ops.empty());  // PRE-FETCH moves no data
}

BOOST_AUTO_TEST_CASE(vpd_and_read_capacity16_with_and_without_thin_provisioning) {
    for (bool thin : {false, true}) {
        BOOST_TEST_CONTEXT("thin_provisioned=" << thin) {
            Lu lu(thin);
            auto rc = lu.run({0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0});
            BOOST_TEST(ld64(*rc->data_in, 0) == kBlocks - 1u);
            BOOST_TEST(ld8(*rc->data_in, 13) == 0);                      // LBPPBE: one block per physical block
            BOOST_TEST(ld8(*rc->data_in, 14) == (thin ? 0xc0 : 0x00));  // LBPME, LBPRZ

            auto b0 = lu.run({0x12, 0x01, 0xb0, 0, 255, 0});
            const Bytes p = b0->data_in->to_vector();
            BOOST_REQUIRE(p.size() == 64u);
            BOOST_TEST(ld16(p, 2) == 0x3cu);
            BOOST_TEST((ld8(p, 4) & 0x01) == 0);               // WSNZ=0
            BOOST_TEST(ld8(p, 5) == 255u);                     // MAXIMUM COMPARE AND WRITE LENGTH
            BOOST_TEST(ld32(p, 8) == 16384u);                  // MAXIMUM TRANSFER LENGTH
            BOOST_TEST(ld32(p, 20) == (thin ? 524288u : 0u));  // MAXIMUM UNMAP LBA COUNT
            BOOST_TEST(ld32(p, 24) == (thin ? 256u : 0u));     // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
            BOOST_TEST(ld32(p, 28) == (thin ? 8u : 0u));       // OPTIMAL UNMAP GRANULARITY
            BOOST_TEST(ld32(p, 32) == (thin ? 0x80000000u : 0u));  // UGAVALID, alignment 0
            BOOST_TEST(ld64(p, 36) == 16384u);                 // MAXIMUM WRITE SAME LENGTH

            auto b2 = lu.run({0x12, 0x01, 0xb2, 0, 255, 0});
            const Bytes q = b2->data_in->to_vector();
            BOOST_REQUIRE(q.size() == 8u);
            BOOST_TEST(ld8(q, 5) == (thin ? 0xe4 : 0x00));  // LBPU LBPWS LBPWS10 LBPRZ; no ANC_SUP
            BOOST_TEST((ld8(q, 6) & 0x07) == (thin ? 2 : 0));  // PROVISIONING TYPE

            // REPORT SUPPORTED OPERATION CODES lists UNMAP on the thin LU only.
            auto unmap_one = lu.run({0xa3, 0x0c, 0x01, 0x42, 0, 0, 0, 0, 1, 0, 0, 0});
            BOOST_TEST((ld8(*unmap_one->data_in, 1) & 0x07) == (thin ? 3 : 1));
            auto all = lu.run({0xa3, 0x0c, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0, 0});
            BOOST_TEST(ld32(*all->data_in, 0) / 8 == handlers::Vdisk::opcodes().size() - (thin ? 0 : 1));
            // GET LBA STATUS is a service action of SERVICE ACTION IN(16), beside READ CAPACITY(16).
            auto gls = lu.run({0xa3, 0x0c, 0x02, 0x9e, 0, 0x12, 0, 0, 1, 0, 0, 0});
            BOOST_TEST((ld8(*gls->data_in, 1) & 0x07) == 3);
            BOOST_TEST(ld8(*gls->data_in, 5) == 0x12);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
