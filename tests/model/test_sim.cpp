#define BOOST_TEST_MODULE sim_models
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "fabric/capture/pcap_writer.hpp"
#include "fabric/sim/link.hpp"
#include "model/disk.hpp"
#include "model/kernel.hpp"
#include "model/rng.hpp"

// libsystemc.so wants an sc_main; Boost.Test's main runs the tests.
extern "C" int sc_main(int, char**) { return 0; }

using namespace iscsilab;
using namespace std::chrono_literals;

namespace {
// The context must be fresh before the kernel module is made in it.
struct FreshContext {
    FreshContext() { model::fresh_systemc_context(); }
};
struct Sim : FreshContext {
    std::unique_ptr<model::SimKernel> k = std::make_unique<model::SimKernel>("k");
    void run(Nanos t = 1s) { k->run(t); }
};

class Recorder final : public ByteStream::Handler {
public:
    void on_bytes(std::span<const std::byte> b) override {
        chunks.push_back(b.size());
        bytes.insert(bytes.end(), b.begin(), b.end());
    }
    void on_closed(std::string_view) override { closed = true; }
    std::vector<std::size_t> chunks;
    Bytes bytes;
    bool closed = false;
};

struct Counter final : capture::PacketTap {
    void segment(const capture::Segment& s) override {
        if (!s.payload.empty()) {
            if (next_seq.count(s.src.port) && s.seq != next_seq[s.src.port]) {
                gaps++;
                BOOST_TEST_MESSAGE("gap: seq " << s.seq << " expected " << next_seq[s.src.port]);
            }
            next_seq[s.src.port] = s.seq + static_cast<std::uint32_t>(s.payload.size());
            ++data_segments;
        }
    }
    std::map<std::uint16_t, std::uint32_t> next_seq;
    int data_segments = 0, gaps = 0;
};

// Sends PDU-sized messages (one send() each, as both ends frame one PDU per call) and
// returns the byte offsets where they begin.
std::vector<std::size_t> send_pdus(sim::SimStream& from, const std::vector<std::size_t>& sizes, Bytes& all) {
    std::vector<std::size_t> starts;
    for (std::size_t n : sizes) {
        starts.push_back(all.size());
        Bytes pdu(n);
        for (std::size_t i = 0; i < n; ++i) pdu[i] = static_cast<std::byte>((all.size() + i) * 13);
        all.insert(all.end(), pdu.begin(), pdu.end());
        from.send({Slice::copy_of(pdu)}, {});
    }
    return starts;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(sim_suite)

BOOST_AUTO_TEST_CASE(kernel_orders_by_time_then_sequence) {
    Sim s;
    std::vector<int> order;
    s.k->after(10us, [&] { order.push_back(3); });
    s.k->after(5us, [&] { order.push_back(1); });
    s.k->after(5us, [&] {
        order.push_back(2);
        s.k->post([&] { order.push_back(25); });  // now, after what is already due
    });
    auto t = s.k->after(7us, [&] { order.push_back(99); });
    s.k->cancel(t);
    s.run();
    BOOST_TEST((order == std::vector<int>{1, 2, 25, 3}));
    BOOST_TEST(s.k->now().count() == 10000);
}

BOOST_AUTO_TEST_CASE(rng_streams_are_independent_and_repeatable) {
    model::Rng a(42, "workload"), b(42, "workload"), c(42, "disk");
    BOOST_TEST(a.next() == b.next());
    BOOST_TEST(model::Rng(42, "workload").next() != c.next());
    for (int i = 0; i < 1000; ++i) BOOST_TEST(a.below(7) < 7u);
}

BOOST_AUTO_TEST_CASE(disk_write_cache_flush_fua_and_power_loss) {
    Sim s;
    model::DiskConfig cfg;
    cfg.size_bytes = 1ull << 40;  // 1 TiB costs only what is written
    model::SimDisk d(*s.k, cfg, 1, "d");
    Bytes a(4096, std::byte{0xaa}), b(4096, std::byte{0xbb}), out(4096);
    int done = 0;
    d.submit({BlockOp::write, 0, 4096, a, false}, [&](BlockStatus st) { done += st == BlockStatus::ok; });
    d.submit({BlockOp::write, 1ull << 39, 4096, b, true}, [&](BlockStatus st) { done += st == BlockStatus::ok; });
    s.run();
    BOOST_TEST(done == 2);
    BOOST_TEST(d.pages_stored() == 2u);
    d.power_loss();  // the cached write is gone, the FUA one stays
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[0]) == 0);
    d.peek(1ull << 39, out);
    BOOST_TEST(static_cast<int>(out[0]) == 0xbb);
    d.submit({BlockOp::write, 0, 4096, a, false}, [&](BlockStatus) {});
    d.submit({BlockOp::flush, 0, 0, {}, false}, [&](BlockStatus) {});
    s.run();
    d.power_loss();
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[0]) == 0xaa);  // flushed before the loss
    bool oob = false;
    d.submit({BlockOp::read, (1ull << 40) - 512, 4096, out, false}, [&](BlockStatus st) { oob = st != BlockStatus::ok; });
    s.run();
    BOOST_TEST(oob);
}

