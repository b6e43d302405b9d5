// Heap allocations on the data path, counted (not timed): a steady-state 4 KiB READ or
// WRITE, from the SCSI Command PDU's bytes to the last byte of its status, over
// in-memory ports. The test doubles are kept out of the count: their buffers are
// reserved before counting starts, and the PDUs the initiator sends are built ahead.
#define BOOST_TEST_MODULE allocations
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "support/harness.hpp"
#include "target/bytes.hpp"
#include "target/iscsi/driver.hpp"
#include "target/mgmt/scst.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::size_t> g_largest{0};  // the largest allocation while counting

void* counted(std::size_t n, std::size_t align) {
    if (g_counting.load(std::memory_order_relaxed)) {
        g_allocations.fetch_add(1, std::memory_order_relaxed);
        if (n > g_largest.load(std::memory_order_relaxed)) g_largest.store(n, std::memory_order_relaxed);
    }
    if (n == 0) n = 1;
    void* p = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n);
    if (!p) throw std::bad_alloc();
    return p;
}
}  // namespace

// The program's allocation functions (C++20 [replacement.functions]): every new
// expression of the target core goes through here.
void* operator new(std::size_t n) { return counted(n, 0); }
void* operator new[](std::size_t n) { return counted(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted(n, 0);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace iscsilab;
using namespace iscsilab::iscsi;
using namespace iscsilab::testing;

namespace {

const char* kIqn = "iqn.2026-11.org.example:alloc";
constexpr std::uint32_t kBlock = 512;
constexpr std::uint32_t kIo = 4096;

// The loop, with its queue reserved up front (a deque would allocate a block every few
// posts, and those would be the double's, not the target's). Timers are kept but never
// fire: nothing here waits on time.
class ReservedLoop final : public Executor, public Clock {
public:
    ReservedLoop() { queue_.reserve(1024); }
    void post(Task fn) override { queue_.push_back(std::move(fn)); }
    Nanos now() const override { return Nanos{0}; }
    TimerId after(Nanos, Task) override { return TimerId{++timers_}; }
    void cancel(TimerId) override {}
    void run() {
        for (std::size_t i = 0; i < queue_.size(); ++i) {
            Task fn = std::move(queue_[i]);
            fn();
        }
        queue_.clear();
    }

private:
    std::vector<Task> queue_;
    std::uint64_t timers_ = 0;
};

// A byte stream whose output buffer is reserved up front, so that what the target
// sends costs the double no allocation.
class ReservedStream final : public ByteStream {
public:
    explicit ReservedStream(Executor& ex) : ex_(ex) { out.reserve(1u << 20); }
    void set_handler(std::weak_ptr<Handler> h) override { handler_ = std::move(h); }
    void send(Slices buffers, Task done) override {
        for (const auto& s : buffers) out.insert(out.end(), s.bytes.begin(), s.bytes.end());
        if (done) ex_.post(std::move(done));
    }
    void close(std::string_view) override { closed = true; }
    std::string peer() const override { return "10.0.0.2:50000"; }
    std::string local() const override { return "10.0.0.1:3260"; }
    void inject(std::span<const std::byte> b) {
        if (auto h = handler_.lock()) h->on_bytes(b);
    }
    Bytes out;
    bool closed = false;

private:
    Executor& ex_;
    std::weak_ptr<Handler> handler_;
};

class MemStores final : public mgmt::StoreFactory {
public:
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig&, std::string&) override {
        return std::make_shared<MemoryStore>(16u << 20);
    }
};

struct Rig {
    ReservedLoop loop;
    FixedRandom rnd;
    IscsiDriver driver{rnd};
    MemStores stores;
    mgmt::Scst scst{driver, stores};
    std::shared_ptr<ReservedStream> stream;
    std::uint32_t cmdsn = 1, itt = 1, expstatsn = 0;

    Rig() {
        const std::string conf = std::string("HANDLER vdisk_fileio {\n DEVICE d0 {\n filename /mem\n }\n}\n") +
                                 "TARGET_DRIVER iscsi {\n enabled 1\n TARGET " + kIqn + " {\n LUN 0 d0\n enabled 1\n }\n}\n";
        auto p = mgmt::parse_scst_conf(conf, "alloc.conf");
        BOOST_REQUIRE(!p.error);
        auto e = scst.apply(p.blocks, "alloc.conf");
        BOOST_REQUIRE_MESSAGE(!e, (e ? e->text() : ""));
        stream = std::make_shared<ReservedStream>(loop);
        driver.accept(stream, loop, loop);
        loop.run();
        login();
        // The first command of a new nexus reports the power-on unit attention
        // (SAM-5 §5.14): take it with a TEST UNIT READY before anything is counted.
        ScsiCommandPdu tur;
        tur.final_bit = true;
        tur.itt = itt++;
        tur.cmdsn = cmdsn++;
        tur.expstatsn = expstatsn;
        stream->inject(frame(tur.encode(0)));
        loop.run();
        auto out = drain_out();
        BOOST_REQUIRE(out.size() == 1u);
        expstatsn = ScsiResponsePdu::decode(out[0].bhs).sn.statsn + 1;
    }

    void login() {
        const std::vector<KeyValue> keys{{"InitiatorName", "iqn.2026-11.org.example:host"},
                                         {"TargetName", kIqn},
                                         {"SessionType", "Normal"},
                                         {"InitialR2T", "No"},
                                         {"ImmediateData", "Yes"},
                                         {"MaxBurstLength", "262144"},
                                         {"FirstBurstLength", "65536"},
                                         {"MaxRecvDataSegmentLength", "65536"},
                                         {"MaxOutstandingR2T", "1"},
                                         {"HeaderDigest", "None"},
                                         {"DataDigest", "None"}};
        LoginRequestPdu r;
        r.csg = 1;
        r.nsg = 3;
        r.transit = true;
        r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
        r.itt = itt++;
        r.cmdsn = cmdsn;
        const Bytes data = text_bytes(keys);
        stream->inject(frame(r.encode(static_cast<std::uint32_t>(data.size())), data));
        loop.run();
        auto out = drain_out();
        BOOST_REQUIRE(out.size() == 1u);
        const auto resp = LoginResponsePdu::decode(out[0].bhs);
        BOOST_REQUIRE(resp.status_class == 0 && resp.transit);
        expstatsn = resp.sn.statsn + 1;
    }

    std::vector<Pdu> drain_out() {
        std::vector<Pdu> pdus;
        PduReader reader([&](Pdu&& p, FrameError e) {
            BOOST_REQUIRE(e == FrameError::none);
            pdus.push_back(std::move(p));
            return true;
        });
        reader.set_max_data_segment_length(1u << 20);
        reader.feed(stream->out);
        stream->out.clear();
        return pdus;
    }

    // READ(10) or WRITE(10) of 4 KiB at lba; a write carries its data as immediate data.
    Bytes command(bool write, std::uint32_t lba, std::span<const std::byte> data = {}) {
        ScsiCommandPdu c;
        c.read = !write;
        c.write = write;
        c.final_bit = true;
        c.itt = itt++;
        c.cmdsn = cmdsn++;
        c.expstatsn = expstatsn;
        c.expected_data_transfer_length = kIo;
        c.cdb[0] = std::byte{write ? std::uint8_t{0x2a} : std::uint8_t{0x28}};
        st32(c.cdb, 2, lba);
        st16(c.cdb, 7, static_cast<std::uint16_t>(kIo / kBlock));
        return frame(c.encode(static_cast<std::uint32_t>(data.size())), data);
    }

    // Runs the prepared commands one at a time (queue depth 1, as the steady state of a
    // single stream), counting allocations from the PDU's arrival to the status leaving.
    // Returns allocations per command; every command must have ended GOOD.
    double measure(const std::vector<Bytes>& wire, bool reads) {
        std::uint64_t total = 0;
        for (const Bytes& w : wire) {
            g_allocations = 0;
            g_counting = true;
            stream->inject(w);
            loop.run();
            g_counting = false;
            total += g_allocations;
            auto out = drain_out();
            BOOST_REQUIRE(!out.empty());
            const Pdu& last = out.back();
            if (reads) {
                BOOST_REQUIRE(last.opcode() == Opcode::DataIn);
                const auto d = DataInPdu::decode(last.bhs);
                BOOST_REQUIRE(d.status_present && d.status == 0);
            } else {
                BOOST_REQUIRE(last.opcode() == Opcode::ScsiResponse);
                BOOST_REQUIRE(ScsiResponsePdu::decode(last.bhs).status == 0);
            }
            expstatsn = (reads ? DataInPdu::decode(last.bhs).sn.statsn : ScsiResponsePdu::decode(last.bhs).sn.statsn) + 1;
        }
        return static_cast<double>(total) / static_cast<double>(wire.size());
    }
};

Bytes pattern(std::size_t n, int seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 7 + static_cast<std::size_t>(seed)) & 0xff);
    return b;
}

