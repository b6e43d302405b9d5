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
    if (c.discovery) c.discovery_bad.insert(p.itt);
    if (s.function == ABORT_TASK) {
        s.names_tmf = c.tmfs.count(s.referenced) > 0;
        // RFC 3720 §10.5.4: RefCmdSN names the task's CmdSN, or the TMF's own for an
        // immediate task.
        auto t = c.tasks.find(s.referenced);
        // RFC 3720 §10.6.1: a tag the target never saw, whose RefCmdSN is outside the
        // window, names no task the target could have: Task does not exist.
        if (t == c.tasks.end() && c.phase == Phase::full_feature && !c.ended_tasks.count(s.referenced) &&
            !c.aborted_tasks.count(s.referenced) && c.exp_cmdsn && c.max_cmdsn) {
            const Serial ref{p.f32};
            s.unknown_outside_window = ref < *c.exp_cmdsn || ref > *c.max_cmdsn;
        }
        if (t != c.tasks.end()) {
            if (t->second.immediate)
                w.report(c, Rule::refcmdsn_immediate, p.f32 == p.cmdsn(), "RefCmdSN %u for an immediate task, the TMF's CmdSN is %u",
                         p.f32, p.cmdsn());
            else
                w.report(c, Rule::refcmdsn_queued, p.f32 == t->second.cmdsn.v, "RefCmdSN %u, the task's CmdSN is %u", p.f32,
                         t->second.cmdsn.v);
        }
    }
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
    // A task-set-wide function may act before its response comes back (or never comes
    // back: the connection may drop): from its request on, any open task may be gone.
    if (s.function >= CLEAR_TASK_SET && s.function <= TARGET_COLD_RESET) ++w.reset_epoch(c.target);
    c.tmfs[p.itt] = std::move(s);
}

void check_tmf_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const std::uint8_t response = u8(p.bhs, 2);
    // RFC 3720 §10.6.1: 0-6 and 255.
    w.report(c, Rule::tmf_response_code, response <= 6 || response == 255, "response 0x%02x", response);
    // RFC 3720 §10.6: byte 1 is F alone; no AHS and no data.
    w.report(c, Rule::tmf_final, p.flags == 0x80, "byte 1 of a TMF Response is 0x%02x", p.flags);
    w.report(c, Rule::tmf_no_data, p.total_ahs_length == 0 && p.data_segment_length == 0, "TMF Response with AHS %u words and %u data bytes",
             p.total_ahs_length, p.data_segment_length);
    if (c.discovery_bad.count(p.itt))
        w.report(c, Rule::discovery_rejects, false, "a TMF Response in a discovery session, not a Reject");
    auto it = c.tmfs.find(p.itt);
    if (it != c.tmfs.end() && it->second.function == ABORT_TASK) {
        if (it->second.names_tmf) {
            w.report(c, Rule::abort_of_tmf, response == 255, "ABORT TASK of a TMF answered 0x%02x", response);
        } else if (it->second.unknown_outside_window) {
            w.report(c, Rule::abort_unknown_outside, response == 1, "ABORT TASK of unknown ITT 0x%x (RefCmdSN outside the window) answered 0x%02x",
                     it->second.referenced, response);
        } else if (auto open = c.tasks.find(it->second.referenced);
                   open != c.tasks.end() && open->second.reset_epoch == w.reset_epoch(c.target)) {
            // RFC 3720 §10.6.1: the task is still open now, so it existed: Function complete.
            w.report(c, Rule::abort_live, response == FUNCTION_COMPLETE, "ABORT TASK of open ITT 0x%x answered 0x%02x",
                     it->second.referenced, response);
        }
    }
    if (c.phase != Phase::unknown)
        w.report(c, Rule::tmf_response_known, it != c.tmfs.end(), "TMF Response ITT 0x%x answers no TMF Request", p.itt);
    if (it != c.tmfs.end()) {
        // RFC 3720 §10.6.2 (SAM: the tasks a TMF ends are gone before its response):
        // from here on they get nothing more.
        if (response == FUNCTION_COMPLETE && it->second.function >= CLEAR_TASK_SET && it->second.function <= TARGET_COLD_RESET)
            ++w.reset_epoch(c.target);
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
        // RFC 3720 §10.18.2: the answer to a target's ping names its TTT and LUN.
        auto ping = c.target_pings.find(p.ttt());
        if (c.phase != Phase::unknown || ping != c.target_pings.end())
            w.report(c, Rule::nopout_ttt_echo, ping != c.target_pings.end(), "NOP-Out TTT 0x%x answers no NOP-In", p.ttt());
        if (ping != c.target_pings.end()) {
            w.report(c, Rule::nopout_lun, p.lun == ping->second, "NOP-Out LUN 0x%llx, the NOP-In had 0x%llx",
                     static_cast<unsigned long long>(p.lun), static_cast<unsigned long long>(ping->second));
            c.target_pings.erase(ping);
        }
    }
}

