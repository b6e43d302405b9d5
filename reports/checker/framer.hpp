// One direction of an iSCSI connection as a byte stream, cut into PDUs (RFC 3720 §10.2):
// BHS, AHS, header digest, data segment, padding, data digest. It knows whether digests
// are on once the login has said so; a capture that starts mid-connection (or a stream
// that lost its place) is searched for the first whole BHS, and the digests are then
// found by their CRCs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reports/checker/wire.hpp"

namespace iscsilab::checker {

enum class Sync : std::uint8_t {
    in_step,    // PDUs follow each other from a known start
    seeking,    // looking for the first whole BHS (mid-connection start, or after a loss)
};

class PduFramer {
public:
    // from_initiator: which opcodes are legal here (used while seeking).
    explicit PduFramer(bool from_initiator) : from_initiator_(from_initiator) {}

    // Digests as negotiated (RFC 3720 §12.1); they apply from the next PDU on.
    void set_digests(bool header, bool data) {
        header_digest_ = header;
        data_digest_ = data;
        digests_known_ = true;
    }
    bool digests_known() const { return digests_known_; }
    // The connection's start was not seen: digests will be found by their CRCs.
    void forget_digests() { digests_known_ = false; }
    bool header_digest() const { return header_digest_; }
    bool data_digest() const { return data_digest_; }

    // The stream does not start at a PDU boundary (capture began mid-connection, or a
    // TCP gap swallowed bytes): search for the next whole BHS.
    void lose_sync(std::string why);
    Sync sync() const { return sync_; }

    // Feed in-order bytes; each whole PDU goes to `out`. Returns false if the stream
    // had to give up a PDU it could not frame (sync lost; `lost_reason()` says why).
    using Sink = std::function<void(const Pdu&)>;
    void feed(std::span<const std::byte> bytes, const Sink& out);
    // End of stream: bytes left over are a PDU cut off at the end (returned, 0 if none).
    std::size_t pending_bytes() const { return buf_.size() - pos_; }

    std::uint64_t pdus() const { return pdus_; }
    std::uint64_t bytes_skipped() const { return skipped_; }
    std::uint64_t resyncs() const { return resyncs_; }
    const std::string& last_loss() const { return last_loss_; }
    // A header digest that did not match: the framer cannot trust the lengths after it.
    std::uint64_t header_digest_failures() const { return hd_failures_; }

    // Upper bound on bytes buffered while waiting for a PDU's end (16 MiB segment + slack).
    static constexpr std::size_t MAX_BUFFER = (16u << 20) + 4096;

private:
    bool from_initiator_;
    bool header_digest_ = false, data_digest_ = false, digests_known_ = true;  // off until the login ends
    Sync sync_ = Sync::in_step;
    std::vector<std::byte> buf_;
    std::size_t pos_ = 0;
    std::uint64_t pdus_ = 0, skipped_ = 0, resyncs_ = 0, hd_failures_ = 0;
    std::string last_loss_;

    // Bytes a PDU starting at `at` occupies with the given digests, or 0 if its header
    // is not all here yet.
    std::size_t length_at(std::size_t at, bool hd, bool dd) const;
    static std::size_t length_in(std::span<const std::byte> from, bool hd, bool dd);
    bool plausible(std::size_t at) const;
    // While seeking: find a BHS at or after pos_ (digests detected); true when found.
    bool seek();
    bool decode(std::size_t at, Pdu& p) const;
    bool decode_in(std::span<const std::byte> from, Pdu& p) const;  // `from` starts at the BHS
};

}  // namespace iscsilab::checker
