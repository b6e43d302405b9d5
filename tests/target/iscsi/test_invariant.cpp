#define BOOST_TEST_MODULE invariant
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"
#include "target/bytes.hpp"
#include "target/iscsi/driver.hpp"
#include "target/iscsi/invariant.hpp"
#include "target/mgmt/scst.hpp"
#include "target/scsi/device.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;
using namespace iscsilab::testing;

namespace {

const char* kIqn = "iqn.2026-11.org.example:disk";

// A block store that, when told to, completes one request twice: the kind of fault a
// runtime's completion path can have (a completion handled on two paths). The core must
// notice that a task ended twice, and close only the connection it belongs to.
class TwiceStore final : public BlockStore {
public:
    explicit TwiceStore(std::uint64_t size) : mem(size) {}
    std::uint64_t size_bytes() const override { return mem.size_bytes(); }
    void submit(const BlockRequest& r, std::function<void(BlockStatus)> done) override {
        const bool again = twice_next;
        twice_next = false;
        mem.submit(r, done);
        if (again) done(BlockStatus::ok);
    }
    MemoryStore mem;
    bool twice_next = false;
};

class Stores final : public mgmt::StoreFactory {
public:
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig&, std::string&) override {
        last = std::make_shared<TwiceStore>(16u << 20);
        return last;
    }
    std::shared_ptr<TwiceStore> last;
};

// A device that answers CHECK CONDITION with no sense data: a SCSI layer that broke its
// own contract (SAM-5 §5.3).
class SenselessDevice final : public scsi::Device {
public:
    SenselessDevice() : Device("senseless", "test") {}
    std::uint8_t peripheral_type() const override { return 0; }
    void execute(std::shared_ptr<scsi::Command> cmd, const scsi::AccessContext&, scsi::Completion done) override {
        cmd->status = scsi::Status::CheckCondition;
        done();
    }
    std::vector<std::string> attribute_names() const override { return {}; }
    std::optional<std::string> get_attribute(const std::string&) const override { return std::nullopt; }
    std::string set_attribute(const std::string&, const std::string&) override { return "read-only"; }
};

// One initiator: its stream and sequence numbers.
struct Host {
    std::shared_ptr<MemoryStream> s;
    std::uint32_t cmdsn = 1, itt = 1, expstatsn = 0;
};

struct Rig {
    ManualLoop loop;
    FixedRandom rnd;
    IscsiDriver driver{rnd};
    Stores stores;
    mgmt::Scst scst{driver, stores};
    std::vector<std::string> reported, logged;

    explicit Rig(bool handler = true) {
        const std::string conf = std::string("HANDLER vdisk_fileio {\n DEVICE d0 {\n filename /mem\n }\n}\n") +
                                 "TARGET_DRIVER iscsi {\n enabled 1\n TARGET " + kIqn + " {\n LUN 0 d0\n enabled 1\n }\n}\n";
        auto p = mgmt::parse_scst_conf(conf, "test.conf");
        BOOST_REQUIRE(!p.error);
        auto e = scst.apply(p.blocks, "test.conf");
        BOOST_REQUIRE_MESSAGE(!e, (e ? e->text() : ""));
        driver.set_log([this](std::string_view l) { logged.emplace_back(l); });
        if (handler) driver.set_invariant_handler([this](std::string_view l) { reported.emplace_back(l); });
    }

    std::vector<Pdu> exchange(Host& h, const Bytes& wire) {
        h.s->inject(wire);
        loop.run();
        auto out = drain(*h.s);
        for (const auto& p : out) {
            // Follow StatSN as an initiator does (RFC 3720 §3.2.2.2).
            const auto op = p.opcode();
            const bool status = op == Opcode::ScsiResponse || op == Opcode::LoginResponse ||
                                (op == Opcode::DataIn && DataInPdu::decode(p.bhs).status_present);
            if (status) h.expstatsn = ld32(p.bhs, 24) + 1;
        }
        return out;
    }

