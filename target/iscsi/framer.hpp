// PDU framing on a byte stream (RFC 3720 §10.2): BHS, AHS, HeaderDigest, data segment,
// padding to 4 bytes, DataDigest. Incremental: bytes arrive in any split.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "target/iscsi/pdu.hpp"
#include "target/ports.hpp"

namespace iscsilab::iscsi {

struct DigestSettings {
    bool header = false;  // HeaderDigest=CRC32C
    bool data = false;    // DataDigest=CRC32C
};

enum class FrameError : std::uint8_t {
    none,
    header_digest,     // the header cannot be trusted: RFC 3720 §6.7, the connection must go
    data_digest,       // RFC 3720 §6.7: Reject (Data-Digest-Error) and discard
    data_too_long,     // DataSegmentLength over our MaxRecvDataSegmentLength: protocol error
};

const char* to_string(FrameError e);

// Where a data segment goes, named after its header was read: `into` is exactly
// DataSegmentLength bytes, and `keep` holds the buffer they belong to until the PDU is
// handed over.
struct Placement {
    std::span<std::byte> into;
    BufferPtr keep;
};

// Reassembles PDUs. After each PDU the handler runs before the next is parsed, so a
// login that switches digests on applies from the very next byte (RFC 3720 §12.1).
class PduReader {
public:
    // Return false to stop parsing (the connection is closing).
    using Sink = std::function<bool(Pdu&& pdu, FrameError error)>;
    // The header phase: called once the BHS (and AHS, and header digest) of a PDU with a
    // data segment is in. A placement puts the segment straight where it belongs (a
    // command's buffer), so that the kernel's copy is the only one; nothing leaves it in
    // Pdu::data as before.
    using Placer = std::function<std::optional<Placement>(const Pdu& header)>;

    explicit PduReader(Sink sink) : sink_(std::move(sink)) {}

    void set_digests(DigestSettings d) { digests_ = d; }
    void set_max_data_segment_length(std::uint32_t n) { max_dsl_ = n; }
    void set_placer(Placer p) { placer_ = std::move(p); }
    // Feeds bytes; returns false once the sink asked to stop.
    bool feed(std::span<const std::byte> bytes);
    bool stopped() const { return stopped_; }

private:
    enum class State : std::uint8_t { bhs, ahs_and_header_digest, data, placed, skip };
    void begin_pdu();
    bool finish(FrameError e);

    Sink sink_;
    DigestSettings digests_{};
    std::uint32_t max_dsl_ = 8192;
    State state_ = State::bhs;
    Pdu cur_;
    std::vector<std::byte> buf_;   // the part being collected
    std::size_t need_ = kBhsLength;
    std::uint32_t dsl_ = 0;
    std::uint64_t skip_left_ = 0;
    Placer placer_;
    Placement placement_;      // State::placed: where the segment goes
    std::uint32_t placed_got_ = 0;
    bool stopped_ = false;
};

// Frames one outbound PDU into slices: header (BHS, HeaderDigest), data (shared, not
// copied), and padding plus DataDigest. No PDU we send carries an AHS (RFC 3720 §10.2.2:
// only SCSI Commands define one).
Slices frame_pdu(const Bhs& bhs, Slice data, DigestSettings digests);

inline std::uint32_t padded(std::uint32_t n) { return (n + 3u) & ~3u; }

}  // namespace iscsilab::iscsi
