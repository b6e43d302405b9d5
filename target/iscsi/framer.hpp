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

// What the header phase decides about a data segment (PduReader::set_placer).
enum class SegmentFate : std::uint8_t {
    collect,  // into Pdu::data, as without a placer
    place,    // straight into Placement::into (a command's buffer)
    discard,  // read off the stream and dropped: the PDU is refused on its header alone
};

// Where a data segment goes, named after its header was read. For SegmentFate::place,
// `into` is exactly DataSegmentLength bytes, and `keep` holds the buffer they belong to
// until the PDU is handed over (a place of another size is collected instead).
struct Placement {
    SegmentFate fate = SegmentFate::collect;
    std::span<std::byte> into;
    BufferPtr keep;
    static Placement at(std::span<std::byte> into, BufferPtr keep) {
        return Placement{SegmentFate::place, into, std::move(keep)};
    }
    static Placement discarded() { return Placement{SegmentFate::discard, {}, {}}; }
};

// Reassembles PDUs. After each PDU the handler runs before the next is parsed, so a
// login that switches digests on applies from the very next byte (RFC 3720 §12.1).
class PduReader {
public:
    // Return false to stop parsing (the connection is closing).
    using Sink = std::function<bool(Pdu&& pdu, FrameError error)>;
    // The header phase: called once the BHS (and AHS, and header digest) of a PDU with a
    // data segment is in, before any of the segment is taken.
    //  - place: the segment goes straight where it belongs (a command's buffer), not in
    //    Pdu::data. What of it came in the read that brought the header is copied there
    //    from that read; the rest a stream reads into its place itself (room(),
    //    placed()), so for it the kernel's copy is the only one.
    //  - discard: the segment is read off the stream and dropped, never buffered (a
    //    Data-Out for no task, a command outside the CmdSN window): the PDU comes with
    //    Pdu::data_discarded. Its DataDigest is still checked, since RFC 3720 §6.7
    //    answers a digest error with a Reject whatever the PDU.
    using Placer = std::function<Placement(const Pdu& header)>;

    explicit PduReader(Sink sink) : sink_(std::move(sink)) {}

    void set_digests(DigestSettings d) { digests_ = d; }
    void set_max_data_segment_length(std::uint32_t n) { max_dsl_ = n; }
    void set_placer(Placer p) { placer_ = std::move(p); }
    // Feeds bytes; returns false once the sink asked to stop.
    bool feed(std::span<const std::byte> bytes);
    // Where the next bytes of the stream go when they are the rest of a placed data
    // segment (State::placed), else empty: a stream may receive them there directly
    // (ByteStream::Handler::receive_into) and then call placed().
    std::span<std::byte> room() const;
    // n bytes, at most room().size(), were written at room(): as feed() of those bytes,
    // without the copy. Returns false once the sink asked to stop.
    bool placed(std::size_t n);
    bool stopped() const { return stopped_; }

private:
    enum class State : std::uint8_t { bhs, ahs_and_header_digest, data, placed, skip };
    void begin_pdu();
    bool finish(FrameError e);
    // State::placed with the segment, its padding and its digest all in: check the
    // digest and hand the PDU over.
    bool finish_placed();

    Sink sink_;
    DigestSettings digests_{};
    std::uint32_t max_dsl_ = 8192;
    State state_ = State::bhs;
    Pdu cur_;
    std::vector<std::byte> buf_;   // the part being collected
    std::size_t need_ = kBhsLength;
    std::uint32_t dsl_ = 0;
    std::uint64_t skip_left_ = 0;
    std::uint32_t skip_crc_ = 0;  // a discarded segment's CRC32C so far
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
