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
    CopyAborted = 0xa,  // EXTENDED COPY ended after segment processing began (SPC-4 §6.4)
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
inline constexpr Asc CapacityDataHasChanged{0x2a, 0x09};
inline constexpr Asc CommandsClearedByAnotherInitiator{0x2f, 0x00};
inline constexpr Asc SavingParametersNotSupported{0x39, 0x00};
inline constexpr Asc MediumNotPresent{0x3a, 0x00};
inline constexpr Asc NotReadyToReadyChange{0x28, 0x00};  // NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED
inline constexpr Asc MediumRemovalPrevented{0x53, 0x02};
inline constexpr Asc ReportedLunsDataHasChanged{0x3f, 0x0e};
inline constexpr Asc LogicalUnitNotReadyManualIntervention{0x04, 0x03};
inline constexpr Asc InternalTargetFailure{0x44, 0x00};
// Persistent reservations (SPC-4 §5.13, Annex D).
inline constexpr Asc ReservationsPreempted{0x2a, 0x03};
inline constexpr Asc ReservationsReleased{0x2a, 0x04};
inline constexpr Asc RegistrationsPreempted{0x2a, 0x05};
inline constexpr Asc InvalidReleaseOfPersistentReservation{0x26, 0x04};
inline constexpr Asc InsufficientRegistrationResources{0x55, 0x04};
// Third-party copy (SPC-4 §6.4, EXTENDED COPY(LID1)).
inline constexpr Asc OperationInProgress{0x00, 0x16};
inline constexpr Asc UnreachableCopyTarget{0x08, 0x04};
inline constexpr Asc CopyTargetDeviceNotReachable{0x0d, 0x02};
inline constexpr Asc IncorrectCopyTargetDeviceType{0x0d, 0x03};
inline constexpr Asc CopyTargetDeviceDataUnderrun{0x0d, 0x04};
inline constexpr Asc TooManyTargetDescriptors{0x26, 0x06};
inline constexpr Asc UnsupportedTargetDescriptorTypeCode{0x26, 0x07};
inline constexpr Asc TooManySegmentDescriptors{0x26, 0x08};
inline constexpr Asc UnsupportedSegmentDescriptorTypeCode{0x26, 0x09};
inline constexpr Asc UnexpectedInexactSegment{0x26, 0x0a};
inline constexpr Asc InlineDataLengthExceeded{0x26, 0x0b};
inline constexpr Asc InsufficientResources{0x55, 0x03};
// Asymmetric logical unit access (SPC-4 §5.16.2.4).
inline constexpr Asc AsymmetricAccessStateChanged{0x2a, 0x06};
inline constexpr Asc LogicalUnitNotAccessibleTransitioning{0x04, 0x0a};
inline constexpr Asc LogicalUnitNotAccessibleStandby{0x04, 0x0b};
inline constexpr Asc LogicalUnitNotAccessibleUnavailable{0x04, 0x0c};
inline constexpr Asc LogicalUnitNotAccessibleOffline{0x04, 0x12};
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

    // The fields below are for EXTENDED COPY errors (COPY ABORTED: SPC-4 §6.4, SPC-3
    // §6.3.3). Left at their defaults they change nothing in the encoding.

    // COMMAND-SPECIFIC INFORMATION: fixed format bytes 8-11; descriptor format, the first
    // four bytes of a command-specific information descriptor (SPC-4 §4.5.2.3), so that
    // "the third and fourth bytes" (an EXTENDED COPY's segment number) are the same bytes
    // in both formats.
    std::optional<std::uint32_t> command_specific_information;
    // Segment pointer sense key specific data (SPC-4 §4.5.2.4.5, sense key COPY ABORTED):
    // SD set, the field pointer counts from the start of the segment descriptor that the
    // COMMAND-SPECIFIC INFORMATION names, not from the start of the parameter list.
    bool segment_descriptor = false;
    // The status and sense data of a command the copy manager sent to a copy source or
    // destination. Fixed format: in the additional sense bytes from byte 18 (the status
    // byte, then the sense data); descriptor format: a forwarded sense data descriptor
    // (SPC-4 §4.5.2). Truncated so that the sense data stays within 252 bytes.
    struct Forwarded {
        std::uint8_t source = 0;  // SENSE DATA SOURCE: 1 copy source, 2 copy destination
        Status status = Status::Good;
        Bytes sense;
    };
    std::optional<Forwarded> forwarded;
};

// SPC-4 §4.5.3 (fixed, response code 0x70) and §4.5.2 (descriptor, 0x72).
Bytes encode_sense(const Sense& s, bool descriptor_format);

// Decode either format (for tests and the initiator model).
std::optional<Sense> decode_sense(std::span<const std::byte> b);

const char* to_string(SenseKey k);

}  // namespace iscsilab::scsi
