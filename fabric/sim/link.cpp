#include "fabric/sim/link.hpp"

#include <algorithm>

namespace iscsilab::sim {

std::string ip_string(std::uint32_t ip) {
    return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xff) + "." + std::to_string((ip >> 8) & 0xff) +
           "." + std::to_string(ip & 0xff);
}

std::shared_ptr<SimTcpConnection> SimTcpConnection::create(model::SimKernel& kernel, LinkConfig cfg,
                                                           capture::Endpoint i, capture::Endpoint t,
                                                           capture::PacketTap* tap,
                                                           std::shared_ptr<LinkFaults> faults,
                                                           std::shared_ptr<model::Rng> cuts) {
    std::shared_ptr<SimTcpConnection> c(new SimTcpConnection(kernel, cfg, i, t, tap, std::move(faults), std::move(cuts)));
    const std::string is = ip_string(i.ip) + ":" + std::to_string(i.port);
    const std::string ts = ip_string(t.ip) + ":" + std::to_string(t.port);
    c->ends_[0] = std::make_shared<SimStream>(c, 0, ts, is);
    c->ends_[1] = std::make_shared<SimStream>(c, 1, is, ts);
    // The three-way handshake, for the capture's sake (RFC 793 §3.4).
    c->tap(0, capture::tcp_flags::SYN, {}, c->dirs_[0].seq - 1);
    c->tap(1, capture::tcp_flags::SYN | capture::tcp_flags::ACK, {}, c->dirs_[1].seq - 1);
    c->tap(0, capture::tcp_flags::ACK, {}, c->dirs_[0].seq);
    return c;
}

SimTcpConnection::SimTcpConnection(model::SimKernel& kernel, LinkConfig cfg, capture::Endpoint i,
                                   capture::Endpoint t, capture::PacketTap* tap,
                                   std::shared_ptr<LinkFaults> faults, std::shared_ptr<model::Rng> cuts)
    : kernel_(kernel), cfg_(cfg), addr_{i, t}, tap_(tap), faults_(std::move(faults)), cuts_(std::move(cuts)) {
    // Initial sequence numbers: fixed per endpoint, so captures are reproducible.
    dirs_[0].seq = dirs_[0].delivered = dirs_[0].queued_end = 0x10000000u + i.port;
    dirs_[1].seq = dirs_[1].delivered = dirs_[1].queued_end = 0x20000000u + i.port;
}

void SimTcpConnection::tap(int dir, std::uint8_t flags, std::span<const std::byte> payload, std::uint32_t seq) {
    if (!tap_) return;
    capture::Segment s;
    s.time = kernel_.now();
    s.src = addr_[dir];
    s.dst = addr_[1 - dir];
    s.seq = seq;
    s.ack = dirs_[1 - dir].delivered;
    s.flags = flags;
    s.payload = payload;
    tap_->segment(s);
}

void SimTcpConnection::send(int dir, Slices buffers, Task done) {
    if (closed_) return;
    auto& d = dirs_[dir];
    std::size_t total = 0;
    for (const auto& b : buffers) total += b.bytes.size();
    if (total > 0) {
        // One call, one PDU: remember where it begins (a bounded record).
        d.pdu_starts.push_back(d.queued_end);
        d.queued_end += static_cast<std::uint32_t>(total);
        if (d.pdu_starts.size() > 65536) d.pdu_starts.pop_front();
    }
    for (auto& b : buffers)
        if (!b.bytes.empty()) d.queue.push_back(Pending{std::move(b), 0, {}});
    if (done) {
        if (d.queue.empty()) {
            kernel_.post(std::move(done));
        } else {
            d.queue.back().done = std::move(done);
        }
    }
    pump(dir);
}

