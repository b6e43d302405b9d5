#include "scenarios/engine/swarm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "model/rng.hpp"

namespace iscsilab::scenario {

namespace {

using namespace std::chrono_literals;

std::string time_text(Nanos t) {
    char buf[32];
    if (t.count() % 1000000 == 0) std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(t.count() / 1000000));
    else if (t.count() % 1000 == 0) std::snprintf(buf, sizeof buf, "%lldus", static_cast<long long>(t.count() / 1000));
    else std::snprintf(buf, sizeof buf, "%lldns", static_cast<long long>(t.count()));
    return buf;
}
std::string size_text(std::uint64_t b) {
    if (b >= (1u << 20) && b % (1u << 20) == 0) return std::to_string(b >> 20) + "MiB";
    if (b >= 1024 && b % 1024 == 0) return std::to_string(b >> 10) + "KiB";
    return std::to_string(b);
}
std::string rate_text(double bps) {
    char buf[32];
    if (bps >= 1e9) std::snprintf(buf, sizeof buf, "%gGbps", bps / 1e9);
    else std::snprintf(buf, sizeof buf, "%gMbps", bps / 1e6);
    return buf;
}

// Draws knobs from the run's "swarm" stream and writes down each one.
class Drawer {
public:
    Drawer(std::uint64_t seed, SwarmDraw& out) : rng_(seed, "swarm"), out_(out) {}
    template <typename T>
    T pick(std::initializer_list<T> v) {
        return *(v.begin() + rng_.below(v.size()));
    }
    bool chance(unsigned pct) { return rng_.below(100) < pct; }
    std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + rng_.below(hi - lo + 1); }
    Nanos time_between(Nanos lo, Nanos hi) {
        return lo + Nanos(static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>((hi - lo).count()) + 1)));
    }
    void note(const std::string& k, const std::string& v) { out_.knobs.emplace_back(k, v); }
    model::Rng& rng() { return rng_; }

private:
    model::Rng rng_;
    SwarmDraw& out_;
};

const char* yes_no(bool b) { return b ? "Yes" : "No"; }

// The target's iSCSI attributes (iSCSI-SCST names), as drawn.
struct TargetKnobs {
    std::vector<std::pair<std::string, std::string>> attrs;
    bool header_digest = false, data_digest = false;  // offered by the target
};

TargetKnobs draw_target(Drawer& d) {
    TargetKnobs t;
    auto set = [&](const std::string& k, const std::string& v) {
        t.attrs.emplace_back(k, v);
        d.note("target." + k, v);
    };
    set("QueuedCommands", std::to_string(d.pick<unsigned>({1, 4, 8, 32, 32, 128})));
    set("MaxRecvDataSegmentLength", std::to_string(d.pick<unsigned>({512, 4096, 8192, 65536, 262144})));
    set("MaxXmitDataSegmentLength", std::to_string(d.pick<unsigned>({512, 4096, 8192, 65536, 262144})));
    const unsigned max_burst = d.pick<unsigned>({4096, 16384, 65536, 262144, 1048576});
    set("MaxBurstLength", std::to_string(max_burst));
    set("FirstBurstLength", std::to_string(std::min(max_burst, d.pick<unsigned>({512, 4096, 65536, 262144}))));
    set("MaxOutstandingR2T", std::to_string(d.pick<unsigned>({1, 4, 32})));
    set("InitialR2T", yes_no(d.chance(50)));
    set("ImmediateData", yes_no(d.chance(60)));
    t.header_digest = d.chance(40);
    t.data_digest = d.chance(40);
    set("HeaderDigest", t.header_digest ? "CRC32C,None" : "None");
    set("DataDigest", t.data_digest ? "CRC32C,None" : "None");
    set("RspTimeout", std::to_string(d.pick<unsigned>({1, 2, 5, 30})));
    set("NopInInterval", std::to_string(d.pick<unsigned>({0, 1, 5, 30})));
    return t;
}

