#include "hil/uring_store.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fabric/tcp/reactor.hpp"
#include "hil/store_io.hpp"

namespace iscsilab::hil {

namespace {

// A completion that says "try again" (EINTR, EAGAIN) is resubmitted at most this often.
constexpr int kMaxRetries = 1000;
// The most one SQE asks for (its length field has 32 bits); a short completion resubmits
// the rest anyway.
constexpr std::size_t kMaxSqeBytes = std::size_t{1} << 30;
// The ring whose done callback runs on this thread, if any: a store whose last owner lets
// go from inside one of its own callbacks cannot wait for that callback to return.
thread_local const void* tls_settling = nullptr;

std::string errtext(int err) { return std::strerror(err); }

}  // namespace

struct UringStore::Ring : std::enable_shared_from_this<UringStore::Ring> {
    // One read, write or flush on its way through the ring.
    struct Op {
        BlockOp op = BlockOp::read;
        std::uint64_t offset = 0;
        std::span<std::byte> buffer;  // the caller's
        bool fua = false;
        std::function<void(BlockStatus)> done;
        std::byte* io = nullptr;  // what the kernel reads or fills: the caller's buffer or bounce
        AlignedBytes bounce;
        std::size_t progress = 0;  // bytes done; a short completion resubmits from here
        int retries = 0;
        BlockStatus status = BlockStatus::ok;
    };

    // What every ring of a store shares: the descriptor and what O_DIRECT wants of it.
    struct Device {
        int fd = -1;
        bool read_only = false;
        bool block_device = false;
        std::uint32_t align = 4096, mem_align = 4096;
    };

    Ring(IoPool& p, unsigned d) : pool(p), depth(d) {}
    ~Ring() {
        if (ring_ready) io_uring_queue_exit(&ring);
        if (evfd >= 0) ::close(evfd);
        if (dev.fd >= 0 && owns_fd) ::close(dev.fd);
    }

    IoPool& pool;
    const unsigned depth;
    Device dev;
    bool owns_fd = true;  // a reactor's ring uses the store's descriptor
    // A reactor's ring: completions are signalled on evfd, which `reactor` watches and
    // reaps on its own thread; there is no completion thread.
    Reactor* reactor = nullptr;
    int evfd = -1;
    // Taking completions off the ring: its reactor, or a destructor settling what is left.
    std::mutex reap_mu;
    std::atomic<std::uint64_t> size{0};
    std::atomic<std::uint64_t> bounced{0};
    std::atomic<std::uint64_t> submit_calls{0};  // io_uring_submit calls that took SQEs
    io_uring ring{};
    bool ring_ready = false;
    bool timed_wait = false;  // the kernel waits with a timeout without an SQE (IORING_FEAT_EXT_ARG)

    // Behind mu: the submission side of the ring and the bookkeeping. The completion side
    // belongs to the completion thread alone.
    std::mutex mu;
    std::condition_variable idle;  // outstanding reached 0
    std::deque<Op*> waiting;       // accepted, waiting for room in the ring
    unsigned in_ring = 0;          // ops with an SQE in the ring (wake-ups not counted)
    std::uint64_t outstanding = 0; // accepted requests whose done has not returned yet
    bool stopping = false;
    bool retry_armed = false;  // a reactor's ring: a timer will submit what the kernel refused
    bool flush_posted = false; // a reactor's ring: a task on the reactor will submit the SQEs
    std::thread thread;

