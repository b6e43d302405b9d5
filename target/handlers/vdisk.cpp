#include "target/handlers/vdisk.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "target/parse.hpp"
#include "target/bytes.hpp"
#include "target/handlers/vdisk_detail.hpp"

namespace iscsilab::handlers {

using scsi::Asc;
using scsi::Command;
using scsi::Sense;
using scsi::SenseKey;
using scsi::Status;
namespace op = scsi::op;
namespace asc = scsi::asc;

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
        std::string e = flag(o_direct);
        // Said plainly rather than ignored: I/O goes through the page cache for now.
        if (e.empty() && o_direct) return "o_direct=1 is not supported yet (I/O uses the page cache)";
        return e;
    }
    if (key == "removable") return flag(removable);
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
    : Device(cfg.name, cfg.handler), cfg_(std::move(cfg)), store_(std::move(store)),
      wce_(!cfg_.write_through) {
    if (!store_ && cfg_.handler != "vcdrom") throw std::logic_error("a vdisk needs a backing store");
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
    Device::reset(by_nexus);  // ...and every other nexus hears of it
}

std::vector<std::string> Vdisk::attribute_names() const {
    // The attributes each SCST vdisk handler shows (iscsi-scst README 2.0, the tree).
    if (cfg_.handler == "vdisk_fileio")
        return {"blocksize", "filename", "nv_cache", "o_direct", "read_only", "removable", "resync_size",
                "size_mb", "t10_dev_id", "type", "usn", "write_through"};
    if (cfg_.handler == "vdisk_blockio")
        return {"blocksize", "filename", "read_only", "removable", "resync_size", "size_mb", "t10_dev_id", "type", "usn"};
    if (cfg_.handler == "vcdrom") return {"filename", "size_mb", "t10_dev_id", "type", "usn"};
    return {"blocksize", "read_only", "removable", "size_mb", "t10_dev_id", "type", "usn"};  // nullio
}

std::optional<std::string> Vdisk::get_attribute(const std::string& n) const {
    auto b = [](bool v) { return std::string(v ? "1" : "0"); };
    if (n == "blocksize") return std::to_string(cfg_.blocksize);
    if (n == "filename") return cfg_.filename;
    if (n == "nv_cache") return b(cfg_.nv_cache);
    if (n == "o_direct") return b(cfg_.o_direct);
    if (n == "read_only") return b(cfg_.read_only);
    if (n == "removable") return b(cfg_.removable);
    if (n == "size_mb") return std::to_string(store_ ? store_->size_bytes() >> 20 : 0);
    if (n == "resync_size") return std::string();  // write-only in SCST
    if (n == "t10_dev_id") return cfg_.t10_dev_id;
    if (n == "type") return std::string(cdrom() ? "5 - CD-ROM device" : "0 - Direct-access device (e.g., magnetic disk)");
    if (n == "usn") return cfg_.usn;
    if (n == "write_through") return b(cfg_.write_through);
    return std::nullopt;
}

std::string Vdisk::set_attribute(const std::string& n, const std::string& v) {
    if (n == "resync_size" && cfg_.handler != "vdisk_nullio" && cfg_.handler != "vcdrom") {
        if (v != "1") return "resync_size: write 1 to re-read the backing size";
        const std::uint64_t before = num_blocks();
        store_->refresh_size();
        // SBC-3 §4.6: the initiators learn that the capacity changed.
        if (num_blocks() != before) raise_unit_attention(scsi::Asc{0x2a, 0x09});
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
    const std::uint8_t o = c.opcode();
    const scsi::OpcodeInfo* info = detail::lookup(c);
    if (!info) return Sense{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode};
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
    if (!store_ && o != op::Inquiry && o != op::RequestSense && o != op::ModeSense6 && o != op::ModeSense10 &&
        o != op::MaintenanceIn && o != op::PreventAllowMediumRemoval && o != op::StartStopUnit &&
        o != op::ReportLuns) {
        // A CD-ROM drive with no medium (MMC-6 §4.1.5 / SPC-4 NOT READY, 3A/00).
        return Sense{SenseKey::NotReady, asc::MediumNotPresent};
    }
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
    if (is_write(o) || is_write_verify(o)) return write(std::move(cmd), ctx, std::move(done));
    if (is_verify(o)) return verify(std::move(cmd), std::move(done));
    if (o == op::SynchronizeCache10 || o == op::SynchronizeCache16)
        return synchronize_cache(std::move(cmd), std::move(done));

    switch (o) {
        case op::TestUnitReady:
        case op::PreventAllowMediumRemoval:
            c.status = Status::Good;
            break;
        case op::Reserve6:
            c.status = c.nexus && !reserve(c.nexus->id) ? Status::ReservationConflict : Status::Good;
            break;
        case op::Release6:
            if (c.nexus) release(c.nexus->id);
            c.status = Status::Good;
            break;
        case op::StartStopUnit: {
            // Power conditions other than START_VALID (0) are not modelled.
            if ((ld8(c.cdb_bytes(), 4) >> 4) != 0) fail(c, scsi::invalid_field_in_cdb(4, 7));
            else c.status = Status::Good;
            break;
        }
        case op::Inquiry: inquiry(c); break;
        case op::RequestSense: request_sense(c); break;
        case op::ModeSense6:
        case op::ModeSense10: mode_sense(c, ctx); break;
        case op::ModeSelect6:
        case op::ModeSelect10: mode_select(c); break;
        case op::ReadCapacity10: read_capacity10(c); break;
        case op::ServiceActionIn16: read_capacity16(c); break;
        case op::MaintenanceIn: scsi::report_supported_operation_codes(c, opcodes(), descriptor_sense()); break;
        default: fail(c, Sense{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode}); break;
    }
    done();
}

}  // namespace iscsilab::handlers
