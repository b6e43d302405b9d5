// Test doubles for the core's ports: a manual loop (Executor + Clock), an in-memory byte
// stream, an in-memory block store, and a tiny initiator that speaks through the codec.
#pragma once

#include <deque>
#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <ostream>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "target/iscsi/framer.hpp"
#include "target/iscsi/params.hpp"
#include "target/iscsi/pdu.hpp"
#include "target/ports.hpp"

namespace iscsilab::iscsi {
inline std::ostream& operator<<(std::ostream& o, Opcode op) { return o << to_string(op); }
inline std::ostream& operator<<(std::ostream& o, SessionType t) {
    return o << (t == SessionType::Discovery ? "Discovery" : "Normal");
}
}  // namespace iscsilab::iscsi

namespace iscsilab::testing {

class ManualLoop final : public Executor, public Clock {
public:
    void post(Task fn) override { queue_.push_back(std::move(fn)); }
    Nanos now() const override { return now_; }
    TimerId after(Nanos d, Task fn) override {
        std::uint64_t id = next_++;
        timers_.emplace(now_ + d, std::make_pair(id, std::move(fn)));
        return TimerId{id};
    }
    void cancel(TimerId id) override {
        for (auto it = timers_.begin(); it != timers_.end(); ++it)
            if (it->second.first == id.value) {
                timers_.erase(it);
                return;
            }
    }
    void run() {
        while (!queue_.empty()) {
            Task fn = std::move(queue_.front());
            queue_.pop_front();
            fn();
        }
    }
    void advance(Nanos d) {
        const Nanos end = now_ + d;
        for (;;) {
            run();
            auto it = timers_.begin();
            if (it == timers_.end() || it->first > end) break;
            now_ = it->first;
            Task fn = std::move(it->second.second);
            timers_.erase(it);
            fn();
        }
        now_ = end;
        run();
    }

private:
    std::deque<Task> queue_;
    Nanos now_{0};
    std::multimap<Nanos, std::pair<std::uint64_t, Task>> timers_;
    std::uint64_t next_ = 1;
};

// Bytes of a MemoryStore named as a WireSource (MemoryStore::offer_sources): what a
// MemoryStream that takes them copies out when it sends the slice.
class MemorySource final : public WireSource {
public:
    MemorySource(const Bytes& data, std::uint64_t offset) : data_(data), offset_(offset) {}
    std::span<const std::byte> at(std::uint64_t from, std::size_t n) const {
        return std::span<const std::byte>(data_).subspan(offset_ + from, n);
    }

private:
    const Bytes& data_;
    std::uint64_t offset_;
};

class MemoryStream final : public ByteStream {
public:
    explicit MemoryStream(Executor& ex) : ex_(ex) {}
    void set_handler(std::weak_ptr<Handler> h) override { handler_ = std::move(h); }
    void send(Slices buffers, Task done) override {
        for (const auto& s : buffers) {
            if (!s.source) {
                out.insert(out.end(), s.bytes.begin(), s.bytes.end());
                continue;
            }
            // Only a stream that said it takes sources is handed one, and only of its kind.
            const auto* mem = dynamic_cast<const MemorySource*>(s.source.get());
            if (!wire_sources || !mem) throw std::logic_error("a slice from a source this stream cannot send");
            auto b = mem->at(s.source_offset, s.bytes.size());
            out.insert(out.end(), b.begin(), b.end());
            sourced_bytes += b.size();
        }
        if (done) ex_.post(std::move(done));
    }
    bool takes_wire_sources() const override { return wire_sources; }
    void close(std::string_view reason) override {
        closed = true;
        close_reason = std::string(reason);
    }
    std::string peer() const override { return peer_name; }
    std::string local() const override { return "10.0.0.1:3260"; }
    std::string peer_name = "10.0.0.2:50000";  // another address: another initiator's host
    void inject(std::span<const std::byte> b) {
        if (auto h = handler_.lock()) h->on_bytes(b);
    }
    // As TcpStream reads: `read` bytes at a time, what the handler's receive_into()
    // offers first (counted in placed_bytes), the rest of each read by on_bytes.
    void inject_in_reads(std::span<const std::byte> b, std::size_t read) {
        while (!b.empty()) {
            auto h = handler_.lock();
            if (!h) return;
            const std::size_t got = std::min(read, b.size());
            const std::span<std::byte> room = h->receive_into();
            const std::size_t placed = std::min(got, room.size());
            if (placed > 0) {
                std::copy_n(b.begin(), placed, room.begin());
                placed_bytes += placed;
                h->on_placed(placed);
            }
            if (got > placed) h->on_bytes(b.subspan(placed, got - placed));
            b = b.subspan(got);
        }
    }
    std::size_t placed_bytes = 0;  // bytes inject_in_reads put at receive_into()
    void peer_close() {
        if (auto h = handler_.lock()) h->on_closed("peer closed");
    }
    void hold_input(Nanos) override { ++holds; }
    Bytes out;
    int holds = 0;  // hold_input calls
    bool wire_sources = false;       // takes MemorySource slices
    std::size_t sourced_bytes = 0;   // bytes it sent from them
    bool closed = false;
    std::string close_reason;

private:
    Executor& ex_;
    std::weak_ptr<Handler> handler_;
};

class MemoryStore final : public BlockStore {
public:
    explicit MemoryStore(std::uint64_t size) : data(size) {}
    std::uint64_t size_bytes() const override { return data.size(); }
    void submit(const BlockRequest& r, std::function<void(BlockStatus)> done) override {
        ++requests;
        if (fail_next) {
            fail_next = false;
            return done(BlockStatus::medium_error);
        }
        if (r.op == BlockOp::read)
            std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(r.offset), r.buffer.size(), r.buffer.begin());
        else if (r.op == BlockOp::write)
            std::copy(r.buffer.begin(), r.buffer.end(), data.begin() + static_cast<std::ptrdiff_t>(r.offset));
        else if (r.op == BlockOp::flush)
            ++flushes;
        if (hold) held.push_back([done] { done(BlockStatus::ok); });
        else done(BlockStatus::ok);
    }
    // Names any read (MemorySource) when offer_sources is set, as a store backed by a
    // page cache names what it holds.
    std::shared_ptr<const WireSource> wire_source(std::uint64_t offset, std::uint64_t length) override {
        if (!offer_sources || offset + length > data.size()) return nullptr;
        ++sources;
        return std::make_shared<const MemorySource>(data, offset);
    }
    void release() {
        auto h = std::move(held);
        held.clear();
        for (auto& f : h) f();
    }
    Bytes data;
    int requests = 0, flushes = 0, sources = 0;
    bool fail_next = false;
    bool offer_sources = false;
    bool hold = false;  // keep completions until release()
    std::vector<std::function<void()>> held;
};

