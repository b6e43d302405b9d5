#include "fabric/tcp/reactor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

namespace iscsilab::hil {

namespace {
// The reactor whose run() this thread is in, if any: work it posts to itself needs no
// wake-up, since the loop looks at posted work and timers before it waits again.
thread_local Reactor* tls_running = nullptr;
// Reactor::id: never reused, where an address may be.
std::atomic<std::uint64_t> next_reactor_id{1};
}  // namespace

Reactor::Reactor(Nanos max_spin) : id_(next_reactor_id.fetch_add(1)), spin_(max_spin) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    evfd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || evfd_ < 0) throw std::runtime_error(std::string("reactor: ") + std::strerror(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = evfd_;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev);
}

Reactor::~Reactor() {
    stop();
    join();
    if (evfd_ >= 0) ::close(evfd_);
    if (epfd_ >= 0) ::close(epfd_);
}

void Reactor::wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(evfd_, &one, sizeof one);
}

void Reactor::post(Task fn) {
    // A completion made on the reactor's own thread (a page-cache read or write done
    // inline) needs neither the lock nor a wake-up: the loop runs local_ before it waits.
    if (tls_running == this) return local_.push_back(std::move(fn));
    {
        std::lock_guard lock(mu_);
        posted_.push_back(std::move(fn));
    }
    wake();
}

Reactor* Reactor::current() { return tls_running; }

Nanos Reactor::now() const {
    return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch());
}

TimerId Reactor::after(Nanos delay, Task fn) {
    std::lock_guard lock(mu_);
    const std::uint64_t id = next_timer_++;
    timers_.push(Timer{now() + delay, id});
    timer_fns_[id] = std::move(fn);
    if (tls_running != this) wake();
    return TimerId{id};
}

void Reactor::cancel(TimerId id) {
    Task fn;
    {
        std::lock_guard lock(mu_);
        auto it = timer_fns_.find(id.value);  // the heap entry expires harmlessly
        if (it == timer_fns_.end()) return;
        fn = std::move(it->second);
        timer_fns_.erase(it);
    }
    // fn, and what it holds (a closing TcpStream holds itself this way), goes here,
    // outside the lock: a destructor it runs may call after() or cancel().
}

void Reactor::add_fd(int fd, std::uint32_t events, FdHandler handler) {
    fds_[fd] = std::make_shared<FdHandler>(std::move(handler));
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::runtime_error(std::string("epoll_ctl add: ") + std::strerror(errno));
}

void Reactor::modify_fd(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
}

void Reactor::remove_fd(int fd) {
    epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    fds_.erase(fd);
}

void Reactor::run() {
    Reactor* outer = tls_running;
    tls_running = this;
    struct Restore {
        Reactor* outer;
        ~Restore() { tls_running = outer; }
    } restore{outer};
    epoll_event events[64];
    std::vector<Task> work;
    Nanos busy_since = now();
    while (!stop_.load()) {
        bool block = true;
        Nanos due = Nanos::max();
        {
            std::lock_guard lock(mu_);
            while (!timers_.empty() && !timer_fns_.count(timers_.top().id)) timers_.pop();
            if (!posted_.empty() || !local_.empty()) block = false;
            else if (!timers_.empty()) due = timers_.top().when;
        }
        const Nanos idle_since = now();
        spin_.busy(idle_since - busy_since);
        const int n = wait(events, 64, block && due > idle_since, due);
        busy_since = now();
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == evfd_) {
                std::uint64_t v;
                while (::read(evfd_, &v, sizeof v) > 0) {
                }
                continue;
            }
            auto it = fds_.find(fd);
            if (it == fds_.end()) continue;
            auto h = it->second;  // the handler may remove itself
            (*h)(events[i].events);
        }
        // Due timers.
        for (;;) {
            Task fn;
            {
                std::lock_guard lock(mu_);
                if (timers_.empty() || timers_.top().when > now()) break;
                auto id = timers_.top().id;
                timers_.pop();
                auto it = timer_fns_.find(id);
                if (it == timer_fns_.end()) continue;
                fn = std::move(it->second);
                timer_fns_.erase(it);
            }
            fn();
        }
        // Posted work: what other threads posted, as it stood when its turn came, then what
        // this one did (below). The vectors trade places and keep their capacity.
        {
            std::lock_guard lock(mu_);
            work.swap(posted_);
        }
        for (auto& fn : work) fn();
        work.clear();
        // What this thread posted to itself runs pass after pass, up to kLocalPasses: a
        // command's completion, then the flush its response's send posted. Each pass run
        // here instead of after another epoll_wait saves a system call per command (half
        // a microsecond or more on a virtual machine). A task that keeps posting itself
        // still lets the sockets in after kLocalPasses passes.
        for (int pass = 0; pass < kLocalPasses && !local_.empty(); ++pass) {
            work.swap(local_);
            for (auto& fn : work) fn();
            work.clear();
        }
    }
}

int Reactor::wait(epoll_event* events, int max, bool block, Nanos due) {
    if (!block) return epoll_wait(epfd_, events, max, 0);
    const Nanos start = now();
    Nanos t = start;
    const Nanos window = spin_.window();
    if (window > Nanos{0}) {
        const Nanos until = std::min(start + window, due);
        do {
            const int n = epoll_wait(epfd_, events, max, 0);
            t = now();
            if (n != 0) {
                spin_.waited(t - start, true, Nanos{0});
                return n;
            }
        } while (t < until);
    }
    const Nanos spun = t - start;
    int timeout_ms = -1;
    if (due != Nanos::max()) {
        const auto left = due - t;
        timeout_ms = left.count() <= 0 ? 0 : static_cast<int>(left.count() / 1000000 + 1);
    }
    const int n = epoll_wait(epfd_, events, max, timeout_ms);
    spin_.waited(spun, false, now() - t);
    return n;
}

void Reactor::start_thread() {
    thread_ = std::thread([this] { run(); });
}

void Reactor::stop() {
    stop_.store(true);
    if (evfd_ >= 0) wake();
}

void Reactor::join() {
    if (thread_.joinable()) thread_.join();
}

}  // namespace iscsilab::hil
