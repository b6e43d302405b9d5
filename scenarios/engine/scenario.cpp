#include "scenarios/engine/scenario.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <deque>
#include <memory>

#include "fabric/capture/pcap_writer.hpp"
#include "model/kernel.hpp"
#include "target/iscsi/driver.hpp"
#include "target/bytes.hpp"
#include "scenarios/engine/wire_check.hpp"
#include "target/mgmt/tree.hpp"

namespace iscsilab::scenario {

// ---- running ------------------------------------------------------------------------

namespace {

// The digest of a run: every segment on every simulated wire, in order, with its time.
// XXH3-128: a trace digest has to be fast (it sees every payload byte), not secret.
class DigestTap final : public capture::PacketTap {
public:
    DigestTap() : state_(XXH3_createState()) { XXH3_128bits_reset(state_); }
    ~DigestTap() override { XXH3_freeState(state_); }
    DigestTap(const DigestTap&) = delete;
    DigestTap& operator=(const DigestTap&) = delete;
    // Taps that see every segment after the digest, in order (the pcap, the wire checker).
    void chain(capture::PacketTap* next) { next_.push_back(next); }
    void segment(const capture::Segment& s) override {
        std::byte h[24];
        std::span<std::byte> b(h);
        st64(b, 0, static_cast<std::uint64_t>(s.time.count()));
        st32(b, 8, s.src.ip);
        st16(b, 12, s.src.port);
        st16(b, 14, s.dst.port);
        st32(b, 16, s.seq);
        st8(b, 20, s.flags);
        st24(b, 21, static_cast<std::uint32_t>(s.payload.size()));
        XXH3_128bits_update(state_, h, sizeof h);
        XXH3_128bits_update(state_, s.payload.data(), s.payload.size());
        ++segments;
        for (auto* n : next_) n->segment(s);
    }
    void datagram(const capture::Datagram& d) override {
        std::byte h[16];
        std::span<std::byte> b(h);
        st64(b, 0, static_cast<std::uint64_t>(d.time.count()));
        st32(b, 8, d.src.ip);
        st16(b, 12, d.src.port);
        st16(b, 14, static_cast<std::uint16_t>(d.payload.size()));
        XXH3_128bits_update(state_, h, sizeof h);
        XXH3_128bits_update(state_, d.payload.data(), d.payload.size());
        for (auto* n : next_) n->datagram(d);
    }
    std::string hex() const {
        const XXH128_hash_t d = XXH3_128bits_digest(state_);
        char buf[33];
        std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(d.high64),
                      static_cast<unsigned long long>(d.low64));
        return buf;
    }
    std::uint64_t segments = 0;

private:
    XXH3_state_t* state_;
    std::vector<capture::PacketTap*> next_;
};

// Devices name their disk model in `filename`.
class SimStores final : public mgmt::StoreFactory {
public:
    SimStores(model::SimKernel& k, const std::map<std::string, model::DiskConfig>& disks, std::uint64_t seed)
        : kernel_(k), configs_(disks), seed_(seed) {}
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig& cfg, std::string& err) override {
        auto it = made_.find(cfg.filename);
        if (it != made_.end()) return it->second;
        auto c = configs_.find(cfg.filename);
        if (c == configs_.end()) {
            err = "no disk model '" + cfg.filename + "' (declare it under disks:)";
            return nullptr;
        }
        auto d = std::make_shared<model::SimDisk>(kernel_, c->second, seed_, cfg.filename);
        made_[cfg.filename] = d;
        return d;
    }
    model::SimDisk* find(const std::string& name) const {
        auto it = made_.find(name);
        return it == made_.end() ? nullptr : it->second.get();
    }

private:
    model::SimKernel& kernel_;
    const std::map<std::string, model::DiskConfig>& configs_;
    std::uint64_t seed_;
    std::map<std::string, std::shared_ptr<model::SimDisk>> made_;
};

}  // namespace

