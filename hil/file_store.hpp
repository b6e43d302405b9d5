// BlockStore over a file or block device (vdisk_fileio / vdisk_blockio): pread/pwrite
// on a small pool of I/O threads, so the reactors never block on the disk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

class FileStore final : public BlockStore {
public:
    // Opens path (creating a sparse file of create_size bytes when it does not exist and
    // create_size > 0). Throws std::runtime_error with the reason on failure.
    FileStore(const std::string& path, bool read_only, std::uint64_t create_size, IoPool& pool);
    ~FileStore() override;
    std::uint64_t size_bytes() const override { return size_.load(); }
    std::uint64_t refresh_size() override;
    void submit(const BlockRequest& req, std::function<void(BlockStatus)> done) override;
    // Holes and data of the file (lseek SEEK_HOLE/SEEK_DATA), on the I/O pool: an unmap
    // punches holes, so what was unmapped in whole file system blocks reads back as
    // deallocated. A block device answers all mapped.
    void provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                      std::function<void(BlockStatus, std::vector<Extent>)> done) override;

private:
    int fd_ = -1;
    std::atomic<std::uint64_t> size_{0};
    IoPool& pool_;
};

}  // namespace iscsilab::hil