void check_nop_in(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    if (p.itt != RESERVED_TAG) {
        auto it = c.pings.find(p.itt);
        // RFC 3720 §10.19: a NOP-In with an ITT answers that ping, with TTT 0xffffffff; one
        // that answers none carries ITT 0xffffffff.
        if (c.phase != Phase::unknown || it != c.pings.end())
            w.report(c, Rule::nopin_unsolicited_itt, it != c.pings.end(), "NOP-In ITT 0x%x answers no NOP-Out", p.itt);
        if (it != c.pings.end()) {
            w.report(c, Rule::nopin_reply, p.ttt() == RESERVED_TAG, "NOP-In answering ITT 0x%x with TTT 0x%x", p.itt, p.ttt());
            w.report(c, Rule::nopin_ttt_reply, p.ttt() == RESERVED_TAG, "NOP-In answering ITT 0x%x with TTT 0x%x", p.itt, p.ttt());
            // RFC 3720 §10.19: the ping data comes back (up to the initiator's MaxRecvDataSegmentLength).
            const std::size_t want = std::min<std::size_t>(it->second.size(), c.neg.mrdsl_initiator);
            w.report(c, Rule::nopin_echo_data,
                     p.data.size() == want && std::equal(p.data.begin(), p.data.end(), it->second.begin()),
                     "%zu bytes of ping data returned, %zu sent", p.data.size(), it->second.size());
            c.pings.erase(it);
        }
        check_target_numbers(w, c, p, true, true, Rule::nopin_reply_statsn);
        return;
    }
    // RFC 3720 §10.19: an unsolicited NOP-In carries no data and does not advance StatSN.
    w.report(c, Rule::nopin_unsolicited_empty, p.data_segment_length == 0, "unsolicited NOP-In with %u data bytes",
             p.data_segment_length);
    if (p.ttt() != RESERVED_TAG) c.target_pings[p.ttt()] = p.lun;
    check_target_numbers(w, c, p, false, true, Rule::nopin_unsolicited_statsn);
}

void check_text_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    initiator_cmdsn(w, c, p, nullptr);
    const bool final = p.flags & 0x80, cont = p.flags & 0x40;
    w.report(c, Rule::text_c_f_exclusive, !(final && cont), "Text Request with F and C both set");
    w.report(c, Rule::text_continue_not_final, !(final && cont), "Text Request with F and C both set");
    if (c.phase == Phase::full_feature)
        w.report(c, Rule::text_req_mrdsl, p.data_segment_length <= c.neg.mrdsl_target, "a %u-byte Text Request, the target declared %u",
                 p.data_segment_length, c.neg.mrdsl_target);
    if (p.ttt() != RESERVED_TAG) {
        auto it = c.text_ttt.find(p.itt);
        w.report(c, Rule::text_ttt_echo, it != c.text_ttt.end() && it->second == p.ttt(),
                 "Text Request TTT 0x%x continues no Text Response of ITT 0x%x", p.ttt(), p.itt);
        // RFC 3720 §10.10.2: an exchange keeps its ITT.
        bool other = false;
        for (const auto& [itt, ttt] : c.text_ttt) other = other || (ttt == p.ttt() && itt != p.itt);
        w.report(c, Rule::text_itt_constant, !other, "TTT 0x%x continued under another ITT 0x%x", p.ttt(), p.itt);
    }
    // RFC 3720 §10.10: one Text Request at a time on a connection.
    w.report(c, Rule::text_one_outstanding, c.text_pending.empty() || (c.text_pending.size() == 1 && c.text_pending.count(p.itt)),
             "a Text Request while another awaits its response");
    auto rc = c.text_rsp_continued.find(p.itt);
    if (rc != c.text_rsp_continued.end() && rc->second)
        w.report(c, Rule::initiator_continue_empty, p.data_segment_length == 0, "a %u-byte Text Request after a response with C",
                 p.data_segment_length);
    c.text_req_final[p.itt] = final;
    c.text_req_continued[p.itt] = cont;
    c.text_pending.insert(p.itt);
    if (p.data_segment_length > 0) check_text_keys(w, c, p, true, !cont, false);
}

