#define BOOST_TEST_MODULE vdisk_media
#include <boost/test/unit_test.hpp>

#include "support/scsi_checks.hpp"

#include "support/harness.hpp"
#include "target/bytes.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/iscsi/driver.hpp"
#include "target/mgmt/tree.hpp"
#include "target/scsi/midlevel.hpp"

using namespace iscsilab;
using namespace iscsilab::scsi;
using iscsilab::testing::MemoryStore;

namespace {

constexpr std::initializer_list<int> kTur{0x00, 0, 0, 0, 0, 0};
constexpr std::initializer_list<int> kEject{0x1b, 0, 0, 0, 0x02, 0};  // LOEJ=1 START=0
constexpr std::initializer_list<int> kLoad{0x1b, 0, 0, 0, 0x03, 0};   // LOEJ=1 START=1
constexpr std::initializer_list<int> kPrevent{0x1e, 0, 0, 0, 0x01, 0};
constexpr std::initializer_list<int> kAllow{0x1e, 0, 0, 0, 0x00, 0};
constexpr std::initializer_list<int> kRequestSense{0x03, 0, 0, 0, 18, 0};

std::shared_ptr<Nexus> nexus(std::uint64_t id) {
    auto n = std::make_shared<Nexus>();
    n->id = id;
    return n;
}

// Runs one command on dev from a nexus; `completed` says whether it ended before return.
std::shared_ptr<Command> run(const std::shared_ptr<Device>& dev, const std::shared_ptr<Nexus>& from,
                             std::initializer_list<int> cdb, bool* completed = nullptr) {
    auto c = std::make_shared<Command>();
    int i = 0;
    for (int b : cdb) c->cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
    c->nexus = from;
    auto done = std::make_shared<bool>(false);
    scsi::submit(dev, c, {}, [done] { *done = true; });
    if (completed) *completed = *done;
    else BOOST_REQUIRE(*done);
    return c;
}

bool good(const Command& c) { return c.status == Status::Good; }

using iscsilab::testing::expect_sense;

// A vdisk_fileio device over memory, removable or not, seen from nexuses 1 and 2 (their
// power-on unit attentions already taken).
struct Lu {
    std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>(1u << 20);  // 2048 blocks
    std::shared_ptr<handlers::Vdisk> dev;
    std::shared_ptr<Nexus> a = nexus(1), b = nexus(2);
    explicit Lu(bool removable = true) {
        handlers::VdiskConfig c;
        c.name = "disk1";
        c.filename = "/disk1";
        c.removable = removable;
        dev = std::make_shared<handlers::Vdisk>(c, store);
        run(dev, a, kTur);
        run(dev, b, kTur);
    }
    std::shared_ptr<Command> on(const std::shared_ptr<Nexus>& n, std::initializer_list<int> cdb) { return run(dev, n, cdb); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(vdisk_media_suite)

BOOST_AUTO_TEST_CASE(eject_then_media_access_is_not_ready) {
    Lu lu;
    BOOST_TEST((ld8(*lu.on(lu.a, {0x12, 0, 0, 0, 36, 0})->data_in, 1) & 0x80) != 0);  // RMB
    BOOST_TEST(good(*lu.on(lu.a, kEject)));
    BOOST_TEST(lu.dev->medium() == nullptr);
    // SBC-3 §5.25: the medium is gone for every nexus and every media-access command.
    expect_sense(*lu.on(lu.a, kTur), SenseKey::NotReady, asc::MediumNotPresent);
    expect_sense(*lu.on(lu.b, kTur), SenseKey::NotReady, asc::MediumNotPresent);
    expect_sense(*lu.on(lu.a, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}), SenseKey::NotReady, asc::MediumNotPresent);
    expect_sense(*lu.on(lu.a, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}), SenseKey::NotReady, asc::MediumNotPresent);
    expect_sense(*lu.on(lu.a, {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}), SenseKey::NotReady, asc::MediumNotPresent);
    // What needs no medium still answers; ejecting an empty drive is no error.
    BOOST_TEST(good(*lu.on(lu.a, {0x12, 0, 0, 0, 36, 0})));
    BOOST_TEST(good(*lu.on(lu.a, kEject)));
}

BOOST_AUTO_TEST_CASE(load_brings_the_same_medium_back_and_tells_the_other_nexuses) {
    Lu lu;
    lu.store->data[0] = std::byte{0x5a};
    BOOST_TEST(good(*lu.on(lu.a, kEject)));
    BOOST_TEST(good(*lu.on(lu.a, kLoad)));
    // The nexus that loaded it asked for it: no unit attention there.
    BOOST_TEST(good(*lu.on(lu.a, kTur)));
    // SAM-5 §5.14: every other nexus hears NOT READY TO READY CHANGE, MEDIUM MAY HAVE
    // CHANGED, once.
    expect_sense(*lu.on(lu.b, kTur), SenseKey::UnitAttention, asc::NotReadyToReadyChange);
    BOOST_TEST(good(*lu.on(lu.b, kTur)));
    // The same backing file, as SCST keeps it.
    auto r = lu.on(lu.b, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0});
    BOOST_TEST(static_cast<int>(ld8(*r->data_in, 0)) == 0x5a);
    // Loading what is loaded changes nothing and raises nothing.
    BOOST_TEST(good(*lu.on(lu.a, kLoad)));
    BOOST_TEST(good(*lu.on(lu.b, kTur)));
}

