// The conformance report: the catalogue crossed with every observation in the results
// (scenario runs and their wire tallies, the peer suite and the checker over its
// capture, unit tests), plus coverage. It reads results and writes files; it runs
// nothing. Writes index.html (self-contained), report.md, junit.xml and results.json.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reports/catalogue/catalogue.hpp"
#include "reports/report/results.hpp"

namespace iscsilab::report {

enum class Status { violated, observed, never_observed };
const char* to_string(Status s);

struct Observation {
    std::string kind;       // wire | scenario | peer | unit
    std::string source;     // "smoke/digests seed 1", "peer suite capture", "Inquiry.Standard", "suite/case"
    std::uint64_t exercised = 0;
    bool violated = false;
    std::string detail;     // replay command, outcome, failure
    std::string link;       // a pcap, relative to the report
};

struct RequirementResult {
    const catalogue::Requirement* requirement = nullptr;
    Status status = Status::never_observed;
    std::vector<Observation> observations;
    std::string planned;    // why it is not observed yet (planned: / none:)
};

struct Counts {
    std::size_t total = 0, observed = 0, violated = 0, never = 0;
};

struct Summary {
    Counts all, must;                       // must: MUST, MUST NOT, SHALL, SHALL NOT, REQUIRED
    std::map<std::string, Counts> by_section;   // "3", "5", ..., "12"
    std::map<std::string, Counts> by_level;
    std::size_t scenario_runs = 0, scenario_passed = 0, scenario_failed = 0;
    std::size_t swarm_runs = 0, swarm_passed = 0, swarm_failed = 0;   // iscsilab swarm, every shard
    std::size_t peer_total = 0, peer_passed = 0, peer_skipped = 0, peer_failed = 0;
    std::size_t unit_total = 0, unit_passed = 0, unit_failed = 0;
    double must_share() const { return must.total ? static_cast<double>(must.observed) / static_cast<double>(must.total) : 0; }
};

struct Report {
    std::vector<RequirementResult> requirements;
    Summary summary;
};

Report build(const catalogue::Catalogue& c, const Results& r);

// Writes the four files into `dir` (created); an error text, or empty.
std::string write(const Report& rep, const Results& r, const std::string& dir);

// Text for HTML and XML: < > & " ' escaped.
std::string escape_xml(const std::string& s);

// The one-line summary every run ends with.
std::string summary_line(const Report& rep);

}  // namespace iscsilab::report
