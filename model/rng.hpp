// Seeded randomness for simulation: one seed split into named streams (workload, faults,
// disk, link, target), so that adding a fault does not move the workload's choices.
// SplitMix64 (Vigna): small, fast, and the same on every platform, unlike the
// distributions of <random>.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "target/ports.hpp"

namespace iscsilab::model {

class Rng final : public Random {
public:
    Rng(std::uint64_t seed, std::string_view stream) : state_(seed ^ hash(stream)) { next(); }

    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias is below 2^-32 here).
    std::uint64_t below(std::uint64_t n) {
        return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

    void fill(std::span<std::byte> out) override {
        for (auto& b : out) b = static_cast<std::byte>(next());
    }

    static std::uint64_t hash(std::string_view s) {
        std::uint64_t h = 1469598103934665603ULL;
        for (char c : s) h = (h ^ static_cast<std::uint8_t>(c)) * 1099511628211ULL;
        return h;
    }

private:
    std::uint64_t state_;
};

}  // namespace iscsilab::model
