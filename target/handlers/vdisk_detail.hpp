// What the vdisk files share and nothing else needs: the opcode table lookup and the
// small predicates every vdisk command family uses.
#pragma once

#include <cstdint>
#include <string_view>

#include "target/scsi/command.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::handlers {

// The SCSI names every vdisk file speaks in (this header is private to them).
using scsi::Asc;
using scsi::Command;
using scsi::Sense;
using scsi::SenseKey;
using scsi::Status;
namespace op = scsi::op;
namespace asc = scsi::asc;

}  // namespace iscsilab::handlers

namespace iscsilab::handlers::detail {

// The vdisk's entry for cmd's operation code (and service action), or null.
const scsi::OpcodeInfo* lookup(const scsi::Command& cmd);

inline bool is_read(std::uint8_t o) {
    namespace op = scsi::op;
    return o == op::Read6 || o == op::Read10 || o == op::Read12 || o == op::Read16;
}
inline bool is_write(std::uint8_t o) {
    namespace op = scsi::op;
    return o == op::Write6 || o == op::Write10 || o == op::Write12 || o == op::Write16;
}
inline bool is_write_verify(std::uint8_t o) {
    namespace op = scsi::op;
    return o == op::WriteAndVerify10 || o == op::WriteAndVerify12 || o == op::WriteAndVerify16;
}
inline bool is_verify(std::uint8_t o) {
    namespace op = scsi::op;
    return o == op::Verify10 || o == op::Verify12 || o == op::Verify16;
}

// Space-padded ASCII field (SPC-4 §4.4.1).
void pad_ascii(Bytes& out, std::size_t off, std::size_t len, std::string_view s);

// The limits the Block Limits VPD page reports (SBC-3 §6.5.3) and the commands enforce,
// from one place.
//
// MAXIMUM COMPARE AND WRITE LENGTH: the NUMBER OF LOGICAL BLOCKS field holds no more.
inline constexpr std::uint32_t kMaxCompareAndWriteBlocks = 255;
// MAXIMUM WRITE SAME LENGTH: one WRITE SAME does no more store work than one WRITE may.
inline std::uint64_t max_write_same_blocks(std::uint32_t bs) { return scsi::kMaxTransferBytes / bs; }
// MAXIMUM UNMAP LBA COUNT: 256 MiB per UNMAP, as SCST's vdisk_fileio.
inline std::uint32_t max_unmap_lba_count(std::uint32_t bs) { return (256u << 20) / bs; }
// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT: each descriptor costs one store request.
inline constexpr std::uint32_t kMaxUnmapDescriptors = 256;
// OPTIMAL UNMAP GRANULARITY: a file system deallocates whole 4 KiB blocks; an unmap of
// less only writes zeros.
inline std::uint32_t optimal_unmap_granularity(std::uint32_t bs) { return bs >= 4096 ? 1 : 4096 / bs; }
// GET LBA STATUS answers at most this many LBA status descriptors.
inline constexpr std::size_t kMaxLbaStatusDescriptors = 64;

}  // namespace iscsilab::handlers::detail
