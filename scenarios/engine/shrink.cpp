#include "scenarios/engine/shrink.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace iscsilab::scenario {

namespace {

// Numbers (and 0x... hex) become '#', so "StatSN 7, expected 6" and "StatSN 9, expected
// 8" are the same failure.
std::string without_numbers(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        if (s.compare(i, 2, "0x") == 0 && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            i += 2;
            while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i]))) ++i;
            out += '#';
        } else if (std::isdigit(static_cast<unsigned char>(s[i]))) {
            while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
            out += '#';
        } else {
            out += s[i++];
        }
    }
    return out;
}

std::string line_signature(const std::string& line) {
    // "wire rule 3720-10.7.3-x broken by the target on connection ..."
    if (line.rfind("wire rule ", 0) == 0) {
        const auto end = line.find(' ', 10);
        const std::string id = line.substr(10, end - 10);
        const bool target = line.find("broken by the target") != std::string::npos;
        return "wire:" + id + (target ? ":target" : ":initiator");
    }
    if (line.find(" did not finish in ") != std::string::npos) return "liveness";
    std::string body = line;
    // "<file> (target.config):2: ...": which file held the configuration does not matter.
    if (const auto at = body.find(" (target.config)"); at != std::string::npos) body = "<file>" + body.substr(at);
    // "initiator 3: ..." and "initiator 3 ..." name which one; the kind of failure does not.
    if (body.rfind("initiator ", 0) == 0) {
        std::size_t i = 10;
        while (i < body.size() && std::isdigit(static_cast<unsigned char>(body[i]))) ++i;
        if (i < body.size() && body[i] == ':') ++i;
        body = body.substr(std::min(body.size(), i + 1));
    }
    // "command 0x1a (op 1, LBA 42) ..." keeps its meaning without its numbers.
    std::string sig = without_numbers(body);
    if (sig.size() > 160) sig.resize(160);
    return sig;
}

bool is_context(const std::string& line) {
    return line.rfind("fault at ", 0) == 0 || line.rfind("target at ", 0) == 0 ||
           line.find("more wire-rule violations") != std::string::npos;
}

// The knob lines of a generated or hand-written target configuration that have a default.
const char* const kConfigKnobs[] = {"QueuedCommands", "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength",
                                    "MaxBurstLength", "FirstBurstLength", "MaxOutstandingR2T", "InitialR2T",
                                    "ImmediateData", "HeaderDigest", "DataDigest", "RspTimeout", "NopInInterval",
                                    "blocksize", "nv_cache", "write_through"};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> v;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
}
bool is_knob_line(const std::string& l) {
    std::size_t i = 0;
    while (i < l.size() && std::isspace(static_cast<unsigned char>(l[i]))) ++i;
    for (const char* k : kConfigKnobs) {
        const std::size_t n = std::char_traits<char>::length(k);
        if (l.compare(i, n, k) == 0 && i + n < l.size() && l[i + n] == ' ') return true;
    }
    return false;
}

std::size_t knob_count(const Scenario& s) {
    std::size_t n = s.mgmt.size();
    const sim::LinkConfig dl;
    n += (s.link.latency != dl.latency) + (s.link.bandwidth_bps != dl.bandwidth_bps) + (s.link.mss != dl.mss) +
         (s.link.window != dl.window);
    const model::DiskConfig dd;
    for (const auto& [name, c] : s.disks)
        n += (c.read_latency != dd.read_latency) + (c.write_latency != dd.write_latency) +
             (c.flush_latency != dd.flush_latency) + (c.jitter != dd.jitter) + (c.bandwidth_bps != dd.bandwidth_bps) +
             (c.queue_depth != dd.queue_depth) + (c.write_cache != dd.write_cache);
    for (const auto& l : lines_of(s.target_config)) n += is_knob_line(l);
    for (const auto& i : s.initiators) {
        n += i.config.keys.size();
        const model::Workload dw;
        const auto& w = i.workload;
        n += (w.abort_every != dw.abort_every) + (w.sync_every != dw.sync_every) + (w.fua_pct != dw.fua_pct) +
             (w.verify_pct != dw.verify_pct) + (w.write_then_read != dw.write_then_read) + (w.unmap_pct != dw.unmap_pct) +
             (w.caw_pct != dw.caw_pct);
    }
    return n;
}

class Shrinker {
public:
    Shrinker(const Scenario& s, std::uint64_t seed, std::string signature, unsigned max_runs,
             const std::function<void(const std::string&)>& progress)
        : best_(s), seed_(seed), signature_(std::move(signature)), max_runs_(max_runs), progress_(progress) {}

