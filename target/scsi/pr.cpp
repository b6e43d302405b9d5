#include "target/scsi/pr.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

#include "target/bytes.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

namespace {

// SPC-4 §7.6.4.1: PROTOCOL IDENTIFIER of iSCSI; §7.6.4.6: its TransportID FORMAT CODEs.
constexpr std::uint8_t kProtocolIscsi = 0x5;
constexpr std::uint8_t kFormatName = 0x0;  // 00b: iSCSI name
constexpr std::uint8_t kFormatPort = 0x1;  // 01b: iSCSI name, ",i,0x", ISID
constexpr std::string_view kSeparator = ",i,0x";
constexpr std::size_t kMaxIscsiName = 223;  // RFC 3720 §3.2.6.1
constexpr std::size_t kIsidDigits = 12;     // six bytes in hex

// Service actions the conflict table tells apart.
namespace mi {  // MAINTENANCE IN (SPC-4 §6.1)
constexpr std::uint8_t ReportIdentifyingInformation = 0x05;
constexpr std::uint8_t ReportTargetPortGroups = 0x0a;
constexpr std::uint8_t ReportAliases = 0x0b;
constexpr std::uint8_t ReportSupportedOperationCodes = 0x0c;
constexpr std::uint8_t ReportSupportedTaskManagementFunctions = 0x0d;
constexpr std::uint8_t ReportPriority = 0x0e;
constexpr std::uint8_t ReportTimestamp = 0x0f;
constexpr std::uint8_t ManagementProtocolIn = 0x10;
}  // namespace mi
namespace sai16 {  // SERVICE ACTION IN(16) (SBC-3)
constexpr std::uint8_t ReadCapacity16 = 0x10;
constexpr std::uint8_t ReadLong16 = 0x11;
constexpr std::uint8_t GetLbaStatus = 0x12;
constexpr std::uint8_t ReportReferrals = 0x13;
}  // namespace sai16
namespace var {  // variable length CDB (0x7F) service actions (SBC-3)
constexpr std::uint16_t Read32 = 0x0009;
constexpr std::uint16_t Verify32 = 0x000a;
}  // namespace var

// The parameter lists of PERSISTENT RESERVE OUT: the basic one (SPC-4 §6.16.3) and the
// REGISTER AND MOVE one (§6.16.4) share their first 24 bytes' size and keys.
constexpr std::size_t kBasicListLength = 24;
constexpr std::size_t kSpecIptHeaderLength = 28;  // + TRANSPORTID PARAMETER DATA LENGTH
constexpr std::size_t kMoveHeaderLength = 24;

bool valid_type(std::uint8_t t) {
    switch (t) {
        case static_cast<std::uint8_t>(PrType::WriteExclusive):
        case static_cast<std::uint8_t>(PrType::ExclusiveAccess):
        case static_cast<std::uint8_t>(PrType::WriteExclusiveRegistrantsOnly):
        case static_cast<std::uint8_t>(PrType::ExclusiveAccessRegistrantsOnly):
        case static_cast<std::uint8_t>(PrType::WriteExclusiveAllRegistrants):
        case static_cast<std::uint8_t>(PrType::ExclusiveAccessAllRegistrants):
            return true;
        default:
            return false;
    }
}

// SPC-4 §5.13.10: with an all registrants type every registered I_T nexus is a holder.
bool all_registrants(PrType t) {
    switch (t) {
        case PrType::WriteExclusiveAllRegistrants:
        case PrType::ExclusiveAccessAllRegistrants:
            return true;
        case PrType::WriteExclusive:
        case PrType::ExclusiveAccess:
        case PrType::WriteExclusiveRegistrantsOnly:
        case PrType::ExclusiveAccessRegistrantsOnly:
            return false;
    }
    return false;
}

bool registrants_only(PrType t) {
    switch (t) {
        case PrType::WriteExclusiveRegistrantsOnly:
        case PrType::ExclusiveAccessRegistrantsOnly:
            return true;
        case PrType::WriteExclusive:
        case PrType::ExclusiveAccess:
        case PrType::WriteExclusiveAllRegistrants:
        case PrType::ExclusiveAccessAllRegistrants:
            return false;
    }
    return false;
}

// Exclusive Access types keep non-holders from reading too, not just from writing.
bool exclusive_access(PrType t) {
    switch (t) {
        case PrType::ExclusiveAccess:
        case PrType::ExclusiveAccessRegistrantsOnly:
        case PrType::ExclusiveAccessAllRegistrants:
            return true;
        case PrType::WriteExclusive:
        case PrType::WriteExclusiveRegistrantsOnly:
        case PrType::WriteExclusiveAllRegistrants:
            return false;
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// What we accept as an iSCSI name, in TransportIDs, from a nexus and in a saved state
// alike: RFC 3720 §3.2.6.2 allows fewer characters (and UTF-8 beyond ASCII), but the name
// is the initiator's business; we need it bounded, free of control characters and of the
// separator's comma, so that what we register we can also report, save and load.
bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxIscsiName) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f && c != ',';
    });
}

// An ISID in hex, 12 digits in lower case; shorter (leading zeros dropped) is padded.
std::optional<std::string> normalize_isid(std::string_view h) {
    if (h.empty() || h.size() > kIsidDigits) return std::nullopt;
    std::string out(kIsidDigits - h.size(), '0');
    for (char c : h) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
        out.push_back(c);
    }
    return out;
}

// Does registration `reg` name the I_T nexus `nexus` (an exact identity)?
bool names(const ItNexusId& reg, const ItNexusId& nexus) {
    return reg.initiator_name == nexus.initiator_name && (reg.isid.empty() || reg.isid == nexus.isid) &&
           (!reg.relative_target_port || reg.relative_target_port == nexus.relative_target_port);
}

// Do two registrations name at least one I_T nexus in common?
bool overlap(const ItNexusId& a, const ItNexusId& b) {
    return a.initiator_name == b.initiator_name && (a.isid.empty() || b.isid.empty() || a.isid == b.isid) &&
           (!a.relative_target_port || !b.relative_target_port ||
            a.relative_target_port == b.relative_target_port);
}

int specificity(const ItNexusId& id) {
    return (id.isid.empty() ? 0 : 2) + (id.relative_target_port ? 1 : 0);
}

