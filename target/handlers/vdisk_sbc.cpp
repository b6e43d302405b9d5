// The SBC-3 data path of a vdisk: READ CAPACITY, READ, WRITE, WRITE AND VERIFY, VERIFY
// and SYNCHRONIZE CACHE over the BlockStore.
#include <algorithm>

#include "target/handlers/vdisk.hpp"
#include "target/bytes.hpp"
#include "target/handlers/vdisk_detail.hpp"
#include "target/defects.hpp"

namespace iscsilab::handlers {

using detail::is_write_verify;

void Vdisk::read_capacity10(Command& c) const {
    auto cdb = c.cdb_bytes();
    if (!(ld8(cdb, 8) & 0x01) && ld32(cdb, 2) != 0) return fail(c, scsi::invalid_field_in_cdb(2));
    auto store = medium_for(c);
    if (!store) return;
    Bytes d(8);
    const std::uint64_t last = store->size_bytes() / cfg_.blocksize - 1;
    st32(d, 0, last > 0xffffffffULL ? 0xffffffffu : static_cast<std::uint32_t>(last));
    st32(d, 4, cfg_.blocksize);
    scsi::return_data(c, d, 8);
}

void Vdisk::read_capacity16(Command& c) const {
    auto store = medium_for(c);
    if (!store) return;
    Bytes d(32);
    st64(d, 0, store->size_bytes() / cfg_.blocksize - 1);
    st32(d, 8, cfg_.blocksize);
    // SBC-3 §5.16.2: LBPME, and LBPRZ (an unmapped block reads as zeros) on a thin LU.
    if (cfg_.thin_provisioned) st8(d, 14, 0xc0);
    scsi::return_data(c, d, ld32(c.cdb_bytes(), 10));
}

void Vdisk::read_defect_data(Command& c) const {
    // SBC-3 §5.17 / §5.18: an emulated medium has no defects. Both lists are reported
    // (PLISTV, GLISTV) as empty, in the format asked for; the header alone is returned.
    auto cdb = c.cdb_bytes();
    const bool twelve = c.opcode() == op::ReadDefectData12;
    const std::uint8_t req = ld8(cdb, twelve ? 1 : 2) & 0x1f;  // REQ_PLIST, REQ_GLIST, DEFECT LIST FORMAT
    const std::uint8_t format = req & 0x07;
    if (format == 0x01 || format == 0x02 || format == 0x07)  // reserved formats (SBC-3 table 14)
        return fail(c, scsi::invalid_field_in_cdb(twelve ? 1 : 2, 2));
    Bytes d(twelve ? 8 : 4);
    st8(d, 1, static_cast<std::uint8_t>((req & 0x18) | format));  // PLISTV and GLISTV for what was asked
    scsi::return_data(c, d, twelve ? ld32(cdb, 6) : ld16(cdb, 7));
}

Vdisk::Rw Vdisk::decode_rw(const Command& c) const {
    auto cdb = c.cdb_bytes();
    Rw rw;
    switch (scsi::cdb_length(c.opcode())) {
        case 6:
            rw.lba = ld24(cdb, 1) & 0x1fffff;
            rw.blocks = ld8(cdb, 4);
            if (rw.blocks == 0) rw.blocks = 256;  // SBC-3 §5.15: 0 means 256 blocks
            break;
        case 10:
            rw.lba = ld32(cdb, 2);
            rw.blocks = ld16(cdb, 7);
            break;
        case 12:
            rw.lba = ld32(cdb, 2);
            rw.blocks = ld32(cdb, 6);
            break;
        case 16:
            rw.lba = ld64(cdb, 2);
            rw.blocks = ld32(cdb, 10);
            break;
    }
    if (scsi::cdb_length(c.opcode()) != 6) {
        rw.protect = ld8(cdb, 1) >> 5;
        rw.fua = ld8(cdb, 1) & 0x08;
        if (defects::on(defects::Defect::drop_fua)) rw.fua = false;
        rw.bytchk = (ld8(cdb, 1) >> 1) & 0x03;
    }
    return rw;
}

bool Vdisk::check_range(Command& c, const Rw& rw) const { return check_range(c, rw, num_blocks()); }

bool Vdisk::check_range(Command& c, const Rw& rw, std::uint64_t n) const {
    // SBC-3 §4.5: LBA + transfer length beyond capacity, including wrap-around.
    if (rw.lba > n || rw.blocks > n - rw.lba) {
        fail(c, Sense{SenseKey::IllegalRequest, asc::LbaOutOfRange});
        return false;
    }
    if (rw.protect != 0) {
        // No protection information: RDPROTECT/WRPROTECT/VRPROTECT must be zero.
        fail(c, scsi::invalid_field_in_cdb(1, 7));
        return false;
    }
    return true;
}

void Vdisk::io_failed(Command& c, BlockStatus st, bool writing) const {
    switch (st) {
        case BlockStatus::ok: return;
        case BlockStatus::medium_error:
            if (defects::on(defects::Defect::medium_error_as_hardware))
                return fail(c, Sense{SenseKey::HardwareError, asc::InternalTargetFailure});
            return fail(c, Sense{SenseKey::MediumError, writing ? asc::WriteError : asc::UnrecoveredReadError});
        case BlockStatus::io_error:
            return fail(c, Sense{SenseKey::HardwareError, asc::InternalTargetFailure});
        case BlockStatus::offline:
            return fail(c, Sense{SenseKey::NotReady, asc::LogicalUnitNotReadyManualIntervention});
    }
}

void Vdisk::read(CmdPtr cmd, scsi::Completion done) {
    Rw rw = decode_rw(*cmd);
    // One medium for the whole command, even if it is changed meanwhile (vdisk_media.cpp).
    auto store = medium_for(*cmd);
    if (!store) return done();
    if (!check_range(*cmd, rw, store->size_bytes() / cfg_.blocksize)) return done();
    const std::uint64_t bytes = std::uint64_t{rw.blocks} * cfg_.blocksize;
    cmd->spdtl = bytes;
    if (bytes == 0) {
        cmd->status = Status::Good;
        return done();
    }
    if (bytes > scsi::kMaxTransferBytes) {
        // SBC-3 §6.5.3: beyond MAXIMUM TRANSFER LENGTH.
        fail(*cmd, scsi::invalid_field_in_cdb(scsi::cdb_length(cmd->opcode()) == 16 ? 10 : 7));
        return done();
    }
    // From the pool, not zeroed: the store fills every byte of it.
    BufferPtr buf = BufferPool::instance().get(bytes);
    if (cmd->data_in_may_stay) {
        // The transport sends Data-In from where the bytes lie (sendfile from the page
        // cache): the store names the place and nothing is copied through our memory.
        // The buffer stays unread, for its size and its claim on the bound.
        if (auto source = store->wire_source(rw.lba * cfg_.blocksize, bytes)) {
            cmd->data_in = std::move(buf);
            cmd->data_in_source = std::move(source);
            cmd->status = Status::Good;
            return done();
        }
    }
    BlockRequest req{BlockOp::read, rw.lba * cfg_.blocksize, bytes, std::span<std::byte>(*buf), false};
    // The command holds the store (a medium changed meanwhile lives until its requests
    // end), the buffer and the completion, so that the store's completion captures two
    // plain pointers and costs no allocation.
    Command::HandlerState& h = cmd->handler;
    h.done = std::move(done);
    h.store = store;
    h.buffer = std::move(buf);
    h.self = cmd;
    store->submit(req, [this, c = cmd.get()](BlockStatus st) {
        Command::HandlerState& h = c->handler;
        if (!h.self) return c->completed_twice("the block store");
        const std::shared_ptr<Command> self = std::move(h.self);
        const std::shared_ptr<const void> store = std::move(h.store);
        const scsi::Completion done = std::move(h.done);
        if (st == BlockStatus::ok) {
            c->data_in = std::move(h.buffer);
            c->status = Status::Good;
        } else {
            h.buffer.reset();
            io_failed(*c, st, false);
        }
        done();
    });
}

void Vdisk::write(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done) {
    Rw rw = decode_rw(*cmd);
    auto writable = writable_medium(*cmd, ctx);
    if (!writable) return done();
    auto store = writable->store;
    // Write cache disabled (write_through=1, or WCE=0 by MODE SELECT): every write is
    // durable before GOOD. nv_cache=1: the cache survives power loss, so neither that nor
    // the CDB's FUA asks anything of the medium (SCST README, NV_CACHE).
    rw.fua = (rw.fua || !writable->wce) && !cfg_.nv_cache;
    if (!check_range(*cmd, rw, store->size_bytes() / cfg_.blocksize)) return done();
    const std::uint64_t bytes = std::uint64_t{rw.blocks} * cfg_.blocksize;
    cmd->spdtl = bytes;
    if (bytes > scsi::kMaxTransferBytes) {
        fail(*cmd, scsi::invalid_field_in_cdb(scsi::cdb_length(cmd->opcode()) == 16 ? 10 : 7));
        return done();
    }
    // The expected data transfer length may disagree with the CDB (FCP-4 §9.4.2 a),
    // RFC 3720 §10.4.5): only what both allow is written, in whole blocks; the
    // transport reports the residual. A partial block cannot be written at all.
    std::uint64_t to_write = bytes;
    if (cmd->data_out.size() < bytes) {
        if (cmd->data_out.size() % cfg_.blocksize != 0) {
            fail(*cmd, Sense{SenseKey::IllegalRequest, asc::InvalidFieldInInformationUnit});
            cmd->spdtl = bytes;
            return done();
        }
        to_write = cmd->data_out.size();
    }
    if (to_write == 0) {
        cmd->status = Status::Good;
        return done();
    }
    const bool verify_after = is_write_verify(cmd->opcode()) && rw.bytchk != 0;
    std::span<std::byte> src(cmd->data_out.data(), to_write);
    BlockRequest req{BlockOp::write, rw.lba * cfg_.blocksize, to_write, src, rw.fua};
    if (defects::on(defects::Defect::ack_before_store) && !verify_after) {
        // GOOD at once; the command (and its buffer) lives until the store is done.
        store->submit(req, [store, cmd](BlockStatus) {});
        cmd->status = Status::Good;
        return done();
    }
    if (!verify_after) {
        // The store, and the completion, wait in the command: the store's completion
        // captures two plain pointers and allocates nothing. The command itself is held
        // by whoever called (the mid-level holds every command it runs).
        Command::HandlerState& h = cmd->handler;
        h.store = store;
        h.step_done = std::move(done);
        store->submit(req, [this, c = cmd.get()](BlockStatus st) {
            Command::HandlerState& h = c->handler;
            if (!h.step_done) return c->completed_twice("the block store");
            const std::shared_ptr<const void> store = std::move(h.store);
            const scsi::Completion done = std::move(h.step_done);
            if (st != BlockStatus::ok && !defects::on(defects::Defect::write_error_ignored)) io_failed(*c, st, true);
            else c->status = Status::Good;
            done();
        });
        return;
    }
    store->submit(req, [this, store, cmd, rw, bytes = to_write, verify_after, done = std::move(done)](BlockStatus st) mutable {
        if (st != BlockStatus::ok && !defects::on(defects::Defect::write_error_ignored)) {
            io_failed(*cmd, st, true);
            return done();
        }
        if (!verify_after) {
            cmd->status = Status::Good;
            return done();
        }
        // WRITE AND VERIFY with BYTCHK: read the medium back and compare.
        auto back = std::make_shared<Bytes>(bytes);
        BlockRequest rd{BlockOp::read, rw.lba * cfg_.blocksize, bytes, *back, false};
        store->submit(rd, [this, store, cmd, back, done = std::move(done)](BlockStatus st2) {
            if (st2 != BlockStatus::ok) io_failed(*cmd, st2, false);
            else if (!std::equal(back->begin(), back->end(), cmd->data_out.begin()))
                fail(*cmd, Sense{SenseKey::Miscompare, asc::MiscompareDuringVerify});
            else cmd->status = Status::Good;
            done();
        });
    });
}

void Vdisk::verify(CmdPtr cmd, scsi::Completion done) {
    Rw rw = decode_rw(*cmd);
    if (rw.bytchk == 2) {  // SBC-4: BYTCHK 10b is reserved
        fail(*cmd, scsi::invalid_field_in_cdb(1, 2));
        return done();
    }
    auto store = medium_for(*cmd);
    if (!store) return done();
    if (!check_range(*cmd, rw, store->size_bytes() / cfg_.blocksize)) return done();
    const std::uint64_t bytes = std::uint64_t{rw.blocks} * cfg_.blocksize;
    if (bytes > scsi::kMaxTransferBytes) {
        // The medium is read into memory to verify it: bounded like any transfer.
        fail(*cmd, scsi::invalid_field_in_cdb(scsi::cdb_length(cmd->opcode()) == 16 ? 10 : 7));
        return done();
    }
    const bool compare = rw.bytchk != 0;
    // BYTCHK=1: the initiator sends the blocks; 11b: one block to match every block.
    const std::uint64_t expect_out = rw.bytchk == 1 ? bytes : rw.bytchk == 3 ? cfg_.blocksize : 0;
    cmd->spdtl = expect_out;
    if (cmd->data_out.size() != expect_out) {
        fail(*cmd, Sense{SenseKey::IllegalRequest, asc::InvalidFieldInInformationUnit});
        return done();
    }
    if (bytes == 0) {
        cmd->status = Status::Good;
        return done();
    }
    // From the pool, not zeroed: the store fills every byte of it.
    BufferPtr buf = BufferPool::instance().get(bytes);
    BlockRequest req{BlockOp::read, rw.lba * cfg_.blocksize, bytes, std::span<std::byte>(*buf), false};
    store->submit(req, [this, store, cmd, buf, compare, done = std::move(done)](BlockStatus st) {
        if (st != BlockStatus::ok) {
            io_failed(*cmd, st, false);
            return done();
        }
        cmd->status = Status::Good;
        if (compare) {
            const std::span<const std::byte> want = cmd->data_out;
            const std::size_t unit = want.size();
            for (std::size_t i = 0; i < buf->size(); ++i) {
                if ((*buf)[i] != want[i % unit]) {
                    // SBC-3 §5.30: MISCOMPARE, INFORMATION = offset of the first mismatch.
                    Sense s{SenseKey::Miscompare, asc::MiscompareDuringVerify};
                    s.information = i;
                    fail(*cmd, s);
                    break;
                }
            }
        }
        done();
    });
}

void Vdisk::synchronize_cache(CmdPtr cmd, scsi::Completion done) {
    auto cdb = cmd->cdb_bytes();
    const bool sixteen = cmd->opcode() == op::SynchronizeCache16;
    Rw rw;
    rw.lba = sixteen ? ld64(cdb, 2) : ld32(cdb, 2);
    rw.blocks = sixteen ? ld32(cdb, 10) : ld16(cdb, 7);
    auto store = medium_for(*cmd);
    if (!store) return done();
    if (!check_range(*cmd, rw, store->size_bytes() / cfg_.blocksize)) return done();
    // SCST nv_cache: the cache survives power loss, nothing to do.
    if (cfg_.nv_cache || defects::on(defects::Defect::sync_skips_flush)) {
        cmd->status = Status::Good;
        return done();
    }
    BlockRequest req{BlockOp::flush, 0, 0, {}, false};
    store->submit(req, [this, store, cmd, done = std::move(done)](BlockStatus st) {
        if (st == BlockStatus::ok) cmd->status = Status::Good;
        else io_failed(*cmd, st, true);
        done();
    });
}

}  // namespace iscsilab::handlers
