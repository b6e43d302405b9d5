// The four seams through which the target core sees the world (DESIGN.md, "The seams").
// The core never touches a socket, a thread, a file descriptor or the wall clock: the
// simulation binds these ports to SystemC, the HIL runtime to epoll, sockets and files.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "target/block_cache.hpp"

namespace iscsilab {

using Nanos = std::chrono::nanoseconds;
using Task = std::function<void()>;
using Bytes = std::vector<std::byte>;

// Runs work on the loop that owns a connection and its session. post() never runs fn
// inline: a completion always arrives on a fresh stack, in simulation and in HIL alike.
class Executor {
public:
    virtual ~Executor() = default;
    virtual void post(Task fn) = 0;
};

struct TimerId {
    std::uint64_t value = 0;
    explicit operator bool() const { return value != 0; }
};

// Time as the port's owner defines it: simulated time, or a monotonic clock in HIL.
// Timer callbacks run on the executor that owns the clock.
class Clock {
public:
    virtual ~Clock() = default;
    virtual Nanos now() const = 0;
    virtual TimerId after(Nanos delay, Task fn) = 0;
    virtual void cancel(TimerId id) = 0;
};

// Where a read's bytes already lie, for a stream that sends them from there without a copy
// through our memory (HIL: sendfile(2) from a file's page cache, fabric/tcp/file_source.hpp).
// The core only carries it from the store that made it to the stream that knows its kind.
class WireSource {
public:
    virtual ~WireSource() = default;
};

// A view of bytes with the owner that keeps them alive until the transport is done,
// so Data-In can leave from the buffer that the block store filled.
struct Slice {
    Slice() = default;
    Slice(std::shared_ptr<const void> keep, std::span<const std::byte> b, bool is_bounded = false)
        : owner(std::move(keep)), bytes(b), bounded(is_bounded) {}

    std::shared_ptr<const void> owner;
    std::span<const std::byte> bytes;
    // Its bytes are a command's data buffer, already counted against the bound on data
    // buffers (BufferPool::reserve): a stream need not count them again.
    bool bounded = false;
    // Set: the bytes were never read into memory. The stream sends bytes.size() bytes of
    // source from source_offset on, and never reads bytes (only a stream whose
    // ByteStream::takes_wire_sources() says so is handed such a slice).
    std::shared_ptr<const WireSource> source;
    std::uint64_t source_offset = 0;

