#include "target/handlers/vdisk.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

#include "target/parse.hpp"
#include "target/bytes.hpp"
#include "target/defects.hpp"

namespace iscsilab::handlers {

using scsi::Asc;
using scsi::Command;
using scsi::Sense;
using scsi::SenseKey;
using scsi::Status;
namespace op = scsi::op;
namespace asc = scsi::asc;

namespace {

// SPC-4 §6.35.3 CDB usage data. The same masks reject reserved bits on the way in, so
// what we report is what we enforce.
const std::vector<scsi::OpcodeInfo> kOpcodes = {
    {op::TestUnitReady, {}, {0x00, 0, 0, 0, 0, 0x07}, "TEST UNIT READY"},
    {op::RequestSense, {}, {0x03, 0x01, 0, 0, 0xff, 0x07}, "REQUEST SENSE"},
    {op::Read6, {}, {0x08, 0x1f, 0xff, 0xff, 0xff, 0x07}, "READ(6)"},
    {op::Write6, {}, {0x0a, 0x1f, 0xff, 0xff, 0xff, 0x07}, "WRITE(6)"},
    {op::Inquiry, {}, {0x12, 0x01, 0xff, 0xff, 0xff, 0x07}, "INQUIRY"},
    {op::ModeSelect6, {}, {0x15, 0x11, 0, 0, 0xff, 0x07}, "MODE SELECT(6)"},
    {op::Reserve6, {}, {0x16, 0, 0, 0, 0, 0x07}, "RESERVE(6)"},
    {op::Release6, {}, {0x17, 0, 0, 0, 0, 0x07}, "RELEASE(6)"},
    {op::ModeSense6, {}, {0x1a, 0x08, 0xff, 0xff, 0xff, 0x07}, "MODE SENSE(6)"},
    {op::StartStopUnit, {}, {0x1b, 0x01, 0, 0x0f, 0xf7, 0x07}, "START STOP UNIT"},
    {op::PreventAllowMediumRemoval, {}, {0x1e, 0, 0, 0, 0x03, 0x07}, "PREVENT ALLOW MEDIUM REMOVAL"},
    {op::ReadCapacity10, {}, {0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0x07}, "READ CAPACITY(10)"},
    {op::Read10, {}, {0x28, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}, "READ(10)"},
    {op::Write10, {}, {0x2a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}, "WRITE(10)"},
    {op::WriteAndVerify10, {}, {0x2e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}, "WRITE AND VERIFY(10)"},
    {op::Verify10, {}, {0x2f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}, "VERIFY(10)"},
    {op::SynchronizeCache10, {}, {0x35, 0x06, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}, "SYNCHRONIZE CACHE(10)"},
    {op::ModeSelect10, {}, {0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07}, "MODE SELECT(10)"},
    {op::ModeSense10, {}, {0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0x07}, "MODE SENSE(10)"},
    {op::Read16, {}, {0x88, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "READ(16)"},
    {op::Write16, {}, {0x8a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "WRITE(16)"},
    {op::WriteAndVerify16, {}, {0x8e, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "WRITE AND VERIFY(16)"},
    {op::Verify16, {}, {0x8f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "VERIFY(16)"},
    {op::SynchronizeCache16, {}, {0x91, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "SYNCHRONIZE CACHE(16)"},
    {op::ServiceActionIn16, scsi::sa::ReadCapacity16, {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07}, "READ CAPACITY(16)"},
    {op::ReportLuns, {}, {0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07}, "REPORT LUNS"},
    {op::MaintenanceIn, scsi::sa::ReportSupportedOperationCodes, {0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x07}, "REPORT SUPPORTED OPERATION CODES"},
    {op::Read12, {}, {0xa8, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "READ(12)"},
    {op::Write12, {}, {0xaa, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "WRITE(12)"},
    {op::WriteAndVerify12, {}, {0xae, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "WRITE AND VERIFY(12)"},
    {op::Verify12, {}, {0xaf, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}, "VERIFY(12)"},
};

const scsi::OpcodeInfo* lookup(const Command& cmd) {
    const std::uint8_t opc = cmd.opcode();
    const std::uint8_t sa = ld8(cmd.cdb_bytes(), 1) & 0x1f;
    for (const auto& e : kOpcodes)
        if (e.opcode == opc && (!e.service_action || *e.service_action == sa)) return &e;
    return nullptr;
}

bool is_read(std::uint8_t o) { return o == op::Read6 || o == op::Read10 || o == op::Read12 || o == op::Read16; }
bool is_write(std::uint8_t o) { return o == op::Write6 || o == op::Write10 || o == op::Write12 || o == op::Write16; }
bool is_write_verify(std::uint8_t o) {
    return o == op::WriteAndVerify10 || o == op::WriteAndVerify12 || o == op::WriteAndVerify16;
}
bool is_verify(std::uint8_t o) { return o == op::Verify10 || o == op::Verify12 || o == op::Verify16; }

// Commands another nexus may still run while a RESERVE(6) reservation is held
// (SPC-2 §5.5.1 table 7, SBC-2 table 6).
bool passes_reservation(std::uint8_t o) {
    return o == op::Inquiry || o == op::ReportLuns || o == op::RequestSense || o == op::Release6 ||
           o == op::ReadCapacity10 || o == op::ServiceActionIn16 || o == op::MaintenanceIn;
}

// Commands that a pending unit attention does not block (SPC-4 §5.14 / SAM-5 §5.14).
bool passes_unit_attention(std::uint8_t o) {
    return o == op::Inquiry || o == op::ReportLuns || o == op::RequestSense;
}

void pad_ascii(Bytes& out, std::size_t off, std::size_t len, std::string_view s) {
    for (std::size_t i = 0; i < len; ++i)
        out[off + i] = static_cast<std::byte>(i < s.size() ? s[i] : ' ');
}

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

std::span<const scsi::OpcodeInfo> Vdisk::opcodes() { return kOpcodes; }

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

void Vdisk::execute(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done) {
    Command& c = *cmd;
    const std::uint8_t o = c.opcode();
    const scsi::OpcodeInfo* info = lookup(c);
    if (!info) {
        Sense s{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode};
        fail(c, s);
        done();
        return;
    }
    // Reserved bits set: INVALID FIELD IN CDB, pointing at the byte (SPC-4 §4.5.2.4.2).
    // The control byte is left to the transport.
    for (std::size_t i = 1; i + 1 < info->usage.size(); ++i) {
        std::uint8_t extra = ld8(c.cdb_bytes(), i) & static_cast<std::uint8_t>(~info->usage[i]);
        if (extra) {
            std::uint8_t bit = 7;
            while (!(extra & (1u << bit))) --bit;
            fail(c, scsi::invalid_field_in_cdb(static_cast<std::uint16_t>(i), bit));
            done();
            return;
        }
    }
    if (!store_ && o != op::Inquiry && o != op::RequestSense && o != op::ModeSense6 && o != op::ModeSense10 &&
        o != op::MaintenanceIn && o != op::PreventAllowMediumRemoval && o != op::StartStopUnit) {
        // A CD-ROM drive with no medium (MMC-6 §4.1.5 / SPC-4 NOT READY, 3A/00).
        fail(c, Sense{SenseKey::NotReady, asc::MediumNotPresent});
        done();
        return;
    }
    if (c.nexus && !passes_unit_attention(o)) {
        if (auto ua = take_unit_attention(c.nexus->id)) {
            fail(c, Sense{SenseKey::UnitAttention, *ua});
            done();
            return;
        }
    }

    if (c.nexus && !passes_reservation(o) && reserved_by_other(c.nexus->id)) {
        c.status = Status::ReservationConflict;  // SAM-5 §5.3: no sense data
        done();
        return;
    }

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
        case op::MaintenanceIn: scsi::report_supported_operation_codes(c, kOpcodes, descriptor_sense()); break;
        default: fail(c, Sense{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode}); break;
    }
    done();
}

// ---- SPC ------------------------------------------------------------------------------

void Vdisk::inquiry(Command& c) const {
    auto cdb = c.cdb_bytes();
    const bool evpd = ld8(cdb, 1) & 0x01;
    const std::uint8_t page = ld8(cdb, 2);
    const std::uint16_t alloc = ld16(cdb, 3);
    if (!evpd) {
        if (page != 0) return fail(c, scsi::invalid_field_in_cdb(2));
        Bytes d(74);
        st8(d, 0, peripheral_type());
        st8(d, 1, cfg_.removable || cdrom() ? 0x80 : 0x00);
        st8(d, 2, 0x06);                 // SPC-4
        st8(d, 3, 0x12);                 // HISUP, response data format 2
        st8(d, 4, static_cast<std::uint8_t>(d.size() - 5));
        st8(d, 7, 0x02);                 // CMDQUE
        pad_ascii(d, 8, 8, "ISCSILAB");
        pad_ascii(d, 16, 16, cfg_.handler == "vdisk_nullio" ? "NULLIO" : cdrom() ? "VCDROM" : "VDISK");
        pad_ascii(d, 32, 4, "0100");
        // Version descriptors (SPC-4 §6.4.2 table): SAM-5, iSCSI, SPC-4, SBC-3.
        st16(d, 58, 0x00a0);
        st16(d, 60, 0x0960);
        st16(d, 62, 0x0460);
        st16(d, 64, 0x04c0);
        return scsi::return_data(c, d, alloc);
    }
    Bytes d(4);
    st8(d, 0, peripheral_type());
    st8(d, 1, page);
    auto append = [&](std::initializer_list<std::uint8_t> v) {
        for (auto x : v) d.push_back(static_cast<std::byte>(x));
    };
    switch (page) {
        case 0x00:  // Supported VPD pages, ascending
            append({0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2});
            break;
        case 0x80:  // Unit serial number
            for (char ch : cfg_.usn) d.push_back(static_cast<std::byte>(ch));
            break;
        case 0x83: {  // Device identification (SPC-4 §7.8.6)
            // T10 vendor ID based, associated with the logical unit.
            std::string t10 = "ISCSILAB" + cfg_.t10_dev_id;
            append({0x02, 0x01, 0x00, static_cast<std::uint8_t>(t10.size())});
            for (char ch : t10) d.push_back(static_cast<std::byte>(ch));
            // NAA IEEE Registered (type 3, NAA 5), locally derived from the id.
            std::uint64_t id = 0;
            for (char ch : cfg_.t10_dev_id + cfg_.name) id = id * 131 + static_cast<std::uint8_t>(ch);
            Bytes naa(12);
            st8(naa, 0, 0x01);
            st8(naa, 1, 0x03);
            st8(naa, 3, 8);
            st64(naa, 4, (std::uint64_t{0x5} << 60) | (id & 0x0fffffffffffffffULL));
            d.insert(d.end(), naa.begin(), naa.end());
            break;
        }
        case 0xb0: {  // Block limits (SBC-3 §6.5.3), page length 0x3c
            Bytes p(0x3c);
            const std::uint32_t max_blocks = scsi::kMaxTransferBytes / cfg_.blocksize;
            st16(p, 2, 0);                                  // maximum compare and write length
            st16(p, 2, 1);                                  // optimal transfer length granularity
            st32(p, 4, max_blocks);                         // maximum transfer length
            st32(p, 8, (128u << 10) / cfg_.blocksize);      // optimal transfer length
            d.insert(d.end(), p.begin(), p.end());
            break;
        }
        case 0xb1: {  // Block device characteristics (SBC-3 §6.5.2)
            Bytes p(0x3c);
            st16(p, 0, 0x0001);  // non-rotating medium
            d.insert(d.end(), p.begin(), p.end());
            break;
        }
        case 0xb2: {  // Logical block provisioning (SBC-3 §6.5.4): fully provisioned
            Bytes p(4);
            d.insert(d.end(), p.begin(), p.end());
            break;
        }
        default:
            return fail(c, scsi::invalid_field_in_cdb(2));
    }
    st16(d, 2, static_cast<std::uint16_t>(d.size() - 4));
    scsi::return_data(c, d, alloc);
}

void Vdisk::request_sense(Command& c) {
    const bool desc = ld8(c.cdb_bytes(), 1) & 0x01;
    Sense s{SenseKey::NoSense, asc::NoAdditionalSense};
    if (c.nexus)
        if (auto ua = take_unit_attention(c.nexus->id)) s = Sense{SenseKey::UnitAttention, *ua};
    auto data = scsi::encode_sense(s, desc);
    scsi::return_data(c, data, ld8(c.cdb_bytes(), 4));
}

Bytes Vdisk::mode_pages(std::uint8_t page, std::uint8_t pc) const {
    // pc: 0 current, 1 changeable, 2 default (SPC-4 §6.11.2)
    Bytes out;
    auto add = [&](Bytes p) { out.insert(out.end(), p.begin(), p.end()); };
    const bool all = page == 0x3f;
    if (all || page == 0x01) {  // Read-Write Error Recovery (SBC-3 §6.4.8)
        Bytes p(12);
        st8(p, 0, 0x01);
        st8(p, 1, 0x0a);
        add(p);
    }
    if (all || page == 0x08) {  // Caching (SBC-3 §6.4.5)
        Bytes p(20);
        st8(p, 0, 0x08);
        st8(p, 1, 0x12);
        bool wce = pc == 1 ? true : pc == 2 ? !cfg_.write_through : wce_;
        st8(p, 2, wce ? 0x04 : 0x00);
        add(p);
    }
    if (all || page == 0x0a) {  // Control (SPC-4 §7.5.8)
        Bytes p(12);
        st8(p, 0, 0x0a);
        st8(p, 1, 0x0a);
        if (pc == 1) {
            st8(p, 2, 0x04);   // D_SENSE changeable
            st8(p, 4, 0x08);   // SWP changeable
        } else {
            bool d = pc == 0 && d_sense_;
            bool swp = pc == 0 && swp_;
            st8(p, 2, d ? 0x04 : 0x00);
            st8(p, 3, 0x10);   // queue algorithm modifier 1: unrestricted reordering allowed
            st8(p, 4, swp ? 0x08 : 0x00);
            st8(p, 5, 0x00);   // TAS=0: aborted tasks end without a response
            st16(p, 8, 0xffff);
        }
        add(p);
    }
    if (all || page == 0x1c) {  // Informational Exceptions Control (SPC-4 §7.5.15)
        Bytes p(12);
        st8(p, 0, 0x1c);
        st8(p, 1, 0x0a);
        add(p);
    }
    return out;
}

void Vdisk::mode_sense(Command& c, const scsi::AccessContext& ctx) const {
    auto cdb = c.cdb_bytes();
    const bool ten = c.opcode() == op::ModeSense10;
    const bool dbd = ld8(cdb, 1) & 0x08;
    const bool llbaa = ten && (ld8(cdb, 1) & 0x10);
    const std::uint8_t pc = ld8(cdb, 2) >> 6;
    const std::uint8_t page = ld8(cdb, 2) & 0x3f;
    const std::uint8_t subpage = ld8(cdb, 3);
    const std::uint32_t alloc = ten ? ld16(cdb, 7) : ld8(cdb, 4);

    if (pc == 3) return fail(c, Sense{SenseKey::IllegalRequest, asc::SavingParametersNotSupported});
    if (subpage != 0 && !(page == 0x3f && subpage == 0xff)) return fail(c, scsi::invalid_field_in_cdb(3));
    if (page != 0x3f && page != 0x01 && page != 0x08 && page != 0x0a && page != 0x1c)
        return fail(c, scsi::invalid_field_in_cdb(2, 5));

    Bytes pages;
    bool wp;
    {
        std::lock_guard lock(mu_);
        pages = mode_pages(page, pc);
        wp = swp_ || ctx.read_only || cfg_.read_only;
    }
    const std::uint64_t blocks = num_blocks();
    Bytes bd;
    if (!dbd) {
        if (llbaa) {
            bd.resize(16);
            st64(bd, 0, blocks);
            st32(bd, 12, cfg_.blocksize);
        } else {
            bd.resize(8);
            st32(bd, 0, blocks > 0xffffffffULL ? 0xffffffffu : static_cast<std::uint32_t>(blocks));
            st24(bd, 5, cfg_.blocksize);
        }
    }
    // Device-specific parameter for disks (SBC-3 §6.4.1): WP and DPOFUA.
    const std::uint8_t dsp = static_cast<std::uint8_t>((wp ? 0x80 : 0x00) | 0x10);
    Bytes out;
    if (ten) {
        out.resize(8);
        st8(out, 3, dsp);
        if (llbaa && !bd.empty()) st8(out, 4, 0x01);
        st16(out, 6, static_cast<std::uint16_t>(bd.size()));
    } else {
        out.resize(4);
        st8(out, 2, dsp);
        st8(out, 3, static_cast<std::uint8_t>(bd.size()));
    }
    out.insert(out.end(), bd.begin(), bd.end());
    out.insert(out.end(), pages.begin(), pages.end());
    if (ten) st16(out, 0, static_cast<std::uint16_t>(out.size() - 2));
    else st8(out, 0, static_cast<std::uint8_t>(std::min<std::size_t>(out.size() - 1, 255)));
    scsi::return_data(c, out, alloc);
}

void Vdisk::mode_select(Command& c) {
    auto cdb = c.cdb_bytes();
    const bool ten = c.opcode() == op::ModeSelect10;
    const bool pf = ld8(cdb, 1) & 0x10;
    const bool sp = ld8(cdb, 1) & 0x01;
    const std::uint32_t len = ten ? ld16(cdb, 7) : ld8(cdb, 4);
    if (sp) return fail(c, Sense{SenseKey::IllegalRequest, asc::SavingParametersNotSupported});
    if (len == 0) {
        c.status = Status::Good;
        return;
    }
    if (!pf) return fail(c, scsi::invalid_field_in_cdb(1, 4));
    if (c.data_out.size() < len)
        return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
    std::span<const std::byte> p(c.data_out.data(), len);
    const std::size_t hdr = ten ? 8 : 4;
    if (p.size() < hdr) return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
    const std::size_t bdl = ten ? ld16(p, 6) : ld8(p, 3);
    auto bad_param = [&](std::size_t byte) {
        Sense s{SenseKey::IllegalRequest, asc::InvalidFieldInParameterList};
        s.field_pointer = static_cast<std::uint16_t>(byte);
        s.field_in_cdb = false;
        fail(c, s);
    };
    if (hdr + bdl > p.size()) return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
    if (bdl >= 8) {
        // The block length may be restated, not changed.
        std::uint32_t bl = ld24(p, hdr + bdl - 3);
        if (bl != 0 && bl != cfg_.blocksize) return bad_param(hdr + bdl - 3);
    }
    bool wce, dsense, swp;
    {
        std::lock_guard lock(mu_);
        wce = wce_;
        dsense = d_sense_;
        swp = swp_;
    }
    std::size_t off = hdr + bdl;
    while (off < p.size()) {
        if (off + 2 > p.size()) return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
        const std::uint8_t code = ld8(p, off) & 0x3f;
        if (ld8(p, off) & 0x40) return bad_param(off);  // subpage format: none supported
        const std::size_t plen = ld8(p, off + 1);
        if (off + 2 + plen > p.size()) return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
        Bytes current, changeable;
        {
            std::lock_guard lock(mu_);
            current = mode_pages(code, 0);
            changeable = mode_pages(code, 1);
        }
        if (code == 0x3f || current.empty()) return bad_param(off);
        if (plen + 2 != current.size()) return bad_param(off + 1);
        // A bit may differ from the current value only where the page says changeable.
        for (std::size_t i = 2; i < current.size(); ++i) {
            std::uint8_t diff = ld8(p, off + i) ^ ld8(current, i);
            if (diff & ~ld8(changeable, i)) return bad_param(off + i);
        }
        if (code == 0x08) wce = ld8(p, off + 2) & 0x04;
        if (code == 0x0a) {
            dsense = ld8(p, off + 2) & 0x04;
            swp = ld8(p, off + 4) & 0x08;
        }
        off += 2 + plen;
    }
    bool changed;
    {
        std::lock_guard lock(mu_);
        changed = wce != wce_ || dsense != d_sense_ || swp != swp_;
        wce_ = wce;
        d_sense_ = dsense;
        swp_ = swp;
    }
    // SPC-4 §5.14: other nexuses learn that mode parameters changed.
    if (changed) raise_unit_attention(asc::ModeParametersChanged, c.nexus ? std::optional(c.nexus->id) : std::nullopt);
    c.status = Status::Good;
}

// ---- SBC ------------------------------------------------------------------------------

void Vdisk::read_capacity10(Command& c) const {
    auto cdb = c.cdb_bytes();
    if (!(ld8(cdb, 8) & 0x01) && ld32(cdb, 2) != 0) return fail(c, scsi::invalid_field_in_cdb(2));
    Bytes d(8);
    const std::uint64_t last = num_blocks() - 1;
    st32(d, 0, last > 0xffffffffULL ? 0xffffffffu : static_cast<std::uint32_t>(last));
    st32(d, 4, cfg_.blocksize);
    scsi::return_data(c, d, 8);
}

void Vdisk::read_capacity16(Command& c) const {
    Bytes d(32);
    st64(d, 0, num_blocks() - 1);
    st32(d, 8, cfg_.blocksize);
    scsi::return_data(c, d, ld32(c.cdb_bytes(), 10));
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

bool Vdisk::check_range(Command& c, const Rw& rw) const {
    const std::uint64_t n = num_blocks();
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
    if (!check_range(*cmd, rw)) return done();
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
    auto buf = std::make_shared<Bytes>(bytes);
    BlockRequest req{BlockOp::read, rw.lba * cfg_.blocksize, bytes, *buf, false};
    store_->submit(req, [this, cmd, buf, done = std::move(done)](BlockStatus st) {
        if (st == BlockStatus::ok) {
            cmd->data_in = buf;
            cmd->status = Status::Good;
        } else {
            io_failed(*cmd, st, false);
        }
        done();
    });
}

void Vdisk::write(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done) {
    Rw rw = decode_rw(*cmd);
    bool swp;
    {
        std::lock_guard lock(mu_);
        swp = swp_;
        rw.fua = rw.fua || !wce_;  // write cache disabled: every write is durable
    }
    if (ctx.read_only || cfg_.read_only || swp) {
        fail(*cmd, Sense{SenseKey::DataProtect, asc::WriteProtected});
        return done();
    }
    if (!check_range(*cmd, rw)) return done();
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
        store_->submit(req, [cmd](BlockStatus) {});
        cmd->status = Status::Good;
        return done();
    }
    store_->submit(req, [this, cmd, rw, bytes = to_write, verify_after, done = std::move(done)](BlockStatus st) mutable {
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
        store_->submit(rd, [this, cmd, back, done = std::move(done)](BlockStatus st2) {
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
    if (!check_range(*cmd, rw)) return done();
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
    auto buf = std::make_shared<Bytes>(bytes);
    BlockRequest req{BlockOp::read, rw.lba * cfg_.blocksize, bytes, *buf, false};
    store_->submit(req, [this, cmd, buf, compare, done = std::move(done)](BlockStatus st) {
        if (st != BlockStatus::ok) {
            io_failed(*cmd, st, false);
            return done();
        }
        cmd->status = Status::Good;
        if (compare) {
            const Bytes& want = cmd->data_out;
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
    if (!check_range(*cmd, rw)) return done();
    // SCST nv_cache: the cache survives power loss, nothing to do.
    if (cfg_.nv_cache || defects::on(defects::Defect::sync_skips_flush)) {
        cmd->status = Status::Good;
        return done();
    }
    BlockRequest req{BlockOp::flush, 0, 0, {}, false};
    store_->submit(req, [this, cmd, done = std::move(done)](BlockStatus st) {
        if (st == BlockStatus::ok) cmd->status = Status::Good;
        else io_failed(*cmd, st, true);
        done();
    });
}

}  // namespace iscsilab::handlers
