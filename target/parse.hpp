// Numbers in configuration and key=value text: decimal, or hex with 0x (RFC 3720 §5.1
// numerical values; SCST attributes). Shared by target/iscsi and the handlers.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace iscsilab {

inline std::optional<std::uint32_t> parse_u32(std::string_view v) {
    std::uint64_t n = 0;
    int base = 10;
    if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        v.remove_prefix(2);
        base = 16;
    }
    if (v.empty()) return std::nullopt;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n, base);
    if (ec != std::errc{} || p != v.data() + v.size() || n > 0xffffffffULL) return std::nullopt;
    return static_cast<std::uint32_t>(n);
}

}  // namespace iscsilab
