// A Scenario back to the YAML that load_scenario reads. The swarm writes the runs it
// draws (and the shrinker the runs it reduces) this way, so `iscsilab run FILE --seed N`
// replays them: times are written in nanoseconds and sizes in bytes, so loading the text
// gives back the very same values and the same run.
#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "scenarios/engine/scenario.hpp"

namespace iscsilab::scenario {

namespace {

std::string ns(Nanos t) { return std::to_string(t.count()) + "ns"; }

// A rate in the loader's units, exact: whole bits per second where it is whole.
std::string bps(double bits) {
    char buf[64];
    if (bits == static_cast<double>(static_cast<std::uint64_t>(bits)))
        std::snprintf(buf, sizeof buf, "%llubps", static_cast<unsigned long long>(bits));
    else
        std::snprintf(buf, sizeof buf, "%.6fbps", bits);
    return buf;
}

std::string hex64(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

const char* direction_name(int d) { return d == 0 ? "to_target" : d == 1 ? "to_initiator" : "both"; }

const char* tmf_name(iscsi::TmfFunction f) {
    switch (f) {
        case iscsi::TmfFunction::AbortTask: return "abort_task";
        case iscsi::TmfFunction::AbortTaskSet: return "abort_task_set";
        case iscsi::TmfFunction::ClearTaskSet: return "clear_task_set";
        case iscsi::TmfFunction::LogicalUnitReset: return "lun_reset";
        case iscsi::TmfFunction::TargetWarmReset: return "target_warm_reset";
        case iscsi::TmfFunction::TargetColdReset: return "target_cold_reset";
        default: return "lun_reset";
    }
}

void write_disk(YAML::Emitter& y, const model::DiskConfig& c) {
    y << YAML::BeginMap;
    y << YAML::Key << "size" << YAML::Value << std::to_string(c.size_bytes);
    y << YAML::Key << "read_latency" << YAML::Value << ns(c.read_latency);
    y << YAML::Key << "write_latency" << YAML::Value << ns(c.write_latency);
    y << YAML::Key << "flush_latency" << YAML::Value << ns(c.flush_latency);
    y << YAML::Key << "jitter" << YAML::Value
      << (c.jitter == model::DiskConfig::Jitter::none      ? "none"
          : c.jitter == model::DiskConfig::Jitter::uniform ? "uniform"
                                                           : "exponential");
    // DiskConfig holds bytes per second; the loader reads a rate in bits.
    y << YAML::Key << "bandwidth" << YAML::Value << bps(c.bandwidth_bps * 8);
    y << YAML::Key << "queue_depth" << YAML::Value << c.queue_depth;
    y << YAML::Key << "write_cache" << YAML::Value << (c.write_cache ? "true" : "false");
    y << YAML::EndMap;
}

void write_workload(YAML::Emitter& y, const model::Workload& w) {
    y << YAML::BeginMap;
    y << YAML::Key << "pattern" << YAML::Value << (w.pattern == model::Workload::Pattern::random ? "random" : "sequential");
    y << YAML::Key << "read_pct" << YAML::Value << w.read_pct;
    y << YAML::Key << "verify_pct" << YAML::Value << w.verify_pct;
    y << YAML::Key << "block_size" << YAML::Value << w.block_size;
    y << YAML::Key << "queue_depth" << YAML::Value << w.queue_depth;
    y << YAML::Key << "ops" << YAML::Value << w.ops;
    y << YAML::Key << "region_offset" << YAML::Value << w.region_offset;
    y << YAML::Key << "region" << YAML::Value << w.region_length;
    y << YAML::Key << "verify" << YAML::Value << (w.verify_data ? "true" : "false");
    y << YAML::Key << "write_then_read" << YAML::Value << (w.write_then_read ? "true" : "false");
    y << YAML::Key << "abort_every" << YAML::Value << w.abort_every;
    y << YAML::Key << "sync_every" << YAML::Value << w.sync_every;
    y << YAML::Key << "fua_pct" << YAML::Value << w.fua_pct;
    // Written only when on, so the scenarios written before them read as they did.
    if (w.unmap_pct) y << YAML::Key << "unmap_pct" << YAML::Value << w.unmap_pct;
    if (w.caw_pct) y << YAML::Key << "caw_pct" << YAML::Value << w.caw_pct;
    y << YAML::EndMap;
}

// Every field a fault has, where it differs from a default Fault (the loader's defaults).
void write_fault(YAML::Emitter& y, const faults::Fault& f) {
    const faults::Fault d;
    y << YAML::BeginMap;
    y << YAML::Key << "kind" << YAML::Value << faults::to_string(f.kind);
    if (f.at_min == f.at_max) {
        y << YAML::Key << "at" << YAML::Value << ns(f.at_min);
    } else {
        y << YAML::Key << "at" << YAML::Value << YAML::Flow << YAML::BeginSeq << ns(f.at_min) << ns(f.at_max) << YAML::EndSeq;
    }
    if (f.repeat != d.repeat) y << YAML::Key << "repeat" << YAML::Value << f.repeat;
    if (f.every != d.every) y << YAML::Key << "every" << YAML::Value << ns(f.every);
    if (f.duration != d.duration) y << YAML::Key << "duration" << YAML::Value << ns(f.duration);
    if (f.initiator >= 0) y << YAML::Key << "initiator" << YAML::Value << f.initiator;
    if (f.direction != d.direction) y << YAML::Key << "direction" << YAML::Value << direction_name(f.direction);
    // nop_storm's count defaults to 100 in the loader, not to 1: always written.
    if (f.count != d.count || f.kind == faults::Kind::nop_storm) y << YAML::Key << "count" << YAML::Value << f.count;
    if (f.extra != d.extra) y << YAML::Key << "extra" << YAML::Value << ns(f.extra);
    if (f.disk != d.disk) y << YAML::Key << "disk" << YAML::Value << f.disk;
    if (f.factor != d.factor) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", f.factor);
        y << YAML::Key << "factor" << YAML::Value << buf;
    }
    if (f.offset != d.offset) y << YAML::Key << "offset" << YAML::Value << std::to_string(f.offset);
    if (f.length != d.length) y << YAML::Key << "length" << YAML::Value << std::to_string(f.length);
    if (f.reads != d.reads) y << YAML::Key << "reads" << YAML::Value << (f.reads ? "true" : "false");
    if (f.writes != d.writes) y << YAML::Key << "writes" << YAML::Value << (f.writes ? "true" : "false");
    if (f.kind == faults::Kind::tmf) y << YAML::Key << "function" << YAML::Value << tmf_name(f.function);
    if (f.shift != d.shift) y << YAML::Key << "shift" << YAML::Value << std::to_string(f.shift);
    if (f.landed_pct != d.landed_pct) y << YAML::Key << "landed_pct" << YAML::Value << f.landed_pct;
    if (f.what) y << YAML::Key << "what" << YAML::Value << faults::to_string(*f.what);
    if (f.kind == faults::Kind::pr) {
        y << YAML::Key << "action" << YAML::Value << model::to_string(f.pr.action);
        if (f.pr_key_given) y << YAML::Key << "key" << YAML::Value << hex64(f.pr.key);
        if (f.pr.sa_key != d.pr.sa_key) y << YAML::Key << "sa_key" << YAML::Value << hex64(f.pr.sa_key);
        y << YAML::Key << "type" << YAML::Value << model::to_string(f.pr.type);
    }
    if (!f.choices.empty()) {
        y << YAML::Key << "kinds" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (auto k : f.choices) y << faults::to_string(k);
        y << YAML::EndSeq;
    }
    y << YAML::EndMap;
}

}  // namespace

std::string write_scenario(const Scenario& s) {
    YAML::Emitter y;
    y << YAML::BeginMap;
    y << YAML::Key << "name" << YAML::Value << s.name;
    if (!s.description.empty()) {
        // A literal block gives its text back with a final newline; a one-line text goes
        // as a plain (or quoted) scalar so it comes back as it was.
        y << YAML::Key << "description" << YAML::Value;
        if (s.description.find('\n') != std::string::npos) y << YAML::Literal;
        y << s.description;
    }
    if (!s.requirements.empty()) {
        y << YAML::Key << "requirements" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& r : s.requirements) y << r;
        y << YAML::EndSeq;
    }
    y << YAML::Key << "duration" << YAML::Value << ns(s.duration);
    if (!s.disks.empty()) {
        y << YAML::Key << "disks" << YAML::Value << YAML::BeginMap;
        for (const auto& [name, c] : s.disks) {
            y << YAML::Key << name << YAML::Value;
            write_disk(y, c);
        }
        y << YAML::EndMap;
    }
    y << YAML::Key << "link" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "latency" << YAML::Value << ns(s.link.latency);
    y << YAML::Key << "bandwidth" << YAML::Value << bps(s.link.bandwidth_bps);
    y << YAML::Key << "mss" << YAML::Value << s.link.mss;
    y << YAML::Key << "window" << YAML::Value << s.link.window;
    if (s.link.cut_pct) y << YAML::Key << "cuts" << YAML::Value << s.link.cut_pct;
    y << YAML::EndMap;

