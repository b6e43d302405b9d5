#include "target/iscsi/framer.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "target/iscsi/crc32c.hpp"
#include "target/bytes.hpp"

namespace iscsilab::iscsi {

const char* to_string(FrameError e) {
    switch (e) {
        case FrameError::none: return "none";
        case FrameError::header_digest: return "header digest error";
        case FrameError::data_digest: return "data digest error";
        case FrameError::data_too_long: return "data segment longer than MaxRecvDataSegmentLength";
    }
    return "?";
}

namespace {
std::uint32_t load_le32(const std::byte* p) {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) |
           (std::uint32_t(p[3]) << 24);
}
void store_le32(std::byte* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
}  // namespace

void PduReader::begin_pdu() {
    state_ = State::bhs;
    need_ = kBhsLength;
    buf_.clear();
    cur_ = Pdu{};
}

bool PduReader::finish(FrameError e) {
    Pdu done = std::move(cur_);
    begin_pdu();
    if (!sink_(std::move(done), e)) stopped_ = true;
    return !stopped_;
}

bool PduReader::finish_placed() {
    FrameError err = FrameError::none;
    if (digests_.data) {
        const std::size_t pad = padded(dsl_) - dsl_;
        std::uint32_t crc = crc32c(placement_.into);
        crc = crc32c(std::span<const std::byte>(buf_.data(), pad), crc);
        if (crc != load_le32(buf_.data() + pad)) err = FrameError::data_digest;
    }
    cur_.data_placed = true;
    cur_.placed = std::move(placement_.keep);
    placement_ = {};
    return finish(err);
}

std::span<std::byte> PduReader::room() const {
    if (stopped_ || state_ != State::placed || placed_got_ >= dsl_) return {};
    return placement_.into.subspan(placed_got_);
}

bool PduReader::placed(std::size_t n) {
    if (stopped_ || n == 0) return !stopped_;
    // The caller wrote at most room() (Connection::on_placed checks it): more cannot be
    // framed, so framing stops.
    if (n > room().size()) {
        stopped_ = true;
        return false;
    }
    placed_got_ += static_cast<std::uint32_t>(n);
    // A segment that needs no padding and no digest ends with its last byte.
    if (placed_got_ == dsl_ && need_ == 0) return finish_placed();
    return true;
}

bool PduReader::feed(std::span<const std::byte> bytes) {
    while (!stopped_ && !bytes.empty()) {
        if (state_ == State::placed) {
            // The segment, straight into its place; then padding and digest into buf_.
            if (placed_got_ < dsl_) {
                const std::size_t n = std::min<std::size_t>(dsl_ - placed_got_, bytes.size());
                std::memcpy(placement_.into.data() + placed_got_, bytes.data(), n);
                placed_got_ += static_cast<std::uint32_t>(n);
                bytes = bytes.subspan(n);
                if (placed_got_ < dsl_) break;
            }
            const std::size_t take = std::min(need_ - buf_.size(), bytes.size());
            buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
            bytes = bytes.subspan(take);
            if (buf_.size() < need_) break;
            if (!finish_placed()) return false;
            continue;
        }
        if (state_ == State::skip) {
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_left_, bytes.size()));
            // A discarded segment's bytes (and padding) go through the CRC; its digest
            // is collected into buf_ after them. An over-long one is only skipped.
            if (cur_.data_discarded && digests_.data) skip_crc_ = crc32c(bytes.first(n), skip_crc_);
            skip_left_ -= n;
            bytes = bytes.subspan(n);
            if (skip_left_ > 0) break;
            // An over-long segment is reported as such (RFC 3720 §10.2.2.6); a discarded
            // one only when its digest is wrong.
            FrameError err = cur_.data_discarded ? FrameError::none : FrameError::data_too_long;
            if (cur_.data_discarded && digests_.data) {
                const std::size_t take = std::min(kDigestLength - buf_.size(), bytes.size());
                buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
                bytes = bytes.subspan(take);
                if (buf_.size() < kDigestLength) break;
                if (skip_crc_ != load_le32(buf_.data())) err = FrameError::data_digest;
            }
            if (!finish(err)) return false;
            continue;
        }
        // The data segment collects straight into the PDU; buf_ keeps its capacity for
        // the next header.
        std::vector<std::byte>& into = state_ == State::data ? cur_.data : buf_;
        std::size_t take = std::min(need_ - into.size(), bytes.size());
        into.insert(into.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
        bytes = bytes.subspan(take);
        if (into.size() < need_) break;

        switch (state_) {
            case State::bhs: {
                std::copy_n(buf_.begin(), kBhsLength, cur_.bhs.begin());
                BhsView v = cur_.view();
                dsl_ = v.data_segment_length();
                std::size_t ahs = std::size_t{v.total_ahs_length()} * 4;
                std::size_t extra = ahs + (digests_.header ? kDigestLength : 0);
                buf_.clear();
                if (extra > 0) {
                    state_ = State::ahs_and_header_digest;
                    need_ = extra;
                    continue;
                }
                [[fallthrough]];
            }
            case State::ahs_and_header_digest: {
                if (state_ == State::ahs_and_header_digest) {
                    std::size_t ahs = std::size_t{cur_.view().total_ahs_length()} * 4;
                    cur_.ahs.assign(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(ahs));
                    if (digests_.header) {
                        std::uint32_t crc = crc32c(cur_.bhs);
                        crc = crc32c(cur_.ahs, crc);
                        if (crc != load_le32(buf_.data() + ahs)) {
                            // The length fields cannot be trusted: stop framing here.
                            Pdu bad = std::move(cur_);
                            stopped_ = true;
                            sink_(std::move(bad), FrameError::header_digest);
                            return false;
                        }
                    }
                    buf_.clear();
                }
                if (dsl_ > max_dsl_) {
                    // RFC 3720 §10.2.2.6 / §12.12: too long for what we declared. Discard the
                    // segment without buffering it, then report.
                    skip_left_ = std::uint64_t{padded(dsl_)} + (digests_.data ? kDigestLength : 0);
                    state_ = State::skip;
                    continue;
                }
                if (dsl_ == 0) {
                    if (!finish(FrameError::none)) return false;
                    continue;
                }
                if (placer_) {
                    Placement where = placer_(cur_);
                    switch (where.fate) {
                        case SegmentFate::collect:
                            break;
                        case SegmentFate::place:
                            if (where.into.size() != dsl_) break;
                            placement_ = std::move(where);
                            placed_got_ = 0;
                            state_ = State::placed;
                            need_ = padded(dsl_) - dsl_ + (digests_.data ? kDigestLength : 0);
                            continue;
                        case SegmentFate::discard:
                            // The digest, if any, is collected apart (State::skip).
                            cur_.data_discarded = true;
                            skip_left_ = padded(dsl_);
                            skip_crc_ = 0;
                            state_ = State::skip;
                            continue;
                    }
                }
                state_ = State::data;
                need_ = padded(dsl_) + (digests_.data ? kDigestLength : 0);
                cur_.data.reserve(need_);
                continue;
            }
            case State::data: {
                FrameError err = FrameError::none;
                if (digests_.data) {
                    std::uint32_t crc = crc32c(std::span<const std::byte>(cur_.data.data(), padded(dsl_)));
                    if (crc != load_le32(cur_.data.data() + padded(dsl_))) err = FrameError::data_digest;
                }
                cur_.data.resize(dsl_);
                if (!finish(err)) return false;
                continue;
            }
            case State::placed:
            case State::skip:
                break;
        }
    }
    return !stopped_;
}

