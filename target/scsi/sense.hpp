// SCSI status, sense keys and additional sense codes (SPC-4 §4.5), and sense data in
// fixed and descriptor format.
#pragma once

#include <cstdint>
#include <optional>

#include "target/ports.hpp"

namespace iscsilab::scsi {

// SAM-5 §5.3
enum class Status : std::uint8_t {
    Good = 0x00,
    CheckCondition = 0x02,
    ConditionMet = 0x04,
    Busy = 0x08,
    ReservationConflict = 0x18,
    TaskSetFull = 0x28,
    AcaActive = 0x30,
    TaskAborted = 0x40,
};

// SPC-4 §4.5.6
enum class SenseKey : std::uint8_t {
    NoSense = 0x0,
    RecoveredError = 0x1,
    NotReady = 0x2,
    MediumError = 0x3,
    HardwareError = 0x4,
    IllegalRequest = 0x5,
    UnitAttention = 0x6,
    DataProtect = 0x7,
    BlankCheck = 0x8,
    AbortedCommand = 0xb,
    Miscompare = 0xe,
};

struct Asc {
    std::uint8_t asc = 0, ascq = 0;
    bool operator==(const Asc&) const = default;
};

namespace asc {
inline constexpr Asc NoAdditionalSense{0x00, 0x00};
inline constexpr Asc WriteError{0x0c, 0x00};
inline constexpr Asc InvalidFieldInInformationUnit{0x0e, 0x03};
inline constexpr Asc UnrecoveredReadError{0x11, 0x00};
inline constexpr Asc ParameterListLengthError{0x1a, 0x00};
inline constexpr Asc MiscompareDuringVerify{0x1d, 0x00};
inline constexpr Asc InvalidCommandOperationCode{0x20, 0x00};
inline constexpr Asc LbaOutOfRange{0x21, 0x00};
inline constexpr Asc InvalidFieldInCdb{0x24, 0x00};
inline constexpr Asc LogicalUnitNotSupported{0x25, 0x00};
inline constexpr Asc InvalidFieldInParameterList{0x26, 0x00};
inline constexpr Asc WriteProtected{0x27, 0x00};
inline constexpr Asc PowerOnResetOrBusDeviceReset{0x29, 0x00};
inline constexpr Asc PowerOnOccurred{0x29, 0x01};
inline constexpr Asc BusDeviceResetFunctionOccurred{0x29, 0x03};
inline constexpr Asc ModeParametersChanged{0x2a, 0x01};
inline constexpr Asc CommandsClearedByAnotherInitiator{0x2f, 0x00};
inline constexpr Asc SavingParametersNotSupported{0x39, 0x00};
inline constexpr Asc MediumNotPresent{0x3a, 0x00};
inline constexpr Asc ReportedLunsDataHasChanged{0x3f, 0x0e};
inline constexpr Asc LogicalUnitNotReadyManualIntervention{0x04, 0x03};
inline constexpr Asc InternalTargetFailure{0x44, 0x00};
}  // namespace asc

struct Sense {
    Sense() = default;
    Sense(SenseKey k, Asc a) : key(k), code(a) {}
    SenseKey key = SenseKey::NoSense;
    Asc code{};
    std::optional<std::uint64_t> information;  // e.g. the miscomparing byte offset
    // SENSE KEY SPECIFIC field pointer (SPC-4 §4.5.2.4.2): which CDB or parameter byte.
    std::optional<std::uint16_t> field_pointer;
    bool field_in_cdb = true;
    std::optional<std::uint8_t> bit_pointer;
};

// SPC-4 §4.5.3 (fixed, response code 0x70) and §4.5.2 (descriptor, 0x72).
Bytes encode_sense(const Sense& s, bool descriptor_format);

// Decode either format (for tests and the initiator model).
std::optional<Sense> decode_sense(std::span<const std::byte> b);

const char* to_string(SenseKey k);

}  // namespace iscsilab::scsi
