// iSCSI PDUs (RFC 3720 §10): opcodes, the Basic Header Segment, and one struct per PDU
// with pure decode/encode over the 48-byte BHS. Field names follow the RFC.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "target/buffer_pool.hpp"
#include "target/ports.hpp"

namespace iscsilab::iscsi {

inline constexpr std::size_t kBhsLength = 48;
inline constexpr std::size_t kDigestLength = 4;
inline constexpr std::uint32_t kReservedTag = 0xffffffffu;  // RFC 3720 §10.2.1.8
inline constexpr std::uint32_t kMaxDataSegmentLength = 0xffffff;

using Bhs = std::array<std::byte, kBhsLength>;

// RFC 3720 §10.2.1.2
enum class Opcode : std::uint8_t {
    // initiator
    NopOut = 0x00,
    ScsiCommand = 0x01,
    TaskMgmtRequest = 0x02,
    LoginRequest = 0x03,
    TextRequest = 0x04,
    DataOut = 0x05,
    LogoutRequest = 0x06,
    Snack = 0x10,
    // target
    NopIn = 0x20,
    ScsiResponse = 0x21,
    TaskMgmtResponse = 0x22,
    LoginResponse = 0x23,
    TextResponse = 0x24,
    DataIn = 0x25,
    LogoutResponse = 0x26,
    R2T = 0x31,
    AsyncMessage = 0x32,
    Reject = 0x3f,
};

const char* to_string(Opcode op);
bool is_initiator_opcode(std::uint8_t op);

// RFC 3720 §10.17.1
enum class RejectReason : std::uint8_t {
    DataDigestError = 0x02,
    SnackReject = 0x03,
    ProtocolError = 0x04,
    CommandNotSupported = 0x05,
    ImmediateCommandReject = 0x06,
    TaskInProgress = 0x07,
    InvalidDataAck = 0x08,
    InvalidPduField = 0x09,
    LongOperationReject = 0x0a,
    NegotiationReset = 0x0b,
    WaitingForLogout = 0x0c,
};

// RFC 3720 §10.5.1
enum class TmfFunction : std::uint8_t {
    AbortTask = 1,
    AbortTaskSet = 2,
    ClearAca = 3,
    ClearTaskSet = 4,
    LogicalUnitReset = 5,
    TargetWarmReset = 6,
    TargetColdReset = 7,
    TaskReassign = 8,
};

// RFC 3720 §10.6.1
enum class TmfResponse : std::uint8_t {
    FunctionComplete = 0,
    TaskDoesNotExist = 1,
    LunDoesNotExist = 2,
    TaskStillAllegiant = 3,
    TaskAllegianceReassignmentNotSupported = 4,
    TaskManagementFunctionNotSupported = 5,
    FunctionAuthorizationFailed = 6,
    FunctionRejected = 255,
};

// RFC 3720 §10.3.1 task attributes
enum class TaskAttr : std::uint8_t { Untagged = 0, Simple = 1, Ordered = 2, HeadOfQueue = 3, Aca = 4 };

// RFC 3720 §10.14.1
enum class LogoutReason : std::uint8_t { CloseSession = 0, CloseConnection = 1, RemoveConnectionForRecovery = 2 };
// RFC 3720 §10.15.1
enum class LogoutResponseCode : std::uint8_t { Success = 0, CidNotFound = 1, RecoveryNotSupported = 2, CleanupFailed = 3 };

// RFC 3720 §10.9.1
enum class AsyncEvent : std::uint8_t { ScsiAsyncEvent = 0, LogoutRequest = 1, DropConnection = 2, DropAllConnections = 3, RequestParameterNegotiation = 4 };

// Raw access to any BHS.
struct BhsView {
    std::span<const std::byte> b;
    std::uint8_t opcode_raw() const { return static_cast<std::uint8_t>(b[0]) & 0x3f; }
    bool immediate() const { return (static_cast<std::uint8_t>(b[0]) & 0x40) != 0; }
    bool final_bit() const { return (static_cast<std::uint8_t>(b[1]) & 0x80) != 0; }
    std::uint8_t total_ahs_length() const { return static_cast<std::uint8_t>(b[4]); }  // 4-byte words
    std::uint32_t data_segment_length() const;
    std::uint32_t itt() const;
};

// Initiator PDUs -------------------------------------------------------------------------

struct ScsiCommandPdu {  // RFC 3720 §10.3
    bool immediate = false, final_bit = true, read = false, write = false;
    TaskAttr attr = TaskAttr::Simple;
    std::uint64_t lun = 0;
    std::uint32_t itt = 0, expected_data_transfer_length = 0, cmdsn = 0, expstatsn = 0;
    std::array<std::byte, 16> cdb{};
    static ScsiCommandPdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length, std::uint8_t total_ahs_length = 0) const;
};

