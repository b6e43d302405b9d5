// The wire checker's own view of iSCSI PDUs (RFC 3720 §10). It shares nothing with the
// target's codec (target/iscsi/pdu.*): a field the target encodes wrongly and decodes
// the same wrong way still shows here. Only bytes in, plain values out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iscsilab::checker {

inline constexpr std::size_t BHS_LENGTH = 48;
inline constexpr std::uint32_t RESERVED_TAG = 0xffffffffu;  // RFC 3720 §10.2.1.8

// RFC 3720 §10.2.1.2, named as the RFC names them.
namespace op {
inline constexpr std::uint8_t NOP_OUT = 0x00, SCSI_CMD = 0x01, TASK_MGT_REQ = 0x02, LOGIN_REQ = 0x03,
                              TEXT_REQ = 0x04, SCSI_DATA_OUT = 0x05, LOGOUT_REQ = 0x06, SNACK = 0x10;
inline constexpr std::uint8_t NOP_IN = 0x20, SCSI_RSP = 0x21, TASK_MGT_RSP = 0x22, LOGIN_RSP = 0x23,
                              TEXT_RSP = 0x24, SCSI_DATA_IN = 0x25, LOGOUT_RSP = 0x26, R2T = 0x31,
                              ASYNC_MSG = 0x32, REJECT = 0x3f;
}  // namespace op

bool is_initiator_opcode(std::uint8_t opcode);
bool is_target_opcode(std::uint8_t opcode);
const char* opcode_name(std::uint8_t opcode);

// Big-endian reads over a span; the caller has checked the length.
inline std::uint32_t be32(std::span<const std::byte> b, std::size_t at) {
    return (std::to_integer<std::uint32_t>(b[at]) << 24) | (std::to_integer<std::uint32_t>(b[at + 1]) << 16) |
           (std::to_integer<std::uint32_t>(b[at + 2]) << 8) | std::to_integer<std::uint32_t>(b[at + 3]);
}
inline std::uint32_t be24(std::span<const std::byte> b, std::size_t at) {
    return (std::to_integer<std::uint32_t>(b[at]) << 16) | (std::to_integer<std::uint32_t>(b[at + 1]) << 8) |
           std::to_integer<std::uint32_t>(b[at + 2]);
}
inline std::uint16_t be16(std::span<const std::byte> b, std::size_t at) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[at]) << 8) | std::to_integer<unsigned>(b[at + 1]));
}
inline std::uint8_t u8(std::span<const std::byte> b, std::size_t at) { return std::to_integer<std::uint8_t>(b[at]); }

// One PDU as it crossed the wire. Field names follow RFC 3720 §10; a field means what
// the opcode's section says (e.g. `cmdsn` is ExpCmdSN-position bytes 24..27 in a
// target PDU is `statsn`). Views point into the framer's buffer, valid during the call.
struct Pdu {
    std::array<std::byte, BHS_LENGTH> bhs{};
    std::uint8_t opcode = 0;
    bool immediate = false;       // I bit (initiator PDUs)
    std::uint8_t flags = 0;       // byte 1
    std::uint8_t total_ahs_length = 0;  // in 4-byte words
    std::uint32_t data_segment_length = 0;
    std::uint64_t lun = 0;        // bytes 8..15 (ISID + TSIH in login PDUs)
    std::uint32_t itt = 0;        // bytes 16..19
    std::uint32_t f20 = 0, f24 = 0, f28 = 0, f32 = 0, f36 = 0, f40 = 0, f44 = 0;  // bytes 20..47
    std::span<const std::byte> ahs, data;   // data without padding
    std::size_t padding = 0;
    bool header_digest = false, data_digest = false;
    bool header_digest_ok = true, data_digest_ok = true;
    bool pad_zero = true;
    std::size_t wire_length = 0;  // BHS + AHS + digests + data + padding

    bool final_bit() const { return flags & 0x80; }
    // Field names by position, as RFC 3720 §10 lays them out for each family.
    std::uint32_t ttt() const { return f20; }
    std::uint32_t cmdsn() const { return f24; }       // initiator PDUs
    std::uint32_t expstatsn() const { return f28; }   // initiator PDUs
    std::uint32_t statsn() const { return f24; }      // target PDUs
    std::uint32_t expcmdsn() const { return f28; }    // target PDUs
    std::uint32_t maxcmdsn() const { return f32; }    // target PDUs
    std::uint32_t edtl() const { return f20; }        // SCSI Command
    std::uint32_t datasn() const { return f36; }      // Data-In / Data-Out
    std::uint32_t r2tsn() const { return f36; }       // R2T
    std::uint32_t buffer_offset() const { return f40; }
    std::uint32_t residual() const { return f44; }    // SCSI Response, Data-In
    std::uint32_t desired_length() const { return f44; }  // R2T
};

// RFC 1982 serial number arithmetic over 32 bits (RFC 3720 §3.2.2.1 for CmdSN etc.).
struct Serial {
    std::uint32_t v = 0;
    friend bool operator==(Serial a, Serial b) { return a.v == b.v; }
    friend bool operator<(Serial a, Serial b) {
        return a.v != b.v && ((a.v < b.v && b.v - a.v < 0x80000000u) || (a.v > b.v && a.v - b.v > 0x80000000u));
    }
    friend bool operator>(Serial a, Serial b) { return b < a; }
    friend bool operator<=(Serial a, Serial b) { return !(b < a); }
    friend bool operator>=(Serial a, Serial b) { return !(a < b); }
};

// CRC32C (Castagnoli, RFC 3720 §12.1 and Appendix B.4), the checker's own.
std::uint32_t crc32c(std::span<const std::byte> b, std::uint32_t crc = 0);

// key=value pairs of a Login or Text data segment (RFC 3720 §5.1), in order.
struct TextKeys {
    std::vector<std::pair<std::string, std::string>> items;
    bool well_formed = true;      // every item key=value and NUL-terminated
    std::string problem;
};
TextKeys parse_text_keys(std::span<const std::byte> data);

}  // namespace iscsilab::checker
