#include "model/kernel.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace iscsilab::model {

namespace {
std::int64_t ns_now() { return static_cast<std::int64_t>(sc_core::sc_time_stamp().value() / 1000); }  // ps -> ns
}

SimKernel::SimKernel(sc_core::sc_module_name name) : sc_core::sc_module(name) {
    SC_METHOD(dispatch);
    sensitive << wake_;
    dont_initialize();
}

Nanos SimKernel::now() const { return Nanos(ns_now()); }

void SimKernel::post(Task fn) {
    now_queue_.push_back(Now{seq_++, std::move(fn)});
    arm();
}

std::uint32_t SimKernel::park(Task fn) {
    if (free_slots_.empty()) {
        slab_.push_back(std::move(fn));
        return static_cast<std::uint32_t>(slab_.size() - 1);
    }
    const std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    slab_[slot] = std::move(fn);
    return slot;
}

TimerId SimKernel::after(Nanos delay, Task fn) {
    // SystemC counts picoseconds in 64 bits (about 213 days): a timer beyond that would
    // wrap and never fire, and the run would stop making progress without a word.
    if (delay > kHorizon) throw std::logic_error("SimKernel::after: a timer " + std::to_string(delay.count()) + " ns away");
    const std::uint64_t id = seq_++;
    heap_.push_back(Entry{ns_now() + std::max<std::int64_t>(0, delay.count()), id, park(std::move(fn))});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    arm();
    return TimerId{id + 1};
}

void SimKernel::cancel(TimerId id) {
    if (id) cancelled_.insert(id.value - 1);
}

void SimKernel::arm() {
    std::int64_t first;
    if (!now_queue_.empty()) first = ns_now();
    else if (!heap_.empty()) first = heap_.front().when;
    else return;
    if (armed_for_ >= 0 && armed_for_ <= first) return;  // already due no later
    const std::int64_t delta = first - ns_now();
    wake_.cancel();
    if (delta <= 0) wake_.notify(sc_core::SC_ZERO_TIME);
    else wake_.notify(sc_core::sc_time(static_cast<double>(delta), sc_core::SC_NS));
    armed_for_ = first;
}

bool SimKernel::take_top(Task& fn) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    const Entry e = heap_.back();
    heap_.pop_back();
    fn = std::move(slab_[e.slot]);
    slab_[e.slot] = nullptr;
    free_slots_.push_back(e.slot);
    return cancelled_.empty() || !cancelled_.erase(e.seq);
}

void SimKernel::dispatch() {
    armed_for_ = -1;
    const std::int64_t t = ns_now();
    // Everything due now, in (time, sequence) order; what it schedules for now runs in
    // this pass too.
    for (;;) {
        const bool heap_due = !heap_.empty() && heap_.front().when <= t;
        const bool fifo_due = !now_queue_.empty();
        if (!heap_due && !fifo_due) break;
        Task fn;
        if (heap_due && (!fifo_due || heap_.front().seq < now_queue_.front().seq)) {
            if (!take_top(fn)) continue;  // cancelled
        } else {
            fn = std::move(now_queue_.front().fn);
            now_queue_.pop_front();
        }
        ++events_;
        fn();
    }
    arm();
}

void SimKernel::run(Nanos limit) {
    if (idle()) return;  // nothing can happen: no need to wake SystemC
    // SC_EXIT_ON_STARVATION returns at once when nothing is due within the limit,
    // without moving time: reach at least the next event, or a quiet stretch longer
    // than the limit (a stalled link, say) would never be crossed.
    // Cancelled timers (a login timeout, say) sit in the heap until due: drop those on
    // top, so a long-cancelled one does not carry time past what is really next.
    Task dropped;
    while (!heap_.empty() && !cancelled_.empty() && cancelled_.count(heap_.front().seq)) take_top(dropped);
    if (idle()) return;
    const std::int64_t next = now_queue_.empty() ? heap_.front().when : ns_now();
    const std::int64_t span = std::max<std::int64_t>(limit.count(), next - ns_now() + 1);
    sc_core::sc_start(sc_core::sc_time(static_cast<double>(span), sc_core::SC_NS), sc_core::SC_EXIT_ON_STARVATION);
}

void fresh_systemc_context() {
    // The previous context (and its modules) stays allocated: SystemC 2.3 cannot tear
    // a context down safely. A run allocates one; that is the price of no reset.
    static std::vector<std::unique_ptr<sc_core::sc_simcontext>> contexts;
    contexts.push_back(std::make_unique<sc_core::sc_simcontext>());
    sc_core::sc_curr_simcontext = contexts.back().get();
    sc_core::sc_default_global_context = contexts.back().get();
    // A slice of simulated time in which nothing is scheduled is normal here.
    sc_core::sc_report_handler::set_actions(sc_core::SC_ID_NO_SC_START_ACTIVITY_, sc_core::SC_DO_NOTHING);
}

}  // namespace iscsilab::model