RunResult run_scenario(const Scenario& s, std::uint64_t seed, const std::string& pcap_path) {
    RunResult res;
    auto failed = [&](std::string why) { res.failures.push_back(std::move(why)); };

    model::fresh_systemc_context();
    auto kernel = std::make_unique<model::SimKernel>("kernel");
    model::Rng target_random(seed, "target");
    iscsi::IscsiDriver driver(target_random);
    // The target's own log, with simulated time: its last lines go with a failure.
    std::deque<std::string> target_log;
    auto* kernel_ptr = kernel.get();
    driver.set_log([&target_log, kernel_ptr](const LogLine& line) {
        char at[32];
        std::snprintf(at, sizeof at, "%.3f ms", static_cast<double>(kernel_ptr->now().count()) / 1e6);
        target_log.push_back(format_line(at, line));
        if (target_log.size() > 10) target_log.pop_front();
    });
    // A broken invariant of the target core (target/iscsi/invariant.hpp) fails the run;
    // the target closed the connection it concerns.
    driver.set_invariant_handler([&failed](std::string_view line) { failed("invariant: " + std::string(line)); });
    SimStores stores(*kernel, s.disks, seed);
    mgmt::Scst scst(driver, stores);
    mgmt::MgmtTree tree(scst, 1);
    {
        auto parsed = mgmt::parse_scst_conf(s.target_config, s.file + " (target.config)");
        if (parsed.error) {
            failed(parsed.error->text());
            return res;
        }
        if (auto e = scst.apply(parsed.blocks, s.file + " (target.config)")) {
            failed(e->text());
            return res;
        }
        for (const auto& [path, value] : s.mgmt)
            if (auto e = tree.write(path, value); !e.empty()) {
                failed("target.mgmt: " + e);
                return res;
            }
    }

    DigestTap digest;
    std::unique_ptr<capture::PcapWriter> pcap;
    if (!pcap_path.empty()) {
        try {
            pcap = std::make_unique<capture::PcapWriter>(pcap_path);
            digest.chain(pcap.get());
        } catch (const std::exception& e) {
            failed(std::string("pcap: ") + e.what());
            return res;
        }
    }
    // Every PDU on every simulated wire is judged by the wire checker, which has its own
    // decoder; its violation records go into the trace and the pcap after the PDU.
    WireCheckTap wire([&digest](const capture::Datagram& d) { digest.datagram(d); });
    digest.chain(&wire);

    // The network: each initiator host gets 192.0.2.(10+i); the target is 192.0.2.1:3260.
    // Each workload host has its link's fault state; the after-run probe has none.
    std::vector<std::shared_ptr<sim::SimTcpConnection>> conns;
    std::map<std::uint32_t, std::weak_ptr<sim::SimTcpConnection>> current;
    std::vector<std::shared_ptr<sim::LinkFaults>> host_faults;
    // Each host's random cuts come from its own "link/<address>" stream (link.cuts).
    std::map<std::uint32_t, std::shared_ptr<model::Rng>> cut_streams;
    std::uint16_t next_port = 40000;
    auto connector = [&](std::uint32_t host) {
        return [&, host]() -> std::shared_ptr<ByteStream> {
            capture::Endpoint i{0xc0000200u + host, next_port++};
            capture::Endpoint t{0xc0000201u, 3260};
            const std::size_t h = host - 10;
            auto& cuts = cut_streams[host];
            if (!cuts && s.link.cut_pct > 0) cuts = std::make_shared<model::Rng>(seed, "link/" + sim::ip_string(i.ip));
            auto c = sim::SimTcpConnection::create(*kernel, s.link, i, t, &digest,
                                                   h < host_faults.size() ? host_faults[h] : nullptr, cuts);
            conns.push_back(c);
            current[host] = c;
            driver.accept(c->target_end(), *kernel, *kernel);
            return c->initiator_end();
        };
    };

    std::vector<std::shared_ptr<model::Initiator>> inits;
    // The oracles initiators share: the persistent reservations of each LU (by target and
    // LUN) as all of them know it, and the blocks of a region its copies share.
    std::map<std::pair<std::string, std::uint32_t>, std::shared_ptr<model::PrOracle>> reservations;
    auto pr_oracle = [&reservations](const model::InitiatorConfig& c) {
        auto& o = reservations[{c.target, c.lun}];
        if (!o) o = std::make_shared<model::PrOracle>();
        return o;
    };
    std::uint32_t host = 10;
    for (const auto& spec : s.initiators) {
        auto blocks = spec.shared ? std::make_shared<model::SharedBlocks>() : nullptr;
        for (std::uint32_t k = 0; k < spec.count; ++k) {
            model::InitiatorConfig cfg = spec.config;
            model::Workload wl = spec.workload;
            if (spec.count > 1) {
                cfg.name += ":" + std::to_string(k);
                cfg.isid[5] = static_cast<std::byte>(k + 1);
                // Each copy works its own slice of the region, so verification is exact;
                // or they all work the same one, judged by one shared oracle.
                if (wl.region_length == 0) wl.region_length = 64ull << 20;
                if (!spec.shared) wl.region_offset += k * wl.region_length;
            }
            inits.push_back(std::make_shared<model::Initiator>(*kernel, connector(host++), cfg, wl, seed));
            inits.back()->set_pr_oracle(pr_oracle(cfg));
            if (blocks) inits.back()->set_shared_blocks(blocks);
            host_faults.push_back(std::make_shared<sim::LinkFaults>());
        }
    }
    // A TCP reset of a host's current connection: the fault plan's link_reset, and how a
    // host drops a connection it gives up on.
    auto reset_host = [&current](std::size_t h, const std::string& why) {
        if (auto c = current[static_cast<std::uint32_t>(10 + h)].lock()) c->reset(why);
    };
    for (std::size_t h = 0; h < inits.size(); ++h)
        inits[h]->set_abort([reset_host, h](const std::string& why) { reset_host(h, why); });
    faults::World world;
    world.initiators = inits.size();
    world.link = [&](std::size_t h) -> sim::LinkFaults& { return *host_faults[h]; };
    world.reset = reset_host;
    world.initiator = [&](std::size_t h) { return inits[h].get(); };
    world.disk = [&](const std::string& name) { return stores.find(name); };
    // Fault records ride in the trace (and the pcap) as UDP from 192.0.2.254.
    world.record = [&](const faults::Record& r) {
        const Bytes b = faults::encode_record(r);
        capture::Datagram d;
        d.time = r.time;
        d.src = {0xc00002feu, faults::kRecordPort};
        d.dst = {0xc0000201u, faults::kRecordPort};
        d.payload = b;
        digest.datagram(d);
    };
    faults::Injector injector(*kernel, s.faults, seed, world);
    injector.arm();
    for (auto& i : inits) {
        auto keep = i;
        kernel->post([keep] { keep->start(); });
    }

    // Run in slices until every initiator is done (or the scenario's time is up).
    const Nanos slice = std::chrono::milliseconds(100);
    while (kernel->now() < s.duration && !kernel->idle()) {
        kernel->run(slice);
        if (std::all_of(inits.begin(), inits.end(), [](const auto& i) { return i->finished(); })) break;
    }
    // The faults end; then the target must still be alive: a fresh login and a READ.
    injector.heal();
    bool probe_ok = false;
    if (std::all_of(inits.begin(), inits.end(), [](const auto& i) { return i->finished() && !i->failed(); }) &&
        !s.initiators.empty() && !s.initiators[0].config.target.empty()) {
        model::InitiatorConfig pc = s.initiators[0].config;
        pc.name = "iqn.2026-11.org.iscsilab:probe";
        pc.discovery = false;
        pc.isid[5] = std::byte{0xee};
        model::Workload pw;
        pw.ops = 1;
        pw.read_pct = 100;
        pw.verify_data = false;
        pw.block_size = 512;
        pw.region_length = 0;
        auto probe = std::make_shared<model::Initiator>(*kernel, connector(250), pc, pw, seed);
        // An exclusive access reservation the run left refuses the probe's READ: that
        // RESERVATION CONFLICT (which the oracle judges) is an answer too.
        probe->set_pr_oracle(pr_oracle(pc));
        kernel->post([probe] { probe->start(); });
        const Nanos until = kernel->now() + std::chrono::seconds(5);
        while (kernel->now() < until && !probe->finished() && !kernel->idle()) kernel->run(slice);
        probe_ok = probe->finished() && !probe->failed() && probe->stats().reads + probe->stats().reservation_conflicts == 1;
        if (!probe_ok) failed("the target did not answer a fresh login and READ after the run");
        kernel->run(std::chrono::milliseconds(10));  // let the probe's logout settle
    }

    for (std::size_t n = 0; n < inits.size(); ++n) {
        const auto& i = *inits[n];
        const auto& st = i.stats();
        const std::string who = "initiator " + std::to_string(n);
        if (!i.finished()) failed(who + " did not finish in " + std::to_string(s.duration.count() / 1e9) + " s: " + i.describe());
        for (const auto& e : st.errors) failed(who + ": " + e);
        res.ops += st.reads + st.writes + st.verifies + st.unmaps + st.caws;
        res.bytes += st.bytes_read + st.bytes_written;
        res.initiator_pdus += st.pdus_sent;
        res.target_pdus += st.pdus_received;
        res.recoveries += st.recoveries;
        // Recoveries and device errors need a fault that explains them.
        if (st.recoveries > 0 && !s.faults.may_break_sessions()) {
            std::string why;
            for (const auto& r : st.recovery_reasons) why += (why.empty() ? "" : "; ") + r;
            failed(who + ": " + std::to_string(st.recoveries) + " session recoveries without a fault to cause them (" + why + ")");
        }
        if (st.medium_errors > 0 && !s.faults.may_fail_media())
            failed(who + ": " + std::to_string(st.medium_errors) + " MEDIUM ERRORs without a medium_error fault");
        if (st.timed_out > 0 && s.faults.empty())
            failed(who + ": " + std::to_string(st.timed_out) + " commands timed out without a fault to explain them");
        if (st.device_errors > 0 && !s.faults.has(faults::Kind::disk_offline))
            failed(who + ": " + std::to_string(st.device_errors) + " device errors without a disk_offline fault");
    }
    // Expectations.
    if (!inits.empty()) {
        const auto& st0 = inits[0]->stats();
        for (const auto& [k, v] : s.expect.negotiated) {
            auto it = st0.negotiated.find(k);
            if (it == st0.negotiated.end()) failed("expected " + k + "=" + v + ", not negotiated");
            else if (it->second != v) failed("expected " + k + "=" + v + ", negotiated " + it->second);
        }
        model::InitiatorStats sum;
        for (const auto& i : inits) {
            const auto& st = i->stats();
            sum.r2ts += st.r2ts;
            sum.data_in += st.data_in;
            sum.aborted += st.aborted;
            sum.lost += st.lost;
            sum.medium_errors += st.medium_errors;
            sum.device_errors += st.device_errors;
            sum.reverted += st.reverted;
            sum.syncs += st.syncs;
            sum.timed_out += st.timed_out;
            sum.relogins += st.relogins;
            sum.data_errors += st.data_errors;
            sum.unmaps += st.unmaps;
            sum.caws += st.caws;
            sum.miscompares += st.miscompares;
            sum.reservation_conflicts += st.reservation_conflicts;
            for (const auto& [k, v] : st.seen) sum.seen[k] += v;
        }
        for (const auto& [k, v] : injector.seen()) sum.seen[k] += v;
        auto at_least = [&](const std::optional<std::uint64_t>& want, std::uint64_t saw, const char* what) {
            if (want && saw < *want)
                failed("expected at least " + std::to_string(*want) + " " + what + ", saw " + std::to_string(saw));
        };
        auto at_most = [&](const std::optional<std::uint64_t>& want, std::uint64_t saw, const char* what) {
            if (want && saw > *want)
                failed("expected at most " + std::to_string(*want) + " " + what + ", saw " + std::to_string(saw));
        };
        at_least(s.expect.min_aborted, sum.aborted, "aborted tasks");
        at_least(s.expect.min_r2ts, sum.r2ts, "R2Ts");
        at_most(s.expect.max_r2ts, sum.r2ts, "R2Ts");
        at_least(s.expect.min_data_in, sum.data_in, "Data-In PDUs");
        at_least(s.expect.min_ops, res.ops, "operations");
        at_least(s.expect.min_recoveries, res.recoveries, "session recoveries");
        at_most(s.expect.max_recoveries, res.recoveries, "session recoveries");
        at_least(s.expect.min_lost, sum.lost, "commands ended by session recovery");
        at_least(s.expect.min_medium_errors, sum.medium_errors, "MEDIUM ERRORs");
        at_least(s.expect.min_device_errors, sum.device_errors, "device errors");
        at_least(s.expect.min_reverted, sum.reverted, "blocks older than acknowledged after a power loss");
        at_most(s.expect.max_reverted, sum.reverted, "blocks older than acknowledged after a power loss");
        at_least(s.expect.min_syncs, sum.syncs, "SYNCHRONIZE CACHE commands");
        at_least(s.expect.min_timed_out, sum.timed_out, "commands timed out");
        at_least(s.expect.min_relogins, sum.relogins, "logouts during I/O followed by a new login");
        at_least(s.expect.min_data_errors, sum.data_errors, "data-verification failures");
        at_least(s.expect.min_unmaps, sum.unmaps, "UNMAP commands completed");
        at_least(s.expect.min_caws, sum.caws, "COMPARE AND WRITE commands completed GOOD");
        at_least(s.expect.min_miscompares, sum.miscompares, "COMPARE AND WRITE miscompares");
        at_least(s.expect.min_reservation_conflicts, sum.reservation_conflicts, "RESERVATION CONFLICTs");
        for (const auto& [k, v] : s.expect.seen) at_least(v, sum.seen[k], k.c_str());
        for (const auto& t : s.expect.discovered)
            if (std::find(st0.targets_discovered.begin(), st0.targets_discovered.end(), t) == st0.targets_discovered.end())
                failed("SendTargets did not list " + t);
    }
    // Every session and connection was freed once everyone logged out.
    if (res.failures.empty()) {
        if (driver.connection_count() != 0) failed(std::to_string(driver.connection_count()) + " connections left open at the target");
        if (!driver.sessions().empty()) failed(std::to_string(driver.sessions().size()) + " sessions left at the target");
    }
    // The wire checker's verdicts (RFC 3720 rules of reports/catalogue, by id).
    std::size_t wire_lines = 0;
    {
        // They lead the failure list, so the cut below never hides them behind the
        // initiator model's own lines.
        auto lines = wire.finish();
        // An initiator that breaks rules on purpose (misbehave) shows as initiator
        // deviations: those are the plan's doing; what the target did stays judged.
        if (s.faults.deviates())
            lines.erase(std::remove_if(lines.begin(), lines.end(),
                                       [](const std::string& l) { return l.find(" broken by the initiator ") != std::string::npos; }),
                        lines.end());
        std::vector<std::string> first;
        for (std::size_t k = 0; k < lines.size() && k < 4; ++k) first.push_back(lines[k]);
        if (lines.size() > 4) first.push_back(std::to_string(lines.size() - 4) + " more wire-rule violations");
        res.failures.insert(res.failures.begin(), first.begin(), first.end());
        wire_lines = first.size();
        res.wire_pdus = wire.checker().pdus();
        res.wire_violations = wire.checker().violation_count();
        for (std::size_t k = 0; k < checker::RULE_COUNT; ++k) {
            const auto& t = wire.checker().tally()[k];
            // The deliberate deviations of a misbehaving initiator are not the
            // requirement's violations: the conformance report judges the target.
            const std::uint64_t violated = s.faults.deviates() ? t.violated - std::min(t.violated, wire.by_initiator()[k]) : t.violated;
            if (t.exercised || violated) res.wire_tally.push_back({std::string(checker::rules()[k].id), t.exercised, violated});
        }
    }
    res.faults = injector.fired();
    // A failure under faults is read next to what the plan did, and when, and what the
    // target said last.
    if (!res.failures.empty()) {
        if (res.failures.size() > 8 + wire_lines) res.failures.resize(8 + wire_lines);
        const auto& fault_log = injector.log();
        for (std::size_t k = 0; k < fault_log.size() && k < 16; ++k) res.failures.push_back("fault at " + fault_log[k]);
        for (const auto& line : target_log) res.failures.push_back("target at " + line);
    }
    res.digest = digest.hex();
    res.segments = digest.segments;
    res.events = kernel->events();
    res.sim_seconds = static_cast<double>(kernel->now().count()) / 1e9;
    res.pdus = res.initiator_pdus + res.target_pdus;
    res.passed = res.failures.empty();
    inits.clear();
    conns.clear();
    return res;
}

}  // namespace iscsilab::scenario
