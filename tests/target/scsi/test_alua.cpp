#define BOOST_TEST_MODULE alua
#include <boost/test/unit_test.hpp>

#include "support/scsi_checks.hpp"

#include "support/harness.hpp"
#include "target/bytes.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/scsi/alua.hpp"
#include "target/scsi/midlevel.hpp"

using namespace iscsilab;
using namespace iscsilab::scsi;
using iscsilab::testing::MemoryStore;

namespace {

constexpr const char* kTargetA = "iqn.2026-11.org.iscsilab:a";
constexpr const char* kTargetB = "iqn.2026-11.org.iscsilab:b";

// One disk in a device group with two target groups: tg_a (target A, port 1) and
// tg_b (target B, port 2). Nexus 1 comes through A, nexus 2 through B.
struct Rig {
    std::shared_ptr<handlers::Vdisk> dev;
    std::shared_ptr<DeviceGroup> dg = std::make_shared<DeviceGroup>("dg");
    std::shared_ptr<Nexus> via_a = std::make_shared<Nexus>(), via_b = std::make_shared<Nexus>();
    Rig() {
        handlers::VdiskConfig c;
        c.name = "d0";
        c.filename = "/mem";
        dev = std::make_shared<handlers::Vdisk>(c, std::make_shared<MemoryStore>(1u << 20));
        BOOST_REQUIRE(dg->add_device(dev).empty());
        BOOST_REQUIRE(dg->create_target_group("tg_a").empty());
        BOOST_REQUIRE(dg->create_target_group("tg_b").empty());
        BOOST_REQUIRE(dg->set_group_id("tg_a", 10).empty());
        BOOST_REQUIRE(dg->set_group_id("tg_b", 20).empty());
        BOOST_REQUIRE(dg->add_target("tg_a", kTargetA, 1).empty());
        BOOST_REQUIRE(dg->add_target("tg_b", kTargetB, 2).empty());
        via_a->id = 1;
        via_a->target_name = kTargetA;
        via_a->relative_target_port = 1;
        via_b->id = 2;
        via_b->target_name = kTargetB;
        via_b->relative_target_port = 2;
        run(via_a, {0x00, 0, 0, 0, 0, 0});  // the power-on unit attentions
        run(via_b, {0x00, 0, 0, 0, 0, 0});
    }
    std::shared_ptr<Command> run(const std::shared_ptr<Nexus>& n, std::initializer_list<int> cdb, Bytes out = {}) {
        auto c = std::make_shared<Command>();
        int i = 0;
        for (int b : cdb) c->cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        c->data_out = std::move(out);
        c->nexus = n;
        bool done = false;
        scsi::submit(dev, c, {}, [&] { done = true; });
        BOOST_REQUIRE(done);
        return c;
    }
    std::shared_ptr<Command> rtpg(const std::shared_ptr<Nexus>& n, int format = 0) {
        return run(n, {0xa3, 0x0a | (format << 5), 0, 0, 0, 0, 0, 0, 1, 0, 0, 0});
    }
    std::shared_ptr<Command> stpg(const std::shared_ptr<Nexus>& n, std::vector<std::pair<int, int>> states) {
        Bytes p(4);
        for (auto [state, id] : states) {
            Bytes d(4);
            st8(d, 0, static_cast<std::uint8_t>(state));
            st16(d, 2, static_cast<std::uint16_t>(id));
            p.insert(p.end(), d.begin(), d.end());
        }
        const auto len = static_cast<int>(p.size());
        return run(n, {0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, len, 0, 0}, p);
    }
};

using iscsilab::testing::expect_sense;

}  // namespace

BOOST_AUTO_TEST_SUITE(alua_suite)

BOOST_AUTO_TEST_CASE(inquiry_reports_tpgs_only_in_a_device_group) {
    Rig r;
    auto in = r.run(r.via_a, {0x12, 0, 0, 0, 96, 0});
    BOOST_REQUIRE(in->data_in);
    BOOST_TEST((ld8(*in->data_in, 5) & 0x30) == 0x30);
    BOOST_REQUIRE(r.dg->del_device("d0").empty());
    in = r.run(r.via_a, {0x12, 0, 0, 0, 96, 0});
    BOOST_TEST((ld8(*in->data_in, 5) & 0x30) == 0);
}

BOOST_AUTO_TEST_CASE(device_identification_names_the_port_and_its_group) {
    Rig r;
    auto in = r.run(r.via_b, {0x12, 0x01, 0x83, 1, 0, 0});
    BOOST_REQUIRE(in->data_in);
    const Bytes d = in->data_in->to_vector();
    std::optional<std::uint16_t> rel, tpg;
    for (std::size_t off = 4; off + 4 <= d.size();) {
        const std::size_t len = ld8(d, off + 3);
        const std::uint8_t type = ld8(d, off + 1) & 0x0f;
        if (type == 4) rel = ld16(d, off + 6);
        if (type == 5) tpg = ld16(d, off + 6);
        off += 4 + len;
    }
    BOOST_TEST(rel.value_or(0) == 2);
    BOOST_TEST(tpg.value_or(0) == 20);
}

