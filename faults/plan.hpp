// A fault plan: faults at chosen (or seeded) simulated times, applied through hooks in
// fabric/sim (the links) and model/ (the disks and the initiators). The plan is data;
// the Injector schedules it on the simulation kernel and keeps a log of what it did,
// so a failing run shows its faults next to its errors.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
    // Later kinds follow, so the numbers fault records carry stay the same.
    pdu_cut,          // the connection is reset at a random byte inside a PDU
    bandwidth_drop,   // the link runs `factor` times slower for `duration`
    write_error,      // a byte range fails writes (MEDIUM ERROR, WRITE ERROR) for `duration`
    torn_write,       // power loss where part of the volatile cache lands (`landed_pct`)
    misdirected_write,  // writes land `shift` bytes away from where they were asked to
    misdirected_read,   // reads come from `shift` bytes away
    stuck_delivery,   // the receiver reads nothing for `duration`, then all of it at once
    duplicate_isid,   // an initiator logs in again with its ISID on a second connection
                      // while its session runs (session reinstatement race)
    nop_storm,        // an initiator sends `count` NOP-Out pings back to back
    bhs_corrupt,      // one bit flipped inside a BHS (a header digest error, with digests on)
    misbehave,        // an initiator breaks a rule on purpose (`what`) and checks the answer
    pr,               // an initiator sends a PERSISTENT RESERVE OUT (`action`, `key`, `sa_key`, `type`)
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
    std::uint64_t shift = 0;         // misdirected_write/read: bytes between asked and used
    std::uint32_t landed_pct = 50;   // torn_write: the share of cached pages that land
    std::optional<model::Misbehavior> what;  // misbehave: which rule (random: drawn if unset)
    model::PrOut pr;                 // pr: SERVICE ACTION, RESERVATION KEY, SERVICE ACTION RESERVATION KEY, TYPE
    bool pr_key_given = false;       // pr: `key` was given; else the key the nexus holds (the oracle's)
};

struct Plan {
    std::vector<Fault> faults;
    bool empty() const { return faults.empty(); }
    bool has(Kind k) const;
    // Could this plan make an initiator lose its session (and recover)?
    bool may_break_sessions() const;
    // Does it explain a MEDIUM ERROR (medium_error, write_error)?
    bool may_fail_media() const;
    // Does it make the initiators break rules on purpose (their deviations on the wire
    // are then expected, not failures)?
    bool deviates() const { return has(Kind::misbehave); }
};

// Parses the names used in scenario files ("link_stall", "lun_reset", ...).
bool kind_from_string(const std::string& s, Kind& out);
bool tmf_from_string(const std::string& s, iscsi::TmfFunction& out);
bool misbehavior_from_string(const std::string& s, model::Misbehavior& out);
const char* to_string(model::Misbehavior m);

// What a plan acts on; the scenario run supplies it.
struct World {
    std::size_t initiators = 0;
    std::function<sim::LinkFaults&(std::size_t)> link;                    // per initiator host
    std::function<void(std::size_t, const std::string&)> reset;          // its current connection
    std::function<model::Initiator*(std::size_t)> initiator;
    std::function<model::SimDisk*(const std::string&)> disk;
    std::function<void(const Record&)> record;  // into the run's trace and capture (may be empty)
};

// One concrete fault of `kind`, its parameters drawn from rng as a random plan draws
// them: the time inside [spec.at_min, spec.at_max], a range inside the spec's
// [offset, offset + length), the spec's disk, one of `initiators` hosts unless the spec
// names one. The Injector draws a random plan's faults with it; the swarm draws its own.
Fault draw_fault(Kind kind, const Fault& spec, model::Rng& rng, std::size_t initiators);

class Injector {
public:
    // Draws from the seed's "faults" stream only: adding a fault moves no workload's,
    // disk's or link's random choices.
    Injector(model::SimKernel& kernel, Plan plan, std::uint64_t seed, World world);
    void arm();        // schedules every fault
    void heal();       // ends every lasting fault (before the after-run checks)
    const std::vector<std::string>& log() const { return log_; }
    std::uint64_t fired() const { return fired_; }
    // What the faults did on the links and disks, by name (slowed_segments, stuck_reads,
    // pdus_cut, bhs_flipped, misdirected, torn_writes, pages_landed, pages_lost), for
    // the run's expectations.
    std::map<std::string, std::uint64_t> seen() const;

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
    bool healed_ = false;            // after heal(), nothing more fires (the after-run probe runs clean)
    std::vector<model::SimDisk*> touched_disks_;
    std::map<std::string, std::uint64_t> seen_;  // counted when the faults fire
    std::deque<Fault> drawn_;        // the random specs' faults (stable addresses)
};

}  // namespace iscsilab::faults