struct TransportId {
    std::string name;
    std::string isid;  // empty for format 00b
    std::size_t length = 0;
};

// SPC-4 §7.6.4.6, iSCSI TransportID: FORMAT CODE and PROTOCOL IDENTIFIER, ADDITIONAL
// LENGTH, then the null-terminated iSCSI name (00b) or "<name>,i,0x<ISID>" (01b).
std::optional<TransportId> parse_transport_id(std::span<const std::byte> b) {
    if (b.size() < 4) return std::nullopt;
    const std::uint8_t b0 = ld8(b, 0);
    if ((b0 & 0x0f) != kProtocolIscsi) return std::nullopt;
    const std::uint8_t format = b0 >> 6;
    if (format != kFormatName && format != kFormatPort) return std::nullopt;
    const std::size_t additional = ld16(b, 2);
    if (additional == 0 || 4 + additional > b.size()) return std::nullopt;
    std::string s;
    bool terminated = false;
    for (std::size_t i = 4; i < 4 + additional; ++i) {
        const auto c = static_cast<char>(ld8(b, i));
        if (c == '\0') {
            terminated = true;
            break;
        }
        s.push_back(c);
    }
    if (!terminated) return std::nullopt;
    s = lower(s);
    TransportId t;
    t.length = 4 + additional;
    if (format == kFormatName) {
        t.name = s;
    } else {
        const auto pos = s.find(kSeparator);
        if (pos == std::string::npos) return std::nullopt;
        t.name = s.substr(0, pos);
        auto isid = normalize_isid(std::string_view(s).substr(pos + kSeparator.size()));
        if (!isid) return std::nullopt;
        t.isid = *isid;
    }
    if (!valid_name(t.name)) return std::nullopt;
    return t;
}

// The TransportID READ FULL STATUS reports for a registration: format 01b when it names
// one initiator port, 00b when it names the initiator device. ADDITIONAL LENGTH is a
// multiple of four and at least 20 (SPC-4 §7.6.4.6).
Bytes transport_id(const ItNexusId& who) {
    const std::string s = who.initiator_port();
    std::size_t n = (s.size() + 1 + 3) & ~std::size_t{3};
    n = std::max<std::size_t>(n, 20);
    Bytes b(4 + n);
    st8(b, 0, static_cast<std::uint8_t>(((who.isid.empty() ? kFormatName : kFormatPort) << 6) | kProtocolIscsi));
    st16(b, 2, static_cast<std::uint16_t>(n));
    for (std::size_t i = 0; i < s.size(); ++i) b[4 + i] = static_cast<std::byte>(s[i]);
    return b;
}

PrOutResult conflict() {
    PrOutResult r;
    r.status = Status::ReservationConflict;
    return r;
}

PrOutResult check(Sense s) {
    PrOutResult r;
    r.status = Status::CheckCondition;
    r.sense = s;
    return r;
}

Sense bad_parameter(std::uint16_t byte, std::optional<std::uint8_t> bit = std::nullopt) {
    Sense s{SenseKey::IllegalRequest, asc::InvalidFieldInParameterList};
    s.field_pointer = byte;
    s.field_in_cdb = false;
    s.bit_pointer = bit;
    return s;
}

Sense list_length_error() { return Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError}; }
Sense no_resources() { return Sense{SenseKey::IllegalRequest, asc::InsufficientRegistrationResources}; }

// How a command fares in the presence of a persistent reservation it does not hold.
enum class Access : std::uint8_t {
    Allowed,  // from every I_T nexus, whatever the type
    Read,     // like a read: conflicts for Exclusive Access types only
    Write,    // like a write: conflicts for every type
    PrOut,    // by service action (SPC-4 §5.13.1, PERSISTENT RESERVE OUT table)
    Spc2,     // RESERVE/RELEASE: spc2_reserve_release()
};