// target/ports.hpp: UNMAP makes a range read zeros (whole pages dropped, parts of pages
// zeroed), durable only with FUA or without a write cache; WRITE SAME repeats one block;
// provisioning() tells mapped from deallocated for GET LBA STATUS.
BOOST_AUTO_TEST_CASE(disk_unmap_write_same_and_provisioning) {
    Sim s;
    model::SimDisk d(*s.k, model::DiskConfig{}, 1, "d");
    Bytes data(16384, std::byte{0x5a}), block(512), out(16384);
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<std::byte>(i);
    d.submit({BlockOp::write, 0, 16384, data, true}, [](BlockStatus) {});   // durable
    s.run();
    // Deallocate 512 bytes in page 0 and all of page 1, through the volatile cache.
    d.submit({BlockOp::unmap, 1024, 512, {}, false}, [](BlockStatus) {});
    d.submit({BlockOp::unmap, 4096, 4096, {}, false}, [](BlockStatus) {});
    s.run();
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[1023]) == 0x5a);
    BOOST_TEST(static_cast<int>(out[1024]) == 0);
    BOOST_TEST(static_cast<int>(out[1535]) == 0);
    BOOST_TEST(static_cast<int>(out[1536]) == 0x5a);
    BOOST_TEST(static_cast<int>(out[4096]) == 0);
    BOOST_TEST(static_cast<int>(out[8191]) == 0);
    BOOST_TEST(static_cast<int>(out[8192]) == 0x5a);
    std::vector<Extent> ext;
    d.provisioning(0, 16384, 16, [&](BlockStatus, std::vector<Extent> e) { ext = std::move(e); });
    s.run();
    BOOST_REQUIRE(ext.size() == 3u);   // page 0 mapped (it keeps data), page 1 not, pages 2-3 mapped
    BOOST_TEST((ext[0].mapped && ext[0].offset == 0 && ext[0].length == 4096));
    BOOST_TEST((!ext[1].mapped && ext[1].offset == 4096 && ext[1].length == 4096));
    BOOST_TEST((ext[2].mapped && ext[2].length == 8192));
    // Not durable: a power loss brings the old data back.
    d.power_loss();
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[1024]) == 0x5a);
    BOOST_TEST(static_cast<int>(out[4096]) == 0x5a);
    // With FUA the deallocation is on the medium.
    d.submit({BlockOp::unmap, 4096, 8192, {}, true}, [](BlockStatus) {});
    s.run();
    d.power_loss();
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[4096]) == 0);
    BOOST_TEST(static_cast<int>(out[12288]) == 0x5a);
    // WRITE SAME: one block over 3 KiB, from offset 512.
    d.submit({BlockOp::write_same, 512, 3072, block, true}, [](BlockStatus) {});
    s.run();
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[511]) == 0x5a);
    BOOST_TEST(static_cast<int>(out[512]) == 0);
    BOOST_TEST(static_cast<int>(out[512 + 511]) == 511 % 256);
    BOOST_TEST(static_cast<int>(out[3072 + 5]) == 5);
    BOOST_TEST(static_cast<int>(out[3584]) == 0x5a);
}

