// Task management (RFC 3720 §10.5, §10.6), NOP (§10.18, §10.19), Text (§10.10, §10.11),
// Logout (§10.14, §10.15), Reject (§10.17) and Asynchronous Messages (§10.9).
#include <algorithm>
#include <cstring>

#include "reports/checker/conn.hpp"

namespace iscsilab::checker {

namespace {
// RFC 3720 §10.5.1
constexpr std::uint8_t ABORT_TASK = 1, ABORT_TASK_SET = 2, CLEAR_TASK_SET = 4, LOGICAL_UNIT_RESET = 5,
                       TARGET_WARM_RESET = 6, TARGET_COLD_RESET = 7;
constexpr std::uint8_t FUNCTION_COMPLETE = 0;
}  // namespace

void check_tmf_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    initiator_cmdsn(w, c, p, nullptr);
    TmfState s;
    s.function = p.flags & 0x7f;
    s.referenced = p.f20;
    s.lun = p.lun;
    for (const auto& [itt, t] : c.tasks) {
        bool covered = false;
        switch (s.function) {
            case ABORT_TASK: covered = itt == s.referenced; break;
            case ABORT_TASK_SET:
            case CLEAR_TASK_SET:
            case LOGICAL_UNIT_RESET: covered = t.lun == s.lun; break;
            case TARGET_WARM_RESET:
            case TARGET_COLD_RESET: covered = true; break;
            default: break;
        }
        if (covered) s.covered.push_back(itt);
    }
    c.tmfs[p.itt] = std::move(s);
}

void check_tmf_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const std::uint8_t response = u8(p.bhs, 2);
    // RFC 3720 §10.6.1: 0-6 and 255.
    w.report(c, Rule::tmf_response_code, response <= 6 || response == 255, "response 0x%02x", response);
    auto it = c.tmfs.find(p.itt);
    if (c.phase != Phase::unknown)
        w.report(c, Rule::tmf_response_known, it != c.tmfs.end(), "TMF Response ITT 0x%x answers no TMF Request", p.itt);
    if (it != c.tmfs.end()) {
        // RFC 3720 §10.6.2 (SAM: the tasks a TMF ends are gone before its response):
        // from here on they get nothing more.
        if (response == FUNCTION_COMPLETE)
            for (std::uint32_t itt : it->second.covered)
                if (c.tasks.erase(itt)) c.aborted_tasks.insert(itt);
        c.tmfs.erase(it);
    }
    check_target_numbers(w, c, p, true, true);
}

void check_nop_out(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    initiator_cmdsn(w, c, p, nullptr);
    if (p.itt == RESERVED_TAG) {
        // RFC 3720 §10.18: a NOP-Out that wants no answer is an immediate command.
        w.report(c, Rule::nopout_reserved_itt_immediate, p.immediate, "NOP-Out with ITT 0xffffffff without the I bit");
    } else {
        c.pings[p.itt].assign(p.data.begin(), p.data.end());
    }
    if (p.ttt() != RESERVED_TAG) {
        // RFC 3720 §10.18.2: the answer to a target's ping names its TTT.
        w.report(c, Rule::nopout_ttt_echo, c.target_pings.erase(p.ttt()) > 0, "NOP-Out TTT 0x%x answers no NOP-In", p.ttt());
    }
}

void check_nop_in(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    if (p.itt != RESERVED_TAG) {
        auto it = c.pings.find(p.itt);
        if (c.phase != Phase::unknown || it != c.pings.end())
            w.report(c, Rule::nopin_reply, it != c.pings.end() && p.ttt() == RESERVED_TAG,
                     "NOP-In ITT 0x%x TTT 0x%x: no such ping, or TTT not 0xffffffff", p.itt, p.ttt());
        if (it != c.pings.end()) {
            // RFC 3720 §10.19: the ping data comes back (up to the initiator's MaxRecvDataSegmentLength).
            const std::size_t want = std::min<std::size_t>(it->second.size(), c.neg.mrdsl_initiator);
            w.report(c, Rule::nopin_echo_data,
                     p.data.size() == want && std::equal(p.data.begin(), p.data.end(), it->second.begin()),
                     "%zu bytes of ping data returned, %zu sent", p.data.size(), it->second.size());
            c.pings.erase(it);
        }
        check_target_numbers(w, c, p, true, true);
        return;
    }
    // RFC 3720 §10.19: an unsolicited NOP-In carries no data and does not advance StatSN.
    w.report(c, Rule::nopin_unsolicited_empty, p.data_segment_length == 0, "unsolicited NOP-In with %u data bytes",
             p.data_segment_length);
    if (p.ttt() != RESERVED_TAG) c.target_pings.insert(p.ttt());
    check_target_numbers(w, c, p, false, true);
}