BOOST_AUTO_TEST_CASE(prevent_blocks_eject_and_load) {
    Lu lu;
    BOOST_TEST(good(*lu.on(lu.a, kPrevent)));
    expect_sense(*lu.on(lu.a, kEject), SenseKey::IllegalRequest, asc::MediumRemovalPrevented);
    BOOST_TEST(good(*lu.on(lu.a, kTur)));  // still in
    BOOST_TEST(good(*lu.on(lu.a, kAllow)));
    BOOST_TEST(good(*lu.on(lu.a, kEject)));
    // The tray stays shut for a load too (MMC-6; libiscsi's PreventAllow.Eject).
    BOOST_TEST(good(*lu.on(lu.a, kPrevent)));
    expect_sense(*lu.on(lu.a, kLoad), SenseKey::IllegalRequest, asc::MediumRemovalPrevented);
    expect_sense(*lu.on(lu.a, kTur), SenseKey::NotReady, asc::MediumNotPresent);
    BOOST_TEST(good(*lu.on(lu.a, kAllow)));
    BOOST_TEST(good(*lu.on(lu.a, kLoad)));
    BOOST_TEST(good(*lu.on(lu.a, kTur)));
}

BOOST_AUTO_TEST_CASE(prevention_holds_while_any_nexus_prevents) {
    Lu lu;
    BOOST_TEST(good(*lu.on(lu.a, kPrevent)));
    // Another nexus cannot eject, and its ALLOW does not undo the first nexus's PREVENT.
    expect_sense(*lu.on(lu.b, kEject), SenseKey::IllegalRequest, asc::MediumRemovalPrevented);
    BOOST_TEST(good(*lu.on(lu.b, kAllow)));
    expect_sense(*lu.on(lu.b, kEject), SenseKey::IllegalRequest, asc::MediumRemovalPrevented);
    BOOST_TEST(good(*lu.on(lu.b, kPrevent)));
    BOOST_TEST(good(*lu.on(lu.a, kAllow)));
    expect_sense(*lu.on(lu.a, kEject), SenseKey::IllegalRequest, asc::MediumRemovalPrevented);
    BOOST_TEST(good(*lu.on(lu.b, kAllow)));
    BOOST_TEST(good(*lu.on(lu.a, kEject)));
}

BOOST_AUTO_TEST_CASE(nexus_loss_ends_that_nexus_prevention) {
    Lu lu;
    BOOST_TEST(good(*lu.on(lu.a, kPrevent)));
    BOOST_TEST(good(*lu.on(lu.b, kPrevent)));
    lu.dev->forget_nexus(2);  // logout or a dropped connection
    expect_sense(*lu.on(lu.a, kEject), SenseKey::IllegalRequest, asc::MediumRemovalPrevented);
    lu.dev->forget_nexus(1);
    auto again = nexus(1);  // a new login
    run(lu.dev, again, kTur);  // its power-on unit attention
    BOOST_TEST(good(*run(lu.dev, again, kEject)));
}

BOOST_AUTO_TEST_CASE(logical_unit_reset_ends_every_prevention) {
    Lu lu;
    BOOST_TEST(good(*lu.on(lu.a, kPrevent)));
    BOOST_TEST(good(*lu.on(lu.b, kPrevent)));
    lu.dev->reset(1);  // LOGICAL UNIT RESET from nexus 1; TARGET WARM/COLD RESET come here too
    // SAM-5 §6.6: the nexus that reset hears of it too.
    expect_sense(*lu.on(lu.a, kTur), SenseKey::UnitAttention, asc::BusDeviceResetFunctionOccurred);
    BOOST_TEST(good(*lu.on(lu.a, kEject)));
    // The other nexus hears of the reset before it hears that the medium is gone.
    expect_sense(*lu.on(lu.b, kTur), SenseKey::UnitAttention, asc::BusDeviceResetFunctionOccurred);
    expect_sense(*lu.on(lu.b, kTur), SenseKey::NotReady, asc::MediumNotPresent);
}

