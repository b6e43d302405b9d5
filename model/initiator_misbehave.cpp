// The initiator model misbehaving on purpose (a broken or hostile initiator, the fault
// kind `misbehave`), its NOP-Out pings, and the checks of what the target answers:
// RFC 3720 says what each broken rule must get, and anything else is an error.
#include <algorithm>

#include "model/initiator.hpp"
#include "target/bytes.hpp"

namespace iscsilab::model {

using namespace iscsilab::iscsi;
using detail::hex;
using detail::text_of;

namespace {
// What this initiator declared it can receive (RFC 3720 §12.12; 8192 when undeclared).
std::uint32_t own_mrdsl(const InitiatorConfig& cfg) {
    for (const auto& kv : cfg.keys)
        if (kv.key == "MaxRecvDataSegmentLength")
            if (auto n = parse_number(kv.value)) return static_cast<std::uint32_t>(*n);
    return 8192;
}
}  // namespace

bool Initiator::misbehave(Misbehavior what) {
    if (phase_ != Phase::Running || recovering_ || frozen_) return false;
    switch (what) {
        case Misbehavior::past_maxcmdsn:
            // Done once the workload is idle: only then is the target's window exactly
            // what its last PDU said, so MaxCmdSN + 1 is outside it for certain.
            at_idle_.push_back(what);
            return true;
        case Misbehavior::dup_cmdsn:
            // The CmdSN of the last command sent: the target has it already (TCP keeps
            // order), in flight or done. RFC 3720 §3.2.2.1: "non-immediate duplicates"
            // and numbers below ExpCmdSN are silently ignored.
            send_ignored_command(cmdsn_ - 1, "dup_cmdsn");
            return true;
        case Misbehavior::nop_ping:
            // Pings while busy: one immediate, one numbered when the window has room;
            // more once idle.
            send_ping(true, "nop_pings_echoed");
            if (sn_le(cmdsn_, maxcmdsn_)) send_ping(false, "nop_pings_echoed");
            at_idle_.push_back(what);
            return true;
        case Misbehavior::excess_data_out: excess_next_r2t_ = true; return true;
        case Misbehavior::text_midway: text_midway_ = true; return true;
        case Misbehavior::logout_midway_data: logout_midway_data_ = true; return true;
    }
    return false;
}

bool Initiator::nop_storm(std::uint32_t count) {
    if (phase_ != Phase::Running || recovering_ || frozen_) return false;
    // Immediate pings, back to back: each must be echoed (RFC 3720 §10.19), or refused
    // with Reject reason 0x06 (§10.17.1: too many immediate commands).
    for (std::uint32_t k = 0; k < count; ++k) send_ping(true, "nop_storm_echoed");
    return true;
}

void Initiator::send_ping(bool immediate, std::string seen) {
    // RFC 3720 §10.18: a NOP-Out with a valid ITT asks for a NOP-In; immediate, it
    // carries the current CmdSN without taking it; numbered, it takes one.
    NopOutPdu o;
    o.immediate = immediate;
    o.itt = itt_++;
    o.ttt = kReservedTag;
    o.lun = 0;
    o.cmdsn = immediate ? cmdsn_ : cmdsn_++;
    o.expstatsn = expstatsn_;
    // Ping data: a pattern from the ITT (no random stream moves), up to 1 KiB, within
    // what the target takes.
    const std::uint32_t len = std::min<std::uint32_t>(4 + (o.itt * 37) % 1021, target_mrdsl_);
    Bytes data(len);
    for (std::uint32_t i = 0; i < len; ++i) data[i] = static_cast<std::byte>((o.itt * 131 + i * 7) & 0xff);
    pings_[o.itt] = Ping{data, std::move(seen)};
    send_pdu(o.encode(len), std::move(data));
}

void Initiator::on_nop_in(Pdu& pdu) {
    auto n = NopInPdu::decode(pdu.bhs);
    check_sn(n.sn, n.itt != kReservedTag, "NOP-In");
    if (n.itt != kReservedTag) {
        auto it = pings_.find(n.itt);
        if (it == pings_.end()) return error("NOP-In with ITT " + hex(n.itt) + ", which no ping of ours had");
        // RFC 3720 §10.19: the answer has TTT 0xffffffff and returns the ping's data, up
        // to this initiator's MaxRecvDataSegmentLength.
        const Bytes& sent = it->second.data;
        const std::size_t want = std::min<std::size_t>(sent.size(), own_mrdsl(cfg_));
        if (n.ttt != kReservedTag)
            error("NOP-In answering ping " + hex(n.itt) + " with TTT " + hex(n.ttt) + " (RFC 3720 §10.19 wants 0xffffffff)");
        else if (pdu.data.size() != want || !std::equal(pdu.data.begin(), pdu.data.end(), sent.begin()))
            error("NOP-In answering ping " + hex(n.itt) + " returned " + std::to_string(pdu.data.size()) + " bytes, not the " +
                  std::to_string(want) + " it was sent (RFC 3720 §10.19)");
        else
            ++stats_.seen[it->second.seen];
        pings_.erase(it);
        return maybe_finish();
    }
    if (n.ttt != kReservedTag) {
        // RFC 3720 §10.19: a ping from the target is answered with its TTT.
        NopOutPdu o;
        o.immediate = true;
        o.itt = kReservedTag;
        o.ttt = n.ttt;
        o.lun = n.lun;
        o.cmdsn = cmdsn_;
        o.expstatsn = expstatsn_;
        ++stats_.nop_in_answered;
        send_pdu(o.encode(0));
    }
}

void Initiator::on_reject(Pdu& pdu) {
    auto r = RejectPdu::decode(pdu.bhs);
    check_sn(r.sn, true, "Reject");
    // A data digest error is the link's doing (a fault), not a protocol error:
    // the target drops the connection after it and the session recovers.
    if (r.reason == RejectReason::DataDigestError) return;
    // A Reject of a PDU of ours that was whole (an oversized ping, excess Data-Out) is
    // judged below; any other Reject after a header that failed its digest is wrong.
    const auto corrupt_header_rejected = [&] {
        return error("a Reject (reason " + hex(static_cast<std::uint8_t>(r.reason)) +
                     ") after a header that failed its digest: RFC 3720 §6.7 says discard it or close the connection");
    };
    if (pdu.data.size() >= kBhsLength) {
        // RFC 3720 §10.17: the data segment is the header of the PDU rejected.
        const auto opcode = static_cast<Opcode>(ld8(pdu.data, 0) & 0x3f);
        const std::uint32_t itt = ld32(pdu.data, 16);
        if (opcode == Opcode::DataOut) {
            auto it = ops_.find(itt);
            if (it != ops_.end() && it->second->excess &&
                (r.reason == RejectReason::ProtocolError || r.reason == RejectReason::InvalidPduField)) {
                // Data-Out past the R2T's range may be rejected; the task itself must still
                // end with a response (RFC 3720 §10.17.1), checked when it comes.
                ++stats_.seen["excess_rejected"];
                return;
            }
        }
        if (opcode == Opcode::NopOut && r.reason == RejectReason::ProtocolError) {
            if (auto p = pings_.find(itt); p != pings_.end() && p->second.data.size() > own_mrdsl(cfg_)) {
                // RFC 3720 §12.12 and §10.19: ping data longer than our own
                // MaxRecvDataSegmentLength cannot come back whole; refusing it is right.
                pings_.erase(p);
                ++stats_.seen["nop_too_long_rejected"];
                return maybe_finish();
            }
        }
        if (opcode == Opcode::NopOut && r.reason == RejectReason::ImmediateCommandReject) {
            if (auto p = pings_.find(itt); p != pings_.end()) {
                // RFC 3720 §10.17.1: too many immediate commands; a refusal is an answer.
                pings_.erase(p);
                ++stats_.seen["nop_rejected"];
                return maybe_finish();
            }
        }
    }
    if (bhs_sent_corrupt_) return corrupt_header_rejected();
    return error("target rejected a PDU, reason " + hex(static_cast<std::uint8_t>(r.reason)));
}

void Initiator::send_ignored_command(std::uint32_t cmdsn, const char* what) {
    // TEST UNIT READY: no data either way, so a wrong answer is only its status.
    ScsiCommandPdu c;
    c.itt = itt_++;
    c.cmdsn = cmdsn;
    c.expstatsn = expstatsn_;
    c.lun = (std::uint64_t{cfg_.lun} << 48);
    c.attr = TaskAttr::Simple;
    c.final_bit = true;
    ignored_[c.itt] = what;
    send_pdu(c.encode(0));
}

bool Initiator::answered_ignored(std::uint32_t itt, const char* what) {
    auto it = ignored_.find(itt);
    if (it == ignored_.end()) return false;
    error(std::string("the target answered (") + what + ") a command it must ignore silently (" + it->second +
          ", CmdSN outside the window or a duplicate: RFC 3720 §3.2.2.1)");
    ignored_.erase(it);
    return true;
}

void Initiator::check_ignored_at_logout() {
    // The session ends with no answer to any of them: they were ignored.
    for (const auto& [itt, what] : ignored_) ++stats_.seen[what + "_ignored"];
    ignored_.clear();
}

bool Initiator::run_idle_misbehaviors() {
    if (past_max_ready_) {
        // The window is known exactly now (the ping's NOP-In carried it) and nothing is
        // in flight: MaxCmdSN + 1 lies outside it. A ping after it is answered only once
        // the target has seen (and, per RFC 3720 §3.2.2.1, dropped) the command.
        past_max_ready_ = false;
        send_ignored_command(maxcmdsn_ + 1, "past_maxcmdsn");
        send_ping(true, "nop_pings_echoed");
        return true;
    }
    while (!at_idle_.empty()) {
        const Misbehavior what = at_idle_.front();
        at_idle_.erase(at_idle_.begin());
        switch (what) {
            case Misbehavior::past_maxcmdsn:
                // First a ping, whose NOP-In brings the window up to date.
                send_ping(true, "nop_pings_echoed");
                past_max_ready_ = true;
                return true;
            case Misbehavior::nop_ping:
                // Idle pings: immediate and numbered.
                send_ping(true, "nop_pings_echoed");
                if (sn_le(cmdsn_, maxcmdsn_)) send_ping(false, "nop_pings_echoed");
                return true;
            default: break;
        }
    }
    return false;
}

void Initiator::midway(Op& op) {
    if (phase_ != Phase::Running || recovering_) return;
    if (text_midway_ && midway_text_itt_ == 0) {
        // RFC 3720 §10.10: a Text Request is a task of its own; between two Data-Outs of
        // a write it must get its answer and leave the write alone. Numbered when the
        // window has room, immediate otherwise.
        text_midway_ = false;
        TextRequestPdu t;
        t.itt = midway_text_itt_ = itt_++;
        t.immediate = !sn_le(cmdsn_, maxcmdsn_);
        t.cmdsn = t.immediate ? cmdsn_ : cmdsn_++;
        t.expstatsn = expstatsn_;
        Bytes q = text_of({{"SendTargets", "All"}});
        const auto dsl = static_cast<std::uint32_t>(q.size());
        send_pdu(t.encode(dsl), std::move(q));
    }
    if (logout_midway_data_ && op.kind == Op::Kind::write) {
        // RFC 3720 §10.14: a Logout ends every task of the session, this write too,
        // whose data is only part sent; the rest of its Data-Out still follows (no new
        // request, just data the target must now drop).
        logout_midway_data_ = false;
        op.cut_by_logout = true;
        logout_cut_itt_ = op.itt;
        relogin_ = true;
        logout();
    }
}

void Initiator::check_excess_outcome(std::shared_ptr<Op> op, std::uint8_t status, std::span<const std::byte> sense) {
    const detail::SenseCode sc = detail::sense_code(sense);
    // The device failed it, or a unit attention: not about the extra data.
    if (status == 0x02 && (sc.key == 0x6 || sc.key == 0x2 || sc.key == 0x3 || sc.key == 0x4)) {
        op->excess = false;
        return complete(op, status, sense);
    }
    // RFC 3720 §10.4.7.2: "the same error" as for unsolicited data of the wrong amount,
    // "when the amount of data sent as a reply to an R2T does not match the amount
    // requested": CHECK CONDITION, ABORTED COMMAND, ASC/ASCQ 0x0C/0x0D (incorrect amount
    // of data). And §10.17.1: a Reject of the Data-Out does not end the task.
    if (status == 0x02 && sc.key == 0x0b && sc.asc == 0x0c && sc.ascq == 0x0d)
        ++stats_.seen["excess_data_out"];
    else
        error("write " + hex(op->itt) + " answered its R2T with more data than asked for, and ended with status " + hex(status) +
              " sense key " + std::to_string(sc.key) + " ASC " + hex(static_cast<std::uint32_t>(sc.asc)) + "/" +
              hex(static_cast<std::uint32_t>(sc.ascq)) +
              " (RFC 3720 §10.4.7.2: CHECK CONDITION, ABORTED COMMAND, incorrect amount of data 0x0C/0x0D)");
    // What reached the medium, if anything, is unknown.
    unknown(op->lba, op->blocks);
    ++completed_;
    maybe_finish();
}

}  // namespace iscsilab::model
