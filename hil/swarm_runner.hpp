// `iscsilab swarm`: many runs, each drawing every knob and its faults from its own seed
// (scenarios/engine/swarm.hpp), over worker processes, with progress, a summary, one
// replay command per failure, and the shrinker on the first failure of each kind.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace iscsilab::hil {

struct SwarmOptions {
    std::vector<std::string> bases;   // scenario files (none: the default mix)
    std::uint64_t runs = 100;
    std::uint64_t seed = 1;           // run k has seed seed + k
    unsigned jobs = 1;
    unsigned shard_index = 0, shard_count = 1;
    double minutes = 0;               // stop starting runs after this long (0: no limit)
    bool verbose = false;             // one line per run, in `iscsilab run`'s form
    bool fail_fast = false;
    bool draw_only = false;           // print each run's drawn scenario, run nothing           // stop at the first failure (the rest: not run)
    bool shrink = true;
    unsigned shrink_runs = 400;       // runs a shrink may take
    std::string out_dir = "swarm-out";  // drawn and shrunk scenarios of failing runs
    std::string results;              // JSON results (reports/README.md)
    std::vector<std::string> defects; // armed in this build (test builds only); for replay lines
};

// Exit codes: 0 all passed, 1 a check failed, 2 bad input, 3 a liveness failure only.
int run_swarm(const SwarmOptions& opt);

// --shard from the environment of a job array: Slurm's SLURM_ARRAY_TASK_ID (less
// SLURM_ARRAY_TASK_MIN) of SLURM_ARRAY_TASK_COUNT, or a Kubernetes Indexed Job's
// JOB_COMPLETION_INDEX of `count` (from --shards or ISCSILAB_SHARDS). False if neither.
bool shard_from_environment(unsigned count, unsigned& index, unsigned& total, std::string& error);

}  // namespace iscsilab::hil
