// The initiator model's recovery: ERL 0 session recovery (RFC 3720 §6.1.5, §6.3.5),
// logout during I/O, a session reinstated on purpose from a second connection (§5.3.5),
// command timeouts, and task management (§10.5, §10.6).
#include <algorithm>

#include "model/initiator.hpp"

namespace iscsilab::model {

using namespace iscsilab::iscsi;
using detail::hex;

void Initiator::end_unanswered(Op& op) {
    // The command ended without telling how far it got: an interrupted write (UNMAP,
    // COMPARE AND WRITE) leaves its blocks unknown until they are written again, an
    // interrupted PERSISTENT RESERVE OUT the LU's reservations.
    if (op.modifies()) forget(op);
    if (op.kind == Op::Kind::pr_out) pr_ended(op, std::nullopt, {});
    if (op.workload()) {
        busy_.erase(op.lba);
        ++completed_;
    }
}

void Initiator::lose(Op& op) {
    end_unanswered(op);
    if (op.workload()) ++stats_.lost;
}

void Initiator::relogin_later(bool discovery) {
    // Every command still pending ended with the old session, and so did every task
    // management request; log in again (same ISID) from a fresh stack after a pause.
    for (auto& [itt, op] : ops_) lose(*op);
    ops_.clear();
    for (auto& [itt, t] : aborts_)
        if (t.on_end) t.on_end();
    aborts_.clear();
    phase_ = discovery ? Phase::Discovery : Phase::Login;
    recovering_ = true;
    auto self = shared_from_this();
    kernel_.after(cfg_.recovery_delay, [self, discovery] {
        self->recovering_ = false;
        self->connect_session(discovery);
    });
}

bool Initiator::logout_midway() {
    if (phase_ != Phase::Running || recovering_ || frozen_) return false;
    relogin_ = true;
    logout();
    return true;
}

void Initiator::recover(std::string why) {
    // After the final Logout Response there is no session left to recover (the host may
    // still be waiting for a reinstated session's old connection to close).
    if (finished() || recovering_ || logout_answered_) return;
    relogin_ = false;
    logout_cut_itt_ = 0;
    bhs_sent_corrupt_ = false;
    if (frozen_) {
        // A crash ends a freeze: nothing the frozen host had pending matters now.
        frozen_ = false;
        frozen_in_.clear();
        frozen_closed_.reset();
    }
    if (stats_.recovery_reasons.size() < 8) stats_.recovery_reasons.push_back(why);
    if (++stats_.recoveries > cfg_.max_recoveries)
        return fail("gave up after " + std::to_string(cfg_.max_recoveries) + " session recoveries: " + why);
    // Hard: a command or task management request still queued on the old connection
    // must not reach the target after the session has given up on it.
    if (stream_) {
        stream_->set_handler({});
        if (abort_) abort_("session recovery: " + why);
        stream_->close("session recovery");
    }
    // RFC 3720 §6.3.5: a new login with the same ISID and TSIH 0 reinstates the
    // session; the target ends the old one's tasks first. From a fresh stack: the
    // reader that called us is still on it. A discovery session cut short is simply
    // begun again (it holds no tasks), as an initiator's discovery would retry.
    relogin_later(session_discovery_);
}

// The old connection of a session reinstated on purpose. What still arrives on it is
// ignored (its tasks were given up for lost); the target has to close it.
class Initiator::Superseded final : public ByteStream::Handler {
public:
    Superseded(std::weak_ptr<Initiator> owner, std::shared_ptr<ByteStream> stream)
        : owner_(std::move(owner)), stream_(std::move(stream)) {}
    void on_bytes(std::span<const std::byte>) override {}
    void on_closed(std::string_view) override {
        closed = true;
        if (auto o = owner_.lock()) o->superseded_closed();
    }
    bool closed = false;

private:
    std::weak_ptr<Initiator> owner_;
    std::shared_ptr<ByteStream> stream_;  // kept open until the target closes it
};

bool Initiator::duplicate_login() {
    if (phase_ != Phase::Running || recovering_ || frozen_ || !stream_) return false;
    // RFC 3720 §5.3.5 (session reinstatement): a Login with this session's InitiatorName
    // and ISID and TSIH 0 asks for the old session to be closed and replaced, with its
    // tasks ended (§6.3.5). The old connection stays open on our side, as it would for
    // an initiator whose two paths raced: the target must close it.
    auto old = std::make_shared<Superseded>(weak_from_this(), stream_);
    stream_->set_handler(std::weak_ptr<ByteStream::Handler>(old));
    superseded_.push_back(old);
    // Its commands and task management requests are ended for us: their outcome is
    // unknown (a write may or may not have reached the medium).
    for (auto& [itt, op] : ops_) lose(*op);
    ops_.clear();
    for (auto& [itt, t] : aborts_)
        if (t.on_end) t.on_end();
    aborts_.clear();
    relogin_ = false;
    logout_cut_itt_ = 0;
    // The second login: the same keys, from a fresh stack (the caller may be the reader).
    phase_ = Phase::Login;
    recovering_ = true;
    auto self = shared_from_this();
    kernel_.post([self] {
        self->recovering_ = false;
        self->connect_session(false);
    });
    return true;
}

void Initiator::superseded_closed() {
    auto gone = std::remove_if(superseded_.begin(), superseded_.end(), [](const auto& s) { return s->closed; });
    stats_.seen["reinstated"] += static_cast<std::uint64_t>(superseded_.end() - gone);
    superseded_.erase(gone, superseded_.end());
    // Logged out already and waiting only for these: done.
    if (superseded_.empty() && logout_answered_) end_after_logout();
}

void Initiator::watchdog() {
    if (finished()) {
        watchdog_armed_ = false;
        return;
    }
    auto self = shared_from_this();
    kernel_.after(cfg_.command_timeout / 4, [self] { self->watchdog(); });
    if (recovering_ || frozen_) return;
    const Nanos now = kernel_.now();
    const std::string waited = std::to_string(cfg_.command_timeout.count() / 1000) + " us";
    // A login, or the first command after it, that goes unanswered (a garbled login
    // can leave the target waiting for bytes, or its CmdSN window elsewhere).
    if (!session_discovery_ && (phase_ == Phase::Login || phase_ == Phase::Ready) &&
        now - std::max(login_sent_, last_rx_) > cfg_.command_timeout)
        return recover("no answer during login for " + waited);
    if (phase_ != Phase::Running) return;
    for (const auto& [itt, t] : aborts_)
        if (t.timeout && now - t.sent > cfg_.command_timeout) return recover("ABORT TASK unanswered for " + waited);
    for (auto& [itt, op] : ops_)
        if (!op->timeout_abort && now - op->sent > cfg_.command_timeout) {
            op->timeout_abort = true;
            ++stats_.timed_out;
            aborts_[send_tmf(TmfFunction::AbortTask, {op->itt}, op->itt, op->cmdsn)].timeout = true;
        }
}

void Initiator::send_abort(const Op& op) {
    ++stats_.aborts_sent;
    send_tmf(TmfFunction::AbortTask, {op.itt}, op.itt, op.cmdsn);
}

std::uint32_t Initiator::send_tmf(TmfFunction fn, std::vector<std::uint32_t> tasks, std::uint32_t ref_itt, std::uint32_t ref_cmdsn) {
    // RFC 3720 §10.5: immediate; ABORT TASK names its task by ITT and CmdSN.
    TaskMgmtRequestPdu t;
    t.immediate = true;
    t.function = fn;
    t.lun = (std::uint64_t{cfg_.lun} << 48);
    t.itt = itt_++;
    if (fn == TmfFunction::AbortTask) {
        t.referenced_task_tag = ref_itt;
        t.refcmdsn = ref_cmdsn;
    }
    t.cmdsn = cmdsn_;
    t.expstatsn = expstatsn_;
    aborts_[t.itt] = PendingTmf{fn, std::move(tasks), false, kernel_.now(), {}};
    send_pdu(t.encode());
    return t.itt;
}

bool Initiator::task_management(TmfFunction fn, std::function<void()> on_end) {
    if (phase_ != Phase::Running || recovering_ || frozen_) return false;
    if (fn == TmfFunction::AbortTask) {
        // The oldest workload command (ITTs grow, so the first in the map).
        auto oldest = std::find_if(ops_.begin(), ops_.end(), [](const auto& e) { return e.second->workload(); });
        if (oldest == ops_.end()) return false;
        send_abort(*oldest->second);
        return true;
    }
    // A function on the task set covers every task in flight, a SYNCHRONIZE CACHE too.
    std::vector<std::uint32_t> tasks;
    for (const auto& [itt, op] : ops_) tasks.push_back(itt);
    aborts_[send_tmf(fn, std::move(tasks), 0, 0)].on_end = std::move(on_end);
    return true;
}

void Initiator::on_tmf_response(Pdu& pdu) {
    auto t = TaskMgmtResponsePdu::decode(pdu.bhs);
    check_sn(t.sn, true, "TMF Response");
    auto a = aborts_.find(t.itt);
    if (a == aborts_.end()) return error("TMF Response for an unknown request " + hex(t.itt));
    const PendingTmf tmf = std::move(a->second);
    aborts_.erase(a);
    if (tmf.on_end) tmf.on_end();
    if (t.response == TmfResponse::FunctionComplete) {
        // The tasks it covers ended without a response (RFC 3720 §10.6.2: the TMF
        // response comes after every response of the tasks it ended).
        for (const std::uint32_t task : tmf.tasks) {
            auto it = ops_.find(task);
            if (it == ops_.end()) {
                ++stats_.abort_too_late;  // it had completed first; the target found nothing left
                continue;
            }
            auto op = it->second;
            ops_.erase(it);
            end_unanswered(*op);  // an aborted write may or may not have reached the medium
            ++stats_.aborted;
        }
    } else if (t.response == TmfResponse::TaskDoesNotExist && tmf.fn == TmfFunction::AbortTask) {
        auto it = ops_.find(tmf.tasks.front());
        // A task-set function or reset of our own still pending covers it too: it may
        // have ended the task first (RFC 3720 §10.5.1; a cold reset answers nothing).
        const bool own_reset = std::any_of(aborts_.begin(), aborts_.end(), [&](const auto& e) {
            return e.second.fn != TmfFunction::AbortTask &&
                   std::find(e.second.tasks.begin(), e.second.tasks.end(), tmf.tasks.front()) != e.second.tasks.end();
        });
        if (it != ops_.end() && (foreign_resets_ > 0 || it->second->sent <= foreign_reset_at_ || own_reset)) {
            // Gone without a response: another nexus's LUN RESET, CLEAR TASK SET or
            // target reset ended it (SAM-5 with TAS=0), or one of our own. Its outcome
            // is unknown.
            auto op = it->second;
            ops_.erase(it);
            lose(*op);
        } else if (it != ops_.end()) {
            // Nobody else reset the LU: the target lost a task it was given.
            error("ABORT TASK found no task " + hex(tmf.tasks.front()) + ", yet it never completed");
        }
        ++stats_.abort_too_late;
    } else {
        error("task management function " + std::to_string(static_cast<int>(tmf.fn)) + " answered " +
              std::to_string(static_cast<int>(t.response)));
    }
    maybe_finish();
}

}  // namespace iscsilab::model
