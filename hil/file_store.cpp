#include "hil/file_store.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace iscsilab::hil {

namespace {

// pwrite until all of it is written; 0, or the errno that stopped it.
int write_all(int fd, const std::byte* p, std::size_t n, std::uint64_t at) {
    std::size_t off = 0;
    while (off < n) {
        ssize_t k = ::pwrite(fd, p + off, n - off, static_cast<off_t>(at + off));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k < 0 ? errno : EIO;
        off += static_cast<std::size_t>(k);
    }
    return 0;
}

// [at, at + length) filled with copies of `unit` (length a multiple of it, as the vdisk
// asks), through one buffer of at most 1 MiB of copies: a long WRITE SAME costs a
// system call per MiB, and memory of a MiB at most.
int write_repeated(int fd, std::span<const std::byte> unit, std::uint64_t at, std::uint64_t length) {
    if (unit.empty()) return EINVAL;
    const std::size_t copies = static_cast<std::size_t>(
        std::clamp<std::uint64_t>(length / unit.size(), 1, std::max<std::size_t>(1, (1u << 20) / unit.size())));
    std::vector<std::byte> chunk(copies * unit.size());
    for (std::size_t k = 0; k < chunk.size(); k += unit.size()) std::copy(unit.begin(), unit.end(), chunk.begin() + static_cast<std::ptrdiff_t>(k));
    for (std::uint64_t done = 0; done < length;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), length - done));
        if (int err = write_all(fd, chunk.data(), n, at + done)) return err;
        done += n;
    }
    return 0;
}

}  // namespace

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

FileStore::FileStore(const std::string& path, bool read_only, std::uint64_t create_size, IoPool& pool)
    : pool_(pool) {
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
    if (refresh_size() == 0) {
        ::close(fd_);
        throw std::runtime_error(path + ": empty file");
    }
}

std::uint64_t FileStore::refresh_size() {
    struct stat st {};
    std::uint64_t bytes = 0;
    if (fstat(fd_, &st) == 0) {
        if (S_ISBLK(st.st_mode)) {
            if (ioctl(fd_, BLKGETSIZE64, &bytes) != 0) bytes = 0;
        } else {
            bytes = static_cast<std::uint64_t>(st.st_size);
        }
    }
    size_.store(bytes);
    return bytes;
}

FileStore::~FileStore() {
    if (fd_ >= 0) ::close(fd_);
}

void FileStore::submit(const BlockRequest& req, std::function<void(BlockStatus)> done) {
    if (req.op == BlockOp::read && !req.buffer.empty()) {
        // Page-cache hit: read right here without blocking (RWF_NOWAIT), skipping the
        // pool's two thread hops. A miss (EAGAIN) or a short read goes to the pool.
        iovec iov{req.buffer.data(), req.buffer.size()};
        ssize_t n = ::preadv2(fd_, &iov, 1, static_cast<off_t>(req.offset), RWF_NOWAIT);
        if (n == static_cast<ssize_t>(req.buffer.size())) return done(BlockStatus::ok);
    }
    pool_.run([fd = fd_, req, done = std::move(done)] {
        auto status_of = [](int err) { return err == EIO ? BlockStatus::medium_error : BlockStatus::io_error; };
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
                // Deallocate: a hole in a file (whole file system blocks; the parts of
                // blocks at either end are zeroed), a discard or zero-out on a block device.
                // Where the file system cannot punch holes, zeros are written instead: the
                // range must read as zeros either way (LBPRZ=1, target/ports.hpp).
                if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(req.offset),
                                static_cast<off_t>(req.length)) != 0) {
                    if (errno != EOPNOTSUPP && errno != ENOSYS) return done(status_of(errno));
                    static const std::byte zeros[4096] = {};
                    if (int err = write_repeated(fd, zeros, req.offset, req.length)) return done(status_of(err));
                }
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
        std::vector<Extent> out;
        auto add = [&out](std::uint64_t from, std::uint64_t to, bool mapped) {
            if (!out.empty() && out.back().mapped == mapped && out.back().offset + out.back().length == from)
                out.back().length += to - from;
            else
                out.push_back(Extent{from, to - from, mapped});
        };
        // The file offset that lseek moves is not used by pread/pwrite: sharing the
        // descriptor with them is safe.
        const std::uint64_t end = offset + length;
        for (std::uint64_t pos = offset; pos < end && out.size() < std::max<std::size_t>(max_extents, 1);) {
            const off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
            if (data < 0) {
                // ENXIO: no data from pos to the end of the file. Anything else (no
                // SEEK_DATA here): we cannot tell, and say mapped.
                add(pos, end, errno != ENXIO);
                break;
            }
            if (static_cast<std::uint64_t>(data) > pos) {
                const std::uint64_t to = std::min<std::uint64_t>(static_cast<std::uint64_t>(data), end);
                add(pos, to, false);
                pos = to;
                continue;
            }
            const off_t hole = ::lseek(fd, static_cast<off_t>(pos), SEEK_HOLE);
            if (hole < 0 || static_cast<std::uint64_t>(hole) <= pos) {
                // Changed under us (an unmap racing), or no answer: mapped, the safe word.
                add(pos, end, true);
                break;
            }
            const std::uint64_t to = std::min<std::uint64_t>(static_cast<std::uint64_t>(hole), end);
            add(pos, to, true);
            pos = to;
        }
        done(BlockStatus::ok, std::move(out));
    });
}

}  // namespace iscsilab::hil
