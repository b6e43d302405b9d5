// `iscsilab run`: runs scenario files and folders in simulated time, with a progress line
// per scenario, JUnit XML, pcaps, shards and parallel jobs, and one summary line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iscsilab::hil {

struct RunOptions {
    std::vector<std::string> paths;
    std::uint64_t seed = 1;
    unsigned repeat = 1;
    unsigned shard_index = 0, shard_count = 1;
    std::string junit;
    std::string pcap_dir;
    std::string results;         // JSON results for `iscsilab report` (reports/README.md)
    bool pcap_failed_only = false;   // keep the pcaps of failed runs only (a replay remakes any other)
    unsigned jobs = 1;
    bool quiet = false;
};

int run_scenarios(const RunOptions& opt);

}  // namespace iscsilab::hil
