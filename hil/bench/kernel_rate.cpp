// The bare SimKernel's event rate: 64 timer chains, each re-arming itself after a
// varying delay, with no model behind them. The swarm benchmark prints it beside the
// swarm's own rate, so "runs per second" reads against what the kernel alone can do on
// the same machine in the same run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "model/kernel.hpp"

extern "C" int sc_main(int, char**) { return 0; }

int main(int argc, char** argv) {
    setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);
    const std::uint64_t target = argc > 1 ? std::stoull(argv[1]) : 4000000;
    iscsilab::model::fresh_systemc_context();
    iscsilab::model::SimKernel kernel("kernel");
    std::uint64_t fired = 0;
    std::function<void(std::uint64_t)> chain = [&](std::uint64_t k) {
        if (++fired >= target) return;
        kernel.after(iscsilab::Nanos(1 + (k * 7919) % 1000), [&chain, k] { chain(k + 64); });
    };
    for (std::uint64_t k = 0; k < 64; ++k) kernel.post([&chain, k] { chain(k); });
    const auto t0 = std::chrono::steady_clock::now();
    kernel.run(std::chrono::hours(24));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("bare SimKernel: %llu events in %.3f s: %.0f events/s\n", static_cast<unsigned long long>(fired), s,
                static_cast<double>(fired) / s);
    return 0;
}
