// A token bucket over the time it is handed: what a connection may send of a kind of PDU
// that costs the target work and that no initiator needs in bulk (continued Text
// Requests). Tokens may go into debt; the wait it returns is the time the debt takes to
// pay back at the refill rate, which is how long the connection's input is held.
#pragma once

#include <algorithm>
#include <cstdint>

#include "target/ports.hpp"

namespace iscsilab::iscsi {

class Pace {
public:
    // per_second tokens come back each second (1 to 1,000,000), up to burst (at least 1).
    // The debt is bounded by max_debt tokens, so that no single wait grows without end.
    constexpr Pace(std::uint32_t per_second, std::uint32_t burst, std::uint32_t max_debt)
        : per_second_(std::clamp<std::uint32_t>(per_second, 1, 1'000'000)), burst_(std::max<std::uint32_t>(burst, 1)),
          max_debt_(max_debt), tokens_(static_cast<std::int64_t>(burst_) * kScale) {}

    // Takes one token at now. Zero when one was there, else how long until the debt is paid.
    Nanos take(Nanos now) {
        refill(now);
        tokens_ -= kScale;
        const std::int64_t floor = -static_cast<std::int64_t>(max_debt_) * kScale;
        if (tokens_ < floor) tokens_ = floor;
        if (tokens_ >= 0) return Nanos{0};
        // -tokens_ millionths owed, at per_second_ tokens (per_second_ * kScale millionths) a
        // second: 1,000 / per_second_ ns each. At most 2^32 * kScale * 1,000 < 2^63.
        return Nanos{(-tokens_) * 1000 / static_cast<std::int64_t>(per_second_)};
    }
    // Tokens now there (negative: owed), whole ones.
    std::int64_t tokens(Nanos now) {
        refill(now);
        return tokens_ / kScale;
    }

private:
    // Tokens are counted in millionths, so that a refill over a short time is not lost.
    static constexpr std::int64_t kScale = 1'000'000;
    void refill(Nanos now) {
        if (!started_) {
            started_ = true;
            last_ = now;
            return;
        }
        if (now <= last_) return;
        const std::int64_t ns = (now - last_).count();
        last_ = now;
        // per_second * kScale millionths per 1e9 ns. The cap keeps the product below 2^63;
        // a bucket whose debt and burst refill within 1,000 s (the target's do, in 5 s) is
        // full again by then anyway.
        const std::int64_t capped = std::min<std::int64_t>(ns, 1'000'000'000'000);
        tokens_ += capped * static_cast<std::int64_t>(per_second_) / 1000;
        tokens_ = std::min(tokens_, static_cast<std::int64_t>(burst_) * kScale);
    }
    std::uint32_t per_second_, burst_, max_debt_;
    std::int64_t tokens_;
    bool started_ = false;
    Nanos last_{0};
};

}  // namespace iscsilab::iscsi
