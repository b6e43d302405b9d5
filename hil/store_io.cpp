#include "hil/store_io.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <numeric>

namespace iscsilab::hil {

void AlignedFree::operator()(std::byte* p) const { std::free(p); }

AlignedBytes aligned_bytes(std::size_t n, std::size_t align) {
    void* p = nullptr;
    const std::size_t a = std::max<std::size_t>(align, alignof(std::max_align_t));
    if (::posix_memalign(&p, a, std::max<std::size_t>(n, 1)) != 0) throw std::bad_alloc();
    return AlignedBytes(static_cast<std::byte*>(p));
}

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

int write_repeated(int fd, std::span<const std::byte> unit, std::uint64_t at, std::uint64_t length, std::size_t align) {
    if (unit.empty()) return EINVAL;
    if (length == 0) return 0;
    if (align > 1 && (!is_aligned(at, align) || !is_aligned(length, align))) return EINVAL;
    // Every write but the last is a whole chunk: a multiple of the unit (the pattern stays
    // in phase from one write to the next) and of the alignment.
    const std::size_t step = align > 1 ? std::lcm(unit.size(), align) : unit.size();
    const std::uint64_t most = std::max<std::size_t>(step, (std::size_t{1} << 20) / step * step);
    const std::uint64_t want = std::min<std::uint64_t>(length, most);
    const std::size_t chunk_size = static_cast<std::size_t>((want + step - 1) / step * step);
    AlignedBytes chunk;
    try {
        chunk = aligned_bytes(chunk_size, align);
    } catch (const std::bad_alloc&) {
        return ENOMEM;
    }
    for (std::size_t k = 0; k < chunk_size; k += unit.size())
        std::memcpy(chunk.get() + k, unit.data(), std::min(unit.size(), chunk_size - k));
    for (std::uint64_t done = 0; done < length;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, length - done));
        if (int err = write_all(fd, chunk.get(), n, at + done)) return err;
        done += n;
    }
    return 0;
}

int deallocate(int fd, bool block_device, std::uint64_t at, std::uint64_t length, std::size_t align) {
    if (length == 0) return 0;
    if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(at),
                    static_cast<off_t>(length)) == 0)
        return 0;
    int err = errno;
    if (block_device) {
        // A device that cannot zero without writing the zeros itself refuses the
        // fallocate (EOPNOTSUPP); BLKZEROOUT writes them where it must.
        std::uint64_t range[2] = {at, length};
        if (::ioctl(fd, BLKZEROOUT, range) == 0) return 0;
        err = errno;
        if (err != EOPNOTSUPP && err != ENOTTY && err != EINVAL) return err;
    } else if (err != EOPNOTSUPP && err != ENOSYS) {
        return err;
    }
    // Nothing deallocates here: the range must read as zeros all the same.
    static const std::byte zeros[4096] = {};
    return write_repeated(fd, zeros, at, length, align);
}

std::vector<Extent> provisioning_map(int fd, std::uint64_t offset, std::uint64_t length, std::size_t max_extents) {
    std::vector<Extent> out;
    auto add = [&out](std::uint64_t from, std::uint64_t to, bool mapped) {
        if (!out.empty() && out.back().mapped == mapped && out.back().offset + out.back().length == from)
            out.back().length += to - from;
        else
            out.push_back(Extent{from, to - from, mapped});
    };
    // The file offset that lseek moves is not used by pread/pwrite (nor by io_uring's reads
    // and writes at an explicit offset): sharing the descriptor with them is safe.
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
    return out;
}

std::uint64_t size_of(int fd) {
    struct stat st {};
    std::uint64_t bytes = 0;
    if (::fstat(fd, &st) == 0) {
        if (S_ISBLK(st.st_mode)) {
            if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) bytes = 0;
        } else {
            bytes = static_cast<std::uint64_t>(st.st_size);
        }
    }
    return bytes;
}

bool is_block_device(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && S_ISBLK(st.st_mode);
}

}  // namespace iscsilab::hil
