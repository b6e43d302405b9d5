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
    if (c.began_mid_stream) return nullptr;  // the command may precede the capture
    w.report(c, Rule::response_known_task, false, "%s for ITT 0x%x, which no command started", opcode_name(p.opcode), p.itt);
    return nullptr;
}

void end_task(WireChecker::Conn& c, std::uint32_t itt) {
    if (auto t = c.tasks.find(itt); t != c.tasks.end()) {
        // Its CmdSN is free again (RFC 3720 §3.2.2.1: only a CmdSN in use is a duplicate).
        if (auto open = c.cmdsn_open.find(t->second.cmdsn.v); open != c.cmdsn_open.end() && open->second == itt)
            c.cmdsn_open.erase(open);
        c.tasks.erase(t);
    }
    c.ended_tasks.insert(itt);
    c.ended_order.push_back(itt);
    if (c.ended_order.size() > 4096) {
        c.ended_tasks.erase(c.ended_order.front());
        c.datain_status.erase(c.ended_order.front());
        c.ended_order.pop_front();
    }
}

// RFC 3720 §10.4.1, §10.7: residuals against the data that moved, for a task ending
// with GOOD status.
void judge_residual(WireChecker& w, WireChecker::Conn& c, const TaskState& t, bool under, bool over, std::uint32_t residual) {
    w.report(c, Rule::residual_flags, !(under && over) && (under || over || residual == 0),
             "U=%d O=%d residual %u", under, over, residual);
    // RFC 3720 §10.4.5: U or O says some data did not move; a residual of 0 contradicts it.
    if (under || over) w.report(c, Rule::residual_write, residual > 0, "U=%d O=%d with residual 0", under, over);
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
        w.report(c, p.immediate ? Rule::immediate_cmdsn : Rule::cmdsn_sequence, sn == *c.next_cmdsn, "CmdSN %u where %u was next (%s)",
                 sn.v, c.next_cmdsn->v, p.immediate ? "immediate" : "non-immediate");
    if (!p.immediate) {
        if (c.last_cmdsn) w.report(c, Rule::cmdsn_in_order, sn > *c.last_cmdsn, "CmdSN %u after %u", sn.v, c.last_cmdsn->v);
        if (!c.last_cmdsn || sn > *c.last_cmdsn) c.last_cmdsn = sn;
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
    if (c.next_statsn) {
        w.report(c, Rule::statsn_increment, sn == *c.next_statsn, "StatSN %u where %u was next", sn.v, c.next_statsn->v);
        if (statsn_rule != Rule::statsn_increment)
            w.report(c, statsn_rule, sn == *c.next_statsn, "StatSN %u where %u was next", sn.v, c.next_statsn->v);
    }
    c.next_statsn = advances ? Serial{sn.v + 1} : sn;
}

void check_target_numbers(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool advances, bool carries) {
    check_target_numbers(w, c, p, advances, carries, Rule::statsn_increment);
}

void check_scsi_command(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const bool final = p.flags & 0x80;
    TaskState t;
    t.itt = p.itt;
    t.read = p.flags & 0x40;
    t.write = p.flags & 0x20;
    t.immediate = p.immediate;
    t.edtl = p.edtl();
    t.lun = p.lun;
    t.cmdsn = Serial{p.cmdsn()};
    t.reset_epoch = w.reset_epoch(c.target);
    // RFC 3720 §10.3.1: W and F are never both clear; data expected means R or W.
    w.report(c, Rule::w_or_f, t.write || final, "SCSI Command with W=0 and F=0");
    if (t.edtl > 0) w.report(c, Rule::direction_bit, t.read || t.write, "%u bytes expected with R=0 and W=0", t.edtl);
    // RFC 3720 §10.2.1.8: an ITT names one open task.
    if (c.phase != Phase::unknown)
        w.report(c, Rule::itt_unique, c.tasks.count(p.itt) == 0, "ITT 0x%x reused while its task is open", p.itt);
    c.ended_tasks.erase(p.itt);
    c.aborted_tasks.erase(p.itt);
    c.datain_status.erase(p.itt);
    initiator_cmdsn(w, c, p, &t);
    if (c.discovery) c.discovery_bad.insert(p.itt);
    if (c.phase != Phase::full_feature && c.phase != Phase::unknown) return;
    if (!p.immediate) {
        // RFC 3720 §3.2.2.1: a second command with a CmdSN in use is dropped.
        auto dup = c.cmdsn_open.find(t.cmdsn.v);
        if (dup != c.cmdsn_open.end() && dup->second != p.itt) t.duplicate_cmdsn = true;
        else c.cmdsn_open[t.cmdsn.v] = p.itt;
    }
    if (p.data_segment_length > 0) {
        // RFC 3720 §12.11: immediate data only when ImmediateData=Yes.
        w.report(c, Rule::unsolicited_allowed, c.neg.immediate_data || c.phase == Phase::unknown,
                 "%u bytes of immediate data with ImmediateData=No", p.data_segment_length);
        t.unsolicited = t.taken = p.data_segment_length;
        // RFC 3720 §10.3: immediate data that is all of it leaves no Data-Out to follow.
        if (p.data_segment_length == t.edtl)
            w.report(c, Rule::f_when_immediate_complete, final, "all %u bytes immediate, but F=0", t.edtl);
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
    const bool final = p.flags & 0x80;
    const std::uint32_t len = p.data_segment_length;
    // RFC 3720 §10.7.7: a payload is whole words unless it ends the sequence.
    w.report(c, Rule::data_words, final || len % 4 == 0, "a %u-byte Data-Out without F", len);
    if (c.phase == Phase::full_feature)
        w.report(c, Rule::data_mrdsl, len <= c.neg.mrdsl_target, "a %u-byte Data-Out, the target declared %u", len, c.neg.mrdsl_target);
    auto it = c.tasks.find(p.itt);
    // RFC 3720 §3.2.4.3 (connection allegiance): Data-Out names a task of this connection.
    // One that ended or was aborted here may still see Data-Out in flight.
    if (c.phase == Phase::full_feature)
        w.report(c, Rule::dataout_same_connection,
                 it != c.tasks.end() || c.ended_tasks.count(p.itt) || c.aborted_tasks.count(p.itt) || c.datain_status.count(p.itt),
                 "Data-Out for ITT 0x%x, which no command on this connection started", p.itt);
    if (it == c.tasks.end()) return;  // an ended or unknown task: the target ignores it
    auto& t = it->second;
    if (p.ttt() == RESERVED_TAG) {
        w.report(c, Rule::unsolicited_allowed, !c.neg.initial_r2t || c.phase == Phase::unknown,
                 "unsolicited Data-Out with InitialR2T=Yes");
        w.report(c, Rule::dataout_datasn, p.datasn() == t.unsolicited_next_datasn, "DataSN %u where %u was next", p.datasn(),
                 t.unsolicited_next_datasn);
        w.report(c, Rule::dataout_datasn_per_sequence, p.datasn() == t.unsolicited_next_datasn, "DataSN %u where %u was next",
                 p.datasn(), t.unsolicited_next_datasn);
        if (c.neg.data_pdu_in_order && c.phase == Phase::full_feature)
            w.report(c, Rule::data_pdus_in_order, p.buffer_offset() == t.unsolicited, "unsolicited Data-Out at %u where %llu was next",
                     p.buffer_offset(), static_cast<unsigned long long>(t.unsolicited));
        t.unsolicited_next_datasn = p.datasn() + 1;
        t.unsolicited += len;
        if (c.phase == Phase::full_feature)
            w.report(c, Rule::unsolicited_first_burst, t.unsolicited <= c.neg.first_burst,
                     "%llu bytes of unsolicited data > FirstBurstLength %u", static_cast<unsigned long long>(t.unsolicited),
                     c.neg.first_burst);
        if (final) {
            t.unsolicited_done = true;
            // RFC 3720 §3.2.4.2, §10.3: the unsolicited burst, once begun, is all of it.
            if (c.phase == Phase::full_feature) {
                const std::uint64_t want = std::min<std::uint64_t>(c.neg.first_burst, t.edtl);
                w.report(c, Rule::unsolicited_total, t.unsolicited == want, "%llu unsolicited bytes where %llu were due",
                         static_cast<unsigned long long>(t.unsolicited), static_cast<unsigned long long>(want));
                w.report(c, Rule::unsolicited_all_or_immediate, t.unsolicited == want, "%llu unsolicited bytes where %llu were due",
                         static_cast<unsigned long long>(t.unsolicited), static_cast<unsigned long long>(want));
            }
        }
    } else {
        auto r = t.r2t.find(p.ttt());
        w.report(c, Rule::dataout_ttt, r != t.r2t.end(), "TTT 0x%x names no R2T of ITT 0x%x", p.ttt(), p.itt);
        if (r == t.r2t.end()) return;
        auto& rs = r->second;
        w.report(c, Rule::dataout_datasn, p.datasn() == rs.next_datasn, "DataSN %u where %u was next", p.datasn(), rs.next_datasn);
        w.report(c, Rule::dataout_datasn_per_sequence, p.datasn() == rs.next_datasn, "DataSN %u where %u was next", p.datasn(),
                 rs.next_datasn);
        rs.next_datasn = p.datasn() + 1;
        w.report(c, Rule::dataout_within_r2t,
                 p.buffer_offset() >= rs.offset && std::uint64_t{p.buffer_offset()} + len <= std::uint64_t{rs.offset} + rs.length,
                 "offset %u length %u outside the R2T's %u+%u", p.buffer_offset(), len, rs.offset, rs.length);
        if (c.neg.data_pdu_in_order)
            w.report(c, Rule::data_pdus_in_order, p.buffer_offset() == rs.offset + rs.received, "Data-Out at %u where %u was next",
                     p.buffer_offset(), rs.offset + rs.received);
        rs.received += len;
        // RFC 3720 §10.7.1, §10.8: F marks the Data-Out that completes the R2T's range,
        // and the initiator sends all of it.
        w.report(c, Rule::dataout_final, final == (rs.received >= rs.length), "F=%d with %u of %u bytes sent", final, rs.received,
                 rs.length);
        if (final) w.report(c, Rule::honours_r2t, rs.received == rs.length, "%u of the %u bytes the R2T asked for", rs.received, rs.length);
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
    w.report(c, Rule::discovery_only, !c.discovery, "Data-In in a discovery session");
    // RFC 3720 §10.7.2: the A bit asks for a DataACK SNACK, which ERL 0 does not have.
    w.report(c, Rule::datain_ttt_lun, c.neg.erl > 0 || !ack, "A bit set at ErrorRecoveryLevel 0");
    w.report(c, Rule::data_words, final || p.data_segment_length % 4 == 0, "a %u-byte Data-In without F", p.data_segment_length);
    if (c.phase == Phase::full_feature)
        w.report(c, Rule::data_mrdsl, p.data_segment_length <= c.neg.mrdsl_initiator, "a %u-byte Data-In, the initiator declared %u",
                 p.data_segment_length, c.neg.mrdsl_initiator);
    TaskState* t = target_task(w, c, p);
    if (t) {
        w.report(c, Rule::datain_read_only, t->read, "Data-In for ITT 0x%x, a command without R", p.itt);
        // RFC 3720 §10.7.5: DataSN counts Data-In PDUs of the task (and R2Ts, if bidirectional).
        w.report(c, Rule::datain_datasn, p.datasn() == t->datain_next_datasn, "DataSN %u where %u was next", p.datasn(),
                 t->datain_next_datasn);
        w.report(c, t->datain_pdus == 0 && !(t->read && t->write) ? Rule::datasn_from_zero : Rule::datasn_across_sequences,
                 p.datasn() == t->datain_next_datasn, "DataSN %u where %u was next", p.datasn(), t->datain_next_datasn);
        t->datain_next_datasn = p.datasn() + 1;
        ++t->datain_pdus;
        if (c.neg.data_pdu_in_order)
            w.report(c, Rule::datain_offset, p.buffer_offset() == t->datain_next_offset, "offset %u where %u was next",
                     p.buffer_offset(), t->datain_next_offset);
        // RFC 3720 §10.7.5, §12.19: a new sequence starts no lower than the last ended.
        if (c.neg.data_sequence_in_order && t->datain_seq_bytes == 0)
            w.report(c, Rule::data_sequences_in_order, p.buffer_offset() >= t->datain_next_offset,
                     "a Data-In sequence at %u after data up to %u", p.buffer_offset(), t->datain_next_offset);
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
            w.report(c, Rule::duplicate_cmdsn_ignored, !t->duplicate_cmdsn, "status for a second command with CmdSN %u", t->cmdsn.v);
            if (st == STATUS_GOOD) judge_residual(w, c, *t, under, over, p.residual());
            end_task(c, p.itt);
            c.datain_status.insert(p.itt);
        }
    }
    check_target_numbers(w, c, p, status, status, Rule::statsn_per_status);
}

void check_r2t(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    w.report(c, Rule::discovery_no_scsi, !c.discovery, "R2T in a discovery session");
    w.report(c, Rule::discovery_only, !c.discovery, "R2T in a discovery session");
    w.report(c, Rule::r2t_ttt, p.ttt() != RESERVED_TAG, "R2T with TTT 0xffffffff");
    // RFC 3720 §10.8: byte 1 is F alone; no AHS, no data; something is asked for.
    w.report(c, Rule::r2t_final, p.flags == 0x80, "byte 1 of an R2T is 0x%02x", p.flags);
    w.report(c, Rule::r2t_no_data, p.total_ahs_length == 0 && p.data_segment_length == 0, "R2T with AHS %u words and %u data bytes",
             p.total_ahs_length, p.data_segment_length);
    w.report(c, Rule::r2t_ddtl_nonzero, p.desired_length() > 0, "R2T for 0 bytes");
    if (c.phase == Phase::full_feature)
        w.report(c, Rule::r2t_length, p.desired_length() > 0 && p.desired_length() <= c.neg.max_burst,
                 "Desired Data Transfer Length %u (MaxBurstLength %u)", p.desired_length(), c.neg.max_burst);
    TaskState* t = target_task(w, c, p);
    if (t) {
        w.report(c, Rule::r2t_write_only, t->write, "R2T for ITT 0x%x, a command without W", p.itt);
        // RFC 3720 §3.2.4.3, §10.8: the R2T repeats the task's LUN.
        w.report(c, Rule::task_lun, p.lun == t->lun, "R2T LUN 0x%llx, the command had 0x%llx", static_cast<unsigned long long>(p.lun),
                 static_cast<unsigned long long>(t->lun));
        std::uint32_t& next = (t->read && t->write) ? t->datain_next_datasn : t->r2t_next_sn;
        w.report(c, Rule::r2t_sequence, p.r2tsn() == next, "R2TSN %u where %u was next", p.r2tsn(), next);
        w.report(c, Rule::r2tsn_from_zero, p.r2tsn() == next, "R2TSN %u where %u was next", p.r2tsn(), next);
        next = p.r2tsn() + 1;
        ++t->r2ts;
        w.report(c, Rule::r2t_within_edtl, std::uint64_t{p.buffer_offset()} + p.desired_length() <= t->edtl,
                 "R2T for %u+%u beyond the expected length %u", p.buffer_offset(), p.desired_length(), t->edtl);
        // RFC 3720 §10.8: data the initiator sends unsolicited is not asked for again.
        const std::uint64_t unsolicited_expected =
            t->unsolicited_done ? t->unsolicited : std::min<std::uint64_t>(c.neg.first_burst, t->edtl);
        if (c.phase == Phase::full_feature) {
            w.report(c, Rule::r2t_unsolicited_overlap, p.buffer_offset() >= unsolicited_expected,
                     "R2T at offset %u asks again for unsolicited data (%llu bytes)", p.buffer_offset(),
                     static_cast<unsigned long long>(unsolicited_expected));
            // RFC 3720 §10.8.3, §12.19: with sequences in order, R2Ts walk the buffer up.
            if (c.neg.data_sequence_in_order) {
                const std::uint64_t expected_start = t->last_r2t_end ? *t->last_r2t_end : unsolicited_expected;
                w.report(c, Rule::r2t_ranges_in_order, p.buffer_offset() == expected_start, "R2T at %u where %llu was next",
                         p.buffer_offset(), static_cast<unsigned long long>(expected_start));
                if (t->last_r2t_offset)
                    w.report(c, Rule::sequences_non_decreasing, p.buffer_offset() >= *t->last_r2t_offset, "R2T at %u after one at %u",
                             p.buffer_offset(), *t->last_r2t_offset);
                if (t->last_r2t_end)
                    w.report(c, Rule::data_sequences_in_order, p.buffer_offset() >= *t->last_r2t_end, "R2T at %u overlaps one ending at %u",
                             p.buffer_offset(), *t->last_r2t_end);
            }
        }
        t->last_r2t_offset = p.buffer_offset();
        t->last_r2t_end = p.buffer_offset() + p.desired_length();
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
    w.report(c, Rule::discovery_only, !c.discovery, "SCSI Response in a discovery session");
    if (c.discovery_bad.count(p.itt))
        w.report(c, Rule::discovery_rejects, false, "a SCSI Response to a command of a discovery session, not a Reject");
    const std::uint8_t response = u8(p.bhs, 2), status = u8(p.bhs, 3);
    const bool over = p.flags & 0x04, under = p.flags & 0x02, bidi_over = p.flags & 0x10, bidi_under = p.flags & 0x08;
    // RFC 3720 §10.4.1: a response is one final PDU.
    w.report(c, Rule::rsp_final, p.flags & 0x80, "byte 1 is 0x%02x", p.flags);
    // RFC 3720 §10.4.3: 0x00 completed, 0x01 target failure, 0x80-0xff vendor specific.
    w.report(c, Rule::response_code_valid, response <= 1 || response >= 0x80, "response 0x%02x", response);
    // RFC 3720 §10.4.1: the residual bits mean something only for a completed command.
    if (response != 0) w.report(c, Rule::rsp_residual_bits_clear, (p.flags & 0x1e) == 0, "response 0x%02x with flags 0x%02x", response, p.flags);
    w.report(c, Rule::rsp_residual_zero, (under || over || p.residual() == 0) && (bidi_under || bidi_over || p.f40 == 0),
             "residual %u / bidirectional %u without their flags", p.residual(), p.f40);
    // RFC 3720 §10.4.5: no SNACK Tag without an R-Data SNACK (none at ErrorRecoveryLevel 0).
    if (c.neg.erl == 0) w.report(c, Rule::snack_tag_zero, p.f20 == 0, "SNACK Tag 0x%x", p.f20);
    if (status == STATUS_CHECK_CONDITION) {
        // RFC 3720 §9.2, §10.4.7: CHECK CONDITION brings its sense data along.
        w.report(c, Rule::autosense, p.data_segment_length > 0, "CHECK CONDITION without sense data");
        if (p.data_segment_length >= 2) {
            const std::uint16_t sl = be16(p.data, 0);
            w.report(c, Rule::sense_length, std::size_t{sl} + 2 <= p.data_segment_length, "SenseLength %u in a %u-byte segment", sl,
                     p.data_segment_length);
        }
    }
    if (c.datain_status.count(p.itt))
        w.report(c, Rule::no_rsp_after_datain_status, false, "a SCSI Response after the Data-In that carried ITT 0x%x's status", p.itt);
    TaskState* t = target_task(w, c, p);
    if (t) {
        w.pass(Rule::no_rsp_after_datain_status);
        w.report(c, Rule::cmdsn_ignored_outside, t->in_window || t->immediate,
                 "status for CmdSN %u, which was outside the window and should have been ignored", t->cmdsn.v);
        w.report(c, Rule::duplicate_cmdsn_ignored, !t->duplicate_cmdsn, "status for a second command with CmdSN %u", t->cmdsn.v);
        if (t->datain_pdus > 0)
            w.report(c, Rule::datain_final_last, t->datain_last_final, "the last Data-In before the SCSI Response had F=0");
        // RFC 3720 §10.4.8: ExpDataSN counts the R2T and Data-In PDUs of the task, and is
        // 0 when the command did not complete or sent no Data-In.
        if (response == 0 && t->datain_pdus > 0) {
            const std::uint32_t sent = t->datain_pdus + t->r2ts;
            w.report(c, Rule::exp_datasn, p.f36 == sent, "ExpDataSN %u, but %u Data-In and R2T PDUs were sent", p.f36, sent);
        } else {
            w.report(c, Rule::expdatasn_zero, p.f36 == 0, "ExpDataSN %u with response 0x%02x and %u Data-In PDUs", p.f36, response,
                     t->datain_pdus);
        }
        if (response == 0 && status == STATUS_GOOD) judge_residual(w, c, *t, under, over, p.residual());
        end_task(c, p.itt);
    }
    check_target_numbers(w, c, p, true, true, Rule::statsn_per_status);
}

}  // namespace iscsilab::checker