BOOST_AUTO_TEST_CASE(fixed_disk_refuses_loej_and_ignores_prevent) {
    Lu lu(false);
    BOOST_TEST((ld8(*lu.on(lu.a, {0x12, 0, 0, 0, 36, 0})->data_in, 1) & 0x80) == 0);  // RMB=0
    // SBC-3 §5.25: no removable medium to load or eject: INVALID FIELD IN CDB at LOEJ.
    for (auto cdb : {kEject, kLoad}) {
        auto c = lu.on(lu.a, cdb);
        expect_sense(*c, SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
        auto s = decode_sense(c->sense);
        BOOST_TEST(*s->field_pointer == 4u);
        BOOST_TEST((ld8(c->sense, 15) & 0x0f) == (0x08 | 1));  // BPV, bit 1
    }
    BOOST_TEST(good(*lu.on(lu.a, kTur)));
    // START / STOP without LOEJ, and PREVENT, succeed and leave the medium in.
    BOOST_TEST(good(*lu.on(lu.a, {0x1b, 0, 0, 0, 0x00, 0})));
    BOOST_TEST(good(*lu.on(lu.a, {0x1b, 0, 0, 0, 0x01, 0})));
    BOOST_TEST(good(*lu.on(lu.a, kPrevent)));
    BOOST_TEST(good(*lu.on(lu.a, kTur)));
    // PREVENT 1xb is obsolete in SBC-3.
    expect_sense(*lu.on(lu.a, {0x1e, 0, 0, 0, 0x02, 0}), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
}

BOOST_AUTO_TEST_CASE(power_condition_ignores_start_and_loej) {
    Lu lu;
    // SBC-3 §5.25: POWER CONDITION other than START_VALID: START and LOEJ are ignored.
    for (int pc = 1; pc < 16; ++pc) {
        BOOST_TEST(good(*lu.on(lu.a, {0x1b, 1, 0, 0, (pc << 4) | 0x02, 0})));
        BOOST_TEST(good(*lu.on(lu.a, kTur)));
    }
}

BOOST_AUTO_TEST_CASE(stop_flushes_unless_no_flush_and_immed_answers_first) {
    Lu lu;
    lu.store->hold = true;
    // IMMED=0: the eject ends when the cache is on the medium (SBC-3 §5.25, NO_FLUSH=0).
    bool completed = true;
    auto c = run(lu.dev, lu.a, kEject, &completed);
    BOOST_TEST(!completed);
    BOOST_TEST(lu.store->flushes == 1);
    lu.store->release();
    BOOST_TEST(good(*c));
    BOOST_TEST(good(*lu.on(lu.a, kLoad)));
    // IMMED=1: GOOD at once, the medium already out, the flush still going.
    auto immed = run(lu.dev, lu.a, {0x1b, 1, 0, 0, 0x02, 0}, &completed);
    BOOST_TEST(completed);
    BOOST_TEST(good(*immed));
    expect_sense(*lu.on(lu.a, kTur), SenseKey::NotReady, asc::MediumNotPresent);
    BOOST_TEST(lu.store->flushes == 2);
    lu.store->release();
    BOOST_TEST(good(*lu.on(lu.a, kLoad)));
    // NO_FLUSH=1: nothing to wait for.
    BOOST_TEST(good(*lu.on(lu.a, {0x1b, 0, 0, 0, 0x06, 0})));
    BOOST_TEST(lu.store->flushes == 2);
}

BOOST_AUTO_TEST_CASE(a_command_keeps_the_medium_it_started_with) {
    handlers::VdiskConfig c;
    c.handler = "vcdrom";
    c.name = "cd";
    c.filename = "/a.iso";
    c.read_only = true;
    c.blocksize = 2048;
    auto first = std::make_shared<MemoryStore>(1u << 20);
    first->data[0] = std::byte{0xaa};
    auto dev = std::make_shared<handlers::Vdisk>(c, first);
    auto n = nexus(1);
    run(dev, n, kTur);
    first->hold = true;
    bool completed = true;
    auto r = run(dev, n, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, &completed);
    BOOST_TEST(!completed);
    BOOST_TEST(dev->change_medium(std::make_shared<MemoryStore>(2u << 20), "/b.iso").empty());
    first->release();  // the old medium ends the read it took
    BOOST_TEST(good(*r));
    BOOST_TEST(static_cast<int>(ld8(*r->data_in, 0)) == 0xaa);
    BOOST_TEST(dev->num_blocks() == (2u << 20) / 2048);
}

BOOST_AUTO_TEST_CASE(vcdrom_medium_changes_through_the_filename_attribute) {
    // The management layer opens the new medium; the device only takes it.
    class Isos final : public mgmt::StoreFactory {
    public:
        std::shared_ptr<BlockStore> open(const handlers::VdiskConfig& cfg, std::string& err) override {
            if (cfg.filename.find("missing") != std::string::npos) {
                err = cfg.filename + ": No such file or directory";
                return nullptr;
            }
            opened.push_back(cfg);
            return std::make_shared<MemoryStore>(cfg.filename == "/big.iso" ? 4u << 20 : 2u << 20);
        }
        std::vector<handlers::VdiskConfig> opened;
    };
    testing::FixedRandom rnd;
    iscsi::IscsiDriver driver{rnd};
    Isos isos;
    mgmt::Scst scst{driver, isos};
    mgmt::MgmtTree tree{scst, 2};
    BOOST_TEST(tree.write("handlers/vcdrom/mgmt", "add_device cdrom").empty());
    auto dev = scst.device("cdrom");
    BOOST_REQUIRE(dev);
    auto a = nexus(1), b = nexus(2);
    run(dev, a, kRequestSense);  // each nexus takes its power-on unit attention
    run(dev, b, kRequestSense);
    expect_sense(*run(dev, a, kTur), SenseKey::NotReady, asc::MediumNotPresent);  // no medium yet

    // echo /small.iso >/sys/kernel/scst_tgt/devices/cdrom/filename
    BOOST_TEST(tree.write("devices/cdrom/filename", "/small.iso\n").empty());
    BOOST_TEST(tree.cat("devices/cdrom/filename").value == "/small.iso\n");
    BOOST_REQUIRE(isos.opened.size() == 1u);
    BOOST_TEST(isos.opened[0].read_only);
    BOOST_TEST(isos.opened[0].blocksize == 2048u);
    for (const auto& n : {a, b}) {
        expect_sense(*run(dev, n, kTur), SenseKey::UnitAttention, asc::NotReadyToReadyChange);
        BOOST_TEST(good(*run(dev, n, kTur)));
    }
    auto cap = run(dev, a, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    BOOST_TEST(ld32(*cap->data_in, 0) == (2u << 20) / 2048 - 1);

    // Through the handler's link, as SCST's README writes it.
    BOOST_TEST(tree.write("/sys/kernel/scst_tgt/handlers/vcdrom/cdrom/filename", "/big.iso").empty());
    for (const auto& n : {a, b}) expect_sense(*run(dev, n, kTur), SenseKey::UnitAttention, asc::NotReadyToReadyChange);
    BOOST_TEST(ld32(*run(dev, a, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0})->data_in, 0) == (4u << 20) / 2048 - 1);

    // Refused: a file that is not there, a relative path, and any change while a nexus
    // prevents medium removal (SCST's vcdrom_change: EBUSY). The medium stays.
    BOOST_TEST(!tree.write("devices/cdrom/filename", "/missing.iso").empty());
    BOOST_TEST(!tree.write("devices/cdrom/filename", "relative.iso").empty());
    BOOST_TEST(good(*run(dev, b, kPrevent)));
    BOOST_TEST(tree.write("devices/cdrom/filename", "").find("prevented") != std::string::npos);
    BOOST_TEST(tree.cat("devices/cdrom/filename").value == "/big.iso\n");
    BOOST_TEST(good(*run(dev, a, kTur)));
    BOOST_TEST(good(*run(dev, b, kAllow)));

    // An empty filename ejects: NOT READY, and no unit attention.
    BOOST_TEST(tree.write("devices/cdrom/filename", "").empty());
    BOOST_TEST(tree.cat("devices/cdrom/filename").value == "\n");
    expect_sense(*run(dev, b, kTur), SenseKey::NotReady, asc::MediumNotPresent);

    // A disk's filename stays fixed, as in SCST.
    BOOST_TEST(tree.write("handlers/vdisk_fileio/mgmt", "add_device disk1 filename=/disk1; removable=1").empty());
    BOOST_TEST(!tree.write("devices/disk1/filename", "/other").empty());
}

BOOST_AUTO_TEST_SUITE_END()
