// A WireSource in a file: a TcpStream sends its bytes with sendfile(2), from the page
// cache to the socket, with no copy through our memory.
#pragma once

#include <cstdint>
#include <memory>

#include "target/ports.hpp"

namespace iscsilab::tcp {

// An open file descriptor, closed when the last holder goes: a store and the slices
// queued from it share it, so a store dropped while its Data-In waits for the peer (a
// medium changed, a device removed) does not close the file under the stream.
class SharedFd {
public:
    explicit SharedFd(int fd) : fd_(fd) {}
    ~SharedFd();
    SharedFd(const SharedFd&) = delete;
    SharedFd& operator=(const SharedFd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

class FileSource final : public WireSource {
public:
    FileSource(std::shared_ptr<const SharedFd> file, std::uint64_t offset) : file_(std::move(file)), offset_(offset) {}
    int fd() const { return file_->get(); }
    // Where the source's byte 0 lies in the file.
    std::uint64_t offset() const { return offset_; }

private:
    std::shared_ptr<const SharedFd> file_;
    std::uint64_t offset_;
};

}  // namespace iscsilab::tcp
