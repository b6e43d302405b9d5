// Text Request with SendTargets and full-feature negotiation (RFC 3720 §10.10-10.11,
// appendix D), NOP-Out (§10.18) and Logout (§10.14).
#include "target/iscsi/connection.hpp"
#include "target/iscsi/driver.hpp"

namespace iscsilab::iscsi {

namespace {
Bytes to_bytes(std::string_view s) {
    const auto* first = reinterpret_cast<const std::byte*>(s.data());
    return Bytes(first, first + s.size());
}
}  // namespace

void Connection::send_text_part(std::uint32_t itt, std::uint64_t lun) {
    const std::uint32_t limit = std::max<std::uint32_t>(session_->params().max_xmit_data_segment_length, 512);
    TextResponsePdu r;
    r.itt = itt;
    r.lun = lun;
    std::string part;
    if (text_pending_.size() > limit) {
        // RFC 3720 §10.11.2: C=1, F=0 and a Target Transfer Tag for the rest.
        part = text_pending_.substr(0, limit);
        text_pending_.erase(0, limit);
        r.final_bit = false;
        r.continue_bit = true;
        text_ttt_ = next_ttt_++;
        if (text_ttt_ == kReservedTag) text_ttt_ = next_ttt_++;
        r.ttt = text_ttt_;
    } else {
        part = std::move(text_pending_);
        text_pending_.clear();
        text_ttt_ = kReservedTag;
    }
    r.sn = status_sn();
    Bytes data = to_bytes(part);
    const auto dsl = static_cast<std::uint32_t>(data.size());
    send(r.encode(dsl), Slice::own(std::move(data)));
}

void Connection::handle_text(Pdu& pdu) {
    const auto req = TextRequestPdu::decode(pdu.bhs);
    // RFC 3720 §10.10.2 lets a request continue without end (C=1), each part answered;
    // §10.10.4's continuation of a response likewise. This one is answered, and the
    // connection's input waits until the pace allows the next.
    if (const Nanos wait = text_pace_.take(clock_.now()); wait > Nanos{0}) {
        log_noisy(Noisy::TextPaced, LogLevel::info,
                  "connection " + std::to_string(id_) + ": Text Requests past " + std::to_string(kTextPerSecond) +
                      " a second; its input is held");
        stream_->hold_input(wait);
    }
    if (req.ttt != kReservedTag) {
        // The initiator asks for the rest of a long response.
        if (req.ttt != text_ttt_ || text_pending_.empty()) return reject(pdu, RejectReason::InvalidPduField);
        return send_text_part(req.itt, req.lun);
    }
    text_in_.insert(text_in_.end(), pdu.data.begin(), pdu.data.end());
    if (text_in_.size() > 65536) {
        text_in_.clear();
        return reject(pdu, RejectReason::ProtocolError);
    }
    if (req.continue_bit) {
        // More of the request follows: an empty response with F=0 (RFC 3720 §10.10.3).
        TextResponsePdu r;
        r.itt = req.itt;
        r.lun = req.lun;
        r.final_bit = false;
        r.ttt = next_ttt_++;
        r.sn = status_sn();
        return send(r.encode(0));
    }
    ParsedText text = parse_text(text_in_);
    text_in_.clear();
    if (text.error != TextError::none) return reject(pdu, RejectReason::ProtocolError);

    std::vector<KeyValue> answers;
    std::vector<KeyValue> negotiate;
    for (const auto& kv : text.pairs) {
        if (kv.key != "SendTargets") {
            negotiate.push_back(kv);
            continue;
        }
        // RFC 3720 appendix D: All lists every target (discovery sessions); an empty
        // value or a name lists that one.
        std::vector<std::shared_ptr<TargetNode>> list;
        if (kv.value == "All") {
            if (session_->discovery()) {
                for (const auto& t : driver_.targets())
                    if (t->enabled()) list.push_back(t);
            } else {
                list.push_back(session_->target());
            }
        } else if (kv.value.empty()) {
            if (session_->discovery()) {
                answers.push_back({"SendTargets", "Reject"});
                continue;
            }
            list.push_back(session_->target());
        } else if (auto t = driver_.find_target(kv.value); t && t->enabled()) {
            if (session_->discovery() || t == session_->target()) list.push_back(t);
        }
        for (const auto& t : list) {
            answers.push_back({"TargetName", t->name()});
            answers.push_back({"TargetAddress", stream_->local() + "," + std::to_string(driver_.portal_group_tag())});
        }
    }
    if (!negotiate.empty()) {
        TargetParams tp = session_->target_params();
        Negotiator n(tp);
        auto out = n.negotiate(negotiate, true);
        for (auto& a : out.answers) answers.push_back(a);
        // A new MaxRecvDataSegmentLength from the initiator would change our Data-In
        // size mid-session; iSCSI-SCST, like us, keeps the login's value.
    }
    text_pending_ = encode_text(answers);
    send_text_part(req.itt, req.lun);
}

void Connection::handle_nop_out(Pdu& pdu) {
    const auto n = NopOutPdu::decode(pdu.bhs);
    if (n.itt == kReservedTag) {
        // A reply to our NOP-In ping (RFC 3720 §10.18.2): nothing to answer.
        if (ping_ttt_ && n.ttt == *ping_ttt_) ping_ttt_.reset();
        return;
    }
    // RFC 3720 §12.12: nothing we send may exceed the initiator's
    // MaxRecvDataSegmentLength, and §10.19 wants the ping's data back whole: a ping we
    // could not echo within the initiator's own limit is a protocol error (as Linux's
    // target answers it), not an echo cut short or sent too long. Our own
    // MaxXmitDataSegmentLength sizes Data-In; an echo within the initiator's limit goes
    // back whole. Found by the swarm.
    if (pdu.data.size() > session_->params().initiator_max_recv_data_segment_length)
        return reject(pdu, RejectReason::ProtocolError);
    // RFC 3720 §10.19: the ping is answered with its own ITT and data.
    NopInPdu r;
    r.lun = n.lun;
    r.itt = n.itt;
    r.ttt = kReservedTag;
    r.sn = status_sn();
    const auto dsl = static_cast<std::uint32_t>(pdu.data.size());
    send(r.encode(dsl), Slice::own(std::move(pdu.data)));
}

void Connection::handle_logout(Pdu& pdu) {
    const auto l = LogoutRequestPdu::decode(pdu.bhs);
    LogoutResponseCode code = LogoutResponseCode::Success;
    if (l.reason == LogoutReason::RemoveConnectionForRecovery)
        code = LogoutResponseCode::RecoveryNotSupported;  // ERL 0 (RFC 3720 §10.15.1)
    else if (l.reason == LogoutReason::CloseConnection && l.cid != cid_)
        code = LogoutResponseCode::CidNotFound;
    else if (l.reason != LogoutReason::CloseSession && l.reason != LogoutReason::CloseConnection)
        return reject(pdu, RejectReason::InvalidPduField);

    std::weak_ptr<Connection> weak = shared_from_this();
    const std::uint32_t itt = l.itt;
    auto respond = [weak, itt, code] {
        auto self = weak.lock();
        if (!self || self->state_ == ConnState::Closed || self->broken_) return;
        LogoutResponsePdu r;
        r.response = code;
        r.itt = itt;
        r.time2wait = static_cast<std::uint16_t>(self->session_->params().default_time2wait);
        r.time2retain = 0;
        r.sn = self->status_sn();
        const bool closing = code == LogoutResponseCode::Success;
        // RFC 3720 §10.14: the session (one connection at ERL 0) ends with this logout. The
        // nexus is lost before the response leaves, not after: an initiator that logs in
        // again at once must not find the old nexus's PREVENT or reservation still held.
        if (closing) self->lose_nexus();
        self->stream_->send(frame_pdu(r.encode(), {}, self->tx_digests_), [weak, closing] {
            if (!closing) return;
            if (auto s = weak.lock()) s->executor_.post([weak] {
                if (auto s2 = weak.lock()) s2->close("logout");
            });
        });
    };
    if (code != LogoutResponseCode::Success) return respond();

    // RFC 3720 §10.14: the session's tasks end; the response follows once they have.
    if (!transition(ConnState::LoggingOut)) return;
    std::vector<std::shared_ptr<Task>> all;
    for (auto& [tag, t] : tasks_) {
        // A task that ended has left the table (it holds its ITT and a CmdSN slot).
        if (!invariant(t->phase != TaskPhase::Done, t.get(), "a task that ended is still in the task table at logout"))
            return;
        all.push_back(t);
    }
    for (auto& t : all) abort(t);
    after_tasks_end(all, respond);
}

}  // namespace iscsilab::iscsi
