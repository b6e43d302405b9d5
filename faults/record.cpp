#include "faults/record.hpp"

#include <algorithm>

#include "target/bytes.hpp"

namespace iscsilab::faults {

Bytes encode_record(const Record& r) {
    const std::size_t n = std::min<std::size_t>(r.text.size(), 0xffff);
    Bytes out(kRecordHeader + n);
    std::span<std::byte> b(out);
    st32(b, 0, kRecordMagic);
    st8(b, 4, 1);
    st8(b, 5, r.kind);
    st8(b, 6, r.direction);
    st8(b, 7, r.initiator);
    st32(b, 8, r.sequence);
    st64(b, 12, static_cast<std::uint64_t>(r.time.count()));
    st64(b, 20, static_cast<std::uint64_t>(r.duration.count()));
    st16(b, 28, static_cast<std::uint16_t>(n));
    const auto* text = reinterpret_cast<const std::byte*>(r.text.data());
    std::copy(text, text + n, out.begin() + kRecordHeader);
    return out;
}

std::optional<Record> decode_record(std::span<const std::byte> b) {
    if (b.size() < kRecordHeader || ld32(b, 0) != kRecordMagic || ld8(b, 4) != 1) return std::nullopt;
    const std::size_t n = ld16(b, 28);
    if (b.size() != kRecordHeader + n) return std::nullopt;
    Record r;
    r.kind = ld8(b, 5);
    r.direction = ld8(b, 6);
    r.initiator = ld8(b, 7);
    r.sequence = ld32(b, 8);
    r.time = Nanos(static_cast<std::int64_t>(ld64(b, 12)));
    r.duration = Nanos(static_cast<std::int64_t>(ld64(b, 20)));
    r.text.assign(reinterpret_cast<const char*>(b.data()) + kRecordHeader, n);
    return r;
}

}  // namespace iscsilab::faults
