// Reservation conflicts: the SPC-4 / SBC-3 tables and the SPC-2 RESERVE/RELEASE exceptions (SPC-4 §5.13.3).
#include "target/scsi/pr.hpp"

#include "target/bytes.hpp"
#include "target/defects.hpp"
#include "target/scsi/pr_detail.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

using namespace detail;

namespace {

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

}  // namespace

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
    const bool registrant_passes = (reg || (defects::on(defects::Defect::pr_not_enforced) && registrants_only(type))) &&
                                   (registrants_only(type) || all_registrants(type));
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

}  // namespace iscsilab::scsi