BOOST_AUTO_TEST_CASE(disk_partial_fua_write_keeps_the_rest_of_a_cached_page) {
    Sim s;
    model::SimDisk d(*s.k, model::DiskConfig{}, 1, "d");
    Bytes cached(4096, std::byte{0x11}), fua(512, std::byte{0x22}), out(4096);
    d.submit({BlockOp::write, 0, 4096, cached, false}, [](BlockStatus) {});
    s.run();
    d.submit({BlockOp::write, 512, 512, fua, true}, [](BlockStatus) {});
    s.run();
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[0]) == 0x11);     // still cached, not lost
    BOOST_TEST(static_cast<int>(out[512]) == 0x22);
    BOOST_TEST(static_cast<int>(out[1024]) == 0x11);
    d.power_loss();
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[0]) == 0);        // the unflushed bytes were volatile
    BOOST_TEST(static_cast<int>(out[512]) == 0x22);   // the FUA bytes were not
    BOOST_TEST(static_cast<int>(out[1024]) == 0);
}

BOOST_AUTO_TEST_CASE(disk_latency_and_queue_depth) {
    Sim s;
    model::DiskConfig cfg;
    cfg.read_latency = 100us;
    cfg.queue_depth = 2;
    cfg.bandwidth_bps = 1e12;
    model::SimDisk d(*s.k, cfg, 1, "d");
    std::vector<Nanos> finished;
    Bytes buf(512 * 4);
    for (int i = 0; i < 4; ++i)
        d.submit({BlockOp::read, 0, 512, std::span<std::byte>(buf.data() + 512 * i, 512), false},
                 [&](BlockStatus) { finished.push_back(s.k->now()); });
    s.run();
    BOOST_REQUIRE(finished.size() == 4u);
    // Two at a time: the second pair waits for the first.
    BOOST_TEST(finished[1].count() < 110000);
    BOOST_TEST(finished[3].count() >= 200000);
}

BOOST_AUTO_TEST_CASE(link_segments_orders_and_paces) {
    Sim s;
    sim::LinkConfig cfg;
    cfg.latency = 50us;
    cfg.bandwidth_bps = 1e9;
    cfg.mss = 1000;
    cfg.window = 4000;
    Counter tap;
    auto c = sim::SimTcpConnection::create(*s.k, cfg, {0xc0000210, 40000}, {0xc0000201, 3260}, &tap);
    auto rec = std::make_shared<Recorder>();
    c->target_end()->set_handler(rec);
    Bytes payload(100000);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i * 7);
    bool sent = false;
    c->initiator_end()->send({Slice::copy_of(payload)}, [&] { sent = true; });
    s.run();
    BOOST_TEST(sent);
    BOOST_TEST((rec->bytes == payload));
    BOOST_TEST(tap.data_segments == 100);
    BOOST_TEST(tap.gaps == 0);
    for (auto n : rec->chunks) BOOST_TEST(n <= 1000u);
    // A 4000-byte window over a 100 us round trip: at most 40 MB/s, so >= 2.5 ms.
    BOOST_TEST(s.k->now().count() >= 2500000);
    c->initiator_end()->close("done");
    s.run();
    BOOST_TEST(rec->closed);
}

BOOST_AUTO_TEST_CASE(link_stall_delivers_late_and_in_order_even_when_extended) {
    Sim s;
    auto faults = std::make_shared<sim::LinkFaults>();
    auto c = sim::SimTcpConnection::create(*s.k, sim::LinkConfig{}, {0xc0000210, 40000}, {0xc0000201, 3260}, nullptr,
                                           faults);
    auto rec = std::make_shared<Recorder>();
    c->target_end()->set_handler(rec);
    faults->stalled_until[0] = Nanos(1000000);  // 1 ms
    Bytes a(10, std::byte{'a'}), b(10, std::byte{'b'});
    c->initiator_end()->send({Slice::copy_of(a)}, {});
    s.k->after(500us, [&] {
        faults->stalled_until[0] = Nanos(3000000);  // extended to 3 ms
        c->initiator_end()->send({Slice::copy_of(b)}, {});
    });
    std::vector<Nanos> when;
    s.k->after(2900us, [&] { when.push_back(s.k->now()); BOOST_TEST(rec->bytes.empty()); });
    s.run(10ms);
    BOOST_REQUIRE(rec->bytes.size() == 20u);
    BOOST_TEST(static_cast<char>(rec->bytes[0]) == 'a');   // the first sent comes first
    BOOST_TEST(static_cast<char>(rec->bytes[10]) == 'b');
    BOOST_TEST(when.size() == 1u);
}

