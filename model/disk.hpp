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
#include <unordered_set>
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
    // Mapped where a page holds data; deallocated where none was written, or an UNMAP
    // dropped it (SBC-3 §4.7.2, for GET LBA STATUS). In 4 KiB pages: a block unmapped
    // inside a page that keeps other data reads zeros but shows mapped.
    void provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                      std::function<void(BlockStatus, std::vector<Extent>)> done) override;

    // Power loss: the volatile cache is gone; only durable contents remain.
    void power_loss();
    // A torn power loss: of what the volatile cache holds, each 4 KiB page lands on the
    // medium with probability landed_pct/100 (from `rng`) and the rest is lost, so a
    // multi-page write may land in part. A page is the unit that lands or not, and every
    // block size (512..4096) divides it: no logical block is torn inside itself.
    struct TornLoss {
        std::uint64_t pages_landed = 0, pages_lost = 0;
        std::uint64_t writes_torn = 0;   // cached writes with pages on both sides
    };
    TornLoss torn_power_loss(std::uint32_t landed_pct, Rng& rng);

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
    // Until `until`, writes (or reads) that touch [offset, offset + length) (length 0:
    // anywhere) go to the byte offset `shift` further on (or back, where that would pass
    // the end): a misdirected write or read, which only the data checks can catch.
    struct Misdirect {
        bool writes = true;
        std::uint64_t shift = 0, offset = 0, length = 0;
        Nanos until{0};
    };
    void misdirect(Misdirect m) { misdirects_.push_back(m); }
    void clear_misdirects() { misdirects_.clear(); }
    std::uint64_t misdirected() const { return misdirected_; }
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
    void deallocate(std::uint64_t off, std::uint64_t len, bool durable);
    void read_bytes(std::uint64_t off, std::span<std::byte> out) const;

    SimKernel& kernel_;
    DiskConfig cfg_;
    Rng rng_;
    std::string name_;
    std::unordered_map<std::uint64_t, Page> durable_, cache_;
    std::unordered_set<std::uint64_t> holes_;   // cached pages an UNMAP zeroed: deallocated once flushed
    struct Waiting {
        BlockRequest req;
        std::function<void(BlockStatus)> done;
    };
    std::deque<Waiting> waiting_;
    std::uint32_t busy_ = 0;
    Nanos media_free_{0};
    std::uint64_t ops_ = 0;
    std::vector<MediumError> medium_errors_;
    std::vector<Misdirect> misdirects_;
    std::uint64_t misdirected_ = 0;
    // Writes that sit in the volatile cache (byte ranges), to tell which a torn power
    // loss tore; bounded, oldest forgotten first.
    std::deque<std::pair<std::uint64_t, std::uint64_t>> cached_writes_;
    std::uint64_t target_offset(const BlockRequest& r);
    double slow_factor_ = 1.0;
    Nanos slow_until_{0}, offline_until_{0};
};

}  // namespace iscsilab::model
