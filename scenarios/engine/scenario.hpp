// A scenario: the target's configuration, links and disks, initiators with their login
// keys and workloads, the expectations, and the RFC clauses it exercises
// (scenarios/README.md documents the YAML). run_scenario() builds the simulated world on
// the real target core and runs it from a seed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fabric/sim/link.hpp"
#include "faults/plan.hpp"
#include "model/disk.hpp"
#include "model/initiator.hpp"

namespace iscsilab::scenario {

struct InitiatorSpec {
    model::InitiatorConfig config;
    model::Workload workload;
    std::uint32_t count = 1;          // copies, each with its own name, ISID and region slice
    // The copies work the same region, not a slice each (a COMPARE AND WRITE race): one
    // SharedBlocks oracle judges what they read, write and compare there.
    bool shared = false;
};

struct Expect {
    std::map<std::string, std::string> negotiated;  // as the first initiator saw them
    std::optional<std::uint64_t> min_r2ts, max_r2ts, min_data_in, min_ops, min_aborted;
    // Under faults: session recoveries, commands they ended, MEDIUM ERROR and other
    // device failures the initiators saw.
    std::optional<std::uint64_t> min_recoveries, max_recoveries, min_lost, min_medium_errors, min_device_errors;
    // Under power loss: blocks that read back older than acknowledged (allowed only back
    // to the last durable version), and SYNCHRONIZE CACHE commands completed.
    std::optional<std::uint64_t> min_reverted, max_reverted, min_syncs;
    std::optional<std::uint64_t> min_timed_out;   // commands chased by ABORT TASK after command_timeout
    std::optional<std::uint64_t> min_relogins;    // logouts during I/O (fault plan) and new logins
    // Data-verification failures the run must see (a misdirected write or read caught);
    // with it set they are counted, not failures.
    std::optional<std::uint64_t> min_data_errors;
    // UNMAP and COMPARE AND WRITE completed GOOD, COMPARE AND WRITEs that miscompared,
    // commands refused with RESERVATION CONFLICT.
    std::optional<std::uint64_t> min_unmaps, min_caws, min_miscompares, min_reservation_conflicts;
    // At least this many of each named fault effect or RFC-checked answer (the fault
    // plan's and the initiators' counts: pdus_cut, bhs_closed, nop_pings_echoed, ...).
    std::map<std::string, std::uint64_t> seen;
    std::vector<std::string> discovered;
};

struct Scenario {
    std::string file, name, description;
    std::vector<std::string> requirements;   // catalogue ids (reports/catalogue)
    Nanos duration{std::chrono::seconds(60)};
    std::string target_config;        // scst.conf text
    std::vector<std::pair<std::string, std::string>> mgmt;  // management-tree writes after it
    std::map<std::string, model::DiskConfig> disks;
    sim::LinkConfig link;
    std::vector<InitiatorSpec> initiators;
    faults::Plan faults;
    Expect expect;
};

// Parses a scenario file. Returns an error text (file: what) or empty.
std::string load_scenario(const std::string& path, Scenario& out);
// The same from YAML text; `name` stands for the file in errors and in out.file.
std::string load_scenario_text(const std::string& text, const std::string& name, Scenario& out);
// The YAML of a scenario, in the format load_scenario reads: loading it gives the same
// run (every time in nanoseconds, every size in bytes, so nothing is rounded).
std::string write_scenario(const Scenario& s);

struct RunResult {
    bool passed = false;
    std::vector<std::string> failures;
    std::string digest;               // XXH3-128 of the ordered event trace (hex)
    double sim_seconds = 0;
    std::uint64_t events = 0, pdus = 0, target_pdus = 0, initiator_pdus = 0, segments = 0;
    std::uint64_t ops = 0, bytes = 0;
    std::uint64_t faults = 0, recoveries = 0;
    std::uint64_t wire_pdus = 0, wire_violations = 0;   // judged by the wire checker
    struct WireTally {
        std::string id;
        std::uint64_t exercised = 0, violated = 0;
    };
    std::vector<WireTally> wire_tally;                   // rules the run exercised, by catalogue id
};

// Runs one scenario from a seed. pcap_path: empty for none.
RunResult run_scenario(const Scenario& s, std::uint64_t seed, const std::string& pcap_path);

// "64MiB", "1GiB", "4096" -> bytes; "10Gbps", "2GB/s" -> bits per second; "20us", "1ms",
// "10s" -> nanoseconds.
std::optional<std::uint64_t> parse_size(const std::string& s);
std::optional<double> parse_bandwidth_bps(const std::string& s);
std::optional<Nanos> parse_duration(const std::string& s);

}  // namespace iscsilab::scenario