// Enough commands for pools and tables to reach their steady size, then the counted run.
constexpr int kWarm = 200, kCounted = 1000;

// Tasks, commands, buffers, table nodes and PDU headers come from the block cache and the
// buffer pool; each layer keeps what it needs until completion in the command, and hands
// down a completion that captures a plain pointer (held by std::function without an
// allocation). What a write still allocates is its immediate data's segment.
constexpr double kBound = 2;

}  // namespace

BOOST_AUTO_TEST_SUITE(allocations_suite)

// The counter sees allocations at all: without this, a broken counter would pass.
BOOST_AUTO_TEST_CASE(counter_counts) {
    g_allocations = 0;
    g_counting = true;
    auto* p = new std::vector<int>(100);
    g_counting = false;
    delete p;
    BOOST_TEST(g_allocations.load() == 2u);
}

BOOST_AUTO_TEST_CASE(steady_state_4k_read_allocates_at_most_two) {
    Rig rig;
    std::vector<Bytes> warm, counted;
    for (int i = 0; i < kWarm; ++i) warm.push_back(rig.command(false, static_cast<std::uint32_t>(i * 8)));
    rig.measure(warm, true);
    for (int i = 0; i < kCounted; ++i) counted.push_back(rig.command(false, static_cast<std::uint32_t>((i % 500) * 8)));
    const double per_read = rig.measure(counted, true);
    BOOST_TEST_MESSAGE("heap allocations per 4 KiB READ: " << per_read);
    BOOST_TEST(per_read <= kBound);
}

