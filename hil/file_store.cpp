#include "hil/file_store.hpp"

#include "hil/store_io.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace iscsilab::hil {

IoPool::IoPool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i)
        threads_.emplace_back([this] {
            for (;;) {
                std::function<void()> job;
                {
                    std::unique_lock lock(mu_);
                    cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
                    if (jobs_.empty()) return;
                    job = std::move(jobs_.front());
                    jobs_.pop_front();
                }
                job();
            }
        });
}

IoPool::~IoPool() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void IoPool::run(std::function<void()> job) {
    {
        std::lock_guard lock(mu_);
        jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
}

FileStore::FileStore(const std::string& path, bool read_only, std::uint64_t create_size, IoPool& pool,
                     FileStoreOptions options)
    : pool_(pool), options_(std::move(options)) {
    backoff_ns_ = options_.first_backoff.count();
    int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    fd_ = ::open(path.c_str(), flags);
    if (fd_ < 0 && errno == ENOENT && create_size > 0 && !read_only) {
        fd_ = ::open(path.c_str(), flags | O_CREAT, 0600);
        if (fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(create_size)) != 0) {
            std::string err = std::strerror(errno);
            ::close(fd_);
            throw std::runtime_error(path + ": " + err);
        }
    }
    if (fd_ < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
    file_ = std::make_shared<const tcp::SharedFd>(fd_);
    if (refresh_size() == 0) throw std::runtime_error(path + ": empty file");
}

std::uint64_t FileStore::refresh_size() {
    const std::uint64_t bytes = size_of(fd_);
    size_.store(bytes);
    return bytes;
}

// file_ closes the file when the last slice sent from it has left.
FileStore::~FileStore() = default;

namespace {

// cachestat(2) (Linux 6.5): how many pages of a range are in the page cache. Debian 12's
// kernel headers predate it; the call number is 451 on every architecture.
struct CachestatRange {
    std::uint64_t off, len;
};
struct Cachestat {
    std::uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
constexpr long kSysCachestat = 451;

}  // namespace

std::shared_ptr<const WireSource> FileStore::wire_source(std::uint64_t offset, std::uint64_t length) {
    if (options_.wire_source_min == 0 || length < options_.wire_source_min) return nullptr;
    if (offset + length > size_.load(std::memory_order_relaxed)) return nullptr;
    if (!cachestat_works_.load(std::memory_order_relaxed)) return nullptr;
    CachestatRange range{offset, length};
    Cachestat cs{};
    if (::syscall(kSysCachestat, fd_, &range, &cs, 0) != 0) {
        // ENOSYS (older kernel) or EOPNOTSUPP (a file system without a page cache, such as
        // a hugetlbfs file): never again for this file.
        if (errno == ENOSYS || errno == EOPNOTSUPP) cachestat_works_.store(false, std::memory_order_relaxed);
        return nullptr;
    }
    // Pages counted are those that overlap the range: all of them, or sendfile would wait
    // for the disk on the reactor.
    static const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t pages = (offset + length + page - 1) / page - offset / page;
    if (cs.nr_cache < pages) return nullptr;
    return std::make_shared<const tcp::FileSource>(file_, offset);
}

std::chrono::nanoseconds FileStore::now() const {
    if (options_.clock) return options_.clock();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch());
}

std::optional<BlockStatus> FileStore::write_inline(const BlockRequest& req) {
    if (req.fua || req.buffer.empty() || req.buffer.size() > options_.inline_write_max) return std::nullopt;
    const auto start = now();
    if (start.count() < pool_until_ns_.load(std::memory_order_relaxed)) return std::nullopt;
    if (nowait_writes_.load(std::memory_order_relaxed)) {
        iovec iov{req.buffer.data(), req.buffer.size()};
        ssize_t n = ::pwritev2(fd_, &iov, 1, static_cast<off_t>(req.offset), RWF_NOWAIT);
        if (n == static_cast<ssize_t>(req.buffer.size())) return BlockStatus::ok;
        if (!(n < 0 && errno == EOPNOTSUPP)) return std::nullopt;
        // EAGAIN would have blocked, and a short write stopped where it would have: the
        // pool writes the whole of it (the part already written again, with the same
        // bytes, which the caller keeps until done). An error, the pool meets again and
        // reports.
        nowait_writes_.store(false, std::memory_order_relaxed);
    }
    // No RWF_NOWAIT for buffered writes here: the write is made and timed, and one that
    // blocked sends the writes that follow to the pool (FileStoreOptions::slow_write).
    const int err = write_all(fd_, req.buffer.data(), req.buffer.size(), req.offset);
    const auto took = now() - start;
    if (took >= options_.slow_write) {
        slow_writes_.fetch_add(1, std::memory_order_relaxed);
        const std::int64_t backoff = backoff_ns_.load(std::memory_order_relaxed);
        pool_until_ns_.store((start + took).count() + backoff, std::memory_order_relaxed);
        backoff_ns_.store(std::min<std::int64_t>(2 * backoff, options_.max_backoff.count()),
                          std::memory_order_relaxed);
    } else {
        backoff_ns_.store(options_.first_backoff.count(), std::memory_order_relaxed);
    }
    return err == 0 ? BlockStatus::ok : status_of_errno(err);
}

void FileStore::submit(const BlockRequest& req, std::function<void(BlockStatus)> done) {
    if (req.op == BlockOp::write) {
        if (auto status = write_inline(req)) {
            inline_writes_.fetch_add(1, std::memory_order_relaxed);
            return done(*status);
        }
        pooled_writes_.fetch_add(1, std::memory_order_relaxed);
    }
    if (req.op == BlockOp::read && !req.buffer.empty()) {
        // Page-cache hit: read right here without blocking (RWF_NOWAIT), skipping the
        // pool's two thread hops. A miss (EAGAIN) or a short read goes to the pool.
        iovec iov{req.buffer.data(), req.buffer.size()};
        ssize_t n = ::preadv2(fd_, &iov, 1, static_cast<off_t>(req.offset), RWF_NOWAIT);
        if (n == static_cast<ssize_t>(req.buffer.size())) return done(BlockStatus::ok);
    }
    pool_.run([fd = fd_, req, done = std::move(done)] {
        auto status_of = status_of_errno;
        switch (req.op) {
            case BlockOp::read: {
                std::size_t off = 0;
                while (off < req.buffer.size()) {
                    ssize_t n = ::pread(fd, req.buffer.data() + off, req.buffer.size() - off,
                                        static_cast<off_t>(req.offset + off));
                    if (n < 0 && errno == EINTR) continue;
                    if (n < 0) return done(status_of(errno));
                    if (n == 0) {  // past the end of a file that shrank: zeros
                        std::memset(req.buffer.data() + off, 0, req.buffer.size() - off);
                        break;
                    }
                    off += static_cast<std::size_t>(n);
                }
                return done(BlockStatus::ok);
            }
            case BlockOp::write: {
                if (int err = write_all(fd, req.buffer.data(), req.buffer.size(), req.offset)) return done(status_of(err));
                if (req.fua && ::fdatasync(fd) != 0) return done(status_of(errno));
                return done(BlockStatus::ok);
            }
            case BlockOp::write_same: {
                // target/ports.hpp: the buffer is one block, written over the whole range.
                if (int err = write_repeated(fd, req.buffer, req.offset, req.length)) return done(status_of(err));
                if (req.fua && ::fdatasync(fd) != 0) return done(status_of(errno));
                return done(BlockStatus::ok);
            }
            case BlockOp::flush:
                return done(::fdatasync(fd) == 0 ? BlockStatus::ok : status_of(errno));
            case BlockOp::unmap: {
                // Deallocate: a hole in a file, a discard or zero-out on a block device,
                // zeros written where neither works: the range reads as zeros either way
                // (LBPRZ=1, target/ports.hpp; hil/store_io.hpp).
                if (int err = deallocate(fd, is_block_device(fd), req.offset, req.length)) return done(status_of(err));
                if (req.fua && ::fdatasync(fd) != 0) return done(status_of(errno));
                return done(BlockStatus::ok);
            }
        }
        done(BlockStatus::io_error);
    });
}

void FileStore::provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                              std::function<void(BlockStatus, std::vector<Extent>)> done) {
    pool_.run([fd = fd_, offset, length, max_extents, done = std::move(done)] {
        done(BlockStatus::ok, provisioning_map(fd, offset, length, max_extents));
    });
}

}  // namespace iscsilab::hil
