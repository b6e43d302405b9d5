// The initiator model's verification oracle: the tag every written block carries, the
// shadow of what the target acknowledged, and what a power loss (whole, or torn) may
// leave of it: per block, one whole version from the last durable one to the last
// acknowledged one.
#include <algorithm>

#include "model/initiator.hpp"
#include "target/bytes.hpp"

namespace iscsilab::model {

void Initiator::fill_block(std::uint64_t lba, std::uint64_t gen, std::span<std::byte> out) const {
    if (gen == 0) {
        std::fill(out.begin(), out.end(), std::byte{0});
        return;
    }
    // The tag: LBA and generation in the first 16 bytes, a pattern derived from both after.
    for (std::size_t i = 0; i + 8 <= out.size(); i += 8) {
        std::uint64_t w = i == 0 ? lba : i == 8 ? gen : (lba << 24) ^ (gen << 44) ^ (i * 0x9e3779b97f4a7c15ULL);
        st64(out, i, w);
    }
}

void Initiator::unknown(std::uint64_t lba, std::uint32_t blocks) {
    for (std::uint32_t b = 0; b < blocks; ++b) {
        shadow_[lba + b] = kUnknown;
        uncertain_.erase(lba + b);
        unmapped_.erase(lba + b);
    }
}

std::uint64_t Initiator::durable_gen(std::uint64_t lba) const {
    auto d = durable_.find(lba);
    return d == durable_.end() ? 0 : d->second;
}

void Initiator::power_lost() {
    for (auto& [block, gen] : shadow_) {
        if (gen == kUnknown) continue;
        const std::uint64_t lo = durable_gen(block);
        if (!unmapped_.empty() && unmapped_.count(block)) {
            // Unmapped: the UNMAP may sit in a cache the loss took (the oracle never counts
            // an UNMAP durable), so zeros, or any version a flush made durable before it:
            // unknown until written again.
            gen = kUnknown;
            unmapped_.erase(block);
            continue;
        }
        if (lo != gen) uncertain_[block] = {lo, gen};
    }
    // A SYNCHRONIZE CACHE still running flushes a cache that is no longer there: it makes
    // nothing acknowledged before the loss durable.
    log_base_ += acked_log_.size();
    acked_log_.clear();
    // A write still in flight may have reached the cache before the loss: its
    // acknowledgement (checked against the epoch) does not prove it is there.
    ++power_epoch_;
    // A shared region's oracle judges no interval with a loss in it (every initiator
    // tells it; one is enough).
    if (shared_) shared_->power_lost(kernel_.now());
}

bool Initiator::check_block(std::uint64_t lba, std::span<const std::byte> got, bool settle) {
    Bytes want(block_len_);
    if (auto u = uncertain_.find(lba); u != uncertain_.end()) {
        // After a power loss: any version from the last durable one to the last
        // acknowledged one (the tag says which), whole: a torn power loss lands some of
        // a multi-block write's blocks and not others, but each block is old-durable or
        // new, never a mix (a version between the two is possible too: a flush this
        // initiator cannot see, another's SYNCHRONIZE CACHE, may have made it durable).
        // A read sent after the loss found what the device holds now (one sent before
        // may have read the lost cache); that need not be durable yet: a write that
        // crossed the loss may sit in the new cache.
        const auto [lo, hi] = u->second;
        const bool zero = std::all_of(got.begin(), got.end(), [](std::byte b) { return b == std::byte{0}; });
        const std::uint64_t gen = zero ? 0 : ld64(got, 8);
        if (gen < lo || gen > hi) return false;
        fill_block(lba, gen, want);
        if (!std::equal(want.begin(), want.end(), got.begin())) return false;
        if (!settle) return true;
        if (gen != hi) ++stats_.reverted;
        else ++stats_.seen["landed"];  // the newest version outlived the loss
        uncertain_.erase(u);
        shadow_[lba] = gen;
        return true;
    }
    auto s = shadow_.find(lba);
    if (s != shadow_.end() && s->second == kUnknown) return true;  // after an abort or recovery
    fill_block(lba, s == shadow_.end() ? 0 : s->second, want);
    return std::equal(want.begin(), want.end(), got.begin());
}

std::string Initiator::mismatch(std::uint64_t lba, std::span<const std::byte> got) const {
    std::string want;
    if (auto u = uncertain_.find(lba); u != uncertain_.end()) {
        want = "a version from " + std::to_string(u->second.first) + " to " + std::to_string(u->second.second) + " (after a power loss)";
    } else {
        auto s = shadow_.find(lba);
        const std::uint64_t g = s == shadow_.end() ? 0 : s->second;
        want = g != 0 ? "version " + std::to_string(g)
               : unmapped_.count(lba) ? std::string("zeros (unmapped; LBPRZ=1)")
                                      : std::string("zeros (never written)");
    }
    std::string found;
    if (got.size() < block_len_) {
        found = std::to_string(got.size()) + " bytes";
    } else {
        got = got.first(block_len_);
        if (std::all_of(got.begin(), got.end(), [](std::byte b) { return b == std::byte{0}; })) {
            found = "zeros";
        } else {
            const std::uint64_t tag_lba = ld64(got, 0), tag_gen = ld64(got, 8);
            Bytes whole(block_len_);
            fill_block(tag_lba, tag_gen, whole);
            found = "the tag of LBA " + std::to_string(tag_lba) + ", version " + std::to_string(tag_gen) +
                    (std::equal(whole.begin(), whole.end(), got.begin()) ? "" : " (not whole: a torn or foreign block)");
        }
    }
    return "data verification failed at LBA " + std::to_string(lba) + " (" + cfg_.name + "): expected " + want + ", found " + found;
}

void Initiator::data_error(std::string why) {
    ++stats_.data_errors;
    if (!cfg_.expect_data_errors) return error(std::move(why));
    // The run is after these (a misdirected write or read must be caught): kept aside.
    if (stats_.data_error_lines.size() < 4) stats_.data_error_lines.push_back(std::move(why));
}

}  // namespace iscsilab::model