    // Sets up the ring (throws std::runtime_error with the reason). cooperative: the ring
    // is submitted and reaped by one reactor thread alone (IORING_SETUP_COOP_TASKRUN).
    void init(const std::string& what, bool cooperative = false);
    // Takes the completions the ring holds and settles them; with wait, first waits for
    // one (100 ms at most where the kernel can time the wait).
    void reap(bool wait);
    void start_locked(Op* op, bool front);
    void fill_locked();
    void flush_locked();
    // A reactor's ring: the SQEs of a reactor's round go to the kernel together, from a
    // task the reactor runs once its handlers are done.
    void flush_later_locked();
    void wake_locked();
    // The store let go and nothing is outstanding: the ring's thread or reactor is done.
    bool settled();
    bool completed_locked(Op* op, int res);
    void settle(std::function<void()> call);
    void finish(Op* op);
    void loop();
};

// Into the ring if it has room, else in line (a resubmitted rest at the head of the line).
void UringStore::Ring::start_locked(Op* op, bool front) {
    io_uring_sqe* sqe = nullptr;
    if (in_ring < depth) {
        sqe = io_uring_get_sqe(&ring);
        if (!sqe) {  // the submission queue is full of entries the kernel has not taken yet
            io_uring_submit(&ring);
            sqe = io_uring_get_sqe(&ring);
        }
    }
    if (!sqe) {
        if (front) waiting.push_front(op);
        else waiting.push_back(op);
        return;
    }
    const std::size_t total = op->buffer.size();
    const std::size_t n = std::min(total - op->progress, kMaxSqeBytes);
    const std::uint64_t at = op->offset + op->progress;
    switch (op->op) {
        case BlockOp::read:
            io_uring_prep_read(sqe, dev.fd, op->io + op->progress, static_cast<unsigned>(n), at);
            break;
        case BlockOp::write:
            io_uring_prep_write(sqe, dev.fd, op->io + op->progress, static_cast<unsigned>(n), at);
            // FUA: this write is durable before it completes (and so is each rest of it).
            if (op->fua) sqe->rw_flags = RWF_DSYNC;
            break;
        default:  // flush
            io_uring_prep_fsync(sqe, dev.fd, IORING_FSYNC_DATASYNC);
            break;
    }
    io_uring_sqe_set_data(sqe, op);
    ++in_ring;
}

void UringStore::Ring::fill_locked() {
    while (!waiting.empty() && in_ring < depth) {
        Op* op = waiting.front();
        waiting.pop_front();
        const unsigned before = in_ring;
        start_locked(op, true);
        if (in_ring == before) break;  // no SQE to be had now: it went back to the head
    }
}

void UringStore::Ring::flush_locked() {
    while (io_uring_sq_ready(&ring) > 0) {
        const int r = io_uring_submit(&ring);
        if (r == -EINTR) continue;
        if (r > 0) {
            submit_calls.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        // -EAGAIN, -EBUSY: the kernel cannot take them now. They stay in the ring. The
        // completion thread submits them on its next round (100 ms at most); a reactor's
        // ring, which has no thread, sets a timer on its reactor to try again.
        if (reactor && !retry_armed && !stopping) {
            retry_armed = true;
            reactor->after(std::chrono::milliseconds(1), [keep = shared_from_this()] {
                std::lock_guard lock(keep->mu);
                keep->retry_armed = false;
                keep->flush_locked();
            });
        }
        break;
    }
}

void UringStore::Ring::flush_later_locked() {
    if (flush_posted) return;
    flush_posted = true;
    reactor->post([keep = shared_from_this()] {
        std::lock_guard lock(keep->mu);
        keep->flush_posted = false;
        keep->flush_locked();
    });
}

// A NOP with no op behind it: the completion thread wakes and looks at stopping.
void UringStore::Ring::wake_locked() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (!sqe) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    if (!sqe) return;  // the timed wait comes round anyway
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, nullptr);
    flush_locked();
}

// One completion of op: true when op is finished (status set), false when the rest of it
// goes back into the ring.
bool UringStore::Ring::completed_locked(Op* op, int res) {
    if (op->op == BlockOp::flush) {
        if ((res == -EINTR || res == -EAGAIN) && ++op->retries <= kMaxRetries) return false;
        op->status = res < 0 ? status_of_errno(-res) : BlockStatus::ok;
        return true;
    }
    if (res == -EINTR || res == -EAGAIN) {
        if (++op->retries <= kMaxRetries) return false;
        op->status = BlockStatus::io_error;
        return true;
    }
    if (res < 0) {
        op->status = status_of_errno(-res);
        return true;
    }
    const std::size_t total = op->buffer.size();
    if (op->op == BlockOp::read) {
        op->progress += static_cast<std::size_t>(res);
        // Nothing more (res 0), or an end that is not on an alignment boundary: the end of
        // a file that shrank (or never was a whole number of blocks). The rest reads as
        // zeros, as FileStore's does.
        if (op->progress < total && (res == 0 || !is_aligned(op->offset + op->progress, dev.align))) {
            std::memset(op->io + op->progress, 0, total - op->progress);
            op->progress = total;
        }
    } else {
        if (res == 0) {  // a write that writes nothing will not write the rest either
            op->status = status_of_errno(EIO);
            return true;
        }
        op->progress += static_cast<std::size_t>(res);
    }
    if (op->progress < total) return false;
    op->status = BlockStatus::ok;
    return true;
}

// Runs a done callback (call owns it) and counts the request out. call is destroyed
// before the count drops, while this thread is known to be inside this store's callback.
void UringStore::Ring::settle(std::function<void()> call) {
    const void* before = tls_settling;
    tls_settling = this;
    call();
    call = nullptr;
    tls_settling = before;
    std::lock_guard lock(mu);
    if (--outstanding == 0) {
        idle.notify_all();
        if (stopping) wake_locked();
    }
}

