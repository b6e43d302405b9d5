// Small objects the data path makes for every command (tasks, commands, their control
// blocks, table nodes, PDU headers) come back here when they die and are handed out
// again, instead of going to the heap each time: a steady-state READ or WRITE costs no
// allocation for them (tests/target/iscsi/test_allocations.cpp counts it).
//
// One free list per size class per thread, no locks: a block freed on another thread
// joins that thread's list. Each list keeps at most kMaxFreePerClass blocks, so memory
// that moved to an I/O thread is given back rather than hoarded. Under AddressSanitizer
// every block goes to the heap, so that a use after free is still caught.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace iscsilab {

namespace block_cache {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kEnabled = false;
#else
inline constexpr bool kEnabled = true;
#endif

inline constexpr std::size_t kGranule = 16;
inline constexpr std::size_t kMaxBlock = 1024;  // larger objects go to the heap
inline constexpr std::size_t kClasses = kMaxBlock / kGranule;
inline constexpr std::size_t kMaxFreePerClass = 4096;

struct FreeLists {
    struct Node {
        Node* next;
    };
    Node* head[kClasses] = {};
    std::uint32_t count[kClasses] = {};
    ~FreeLists() {
        for (std::size_t c = 0; c < kClasses; ++c)
            while (Node* n = head[c]) {
                head[c] = n->next;
                ::operator delete(static_cast<void*>(n));
            }
    }
};

inline FreeLists& lists() {
    thread_local FreeLists l;
    return l;
}

inline void* get(std::size_t bytes) {
    if (!kEnabled || bytes > kMaxBlock || bytes == 0) return ::operator new(bytes);
    const std::size_t c = (bytes - 1) / kGranule;
    FreeLists& l = lists();
    if (FreeLists::Node* n = l.head[c]) {
        l.head[c] = n->next;
        --l.count[c];
        return n;
    }
    return ::operator new((c + 1) * kGranule);
}

inline void put(void* p, std::size_t bytes) noexcept {
    if (!kEnabled || bytes > kMaxBlock || bytes == 0) return ::operator delete(p);
    const std::size_t c = (bytes - 1) / kGranule;
    FreeLists& l = lists();
    if (l.count[c] >= kMaxFreePerClass) return ::operator delete(p);
    auto* n = static_cast<FreeLists::Node*>(p);
    n->next = l.head[c];
    l.head[c] = n;
    ++l.count[c];
}

}  // namespace block_cache

// An allocator for std::allocate_shared, node containers and short vectors: what fits a
// block comes from the block cache, anything larger from the heap.
template <class T>
struct CachedAllocator {
    using value_type = T;
    static_assert(alignof(T) <= alignof(std::max_align_t), "the block cache hands out max_align_t-aligned blocks");
    CachedAllocator() noexcept = default;
    template <class U>
    CachedAllocator(const CachedAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(block_cache::get(n * sizeof(T))); }
    void deallocate(T* p, std::size_t n) noexcept { block_cache::put(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const CachedAllocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace iscsilab
