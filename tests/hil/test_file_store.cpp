#define BOOST_TEST_MODULE file_store
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hil/file_store.hpp"
#include "support/temp_file.hpp"

// Where FileStore makes a buffered write: inline for a small one without FUA, on the pool
// otherwise, and on the pool for a while after an inline write was slow. The clock is the
// test's own; tests/seams keeps <thread> out of tests/, so waiting is a condition variable.

using namespace iscsilab;
using namespace std::chrono_literals;
using hil::FileStore;
using hil::FileStoreOptions;

namespace {

constexpr std::uint64_t kFileBytes = 4u << 20;

// A done that may run on the pool: whether it ran, and the status, waited for (30 s at most).
class Completion {
public:
    std::function<void(BlockStatus)> callback() {
        return [this](BlockStatus st) {
            std::lock_guard lock(mu_);
            status_ = st;
            cv_.notify_all();
        };
    }
    bool ran() {
        std::lock_guard lock(mu_);
        return status_.has_value();
    }
    std::optional<BlockStatus> wait() {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, 30s, [this] { return status_.has_value(); });
        return status_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<BlockStatus> status_;
};

struct Fixture : testing::TempFile {
    hil::IoPool pool{2};
    std::chrono::nanoseconds clock{0};

    Fixture() : TempFile("file-store", kFileBytes) {}

    std::shared_ptr<FileStore> open(FileStoreOptions options = {}) {
        options.clock = [this] { return clock; };
        return std::make_shared<FileStore>(path, false, 0, pool, std::move(options));
    }

    // Writes n bytes of value v at `at`; whether done had run when submit returned.
    bool write(FileStore& store, std::uint64_t at, std::size_t n, std::uint8_t v, bool fua = false) {
        std::vector<std::byte> data(n, std::byte{v});
        Completion c;
        BlockRequest req;
        req.op = BlockOp::write;
        req.offset = at;
        req.length = n;
        req.buffer = data;
        req.fua = fua;
        store.submit(req, c.callback());
        const bool at_once = c.ran();
        auto st = c.wait();
        BOOST_REQUIRE_MESSAGE(st.has_value(), "write at " << at << " never completed");
        BOOST_REQUIRE(*st == BlockStatus::ok);
        return at_once;
    }

