// Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012; FoundationDB's simulation
// knobs): every run draws from its own seed not only a fault plan but every knob a run
// has: the link, the disk, the device, the target's and the initiators' login keys, how
// many initiators with what workload, and which fault kinds are on at what rate. Most
// runs switch on only a few fault kinds, so faults that mask each other are rarely
// drawn together.
//
// A run is a pure function of (base, seed): the scenario it draws, and so its outcome,
// do not depend on how many runs, jobs or shards there are.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/engine/scenario.hpp"

namespace iscsilab::scenario {

struct SwarmDraw {
    Scenario scenario;
    // What was drawn, in order, as name=value: a failing run prints them.
    std::vector<std::pair<std::string, std::string>> knobs;
    std::string knob_line() const;     // "latency=20us bandwidth=10Gbps ..."
};

// The scenario of swarm run `seed`. base: nullptr for the default mix (one vdisk_fileio
// LUN, one to four initiators); else that scenario with its knobs redrawn (its link,
// disks, target attributes through the management tree, login keys, queue depths) and
// drawn faults added to its own. A base's `expect:` is dropped: it was written for the
// base's knobs; every run still checks the invariants of scenarios/README.md.
SwarmDraw draw_swarm_run(const Scenario* base, std::uint64_t seed);

}  // namespace iscsilab::scenario
