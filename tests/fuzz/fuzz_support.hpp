// What the fuzz entry points share: a reader over the input, a block store that checks
// every request it is handed, memory in place of files and state, and an iSCSI target
// on in-memory ports with the bytes of a valid login. The entry points are built twice:
// as libFuzzer targets (clang, ISCSILAB_FUZZ=ON) and as corpus replays (replay_main.cpp).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "support/harness.hpp"
#include "target/iscsi/driver.hpp"
#include "target/mgmt/scst.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace iscsilab::fuzz {

// A finding: the message, then an abort that the fuzzer (or the replay) reports.
[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

// The input, read front to back. Past its end every number reads as zero and every
// span as empty, so a short input is still a valid one.
class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}
    bool empty() const { return n_ == 0; }
    std::size_t left() const { return n_; }
    std::uint8_t u8() {
        if (n_ == 0) return 0;
        --n_;
        return *p_++;
    }
    std::uint16_t u16() {
        const std::uint16_t lo = u8();
        return static_cast<std::uint16_t>(lo | (u8() << 8));
    }
    std::span<const std::byte> take(std::size_t n) {
        n = std::min(n, n_);
        std::span<const std::byte> out(reinterpret_cast<const std::byte*>(p_), n);
        p_ += n;
        n_ -= n;
        return out;
    }
    std::span<const std::byte> rest() { return take(n_); }
    // The bytes up to the next sep (or the end), and past it.
    std::string_view record(char sep = '\n') {
        std::string_view all(reinterpret_cast<const char*>(p_), n_);
        const std::size_t at = all.find(sep);
        const std::size_t len = at == std::string_view::npos ? n_ : at;
        std::string_view out = all.substr(0, len);
        const std::size_t skip = std::min(n_, len + 1);
        p_ += skip;
        n_ -= skip;
        return out;
    }

private:
    const std::uint8_t* p_;
    std::size_t n_;
};

inline std::span<const std::byte> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Where to cut a byte stream, drawn from a seed the input chooses: mostly small pieces
// (a BHS split anywhere, a header and its data apart), sometimes large ones. Seed 0
// hands the whole stream over at once.
class Splitter {
public:
    explicit Splitter(std::uint16_t seed) : state_(seed ? 0x9e3779b9u ^ seed : 0) {}
    std::size_t next(std::size_t left) {
        if (state_ == 0) return left;
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        static constexpr std::size_t kMax[] = {1, 4, 16, 48, 64, 512, 4096, 1u << 20};
        const std::size_t n = 1 + (state_ >> 8) % kMax[state_ & 7];
        return std::min(n, left);
    }

private:
    std::uint32_t state_;
};

// A block store in memory that refuses, as a finding, every request a store could not
// serve: past the end, a buffer of the wrong size. Completions run inline, or later from
// the loop (as a real store's do, from another thread and then the owner's executor).
class FuzzStore final : public BlockStore {
public:
    FuzzStore(std::uint64_t size, Executor* later) : data_(size), later_(later) {}
    std::uint64_t size_bytes() const override { return data_.size(); }
    void submit(const BlockRequest& r, std::function<void(BlockStatus)> done) override {
        if (r.offset > data_.size() || r.length > data_.size() - r.offset)
            fail("block store request past the end: offset " + std::to_string(r.offset) + " length " +
                 std::to_string(r.length) + " of " + std::to_string(data_.size()));
        const auto at = data_.begin() + static_cast<std::ptrdiff_t>(r.offset);
        switch (r.op) {
            case BlockOp::read:
            case BlockOp::write:
                if (r.buffer.size() != r.length)
                    fail("block store request with a buffer of " + std::to_string(r.buffer.size()) + " bytes for " +
                         std::to_string(r.length));
                if (r.op == BlockOp::read) std::copy_n(at, r.length, r.buffer.begin());
                else std::copy(r.buffer.begin(), r.buffer.end(), at);
                break;
            case BlockOp::write_same:
                if (r.buffer.empty() || r.length % r.buffer.size() != 0)
                    fail("WRITE SAME request of " + std::to_string(r.length) + " bytes with a block of " +
                         std::to_string(r.buffer.size()));
                for (std::uint64_t o = 0; o < r.length; o += r.buffer.size())
                    std::copy(r.buffer.begin(), r.buffer.end(), at + static_cast<std::ptrdiff_t>(o));
                break;
            case BlockOp::unmap:
                std::fill_n(at, r.length, std::byte{0});
                break;
            case BlockOp::flush:
                break;
        }
        if (later_) later_->post([done = std::move(done)] { done(BlockStatus::ok); });
        else done(BlockStatus::ok);
    }

private:
    Bytes data_;
    Executor* later_;
};

