// BlockStore over a file or block device opened buffered (vdisk_fileio): what the page
// cache answers at once is done by the thread that submits it; the rest, pread/pwrite and
// fdatasync, runs on a small pool of I/O threads, so the reactors do not block on the disk.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fabric/tcp/file_source.hpp"
#include "target/ports.hpp"

namespace iscsilab::hil {

class IoPool {
public:
    explicit IoPool(unsigned threads);
    ~IoPool();
    void run(std::function<void()> job);

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

// When a buffered write is made by the submitting thread (FileStore::submit).
struct FileStoreOptions {
    // Writes up to this size, without FUA, are made inline. A copy into the page cache of
    // 256 KiB takes tens of microseconds: less CPU than the two thread hops (a futex wake
    // to the pool, then the completion's wake of the reactor, about 10 us each on a loaded
    // machine). A longer copy is better made on another core while the reactor reads on.
    std::size_t inline_write_max = 256 * 1024;
    // An inline write that took this long or longer (the kernel throttled dirty pages, or
    // the file system waited for its journal) sends every write to the pool for a while:
    // 100 ms after the first, doubling up to 10 s while they stay slow.
    std::chrono::nanoseconds slow_write = std::chrono::milliseconds(1);
    std::chrono::nanoseconds first_backoff = std::chrono::milliseconds(100);
    std::chrono::nanoseconds max_backoff = std::chrono::seconds(10);
    // Reads of at least this size, wholly in the page cache, are named to a stream that
    // sends them by sendfile(2) (FileStore::wire_source): one copy less than pread then
    // send, which is most of what a large read costs us. Below it the extra call (the
    // check of the page cache) costs more than the copy saves. 0: never.
    std::size_t wire_source_min = 64 * 1024;
    // Where the time comes from (steady_clock unless a test hands in its own).
    std::function<std::chrono::nanoseconds()> clock;
};

class FileStore final : public BlockStore {
public:
    // Opens path (creating a sparse file of create_size bytes when it does not exist and
    // create_size > 0). Throws std::runtime_error with the reason on failure.
    FileStore(const std::string& path, bool read_only, std::uint64_t create_size, IoPool& pool,
              FileStoreOptions options = {});
    ~FileStore() override;
    std::uint64_t size_bytes() const override { return size_.load(); }
    std::uint64_t refresh_size() override;
    void submit(const BlockRequest& req, std::function<void(BlockStatus)> done) override;
    // Holes and data of the file (lseek SEEK_HOLE/SEEK_DATA), on the I/O pool: an unmap
    // punches holes, so what was unmapped in whole file system blocks reads back as
    // deallocated. A block device answers all mapped.
    void provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                      std::function<void(BlockStatus, std::vector<Extent>)> done) override;
    // A tcp::FileSource for a read of at least wire_source_min bytes whose every page is in
    // the page cache (cachestat(2), Linux 6.5 and later; an older kernel gets null, and the
    // read is made as before). Null as well past the end of the file.
    std::shared_ptr<const WireSource> wire_source(std::uint64_t offset, std::uint64_t length) override;

    // Writes made inline, writes handed to the pool, and inline writes found slow.
    std::uint64_t inline_writes() const { return inline_writes_.load(std::memory_order_relaxed); }
    std::uint64_t pooled_writes() const { return pooled_writes_.load(std::memory_order_relaxed); }
    std::uint64_t slow_writes() const { return slow_writes_.load(std::memory_order_relaxed); }

private:
    // The write made here, or nothing when it is the pool's to make.
    std::optional<BlockStatus> write_inline(const BlockRequest& req);
    std::chrono::nanoseconds now() const;

    int fd_ = -1;
    std::shared_ptr<const tcp::SharedFd> file_;  // owns fd_: slices sent from it share it
    std::atomic<bool> cachestat_works_{true};
    std::atomic<std::uint64_t> size_{0};
    IoPool& pool_;
    FileStoreOptions options_;
    // Whether pwritev2(RWF_NOWAIT) works on this file: XFS and btrfs take it for buffered
    // writes; ext4 answers EOPNOTSUPP (Linux 6.x), and writes are then made and timed.
    std::atomic<bool> nowait_writes_{true};
    // Several reactors may submit at once; these are hints, and a race costs one write's
    // placement at most.
    std::atomic<std::int64_t> pool_until_ns_{0};
    std::atomic<std::int64_t> backoff_ns_{0};
    std::atomic<std::uint64_t> inline_writes_{0}, pooled_writes_{0}, slow_writes_{0};
};

}  // namespace iscsilab::hil