void SimTcpConnection::pump(int dir) {
    auto& d = dirs_[dir];
    auto self = shared_from_this();
    while (!closed_ && !d.queue.empty() && d.in_flight < cfg_.window) {
        // RFC 1122 §4.2.3.4, sender silly-window avoidance: with data in flight, a window
        // opening smaller than a segment waits for more ACKs, unless it takes all that is
        // queued. Without it, random cuts leave the window a few bytes short of full and
        // the rest goes out in slivers (a swarm run spent 35,000 segments on 4 MiB).
        const std::uint64_t usable = cfg_.window - d.in_flight;
        if (d.in_flight > 0 && usable < cfg_.mss) {
            std::uint64_t queued = 0;
            for (const auto& p : d.queue) {
                queued += p.slice.bytes.size() - p.taken;
                if (queued > usable) break;
            }
            if (queued > usable) break;
        }
        // One segment: up to MSS bytes gathered from the queued slices (or fewer, cut
        // at a random byte).
        std::size_t room = segment_room(std::min<std::uint64_t>(cfg_.mss, cfg_.window - d.in_flight));
        const auto flip = plan_bhs_flip(dir, room);
        auto seg = std::make_shared<Bytes>();
        seg->reserve(room);
        std::vector<Task> finished;
        while (!d.queue.empty() && seg->size() < room) {
            Pending& p = d.queue.front();
            const std::size_t n = std::min(room - seg->size(), p.slice.bytes.size() - p.taken);
            seg->insert(seg->end(), p.slice.bytes.begin() + static_cast<std::ptrdiff_t>(p.taken),
                        p.slice.bytes.begin() + static_cast<std::ptrdiff_t>(p.taken + n));
            p.taken += n;
            if (p.taken == p.slice.bytes.size()) {
                if (p.done) finished.push_back(std::move(p.done));
                d.queue.pop_front();
            }
        }
        const auto n = static_cast<std::uint32_t>(seg->size());
        const std::uint32_t seq = d.seq;
        d.seq += n;
        if (d.end_at && *d.end_at == d.seq) d.end_at.reset();
        if (flip) flip_in_bhs(dir, *seg, seq, *flip);
        d.in_flight += n;
        d.bytes_sent += n;
        ++d.segments;
        // Serialization at the link rate (with 58 bytes of Ethernet/IP/TCP framing),
        // then the propagation latency.
        const Nanos start = std::max(kernel_.now(), d.wire_free);
        double bandwidth = cfg_.bandwidth_bps;
        if (faults_ && kernel_.now() < faults_->bandwidth_until && faults_->bandwidth_factor > 0) {
            bandwidth /= faults_->bandwidth_factor;
            ++faults_->slowed_segments;
        }
        const auto ser = Nanos(static_cast<std::int64_t>((n + 58) * 8.0 * 1e9 / bandwidth));
        d.wire_free = start + ser;
        Nanos arrive = d.wire_free + cfg_.latency;
        if (faults_ && kernel_.now() < faults_->spike_until) arrive += faults_->extra_latency;
        arrive = std::max(arrive, d.last_arrival);
        d.last_arrival = arrive;
        kernel_.after(arrive - kernel_.now(), [self, dir, seg, seq, n] { self->arrive(dir, seg, seq, n); });
        for (auto& f : finished) kernel_.post(std::move(f));
    }
}

std::size_t SimTcpConnection::segment_room(std::size_t room) {
    // A random cut: the segment ends at a byte before the MSS (as a sender with Nagle
    // off, a shrinking window or a retransmission of part of a segment would cut it), so
    // PDUs reach the peer's framer split at every possible point.
    if (!cuts_ || cfg_.cut_pct == 0 || room < 2) return room;
    if (cuts_->below(100) >= cfg_.cut_pct) return room;
    return 1 + static_cast<std::size_t>(cuts_->below(room - 1));
}

std::vector<std::size_t> SimTcpConnection::pdu_starts_in(int dir, std::uint32_t seq, std::uint32_t n) {
    auto& starts = dirs_[dir].pdu_starts;
    // Segments arrive in order: starts before this one are behind us for good.
    while (!starts.empty() && static_cast<std::int32_t>(starts.front() - seq) < 0) starts.pop_front();
    std::vector<std::size_t> out;
    for (std::uint32_t s : starts) {
        const auto off = static_cast<std::uint32_t>(s - seq);
        if (off >= n) break;
        out.push_back(off);
    }
    return out;
}