// SPC-4 §5.13.1 ("SPC commands that are allowed in the presence of various
// reservations") and SBC-3's table for block commands, for a nexus that does not hold the
// reservation. Each row there is one of three shapes:
//   Allowed: Allowed in every column;
//   Read:    WE Allowed, EA Conflict; registered (RO/AR) Allowed; unregistered WE-RO/AR
//            Allowed, EA-RO/AR Conflict;
//   Write:   WE Conflict, EA Conflict; registered (RO/AR) Allowed; unregistered Conflict.
// Where SPC-4 lets ALLOW COMMANDS decide (TEST UNIT READY, MODE SENSE, READ BUFFER, ...)
// we answer as REPORT CAPABILITIES says: ALLOW COMMANDS = 011b.
Access classify(const Command& c) {
    const auto cdb = c.cdb_bytes();
    switch (c.opcode()) {
        case op::Inquiry:
        case op::ReportLuns:
        case op::RequestSense:
        case op::PersistentReserveIn:
        case op::LogSense:
        case op::ReadCapacity10:
        case op::AccessControlIn:
        case op::AccessControlOut:
        case op::TestUnitReady:  // ALLOW COMMANDS 011b: through WE and EA
            return Access::Allowed;
        case op::Reserve6:
        case op::Release6:
        case op::Reserve10:
        case op::Release10:
            return Access::Spc2;
        case op::PersistentReserveOut:
            return Access::PrOut;
        case op::Read6:
        case op::Read10:
        case op::Read12:
        case op::Read16:
        case op::Verify10:
        case op::Verify12:
        case op::Verify16:
        case op::PreFetch10:
        case op::PreFetch16:
        case op::ServiceActionIn12:  // READ MEDIA SERIAL NUMBER
        // ALLOW COMMANDS 011b: these pass Write Exclusive reservations.
        case op::ModeSense6:
        case op::ModeSense10:
        case op::ReadAttribute:
        case op::ReadBuffer:
        case op::ReceiveCopyResults:
        case op::ReceiveDiagnosticResults:
        case op::ReadDefectData10:
        case op::ReadDefectData12:
        case op::SecurityProtocolIn:
            return Access::Read;
        case op::ServiceActionIn16:
            switch (ld8(cdb, 1) & 0x1f) {
                case sai16::ReadCapacity16:
                case sai16::ReportReferrals:
                    return Access::Allowed;
                case sai16::ReadLong16:  // SBC-3: READ LONG conflicts like a write
                    return Access::Write;
                case sai16::GetLbaStatus:
                default:
                    return Access::Read;
            }
        case op::MaintenanceIn:
            switch (ld8(cdb, 1) & 0x1f) {
                case mi::ReportIdentifyingInformation:
                case mi::ReportTargetPortGroups:
                case mi::ReportAliases:
                case mi::ReportPriority:
                case mi::ReportTimestamp:
                    return Access::Allowed;
                case mi::ReportSupportedOperationCodes:
                case mi::ReportSupportedTaskManagementFunctions:
                case mi::ManagementProtocolIn:
                default:
                    return Access::Read;
            }
        case op::PreventAllowMediumRemoval:
            // SBC-3: PREVENT field 00b (allow removal) is harmless; preventing is not.
            return (ld8(cdb, 4) & 0x03) == 0 ? Access::Allowed : Access::Write;
        case op::StartStopUnit:
            // SBC-3: START=1 with POWER CONDITION 0h is harmless; stopping is not.
            return ((ld8(cdb, 4) & 0x01) && (ld8(cdb, 4) >> 4) == 0) ? Access::Allowed : Access::Write;
        case op::VariableLength:
            switch (ld16(cdb, 8)) {
                case var::Read32:
                case var::Verify32:
                    return Access::Read;
                default:
                    return Access::Write;
            }
        // Writes, and everything that changes the medium, the cache or the device's
        // state: WRITE*, WRITE AND VERIFY*, WRITE SAME*, UNMAP, COMPARE AND WRITE,
        // ORWRITE, WRITE ATOMIC, SYNCHRONIZE CACHE*, FORMAT UNIT, REASSIGN BLOCKS,
        // SANITIZE, READ/WRITE LONG(10), MODE SELECT*, LOG SELECT, WRITE BUFFER, SEND
        // DIAGNOSTIC, WRITE ATTRIBUTE, EXTENDED COPY, SECURITY PROTOCOL OUT,
        // MAINTENANCE OUT, SERVICE ACTION OUT(16).
        case op::Write6:
        case op::Write10:
        case op::Write12:
        case op::Write16:
        case op::WriteAndVerify10:
        case op::WriteAndVerify12:
        case op::WriteAndVerify16:
        case op::WriteSame10:
        case op::WriteSame16:
        case op::Unmap:
        case op::CompareAndWrite:
        case op::Orwrite16:
        case op::WriteAtomic16:
        case op::SynchronizeCache10:
        case op::SynchronizeCache16:
        case op::FormatUnit:
        case op::ReassignBlocks:
        case op::Sanitize:
        case op::ReadLong10:
        case op::WriteLong10:
        case op::ModeSelect6:
        case op::ModeSelect10:
        case op::LogSelect:
        case op::WriteBuffer:
        case op::SendDiagnostic:
        case op::WriteAttribute:
        case op::ExtendedCopy:
        case op::SecurityProtocolOut:
        case op::MaintenanceOut:
        case op::ServiceActionOut16:
            return Access::Write;
        default:
            // A command the tables do not list (or one we do not know): the safe side.
            return Access::Write;
    }
}

// Bounded reading of the saved state.
struct Reader {
    std::span<const std::byte> b;
    std::size_t pos = 0;
    bool ok = true;
    bool need(std::size_t n) {
        if (!ok || b.size() - pos < n) ok = false;
        return ok;
    }
    std::uint8_t u8() { return need(1) ? ld8(b, (pos += 1) - 1) : 0; }
    std::uint16_t u16() { return need(2) ? ld16(b, (pos += 2) - 2) : 0; }
    std::uint32_t u32() { return need(4) ? ld32(b, (pos += 4) - 4) : 0; }
    std::uint64_t u64() { return need(8) ? ld64(b, (pos += 8) - 8) : 0; }
    std::string str(std::size_t n) {
        if (!need(n)) return {};
        std::string s(n, '\0');
        for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(ld8(b, pos + i));
        pos += n;
        return s;
    }
};

void put8(Bytes& b, std::uint8_t v) { b.push_back(static_cast<std::byte>(v)); }
void put16(Bytes& b, std::uint16_t v) {
    b.resize(b.size() + 2);
    st16(b, b.size() - 2, v);
}
void put32(Bytes& b, std::uint32_t v) {
    b.resize(b.size() + 4);
    st32(b, b.size() - 4, v);
}
void put64(Bytes& b, std::uint64_t v) {
    b.resize(b.size() + 8);
    st64(b, b.size() - 8, v);
}
void put_str(Bytes& b, const std::string& s) {
    for (char c : s) b.push_back(static_cast<std::byte>(c));
}

// The saved state's format, version 1 (big-endian):
//   "IPRS" u8 version=1 u8 flags(bit 0: APTPL) u32 PRgeneration
//   u8 reservation TYPE (0: none) u8 SCOPE u16 holder index (0xffff: none or all registrants)
//   u16 count, then per registration in READ KEYS order:
//   u64 RESERVATION KEY, u8 n + n bytes iSCSI name, u8 m + m bytes ISID (0 or 12),
//   u8 has target port, u16 RELATIVE TARGET PORT IDENTIFIER
constexpr std::string_view kMagic = "IPRS";
constexpr std::uint8_t kFormatVersion = 1;
constexpr std::uint16_t kNoHolder = 0xffff;

}  // namespace

// ---- ItNexusId ----

ItNexusId ItNexusId::of(const Nexus& n) {
    ItNexusId id;
    const std::string port = lower(n.initiator_port.empty() ? n.initiator_name : n.initiator_port);
    const auto pos = port.rfind(kSeparator);
    std::optional<std::string> isid;
    if (pos != std::string::npos) isid = normalize_isid(std::string_view(port).substr(pos + kSeparator.size()));
    if (isid) {
        id.initiator_name = port.substr(0, pos);
        id.isid = *isid;
    } else {
        id.initiator_name = port;
    }
    id.relative_target_port = n.relative_target_port;
    return id;
}

bool ItNexusId::matches(const Nexus& n) const { return names(*this, of(n)); }

