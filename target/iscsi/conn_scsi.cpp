// SCSI Command, Data-Out, R2T, Data-In and SCSI Response (RFC 3720 §10.3, 10.4, 10.7,
// 10.8): how a task's data moves in both directions and how its status goes back.
#include <algorithm>
#include <cstring>

#include "target/bytes.hpp"
#include "target/defects.hpp"
#include "target/iscsi/connection.hpp"
#include "target/iscsi/driver.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::iscsi {

namespace {

const char* phase_name(TaskPhase p) {
    switch (p) {
        case TaskPhase::ReceivingData: return "receiving data";
        case TaskPhase::Executing: return "executing";
        case TaskPhase::Done: return "ended";
    }
    return "?";
}

scsi::TaskAttribute to_scsi(TaskAttr a) {
    switch (a) {
        case TaskAttr::Ordered: return scsi::TaskAttribute::Ordered;
        case TaskAttr::HeadOfQueue: return scsi::TaskAttribute::HeadOfQueue;
        case TaskAttr::Aca: return scsi::TaskAttribute::Aca;
        default: return scsi::TaskAttribute::Simple;
    }
}
}  // namespace

void Connection::handle_scsi_command(Pdu& pdu) {
    const auto c = ScsiCommandPdu::decode(pdu.bhs);
    if (session_->discovery()) {
        // RFC 3720 §3.3: a discovery session carries no SCSI commands.
        return reject(pdu, RejectReason::ProtocolError);
    }
    if (tasks_.count(c.itt)) return reject(pdu, RejectReason::InvalidPduField);  // ITT in use
    aborted_itts_.erase(c.itt);
    const NegotiatedParams& p = session_->params();
    const auto imm = pdu.data_length();
    if (imm > 0) {
        // RFC 3720 §10.3: immediate data only on writes, only with ImmediateData=Yes,
        // never past FirstBurstLength or the expected length.
        if (!c.write || !p.immediate_data || imm > p.first_burst_length ||
            imm > c.expected_data_transfer_length)
            return reject(pdu, RejectReason::ProtocolError);
    }

    // Task and command come from the block cache: no heap allocation per command.
    auto t = std::allocate_shared<Task>(CachedAllocator<Task>{});
    t->itt = c.itt;
    t->cmdsn = c.cmdsn;
    t->immediate = c.immediate;
    t->lun_field = c.lun;
    t->lun = scsi::decode_lun(c.lun);
    t->edtl = c.expected_data_transfer_length;
    t->read = c.read;
    t->write = c.write;
    t->cmd = std::allocate_shared<scsi::Command>(CachedAllocator<scsi::Command>{});
    scsi::Command& cmd = *t->cmd;
    cmd.cdb = c.cdb;
    cmd.lun = c.lun;
    cmd.tag = c.itt;
    cmd.reference = c.cmdsn;
    cmd.attr = to_scsi(c.attr);
    cmd.direction = c.read && c.write ? scsi::DataDirection::Bidi
                    : c.read          ? scsi::DataDirection::Read
                    : c.write         ? scsi::DataDirection::Write
                                      : scsi::DataDirection::None;
    cmd.expected_transfer_length = c.expected_data_transfer_length;
    cmd.nexus = session_->nexus();
    cmd.data_in_may_stay = data_in_may_stay_ && c.read;
    t->waiting_since = clock_.now();
    tasks_[t->itt] = t;
    if (!t->immediate) {
        session_->command_started();
        // Only commands inside the window are started, and the window is never wider
        // than QueuedCommands (RFC 3720 §3.2.2.1): more in flight means one never left.
        if (!invariant(session_->in_flight() <= session_->target_params().queued_commands, t.get(), [&] {
                return std::to_string(session_->in_flight()) + " commands in flight, QueuedCommands " +
                       std::to_string(session_->target_params().queued_commands);
            }))
            return;
    }

    // An EDTL over the maximum transfer length is refused before any data is solicited:
    // a hostile initiator cannot make us buffer more than that per command.
    const bool too_big = t->write && t->edtl > scsi::kMaxTransferBytes;
    if ((c.read && c.write) || too_big) {
        // Bidirectional commands are not supported, and an EDTL beyond what we buffer is
        // refused before any data is solicited.
        cmd.fail(scsi::invalid_field_in_cdb(0), false);
        if (too_big) t->write = false;  // unsolicited data that follows is dropped
        t->phase = TaskPhase::Executing;
        return command_done(t);
    }

    if (t->read && t->edtl > 0) {
        // A read's buffer is claimed before the device fills it; a hostile initiator that
        // never takes its Data-In holds no more than the bound lets it.
        auto r = BufferPool::instance().reserve(t->edtl, session_->memory_share);
        if (!r) return refuse_for_memory(t);
        t->memory = std::move(*r);
    }
    if (t->write) {
        // RFC 3720 §10.3.4 / §12.10-12.14: unsolicited Data-Out may follow up to
        // FirstBurstLength unless InitialR2T=Yes or the F bit closed the first burst.
        std::uint32_t unsolicited = imm;
        if (!p.initial_r2t && !c.final_bit) unsolicited = std::min(t->edtl, p.first_burst_length);
        t->unsolicited_limit = std::max(unsolicited, imm);
        t->next_r2t_offset = t->unsolicited_limit;
        // From the pool, not zeroed: the task runs only once every byte has arrived. The
        // framer may already have put the immediate data into one (place_segment).
        // Without immediate data, memory is committed only when the first Data-Out
        // comes: a write whose data never comes costs its task, not its EDTL.
        if (pdu.data_placed && pdu.placed && pdu.placed->size() == t->edtl) cmd.data_out = DataBuffer(pdu.placed);
        else if (imm > 0 || t->edtl == 0) {
            if (!claim_data_out(*t)) {
                t->data_failed = true;
                t->out_of_memory = true;
                t->unsolicited_received = imm;
                return drained(t);
            }
        }
        if (imm > 0) {
            if (!place_data(*t, 0, pdu)) return;
            t->unsolicited_received = imm;
        }
        solicit(t);
    }
    maybe_execute(t);
}

