#include "scenarios/engine/scenario.hpp"

#include <xxhash.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <deque>
#include <memory>

#include "fabric/capture/pcap_writer.hpp"
#include "model/kernel.hpp"
#include "target/iscsi/driver.hpp"
#include "target/iscsi/wire.hpp"
#include "target/mgmt/tree.hpp"

namespace iscsilab::scenario {

// ---- units ------------------------------------------------------------------------------

namespace {
std::pair<double, std::string> number_unit(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) return {-1, ""};
    std::string unit = s.substr(i);
    unit.erase(std::remove(unit.begin(), unit.end(), ' '), unit.end());
    return {std::stod(s.substr(0, i)), unit};
}
}  // namespace

std::optional<std::uint64_t> parse_size(const std::string& s) {
    auto [n, u] = number_unit(s);
    if (n < 0) return std::nullopt;
    static const std::map<std::string, double> units = {{"", 1}, {"B", 1}, {"KiB", 1024.0}, {"MiB", 1048576.0},
                                                        {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
                                                        {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}};
    auto it = units.find(u);
    if (it == units.end()) return std::nullopt;
    return static_cast<std::uint64_t>(n * it->second);
}

std::optional<double> parse_bandwidth_bps(const std::string& s) {
    auto [n, u] = number_unit(s);
    if (n < 0) return std::nullopt;
    static const std::map<std::string, double> units = {{"bps", 1}, {"Kbps", 1e3}, {"Mbps", 1e6}, {"Gbps", 1e9},
                                                        {"B/s", 8}, {"KB/s", 8e3}, {"MB/s", 8e6}, {"GB/s", 8e9}};
    auto it = units.find(u);
    if (it == units.end()) return std::nullopt;
    return n * it->second;
}

std::optional<Nanos> parse_duration(const std::string& s) {
    auto [n, u] = number_unit(s);
    if (n < 0) return std::nullopt;
    static const std::map<std::string, double> units = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    auto it = units.find(u);
    if (it == units.end()) return std::nullopt;
    return Nanos(static_cast<std::int64_t>(n * it->second));
}

// ---- loading --------------------------------------------------------------------------

namespace {

struct LoadError {
    std::string what;
};

std::string str(const YAML::Node& n, const std::string& where) {
    if (!n.IsScalar()) throw LoadError{where + ": expected a value"};
    return n.as<std::string>();
}
std::uint64_t size_of(const YAML::Node& n, const std::string& where) {
    auto v = parse_size(str(n, where));
    if (!v) throw LoadError{where + ": expected a size like 4096, 64MiB or 1GiB"};
    return *v;
}
Nanos duration_of(const YAML::Node& n, const std::string& where) {
    auto v = parse_duration(str(n, where));
    if (!v) throw LoadError{where + ": expected a time like 20us, 1ms or 10s"};
    return *v;
}
double bandwidth_of(const YAML::Node& n, const std::string& where) {
    auto v = parse_bandwidth_bps(str(n, where));
    if (!v) throw LoadError{where + ": expected a rate like 10Gbps or 2GB/s"};
    return *v;
}
std::uint64_t number_of(const YAML::Node& n, const std::string& where) {
    auto v = iscsi::parse_number(str(n, where));
    if (!v) throw LoadError{where + ": expected a whole number"};
    return *v;
}
bool flag_of(const YAML::Node& n, const std::string& where) {
    std::string v = str(n, where);
    if (v == "true" || v == "yes" || v == "Yes" || v == "1") return true;
    if (v == "false" || v == "no" || v == "No" || v == "0") return false;
    throw LoadError{where + ": expected true or false"};
}
void only(const YAML::Node& map, std::initializer_list<const char*> keys, const std::string& where) {
    for (const auto& kv : map) {
        const std::string k = kv.first.as<std::string>();
        if (std::find_if(keys.begin(), keys.end(), [&](const char* x) { return k == x; }) == keys.end()) {
            std::string list;
            for (auto x : keys) list += std::string(list.empty() ? "" : ", ") + x;
            throw LoadError{where + ": unknown key '" + k + "' (expected one of: " + list + ")"};
        }
    }
}

model::Workload workload_of(const YAML::Node& w, const std::string& where) {
    model::Workload wl;
    if (!w) return wl;
    only(w, {"pattern", "read_pct", "verify_pct", "block_size", "queue_depth", "ops", "region_offset", "region",
             "verify", "write_then_read", "abort_every", "sync_every", "fua_pct"},
         where);
    if (w["pattern"]) {
        std::string p = str(w["pattern"], where + ".pattern");
        if (p == "random") wl.pattern = model::Workload::Pattern::random;
        else if (p == "sequential") wl.pattern = model::Workload::Pattern::sequential;
        else throw LoadError{where + ".pattern: expected random or sequential"};
    }
    if (w["read_pct"]) wl.read_pct = static_cast<std::uint32_t>(number_of(w["read_pct"], where + ".read_pct"));
    if (w["verify_pct"]) wl.verify_pct = static_cast<std::uint32_t>(number_of(w["verify_pct"], where + ".verify_pct"));
    if (wl.read_pct + wl.verify_pct > 100) throw LoadError{where + ": read_pct + verify_pct over 100"};
    if (w["block_size"]) wl.block_size = static_cast<std::uint32_t>(size_of(w["block_size"], where + ".block_size"));
    if (w["queue_depth"]) wl.queue_depth = static_cast<std::uint32_t>(number_of(w["queue_depth"], where + ".queue_depth"));
    if (w["ops"]) wl.ops = number_of(w["ops"], where + ".ops");
    if (w["region_offset"]) wl.region_offset = size_of(w["region_offset"], where + ".region_offset");
    if (w["region"]) wl.region_length = size_of(w["region"], where + ".region");
    if (w["verify"]) wl.verify_data = flag_of(w["verify"], where + ".verify");
    if (w["write_then_read"]) wl.write_then_read = flag_of(w["write_then_read"], where + ".write_then_read");
    if (w["abort_every"]) wl.abort_every = number_of(w["abort_every"], where + ".abort_every");
    if (w["sync_every"]) wl.sync_every = number_of(w["sync_every"], where + ".sync_every");
    if (w["fua_pct"]) wl.fua_pct = static_cast<std::uint32_t>(number_of(w["fua_pct"], where + ".fua_pct"));
    if (wl.fua_pct > 100) throw LoadError{where + ".fua_pct: over 100"};
    if (wl.block_size == 0 || wl.queue_depth == 0) throw LoadError{where + ": block_size and queue_depth must be positive"};
    return wl;
}

faults::Fault fault_of(const YAML::Node& f, const std::string& where) {
    faults::Fault out;
    only(f, {"kind", "at", "repeat", "every", "duration", "initiator", "direction", "count", "extra", "disk", "factor",
             "offset", "length", "reads", "writes", "function", "kinds"},
         where);
    if (!f["kind"]) throw LoadError{where + ": missing kind"};
    const std::string kind = str(f["kind"], where + ".kind");
    if (!faults::kind_from_string(kind, out.kind))
        throw LoadError{where + ".kind: unknown fault '" + kind +
                        "' (expected link_stall, link_reset, corrupt, latency_spike, disk_slow, medium_error, "
                        "disk_offline, power_loss, tmf, crash, withhold_data, freeze, logout or random)"};
    if (!f["at"]) throw LoadError{where + ": missing at (a time, or [earliest, latest])"};
    if (f["at"].IsSequence()) {
        if (f["at"].size() != 2) throw LoadError{where + ".at: expected [earliest, latest]"};
        out.at_min = duration_of(f["at"][0], where + ".at");
        out.at_max = duration_of(f["at"][1], where + ".at");
        if (out.at_max < out.at_min) throw LoadError{where + ".at: latest before earliest"};
    } else {
        out.at_min = out.at_max = duration_of(f["at"], where + ".at");
    }
    if (f["repeat"]) out.repeat = static_cast<std::uint32_t>(number_of(f["repeat"], where + ".repeat"));
    if (f["every"]) out.every = duration_of(f["every"], where + ".every");
    if (out.repeat > 1 && out.every.count() <= 0 && out.kind != faults::Kind::random)
        throw LoadError{where + ": repeat needs every"};
    if (f["duration"]) out.duration = duration_of(f["duration"], where + ".duration");
    if (f["initiator"]) out.initiator = static_cast<int>(number_of(f["initiator"], where + ".initiator"));
    if (f["direction"]) {
        const std::string d = str(f["direction"], where + ".direction");
        if (d == "to_target") out.direction = 0;
        else if (d == "to_initiator") out.direction = 1;
        else if (d == "both") out.direction = 2;
        else throw LoadError{where + ".direction: expected to_target, to_initiator or both"};
    }
    if (f["count"]) out.count = static_cast<std::uint32_t>(number_of(f["count"], where + ".count"));
    if (f["extra"]) out.extra = duration_of(f["extra"], where + ".extra");
    if (f["disk"]) out.disk = str(f["disk"], where + ".disk");
    if (f["factor"]) {
        try {
            out.factor = std::stod(str(f["factor"], where + ".factor"));
        } catch (const std::exception&) {
            throw LoadError{where + ".factor: expected a number"};
        }
        if (out.factor <= 0) throw LoadError{where + ".factor: must be positive"};
    }
    if (f["offset"]) out.offset = size_of(f["offset"], where + ".offset");
    if (f["length"]) out.length = size_of(f["length"], where + ".length");
    if (f["reads"]) out.reads = flag_of(f["reads"], where + ".reads");
    if (f["writes"]) out.writes = flag_of(f["writes"], where + ".writes");
    if (f["function"]) {
        const std::string fn = str(f["function"], where + ".function");
        if (!faults::tmf_from_string(fn, out.function))
            throw LoadError{where + ".function: expected abort_task, abort_task_set, clear_task_set, lun_reset, "
                                    "target_warm_reset or target_cold_reset"};
    }
    using K = faults::Kind;
    if (f["kinds"]) {
        if (out.kind != K::random) throw LoadError{where + ".kinds: only for kind random"};
        for (const auto& k : f["kinds"]) {
            const std::string name = str(k, where + ".kinds");
            K c{};
            if (!faults::kind_from_string(name, c) || c == K::random)
                throw LoadError{where + ".kinds: unknown fault '" + name + "'"};
            out.choices.push_back(c);
        }
    }
    if (out.kind == K::random) {
        if (out.choices.empty()) throw LoadError{where + ": random needs kinds (a list of fault kinds)"};
        const bool disk_kind = std::any_of(out.choices.begin(), out.choices.end(), [](K c) {
            return c == K::disk_slow || c == K::medium_error || c == K::disk_offline || c == K::power_loss;
        });
        if (disk_kind && out.disk.empty()) throw LoadError{where + ": random with disk faults needs a disk"};
        return out;  // its faults' parameters are drawn at run time
    }
    if ((out.kind == K::link_stall || out.kind == K::latency_spike || out.kind == K::disk_slow ||
         out.kind == K::disk_offline || out.kind == K::freeze) && out.duration.count() <= 0)
        throw LoadError{where + ": " + kind + " needs a duration"};
    if ((out.kind == K::disk_slow || out.kind == K::medium_error || out.kind == K::disk_offline ||
         out.kind == K::power_loss) && out.disk.empty())
        throw LoadError{where + ": " + kind + " needs a disk"};
    if (out.kind == K::medium_error && out.length == 0) throw LoadError{where + ": medium_error needs a length"};
    return out;
}

}  // namespace

std::string load_scenario(const std::string& path, Scenario& s) {
    try {
        YAML::Node y = YAML::LoadFile(path);
        s.file = path;
        only(y, {"name", "description", "rfc", "duration", "disks", "link", "target", "initiators", "faults", "expect"}, path);
        s.name = y["name"] ? str(y["name"], "name") : path;
        if (y["description"]) s.description = str(y["description"], "description");
        if (y["rfc"]) for (const auto& r : y["rfc"]) s.rfc.push_back(r.as<std::string>());
        if (y["duration"]) s.duration = duration_of(y["duration"], "duration");
        if (y["disks"]) {
            for (const auto& d : y["disks"]) {
                const std::string name = d.first.as<std::string>(), where = "disks." + name;
                model::DiskConfig c;
                const YAML::Node& v = d.second;
                only(v, {"size", "read_latency", "write_latency", "flush_latency", "jitter", "bandwidth", "queue_depth", "write_cache"}, where);
                if (v["size"]) c.size_bytes = size_of(v["size"], where + ".size");
                if (v["read_latency"]) c.read_latency = duration_of(v["read_latency"], where + ".read_latency");
                if (v["write_latency"]) c.write_latency = duration_of(v["write_latency"], where + ".write_latency");
                if (v["flush_latency"]) c.flush_latency = duration_of(v["flush_latency"], where + ".flush_latency");
                if (v["bandwidth"]) c.bandwidth_bps = bandwidth_of(v["bandwidth"], where + ".bandwidth") / 8;
                if (v["queue_depth"]) c.queue_depth = static_cast<std::uint32_t>(number_of(v["queue_depth"], where + ".queue_depth"));
                if (v["write_cache"]) c.write_cache = flag_of(v["write_cache"], where + ".write_cache");
                if (v["jitter"]) {
                    std::string j = str(v["jitter"], where + ".jitter");
                    if (j == "none") c.jitter = model::DiskConfig::Jitter::none;
                    else if (j == "uniform") c.jitter = model::DiskConfig::Jitter::uniform;
                    else if (j == "exponential") c.jitter = model::DiskConfig::Jitter::exponential;
                    else throw LoadError{where + ".jitter: expected none, uniform or exponential"};
                }
                s.disks[name] = c;
            }
        }
        if (y["link"]) {
            const YAML::Node& l = y["link"];
            only(l, {"latency", "bandwidth", "mss", "window"}, "link");
            if (l["latency"]) s.link.latency = duration_of(l["latency"], "link.latency");
            if (l["bandwidth"]) s.link.bandwidth_bps = bandwidth_of(l["bandwidth"], "link.bandwidth");
            if (l["mss"]) s.link.mss = static_cast<std::uint32_t>(number_of(l["mss"], "link.mss"));
            if (l["window"]) s.link.window = static_cast<std::uint32_t>(size_of(l["window"], "link.window"));
            if (s.link.mss < 64 || s.link.window < s.link.mss) throw LoadError{"link: mss must be >= 64 and window >= mss"};
        }
        if (!y["target"]) throw LoadError{"target: missing (config: scst.conf text)"};
        only(y["target"], {"config", "mgmt"}, "target");
        if (y["target"]["config"]) s.target_config = str(y["target"]["config"], "target.config");
        if (y["target"]["mgmt"])
            for (const auto& m : y["target"]["mgmt"]) {
                if (!m.IsSequence() || m.size() != 2) throw LoadError{"target.mgmt: each entry is [path, value]"};
                s.mgmt.emplace_back(m[0].as<std::string>(), m[1].as<std::string>());
            }
        if (!y["initiators"] || !y["initiators"].IsSequence() || y["initiators"].size() == 0)
            throw LoadError{"initiators: expected a list of at least one initiator"};
        int k = 0;
        for (const auto& i : y["initiators"]) {
            const std::string where = "initiators[" + std::to_string(k++) + "]";
            only(i, {"name", "target", "lun", "keys", "discovery", "workload", "count", "command_timeout", "max_recoveries"}, where);
            InitiatorSpec spec;
            if (i["name"]) spec.config.name = str(i["name"], where + ".name");
            if (i["target"]) spec.config.target = str(i["target"], where + ".target");
            if (i["lun"]) spec.config.lun = static_cast<std::uint32_t>(number_of(i["lun"], where + ".lun"));
            if (i["discovery"]) spec.config.discovery = flag_of(i["discovery"], where + ".discovery");
            if (i["count"]) spec.count = static_cast<std::uint32_t>(number_of(i["count"], where + ".count"));
            if (i["command_timeout"]) spec.config.command_timeout = duration_of(i["command_timeout"], where + ".command_timeout");
            if (i["max_recoveries"])
                spec.config.max_recoveries = static_cast<std::uint32_t>(number_of(i["max_recoveries"], where + ".max_recoveries"));
            if (i["keys"])
                for (const auto& kv : i["keys"]) spec.config.keys.push_back({kv.first.as<std::string>(), kv.second.as<std::string>()});
            spec.workload = workload_of(i["workload"], where + ".workload");
            s.initiators.push_back(std::move(spec));
        }
        if (y["faults"]) {
            if (!y["faults"].IsSequence()) throw LoadError{"faults: expected a list"};
            int n = 0;
            for (const auto& f : y["faults"]) s.faults.faults.push_back(fault_of(f, "faults[" + std::to_string(n++) + "]"));
        }
        if (y["expect"]) {
            const YAML::Node& e = y["expect"];
            only(e, {"negotiated", "min_r2ts", "max_r2ts", "min_data_in", "min_ops", "min_aborted", "discovered",
                     "min_recoveries", "max_recoveries", "min_lost", "min_medium_errors", "min_device_errors",
                     "min_reverted", "max_reverted", "min_syncs", "min_timed_out", "min_relogins"},
                 "expect");
            for (auto [key, slot] : {std::pair{"min_aborted", &s.expect.min_aborted},
                                     std::pair{"min_r2ts", &s.expect.min_r2ts},
                                     std::pair{"max_r2ts", &s.expect.max_r2ts},
                                     std::pair{"min_data_in", &s.expect.min_data_in},
                                     std::pair{"min_ops", &s.expect.min_ops},
                                     std::pair{"min_recoveries", &s.expect.min_recoveries},
                                     std::pair{"max_recoveries", &s.expect.max_recoveries},
                                     std::pair{"min_lost", &s.expect.min_lost},
                                     std::pair{"min_medium_errors", &s.expect.min_medium_errors},
                                     std::pair{"min_device_errors", &s.expect.min_device_errors},
                                     std::pair{"min_reverted", &s.expect.min_reverted},
                                     std::pair{"max_reverted", &s.expect.max_reverted},
                                     std::pair{"min_syncs", &s.expect.min_syncs},
                                     std::pair{"min_timed_out", &s.expect.min_timed_out},
                                     std::pair{"min_relogins", &s.expect.min_relogins}})
                if (e[key]) *slot = number_of(e[key], std::string("expect.") + key);
            if (e["negotiated"])
                for (const auto& kv : e["negotiated"]) s.expect.negotiated[kv.first.as<std::string>()] = kv.second.as<std::string>();
            if (e["discovered"]) for (const auto& d : e["discovered"]) s.expect.discovered.push_back(d.as<std::string>());
        }
    } catch (const LoadError& e) {
        return path + ": " + e.what;
    } catch (const YAML::Exception& e) {
        return path + ": " + e.what();
    }
    return {};
}

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
    void chain(capture::PacketTap* next) { next_ = next; }
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
        if (next_) next_->segment(s);
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
        if (next_) next_->datagram(d);
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
    capture::PacketTap* next_ = nullptr;
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
    driver.set_log([&target_log, kernel_ptr](std::string_view what) {
        char at[32];
        std::snprintf(at, sizeof at, "%.3f ms: ", static_cast<double>(kernel_ptr->now().count()) / 1e6);
        target_log.push_back(at + std::string(what));
        if (target_log.size() > 10) target_log.pop_front();
    });
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

    // The network: each initiator host gets 192.0.2.(10+i); the target is 192.0.2.1:3260.
    // Each workload host has its link's fault state; the after-run probe has none.
    std::vector<std::shared_ptr<sim::SimTcpConnection>> conns;
    std::map<std::uint32_t, std::weak_ptr<sim::SimTcpConnection>> current;
    std::vector<std::shared_ptr<sim::LinkFaults>> host_faults;
    std::uint16_t next_port = 40000;
    auto connector = [&](std::uint32_t host) {
        return [&, host]() -> std::shared_ptr<ByteStream> {
            capture::Endpoint i{0xc0000200u + host, next_port++};
            capture::Endpoint t{0xc0000201u, 3260};
            const std::size_t h = host - 10;
            auto c = sim::SimTcpConnection::create(*kernel, s.link, i, t, &digest,
                                                   h < host_faults.size() ? host_faults[h] : nullptr);
            conns.push_back(c);
            current[host] = c;
            driver.accept(c->target_end(), *kernel, *kernel);
            return c->initiator_end();
        };
    };

    std::vector<std::shared_ptr<model::Initiator>> inits;
    std::uint32_t host = 10;
    for (const auto& spec : s.initiators) {
        for (std::uint32_t k = 0; k < spec.count; ++k) {
            model::InitiatorConfig cfg = spec.config;
            model::Workload wl = spec.workload;
            if (spec.count > 1) {
                cfg.name += ":" + std::to_string(k);
                cfg.isid[5] = static_cast<std::byte>(k + 1);
                // Each copy works its own slice of the region, so verification is exact.
                if (wl.region_length == 0) wl.region_length = 64ull << 20;
                wl.region_offset += k * wl.region_length;
            }
            inits.push_back(std::make_shared<model::Initiator>(*kernel, connector(host++), cfg, wl, seed));
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
        kernel->post([probe] { probe->start(); });
        const Nanos until = kernel->now() + std::chrono::seconds(5);
        while (kernel->now() < until && !probe->finished() && !kernel->idle()) kernel->run(slice);
        probe_ok = probe->finished() && !probe->failed() && probe->stats().reads == 1;
        if (!probe_ok) failed("the target did not answer a fresh login and READ after the run");
        kernel->run(std::chrono::milliseconds(10));  // let the probe's logout settle
    }

    for (std::size_t n = 0; n < inits.size(); ++n) {
        const auto& i = *inits[n];
        const auto& st = i.stats();
        const std::string who = "initiator " + std::to_string(n);
        if (!i.finished()) failed(who + " did not finish in " + std::to_string(s.duration.count() / 1e9) + " s: " + i.describe());
        for (const auto& e : st.errors) failed(who + ": " + e);
        res.ops += st.reads + st.writes + st.verifies;
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
        if (st.medium_errors > 0 && !s.faults.has(faults::Kind::medium_error))
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
        }
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
        for (const auto& t : s.expect.discovered)
            if (std::find(st0.targets_discovered.begin(), st0.targets_discovered.end(), t) == st0.targets_discovered.end())
                failed("SendTargets did not list " + t);
    }
    // Every session and connection was freed once everyone logged out.
    if (res.failures.empty()) {
        if (driver.connection_count() != 0) failed(std::to_string(driver.connection_count()) + " connections left open at the target");
        if (!driver.sessions().empty()) failed(std::to_string(driver.sessions().size()) + " sessions left at the target");
    }
    res.faults = injector.fired();
    // A failure under faults is read next to what the plan did, and when, and what the
    // target said last.
    if (!res.failures.empty()) {
        if (res.failures.size() > 8) res.failures.resize(8);
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