std::string ItNexusId::initiator_port() const {
    return isid.empty() ? initiator_name : initiator_name + std::string(kSeparator) + isid;
}

// ---- results ----

void PrOutResult::apply_to(Command& cmd, bool descriptor_sense) const {
    if (status == Status::CheckCondition && sense) {
        cmd.fail(*sense, descriptor_sense);
        return;
    }
    cmd.status = status;
    cmd.sense.clear();
    cmd.data_in.reset();
}

void PrInResult::apply_to(Command& cmd, bool descriptor_sense) const {
    if (status == Status::CheckCondition && sense) {
        cmd.fail(*sense, descriptor_sense);
        return;
    }
    return_data(cmd, data, static_cast<std::uint32_t>(data.size()));
    cmd.status = status;
}

// ---- state helpers (mu_ held) ----

const PersistentReservations::Registration* PersistentReservations::find(const Nexus& n) const {
    const ItNexusId id = ItNexusId::of(n);
    const Registration* best = nullptr;
    for (const auto& r : s_.regs)
        if (names(r.who, id) && (!best || specificity(r.who) > specificity(best->who))) best = &r;
    return best;
}

PersistentReservations::Registration* PersistentReservations::find(const Nexus& n) {
    return const_cast<Registration*>(std::as_const(*this).find(n));
}

bool PersistentReservations::holds(const Registration* r) const {
    if (!r || !s_.res) return false;
    return all_registrants(s_.res->type) || s_.res->holder == r->id;
}

void PersistentReservations::add(const ItNexusId& who, std::uint64_t key) {
    s_.regs.push_back(Registration{s_.next_id++, who, key});
}

// SPC-4 §5.13.11, unregistering (REGISTER with SERVICE ACTION RESERVATION KEY zero).
void PersistentReservations::unregister(std::uint64_t id, PrOutResult& out) {
    auto it = std::find_if(s_.regs.begin(), s_.regs.end(), [&](const auto& r) { return r.id == id; });
    if (it == s_.regs.end()) return;
    const bool was_holder = holds(&*it);
    s_.regs.erase(it);
    if (!was_holder) return;
    const PrType type = s_.res->type;
    if (all_registrants(type)) {
        // The reservation stays while any registrant (each one a holder) is left.
        if (s_.regs.empty()) s_.res.reset();
        return;
    }
    s_.res.reset();
    // A registrants only reservation released by its holder's unregistration: every
    // remaining registrant must learn it (RESERVATIONS RELEASED).
    if (registrants_only(type)) ua_all_but(0, asc::ReservationsReleased, out);
}

void PersistentReservations::ua_all_but(std::uint64_t except_id, Asc code, PrOutResult& out) const {
    for (const auto& r : s_.regs)
        if (r.id != except_id) out.unit_attentions.push_back(PrUnitAttention{r.who, code});
}

// ---- PERSISTENT RESERVE OUT ----

struct PersistentReservations::Params {
    PrOutAction action = PrOutAction::Register;
    std::uint8_t scope = 0, type = 0;  // the CDB's SCOPE and TYPE, raw
    std::uint64_t reservation_key = 0;
    std::uint64_t service_action_reservation_key = 0;
    bool spec_i_pt = false, all_tg_pt = false, aptpl = false;
    std::span<const std::byte> transport_ids;  // SPEC_I_PT, or REGISTER AND MOVE
    std::size_t transport_ids_offset = 0;      // in the parameter list, for field pointers
    bool unreg = false;                        // REGISTER AND MOVE
    std::uint16_t relative_target_port = 0;    // REGISTER AND MOVE
};

PrOutResult PersistentReservations::persistent_reserve_out(const Nexus& n, const Command& cmd) {
    const auto cdb = cmd.cdb_bytes();
    Params p;
    const std::uint8_t service_action = ld8(cdb, 1) & 0x1f;
    if (service_action > static_cast<std::uint8_t>(PrOutAction::RegisterAndMove))
        return check(invalid_field_in_cdb(1, 4));
    p.action = static_cast<PrOutAction>(service_action);
    p.scope = ld8(cdb, 2) >> 4;
    p.type = ld8(cdb, 2) & 0x0f;

    // SPC-4 §6.16.2: RESERVE, PREEMPT and PREEMPT AND ABORT need LU_SCOPE and a valid
    // TYPE. The other service actions ignore both; RELEASE compares them with the
    // reservation it releases instead (INVALID RELEASE OF PERSISTENT RESERVATION).
    switch (p.action) {
        case PrOutAction::Reserve:
        case PrOutAction::Preempt:
        case PrOutAction::PreemptAndAbort:
            if (p.scope != kLuScope) return check(invalid_field_in_cdb(2, 7));
            if (!valid_type(p.type)) return check(invalid_field_in_cdb(2, 3));
            break;
        case PrOutAction::Register:
        case PrOutAction::Release:
        case PrOutAction::Clear:
        case PrOutAction::RegisterAndIgnoreExistingKey:
        case PrOutAction::RegisterAndMove:
            break;
    }

    // The PARAMETER LIST LENGTH (bytes 5-8) against what arrived, then against the list
    // the service action needs (SPC-4 §6.16.1, §6.16.3, §6.16.4).
    const std::uint64_t length = ld32(cdb, 5);
    if (cmd.data_out.size() < length) return check(list_length_error());
    const std::span<const std::byte> list(cmd.data_out.data(), static_cast<std::size_t>(length));
    if (length < kBasicListLength) return check(list_length_error());
    p.reservation_key = ld64(list, 0);
    p.service_action_reservation_key = ld64(list, 8);
    if (p.action == PrOutAction::RegisterAndMove) {
        p.unreg = ld8(list, 17) & 0x02;
        p.aptpl = ld8(list, 17) & 0x01;
        p.relative_target_port = ld16(list, 18);
        const std::uint64_t tpdl = ld32(list, 20);  // TRANSPORTID PARAMETER DATA LENGTH
        if (kMoveHeaderLength + tpdl > length) return check(list_length_error());
        p.transport_ids = list.subspan(kMoveHeaderLength, static_cast<std::size_t>(tpdl));
        p.transport_ids_offset = kMoveHeaderLength;
    } else {
        const std::uint8_t flags = ld8(list, 20);
        p.spec_i_pt = flags & 0x08;
        p.all_tg_pt = flags & 0x04;
        p.aptpl = flags & 0x01;
        // SPC-4 §6.16.3: SPEC_I_PT belongs to REGISTER alone.
        if (p.spec_i_pt && p.action != PrOutAction::Register) return check(bad_parameter(20, 3));
        if (p.spec_i_pt) {
            if (length < kSpecIptHeaderLength) return check(list_length_error());
            const std::uint64_t tpdl = ld32(list, 24);
            if (kSpecIptHeaderLength + tpdl > length) return check(list_length_error());
            p.transport_ids = list.subspan(kSpecIptHeaderLength, static_cast<std::size_t>(tpdl));
            p.transport_ids_offset = kSpecIptHeaderLength;
        } else if (length != kBasicListLength) {
            return check(list_length_error());
        }
        // ALL_TG_PT and APTPL mean something to REGISTER and REGISTER AND IGNORE
        // EXISTING KEY only, and are ignored by the others.
        if (p.action != PrOutAction::Register && p.action != PrOutAction::RegisterAndIgnoreExistingKey) {
            p.all_tg_pt = false;
            p.aptpl = false;
        }
    }

    std::lock_guard lock(mu_);
    const bool aptpl_before = s_.aptpl;
    PrOutResult r;
    switch (p.action) {
        case PrOutAction::Register: r = do_register(n, p, false); break;
        case PrOutAction::RegisterAndIgnoreExistingKey: r = do_register(n, p, true); break;
        case PrOutAction::Reserve: r = do_reserve(n, p); break;
        case PrOutAction::Release: r = do_release(n, p); break;
        case PrOutAction::Clear: r = do_clear(n, p); break;
        case PrOutAction::Preempt: r = do_preempt(n, p, false); break;
        case PrOutAction::PreemptAndAbort: r = do_preempt(n, p, true); break;
        case PrOutAction::RegisterAndMove: r = do_register_and_move(n, p); break;
    }
    // The do_ functions set `save` when they changed the state; it is worth writing only
    // while APTPL is (or just was) set.
    if (r.status != Status::Good) return r;
    r.save = (aptpl_before || s_.aptpl) && (r.save || aptpl_before != s_.aptpl);
    if (r.save) {
        r.state = save_locked();
        r.state_version = ++version_;
    }
    return r;
}

