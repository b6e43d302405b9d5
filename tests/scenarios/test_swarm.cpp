// The swarm's draws, the scenario writer and the shrinker (scenarios/engine/swarm.hpp,
// shrink.hpp, write.cpp).
#define BOOST_TEST_MODULE swarm
#include <boost/test/unit_test.hpp>

#include <set>

#include "scenarios/engine/scenario.hpp"
#include "scenarios/engine/shrink.hpp"
#include "scenarios/engine/swarm.hpp"

// libsystemc.so wants an sc_main; Boost.Test's main runs the tests.
extern "C" int sc_main(int, char**) { return 0; }

using namespace iscsilab;
using namespace iscsilab::scenario;

BOOST_AUTO_TEST_SUITE(swarm)

// A run is a function of its seed alone: the same seed draws the same scenario.
BOOST_AUTO_TEST_CASE(same_seed_same_draw) {
    for (std::uint64_t seed : {1ull, 2ull, 77ull, 123456789ull}) {
        const auto a = draw_swarm_run(nullptr, seed), b = draw_swarm_run(nullptr, seed);
        BOOST_TEST(write_scenario(a.scenario) == write_scenario(b.scenario));
        BOOST_TEST(a.knob_line() == b.knob_line());
    }
    BOOST_TEST(write_scenario(draw_swarm_run(nullptr, 1).scenario) != write_scenario(draw_swarm_run(nullptr, 2).scenario));
}

// Swarm testing: every knob varies over seeds, and most runs switch on few fault kinds.
BOOST_AUTO_TEST_CASE(knobs_and_fault_kinds_vary) {
    std::map<std::string, std::set<std::string>> seen;
    std::size_t few = 0, none = 0;
    const std::size_t runs = 400;
    for (std::uint64_t seed = 1; seed <= runs; ++seed) {
        const auto d = draw_swarm_run(nullptr, seed);
        for (const auto& [k, v] : d.knobs) seen[k].insert(v);
        std::set<faults::Kind> kinds;
        for (const auto& f : d.scenario.faults.faults) kinds.insert(f.kind);
        none += kinds.empty();
        few += kinds.size() <= 4;
    }
    for (const char* k : {"link.latency", "link.bandwidth", "link.mss", "link.window", "disk.disk0.read_latency",
                          "disk.disk0.queue_depth", "disk.disk0.write_cache", "device.blocksize", "target.QueuedCommands",
                          "target.MaxBurstLength", "target.FirstBurstLength", "target.InitialR2T", "target.ImmediateData",
                          "target.MaxRecvDataSegmentLength", "target.MaxOutstandingR2T", "initiator0.workload.block_size",
                          "initiator0.workload.queue_depth", "initiator0.count"})
        BOOST_TEST(seen[k].size() >= 2, k << " takes " << seen[k].size() << " value(s)");
    BOOST_TEST(none > 0u);
    BOOST_TEST(few > runs * 3 / 4, few << " of " << runs << " runs with at most 4 fault kinds");
}

// The SCSI scenarios' fields (unmap_pct, caw_pct, shared, the pr fault's action, keys and
// type, min_unmaps ...) are written back exactly: a swarm over them (`iscsilab swarm
// scenarios/scsi/...`) writes failing runs that replay.
BOOST_AUTO_TEST_CASE(scsi_fields_round_trip) {
    for (const char* f : {"01-pr-preempt-and-abort.yaml", "02-unmap-reads-zeros.yaml", "03-caw-race.yaml"}) {
        Scenario s;
        const std::string path = std::string(ISCSILAB_SOURCE_DIR) + "/scenarios/scsi/" + f;
        BOOST_REQUIRE_MESSAGE(load_scenario(path, s).empty(), path);
        const std::string text = write_scenario(s);
        Scenario back;
        const std::string err = load_scenario_text(text, f, back);
        BOOST_REQUIRE_MESSAGE(err.empty(), err << "\n" << text);
        back.name = s.name;
        BOOST_TEST(write_scenario(back) == text, f);
        const bool new_fields = text.find("unmap_pct") != std::string::npos || text.find("kind: pr") != std::string::npos ||
                                text.find("caw_pct") != std::string::npos;
        BOOST_TEST(new_fields, f);
    }
    Scenario pr;
    BOOST_REQUIRE(load_scenario(std::string(ISCSILAB_SOURCE_DIR) + "/scenarios/scsi/01-pr-preempt-and-abort.yaml", pr).empty());
    const auto& pa = pr.faults.faults.back();
    BOOST_TEST((pa.pr.action == model::PrAction::preempt_and_abort));
    BOOST_TEST(pa.pr.sa_key == 0xb1b1u);
    BOOST_TEST(!pa.pr_key_given);
    BOOST_TEST((pa.pr.type == model::PrType::write_exclusive_registrants_only));
}

