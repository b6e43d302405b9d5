// A lock over LBA ranges of one logical unit, for COMPARE AND WRITE's atomicity (SBC-3
// §5.2: the read, the compare and the write are "an uninterrupted series of actions" with
// respect to other commands that write those LBAs). Implemented in vdisk_caw.cpp.
//
// Two modes. Commands that only write (WRITE, WRITE AND VERIFY, WRITE SAME, UNMAP) take
// their range shared: they never wait for each other, as SAM-5 lets SIMPLE tasks run in
// any order anyway. COMPARE AND WRITE takes its range exclusive: it waits for the writes
// already running on overlapping LBAs, and the writes (and other COMPARE AND WRITEs) that
// arrive after it on overlapping LBAs wait for it. Ranges that do not overlap never wait.
//
// Grants are first come, first served among requests that conflict: a write arriving
// while an overlapping COMPARE AND WRITE waits queues behind it, so a stream of writes
// cannot starve it. Requests are bounded by the commands in flight on the LU (the task
// set bounds those); the lock keeps them in two vectors that grow to that high-water mark
// and are reused, so it does not allocate per command once warm, except for a waiter's
// continuation.
//
// Completions of the block store arrive on any thread: lock() and unlock() may be called
// from any thread. A continuation never runs under the lock's mutex: lock() runs it
// inline when the range is free at once, and unlock() runs the ones it grants after
// dropping the mutex, on the unlocking thread, in the order they asked.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace iscsilab::handlers {

class LbaRangeLock {
public:
    using Ticket = std::uint64_t;  // names one granted range for unlock(); 0 names none
    enum class Mode : std::uint8_t { shared, exclusive };

    // Runs granted(ticket) once [lba, lba + blocks) is held in mode. An empty range
    // (blocks == 0) conflicts with nothing: granted(0) runs at once, and unlock(0) is a
    // no-op. A range running past the last LBA is cut at 2^64 - 1.
    void lock(std::uint64_t lba, std::uint64_t blocks, Mode mode, std::function<void(Ticket)> granted);
    // Releases a ticket that lock() granted, and runs the continuations of the waiters
    // that this frees (outside the mutex). Unlocking a ticket twice, or one never
    // granted, changes nothing.
    void unlock(Ticket ticket);

    // For tests and the management tree: ranges held and requests waiting now.
    std::size_t held() const;
    std::size_t waiting() const;

private:
    struct Range {
        std::uint64_t begin = 0, end = 0;  // [begin, end)
        Mode mode = Mode::shared;
        Ticket ticket = 0;
        bool overlaps(const Range& o) const { return begin < o.end && o.begin < end; }
        bool conflicts(const Range& o) const {
            return overlaps(o) && (mode == Mode::exclusive || o.mode == Mode::exclusive);
        }
    };
    struct Waiter {
        Range range;
        std::function<void(Ticket)> granted;
    };
    // Whether r may be granted now: no conflicting holder, and no conflicting request
    // among the first `ahead` waiters (those that asked before it). mu_ held.
    bool grantable(const Range& r, std::size_t ahead) const;

    mutable std::mutex mu_;
    std::vector<Range> held_;      // unordered; a release swaps the last one into the hole
    std::vector<Waiter> waiting_;  // in arrival order
    Ticket next_ticket_ = 1;
};

}  // namespace iscsilab::handlers
