#include "fabric/tcp/tcp_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace iscsilab::tcp {

std::string endpoint_name(const void* p) {
    const auto* ss = static_cast<const sockaddr_storage*>(p);
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(ss);
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
    }
    if (ss->ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(ss);
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
    }
    return "?";
}

SharedFd::~SharedFd() {
    if (fd_ >= 0) ::close(fd_);
}

TcpStream::TcpStream(hil::Reactor& reactor, int fd) : reactor_(reactor), fd_(fd), rx_(kReceiveBuffer) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) peer_ = endpoint_name(&ss);
    len = sizeof ss;
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) local_ = endpoint_name(&ss);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

TcpStream::~TcpStream() {
    if (fd_ >= 0) ::close(fd_);
}

void TcpStream::start() {
    std::weak_ptr<TcpStream> weak = shared_from_this();
    reactor_.add_fd(fd_, EPOLLIN | EPOLLRDHUP, [weak](std::uint32_t ev) {
        if (auto self = weak.lock()) self->on_events(ev);
    });
}

void TcpStream::on_events(std::uint32_t ev) {
    auto self = shared_from_this();
    if (closed_) return;
    if (ev & EPOLLOUT) flush();
    if (closed_) return;
    if (closing_) {
        // Registered for EPOLLOUT alone: an error or hang-up means the rest cannot leave.
        if (ev & (EPOLLERR | EPOLLHUP)) teardown(true);
        return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        for (int rounds = 0; rounds < 16 && !closed_ && !closing_ && !paused_ && !held_; ++rounds) {
            auto h = handler_.lock();
            // The rest of a data segment whose header is in goes straight to its place (a
            // command's buffer): one readv, the place first and rx_ for what follows it.
            // What arrives in the read that brings its header is copied from rx_. Reading
            // only to the end of each header once segments are large, so that every
            // segment lands in its place, was measured and left out: with 64 KiB
            // segments (128 KiB writes through QEMU) it took 2.2 reads per write instead
            // of 0.5 and cost as much CPU as the copy it saved (55.5 vs 56.0 us per
            // write, median of 5), and waking only once the rest of a segment is in
            // (SO_RCVLOWAT) did not change that.
            const std::span<std::byte> room = h ? h->receive_into() : std::span<std::byte>{};
            ssize_t n;
            if (room.empty()) {
                n = ::recv(fd_, rx_.data(), rx_.size(), 0);
            } else {
                iovec iov[2] = {{room.data(), room.size()}, {rx_.data(), rx_.size()}};
                msghdr msg{};
                msg.msg_iov = iov;
                msg.msg_iovlen = 2;
                n = ::recvmsg(fd_, &msg, 0);
            }
            if (n > 0) {
                const auto got = static_cast<std::size_t>(n);
                const std::size_t placed = std::min(got, room.size());
                if (placed > 0) h->on_placed(placed);
                if (got > placed && h) h->on_bytes(std::span<const std::byte>(rx_.data(), got - placed));
                if (got < room.size() + rx_.size()) break;
                continue;
            }
            if (n == 0) return fail("peer closed the connection");
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            return fail(std::string("recv: ") + std::strerror(errno));
        }
    }
}

void TcpStream::send(Slices buffers, Task done) {
    if (closed_ || closing_) return;
    for (std::size_t i = 0; i < buffers.size(); ++i) {
        if (buffers[i].bytes.empty() && !(i + 1 == buffers.size() && done)) continue;
        if (!buffers[i].bounded) unbounded_queued_ += buffers[i].bytes.size();
        Pending p{std::move(buffers[i]), 0, {}};
        out_.push_back(std::move(p));
    }
    if (!paused_ && unbounded_queued_ > kPauseAt) {
        paused_ = true;
        update_interest();
    }
    if (done) {
        if (out_.empty()) out_.push_back(Pending{});
        out_.back().done = std::move(done);
    }
    // Cork: everything sent while this loop iteration runs leaves in one writev.
    if (!want_out_ && !flush_posted_) {
        flush_posted_ = true;
        std::weak_ptr<TcpStream> weak = shared_from_this();
        reactor_.post([weak] {
            if (auto self = weak.lock()) {
                self->flush_posted_ = false;
                if (!self->want_out_) self->flush();
            }
        });
    }
}