bool SimTcpConnection::cut_inside_pdu(int dir, std::shared_ptr<Bytes>& seg, std::uint32_t seq) {
    const auto n = static_cast<std::uint32_t>(seg->size());
    if (n < 2) return false;
    // A byte strictly inside a PDU: not the first byte of one (that would be a clean cut
    // between PDUs).
    const auto starts = pdu_starts_in(dir, seq, n);
    auto is_start = [&](std::size_t k) { return std::find(starts.begin(), starts.end(), k) != starts.end(); };
    std::size_t k = 1 + (faults_->pick ? faults_->pick(n - 1) % (n - 1) : 0);
    for (std::size_t tries = 0; tries < n && is_start(k); ++tries) k = k + 1 < n ? k + 1 : 1;
    if (is_start(k)) return false;
    seg = std::make_shared<Bytes>(seg->begin(), seg->begin() + static_cast<std::ptrdiff_t>(k));
    return true;
}

std::optional<std::uint32_t> SimTcpConnection::plan_bhs_flip(int dir, std::size_t& room) {
    auto& d = dirs_[dir];
    if (d.end_at) {
        // A flipped PDU is still being sent: the segment that completes it ends there.
        room = std::min<std::size_t>(room, static_cast<std::uint32_t>(*d.end_at - d.seq));
        return std::nullopt;
    }
    // Only a full segment of bulk traffic: digests protect the full feature phase, while
    // a login goes unprotected (RFC 3720 §12.1).
    if (!faults_ || faults_->bhs_corrupt[dir] == 0 || room != cfg_.mss ||
        static_cast<std::uint32_t>(d.queued_end - d.seq) < cfg_.mss)
        return std::nullopt;
    const auto& starts = d.pdu_starts;
    for (std::size_t i = 0; i < starts.size(); ++i) {
        const auto off = static_cast<std::int32_t>(starts[i] - d.seq);
        if (off < 0) continue;
        if (static_cast<std::size_t>(off) >= room) break;
        // The PDU runs to the next one's start (one send() is one PDU). The segment that
        // completes it ends with it, so whoever reads it finds the header error with no
        // later PDU in the same read (a reader that resynchronizes after the bad header
        // would otherwise judge, or act on, what follows before it gives up).
        const std::uint32_t end = i + 1 < starts.size() ? starts[i + 1] : d.queued_end;
        const auto len = static_cast<std::uint32_t>(end - d.seq);
        if (len <= room) room = len;
        else d.end_at = end;
        return starts[i];
    }
    return std::nullopt;  // no header begins here: try the next full segment
}

void SimTcpConnection::flip_in_bhs(int dir, Bytes& seg, std::uint32_t seq, std::uint32_t at_seq) {
    // RFC 3720 §10.2.1: the BHS is the first 48 bytes of a PDU; the part of it in this
    // segment gets one bit flipped, outside TotalAHSLength and DataSegmentLength (bytes
    // 4-7): a wrong length would make the wire checker, which frames the stream on its
    // own, judge the PDUs after it before it sees the header's digest fail.
    const auto n = static_cast<std::uint32_t>(seg.size());
    const std::size_t at = static_cast<std::uint32_t>(at_seq - seq);
    if (at >= n) return;
    const std::size_t len = std::min<std::size_t>(48, n - at);
    const std::size_t choices = len > 8 ? len - 4 : std::min<std::size_t>(len, 4);
    std::size_t byte = faults_->pick ? faults_->pick(choices) % choices : 0;
    if (byte >= 4) byte += 4;
    byte += at;
    const unsigned bit = faults_->pick ? static_cast<unsigned>(faults_->pick(8) % 8) : 5;
    seg[byte] ^= static_cast<std::byte>(1u << bit);
    --faults_->bhs_corrupt[dir];
    ++faults_->bhs_flipped;
    dirs_[dir].flipped.push_back(at_seq);
}

Nanos SimTcpConnection::stall_left(int dir) const {
    if (!faults_ || kernel_.now() >= faults_->stalled_until[dir]) return Nanos(0);
    return faults_->stalled_until[dir] - kernel_.now();
}

void SimTcpConnection::arrive(int dir, std::shared_ptr<Bytes> seg, std::uint32_t seq, std::uint32_t n) {
    if (closed_) return;
    auto self = shared_from_this();
    auto& dd = dirs_[dir];
    if (stall_left(dir).count() > 0 || !dd.held.empty()) {
        // Stalled: the segment waits, behind any that wait already, and all come out
        // in order when the stall ends (a stall extended meanwhile keeps them longer).
        dd.held.push_back(Direction::Held{std::move(seg), seq, n});
        if (!dd.release_armed) {
            dd.release_armed = true;
            kernel_.after(stall_left(dir), [self, dir] { self->release(dir); });
        }
        return;
    }
    deliver(dir, std::move(seg), seq, n);
}

