#define BOOST_TEST_MODULE uring_store
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <ostream>
#include <vector>

#include "fabric/tcp/reactor.hpp"
#include "hil/file_store.hpp"
#include "hil/store_io.hpp"
#include "hil/uring_store.hpp"
#include "support/temp_file.hpp"

// tests/seams keeps <thread> and <future> out of tests/: the threads here are IoPool's
// (hil/file_store.hpp), the waiting is a mutex and a condition variable.

// It links iscsilab_runtime, which links no SystemC: no sc_main here.

using namespace iscsilab;
using hil::UringStore;

namespace iscsilab {
std::ostream& operator<<(std::ostream& os, BlockStatus st) {
    switch (st) {
        case BlockStatus::ok: return os << "ok";
        case BlockStatus::medium_error: return os << "medium_error";
        case BlockStatus::io_error: return os << "io_error";
        case BlockStatus::offline: return os << "offline";
    }
    return os << "?";
}
}  // namespace iscsilab

namespace {

constexpr std::uint64_t kFileBytes = 8u << 20;

std::byte pattern_byte(std::uint64_t at, unsigned seed) { return static_cast<std::byte>((at * 131 + seed * 7 + at / 4096) & 0xff); }

void fill_pattern(std::span<std::byte> b, std::uint64_t at, unsigned seed) {
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = pattern_byte(at + i, seed);
}

bool is_pattern(std::span<const std::byte> b, std::uint64_t at, unsigned seed) {
    for (std::size_t i = 0; i < b.size(); ++i)
        if (b[i] != pattern_byte(at + i, seed)) return false;
    return true;
}

bool all_zero(std::span<const std::byte> b) {
    return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

// A sparse file with a pool.
struct Fixture : testing::TempFile {
    hil::IoPool pool{2};
    Fixture() : TempFile("uring-store", kFileBytes) {}

    std::shared_ptr<UringStore> open(bool read_only = false) {
        return std::make_shared<UringStore>(path, read_only, 0, pool);
    }
};

// A value handed over from another thread, waited for (30 s at most).
template <class T>
class Handover {
public:
    void set(T v) {
        std::lock_guard lock(mu_);
        value_ = std::move(v);
        cv_.notify_all();
    }
    std::optional<T> wait() {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(30), [this] { return value_.has_value(); });
        return value_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<T> value_;
};

BlockStatus run(BlockStore& s, const BlockRequest& req) {
    Handover<BlockStatus> h;
    s.submit(req, [&h](BlockStatus st) { h.set(st); });
    auto st = h.wait();
    BOOST_REQUIRE(st.has_value());
    return *st;
}

BlockRequest rq(BlockOp op, std::uint64_t offset, std::span<std::byte> buf, bool fua = false) {
    return BlockRequest{op, offset, buf.size(), buf, fua};
}

// Buffers at an aligned address and one byte past it.
struct Buffers {
    hil::AlignedBytes mem;
    std::size_t n;
    explicit Buffers(std::size_t bytes) : mem(hil::aligned_bytes(bytes + 4096, 4096)), n(bytes) {}
    std::span<std::byte> aligned() { return {mem.get(), n}; }
    std::span<std::byte> unaligned() { return {mem.get() + 1, n}; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(uring_store)

BOOST_FIXTURE_TEST_CASE(opens_a_file_with_its_direct_io_alignment, Fixture) {
    auto s = open();
    BOOST_TEST(s->size_bytes() == kFileBytes);
    BOOST_TEST(!s->block_device());
    // What the kernel says for this file (STATX_DIOALIGN), or the 4096 fallback.
    const std::uint32_t a = s->alignment(), m = s->memory_alignment();
    BOOST_TEST(a >= 512u);
    BOOST_TEST(a <= 4096u);
    BOOST_TEST((a & (a - 1)) == 0u);
    BOOST_TEST(m >= 1u);
    BOOST_TEST((m & (m - 1)) == 0u);
    BOOST_CHECK_THROW(UringStore(path + ".missing", false, 0, pool), std::runtime_error);
}

BOOST_FIXTURE_TEST_CASE(aligned_and_unaligned_round_trip_and_only_unaligned_bounce, Fixture) {
    auto s = open();
    BOOST_REQUIRE(s->memory_alignment() > 1);  // else "one byte past" would be aligned
    const std::size_t n = 64 * 1024;
    Buffers w(n), r(n);

    fill_pattern(w.aligned(), 0, 1);
    BOOST_TEST(run(*s, rq(BlockOp::write, 0, w.aligned())) == BlockStatus::ok);
    BOOST_TEST(s->bounced() == 0u);
    std::fill(r.aligned().begin(), r.aligned().end(), std::byte{0xee});
    BOOST_TEST(run(*s, rq(BlockOp::read, 0, r.aligned())) == BlockStatus::ok);
    BOOST_TEST(is_pattern(r.aligned(), 0, 1));
    BOOST_TEST(s->bounced() == 0u);

    fill_pattern(w.unaligned(), 1 << 20, 2);
    BOOST_TEST(run(*s, rq(BlockOp::write, 1 << 20, w.unaligned())) == BlockStatus::ok);
    BOOST_TEST(s->bounced() == 1u);
    std::fill(r.unaligned().begin(), r.unaligned().end(), std::byte{0xee});
    BOOST_TEST(run(*s, rq(BlockOp::read, 1 << 20, r.unaligned())) == BlockStatus::ok);
    BOOST_TEST(is_pattern(r.unaligned(), 1 << 20, 2));
    BOOST_TEST(s->bounced() == 2u);

    // The file holds them, read behind the store's back; the unaligned read also reads
    // what the aligned write wrote.
    auto f0 = file_bytes(0, n), f1 = file_bytes(1 << 20, n);
    BOOST_TEST(is_pattern(f0, 0, 1));
    BOOST_TEST(is_pattern(f1, 1 << 20, 2));
    BOOST_TEST(run(*s, rq(BlockOp::read, 0, r.unaligned())) == BlockStatus::ok);
    BOOST_TEST(is_pattern(r.unaligned(), 0, 1));
    BOOST_TEST(s->bounced() == 3u);
}

BOOST_FIXTURE_TEST_CASE(an_offset_or_length_off_the_alignment_fails, Fixture) {
    auto s = open();
    Buffers b(8192);
    const std::uint64_t a = s->alignment();
    BOOST_TEST(run(*s, rq(BlockOp::write, a / 2, b.aligned())) == BlockStatus::io_error);
    BOOST_TEST(run(*s, rq(BlockOp::read, 0, b.aligned().first(a / 2))) == BlockStatus::io_error);
    BOOST_TEST(all_zero(file_bytes(0, 8192)));  // nothing was written
}

BOOST_FIXTURE_TEST_CASE(fua_write_and_flush, Fixture) {
    auto s = open();
    Buffers w(16384), r(16384);
    fill_pattern(w.aligned(), 4096, 3);
    BOOST_TEST(run(*s, rq(BlockOp::write, 4096, w.aligned(), true)) == BlockStatus::ok);
    fill_pattern(w.unaligned(), 65536, 4);
    BOOST_TEST(run(*s, rq(BlockOp::write, 65536, w.unaligned(), true)) == BlockStatus::ok);
    BOOST_TEST(run(*s, BlockRequest{BlockOp::flush, 0, 0, {}, false}) == BlockStatus::ok);
    BOOST_TEST(is_pattern(file_bytes(4096, 16384), 4096, 3));
    BOOST_TEST(is_pattern(file_bytes(65536, 16384), 65536, 4));
    BOOST_TEST(run(*s, rq(BlockOp::read, 65536, r.aligned())) == BlockStatus::ok);
    BOOST_TEST(is_pattern(r.aligned(), 65536, 4));
}

BOOST_FIXTURE_TEST_CASE(write_same_fills_the_range_and_nothing_else, Fixture) {
    auto s = open();
    std::vector<std::byte> before(4096, std::byte{0x5a});
    put_file_bytes(0, before);
    put_file_bytes(4096 + (3u << 20), before);
    // One block from an ordinary (unaligned) vector, as the vdisk hands it in.
    std::vector<std::byte> unit(512 + 1);
    std::span<std::byte> block(unit.data() + 1, 512);
    fill_pattern(block, 0, 5);
    const std::uint64_t at = 4096, len = 3u << 20;  // three copy buffers' worth
    BOOST_TEST(run(*s, BlockRequest{BlockOp::write_same, at, len, block, true}) == BlockStatus::ok);
    auto got = file_bytes(at, len);
    bool every = true;
    for (std::size_t k = 0; k < len; k += 512)
        every = every && std::equal(block.begin(), block.end(), got.begin() + static_cast<std::ptrdiff_t>(k));
    BOOST_TEST(every);
    BOOST_TEST((file_bytes(0, 4096) == before));
    BOOST_TEST((file_bytes(at + len, 4096) == before));
}

BOOST_FIXTURE_TEST_CASE(unmap_reads_back_zeros, Fixture) {
    auto s = open();
    const std::size_t n = 2u << 20;
    Buffers w(n), r(n);
    fill_pattern(w.aligned(), 0, 6);
    BOOST_TEST(run(*s, rq(BlockOp::write, 0, w.aligned())) == BlockStatus::ok);
    // A range that starts and ends inside file system blocks: their parts are zeroed, the
    // whole blocks between punched out.
    const std::uint64_t at = 4096 + 512, len = (1u << 20) + 1024;
    BOOST_TEST(run(*s, BlockRequest{BlockOp::unmap, at, len, {}, true}) == BlockStatus::ok);
    BOOST_TEST(run(*s, rq(BlockOp::read, 0, r.aligned())) == BlockStatus::ok);
    auto all = r.aligned();
    BOOST_TEST(is_pattern(all.first(at), 0, 6));
    BOOST_TEST(all_zero(all.subspan(at, len)));
    BOOST_TEST(is_pattern(all.subspan(at + len), at + len, 6));
    // And GET LBA STATUS sees the hole.
    Handover<std::vector<Extent>> h;
    s->provisioning(8192, 512 * 1024, 8, [&h](BlockStatus st, std::vector<Extent> e) {
        if (st != BlockStatus::ok) e.clear();
        h.set(std::move(e));
    });
    auto got_ext = h.wait();
    BOOST_REQUIRE(got_ext.has_value());
    auto& ext = *got_ext;
    BOOST_REQUIRE(!ext.empty());
    BOOST_TEST(ext.front().offset == 8192u);
    BOOST_TEST(!ext.front().mapped);
}

BOOST_FIXTURE_TEST_CASE(a_read_past_the_end_of_a_shrunk_file_gives_zeros, Fixture) {
    auto s = open();
    Buffers w(8192), r(8192);
    fill_pattern(w.aligned(), 0, 7);
    BOOST_TEST(run(*s, rq(BlockOp::write, 40960, w.aligned())) == BlockStatus::ok);
    // The file shrinks under the store to 100 bytes into that range (not on a block
    // boundary); the store still believes the old size.
    BOOST_REQUIRE(::truncate(path.c_str(), 40960 + 100) == 0);
    std::fill(r.aligned().begin(), r.aligned().end(), std::byte{0xaa});
    BOOST_TEST(run(*s, rq(BlockOp::read, 40960, r.aligned())) == BlockStatus::ok);
    BOOST_TEST(std::equal(r.aligned().begin(), r.aligned().begin() + 100, w.aligned().begin()));
    BOOST_TEST(all_zero(r.aligned().subspan(100)));
    // Wholly past the end, and through a bounce buffer.
    std::fill(r.unaligned().begin(), r.unaligned().end(), std::byte{0xaa});
    BOOST_TEST(run(*s, rq(BlockOp::read, 1 << 20, r.unaligned())) == BlockStatus::ok);
    BOOST_TEST(all_zero(r.unaligned()));
    BOOST_TEST(s->size_bytes() == kFileBytes);
    BOOST_TEST(s->refresh_size() == 40960u + 100u);
    BOOST_TEST(s->size_bytes() == 40960u + 100u);
}

BOOST_FIXTURE_TEST_CASE(a_read_only_store_refuses_writes, Fixture) {
    std::vector<std::byte> data(4096, std::byte{0x33});
    put_file_bytes(0, data);
    auto s = open(true);
    Buffers b(4096);
    fill_pattern(b.aligned(), 0, 8);
    BOOST_TEST(run(*s, rq(BlockOp::write, 0, b.aligned())) != BlockStatus::ok);
    BOOST_TEST(run(*s, BlockRequest{BlockOp::write_same, 0, 4096, b.aligned().first(512), false}) != BlockStatus::ok);
    BOOST_TEST(run(*s, BlockRequest{BlockOp::unmap, 0, 4096, {}, false}) != BlockStatus::ok);
    BOOST_TEST((file_bytes(0, 4096) == data));
    BOOST_TEST(run(*s, rq(BlockOp::read, 0, b.aligned())) == BlockStatus::ok);
    BOOST_TEST(std::equal(data.begin(), data.end(), b.aligned().begin()));
}

// 256 requests in flight at once from two threads, twice the ring's depth: every one
// completes, once, with the right data.
BOOST_FIXTURE_TEST_CASE(two_threads_with_256_requests_in_flight, Fixture) {
    auto s = open();
    constexpr int kPerThread = 128;
    constexpr std::size_t kBlock = 16384;
    std::vector<Buffers> bufs;
    bufs.reserve(2 * kPerThread);
    for (int i = 0; i < 2 * kPerThread; ++i) bufs.emplace_back(kBlock);
    std::mutex mu;
    std::condition_variable cv;
    int completed = 0, failed = 0;
    auto done = [&](BlockStatus st) {
        std::lock_guard lock(mu);
        ++completed;
        if (st != BlockStatus::ok) ++failed;
        cv.notify_all();
    };
    auto wait_for = [&](int n) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, std::chrono::seconds(60), [&] { return completed >= n; });
    };
    auto span_of = [&](int i) { return i % 3 == 0 ? bufs[static_cast<std::size_t>(i)].unaligned() : bufs[static_cast<std::size_t>(i)].aligned(); };
    auto writer = [&](int first) {
        for (int i = first; i < first + kPerThread; ++i) {
            auto b = span_of(i);
            fill_pattern(b, std::uint64_t(i) * kBlock, 9);
            s->submit(rq(BlockOp::write, std::uint64_t(i) * kBlock, b, i % 5 == 0), done);
        }
    };
    // Two submitting threads (a pool of two, each job held until both run), every request
    // submitted before any is waited for.
    hil::IoPool submitters(2);
    auto both = [&](auto job) {
        int started = 0;
        Handover<bool> finished_a, finished_b;
        auto on_thread = [&](int first, Handover<bool>& fin) {
            {
                std::unique_lock lock(mu);
                ++started;
                cv.notify_all();
                cv.wait(lock, [&] { return started == 2; });
            }
            job(first);
            fin.set(true);
        };
        submitters.run([&] { on_thread(0, finished_a); });
        submitters.run([&] { on_thread(kPerThread, finished_b); });
        BOOST_REQUIRE(finished_a.wait().has_value());
        BOOST_REQUIRE(finished_b.wait().has_value());
    };
    both(writer);
    BOOST_REQUIRE(wait_for(2 * kPerThread));
    BOOST_TEST(failed == 0);
    for (int i = 0; i < 2 * kPerThread; ++i) std::fill(span_of(i).begin(), span_of(i).end(), std::byte{0});
    auto reader = [&](int first) {
        for (int i = first; i < first + kPerThread; ++i) s->submit(rq(BlockOp::read, std::uint64_t(i) * kBlock, span_of(i)), done);
    };
    both(reader);
    BOOST_REQUIRE(wait_for(4 * kPerThread));
    BOOST_TEST(failed == 0);
    int right = 0;
    for (int i = 0; i < 2 * kPerThread; ++i) right += is_pattern(span_of(i), std::uint64_t(i) * kBlock, 9);
    BOOST_TEST(right == 2 * kPerThread);
    BOOST_TEST(is_pattern(file_bytes(0, 2 * kPerThread * kBlock), 0, 9));
    // One in three went through a bounce buffer, both ways.
    BOOST_TEST(s->bounced() == 2u * ((2 * kPerThread + 2) / 3));
    std::lock_guard lock(mu);
    BOOST_TEST(completed == 4 * kPerThread);
}

// The destructor returns only once every request submitted before it has completed and
// its done has run.
BOOST_FIXTURE_TEST_CASE(the_destructor_waits_for_outstanding_requests, Fixture) {
    constexpr int kRequests = 64;
    constexpr std::size_t kBytes = 1u << 17;
    std::vector<Buffers> bufs;
    bufs.reserve(kRequests);
    for (int i = 0; i < kRequests; ++i) bufs.emplace_back(kBytes);
    std::atomic<int> ran{0}, ok{0};
    {
        UringStore s(path, false, 0, pool, 8);  // a small ring: most of them wait in line
        for (int i = 0; i < kRequests; ++i) {
            fill_pattern(bufs[static_cast<std::size_t>(i)].aligned(), std::uint64_t(i) * kBytes, 10);
            s.submit(rq(BlockOp::write, std::uint64_t(i) * kBytes, bufs[static_cast<std::size_t>(i)].aligned(), true),
                     [&ran, &ok](BlockStatus st) {
                         ::usleep(1000);  // a slow callback
                         ok += st == BlockStatus::ok;
                         ++ran;
                     });
        }
        s.submit(BlockRequest{BlockOp::write_same, 32u << 20, 4096, bufs[0].aligned().first(512), false},
                 [&ran](BlockStatus) { ++ran; });  // past the end: the file grows
        s.submit(BlockRequest{BlockOp::flush, 0, 0, {}, false}, [&ran, &ok](BlockStatus st) {
            ok += st == BlockStatus::ok;
            ++ran;
        });
    }
    BOOST_TEST(ran.load() == kRequests + 2);
    BOOST_TEST(ok.load() == kRequests + 1);
    BOOST_TEST(is_pattern(file_bytes(0, kRequests * kBytes), 0, 10));
}

// The last owner may let go from inside the store's own callback, on its completion
// thread: nothing waits for itself, and the other requests still complete.
BOOST_FIXTURE_TEST_CASE(the_last_owner_may_let_go_inside_a_callback, Fixture) {
    auto s = open();
    Buffers b(4096), c(4096);
    Handover<bool> gate, first, second;
    // Both callbacks run on the store's completion thread; the first holds it until our
    // own reference is gone, so the last one goes there.
    s->submit(rq(BlockOp::read, 0, b.aligned()), [keep = s, &gate, &first](BlockStatus) {
        gate.wait();
        first.set(true);
    });
    s->submit(rq(BlockOp::read, 4096, c.aligned()), [keep = s, &second](BlockStatus) { second.set(true); });
    std::weak_ptr<UringStore> watch = s;
    s.reset();
    BOOST_TEST(!watch.expired());
    gate.set(true);
    BOOST_TEST(first.wait().has_value());
    BOOST_TEST(second.wait().has_value());
    for (int i = 0; i < 3000 && !watch.expired(); ++i) ::usleep(1000);
    BOOST_TEST(watch.expired());
}

// A request submitted on a reactor's thread goes into that reactor's own ring, and its
// done runs on that reactor, with no thread in between; one from any other thread goes
// through the store's ring and its completion thread.
BOOST_FIXTURE_TEST_CASE(a_reactor_takes_the_completions_of_what_it_submits, Fixture) {
    auto s = open();
    hil::Reactor a, b;
    a.start_thread();
    b.start_thread();
    Buffers w(64 * 1024), r(64 * 1024);
    fill_pattern(w.aligned(), 8192, 5);
    struct Seen {
        BlockStatus status;
        hil::Reactor* on;
    };
    auto submit_on = [&](hil::Reactor& reactor, const BlockRequest& req) {
        Handover<Seen> h;
        reactor.post([&] { s->submit(req, [&h](BlockStatus st) { h.set(Seen{st, hil::Reactor::current()}); }); });
        auto seen = h.wait();
        BOOST_REQUIRE(seen.has_value());
        return *seen;
    };
    Seen wrote = submit_on(a, rq(BlockOp::write, 8192, w.aligned()));
    BOOST_TEST(wrote.status == BlockStatus::ok);
    BOOST_TEST(wrote.on == &a, "the write's done ran on the reactor that submitted it");
    BOOST_TEST(s->reactor_rings() == 1u);
    // An unaligned buffer (a bounce buffer, copied out on completion), from the other one.
    Seen read = submit_on(b, rq(BlockOp::read, 8192, r.unaligned()));
    BOOST_TEST(read.status == BlockStatus::ok);
    BOOST_TEST(read.on == &b);
    BOOST_TEST(is_pattern(r.unaligned(), 8192, 5));
    BOOST_TEST(s->reactor_rings() == 2u);
    Seen flushed = submit_on(a, BlockRequest{BlockOp::flush, 0, 0, {}, false});
    BOOST_TEST(flushed.status == BlockStatus::ok);
    BOOST_TEST(flushed.on == &a);
    BOOST_TEST(s->reactor_rings() == 2u);
    // From this thread: the store's own ring.
    Buffers t(4096);
    BOOST_TEST(run(*s, rq(BlockOp::read, 8192, t.aligned())) == BlockStatus::ok);
    BOOST_TEST(is_pattern(t.aligned(), 8192, 5));
    BOOST_TEST(s->reactor_rings() == 2u);
}

// The requests a reactor makes in one round go to the kernel in one call, after its
// handlers are done: on a loop device that also wakes the loop's worker once, not per
// request.
BOOST_FIXTURE_TEST_CASE(a_reactor_round_submits_its_requests_together, Fixture) {
    constexpr int kOps = 16;
    auto s = open();
    hil::Reactor reactor;
    reactor.start_thread();
    Buffers buf(kOps * 4096);
    fill_pattern(buf.aligned(), 0, 3);
    std::atomic<int> ok{0};
    Handover<bool> all;
    reactor.post([&] {
        for (int i = 0; i < kOps; ++i) {
            const auto at = static_cast<std::uint64_t>(i) * 4096;
            s->submit(rq(BlockOp::write, at, buf.aligned().subspan(at, 4096)), [&](BlockStatus st) {
                if (st == BlockStatus::ok && ++ok == kOps) all.set(true);
            });
        }
        // Nothing has gone to the kernel while the round runs.
        BOOST_TEST(s->reactor_submit_calls() == 0u);
    });
    BOOST_REQUIRE(all.wait().has_value());
    BOOST_TEST(ok.load() == kOps);
    BOOST_TEST(s->reactor_submit_calls() == 1u, "16 writes of one round in " << s->reactor_submit_calls() << " calls");
    Buffers r(kOps * 4096);
    BOOST_TEST(run(*s, rq(BlockOp::read, 0, r.aligned())) == BlockStatus::ok);
    BOOST_TEST(is_pattern(r.aligned(), 0, 3));
    reactor.stop();
    reactor.join();
}

// Requests a reactor has in flight when the store is let go: the destructor settles
// them, whether that reactor still runs, has stopped, or is gone (serve.cpp takes the
// reactors down before the stores).
BOOST_FIXTURE_TEST_CASE(a_store_let_go_settles_what_its_reactors_have_in_flight, Fixture) {
    constexpr int kOps = 64;
    Buffers buf(kOps * 4096);
    fill_pattern(buf.aligned(), 0, 9);
    for (int mode = 0; mode < 3; ++mode) {
        BOOST_TEST_CONTEXT("mode " << mode << " (0: running, 1: stopped, 2: gone)") {
            auto s = open();
            auto reactor = std::make_unique<hil::Reactor>();
            reactor->start_thread();
            std::atomic<int> ok{0}, done{0};
            Handover<bool> submitted;
            reactor->post([&] {
                for (int i = 0; i < kOps; ++i) {
                    const auto at = static_cast<std::uint64_t>(i) * 4096;
                    s->submit(rq(BlockOp::write, at, buf.aligned().subspan(at, 4096)), [&](BlockStatus st) {
                        if (st == BlockStatus::ok) ++ok;
                        ++done;
                    });
                }
                if (mode > 0) reactor->stop();
                submitted.set(true);
            });
            BOOST_REQUIRE(submitted.wait().has_value());
            if (mode > 0) reactor->join();
            if (mode == 2) reactor.reset();
            s.reset();
            BOOST_TEST(done.load() == kOps);
            BOOST_TEST(ok.load() == kOps);
        }
    }
    // What they wrote is there.
    auto s = open();
    Buffers back(kOps * 4096);
    BOOST_TEST(run(*s, rq(BlockOp::read, 0, back.aligned())) == BlockStatus::ok);
    BOOST_TEST(is_pattern(back.aligned(), 0, 9));
}

// The last owner lets go inside a done callback on the reactor: the reactor settles
// what is still in flight there, then lets the ring go.
BOOST_FIXTURE_TEST_CASE(a_store_let_go_in_its_own_callback_on_a_reactor, Fixture) {
    constexpr int kOps = 16;
    auto s = open();
    hil::Reactor reactor;
    reactor.start_thread();
    Buffers buf(kOps * 4096);
    std::atomic<int> done{0};
    Handover<bool> all, gate;
    std::weak_ptr<UringStore> watch = s;
    reactor.post([&, keep = s]() mutable {
        auto last = std::make_shared<std::shared_ptr<UringStore>>(std::move(keep));
        for (int i = 0; i < kOps; ++i) {
            const auto at = static_cast<std::uint64_t>(i) * 4096;
            (*last)->submit(rq(BlockOp::read, at, buf.aligned().subspan(at, 4096)), [&, last](BlockStatus) {
                // The first to finish waits until ours is gone, then lets the store go.
                if (*last) {
                    gate.wait();
                    last->reset();
                }
                if (++done == kOps) all.set(true);
            });
        }
    });
    s.reset();
    gate.set(true);
    BOOST_TEST(all.wait().has_value());
    BOOST_TEST(done.load() == kOps);
    for (int i = 0; i < 3000 && !watch.expired(); ++i) ::usleep(1000);
    BOOST_TEST(watch.expired());
}

BOOST_AUTO_TEST_SUITE_END()
