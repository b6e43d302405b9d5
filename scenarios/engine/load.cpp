// Scenario files: the YAML of scenarios/README.md into a Scenario, and the units it
// writes sizes, rates and durations in.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "scenarios/engine/scenario.hpp"

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
// A reservation key (SPC-4 §6.16.3: 8 bytes): decimal or 0x hex.
std::uint64_t key_of(const YAML::Node& n, const std::string& where) {
    const std::string v = str(n, where);
    const bool hex = v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
    const std::string digits = hex ? v.substr(2) : v;
    if (digits.empty() || digits.size() > (hex ? 16u : 20u) ||
        !std::all_of(digits.begin(), digits.end(), [hex](char c) { return hex ? std::isxdigit(static_cast<unsigned char>(c)) : std::isdigit(static_cast<unsigned char>(c)); }))
        throw LoadError{where + ": expected a reservation key like 0xa1 (at most 8 bytes)"};
    try {
        return std::stoull(digits, nullptr, hex ? 16 : 10);
    } catch (const std::exception&) {
        throw LoadError{where + ": expected a reservation key like 0xa1 (at most 8 bytes)"};
    }
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
             "verify", "write_then_read", "abort_every", "sync_every", "fua_pct", "unmap_pct", "caw_pct"},
         where);
    if (w["pattern"]) {
        std::string p = str(w["pattern"], where + ".pattern");
        if (p == "random") wl.pattern = model::Workload::Pattern::random;
        else if (p == "sequential") wl.pattern = model::Workload::Pattern::sequential;
        else throw LoadError{where + ".pattern: expected random or sequential"};
    }
    if (w["read_pct"]) wl.read_pct = static_cast<std::uint32_t>(number_of(w["read_pct"], where + ".read_pct"));
    if (w["verify_pct"]) wl.verify_pct = static_cast<std::uint32_t>(number_of(w["verify_pct"], where + ".verify_pct"));
    if (w["unmap_pct"]) wl.unmap_pct = static_cast<std::uint32_t>(number_of(w["unmap_pct"], where + ".unmap_pct"));
    if (w["caw_pct"]) wl.caw_pct = static_cast<std::uint32_t>(number_of(w["caw_pct"], where + ".caw_pct"));
    if (std::uint64_t{wl.read_pct} + wl.verify_pct + wl.unmap_pct + wl.caw_pct > 100)
        throw LoadError{where + ": read_pct + verify_pct + unmap_pct + caw_pct over 100"};
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
             "offset", "length", "reads", "writes", "function", "kinds", "shift", "landed_pct", "what", "action", "key",
             "sa_key", "type"},
         where);
    if (!f["kind"]) throw LoadError{where + ": missing kind"};
    const std::string kind = str(f["kind"], where + ".kind");
    if (!faults::kind_from_string(kind, out.kind))
        throw LoadError{where + ".kind: unknown fault '" + kind +
                        "' (expected link_stall, link_reset, corrupt, latency_spike, disk_slow, medium_error, "
                        "disk_offline, power_loss, tmf, crash, withhold_data, freeze, logout, pdu_cut, bandwidth_drop, "
                        "write_error, torn_write, misdirected_write, misdirected_read, stuck_delivery, duplicate_isid, "
                        "nop_storm, bhs_corrupt, misbehave, pr or random)"};
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
    else if (out.kind == faults::Kind::nop_storm) out.count = 100;  // a storm, unless told otherwise
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
    if (f["shift"]) {
        out.shift = size_of(f["shift"], where + ".shift");
        // Whole sectors astray: a multiple of the smallest block size.
        if (out.shift == 0 || out.shift % 512 != 0) throw LoadError{where + ".shift: a positive multiple of 512 bytes"};
    }
    if (f["landed_pct"]) {
        out.landed_pct = static_cast<std::uint32_t>(number_of(f["landed_pct"], where + ".landed_pct"));
        if (out.landed_pct > 100) throw LoadError{where + ".landed_pct: 0 to 100"};
    }
    if (f["what"]) {
        const std::string w = str(f["what"], where + ".what");
        model::Misbehavior m{};
        if (!faults::misbehavior_from_string(w, m))
            throw LoadError{where + ".what: expected past_maxcmdsn, dup_cmdsn, nop_ping, excess_data_out, text_midway or "
                                    "logout_midway_data"};
        out.what = m;
    }
    if (f["function"]) {
        const std::string fn = str(f["function"], where + ".function");
        if (!faults::tmf_from_string(fn, out.function))
            throw LoadError{where + ".function: expected abort_task, abort_task_set, clear_task_set, lun_reset, "
                                    "target_warm_reset or target_cold_reset"};
    }
    using K = faults::Kind;
    const bool pr_field = f["action"] || f["key"] || f["sa_key"] || f["type"];
    if (pr_field && out.kind != K::pr) throw LoadError{where + ": action, key, sa_key and type are for kind pr"};
    if (out.kind == K::pr) {
        // SPC-4 §6.16: the PERSISTENT RESERVE OUT's service action and parameter list.
        if (!f["action"]) throw LoadError{where + ": pr needs an action"};
        const std::string a = str(f["action"], where + ".action");
        if (!model::pr_action_from_string(a, out.pr.action))
            throw LoadError{where + ".action: expected register, register_and_ignore_existing_key, reserve, release, clear, "
                                    "preempt or preempt_and_abort"};
        if (f["key"]) {
            out.pr.key = key_of(f["key"], where + ".key");
            out.pr_key_given = true;
        }
        if (f["sa_key"]) out.pr.sa_key = key_of(f["sa_key"], where + ".sa_key");
        if (f["type"]) {
            const std::string t = str(f["type"], where + ".type");
            if (!model::pr_type_from_string(t, out.pr.type))
                throw LoadError{where + ".type: expected write_exclusive, exclusive_access, write_exclusive_registrants_only, "
                                        "exclusive_access_registrants_only, write_exclusive_all_registrants or "
                                        "exclusive_access_all_registrants"};
        }
        const auto act = out.pr.action;
        const bool typed = act == model::PrAction::reserve || act == model::PrAction::release ||
                           act == model::PrAction::preempt || act == model::PrAction::preempt_and_abort;
        if (typed && !f["type"]) throw LoadError{where + ": pr " + a + " needs a type"};
        if ((act == model::PrAction::preempt || act == model::PrAction::preempt_and_abort) && !f["sa_key"])
            throw LoadError{where + ": pr " + a + " needs sa_key (the key preempted)"};
    }
    if (f["kinds"]) {
        if (out.kind != K::random) throw LoadError{where + ".kinds: only for kind random"};
        for (const auto& k : f["kinds"]) {
            const std::string name = str(k, where + ".kinds");
            K c{};
            if (!faults::kind_from_string(name, c) || c == K::random)
                throw LoadError{where + ".kinds: unknown fault '" + name + "'"};
            // A misdirected write or read is meant to be caught (min_data_errors); drawn at
            // random it would fail the runs that draw it and leave the others unexpecting.
            if (c == K::misdirected_write || c == K::misdirected_read)
                throw LoadError{where + ".kinds: " + name + " cannot be drawn at random (its scenario expects the data checks to catch it)"};
            if (c == K::pr) throw LoadError{where + ".kinds: pr cannot be drawn at random (its steps make a sequence)"};
            out.choices.push_back(c);
        }
    }
    if (out.kind == K::random) {
        if (out.choices.empty()) throw LoadError{where + ": random needs kinds (a list of fault kinds)"};
        const bool disk_kind = std::any_of(out.choices.begin(), out.choices.end(), [](K c) {
            return c == K::disk_slow || c == K::medium_error || c == K::disk_offline || c == K::power_loss ||
                   c == K::write_error || c == K::torn_write;
        });
        if (disk_kind && out.disk.empty()) throw LoadError{where + ": random with disk faults needs a disk"};
        return out;  // its faults' parameters are drawn at run time
    }
    if ((out.kind == K::link_stall || out.kind == K::latency_spike || out.kind == K::disk_slow ||
         out.kind == K::disk_offline || out.kind == K::freeze || out.kind == K::bandwidth_drop ||
         out.kind == K::stuck_delivery || out.kind == K::misdirected_write || out.kind == K::misdirected_read) &&
        out.duration.count() <= 0)
        throw LoadError{where + ": " + kind + " needs a duration"};
    if ((out.kind == K::disk_slow || out.kind == K::medium_error || out.kind == K::disk_offline ||
         out.kind == K::power_loss || out.kind == K::write_error || out.kind == K::torn_write ||
         out.kind == K::misdirected_write || out.kind == K::misdirected_read) && out.disk.empty())
        throw LoadError{where + ": " + kind + " needs a disk"};
    if ((out.kind == K::medium_error || out.kind == K::write_error) && out.length == 0)
        throw LoadError{where + ": " + kind + " needs a length"};
    if ((out.kind == K::misdirected_write || out.kind == K::misdirected_read) && out.shift == 0)
        throw LoadError{where + ": " + kind + " needs a shift (how far astray, in bytes)"};
    if (out.kind == K::misbehave && !out.what) throw LoadError{where + ": misbehave needs what"};
    if (out.what && out.kind != K::misbehave) throw LoadError{where + ".what: only for kind misbehave (or random)"};
    return out;
}

}  // namespace