    y << YAML::Key << "target" << YAML::Value << YAML::BeginMap;
    y << YAML::Key << "config" << YAML::Value << YAML::Literal << s.target_config;
    if (!s.mgmt.empty()) {
        y << YAML::Key << "mgmt" << YAML::Value << YAML::BeginSeq;
        for (const auto& [path, value] : s.mgmt) y << YAML::Flow << YAML::BeginSeq << path << value << YAML::EndSeq;
        y << YAML::EndSeq;
    }
    y << YAML::EndMap;

    y << YAML::Key << "initiators" << YAML::Value << YAML::BeginSeq;
    for (const auto& spec : s.initiators) {
        const auto& c = spec.config;
        y << YAML::BeginMap;
        y << YAML::Key << "name" << YAML::Value << c.name;
        y << YAML::Key << "target" << YAML::Value << c.target;
        y << YAML::Key << "lun" << YAML::Value << c.lun;
        y << YAML::Key << "count" << YAML::Value << spec.count;
        if (spec.shared) y << YAML::Key << "shared" << YAML::Value << "true";
        y << YAML::Key << "discovery" << YAML::Value << (c.discovery ? "true" : "false");
        if (c.command_timeout.count() > 0) y << YAML::Key << "command_timeout" << YAML::Value << ns(c.command_timeout);
        y << YAML::Key << "max_recoveries" << YAML::Value << c.max_recoveries;
        if (!c.keys.empty()) {
            y << YAML::Key << "keys" << YAML::Value << YAML::BeginMap;
            for (const auto& kv : c.keys) y << YAML::Key << kv.key << YAML::Value << YAML::DoubleQuoted << kv.value;
            y << YAML::EndMap;
        }
        y << YAML::Key << "workload" << YAML::Value;
        write_workload(y, spec.workload);
        y << YAML::EndMap;
    }
    y << YAML::EndSeq;