void UringStore::Ring::finish(Op* op) {
    if (op->status == BlockStatus::ok && op->op == BlockOp::read && op->bounce)
        std::memcpy(op->buffer.data(), op->io, op->buffer.size());
    std::function<void(BlockStatus)> done = std::move(op->done);
    const BlockStatus st = op->status;
    delete op;
    settle([done = std::move(done), st] { done(st); });
}

void UringStore::Ring::init(const std::string& what, bool cooperative) {
    io_uring_params params{};
    // A completion of an O_DIRECT read is finished by task work on the submitting thread.
    // By default the kernel interrupts that thread at once (an IPI when it runs in user
    // space); a reactor enters the kernel every round anyway (epoll_wait, sendmsg), and
    // one that polls between requests is always running, so each completion cost it an
    // interrupt. Cooperative: the work waits for the reactor's next system call, and a
    // reactor asleep in epoll_wait is still woken (the wait ends with EINTR, the work
    // runs, the eventfd fires). On a loop device, 4 KiB O_DIRECT reads one at a time
    // with a polling waiter: 16 against 40 us each. Not for the shared ring, whose
    // completions another thread waits for.
    if (cooperative) params.flags |= IORING_SETUP_COOP_TASKRUN;
    int e = io_uring_queue_init_params(depth, &ring, &params);
    if (e == -EINVAL && cooperative) {  // before Linux 5.19
        params = io_uring_params{};
        e = io_uring_queue_init_params(depth, &ring, &params);
    }
    if (e < 0) throw std::runtime_error(what + ": io_uring_queue_init: " + errtext(-e));
    ring_ready = true;
    timed_wait = params.features & IORING_FEAT_EXT_ARG;
}

void UringStore::Ring::reap(bool wait) {
    if (wait) {
        io_uring_cqe* cqe = nullptr;
        int r;
        if (timed_wait) {
            // A round at least every 100 ms: submissions the kernel refused for a moment
            // (EAGAIN) go in again even when nothing else completes.
            __kernel_timespec ts{};
            ts.tv_nsec = 100'000'000;
            r = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
        } else {
            r = io_uring_wait_cqe(&ring, &cqe);
        }
        (void)r;  // -ETIME, -EINTR: nothing to take, a round all the same
    }
    for (;;) {
        std::array<std::pair<Op*, int>, 64> got;
        unsigned n = 0;
        {
            std::lock_guard lock(reap_mu);
            unsigned head = 0;
            io_uring_cqe* cqe = nullptr;
            io_uring_for_each_cqe(&ring, head, cqe) {
                if (n == got.size()) break;
                got[n++] = {static_cast<Op*>(io_uring_cqe_get_data(cqe)), cqe->res};
            }
            io_uring_cq_advance(&ring, n);
        }
        std::array<Op*, 64> finished;
        unsigned f = 0;
        {
            std::lock_guard lock(mu);
            for (unsigned i = 0; i < n; ++i) {
                auto [op, res] = got[i];
                if (!op) continue;  // a wake-up
                --in_ring;
                if (completed_locked(op, res)) finished[f++] = op;
                else start_locked(op, true);
            }
            fill_locked();
            flush_locked();
        }
        for (unsigned i = 0; i < f; ++i) finish(finished[i]);
        if (n < got.size()) return;
    }
}

bool UringStore::Ring::settled() {
    std::lock_guard lock(mu);
    return stopping && outstanding == 0;
}

void UringStore::Ring::loop() {
    do {
        reap(true);
    } while (!settled());
}

