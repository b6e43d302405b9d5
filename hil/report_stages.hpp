// `iscsilab report`: runs the stages (scenario suites with the wire checker, the peer
// suite with its capture checked, unit tests, coverage from a coverage build), or takes
// the JSON results of earlier runs (--from), and hands them to the report writer
// (reports/report), which writes index.html, report.md, junit.xml and results.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iscsilab::hil {

struct ReportOptions {
    std::vector<std::string> from;          // results files or folders; no stages run then
    std::string out = "reports/out";
    std::string catalogue = "reports/catalogue";
    std::vector<std::string> suites = {"scenarios/smoke", "scenarios/faults", "scenarios/scsi"};
    std::uint64_t seed = 1;
    std::uint64_t swarm_runs = 1000;        // swarm runs over the default mix after the suites (0: none)
    unsigned shard_index = 0, shard_count = 1, jobs = 2;
    bool peer = true;
    std::string peer_tests = "ALL";
    std::string unit_tests;                 // folder of Boost.Test binaries (test_*)
    std::string coverage_build;             // a build made with -DISCSILAB_COVERAGE=ON
    std::string source_root = ".";
    bool all_pcaps = false;                 // keep every pcap, not only those of failures
};

int report_main(const ReportOptions& opt);

}  // namespace iscsilab::hil