void draw_link(Drawer& d, sim::LinkConfig& l) {
    l.latency = d.pick<Nanos>({5us, 20us, 20us, 100us, 500us, 2ms});
    l.bandwidth_bps = d.pick<double>({100e6, 1e9, 10e9, 10e9, 25e9, 100e9});
    l.mss = d.chance(20) ? static_cast<std::uint32_t>(d.between(64, 9000)) : d.pick<std::uint32_t>({536, 1448, 1448, 8948});
    l.window = std::max<std::uint32_t>(l.mss, d.pick<std::uint32_t>({4 * l.mss, 65536, 262144, 1u << 20}));
    d.note("link.latency", time_text(l.latency));
    d.note("link.bandwidth", rate_text(l.bandwidth_bps));
    d.note("link.mss", std::to_string(l.mss));
    d.note("link.window", size_text(l.window));
    // Cut points anywhere in a segment (FoundationDB's simulated connections do the
    // same), so the framers see every split of every PDU.
    l.cut_pct = d.pick<std::uint32_t>({0, 0, 10, 50, 100});
    d.note("link.cuts", std::to_string(l.cut_pct));
}

void draw_disk(Drawer& d, const std::string& name, model::DiskConfig& c) {
    c.read_latency = d.pick<Nanos>({10us, 100us, 100us, 1ms, 5ms});
    c.write_latency = d.pick<Nanos>({10us, 100us, 200us, 1ms, 5ms, 20ms});
    c.flush_latency = d.pick<Nanos>({50us, 500us, 2ms, 10ms});
    c.jitter = d.pick({model::DiskConfig::Jitter::none, model::DiskConfig::Jitter::uniform, model::DiskConfig::Jitter::exponential});
    c.bandwidth_bps = d.pick<double>({200e6, 2e9, 16e9});
    c.queue_depth = d.pick<std::uint32_t>({1, 4, 16, 64});
    c.write_cache = d.chance(60);
    const std::string p = "disk." + name + ".";
    d.note(p + "read_latency", time_text(c.read_latency));
    d.note(p + "write_latency", time_text(c.write_latency));
    d.note(p + "flush_latency", time_text(c.flush_latency));
    d.note(p + "jitter", c.jitter == model::DiskConfig::Jitter::none ? "none"
                         : c.jitter == model::DiskConfig::Jitter::uniform ? "uniform" : "exponential");
    char bw[32];
    std::snprintf(bw, sizeof bw, "%gMB/s", c.bandwidth_bps / 1e6);
    d.note(p + "bandwidth", bw);
    d.note(p + "queue_depth", std::to_string(c.queue_depth));
    d.note(p + "write_cache", c.write_cache ? "true" : "false");
}

// The keys an initiator offers (RFC 3720 §12); each is left at its default half the time.
// An initiator that insists on CRC32C alone does so only where the target offers it:
// a target without digests cannot agree, and that is a set-up that fails to log in, not
// a target bug. want_*: the digest will be on.
std::vector<iscsi::KeyValue> draw_keys(Drawer& d, const std::string& who, const TargetKnobs& t, bool& want_hd, bool& want_dd) {
    std::vector<iscsi::KeyValue> keys;
    auto offer = [&](const char* k, const std::string& v) {
        keys.push_back({k, v});
        d.note(who + "." + k, v);
    };
    auto digest = [&](const char* key, bool offered, bool& on) {
        // The initiator model holds a digest it listed first as one it needs.
        const bool ask = d.chance(50) && offered;
        if (!ask && !d.chance(50)) return;   // the default: None
        const std::string v = ask ? d.pick<std::string>({"CRC32C", "CRC32C,None"}) : d.pick<std::string>({"None", "None,CRC32C"});
        on = ask;
        offer(key, v);
    };
    want_hd = want_dd = false;
    digest("HeaderDigest", t.header_digest, want_hd);
    digest("DataDigest", t.data_digest, want_dd);
    if (d.chance(50)) offer("InitialR2T", yes_no(d.chance(50)));
    if (d.chance(50)) offer("ImmediateData", yes_no(d.chance(50)));
    const unsigned max_burst = d.pick<unsigned>({8192, 65536, 262144, 1048576, 16776192});
    if (d.chance(50)) offer("MaxBurstLength", std::to_string(max_burst));
    if (d.chance(50)) offer("FirstBurstLength", std::to_string(std::min(max_burst, d.pick<unsigned>({512, 8192, 65536}))));
    if (d.chance(50)) offer("MaxRecvDataSegmentLength", std::to_string(d.pick<unsigned>({512, 8192, 65536, 262144})));
    if (d.chance(30)) offer("MaxOutstandingR2T", std::to_string(d.pick<unsigned>({1, 2, 16})));
    return keys;
}

