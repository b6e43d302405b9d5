// Shrinking a failing run (as property-based testing shrinks a counterexample): drop
// faults, shorten them, cut the workload and the initiators, move knobs back to their
// defaults, for as long as the same check still fails: the same failure signature, not
// just any failure. The seed stays; the seed's named streams keep every remaining
// part's random choices where they were.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "scenarios/engine/scenario.hpp"

namespace iscsilab::scenario {

// What kind of failure a run had, without its particulars (numbers, addresses, which
// initiator): "wire:<rule id>:target", "invariant:<text>", "liveness", or the first
// failure line with every number replaced by '#'. Empty for a passing run.
std::string failure_signature(const RunResult& r);
// Every failure line's signature (a shrink step keeps a candidate that still shows the
// one it started from anywhere in its list).
bool shows_signature(const RunResult& r, const std::string& signature);
// A liveness failure only: some initiator did not finish within the scenario's time.
bool liveness_only(const RunResult& r);

struct Size {
    std::size_t faults = 0, initiators = 0, knobs = 0;
    std::uint64_t ops = 0;
    std::size_t yaml_lines = 0;
    std::string text() const;   // "4 faults, 3 initiators, 800 operations, 21 knobs, 90 lines"
};
Size size_of(const Scenario& s);

struct ShrinkResult {
    Scenario minimal;
    RunResult last;               // the minimal scenario's failing run
    std::string signature;
    unsigned steps = 0;           // reductions kept
    unsigned runs = 0;            // runs tried
    Size before, after;
};

// Reduces s (which fails with `signature` from `seed`) within `max_runs` runs.
// progress: one line per kept step (may be empty).
ShrinkResult shrink(const Scenario& s, std::uint64_t seed, const std::string& signature, unsigned max_runs,
                    const std::function<void(const std::string&)>& progress);

}  // namespace iscsilab::scenario
