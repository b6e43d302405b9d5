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
                                                           std::shared_ptr<LinkFaults> faults) {
    std::shared_ptr<SimTcpConnection> c(new SimTcpConnection(kernel, cfg, i, t, tap, std::move(faults)));
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
                                   std::shared_ptr<LinkFaults> faults)
    : kernel_(kernel), cfg_(cfg), addr_{i, t}, tap_(tap), faults_(std::move(faults)) {
    // Initial sequence numbers: fixed per endpoint, so captures are reproducible.
    dirs_[0].seq = dirs_[0].delivered = 0x10000000u + i.port;
    dirs_[1].seq = dirs_[1].delivered = 0x20000000u + i.port;
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

void SimTcpConnection::send(int dir, std::vector<Slice> buffers, Task done) {
    if (closed_) return;
    auto& d = dirs_[dir];
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
        // One segment: up to MSS bytes gathered from the queued slices.
        const std::size_t room = std::min<std::uint64_t>(cfg_.mss, cfg_.window - d.in_flight);
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
        d.in_flight += n;
        d.bytes_sent += n;
        ++d.segments;
        // Serialization at the link rate (with 58 bytes of Ethernet/IP/TCP framing),
        // then the propagation latency.
        const Nanos start = std::max(kernel_.now(), d.wire_free);
        const auto ser = Nanos(static_cast<std::int64_t>((n + 58) * 8.0 * 1e9 / cfg_.bandwidth_bps));
        d.wire_free = start + ser;
        Nanos arrive = d.wire_free + cfg_.latency;
        if (faults_ && kernel_.now() < faults_->spike_until) arrive += faults_->extra_latency;
        arrive = std::max(arrive, d.last_arrival);
        d.last_arrival = arrive;
        kernel_.after(arrive - kernel_.now(), [self, dir, seg, seq, n] { self->arrive(dir, seg, seq, n); });
        for (auto& f : finished) kernel_.post(std::move(f));
    }
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
    dd.delivered = seq + n;
    tap(dir, capture::tcp_flags::PSH | capture::tcp_flags::ACK, *seg, seq);
    if (auto h = ends_[1 - dir]->handler_.lock()) h->on_bytes(*seg);
    // The ACK travels back and opens the window.
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
    if (!d.queue.empty() || d.delivered != d.seq || stall_left(dir).count() > 0) {
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
        ends_[d]->closed_ = true;
    }
    kernel_.after(cfg_.latency, [self, reason] {
        for (int d = 0; d < 2; ++d)
            if (auto h = self->ends_[d]->handler_.lock()) h->on_closed("connection reset: " + reason);
    });
}

void SimStream::send(std::vector<Slice> buffers, Task done) {
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