bool Connection::claim_data_out(Task& t) {
    if (t.cmd->data_out.buffer()) return true;
    if (t.edtl == 0) {
        t.cmd->data_out.allocate(0);
        return true;
    }
    auto r = BufferPool::instance().reserve(t.edtl, session_->memory_share);
    if (!r) return false;
    t.cmd->data_out.allocate(t.edtl);
    t.cmd->data_out.buffer()->hold(std::move(*r));
    return true;
}

void Connection::set_out_of_memory_status(Task& t) {
    // SAM-5 §5.3.1 (SCST's scst_set_busy): TASK SET FULL while the nexus has other
    // tasks, which will end and make room; BUSY when it has none. Logged once per
    // connection, not once per command.
    log_noisy(Noisy::MemoryRefused, LogLevel::warning,
              "connection " + std::to_string(id_) + " (" + session_->params().initiator_name +
                  "): command refused (TASK SET FULL/BUSY): the bound on data buffers (max_cmd_mem) is reached");
    t.cmd->status = tasks_.size() > 1 ? scsi::Status::TaskSetFull : scsi::Status::Busy;
    t.cmd->sense.clear();
}

void Connection::refuse_for_memory(const std::shared_ptr<Task>& t) {
    set_out_of_memory_status(*t);
    t->write = false;  // any unsolicited data that follows is dropped
    t->phase = TaskPhase::Executing;
    command_done(t);
}

void Connection::drained(const std::shared_ptr<Task>& t) {
    // A task whose Data-Out went wrong ends once nothing more is owed (RFC 3720 §10.17.1:
    // not before the last expected Data-Out with F=1): BUSY/TASK SET FULL if the bound
    // on buffers refused it, else CHECK CONDITION, ABORTED COMMAND, incorrect amount of
    // data (§10.4.7.2).
    if (t->unsolicited_received < t->unsolicited_limit || !t->r2ts.empty()) return;
    if (t->out_of_memory) {
        set_out_of_memory_status(*t);
    } else {
        t->cmd->fail(scsi::Sense{scsi::SenseKey::AbortedCommand, scsi::Asc{0x0c, 0x0d}}, false);
    }
    t->phase = TaskPhase::Executing;
    command_done(t);
}