    // A host logged in with its own ISID, past the power-on unit attention.
    Host login(std::uint8_t isid_last) {
        Host h;
        h.s = std::make_shared<MemoryStream>(loop);
        driver.accept(h.s, loop, loop);
        loop.run();
        std::vector<KeyValue> keys = {{"InitiatorName", "iqn.2026-11.org.example:host"}, {"TargetName", kIqn},
                                      {"SessionType", "Normal"}, {"InitialR2T", "Yes"}, {"ImmediateData", "No"},
                                      {"MaxRecvDataSegmentLength", "8192"}, {"HeaderDigest", "None"},
                                      {"DataDigest", "None"}};
        LoginRequestPdu r;
        r.csg = 1;
        r.nsg = 3;
        r.transit = true;
        r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{isid_last}};
        r.itt = h.itt++;
        r.cmdsn = h.cmdsn;
        Bytes data = text_bytes(keys);
        auto out = exchange(h, frame(r.encode(static_cast<std::uint32_t>(data.size())), data));
        BOOST_REQUIRE(out.size() == 1u);
        BOOST_REQUIRE(LoginResponsePdu::decode(out[0].bhs).status_class == 0);
        auto tur = exchange(h, command(h, 0, {0x00, 0, 0, 0, 0, 0}, 0));
        BOOST_REQUIRE(tur.size() == 1u);  // UNIT ATTENTION, POWER ON OCCURRED
        return h;
    }

    Bytes command(Host& h, std::uint32_t lun, std::initializer_list<int> cdb, std::uint32_t edtl,
                  std::uint32_t* itt = nullptr, std::uint32_t* cmdsn = nullptr) {
        ScsiCommandPdu c;
        c.read = edtl > 0;
        c.itt = h.itt++;
        c.cmdsn = h.cmdsn++;
        if (itt) *itt = c.itt;
        if (cmdsn) *cmdsn = c.cmdsn;
        c.expstatsn = h.expstatsn;
        c.lun = scsi::encode_lun(lun);
        c.expected_data_transfer_length = edtl;
        int i = 0;
        for (int b : cdb) c.cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        return frame(c.encode(0));
    }

    // READ(10) of one block: answered with Data-In and status.
    bool read_ok(Host& h) {
        auto out = exchange(h, command(h, 0, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512));
        return out.size() == 1u && out[0].opcode() == Opcode::DataIn && DataInPdu::decode(out[0].bhs).status_present &&
               DataInPdu::decode(out[0].bhs).status == 0;
    }
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string hex_itt(std::uint32_t itt) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%08x", itt);
    return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(invariant_suite)

BOOST_AUTO_TEST_CASE(describe_names_connection_task_and_what_broke) {
    InvariantSite s;
    s.connection = 7;
    s.peer = "192.0.2.10:40000";
    s.cid = 3;
    s.isid = std::array<std::byte, 6>{std::byte{0x80}, std::byte{0x12}, std::byte{0x34}, std::byte{0}, std::byte{0},
                                      std::byte{1}};
    s.tsih = 9;
    s.itt = 0x2a;
    s.cmdsn = 17;
    BOOST_TEST(describe(s, "what broke") ==
               "connection 7 (192.0.2.10:40000, CID 3, ISID 0x801234000001, TSIH 9): ITT 0x0000002a, CmdSN 17: what broke");
    InvariantSite bare;
    bare.connection = 1;
    bare.peer = "p";
    BOOST_TEST(describe(bare, "x") == "connection 1 (p, CID 0): ITT -, CmdSN -: x");
    // The text is built only when asked for.
    int built = 0;
    auto lazy = [&] {
        ++built;
        return std::string("n");
    };
    BOOST_TEST(invariant_text(lazy) == "n");
    BOOST_TEST(built == 1);
}