// What the swarm writes for a failing run loads back to the very same run.
BOOST_AUTO_TEST_CASE(written_scenarios_load_back_the_same) {
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        const auto d = draw_swarm_run(nullptr, seed);
        const std::string text = write_scenario(d.scenario);
        Scenario back;
        const std::string err = load_scenario_text(text, "seed-" + std::to_string(seed) + ".yaml", back);
        BOOST_REQUIRE_MESSAGE(err.empty(), err << "\n" << text);
        back.name = d.scenario.name;
        BOOST_TEST(write_scenario(back) == text, "seed " << seed);
    }
    // And runs the same: the same digest from the drawn and the reloaded scenario.
    for (std::uint64_t seed : {3ull, 11ull}) {
        const auto d = draw_swarm_run(nullptr, seed);
        Scenario back;
        BOOST_REQUIRE(load_scenario_text(write_scenario(d.scenario), "x.yaml", back).empty());
        BOOST_TEST(run_scenario(d.scenario, seed, "").digest == run_scenario(back, seed, "").digest);
    }
}

BOOST_AUTO_TEST_CASE(signatures_drop_the_particulars) {
    RunResult a, b, c, live;
    a.failures = {"initiator 0: StatSN 7, expected 6", "fault at 1.000 ms: link reset"};
    b.failures = {"initiator 3: StatSN 19, expected 18"};
    c.failures = {"wire rule 3720-10.7.3-x broken by the target on connection 2 (a -> b), PDU #9 at 1 ms: y"};
    live.failures = {"initiator 1 did not finish in 60.000000 s: running", "target at 1 ms: z"};
    BOOST_TEST(failure_signature(a) == failure_signature(b));
    BOOST_TEST(failure_signature(a) == "StatSN #, expected #");
    BOOST_TEST(failure_signature(c) == "wire:3720-10.7.3-x:target");
    BOOST_TEST(failure_signature(live) == "liveness");
    BOOST_TEST(liveness_only(live));
    BOOST_TEST(!liveness_only(a));
    BOOST_TEST(shows_signature(b, "StatSN #, expected #"));
    BOOST_TEST(!shows_signature(c, "StatSN #, expected #"));
    RunResult ok;
    ok.passed = true;
    BOOST_TEST(failure_signature(ok).empty());
}

// A failure that no fault causes (an expectation the workload cannot meet) shrinks to no
// faults, one initiator and few operations, and the written result still fails so.
BOOST_AUTO_TEST_CASE(shrink_keeps_the_failure_and_drops_the_rest) {
    auto d = draw_swarm_run(nullptr, 5);
    Scenario s = d.scenario;
    s.expect.min_syncs = 1000000;   // never met: "expected at least # SYNCHRONIZE CACHE commands"
    for (auto& i : s.initiators) i.workload.sync_every = 0;
    const auto first = run_scenario(s, 5, "");
    BOOST_REQUIRE(!first.passed);
    const std::string sig = failure_signature(first);
    BOOST_TEST(sig.find("SYNCHRONIZE CACHE") != std::string::npos, sig);
    std::vector<std::string> steps;
    const auto r = shrink(s, 5, sig, 400, [&](const std::string& l) { steps.push_back(l); });
    BOOST_TEST(r.steps > 0u);
    BOOST_TEST(r.steps == steps.size());
    BOOST_TEST(r.after.faults == 0u);
    BOOST_TEST(r.after.initiators == 1u);
    BOOST_TEST(r.after.ops <= 2u);
    BOOST_TEST(r.after.yaml_lines < r.before.yaml_lines);
    Scenario back;
    BOOST_REQUIRE(load_scenario_text(write_scenario(r.minimal), "min.yaml", back).empty());
    const auto again = run_scenario(back, 5, "");
    BOOST_TEST(!again.passed);
    BOOST_TEST(shows_signature(again, sig));
}

// A run that passes has nothing to shrink: the shrinker hands it back untouched.
BOOST_AUTO_TEST_CASE(shrink_of_a_passing_run_changes_nothing) {
    const auto d = draw_swarm_run(nullptr, 5);
    const auto r = shrink(d.scenario, 5, "StatSN #, expected #", 50, {});
    BOOST_TEST(r.steps == 0u);
    BOOST_TEST(r.runs == 1u);
    BOOST_TEST(write_scenario(r.minimal) == write_scenario(d.scenario));
}

BOOST_AUTO_TEST_SUITE_END()