Placement Connection::place_segment(const Pdu& h) {
    if (state_ != ConnState::FullFeature || broken_ || !session_ || session_->discovery()) return {};
    const std::uint32_t dsl = h.view().data_segment_length();
    // RFC 3720 §3.2.2.1: a numbered PDU outside [ExpCmdSN, MaxCmdSN] is ignored, so its
    // data is never kept. Judged here, at its header; accept_numbered keeps to it.
    if (numbered(h) && !session_->in_window(ld32(h.bhs, 24))) return Placement::discarded();
    if (h.opcode() == Opcode::ScsiCommand) {
        // Immediate data, as handle_scsi_command will accept it (RFC 3720 §10.3): a
        // write, ImmediateData=Yes, within FirstBurstLength and the EDTL. The buffer is
        // the command's whole Data-Out buffer; anything refused later just drops it.
        const auto c = ScsiCommandPdu::decode(h.bhs);
        const NegotiatedParams& p = session_->params();
        if (!c.write || c.read || !p.immediate_data || dsl > p.first_burst_length || dsl > c.expected_data_transfer_length ||
            c.expected_data_transfer_length > scsi::kMaxTransferBytes || tasks_.count(c.itt))
            return {};
        // Past the bound on buffers: not placed (the segment, at most
        // MaxRecvDataSegmentLength, is read aside) and the command is refused.
        auto r = BufferPool::instance().reserve(c.expected_data_transfer_length, session_->memory_share);
        if (!r) return {};
        BufferPtr b = BufferPool::instance().get(c.expected_data_transfer_length);
        b->hold(std::move(*r));
        const std::span<std::byte> into(b->data(), dsl);
        return Placement::at(into, std::move(b));
    }
    if (h.opcode() == Opcode::DataOut) {
        // Into the task's buffer at the PDU's offset. Checked here only so far as memory
        // goes: handle_data_out judges the PDU once it is in, and a PDU it refuses fails
        // the task (data_failed), so bytes placed by it are never written to a device.
        // Data that handle_data_out drops whatever it holds is not read in at all: for no
        // task (it ended, or never was), a task not taking data, one whose data already
        // failed (it only waits for the F bit), and a Target Transfer Tag of no R2T
        // outstanding (RFC 3720 §10.7.4: a protocol error, answered with a Reject).
        const auto d = DataOutPdu::decode(h.bhs);
        auto it = tasks_.find(d.itt);
        if (it == tasks_.end()) return Placement::discarded();
        Task& t = *it->second;
        if (t.phase != TaskPhase::ReceivingData || !t.write || t.data_failed) return Placement::discarded();
        if (d.ttt != kReservedTag && t.r2t(d.ttt) == t.r2ts.end()) return Placement::discarded();
        // The first data of a write commits its buffer (refused: handle_data_out ends it).
        if (std::uint64_t{d.buffer_offset} + dsl > t.edtl || !claim_data_out(t)) return {};
        if (std::uint64_t{d.buffer_offset} + dsl > t.cmd->data_out.size()) return {};
        BufferPtr keep = t.cmd->data_out.buffer();
        const std::span<std::byte> into(keep->data() + d.buffer_offset, dsl);
        return Placement::at(into, std::move(keep));
    }
    return {};
}

