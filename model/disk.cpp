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
        // An UNMAP moves no data: it only drops pages.
        const auto moved = w.req.op == BlockOp::unmap ? 0.0 : static_cast<double>(w.req.length);
        const auto xfer = Nanos(static_cast<std::int64_t>(moved * 1e9 / cfg_.bandwidth_bps));
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
        if (!holes_.empty()) holes_.erase(page);   // written again: no longer deallocated
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
        case BlockOp::write: {
            const std::uint64_t at = target_offset(r);
            const bool durable = r.fua || !cfg_.write_cache;
            write_bytes(at, r.buffer, durable);
            if (!durable) {
                cached_writes_.emplace_back(at, r.buffer.size());
                if (cached_writes_.size() > 65536) cached_writes_.pop_front();
            }
            break;
        }
        case BlockOp::write_same: {
            // target/ports.hpp: the buffer is one logical block, written over the range.
            const std::uint64_t at = target_offset(r);
            const bool durable = r.fua || !cfg_.write_cache;
            if (!r.buffer.empty()) {
                const std::size_t unit = r.buffer.size();
                std::vector<std::byte> run(unit * std::max<std::size_t>(1, 65536 / unit));
                for (std::size_t k = 0; k < run.size(); k += unit) std::memcpy(run.data() + k, r.buffer.data(), unit);
                for (std::uint64_t done = 0; done < r.length;) {
                    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(run.size(), r.length - done));
                    write_bytes(at + done, std::span<const std::byte>(run).first(n), durable);
                    done += n;
                }
            }
            if (!durable) {
                cached_writes_.emplace_back(at, r.length);
                if (cached_writes_.size() > 65536) cached_writes_.pop_front();
            }
            break;
        }
        case BlockOp::flush:
            for (auto& [page, p] : cache_) {
                if (holes_.count(page)) durable_.erase(page);   // a cached deallocation lands
                else durable_[page] = p;
            }
            cache_.clear();
            holes_.clear();
            cached_writes_.clear();
            break;
        case BlockOp::unmap: deallocate(r.offset, r.length, r.fua || !cfg_.write_cache); break;
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

void SimDisk::deallocate(std::uint64_t off, std::uint64_t len, bool durable) {
    // target/ports.hpp: an unmapped range reads back as zeros (LBPRZ=1). Whole pages are
    // dropped (durable: from the medium; else a zeroed page in the volatile cache that a
    // flush turns into a hole, and a power loss forgets: the UNMAP was not durable);
    // the parts of pages at either end are zeroed.
    static const Page zeros{};
    for (std::uint64_t at = off; at < off + len;) {
        const std::uint64_t page = at / kPage;
        const std::size_t in = at % kPage;
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kPage - in, off + len - at));
        if (n == kPage) {
            if (durable) {
                cache_.erase(page);
                durable_.erase(page);
                holes_.erase(page);
            } else {
                cache_[page] = zeros;
                holes_.insert(page);
            }
        } else {
            write_bytes(at, std::span<const std::byte>(zeros).first(n), durable);
        }
        at += n;
    }
}

void SimDisk::provisioning(std::uint64_t offset, std::uint64_t length, std::size_t max_extents,
                           std::function<void(BlockStatus, std::vector<Extent>)> done) {
    if (kernel_.now() < offline_until_) {
        kernel_.post([done] { done(BlockStatus::offline, {}); });
        return;
    }
    // A page is mapped if it holds data (a cached zeroed page left by an UNMAP is not).
    // Pages in address order, from the pages stored: the LU may be huge, its data not.
    const std::uint64_t end = offset + length;
    std::vector<std::uint64_t> mapped;
    for (const auto& [page, p] : cache_)
        if (!holes_.count(page) && (page + 1) * kPage > offset && page * kPage < end) mapped.push_back(page);
    for (const auto& [page, p] : durable_)
        if (!cache_.count(page) && (page + 1) * kPage > offset && page * kPage < end) mapped.push_back(page);
    std::sort(mapped.begin(), mapped.end());
    std::vector<Extent> out;
    auto add = [&out](std::uint64_t from, std::uint64_t to, bool is_mapped) {
        if (to <= from) return;
        if (!out.empty() && out.back().mapped == is_mapped && out.back().offset + out.back().length == from)
            out.back().length += to - from;
        else
            out.push_back(Extent{from, to - from, is_mapped});
    };
    std::uint64_t cursor = offset;
    for (std::uint64_t page : mapped) {
        const std::uint64_t from = std::max(page * kPage, offset), to = std::min((page + 1) * kPage, end);
        add(cursor, from, false);
        add(from, to, true);
        cursor = to;
    }
    add(cursor, end, false);
    if (max_extents > 0 && out.size() > max_extents) out.resize(max_extents);
    kernel_.post([done, out = std::move(out)] { done(BlockStatus::ok, out); });
}

void SimDisk::power_loss() {
    cache_.clear();
    holes_.clear();
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
            if (holes_.count(page)) durable_.erase(page);
            else durable_[page] = cache_[page];
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
    holes_.clear();
    cached_writes_.clear();
    return out;
}

void SimDisk::peek(std::uint64_t offset, std::span<std::byte> out) const { read_bytes(offset, out); }

}  // namespace iscsilab::model