// SPC-4 §5.13.7 (registering) and its tables of REGISTER and REGISTER AND IGNORE
// EXISTING KEY behaviour for unregistered and registered I_T nexuses.
PrOutResult PersistentReservations::do_register(const Nexus& n, const Params& p, bool ignore_existing) {
    PrOutResult r;
    const std::uint64_t sark = p.service_action_reservation_key;
    if (Registration* reg = find(n)) {
        if (!ignore_existing && p.reservation_key != reg->key) return conflict();
        // SPEC_I_PT from a registered I_T nexus: the table says INVALID FIELD IN CDB.
        if (p.spec_i_pt) return check(Sense{SenseKey::IllegalRequest, asc::InvalidFieldInCdb});
        if (sark == 0)
            unregister(reg->id, r);
        else
            reg->key = sark;  // re-registering with a new key keeps any reservation held
    } else {
        // An unregistered I_T nexus must send RESERVATION KEY zero with REGISTER.
        if (!ignore_existing && p.reservation_key != 0) return conflict();
        if (sark != 0) {
            ItNexusId self = ItNexusId::of(n);
            if (p.all_tg_pt) self.relative_target_port.reset();
            // A nexus whose name we could not report or save (the login should not have
            // let it in): we cannot hold that registration.
            if (!valid_name(self.initiator_name)) return check(no_resources());
            std::vector<ItNexusId> more;
            std::size_t off = 0, parsed = 0;
            while (off < p.transport_ids.size()) {
                // More TransportIDs than we could ever register: refuse before the work.
                if (++parsed > kMaxRegistrations) return check(no_resources());
                const auto t = parse_transport_id(p.transport_ids.subspan(off));
                const auto at = static_cast<std::uint16_t>(std::min<std::size_t>(p.transport_ids_offset + off, 0xffff));
                if (!t) return check(bad_parameter(at));
                off += t->length;
                ItNexusId id{t->name, t->isid, p.all_tg_pt ? std::nullopt : std::optional(n.relative_target_port)};
                if (id == self || std::find(more.begin(), more.end(), id) != more.end()) continue;
                // SPC-4 §6.16.3: a TransportID naming an I_T nexus that is registered
                // already fails the whole command; no registration is made.
                for (const auto& e : s_.regs)
                    if (overlap(e.who, id)) return check(bad_parameter(at));
                more.push_back(std::move(id));
            }
            // All or none (SPC-4 §6.16.3: "no registrations shall be made").
            if (s_.regs.size() + 1 + more.size() > kMaxRegistrations) return check(no_resources());
            add(self, sark);
            for (const auto& id : more) add(id, sark);
        }
        // SERVICE ACTION RESERVATION KEY zero from an unregistered nexus: no action, GOOD.
    }
    // SPC-4 §6.15.2: REGISTER and REGISTER AND IGNORE EXISTING KEY count in PRgeneration
    // whenever they complete with GOOD; the APTPL bit of the last one is the one in force.
    ++s_.generation;
    s_.aptpl = p.aptpl;
    r.save = true;
    return r;
}

// SPC-4 §5.13.9, reserving.
PrOutResult PersistentReservations::do_reserve(const Nexus& n, const Params& p) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    const auto type = static_cast<PrType>(p.type);
    if (!s_.res) {
        s_.res = Reservation{type, p.scope, all_registrants(type) ? 0 : reg->id};
        r.save = true;
        return r;
    }
    // Only the holder may reserve again, and only with the same type and scope (a GOOD
    // that changes nothing); anything else conflicts.
    if (!holds(reg) || s_.res->type != type || s_.res->scope != p.scope) return conflict();
    return r;
}