    ShrinkResult run() {
        ShrinkResult r;
        r.signature = signature_;
        r.before = size_of(best_);
        // The starting point must fail as it did, or there is nothing to keep.
        if (!still_fails(best_)) {
            r.minimal = best_;
            r.runs = runs_;
            r.after = r.before;
            return r;
        }
        for (bool changed = true; changed && runs_ < max_runs_;) {
            changed = false;
            changed |= drop_faults();
            changed |= drop_initiators();
            changed |= cut_workload();
            changed |= shorten_faults();
            changed |= default_knobs();
        }
        r.minimal = best_;
        r.last = last_;
        r.steps = steps_;
        r.runs = runs_;
        r.after = size_of(best_);
        return r;
    }

private:
    bool still_fails(const Scenario& c) {
        if (runs_ >= max_runs_) return false;
        ++runs_;
        RunResult res = run_scenario(c, seed_, "");
        if (res.passed || !shows_signature(res, signature_)) return false;
        last_ = std::move(res);
        return true;
    }
    // Keeps c if it still fails the same way.
    bool attempt(const Scenario& c, const std::string& what) {
        if (!still_fails(c)) return false;
        best_ = c;
        ++steps_;
        if (progress_) progress_("  shrink step " + std::to_string(steps_) + " (run " + std::to_string(runs_) + "): " + what + " -> " +
                                 size_of(best_).text());
        return true;
    }

    // Delta debugging over the fault list: halves, then quarters, ... then one by one.
    bool drop_faults() {
        bool any = false;
        for (std::size_t chunk = std::max<std::size_t>(1, best_.faults.faults.size() / 2); chunk >= 1; chunk /= 2) {
            for (std::size_t at = 0; at < best_.faults.faults.size();) {
                Scenario c = best_;
                auto& f = c.faults.faults;
                const std::size_t n = std::min(chunk, f.size() - at);
                f.erase(f.begin() + static_cast<std::ptrdiff_t>(at), f.begin() + static_cast<std::ptrdiff_t>(at + n));
                if (attempt(c, "dropped " + std::to_string(n) + " fault(s)")) any = true;
                else at += n;
            }
            if (chunk == 1) break;
        }
        return any;
    }

    bool drop_initiators() {
        bool any = false;
        for (std::size_t k = best_.initiators.size(); k-- > 0 && best_.initiators.size() > 1;) {
            Scenario c = best_;
            c.initiators.erase(c.initiators.begin() + static_cast<std::ptrdiff_t>(k));
            any |= attempt(c, "dropped initiator spec " + std::to_string(k));
        }
        for (std::size_t k = 0; k < best_.initiators.size(); ++k)
            while (best_.initiators[k].count > 1) {
                Scenario c = best_;
                c.initiators[k].count = best_.initiators[k].count / 2;
                if (!attempt(c, "initiator copies to " + std::to_string(c.initiators[k].count))) break;
                any = true;
            }
        return any;
    }

    bool cut_workload() {
        bool any = false;
        for (std::size_t k = 0; k < best_.initiators.size(); ++k) {
            while (best_.initiators[k].workload.ops > 1) {
                Scenario c = best_;
                c.initiators[k].workload.ops /= 2;
                if (!attempt(c, "operations to " + std::to_string(c.initiators[k].workload.ops))) break;
                any = true;
            }
            while (best_.initiators[k].workload.queue_depth > 1) {
                Scenario c = best_;
                c.initiators[k].workload.queue_depth /= 2;
                if (!attempt(c, "queue depth to " + std::to_string(c.initiators[k].workload.queue_depth))) break;
                any = true;
            }
            const model::Workload d;
            auto reset = [&](auto member, const char* what) {
                if (best_.initiators[k].workload.*member == d.*member) return;
                Scenario c = best_;
                c.initiators[k].workload.*member = d.*member;
                any |= attempt(c, what);
            };
            reset(&model::Workload::abort_every, "no ABORT TASK chasers");
            reset(&model::Workload::sync_every, "no SYNCHRONIZE CACHE");
            reset(&model::Workload::fua_pct, "no FUA");
            reset(&model::Workload::verify_pct, "no VERIFY");
            reset(&model::Workload::write_then_read, "no write-then-read");
            reset(&model::Workload::unmap_pct, "no UNMAP");
            reset(&model::Workload::caw_pct, "no COMPARE AND WRITE");
        }
        return any;
    }

    bool shorten_faults() {
        bool any = false;
        for (std::size_t k = 0; k < best_.faults.faults.size(); ++k) {
            auto f = [&]() -> faults::Fault& { return best_.faults.faults[k]; };
            if (f().repeat > 1) {
                Scenario c = best_;
                c.faults.faults[k].repeat = 1;
                any |= attempt(c, "fault " + std::to_string(k) + " once");
            }
            if (f().count > 1) {
                Scenario c = best_;
                c.faults.faults[k].count = 1;
                any |= attempt(c, "fault " + std::to_string(k) + " on one segment");
            }
            while (f().duration > std::chrono::milliseconds(1)) {
                Scenario c = best_;
                c.faults.faults[k].duration = f().duration / 2;
                if (!attempt(c, "fault " + std::to_string(k) + " half as long")) break;
                any = true;
            }
            if (f().initiator < 0) {
                // A fault on every host: one host may do.
                Scenario c = best_;
                c.faults.faults[k].initiator = 0;
                any |= attempt(c, "fault " + std::to_string(k) + " on initiator 0 only");
            }
        }
        return any;
    }

