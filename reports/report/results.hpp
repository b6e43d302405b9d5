// The results the report is made of, as JSON (schema "iscsilab-results/1", documented in
// reports/README.md): scenario runs with their wire-checker tallies, the peer suite's
// tests and the checker's tally over its capture, unit tests, and coverage. Each stage
// writes one file; files from shards and machines merge by concatenation (tallies add).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace iscsilab::report {

struct Tally {
    std::uint64_t exercised = 0, violated = 0;
};
using WireTally = std::map<std::string, Tally>;  // by catalogue id

struct ScenarioRun {
    std::string scenario, file;
    std::uint64_t seed = 0;
    bool passed = false;
    std::string digest, replay, pcap;
    double sim_seconds = 0, wall_seconds = 0;
    std::uint64_t pdus = 0;
    std::vector<std::string> failures, requirements;
    WireTally wire;
};

struct PeerTest {
    std::string name;                 // Suite.Test, as iscsi-test-cu -l names it without ALL.
    std::string outcome;              // passed | skipped | failed
    std::string reason;               // the [SKIPPED] text, or the failure lines
};

struct UnitTest {
    std::string name;                 // suite/case
    std::string outcome;              // passed | failed | skipped
};

struct CoverageFigure {
    std::uint64_t covered = 0, total = 0;
};
struct Coverage {
    std::map<std::string, std::map<std::string, CoverageFigure>> by_folder;  // folder -> lines|branches|functions
};

// A failing kind of swarm run: its first seed, how many runs failed so, and the shrunk
// reproduction where one was made.
struct SwarmFailure {
    std::uint64_t seed = 0, runs = 0;
    std::string signature, knobs, replay, scenario_file, shrunk_file;
    std::vector<std::string> failures;
    std::uint64_t shrink_steps = 0, shrink_runs = 0, shrunk_faults = 0;
    bool shrunk_replays = false;
};

// One `iscsilab swarm` invocation (one shard of it): its counts, failures and the wire
// rules its runs exercised.
struct SwarmSummary {
    std::string base, shard;
    std::uint64_t first_seed = 0, runs = 0, passed = 0, failed = 0, liveness = 0;
    double wall_seconds = 0;
    std::vector<SwarmFailure> failures;
    WireTally wire;
};

struct Results {
    std::vector<ScenarioRun> scenario_runs;
    std::vector<SwarmSummary> swarm;
    std::vector<PeerTest> peer_tests;
    WireTally peer_wire;              // the checker over the peer suite's capture
    std::string peer_capture;         // where that capture is (relative to the report)
    std::vector<UnitTest> unit_tests;
    std::optional<Coverage> coverage;
    std::vector<std::string> sources; // the files merged into these results
};

std::string to_json(const Results& r, int indent = 2);
// Reads one results file; an error text instead when it is not one.
std::optional<Results> load(const std::string& path, std::string& error);
// Adds `b` to `a` (runs, tests and sources appended; wire tallies summed; coverage: b's
// when a has none).
void merge(Results& a, const Results& b);
bool save(const Results& r, const std::string& path, std::string& error);

}  // namespace iscsilab::report