bool Connection::place_data(Task& t, std::uint32_t offset, const Pdu& pdu) {
    // The callers checked the PDU against the burst it belongs to; this is the last line
    // before memory: never past the buffer, never more bytes than the EDTL.
    const std::uint32_t length = pdu.data_length();
    const std::uint64_t end = std::uint64_t{offset} + length;
    // A segment dropped at its header (place_segment) has no bytes to give.
    if (!invariant(!pdu.data_discarded, &t, [&] { return std::string("a discarded data segment reached place_data"); }))
        return false;
    if (!invariant(end <= t.cmd->data_out.size() && t.received + std::uint64_t{length} <= t.edtl, &t, [&] {
            return "Data-Out bytes " + std::to_string(offset) + ".." + std::to_string(end) + " into a buffer of " +
                   std::to_string(t.cmd->data_out.size()) + " with " + std::to_string(t.received) + " of EDTL " +
                   std::to_string(t.edtl) + " received";
        }))
        return false;
    if (!pdu.data_placed) {
        std::copy(pdu.data.begin(), pdu.data.end(), t.cmd->data_out.begin() + offset);
    } else {
        // Already in the buffer (place_segment), at the PDU's own Buffer Offset (0 for
        // immediate data). Where the caller wants it elsewhere (a deliberate defect of
        // a test build), it moves there.
        const std::uint32_t placed_at =
            pdu.opcode() == Opcode::DataOut ? DataOutPdu::decode(pdu.bhs).buffer_offset : 0;
        if (!invariant(pdu.placed && pdu.placed == t.cmd->data_out.buffer(), &t,
                       "a data segment placed in a buffer that is not the task's"))
            return false;
        if (placed_at != offset)
            std::memmove(t.cmd->data_out.data() + offset, t.cmd->data_out.data() + placed_at, length);
    }
    t.received += length;
    return true;
}

void Connection::solicit(const std::shared_ptr<Task>& t) {
    const NegotiatedParams& p = session_->params();
    while (t->r2ts.size() < p.max_outstanding_r2t && t->next_r2t_offset < t->edtl) {
        R2tState r;
        r.ttt = next_ttt_++;
        if (r.ttt == kReservedTag) r.ttt = next_ttt_++;
        r.r2tsn = t->next_r2tsn++;
        if (defects::on(defects::Defect::r2tsn_per_connection)) r.r2tsn = defect_r2tsn_++;
        r.offset = t->next_r2t_offset;
        r.length = std::min(p.max_burst_length, t->edtl - r.offset);  // RFC 3720 §10.8.4
        if (defects::on(defects::Defect::r2t_past_max_burst))
            r.length = std::min(p.max_burst_length + 512, t->edtl - r.offset);
        // RFC 3720 §10.8.4: more than 0 and at most MaxBurstLength bytes, inside the
        // EDTL; §12.17: no more outstanding than MaxOutstandingR2T.
        if (!invariant(r.length > 0 && r.length <= p.max_burst_length && r.offset + std::uint64_t{r.length} <= t->edtl &&
                           t->r2ts.size() < p.max_outstanding_r2t,
                       t.get(), [&] {
                           return "R2T for bytes " + std::to_string(r.offset) + " + " + std::to_string(r.length) + " of EDTL " +
                                  std::to_string(t->edtl) + " with " + std::to_string(t->r2ts.size()) +
                                  " outstanding (MaxBurstLength " + std::to_string(p.max_burst_length) +
                                  ", MaxOutstandingR2T " + std::to_string(p.max_outstanding_r2t) + ")";
                       }))
            return;
        t->next_r2t_offset += r.length;
        t->r2ts.push_back(r);

        R2TPdu pdu;
        pdu.lun = t->lun_field;
        pdu.itt = t->itt;
        pdu.ttt = r.ttt;
        pdu.r2tsn = r.r2tsn;
        pdu.buffer_offset = r.offset;
        pdu.desired_data_transfer_length = r.length;
        pdu.sn = current_sn();
        send(pdu.encode());
    }
    t->waiting_since = clock_.now();
}