    bool default_knobs() {
        bool any = false;
        for (std::size_t k = best_.mgmt.size(); k-- > 0;) {
            Scenario c = best_;
            c.mgmt.erase(c.mgmt.begin() + static_cast<std::ptrdiff_t>(k));
            any |= attempt(c, "default " + best_.mgmt[k].first);
        }
        {
            auto lines = lines_of(best_.target_config);
            for (std::size_t k = lines.size(); k-- > 0;) {
                if (!is_knob_line(lines[k])) continue;
                std::vector<std::string> fewer = lines;
                fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(k));
                Scenario c = best_;
                c.target_config.clear();
                for (const auto& l : fewer) c.target_config += l + "\n";
                std::string name = lines[k];
                name.erase(0, name.find_first_not_of(' '));
                if (attempt(c, "default " + name.substr(0, name.find(' ')))) {
                    any = true;
                    lines = fewer;
                }
            }
        }
        for (std::size_t i = 0; i < best_.initiators.size(); ++i) {
            for (std::size_t k = best_.initiators[i].config.keys.size(); k-- > 0;) {
                Scenario c = best_;
                auto& keys = c.initiators[i].config.keys;
                const std::string key = keys[k].key;
                keys.erase(keys.begin() + static_cast<std::ptrdiff_t>(k));
                any |= attempt(c, "initiator " + std::to_string(i) + " leaves " + key + " at its default");
            }
            // The command timeout stays: without it a host whose tasks another initiator's
            // reset ended silently (SAM-5, TAS=0) waits forever, a failure of its own.
        }
        const sim::LinkConfig dl;
        auto link = [&](auto member, const char* what) {
            if (best_.link.*member == dl.*member) return;
            Scenario c = best_;
            c.link.*member = dl.*member;
            if (c.link.window < c.link.mss) return;
            any |= attempt(c, what);
        };
        link(&sim::LinkConfig::latency, "default link latency");
        link(&sim::LinkConfig::bandwidth_bps, "default link bandwidth");
        link(&sim::LinkConfig::mss, "default MSS");
        link(&sim::LinkConfig::window, "default window");
        const model::DiskConfig dd;
        for (const auto& entry : best_.disks) {
            const std::string name = entry.first;
            auto disk = [&](auto member, const char* what) {
                if (best_.disks[name].*member == dd.*member) return;
                Scenario c = best_;
                c.disks[name].*member = dd.*member;
                any |= attempt(c, std::string(what) + " for " + name);
            };
            disk(&model::DiskConfig::read_latency, "default read latency");
            disk(&model::DiskConfig::write_latency, "default write latency");
            disk(&model::DiskConfig::flush_latency, "default flush latency");
            disk(&model::DiskConfig::jitter, "no jitter");
            disk(&model::DiskConfig::bandwidth_bps, "default disk bandwidth");
            disk(&model::DiskConfig::queue_depth, "default disk queue depth");
            disk(&model::DiskConfig::write_cache, "default write cache");
        }
        return any;
    }

    Scenario best_;
    RunResult last_;
    std::uint64_t seed_;
    std::string signature_;
    unsigned max_runs_;
    const std::function<void(const std::string&)>& progress_;
    unsigned runs_ = 0, steps_ = 0;
};

}  // namespace

std::string failure_signature(const RunResult& r) {
    for (const auto& line : r.failures)
        if (!is_context(line)) return line_signature(line);
    return r.passed ? std::string() : "failed";
}

bool shows_signature(const RunResult& r, const std::string& signature) {
    for (const auto& line : r.failures)
        if (!is_context(line) && line_signature(line) == signature) return true;
    return false;
}

bool liveness_only(const RunResult& r) {
    bool any = false;
    for (const auto& line : r.failures) {
        if (is_context(line)) continue;
        if (line_signature(line) != "liveness") return false;
        any = true;
    }
    return any;
}

std::string Size::text() const {
    return std::to_string(faults) + " fault" + (faults == 1 ? "" : "s") + ", " + std::to_string(initiators) + " initiator" +
           (initiators == 1 ? "" : "s") + ", " + std::to_string(ops) + " operations, " + std::to_string(knobs) +
           " knobs off default, " + std::to_string(yaml_lines) + " lines";
}

Size size_of(const Scenario& s) {
    Size z;
    z.faults = s.faults.faults.size();
    for (const auto& i : s.initiators) {
        z.initiators += i.count;
        z.ops += i.workload.ops * i.count;
    }
    z.knobs = knob_count(s);
    const std::string y = write_scenario(s);
    z.yaml_lines = static_cast<std::size_t>(std::count(y.begin(), y.end(), '\n'));
    return z;
}

ShrinkResult shrink(const Scenario& s, std::uint64_t seed, const std::string& signature, unsigned max_runs,
                    const std::function<void(const std::string&)>& progress) {
    return Shrinker(s, seed, signature, max_runs, progress).run();
}

}  // namespace iscsilab::scenario
