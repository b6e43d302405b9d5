#define BOOST_TEST_MODULE tcp_stream
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "fabric/tcp/file_source.hpp"
#include "fabric/tcp/reactor.hpp"
#include "support/temp_file.hpp"
#include "fabric/tcp/tcp_stream.hpp"

// TcpStream on loopback TCP pairs, served by a real Reactor on its own thread. Times are
// the reactor's monotonic clock (Reactor::now, callable from any thread).

using namespace iscsilab;
using hil::Reactor;
using tcp::TcpStream;
using namespace std::chrono_literals;

namespace {

std::byte pattern(std::size_t i) { return static_cast<std::byte>((i * 7 + i / 1000) % 251); }

Slices one_slice(Slice s) {
    Slices v;
    v.push_back(std::move(s));
    return v;
}

// Counts what a handler hears.
struct Recorder final : ByteStream::Handler {
    std::atomic<int> bytes_calls{0}, closed_calls{0};
    void on_bytes(std::span<const std::byte>) override { ++bytes_calls; }
    void on_closed(std::string_view) override { ++closed_calls; }
};

// Takes the stream's bytes in places it names, as a connection placing data segments
// does: after every `gap` bytes that come by on_bytes, a place of `room` bytes
// (receive_into). Everything is kept in arrival order, with how each byte came.
struct Placer final : ByteStream::Handler {
    std::size_t gap, room;
    std::mutex mu;
    Bytes got;                 // every byte, in order
    std::size_t placed = 0;    // of them, written at receive_into()
    std::size_t copied = 0;    // of them, by on_bytes
    int over = 0;              // on_placed past what was offered
    Bytes place;
    std::size_t place_used = 0, gap_left;
    Placer(std::size_t gap_bytes, std::size_t room_bytes) : gap(gap_bytes), room(room_bytes), place(room_bytes), gap_left(gap_bytes) {}
    std::span<std::byte> receive_into() override {
        if (gap_left > 0) return {};
        return std::span<std::byte>(place).subspan(place_used);
    }
    void on_placed(std::size_t n) override {
        std::lock_guard lock(mu);
        if (gap_left > 0 || n > room - place_used) {
            ++over;
            return;
        }
        got.insert(got.end(), place.begin() + static_cast<std::ptrdiff_t>(place_used),
                   place.begin() + static_cast<std::ptrdiff_t>(place_used + n));
        placed += n;
        place_used += n;
        if (place_used == room) {
            place_used = 0;
            gap_left = gap;
        }
    }
    void on_bytes(std::span<const std::byte> b) override {
        std::lock_guard lock(mu);
        // Bytes past the gap would have been the place's: a stream that offers none
        // hands them over here, and the place starts over after them.
        got.insert(got.end(), b.begin(), b.end());
        copied += b.size();
        std::size_t left = b.size();
        while (left > 0) {
            if (gap_left > 0) {
                const std::size_t k = std::min(left, gap_left);
                gap_left -= k;
                left -= k;
            } else {
                const std::size_t k = std::min(left, room - place_used);
                place_used += k;
                left -= k;
                if (place_used == room) {
                    place_used = 0;
                    gap_left = gap;
                }
            }
        }
    }
    void on_closed(std::string_view) override {}
    std::size_t total() {
        std::lock_guard lock(mu);
        return got.size();
    }
};

// Sends back what it gets.
struct Echo final : ByteStream::Handler {
    std::weak_ptr<TcpStream> stream;
    void on_bytes(std::span<const std::byte> b) override {
        if (auto s = stream.lock()) s->send(one_slice(Slice::copy_of(b)), {});
    }
    void on_closed(std::string_view) override {}
};

// A connected loopback pair: the server end (non-blocking, for a TcpStream) and the
// client end (blocking, the test's peer). Small buffers make a peer that does not read
// fill them at once.
struct Pair {
    int server = -1, client = -1;
};

Pair loopback_pair(int client_rcvbuf = 0, int server_sndbuf = 0) {
    Pair p;
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(lfd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(lfd, 1) == 0);
    socklen_t len = sizeof a;
    BOOST_REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    p.client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(p.client >= 0);
    // Before connect: the receive window is advertised from it.
    if (client_rcvbuf) ::setsockopt(p.client, SOL_SOCKET, SO_RCVBUF, &client_rcvbuf, sizeof client_rcvbuf);
    timeval tv{10, 0};  // no test waits forever on a read
    ::setsockopt(p.client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    BOOST_REQUIRE(::connect(p.client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    p.server = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    BOOST_REQUIRE(p.server >= 0);
    if (server_sndbuf) ::setsockopt(p.server, SOL_SOCKET, SO_SNDBUF, &server_sndbuf, sizeof server_sndbuf);
    ::close(lfd);
    return p;
}

// Reads until the peer's end is shut: returns the bytes, and how it ended (0: EOF, else
// errno; ECONNRESET when the stream reset the connection).
std::vector<std::byte> read_to_end(int fd, int& how) {
    std::vector<std::byte> got;
    std::vector<std::byte> buf(64 * 1024);
    for (;;) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n > 0) {
            got.insert(got.end(), buf.begin(), buf.begin() + n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        how = n == 0 ? 0 : errno;
        return got;
    }
}

// A reactor on its own thread, and a way to run work on it and wait.
struct Fixture {
    Reactor reactor;
    Fixture() {
        ::signal(SIGPIPE, SIG_IGN);  // as `iscsilab serve`: a write to a reset socket fails
        reactor.start_thread();
    }
    ~Fixture() {
        reactor.stop();
        reactor.join();
    }
    void on_reactor(const std::function<void()>& fn) {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        reactor.post([&] {
            fn();
            std::lock_guard lock(m);
            done = true;
            cv.notify_one();
        });
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return done; });
    }
    // Waits (polling) until pred holds or the time is up.
    bool wait_for(Nanos limit, const std::function<bool()>& pred) {
        const Nanos end = reactor.now() + limit;
        while (!pred()) {
            if (reactor.now() > end) return false;
            ::poll(nullptr, 0, 2);
        }
        return true;
    }
    std::shared_ptr<TcpStream> stream(int fd, std::shared_ptr<ByteStream::Handler> h) {
        std::shared_ptr<TcpStream> s;
        on_reactor([&] {
            s = std::make_shared<TcpStream>(reactor, fd);
            s->set_handler(h);
            s->start();
        });
        return s;
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tcp_stream_close, Fixture)

// What was queued before close() (a Logout Response, a Reject) reaches a peer that reads,
// in order and whole, then a FIN; the handler and the send's done hear nothing after
// close(), though the peer still sends; the stream is gone when it is done.
BOOST_AUTO_TEST_CASE(queued_bytes_reach_a_reading_peer_after_close) {
    Pair p = loopback_pair(64 * 1024, 16 * 1024);
    auto rec = std::make_shared<Recorder>();
    auto s = stream(p.server, rec);
    std::weak_ptr<TcpStream> weak = s;

    constexpr std::size_t kBytes = 2u << 20;  // far more than the socket buffers hold
    Bytes payload(kBytes);
    for (std::size_t i = 0; i < kBytes; ++i) payload[i] = pattern(i);
    std::atomic<bool> done_ran{false};
    Nanos took{};
    on_reactor([&] {
        s->set_close_deadline(10s);  // room for a slow (sanitizer) build; the peer reads
        s->send(one_slice(Slice::own(std::move(payload))), [&] { done_ran = true; });
        const Nanos t0 = reactor.now();
        s->close("test");
        took = reactor.now() - t0;
        s.reset();  // the owner lets go at once, as Connection::close may
    });
    BOOST_TEST((took < 50ms), "close() took " << took.count() << " ns");
    BOOST_TEST(!weak.expired());  // it holds itself while bytes are queued

    // The peer talks after close(): nobody hears it, and it does not spoil the FIN.
    const char late[] = "late bytes";
    BOOST_REQUIRE(::send(p.client, late, sizeof late, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof late));

    int how = -1;
    auto got = read_to_end(p.client, how);
    BOOST_TEST(how == 0, "ended by " << std::strerror(how) << " after " << got.size() << " bytes");
    BOOST_REQUIRE_EQUAL(got.size(), kBytes);
    bool same = true;
    for (std::size_t i = 0; i < kBytes && same; ++i) same = got[i] == pattern(i);
    BOOST_TEST(same);
    BOOST_TEST(wait_for(2s, [&] { return weak.expired(); }));
    BOOST_TEST(rec->bytes_calls.load() == 0);
    BOOST_TEST(rec->closed_calls.load() == 0);
    BOOST_TEST(!done_ran.load());
    ::close(p.client);
}

// Nothing queued: close() shuts the connection at once.
BOOST_AUTO_TEST_CASE(close_with_nothing_queued_is_immediate) {
    Pair p = loopback_pair();
    auto rec = std::make_shared<Recorder>();
    auto s = stream(p.server, rec);
    std::weak_ptr<TcpStream> weak = s;
    on_reactor([&] {
        s->close("test");
        s.reset();
    });
    BOOST_TEST(weak.expired());
    int how = -1;
    auto got = read_to_end(p.client, how);
    BOOST_TEST(got.empty());
    BOOST_TEST(how == 0);
    BOOST_TEST(rec->closed_calls.load() == 0);
    ::close(p.client);
}

// A peer that never reads, its buffers full: close() returns at once, another connection
// on the same reactor keeps its echo under 100 ms throughout, and the first is reset at
// its deadline, not before.
BOOST_AUTO_TEST_CASE(a_peer_that_never_reads_does_not_stall_the_reactor) {
    Pair stuck = loopback_pair(16 * 1024, 16 * 1024);
    Pair live = loopback_pair();
    auto rec = std::make_shared<Recorder>();
    auto echo = std::make_shared<Echo>();
    auto a = stream(stuck.server, rec);
    auto b = stream(live.server, echo);
    echo->stream = b;
    std::weak_ptr<TcpStream> weak = a;

    constexpr Nanos kDeadline = 600ms;
    constexpr std::size_t kBytes = 4u << 20;
    Bytes payload(kBytes);
    for (std::size_t i = 0; i < kBytes; ++i) payload[i] = pattern(i);
    on_reactor([&] { a->send(one_slice(Slice::own(std::move(payload))), {}); });
    // Let the socket buffers fill: the stream is now waiting on EPOLLOUT.
    on_reactor([] {});
    Nanos closed_at{}, took{};
    on_reactor([&] {
        a->set_close_deadline(kDeadline);
        closed_at = reactor.now();
        a->close("test");
        took = reactor.now() - closed_at;
        a.reset();
    });
    BOOST_TEST((took < 50ms), "close() took " << took.count() << " ns");

    // The other connection echoes promptly while the first waits for its peer.
    Nanos worst{};
    int rounds = 0;
    while (reactor.now() - closed_at < kDeadline / 2) {
        char msg[64];
        std::snprintf(msg, sizeof msg, "ping %d", rounds);
        const Nanos t0 = reactor.now();
        BOOST_REQUIRE(::send(live.client, msg, sizeof msg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof msg));
        char back[sizeof msg];
        std::size_t have = 0;
        while (have < sizeof back) {
            ssize_t n = ::recv(live.client, back + have, sizeof back - have, 0);
            BOOST_REQUIRE_MESSAGE(n > 0, "echo: " << (n == 0 ? "EOF" : std::strerror(errno)));
            have += static_cast<std::size_t>(n);
        }
        BOOST_TEST(std::memcmp(back, msg, sizeof msg) == 0);
        worst = std::max(worst, reactor.now() - t0);
        ++rounds;
        ::poll(nullptr, 0, 10);
    }
    BOOST_TEST(rounds >= 5);
    BOOST_TEST((worst < 100ms), "slowest echo " << std::chrono::duration_cast<std::chrono::microseconds>(worst).count()
                                              << " us");
    // Not torn down early: still held, with its deadline ahead.
    if (reactor.now() - closed_at < kDeadline - 50ms) BOOST_TEST(!weak.expired());

    // Torn down at the deadline: the stream is gone, and the peer finds the connection
    // reset (after what reached its buffer, never the whole payload).
    BOOST_TEST(wait_for(5s, [&] { return weak.expired(); }));
    const Nanos gone_after = reactor.now() - closed_at;
    BOOST_TEST((gone_after >= kDeadline), "torn down after " << gone_after.count() << " ns");
    int how = -1;
    auto got = read_to_end(stuck.client, how);
    BOOST_TEST(got.size() < kBytes);
    BOOST_TEST((how == ECONNRESET || how == 0), "ended by " << std::strerror(how));
    BOOST_TEST(rec->bytes_calls.load() == 0);
    BOOST_TEST(rec->closed_calls.load() == 0);

    // And the reactor still serves the other one.
    const char last[] = "after";
    BOOST_REQUIRE(::send(live.client, last, sizeof last, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof last));
    char back[sizeof last];
    std::size_t have = 0;
    while (have < sizeof back) {
        ssize_t n = ::recv(live.client, back + have, sizeof back - have, 0);
        BOOST_REQUIRE(n > 0);
        have += static_cast<std::size_t>(n);
    }
    on_reactor([&] {
        b->close("test");
        b.reset();
    });
    ::close(stuck.client);
    ::close(live.client);
}

BOOST_AUTO_TEST_SUITE_END()

// Slices whose bytes lie in a file (tcp::FileSource) leave by sendfile, in their place
// among the slices from memory.
namespace {

// A file of the pattern, opened for the sources, with the test's copy of its bytes.
struct PatternFile : testing::TempFile {
    std::vector<std::byte> bytes;
    std::shared_ptr<const tcp::SharedFd> fd;
    explicit PatternFile(std::size_t n) : TempFile("tcp-source", n), bytes(n) {
        for (std::size_t i = 0; i < n; ++i) bytes[i] = pattern(i + 13);
        put_file_bytes(0, bytes);
        fd = std::make_shared<const tcp::SharedFd>(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        BOOST_REQUIRE(fd->get() >= 0);
    }
    // A slice of n bytes of the file, from file offset base + at (the source names base).
    // Its bytes in memory are 0xee: a stream that sent them instead of the file's shows.
    Slice from_file(std::uint64_t base, std::uint64_t at, std::size_t n) const {
        auto junk = std::make_shared<Bytes>(n, std::byte{0xee});
        Slice s(junk, std::span<const std::byte>(junk->data(), n), true);
        s.source = std::make_shared<const tcp::FileSource>(fd, base);
        s.source_offset = at;
        return s;
    }
};

Bytes text(const char* t) {
    Bytes b(std::strlen(t));
    std::memcpy(b.data(), t, b.size());
    return b;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tcp_stream_file_sources, Fixture)

BOOST_AUTO_TEST_CASE(file_slices_leave_in_order_among_memory_slices) {
    // Small buffers: the 2 MiB slice leaves in many partial sendfiles, each resumed on
    // EPOLLOUT where the last stopped.
    Pair p = loopback_pair(32 * 1024, 16 * 1024);
    auto rec = std::make_shared<Recorder>();
    auto s = stream(p.server, rec);
    PatternFile file(3u << 20);
    BOOST_TEST(s->takes_wire_sources());

    Bytes want;
    auto expect = [&](std::span<const std::byte> b) { want.insert(want.end(), b.begin(), b.end()); };
    Slices a;
    a.push_back(Slice::own(text("HDR1")));
    a.push_back(file.from_file(4096, 1000, 1u << 20));
    expect(text("HDR1"));
    expect(std::span<const std::byte>(file.bytes).subspan(4096 + 1000, 1u << 20));
    Slices b;
    b.push_back(Slice::own(text("HDR2")));
    b.push_back(file.from_file(0, 123, 2u << 20));
    b.push_back(Slice::own(text("END")));
    expect(text("HDR2"));
    expect(std::span<const std::byte>(file.bytes).subspan(123, 2u << 20));
    expect(text("END"));
    std::atomic<bool> done_ran{false};
    on_reactor([&] {
        s->send(std::move(a), {});
        s->send(std::move(b), [&] { done_ran = true; });
    });
    // The test lets go of the file: the slices hold it open until they have left.
    file.fd.reset();
    int how = -1;
    std::vector<std::byte> got;
    std::vector<std::byte> buf(64 * 1024);
    while (got.size() < want.size()) {
        ssize_t n = ::recv(p.client, buf.data(), buf.size(), 0);
        BOOST_REQUIRE_MESSAGE(n > 0, "after " << got.size() << " of " << want.size() << " bytes: "
                                              << (n == 0 ? "EOF" : std::strerror(errno)));
        got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
    BOOST_REQUIRE_EQUAL(got.size(), want.size());
    const auto diff = std::mismatch(got.begin(), got.end(), want.begin());
    BOOST_TEST((diff.first == got.end()), "first difference at byte " << (diff.first - got.begin()));
    BOOST_TEST(wait_for(5s, [&] { return done_ran.load(); }));
    on_reactor([&] {
        s->close("test");
        s.reset();
    });
    read_to_end(p.client, how);
    BOOST_TEST(how == 0);
    BOOST_TEST(rec->closed_calls.load() == 0);
    ::close(p.client);
}

BOOST_AUTO_TEST_CASE(a_file_that_ends_before_its_slice_sends_zeros_for_the_rest) {
    // The file shrank after the read named it: the rest reads as zeros, as a read past the
    // end of the file does, and the PDU keeps the length its header gave.
    Pair p = loopback_pair();
    auto rec = std::make_shared<Recorder>();
    auto s = stream(p.server, rec);
    PatternFile file(8192);
    Slices a;
    a.push_back(file.from_file(4096, 0, 16384));
    a.push_back(Slice::own(text("TAIL")));
    on_reactor([&] { s->send(std::move(a), {}); });
    Bytes want(file.bytes.begin() + 4096, file.bytes.end());
    want.resize(16384);
    const Bytes tail = text("TAIL");
    want.insert(want.end(), tail.begin(), tail.end());
    std::vector<std::byte> got(want.size());
    std::size_t have = 0;
    while (have < got.size()) {
        ssize_t n = ::recv(p.client, got.data() + have, got.size() - have, 0);
        BOOST_REQUIRE_MESSAGE(n > 0, "after " << have << " bytes: " << (n == 0 ? "EOF" : std::strerror(errno)));
        have += static_cast<std::size_t>(n);
    }
    BOOST_TEST((got == want));
    on_reactor([&] {
        s->close("test");
        s.reset();
    });
    ::close(p.client);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(tcp_stream_placement, Fixture)

// A handler that names where the next bytes go (a data segment after its header) gets
// them there straight from the socket, and what follows them by on_bytes, all in order;
// the stream never writes past the place it was given.
BOOST_AUTO_TEST_CASE(bytes_go_where_the_handler_places_them) {
    Pair p = loopback_pair();
    auto h = std::make_shared<Placer>(48, 8192);  // a "header", then a "segment", ...
    auto s = stream(p.server, h);
    constexpr std::size_t kPaced = 32 * (48 + 8192), kBytes = kPaced + (4u << 20);
    Bytes sent(kBytes);
    for (std::size_t i = 0; i < kBytes; ++i) sent[i] = pattern(i);
    auto put = [&](std::size_t from, std::size_t n) {
        BOOST_REQUIRE(::send(p.client, sent.data() + from, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n));
    };
    // Paced: each header is in before its segment is sent, so every segment byte is read
    // into its place, in three pieces.
    std::size_t off = 0;
    for (int k = 0; k < 32; ++k) {
        put(off, 48);
        off += 48;
        BOOST_REQUIRE(wait_for(10s, [&] { return h->total() == off; }));
        for (std::size_t n : {1000u, 5000u, 2192u}) {
            put(off, n);
            off += n;
            BOOST_REQUIRE(wait_for(10s, [&] { return h->total() == off; }));
        }
    }
    {
        std::lock_guard lock(h->mu);
        BOOST_TEST(h->placed == 32u * 8192u);
        BOOST_TEST(h->copied == 32u * 48u);
    }
    // Unpaced, in pieces that cut headers and segments anywhere: reads begin at headers
    // and inside segments, and hold both.
    std::size_t piece = 1;
    while (off < kBytes) {
        const std::size_t n = std::min(kBytes - off, (piece * 7919) % 20000 + 1);
        put(off, n);
        off += n;
        if (++piece % 16 == 0) ::poll(nullptr, 0, 1);
    }
    BOOST_TEST(wait_for(10s, [&] { return h->total() == kBytes; }), "got " << h->total() << " of " << kBytes);
    on_reactor([&] {
        s->close("test");
        s.reset();
    });
    std::lock_guard lock(h->mu);
    BOOST_TEST(h->over == 0);
    BOOST_TEST((h->got == sent));
    BOOST_TEST(h->placed + h->copied == kBytes);
    BOOST_TEST(h->placed > 32u * 8192u);
    ::close(p.client);
}

BOOST_AUTO_TEST_SUITE_END()
