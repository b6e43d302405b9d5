#include "target/handlers/vdisk.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "target/parse.hpp"
#include "target/bytes.hpp"
#include "target/handlers/vdisk_detail.hpp"

namespace iscsilab::handlers {

namespace {

bool parse_flag(const std::string& v, bool& out) {
    if (v == "1" || v == "Yes") { out = true; return true; }
    if (v == "0" || v == "No") { out = false; return true; }
    return false;
}

std::string hex_id(std::string_view name) {
    // A stable 8-hex-digit identifier from the device name (FNV-1a), as SCST derives
    // t10_dev_id and usn from the name when none is given.
    std::uint32_t h = 2166136261u;
    for (char c : name) h = (h ^ static_cast<std::uint8_t>(c)) * 16777619u;
    static const char* d = "0123456789abcdef";
    std::string s(8, '0');
    for (int i = 7; i >= 0; --i, h >>= 4) s[static_cast<std::size_t>(i)] = d[h & 0xf];
    return s;
}

}  // namespace

// ---- configuration ----------------------------------------------------------------------

std::string VdiskConfig::set(const std::string& key, const std::string& value) {
    auto flag = [&](bool& b) -> std::string {
        return parse_flag(value, b) ? std::string() : key + ": expected 0 or 1, got '" + value + "'";
    };
    if (key == "filename") {
        if (value.empty()) return "filename: empty";
        filename = value;
        return {};
    }
    if (key == "blocksize") {
        auto n = parse_u32(value);
        if (!n || (*n != 512 && *n != 1024 && *n != 2048 && *n != 4096))
            return "blocksize: expected 512, 1024, 2048 or 4096, got '" + value + "'";
        blocksize = *n;
        return {};
    }
    if (key == "nv_cache") return flag(nv_cache);
    if (key == "read_only") return flag(read_only);
    if (key == "write_through") return flag(write_through);
    if (key == "o_direct") {
        // SCST's vdisk_fileio only ("BLOCKIO on files"): vdisk_blockio's I/O is direct
        // anyway and has no such parameter.
        if (handler != "vdisk_fileio") return "o_direct: only for vdisk_fileio (" + handler + " has no such parameter)";
        return flag(o_direct);
    }
    if (key == "removable") return flag(removable);
    if (key == "thin_provisioned") {
        // SCST offers it on the handlers with a backing file or device; nullio has no
        // store to deallocate, and a CD-ROM is read-only.
        if (handler != "vdisk_fileio" && handler != "vdisk_blockio")
            return "thin_provisioned: only for vdisk_fileio and vdisk_blockio";
        return flag(thin_provisioned);
    }
    if (key == "size_mb" || key == "size") {
        auto n = parse_u32(value);
        if (!n || *n == 0) return key + ": expected a positive number, got '" + value + "'";
        size_bytes = key == "size_mb" ? std::uint64_t{*n} << 20 : *n;
        return {};
    }
    if (key == "t10_dev_id") {
        if (value.size() > 16) return "t10_dev_id: at most 16 characters";
        t10_dev_id = value;
        return {};
    }
    if (key == "usn") {
        if (value.size() > 16) return "usn: at most 16 characters";
        usn = value;
        return {};
    }
    return "unknown device parameter '" + key + "'";
}

Vdisk::Vdisk(VdiskConfig cfg, std::shared_ptr<BlockStore> store)
    : Device(cfg.name, cfg.handler), cfg_(std::move(cfg)), medium_(std::move(store)),
      loaded_(medium_ != nullptr), filename_(cfg_.filename), wce_(!cfg_.write_through) {
    if (!medium_ && cfg_.handler != "vcdrom") throw std::logic_error("a vdisk needs a backing store");
    if (cfg_.t10_dev_id.empty()) cfg_.t10_dev_id = hex_id(cfg_.name);
    if (cfg_.usn.empty()) cfg_.usn = hex_id(cfg_.name + "/usn");
}


bool Vdisk::descriptor_sense() const {
    std::lock_guard lock(mu_);
    return d_sense_;
}

void Vdisk::reset(std::uint64_t by_nexus) {
    {
        // SAM-5 §6.6: a LOGICAL UNIT RESET returns mode parameters to their defaults...
        std::lock_guard lock(mu_);
        d_sense_ = false;
        swp_ = false;
        wce_ = !cfg_.write_through;
    }
    end_prevention();         // ...ends every PREVENT (vdisk_media.cpp)...
    Device::reset(by_nexus);  // ...and every other nexus hears of it
}

std::vector<std::string> Vdisk::attribute_names() const {
    // The attributes each SCST vdisk handler shows (iscsi-scst README 2.0, the tree).
    if (cfg_.handler == "vdisk_fileio")
        return {"blocksize", "filename", "nv_cache", "o_direct", "read_only", "removable", "resync_size",
                "size_mb", "t10_dev_id", "thin_provisioned", "type", "usn", "write_through"};
    // vdisk_blockio: nv_cache and write_through as in SCST's later releases (the 2.0.0
    // README's sample tree shows neither); never o_direct.
    if (cfg_.handler == "vdisk_blockio")
        return {"blocksize", "filename", "nv_cache", "read_only", "removable", "resync_size", "size_mb",
                "t10_dev_id", "thin_provisioned", "type", "usn", "write_through"};
    if (cfg_.handler == "vcdrom") return {"filename", "size_mb", "t10_dev_id", "type", "usn"};
    return {"blocksize", "read_only", "removable", "size_mb", "t10_dev_id", "type", "usn"};  // nullio
}

std::optional<std::string> Vdisk::get_attribute(const std::string& n) const {
    auto b = [](bool v) { return std::string(v ? "1" : "0"); };
    if (n == "blocksize") return std::to_string(cfg_.blocksize);
    if (n == "filename") {
        std::lock_guard lock(medium_mu_);
        return filename_;
    }
    if (n == "nv_cache") return b(cfg_.nv_cache);
    if (n == "o_direct") return b(cfg_.o_direct);
    if (n == "read_only") return b(cfg_.read_only);
    if (n == "removable") return b(cfg_.removable);
    if (n == "size_mb") {
        auto m = medium();
        return std::to_string(m ? m->size_bytes() >> 20 : 0);
    }
    if (n == "size") {
        // Bytes, as SCST 3 shows it. The tree lists size_mb only (SCST 2.0); save() writes
        // size when the size is not a whole number of MiB, which size_mb cannot carry.
        auto m = medium();
        return std::to_string(m ? m->size_bytes() : 0);
    }
    if (n == "resync_size") return std::string();  // write-only in SCST
    if (n == "t10_dev_id") return cfg_.t10_dev_id;
    if (n == "thin_provisioned") return b(cfg_.thin_provisioned);
    if (n == "type") return std::string(cdrom() ? "5 - CD-ROM device" : "0 - Direct-access device (e.g., magnetic disk)");
    if (n == "usn") return cfg_.usn;
    if (n == "write_through") return b(cfg_.write_through);
    return std::nullopt;
}

std::string Vdisk::set_attribute(const std::string& n, const std::string& v) {
    if (n == "resync_size" && cfg_.handler != "vdisk_nullio" && cfg_.handler != "vcdrom") {
        if (v != "1") return "resync_size: write 1 to re-read the backing size";
        std::shared_ptr<BlockStore> backing;  // the file, loaded or ejected
        {
            std::lock_guard lock(medium_mu_);
            backing = medium_;
        }
        const std::uint64_t before = backing->size_bytes() / cfg_.blocksize;
        backing->refresh_size();
        // SBC-3 §4.6: the initiators learn that the capacity changed.
        if (backing->size_bytes() / cfg_.blocksize != before) raise_unit_attention(scsi::Asc{0x2a, 0x09});
        return {};
    }
    // As in SCST, most vdisk attributes are fixed at add_device; these change live.
    if (n == "t10_dev_id" || n == "usn") {
        VdiskConfig c = cfg_;
        std::string err = c.set(n, v);
        if (!err.empty()) return err;
        cfg_ = c;
        return {};
    }
    if (get_attribute(n)) return n + " is read-only once the device exists";
    return "no attribute '" + n + "'";
}

// ---- dispatch -------------------------------------------------------------------------

std::optional<Sense> Vdisk::parse(const Command& c) const {
    const scsi::OpcodeInfo* info = detail::lookup(c);
    if (!info) return Sense{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode};
    // A fully provisioned LU has no UNMAP (SCST answers the same); REPORT SUPPORTED
    // OPERATION CODES does not list it there (supported_opcodes()).
    if (c.opcode() == op::Unmap && !cfg_.thin_provisioned)
        return Sense{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode};
    // Reserved bits set: INVALID FIELD IN CDB, pointing at the byte (SPC-4 §4.5.2.4.2).
    // The control byte is left to the transport.
    for (std::size_t i = 1; i + 1 < info->usage.size(); ++i) {
        std::uint8_t extra = ld8(c.cdb_bytes(), i) & static_cast<std::uint8_t>(~info->usage[i]);
        if (extra) {
            std::uint8_t bit = 7;
            while (!(extra & (1u << bit))) --bit;
            return scsi::invalid_field_in_cdb(static_cast<std::uint16_t>(i), bit);
        }
    }
    // A drive with no medium (a vcdrom with none loaded, a removable LU whose medium START
    // STOP UNIT ejected) is found after admission, by the commands that need the medium
    // (medium_for(): NOT READY, MEDIUM NOT PRESENT): a pending unit attention comes first
    // (SAM-5 §5.14), and a medium ejected while the command waited in the task set counts.
    return std::nullopt;
}

void Vdisk::execute(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done) {
    // The mid-level has parsed the CDB (parse() above) and admitted the command: the LUN
    // exists, no unit attention is pending, and no reservation conflicts.
    Command& c = *cmd;
    const std::uint8_t o = c.opcode();
    using detail::is_read;
    using detail::is_write;
    using detail::is_write_verify;
    using detail::is_verify;

    if (is_read(o)) return read(std::move(cmd), std::move(done));
    if (is_write(o)) {
        // Shared with other writes, behind an overlapping COMPARE AND WRITE
        // (vdisk_caw.cpp). What waits for the range stays in the command, so that the
        // continuations capture plain pointers and allocate nothing.
        const Rw rw = decode_rw(c);
        Command::HandlerState& h = c.handler;
        h.done = std::move(done);
        h.self = std::move(cmd);
        h.read_only = ctx.read_only;
        return range_lock_.lock(rw.lba, rw.blocks, LbaRangeLock::Mode::shared, [this, cp = &c](LbaRangeLock::Ticket t) {
            cp->handler.ticket = t;
            scsi::AccessContext locked;
            locked.read_only = cp->handler.read_only;
            write(cp->handler.self, locked, [this, cp] {
                // Unlock first: whoever waited for the range starts before the transport
                // even sees this command end.
                Command::HandlerState& h = cp->handler;
                range_lock_.unlock(h.ticket);
                h.ticket = 0;
                const std::shared_ptr<Command> self = std::move(h.self);
                const scsi::Completion done = std::move(h.done);
                done();
            });
        });
    }
    if (is_write_verify(o)) {
        // Shared with other writes, behind an overlapping COMPARE AND WRITE (vdisk_caw.cpp).
        const Rw rw = decode_rw(c);
        return under_range_lock(
            rw.lba, rw.blocks, LbaRangeLock::Mode::shared,
            [this, cmd = std::move(cmd), ctx](scsi::Completion locked_done) mutable {
                write(std::move(cmd), ctx, std::move(locked_done));
            },
            std::move(done));
    }
    if (is_verify(o)) return verify(std::move(cmd), std::move(done));
    if (o == op::WriteSame10 || o == op::WriteSame16) return write_same(std::move(cmd), ctx, std::move(done));
    if (o == op::Unmap) return unmap(std::move(cmd), ctx, std::move(done));
    if (o == op::ServiceActionIn16 && (ld8(c.cdb_bytes(), 1) & 0x1f) == scsi::sa::GetLbaStatus)
        return get_lba_status(std::move(cmd), std::move(done));
    if (o == op::CompareAndWrite) return compare_and_write(std::move(cmd), ctx, std::move(done));
    if (o == op::SynchronizeCache10 || o == op::SynchronizeCache16)
        return synchronize_cache(std::move(cmd), std::move(done));

    switch (o) {
        case op::TestUnitReady:
            if (medium_for(c)) c.status = Status::Good;
            break;
        case op::PreventAllowMediumRemoval: prevent_allow_medium_removal(c); break;
        case op::Reserve6:
        case op::Reserve10:  // SPC-2 §7.21: the 10-byte form, without third-party reservations
            c.status = c.nexus && !reserve(c.nexus->id) ? Status::ReservationConflict : Status::Good;
            break;
        case op::Release6:
        case op::Release10:
            if (c.nexus) release(c.nexus->id);
            c.status = Status::Good;
            break;
        case op::StartStopUnit: return start_stop_unit(std::move(cmd), std::move(done));
        case op::Inquiry: inquiry(c); break;
        case op::RequestSense: request_sense(c); break;
        case op::ModeSense6:
        case op::ModeSense10: mode_sense(c, ctx); break;
        case op::ModeSelect6:
        case op::ModeSelect10: mode_select(c); break;
        case op::ReadCapacity10: read_capacity10(c); break;
        case op::ReadDefectData10:
        case op::ReadDefectData12: read_defect_data(c); break;
        case op::ServiceActionIn16: read_capacity16(c); break;
        case op::MaintenanceIn: scsi::report_supported_operation_codes(c, supported_opcodes(), descriptor_sense()); break;
        case op::PreFetch10:
        case op::PreFetch16: pre_fetch(c); break;
        default: fail(c, Sense{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode}); break;
    }
    done();
}

}  // namespace iscsilab::handlers
