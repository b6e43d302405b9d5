// The core's Clock and Executor bound to SystemC: one SC_METHOD runs every due task in
// (time, sequence) order, woken by one sc_event timed for the earliest. Links, disks and
// initiators schedule through it, so a run is one totally ordered event stream:
// deterministic from its seed, and cheap (one SystemC event per distinct time stamp).
#pragma once

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include <cstdint>
#include <deque>
#include <unordered_set>
#include <utility>
#include <vector>

#include "target/ports.hpp"

namespace iscsilab::model {

class SimKernel final : public sc_core::sc_module, public Executor, public Clock {
public:
    // The furthest a timer may be set (SystemC's 64-bit picosecond clock wraps at ~213 days).
    static constexpr Nanos kHorizon{std::chrono::hours(24 * 100)};
    SC_HAS_PROCESS(SimKernel);
    explicit SimKernel(sc_core::sc_module_name name);

    // Executor: runs fn at the current time, after what is already due.
    void post(Task fn) override;
    // Clock: simulated time since the run began.
    Nanos now() const override;
    TimerId after(Nanos delay, Task fn) override;
    void cancel(TimerId id) override;

    // Runs until nothing is scheduled or `limit` of simulated time has passed.
    void run(Nanos limit);
    std::uint64_t events() const { return events_; }
    bool idle() const { return heap_.empty() && now_queue_.empty(); }

private:
    void dispatch();
    // Pops the earliest timer and frees its slot; fn gets its task. False if it was
    // cancelled (and forgets the cancellation).
    bool take_top(Task& fn);
    void arm();
    // Timed work in a binary heap ordered by (time, sequence); work posted for "now" in
    // a FIFO beside it (its sequence numbers only grow, so order is kept by comparing
    // the two heads). Cancelled timers are skipped when they come up.
    // The heap holds small keys; the tasks wait in a slab, so sifting moves 24 bytes.
    struct Entry {
        std::int64_t when;
        std::uint64_t seq;
        std::uint32_t slot;
    };
    struct Later {
        bool operator()(const Entry& a, const Entry& b) const {
            return a.when != b.when ? a.when > b.when : a.seq > b.seq;
        }
    };
    struct Now {
        std::uint64_t seq;
        Task fn;
    };
    std::uint32_t park(Task fn);
    sc_core::sc_event wake_;
    std::vector<Entry> heap_;
    std::vector<Task> slab_;
    std::vector<std::uint32_t> free_slots_;
    std::deque<Now> now_queue_;
    std::unordered_set<std::uint64_t> cancelled_;
    std::uint64_t seq_ = 0;
    std::uint64_t events_ = 0;
    std::int64_t armed_for_ = -1;
};

// SystemC 2.3 has no reset: each run gets a fresh simulation context.
void fresh_systemc_context();

}  // namespace iscsilab::model
