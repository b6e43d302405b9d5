// SCSI Command, Data-Out, R2T, Data-In and SCSI Response (RFC 3720 §10.3, 10.4, 10.7,
// 10.8): how a task's data moves in both directions and how its status goes back.
#include <algorithm>
#include <cstring>

#include "target/iscsi/connection.hpp"
#include "target/iscsi/driver.hpp"
#include "target/bytes.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::iscsi {

namespace {

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
    const NegotiatedParams& p = session_->params();
    const auto imm = static_cast<std::uint32_t>(pdu.data.size());
    if (imm > 0) {
        // RFC 3720 §10.3: immediate data only on writes, only with ImmediateData=Yes,
        // never past FirstBurstLength or the expected length.
        if (!c.write || !p.immediate_data || imm > p.first_burst_length ||
            imm > c.expected_data_transfer_length)
            return reject(pdu, RejectReason::ProtocolError);
    }

    auto t = std::make_shared<Task>();
    t->itt = c.itt;
    t->cmdsn = c.cmdsn;
    t->immediate = c.immediate;
    t->lun_field = c.lun;
    t->lun = scsi::decode_lun(c.lun);
    t->edtl = c.expected_data_transfer_length;
    t->read = c.read;
    t->write = c.write;
    t->cmd = std::make_shared<scsi::Command>();
    scsi::Command& cmd = *t->cmd;
    cmd.cdb = c.cdb;
    cmd.lun = c.lun;
    cmd.tag = c.itt;
    cmd.attr = to_scsi(c.attr);
    cmd.direction = c.read && c.write ? scsi::DataDirection::Bidi
                    : c.read          ? scsi::DataDirection::Read
                    : c.write         ? scsi::DataDirection::Write
                                      : scsi::DataDirection::None;
    cmd.expected_transfer_length = c.expected_data_transfer_length;
    cmd.nexus = session_->nexus();
    t->waiting_since = clock_.now();
    tasks_[t->itt] = t;
    if (!t->immediate) session_->command_started();

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

    if (t->write) {
        cmd.data_out.resize(t->edtl);
        if (imm > 0) {
            place_data(*t, 0, pdu.data);
            t->unsolicited_received = imm;
        }
        // RFC 3720 §10.3.4 / §12.10-12.14: unsolicited Data-Out may follow up to
        // FirstBurstLength unless InitialR2T=Yes or the F bit closed the first burst.
        std::uint32_t unsolicited = imm;
        if (!p.initial_r2t && !c.final_bit) unsolicited = std::min(t->edtl, p.first_burst_length);
        t->unsolicited_limit = std::max(unsolicited, imm);
        t->next_r2t_offset = t->unsolicited_limit;
        solicit(t);
    }
    maybe_execute(t);
}

void Connection::place_data(Task& t, std::uint32_t offset, std::span<const std::byte> data) {
    std::copy(data.begin(), data.end(), t.cmd->data_out.begin() + offset);
    t.received += static_cast<std::uint32_t>(data.size());
}

