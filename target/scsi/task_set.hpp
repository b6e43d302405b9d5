// A logical unit's task set (SAM-5 §8.6): SIMPLE tasks run side by side (the control
// page's queue algorithm modifier 1 lets them reorder), an ORDERED task waits for every
// task before it and holds back every task after it, HEAD OF QUEUE starts at once.
// Shared by every session of the LU, so it takes a lock; start and finish may come
// from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "target/scsi/command.hpp"

namespace iscsilab::scsi {

class TaskSet {
public:
    using Start = std::function<void()>;

    // Starts the task now, or queues it until the attribute allows.
    void submit(TaskAttribute attr, Start start);
    // A task started by submit() ended.
    void finished(TaskAttribute attr);

    std::size_t waiting() const {
        std::lock_guard lock(mu_);
        return waiting_.size();
    }

private:
    bool may_start(TaskAttribute attr) const;  // mu_ held
    void account(TaskAttribute attr);          // mu_ held

    struct Waiting {
        TaskAttribute attr;
        Start start;
    };
    mutable std::mutex mu_;
    std::uint64_t running_ = 0;       // SIMPLE and ACA tasks in progress
    bool ordered_running_ = false;
    std::deque<Waiting> waiting_;
};

}  // namespace iscsilab::scsi