BOOST_AUTO_TEST_CASE(steady_state_4k_write_allocates_at_most_two) {
    Rig rig;
    const Bytes data = pattern(kIo, 3);
    std::vector<Bytes> warm, counted;
    for (int i = 0; i < kWarm; ++i) warm.push_back(rig.command(true, static_cast<std::uint32_t>(i * 8), data));
    rig.measure(warm, false);
    for (int i = 0; i < kCounted; ++i) counted.push_back(rig.command(true, static_cast<std::uint32_t>((i % 500) * 8), data));
    const double per_write = rig.measure(counted, false);
    BOOST_TEST_MESSAGE("heap allocations per 4 KiB WRITE: " << per_write);
    BOOST_TEST(per_write <= kBound);
}

// A data segment refused at its header is read off the stream and dropped, never
// buffered (PduReader's SegmentFate::discard): a Data-Out for no task, and a command
// outside the CmdSN window with immediate data. A NOP-Out's ping data, which is kept
// to be echoed, shows the measure sees a buffered segment.
BOOST_AUTO_TEST_CASE(a_segment_refused_at_its_header_is_not_buffered) {
    Rig rig;
    constexpr std::uint32_t kSeg = 32 * 1024;
    const Bytes data = pattern(kSeg, 5);
    auto largest_while = [&](const Bytes& wire) {
        g_largest = 0;
        g_counting = true;
        rig.stream->inject(wire);
        rig.loop.run();
        g_counting = false;
        return g_largest.load();
    };
    DataOutPdu d;
    d.itt = 0x7777;  // no such task
    d.ttt = kReservedTag;
    d.final_bit = true;
    const std::size_t for_data_out = largest_while(frame(d.encode(kSeg), data));
    ScsiCommandPdu c;
    c.write = true;
    c.final_bit = true;
    c.itt = rig.itt++;
    c.cmdsn = rig.cmdsn + 1000;  // far outside [ExpCmdSN, MaxCmdSN]
    c.expstatsn = rig.expstatsn;
    c.expected_data_transfer_length = kSeg;
    c.cdb[0] = std::byte{0x2a};
    st16(c.cdb, 7, static_cast<std::uint16_t>(kSeg / kBlock));
    const std::size_t for_command = largest_while(frame(c.encode(kSeg), data));
    BOOST_TEST(rig.drain_out().empty());  // both dropped without a word (RFC 3720 §3.2.2.1)
    BOOST_TEST(!rig.stream->closed);
    BOOST_TEST(for_data_out < kSeg, "the Data-Out's segment took an allocation of " << for_data_out);
    BOOST_TEST(for_command < kSeg, "the command's segment took an allocation of " << for_command);
    NopOutPdu n;
    n.itt = rig.itt++;
    n.cmdsn = rig.cmdsn;  // in the window: answered with its data
    n.expstatsn = rig.expstatsn;
    const std::size_t for_ping = largest_while(frame(n.encode(kSeg), data));
    BOOST_TEST(for_ping >= kSeg);
    auto out = rig.drain_out();
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST((out[0].data == data));
}

BOOST_AUTO_TEST_SUITE_END()
