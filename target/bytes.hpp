// Big-endian field access over byte spans: the byte order of every iSCSI and SCSI field
// (shared by target/iscsi, target/scsi and the handlers, so it belongs to neither).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace iscsilab {

inline std::uint8_t ld8(std::span<const std::byte> b, std::size_t off) {
    return static_cast<std::uint8_t>(b[off]);
}
inline std::uint16_t ld16(std::span<const std::byte> b, std::size_t off) {
    return static_cast<std::uint16_t>((ld8(b, off) << 8) | ld8(b, off + 1));
}
inline std::uint32_t ld24(std::span<const std::byte> b, std::size_t off) {
    return (std::uint32_t{ld8(b, off)} << 16) | (std::uint32_t{ld8(b, off + 1)} << 8) |
           ld8(b, off + 2);
}
inline std::uint32_t ld32(std::span<const std::byte> b, std::size_t off) {
    return (std::uint32_t{ld16(b, off)} << 16) | ld16(b, off + 2);
}
inline std::uint64_t ld64(std::span<const std::byte> b, std::size_t off) {
    return (std::uint64_t{ld32(b, off)} << 32) | ld32(b, off + 4);
}
inline void st8(std::span<std::byte> b, std::size_t off, std::uint8_t v) {
    b[off] = static_cast<std::byte>(v);
}
inline void st16(std::span<std::byte> b, std::size_t off, std::uint16_t v) {
    st8(b, off, static_cast<std::uint8_t>(v >> 8));
    st8(b, off + 1, static_cast<std::uint8_t>(v));
}
inline void st24(std::span<std::byte> b, std::size_t off, std::uint32_t v) {
    st8(b, off, static_cast<std::uint8_t>(v >> 16));
    st16(b, off + 1, static_cast<std::uint16_t>(v));
}
inline void st32(std::span<std::byte> b, std::size_t off, std::uint32_t v) {
    st16(b, off, static_cast<std::uint16_t>(v >> 16));
    st16(b, off + 2, static_cast<std::uint16_t>(v));
}
inline void st64(std::span<std::byte> b, std::size_t off, std::uint64_t v) {
    st32(b, off, static_cast<std::uint32_t>(v >> 32));
    st32(b, off + 4, static_cast<std::uint32_t>(v));
}

}  // namespace iscsilab