void check_text_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const bool final = p.flags & 0x80, cont = p.flags & 0x40;
    w.report(c, Rule::text_c_f_exclusive, !(final && cont), "Text Response with F and C both set");
    if (c.phase != Phase::unknown)
        w.report(c, Rule::text_rsp_itt, c.text_pending.count(p.itt) > 0, "Text Response ITT 0x%x answers no Text Request", p.itt);
    if (c.phase == Phase::full_feature)
        w.report(c, Rule::text_rsp_mrdsl, p.data_segment_length <= c.neg.mrdsl_initiator,
                 "a %u-byte Text Response, the initiator declared %u", p.data_segment_length, c.neg.mrdsl_initiator);
    // RFC 3720 §10.11.4: the last response of an exchange has TTT 0xffffffff; one that
    // has more to say gives a TTT for the initiator to continue with.
    if (final) {
        w.report(c, Rule::text_ttt, p.ttt() == RESERVED_TAG, "final Text Response with TTT 0x%x", p.ttt());
    } else {
        w.report(c, Rule::text_not_final_ttt, p.ttt() != RESERVED_TAG, "Text Response with F=0 and TTT 0xffffffff");
        w.report(c, Rule::text_ttt_when_not_final, p.ttt() != RESERVED_TAG, "Text Response with F=0 and TTT 0xffffffff");
    }
    // RFC 3720 §10.11.1: a request with F=0 is not answered with F=1; one with C gets an
    // empty answer (§5.2).
    auto rf = c.text_req_final.find(p.itt);
    if (rf != c.text_req_final.end() && !rf->second)
        w.report(c, Rule::text_final_for_final, !final, "a final Text Response to a request with F=0");
    auto rcont = c.text_req_continued.find(p.itt);
    if (rcont != c.text_req_continued.end() && rcont->second)
        w.report(c, Rule::answer_continue_empty, p.data_segment_length == 0, "a %u-byte Text Response to a request with C",
                 p.data_segment_length);
    c.text_rsp_continued[p.itt] = cont;
    if (p.data_segment_length > 0 || !cont) {
        const auto keys = check_text_keys(w, c, p, false, !cont, false);
        // RFC 3720 §5.4, §10.11.1: a final response offers nothing that needs an answer.
        if (keys && final) {
            const std::string open = open_target_keys(c, *keys);
            w.report(c, Rule::text_final_no_open_keys, open.empty(), "F=1 with the target's own offers %s", open.c_str());
            w.report(c, Rule::text_final_no_open_keys_54, open.empty(), "F=1 with the target's own offers %s", open.c_str());
        }
        // RFC 3720 §12.8, appendix D: SendTargets answers give each address its tag.
        if (keys)
            for (const auto& [k, v] : keys->items)
                if (k == "TargetAddress") {
                    const auto comma = v.rfind(',');
                    bool tag = comma != std::string::npos && comma + 1 < v.size();
                    for (std::size_t i = comma == std::string::npos ? 0 : comma + 1; tag && i < v.size(); ++i)
                        tag = v[i] >= '0' && v[i] <= '9';
                    w.report(c, Rule::sendtargets_address_tpgt, tag, "TargetAddress=%s without ,tpgt", v.c_str());
                }
    }
    if (final) {
        c.text_ttt.erase(p.itt);
        c.text_pending.erase(p.itt);
        c.text_req_final.erase(p.itt);
        c.text_req_continued.erase(p.itt);
        c.text_rsp_continued.erase(p.itt);
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
    c.logouts[p.itt] = static_cast<std::uint8_t>((closes_this ? 1 : 0) | (reason == 2 ? 2 : 0));
    // RFC 3720 §10.14: no new request on a connection this logout closes.
    if (closes_this) c.logout_sent = true;
    // RFC 3720 §10.14: a Logout Request carries no AHS and no data.
    w.report(c, Rule::logout_req_no_data, p.total_ahs_length == 0 && p.data_segment_length == 0,
             "Logout Request with AHS %u words and %u data bytes", p.total_ahs_length, p.data_segment_length);
}

