// The kernel's random source behind the core's Random port (CHAP challenges).
#pragma once

#include <sys/random.h>

#include <stdexcept>

#include "target/ports.hpp"

namespace iscsilab::hil {

class KernelRandom final : public Random {
public:
    void fill(std::span<std::byte> out) override {
        std::size_t done = 0;
        while (done < out.size()) {
            ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
            if (n <= 0) throw std::runtime_error("getrandom failed");
            done += static_cast<std::size_t>(n);
        }
    }
};

}  // namespace iscsilab::hil