// SPC-4 §5.13.11, releasing.
PrOutResult PersistentReservations::do_release(const Nexus& n, const Params& p) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    // No reservation, or a registrant that does not hold it: GOOD, nothing changes.
    if (!s_.res || !holds(reg)) return r;
    if (p.type != static_cast<std::uint8_t>(s_.res->type) || p.scope != s_.res->scope)
        return check(Sense{SenseKey::IllegalRequest, asc::InvalidReleaseOfPersistentReservation});
    const PrType type = s_.res->type;
    s_.res.reset();
    // Releasing a registrants only or all registrants reservation tells every other
    // registrant (RESERVATIONS RELEASED); the Write Exclusive and Exclusive Access types
    // had no one else to tell.
    if (registrants_only(type) || all_registrants(type)) ua_all_but(reg->id, asc::ReservationsReleased, r);
    r.save = true;  // no PRgeneration: RELEASE does not count (SPC-4 §6.15.2)
    return r;
}

// SPC-4 §5.13.11, clearing.
PrOutResult PersistentReservations::do_clear(const Nexus& n, const Params& p) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    ua_all_but(reg->id, asc::ReservationsPreempted, r);
    s_.regs.clear();
    s_.res.reset();
    ++s_.generation;
    r.save = true;
    return r;
}

// SPC-4 §5.13.11, preempting (and, with abort, preempting and aborting).
PrOutResult PersistentReservations::do_preempt(const Nexus& n, const Params& p, bool abort) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    const std::uint64_t self = reg->id;
    const std::uint64_t sark = p.service_action_reservation_key;
    const auto type = static_cast<PrType>(p.type);

    // Removes the registrations `victims` names, with REGISTRATIONS PREEMPTED for each;
    // aborts the tasks of `aborted` (PREEMPT AND ABORT).
    auto preempt = [&](const std::vector<std::uint64_t>& victims, const std::vector<std::uint64_t>& aborted) {
        for (const auto& e : s_.regs) {
            if (abort && std::find(aborted.begin(), aborted.end(), e.id) != aborted.end())
                r.abort_tasks_of.push_back(e.who);
            if (std::find(victims.begin(), victims.end(), e.id) != victims.end())
                r.unit_attentions.push_back(PrUnitAttention{e.who, asc::RegistrationsPreempted});
        }
        std::erase_if(s_.regs, [&](const auto& e) {
            return std::find(victims.begin(), victims.end(), e.id) != victims.end();
        });
    };
    // Registrations holding `key`: all of them, and all but the issuer's (which a
    // preempt never removes).
    auto with_key = [&](std::uint64_t key, std::vector<std::uint64_t>& all, std::vector<std::uint64_t>& others) {
        for (const auto& e : s_.regs) {
            if (e.key != key) continue;
            all.push_back(e.id);
            if (e.id != self) others.push_back(e.id);
        }
    };

    if (s_.res && all_registrants(s_.res->type) && sark == 0) {
        // An all registrants reservation preempted with key zero: every other
        // registration goes, and the issuer holds a reservation of the new type and scope
        // (nobody is left to be told of the change of type).
        std::vector<std::uint64_t> others;
        for (const auto& e : s_.regs)
            if (e.id != self) others.push_back(e.id);
        preempt(others, others);
        s_.res = Reservation{type, p.scope, all_registrants(type) ? 0 : self};
    } else if (s_.res && !all_registrants(s_.res->type) &&
               std::any_of(s_.regs.begin(), s_.regs.end(),
                           [&](const auto& e) { return e.id == s_.res->holder && e.key == sark; })) {
        // The key is the holder's: the reservation passes to the issuer with the new type
        // and scope, and every registration with that key but the issuer's goes.
        std::vector<std::uint64_t> all, others;
        with_key(sark, all, others);
        const Reservation old = *s_.res;
        preempt(others, all);
        s_.res = Reservation{type, p.scope, all_registrants(type) ? 0 : self};
        if (old.type != type || old.scope != p.scope) ua_all_but(self, asc::ReservationsReleased, r);
    } else {
        // No reservation, or a key that is not the holder's: registrations only.
        if (sark == 0) return check(bad_parameter(8));
        std::vector<std::uint64_t> all, others;
        with_key(sark, all, others);
        if (all.empty()) return conflict();
        preempt(others, all);
    }
    ++s_.generation;
    r.save = true;
    return r;
}

// SPC-4 §5.13.8, registering and moving the reservation.
PrOutResult PersistentReservations::do_register_and_move(const Nexus& n, const Params& p) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    if (!s_.res) return check(Sense{SenseKey::IllegalRequest, asc::InvalidFieldInCdb});
    // Only a holder moves the reservation, and an all registrants one cannot be moved.
    if (!holds(reg) || all_registrants(s_.res->type)) return conflict();
    const std::uint64_t sark = p.service_action_reservation_key;
    if (sark == 0) return check(bad_parameter(8));
    if (p.relative_target_port == 0) return check(bad_parameter(18));  // 0 is reserved
    const auto t = parse_transport_id(p.transport_ids);
    if (!t) return check(bad_parameter(static_cast<std::uint16_t>(p.transport_ids_offset)));
    const ItNexusId dest{t->name, t->isid, p.relative_target_port};
    // The registration the destination I_T nexus would use, if it exists.
    Registration* d = nullptr;
    if (!dest.isid.empty()) {
        Nexus probe;
        probe.initiator_port = dest.initiator_port();
        probe.relative_target_port = p.relative_target_port;
        d = find(probe);
    } else {
        for (auto& e : s_.regs)
            if (e.who == dest) d = &e;
    }
    // Moving to the I_T nexus the command came through is an error.
    if (d == reg || dest.matches(n))
        return check(bad_parameter(static_cast<std::uint16_t>(p.transport_ids_offset)));
    const std::uint64_t self = reg->id;
    std::uint64_t dest_id = 0;
    if (d) {
        dest_id = d->id;
        d->key = sark;
    } else {
        if (s_.regs.size() >= kMaxRegistrations) return check(no_resources());
        add(dest, sark);
        dest_id = s_.regs.back().id;
    }
    s_.res->holder = dest_id;  // same type and scope
    if (p.unreg) std::erase_if(s_.regs, [&](const auto& e) { return e.id == self; });
    ++s_.generation;
    s_.aptpl = p.aptpl;
    r.save = true;
    return r;
}

// ---- PERSISTENT RESERVE IN ----