BOOST_AUTO_TEST_CASE(link_reset_reaches_both_ends) {
    Sim s;
    auto c = sim::SimTcpConnection::create(*s.k, sim::LinkConfig{}, {0xc0000210, 40001}, {0xc0000201, 3260}, nullptr);
    auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
    c->initiator_end()->set_handler(a);
    c->target_end()->set_handler(b);
    c->initiator_end()->send({Slice::copy_of(Bytes(100000))}, {});
    s.k->after(30us, [&] { c->reset("test"); });
    s.run();
    BOOST_TEST(a->closed);
    BOOST_TEST(b->closed);
    BOOST_TEST(b->bytes.size() < 100000u);  // what was still queued never arrived
    BOOST_TEST(c->initiator_end()->closed());
}

BOOST_AUTO_TEST_CASE(link_random_cuts_split_segments_and_keep_the_bytes) {
    auto run = [](std::uint32_t cut_pct, std::uint64_t seed) {
        Sim s;
        sim::LinkConfig cfg;
        cfg.mss = 1000;
        cfg.cut_pct = cut_pct;
        auto cuts = std::make_shared<model::Rng>(seed, "link/192.0.2.16");
        auto c = sim::SimTcpConnection::create(*s.k, cfg, {0xc0000210, 40000}, {0xc0000201, 3260}, nullptr, nullptr, cuts);
        auto rec = std::make_shared<Recorder>();
        c->target_end()->set_handler(rec);
        Bytes payload(50000);
        for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i * 7);
        c->initiator_end()->send({Slice::copy_of(payload)}, {});
        s.run();
        BOOST_TEST((rec->bytes == payload));
        return rec->chunks;
    };
    const auto whole = run(0, 1);
    BOOST_TEST(whole.size() == 50u);  // cut_pct 0: MSS segments, as before
    const auto cut = run(100, 1);
    BOOST_TEST(cut.size() > 50u);
    for (std::size_t k = 0; k + 1 < cut.size(); ++k) BOOST_TEST(cut[k] < 1000u);  // each ends before the MSS
    BOOST_TEST((run(100, 1) == cut));   // the same stream cuts the same way
    BOOST_TEST((run(100, 2) != cut));   // another seed, other cuts
    const auto some = run(30, 1);
    const auto full = std::count(some.begin(), some.end(), std::size_t{1000});
    BOOST_TEST(full > 0);
    BOOST_TEST(full < static_cast<long>(some.size()));
}

BOOST_AUTO_TEST_CASE(link_pdu_cut_resets_inside_a_pdu) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        Sim s;
        model::Rng pick(seed, "faults");
        auto faults = std::make_shared<sim::LinkFaults>();
        faults->pick = [&](std::size_t n) { return static_cast<std::size_t>(pick.below(n)); };
        faults->pdu_cut[0] = 1;
        auto c = sim::SimTcpConnection::create(*s.k, sim::LinkConfig{}, {0xc0000210, 40000}, {0xc0000201, 3260}, nullptr,
                                               faults);
        auto rec = std::make_shared<Recorder>();
        c->target_end()->set_handler(rec);
        Bytes all;
        const auto starts = send_pdus(*c->initiator_end(), {48, 48, 560, 48, 8240, 48, 48}, all);
        s.run();
        BOOST_TEST(rec->closed);
        BOOST_TEST(faults->pdus_cut == 1u);
        BOOST_TEST(faults->pdu_cut[0] == 0u);
        // Only a prefix arrived, intact, and it does not end on a PDU boundary.
        BOOST_TEST(rec->bytes.size() > 0u);
        BOOST_TEST(rec->bytes.size() < all.size());
        BOOST_TEST(std::equal(rec->bytes.begin(), rec->bytes.end(), all.begin()));
        BOOST_TEST(std::count(starts.begin(), starts.end(), rec->bytes.size()) == 0);
    }
}