    bool file_holds(std::uint64_t at, std::size_t n, std::uint8_t v) const {
        auto b = file_bytes(at, n);
        return std::all_of(b.begin(), b.end(), [v](std::byte x) { return x == std::byte{v}; });
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(file_store, Fixture)

BOOST_AUTO_TEST_CASE(small_write_is_made_by_the_submitting_thread) {
    auto store = open();
    BOOST_TEST(write(*store, 8192, 4096, 0x5a));
    BOOST_TEST(store->inline_writes() == 1u);
    BOOST_TEST(store->pooled_writes() == 0u);
    BOOST_TEST(file_holds(8192, 4096, 0x5a));
}

BOOST_AUTO_TEST_CASE(fua_write_goes_to_the_pool) {
    // FUA wants fdatasync, which waits for the device: never on a reactor.
    auto store = open();
    write(*store, 0, 4096, 0x11, /*fua=*/true);
    BOOST_TEST(store->inline_writes() == 0u);
    BOOST_TEST(store->pooled_writes() == 1u);
    BOOST_TEST(file_holds(0, 4096, 0x11));
}

BOOST_AUTO_TEST_CASE(write_over_the_inline_limit_goes_to_the_pool) {
    FileStoreOptions o;
    o.inline_write_max = 64 * 1024;
    auto store = open(o);
    write(*store, 0, 64 * 1024, 0x21);
    write(*store, 1 << 20, 64 * 1024 + 512, 0x22);
    BOOST_TEST(store->inline_writes() == 1u);
    BOOST_TEST(store->pooled_writes() == 1u);
    BOOST_TEST(file_holds(0, 64 * 1024, 0x21));
    BOOST_TEST(file_holds(1 << 20, 64 * 1024 + 512, 0x22));
}

BOOST_AUTO_TEST_CASE(slow_inline_write_sends_writes_to_the_pool_with_a_growing_backoff) {
    // slow_write 0: on this clock every inline write counts as slow.
    FileStoreOptions o;
    o.slow_write = 0ns;
    o.first_backoff = 100ms;
    o.max_backoff = 300ms;
    auto store = open(o);
    BOOST_TEST(write(*store, 0, 4096, 1));  // inline, slow: pool until 100 ms
    BOOST_TEST(store->slow_writes() == 1u);
    write(*store, 4096, 4096, 2);
    clock = 99ms;
    write(*store, 8192, 4096, 3);
    BOOST_TEST(store->pooled_writes() == 2u);
    clock = 100ms;
    BOOST_TEST(write(*store, 12288, 4096, 4));  // inline again, slow again: until 300 ms
    clock = 299ms;
    write(*store, 16384, 4096, 5);
    BOOST_TEST(store->pooled_writes() == 3u);
    clock = 300ms;
    BOOST_TEST(write(*store, 20480, 4096, 6));  // backoff capped at 300 ms: until 600 ms
    clock = 599ms;
    write(*store, 24576, 4096, 7);
    clock = 600ms;
    BOOST_TEST(write(*store, 28672, 4096, 8));
    BOOST_TEST(store->inline_writes() == 4u);
    BOOST_TEST(store->pooled_writes() == 4u);
    BOOST_TEST(store->slow_writes() == 4u);
    for (std::uint8_t i = 1; i <= 8; ++i) BOOST_TEST(file_holds((i - 1) * 4096u, 4096, i), "write " << int(i));
}

BOOST_AUTO_TEST_CASE(fast_inline_writes_stay_inline) {
    // The default threshold (1 ms) on a clock that does not move: never slow.
    auto store = open();
    for (unsigned i = 0; i < 64; ++i) BOOST_TEST(write(*store, i * 4096u, 4096, static_cast<std::uint8_t>(i)));
    BOOST_TEST(store->inline_writes() == 64u);
    BOOST_TEST(store->slow_writes() == 0u);
    BOOST_TEST(file_holds(63 * 4096u, 4096, 63));
}

BOOST_AUTO_TEST_CASE(inline_write_error_is_reported) {
    // A write past what the file system allows (offset beyond the largest file size)
    // fails inline with the errno's status, as the pool would report it.
    auto store = open();
    std::vector<std::byte> data(4096, std::byte{1});
    Completion c;
    BlockRequest req;
    req.op = BlockOp::write;
    req.offset = std::uint64_t{1} << 62;
    req.length = data.size();
    req.buffer = data;
    store->submit(req, c.callback());
    auto st = c.wait();
    BOOST_REQUIRE(st.has_value());
    BOOST_TEST((*st == BlockStatus::io_error));
    BOOST_TEST(store->inline_writes() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// FileStore::wire_source: a large read held whole in the page cache is named, to leave by
// sendfile; anything else gets null, and the read is made as before.
namespace {

// cachestat(2) as the store calls it, for the test's own view of the page cache: the
// pages of [at, at + n) in it, or nothing on a kernel without the call (before 6.5).
std::optional<std::uint64_t> cached_pages(const std::string& path, std::uint64_t at, std::uint64_t n) {
    struct {
        std::uint64_t off, len;
    } range{at, n};
    std::uint64_t stat[5] = {};
    int fd = ::open(path.c_str(), O_RDONLY);
    BOOST_REQUIRE(fd >= 0);
    const long rc = ::syscall(451, fd, &range, stat, 0);
    ::close(fd);
    if (rc != 0) return std::nullopt;
    return stat[0];
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(file_store_wire_source, Fixture)

BOOST_AUTO_TEST_CASE(a_large_read_in_the_page_cache_is_named_at_its_offset) {
    auto store = open();
    write(*store, 1u << 20, 1u << 20, 0x3c);  // in the page cache, dirty
    auto source = store->wire_source(1u << 20, 1u << 20);
    if (!cached_pages(path, 0, 4096)) {
        BOOST_TEST(!source, "named a source on a kernel without cachestat, unchecked");
        return;
    }
    BOOST_REQUIRE(source);
    const auto* file = dynamic_cast<const tcp::FileSource*>(source.get());
    BOOST_REQUIRE(file);
    BOOST_TEST(file->offset() == (1u << 20));
    std::vector<std::byte> got(4096);
    BOOST_REQUIRE(::pread(file->fd(), got.data(), got.size(), static_cast<off_t>(file->offset() + 8192)) == 4096);
    BOOST_TEST(std::all_of(got.begin(), got.end(), [](std::byte b) { return b == std::byte{0x3c}; }));
}

BOOST_AUTO_TEST_CASE(a_read_below_the_minimum_is_not_named) {
    auto store = open();
    write(*store, 0, 256u << 10, 0x11);
    BOOST_TEST(!store->wire_source(0, (64u << 10) - 512));
    FileStoreOptions never;
    never.wire_source_min = 0;
    BOOST_TEST(!open(never)->wire_source(0, 256u << 10));
}

BOOST_AUTO_TEST_CASE(a_read_not_wholly_in_the_page_cache_is_not_named) {
    // sendfile would wait for the disk on the reactor: the pool reads it instead.
    std::vector<std::byte> data(512u << 10, std::byte{0x77});
    put_file_bytes(2u << 20, data);  // written and fsync'd: clean pages, which can be dropped
    int fd = ::open(path.c_str(), O_RDONLY);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::posix_fadvise(fd, 2u << 20, 512u << 10, POSIX_FADV_DONTNEED) == 0);
    // One page back in: the rest is still out.
    std::byte one[4096];
    BOOST_REQUIRE(::pread(fd, one, sizeof one, 2u << 20) == 4096);
    ::close(fd);
    auto pages = cached_pages(path, 2u << 20, 512u << 10);
    auto store = open();
    if (!pages) {
        BOOST_TEST(!store->wire_source(2u << 20, 512u << 10));
        return;
    }
    BOOST_REQUIRE_MESSAGE(*pages < 128, *pages << " of 128 pages still cached after POSIX_FADV_DONTNEED");
    BOOST_TEST(!store->wire_source(2u << 20, 512u << 10));
}

BOOST_AUTO_TEST_CASE(a_read_past_the_end_is_not_named) {
    auto store = open();
    write(*store, kFileBytes - (128u << 10), 128u << 10, 0x22);
    BOOST_TEST(!store->wire_source(kFileBytes - (64u << 10), 128u << 10));
}

BOOST_AUTO_TEST_CASE(the_file_stays_open_for_a_source_after_its_store_goes) {
    // A medium changed while a Data-In waits for the peer: the slice still sends from the file.
    auto store = open();
    write(*store, 0, 128u << 10, 0x5e);
    auto source = store->wire_source(0, 128u << 10);
    if (!cached_pages(path, 0, 4096)) {
        BOOST_TEST(!source, "named a source on a kernel without cachestat, unchecked");
        return;
    }
    BOOST_REQUIRE(source);
    store.reset();
    const auto* file = dynamic_cast<const tcp::FileSource*>(source.get());
    BOOST_REQUIRE(file);
    std::byte b{};
    BOOST_TEST(::pread(file->fd(), &b, 1, 4096) == 1);
    BOOST_TEST((b == std::byte{0x5e}));
}

BOOST_AUTO_TEST_SUITE_END()
