// SCSI Command, Data-Out, Data-In, R2T and SCSI Response (RFC 3720 §10.3, §10.4, §10.7,
// §10.8), and the sequence numbers every PDU carries (§3.2.2).
#include <algorithm>

#include "reports/checker/conn.hpp"

namespace iscsilab::checker {

namespace {

constexpr std::uint8_t STATUS_GOOD = 0x00, STATUS_CHECK_CONDITION = 0x02;

// Task lookup for a target PDU: judged when the task is unknown, ended, or aborted.
TaskState* target_task(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    auto it = c.tasks.find(p.itt);
    if (it != c.tasks.end()) {
        // The task is open: a status or data now keeps every rule about ended tasks.
        w.pass(Rule::response_known_task);
        w.pass(Rule::response_once);
        w.pass(Rule::no_pdu_after_response);
        w.pass(Rule::tmf_no_status_after);
        return &it->second;
    }
    if (c.phase == Phase::unknown) return nullptr;  // began mid-connection: the command was not seen
    if (c.ended_tasks.count(p.itt)) {
        if (p.opcode == op::SCSI_RSP || (p.opcode == op::SCSI_DATA_IN && (p.flags & 0x01)))
            w.report(c, Rule::response_once, false, "a second status for ITT 0x%x", p.itt);
        else
            w.report(c, Rule::no_pdu_after_response, false, "%s for ITT 0x%x after its status", opcode_name(p.opcode), p.itt);
        return nullptr;
    }
    if (c.aborted_tasks.count(p.itt)) {
        w.report(c, Rule::tmf_no_status_after, false, "%s for ITT 0x%x after the TMF Response that ended it",
                 opcode_name(p.opcode), p.itt);
        return nullptr;
    }
    w.report(c, Rule::response_known_task, false, "%s for ITT 0x%x, which no command started", opcode_name(p.opcode), p.itt);
    return nullptr;
}

void end_task(WireChecker::Conn& c, std::uint32_t itt) {
    c.tasks.erase(itt);
    c.ended_tasks.insert(itt);
    c.ended_order.push_back(itt);
    if (c.ended_order.size() > 4096) {
        c.ended_tasks.erase(c.ended_order.front());
        c.ended_order.pop_front();
    }
}

// RFC 3720 §10.4.1, §10.7: residuals against the data that moved, for a task ending
// with GOOD status.
void judge_residual(WireChecker& w, WireChecker::Conn& c, const TaskState& t, bool under, bool over, std::uint32_t residual) {
    w.report(c, Rule::residual_flags, !(under && over) && (under || over || residual == 0),
             "U=%d O=%d residual %u", under, over, residual);
    if (t.read && !t.write) {
        const std::uint64_t moved = t.datain_bytes;
        if (under)
            w.report(c, Rule::residual_read, moved + residual == t.edtl,
                     "underflow residual %u, but %llu of %u bytes were sent", residual,
                     static_cast<unsigned long long>(moved), t.edtl);
        else
            w.report(c, Rule::residual_read, moved == t.edtl, "%llu of %u expected bytes sent without an underflow residual",
                     static_cast<unsigned long long>(moved), t.edtl);
    } else if (t.write && !t.read) {
        // The initiator may push more unsolicited data than the command uses (RFC 7143
        // §11.4.5.1 counts the residual against what SCSI used), so an underflow only
        // claims that the target used no more than it received.
        const std::uint64_t taken = t.taken;
        if (under)
            w.report(c, Rule::residual_write, residual <= t.edtl && taken + residual >= t.edtl,
                     "underflow residual %u, but only %llu of %u bytes were received", residual,
                     static_cast<unsigned long long>(taken), t.edtl);
        else
            w.report(c, Rule::residual_write, taken == t.edtl, "%llu of %u expected bytes taken without an underflow residual",
                     static_cast<unsigned long long>(taken), t.edtl);
    }
}

}  // namespace

void initiator_cmdsn(WireChecker& w, WireChecker::Conn& c, const Pdu& p, TaskState* t) {
    if (c.phase != Phase::full_feature) return;
    const Serial sn{p.cmdsn()};
    // RFC 3720 §3.2.2.1: non-immediate commands number up by one; an immediate one
    // carries the number the next non-immediate will use.
    if (c.next_cmdsn)
        w.report(c, Rule::cmdsn_sequence, sn == *c.next_cmdsn, "CmdSN %u where %u was next (%s)", sn.v, c.next_cmdsn->v,
                 p.immediate ? "immediate" : "non-immediate");
    if (!p.immediate) {
        bool in_window = true;
        if (c.exp_cmdsn && c.max_cmdsn) {
            in_window = sn >= *c.exp_cmdsn && sn <= *c.max_cmdsn;
            w.report(c, Rule::cmdsn_in_window, in_window, "CmdSN %u outside the window %u..%u", sn.v, c.exp_cmdsn->v, c.max_cmdsn->v);
        }
        if (t) t->in_window = in_window;
        if (!c.next_cmdsn || sn >= *c.next_cmdsn) c.next_cmdsn = Serial{sn.v + 1};
    }
    // RFC 3720 §10.3.5: ExpStatSN acknowledges only status the target has sent.
    if (c.next_statsn)
        w.report(c, Rule::expstatsn_not_ahead, Serial{p.expstatsn()} <= *c.next_statsn, "ExpStatSN %u, but the next StatSN is %u",
                 p.expstatsn(), c.next_statsn->v);
}

void check_target_numbers(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool advances, bool carries, Rule statsn_rule) {
    const Serial exp{p.expcmdsn()}, max{p.maxcmdsn()};
    // RFC 3720 §3.2.2.1: the window is never negative.
    const bool window_ok = max >= Serial{exp.v - 1};
    w.report(c, Rule::maxcmdsn_window, window_ok, "MaxCmdSN %u < ExpCmdSN %u - 1", max.v, exp.v);
    if (window_ok) {
        if (c.exp_cmdsn) w.report(c, Rule::expcmdsn_monotonic, exp >= *c.exp_cmdsn, "ExpCmdSN %u after %u", exp.v, c.exp_cmdsn->v);
        if (c.max_cmdsn) w.report(c, Rule::maxcmdsn_monotonic, max >= *c.max_cmdsn, "MaxCmdSN %u after %u", max.v, c.max_cmdsn->v);
        if (c.next_cmdsn && c.phase == Phase::full_feature)
            w.report(c, Rule::expcmdsn_received, exp <= *c.next_cmdsn, "ExpCmdSN %u, but the initiator's next CmdSN is %u", exp.v,
                     c.next_cmdsn->v);
        if (!c.exp_cmdsn || exp > *c.exp_cmdsn) c.exp_cmdsn = exp;
        if (!c.max_cmdsn || max > *c.max_cmdsn) c.max_cmdsn = max;
    }
    if (!carries || (c.phase != Phase::full_feature && c.phase != Phase::unknown)) return;
    const Serial sn{p.statsn()};
    // RFC 3720 §3.2.2.2: one StatSN per status; the PDUs that carry none repeat the next.
    if (c.next_statsn)
        w.report(c, statsn_rule, sn == *c.next_statsn, "StatSN %u where %u was next", sn.v, c.next_statsn->v);
    c.next_statsn = advances ? Serial{sn.v + 1} : sn;
}

void check_target_numbers(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool advances, bool carries) {
    check_target_numbers(w, c, p, advances, carries, Rule::statsn_increment);
}

void check_scsi_command(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    TaskState t;
    t.itt = p.itt;
    t.read = p.flags & 0x40;
    t.write = p.flags & 0x20;
    t.immediate = p.immediate;
    t.edtl = p.edtl();
    t.lun = p.lun;
    t.cmdsn = Serial{p.cmdsn()};
    c.ended_tasks.erase(p.itt);
    c.aborted_tasks.erase(p.itt);
    initiator_cmdsn(w, c, p, &t);
    if (c.phase != Phase::full_feature && c.phase != Phase::unknown) return;
    const bool final = p.flags & 0x80;
    if (p.data_segment_length > 0) {
        // RFC 3720 §12.11: immediate data only when ImmediateData=Yes.
        w.report(c, Rule::unsolicited_allowed, c.neg.immediate_data || c.phase == Phase::unknown,
                 "%u bytes of immediate data with ImmediateData=No", p.data_segment_length);
        t.unsolicited = t.taken = p.data_segment_length;
    }
    if (!final) {
        // RFC 3720 §12.10: unsolicited Data-Out follows only when InitialR2T=No.
        w.report(c, Rule::unsolicited_allowed, !c.neg.initial_r2t || c.phase == Phase::unknown,
                 "F=0 on a command (unsolicited Data-Out to follow) with InitialR2T=Yes");
    }
    t.unsolicited_done = final;
    if (t.unsolicited > 0 && c.phase == Phase::full_feature)
        w.report(c, Rule::unsolicited_first_burst, t.unsolicited <= c.neg.first_burst, "%llu bytes of unsolicited data > FirstBurstLength %u",
                 static_cast<unsigned long long>(t.unsolicited), c.neg.first_burst);
    c.tasks[p.itt] = std::move(t);
}

void check_data_out(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    auto it = c.tasks.find(p.itt);
    if (it == c.tasks.end()) return;  // an ended or unknown task: the target ignores it
    auto& t = it->second;
    const bool final = p.flags & 0x80;
    const std::uint32_t len = p.data_segment_length;
    if (p.ttt() == RESERVED_TAG) {
        w.report(c, Rule::unsolicited_allowed, !c.neg.initial_r2t || c.phase == Phase::unknown,
                 "unsolicited Data-Out with InitialR2T=Yes");
        w.report(c, Rule::dataout_datasn, p.datasn() == t.unsolicited_next_datasn, "DataSN %u where %u was next", p.datasn(),
                 t.unsolicited_next_datasn);
        t.unsolicited_next_datasn = p.datasn() + 1;
        t.unsolicited += len;
        if (c.phase == Phase::full_feature)
            w.report(c, Rule::unsolicited_first_burst, t.unsolicited <= c.neg.first_burst,
                     "%llu bytes of unsolicited data > FirstBurstLength %u", static_cast<unsigned long long>(t.unsolicited),
                     c.neg.first_burst);
        if (final) t.unsolicited_done = true;
    } else {
        auto r = t.r2t.find(p.ttt());
        w.report(c, Rule::dataout_ttt, r != t.r2t.end(), "TTT 0x%x names no R2T of ITT 0x%x", p.ttt(), p.itt);
        if (r == t.r2t.end()) return;
        auto& rs = r->second;
        w.report(c, Rule::dataout_datasn, p.datasn() == rs.next_datasn, "DataSN %u where %u was next", p.datasn(), rs.next_datasn);
        rs.next_datasn = p.datasn() + 1;
        w.report(c, Rule::dataout_within_r2t,
                 p.buffer_offset() >= rs.offset && std::uint64_t{p.buffer_offset()} + len <= std::uint64_t{rs.offset} + rs.length,
                 "offset %u length %u outside the R2T's %u+%u", p.buffer_offset(), len, rs.offset, rs.length);
        rs.received += len;
        if (final && !rs.done) {
            rs.done = true;
            if (t.outstanding_r2t) --t.outstanding_r2t;
        }
    }
    t.taken += len;
}

void check_data_in(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const bool final = p.flags & 0x80, ack = p.flags & 0x40, over = p.flags & 0x04, under = p.flags & 0x02,
               status = p.flags & 0x01;
    // RFC 3720 §10.7.3: status rides only on the last PDU of the sequence.
    w.report(c, Rule::datain_status_final, !status || final, "S set without F");
    w.report(c, Rule::discovery_no_scsi, !c.discovery, "Data-In in a discovery session");
    // RFC 3720 §10.7.2: the A bit asks for a DataACK SNACK, which ERL 0 does not have.
    w.report(c, Rule::datain_ttt_lun, c.neg.erl > 0 || !ack, "A bit set at ErrorRecoveryLevel 0");
    TaskState* t = target_task(w, c, p);
    if (t) {
        w.report(c, Rule::datain_read_only, t->read, "Data-In for ITT 0x%x, a command without R", p.itt);
        // RFC 3720 §10.7.5: DataSN counts Data-In PDUs of the task (and R2Ts, if bidirectional).
        w.report(c, Rule::datain_datasn, p.datasn() == t->datain_next_datasn, "DataSN %u where %u was next", p.datasn(),
                 t->datain_next_datasn);
        t->datain_next_datasn = p.datasn() + 1;
        ++t->datain_pdus;
        if (c.neg.data_pdu_in_order)
            w.report(c, Rule::datain_offset, p.buffer_offset() == t->datain_next_offset, "offset %u where %u was next",
                     p.buffer_offset(), t->datain_next_offset);
        w.report(c, Rule::datain_within_edtl, std::uint64_t{p.buffer_offset()} + p.data_segment_length <= t->edtl,
                 "offset %u + %u beyond the expected length %u", p.buffer_offset(), p.data_segment_length, t->edtl);
        t->datain_bytes += p.data_segment_length;
        t->datain_next_offset = p.buffer_offset() + p.data_segment_length;
        t->datain_seq_bytes += p.data_segment_length;
        if (c.phase == Phase::full_feature)
            w.report(c, Rule::datain_burst, t->datain_seq_bytes <= c.neg.max_burst, "a Data-In sequence of %llu bytes > MaxBurstLength %u",
                     static_cast<unsigned long long>(t->datain_seq_bytes), c.neg.max_burst);
        if (final) t->datain_seq_bytes = 0;
        t->datain_last_final = final;
    }
    if (status) {
        const std::uint8_t st = u8(p.bhs, 3);
        w.report(c, Rule::datain_status_value, st != STATUS_CHECK_CONDITION, "CHECK CONDITION in a Data-In");
        if (t) {
            w.report(c, Rule::cmdsn_ignored_outside, t->in_window || t->immediate,
                     "status for CmdSN %u, which was outside the window and should have been ignored", t->cmdsn.v);
            if (st == STATUS_GOOD) judge_residual(w, c, *t, under, over, p.residual());
            end_task(c, p.itt);
        }
    }
    check_target_numbers(w, c, p, status, status);
}

void check_r2t(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    w.report(c, Rule::discovery_no_scsi, !c.discovery, "R2T in a discovery session");
    w.report(c, Rule::r2t_ttt, p.ttt() != RESERVED_TAG, "R2T with TTT 0xffffffff");
    if (c.phase == Phase::full_feature)
        w.report(c, Rule::r2t_length, p.desired_length() > 0 && p.desired_length() <= c.neg.max_burst,
                 "Desired Data Transfer Length %u (MaxBurstLength %u)", p.desired_length(), c.neg.max_burst);
    TaskState* t = target_task(w, c, p);
    if (t) {
        w.report(c, Rule::r2t_write_only, t->write, "R2T for ITT 0x%x, a command without W", p.itt);
        std::uint32_t& next = (t->read && t->write) ? t->datain_next_datasn : t->r2t_next_sn;
        w.report(c, Rule::r2t_sequence, p.r2tsn() == next, "R2TSN %u where %u was next", p.r2tsn(), next);
        next = p.r2tsn() + 1;
        ++t->r2ts;
        w.report(c, Rule::r2t_within_edtl, std::uint64_t{p.buffer_offset()} + p.desired_length() <= t->edtl,
                 "R2T for %u+%u beyond the expected length %u", p.buffer_offset(), p.desired_length(), t->edtl);
        // RFC 3720 §10.8: data the initiator sends unsolicited is not asked for again.
        const std::uint64_t unsolicited_expected =
            t->unsolicited_done ? t->unsolicited : std::min<std::uint64_t>(c.neg.first_burst, t->edtl);
        if (c.phase == Phase::full_feature)
            w.report(c, Rule::r2t_unsolicited_overlap, p.buffer_offset() >= unsolicited_expected,
                     "R2T at offset %u asks again for unsolicited data (%llu bytes)", p.buffer_offset(),
                     static_cast<unsigned long long>(unsolicited_expected));
        auto& rs = t->r2t[p.ttt()];
        if (rs.length == 0 || rs.done) ++t->outstanding_r2t;
        rs = R2tState{p.buffer_offset(), p.desired_length(), 0, 0, false};
        if (c.phase == Phase::full_feature)
            w.report(c, Rule::r2t_outstanding, t->outstanding_r2t <= c.neg.max_outstanding_r2t,
                     "%u R2Ts outstanding for ITT 0x%x (MaxOutstandingR2T %u)", t->outstanding_r2t, p.itt, c.neg.max_outstanding_r2t);
    }
    check_target_numbers(w, c, p, false, true, Rule::r2t_statsn);
}

void check_scsi_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    w.report(c, Rule::discovery_no_scsi, !c.discovery, "SCSI Response in a discovery session");
    const std::uint8_t response = u8(p.bhs, 2), status = u8(p.bhs, 3);
    const bool over = p.flags & 0x04, under = p.flags & 0x02;
    // RFC 3720 §10.4.3: 0x00 completed, 0x01 target failure, 0x80-0xff vendor specific.
    w.report(c, Rule::response_code_valid, response <= 1 || response >= 0x80, "response 0x%02x", response);
    if (status == STATUS_CHECK_CONDITION && p.data_segment_length >= 2) {
        const std::uint16_t sl = be16(p.data, 0);
        w.report(c, Rule::sense_length, std::size_t{sl} + 2 <= p.data_segment_length, "SenseLength %u in a %u-byte segment", sl,
                 p.data_segment_length);
    }
    TaskState* t = target_task(w, c, p);
    if (t) {
        w.report(c, Rule::cmdsn_ignored_outside, t->in_window || t->immediate,
                 "status for CmdSN %u, which was outside the window and should have been ignored", t->cmdsn.v);
        if (t->datain_pdus > 0)
            w.report(c, Rule::datain_final_last, t->datain_last_final, "the last Data-In before the SCSI Response had F=0");
        if (response == 0) {
            // RFC 3720 §10.4.8: ExpDataSN counts the R2T and Data-In PDUs of the task.
            const std::uint32_t sent = t->datain_pdus + t->r2ts;
            w.report(c, Rule::exp_datasn, p.f36 == sent, "ExpDataSN %u, but %u Data-In and R2T PDUs were sent", p.f36, sent);
            if (status == STATUS_GOOD) judge_residual(w, c, *t, under, over, p.residual());
        }
        end_task(c, p.itt);
    }
    check_target_numbers(w, c, p, true, true);
}

}  // namespace iscsilab::checker