void SimTcpConnection::release(int dir) {
    auto& dd = dirs_[dir];
    dd.release_armed = false;
    if (closed_) return;
    if (const Nanos wait = stall_left(dir); wait.count() > 0) {
        dd.release_armed = true;
        auto self = shared_from_this();
        kernel_.after(wait, [self, dir] { self->release(dir); });
        return;
    }
    while (!dd.held.empty() && !closed_) {
        Direction::Held h = std::move(dd.held.front());
        dd.held.pop_front();
        deliver(dir, std::move(h.seg), h.seq, h.n);
    }
}

void SimTcpConnection::deliver(int dir, std::shared_ptr<Bytes> seg, std::uint32_t seq, std::uint32_t n) {
    auto self = shared_from_this();
    auto& dd = dirs_[dir];
    // Only a full-size segment (bulk traffic) is corrupted: digests protect the full
    // feature phase, while a login goes unprotected (RFC 3720 §12.1), and a flipped bit
    // there could pass as, say, another InitiatorName.
    if (faults_ && faults_->corrupt[dir] > 0 && seg->size() == cfg_.mss) {
        --faults_->corrupt[dir];
        auto bad = std::make_shared<Bytes>(*seg);
        const std::size_t at = faults_->pick ? faults_->pick(bad->size()) % bad->size() : 0;
        (*bad)[at] ^= std::byte{0x20};
        seg = std::move(bad);
    }
    // A header flipped on its way (pump() did it) arrives now: the initiator checks
    // what the target makes of it (RFC 3720 §6.7, with header digests).
    while (!dd.flipped.empty() && static_cast<std::int32_t>(dd.flipped.front() - (seq + n)) < 0) {
        dd.flipped.pop_front();
        if (faults_ && faults_->on_bhs_corrupt) faults_->on_bhs_corrupt(dir);
    }
    if (faults_ && faults_->pdu_cut[dir] > 0 && cut_inside_pdu(dir, seg, seq)) {
        // A reset in the middle of a PDU: the peer gets the bytes up to the cut, then the
        // RST; nothing after it arrives.
        --faults_->pdu_cut[dir];
        ++faults_->pdus_cut;
        const auto k = static_cast<std::uint32_t>(seg->size());
        dd.delivered = seq + k;
        tap(dir, capture::tcp_flags::PSH | capture::tcp_flags::ACK, *seg, seq);
        // Bytes still waiting in a stuck receiver's buffer come first: the stream stays
        // in order up to the cut (the swarm found the cut overtaking them).
        if (!dd.stuck.empty()) {
            dd.stuck.insert(dd.stuck.end(), seg->begin(), seg->end());
            seg = std::make_shared<Bytes>(std::move(dd.stuck));
            dd.stuck.clear();
            dd.stuck_acks = 0;
        }
        if (auto h = ends_[1 - dir]->handler_.lock()) h->on_bytes(*seg);
        reset("fault plan: cut " + std::to_string(k) + " bytes into a segment, inside a PDU");
        return;
    }
    dd.delivered = seq + n;
    tap(dir, capture::tcp_flags::PSH | capture::tcp_flags::ACK, *seg, seq);
    if (faults_ && (kernel_.now() < faults_->stuck_until[dir] || !dd.stuck.empty())) {
        // The receiver is not reading: the segment is on the wire (and in the capture)
        // but waits in its receive buffer, unacknowledged, so the window closes.
        dd.stuck.insert(dd.stuck.end(), seg->begin(), seg->end());
        dd.stuck_acks += n;
        if (!dd.stuck_armed) {
            dd.stuck_armed = true;
            const Nanos wait = std::max(Nanos(0), faults_->stuck_until[dir] - kernel_.now());
            kernel_.after(wait, [self, dir] { self->unstick(dir); });
        }
        return;
    }
    if (auto h = ends_[1 - dir]->handler_.lock()) h->on_bytes(*seg);
    // The ACK travels back and opens the window.
    kernel_.after(cfg_.latency, [self, dir, n] { self->acked(dir, n); });
}

