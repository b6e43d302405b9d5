// What the vdisk files share and nothing else needs: the opcode table lookup and the
// small predicates every vdisk command family uses.
#pragma once

#include <cstdint>
#include <string_view>

#include "target/scsi/command.hpp"
#include "target/scsi/spc.hpp"

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

}  // namespace iscsilab::handlers::detail