// APTPL records in memory (what /var/lib/scst/pr holds in HIL).
class MemStateStore final : public StateStore {
public:
    explicit MemStateStore(Executor* later) : later_(later) {}
    Bytes load(const std::string& name) override {
        auto it = records_.find(name);
        return it == records_.end() ? Bytes{} : it->second;
    }
    void save(const std::string& name, Bytes bytes, std::function<void(bool)> done) override {
        records_[name] = std::move(bytes);
        if (later_) later_->post([done = std::move(done)] { done(true); });
        else done(true);
    }

private:
    Executor* later_;
    std::map<std::string, Bytes> records_;
};

// Backing stores for scst.conf and mgmt commands: every filename maps to a small store in
// memory (no file is ever opened); a name with "missing" in it fails as a missing file
// would, and a configuration that asks for more stores than a run should hold is refused.
class MemStores final : public mgmt::StoreFactory {
public:
    explicit MemStores(Executor* later = nullptr) : later_(later), state_(std::make_shared<MemStateStore>(later)) {}
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig& cfg, std::string& error) override {
        if (cfg.filename.find("missing") != std::string::npos) {
            error = cfg.filename + ": No such file or directory";
            return nullptr;
        }
        if (++opened_ > kMaxStores) {
            error = cfg.filename + ": too many stores for one run";
            return nullptr;
        }
        // Small, so that a run costs little: d0 (the LUN the seeds write to) 512 blocks of
        // 512 bytes, the rest 64 KiB.
        return std::make_shared<FuzzStore>(cfg.name == "d0" ? 256u << 10 : 64u << 10, later_);
    }
    std::shared_ptr<StateStore> state_store() override { return state_; }

private:
    static constexpr int kMaxStores = 16;
    Executor* later_;
    std::shared_ptr<MemStateStore> state_;
    int opened_ = 0;
};

// The names the seeds and the harnesses agree on.
inline constexpr const char* kInitiatorName = "iqn.2026-11.org.example:host";
inline constexpr const char* kTargetName = "iqn.2026-11.org.iscsilab:fuzz";
inline constexpr const char* kChapTargetName = "iqn.2026-11.org.iscsilab:chap";
inline constexpr const char* kChapUser = "alice";
inline constexpr const char* kChapSecret = "secret123456";
inline constexpr const char* kOutgoingUser = "target";
inline constexpr const char* kOutgoingSecret = "tsecret123456";

// The target every iSCSI-level harness runs: two targets (one open, one behind mutual
// CHAP), a thin-provisioned disk, a 4 KiB-block disk, a CD-ROM and a null disk; short
// NOP-In and response timers, so that a run that lets time pass reaches them; digests
// accepted.
inline std::string rig_conf() {
    return std::string(
               "HANDLER vdisk_fileio {\n"
               "  DEVICE d0 {\n    filename /mem/d0\n    thin_provisioned 1\n  }\n"
               "  DEVICE d1 {\n    filename /mem/d1\n    blocksize 4096\n    write_through 1\n  }\n"
               "}\n"
               "HANDLER vcdrom {\n  DEVICE cd0 {\n    filename /mem/cd0\n  }\n}\n"
               "HANDLER vdisk_nullio {\n  DEVICE n0 {\n    size_mb 64\n  }\n}\n"
               "TARGET_DRIVER iscsi {\n  enabled 1\n  TARGET ") +
           kTargetName +
           " {\n    HeaderDigest CRC32C,None\n    DataDigest CRC32C,None\n    NopInInterval 1\n    RspTimeout 2\n"
           "    QueuedCommands 8\n    MaxRecvDataSegmentLength 16384\n"
           "    LUN 0 d0\n    LUN 1 d1\n    LUN 2 cd0\n    LUN 3 n0\n    enabled 1\n  }\n  TARGET " +
           kChapTargetName + " {\n    IncomingUser " + kChapUser + " " + kChapSecret + "\n    OutgoingUser " +
           kOutgoingUser + " " + kOutgoingSecret + "\n    LUN 0 n0\n    enabled 1\n  }\n}\n";
}

