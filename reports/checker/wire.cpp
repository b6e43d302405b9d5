#include "reports/checker/wire.hpp"

#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace iscsilab::checker {

bool is_initiator_opcode(std::uint8_t o) {
    switch (o) {
        case op::NOP_OUT: case op::SCSI_CMD: case op::TASK_MGT_REQ: case op::LOGIN_REQ:
        case op::TEXT_REQ: case op::SCSI_DATA_OUT: case op::LOGOUT_REQ: case op::SNACK:
            return true;
        default:
            // RFC 3720 §10.2.1.2: 0x1c-0x1e are vendor specific initiator codes.
            return o >= 0x1c && o <= 0x1e;
    }
}

bool is_target_opcode(std::uint8_t o) {
    switch (o) {
        case op::NOP_IN: case op::SCSI_RSP: case op::TASK_MGT_RSP: case op::LOGIN_RSP:
        case op::TEXT_RSP: case op::SCSI_DATA_IN: case op::LOGOUT_RSP: case op::R2T:
        case op::ASYNC_MSG: case op::REJECT:
            return true;
        default:
            // RFC 3720 §10.2.1.2: 0x3c-0x3e are vendor specific target codes.
            return o >= 0x3c && o <= 0x3e;
    }
}

const char* opcode_name(std::uint8_t o) {
    switch (o) {
        case op::NOP_OUT: return "NOP-Out";
        case op::SCSI_CMD: return "SCSI Command";
        case op::TASK_MGT_REQ: return "Task Management Request";
        case op::LOGIN_REQ: return "Login Request";
        case op::TEXT_REQ: return "Text Request";
        case op::SCSI_DATA_OUT: return "SCSI Data-Out";
        case op::LOGOUT_REQ: return "Logout Request";
        case op::SNACK: return "SNACK Request";
        case op::NOP_IN: return "NOP-In";
        case op::SCSI_RSP: return "SCSI Response";
        case op::TASK_MGT_RSP: return "Task Management Response";
        case op::LOGIN_RSP: return "Login Response";
        case op::TEXT_RSP: return "Text Response";
        case op::SCSI_DATA_IN: return "SCSI Data-In";
        case op::LOGOUT_RSP: return "Logout Response";
        case op::R2T: return "R2T";
        case op::ASYNC_MSG: return "Asynchronous Message";
        case op::REJECT: return "Reject";
        default: return "unknown opcode";
    }
}

namespace {

struct Table {
    std::uint32_t t[8][256];
    Table() {
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
            t[0][i] = c;
        }
        for (std::uint32_t i = 0; i < 256; ++i)
            for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};
const Table& table() {
    static const Table tb;
    return tb;
}

std::uint32_t crc_soft(const unsigned char* p, std::size_t n, std::uint32_t c) {
    const auto& t = table().t;
    while (n >= 8) {
        std::uint32_t lo, hi;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + 4, 4);
        lo ^= c;
        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
            t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xff];
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc_hw(const unsigned char* p, std::size_t n, std::uint32_t c) {
    std::uint64_t c64 = c;
    while (n >= 8) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        n -= 8;
    }
    c = static_cast<std::uint32_t>(c64);
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}
bool have_sse42() {
    static const bool yes = __builtin_cpu_supports("sse4.2");
    return yes;
}
#endif

}  // namespace

std::uint32_t crc32c(std::span<const std::byte> b, std::uint32_t crc) {
    const auto* p = reinterpret_cast<const unsigned char*>(b.data());
    std::uint32_t c = ~crc;
#if defined(__x86_64__)
    if (have_sse42()) return ~crc_hw(p, b.size(), c);
#endif
    return ~crc_soft(p, b.size(), c);
}

// RFC 3720 §5.1: key=value, each pair followed by a NUL; the key is letters, digits,
// '.', '-', '+', '@', '_' (§5.1 "key-name"), at most 63 bytes.
TextKeys parse_text_keys(std::span<const std::byte> data) {
    TextKeys out;
    std::size_t at = 0;
    while (at < data.size()) {
        std::size_t end = at;
        while (end < data.size() && data[end] != std::byte{0}) ++end;
        if (end == data.size()) {
            out.well_formed = false;
            out.problem = "last key=value pair is not NUL-terminated";
            break;
        }
        std::string_view item(reinterpret_cast<const char*>(data.data()) + at, end - at);
        at = end + 1;
        if (item.empty()) continue;  // padding NULs a sender may leave
        const auto eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            out.well_formed = false;
            out.problem = "item '" + std::string(item.substr(0, 64)) + "' is not key=value";
            continue;
        }
        out.items.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    }
    return out;
}

}  // namespace iscsilab::checker
