// COMPARE AND WRITE (SBC-3 §5.2), PRE-FETCH(10)/(16) (SBC-3 §5.8, §5.9), and the LBA
// range lock that makes COMPARE AND WRITE atomic against the writes of every other
// command and I_T nexus (lba_range_lock.hpp).
#include <algorithm>
#include <limits>

#include "target/bytes.hpp"
#include "target/defects.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/handlers/vdisk_detail.hpp"

namespace iscsilab::handlers {

// ---- the LBA range lock ---------------------------------------------------------------

bool LbaRangeLock::grantable(const Range& r, std::size_t ahead) const {
    for (const auto& h : held_)
        if (h.conflicts(r)) return false;
    for (std::size_t i = 0; i < ahead; ++i)
        if (waiting_[i].range.conflicts(r)) return false;
    return true;
}

void LbaRangeLock::lock(std::uint64_t lba, std::uint64_t blocks, Mode mode, std::function<void(Ticket)> granted) {
    const std::uint64_t end = lba + std::min(blocks, std::numeric_limits<std::uint64_t>::max() - lba);
    if (end == lba) return granted(0);  // nothing to hold, nothing to wait for
    Range r{lba, end, mode, 0};
    {
        std::lock_guard lock(mu_);
        // Behind every earlier request it conflicts with, granted or not: first come,
        // first served among conflicting requests.
        if (!grantable(r, waiting_.size())) {
            waiting_.push_back(Waiter{r, std::move(granted)});
            return;
        }
        r.ticket = next_ticket_++;
        held_.push_back(r);
    }
    granted(r.ticket);  // outside the mutex: it may unlock, or lock again
}

void LbaRangeLock::unlock(Ticket ticket) {
    if (ticket == 0) return;
    std::vector<std::pair<Ticket, std::function<void(Ticket)>>> run;  // allocates only when someone waited
    {
        std::lock_guard lock(mu_);
        auto it = std::find_if(held_.begin(), held_.end(), [&](const Range& h) { return h.ticket == ticket; });
        if (it == held_.end()) return;
        *it = held_.back();
        held_.pop_back();
        // Grant, in arrival order, every waiter that no holder and no earlier waiter
        // blocks. A waiter granted here becomes a holder, so later ones that conflict
        // with it keep waiting.
        for (std::size_t i = 0; i < waiting_.size();) {
            if (!grantable(waiting_[i].range, i)) {
                ++i;
                continue;
            }
            Range r = waiting_[i].range;
            r.ticket = next_ticket_++;
            held_.push_back(r);
            run.emplace_back(r.ticket, std::move(waiting_[i].granted));
            waiting_.erase(waiting_.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
    // Never under the mutex: a continuation submits to the store, which may complete at
    // once and unlock again on this stack.
    for (auto& [t, fn] : run) fn(t);
}

std::size_t LbaRangeLock::held() const {
    std::lock_guard lock(mu_);
    return held_.size();
}

std::size_t LbaRangeLock::waiting() const {
    std::lock_guard lock(mu_);
    return waiting_.size();
}

void Vdisk::under_range_lock(std::uint64_t lba, std::uint64_t blocks, LbaRangeLock::Mode mode,
                             std::function<void(scsi::Completion)> body, scsi::Completion done) {
    range_lock_.lock(lba, blocks, mode,
                     [this, body = std::move(body), done = std::move(done)](LbaRangeLock::Ticket t) mutable {
                         // Unlock first: whoever waited for the range starts before the
                         // transport even sees this command end.
                         body([this, t, done = std::move(done)] {
                             range_lock_.unlock(t);
                             done();
                         });
                     });
}

// ---- COMPARE AND WRITE -------------------------------------------------------------------

void Vdisk::compare_and_write(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done) {
    Command& c = *cmd;
    auto cdb = c.cdb_bytes();
    const std::uint8_t flags = ld8(cdb, 1);
    const std::uint64_t lba = ld64(cdb, 2);
    const std::uint32_t blocks = ld8(cdb, 13);  // NUMBER OF LOGICAL BLOCKS
    auto writable = writable_medium(c, ctx);
    if (!writable) return done();
    auto store = writable->store;
    const bool wce = writable->wce;
    if (blocks > detail::kMaxCompareAndWriteBlocks) {
        // SBC-3 §5.2: beyond MAXIMUM COMPARE AND WRITE LENGTH (which the 8-bit field
        // cannot pass today; the check stands for a smaller limit).
        fail(c, scsi::invalid_field_in_cdb(13));
        return done();
    }
    Rw rw;
    rw.lba = lba;
    rw.blocks = blocks;
    rw.protect = flags >> 5;  // WRPROTECT: no protection information here
    if (!check_range(c, rw, store->size_bytes() / cfg_.blocksize)) return done();
    const std::uint64_t bytes = std::uint64_t{blocks} * cfg_.blocksize;
    // SBC-3 §5.2: the Data-Out Buffer holds the verify instance, then the write instance.
    c.spdtl = 2 * bytes;
    if (blocks == 0) {
        // SBC-3 §5.2: no blocks is no read, no compare, no write, and not an error; but
        // Data-Out sent with it means NUMBER OF LOGICAL BLOCKS cannot describe it (256
        // blocks wrap to 0 in its 8 bits), a length beyond the maximum.
        if (c.data_out.empty()) c.status = Status::Good;
        else fail(c, scsi::invalid_field_in_cdb(13));
        return done();
    }
    if (c.data_out.size() != 2 * bytes) {
        // The transfer disagrees with the CDB: neither instance can be told apart.
        fail(c, Sense{SenseKey::IllegalRequest, asc::InvalidFieldInInformationUnit});
        return done();
    }
    const bool fua = ((flags & 0x08) || !wce) && !cfg_.nv_cache;  // as WRITE's (vdisk_sbc.cpp)
    // SBC-3 §5.2: read, compare and (if equal) write are one uninterrupted series of
    // actions: the range stays ours from before the read until the write is done.
    const auto mode = defects::on(defects::Defect::caw_not_atomic) ? LbaRangeLock::Mode::shared
                                                                   : LbaRangeLock::Mode::exclusive;
    under_range_lock(
        lba, blocks, mode,
        [this, cmd, store, lba, bytes, fua](scsi::Completion locked_done) {
            auto current = std::make_shared<Bytes>(bytes);
            const std::uint64_t offset = lba * cfg_.blocksize;
            BlockRequest rd{BlockOp::read, offset, bytes, *current, false};
            store->submit(rd, [this, cmd, store, current, offset, bytes, fua,
                               locked_done = std::move(locked_done)](BlockStatus st) mutable {
                if (st != BlockStatus::ok) {
                    io_failed(*cmd, st, false);
                    return locked_done();
                }
                const auto at = std::mismatch(current->begin(), current->end(), cmd->data_out.begin()).first;
                if (at != current->end()) {
                    // SBC-3 §5.2: MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION, with the
                    // offset of the first differing byte from the start of the Data-Out
                    // Buffer in INFORMATION (VALID=1). Nothing is written.
                    Sense s{SenseKey::Miscompare, asc::MiscompareDuringVerify};
                    s.information = static_cast<std::uint64_t>(at - current->begin());
                    fail(*cmd, s);
                    return locked_done();
                }
                std::span<std::byte> write_instance(cmd->data_out.data() + bytes, bytes);
                BlockRequest wr{BlockOp::write, offset, bytes, write_instance, fua};
                store->submit(wr, [this, cmd, store, locked_done = std::move(locked_done)](BlockStatus st2) {
                    if (st2 != BlockStatus::ok) io_failed(*cmd, st2, true);
                    else cmd->status = Status::Good;
                    locked_done();
                });
            });
        },
        std::move(done));
}

// ---- PRE-FETCH ---------------------------------------------------------------------------

void Vdisk::pre_fetch(Command& c) const {
    auto cdb = c.cdb_bytes();
    const bool sixteen = c.opcode() == op::PreFetch16;
    const std::uint64_t lba = sixteen ? ld64(cdb, 2) : ld32(cdb, 2);
    const std::uint32_t length = sixteen ? ld32(cdb, 10) : ld16(cdb, 7);  // PREFETCH LENGTH
    auto store = medium_for(c);
    if (!store) return;
    const std::uint64_t n = store->size_bytes() / cfg_.blocksize;
    // SBC-3 §5.8: a PREFETCH LENGTH of 0 means from the LBA to the last one; either way,
    // LBAs past the capacity are LBA OUT OF RANGE.
    if (length == 0 ? lba >= n : (lba > n || length > n - lba)) {
        fail(c, Sense{SenseKey::IllegalRequest, asc::LbaOutOfRange});
        return;
    }
    // SBC-3 §5.8: CONDITION MET promises that all the blocks are now in the cache. The
    // vdisk has no cache of its own (the page cache under a file is the kernel's to evict),
    // so it answers as a cache that could not hold them: GOOD. IMMED asks for that answer
    // before the pre-fetch is done, which is always the case here. libiscsi's Prefetch10
    // and Prefetch16 families expect GOOD.
    c.status = Status::Good;
}

}  // namespace iscsilab::handlers