BOOST_AUTO_TEST_CASE(a_task_ended_twice_closes_only_its_connection) {
    Rig rig;
    Host a = rig.login(1);
    Host b = rig.login(2);
    BOOST_REQUIRE(rig.read_ok(a));
    BOOST_REQUIRE(rig.read_ok(b));
    BOOST_TEST(rig.reported.empty());

    // The store completes A's next read twice.
    rig.stores.last->twice_next = true;
    std::uint32_t itt = 0, cmdsn = 0;
    auto out = rig.exchange(a, rig.command(a, 0, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, &itt, &cmdsn));
    // The first completion answered the read; the second broke "a task ends once".
    BOOST_TEST(out.size() == 1u);
    BOOST_REQUIRE(rig.reported.size() == 1u);
    const std::string& line = rig.reported[0];
    BOOST_TEST_MESSAGE(line);
    BOOST_TEST(contains(line, "connection "));
    BOOST_TEST(contains(line, "10.0.0.2:50000"));
    BOOST_TEST(contains(line, "CID 0"));
    BOOST_TEST(contains(line, "ISID 0x800000000001"));
    BOOST_TEST(contains(line, "TSIH "));
    BOOST_TEST(contains(line, "ITT " + hex_itt(itt)));
    BOOST_TEST(contains(line, "CmdSN " + std::to_string(cmdsn)));
    BOOST_TEST(contains(line, "a task ends once"));
    // It went to the log too.
    BOOST_TEST(std::any_of(rig.logged.begin(), rig.logged.end(),
                           [&](const std::string& l) { return contains(l, "invariant broken: " + line); }));

    // A's connection is closed; B's is not, and still serves.
    BOOST_TEST(a.s->closed);
    BOOST_TEST(a.s->close_reason == "invariant broken");
    BOOST_TEST(!b.s->closed);
    BOOST_TEST(rig.driver.connection_count() == 1u);
    BOOST_TEST(rig.driver.sessions().size() == 1u);
    BOOST_TEST(rig.read_ok(b));
    BOOST_TEST(rig.reported.size() == 1u);
    // Nothing more comes out of A.
    BOOST_TEST(rig.exchange(a, rig.command(a, 0, {0x00, 0, 0, 0, 0, 0}, 0)).empty());
}

BOOST_AUTO_TEST_CASE(without_a_handler_the_invariant_is_logged_and_its_connection_closed) {
    // HIL: no handler; the log says it, the connection closes, the process goes on.
    Rig rig(false);
    Host a = rig.login(1);
    Host b = rig.login(2);
    rig.stores.last->twice_next = true;
    rig.exchange(a, rig.command(a, 0, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512));
    BOOST_TEST(std::count_if(rig.logged.begin(), rig.logged.end(),
                             [](const std::string& l) { return contains(l, "invariant broken: connection "); }) == 1);
    BOOST_TEST(a.s->closed);
    BOOST_TEST(!b.s->closed);
    BOOST_TEST(rig.read_ok(b));
}

BOOST_AUTO_TEST_CASE(check_condition_without_sense_is_a_broken_invariant) {
    Rig rig;
    auto node = rig.driver.find_target(kIqn);
    BOOST_REQUIRE(node);
    BOOST_REQUIRE(node->luns().add_lun("", 1, std::make_shared<SenselessDevice>(), false).empty());
    Host a = rig.login(1);
    Host b = rig.login(2);
    std::uint32_t itt = 0, cmdsn = 0;
    // INQUIRY: the mid-level's power-on unit attention does not stop it (SPC-4 §5.14).
    auto out = rig.exchange(a, rig.command(a, 1, {0x12, 0, 0, 0, 0, 0}, 0, &itt, &cmdsn));
    BOOST_TEST(out.empty());  // no response built from an inconsistent result
    BOOST_REQUIRE(rig.reported.size() == 1u);
    BOOST_TEST_MESSAGE(rig.reported[0]);
    BOOST_TEST(contains(rig.reported[0], "ITT " + hex_itt(itt) + ", CmdSN " + std::to_string(cmdsn)));
    BOOST_TEST(contains(rig.reported[0], "sense data"));
    BOOST_TEST(a.s->closed);
    BOOST_TEST(!b.s->closed);
    BOOST_TEST(rig.read_ok(b));
}

BOOST_AUTO_TEST_SUITE_END()