BOOST_AUTO_TEST_CASE(report_target_port_groups_lists_states_and_ports) {
    Rig r;
    BOOST_REQUIRE(r.dg->set_state("tg_b", AluaState::Standby).empty());
    BOOST_REQUIRE(r.dg->set_preferred("tg_a", true).empty());
    r.run(r.via_a, {0x00, 0, 0, 0, 0, 0});  // the state change's unit attention
    auto c = r.rtpg(r.via_a);
    BOOST_REQUIRE(static_cast<int>(c->status) == 0);
    const Bytes d = c->data_in->to_vector();
    BOOST_TEST(ld32(d, 0) == d.size() - 4);
    BOOST_REQUIRE(d.size() == 4 + 2 * 12u);
    BOOST_TEST(ld8(d, 4) == 0x80);          // tg_a: PREF, active/optimized
    BOOST_TEST(ld16(d, 6) == 10);
    BOOST_TEST(ld8(d, 11) == 1);            // one port
    BOOST_TEST(ld16(d, 14) == 1);           // relative target port 1
    BOOST_TEST(ld8(d, 16) == 0x02);         // tg_b: standby
    BOOST_TEST(ld16(d, 18) == 20);
    BOOST_TEST(ld16(d, 26) == 2);
    // The extended header (PARAMETER DATA FORMAT 001b) moves the descriptors by 4.
    auto e = r.rtpg(r.via_a, 1);
    BOOST_TEST(ld8(*e->data_in, 4) == 0x10);
    BOOST_TEST(e->data_in->size() == d.size() + 4);
    expect_sense(*r.rtpg(r.via_a, 3), SenseKey::IllegalRequest, asc::InvalidFieldInCdb);
}

BOOST_AUTO_TEST_CASE(standby_port_refuses_media_access_but_answers_inquiry) {
    Rig r;
    BOOST_REQUIRE(r.dg->set_state("tg_b", AluaState::Standby).empty());
    r.run(r.via_b, {0x03, 0, 0, 0, 18, 0});  // REQUEST SENSE takes the unit attention
    expect_sense(*r.run(r.via_b, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}), SenseKey::NotReady,
                 asc::LogicalUnitNotAccessibleStandby);
    BOOST_TEST(static_cast<int>(r.run(r.via_b, {0x12, 0, 0, 0, 36, 0})->status) == 0);
    // The other port is still active.
    r.run(r.via_a, {0x00, 0, 0, 0, 0, 0});
    BOOST_TEST(static_cast<int>(r.run(r.via_a, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0})->status) == 0);
}

BOOST_AUTO_TEST_CASE(each_inaccessible_state_has_its_own_sense) {
    const std::pair<AluaState, Asc> cases[] = {
        {AluaState::Unavailable, asc::LogicalUnitNotAccessibleUnavailable},
        {AluaState::Offline, asc::LogicalUnitNotAccessibleOffline},
        {AluaState::Transitioning, asc::LogicalUnitNotAccessibleTransitioning},
    };
    for (auto [state, code] : cases) {
        Rig r;
        BOOST_REQUIRE(r.dg->set_state("tg_a", state).empty());
        r.run(r.via_a, {0x03, 0, 0, 0, 18, 0});
        expect_sense(*r.run(r.via_a, {0x00, 0, 0, 0, 0, 0}), SenseKey::NotReady, code);
        BOOST_TEST(static_cast<int>(r.run(r.via_a, {0x12, 0, 0, 0, 36, 0})->status) == 0);
    }
}

BOOST_AUTO_TEST_CASE(set_target_port_groups_changes_state_and_tells_the_others) {
    Rig r;
    auto c = r.stpg(r.via_a, {{0x01, 10}, {0x02, 20}});
    BOOST_REQUIRE(static_cast<int>(c->status) == 0);
    auto groups = r.dg->target_groups();
    BOOST_TEST(static_cast<int>(groups[0].state) == static_cast<int>(AluaState::ActiveNonOptimized));
    BOOST_TEST(static_cast<int>(groups[1].state) == static_cast<int>(AluaState::Standby));
    // The nexus that asked gets no unit attention; the other one does.
    BOOST_TEST(static_cast<int>(r.run(r.via_a, {0x00, 0, 0, 0, 0, 0})->status) == 0);
    expect_sense(*r.run(r.via_b, {0x00, 0, 0, 0, 0, 0}), SenseKey::UnitAttention, asc::AsymmetricAccessStateChanged);
}

BOOST_AUTO_TEST_CASE(set_target_port_groups_is_all_or_nothing) {
    Rig r;
    // The second descriptor names no group: nothing changes.
    auto c = r.stpg(r.via_a, {{0x02, 10}, {0x02, 99}});
    expect_sense(*c, SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
    BOOST_TEST(static_cast<int>(r.dg->target_groups()[0].state) == static_cast<int>(AluaState::ActiveOptimized));
    // Transitioning cannot be asked for.
    expect_sense(*r.stpg(r.via_a, {{0x0f, 10}}), SenseKey::IllegalRequest, asc::InvalidFieldInParameterList);
}

BOOST_AUTO_TEST_CASE(a_port_is_in_one_target_group_and_ids_are_unique) {
    Rig r;
    BOOST_TEST(!r.dg->add_target("tg_b", kTargetA, 3).empty());
    BOOST_TEST(!r.dg->set_group_id("tg_b", 10).empty());
    BOOST_TEST(!r.dg->set_group_id("tg_b", 0).empty());
    BOOST_TEST(!r.dg->add_device(r.dev).empty());
    BOOST_TEST(parse_alua_state("nonoptimized").has_value());
    BOOST_TEST(!parse_alua_state("sideways").has_value());
    for (auto s : {AluaState::ActiveOptimized, AluaState::ActiveNonOptimized, AluaState::Standby,
                   AluaState::Unavailable, AluaState::Offline, AluaState::Transitioning})
        BOOST_TEST((parse_alua_state(scst_name(s)) == std::optional(s)));
}

BOOST_AUTO_TEST_SUITE_END()
