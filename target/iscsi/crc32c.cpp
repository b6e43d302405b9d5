#include "target/iscsi/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace iscsilab::iscsi {
namespace {

constexpr std::uint32_t kPolyReflected = 0x82F63B78u;

constexpr std::array<std::uint32_t, 256> make_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolyReflected : (c >> 1);
        t[i] = c;
    }
    return t;
}
constexpr auto kTable = make_table();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::span<const std::byte> b,
                                                             std::uint32_t crc) {
    std::uint64_t c = ~crc;
    const std::byte* p = b.data();
    std::size_t n = b.size();
    while (n >= 8) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    auto c32 = static_cast<std::uint32_t>(c);
    while (n--) c32 = _mm_crc32_u8(c32, static_cast<std::uint8_t>(*p++));
    return ~c32;
}
#endif

bool detect_hardware() {
#if defined(__x86_64__)
    return __builtin_cpu_supports("sse4.2");
#else
    return false;
#endif
}

const bool kHardware = detect_hardware();

}  // namespace

std::uint32_t crc32c_table(std::span<const std::byte> bytes, std::uint32_t crc) {
    std::uint32_t c = ~crc;
    for (std::byte b : bytes) c = kTable[(c ^ static_cast<std::uint8_t>(b)) & 0xff] ^ (c >> 8);
    return ~c;
}

bool crc32c_has_hardware() { return kHardware; }

std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t crc) {
#if defined(__x86_64__)
    if (kHardware) return crc32c_sse42(bytes, crc);
#endif
    return crc32c_table(bytes, crc);
}

}  // namespace iscsilab::iscsi
