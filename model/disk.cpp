#include "model/disk.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace iscsilab::model {

SimDisk::SimDisk(SimKernel& kernel, DiskConfig cfg, std::uint64_t seed, std::string name)
    : kernel_(kernel), cfg_(cfg), rng_(seed, "disk/" + name), name_(std::move(name)) {}

Nanos SimDisk::service_time(const BlockRequest& r) {
    Nanos base = r.op == BlockOp::read ? cfg_.read_latency : r.op == BlockOp::flush ? cfg_.flush_latency : cfg_.write_latency;
    if (r.op == BlockOp::write && (r.fua || !cfg_.write_cache)) base += cfg_.flush_latency;
    double scale = 1.0;
    switch (cfg_.jitter) {
        case DiskConfig::Jitter::none: break;
        case DiskConfig::Jitter::uniform: scale = 0.5 + rng_.unit(); break;
        case DiskConfig::Jitter::exponential: scale = -std::log(1.0 - rng_.unit() * 0.999999); break;
    }
    if (kernel_.now() < slow_until_) scale *= slow_factor_;
    return Nanos(static_cast<std::int64_t>(static_cast<double>(base.count()) * scale));
}

void SimDisk::submit(const BlockRequest& req, std::function<void(BlockStatus)> done) {
    if (req.op != BlockOp::flush && req.offset + req.length > cfg_.size_bytes) {
        kernel_.post([done] { done(BlockStatus::io_error); });
        return;
    }
    waiting_.push_back(Waiting{req, std::move(done)});
    start_next();
}

void SimDisk::start_next() {
    while (busy_ < cfg_.queue_depth && !waiting_.empty()) {
        Waiting w = std::move(waiting_.front());
        waiting_.pop_front();
        ++busy_;
        ++ops_;
        // Latency overlaps across the queue; data transfer shares the media bandwidth.
        // Requests in service finish in their own time, so with jitter they reorder
        // (as a disk with a command queue does).
        const Nanos lat = service_time(w.req);
        const auto xfer = Nanos(static_cast<std::int64_t>(static_cast<double>(w.req.length) * 1e9 / cfg_.bandwidth_bps));
        media_free_ = std::max(media_free_, kernel_.now()) + xfer;
        const Nanos end = std::max(media_free_, kernel_.now() + lat);
        kernel_.after(end - kernel_.now(), [this, w = std::move(w)]() mutable {
            --busy_;
            finish(w.req, std::move(w.done));
            start_next();
        });
    }
}

void SimDisk::write_bytes(std::uint64_t off, std::span<const std::byte> src, bool durable) {
    std::size_t done = 0;
    while (done < src.size()) {
        const std::uint64_t page = (off + done) / kPage;
        const std::size_t in = (off + done) % kPage;
        const std::size_t n = std::min(kPage - in, src.size() - done);
        // The durable copy always takes a FUA write. A cached page takes every write
        // too: it may hold newer bytes elsewhere in the page that a partial FUA write
        // must neither lose nor make durable.
        if (durable) {
            std::memcpy(durable_[page].data() + in, src.data() + done, n);  // new pages are zero
            if (auto c = cache_.find(page); c != cache_.end()) std::memcpy(c->second.data() + in, src.data() + done, n);
        } else {
            auto it = cache_.find(page);
            if (it == cache_.end()) {
                // A page cached for the first time starts from what is durable below it.
                Page p{};
                if (auto d = durable_.find(page); d != durable_.end()) p = d->second;
                it = cache_.emplace(page, p).first;
            }
            std::memcpy(it->second.data() + in, src.data() + done, n);
        }
        done += n;
    }
}

void SimDisk::read_bytes(std::uint64_t off, std::span<std::byte> out) const {
    std::size_t done = 0;
    while (done < out.size()) {
        const std::uint64_t page = (off + done) / kPage;
        const std::size_t in = (off + done) % kPage;
        const std::size_t n = std::min(kPage - in, out.size() - done);
        const Page* p = nullptr;
        if (auto c = cache_.find(page); c != cache_.end()) p = &c->second;
        else if (auto d = durable_.find(page); d != durable_.end()) p = &d->second;
        if (p) std::memcpy(out.data() + done, p->data() + in, n);
        else std::memset(out.data() + done, 0, n);
        done += n;
    }
}

void SimDisk::finish(const BlockRequest& r, std::function<void(BlockStatus)> done) {
    if (kernel_.now() < offline_until_) return done(BlockStatus::offline);
    for (const auto& e : medium_errors_) {
        const bool applies = (r.op == BlockOp::read && e.reads) ||
                             ((r.op == BlockOp::write || r.op == BlockOp::write_same) && e.writes);
        if (applies && r.offset < e.offset + e.length && e.offset < r.offset + r.length) {
            // The range is unreadable or unwritable: nothing of this request happens.
            return done(BlockStatus::medium_error);
        }
    }
    switch (r.op) {
        case BlockOp::read: read_bytes(target_offset(r), r.buffer); break;
        case BlockOp::write:
        case BlockOp::write_same: {
            const std::uint64_t at = target_offset(r);
            const bool durable = r.fua || !cfg_.write_cache;
            write_bytes(at, r.buffer, durable);
            if (!durable) {
                cached_writes_.emplace_back(at, r.buffer.size());
                if (cached_writes_.size() > 65536) cached_writes_.pop_front();
            }
            break;
        }
        case BlockOp::flush:
            for (auto& [page, p] : cache_) durable_[page] = p;
            cache_.clear();
            cached_writes_.clear();
            break;
        case BlockOp::unmap: break;
    }
    done(BlockStatus::ok);
}

std::uint64_t SimDisk::target_offset(const BlockRequest& r) {
    const bool writing = r.op == BlockOp::write || r.op == BlockOp::write_same;
    for (const auto& m : misdirects_) {
        if (kernel_.now() >= m.until || m.writes != writing) continue;
        if (m.length > 0 && !(r.offset < m.offset + m.length && m.offset < r.offset + r.length)) continue;
        ++misdirected_;
        if (r.offset + m.shift + r.length <= cfg_.size_bytes) return r.offset + m.shift;
        return r.offset >= m.shift ? r.offset - m.shift : 0;
    }
    return r.offset;
}

void SimDisk::power_loss() {
    cache_.clear();
    cached_writes_.clear();
}

SimDisk::TornLoss SimDisk::torn_power_loss(std::uint32_t landed_pct, Rng& rng) {
    TornLoss out;
    // Pages in address order, so the draws do not depend on the hash map's order.
    std::vector<std::uint64_t> pages;
    pages.reserve(cache_.size());
    for (const auto& [page, p] : cache_) pages.push_back(page);
    std::sort(pages.begin(), pages.end());
    std::unordered_map<std::uint64_t, bool> landed;
    for (std::uint64_t page : pages) {
        const bool lands = rng.below(100) < landed_pct;
        landed[page] = lands;
        if (lands) {
            durable_[page] = cache_[page];
            ++out.pages_landed;
        } else {
            ++out.pages_lost;
        }
    }
    for (const auto& [off, len] : cached_writes_) {
        if (len == 0) continue;
        bool some = false, none = false;
        for (std::uint64_t page = off / kPage; page <= (off + len - 1) / kPage; ++page) {
            auto it = landed.find(page);
            if (it == landed.end()) continue;  // a later FUA write made that page durable
            (it->second ? some : none) = true;
        }
        if (some && none) ++out.writes_torn;
    }
    cache_.clear();
    cached_writes_.clear();
    return out;
}

void SimDisk::peek(std::uint64_t offset, std::span<std::byte> out) const { read_bytes(offset, out); }

}  // namespace iscsilab::model
