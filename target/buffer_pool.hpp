// The data buffers of commands: what a READ fills and Data-In sends, what Data-Out
// fills and a WRITE stores. One pool for the process, reused: a buffer is aligned to
// 4096 bytes (the largest logical block size, and what O_DIRECT asks of memory), is
// never zero-filled (a read overwrites it, a write's data lands in it), and goes back to
// its size class when the last reference to it goes. The pool keeps at most a set number
// of idle bytes; its figures appear in the management tree.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace iscsilab {

class BufferPool;

// What one initiator's commands hold of the bound, across its sessions: no initiator may
// hold more than half of it, so that one that sends a little data for many large
// writes and then stops cannot starve the others.
struct MemoryShare {
    std::atomic<std::size_t> held{0};
};

// A claim on the bytes that commands' data buffers may hold at once (SCST's
// scst_max_cmd_mem): taken before memory is committed, given back when what it covers
// is gone. Move-only; empty when default-made.
class MemoryReservation {
public:
    MemoryReservation() = default;
    MemoryReservation(MemoryReservation&& o) noexcept : pool_(o.pool_), share_(std::move(o.share_)), bytes_(o.bytes_) {
        o.pool_ = nullptr;
        o.bytes_ = 0;
    }
    MemoryReservation& operator=(MemoryReservation&& o) noexcept;
    MemoryReservation(const MemoryReservation&) = delete;
    MemoryReservation& operator=(const MemoryReservation&) = delete;
    ~MemoryReservation() { release(); }
    explicit operator bool() const { return pool_ != nullptr; }
    std::size_t bytes() const { return bytes_; }
    void release();

private:
    friend class BufferPool;
    MemoryReservation(BufferPool* pool, std::shared_ptr<MemoryShare> share, std::size_t bytes)
        : pool_(pool), share_(std::move(share)), bytes_(bytes) {}
    BufferPool* pool_ = nullptr;
    std::shared_ptr<MemoryShare> share_;
    std::size_t bytes_ = 0;
};

class Buffer {
public:
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();

    std::byte* data() { return data_; }
    const std::byte* data() const { return data_; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::byte* begin() { return data_; }
    std::byte* end() { return data_ + size_; }
    const std::byte* begin() const { return data_; }
    const std::byte* end() const { return data_ + size_; }
    std::byte& operator[](std::size_t i) { return data_[i]; }
    const std::byte& operator[](std::size_t i) const { return data_[i]; }
    operator std::span<std::byte>() { return {data_, size_}; }
    operator std::span<const std::byte>() const { return {data_, size_}; }
    std::vector<std::byte> to_vector() const { return {data_, data_ + size_}; }
    // Shortens the buffer (never grows it past what it was made with).
    void shrink(std::size_t n) {
        if (n < size_) size_ = n;
    }
    // The buffer carries the claim that admitted it, and gives it back when it goes
    // (after the last Data-In that points into it has left).
    void hold(MemoryReservation r) { reservation_ = std::move(r); }

private:
    friend class BufferPool;
    Buffer(BufferPool& pool, std::byte* data, std::size_t size, unsigned size_class)
        : pool_(pool), data_(data), size_(size), class_(size_class) {}
    BufferPool& pool_;
    std::byte* data_;
    std::size_t size_;
    unsigned class_;
    MemoryReservation reservation_;
};

using BufferPtr = std::shared_ptr<Buffer>;

// A command's Data-Out as a value with the shape of the byte vector it replaces: the
// transport sizes it once (allocate) and the data lands in it; handlers read it.
class DataBuffer {
public:
    DataBuffer() = default;
    DataBuffer(BufferPtr b) : buf_(std::move(b)) {}
    DataBuffer& operator=(std::span<const std::byte> bytes);
    // n bytes from the pool, contents unspecified (what was there before is dropped).
    void allocate(std::size_t n);
    // As a byte vector's resize: keeps what fits, zeros what is added (a copy).
    void resize(std::size_t n);