void TcpStream::flush() {
    auto self = shared_from_this();
    while (!out_.empty() && !closed_) {
        ssize_t w = 0;
        if (out_.front().slice.source) {
            w = send_from_source(out_.front());
            if (closed_) return;
            if (w == 0) continue;  // the slice became zeros in memory (send_from_source)
        } else {
            // Everything queued up to the next slice from a source, in one call. MSG_MORE
            // when one follows: a Data-In header then leaves in the segment its bytes fill.
            iovec iov[64];
            int n = 0;
            bool more = false;
            for (auto it = out_.begin(); it != out_.end() && n < 64; ++it, ++n) {
                if (it->slice.source) {
                    more = true;
                    break;
                }
                iov[n].iov_base = const_cast<std::byte*>(it->slice.bytes.data()) + it->sent;
                iov[n].iov_len = it->slice.bytes.size() - it->sent;
            }
            msghdr msg{};
            msg.msg_iov = iov;
            msg.msg_iovlen = static_cast<std::size_t>(n);
            w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
        }
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!want_out_) {
                    want_out_ = true;
                    update_interest();
                }
                return;
            }
            return fail(std::string("send: ") + std::strerror(errno));
        }
        auto left = static_cast<std::size_t>(w);
        while (!out_.empty()) {
            Pending& p = out_.front();
            std::size_t rest = p.slice.bytes.size() - p.sent;
            if (left < rest) {
                p.sent += left;
                break;
            }
            left -= rest;
            Task done = std::move(p.done);
            account_sent(p.slice);
            out_.pop_front();
            if (done) done();
        }
    }
    if (closing_ && out_.empty()) return teardown(false);
    bool changed = false;
    if (want_out_ && out_.empty() && !closed_) {
        want_out_ = false;
        changed = true;
    }
    if (paused_ && unbounded_queued_ <= kResumeAt && !closed_) {
        paused_ = false;
        changed = true;
    }
    if (changed) update_interest();
}

ssize_t TcpStream::send_from_source(Pending& p) {
    const auto* file = dynamic_cast<const FileSource*>(p.slice.source.get());
    if (!file) {
        fail("a slice from a source this stream cannot send");
        errno = 0;
        return -1;
    }
    const std::size_t rest = p.slice.bytes.size() - p.sent;
    // sendfile(2) from the page cache: the socket takes references to the file's pages and
    // the peer's copy out of them is the only one. MSG_ZEROCOPY from a buffer would still
    // need the read into it (the copy that costs most: the page cache is cold, the buffer
    // warm), a completion on the socket's error queue before the buffer is reused, and on
    // loopback the kernel copies zerocopy pages at delivery anyway (skb_orphan_frags_rx).
    // Whether it beats reading into memory depends on the host, so serve leaves it off
    // unless asked (--sendfile-min). 128 KiB reads at QD16, read then sent against here:
    //  - a KVM guest, loopback: 2.9 against 3.9 GB/s;
    //  - a Firecracker guest, loopback: 2.3-3.0 against 1.2-2.4 GB/s, and on a veth pair
    //    1.4-1.9 against 0.83-1.03 GB/s, with target and client each idle half the time
    //    (no drops, not autocorking; each PDU costs a header send and a sendfile where
    //    memory sends a round's PDUs in one sendmsg). 1 MiB alike; 8 MiB even.
    // The store named the range only when all of it was in the page cache
    // (FileStore::wire_source), so this does not wait for the disk unless the pages were
    // evicted meanwhile.
    auto off = static_cast<off_t>(file->offset() + p.slice.source_offset + p.sent);
    const ssize_t w = ::sendfile(fd_, file->fd(), &off, rest);
    if (w != 0) return w;
    // The file ended before the slice did (it shrank since the read): the rest reads as
    // zeros, as a read past the end does (hil/file_store.cpp), and leaves from memory.
    Slice zeros = Slice::own(Bytes(rest));
    zeros.bounded = p.slice.bounded;
    p.slice = std::move(zeros);
    p.sent = 0;
    return 0;
}

