// A simulated TCP connection (fabric/sim): per-direction latency, bandwidth
// (serialization delay), MSS segmentation (and, as FoundationDB's simulated connections
// do, segments cut at random bytes, so the receiver's framer sees every split of every
// PDU) and a bounded send window whose ACKs come back after the reverse latency. Each end
// is a ByteStream; a capture tap sees every segment with consistent sequence and
// acknowledgement numbers.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fabric/capture/capture.hpp"
#include "model/kernel.hpp"
#include "model/rng.hpp"
#include "target/ports.hpp"

namespace iscsilab::sim {

// Faults on one host's link, set by the fault plan (faults/): every connection the host
// makes sees them. Direction 0 is initiator -> target, 1 is target -> initiator.
struct LinkFaults {
    Nanos stalled_until[2]{};       // nothing arrives in that direction before then (TCP
                                    // retransmits: the bytes come late, in order)
    Nanos extra_latency{0};         // latency spike: added to every segment sent before
    Nanos spike_until{0};           //   spike_until
    std::uint32_t corrupt[2]{};     // full-size segments still to corrupt in that direction
    // Which byte of a segment of n bytes to flip (the plan's seeded stream); bit 0x20.
    std::function<std::size_t(std::size_t n)> pick;
    double bandwidth_factor = 1.0;  // bandwidth drop: the link runs this many times slower
    Nanos bandwidth_until{0};       //   for segments sent before then
    Nanos stuck_until[2]{};         // the receiver reads nothing before then: the segments
                                    // arrive (and are captured) but wait unread and
                                    // unacknowledged, then come out in one read
    std::uint32_t pdu_cut[2]{};     // connections to reset at a random byte inside a PDU
    std::uint32_t bhs_corrupt[2]{}; // full-size segments holding a BHS still to get a bit
                                    // flipped inside that BHS (the segment that completes
                                    // the PDU then ends with it: nothing follows the
                                    // header error in the read that reveals it)
    // Called when a bit of a BHS was flipped in direction dir (the plan tells the
    // initiator, which checks the target's answer).
    std::function<void(int dir)> on_bhs_corrupt;
    // What the faults did, for the run's expectations (`seen:`).
    std::uint64_t slowed_segments = 0, stuck_reads = 0, pdus_cut = 0, bhs_flipped = 0;
};

struct LinkConfig {
    Nanos latency{std::chrono::microseconds(20)};  // one way
    double bandwidth_bps = 10e9;
    std::uint32_t mss = 1448;
    std::uint32_t window = 256 * 1024;             // bytes in flight before the sender waits
    // The share of segments (0..100) that end at a random byte before the MSS would end
    // them; drawn from the host's own "link/<host>" stream, so 0 moves no other choice.
    std::uint32_t cut_pct = 0;
};

class SimStream;

class SimTcpConnection : public std::enable_shared_from_this<SimTcpConnection> {
public:
    // Use create(): the ends hold the connection alive.
    // `cuts`: the stream that places random cuts (cfg.cut_pct); shared by every
    // connection of one host, so a new connection does not repeat the last one's cuts.
    static std::shared_ptr<SimTcpConnection> create(model::SimKernel& kernel, LinkConfig cfg,
                                                    capture::Endpoint initiator, capture::Endpoint target,
                                                    capture::PacketTap* tap,
                                                    std::shared_ptr<LinkFaults> faults = nullptr,
                                                    std::shared_ptr<model::Rng> cuts = nullptr);
    std::shared_ptr<SimStream> initiator_end() const { return ends_[0]; }
    std::shared_ptr<SimStream> target_end() const { return ends_[1]; }

    // A connection reset (RST): both ends see on_closed after the link latency, and
    // nothing queued or in flight arrives.
    void reset(std::string reason);