void check_logout_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const std::uint8_t response = u8(p.bhs, 2);
    auto it = c.logouts.find(p.itt);
    if (c.phase != Phase::unknown)
        w.report(c, Rule::logout_rsp_itt, it != c.logouts.end(), "Logout Response ITT 0x%x answers no Logout Request", p.itt);
    // RFC 3720 §10.15.1: 0 closed, 1 CID not found, 2 recovery not supported, 3 cleanup failed.
    w.report(c, Rule::logout_rsp_code, response <= 3, "response 0x%02x", response);
    w.report(c, Rule::logout_rsp_no_data, p.total_ahs_length == 0 && p.data_segment_length == 0,
             "Logout Response with AHS %u words and %u data bytes", p.total_ahs_length, p.data_segment_length);
    // RFC 3720 §10.15.1: below ErrorRecoveryLevel 2 a logout for recovery is refused with 2.
    if (it != c.logouts.end() && (it->second & 2) && c.neg.erl < 2)
        w.report(c, Rule::recovery_logout, response == 2, "logout for recovery at ErrorRecoveryLevel %u answered %u", c.neg.erl, response);
    // RFC 3720 §10.19: pings sent before the logout were answered before its response.
    if (it != c.logouts.end() && response == 0)
        w.report(c, Rule::nopin_reply, c.pings.empty(), "%zu NOP-Out pings unanswered at the Logout Response", c.pings.size());
    if (response != 0) c.logout_sent = false;
    check_target_numbers(w, c, p, true, true);
    // A Logout that closes the session or this very connection ends it.
    if (it != c.logouts.end() && response == 0 && (it->second & 1)) c.phase = Phase::closing;
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
        // A rejected command will get no other answer; in a discovery session that is
        // the answer a SCSI Command or TMF must get (RFC 3720 §3.3).
        const std::uint8_t rejected = u8(p.data, 0) & 0x3f;
        const std::uint32_t itt = be32(p.data, 16);
        if (rejected == op::SCSI_CMD) c.tasks.erase(itt);
        // A refused ping is answered: by the Reject, not by a NOP-In (RFC 3720 §10.17.1).
        if (rejected == op::NOP_OUT) c.pings.erase(itt);
        if ((rejected == op::SCSI_CMD || rejected == op::TASK_MGT_REQ) && c.discovery_bad.erase(itt)) w.pass(Rule::discovery_rejects);
    }
    if (c.phase == Phase::full_feature || c.phase == Phase::unknown) check_target_numbers(w, c, p, true, true, Rule::reject_statsn);
}

void check_async(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    w.report(c, Rule::async_itt, p.itt == RESERVED_TAG, "Asynchronous Message with ITT 0x%x", p.itt);
    const std::uint8_t event = u8(p.bhs, 36);
    // RFC 3720 §10.9.1: events 0-4 and 255 (vendor specific).
    w.report(c, Rule::async_event, event <= 4 || event == 255, "AsyncEvent %u", event);
    // RFC 3720 §10.9: LUN only for event 0, AsyncVCode only for 255, no parameters 1-2 for 1.
    const std::uint8_t vcode = u8(p.bhs, 37);
    w.report(c, Rule::async_reserved,
             (event == 0 || p.lun == 0) && (event == 255 || vcode == 0) && (event != 1 || (be16(p.bhs, 38) == 0 && be16(p.bhs, 40) == 0)),
             "AsyncEvent %u with LUN 0x%llx AsyncVCode %u", event, static_cast<unsigned long long>(p.lun), vcode);
    check_target_numbers(w, c, p, true, true, Rule::async_statsn);
}

}  // namespace iscsilab::checker