BOOST_AUTO_TEST_CASE(link_bhs_corrupt_flips_a_bit_inside_a_header) {
    Sim s;
    model::Rng pick(3, "faults");
    auto faults = std::make_shared<sim::LinkFaults>();
    faults->pick = [&](std::size_t n) { return static_cast<std::size_t>(pick.below(n)); };
    int told = -1;
    faults->on_bhs_corrupt = [&](int dir) { told = dir; };
    faults->bhs_corrupt[0] = 1;
    sim::LinkConfig cfg;
    cfg.mss = 1000;
    auto c = sim::SimTcpConnection::create(*s.k, cfg, {0xc0000210, 40000}, {0xc0000201, 3260}, nullptr, faults);
    auto rec = std::make_shared<Recorder>();
    c->target_end()->set_handler(rec);
    Bytes all;
    // A 2000-byte PDU, then two of 600: the first full segment begins with a header,
    // and only one bit, in some header, may change.
    const auto starts = send_pdus(*c->initiator_end(), {2000, 600, 600}, all);
    s.run();
    BOOST_REQUIRE(rec->bytes.size() == all.size());
    std::vector<std::size_t> diff;
    for (std::size_t i = 0; i < all.size(); ++i)
        if (rec->bytes[i] != all[i]) diff.push_back(i);
    BOOST_REQUIRE(diff.size() == 1u);
    const auto x = static_cast<unsigned>(rec->bytes[diff[0]] ^ all[diff[0]]);
    BOOST_TEST((x != 0 && (x & (x - 1)) == 0));  // one bit
    bool in_bhs = false;
    for (std::size_t st : starts) in_bhs = in_bhs || (diff[0] >= st && diff[0] < st + 48);
    BOOST_TEST(in_bhs);
    BOOST_TEST(told == 0);
    BOOST_TEST(faults->bhs_flipped == 1u);
    // The read that completes the flipped PDU ends with it: nothing after the header
    // error arrives in the same read.
    std::size_t flipped_end = 0;
    for (std::size_t k = 0; k < starts.size(); ++k)
        if (diff[0] >= starts[k]) flipped_end = k + 1 < starts.size() ? starts[k + 1] : all.size();
    std::size_t at = 0;
    bool ends_a_read = false;
    for (std::size_t n : rec->chunks) {
        at += n;
        ends_a_read = ends_a_read || at == flipped_end;
    }
    BOOST_TEST(ends_a_read);
}

BOOST_AUTO_TEST_CASE(link_stuck_delivery_comes_out_in_one_read) {
    Sim s;
    auto faults = std::make_shared<sim::LinkFaults>();
    faults->stuck_until[0] = Nanos(2000000);  // 2 ms
    Counter tap;
    auto c = sim::SimTcpConnection::create(*s.k, sim::LinkConfig{}, {0xc0000210, 40000}, {0xc0000201, 3260}, &tap,
                                           faults);
    auto rec = std::make_shared<Recorder>();
    c->target_end()->set_handler(rec);
    Bytes all;
    send_pdus(*c->initiator_end(), {48, 5000, 48, 300, 48}, all);
    std::size_t by_1ms = 1;
    s.k->after(1ms, [&] { by_1ms = rec->bytes.size(); });
    s.run(10ms);
    BOOST_TEST(by_1ms == 0u);               // nothing read while stuck
    BOOST_TEST(tap.data_segments > 1);      // though it was on the wire
    BOOST_TEST(rec->chunks.size() == 1u);   // then all of it in one read
    BOOST_TEST((rec->bytes == all));
    BOOST_TEST(faults->stuck_reads == 1u);
    c->initiator_end()->close("done");      // the FIN still follows the data
    s.run(20ms);
    BOOST_TEST(rec->closed);
}

BOOST_AUTO_TEST_CASE(link_bandwidth_drop_slows_the_segments_sent_meanwhile) {
    auto time_for = [](double factor) {
        Sim s;
        auto faults = std::make_shared<sim::LinkFaults>();
        faults->bandwidth_factor = factor;
        faults->bandwidth_until = Nanos(1000000000);
        sim::LinkConfig cfg;
        cfg.bandwidth_bps = 1e9;
        auto c = sim::SimTcpConnection::create(*s.k, cfg, {0xc0000210, 40000}, {0xc0000201, 3260}, nullptr, faults);
        auto rec = std::make_shared<Recorder>();
        c->target_end()->set_handler(rec);
        c->initiator_end()->send({Slice::copy_of(Bytes(100000))}, {});
        s.run();
        const Nanos done = s.k->now();
        BOOST_TEST(rec->bytes.size() == 100000u);
        BOOST_TEST(faults->slowed_segments == 70u);  // 100000 bytes in 1448-byte segments
        return done;
    };
    const Nanos fast = time_for(1.0), slow = time_for(10.0);
    BOOST_TEST(slow.count() > 5 * fast.count());
}