void Connection::handle_data_out(Pdu& pdu) {
    const auto d = DataOutPdu::decode(pdu.bhs);
    auto it = tasks_.find(d.itt);
    if (it == tasks_.end()) {
        // Data for a task that ended (aborted, failed early, or killed by an earlier
        // protocol error): at ERL 0 nothing can use it. Dropped.
        return;
    }
    auto t = it->second;
    if (t->phase != TaskPhase::ReceivingData || !t->write) return;  // aborted, or done
    const auto len = pdu.data_length();
    // A task whose Data-Out went wrong takes the rest of what it is owed and drops it:
    // an F bit closes the unsolicited burst or its R2T. Once nothing is owed its status
    // goes out (RFC 3720 §10.17.1: not before the last expected Data-Out with F=1):
    // CHECK CONDITION, ABORTED COMMAND, incorrect amount of data (§10.4.7.2).
    auto drain = [&] {
        if (d.final_bit) {
            if (d.ttt == kReservedTag) t->unsolicited_received = t->unsolicited_limit;
            else std::erase_if(t->r2ts, [&](const R2tState& s) { return s.ttt == d.ttt; });
        }
        t->waiting_since = clock_.now();
        drained(t);
    };
    if (t->data_failed) return drain();
    if (!claim_data_out(*t)) {
        t->data_failed = true;
        t->out_of_memory = true;
        return drain();
    }
    auto protocol_error = [&](const std::string& why) {
        // RFC 3720 §6.7 / §10.17: Reject the PDU. The connection stays usable, and the
        // task is not ended by the Reject ("Targets MUST NOT implicitly terminate an
        // active task by sending a Reject PDU", §10.17.1): it ends with a response once
        // its data is in, as above.
        log_noisy(Noisy::DataOutRejected, LogLevel::info,
                  "connection " + std::to_string(id_) + ": Data-Out for ITT " + std::to_string(d.itt) + " rejected: " + why);
        reject(pdu, RejectReason::ProtocolError);
        t->data_failed = true;
        drain();
    };

    if (d.ttt == kReservedTag) {
        // Unsolicited data continues right after the immediate data.
        if (d.datasn != t->unsolicited_next_datasn) return protocol_error("unsolicited DataSN out of order");
        if (d.buffer_offset != t->unsolicited_received ||
            std::uint64_t{d.buffer_offset} + len > t->unsolicited_limit)
            return protocol_error("unsolicited data outside the first burst");
        std::uint32_t at = d.buffer_offset;
        if (defects::on(defects::Defect::unsolicited_by_datasn)) at = d.datasn * len;
        if (!place_data(*t, at, pdu)) return;
        t->unsolicited_received += len;
        ++t->unsolicited_next_datasn;
    } else {
        auto r = t->r2t(d.ttt);
        if (r == t->r2ts.end()) return protocol_error("Target Transfer Tag not outstanding");
        // RFC 3720 §10.7.5: DataSN counts from 0 within each R2T's sequence.
        if (d.datasn != r->next_datasn) return protocol_error("DataSN out of order");
        if (d.buffer_offset != r->offset + r->received || r->received + std::uint64_t{len} > r->length)
            return protocol_error("Buffer Offset outside the R2T");
        if (!place_data(*t, d.buffer_offset, pdu)) return;
        r->received += len;
        ++r->next_datasn;
        if (r->received == r->length) {
            t->r2ts.erase(r);
            solicit(t);
        }
    }
    t->waiting_since = clock_.now();
    maybe_execute(t);
}

void Connection::maybe_execute(const std::shared_ptr<Task>& t) {
    if (t->phase != TaskPhase::ReceivingData) return;
    // A session being reinstated starts nothing more: its successor waits for what
    // it already started (RFC 3720 §6.3.5).
    if (session_->reinstating) return;
    if (t->write && t->received < t->edtl) return;
    execute(t);
}

void Connection::execute(const std::shared_ptr<Task>& t) {
    // A write goes to the device with every byte of its EDTL and no R2T still open.
    if (!invariant(t->phase == TaskPhase::ReceivingData && (!t->write || (t->received == t->edtl && t->r2ts.empty())),
                   t.get(), [&] {
                       return std::string("task executed while ") + phase_name(t->phase) + " with " +
                              std::to_string(t->received) + " of EDTL " + std::to_string(t->edtl) + " bytes and " +
                              std::to_string(t->r2ts.size()) + " R2Ts open";
                   }))
        return;
    t->phase = TaskPhase::Executing;
    t->home = shared_from_this();
    t->home_executor = &executor_;
    // The token is the nexus's record that this task still works at the device; it
    // goes once the task is done with, whether its connection still exists or not.
    t->work_token = session_->work ? session_->work->hold() : nullptr;
    t->keep_alive = t;
    session_->target()->luns().execute(t->cmd, [task = t.get()] {
        // The device may finish on any thread: come home before touching state.
        task->home_executor->post([task] {
            const std::shared_ptr<Task> t = std::move(task->keep_alive);
            const std::shared_ptr<void> token = std::move(t->work_token);
            if (auto self = t->home.lock()) self->command_done(t);
        });
    });
}