void check_text_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    initiator_cmdsn(w, c, p, nullptr);
    const bool final = p.flags & 0x80, cont = p.flags & 0x40;
    w.report(c, Rule::text_c_f_exclusive, !(final && cont), "Text Request with F and C both set");
    if (p.ttt() != RESERVED_TAG) {
        auto it = c.text_ttt.find(p.itt);
        w.report(c, Rule::text_ttt_echo, it != c.text_ttt.end() && it->second == p.ttt(),
                 "Text Request TTT 0x%x continues no Text Response of ITT 0x%x", p.ttt(), p.itt);
    }
    c.text_pending.insert(p.itt);
}

void check_text_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const bool final = p.flags & 0x80, cont = p.flags & 0x40;
    w.report(c, Rule::text_c_f_exclusive, !(final && cont), "Text Response with F and C both set");
    if (c.phase != Phase::unknown)
        w.report(c, Rule::text_rsp_itt, c.text_pending.count(p.itt) > 0, "Text Response ITT 0x%x answers no Text Request", p.itt);
    // RFC 3720 §10.11.4: the last response of an exchange has TTT 0xffffffff; one that
    // has more to say gives a TTT for the initiator to continue with.
    if (final)
        w.report(c, Rule::text_ttt, p.ttt() == RESERVED_TAG, "final Text Response with TTT 0x%x", p.ttt());
    else
        w.report(c, Rule::text_ttt, p.ttt() != RESERVED_TAG, "Text Response with F=0 and TTT 0xffffffff");
    if (final) {
        c.text_ttt.erase(p.itt);
        c.text_pending.erase(p.itt);
    } else {
        c.text_ttt[p.itt] = p.ttt();
    }
    check_target_numbers(w, c, p, true, true);
}

void check_logout_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    initiator_cmdsn(w, c, p, nullptr);
    // Reason 0 closes the session; reason 1 the connection the CID names, which may be
    // another one (RFC 3720 §10.14.1).
    const std::uint8_t reason = p.flags & 0x7f;
    const bool closes_this = reason == 0 || (reason == 1 && (!c.cid || be16(p.bhs, 20) == *c.cid));
    c.logouts[p.itt] = closes_this ? 1 : 0;
}

void check_logout_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const std::uint8_t response = u8(p.bhs, 2);
    auto it = c.logouts.find(p.itt);
    if (c.phase != Phase::unknown)
        w.report(c, Rule::logout_rsp_itt, it != c.logouts.end(), "Logout Response ITT 0x%x answers no Logout Request", p.itt);
    // RFC 3720 §10.15.1: 0 closed, 1 CID not found, 2 recovery not supported, 3 cleanup failed.
    w.report(c, Rule::logout_rsp_code, response <= 3, "response 0x%02x", response);
    check_target_numbers(w, c, p, true, true);
    // A Logout that closes the session or this very connection ends it.
    if (it != c.logouts.end() && response == 0 && it->second == 1) c.phase = Phase::closing;
    if (it != c.logouts.end()) c.logouts.erase(it);
}

void check_reject(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const std::uint8_t reason = u8(p.bhs, 2);
    // RFC 3720 §10.17.1: reasons 0x02-0x0c.
    w.report(c, Rule::reject_reason, reason >= 0x02 && reason <= 0x0c, "reason 0x%02x", reason);
    w.report(c, Rule::reject_itt, p.itt == RESERVED_TAG, "Reject with ITT 0x%x", p.itt);
    w.report(c, Rule::reject_header, p.data_segment_length >= BHS_LENGTH, "Reject carries %u bytes, not a whole header",
             p.data_segment_length);
    if (p.data_segment_length >= BHS_LENGTH) {
        const bool sent = std::any_of(c.recent_headers.begin(), c.recent_headers.end(), [&](const auto& h) {
            return std::memcmp(h.data(), p.data.data(), BHS_LENGTH) == 0;
        });
        if (c.phase != Phase::unknown)
            w.report(c, Rule::reject_real_pdu, sent, "the rejected header (opcode 0x%02x ITT 0x%x) is none the initiator sent",
                     u8(p.data, 0) & 0x3f, be32(p.data, 16));
        // A rejected command will get no other answer.
        if ((u8(p.data, 0) & 0x3f) == op::SCSI_CMD) {
            c.tasks.erase(be32(p.data, 16));
        }
    }
    if (c.phase == Phase::full_feature || c.phase == Phase::unknown) check_target_numbers(w, c, p, true, true);
}

void check_async(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    w.report(c, Rule::async_itt, p.itt == RESERVED_TAG, "Asynchronous Message with ITT 0x%x", p.itt);
    const std::uint8_t event = u8(p.bhs, 36);
    // RFC 3720 §10.9.1: events 0-4 and 255 (vendor specific).
    w.report(c, Rule::async_event, event <= 4 || event == 255, "AsyncEvent %u", event);
    check_target_numbers(w, c, p, true, true);
}

}  // namespace iscsilab::checker