    static Slice copy_of(std::span<const std::byte> b) {
        auto keep = std::make_shared<Bytes>(b.begin(), b.end());
        return Slice{keep, std::span<const std::byte>(keep->data(), keep->size())};
    }
    static Slice own(Bytes&& b) {
        auto keep = std::make_shared<Bytes>(std::move(b));
        return Slice{keep, std::span<const std::byte>(keep->data(), keep->size())};
    }
};

// The pieces of what one send hands to a stream, in order. A handful at a time: the
// block cache serves them (target/block_cache.hpp).
using Slices = std::vector<Slice, CachedAllocator<Slice>>;

// One direction-pair of an ordered byte stream (a TCP connection, real or simulated).
class ByteStream {
public:
    struct Handler {
        virtual ~Handler() = default;
        virtual void on_bytes(std::span<const std::byte> bytes) = 0;
        virtual void on_closed(std::string_view reason) = 0;
        // Where the next bytes of the stream belong, when the handler already knows (the
        // rest of a data segment whose header is in): a stream that can receives them
        // there itself, so that the kernel's copy is the only one, and tells on_placed
        // how many it wrote. Empty: no such place; the bytes come by on_bytes. The span
        // is valid until the next call into the handler.
        virtual std::span<std::byte> receive_into() { return {}; }
        // n bytes, at most receive_into().size(), were written at receive_into(): the
        // next n bytes of the stream.
        virtual void on_placed(std::size_t n) { (void)n; }
    };
    virtual ~ByteStream() = default;
    // Handler events arrive on the stream owner's executor until on_closed, or until
    // set_handler(nullptr). The handler is held weakly: it may go away first.
    virtual void set_handler(std::weak_ptr<Handler> handler) = 0;
    // Queue buffers in order; done (may be empty) runs once they were handed to the wire.
    virtual void send(Slices buffers, Task done) = 0;
    virtual void close(std::string_view reason) = 0;
    // For the management tree and logs ("127.0.0.1:51234"), and SendTargets' TargetAddress
    // (our own end of the connection).
    virtual std::string peer() const = 0;
    virtual std::string local() const = 0;
    // Read nothing more from the peer for a while: a peer whose input is mostly ignored
    // (a flood of commands outside the CmdSN window) gets less of our time. A stream
    // that cannot may ignore it.
    virtual void hold_input(Nanos) {}
    // Whether send() takes slices with a WireSource (Slice::source) that it knows.
    virtual bool takes_wire_sources() const { return false; }
};

enum class BlockOp : std::uint8_t { read, write, flush, unmap, write_same };

enum class BlockStatus : std::uint8_t {
    ok,
    medium_error,     // unrecovered read error / write error on the range
    io_error,         // the device failed the request as a whole
    offline,          // the device is gone
};

// write_same: buffer holds one logical block, written over and over to fill
// [offset, offset + length) (SBC-3 WRITE SAME). unmap: the range is deallocated where the
// store can, and reads as zeros afterwards in any case (what LBPRZ=1 promises); buffer is
// empty. fua on either: durable before done.
struct BlockRequest {
    BlockOp op = BlockOp::read;
    std::uint64_t offset = 0;   // bytes
    std::uint64_t length = 0;   // bytes
    std::span<std::byte> buffer; // read: filled; write/write_same: source. Owned by the caller
                                 // and alive until done runs.
    bool fua = false;            // force unit access: durable before done
};

// A run of bytes of a store with one provisioning state (SBC-3 §4.7.2): mapped (it holds
// data), or deallocated (unmapped, or never written on a sparse store: it reads as zeros).
struct Extent {
    std::uint64_t offset = 0, length = 0;  // bytes
    bool mapped = true;
};

// Backing storage of a logical unit. done may run on any thread: the core hops back
// onto its own executor before it touches session state.
class BlockStore {
public:
    virtual ~BlockStore() = default;
    virtual std::uint64_t size_bytes() const = 0;
    // Re-reads the size of the backing file or device (SCST's resync_size).
    virtual std::uint64_t refresh_size() { return size_bytes(); }
    virtual void submit(const BlockRequest& req, std::function<void(BlockStatus)> done) = 0;
    // For a read whose bytes only go to a stream that takes wire sources, with no digest
    // computed over them: where [offset, offset + length) lies, to be sent from there, or
    // null when the store has no such place or it would not pay (then submit the read).
    // Answered at once, without blocking. The bytes are those of the store when the stream
    // sends them: a READ that overlaps another task's WRITE may see either, as with any
    // two overlapping tasks of a task set (SAM-5 §8.6).
    virtual std::shared_ptr<const WireSource> wire_source(std::uint64_t offset, std::uint64_t length) {
        (void)offset;
        (void)length;
        return nullptr;
    }
    // Which parts of [offset, offset + length) are mapped and which deallocated, for GET
    // LBA STATUS: consecutive extents from offset on, at most max_extents of them, so the
    // answer may stop short of offset + length. done may run on any thread, like submit's.
    // A store that cannot tell says everything is mapped (always true of a fully
    // provisioned store, and allowed of any).
    virtual void provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                              std::function<void(BlockStatus, std::vector<Extent>)> done) {
        (void)max_extents;
        done(BlockStatus::ok, {Extent{offset, length, true}});
    }
};

// Small named records that outlive the process, as SCST keeps persistent reservations
// with APTPL in /var/lib/scst/pr/<device> (SPC-4 §5.13.5): files in HIL, memory in
// simulation. Names are device names.
class StateStore {
public:
    virtual ~StateStore() = default;
    // The record saved under name; empty when there is none. Read once, when the device
    // is created.
    virtual Bytes load(const std::string& name) = 0;
    // Replaces the record durably (empty bytes remove it). done(ok) runs once, on any
    // thread, after the record is on stable storage or the attempt failed.
    virtual void save(const std::string& name, Bytes bytes, std::function<void(bool ok)> done) = 0;
};

// Randomness for challenges and ISIDs/TSIHs: the seeded stream in simulation, the
// kernel's random source in HIL.
class Random {
public:
    virtual ~Random() = default;
    virtual void fill(std::span<std::byte> out) = 0;
};

}  // namespace iscsilab