void Connection::leave_window(const Task& t) {
    if (t.immediate || !session_) return;
    // A task leaves the window once: more endings than starts would open it wider
    // than QueuedCommands.
    if (!invariant(session_->in_flight() > 0, &t, "a task ended with no command in flight (ended twice?)")) return;
    session_->command_ended();
}

void Connection::forget(const std::shared_ptr<Task>& t) {
    auto it = tasks_.find(t->itt);
    if (it != tasks_.end() && it->second == t && !defects::on(defects::Defect::leak_task_on_abort)) {
        tasks_.erase(it);
        leave_window(*t);
    }
    t->phase = TaskPhase::Done;
    auto waiters = std::move(t->on_gone);
    t->on_gone.clear();
    for (auto& fn : waiters) fn();
}

void Connection::abort(const std::shared_ptr<Task>& t) {
    t->aborted = true;
    t->cmd->aborted = true;
    if (aborted_itts_.size() >= 4096) aborted_itts_.clear();   // bounded: a hostile initiator cannot grow it
    aborted_itts_.insert(t->itt);
    if (t->phase == TaskPhase::ReceivingData) forget(t);
}

void Connection::command_done(const std::shared_ptr<Task>& t) {
    // The device finishes a task once (Device::execute: done runs exactly once), and only
    // a task that went to it.
    if (!invariant(t->phase == TaskPhase::Executing, t.get(), [&] {
            return t->phase == TaskPhase::Done ? "the device finished a task that had already ended (a task ends once)"
                                               : "the device finished a task it was never given";
        }))
        return;
    if (state_ == ConnState::Closed) return;
    auto it = tasks_.find(t->itt);
    // Until the connection closes, a task at the device stays in the task table.
    const bool known =
        invariant(it != tasks_.end() && it->second == t, t.get(), "the device finished a task the connection no longer has");
    // SAM-5 §5.6 with TAS=0: an aborted task ends without a response.
    const bool respond = known && !t->aborted && state_ == ConnState::FullFeature;
    if (known && !(t->aborted && defects::on(defects::Defect::leak_task_on_abort))) {
        tasks_.erase(it);
        leave_window(*t);
    }
    // What the SCSI layer hands back is consistent: CHECK CONDITION with sense data,
    // GOOD without (SAM-5 §5.3; RFC 3720 §10.4.7 carries the sense in the response).
    // Otherwise no response is built from it; the task still ends, so that whatever
    // waits for it (a TMF, a logout) is not left waiting.
    const scsi::Command& cmd = *t->cmd;
    if (respond && invariant((cmd.status == scsi::Status::CheckCondition) == !cmd.sense.empty(), t.get(), [&] {
            return "SCSI status " + std::to_string(static_cast<int>(cmd.status)) + " with " +
                   std::to_string(cmd.sense.size()) + " bytes of sense data";
        }))
        send_response(*t);
    t->phase = TaskPhase::Done;
    auto waiters = std::move(t->on_gone);
    for (auto& fn : waiters) fn();
}