    // Statistics.
    std::uint64_t bytes(int dir) const { return dirs_[dir].bytes_sent; }
    std::uint64_t segments(int dir) const { return dirs_[dir].segments; }

private:
    friend class SimStream;
    SimTcpConnection(model::SimKernel& kernel, LinkConfig cfg, capture::Endpoint i, capture::Endpoint t,
                     capture::PacketTap* tap, std::shared_ptr<LinkFaults> faults, std::shared_ptr<model::Rng> cuts);
    struct Pending {
        Slice slice;
        std::size_t taken = 0;
        Task done;
    };
    struct Direction {
        std::deque<Pending> queue;
        std::uint32_t seq = 0;          // next sequence number to send
        std::uint32_t delivered = 0;    // next sequence number the peer has received
        std::uint64_t in_flight = 0;
        Nanos wire_free{0};             // when the transmitter is free again
        Nanos last_arrival{0};          // TCP delivers in order, whatever the delays
        struct Held {
            std::shared_ptr<Bytes> seg;
            std::uint32_t seq, n;
        };
        std::deque<Held> held;          // arrived during a stall, in order
        bool release_armed = false;
        std::uint64_t bytes_sent = 0, segments = 0;
        bool fin_sent = false;
        // Each send() is one PDU (both ends frame one PDU per call): the sequence
        // numbers where PDUs begin, for faults that aim inside a PDU or at its BHS.
        std::uint32_t queued_end = 0;   // sequence number after the last byte queued
        std::deque<std::uint32_t> pdu_starts;
        std::optional<std::uint32_t> end_at;  // a segment must end here (a flipped PDU's end)
        std::deque<std::uint32_t> flipped;    // where flipped headers begin, until delivered
        // Delivery stuck (the receiver does not read): bytes captured but unread, and
        // unacknowledged, until they come out in one read.
        Bytes stuck;
        std::uint32_t stuck_acks = 0;
        bool stuck_armed = false;
    };
    void send(int dir, Slices buffers, Task done);
    void pump(int dir);
    void close(int dir, std::string reason);
    void tap(int dir, std::uint8_t flags, std::span<const std::byte> payload, std::uint32_t seq);
    void arrive(int dir, std::shared_ptr<Bytes> seg, std::uint32_t seq, std::uint32_t n);
    void release(int dir);
    void deliver(int dir, std::shared_ptr<Bytes> seg, std::uint32_t seq, std::uint32_t n);
    void acked(int dir, std::uint32_t n);
    void fin(int dir, const std::string& reason);
    Nanos stall_left(int dir) const;
    std::size_t segment_room(std::size_t room);
    // The bytes of [seq, seq + n) that begin a PDU, as offsets into that range.
    std::vector<std::size_t> pdu_starts_in(int dir, std::uint32_t seq, std::uint32_t n);
    bool cut_inside_pdu(int dir, std::shared_ptr<Bytes>& seg, std::uint32_t seq);
    // Before a segment is built: the BHS to flip in it (its sequence number), if any,
    // shortening `room` so the segment ends with that PDU when it ends inside it.
    std::optional<std::uint32_t> plan_bhs_flip(int dir, std::size_t& room);
    void flip_in_bhs(int dir, Bytes& seg, std::uint32_t seq, std::uint32_t at);
    void unstick(int dir);

    model::SimKernel& kernel_;
    LinkConfig cfg_;
    capture::Endpoint addr_[2];
    capture::PacketTap* tap_;
    std::shared_ptr<LinkFaults> faults_;
    std::shared_ptr<model::Rng> cuts_;
    Direction dirs_[2];
    std::shared_ptr<SimStream> ends_[2];
    bool closed_ = false;
};

// One end of a SimTcpConnection (dir 0: initiator -> target, 1: target -> initiator).
class SimStream final : public ByteStream {
public:
    SimStream(std::weak_ptr<SimTcpConnection> conn, int dir, std::string peer, std::string local)
        : conn_(std::move(conn)), dir_(dir), peer_(std::move(peer)), local_(std::move(local)) {}
    void set_handler(std::weak_ptr<Handler> h) override { handler_ = std::move(h); }
    void send(Slices buffers, Task done) override;
    void close(std::string_view reason) override;
    std::string peer() const override { return peer_; }
    std::string local() const override { return local_; }
    bool closed() const { return closed_; }

private:
    friend class SimTcpConnection;
    std::weak_ptr<SimTcpConnection> conn_;
    int dir_;
    std::string peer_, local_;
    std::weak_ptr<Handler> handler_;
    bool closed_ = false;
};

std::string ip_string(std::uint32_t ip);

}  // namespace iscsilab::sim
