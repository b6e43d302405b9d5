// CRC32C (Castagnoli), the iSCSI header and data digest (RFC 3720 §12.1, appendix B.4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace iscsilab::iscsi {

// Continue a CRC over more bytes. Start with crc = 0; the result is the digest value
// as it travels on the wire in little-endian byte order (RFC 3720 §B.4).
std::uint32_t crc32c(std::span<const std::byte> bytes, std::uint32_t crc = 0);

// The portable table implementation, exposed so tests can hold the SSE4.2 path to it.
std::uint32_t crc32c_table(std::span<const std::byte> bytes, std::uint32_t crc = 0);

bool crc32c_has_hardware();

}  // namespace iscsilab::iscsi