model::Workload draw_workload(Drawer& d, const std::string& who, std::uint32_t lba_size) {
    model::Workload w;
    w.pattern = d.chance(70) ? model::Workload::Pattern::random : model::Workload::Pattern::sequential;
    w.read_pct = static_cast<std::uint32_t>(d.pick<unsigned>({0, 30, 50, 70, 100}));
    w.verify_pct = w.read_pct < 100 && d.chance(20) ? std::min<std::uint32_t>(100 - w.read_pct, d.pick<unsigned>({5, 20})) : 0;
    // Sizes from one block to 256 KiB, most of them small: a run is worth its PDUs, and
    // 1 MiB transfers over 512-byte segments would make a few runs cost as much as
    // hundreds (the smoke suite's large-transfer scenario covers those).
    w.block_size = lba_size * d.pick<std::uint32_t>({1, 2, 2, 8, 16, 64});
    w.block_size = std::min<std::uint32_t>(w.block_size, 256u << 10);
    w.queue_depth = d.pick<std::uint32_t>({1, 2, 8, 8, 32});
    w.ops = d.between(10, 120);
    // Enough room for the operations to meet each other, not so much that they never do.
    w.region_length = std::max<std::uint64_t>(w.block_size * 4, d.pick<std::uint64_t>({64u << 10, 256u << 10, 1u << 20, 8u << 20}));
    w.region_length -= w.region_length % w.block_size;
    w.sync_every = d.pick<std::uint64_t>({0, 0, 10, 50});
    w.fua_pct = d.pick<std::uint32_t>({0, 0, 10, 50});
    w.abort_every = d.chance(15) ? d.pick<std::uint64_t>({3, 7, 13}) : 0;
    w.write_then_read = d.chance(10);
    const std::string p = who + ".workload.";
    d.note(p + "pattern", w.pattern == model::Workload::Pattern::random ? "random" : "sequential");
    d.note(p + "read_pct", std::to_string(w.read_pct));
    d.note(p + "verify_pct", std::to_string(w.verify_pct));
    d.note(p + "block_size", size_text(w.block_size));
    d.note(p + "queue_depth", std::to_string(w.queue_depth));
    d.note(p + "ops", std::to_string(w.ops));
    d.note(p + "region", size_text(w.region_length));
    d.note(p + "sync_every", std::to_string(w.sync_every));
    d.note(p + "fua_pct", std::to_string(w.fua_pct));
    d.note(p + "abort_every", std::to_string(w.abort_every));
    d.note(p + "write_then_read", w.write_then_read ? "true" : "false");
    return w;
}

// A rough figure for how long the workload runs, so that faults land while it does.
Nanos estimate(const Scenario& s) {
    double worst = 0;
    for (const auto& i : s.initiators) {
        const auto& w = i.workload;
        const double rtt = 2.0 * static_cast<double>(s.link.latency.count());
        const double wire = 8e9 * w.block_size / s.link.bandwidth_bps;
        double disk = 100e3;
        for (const auto& [n, c] : s.disks)
            disk = static_cast<double>(std::max(c.read_latency, c.write_latency).count()) + 1e9 * w.block_size / c.bandwidth_bps;
        const double per = rtt + wire + disk;
        const double rounds = std::ceil(static_cast<double>(w.ops) / std::max<std::uint32_t>(1, w.queue_depth));
        worst = std::max(worst, per * rounds * std::max<std::uint32_t>(1, i.count) + 10 * rtt);
    }
    return Nanos(static_cast<std::int64_t>(std::clamp(worst, 1e6, 20e9)));
}