PrInResult PersistentReservations::persistent_reserve_in(const Nexus&, const Command& cmd) const {
    const auto cdb = cmd.cdb_bytes();
    const std::uint8_t service_action = ld8(cdb, 1) & 0x1f;
    const std::uint16_t allocation_length = ld16(cdb, 7);
    PrInResult r;
    if (service_action > static_cast<std::uint8_t>(PrInAction::ReadFullStatus)) {
        r.status = Status::CheckCondition;
        r.sense = invalid_field_in_cdb(1, 4);
        return r;
    }
    {
        std::lock_guard lock(mu_);
        switch (static_cast<PrInAction>(service_action)) {
            case PrInAction::ReadKeys: r.data = read_keys(); break;
            case PrInAction::ReadReservation: r.data = read_reservation(); break;
            case PrInAction::ReportCapabilities: r.data = report_capabilities(); break;
            case PrInAction::ReadFullStatus: r.data = read_full_status(); break;
        }
    }
    // SPC-4 §4.2.5.6: cut at the ALLOCATION LENGTH; the length fields inside still tell
    // the whole size.
    if (r.data.size() > allocation_length) r.data.resize(allocation_length);
    return r;
}

// SPC-4 §6.15.2.
Bytes PersistentReservations::read_keys() const {
    Bytes b(8);
    st32(b, 0, s_.generation);
    st32(b, 4, static_cast<std::uint32_t>(8 * s_.regs.size()));
    for (const auto& e : s_.regs) put64(b, e.key);
    return b;
}

// SPC-4 §6.15.3. An all registrants reservation has RESERVATION KEY zero.
Bytes PersistentReservations::read_reservation() const {
    Bytes b(8);
    st32(b, 0, s_.generation);
    if (!s_.res) return b;
    b.resize(24);
    st32(b, 4, 16);
    std::uint64_t key = 0;
    if (!all_registrants(s_.res->type))
        for (const auto& e : s_.regs)
            if (e.id == s_.res->holder) key = e.key;
    st64(b, 8, key);
    st8(b, 21, static_cast<std::uint8_t>((s_.res->scope << 4) | static_cast<std::uint8_t>(s_.res->type)));
    return b;
}

// SPC-4 §6.15.4.
Bytes PersistentReservations::report_capabilities() const {
    Bytes b(8);
    st16(b, 0, 8);  // LENGTH
    // CRH=1 (SPC-4 §5.13.3 exceptions), SIP_C=1 (SPEC_I_PT), ATP_C=1 (ALL_TG_PT),
    // PTPL_C=1 (APTPL).
    st8(b, 2, 0x10 | 0x08 | 0x04 | 0x01);
    // TMV=1 (the type mask is valid), ALLOW COMMANDS=011b (see classify()), PTPL_A.
    st8(b, 3, static_cast<std::uint8_t>(0x80 | (0x3 << 4) | (s_.aptpl ? 0x01 : 0x00)));
    // PERSISTENT RESERVATION TYPE MASK: WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX;
    // then EX_AC_AR.
    st8(b, 4, 0x80 | 0x40 | 0x20 | 0x08 | 0x02);
    st8(b, 5, 0x01);
    return b;
}

// SPC-4 §6.15.5: one descriptor per registration, with its TransportID.
Bytes PersistentReservations::read_full_status() const {
    Bytes b(8);
    st32(b, 0, s_.generation);
    for (const auto& e : s_.regs) {
        Bytes d(24);
        st64(d, 0, e.key);
        const bool holder = holds(&e);
        st8(d, 12, static_cast<std::uint8_t>((e.who.relative_target_port ? 0 : 0x02) | (holder ? 0x01 : 0)));
        if (holder)
            st8(d, 13, static_cast<std::uint8_t>((s_.res->scope << 4) | static_cast<std::uint8_t>(s_.res->type)));
        st16(d, 18, e.who.relative_target_port.value_or(0));
        const Bytes tid = transport_id(e.who);
        st32(d, 20, static_cast<std::uint32_t>(tid.size()));
        b.insert(b.end(), d.begin(), d.end());
        b.insert(b.end(), tid.begin(), tid.end());
    }
    st32(b, 4, static_cast<std::uint32_t>(b.size() - 8));
    return b;
}

// ---- conflicts and the SPC-2 exceptions ----

bool PersistentReservations::conflicts(const Nexus& n, const Command& cmd) const {
    const Access access = classify(cmd);
    std::lock_guard lock(mu_);
    if (access == Access::Spc2) return spc2_locked(n) == Spc2Access::Conflict;
    if (!s_.res) return false;
    const Registration* reg = find(n);
    if (holds(reg)) return false;
    const PrType type = s_.res->type;
    // A registered nexus passes registrants only and all registrants reservations.
    const bool registrant_passes = reg && (registrants_only(type) || all_registrants(type));
    switch (access) {
        case Access::Allowed: return false;
        case Access::Read: return !registrant_passes && exclusive_access(type);
        case Access::Write: return !registrant_passes;
        case Access::PrOut:
            // SPC-4 §5.13.1, "PERSISTENT RESERVE OUT service actions that are allowed in
            // the presence of various reservations", for a nexus that is not a holder.
            switch (ld8(cmd.cdb_bytes(), 1) & 0x1f) {
                case static_cast<std::uint8_t>(PrOutAction::Register):
                case static_cast<std::uint8_t>(PrOutAction::RegisterAndIgnoreExistingKey):
                    return false;
                case static_cast<std::uint8_t>(PrOutAction::Release):
                case static_cast<std::uint8_t>(PrOutAction::Clear):
                case static_cast<std::uint8_t>(PrOutAction::Preempt):
                case static_cast<std::uint8_t>(PrOutAction::PreemptAndAbort):
                    return reg == nullptr;
                case static_cast<std::uint8_t>(PrOutAction::Reserve):
                case static_cast<std::uint8_t>(PrOutAction::RegisterAndMove):
                    return true;
                default:
                    return false;  // an invalid service action: INVALID FIELD IN CDB
            }
        case Access::Spc2: return false;  // handled above
    }
    return true;
}

Spc2Access PersistentReservations::spc2_reserve_release(const Nexus& n) const {
    std::lock_guard lock(mu_);
    return spc2_locked(n);
}

