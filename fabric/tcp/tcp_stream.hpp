// ByteStream over a real TCP socket, driven by a Reactor.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "fabric/tcp/reactor.hpp"
#include "target/ports.hpp"

namespace iscsilab::tcp {

class TcpStream final : public ByteStream, public std::enable_shared_from_this<TcpStream> {
public:
    // Takes ownership of a connected, non-blocking socket. Call start() on the reactor.
    TcpStream(hil::Reactor& reactor, int fd);
    ~TcpStream() override;

    void start();
    void set_handler(std::weak_ptr<Handler> handler) override { handler_ = std::move(handler); }
    void send(Slices buffers, Task done) override;
    void close(std::string_view reason) override;
    std::string peer() const override { return peer_; }
    std::string local() const override { return local_; }

private:
    void on_events(std::uint32_t ev);
    void flush();
    void fail(std::string_view reason);

    struct Pending {
        Slice slice;
        std::size_t sent = 0;
        Task done;  // runs when this slice (the last of a send) is fully written
    };
    hil::Reactor& reactor_;
    int fd_;
    std::weak_ptr<Handler> handler_;
    std::deque<Pending> out_;
    bool want_out_ = false;
    bool flush_posted_ = false;
    bool closed_ = false;
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