void SimTcpConnection::unstick(int dir) {
    auto& dd = dirs_[dir];
    dd.stuck_armed = false;
    if (closed_) return;
    auto self = shared_from_this();
    if (faults_ && kernel_.now() < faults_->stuck_until[dir]) {
        // Stuck for longer meanwhile.
        dd.stuck_armed = true;
        kernel_.after(faults_->stuck_until[dir] - kernel_.now(), [self, dir] { self->unstick(dir); });
        return;
    }
    // Everything that waited comes out in one read: the framer gets many PDUs (and
    // parts of one) in a single call.
    Bytes burst = std::move(dd.stuck);
    dd.stuck.clear();
    const std::uint32_t n = dd.stuck_acks;
    dd.stuck_acks = 0;
    if (burst.empty()) return;
    if (faults_) ++faults_->stuck_reads;
    if (auto h = ends_[1 - dir]->handler_.lock()) h->on_bytes(burst);
    kernel_.after(cfg_.latency, [self, dir, n] { self->acked(dir, n); });
}

void SimTcpConnection::acked(int dir, std::uint32_t n) {
    if (const Nanos wait = stall_left(1 - dir); wait.count() > 0) {
        auto self = shared_from_this();
        kernel_.after(wait, [self, dir, n] { self->acked(dir, n); });
        return;
    }
    dirs_[dir].in_flight -= n;
    pump(dir);
}

void SimTcpConnection::close(int dir, std::string reason) {
    if (closed_) return;
    auto self = shared_from_this();
    ends_[dir]->closed_ = true;
    // FIN after what is queued has left: the peer sees the close one latency later.
    const Nanos when = std::max(kernel_.now(), dirs_[dir].wire_free) + cfg_.latency;
    kernel_.after(when - kernel_.now() + Nanos(1), [self, dir, reason] { self->fin(dir, reason); });
}

void SimTcpConnection::fin(int dir, const std::string& reason) {
    if (closed_) return;
    auto self = shared_from_this();
    const auto& d = dirs_[dir];
    // The FIN follows the data: it waits for every byte sent before it to arrive, and
    // for a stall to end.
    if (!d.queue.empty() || d.delivered != d.seq || stall_left(dir).count() > 0 || !d.stuck.empty()) {
        const Nanos wait = std::max(stall_left(dir), cfg_.latency);
        kernel_.after(wait, [self, dir, reason] { self->fin(dir, reason); });
        return;
    }
    closed_ = true;
    tap(dir, capture::tcp_flags::FIN | capture::tcp_flags::ACK, {}, d.seq);
    ends_[1 - dir]->closed_ = true;
    if (auto h = ends_[1 - dir]->handler_.lock()) h->on_closed("peer closed: " + reason);
    tap(1 - dir, capture::tcp_flags::FIN | capture::tcp_flags::ACK, {}, dirs_[1 - dir].seq);
}

void SimTcpConnection::reset(std::string reason) {
    if (closed_) return;
    closed_ = true;
    tap(0, capture::tcp_flags::RST | capture::tcp_flags::ACK, {}, dirs_[0].seq);
    auto self = shared_from_this();
    for (int d = 0; d < 2; ++d) {
        dirs_[d].queue.clear();
        dirs_[d].stuck.clear();
        dirs_[d].stuck_acks = 0;
        dirs_[d].end_at.reset();
        dirs_[d].flipped.clear();
        ends_[d]->closed_ = true;
    }
    kernel_.after(cfg_.latency, [self, reason] {
        for (int d = 0; d < 2; ++d)
            if (auto h = self->ends_[d]->handler_.lock()) h->on_closed("connection reset: " + reason);
    });
}

void SimStream::send(Slices buffers, Task done) {
    if (closed_) return;
    if (auto c = conn_.lock()) c->send(dir_, std::move(buffers), std::move(done));
}

void SimStream::close(std::string_view reason) {
    if (closed_) return;
    handler_.reset();
    if (auto c = conn_.lock()) c->close(dir_, std::string(reason));
    closed_ = true;
}

}  // namespace iscsilab::sim
