#include "target/scsi/spc.hpp"

#include <algorithm>

#include "target/bytes.hpp"

namespace iscsilab::scsi {

std::size_t cdb_length(std::uint8_t opcode) {
    switch (opcode >> 5) {
        case 0: return 6;
        case 1:
        case 2: return 10;
        case 4: return 16;
        case 5: return 12;
        default: return 0;
    }
}

void return_data(Command& cmd, std::span<const std::byte> src, std::uint32_t allocation_length) {
    std::size_t n = std::min<std::size_t>(src.size(), allocation_length);
    cmd.data_in = BufferPool::instance().copy_of(src.first(n));
    cmd.spdtl = n;
    cmd.status = Status::Good;
}

Sense invalid_field_in_cdb(std::uint16_t byte, std::optional<std::uint8_t> bit) {
    Sense s{SenseKey::IllegalRequest, asc::InvalidFieldInCdb};
    s.field_pointer = byte;
    s.field_in_cdb = true;
    s.bit_pointer = bit;
    return s;
}

namespace {
// A nominal and recommended timeout of 30 s for everything: we have no slower command.
void append_timeouts(Bytes& out) {
    Bytes t(12);
    st16(t, 0, 0x0a);
    st32(t, 4, 30);
    st32(t, 8, 30);
    out.insert(out.end(), t.begin(), t.end());
}
}  // namespace

void report_supported_operation_codes(Command& cmd, std::span<const OpcodeInfo> table,
                                      bool dsense) {
    auto cdb = cmd.cdb_bytes();
    const bool rctd = ld8(cdb, 2) & 0x80;
    const std::uint8_t options = ld8(cdb, 2) & 0x07;
    const std::uint8_t req_op = ld8(cdb, 3);
    const std::uint16_t req_sa = ld16(cdb, 4);
    const std::uint32_t alloc = ld32(cdb, 6);

    if (options == 0) {
        Bytes out(4);
        for (const auto& e : table) {
            Bytes d(8);
            st8(d, 0, e.opcode);
            if (e.service_action) st16(d, 2, *e.service_action);
            st8(d, 5, static_cast<std::uint8_t>((rctd ? 0x02 : 0) | (e.service_action ? 0x01 : 0)));
            st16(d, 6, static_cast<std::uint16_t>(e.usage.size()));
            out.insert(out.end(), d.begin(), d.end());
            if (rctd) append_timeouts(out);
        }
        st32(out, 0, static_cast<std::uint32_t>(out.size() - 4));
        return_data(cmd, out, alloc);
        return;
    }
    if (options > 3) {
        cmd.fail(invalid_field_in_cdb(2, 0), dsense);
        return;
    }
    // One command: 001b opcode without service action, 010b opcode + service action,
    // 011b either (SPC-4 §6.35.2).
    const OpcodeInfo* found = nullptr;
    bool opcode_has_sa = false;
    for (const auto& e : table) {
        if (e.opcode != req_op) continue;
        opcode_has_sa = e.service_action.has_value();
        if (!e.service_action || *e.service_action == req_sa) {
            found = &e;
            break;
        }
    }
    if ((options == 1 && opcode_has_sa) || (options == 2 && !opcode_has_sa && found)) {
        cmd.fail(invalid_field_in_cdb(2, 0), dsense);
        return;
    }
    if (options == 2 && !opcode_has_sa) found = nullptr;
    Bytes out(4);
    if (!found) {
        st8(out, 1, 0x01);  // SUPPORT 001b: not supported
    } else {
        st8(out, 1, static_cast<std::uint8_t>((rctd ? 0x80 : 0) | 0x03));  // 011b: supported
        st16(out, 2, static_cast<std::uint16_t>(found->usage.size()));
        for (auto u : found->usage) out.push_back(static_cast<std::byte>(u));
        if (rctd) append_timeouts(out);
    }
    return_data(cmd, out, alloc);
}

Bytes report_luns_data(std::span<const std::uint32_t> luns) {
    Bytes out(8 + 8 * luns.size());
    st32(out, 0, static_cast<std::uint32_t>(8 * luns.size()));
    for (std::size_t i = 0; i < luns.size(); ++i) st64(out, 8 + 8 * i, encode_lun(luns[i]));
    return out;
}

Bytes inquiry_no_lun() {
    Bytes out(36);
    st8(out, 0, 0x7f);  // qualifier 011b, type 0x1f: no device can be attached here
    st8(out, 2, 0x06);
    st8(out, 3, 0x02);
    st8(out, 4, 31);
    return out;
}

}  // namespace iscsilab::scsi