struct TaskMgmtRequestPdu {  // RFC 3720 §10.5
    bool immediate = true;
    TmfFunction function = TmfFunction::AbortTask;
    std::uint64_t lun = 0;
    std::uint32_t itt = 0, referenced_task_tag = kReservedTag, cmdsn = 0, expstatsn = 0,
                  refcmdsn = 0, expdatasn = 0;
    static TaskMgmtRequestPdu decode(std::span<const std::byte> bhs);
    Bhs encode() const;
};

struct DataOutPdu {  // RFC 3720 §10.7
    bool final_bit = false;
    std::uint64_t lun = 0;
    std::uint32_t itt = 0, ttt = kReservedTag, expstatsn = 0, datasn = 0, buffer_offset = 0;
    static DataOutPdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct LoginRequestPdu {  // RFC 3720 §10.12
    bool transit = false, continue_bit = false;
    std::uint8_t csg = 0, nsg = 0, version_max = 0, version_min = 0;
    std::array<std::byte, 6> isid{};
    std::uint16_t tsih = 0, cid = 0;
    std::uint32_t itt = 0, cmdsn = 0, expstatsn = 0;
    static LoginRequestPdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct TextRequestPdu {  // RFC 3720 §10.10
    bool immediate = false, final_bit = true, continue_bit = false;
    std::uint64_t lun = 0;
    std::uint32_t itt = 0, ttt = kReservedTag, cmdsn = 0, expstatsn = 0;
    static TextRequestPdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct LogoutRequestPdu {  // RFC 3720 §10.14
    bool immediate = false;
    LogoutReason reason = LogoutReason::CloseSession;
    std::uint32_t itt = 0, cmdsn = 0, expstatsn = 0;
    std::uint16_t cid = 0;
    static LogoutRequestPdu decode(std::span<const std::byte> bhs);
    Bhs encode() const;
};

struct NopOutPdu {  // RFC 3720 §10.18
    bool immediate = false;
    std::uint64_t lun = 0;
    std::uint32_t itt = kReservedTag, ttt = kReservedTag, cmdsn = 0, expstatsn = 0;
    static NopOutPdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct SnackPdu {  // RFC 3720 §10.16
    std::uint8_t type = 0;
    std::uint64_t lun = 0;
    std::uint32_t itt = 0, ttt = 0, expstatsn = 0, begrun = 0, runlength = 0;
    static SnackPdu decode(std::span<const std::byte> bhs);
    Bhs encode() const;
};

// Target PDUs ----------------------------------------------------------------------------

// The three sequence numbers every target PDU carries (RFC 3720 §3.2.2).
struct TargetSn {
    std::uint32_t statsn = 0, expcmdsn = 0, maxcmdsn = 0;
};

struct ScsiResponsePdu {  // RFC 3720 §10.4
    bool bidi_overflow = false, bidi_underflow = false, overflow = false, underflow = false;
    std::uint8_t response = 0;  // 0x00 Command Completed at Target, 0x01 Target Failure
    std::uint8_t status = 0;
    std::uint32_t itt = 0, snack_tag = 0, expdatasn = 0, bidi_residual = 0, residual = 0;
    TargetSn sn;
    static ScsiResponsePdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct TaskMgmtResponsePdu {  // RFC 3720 §10.6
    TmfResponse response = TmfResponse::FunctionComplete;
    std::uint32_t itt = 0;
    TargetSn sn;
    static TaskMgmtResponsePdu decode(std::span<const std::byte> bhs);
    Bhs encode() const;
};

struct DataInPdu {  // RFC 3720 §10.7
    bool final_bit = false, acknowledge = false, overflow = false, underflow = false,
         status_present = false;
    std::uint8_t status = 0;
    std::uint64_t lun = 0;
    std::uint32_t itt = 0, ttt = kReservedTag, datasn = 0, buffer_offset = 0, residual = 0;
    TargetSn sn;  // StatSN is meaningful only with status_present
    static DataInPdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct R2TPdu {  // RFC 3720 §10.8
    std::uint64_t lun = 0;
    std::uint32_t itt = 0, ttt = 0, r2tsn = 0, buffer_offset = 0, desired_data_transfer_length = 0;
    TargetSn sn;
    static R2TPdu decode(std::span<const std::byte> bhs);
    Bhs encode() const;
};

struct AsyncMessagePdu {  // RFC 3720 §10.9
    std::uint64_t lun = 0;
    AsyncEvent event = AsyncEvent::ScsiAsyncEvent;
    std::uint8_t vcode = 0;
    std::uint16_t parameter1 = 0, parameter2 = 0, parameter3 = 0;
    TargetSn sn;
    static AsyncMessagePdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct TextResponsePdu {  // RFC 3720 §10.11
    bool final_bit = true, continue_bit = false;
    std::uint64_t lun = 0;
    std::uint32_t itt = 0, ttt = kReservedTag;
    TargetSn sn;
    static TextResponsePdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct LoginResponsePdu {  // RFC 3720 §10.13
    bool transit = false, continue_bit = false;
    std::uint8_t csg = 0, nsg = 0, version_max = 0, version_active = 0;
    std::array<std::byte, 6> isid{};
    std::uint16_t tsih = 0;
    std::uint32_t itt = 0;
    TargetSn sn;
    std::uint8_t status_class = 0, status_detail = 0;
    static LoginResponsePdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct LogoutResponsePdu {  // RFC 3720 §10.15
    LogoutResponseCode response = LogoutResponseCode::Success;
    std::uint32_t itt = 0;
    TargetSn sn;
    std::uint16_t time2wait = 0, time2retain = 0;
    static LogoutResponsePdu decode(std::span<const std::byte> bhs);
    Bhs encode() const;
};

struct NopInPdu {  // RFC 3720 §10.19
    std::uint64_t lun = 0;
    std::uint32_t itt = kReservedTag, ttt = kReservedTag;
    TargetSn sn;
    static NopInPdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;
};

struct RejectPdu {  // RFC 3720 §10.17
    RejectReason reason = RejectReason::ProtocolError;
    std::uint32_t datasn_r2tsn = 0;
    TargetSn sn;
    static RejectPdu decode(std::span<const std::byte> bhs);
    Bhs encode(std::uint32_t data_segment_length) const;  // data: the rejected PDU's header
};

// Login stages, RFC 3720 §10.12.3
enum class Stage : std::uint8_t { SecurityNegotiation = 0, LoginOperationalNegotiation = 1, FullFeaturePhase = 3 };

// RFC 3720 §10.13.5 status classes and details.
namespace login_status {
inline constexpr std::uint16_t Success = 0x0000;
inline constexpr std::uint16_t TargetMovedTemporarily = 0x0101;
inline constexpr std::uint16_t TargetMovedPermanently = 0x0102;
inline constexpr std::uint16_t InitiatorError = 0x0200;
inline constexpr std::uint16_t AuthenticationFailure = 0x0201;
inline constexpr std::uint16_t AuthorizationFailure = 0x0202;
inline constexpr std::uint16_t NotFound = 0x0203;
inline constexpr std::uint16_t TargetRemoved = 0x0204;
inline constexpr std::uint16_t UnsupportedVersion = 0x0205;
inline constexpr std::uint16_t TooManyConnections = 0x0206;
inline constexpr std::uint16_t MissingParameter = 0x0207;
inline constexpr std::uint16_t CantIncludeInSession = 0x0208;
inline constexpr std::uint16_t SessionTypeNotSupported = 0x0209;
inline constexpr std::uint16_t SessionDoesNotExist = 0x020a;
inline constexpr std::uint16_t InvalidDuringLogin = 0x020b;
inline constexpr std::uint16_t TargetError = 0x0300;
inline constexpr std::uint16_t ServiceUnavailable = 0x0301;
inline constexpr std::uint16_t OutOfResources = 0x0302;
}  // namespace login_status

// A PDU as it travels: the BHS, the additional header segments and the data segment
// (without padding or digests; the framer adds and checks those).
struct Pdu {
    Bhs bhs{};
    Bytes ahs;
    Bytes data;
    // Set when the framer put the data segment straight into a buffer its owner named
    // after the header (PduReader::set_placer): data is then empty, the segment is
    // DataSegmentLength bytes at the place named, and `placed` keeps that buffer alive.
    bool data_placed = false;
    BufferPtr placed;
    // Set when the framer read the data segment off the stream and dropped it, as the
    // placer said (SegmentFate::discard): data is empty and nothing may use the segment.
    bool data_discarded = false;
    std::uint32_t data_length() const {
        return data_placed || data_discarded ? view().data_segment_length() : static_cast<std::uint32_t>(data.size());
    }
    BhsView view() const { return BhsView{bhs}; }
    Opcode opcode() const { return static_cast<Opcode>(view().opcode_raw()); }
};

// Serial number arithmetic, RFC 1982 with SERIAL_BITS = 32 (RFC 3720 §3.2.2.1).
inline bool sn_lt(std::uint32_t a, std::uint32_t b) {
    return a != b && static_cast<std::int32_t>(a - b) < 0;
}
inline bool sn_gt(std::uint32_t a, std::uint32_t b) { return sn_lt(b, a); }
inline bool sn_le(std::uint32_t a, std::uint32_t b) { return a == b || sn_lt(a, b); }

}  // namespace iscsilab::iscsi
