#include "reports/checker/framer.hpp"

#include <cstring>

namespace iscsilab::checker {

namespace {

constexpr std::size_t padded(std::uint32_t n) { return (n + 3u) & ~std::size_t{3}; }

std::uint32_t load_le32(const std::byte* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;  // RFC 3720 digests go least significant byte first, as x86 stores them
}

// While seeking, a data segment longer than this is taken as a false start.
constexpr std::uint32_t SEEK_MAX_SEGMENT = 1u << 20;

}  // namespace

void PduFramer::lose_sync(std::string why) {
    sync_ = Sync::seeking;
    ++resyncs_;
    last_loss_ = std::move(why);
}

std::size_t PduFramer::length_at(std::size_t at, bool hd, bool dd) const {
    return length_in(std::span<const std::byte>(buf_.data() + at, buf_.size() - at), hd, dd);
}

std::size_t PduFramer::length_in(std::span<const std::byte> from, bool hd, bool dd) {
    if (from.size() < BHS_LENGTH) return 0;
    const std::span<const std::byte> b = from.first(BHS_LENGTH);
    const std::uint32_t dsl = be24(b, 5);
    return BHS_LENGTH + std::size_t{u8(b, 4)} * 4 + (hd ? 4 : 0) + padded(dsl) + (dsl && dd ? 4 : 0);
}

bool PduFramer::plausible(std::size_t at) const {
    if (buf_.size() - at < BHS_LENGTH) return false;
    const std::span<const std::byte> b(buf_.data() + at, BHS_LENGTH);
    const std::uint8_t b0 = u8(b, 0);
    const std::uint8_t o = b0 & 0x3f;
    if (b0 & 0x80) return false;  // RFC 3720 §10.2.1: the first bit is reserved
    if (from_initiator_) {
        if (!is_initiator_opcode(o)) return false;
    } else {
        if ((b0 & 0x40) || !is_target_opcode(o)) return false;
    }
    if (u8(b, 4) > 16) return false;  // AHS beyond 64 bytes: no such AHS in RFC 3720
    if (be24(b, 5) > SEEK_MAX_SEGMENT) return false;
    return true;
}

bool PduFramer::seek() {
    for (std::size_t at = pos_; at + BHS_LENGTH <= buf_.size(); ++at) {
        if (!plausible(at)) continue;
        const std::span<const std::byte> b(buf_.data() + at, BHS_LENGTH);
        const std::size_t ahs = std::size_t{u8(b, 4)} * 4;
        const std::uint32_t dsl = be24(b, 5);
        // What has arrived ends exactly where this PDU would end without digests. Senders
        // end a segment at a PDU's end, so the PDU is taken now: waiting for the next bytes
        // of this direction would judge it after the other side's answer to it.
        const bool ends_bare = buf_.size() - at == BHS_LENGTH + ahs + padded(dsl);
        // The header digest: as negotiated, or found by its CRC.
        bool crc_matches = false;
        if (buf_.size() - at >= BHS_LENGTH + ahs + 4) {
            crc_matches = crc32c(std::span<const std::byte>(buf_.data() + at, BHS_LENGTH + ahs)) ==
                          load_le32(buf_.data() + at + BHS_LENGTH + ahs);
        } else if (!(ends_bare && !(digests_known_ && header_digest_))) {
            return false;  // wait for more
        }
        bool hd = digests_known_ ? header_digest_ : crc_matches;
        if (hd && !crc_matches) continue;
        bool dd = data_digest_;
        if (!digests_known_ && dsl > 0) {
            const std::size_t data_at = at + BHS_LENGTH + ahs + (hd ? 4 : 0);
            if (!hd && ends_bare) {
                dd = false;
            } else {
                if (buf_.size() - at < length_at(at, hd, true)) return false;
                dd = crc32c(std::span<const std::byte>(buf_.data() + data_at, padded(dsl))) == load_le32(buf_.data() + data_at + padded(dsl));
            }
        }
        const std::size_t len = length_at(at, hd, dd);
        const std::size_t next = at + len;
        // A second header right behind this one confirms the start (or the stream ends here).
        if (next + BHS_LENGTH > buf_.size()) {
            if (next != buf_.size()) return false;  // wait for more
        } else if (!plausible(next)) {
            continue;
        }
        skipped_ += at - pos_;
        pos_ = at;
        sync_ = Sync::in_step;
        if (!digests_known_) {
            header_digest_ = hd;
            data_digest_ = dd;
            // Whether data digests are on shows only in a PDU that carries data.
            digests_known_ = dsl > 0 || hd;
        }
        return true;
    }
    // Nothing here: keep only a tail that could still begin a header.
    if (buf_.size() - pos_ > BHS_LENGTH) {
        skipped_ += buf_.size() - BHS_LENGTH - pos_;
        pos_ = buf_.size() - BHS_LENGTH;
    }
    return false;
}

bool PduFramer::decode(std::size_t at, Pdu& p) const {
    return decode_in(std::span<const std::byte>(buf_.data() + at, buf_.size() - at), p);
}

bool PduFramer::decode_in(std::span<const std::byte> all, Pdu& p) const {
    std::memcpy(p.bhs.data(), all.data(), BHS_LENGTH);
    const std::span<const std::byte> b(p.bhs);
    const std::uint8_t b0 = u8(b, 0);
    p.opcode = b0 & 0x3f;
    p.immediate = b0 & 0x40;
    p.flags = u8(b, 1);
    p.total_ahs_length = u8(b, 4);
    p.data_segment_length = be24(b, 5);
    p.lun = (std::uint64_t{be32(b, 8)} << 32) | be32(b, 12);
    p.itt = be32(b, 16);
    p.f20 = be32(b, 20);
    p.f24 = be32(b, 24);
    p.f28 = be32(b, 28);
    p.f32 = be32(b, 32);
    p.f36 = be32(b, 36);
    p.f40 = be32(b, 40);
    p.f44 = be32(b, 44);
    std::size_t cur = BHS_LENGTH;
    const std::size_t ahs = std::size_t{p.total_ahs_length} * 4;
    p.ahs = all.subspan(cur, ahs);
    cur += ahs;
    p.header_digest = header_digest_;
    p.header_digest_ok = true;
    if (header_digest_) {
        p.header_digest_ok = crc32c(all.first(cur)) == load_le32(all.data() + cur);
        cur += 4;
    }
    const std::uint32_t dsl = p.data_segment_length;
    p.data = all.subspan(cur, dsl);
    p.padding = padded(dsl) - dsl;
    p.pad_zero = true;
    for (std::size_t k = 0; k < p.padding; ++k)
        if (all[cur + dsl + k] != std::byte{0}) p.pad_zero = false;
    p.data_digest = data_digest_ && dsl > 0;
    p.data_digest_ok = true;
    if (p.data_digest)
        p.data_digest_ok = crc32c(all.subspan(cur, padded(dsl))) == load_le32(all.data() + cur + padded(dsl));
    p.wire_length = cur + padded(dsl) + (p.data_digest ? 4 : 0);
    return p.header_digest_ok;
}

void PduFramer::feed(std::span<const std::byte> bytes, const Sink& out) {
    if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    }
    // The common case, nothing held back and in step: whole PDUs are judged straight from
    // the segment's bytes; only a PDU the segment cuts is copied and waits for the rest.
    if (buf_.empty() && sync_ == Sync::in_step && digests_known_) {
        Pdu p;
        while (sync_ == Sync::in_step && digests_known_ && bytes.size() >= BHS_LENGTH) {
            const std::size_t len = length_in(bytes, header_digest_, data_digest_);
            if (bytes.size() < len) break;
            if (!decode_in(bytes, p)) break;  // a header digest error: the slow path below loses sync
            ++pdus_;
            out(p);
            bytes = bytes.subspan(p.wire_length);
        }
        if (bytes.empty()) return;
    }
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
    Pdu p;
    for (;;) {
        if (sync_ == Sync::seeking && !seek()) break;
        const std::size_t len = length_at(pos_, header_digest_, data_digest_);
        if (len == 0 || buf_.size() - pos_ < len) {
            if (buf_.size() - pos_ > MAX_BUFFER) lose_sync("a PDU longer than any legal one");
            else break;
            continue;
        }
        // Data digests not yet known (mid-connection start with only data-less PDUs so far):
        // the first PDU with data tells, by its CRC.
        if (!digests_known_ && be24(std::span<const std::byte>(buf_.data() + pos_, BHS_LENGTH), 5) > 0) {
            const std::size_t with = length_at(pos_, header_digest_, true);
            if (buf_.size() - pos_ < with) break;
            Pdu probe;
            data_digest_ = true;
            decode(pos_, probe);
            data_digest_ = probe.data_digest_ok;
            digests_known_ = true;
            continue;
        }
        if (!decode(pos_, p)) {
            ++hd_failures_;
            ++pos_;  // the header's own lengths cannot be trusted
            lose_sync("header digest mismatch");
            continue;
        }
        ++pdus_;
        out(p);
        pos_ += p.wire_length;
    }
    if (pos_ > (1u << 20) && pos_ * 2 > buf_.size()) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
        pos_ = 0;
    }
}

}  // namespace iscsilab::checker
