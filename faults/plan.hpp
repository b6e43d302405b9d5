// A fault plan: faults at chosen (or seeded) simulated times, applied through hooks in
// fabric/sim (the links) and model/ (the disks and the initiators). The plan is data;
// the Injector schedules it on the simulation kernel and keeps a log of what it did,
// so a failing run shows its faults next to its errors.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fabric/sim/link.hpp"
#include "model/disk.hpp"
#include "model/initiator.hpp"
#include "model/kernel.hpp"
#include "faults/record.hpp"
#include "model/rng.hpp"
#include "target/iscsi/pdu.hpp"

namespace iscsilab::faults {

enum class Kind : std::uint8_t {
    link_stall,       // nothing arrives (one way or both) for `duration`
    link_reset,       // the connection is reset (RST)
    corrupt,          // `count` segments get one bit flipped (a digest error, with digests on)
    latency_spike,    // every segment takes `extra` longer for `duration`
    disk_slow,        // disk operations take `factor` times as long for `duration`
    medium_error,     // a byte range of a disk fails reads and/or writes for `duration`
    disk_offline,     // every disk operation fails for `duration`
    power_loss,       // a disk's volatile write cache is lost
    tmf,              // an initiator sends a task management function
    crash,            // an initiator drops its connection and logs in again
    withhold_data,    // an initiator stops answering R2Ts until its connection ends
    freeze,           // an initiator host stops (reads and sends nothing) for `duration`
    logout,           // an initiator logs out with commands in flight, then logs in again
    random,           // `repeat` faults of the `choices` kinds, times and parameters drawn
                      // from the faults stream (swarm testing: run it over many seeds)
};
const char* to_string(Kind k);

struct Fault {
    Kind kind = Kind::link_stall;
    Nanos at_min{0}, at_max{0};      // when: a time drawn from [at_min, at_max]
    std::uint32_t repeat = 1;        // how many times, `every` apart
    Nanos every{0};
    Nanos duration{0};               // for the faults that last; 0 to the end of the run
    int initiator = -1;              // link and initiator faults: its index, -1 all
    int direction = 2;               // link faults: 0 to the target, 1 to the initiator, 2 both
    std::uint32_t count = 1;         // corrupt: segments
    Nanos extra{0};                  // latency_spike
    std::string disk;                // disk faults: the disk model's name
    double factor = 10.0;            // disk_slow
    std::uint64_t offset = 0, length = 0;  // medium_error: bytes
    bool reads = true, writes = false;     // medium_error: which operations fail
    iscsi::TmfFunction function = iscsi::TmfFunction::LogicalUnitReset;  // tmf
    std::vector<Kind> choices;       // random: the kinds to draw from
};

struct Plan {
    std::vector<Fault> faults;
    bool empty() const { return faults.empty(); }
    bool has(Kind k) const;
    // Could this plan make an initiator lose its session (and recover)?
    bool may_break_sessions() const;
};

// Parses the names used in scenario files ("link_stall", "lun_reset", ...).
bool kind_from_string(const std::string& s, Kind& out);
bool tmf_from_string(const std::string& s, iscsi::TmfFunction& out);

// What a plan acts on; the scenario run supplies it.
struct World {
    std::size_t initiators = 0;
    std::function<sim::LinkFaults&(std::size_t)> link;                    // per initiator host
    std::function<void(std::size_t, const std::string&)> reset;          // its current connection
    std::function<model::Initiator*(std::size_t)> initiator;
    std::function<model::SimDisk*(const std::string&)> disk;
    std::function<void(const Record&)> record;  // into the run's trace and capture (may be empty)
};

class Injector {
public:
    // Draws from the seed's "faults" stream only: adding a fault moves no workload's,
    // disk's or link's random choices.
    Injector(model::SimKernel& kernel, Plan plan, std::uint64_t seed, World world);
    void arm();        // schedules every fault
    void heal();       // ends every lasting fault (before the after-run checks)
    const std::vector<std::string>& log() const { return log_; }
    std::uint64_t fired() const { return fired_; }

private:
    void fire(const Fault& f);
    void schedule(const Fault& f);
    Fault draw(const Fault& spec);   // one concrete fault from a random spec
    Nanos uniform(Nanos lo, Nanos hi);
    std::vector<std::size_t> hosts(const Fault& f) const;
    Nanos until(const Fault& f) const;
    void note(const Fault& f, const std::string& what, int initiator = -2);

    model::SimKernel& kernel_;
    Plan plan_;
    model::Rng rng_;
    World world_;
    std::vector<std::string> log_;
    std::uint64_t fired_ = 0;
    std::vector<model::SimDisk*> touched_disks_;
    std::deque<Fault> drawn_;        // the random specs' faults (stable addresses)
};

}  // namespace iscsilab::faults
