// Synchronous helpers shared by the block stores (file_store.cpp, uring_store.cpp): whole
// writes, WRITE SAME's repeated block, deallocation that reads back as zeros, the
// provisioning map of a file, the size of a file or block device, and the buffers that
// O_DIRECT wants aligned. They block: the stores run them on the IoPool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "target/ports.hpp"

namespace iscsilab::hil {

// EIO is the medium's own failure (SBC-3: MEDIUM ERROR); anything else failed the request.
inline BlockStatus status_of_errno(int err) { return err == EIO ? BlockStatus::medium_error : BlockStatus::io_error; }

// Memory aligned to a power of two, for O_DIRECT (and its bounce buffers).
struct AlignedFree {
    void operator()(std::byte* p) const;
};
using AlignedBytes = std::unique_ptr<std::byte[], AlignedFree>;
// n bytes (at least one) at an address that is a multiple of align (a power of two);
// throws std::bad_alloc when there is no memory.
AlignedBytes aligned_bytes(std::size_t n, std::size_t align);

inline bool is_aligned(std::uint64_t v, std::uint64_t align) { return align <= 1 || v % align == 0; }
inline bool is_aligned(const void* p, std::uint64_t align) {
    return is_aligned(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)), align);
}

// pwrite until all of it is written; 0, or the errno that stopped it.
int write_all(int fd, const std::byte* p, std::size_t n, std::uint64_t at);

// [at, at + length) filled with copies of `unit` (length a multiple of it, as the vdisk
// asks), through one buffer of about 1 MiB of copies: a long WRITE SAME costs a system
// call per MiB, and memory of a MiB at most. With align > 1 (an O_DIRECT descriptor) the
// buffer is aligned to it and each write a multiple of it; at and length must then be
// multiples of align too, or EINVAL comes back before anything is written.
int write_repeated(int fd, std::span<const std::byte> unit, std::uint64_t at, std::uint64_t length,
                   std::size_t align = 1);

// Deallocates [at, at + length) so that it reads as zeros afterwards (LBPRZ=1,
// target/ports.hpp): a hole punched in a file (whole file system blocks; the parts of
// blocks at either end are zeroed), on a block device the same fallocate (Linux 4.9 and
// later: discard or write-zeroes that guarantee zeros), else BLKZEROOUT; where none of
// these works, zeros are written (aligned to align for O_DIRECT). 0 or the errno.
int deallocate(int fd, bool block_device, std::uint64_t at, std::uint64_t length, std::size_t align = 1);

// Holes and data of [offset, offset + length) of a file (lseek SEEK_DATA/SEEK_HOLE), as
// at most max_extents consecutive extents from offset on (BlockStore::provisioning). A
// block device, or a file system that cannot tell, answers mapped.
std::vector<Extent> provisioning_map(int fd, std::uint64_t offset, std::uint64_t length, std::size_t max_extents);

// Bytes of a regular file (st_size) or a block device (BLKGETSIZE64); 0 when unknown.
std::uint64_t size_of(int fd);
bool is_block_device(int fd);

}  // namespace iscsilab::hil
