#define BOOST_TEST_MODULE vdisk
#include <boost/test/unit_test.hpp>

#include "support/scsi_checks.hpp"

#include "support/harness.hpp"
#include "target/handlers/null_store.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/scsi/midlevel.hpp"
#include "target/bytes.hpp"
#include "target/scsi/target.hpp"

using namespace iscsilab;
using namespace iscsilab::scsi;
using iscsilab::testing::MemoryStore;

namespace {

struct Disk {
    std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>(1u << 20);  // 2048 blocks
    std::shared_ptr<handlers::Vdisk> dev;
    std::shared_ptr<Nexus> nexus = std::make_shared<Nexus>();
    explicit Disk(std::uint32_t bs = 512, bool nv = false) {
        handlers::VdiskConfig c;
        c.name = "d0";
        c.filename = "/mem";
        c.blocksize = bs;
        c.nv_cache = nv;
        dev = std::make_shared<handlers::Vdisk>(c, store);
        nexus->id = 1;
        run({0x00, 0, 0, 0, 0, 0});  // consume the power-on unit attention
    }
    std::shared_ptr<Command> run(std::initializer_list<int> cdb, Bytes out = {}, AccessContext ctx = {}) {
        auto c = std::make_shared<Command>();
        int i = 0;
        for (int b : cdb) c->cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        c->data_out = std::move(out);
        c->nexus = nexus;
        bool done = false;
        scsi::submit(dev, c, ctx, [&] { done = true; });
        BOOST_REQUIRE(done);
        return c;
    }
};

std::optional<Sense> sense(const Command& c) { return decode_sense(c.sense); }

using iscsilab::testing::expect_sense;

}  // namespace

BOOST_AUTO_TEST_SUITE(vdisk_suite)

BOOST_AUTO_TEST_CASE(first_command_sees_power_on_unit_attention) {
    handlers::VdiskConfig c;
    c.name = "x";
    auto dev = std::make_shared<handlers::Vdisk>(c, std::make_shared<MemoryStore>(1u << 20));
    auto n = std::make_shared<Nexus>();
    n->id = 9;
    auto inq = std::make_shared<Command>();
    inq->cdb[0] = std::byte{0x12};
    inq->cdb[4] = std::byte{36};
    inq->nexus = n;
    scsi::submit(dev, inq, {}, [] {});
    BOOST_TEST(static_cast<int>(inq->status) == 0);  // INQUIRY is not blocked by a UA
    auto tur = std::make_shared<Command>();
    tur->nexus = n;
    scsi::submit(dev, tur, {}, [] {});
    expect_sense(*tur, SenseKey::UnitAttention, asc::PowerOnResetOrBusDeviceReset);
    auto again = std::make_shared<Command>();
    again->nexus = n;
    scsi::submit(dev, again, {}, [] {});
    BOOST_TEST(static_cast<int>(again->status) == 0);
}

