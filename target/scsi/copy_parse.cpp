// EXTENDED COPY(LID1) parameter list and descriptor parsing and validation, with their sense data.
#include "target/scsi/copy_manager.hpp"

#include <algorithm>
#include <utility>

#include "target/bytes.hpp"
#include "target/scsi/copy_detail.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

using namespace copy_limits;
using namespace detail;

namespace {

// SPC-4 §6.4.3: the parameter list header before the CSCD descriptors.
constexpr std::size_t kHeaderLength = 16;

constexpr std::uint16_t kBlockToBlockDescriptorLength = kSegmentDescriptorLength - 4;  // 0018h
constexpr std::size_t kMaxDesignatorLength = 20;  // bytes 8-27 of an E4h descriptor

Sense parameter_list_length_error() { return Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError}; }

}  // namespace

namespace detail {

Sense parameter_error(Asc a, std::optional<std::uint16_t> byte, std::optional<std::uint8_t> bit) {
    Sense s{SenseKey::IllegalRequest, a};
    s.field_pointer = byte;
    s.field_in_cdb = false;
    if (byte) s.bit_pointer = bit;
    return s;
}

// The first nonzero byte among a CDB's reserved bytes.
std::optional<std::uint16_t> reserved_cdb_byte(std::span<const std::byte> cdb, std::initializer_list<std::uint16_t> bytes) {
    for (std::uint16_t i : bytes)
        if (ld8(cdb, i) != 0) return i;
    return std::nullopt;
}

// SPC-4 §6.4.3: the EXTENDED COPY(LID1) parameter list, checked as a whole before any
// segment descriptor is processed (errors here are ILLEGAL REQUEST, never COPY ABORTED).
// Every length the list claims is checked against the bytes that arrived.
std::optional<Sense> parse_parameter_list(std::span<const std::byte> p, ParameterList& out) {
    if (p.size() < kHeaderLength) return parameter_list_length_error();
    out.list_identifier = ld8(p, 0);
    const std::uint8_t flags = ld8(p, 1);
    out.str = flags & 0x20;
    out.list_id_usage = static_cast<ListIdUsage>((flags >> 3) & 0x03);
    out.priority = flags & 0x07;
    const std::uint32_t cscd_list_length = ld16(p, 2);
    const std::uint32_t segment_list_length = ld32(p, 8);
    const std::uint32_t inline_data_length = ld32(p, 12);

    switch (out.list_id_usage) {
        case ListIdUsage::Hold:
        case ListIdUsage::Discard:
            break;
        case ListIdUsage::Reserved:
            return parameter_error(asc::InvalidFieldInParameterList, 1, 4);
        case ListIdUsage::None:
            // SPC-4 §6.4.3: with LIST ID USAGE 11b the LIST IDENTIFIER shall be zero.
            if (out.list_identifier != 0) return parameter_error(asc::InvalidFieldInParameterList, 0);
            break;
    }
    // SPC-4 §6.4.3.4 / §6.4.3.5: the descriptor lists together may not exceed the MAXIMUM
    // DESCRIPTOR LIST LENGTH reported in the operating parameters.
    if (std::uint64_t{cscd_list_length} + segment_list_length > kMaxDescriptorListLength)
        return parameter_list_length_error();
    if (inline_data_length > kMaxInlineDataLength)
        return parameter_error(asc::InlineDataLengthExceeded, 12);
    // The lists the header announces must have arrived (parameter list truncated).
    const std::uint64_t needed = kHeaderLength + std::uint64_t{cscd_list_length} + segment_list_length + inline_data_length;
    if (needed > p.size()) return parameter_list_length_error();

    // SPC-4 §6.4.3.4: CSCD descriptors.
    const std::size_t cscd_end = kHeaderLength + cscd_list_length;
    const std::size_t cscd_count = (cscd_list_length + kTargetDescriptorLength - 1) / kTargetDescriptorLength;
    if (cscd_count > kMaxTargetDescriptors) return parameter_error(asc::TooManyTargetDescriptors, 2);
    for (std::size_t off = kHeaderLength; off < cscd_end; off += kTargetDescriptorLength) {
        const auto field = static_cast<std::uint16_t>(off);
        if (ld8(p, off) != kIdentificationCscd) return parameter_error(asc::UnsupportedTargetDescriptorTypeCode, field);
        // A descriptor cut short by the CSCD DESCRIPTOR LIST LENGTH.
        if (off + kTargetDescriptorLength > cscd_end) return parameter_error(asc::InvalidFieldInParameterList, 2);
        Cscd c;
        c.offset = field;
        // Byte 1: LU ID TYPE (bits 7-6) is ignored, as SPC-4 lets it be (libiscsi's
        // ValidTgtDescr expects GOOD for a reserved value); NUL; PERIPHERAL DEVICE TYPE.
        c.nul = ld8(p, off + 1) & 0x20;
        c.peripheral_device_type = ld8(p, off + 1) & 0x1f;
        c.designator.code_set = ld8(p, off + 4) & 0x0f;
        c.designator.association = (ld8(p, off + 5) >> 4) & 0x03;
        c.designator.designator_type = ld8(p, off + 5) & 0x0f;
        const std::size_t len = ld8(p, off + 7);
        if (len > kMaxDesignatorLength)
            return parameter_error(asc::InvalidFieldInParameterList, static_cast<std::uint16_t>(off + 7));
        auto d = p.subspan(off + 8, len);
        c.designator.designator.assign(d.begin(), d.end());
        // Device type specific parameters of a block device (SPC-4 §6.4.5): PAD, DISK
        // BLOCK LENGTH.
        c.disk_block_length = ld24(p, off + 29);
        out.cscds.push_back(std::move(c));
    }

    // SPC-4 §6.4.3.5 / §6.4.6: segment descriptors, each as long as its DESCRIPTOR LENGTH
    // says (plus the 4 bytes before it); none may reach past the list.
    const std::size_t segment_end = cscd_end + segment_list_length;
    std::size_t off = cscd_end;
    while (off < segment_end) {
        if (out.segments.size() == kMaxSegmentDescriptors) return parameter_error(asc::TooManySegmentDescriptors, 8);
        const auto field = static_cast<std::uint16_t>(off);
        if (ld8(p, off) != kBlockToBlock) return parameter_error(asc::UnsupportedSegmentDescriptorTypeCode, field);
        if (off + 4 > segment_end) return parameter_error(asc::InvalidFieldInParameterList, 8);
        if (ld16(p, off + 2) != kBlockToBlockDescriptorLength)
            return parameter_error(asc::InvalidFieldInParameterList, static_cast<std::uint16_t>(off + 2));
        if (off + kSegmentDescriptorLength > segment_end) return parameter_error(asc::InvalidFieldInParameterList, 8);
        SegmentDescriptor s;
        s.offset = field;
        s.dc = ld8(p, off + 1) & 0x02;
        s.cat = ld8(p, off + 1) & 0x01;
        s.source_cscd_id = ld16(p, off + 4);
        s.destination_cscd_id = ld16(p, off + 6);
        s.block_device_number_of_blocks = ld16(p, off + 10);
        s.source_lba = ld64(p, off + 12);
        s.destination_lba = ld64(p, off + 20);
        out.segments.push_back(s);
        off += kSegmentDescriptorLength;
    }
    // Bytes past the lists (beyond the inline data) are not looked at.
    return std::nullopt;
}

}  // namespace detail

// ---- designators ----------------------------------------------------------------------

bool matches_vpd83(const Designator& d, std::span<const std::byte> page) {
    if (page.size() < 4 || ld8(page, 1) != 0x83) return false;
    const std::size_t end = std::min<std::size_t>(page.size(), 4 + std::size_t{ld16(page, 2)});
    for (std::size_t off = 4; off + 4 <= end;) {
        const std::size_t len = ld8(page, off + 3);
        if (off + 4 + len > end) return false;
        const std::uint8_t code_set = ld8(page, off) & 0x0f;
        const std::uint8_t association = (ld8(page, off + 1) >> 4) & 0x03;
        const std::uint8_t type = ld8(page, off + 1) & 0x0f;
        // SPC-4 §7.8.6.1: only designators with ASSOCIATION 00b name the logical unit
        // (01b names a target port, 10b the target device).
        if (association == 0 && d.association == 0 && code_set == d.code_set && type == d.designator_type &&
            len == d.designator.size()) {
            auto bytes = page.subspan(off + 4, len);
            if (std::equal(bytes.begin(), bytes.end(), d.designator.begin())) return true;
        }
        off += 4 + len;
    }
    return false;
}

}  // namespace iscsilab::scsi
