// One event loop per core (DESIGN.md, "Threads"): epoll for sockets, a timer heap on
// the monotonic clock, and a queue that other threads post work into. It implements
// the core's Executor and Clock ports.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

struct epoll_event;

#include "fabric/tcp/spin_policy.hpp"
#include "target/ports.hpp"

namespace iscsilab::hil {

class Reactor final : public Executor, public Clock {
public:
    using FdHandler = std::function<void(std::uint32_t events)>;

    // max_spin: the longest it polls before blocking (fabric/tcp/spin_policy.hpp); 0 never.
    explicit Reactor(Nanos max_spin = Nanos{0});
    ~Reactor() override;
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    // Executor
    void post(Task fn) override;
    // Clock (monotonic)
    Nanos now() const override;
    TimerId after(Nanos delay, Task fn) override;
    void cancel(TimerId id) override;

    // File descriptors: only from the reactor's own thread.
    void add_fd(int fd, std::uint32_t events, FdHandler handler);
    void modify_fd(int fd, std::uint32_t events);
    void remove_fd(int fd);

    // The reactor whose run() the calling thread is in, or null.
    static Reactor* current();
    // Unique in the process for its lifetime (an address may be reused after it).
    std::uint64_t id() const { return id_; }

    void run();                    // until stop()
    void start_thread();           // run() on a thread of its own
    void stop();
    void join();

private:
    void wake();
    // Waits for events as epoll_wait does (timeout -1: none, else until `due`), polling
    // first when the spin policy says so.
    int wait(epoll_event* events, int max, bool block, Nanos due);
    struct Timer {
        Nanos when;
        std::uint64_t id;
        bool operator>(const Timer& o) const { return when != o.when ? when > o.when : id > o.id; }
    };
    const std::uint64_t id_;
    int epfd_ = -1, evfd_ = -1;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<Task> posted_;  // from other threads, under mu_
    std::vector<Task> local_;   // from the reactor's own thread: no lock
    static constexpr int kLocalPasses = 4;  // of local_ per round (run())
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
    std::unordered_map<std::uint64_t, Task> timer_fns_;
    std::uint64_t next_timer_ = 1;
    std::unordered_map<int, std::shared_ptr<FdHandler>> fds_;
    std::thread thread_;
    SpinPolicy spin_;
};

}  // namespace iscsilab::hil
