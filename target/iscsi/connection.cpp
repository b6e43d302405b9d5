#include "target/iscsi/connection.hpp"

#include "target/bytes.hpp"
#include "target/defects.hpp"
#include "target/iscsi/driver.hpp"

namespace iscsilab::iscsi {

namespace {
// RFC 3720 §12.12: until a login says otherwise, 8192 bytes per data segment.
constexpr std::uint32_t kLoginDataSegmentLength = 8192;
}  // namespace

const char* to_string(ConnState s) {
    switch (s) {
        case ConnState::InLogin: return "in login";
        case ConnState::FullFeature: return "full feature";
        case ConnState::LoggingOut: return "logging out";
        case ConnState::Closed: return "closed";
    }
    return "?";
}

Connection::Connection(IscsiDriver& driver, std::shared_ptr<ByteStream> stream, Executor& executor,
                       Clock& clock, std::uint64_t id)
    : driver_(driver), stream_(std::move(stream)), executor_(executor), clock_(clock), id_(id),
      reader_([this](Pdu&& pdu, FrameError e) { return on_pdu(std::move(pdu), e); }) {
    reader_.set_max_data_segment_length(kLoginDataSegmentLength);
    reader_.set_placer([this](const Pdu& header) { return place_segment(header); });
}

Connection::~Connection() = default;

void Connection::start() {
    stream_->set_handler(std::weak_ptr<ByteStream::Handler>(shared_from_this()));
    std::weak_ptr<Connection> weak = shared_from_this();
    login_ = std::make_unique<Login>(*this);
    last_rx_ = clock_.now();
    // The whole login, from the connection on, within login_timeout: a login that
    // trickles in a byte at a time holds a pending-login slot no longer than that.
    login_timer_ = clock_.after(std::chrono::seconds(driver_.limits().login_timeout_s), [weak] {
        if (auto self = weak.lock(); self && self->state_ == ConnState::InLogin)
            self->close("login timed out");
    });
}

bool Connection::transition(ConnState next) {
    // RFC 3720 §7.1.3, for one connection per session at ERL 0:
    //   InLogin -> FullFeature | Closed;  FullFeature -> LoggingOut | Closed;
    //   LoggingOut -> Closed.
    const ConnState from = state_;
    const bool ok = (from == ConnState::InLogin && (next == ConnState::FullFeature || next == ConnState::Closed)) ||
                    (from == ConnState::FullFeature && (next == ConnState::LoggingOut || next == ConnState::Closed)) ||
                    (from == ConnState::LoggingOut && next == ConnState::Closed);
    if (!invariant(ok, nullptr, [&] { return std::string("connection state ") + to_string(from) + " -> " + to_string(next); }))
        return false;
    state_ = next;
    if (from == ConnState::InLogin) driver_.login_ended();
    return true;
}

void Connection::invariant_failed(const Task* t, const std::string& what) {
    if (t) return invariant_failed(t->itt, t->cmdsn, what);
    invariant_failed(pdu_itt_, pdu_cmdsn_, what);
}

void Connection::scsi_invariant_broken(std::uint32_t itt, std::uint32_t cmdsn, const std::string& what) {
    invariant_failed(itt, cmdsn, what);
}

void Connection::invariant_failed(std::optional<std::uint32_t> itt, std::optional<std::uint32_t> cmdsn,
                                  const std::string& what) {
    // Reported once per connection: what breaks after the first is its consequence.
    if (broken_) return;
    broken_ = true;
    InvariantSite site;
    site.connection = id_;
    site.peer = stream_->peer();
    site.cid = cid_;
    if (session_) {
        site.isid = session_->isid();
        site.tsih = session_->tsih();
    }
    site.itt = itt;
    site.cmdsn = cmdsn;
    driver_.invariant_failed(describe(site, what));
    if (state_ == ConnState::Closed) return;
    // Nothing more goes out or comes in (send, on_bytes); the connection closes once the
    // handler that found the fault has unwound, so no caller's state is pulled from
    // under it.
    std::weak_ptr<Connection> weak = weak_from_this();
    executor_.post([weak] {
        if (auto self = weak.lock()) self->close("invariant broken");
    });
}

void Connection::close(std::string_view reason) {
    if (state_ == ConnState::Closed) return;
    transition(ConnState::Closed);
    auto self = shared_from_this();  // keep alive through the cleanup
    std::string counted;
    static constexpr const char* kNoisy[] = {"commands outside the CmdSN window", "Data-Out PDUs rejected",
                                             "commands refused for the bound on data buffers",
                                             "Text Requests past the pace (input held)"};
    for (std::size_t k = 0; k < noisy_.size(); ++k)
        if (noisy_[k] > 1) counted += "; " + std::to_string(noisy_[k]) + " " + kNoisy[k];
    driver_.log("connection " + std::to_string(id_) + " (" + stream_->peer() + ") closed: " + std::string(reason) + counted);
    for (TimerId* t : {&nop_timer_, &rsp_timer_, &login_timer_})
        if (*t) {
            clock_.cancel(*t);
            *t = TimerId{};
        }
    // ERL 0: the tasks die with the connection. Those at the device finish there and
    // are dropped when they complete.
    for (auto& [itt, t] : tasks_) {
        t->aborted = true;
        if (t->cmd) t->cmd->aborted = true;
        if (t->phase != TaskPhase::Executing && session_ && !t->immediate) session_->command_ended();
        for (auto& fn : t->on_gone) fn();
        t->on_gone.clear();
    }
    tasks_.clear();
    held_.clear();
    stream_->set_handler({});
    stream_->close(reason);
    if (session_) {
        lose_nexus();
        driver_.remove_session(session_.get());
    }
    driver_.remove_connection(this);
}

void Connection::lose_nexus() {
    if (nexus_lost_ || !session_ || !session_->nexus() || !session_->target()) return;
    nexus_lost_ = true;
    // The nexus is gone: its pending unit attentions, its PREVENT MEDIUM REMOVAL and its
    // SPC-2 reservation go with it (SPC-4 §6.13, §6.17).
    auto luns = session_->target()->luns().luns_for(session_->nexus()->initiator_name);
    for (const auto& [n, e] : *luns) e.device->forget_nexus(session_->nexus()->id);
    session_->target()->luns().forget_nexus(session_->nexus()->id);
}

void Connection::on_closed(std::string_view reason) { close(reason); }

void Connection::on_bytes(std::span<const std::byte> bytes) {
    if (state_ == ConnState::Closed || broken_) return;
    last_rx_ = clock_.now();
    reader_.feed(bytes);
}

std::span<std::byte> Connection::receive_into() {
    if (state_ == ConnState::Closed || broken_) return {};
    return reader_.room();
}

void Connection::on_placed(std::size_t n) {
    if (state_ == ConnState::Closed || broken_) return;
    // ByteStream::Handler: a stream writes at most what receive_into() offered.
    const std::size_t room = reader_.room().size();
    if (!invariant(n <= room, nullptr, [&] {
            return "the stream placed " + std::to_string(n) + " bytes where " + std::to_string(room) + " were offered";
        }))
        return;
    last_rx_ = clock_.now();
    reader_.placed(n);
}

bool Connection::on_pdu(Pdu&& pdu, FrameError error) {
    if (state_ == ConnState::Closed) return false;
    switch (error) {
        case FrameError::none: break;
        case FrameError::header_digest:
            // RFC 3720 §6.7: a header digest error means the framing is lost; at ERL 0
            // the connection ends.
            close("header digest error");
            return false;
        case FrameError::data_digest:
            // RFC 3720 §6.7.2: Reject with Data-Digest-Error and discard. A command that
            // lost its immediate data cannot go on at ERL 0: drop the connection after.
            reject(pdu, RejectReason::DataDigestError);
            if (pdu.opcode() == Opcode::DataOut || pdu.opcode() == Opcode::ScsiCommand) {
                close("data digest error on SCSI data");
                return false;
            }
            return true;
        case FrameError::data_too_long:
            reject(pdu, RejectReason::ProtocolError);
            close("data segment longer than MaxRecvDataSegmentLength");
            return false;
    }
    // The PDU in hand, for an invariant that breaks while it is handled. Data-Out and
    // SNACK carry no CmdSN (RFC 3720 §10.7.1, §10.16): their task names it.
    const BhsView v{pdu.bhs};
    pdu_itt_ = v.itt();
    if (pdu.opcode() != Opcode::DataOut && pdu.opcode() != Opcode::Snack) pdu_cmdsn_ = ld32(pdu.bhs, 24);
    dispatch(pdu);
    pdu_itt_.reset();
    pdu_cmdsn_.reset();
    return state_ != ConnState::Closed && !broken_;
}

void Connection::dispatch(Pdu& pdu) {
    const std::uint8_t raw = pdu.view().opcode_raw();
    if (state_ == ConnState::InLogin) {
        if (pdu.opcode() == Opcode::LoginRequest) return handle_login(pdu);
        // RFC 3720 §5.3: only Login Requests until the login ends.
        return close(std::string("PDU ") + to_string(pdu.opcode()) + " during login");
    }
    if (state_ == ConnState::LoggingOut) return;  // RFC 3720 §10.14: nothing after Logout
    if (!is_initiator_opcode(raw)) {
        // RFC 3720 §10.17.1: an opcode we do not know gets Command Not Supported.
        return reject(pdu, RejectReason::CommandNotSupported);
    }
    switch (pdu.opcode()) {
        case Opcode::LoginRequest:
            // RFC 3720 §5.3: a Login Request in full feature phase is a protocol error.
            return reject(pdu, RejectReason::ProtocolError);
        case Opcode::DataOut:
            return handle_data_out(pdu);
        case Opcode::Snack:
            // ErrorRecoveryLevel 0: SNACK is not supported (RFC 3720 §10.16).
            return reject(pdu, RejectReason::CommandNotSupported);
        case Opcode::NopOut:
            // A reply to our ping (ITT 0xffffffff) carries no CmdSN to order.
            if (!numbered(pdu)) return handle_nop_out(pdu);
            return accept_numbered(std::move(pdu));
        default:
            if (!numbered(pdu)) {
                // RFC 3720 §3.2.2.1: an immediate command does not advance ExpCmdSN.
                if (defects::on(defects::Defect::expcmdsn_on_immediate) && pdu.opcode() == Opcode::TaskMgmtRequest &&
                    ld32(pdu.bhs, 24) == session_->exp_cmdsn())
                    session_->advance_exp_cmdsn();
                return process_in_order(pdu);
            }
            return accept_numbered(std::move(pdu));
    }
}

bool numbered(const Pdu& h) {
    if (h.view().immediate()) return false;
    switch (h.opcode()) {
        case Opcode::LoginRequest:
        case Opcode::DataOut:
        case Opcode::Snack:
            return false;
        case Opcode::NopOut:
            return NopOutPdu::decode(h.bhs).itt != kReservedTag;  // not an answer to our ping
        default:
            return is_initiator_opcode(h.view().opcode_raw());
    }
}

void Connection::accept_numbered(Pdu&& pdu) {
    const std::uint32_t cmdsn = ld32(pdu.bhs, 24);
    auto ignored = [&] {
        log_noisy(Noisy::CmdSnOutsideWindow, LogLevel::info,
                  "connection " + std::to_string(id_) + ": CmdSN " + std::to_string(cmdsn) + " outside the window [" +
                      std::to_string(session_->exp_cmdsn()) + ", " + std::to_string(session_->max_cmdsn()) + "], ignored");
    };
    // Outside the window when its header came (place_segment dropped its data): ignored,
    // whatever the window is now.
    if (pdu.data_discarded) return ignored();
    // RFC 3720 §3.2.2.1: MaxCmdSN = ExpCmdSN - 1 closes the window, and a command at
    // ExpCmdSN is then outside it like any other (ignored below), not the next to run.
    if (cmdsn == session_->exp_cmdsn() && session_->in_window(cmdsn)) {
        session_->advance_exp_cmdsn();
        if (pdu.opcode() != Opcode::ScsiCommand) session_->took_cmdsn_without_task();
        process_in_order(pdu);
        // Deliver what was held waiting for this one.
        while (state_ == ConnState::FullFeature) {
            auto it = held_.find(session_->exp_cmdsn());
            if (it == held_.end()) break;
            Pdu next = std::move(it->second);
            held_.erase(it);
            session_->advance_exp_cmdsn();
            if (next.opcode() != Opcode::ScsiCommand) session_->took_cmdsn_without_task();
            process_in_order(next);
        }
        return;
    }
    if (session_->in_window(cmdsn)) {
        // RFC 3720 §3.2.2.1: ahead of ExpCmdSN but in the window: hold it for its turn.
        held_.emplace(cmdsn, std::move(pdu));
        // Held commands are in the window, which is never wider than QueuedCommands.
        invariant(held_.size() <= session_->target_params().queued_commands, nullptr, [&] {
            return std::to_string(held_.size()) + " commands held ahead of ExpCmdSN " +
                   std::to_string(session_->exp_cmdsn()) + ", more than QueuedCommands";
        });
        return;
    }
    // RFC 3720 §3.2.2.1: outside [ExpCmdSN, MaxCmdSN]: silently ignored.
    ignored();
}

void Connection::log_noisy(Noisy kind, LogLevel level, const std::string& line) {
    // A peer that keeps sending what is ignored or refused (RFC 3720 §3.2.2.1: commands
    // outside the window are dropped silently) is read from less: 10 ms off per 1024,
    // so that a flood costs the others little of the reactor's time.
    const std::uint64_t n = ++noisy_[static_cast<std::size_t>(kind)];
    if (kind != Noisy::MemoryRefused && n % 1024 == 0) stream_->hold_input(std::chrono::milliseconds(10));
    if (n > 1) return;
    driver_.log(level, Trace::conn, line + " (more of this kind on this connection are counted, not logged)");
}

void Connection::process_in_order(Pdu& pdu) {
    if (!pdu.view().immediate() && !aborted_ahead_.empty() && pdu.opcode() == Opcode::ScsiCommand &&
        aborted_ahead_.erase(ld32(pdu.bhs, 24))) {
        // RFC 3720 §10.5.1: ABORT TASK named it before it arrived; it is not run.
        return;
    }
    switch (pdu.opcode()) {
        case Opcode::ScsiCommand: return handle_scsi_command(pdu);
        case Opcode::TaskMgmtRequest: return handle_tmf(pdu);
        case Opcode::TextRequest: return handle_text(pdu);
        case Opcode::LogoutRequest: return handle_logout(pdu);
        case Opcode::NopOut: return handle_nop_out(pdu);
        default: return reject(pdu, RejectReason::ProtocolError);
    }
}

// ---- sending ------------------------------------------------------------------------

void Connection::send(const Bhs& bhs, Slice data) {
    if (state_ == ConnState::Closed || broken_) return;
    stream_->send(frame_pdu(bhs, std::move(data), tx_digests_), {});
}

TargetSn Connection::status_sn() {
    // RFC 3720 §3.2.2.2: StatSN advances by one per status, and only here.
    invariant(stat_sn_ == next_status_sn_, nullptr, [&] {
        return "StatSN " + std::to_string(stat_sn_) + " for a status, the next is " + std::to_string(next_status_sn_);
    });
    TargetSn sn = current_sn();
    ++stat_sn_;
    if (defects::on(defects::Defect::skip_statsn) && ++defect_statuses_ % 97 == 0) ++stat_sn_;
    next_status_sn_ = stat_sn_;
    return sn;
}

TargetSn Connection::current_sn() {
    TargetSn sn;
    sn.statsn = stat_sn_;
    if (session_) {
        sn.expcmdsn = session_->exp_cmdsn();
        sn.maxcmdsn = session_->max_cmdsn();
        // RFC 3720 §3.2.2.1: MaxCmdSN >= ExpCmdSN - 1; neither goes back on a
        // connection; and the window is never wider than QueuedCommands.
        const std::uint32_t q = session_->target_params().queued_commands;
        invariant(sn_le(sn.expcmdsn - 1, sn.maxcmdsn) && sn.maxcmdsn - (sn.expcmdsn - 1) <= q &&
                      (!sent_window_ || (sn_le(sent_exp_cmdsn_, sn.expcmdsn) && sn_le(sent_max_cmdsn_, sn.maxcmdsn))),
                  nullptr, [&] {
                      return "CmdSN window ExpCmdSN " + std::to_string(sn.expcmdsn) + " MaxCmdSN " +
                             std::to_string(sn.maxcmdsn) + " (QueuedCommands " + std::to_string(q) +
                             (sent_window_ ? ") after ExpCmdSN " + std::to_string(sent_exp_cmdsn_) + " MaxCmdSN " +
                                                 std::to_string(sent_max_cmdsn_)
                                           : std::string(")"));
                  });
        sent_exp_cmdsn_ = sn.expcmdsn;
        sent_max_cmdsn_ = sn.maxcmdsn;
        sent_window_ = true;
    }
    return sn;
}

void Connection::reject(const Pdu& pdu, RejectReason reason) {
    RejectPdu r;
    r.reason = reason;
    r.sn = status_sn();
    // RFC 3720 §10.17: the data segment is the rejected PDU's header.
    Slice hdr = Slice::copy_of(pdu.bhs);
    send(r.encode(kBhsLength), std::move(hdr));
}

// ---- liveness -----------------------------------------------------------------------

void Connection::arm_timers() {
    const TargetParams& tp = session_->target_params();
    std::weak_ptr<Connection> weak = shared_from_this();
    if (tp.nop_in_interval_s > 0)
        nop_timer_ = clock_.after(std::chrono::seconds(tp.nop_in_interval_s), [weak] {
            if (auto self = weak.lock()) self->on_nop_timer();
        });
    rsp_timer_ = clock_.after(std::chrono::seconds(tp.rsp_timeout_s), [weak] {
        if (auto self = weak.lock()) self->on_rsp_timer();
    });
}

void Connection::on_nop_timer() {
    nop_timer_ = TimerId{};
    if (state_ != ConnState::FullFeature) return;
    const TargetParams& tp = session_->target_params();
    const Nanos interval = std::chrono::seconds(tp.nop_in_interval_s);
    if (!ping_ttt_ && clock_.now() - last_rx_ >= interval) {
        // An idle connection: ask the initiator whether it is still there.
        NopInPdu p;
        p.itt = kReservedTag;
        p.ttt = next_ttt_++;
        if (p.ttt == kReservedTag) p.ttt = next_ttt_++;
        p.lun = 0;
        p.sn = current_sn();
        ping_ttt_ = p.ttt;
        ping_sent_ = clock_.now();
        send(p.encode(0));
    }
    std::weak_ptr<Connection> weak = shared_from_this();
    nop_timer_ = clock_.after(interval, [weak] {
        if (auto self = weak.lock()) self->on_nop_timer();
    });
}

void Connection::on_rsp_timer() {
    rsp_timer_ = TimerId{};
    if (state_ != ConnState::FullFeature) return;
    const Nanos limit = std::chrono::seconds(session_->target_params().rsp_timeout_s);
    const Nanos now = clock_.now();
    // The oldest thing we wait on the initiator for: a NOP-In ping or Data-Out.
    std::optional<Nanos> oldest;
    if (ping_ttt_) oldest = ping_sent_;
    for (const auto& [itt, t] : tasks_) {
        // A task that ended has left the table (it holds its ITT and a CmdSN slot).
        if (!invariant(t->phase != TaskPhase::Done, t.get(), "a task that ended is still in the task table")) return;
        if (t->phase == TaskPhase::ReceivingData && (!oldest || t->waiting_since < *oldest))
            oldest = t->waiting_since;
    }
    if (oldest && now - *oldest > limit) {
        close("RspTimeout: the initiator did not answer in time");
        return;
    }
    // Look again just after the oldest wait runs out (or a full RspTimeout from now if
    // nothing is waited on), so a connection closes within a millisecond of its limit.
    const Nanos next = oldest ? *oldest + limit + std::chrono::milliseconds(1) - now : limit;
    std::weak_ptr<Connection> weak = shared_from_this();
    rsp_timer_ = clock_.after(next, [weak] {
        if (auto self = weak.lock()) self->on_rsp_timer();
    });
}

// ---- LoginEnv -------------------------------------------------------------------------

TargetLookup Connection::lookup_target(const std::string& name) {
    TargetLookup out;
    auto t = driver_.find_target(name);
    if (!t) return out;
    out.exists = true;
    out.enabled = t->enabled() && driver_.enabled();
    out.params = t->params();
    out.auth = t->credentials().config();
    return out;
}

AuthConfig Connection::discovery_auth() { return driver_.discovery_credentials().config(); }
Random& Connection::random() { return driver_.random(); }

TargetParams Connection::discovery_params() { return driver_.discovery_params(); }
std::uint16_t Connection::portal_group_tag() { return driver_.portal_group_tag(); }

}  // namespace iscsilab::iscsi
