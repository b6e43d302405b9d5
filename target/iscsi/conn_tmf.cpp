// Task Management Function Request (RFC 3720 §10.5-10.6, SAM-5 §7): ABORT TASK, ABORT
// TASK SET, CLEAR TASK SET, LOGICAL UNIT RESET, TARGET WARM RESET, TARGET COLD RESET.
// The response goes out only after every task the function ended is gone.
#include <cstdio>
#include <utility>

#include "target/defects.hpp"
#include "target/iscsi/connection.hpp"
#include "target/iscsi/driver.hpp"

namespace iscsilab::iscsi {

void Connection::after_tasks_end(const std::vector<std::shared_ptr<Task>>& tasks,
                                 std::function<void()> done) {
    auto left = std::make_shared<std::size_t>(0);
    auto fire = std::make_shared<std::function<void()>>(std::move(done));
    for (const auto& t : tasks)
        if (t->phase != TaskPhase::Done) ++*left;
    if (*left == 0) return (*fire)();
    for (const auto& t : tasks)
        if (t->phase != TaskPhase::Done)
            t->on_gone.push_back([left, fire] {
                if (--*left == 0) (*fire)();
            });
}

void Connection::abort_tasks(std::optional<std::uint32_t> lun, std::function<void()> ended,
                             std::optional<std::uint32_t> except_itt) {
    std::vector<std::shared_ptr<Task>> hit;
    for (auto& [itt, t] : tasks_)
        if ((!lun || t->lun == *lun) && itt != except_itt) hit.push_back(t);
    for (auto& t : hit) abort(t);
    after_tasks_end(hit, std::move(ended));
}

namespace {
// Counts the parts of a task management function still running (this session's tasks,
// and each other session's) across executors; the last part to end posts `done` home.
struct TmfBarrier {
    TmfBarrier(int parts, Executor& home, std::function<void()> done)
        : pending(parts), home(home), done(std::move(done)) {}
    void arrive() {
        if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) home.post(std::move(done));
    }
    std::atomic<int> pending;
    Executor& home;
    std::function<void()> done;
};
}  // namespace

