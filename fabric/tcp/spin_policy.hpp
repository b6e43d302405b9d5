// Hybrid polling for a reactor: how long it polls (epoll_wait with a zero timeout) before
// it blocks. On a virtual machine a blocked thread's wake-up costs tens of microseconds
// (an inter-processor interrupt, the vCPU's halt exit), more than a QD1 request takes to
// serve; polling through the gap halves the round trip (hil/bench: 61 us -> 23 us on
// loopback). Polling pays only while the gaps are short and the reactor mostly idle, so:
//
//  - The window adapts as Linux's haltpoll governor adapts a vCPU's poll time: an event
//    that came during the window keeps it; one that came later, but within max_spin, would
//    have been caught by a longer window (doubled, from 10 us); one later than max_spin
//    halves it (below 10 us: no polling) since the gaps are long.
//  - Under load (busy more than half of the last 10 ms) it never polls: requests then
//    arrive in batches, a blocking wait costs the reactor little (the waker pays the
//    wake-up), and a polling reactor would take the CPU from whatever feeds it (on one
//    host, the initiator itself: at QD32 on loopback, polling cost 25% more CPU per op).
//
// Pure bookkeeping over durations the reactor measures, so that a test can drive it.
#pragma once

#include <algorithm>

#include "target/ports.hpp"

namespace iscsilab::hil {

class SpinPolicy {
public:
    static constexpr Nanos kMinWindow{10'000};
    static constexpr Nanos kLoadPeriod{10'000'000};

    explicit SpinPolicy(Nanos max_spin = Nanos{0}) : max_(max_spin) {}

    // How long to poll before the next blocking wait (0: block at once).
    Nanos window() const { return loaded_ ? Nanos{0} : window_; }
    bool loaded() const { return loaded_; }

    // The reactor worked for d since its last wait ended.
    void busy(Nanos d) { account(d, Nanos{0}); }

    // A wait ended. spun: how long it polled; caught: whether the poll found the event;
    // blocked: how long it then blocked (0 when the poll caught it).
    void waited(Nanos spun, bool caught, Nanos blocked) {
        account(Nanos{0}, spun + blocked);
        if (max_ <= Nanos{0} || loaded_ || caught) return;
        if (spun + blocked <= max_)
            window_ = std::min(max_, std::max(kMinWindow, 2 * window_));
        else if ((window_ /= 2) < kMinWindow)
            window_ = Nanos{0};
    }

private:
    void account(Nanos busy, Nanos idle) {
        busy_ += busy;
        idle_ += idle;
        if (busy_ + idle_ >= kLoadPeriod) {
            loaded_ = busy_ > idle_;
            busy_ = idle_ = Nanos{0};
        }
    }

    Nanos max_;
    Nanos window_{0};
    Nanos busy_{0}, idle_{0};
    bool loaded_ = false;
};

}  // namespace iscsilab::hil