// The run's simulated-time limit: long enough for the workload done one operation at a
// time through the window-limited link and the disk, three times over, with room for
// the faults (a run that ends past it is a liveness failure, so a slow set-up must not
// reach it honestly).
Nanos run_limit(const Scenario& s) {
    const double rtt = 2e-9 * static_cast<double>(s.link.latency.count());
    double total = 0;
    for (const auto& i : s.initiators) {
        const auto& w = i.workload;
        const double rate = std::min(s.link.bandwidth_bps / 8, static_cast<double>(s.link.window) / std::max(rtt, 1e-6));
        double disk = 0;
        for (const auto& [n, c] : s.disks)
            disk = std::max(disk, 1e-9 * static_cast<double>(std::max({c.read_latency, c.write_latency, c.flush_latency}).count()) +
                                      w.block_size / c.bandwidth_bps);
        const double per_op = 2 * rtt + w.block_size / rate + disk;
        total += static_cast<double>(i.count) * static_cast<double>(w.ops) * per_op;
    }
    const double limit = std::clamp(3 * total + (s.faults.empty() ? 10.0 : 40.0), 60.0, 900.0);
    return Nanos(static_cast<std::int64_t>(limit * 1e9));
}

// How long a command may take with no fault at all, generously: its share of every
// initiator's outstanding bytes through the link (throttled by the window over the
// round trip), its R2T round trips, and the disk's queue, slowed as far as a disk_slow
// fault may slow it. A command timeout below this would chase healthy commands with
// ABORT TASK and call the set-up's slowness a failure.
Nanos healthy_command_bound(const Scenario& s, std::uint32_t target_max_burst, bool slow_disk, bool slow_link) {
    const double rtt = 2e-9 * static_cast<double>(s.link.latency.count());
    const double link_bps = std::min(s.link.bandwidth_bps, 8.0 * s.link.window / std::max(rtt, 1e-6));
    double outstanding_bytes = 0, outstanding_ops = 0, rounds = 0;
    for (const auto& i : s.initiators) {
        outstanding_bytes = std::max(outstanding_bytes, static_cast<double>(i.workload.queue_depth) * i.workload.block_size);
        outstanding_ops += static_cast<double>(i.count) * i.workload.queue_depth;
        rounds = std::max(rounds, std::ceil(static_cast<double>(i.workload.block_size) / std::max<std::uint32_t>(512, target_max_burst)));
    }
    double disk = 0;
    for (const auto& [n, c] : s.disks) {
        const double lat = 1e-9 * static_cast<double>(std::max({c.read_latency, c.write_latency, c.flush_latency}).count());
        disk = std::max(disk, outstanding_ops * (lat + outstanding_bytes / c.bandwidth_bps) / std::max<std::uint32_t>(1, c.queue_depth));
    }
    if (slow_disk) disk *= 20;   // disk_slow draws factors up to 20
    double wire = 8.0 * outstanding_bytes / link_bps;
    if (slow_link) wire *= 50;   // bandwidth_drop draws factors up to 50
    const double worst = wire + (rounds + 4) * rtt + disk;
    return Nanos(static_cast<std::int64_t>(4e9 * worst)) + std::chrono::milliseconds(200);
}