namespace {
std::string load_node(const std::function<YAML::Node()>& read, const std::string& path, Scenario& s) {
    try {
        YAML::Node y = read();
        s.file = path;
        only(y, {"name", "description", "requirements", "duration", "disks", "link", "target", "initiators", "faults", "expect"}, path);
        s.name = y["name"] ? str(y["name"], "name") : path;
        if (y["description"]) s.description = str(y["description"], "description");
        // Catalogue ids (reports/catalogue) the scenario exercises; tests/reports checks them.
        if (y["requirements"]) for (const auto& r : y["requirements"]) s.requirements.push_back(r.as<std::string>());
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
            only(l, {"latency", "bandwidth", "mss", "window", "cuts"}, "link");
            if (l["latency"]) s.link.latency = duration_of(l["latency"], "link.latency");
            if (l["bandwidth"]) s.link.bandwidth_bps = bandwidth_of(l["bandwidth"], "link.bandwidth");
            if (l["mss"]) s.link.mss = static_cast<std::uint32_t>(number_of(l["mss"], "link.mss"));
            if (l["window"]) s.link.window = static_cast<std::uint32_t>(size_of(l["window"], "link.window"));
            if (s.link.mss < 64 || s.link.window < s.link.mss) throw LoadError{"link: mss must be >= 64 and window >= mss"};
            if (l["cuts"]) {
                s.link.cut_pct = static_cast<std::uint32_t>(number_of(l["cuts"], "link.cuts"));
                if (s.link.cut_pct > 100) throw LoadError{"link.cuts: a share of segments, 0 to 100"};
            }
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
            only(i, {"name", "target", "lun", "keys", "discovery", "workload", "count", "command_timeout", "max_recoveries", "shared"},
                 where);
            InitiatorSpec spec;
            if (i["name"]) spec.config.name = str(i["name"], where + ".name");
            if (i["target"]) spec.config.target = str(i["target"], where + ".target");
            if (i["lun"]) spec.config.lun = static_cast<std::uint32_t>(number_of(i["lun"], where + ".lun"));
            if (i["discovery"]) spec.config.discovery = flag_of(i["discovery"], where + ".discovery");
            if (i["count"]) spec.count = static_cast<std::uint32_t>(number_of(i["count"], where + ".count"));
            if (i["shared"]) spec.shared = flag_of(i["shared"], where + ".shared");
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
                     "min_reverted", "max_reverted", "min_syncs", "min_timed_out", "min_relogins", "min_data_errors",
                     "min_unmaps", "min_caws", "min_miscompares", "min_reservation_conflicts", "seen"},
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
                                     std::pair{"min_relogins", &s.expect.min_relogins},
                                     std::pair{"min_data_errors", &s.expect.min_data_errors},
                                     std::pair{"min_unmaps", &s.expect.min_unmaps},
                                     std::pair{"min_caws", &s.expect.min_caws},
                                     std::pair{"min_miscompares", &s.expect.min_miscompares},
                                     std::pair{"min_reservation_conflicts", &s.expect.min_reservation_conflicts}})
                if (e[key]) *slot = number_of(e[key], std::string("expect.") + key);
            if (e["negotiated"])
                for (const auto& kv : e["negotiated"]) s.expect.negotiated[kv.first.as<std::string>()] = kv.second.as<std::string>();
            if (e["discovered"]) for (const auto& d : e["discovered"]) s.expect.discovered.push_back(d.as<std::string>());
            if (e["seen"]) {
                if (!e["seen"].IsMap()) throw LoadError{"expect.seen: expected a map of names to counts"};
                for (const auto& kv : e["seen"]) {
                    const std::string name = kv.first.as<std::string>();
                    s.expect.seen[name] = number_of(kv.second, "expect.seen." + name);
                }
            }
            // Data-verification failures are then what the run is after: the initiators
            // count them instead of failing on them.
            if (s.expect.min_data_errors)
                for (auto& i : s.initiators) i.config.expect_data_errors = true;
        }
    } catch (const LoadError& e) {
        return path + ": " + e.what;
    } catch (const YAML::Exception& e) {
        return path + ": " + e.what();
    }
    return {};
}
}  // namespace

std::string load_scenario(const std::string& path, Scenario& s) {
    return load_node([&path] { return YAML::LoadFile(path); }, path, s);
}

std::string load_scenario_text(const std::string& text, const std::string& name, Scenario& s) {
    return load_node([&text] { return YAML::Load(text); }, name, s);
}

}  // namespace iscsilab::scenario