class FixedRandom final : public Random {
public:
    void fill(std::span<std::byte> out) override {
        for (auto& b : out) b = static_cast<std::byte>(state_ = state_ * 1103515245u + 12345u);
    }

private:
    std::uint32_t state_ = 1;
};

inline Bytes text_bytes(const std::vector<iscsi::KeyValue>& kv) {
    std::string s = iscsi::encode_text(kv);
    const auto* first = reinterpret_cast<const std::byte*>(s.data());
    return Bytes(first, first + s.size());
}

inline Bytes frame(const iscsi::Bhs& bhs, std::span<const std::byte> data = {}, iscsi::DigestSettings d = {}) {
    Bytes out;
    for (const auto& s : iscsi::frame_pdu(bhs, Slice::copy_of(data), d))
        out.insert(out.end(), s.bytes.begin(), s.bytes.end());
    return out;
}

// Parses everything the target wrote so far into PDUs.
inline std::vector<iscsi::Pdu> drain(MemoryStream& s, iscsi::DigestSettings d = {}) {
    std::vector<iscsi::Pdu> pdus;
    iscsi::PduReader r([&](iscsi::Pdu&& p, iscsi::FrameError e) {
        if (e == iscsi::FrameError::none) pdus.push_back(std::move(p));
        return true;
    });
    r.set_digests(d);
    r.set_max_data_segment_length(1u << 24);
    r.feed(s.out);
    s.out.clear();
    return pdus;
}

inline std::map<std::string, std::string> keys_of(const iscsi::Pdu& p) {
    std::map<std::string, std::string> m;
    for (auto& kv : iscsi::parse_text(p.data).pairs) m[kv.key] = kv.value;
    return m;
}

}  // namespace iscsilab::testing