// Which fault kinds are on and how many of each (swarm testing: a few kinds per run),
// with each fault's parameters drawn the way faults/plan.cpp draws a random plan's.
void draw_faults(Drawer& d, Scenario& s, bool digests_both, bool header_digests, const std::string& disk,
                 std::uint64_t region_end, bool hot = false) {
    using faults::Kind;
    struct Choice {
        Kind kind;
        bool allowed;
    };
    const Choice kinds[] = {
        {Kind::link_stall, true},      {Kind::link_reset, true},
        // A flipped bit is caught only by a digest: without both, it is silent corruption
        // that the data checks would rightly report, a fault of the set-up, not the target.
        {Kind::corrupt, digests_both}, {Kind::latency_spike, true},
        {Kind::disk_slow, !disk.empty()}, {Kind::medium_error, !disk.empty()},
        {Kind::disk_offline, !disk.empty()}, {Kind::power_loss, !disk.empty()},
        {Kind::tmf, true},             {Kind::crash, true},
        {Kind::withhold_data, true},   {Kind::freeze, true},
        {Kind::logout, true},          {Kind::pdu_cut, true},
        {Kind::bandwidth_drop, true},  {Kind::write_error, !disk.empty()},
        {Kind::torn_write, !disk.empty()}, {Kind::stuck_delivery, true},
        {Kind::duplicate_isid, true},  {Kind::nop_storm, true},
        {Kind::bhs_corrupt, header_digests}, {Kind::misbehave, true},
        // Not misdirected_write / misdirected_read: they break the disk itself, and a run
        // that drew one would fail whatever the target did (their own scenarios expect it).
    };
    if (!hot && d.chance(12)) {
        d.note("faults", "none");
        return;
    }
    const Nanos span = estimate(s);
    faults::Fault spec;
    spec.at_min = 100us;
    spec.at_max = span + span / 5;
    spec.disk = disk;
    spec.offset = 0;
    spec.length = std::max<std::uint64_t>(region_end, 64 * 1024);
    std::size_t hosts = 0;
    for (const auto& i : s.initiators) hosts += i.count;
    // Swarm testing: a run switches on a few kinds (one to six, mostly one to three),
    // so that faults which mask each other are seldom drawn together.
    std::vector<Kind> allowed;
    for (const auto& c : kinds)
        if (c.allowed) allowed.push_back(c.kind);
    // A session lost with writes still at the disk, then reinstated, is where targets
    // have lost data before (this one too): the faults that end a session are drawn
    // twice as often.
    for (Kind k : {Kind::crash, Kind::link_reset, Kind::pdu_cut}) allowed.push_back(k);
    std::vector<Kind> chosen;
    if (hot) {
        // A hot run ends a session at least once (see default_mix).
        const Kind k = d.pick({Kind::crash, Kind::link_reset, Kind::pdu_cut});
        chosen.push_back(k);
        std::erase(allowed, k);
    }
    for (std::size_t want = d.pick<std::size_t>({1, 1, 2, 2, 3, 3, 4, 6}); want > 0 && !allowed.empty(); --want) {
        const Kind k = allowed[static_cast<std::size_t>(d.rng().below(allowed.size()))];
        chosen.push_back(k);
        std::erase(allowed, k);
    }
    std::string on;
    for (Kind kind : chosen) {
        const unsigned n = static_cast<unsigned>(d.between(1, 3));
        on += (on.empty() ? "" : ",") + std::string(faults::to_string(kind)) + "x" + std::to_string(n);
        for (unsigned k = 0; k < n; ++k) {
            // One host drawn, or (three times in ten) all of them; the parameters as a
            // random plan draws them.
            const bool all = hosts > 1 && d.chance(30);
            spec.initiator = -1;
            faults::Fault f = faults::draw_fault(kind, spec, d.rng(), hosts);
            if (all) f.initiator = -1;
            s.faults.faults.push_back(f);
        }
    }
    std::stable_sort(s.faults.faults.begin(), s.faults.faults.end(),
                     [](const faults::Fault& a, const faults::Fault& b) { return a.at_min < b.at_min; });
    d.note("faults", on.empty() ? "none" : on);
}

const char* kTarget = "iqn.2026-11.org.iscsilab:swarm";