void Connection::solicit(const std::shared_ptr<Task>& t) {
    const NegotiatedParams& p = session_->params();
    while (t->r2ts.size() < p.max_outstanding_r2t && t->next_r2t_offset < t->edtl) {
        R2tState r;
        r.ttt = next_ttt_++;
        if (r.ttt == kReservedTag) r.ttt = next_ttt_++;
        r.r2tsn = t->next_r2tsn++;
        r.offset = t->next_r2t_offset;
        r.length = std::min(p.max_burst_length, t->edtl - r.offset);  // RFC 3720 §10.8.4
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
    const auto len = static_cast<std::uint32_t>(pdu.data.size());
    auto protocol_error = [&](const std::string& why) {
        // RFC 3720 §6.7 / §10.17: Reject the PDU. At ERL 0 the task cannot be recovered
        // within the command: it ends here without a response, and the initiator's
        // timeout (or a TMF) takes it from there. The connection stays usable.
        driver_.log("connection " + std::to_string(id_) + ": Data-Out for ITT " + std::to_string(d.itt) +
                    " rejected: " + why);
        reject(pdu, RejectReason::ProtocolError);
        abort(t);
    };

    if (d.ttt == kReservedTag) {
        // Unsolicited data continues right after the immediate data.
        if (d.datasn != t->unsolicited_next_datasn) return protocol_error("unsolicited DataSN out of order");
        if (d.buffer_offset != t->unsolicited_received ||
            std::uint64_t{d.buffer_offset} + len > t->unsolicited_limit)
            return protocol_error("unsolicited data outside the first burst");
        place_data(*t, d.buffer_offset, pdu.data);
        t->unsolicited_received += len;
        ++t->unsolicited_next_datasn;
    } else {
        auto r = std::find_if(t->r2ts.begin(), t->r2ts.end(), [&](const R2tState& s) { return s.ttt == d.ttt; });
        if (r == t->r2ts.end()) return protocol_error("Target Transfer Tag not outstanding");
        // RFC 3720 §10.7.5: DataSN counts from 0 within each R2T's sequence.
        if (d.datasn != r->next_datasn) return protocol_error("DataSN out of order");
        if (d.buffer_offset != r->offset + r->received || r->received + std::uint64_t{len} > r->length)
            return protocol_error("Buffer Offset outside the R2T");
        place_data(*t, d.buffer_offset, pdu.data);
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
    t->phase = TaskPhase::Executing;
    std::weak_ptr<Connection> weak = shared_from_this();
    Executor* ex = &executor_;
    // The token is the nexus's record that this task still works at the device; it
    // goes once the task is done with, whether its connection still exists or not.
    std::shared_ptr<void> token = session_->work ? session_->work->hold() : nullptr;
    session_->target()->luns().execute(t->cmd, [weak, t, ex, token]() mutable {
        // The device may finish on any thread: come home before touching state.
        ex->post([weak, t, token = std::move(token)]() mutable {
            if (auto self = weak.lock()) self->command_done(t);
            token.reset();
        });
    });
}

void Connection::forget(const std::shared_ptr<Task>& t) {
    auto it = tasks_.find(t->itt);
    if (it != tasks_.end() && it->second == t) {
        tasks_.erase(it);
        if (!t->immediate && session_) session_->command_ended();
    }
    t->phase = TaskPhase::Done;
    auto waiters = std::move(t->on_gone);
    t->on_gone.clear();
    for (auto& fn : waiters) fn();
}

void Connection::abort(const std::shared_ptr<Task>& t) {
    t->aborted = true;
    t->cmd->aborted = true;
    if (t->phase == TaskPhase::ReceivingData) forget(t);
}

void Connection::command_done(const std::shared_ptr<Task>& t) {
    if (state_ == ConnState::Closed) return;
    auto it = tasks_.find(t->itt);
    if (it == tasks_.end() || it->second != t) return;
    // SAM-5 §5.6 with TAS=0: an aborted task ends without a response.
    const bool respond = !t->aborted && state_ == ConnState::FullFeature;
    tasks_.erase(it);
    if (!t->immediate) session_->command_ended();
    if (respond) send_response(*t);
    t->phase = TaskPhase::Done;
    auto waiters = std::move(t->on_gone);
    for (auto& fn : waiters) fn();
}

void Connection::send_response(Task& t) {
    scsi::Command& cmd = *t.cmd;
    const NegotiatedParams& p = session_->params();
    const std::shared_ptr<Bytes> din = cmd.data_in;
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
        // Data-In: PDUs no longer than the initiator's MaxRecvDataSegmentLength,
        // sequences no longer than MaxBurstLength (RFC 3720 §12.12, §12.13), status in
        // the last PDU (phase collapse, §10.7.3) since there is no sense data.
        const std::uint32_t mxdsl = std::max<std::uint32_t>(p.max_xmit_data_segment_length, 512);
        std::uint32_t offset = 0, burst = 0;
        while (offset < to_send) {
            const std::uint32_t len = std::min({mxdsl, to_send - offset, p.max_burst_length - burst});
            const bool last = offset + len == to_send;
            burst += len;
            const bool end_of_sequence = last || burst == p.max_burst_length;
            if (end_of_sequence) burst = 0;
            DataInPdu d;
            d.final_bit = end_of_sequence;
            d.lun = t.lun_field;
            d.itt = t.itt;
            d.ttt = kReservedTag;
            d.datasn = t.datain_pdus++;
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
            Slice s{din, std::span<const std::byte>(din->data() + offset, len)};
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
    send(r.encode(dsl), Slice::own(std::move(data)));
}

}  // namespace iscsilab::iscsi