BOOST_AUTO_TEST_CASE(read_capacity) {
    Disk d(4096);
    auto c = d.run({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    BOOST_REQUIRE(c->data_in);
    BOOST_TEST(ld32(*c->data_in, 0) == 255u);  // 1 MiB / 4096 - 1
    BOOST_TEST(ld32(*c->data_in, 4) == 4096u);
    auto c16 = d.run({0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0});
    BOOST_TEST(ld64(*c16->data_in, 0) == 255u);
    BOOST_TEST(c16->data_in->size() == 32u);
}

BOOST_AUTO_TEST_CASE(write_then_read_and_ranges) {
    Disk d;
    Bytes data(1024);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i);
    auto w = d.run({0x2a, 0, 0, 0, 0, 10, 0, 0, 2, 0}, data);
    BOOST_TEST(static_cast<int>(w->status) == 0);
    auto r = d.run({0x28, 0, 0, 0, 0, 10, 0, 0, 2, 0});
    BOOST_TEST((r->data_in->to_vector() == data));
    BOOST_TEST(*r->spdtl == 1024u);
    // READ(16) past the end, and wrapping LBAs.
    expect_sense(*d.run({0x88, 0, 0, 0, 0, 0, 0, 0, 0x07, 0xff, 0, 0, 0, 2, 0, 0}), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    expect_sense(*d.run({0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0}), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    // Zero blocks at the end is fine; one past is not.
    BOOST_TEST(static_cast<int>(d.run({0x28, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0})->status) == 0);
    expect_sense(*d.run({0x28, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0}), SenseKey::IllegalRequest, asc::LbaOutOfRange);
    // RDPROTECT without protection information.
    expect_sense(*d.run({0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0}), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    // READ(6) transfer length 0 means 256 blocks.
    BOOST_TEST(d.run({0x08, 0, 0, 0, 0, 0})->data_in->size() == 256u * 512u);
}

BOOST_AUTO_TEST_CASE(maximum_transfer_length) {
    handlers::VdiskConfig c;
    c.name = "big";
    c.handler = "vdisk_nullio";
    auto dev = std::make_shared<handlers::Vdisk>(c, std::make_shared<handlers::NullStore>(1ull << 40));
    auto run = [&](std::initializer_list<int> cdb) {
        auto cmd = std::make_shared<Command>();
        int i = 0;
        for (int b : cdb) cmd->cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        scsi::submit(dev, cmd, {}, [] {});
        return cmd;
    };
    // 2^24 blocks (8 GiB) of VERIFY and READ on a 1 TiB disk: refused, not allocated.
    for (int op : {0x8f, 0x88}) {
        auto r = run({op, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0});
        expect_sense(*r, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    }
    auto ok = run({0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0});  // 16384 blocks = 8 MiB
    BOOST_TEST(static_cast<int>(ok->status) == 0);
}

BOOST_AUTO_TEST_CASE(edtl_shorter_than_cdb_writes_whole_blocks_only) {
    Disk d;
    Bytes one(512, std::byte{0xbb});
    auto w = d.run({0x2a, 0, 0, 0, 0, 0, 0, 0, 2, 0}, one);  // CDB says 2 blocks, 1 arrived
    BOOST_TEST(static_cast<int>(w->status) == 0);
    BOOST_TEST(*w->spdtl == 1024u);
    BOOST_TEST(static_cast<int>(d.store->data[511]) == 0xbb);
    BOOST_TEST(static_cast<int>(d.store->data[512]) == 0);
    Bytes partial(200);
    expect_sense(*d.run({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, partial), SenseKey::IllegalRequest,
                 asc::InvalidFieldInInformationUnit);
}

BOOST_AUTO_TEST_CASE(verify_compares) {
    Disk d;
    Bytes data(512, std::byte{0x5a});
    d.run({0x2a, 0, 0, 0, 0, 4, 0, 0, 1, 0}, data);
    BOOST_TEST(static_cast<int>(d.run({0x2f, 0x02, 0, 0, 0, 4, 0, 0, 1, 0}, data)->status) == 0);
    Bytes other = data;
    other[100] = std::byte{0};
    auto v = d.run({0x2f, 0x02, 0, 0, 0, 4, 0, 0, 1, 0}, other);
    expect_sense(*v, SenseKey::Miscompare, asc::MiscompareDuringVerify);
    BOOST_TEST(*sense(*v)->information == 100u);  // offset of the first mismatch
    BOOST_TEST(static_cast<int>(d.run({0x2f, 0x00, 0, 0, 0, 4, 0, 0, 1, 0})->status) == 0);  // BYTCHK=0
}

BOOST_AUTO_TEST_CASE(write_protect_paths) {
    Disk d;
    Bytes data(512);
    AccessContext ro;
    ro.read_only = true;
    expect_sense(*d.run({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, data, ro), SenseKey::DataProtect, asc::WriteProtected);
    // MODE SENSE reports WP for a read-only LUN.
    auto ms = d.run({0x1a, 0, 0x3f, 0, 255, 0}, {}, ro);
    BOOST_TEST((ld8(*ms->data_in, 2) & 0x80) != 0);
    auto ms2 = d.run({0x1a, 0, 0x3f, 0, 255, 0});
    BOOST_TEST((ld8(*ms2->data_in, 2) & 0x80) == 0);

    // SWP through MODE SELECT(6) of the control page.
    auto cur = d.run({0x1a, 0x08, 0x0a, 0, 255, 0});  // DBD, control page
    Bytes page(cur->data_in->begin() + 4, cur->data_in->end());
    BOOST_REQUIRE(page.size() == 12u);
    page[4] |= std::byte{0x08};
    Bytes param(4);
    param.insert(param.end(), page.begin(), page.end());
    auto sel = d.run({0x15, 0x10, 0, 0, static_cast<int>(param.size()), 0}, param);
    BOOST_TEST(static_cast<int>(sel->status) == 0);
    expect_sense(*d.run({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, data), SenseKey::DataProtect, asc::WriteProtected);
    // A bit that is not changeable is refused.
    param[4 + 5] |= std::byte{0x40};  // TAS
    expect_sense(*d.run({0x15, 0x10, 0, 0, static_cast<int>(param.size()), 0}, param), SenseKey::IllegalRequest,
                 asc::InvalidFieldInParameterList);
}

BOOST_AUTO_TEST_CASE(descriptor_sense_by_d_sense) {
    Disk d;
    auto cur = d.run({0x1a, 0x08, 0x0a, 0, 255, 0});
    Bytes param(4);
    param.insert(param.end(), cur->data_in->begin() + 4, cur->data_in->end());
    param[4 + 2] |= std::byte{0x04};  // D_SENSE
    d.run({0x15, 0x10, 0, 0, static_cast<int>(param.size()), 0}, param);
    auto bad = d.run({0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0});
    BOOST_TEST((ld8(bad->sense, 0) & 0x7f) == 0x72);
}

BOOST_AUTO_TEST_CASE(inquiry_pages) {
    Disk d;
    auto std_inq = d.run({0x12, 0, 0, 0, 255, 0});
    BOOST_TEST(ld8(*std_inq->data_in, 2) == 6);  // SPC-4
    BOOST_TEST(ld8(*std_inq->data_in, 4) + 5u == std_inq->data_in->size());
    auto pages = d.run({0x12, 1, 0, 0, 255, 0});
    std::vector<int> list;
    for (std::size_t i = 4; i < pages->data_in->size(); ++i) list.push_back(ld8(*pages->data_in, i));
    BOOST_TEST((list == std::vector<int>{0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2}));
    for (int p : list) {
        auto c = d.run({0x12, 1, p, 0, 255, 0});
        BOOST_TEST(static_cast<int>(c->status) == 0);
        BOOST_TEST(ld16(*c->data_in, 2) + 4u == c->data_in->size());
    }
    BOOST_TEST(d.run({0x12, 1, 0xb0, 0, 255, 0})->data_in->size() == 64u);
    expect_sense(*d.run({0x12, 1, 0x99, 0, 255, 0}), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    expect_sense(*d.run({0x12, 0, 0x80, 0, 255, 0}), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    // Allocation length truncates.
    BOOST_TEST(d.run({0x12, 0, 0, 0, 5, 0})->data_in->size() == 5u);
}

BOOST_AUTO_TEST_CASE(unknown_opcode_and_reserved_bits) {
    Disk d;
    expect_sense(*d.run({0xc5, 0, 0, 0, 0, 0}), SenseKey::IllegalRequest, asc::InvalidCommandOperationCode);
    auto c = d.run({0x00, 0x80, 0, 0, 0, 0});  // a reserved bit in TEST UNIT READY
    expect_sense(*c, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    BOOST_TEST(*sense(*c)->field_pointer == 1u);
}

BOOST_AUTO_TEST_CASE(report_supported_operation_codes) {
    Disk d;
    auto all = d.run({0xa3, 0x0c, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0, 0});
    const auto n = ld32(*all->data_in, 0) / 8;
    BOOST_TEST(n == handlers::Vdisk::opcodes().size() - 1);  // all but UNMAP: the LU is fully provisioned
    auto one = d.run({0xa3, 0x0c, 0x01, 0x28, 0, 0, 0, 0, 1, 0, 0, 0});
    BOOST_TEST((ld8(*one->data_in, 1) & 0x07) == 3);  // supported
    BOOST_TEST(ld16(*one->data_in, 2) == 10u);
    BOOST_TEST(ld8(*one->data_in, 4) == 0x28);
    auto missing = d.run({0xa3, 0x0c, 0x01, 0xc5, 0, 0, 0, 0, 1, 0, 0, 0});
    BOOST_TEST((ld8(*missing->data_in, 1) & 0x07) == 1);  // not supported
    // READ CAPACITY(16) has a service action: option 1 refuses it, option 2 answers.
    expect_sense(*d.run({0xa3, 0x0c, 0x01, 0x9e, 0, 0x10, 0, 0, 1, 0, 0, 0}), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
    BOOST_TEST(static_cast<int>(d.run({0xa3, 0x0c, 0x02, 0x9e, 0, 0x10, 0, 0, 1, 0, 0, 0})->status) == 0);
}

BOOST_AUTO_TEST_CASE(synchronize_cache_and_nv_cache) {
    Disk d;
    d.run({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    BOOST_TEST(d.store->flushes == 1);
    Disk nv(512, true);
    nv.run({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    BOOST_TEST(nv.store->flushes == 0);  // nv_cache: nothing to make durable
}

BOOST_AUTO_TEST_CASE(medium_error_maps_to_sense) {
    Disk d;
    d.store->fail_next = true;
    expect_sense(*d.run({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}), SenseKey::MediumError, asc::UnrecoveredReadError);
}

BOOST_AUTO_TEST_CASE(lun_masking_and_report_luns) {
    auto d0 = std::make_shared<handlers::Vdisk>(handlers::VdiskConfig{}, std::make_shared<handlers::NullStore>(1u << 20));
    handlers::VdiskConfig c1;
    c1.name = "d1";
    auto d1 = std::make_shared<handlers::Vdisk>(c1, std::make_shared<handlers::NullStore>(1u << 20));
    Target t;
    BOOST_TEST(t.add_lun("", 0, d0, false).empty());
    BOOST_TEST(!t.add_lun("", 0, d1, false).empty());  // LUN taken
    BOOST_TEST(t.create_group("special").empty());
    BOOST_TEST(t.add_lun("special", 5, d1, true).empty());
    BOOST_TEST(t.add_initiator("special", "iqn.host2*").empty());
    auto report = [&](const std::string& who) {
        auto cmd = std::make_shared<Command>();
        cmd->cdb[0] = std::byte{0xa0};
        cmd->cdb[9] = std::byte{0xff};
        auto n = std::make_shared<Nexus>();
        n->initiator_name = who;
        cmd->nexus = n;
        t.execute(cmd, [] {});
        std::vector<std::uint32_t> luns;
        for (std::size_t i = 8; i < cmd->data_in->size(); i += 8) luns.push_back(decode_lun(ld64(*cmd->data_in, i)));
        return luns;
    };
    BOOST_TEST((report("iqn.host1") == std::vector<std::uint32_t>{0}));
    BOOST_TEST((report("iqn.host2.example") == std::vector<std::uint32_t>{5}));
    BOOST_TEST(wildcard_match("iqn.*:a?c", "iqn.x:abc"));
    BOOST_TEST(!wildcard_match("iqn.*:a?c", "iqn.x:abbc"));
}

// SPC-2 §7.21 / §7.18: RESERVE(10) and RELEASE(10) hold the same reservation as the
// 6-byte forms; third-party reservations are refused as reserved bits.
BOOST_AUTO_TEST_CASE(reserve_release_ten_byte_forms) {
    Disk a;
    auto other = std::make_shared<Nexus>();
    other->id = 2;
    auto as = [&](std::shared_ptr<Nexus> n, std::initializer_list<int> cdb) {
        auto c = std::make_shared<Command>();
        int i = 0;
        for (int b : cdb) c->cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        c->nexus = n;
        scsi::submit(a.dev, c, {}, [] {});
        return static_cast<int>(c->status);
    };
    as(other, {0x00, 0, 0, 0, 0, 0});
    BOOST_TEST(static_cast<int>(a.run({0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0})->status) == 0x00);  // RESERVE(10)
    BOOST_TEST(as(other, {0x16, 0, 0, 0, 0, 0}) == 0x18);                                  // RESERVE(6) conflicts
    BOOST_TEST(as(other, {0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0}) == 0x00);                      // its RELEASE(10): no effect
    BOOST_TEST(as(other, {0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0}) == 0x18);
    BOOST_TEST(static_cast<int>(a.run({0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0})->status) == 0x00);  // the holder releases
    BOOST_TEST(as(other, {0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0}) == 0x00);
    expect_sense(*a.run({0x56, 0x10, 0, 0, 0, 0, 0, 0, 0, 0}), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);  // 3RDPTY
}

BOOST_AUTO_TEST_CASE(reserve_release_across_two_nexuses) {
    Disk a;
    auto other = std::make_shared<Nexus>();
    other->id = 2;
    auto as = [&](std::shared_ptr<Nexus> n, std::initializer_list<int> cdb, Bytes out = {}) {
        auto c = std::make_shared<Command>();
        int i = 0;
        for (int b : cdb) c->cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        c->data_out = std::move(out);
        c->nexus = n;
        scsi::submit(a.dev, c, {}, [] {});
        return c;
    };
    as(other, {0x00, 0, 0, 0, 0, 0});  // its power-on unit attention
    auto st = [](const std::shared_ptr<Command>& c) { return static_cast<int>(c->status); };
    BOOST_TEST(st(a.run({0x16, 0, 0, 0, 0, 0})) == 0x00);                 // RESERVE(6)
    BOOST_TEST(st(a.run({0x16, 0, 0, 0, 0, 0})) == 0x00);                 // again, same holder
    BOOST_TEST(st(as(other, {0x16, 0, 0, 0, 0, 0})) == 0x18);             // RESERVATION CONFLICT
    BOOST_TEST(st(as(other, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0})) == 0x18);  // READ(10) too
    BOOST_TEST(st(as(other, {0x12, 0, 0, 0, 36, 0})) == 0x00);            // INQUIRY is allowed
    BOOST_TEST(st(as(other, {0x17, 0, 0, 0, 0, 0})) == 0x00);             // its RELEASE: no effect
    BOOST_TEST(st(as(other, {0x16, 0, 0, 0, 0, 0})) == 0x18);
    BOOST_TEST(st(a.run({0x17, 0, 0, 0, 0, 0})) == 0x00);                 // the holder releases
    BOOST_TEST(st(as(other, {0x16, 0, 0, 0, 0, 0})) == 0x00);
    // I_T nexus loss and LOGICAL UNIT RESET release it too.
    a.dev->forget_nexus(2);
    BOOST_TEST(st(a.run({0x16, 0, 0, 0, 0, 0})) == 0x00);
    a.dev->reset(1);
    BOOST_TEST(!a.dev->reserved_by_other(2));
}

BOOST_AUTO_TEST_CASE(lun_encoding) {
    BOOST_TEST(encode_lun(5) == 0x0005000000000000ULL);
    BOOST_TEST(encode_lun(300) == 0x412c000000000000ULL);
    for (std::uint32_t l : {0u, 1u, 255u, 256u, 16383u}) BOOST_TEST(decode_lun(encode_lun(l)) == l);
}

BOOST_AUTO_TEST_SUITE_END()