SwarmDraw default_mix(std::uint64_t seed) {
    SwarmDraw out;
    Drawer d(seed, out);
    Scenario& s = out.scenario;
    s.name = "swarm/default-mix";
    s.file = "swarm";
    s.description = "drawn by iscsilab swarm from seed " + std::to_string(seed);
    s.duration = 60s;
    draw_link(d, s.link);
    model::DiskConfig disk;
    disk.size_bytes = 256ull << 20;
    draw_disk(d, "disk0", disk);
    // Buggify (FoundationDB's word for it): one run in six is drawn hot, the rare but
    // dangerous corner made common: a slow disk with long-tailed writes, a small region
    // written often by deep queues, and at least one session that ends with writes still
    // at the disk, so that a reinstatement races the old session's writes.
    const bool hot = d.chance(16);
    d.note("hot", hot ? "yes" : "no");
    if (hot) {
        disk.jitter = model::DiskConfig::Jitter::exponential;
        disk.write_latency = std::max<Nanos>(disk.write_latency, 2ms);
        disk.queue_depth = std::max<std::uint32_t>(disk.queue_depth, 16);
    }
    const std::uint32_t lba = d.pick<std::uint32_t>({512, 512, 1024, 2048, 4096, 4096});
    // nv_cache: the device's cache survives power loss, so SYNCHRONIZE CACHE and FUA
    // need not reach the medium (SCST README); a disk that lies about it would lose
    // acknowledged writes by design. So with nv_cache the disk model has no volatile cache.
    const bool nv_cache = d.chance(20);
    const bool write_through = d.chance(20);
    if (nv_cache) disk.write_cache = false;
    d.note("device.blocksize", std::to_string(lba));
    d.note("device.nv_cache", nv_cache ? "1" : "0");
    d.note("device.write_through", write_through ? "1" : "0");
    s.disks["disk0"] = disk;
    const TargetKnobs t = draw_target(d);
    std::string cfg = "HANDLER vdisk_fileio {\n    DEVICE d0 {\n        filename disk0\n        blocksize " + std::to_string(lba) +
                      "\n        nv_cache " + (nv_cache ? "1" : "0") + "\n        write_through " + (write_through ? "1" : "0") +
                      "\n    }\n}\nTARGET_DRIVER iscsi {\n    enabled 1\n    TARGET " + kTarget + " {\n";
    for (const auto& [k, v] : t.attrs) cfg += "        " + k + " " + v + "\n";
    cfg += "        LUN 0 d0\n        enabled 1\n    }\n}\n";
    s.target_config = cfg;

    const unsigned specs = d.chance(25) ? 2 : 1;
    bool digests_both = true, header_digests = true;
    std::uint64_t region_end = 0;
    for (unsigned n = 0; n < specs; ++n) {
        InitiatorSpec spec;
        const std::string who = "initiator" + std::to_string(n);
        spec.count = d.pick<std::uint32_t>({1, 1, 1, 2, 3});
        spec.config.name = "iqn.2026-11.org.iscsilab:swarm-host" + std::to_string(n);
        spec.config.target = kTarget;
        spec.config.discovery = d.chance(20);
        spec.config.max_recoveries = 50;
        // A real host's SCSI layer times commands out; without it a task that another
        // initiator's LUN RESET ended silently (SAM-5, TAS=0) would wait forever.
        spec.config.command_timeout = d.pick<Nanos>({500ms, 2s, 5s});
        bool hd = false, dd = false;
        spec.config.keys = draw_keys(d, who, t, hd, dd);
        digests_both = digests_both && hd && dd;
        header_digests = header_digests && hd;
        spec.workload = draw_workload(d, who, lba);
        if (hot) {
            spec.workload.read_pct = std::min<std::uint32_t>(spec.workload.read_pct, 50);
            spec.workload.queue_depth = std::max<std::uint32_t>(spec.workload.queue_depth, 8);
            spec.workload.block_size = std::min<std::uint32_t>(spec.workload.block_size, 16384);
            spec.workload.block_size -= spec.workload.block_size % lba;
            spec.workload.block_size = std::max<std::uint32_t>(spec.workload.block_size, lba);
            spec.workload.region_length = std::max<std::uint64_t>(8ull * spec.workload.block_size, 64u << 10);
            spec.workload.region_length -= spec.workload.region_length % spec.workload.block_size;
        }
        spec.workload.region_offset = region_end;
        region_end += spec.workload.region_length * spec.count;
        d.note(who + ".count", std::to_string(spec.count));
        d.note(who + ".discovery", spec.config.discovery ? "true" : "false");
        d.note(who + ".command_timeout", time_text(spec.config.command_timeout));
        s.initiators.push_back(std::move(spec));
    }
    draw_faults(d, s, digests_both, header_digests, "disk0", region_end, hot);
    const std::uint32_t max_burst = static_cast<std::uint32_t>(std::stoul(
        std::find_if(t.attrs.begin(), t.attrs.end(), [](const auto& kv) { return kv.first == "MaxBurstLength"; })->second));
    const Nanos floor = healthy_command_bound(s, max_burst, s.faults.has(faults::Kind::disk_slow),
                                              s.faults.has(faults::Kind::bandwidth_drop));
    for (auto& i : s.initiators) i.config.command_timeout = std::max(i.config.command_timeout, floor);
    d.note("command_timeout.floor", time_text(std::chrono::duration_cast<std::chrono::milliseconds>(floor)));
    // The target's RspTimeout likewise: it closes a connection whose initiator seems not
    // to answer, and a healthy answer may take this long on the drawn set-up.
    const auto rsp_floor = static_cast<unsigned>(std::chrono::duration_cast<std::chrono::seconds>(floor).count()) + 1;
    const auto at = s.target_config.find("RspTimeout ");
    if (at != std::string::npos) {
        const auto end = s.target_config.find('\n', at);
        const unsigned drawn = static_cast<unsigned>(std::stoul(s.target_config.substr(at + 11, end - at - 11)));
        if (drawn < rsp_floor) {
            s.target_config.replace(at, end - at, "RspTimeout " + std::to_string(rsp_floor));
            d.note("target.RspTimeout.floor", std::to_string(rsp_floor));
        }
    }
    // A host whose task another initiator's reset ended silently notices at its command
    // timeout, then aborts and may recover: the run lasts long enough for that, twice.
    Nanos longest_timeout{0};
    for (const auto& i : s.initiators) longest_timeout = std::max(longest_timeout, i.config.command_timeout);
    s.duration = std::max(run_limit(s), 3 * longest_timeout + std::chrono::seconds(30));
    d.note("duration", time_text(std::chrono::duration_cast<std::chrono::milliseconds>(s.duration)));
    return out;
}

