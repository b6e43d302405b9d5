#include "target/scsi/sense.hpp"

#include <algorithm>

#include "target/bytes.hpp"

namespace iscsilab::scsi {

namespace {
// SPC-4 §4.5.1: the ADDITIONAL SENSE LENGTH byte allows at most 252 bytes in all.
constexpr std::size_t kMaxSenseLength = 252;
}  // namespace

Bytes encode_sense(const Sense& s, bool descriptor) {
    if (!descriptor) {
        Bytes b(18);
        st8(b, 0, static_cast<std::uint8_t>(0x70 | (s.information ? 0x80 : 0)));  // VALID bit
        st8(b, 2, static_cast<std::uint8_t>(s.key));
        if (s.information) st32(b, 3, static_cast<std::uint32_t>(*s.information));
        st8(b, 7, 10);  // additional sense length
        st8(b, 12, s.code.asc);
        st8(b, 13, s.code.ascq);
        if (s.command_specific_information) st32(b, 8, *s.command_specific_information);
        if (s.field_pointer) {
            std::uint8_t sks = 0x80 | (s.field_in_cdb ? 0x40 : 0) | (s.segment_descriptor ? 0x20 : 0);
            if (s.bit_pointer) sks |= 0x08 | (*s.bit_pointer & 0x07);
            st8(b, 15, sks);
            st16(b, 16, *s.field_pointer);
        }
        if (s.forwarded) {
            // SPC-4 §6.4 (SPC-3 §6.3.3): the failed command's status byte, then its sense data.
            b.push_back(static_cast<std::byte>(s.forwarded->status));
            const std::size_t room = kMaxSenseLength - b.size();
            const std::size_t n = std::min(room, s.forwarded->sense.size());
            b.insert(b.end(), s.forwarded->sense.begin(), s.forwarded->sense.begin() + static_cast<std::ptrdiff_t>(n));
            st8(b, 7, static_cast<std::uint8_t>(b.size() - 8));
        }
        return b;
    }
    Bytes b(8);
    st8(b, 0, 0x72);
    st8(b, 1, static_cast<std::uint8_t>(s.key));
    st8(b, 2, s.code.asc);
    st8(b, 3, s.code.ascq);
    if (s.information) {  // information descriptor, SPC-4 §4.5.2.2
        Bytes d(12);
        st8(d, 0, 0x00);
        st8(d, 1, 0x0a);
        st8(d, 2, 0x80);
        st64(d, 4, *s.information);
        b.insert(b.end(), d.begin(), d.end());
    }
    if (s.command_specific_information) {  // command-specific information descriptor
        Bytes d(12);
        st8(d, 0, 0x01);
        st8(d, 1, 0x0a);
        st32(d, 4, *s.command_specific_information);
        b.insert(b.end(), d.begin(), d.end());
    }
    if (s.field_pointer) {  // sense key specific descriptor, SPC-4 §4.5.2.3
        Bytes d(8);
        st8(d, 0, 0x02);
        st8(d, 1, 0x06);
        std::uint8_t sks = 0x80 | (s.field_in_cdb ? 0x40 : 0) | (s.segment_descriptor ? 0x20 : 0);
        if (s.bit_pointer) sks |= 0x08 | (*s.bit_pointer & 0x07);
        st8(d, 4, sks);
        st16(d, 5, *s.field_pointer);
        b.insert(b.end(), d.begin(), d.end());
    }
    if (s.forwarded && b.size() + 4 <= kMaxSenseLength) {  // forwarded sense data descriptor
        const std::size_t room = kMaxSenseLength - b.size() - 4;
        const std::size_t n = std::min(room, s.forwarded->sense.size());
        Bytes d(4);
        st8(d, 0, 0x0c);
        st8(d, 1, static_cast<std::uint8_t>(2 + n));
        // FSDT: the forwarded sense data was truncated.
        st8(d, 2, static_cast<std::uint8_t>((n < s.forwarded->sense.size() ? 0x80 : 0) | (s.forwarded->source & 0x0f)));
        st8(d, 3, static_cast<std::uint8_t>(s.forwarded->status));
        d.insert(d.end(), s.forwarded->sense.begin(), s.forwarded->sense.begin() + static_cast<std::ptrdiff_t>(n));
        b.insert(b.end(), d.begin(), d.end());
    }
    st8(b, 7, static_cast<std::uint8_t>(b.size() - 8));
    return b;
}

std::optional<Sense> decode_sense(std::span<const std::byte> b) {
    if (b.size() < 8) return std::nullopt;
    Sense s;
    std::uint8_t rc = ld8(b, 0) & 0x7f;
    if (rc == 0x70 || rc == 0x71) {
        if (b.size() < 14) return std::nullopt;
        s.key = static_cast<SenseKey>(ld8(b, 2) & 0x0f);
        s.code = {ld8(b, 12), ld8(b, 13)};
        if (ld8(b, 0) & 0x80) s.information = ld32(b, 3);
        if (b.size() >= 18 && (ld8(b, 15) & 0x80)) s.field_pointer = ld16(b, 16);
        return s;
    }
    if (rc == 0x72 || rc == 0x73) {
        s.key = static_cast<SenseKey>(ld8(b, 1) & 0x0f);
        s.code = {ld8(b, 2), ld8(b, 3)};
        return s;
    }
    return std::nullopt;
}

const char* to_string(SenseKey k) {
    switch (k) {
        case SenseKey::NoSense: return "NO SENSE";
        case SenseKey::RecoveredError: return "RECOVERED ERROR";
        case SenseKey::NotReady: return "NOT READY";
        case SenseKey::MediumError: return "MEDIUM ERROR";
        case SenseKey::HardwareError: return "HARDWARE ERROR";
        case SenseKey::IllegalRequest: return "ILLEGAL REQUEST";
        case SenseKey::UnitAttention: return "UNIT ATTENTION";
        case SenseKey::DataProtect: return "DATA PROTECT";
        case SenseKey::BlankCheck: return "BLANK CHECK";
        case SenseKey::CopyAborted: return "COPY ABORTED";
        case SenseKey::AbortedCommand: return "ABORTED COMMAND";
        case SenseKey::Miscompare: return "MISCOMPARE";
    }
    return "?";
}

}  // namespace iscsilab::scsi