BOOST_AUTO_TEST_CASE(disk_torn_power_loss_lands_whole_pages_and_tears_writes) {
    Sim s;
    model::SimDisk d(*s.k, model::DiskConfig{}, 1, "d");
    // 32 writes of four pages each, all cached.
    std::vector<Bytes> data;
    for (int w = 0; w < 32; ++w) data.emplace_back(16384, static_cast<std::byte>(w + 1));
    for (int w = 0; w < 32; ++w) d.submit({BlockOp::write, std::uint64_t(w) * 16384, 16384, data[w], false}, [](BlockStatus) {});
    s.run();
    model::Rng rng(7, "faults");
    const auto t = d.torn_power_loss(50, rng);
    BOOST_TEST(t.pages_landed + t.pages_lost == 128u);
    BOOST_TEST(t.pages_landed > 0u);
    BOOST_TEST(t.pages_lost > 0u);
    BOOST_TEST(t.writes_torn > 0u);
    // Each page is the write's or zero, whole.
    Bytes out(4096);
    std::uint64_t landed = 0;
    for (std::uint64_t p = 0; p < 128; ++p) {
        d.peek(p * 4096, out);
        const auto v = out[0];
        BOOST_TEST((v == std::byte{0} || v == static_cast<std::byte>(p / 4 + 1)));
        BOOST_TEST(std::all_of(out.begin(), out.end(), [&](std::byte b) { return b == v; }));
        landed += v != std::byte{0};
    }
    BOOST_TEST(landed == t.pages_landed);
    // Nothing is cached now: another loss changes nothing.
    d.power_loss();
    std::uint64_t again = 0;
    for (std::uint64_t p = 0; p < 128; ++p) {
        d.peek(p * 4096, out);
        again += out[0] != std::byte{0};
    }
    BOOST_TEST(again == landed);
}

BOOST_AUTO_TEST_CASE(disk_misdirected_writes_and_reads_go_astray_for_a_while) {
    Sim s;
    model::SimDisk d(*s.k, model::DiskConfig{}, 1, "d");
    Bytes a(4096, std::byte{0xaa}), out(4096);
    d.misdirect({true, 65536, 0, 0, Nanos(1000000)});
    d.submit({BlockOp::write, 0, 4096, a, false}, [](BlockStatus) {});
    s.run();
    d.peek(0, out);
    BOOST_TEST(static_cast<int>(out[0]) == 0);       // not where it was asked to go
    d.peek(65536, out);
    BOOST_TEST(static_cast<int>(out[0]) == 0xaa);    // but there
    BOOST_TEST(d.misdirected() == 1u);
    d.misdirect({false, 65536, 0, 4096, Nanos(2000000)});
    bool read = false;
    d.submit({BlockOp::read, 0, 4096, out, false}, [&](BlockStatus st) { read = st == BlockStatus::ok; });
    s.run();
    BOOST_TEST(read);
    BOOST_TEST(static_cast<int>(out[0]) == 0xaa);    // a read of LBA 0 served from 64 KiB on
    s.k->after(3ms, [] {});
    s.run();
    d.submit({BlockOp::read, 0, 4096, out, false}, [](BlockStatus) {});
    s.run();
    BOOST_TEST(static_cast<int>(out[0]) == 0);       // over: reads go where asked again
    BOOST_TEST(d.misdirected() == 2u);
}

BOOST_AUTO_TEST_CASE(internet_checksum_rfc1071) {
    // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum (with carries) to ddf2; the checksum
    // is its complement.
    Bytes b = {std::byte{0x00}, std::byte{0x01}, std::byte{0xf2}, std::byte{0x03},
               std::byte{0xf4}, std::byte{0xf5}, std::byte{0xf6}, std::byte{0xf7}};
    BOOST_TEST(capture::internet_checksum(b) == static_cast<std::uint16_t>(~0xddf2));
}

BOOST_AUTO_TEST_SUITE_END()