void TcpStream::hold_input(Nanos d) {
    if (closed_ || closing_ || held_) return;
    held_ = true;
    update_interest();
    std::weak_ptr<TcpStream> weak = shared_from_this();
    hold_timer_ = reactor_.after(d, [weak] {
        if (auto self = weak.lock()) {
            self->hold_timer_ = TimerId{};
            self->held_ = false;
            self->update_interest();
        }
    });
}

void TcpStream::account_sent(const Slice& s) {
    if (!s.bounded) unbounded_queued_ -= std::min(unbounded_queued_, s.bytes.size());
}

void TcpStream::update_interest() {
    if (closed_) return;
    std::uint32_t ev = closing_ || paused_ || held_ ? 0u : static_cast<std::uint32_t>(EPOLLIN | EPOLLRDHUP);
    if (want_out_ || closing_) ev |= EPOLLOUT;
    reactor_.modify_fd(fd_, ev);
}

void TcpStream::fail(std::string_view reason) {
    if (closed_) return;
    if (closing_) return teardown(true);  // the handler was told nothing more at close()
    closed_ = true;
    reactor_.remove_fd(fd_);
    ::shutdown(fd_, SHUT_RDWR);
    out_.clear();
    if (auto h = handler_.lock()) h->on_closed(reason);
}

void TcpStream::close(std::string_view) {
    if (closed_ || closing_) return;
    auto self = shared_from_this();
    closing_ = true;
    handler_.reset();
    // What is queued still leaves; who sent it hears no more of it.
    for (auto& p : out_) p.done = nullptr;
    flush();  // as much as the socket takes now; tears down if that was all
    if (closed_) return;
    // The rest leaves as the peer reads, on EPOLLOUT alone: nothing more is read. The
    // timer holds the stream until the end.
    want_out_ = true;
    reactor_.modify_fd(fd_, EPOLLOUT);
    close_timer_ = reactor_.after(close_deadline_, [self] {
        self->close_timer_ = TimerId{};
        self->teardown(true);
    });
}

void TcpStream::teardown(bool reset) {
    if (closed_) return;
    auto self = shared_from_this();  // the timer's hold may be the last one
    closed_ = true;
    closing_ = false;
    if (close_timer_) {
        reactor_.cancel(close_timer_);
        close_timer_ = TimerId{};
    }
    reactor_.remove_fd(fd_);
    out_.clear();
    if (reset) {
        // The peer did not take the rest in time, or is gone: an RST frees both ends
        // at once instead of leaving the kernel an orphan with a full send buffer.
        linger lg{1, 0};
        setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    } else {
        // All of it was written: a FIN follows it. Bytes the peer sent that nobody read
        // would turn the close into an RST, which may drop ours in flight: read them off.
        for (int rounds = 0; rounds < 16; ++rounds) {
            ssize_t n = ::recv(fd_, rx_.data(), rx_.size(), MSG_DONTWAIT);
            if (n <= 0 && !(n < 0 && errno == EINTR)) break;
        }
        ::shutdown(fd_, SHUT_RDWR);
    }
    ::close(fd_);
    fd_ = -1;
}

Listener::Listener(hil::Reactor& reactor, const std::string& host, std::uint16_t port,
                   std::function<void(int)> on_accept)
    : reactor_(reactor), on_accept_(std::move(on_accept)) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0) throw std::runtime_error("listen " + host + ": " + gai_strerror(rc));
    fd_ = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd_ < 0 || ::bind(fd_, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd_, 128) != 0) {
        std::string err = std::strerror(errno);
        freeaddrinfo(res);
        if (fd_ >= 0) ::close(fd_);
        throw std::runtime_error("listen on " + host + ":" + std::to_string(port) + ": " + err);
    }
    freeaddrinfo(res);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    reactor_.post([this] {
        reactor_.add_fd(fd_, EPOLLIN, [this](std::uint32_t) {
            for (;;) {
                int c = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0) break;
                on_accept_(c);
            }
        });
    });
}

Listener::~Listener() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace iscsilab::tcp
