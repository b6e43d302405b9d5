// The initiator model's workload: SCSI commands with immediate, unsolicited and
// R2T-solicited data (RFC 3720 §10.3, §10.7, §10.8), Data-In and SCSI Responses
// (§10.4), and what each completion teaches the oracle.
#include <algorithm>

#include "model/initiator.hpp"
#include "target/bytes.hpp"

namespace iscsilab::model {

using namespace iscsilab::iscsi;
using detail::hex;

bool Initiator::next_op(Op& op) {
    const std::uint64_t bpo = std::max<std::uint64_t>(1, wl_.block_size / block_len_);
    const std::uint64_t first = wl_.region_offset / block_len_;
    std::uint64_t len = wl_.region_length ? wl_.region_length / block_len_ : lun_blocks_ - first;
    len = std::min(len, lun_blocks_ - std::min(first, lun_blocks_));
    const std::uint64_t slots = len / bpo;
    if (slots == 0) {
        fail("workload region holds no whole operation");
        return false;
    }
    if (wl_.write_then_read) {
        const std::uint64_t half = std::max<std::uint64_t>(1, wl_.ops / 2);   // one op: a write alone
        op.kind = issued_ < half ? Op::Kind::write : Op::Kind::read;
        op.lba = first + ((issued_ % half) % slots) * bpo;
    } else {
        const std::uint64_t r = rng_.below(100);
        const std::uint64_t verify_to = wl_.read_pct + wl_.verify_pct, unmap_to = verify_to + wl_.unmap_pct;
        op.kind = r < wl_.read_pct   ? Op::Kind::read
                  : r < verify_to    ? Op::Kind::verify
                  : r < unmap_to     ? Op::Kind::unmap
                  : r < unmap_to + wl_.caw_pct ? Op::Kind::caw
                                               : Op::Kind::write;
        bool found = false;
        // A write that met RESERVATION CONFLICT is chased by a read of its blocks: they
        // must hold what they held before (SPC-4 §5.13.1: a conflicting command is not
        // performed).
        while (!found && !recheck_.empty()) {
            const std::uint64_t lba = recheck_.front();
            recheck_.pop_front();
            if (busy_.count(lba)) continue;
            op.kind = Op::Kind::read;
            op.lba = lba;
            op.recheck = found = true;
        }
        for (int attempt = 0; attempt < 32 && !found; ++attempt) {
            const std::uint64_t slot = wl_.pattern == Workload::Pattern::sequential ? (seq_next_++ % slots) : rng_.below(slots);
            op.lba = first + slot * bpo;
            found = !busy_.count(op.lba);
        }
        if (!found) return false;  // everything near is busy: wait for a completion
    }
    if (busy_.count(op.lba)) return false;
    op.blocks = static_cast<std::uint32_t>(bpo);
    return true;
}

void Initiator::issue() {
    // PERSISTENT RESERVE commands of the fault plan go first, as the window allows.
    while (phase_ == Phase::Running && !pr_queue_.empty() && sn_le(cmdsn_, maxcmdsn_)) {
        auto op = pr_queue_.front();
        pr_queue_.pop_front();
        prepare_scsi_op(*op);
        send_command(op);
    }
    while (phase_ == Phase::Running && issued_ < wl_.ops && ops_.size() < wl_.queue_depth && sn_le(cmdsn_, maxcmdsn_)) {
        if (wl_.sync_every && since_sync_ >= wl_.sync_every) {
            // SYNCHRONIZE CACHE(10) of the whole LU: every write acknowledged so far is
            // durable once it completes.
            since_sync_ = 0;
            auto sync = std::make_shared<Op>();
            sync->kind = Op::Kind::sync;
            sync->sync_mark = log_base_ + acked_log_.size();
            send_command(sync);
            continue;
        }
        auto op = std::make_shared<Op>();
        if (!next_op(*op)) return;
        ++issued_;
        ++since_sync_;
        if (op->kind == Op::Kind::write && wl_.fua_pct) op->fua = rng_.below(100) < wl_.fua_pct;
        // A VERIFY of a shared block expects one version where a race may have put another.
        if (shared_ && op->kind == Op::Kind::verify) op->kind = Op::Kind::read;
        if (op->kind == Op::Kind::unmap || op->kind == Op::Kind::caw) prepare_scsi_op(*op);
        if (op->kind == Op::Kind::verify)
            for (std::uint32_t b = 0; b < op->blocks; ++b)
                if (uncertain_.count(op->lba + b)) {
                    op->kind = Op::Kind::read;  // a VERIFY needs to know what to expect
                    break;
                }
        if (op->kind == Op::Kind::write || op->kind == Op::Kind::verify) {
            op->out = std::make_shared<Bytes>(std::size_t{op->blocks} * block_len_);
            const std::uint64_t gen = op->kind != Op::Kind::write ? 0 : shared_ ? shared_->next_version() : ++gen_;
            op->version = gen;
            for (std::uint32_t b = 0; b < op->blocks; ++b) {
                auto it = shadow_.find(op->lba + b);
                std::uint64_t g = op->kind == Op::Kind::write ? gen : (it == shadow_.end() ? 0 : it->second);
                if (g == kUnknown) {
                    // A VERIFY of a block whose contents are unknown would prove nothing: read it.
                    op->kind = Op::Kind::read;
                    op->out.reset();
                    break;
                }
                fill_block(op->lba + b, g, std::span<std::byte>(op->out->data() + b * block_len_, block_len_));
            }
        }
        register_shared(*op);
        send_command(op);
        if (wl_.abort_every && issued_ % wl_.abort_every == 0) send_abort(*op);
    }
}

void Initiator::maybe_finish() {
    if (phase_ != Phase::Running) return;
    if (completed_ >= wl_.ops && ops_.empty() && aborts_.empty() && pr_queue_.empty()) {
        // Pings and a Text Request still out are waited for; then what a misbehaving
        // initiator does once idle; then the logout.
        if (!pings_.empty() || midway_text_itt_ != 0) return;
        if (run_idle_misbehaviors()) return;
        return logout();
    }
    issue();
}

void Initiator::send_command(std::shared_ptr<Op> op) {
    ScsiCommandPdu c;
    c.itt = op->itt = itt_++;
    c.cmdsn = op->cmdsn = cmdsn_++;
    c.expstatsn = expstatsn_;
    c.lun = (std::uint64_t{cfg_.lun} << 48);
    c.attr = TaskAttr::Simple;
    const std::uint32_t len = static_cast<std::uint32_t>(op->blocks * block_len_);
    auto cdb = std::span<std::byte>(c.cdb);
    switch (op->kind) {
        case Op::Kind::read_capacity:
            st8(cdb, 0, 0x9e);
            st8(cdb, 1, 0x10);
            st32(cdb, 10, 32);
            c.read = true;
            c.expected_data_transfer_length = 32;
            break;
        case Op::Kind::mode_sense:
            // MODE SENSE(6), the caching page: is the write cache on (WCE)?
            st8(cdb, 0, 0x1a);
            st8(cdb, 2, 0x08);
            st8(cdb, 4, 0xff);
            c.read = true;
            c.expected_data_transfer_length = 0xff;
            break;
        case Op::Kind::sync: st8(cdb, 0, 0x35); break;
        case Op::Kind::tur: break;
        case Op::Kind::read:
        case Op::Kind::write:
        case Op::Kind::verify:
            st8(cdb, 0, op->kind == Op::Kind::read ? 0x88 : op->kind == Op::Kind::write ? 0x8a : 0x8f);
            if (op->kind == Op::Kind::verify) st8(cdb, 1, 0x02);  // BYTCHK=1
            if (op->fua) st8(cdb, 1, 0x08);
            st64(cdb, 2, op->lba);
            st32(cdb, 10, op->blocks);
            c.read = op->kind == Op::Kind::read;
            c.write = op->kind != Op::Kind::read;
            c.expected_data_transfer_length = len;
            break;
        case Op::Kind::unmap:
        case Op::Kind::caw:
        case Op::Kind::pr_out:
        case Op::Kind::pr_in: fill_cdb_scsi(*op, c); break;
    }
    ops_[op->itt] = op;
    op->power_epoch = power_epoch_;
    op->sent = kernel_.now();
    if (op->workload()) busy_.insert(op->lba);
    Bytes imm;
    std::uint32_t unsolicited_end = 0;
    if (c.write) {
        // RFC 3720 §10.3: immediate data up to FirstBurstLength and the target's
        // MaxRecvDataSegmentLength; unsolicited Data-Out after it up to FirstBurstLength.
        const std::uint32_t first_burst = std::min(first_burst_, c.expected_data_transfer_length);
        std::uint32_t n = immediate_data_ ? std::min(first_burst, target_mrdsl_) : 0;
        imm.assign(op->out->begin(), op->out->begin() + n);
        op->unsolicited_sent = n;
        unsolicited_end = initial_r2t_ ? n : first_burst;
        c.final_bit = unsolicited_end == n;
    }
    {
        const auto dsl = static_cast<std::uint32_t>(imm.size());
        send_pdu(c.encode(dsl), std::move(imm));
    }
    if (c.write && op->unsolicited_sent < unsolicited_end)
        send_data_out(*op, kReservedTag, op->unsolicited_sent, unsolicited_end - op->unsolicited_sent, false);
}

void Initiator::send_data_out(Op& op, std::uint32_t ttt, std::uint32_t offset, std::uint32_t length, bool solicited) {
    // The PDUs of the sequence: MaxRecvDataSegmentLength each (RFC 3720 §12.12).
    std::vector<std::uint32_t> sizes;
    for (std::uint32_t left = length; left > 0;) {
        const std::uint32_t n = std::min(target_mrdsl_, left);
        sizes.push_back(n);
        left -= n;
    }
    // Misbehaving: this answer runs past the end of the R2T's range by `extra` bytes,
    // carried by its last PDU (kept within MaxRecvDataSegmentLength, so only the range is
    // wrong: RFC 3720 §10.8, and §10.4.7.2 says what the target must answer).
    std::uint32_t extra = 0;
    if (solicited && excess_next_r2t_ && op.kind == Op::Kind::write && !sizes.empty() && target_mrdsl_ >= 8) {
        excess_next_r2t_ = false;
        op.excess = true;
        extra = std::max<std::uint32_t>(4, std::min<std::uint32_t>(512, target_mrdsl_ / 2) & ~3u);
        const std::uint32_t room = target_mrdsl_ - extra;
        if (sizes.back() > room) {
            const std::uint32_t last = sizes.back();
            sizes.back() = last - room;
            sizes.push_back(room);
        }
    }
    std::uint32_t datasn = 0;
    std::uint32_t sent = 0;
    for (std::size_t k = 0; k < sizes.size(); ++k) {
        const std::uint32_t n = sizes[k];
        const bool last = k + 1 == sizes.size();
        DataOutPdu d;
        d.itt = op.itt;
        d.ttt = ttt;
        d.lun = (std::uint64_t{cfg_.lun} << 48);
        d.datasn = datasn++;
        d.buffer_offset = offset + sent;
        d.expstatsn = expstatsn_;
        d.final_bit = last;
        Bytes data(op.out->begin() + offset + sent, op.out->begin() + offset + sent + n);
        if (last && extra > 0) {
            // The bytes past the range: what the buffer holds there, zeros past its end.
            const std::size_t from = std::size_t{offset} + sent + n;
            for (std::uint32_t b = 0; b < extra; ++b)
                data.push_back(from + b < op.out->size() ? (*op.out)[from + b] : std::byte{0});
        }
        const auto dsl = static_cast<std::uint32_t>(data.size());
        send_pdu(d.encode(dsl), std::move(data));
        sent += n;
        if (!last) midway(op);
    }
}

void Initiator::on_r2t(Pdu& pdu) {
    auto r = R2TPdu::decode(pdu.bhs);
    check_sn(r.sn, false, "R2T");
    ++stats_.r2ts;
    if (answered_ignored(r.itt, "R2T")) return;
    auto it = ops_.find(r.itt);
    if (it == ops_.end() || !it->second->out) return error("R2T for unknown task " + hex(r.itt));
    Op& op = *it->second;
    // RFC 3720 §10.8: R2TSN counts from 0 per task; the burst stays in bounds.
    if (r.r2tsn != op.next_r2tsn) error("R2TSN " + std::to_string(r.r2tsn) + ", expected " + std::to_string(op.next_r2tsn));
    op.next_r2tsn = r.r2tsn + 1;
    if (r.desired_data_transfer_length > max_burst_) error("R2T beyond MaxBurstLength");
    if (std::uint64_t{r.buffer_offset} + r.desired_data_transfer_length > op.out->size()) return error("R2T beyond the data");
    if (kernel_.now() < withhold_until_) return;  // the fault plan: Data-Out withheld
    send_data_out(op, r.ttt, r.buffer_offset, r.desired_data_transfer_length, true);
}

void Initiator::on_data_in(Pdu& pdu) {
    auto d = DataInPdu::decode(pdu.bhs);
    check_sn(d.sn, d.status_present, "Data-In");
    ++stats_.data_in;
    if (answered_ignored(d.itt, "Data-In")) return;
    auto it = ops_.find(d.itt);
    if (it == ops_.end()) return error("Data-In for unknown task " + hex(d.itt));
    auto op = it->second;
    if (d.datasn != op->next_datasn) error("DataSN " + std::to_string(d.datasn) + ", expected " + std::to_string(op->next_datasn));
    op->next_datasn = d.datasn + 1;
    if (d.buffer_offset != op->in.size()) error("Data-In out of order at offset " + std::to_string(d.buffer_offset));
    if (pdu.data.size() > 0 && d.status_present == false && !d.final_bit && pdu.data.size() > 16777215) error("oversize Data-In");
    op->in.insert(op->in.end(), pdu.data.begin(), pdu.data.end());
    if (d.status_present) {
        if (d.underflow || d.overflow) {
            if (op->workload()) error("unexpected residual on a Data-In");
        }
        complete(op, d.status, {});
    }
}

void Initiator::on_scsi_response(Pdu& pdu) {
    auto r = ScsiResponsePdu::decode(pdu.bhs);
    check_sn(r.sn, true, "SCSI Response");
    if (answered_ignored(r.itt, "SCSI Response")) return;
    auto it = ops_.find(r.itt);
    if (it == ops_.end()) return error("SCSI Response for unknown task " + hex(r.itt));
    if (r.response != 0) error("iSCSI response " + hex(r.response));
    std::span<const std::byte> sense;
    if (pdu.data.size() >= 2) {
        const std::size_t n = std::min<std::size_t>(ld16(pdu.data, 0), pdu.data.size() - 2);
        sense = std::span<const std::byte>(pdu.data).subspan(2, n);
    }
    complete(it->second, r.status, sense);
}

void Initiator::complete(std::shared_ptr<Op> op, std::uint8_t status, std::span<const std::byte> sense) {
    ops_.erase(op->itt);
    if (op->workload()) busy_.erase(op->lba);
    if (op->cut_by_logout) {
        // RFC 3720 §10.14: the Logout ended this write before all its data came; it can
        // have no status.
        error("a response for write " + hex(op->itt) + ", whose Data-Out a Logout interrupted");
        if (op->modifies()) forget(*op);
        if (op->workload()) ++completed_;
        return maybe_finish();
    }
    if (op->excess) return check_excess_outcome(op, status, sense);
    if (complete_scsi(op, status, sense)) return;
    if (status != 0) {
        const detail::SenseCode sc = detail::sense_code(sense);
        const int key = sc.key;
        if (key == 0x6) {
            // UNIT ATTENTION: the command did not run; send it again.
            ++stats_.unit_attentions;
            op->in.clear();
            op->next_datasn = op->next_r2tsn = 0;
            return send_command(op);
        }
        if (status == 0x02 && key == 0xe && op->kind == Op::Kind::verify && op->power_epoch != power_epoch_) {
            // MISCOMPARE from a VERIFY that crossed a power loss: it may have compared
            // against what the loss took. Nothing to learn either way.
            ++completed_;
            return maybe_finish();
        }
        if (status == 0x02 && key == 0xe && op->kind == Op::Kind::verify) {
            // SBC-3 §5.28: MISCOMPARE, the medium does not hold what was last written.
            data_error("VERIFY found a miscompare at LBA " + std::to_string(op->lba));
            ++completed_;
            return maybe_finish();
        }
        if (status == 0x02 && (key == 0x3 || key == 0x2 || key == 0x4) && (op->workload() || op->kind == Op::Kind::sync)) {
            // MEDIUM ERROR, NOT READY, HARDWARE ERROR: the device failed the command.
            // Counted (the run checks them against its faults); a failed write leaves its
            // blocks unknown, a failed SYNCHRONIZE CACHE makes nothing durable.
            ++(key == 0x3 ? stats_.medium_errors : stats_.device_errors);
            if (key == 0x3 && op->workload()) {
                // SBC-3 §4.17 (SPC-4 Annex D): a write that fails on the medium reports
                // WRITE ERROR (0x0C00); a read or a VERIFY that reads it, UNRECOVERED READ
                // ERROR (0x1100).
                // COMPARE AND WRITE reads, then writes: either.
                const bool writing = op->kind == Op::Kind::write || op->kind == Op::Kind::unmap ||
                                     (op->kind == Op::Kind::caw && sc.asc == 0x0c);
                const int want = writing ? 0x0c : 0x11;
                if (sc.asc != want)
                    error(std::string("MEDIUM ERROR on a ") + (writing ? "write" : "read") + " with ASC " + hex(sc.asc) +
                          "/" + hex(sc.ascq) + ", expected " + hex(want) + "/0x0");
                else
                    ++stats_.seen[writing ? "write_errors" : "read_errors"];
            }
            if (op->modifies()) forget(*op);
            if (op->workload()) ++completed_;
            return maybe_finish();
        }
        error("command " + hex(op->itt) + " (op " + std::to_string(static_cast<int>(op->kind)) + ", LBA " +
              std::to_string(op->lba) + ") ended with status " + hex(status) + ", sense key " + std::to_string(key) + " (sent at " +
              std::to_string(op->sent.count() / 1000) + " us)");
    } else {
        switch (op->kind) {
            case Op::Kind::read_capacity:
                if (op->in.size() < 12) return fail("short READ CAPACITY(16) data");
                lun_blocks_ = ld64(op->in, 0) + 1;
                block_len_ = ld32(op->in, 8);
                stats_.negotiated["block_size"] = std::to_string(block_len_);
                // SBC-3 §5.16.2: LBPME (byte 14 bit 7), thin provisioning is on; LBPRZ (bit
                // 6), an unmapped block reads back as zeros.
                lbpme_ = op->in.size() >= 15 && (ld8(op->in, 14) & 0x80);
                lbprz_ = op->in.size() >= 15 && (ld8(op->in, 14) & 0x40);
                if (wl_.unmap_pct && !lbpme_)
                    return fail("the workload has UNMAP, but READ CAPACITY(16) reports LBPME=0: the LU is not thin provisioned "
                                "(thin_provisioned 1)");
                if (wl_.unmap_pct && shared_ && !lbprz_)
                    return fail("UNMAP in a shared region needs LBPRZ=1 (unmapped blocks read zeros); READ CAPACITY(16) reports 0");
                {
                    auto ms = std::make_shared<Op>();
                    ms->kind = Op::Kind::mode_sense;
                    send_command(ms);
                }
                return;
            case Op::Kind::mode_sense: {
                // SPC-4 §7.5.5: header, block descriptors, then the caching page (SBC-3
                // §6.5.5): WCE is bit 2 of its third byte.
                const std::size_t bdl = op->in.size() >= 4 ? ld8(op->in, 3) : 0;
                const std::size_t at = 4 + bdl;
                if (op->in.size() < at + 3 || (ld8(op->in, at) & 0x3f) != 0x08) return fail("no caching page in MODE SENSE");
                stats_.write_cache = ld8(op->in, at + 2) & 0x04;
                return start_workload();
            }
            case Op::Kind::sync:
                ++stats_.syncs;
                while (!acked_log_.empty() && log_base_ < op->sync_mark) {
                    auto& d = durable_[acked_log_.front().first];
                    d = std::max(d, acked_log_.front().second);
                    acked_log_.pop_front();
                    ++log_base_;
                }
                return maybe_finish();
            case Op::Kind::read: {
                ++stats_.reads;
                stats_.bytes_read += op->in.size();
                if (wl_.verify_data) {
                    bool good = true;
                    for (std::uint32_t b = 0; b < op->blocks && good; ++b) {
                        if (op->in.size() < (b + 1) * block_len_ ||
                            !check_block(op->lba + b, std::span<const std::byte>(op->in).subspan(b * block_len_, block_len_),
                                         op->power_epoch == power_epoch_)) {
                            data_error(mismatch(op->lba + b, std::span<const std::byte>(op->in).subspan(
                                                                 std::min<std::size_t>(op->in.size(), b * block_len_))) +
                                       (op->recheck ? " (read back after a write that met RESERVATION CONFLICT: it landed)" : ""));
                            good = false;
                        } else if (!unmapped_.empty() && unmapped_.count(op->lba + b)) {
                            ++stats_.seen["unmapped_reads_zero"];   // zeros, as LBPRZ=1 promises
                        }
                    }
                    if (good && op->recheck) ++stats_.seen["conflicted_writes_read_back"];
                }
                break;
            }
            case Op::Kind::write:
                ++stats_.writes;
                stats_.bytes_written += op->out->size();
                written(*op, ld64(*op->out, 8));
                break;
            case Op::Kind::verify: ++stats_.verifies; break;
            case Op::Kind::tur: break;
            // complete_scsi() answers these.
            case Op::Kind::unmap:
            case Op::Kind::caw:
            case Op::Kind::pr_out:
            case Op::Kind::pr_in: break;
        }
    }
    if (op->workload()) ++completed_;
    maybe_finish();
}

void Initiator::start_workload() {
    phase_ = Phase::Running;
    last_rx_ = kernel_.now();
    if (cfg_.command_timeout.count() > 0 && !watchdog_armed_) {
        watchdog_armed_ = true;
        watchdog();
    }
    if (wl_.ops == 0) return logout();
    maybe_finish();
}

void Initiator::written(const Op& op, std::uint64_t gen) {
    // Durable now if the write cache is off or the write had FUA; otherwise once a
    // SYNCHRONIZE CACHE issued after this acknowledgement completes.
    const bool durable = !stats_.write_cache || op.fua;
    const bool crossed_a_loss = op.power_epoch != power_epoch_;
    for (std::uint32_t b = 0; b < op.blocks; ++b) {
        const std::uint64_t lba = op.lba + b;
        shadow_[lba] = gen;
        uncertain_.erase(lba);
        unmapped_.erase(lba);
        if (durable) {
            durable_[lba] = gen;
            continue;
        }
        if (crossed_a_loss) {
            // It may have reached the cache before the loss and gone with it: no later
            // SYNCHRONIZE CACHE can make it durable.
            uncertain_[lba] = {durable_gen(lba), gen};
            continue;
        }
        acked_log_.emplace_back(lba, gen);
    }
    // Without SYNCHRONIZE CACHE the log only grows: forget its oldest entries (those
    // writes are then never counted durable: the check only loosens).
    while (acked_log_.size() > (1u << 20)) {
        acked_log_.pop_front();
        ++log_base_;
    }
}

}  // namespace iscsilab::model
