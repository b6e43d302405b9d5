// BlockStore over a block device or a file opened with O_DIRECT, for vdisk_blockio and
// vdisk_fileio with o_direct=1 (SCST's "BLOCKIO on files"): reads, writes and flushes go
// through one io_uring per store, past the page cache; WRITE SAME, unmap and the
// provisioning map run the synchronous helpers of hil/store_io.hpp on the IoPool.
//
// O_DIRECT wants the buffer address, the offset and the length aligned. Offsets and
// lengths are the vdisk's whole blocks, and the factory refuses a block size below the
// alignment (hil/serve.cpp), so a request that is not aligned there fails with io_error.
// A buffer at an unaligned address goes through an aligned bounce buffer (a copy in for a
// write, a copy out for a read), counted by bounced(); aligned buffers go straight to the
// kernel.
//
// A request submitted on a reactor's thread goes into a ring of that reactor's own, which
// signals its completions on an eventfd the reactor watches: the reactor takes them and
// runs their done callbacks itself. With one ring and a thread to wait on it, at 4 KiB
// writes, 32 outstanding, on a loop device, that thread took a fifth of the process's CPU
// and the mutex it shared with the reactor (futex waits on both sides) an eighth. Requests
// from other threads go through the store's own ring and its completion thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "hil/file_store.hpp"
#include "target/ports.hpp"

namespace iscsilab::hil {

class Reactor;

class UringStore final : public BlockStore {
public:
    // Opens path (a block device or a regular file; a sparse file of create_size bytes is
    // made when it does not exist and create_size > 0, as FileStore does) with O_DIRECT,
    // read-only when read_only. queue_depth bounds the requests in the ring at once; more
    // wait their turn in the store. Throws std::runtime_error with the reason on failure.
    UringStore(const std::string& path, bool read_only, std::uint64_t create_size, IoPool& pool,
               unsigned queue_depth = 128);
    // Waits until every request submitted so far has completed and its done has run, then
    // tears the ring down. (When the last owner lets go from inside one of this store's own
    // done callbacks, the rest completes on the store's thread, which then ends.)
    ~UringStore() override;

    std::uint64_t size_bytes() const override;
    std::uint64_t refresh_size() override;
    void submit(const BlockRequest& req, std::function<void(BlockStatus)> done) override;
    void provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                      std::function<void(BlockStatus, std::vector<Extent>)> done) override;

    // What O_DIRECT wants here: offsets and lengths a multiple of alignment() (the logical
    // block size of a device, STATX_DIOALIGN's offset alignment of a file, else 4096), buffer
    // addresses a multiple of memory_alignment().
    std::uint32_t alignment() const;
    std::uint32_t memory_alignment() const;
    bool block_device() const;
    // Requests that went through a bounce buffer because their buffer was not aligned.
    std::uint64_t bounced() const;
    // Rings made for reactors that submitted here (one each).
    std::size_t reactor_rings() const;
    // Calls into the kernel that handed it requests through the reactors' rings: the
    // requests of one reactor round go in one call.
    std::uint64_t reactor_submit_calls() const;

private:
    struct Ring;  // the descriptor, a ring, and its completion thread or reactor (uring_store.cpp)
    // The ring for a request submitted on this thread: its reactor's, else ring_.
    Ring& ring_here();
    // The ring of reactor, made on its first request here (ring_ if one cannot be made).
    Ring& find_ring(Reactor& reactor);
    static inline std::atomic<std::uint64_t> next_uid_{1};
    const std::uint64_t uid_ = next_uid_.fetch_add(1);
    std::shared_ptr<Ring> ring_;
    mutable std::mutex rings_mu_;
    std::vector<std::pair<std::uint64_t, std::shared_ptr<Ring>>> reactor_rings_;  // by Reactor::id
};

}  // namespace iscsilab::hil