void Connection::handle_tmf(Pdu& pdu) {
    const auto r = TaskMgmtRequestPdu::decode(pdu.bhs);
    std::weak_ptr<Connection> weak = shared_from_this();
    const std::uint32_t itt = r.itt;
    using Ended = std::vector<std::shared_ptr<Task>>;
    // `ended`: the tasks of this connection the function ended, for Function Complete.
    auto respond = [weak, itt](TmfResponse code, const Ended* ended = nullptr) {
        auto self = weak.lock();
        if (!self || self->state_ != ConnState::FullFeature) return;
        // RFC 3720 §10.6.2, SAM-5 §7: the response comes only after every task the
        // function ended is gone (a task still at the device could yet write).
        if (ended)
            for (const auto& t : *ended)
                if (!self->invariant(t->phase == TaskPhase::Done, t.get(), [&] {
                        char tag[16];
                        std::snprintf(tag, sizeof tag, "0x%08x", static_cast<unsigned>(itt));
                        return std::string("TMF response (ITT ") + tag + ") before a task it ended is gone";
                    }))
                    return;
        TaskMgmtResponsePdu resp;
        resp.response = code;
        resp.itt = itt;
        resp.sn = self->status_sn();
        self->send(resp.encode());
    };
    if (session_->discovery()) return respond(TmfResponse::FunctionRejected);

    const std::uint32_t lun = scsi::decode_lun(r.lun);
    const auto& nexus = session_->nexus();
    auto target = session_->target();
    auto luns = target->luns().luns_for(nexus->initiator_name);
    const auto lu = luns->find(lun);
    const bool lun_exists = lu != luns->end();

    // The tasks a function covers: those of this session on the LUN (or all), excluding
    // the TMF itself.
    auto own_tasks = [&](std::optional<std::uint32_t> on) {
        std::vector<std::shared_ptr<Task>> v;
        for (auto& [tag, t] : tasks_)
            if (tag != r.itt && (!on || t->lun == *on)) v.push_back(t);
        return v;
    };
    auto abort_all = [&](const std::vector<std::shared_ptr<Task>>& v) {
        for (const auto& t : v) abort(t);
    };
    // Other sessions' tasks end too (CLEAR TASK SET, resets), on their own executors.
    // SAM-5 §7: the function is complete when every task it aborts is gone, in every
    // task set it reaches, so the response waits for theirs as well as ours (or an
    // aborted write elsewhere could still land after the initiator was told it is over).
    auto abort_elsewhere_then = [&](std::optional<std::uint32_t> on, const std::vector<std::shared_ptr<Task>>& own,
                                    std::function<void()> done) {
        std::function<void()> at_once;  // tmf_before_tasks_end: answer without waiting
        if (defects::on(defects::Defect::tmf_before_tasks_end)) at_once = std::exchange(done, [] {});
        const Session* me = session_.get();
        auto others = driver_.sessions_of(target->name());
        std::erase_if(others, [me](const std::shared_ptr<Session>& s) { return s.get() == me; });
        auto barrier = std::make_shared<TmfBarrier>(static_cast<int>(others.size()) + 1, executor_, std::move(done));
        for (const auto& s : others) {
            std::weak_ptr<Connection> wc = s->connection;
            s->executor().post([wc, on, barrier] {
                auto c = wc.lock();
                if (!c) return barrier->arrive();
                c->abort_tasks(on, [barrier] { barrier->arrive(); });
            });
        }
        if (at_once) return at_once();
        after_tasks_end(own, [barrier] { barrier->arrive(); });
    };

    switch (r.function) {
        case TmfFunction::AbortTask: {
            if (!lun_exists) return respond(TmfResponse::LunDoesNotExist);
            auto it = tasks_.find(r.referenced_task_tag);
            if (it == tasks_.end() && session_->in_window(r.refcmdsn) && r.refcmdsn != r.cmdsn) {
                // RFC 3720 §10.5.1: a task not received yet whose RefCmdSN is in the window
                // counts as received and aborted: Function Complete, and it will not run.
                auto held = held_.find(r.refcmdsn);
                if (held != held_.end() && held->second.opcode() == Opcode::ScsiCommand &&
                    BhsView{held->second.bhs}.itt() != r.referenced_task_tag)
                    return respond(TmfResponse::TaskDoesNotExist);  // that CmdSN is another task
                aborted_ahead_.insert(r.refcmdsn);
                return respond(TmfResponse::FunctionComplete);
            }
            // RFC 3720 §10.5.1 a): a task another function is aborting (an ABORT TASK SET
            // still waiting for the rest of the set) is a valid task whose termination has
            // succeeded: Function Complete, not Task Does Not Exist (found by the swarm).
            if (it == tasks_.end() && aborted_itts_.count(r.referenced_task_tag))
                return respond(TmfResponse::FunctionComplete);
            if (it == tasks_.end() || it->second->lun != lun || it->first == r.itt)
                return respond(TmfResponse::TaskDoesNotExist);
            auto victim = std::vector<std::shared_ptr<Task>>{it->second};
            abort_all(victim);
            return after_tasks_end(victim, [respond, victim] { respond(TmfResponse::FunctionComplete, &victim); });
        }
        case TmfFunction::AbortTaskSet: {
            if (!lun_exists) return respond(TmfResponse::LunDoesNotExist);
            auto v = own_tasks(lun);
            abort_all(v);
            if (defects::on(defects::Defect::tmf_before_tasks_end)) return respond(TmfResponse::FunctionComplete, &v);
            return after_tasks_end(v, [respond, v] { respond(TmfResponse::FunctionComplete, &v); });
        }
        case TmfFunction::ClearTaskSet: {
            if (!lun_exists) return respond(TmfResponse::LunDoesNotExist);
            auto v = own_tasks(lun);
            abort_all(v);
            // SPC-4: other nexuses learn that their commands were cleared.
            lu->second.device->raise_unit_attention(scsi::asc::CommandsClearedByAnotherInitiator, nexus->id);
            return abort_elsewhere_then(lun, v, [respond, v] { respond(TmfResponse::FunctionComplete, &v); });
        }
        case TmfFunction::LogicalUnitReset: {
            if (!lun_exists) return respond(TmfResponse::LunDoesNotExist);
            auto v = own_tasks(lun);
            abort_all(v);
            lu->second.device->reset(nexus->id);
            return abort_elsewhere_then(lun, v, [respond, v] { respond(TmfResponse::FunctionComplete, &v); });
        }
        case TmfFunction::TargetWarmReset:
        case TmfFunction::TargetColdReset: {
            auto v = own_tasks(std::nullopt);
            abort_all(v);
            for (const auto& [n, e] : *luns) e.device->reset(nexus->id);
            const bool cold = r.function == TmfFunction::TargetColdReset;
            auto tname = target->name();
            IscsiDriver* driver = &driver_;
            return abort_elsewhere_then(std::nullopt, v, [respond, v, cold, weak, tname, driver] {
                respond(TmfResponse::FunctionComplete, &v);
                if (!cold) return;
                // RFC 3720 §10.5.1: a cold reset drops every connection of the target,
                // ours included, after the response.
                driver->for_each_session_of(tname, [](const std::shared_ptr<Session>& s) {
                    std::weak_ptr<Connection> wc = s->connection;
                    s->executor().post([wc] {
                        if (auto c = wc.lock()) c->close("TARGET COLD RESET");
                    });
                });
            });
        }
        case TmfFunction::ClearAca:
            return respond(TmfResponse::TaskManagementFunctionNotSupported);  // no ACA
        case TmfFunction::TaskReassign:
            // RFC 3720 §10.5.1: at ErrorRecoveryLevel 0 allegiance cannot move.
            return respond(TmfResponse::TaskAllegianceReassignmentNotSupported);
    }
    respond(TmfResponse::FunctionRejected);
}

}  // namespace iscsilab::iscsi