void Connection::send_response(Task& t) {
    // RFC 3720 §10.4: each task ends with exactly one status.
    if (!invariant(!t.responded, &t, "a second status for a task")) return;
    t.responded = true;
    scsi::Command& cmd = *t.cmd;
    const NegotiatedParams& p = session_->params();
    const BufferPtr din = cmd.data_in;
    const std::uint64_t produced = din ? din->size() : 0;
    const bool good = cmd.status == scsi::Status::Good && cmd.sense.empty();

    // RFC 3720 §10.4.5 residuals: SPDTL against the expected data transfer length.
    bool overflow = false, underflow = false;
    std::uint32_t residual = 0;
    if (good || cmd.spdtl) {
        const std::uint64_t spdtl = cmd.spdtl.value_or(produced);
        if (spdtl > t.edtl) {
            overflow = true;
            residual = static_cast<std::uint32_t>(std::min<std::uint64_t>(spdtl - t.edtl, 0xffffffffu));
        } else if (spdtl < t.edtl) {
            underflow = true;
            residual = static_cast<std::uint32_t>(t.edtl - spdtl);
        }
    }

    const auto to_send = static_cast<std::uint32_t>(t.read && good ? std::min<std::uint64_t>(produced, t.edtl) : 0);
    if (to_send > 0) {
        // The read's claim on the bound lasts until its data has left.
        if (t.memory) din->hold(std::move(t.memory));
        // Data-In: PDUs no longer than the initiator's MaxRecvDataSegmentLength,
        // sequences no longer than MaxBurstLength (RFC 3720 §12.12, §12.13), status in
        // the last PDU (phase collapse, §10.7.3) since there is no sense data.
        std::uint32_t mxdsl = std::max<std::uint32_t>(p.max_xmit_data_segment_length, 512);
        if (defects::on(defects::Defect::datain_over_mrdsl)) mxdsl = std::max<std::uint32_t>(mxdsl, 8192);
        std::uint32_t offset = 0, burst = 0, sequence_pdus = 0;
        while (offset < to_send) {
            const std::uint32_t len = std::min({mxdsl, to_send - offset, p.max_burst_length - burst});
            const bool last = offset + len == to_send;
            burst += len;
            const bool end_of_sequence = last || burst == p.max_burst_length;
            // RFC 3720 §10.7.7, §12.12-12.13: each Data-In within the initiator's
            // MaxRecvDataSegmentLength, each sequence within MaxBurstLength, and never past
            // the EDTL or the data the device produced.
            if (!invariant(len > 0 && len <= std::max<std::uint32_t>(p.max_xmit_data_segment_length, 512) &&
                               burst <= p.max_burst_length && offset + len <= t.edtl && offset + len <= din->size(),
                           &t, [&] {
                               return "Data-In bytes " + std::to_string(offset) + " + " + std::to_string(len) + " of " +
                                      std::to_string(to_send) + " (EDTL " + std::to_string(t.edtl) +
                                      ", MaxRecvDataSegmentLength " + std::to_string(p.max_xmit_data_segment_length) +
                                      ", MaxBurstLength " + std::to_string(p.max_burst_length) + ")";
                           }))
                return;
            if (end_of_sequence) burst = 0;
            DataInPdu d;
            d.final_bit = end_of_sequence;
            d.lun = t.lun_field;
            d.itt = t.itt;
            d.ttt = kReservedTag;
            d.datasn = t.datain_pdus++;
            if (defects::on(defects::Defect::datasn_per_sequence)) d.datasn = sequence_pdus++;
            if (end_of_sequence) sequence_pdus = 0;
            d.buffer_offset = offset;
            if (last) {
                d.status_present = true;
                d.status = static_cast<std::uint8_t>(cmd.status);
                d.overflow = overflow;
                d.underflow = underflow;
                d.residual = residual;
                d.sn = status_sn();
            } else {
                d.sn = current_sn();
            }
            Slice s{din, std::span<const std::byte>(din->data() + offset, len), true};
            if (cmd.data_in_source) {
                // The bytes lie at the store (data_in_may_stay_): sent from there.
                s.source = cmd.data_in_source;
                s.source_offset = offset;
            }
            send(d.encode(len), std::move(s));
            offset += len;
        }
        return;
    }

    ScsiResponsePdu r;
    r.response = 0x00;  // Command Completed at Target
    r.status = static_cast<std::uint8_t>(cmd.status);
    r.itt = t.itt;
    r.overflow = overflow;
    r.underflow = underflow;
    r.residual = residual;
    // RFC 3720 §10.4.8: R2Ts and Data-In counted, but 0 when no Data-In was sent (a write).
    r.expdatasn = t.read ? t.datain_pdus : 0;
    r.sn = status_sn();
    Bytes data;
    if (!cmd.sense.empty()) {
        // RFC 3720 §10.4.7: SenseLength, then the sense data.
        data.resize(2 + cmd.sense.size());
        st16(data, 0, static_cast<std::uint16_t>(cmd.sense.size()));
        std::copy(cmd.sense.begin(), cmd.sense.end(), data.begin() + 2);
    }
    const auto dsl = static_cast<std::uint32_t>(data.size());
    send(r.encode(dsl), dsl ? Slice::own(std::move(data)) : Slice{});
}

}  // namespace iscsilab::iscsi
