#include "target/buffer_pool.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "target/block_cache.hpp"

namespace iscsilab {

namespace {
constexpr unsigned kHeapClass = BufferPool::kClasses;  // not pooled

std::byte* aligned_block(std::size_t bytes) {
    return static_cast<std::byte*>(::operator new(bytes, std::align_val_t{BufferPool::kAlign}));
}
void free_block(std::byte* p) { ::operator delete(p, std::align_val_t{BufferPool::kAlign}); }
}  // namespace

Buffer::~Buffer() { pool_.give_back(data_, class_, size_); }

MemoryReservation& MemoryReservation::operator=(MemoryReservation&& o) noexcept {
    if (this != &o) {
        release();
        pool_ = o.pool_;
        share_ = std::move(o.share_);
        bytes_ = o.bytes_;
        o.pool_ = nullptr;
        o.bytes_ = 0;
    }
    return *this;
}

void MemoryReservation::release() {
    if (pool_) pool_->reserved_.fetch_sub(bytes_, std::memory_order_relaxed);
    if (share_) share_->held.fetch_sub(bytes_, std::memory_order_relaxed);
    pool_ = nullptr;
    share_.reset();
    bytes_ = 0;
}

std::size_t BufferPool::footprint(std::size_t n) {
    for (unsigned c = 0; c < kClasses; ++c)
        if (class_bytes(c) >= n) return class_bytes(c);
    return (n + kAlign - 1) / kAlign * kAlign;
}

namespace {
// Adds bytes to counter unless that passes bound.
bool claim(std::atomic<std::size_t>& counter, std::size_t bytes, std::size_t bound) {
    std::size_t now = counter.load(std::memory_order_relaxed);
    do {
        if (bytes > bound || now > bound - bytes) return false;
    } while (!counter.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
    return true;
}
}  // namespace

std::optional<MemoryReservation> BufferPool::reserve(std::size_t n, const std::shared_ptr<MemoryShare>& share) {
    const std::size_t bytes = footprint(n);
    const std::size_t bound = max_reserved_.load(std::memory_order_relaxed);
    if (share && !claim(share->held, bytes, bound == SIZE_MAX ? bound : bound / 2)) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
    }
    if (!claim(reserved_, bytes, bound)) {
        if (share) share->held.fetch_sub(bytes, std::memory_order_relaxed);
        refused_.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
    }
    return MemoryReservation(this, share, bytes);
}

BufferPool::~BufferPool() {
    for (auto& list : idle_)
        for (std::byte* p : list) free_block(p);
}

BufferPool& BufferPool::instance() {
    // Never destroyed: buffers may still be released by threads that outlive main's
    // objects (an I/O pool draining at exit).
    static BufferPool* pool = new BufferPool(256u << 20);
    return *pool;
}

BufferPtr BufferPool::get(std::size_t n) {
    unsigned c = 0;
    while (c < kClasses && class_bytes(c) < n) ++c;
    std::byte* p = nullptr;
    {
        std::lock_guard lock(mu_);
        ++stats_.gets;
        ++stats_.class_gets[c];
        stats_.in_use_bytes += n;
        stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
        if (c < kClasses && !idle_[c].empty()) {
            p = idle_[c].back();
            idle_[c].pop_back();
            stats_.idle_bytes -= class_bytes(c);
            ++stats_.hits;
            ++stats_.class_hits[c];
        }
    }
    if (!p) p = aligned_block(c < kClasses ? class_bytes(c) : (n + kAlign - 1) / kAlign * kAlign);
    try {
        // The Buffer and its control block come from the block cache: no heap allocation
        // once the pool is warm.
        struct Made : Buffer {
            Made(BufferPool& pool, std::byte* d, std::size_t s, unsigned k) : Buffer(pool, d, s, k) {}
        };
        return std::allocate_shared<Made>(CachedAllocator<Made>{}, *this, p, n, c < kClasses ? c : kHeapClass);
    } catch (...) {
        give_back(p, c < kClasses ? c : kHeapClass, n);
        throw;
    }
}

BufferPtr BufferPool::copy_of(std::span<const std::byte> bytes) {
    BufferPtr b = get(bytes.size());
    if (!bytes.empty()) std::memcpy(b->data(), bytes.data(), bytes.size());
    return b;
}

void BufferPool::give_back(std::byte* data, unsigned size_class, std::size_t bytes_in_use) {
    {
        std::lock_guard lock(mu_);
        stats_.in_use_bytes -= bytes_in_use;
        if (size_class < kClasses && stats_.idle_bytes + class_bytes(size_class) <= max_idle_) {
            idle_[size_class].push_back(data);
            stats_.idle_bytes += class_bytes(size_class);
            return;
        }
    }
    free_block(data);
}

DataBuffer& DataBuffer::operator=(std::span<const std::byte> bytes) {
    buf_ = BufferPool::instance().copy_of(bytes);
    return *this;
}

void DataBuffer::allocate(std::size_t n) { buf_ = BufferPool::instance().get(n); }

void DataBuffer::resize(std::size_t n) {
    BufferPtr b = BufferPool::instance().get(n);
    const std::size_t keep = std::min(n, size());
    if (keep) std::memcpy(b->data(), data(), keep);
    if (n > keep) std::memset(b->data() + keep, 0, n - keep);
    buf_ = std::move(b);
}

void BufferPool::set_max_idle_bytes(std::size_t n) {
    std::vector<std::byte*> drop;
    {
        std::lock_guard lock(mu_);
        max_idle_ = n;
        for (unsigned c = kClasses; c-- > 0 && stats_.idle_bytes > max_idle_;)
            while (!idle_[c].empty() && stats_.idle_bytes > max_idle_) {
                drop.push_back(idle_[c].back());
                idle_[c].pop_back();
                stats_.idle_bytes -= class_bytes(c);
            }
    }
    for (std::byte* p : drop) free_block(p);
}

BufferPool::Stats BufferPool::stats() const {
    std::lock_guard lock(mu_);
    Stats s = stats_;
    s.max_idle_bytes = max_idle_;
    s.reserved_bytes = reserved_.load(std::memory_order_relaxed);
    s.max_reserved_bytes = max_reserved_.load(std::memory_order_relaxed);
    s.refused = refused_.load(std::memory_order_relaxed);
    return s;
}

}  // namespace iscsilab