    std::size_t size() const { return buf_ ? buf_->size() : 0; }
    bool empty() const { return size() == 0; }
    std::byte* data() { return buf_ ? buf_->data() : nullptr; }
    const std::byte* data() const { return buf_ ? buf_->data() : nullptr; }
    std::byte* begin() { return data(); }
    std::byte* end() { return data() + size(); }
    const std::byte* begin() const { return data(); }
    const std::byte* end() const { return data() + size(); }
    std::byte& operator[](std::size_t i) { return buf_->data()[i]; }
    const std::byte& operator[](std::size_t i) const { return buf_->data()[i]; }
    operator std::span<std::byte>() { return {data(), size()}; }
    operator std::span<const std::byte>() const { return {data(), size()}; }
    const BufferPtr& buffer() const { return buf_; }

private:
    BufferPtr buf_;
};

class BufferPool {
public:
    static constexpr std::size_t kAlign = 4096;
    static constexpr unsigned kClasses = 13;  // 4 KiB, 8 KiB, ... 16 MiB
    static constexpr std::size_t kMaxPooled = kAlign << (kClasses - 1);

    struct Stats {
        std::uint64_t gets = 0, hits = 0;        // hits: served from an idle buffer
        std::uint64_t in_use_bytes = 0, peak_in_use_bytes = 0;
        std::uint64_t idle_bytes = 0, max_idle_bytes = 0;
        // Reservations (MemoryReservation): what commands hold now, the bound, and how
        // many were refused because the bound was reached.
        std::uint64_t reserved_bytes = 0, max_reserved_bytes = 0, refused = 0;
        // Per size class (the last one: larger than the largest class, from the heap),
        // as SCST's sgv cache counts them: requests and hits.
        std::uint64_t class_gets[kClasses + 1] = {}, class_hits[kClasses + 1] = {};
    };
    static std::size_t class_bytes(unsigned c) { return kAlign << c; }
    // What a buffer of n bytes takes: its size class, or n rounded to kAlign above them.
    static std::size_t footprint(std::size_t n);

    explicit BufferPool(std::size_t max_idle_bytes) : max_idle_(max_idle_bytes) {}
    ~BufferPool();

    // The process's pool (256 MiB of idle buffers at most, set_max_idle_bytes to change).
    static BufferPool& instance();

    // A buffer of n bytes, contents unspecified. Larger than the largest class: from the
    // heap, aligned all the same, and freed when it goes.
    BufferPtr get(std::size_t n);
    // A buffer holding a copy of bytes.
    BufferPtr copy_of(std::span<const std::byte> bytes);

    void set_max_idle_bytes(std::size_t n);
    Stats stats() const;

    // A claim on footprint(n) bytes, or nothing when the bound would be passed (the
    // caller refuses the command: SAM-5 §5.3.1 TASK SET FULL or BUSY). Lock-free.
    // With a share, also at most half the bound for that share.
    std::optional<MemoryReservation> reserve(std::size_t n, const std::shared_ptr<MemoryShare>& share = {});
    // No bound unless set (the runtime sets one: `iscsilab serve --max-cmd-mem`).
    void set_max_reserved_bytes(std::size_t n) { max_reserved_.store(n, std::memory_order_relaxed); }
    std::size_t max_reserved_bytes() const { return max_reserved_.load(std::memory_order_relaxed); }

private:
    friend class Buffer;
    friend class MemoryReservation;
    void give_back(std::byte* data, unsigned size_class, std::size_t bytes_in_use);

    mutable std::mutex mu_;
    std::vector<std::byte*> idle_[kClasses];
    std::size_t max_idle_;
    Stats stats_{};
    std::atomic<std::size_t> reserved_{0};
    std::atomic<std::size_t> max_reserved_{SIZE_MAX};
    std::atomic<std::uint64_t> refused_{0};
};

}  // namespace iscsilab
