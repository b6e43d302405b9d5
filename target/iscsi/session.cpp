#include "target/iscsi/session.hpp"

#include "target/block_cache.hpp"

namespace iscsilab::iscsi {

std::shared_ptr<void> NexusWork::hold() {
    // Once per command on the data path: an atomic, no lock. The lock only orders the
    // last release against a waiter being registered.
    count_.fetch_add(1, std::memory_order_relaxed);
    auto self = shared_from_this();
    return std::shared_ptr<void>(static_cast<void*>(this), [self](void*) { self->release(); }, CachedAllocator<char>{});
}

void NexusWork::release() {
    if (count_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::vector<std::function<void()>> ready;
    {
        std::lock_guard lock(mu_);
        if (count_.load(std::memory_order_acquire) == 0) ready.swap(waiters_);
    }
    for (auto& fn : ready) fn();
}

void NexusWork::when_idle(std::function<void()> fn) {
    {
        std::lock_guard lock(mu_);
        if (count_.load(std::memory_order_acquire) > 0) {
            waiters_.push_back(std::move(fn));
            return;
        }
    }
    fn();
}

std::size_t NexusWork::in_flight() const { return count_.load(std::memory_order_acquire); }

std::uint64_t Session::sid() const {
    std::uint64_t v = 0;
    for (auto b : isid_) v = (v << 8) | static_cast<std::uint8_t>(b);
    return (v << 16) | tsih_;
}

void Session::start_window(std::uint32_t cmdsn) {
    exp_cmdsn_ = cmdsn;
    max_cmdsn_ = cmdsn + tparams_.queued_commands - 1;
}

bool Session::in_window(std::uint32_t cmdsn) const {
    return sn_le(exp_cmdsn_, cmdsn) && sn_le(cmdsn, max_cmdsn_);
}

void Session::advance_exp_cmdsn() { ++exp_cmdsn_; }

void Session::command_ended() {
    if (in_flight_ > 0) --in_flight_;
    refresh();
}

void Session::refresh() {
    const std::uint32_t q = tparams_.queued_commands;
    const std::uint32_t busy = in_flight_ < q ? in_flight_.load() : q;
    const std::uint32_t candidate = exp_cmdsn_ + (q - busy) - 1;
    if (sn_gt(candidate, max_cmdsn_)) max_cmdsn_ = candidate;
    // RFC 3720 §3.2.2.1: MaxCmdSN never falls below ExpCmdSN - 1.
    if (sn_lt(max_cmdsn_, exp_cmdsn_ - 1)) max_cmdsn_ = exp_cmdsn_ - 1;
}

}  // namespace iscsilab::iscsi