    if (!s.faults.faults.empty()) {
        y << YAML::Key << "faults" << YAML::Value << YAML::BeginSeq;
        for (const auto& f : s.faults.faults) write_fault(y, f);
        y << YAML::EndSeq;
    }

    const Expect& e = s.expect;
    bool any = !e.negotiated.empty() || !e.discovered.empty();
    const std::pair<const char*, const std::optional<std::uint64_t>*> numbers[] = {
        {"min_aborted", &e.min_aborted},       {"min_r2ts", &e.min_r2ts},
        {"max_r2ts", &e.max_r2ts},             {"min_data_in", &e.min_data_in},
        {"min_ops", &e.min_ops},               {"min_recoveries", &e.min_recoveries},
        {"max_recoveries", &e.max_recoveries}, {"min_lost", &e.min_lost},
        {"min_medium_errors", &e.min_medium_errors}, {"min_device_errors", &e.min_device_errors},
        {"min_reverted", &e.min_reverted},     {"max_reverted", &e.max_reverted},
        {"min_syncs", &e.min_syncs},           {"min_timed_out", &e.min_timed_out},
        {"min_relogins", &e.min_relogins},     {"min_data_errors", &e.min_data_errors},
        {"min_unmaps", &e.min_unmaps},         {"min_caws", &e.min_caws},
        {"min_miscompares", &e.min_miscompares}, {"min_reservation_conflicts", &e.min_reservation_conflicts},
    };
    for (const auto& [key, slot] : numbers) any = any || slot->has_value();
    any = any || !e.seen.empty();
    if (any) {
        y << YAML::Key << "expect" << YAML::Value << YAML::BeginMap;
        if (!e.negotiated.empty()) {
            y << YAML::Key << "negotiated" << YAML::Value << YAML::BeginMap;
            for (const auto& [k, v] : e.negotiated) y << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
            y << YAML::EndMap;
        }
        for (const auto& [key, slot] : numbers)
            if (slot->has_value()) y << YAML::Key << key << YAML::Value << **slot;
        if (!e.seen.empty()) {
            y << YAML::Key << "seen" << YAML::Value << YAML::BeginMap;
            for (const auto& [k, v] : e.seen) y << YAML::Key << k << YAML::Value << v;
            y << YAML::EndMap;
        }
        if (!e.discovered.empty()) {
            y << YAML::Key << "discovered" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (const auto& d : e.discovered) y << d;
            y << YAML::EndSeq;
        }
        y << YAML::EndMap;
    }
    y << YAML::EndMap;
    return std::string(y.c_str()) + "\n";
}

}  // namespace iscsilab::scenario
