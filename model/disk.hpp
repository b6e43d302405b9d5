// A disk model behind the BlockStore port: per-operation latency (fixed, or uniform or
// exponential from the seeded "disk" stream), bandwidth, a queue depth beyond which
// requests wait, a volatile write-back cache that FLUSH and FUA make durable, and
// sparse contents (a 1 TiB disk costs only what is written).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/kernel.hpp"
#include "model/rng.hpp"
#include "target/ports.hpp"

namespace iscsilab::model {

struct DiskConfig {
    std::uint64_t size_bytes = 1ull << 30;
    Nanos read_latency{std::chrono::microseconds(50)};
    Nanos write_latency{std::chrono::microseconds(50)};
    Nanos flush_latency{std::chrono::microseconds(500)};
    enum class Jitter : std::uint8_t { none, uniform, exponential } jitter = Jitter::none;
    double bandwidth_bps = 16e9;      // bytes moved at this rate on top of the latency
    std::uint32_t queue_depth = 64;   // requests in service at once
    bool write_cache = true;          // volatile write-back cache
};

class SimDisk final : public BlockStore {
public:
    SimDisk(SimKernel& kernel, DiskConfig cfg, std::uint64_t seed, std::string name);
    std::uint64_t size_bytes() const override { return cfg_.size_bytes; }
    void submit(const BlockRequest& req, std::function<void(BlockStatus)> done) override;

    // Power loss: the volatile cache is gone; only durable contents remain.
    void power_loss();

    // Faults (the fault plan in faults/ sets them).
    struct MediumError {
        std::uint64_t offset = 0, length = 0;  // bytes
        bool reads = true, writes = false;     // which operations fail on the range
    };
    void add_medium_error(MediumError e) { medium_errors_.push_back(e); }
    void clear_medium_errors() { medium_errors_.clear(); }
    // Every operation started before `until` takes `factor` times as long.
    void slow_down(double factor, Nanos until) { slow_factor_ = factor, slow_until_ = until; }
    // Every operation that ends before `until` fails: the device is gone.
    void go_offline(Nanos until) { offline_until_ = until; }
    // Read the durable+cached view directly (for invariant checks).
    void peek(std::uint64_t offset, std::span<std::byte> out) const;

    std::uint64_t ops() const { return ops_; }
    std::uint64_t pages_stored() const { return durable_.size() + cache_.size(); }

private:
    static constexpr std::size_t kPage = 4096;
    using Page = std::array<std::byte, kPage>;
    void start_next();
    void finish(const BlockRequest& req, std::function<void(BlockStatus)> done);
    Nanos service_time(const BlockRequest& req);
    void write_bytes(std::uint64_t off, std::span<const std::byte> src, bool durable);
    void read_bytes(std::uint64_t off, std::span<std::byte> out) const;

    SimKernel& kernel_;
    DiskConfig cfg_;
    Rng rng_;
    std::string name_;
    std::unordered_map<std::uint64_t, Page> durable_, cache_;
    struct Waiting {
        BlockRequest req;
        std::function<void(BlockStatus)> done;
    };
    std::deque<Waiting> waiting_;
    std::uint32_t busy_ = 0;
    Nanos media_free_{0};
    std::uint64_t ops_ = 0;
    std::vector<MediumError> medium_errors_;
    double slow_factor_ = 1.0;
    Nanos slow_until_{0}, offline_until_{0};
};

}  // namespace iscsilab::model