namespace {

// The header of an outbound PDU with a small data segment riding along (at most
// kInlineData bytes, padding and both digests): one block from the block cache, where a
// byte vector and its owner were two heap allocations per PDU.
constexpr std::size_t kInlineData = 512;
struct HeaderBlock {
    std::array<std::byte, kBhsLength + kDigestLength + kInlineData + 3 + kDigestLength> bytes;
    std::size_t size = 0;
    void put(std::span<const std::byte> b) {
        std::memcpy(bytes.data() + size, b.data(), b.size());
        size += b.size();
    }
    void zeros(std::size_t n) {
        std::memset(bytes.data() + size, 0, n);
        size += n;
    }
    void le32(std::uint32_t v) {
        store_le32(bytes.data() + size, v);
        size += kDigestLength;
    }
};

}  // namespace

Slices frame_pdu(const Bhs& bhs, Slice data, DigestSettings digests) {
    Slices out;
    out.reserve(3);
    const std::size_t n = data.bytes.size();
    const std::size_t pad = padded(static_cast<std::uint32_t>(n)) - n;
    auto h = std::allocate_shared<HeaderBlock>(CachedAllocator<HeaderBlock>{});
    h->put(bhs);
    if (digests.header) h->le32(crc32c(bhs));
    // A slice whose bytes lie at a WireSource is never read here: it leaves as it is, and
    // the connection asks for none when a DataDigest is on (Connection::data_in_may_stay_).
    const bool inline_data = n <= kInlineData && !data.source;
    if (inline_data && n > 0) {
        // Small segments ride in the header block: one slice instead of three.
        const std::size_t from = h->size;
        h->put(data.bytes);
        h->zeros(pad);
        if (digests.data) h->le32(crc32c(std::span<const std::byte>(h->bytes.data() + from, n + pad)));
    }
    const std::span<const std::byte> head(h->bytes.data(), h->size);
    out.push_back(Slice{std::move(h), head});
    if (inline_data) return out;
    std::array<std::byte, 3 + kDigestLength> tail{};
    std::size_t tail_len = pad;
    if (digests.data) {
        std::uint32_t crc = crc32c(data.bytes);
        crc = crc32c(std::span<const std::byte>(tail.data(), pad), crc);
        store_le32(tail.data() + pad, crc);
        tail_len += kDigestLength;
    }
    out.push_back(std::move(data));
    if (tail_len) out.push_back(Slice::copy_of(std::span<const std::byte>(tail.data(), tail_len)));
    return out;
}

}  // namespace iscsilab::iscsi