SwarmDraw from_base(const Scenario& base, std::uint64_t seed) {
    SwarmDraw out;
    Drawer d(seed, out);
    Scenario& s = out.scenario;
    s = base;
    s.expect = Expect{};
    s.description = "drawn by iscsilab swarm from seed " + std::to_string(seed) + " over " + base.file;
    draw_link(d, s.link);
    for (auto& [name, c] : s.disks) draw_disk(d, name, c);
    // The base's configuration stays; its iSCSI attributes are redrawn through the
    // management tree, as an administrator would set them on a running target.
    std::vector<std::string> targets;
    for (const auto& i : s.initiators)
        if (!i.config.target.empty() && std::find(targets.begin(), targets.end(), i.config.target) == targets.end())
            targets.push_back(i.config.target);
    const TargetKnobs t = draw_target(d);
    for (const auto& name : targets)
        for (const auto& [k, v] : t.attrs) s.mgmt.emplace_back("targets/iscsi/" + name + "/" + k, v);
    bool digests_both = !targets.empty(), header_digests = !targets.empty();
    std::uint64_t region_end = 0;
    for (std::size_t n = 0; n < s.initiators.size(); ++n) {
        auto& spec = s.initiators[n];
        const std::string who = "initiator" + std::to_string(n);
        bool hd = false, dd = false;
        spec.config.keys = draw_keys(d, who, t, hd, dd);
        digests_both = digests_both && hd && dd;
        header_digests = header_digests && hd;
        spec.config.max_recoveries = std::max<std::uint32_t>(spec.config.max_recoveries, 50);
        spec.workload.queue_depth = d.pick<std::uint32_t>({1, 4, spec.workload.queue_depth, 32});
        d.note(who + ".workload.queue_depth", std::to_string(spec.workload.queue_depth));
        const std::uint64_t len = spec.workload.region_length ? spec.workload.region_length : 64ull << 20;
        region_end = std::max(region_end, spec.workload.region_offset + len * spec.count);
    }
    draw_faults(d, s, digests_both, header_digests, s.disks.empty() ? std::string() : s.disks.begin()->first, region_end);
    return out;
}

}  // namespace

std::string SwarmDraw::knob_line() const {
    std::string line;
    for (const auto& [k, v] : knobs) line += (line.empty() ? "" : " ") + k + "=" + v;
    return line;
}

SwarmDraw draw_swarm_run(const Scenario* base, std::uint64_t seed) {
    return base ? from_base(*base, seed) : default_mix(seed);
}


}  // namespace iscsilab::scenario