UringStore::UringStore(const std::string& path, bool read_only, std::uint64_t create_size, IoPool& pool,
                       unsigned queue_depth)
    : ring_(std::make_shared<Ring>(pool, std::max(1u, queue_depth))) {
    Ring& r = *ring_;
    r.dev.read_only = read_only;
    const int flags = (read_only ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC;
    r.dev.fd = ::open(path.c_str(), flags);
    if (r.dev.fd < 0 && errno == ENOENT && create_size > 0 && !read_only) {
        // vdisk_fileio's size_mb: a sparse file of that size (as FileStore makes it).
        r.dev.fd = ::open(path.c_str(), flags | O_CREAT, 0600);
        if (r.dev.fd >= 0 && ::ftruncate(r.dev.fd, static_cast<off_t>(create_size)) != 0)
            throw std::runtime_error(path + ": " + errtext(errno));
    }
    if (r.dev.fd < 0) {
        if (errno == EINVAL) throw std::runtime_error(path + ": O_DIRECT is not supported here (" + errtext(EINVAL) + ")");
        throw std::runtime_error(path + ": " + errtext(errno));
    }
    struct stat st {};
    if (::fstat(r.dev.fd, &st) != 0) throw std::runtime_error(path + ": " + errtext(errno));
    if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
        throw std::runtime_error(path + ": neither a block device nor a regular file");
    r.dev.block_device = S_ISBLK(st.st_mode);
    if (r.dev.block_device) {
        int lbs = 0;
        if (::ioctl(r.dev.fd, BLKSSZGET, &lbs) != 0 || lbs <= 0)
            throw std::runtime_error(path + ": cannot read its logical block size (BLKSSZGET): " + errtext(errno));
        r.dev.align = r.dev.mem_align = static_cast<std::uint32_t>(lbs);
    } else {
        struct statx sx {};
        if (::statx(r.dev.fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
            if (sx.stx_dio_offset_align == 0)
                throw std::runtime_error(path + ": the file system does not do direct I/O on this file (STATX_DIOALIGN)");
            r.dev.align = sx.stx_dio_offset_align;
            r.dev.mem_align = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : sx.stx_dio_offset_align;
        }  // else the kernel does not say (before 6.1): 4096 serves every file system
    }
    if (refresh_size() == 0) throw std::runtime_error(path + ": empty file");
    r.init(path);
    r.thread = std::thread([keep = ring_] { keep->loop(); });
}

UringStore::~UringStore() {
    // The reactors' rings first. What is in flight there is settled here, taking the
    // completions off the ring as its reactor would: the reactor may be running (and
    // take some itself), stopped, or gone.
    std::vector<std::pair<std::uint64_t, std::shared_ptr<Ring>>> rings;
    {
        std::lock_guard lock(rings_mu_);
        rings.swap(reactor_rings_);
    }
    for (auto& [id, keep] : rings) {
        Ring& rr = *keep;
        {
            std::lock_guard lock(rr.mu);
            rr.stopping = true;
        }
        // Inside one of that ring's own callbacks, on its reactor: the reactor settles
        // the rest, then lets the ring go (it holds it).
        if (tls_settling == &rr) continue;
        for (;;) {
            {
                std::lock_guard lock(rr.mu);
                if (rr.outstanding == 0) break;
            }
            if (rr.timed_wait) {
                rr.reap(true);
            } else {
                rr.reap(false);
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        }
        // A reactor that still watches the ring lets it go on this wake-up.
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(rr.evfd, &one, sizeof one);
    }

    Ring& r = *ring_;
    std::unique_lock lock(r.mu);
    r.stopping = true;
    if (tls_settling == &r) {
        // Inside one of this store's own callbacks: it cannot wait for itself. The rest
        // completes on the store's thread, which ends when nothing is outstanding and
        // takes the ring down with it (it holds the ring).
        lock.unlock();
        r.thread.detach();
        return;
    }
    r.idle.wait(lock, [&r] { return r.outstanding == 0; });
    r.wake_locked();
    lock.unlock();
    r.thread.join();
}

std::uint64_t UringStore::size_bytes() const { return ring_->size.load(); }

std::uint64_t UringStore::refresh_size() {
    const std::uint64_t bytes = size_of(ring_->dev.fd);
    ring_->size.store(bytes);
    return bytes;
}

std::uint32_t UringStore::alignment() const { return ring_->dev.align; }
std::uint32_t UringStore::memory_alignment() const { return ring_->dev.mem_align; }
bool UringStore::block_device() const { return ring_->dev.block_device; }
std::uint64_t UringStore::bounced() const { return ring_->bounced.load(); }

std::uint64_t UringStore::reactor_submit_calls() const {
    std::lock_guard lock(rings_mu_);
    std::uint64_t n = 0;
    for (const auto& [id, r] : reactor_rings_) n += r->submit_calls.load(std::memory_order_relaxed);
    return n;
}

std::size_t UringStore::reactor_rings() const {
    std::lock_guard lock(rings_mu_);
    return reactor_rings_.size();
}

UringStore::Ring& UringStore::ring_here() {
    Reactor* reactor = Reactor::current();
    if (!reactor) return *ring_;
    // The last ring this thread found, by store and reactor: a store's uid is never used
    // again, so an entry left by a store that is gone cannot match.
    thread_local struct {
        std::uint64_t store = 0, reactor = 0;
        Ring* ring = nullptr;
    } last;
    if (last.store == uid_ && last.reactor == reactor->id()) return *last.ring;
    Ring& found = find_ring(*reactor);
    if (&found != ring_.get()) last = {uid_, reactor->id(), &found};
    return found;
}

UringStore::Ring& UringStore::find_ring(Reactor& on) {
    Reactor* reactor = &on;
    std::lock_guard lock(rings_mu_);
    for (auto& [id, r] : reactor_rings_)
        if (id == reactor->id()) return *r;
    // This reactor's first request here: a ring of its own, on the store's descriptor.
    auto r = std::make_shared<Ring>(ring_->pool, ring_->depth);
    r->dev = ring_->dev;
    r->owns_fd = false;
    try {
        r->init("io_uring for a reactor", /*cooperative=*/true);
    } catch (const std::runtime_error&) {
        return *ring_;  // out of rings (RLIMIT_MEMLOCK, io_uring_disabled): the shared one serves
    }
    r->evfd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->evfd < 0 || io_uring_register_eventfd(&r->ring, r->evfd) != 0) return *ring_;
    r->reactor = reactor;
    // The reactor holds the ring until it has settled everything after the store let go.
    reactor->add_fd(r->evfd, EPOLLIN, [keep = r](std::uint32_t) {
        std::uint64_t v;
        while (::read(keep->evfd, &v, sizeof v) > 0) {
        }
        keep->reap(false);
        if (keep->settled()) keep->reactor->remove_fd(keep->evfd);
    });
    reactor_rings_.emplace_back(reactor->id(), r);
    return *r;
}

void UringStore::submit(const BlockRequest& req, std::function<void(BlockStatus)> done) {
    Ring& r = *ring_;
    const bool writes = req.op != BlockOp::read && req.op != BlockOp::flush;
    if (writes && r.dev.read_only) return done(BlockStatus::io_error);

    if (req.op == BlockOp::write_same || req.op == BlockOp::unmap) {
        // Synchronous helpers on the pool, with aligned buffers for the O_DIRECT descriptor.
        {
            std::lock_guard lock(r.mu);
            ++r.outstanding;
        }
        r.pool.run([keep = ring_, req, done = std::move(done)]() mutable {
            Ring& k = *keep;
            int err = req.op == BlockOp::write_same
                          ? write_repeated(k.dev.fd, req.buffer, req.offset, req.length, k.dev.align)
                          : deallocate(k.dev.fd, k.dev.block_device, req.offset, req.length, k.dev.align);
            if (err == 0 && req.fua && ::fdatasync(k.dev.fd) != 0) err = errno;
            const BlockStatus st = err ? status_of_errno(err) : BlockStatus::ok;
            k.settle([done = std::move(done), st] { done(st); });
        });
        return;
    }

    if (req.op != BlockOp::flush) {
        if (req.buffer.empty()) return done(BlockStatus::ok);
        // O_DIRECT cannot move part of a logical block; the vdisk never asks it to.
        if (!is_aligned(req.offset, r.dev.align) || !is_aligned(req.buffer.size(), r.dev.align))
            return done(BlockStatus::io_error);
    }
    auto op = std::make_unique<Ring::Op>();
    op->op = req.op;
    op->offset = req.offset;
    op->buffer = req.buffer;
    op->fua = req.fua;
    op->done = std::move(done);
    op->io = req.buffer.data();
    if (req.op != BlockOp::flush && !is_aligned(req.buffer.data(), r.dev.mem_align)) {
        try {
            op->bounce = aligned_bytes(req.buffer.size(), r.dev.mem_align);
        } catch (const std::bad_alloc&) {
            return op->done(BlockStatus::io_error);
        }
        if (req.op == BlockOp::write) std::memcpy(op->bounce.get(), req.buffer.data(), req.buffer.size());
        op->io = op->bounce.get();
        r.bounced.fetch_add(1);
    }
    // Into the ring of the reactor this runs on, if any: its completions come back there.
    Ring& q = ring_here();
    std::lock_guard lock(q.mu);
    ++q.outstanding;
    q.start_locked(op.release(), false);
    // On a reactor, the round's other requests join this one in a single io_uring_enter.
    // On a loop device each submission also wakes the loop's worker, and requests that
    // come together wake it once: 4 KiB writes at QD32 spent a tenth of the target's CPU
    // in that wake-up when each went in on its own.
    if (q.reactor) q.flush_later_locked();
    else q.flush_locked();
}

void UringStore::provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                              std::function<void(BlockStatus, std::vector<Extent>)> done) {
    Ring& r = *ring_;
    {
        std::lock_guard lock(r.mu);
        ++r.outstanding;
    }
    r.pool.run([keep = ring_, offset, length, max_extents, done = std::move(done)]() mutable {
        auto map = provisioning_map(keep->dev.fd, offset, length, max_extents);
        keep->settle([done = std::move(done), map = std::move(map)]() mutable { done(BlockStatus::ok, std::move(map)); });
    });
}

}  // namespace iscsilab::hil