// The login a full-feature run starts with: one Login Request that goes straight from
// operational negotiation to full feature phase (CmdSN 1; the first command takes CmdSN 1).
struct LoginChoice {
    bool digests = false;
    bool discovery = false;
};
inline Bytes login_request_bytes(LoginChoice c) {
    using namespace iscsi;
    std::vector<KeyValue> keys = {{"InitiatorName", kInitiatorName}};
    if (c.discovery) keys.push_back({"SessionType", "Discovery"});
    else keys.insert(keys.end(), {{"TargetName", kTargetName}, {"SessionType", "Normal"}});
    const char* digest = c.digests ? "CRC32C" : "None";
    keys.insert(keys.end(), {{"HeaderDigest", digest}, {"DataDigest", digest}, {"MaxRecvDataSegmentLength", "8192"}});
    if (!c.discovery)
        keys.insert(keys.end(), {{"InitialR2T", "No"}, {"ImmediateData", "Yes"}, {"MaxBurstLength", "65536"},
                                 {"FirstBurstLength", "16384"}, {"MaxOutstandingR2T", "2"}});
    LoginRequestPdu r;
    r.csg = 1;
    r.nsg = 3;
    r.transit = true;
    r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
    r.itt = 0x1000;
    r.cmdsn = 1;
    const Bytes data = testing::text_bytes(keys);
    return testing::frame(r.encode(static_cast<std::uint32_t>(data.size())), data);
}

// An iSCSI target on in-memory ports. Store completions run inline, or from the loop.
struct IscsiRig {
    testing::ManualLoop loop;
    testing::FixedRandom rnd;
    iscsi::IscsiDriver driver{rnd};
    MemStores stores;
    mgmt::Scst scst{driver, stores};

    explicit IscsiRig(bool deferred_completions) : stores(deferred_completions ? &loop : nullptr) {
        // A broken invariant of the core is a finding, whatever the input was.
        driver.set_invariant_handler([](std::string_view line) { fail("invariant broken: " + std::string(line)); });
        auto parsed = mgmt::parse_scst_conf(rig_conf(), "fuzz.conf");
        if (parsed.error) fail("harness: " + parsed.error->text());
        if (auto e = scst.apply(parsed.blocks, "fuzz.conf")) fail("harness: " + e->text());
    }

    std::shared_ptr<testing::MemoryStream> connect() {
        auto s = std::make_shared<testing::MemoryStream>(loop);
        driver.accept(s, loop, loop);
        loop.run();
        return s;
    }

    // The prebuilt login; it must succeed, or the harness (not the target) is wrong.
    void login(testing::MemoryStream& s, LoginChoice c) {
        s.inject(login_request_bytes(c));
        loop.run();
        auto out = testing::drain(s);
        if (out.size() != 1 || out[0].opcode() != iscsi::Opcode::LoginResponse)
            fail("harness: the login got no Login Response");
        const auto r = iscsi::LoginResponsePdu::decode(out[0].bhs);
        if (r.status_class != 0 || !r.transit) fail("harness: the login failed");
    }

    // Closes what is still open and lets everything that was pending finish, so that the
    // teardown that follows frees what a real runtime would free.
    void finish(testing::MemoryStream& s) {
        s.peer_close();
        loop.run();
        loop.advance(std::chrono::seconds(5));
        if (driver.connection_count() != 0) fail("a connection is still held after it closed");
    }
};

}  // namespace iscsilab::fuzz
