#include "target/scsi/task_set.hpp"

#include <vector>

namespace iscsilab::scsi {

bool TaskSet::may_start(TaskAttribute attr) const {
    switch (attr) {
        case TaskAttribute::HeadOfQueue: return true;
        case TaskAttribute::Ordered: return running_ == 0 && !ordered_running_ && waiting_.empty();
        default: return !ordered_running_ && waiting_.empty();
    }
}

void TaskSet::account(TaskAttribute attr) {
    if (attr == TaskAttribute::Ordered) ordered_running_ = true;
    else if (attr != TaskAttribute::HeadOfQueue) ++running_;
}

void TaskSet::submit(TaskAttribute attr, Start start) {
    {
        std::lock_guard lock(mu_);
        if (!may_start(attr)) {
            waiting_.push_back(Waiting{attr, std::move(start)});
            return;
        }
        account(attr);
    }
    start();
}

void TaskSet::finished(TaskAttribute attr) {
    std::vector<Start> ready;
    {
        std::lock_guard lock(mu_);
        if (attr == TaskAttribute::Ordered) ordered_running_ = false;
        else if (attr != TaskAttribute::HeadOfQueue && running_ > 0) --running_;
        // Release from the front, in arrival order, as far as the attributes allow.
        while (!waiting_.empty()) {
            const TaskAttribute next = waiting_.front().attr;
            const bool ok = next == TaskAttribute::Ordered ? running_ == 0 && !ordered_running_ : !ordered_running_;
            if (!ok) break;
            account(next);
            ready.push_back(std::move(waiting_.front().start));
            waiting_.pop_front();
            if (next == TaskAttribute::Ordered) break;  // it holds back what follows
        }
    }
    for (auto& s : ready) s();
}

}  // namespace iscsilab::scsi
