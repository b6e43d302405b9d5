// vdisk_nullio's backing store: reads return zeros, writes vanish (SCST's nullio).
#pragma once

#include <algorithm>

#include "target/ports.hpp"

namespace iscsilab::handlers {

class NullStore final : public BlockStore {
public:
    explicit NullStore(std::uint64_t size_bytes) : size_(size_bytes) {}
    std::uint64_t size_bytes() const override { return size_; }
    void submit(const BlockRequest& req, std::function<void(BlockStatus)> done) override {
        if (req.op == BlockOp::read) std::fill(req.buffer.begin(), req.buffer.end(), std::byte{0});
        done(BlockStatus::ok);
    }

private:
    std::uint64_t size_;
};

}  // namespace iscsilab::handlers