// SPC-4 §5.13.3, exceptions to SPC-2 RESERVE and RELEASE behavior (CRH=1).
Spc2Access PersistentReservations::spc2_locked(const Nexus& n) const {
    const Registration* reg = find(n);
    if (s_.res && reg && (holds(reg) || registrants_only(s_.res->type))) return Spc2Access::GoodNoOp;
    if (!s_.regs.empty()) return Spc2Access::Conflict;
    return Spc2Access::Process;
}

// ---- queries ----

bool PersistentReservations::any_registered() const {
    std::lock_guard lock(mu_);
    return !s_.regs.empty();
}

bool PersistentReservations::is_registered(const Nexus& n) const {
    std::lock_guard lock(mu_);
    return find(n) != nullptr;
}

bool PersistentReservations::is_holder(const Nexus& n) const {
    std::lock_guard lock(mu_);
    return holds(find(n));
}

bool PersistentReservations::reserved() const {
    std::lock_guard lock(mu_);
    return s_.res.has_value();
}

std::uint32_t PersistentReservations::generation() const {
    std::lock_guard lock(mu_);
    return s_.generation;
}

bool PersistentReservations::aptpl() const {
    std::lock_guard lock(mu_);
    return s_.aptpl;
}

// ---- APTPL: save and load ----

Bytes PersistentReservations::save() const {
    std::lock_guard lock(mu_);
    return save_locked();
}

Bytes PersistentReservations::save_locked() const {
    if (!s_.aptpl) return {};
    Bytes b;
    put_str(b, std::string(kMagic));
    put8(b, kFormatVersion);
    put8(b, 0x01);  // APTPL
    put32(b, s_.generation);
    std::uint16_t holder = kNoHolder;
    if (s_.res && !all_registrants(s_.res->type))
        for (std::size_t i = 0; i < s_.regs.size(); ++i)
            if (s_.regs[i].id == s_.res->holder) holder = static_cast<std::uint16_t>(i);
    put8(b, s_.res ? static_cast<std::uint8_t>(s_.res->type) : 0);
    put8(b, s_.res ? s_.res->scope : 0);
    put16(b, holder);
    put16(b, static_cast<std::uint16_t>(s_.regs.size()));
    for (const auto& e : s_.regs) {
        put64(b, e.key);
        put8(b, static_cast<std::uint8_t>(e.who.initiator_name.size()));
        put_str(b, e.who.initiator_name);
        put8(b, static_cast<std::uint8_t>(e.who.isid.size()));
        put_str(b, e.who.isid);
        put8(b, e.who.relative_target_port ? 1 : 0);
        put16(b, e.who.relative_target_port.value_or(0));
    }
    return b;
}

std::string PersistentReservations::load(std::span<const std::byte> saved) {
    State st;
    if (!saved.empty()) {
        Reader in{saved};
        if (in.str(kMagic.size()) != kMagic || !in.ok) return "not a saved persistent reservation state";
        if (const auto v = in.u8(); v != kFormatVersion) return "unknown format version " + std::to_string(v);
        const std::uint8_t flags = in.u8();
        if (flags != 0x01) return "bad flags (the state is saved only with APTPL set)";
        in.u32();  // PRgeneration: a power on sets it to zero (SPC-4 §6.15.2)
        const std::uint8_t type = in.u8();
        const std::uint8_t scope = in.u8();
        const std::uint16_t holder = in.u16();
        const std::uint16_t count = in.u16();
        if (!in.ok) return "truncated header";
        if (count > kMaxRegistrations) return "too many registrations";
        if (type != 0 && !valid_type(type)) return "bad reservation type";
        if (scope != kLuScope) return "bad reservation scope";
        for (std::uint16_t i = 0; i < count; ++i) {
            Registration e;
            e.id = st.next_id++;
            e.key = in.u64();
            e.who.initiator_name = in.str(in.u8());
            e.who.isid = in.str(in.u8());
            const std::uint8_t has_port = in.u8();
            const std::uint16_t port = in.u16();
            if (!in.ok) return "truncated registration " + std::to_string(i);
            if (e.key == 0) return "registration " + std::to_string(i) + " has key zero";
            if (!valid_name(e.who.initiator_name) || e.who.initiator_name != lower(e.who.initiator_name))
                return "registration " + std::to_string(i) + " has a bad iSCSI name";
            if (!e.who.isid.empty() && normalize_isid(e.who.isid) != e.who.isid)
                return "registration " + std::to_string(i) + " has a bad ISID";
            if (has_port > 1 || (has_port == 1 && port == 0) || (has_port == 0 && port != 0))
                return "registration " + std::to_string(i) + " has a bad target port";
            if (has_port) e.who.relative_target_port = port;
            for (const auto& o : st.regs)
                if (o.who == e.who) return "registration " + std::to_string(i) + " is a duplicate";
            st.regs.push_back(std::move(e));
        }
        if (in.pos != saved.size()) return "trailing bytes";
        if (type != 0) {
            const auto t = static_cast<PrType>(type);
            if (all_registrants(t)) {
                if (holder != kNoHolder || st.regs.empty()) return "bad all registrants reservation";
                st.res = Reservation{t, scope, 0};
            } else {
                if (holder >= st.regs.size()) return "bad reservation holder";
                st.res = Reservation{t, scope, st.regs[holder].id};
            }
        } else if (holder != kNoHolder) {
            return "a holder without a reservation";
        }
        st.aptpl = true;
    }
    std::lock_guard lock(mu_);
    s_ = std::move(st);
    return {};
}

const char* to_string(PrType t) {
    switch (t) {
        case PrType::WriteExclusive: return "Write Exclusive";
        case PrType::ExclusiveAccess: return "Exclusive Access";
        case PrType::WriteExclusiveRegistrantsOnly: return "Write Exclusive - Registrants Only";
        case PrType::ExclusiveAccessRegistrantsOnly: return "Exclusive Access - Registrants Only";
        case PrType::WriteExclusiveAllRegistrants: return "Write Exclusive - All Registrants";
        case PrType::ExclusiveAccessAllRegistrants: return "Exclusive Access - All Registrants";
    }
    return "?";
}

}  // namespace iscsilab::scsi
