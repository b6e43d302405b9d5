// ByteStream over a real TCP socket, driven by a Reactor.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "fabric/tcp/file_source.hpp"
#include "fabric/tcp/reactor.hpp"
#include "target/ports.hpp"

namespace iscsilab::tcp {

class TcpStream final : public ByteStream, public std::enable_shared_from_this<TcpStream> {
public:
    // Stops reading while the bytes queued for the peer, beside commands' data buffers
    // (bounded elsewhere), pass kPauseAt, and reads again below kResumeAt: a peer that
    // sends requests and never reads their answers (a NOP-Out flood) holds at most this
    // much of our memory, and stalls only itself.
    static constexpr std::size_t kPauseAt = 1u << 20, kResumeAt = 256u << 10;
    static constexpr std::size_t kReceiveBuffer = 256u << 10;

    // Takes ownership of a connected, non-blocking socket. Call start() on the reactor.
    TcpStream(hil::Reactor& reactor, int fd);
    ~TcpStream() override;

    void start();
    void set_handler(std::weak_ptr<Handler> handler) override { handler_ = std::move(handler); }
    void send(Slices buffers, Task done) override;
    // Returns at once. The handler hears nothing more and nothing more is read; what is
    // queued (a Logout Response, a Reject) still leaves as the peer takes it, on the
    // reactor, until close_deadline. Then the socket is shut down (reset if bytes were
    // left) and closed. The stream holds itself until then: its owner may drop it.
    void close(std::string_view reason) override;
    // How long close() waits for the peer to take what is queued (default 1 s).
    void set_close_deadline(Nanos d) { close_deadline_ = d; }
    std::string peer() const override { return peer_; }
    std::string local() const override { return local_; }
    void hold_input(Nanos d) override;
    // Slices from a FileSource leave by sendfile(2).
    bool takes_wire_sources() const override { return true; }

private:
    void on_events(std::uint32_t ev);
    void flush();
    void fail(std::string_view reason);
    // The end of a close(): off the reactor, shut down and closed; reset: with an RST
    // (the deadline passed with bytes unsent, or the peer is gone).
    void teardown(bool reset);

    struct Pending;
    // Sends what is left of p, whose slice has a source: the bytes written, or -1 with
    // errno (0 when the stream failed). Returns 0 after turning a slice whose file ended
    // early into zeros in memory.
    ssize_t send_from_source(Pending& p);
    void account_sent(const Slice& s);
    void update_interest();

    struct Pending {
        Slice slice;
        std::size_t sent = 0;
        Task done;  // runs when this slice (the last of a send) is fully written
    };
    std::size_t unbounded_queued_ = 0;
    bool paused_ = false;  // too much queued for the peer
    bool held_ = false;    // hold_input
    TimerId hold_timer_{};
    hil::Reactor& reactor_;
    int fd_;
    std::weak_ptr<Handler> handler_;
    std::deque<Pending> out_;
    bool want_out_ = false;
    bool flush_posted_ = false;
    bool closed_ = false;
    bool closing_ = false;  // close() was called; draining out_ until closed_
    Nanos close_deadline_ = std::chrono::seconds(1);
    TimerId close_timer_{};
    std::string peer_, local_;
    std::vector<std::byte> rx_;
};

// "host:port" of a socket address, [v6]:port for IPv6.
std::string endpoint_name(const void* sockaddr_storage_ptr);

// A listening socket; every accepted connection is handed to on_accept (on the
// listener's reactor) as a connected, non-blocking fd.
class Listener {
public:
    Listener(hil::Reactor& reactor, const std::string& host, std::uint16_t port,
             std::function<void(int fd)> on_accept);
    ~Listener();
    std::uint16_t port() const { return port_; }

private:
    hil::Reactor& reactor_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::function<void(int)> on_accept_;
};

}  // namespace iscsilab::tcp
