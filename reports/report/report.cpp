#include "reports/report/report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "reports/report/peer_parse.hpp"
#include "reports/report/report_detail.hpp"

namespace iscsilab::report {

namespace fs = std::filesystem;

std::string escape_xml(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char ch : s) {
        switch (ch) {
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '&': o += "&amp;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += ch;
        }
    }
    return o;
}

const char* to_string(Status s) {
    switch (s) {
        case Status::violated: return "violated";
        case Status::observed: return "observed";
        case Status::never_observed: return "never observed";
    }
    return "?";
}

namespace detail {

std::string esc(const std::string& s) { return escape_xml(s); }

const char* css_class(Status s) {
    switch (s) {
        case Status::violated: return "violated";
        case Status::observed: return "observed";
        case Status::never_observed: return "never";
    }
    return "never";
}

std::string chapter(const std::string& section) { return section.substr(0, section.find('.')); }

void add(Counts& c, Status s) {
    ++c.total;
    if (s == Status::observed) ++c.observed;
    else if (s == Status::violated) ++c.violated;
    else ++c.never;
}

std::string pct(std::size_t a, std::size_t b) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0.0);
    return buf;
}

std::string md_cell(std::string s) {
    std::replace(s.begin(), s.end(), '|', '/');
    std::replace(s.begin(), s.end(), '\n', ' ');
    return s;
}

// Sections in numeric order ("3" < "10").
std::vector<std::string> ordered(const std::map<std::string, Counts>& m) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : m) keys.push_back(k);
    std::sort(keys.begin(), keys.end(), [](const std::string& a, const std::string& b) {
        return std::stoi(a) != std::stoi(b) ? std::stoi(a) < std::stoi(b) : a < b;
    });
    return keys;
}

const char* const LEVELS[8] = {"MUST", "MUST NOT", "SHALL", "SHALL NOT", "REQUIRED", "SHOULD", "SHOULD NOT", "MAY"};

}  // namespace detail

using namespace detail;

Report build(const catalogue::Catalogue& cat, const Results& r) {
    Report rep;
    // Wire tallies by id, from every scenario run (and which runs) and the peer capture.
    std::map<std::string, std::vector<const ScenarioRun*>> wire_runs;
    for (const auto& run : r.scenario_runs)
        for (const auto& [id, t] : run.wire)
            if (t.exercised || t.violated) wire_runs[id].push_back(&run);
    std::map<std::string, const PeerTest*> peer_by_name;
    for (const auto& t : r.peer_tests) peer_by_name[t.name] = &t;
    std::map<std::string, const UnitTest*> unit_by_name;
    for (const auto& u : r.unit_tests) unit_by_name[u.name] = &u;

    for (const auto& req : cat.requirements) {
        RequirementResult rr;
        rr.requirement = &req;
        for (const auto& o : req.observed_by) {
            if (o.kind == "wire") {
                auto it = wire_runs.find(req.id);
                if (it != wire_runs.end()) {
                    for (const ScenarioRun* run : it->second) {
                        const auto& t = run->wire.at(req.id);
                        rr.observations.push_back({"wire", run->scenario + " seed " + std::to_string(run->seed), t.exercised,
                                                   t.violated > 0, run->replay + "  (digest " + run->digest + ")", run->pcap});
                    }
                }
                // The swarm's runs, shard by shard: counted, not listed one by one.
                for (const auto& w : r.swarm) {
                    auto t = w.wire.find(req.id);
                    if (t == w.wire.end() || !(t->second.exercised || t->second.violated)) continue;
                    std::string how = "iscsilab swarm --runs " + std::to_string(w.runs) + " --seed " + std::to_string(w.first_seed);
                    if (w.shard != "0/1" && !w.shard.empty()) how += " --shard " + w.shard;
                    if (t->second.violated)
                        for (const auto& f : w.failures)
                            if (f.signature.rfind("wire:" + req.id + ":", 0) == 0) how = f.replay;
                    rr.observations.push_back({"wire", "swarm (" + std::to_string(w.runs) + " runs, " + w.base + ")",
                                               t->second.exercised, t->second.violated > 0, how, ""});
                }
                auto p = r.peer_wire.find(req.id);
                if (p != r.peer_wire.end() && (p->second.exercised || p->second.violated))
                    rr.observations.push_back({"wire", "peer suite capture", p->second.exercised, p->second.violated > 0,
                                               "iscsilab check on the capture of iscsi-test-cu", r.peer_capture});
            } else if (o.kind == "scenario") {
                for (const auto& run : r.scenario_runs)
                    if (std::find(run.requirements.begin(), run.requirements.end(), req.id) != run.requirements.end())
                        rr.observations.push_back({"scenario", run.scenario + " seed " + std::to_string(run.seed), 1, !run.passed,
                                                   run.replay + (run.passed ? "" : "  FAILED: " + (run.failures.empty() ? std::string() : run.failures[0])),
                                                   run.pcap});
            } else if (o.kind == "peer") {
                auto it = peer_by_name.find(o.value);
                if (it != peer_by_name.end() && it->second->outcome != "skipped")
                    rr.observations.push_back({"peer", "iscsi-test-cu " + o.value, 1, it->second->outcome == "failed",
                                               it->second->outcome, ""});
            } else if (o.kind == "unit") {
                auto it = unit_by_name.find(o.value);
                if (it != unit_by_name.end() && it->second->outcome != "skipped")
                    rr.observations.push_back({"unit", o.value, 1, it->second->outcome == "failed", it->second->outcome, ""});
            } else if (o.kind == "planned" || o.kind == "none") {
                rr.planned = o.kind + ": " + o.value;
            }
        }
        bool violated = false, observed = false;
        for (const auto& ob : rr.observations) {
            violated = violated || ob.violated;
            observed = observed || ob.exercised > 0;
        }
        rr.status = violated ? Status::violated : observed ? Status::observed : Status::never_observed;
        auto& s = rep.summary;
        add(s.all, rr.status);
        if (req.must_level()) add(s.must, rr.status);
        add(s.by_section[chapter(req.section)], rr.status);
        add(s.by_level[req.level], rr.status);
        rep.requirements.push_back(std::move(rr));
    }
    auto& s = rep.summary;
    s.scenario_runs = r.scenario_runs.size();
    for (const auto& run : r.scenario_runs) (run.passed ? s.scenario_passed : s.scenario_failed)++;
    for (const auto& w : r.swarm) {
        s.swarm_runs += w.runs;
        s.swarm_passed += w.passed;
        s.swarm_failed += w.failed;
    }
    const auto pc = count(r.peer_tests);
    s.peer_total = pc.total();
    s.peer_passed = pc.passed;
    s.peer_skipped = pc.skipped;
    s.peer_failed = pc.failed;
    s.unit_total = r.unit_tests.size();
    for (const auto& u : r.unit_tests) {
        if (u.outcome == "passed") ++s.unit_passed;
        else if (u.outcome == "failed") ++s.unit_failed;
    }
    return rep;
}

std::string summary_line(const Report& rep) {
    const auto& s = rep.summary;
    std::ostringstream o;
    o << "report: " << s.all.total << " requirements: " << s.all.observed << " observed and never violated, " << s.all.violated
      << " violated, " << s.all.never << " never observed; MUST-level " << s.must.observed << "/" << s.must.total << " ("
      << pct(s.must.observed, s.must.total) << "); scenarios " << s.scenario_passed << " passed, " << s.scenario_failed
      << " failed; swarm " << s.swarm_passed << " passed, " << s.swarm_failed << " failed; peer " << s.peer_passed << " passed, " << s.peer_skipped << " skipped, " << s.peer_failed << " failed";
    return o.str();
}

namespace {

nlohmann::json counts_json(const Counts& c) {
    return {{"total", c.total}, {"observed", c.observed}, {"violated", c.violated}, {"never_observed", c.never}};
}

std::string results_json(const Report& rep, const Results& r) {
    auto j = nlohmann::json::parse(to_json(r));
    const auto& s = rep.summary;
    nlohmann::json rj;
    rj["summary"] = {{"requirements", counts_json(s.all)},
                     {"must_level", counts_json(s.must)},
                     {"must_level_observed_share", s.must_share()},
                     {"scenarios", {{"runs", s.scenario_runs}, {"passed", s.scenario_passed}, {"failed", s.scenario_failed}}},
                     {"swarm", {{"runs", s.swarm_runs}, {"passed", s.swarm_passed}, {"failed", s.swarm_failed}}},
                     {"peer", {{"total", s.peer_total}, {"passed", s.peer_passed}, {"skipped", s.peer_skipped}, {"failed", s.peer_failed}}},
                     {"unit", {{"total", s.unit_total}, {"passed", s.unit_passed}, {"failed", s.unit_failed}}}};
    for (const auto& [k, c] : s.by_section) rj["summary"]["by_section"][k] = counts_json(c);
    for (const auto& [k, c] : s.by_level) rj["summary"]["by_level"][k] = counts_json(c);
    rj["requirements"] = nlohmann::json::array();
    for (const auto& rr : rep.requirements) {
        nlohmann::json o = {{"id", rr.requirement->id}, {"section", rr.requirement->section}, {"level", rr.requirement->level},
                            {"status", to_string(rr.status)}, {"observations", nlohmann::json::array()}};
        for (const auto& ob : rr.observations)
            o["observations"].push_back({{"kind", ob.kind}, {"source", ob.source}, {"exercised", ob.exercised},
                                         {"violated", ob.violated}, {"detail", ob.detail}, {"link", ob.link}});
        rj["requirements"].push_back(o);
    }
    j["report"] = rj;
    return j.dump(2);
}

std::string junit_xml(const Report& rep, const Results& r) {
    std::ostringstream x;
    x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
    const auto& s = rep.summary;
    x << "  <testsuite name=\"RFC 3720 requirements\" tests=\"" << s.all.total << "\" failures=\"" << s.all.violated
      << "\" skipped=\"" << s.all.never << "\">\n";
    for (const auto& rr : rep.requirements) {
        x << "    <testcase classname=\"rfc3720." << esc(chapter(rr.requirement->section)) << "\" name=\"" << esc(rr.requirement->id)
          << "\">";
        if (rr.status == Status::violated) {
            std::string why;
            for (const auto& ob : rr.observations)
                if (ob.violated) why += ob.kind + " " + ob.source + ": " + ob.detail + "\n";
            x << "<failure message=\"" << esc(rr.requirement->level + " violated: " + rr.requirement->text) << "\">" << esc(why)
              << "</failure>";
        } else if (rr.status == Status::never_observed) {
            x << "<skipped message=\"never observed" << (rr.planned.empty() ? "" : " (" + esc(rr.planned) + ")") << "\"/>";
        }
        x << "</testcase>\n";
    }
    x << "  </testsuite>\n  <testsuite name=\"scenarios\" tests=\"" << s.scenario_runs << "\" failures=\"" << s.scenario_failed
      << "\">\n";
    for (const auto& run : r.scenario_runs) {
        x << "    <testcase classname=\"scenarios\" name=\"" << esc(run.scenario) << " [seed " << run.seed << "]\" time=\""
          << run.wall_seconds << "\">";
        if (!run.passed) {
            std::string why;
            for (const auto& f : run.failures) why += f + "\n";
            x << "<failure message=\"" << esc(run.failures.empty() ? "failed" : run.failures[0]) << "\">" << esc(why + "replay: " + run.replay)
              << "</failure>";
        }
        x << "</testcase>\n";
    }
    x << "  </testsuite>\n  <testsuite name=\"peer suite (iscsi-test-cu)\" tests=\"" << s.peer_total << "\" failures=\"" << s.peer_failed
      << "\" skipped=\"" << s.peer_skipped << "\">\n";
    for (const auto& t : r.peer_tests) {
        x << "    <testcase classname=\"iscsi-test-cu\" name=\"" << esc(t.name) << "\">";
        if (t.outcome == "failed") x << "<failure message=\"failed\">" << esc(t.reason) << "</failure>";
        else if (t.outcome == "skipped") x << "<skipped message=\"" << esc(t.reason) << "\"/>";
        x << "</testcase>\n";
    }
    x << "  </testsuite>\n</testsuites>\n";
    return x.str();
}

std::string markdown(const Report& rep, const Results& r) {
    const auto& s = rep.summary;
    std::ostringstream m;
    m << "## RFC 3720 conformance (iscsilab)\n\n";
    m << "| | requirements | MUST-level |\n|---|---:|---:|\n";
    m << "| in the catalogue | " << s.all.total << " | " << s.must.total << " |\n";
    m << "| observed, never violated | " << s.all.observed << " | " << s.must.observed << " (" << pct(s.must.observed, s.must.total) << ") |\n";
    m << "| violated | " << s.all.violated << " | " << s.must.violated << " |\n";
    m << "| never observed | " << s.all.never << " | " << s.must.never << " |\n\n";
    m << "Scenario runs: " << s.scenario_passed << " passed, " << s.scenario_failed << " failed. Peer suite (iscsi-test-cu): "
      << s.peer_passed << " passed, " << s.peer_skipped << " skipped, " << s.peer_failed << " failed. Unit tests: " << s.unit_passed
      << " passed, " << s.unit_failed << " failed.\n\n";
    if (s.swarm_runs) {
        m << "Swarm: " << s.swarm_runs << " swarm runs, " << s.swarm_passed << " passed, " << s.swarm_failed << " failed.\n\n";
        for (const auto& w : r.swarm)
            for (const auto& f : w.failures) {
                m << "- swarm failure `" << md_cell(f.signature) << "` (" << f.runs << " runs, first seed " << f.seed << "): `"
                  << f.replay << "`";
                if (!f.shrunk_file.empty())
                    m << "; shrunk to " << f.shrunk_faults << " fault(s) in " << f.shrink_steps << " steps: `iscsilab run "
                      << f.shrunk_file << " --seed " << f.seed << "`";
                m << "\n";
            }
        m << "\n";
    }
    if (r.coverage) {
        m << "| coverage of | lines | branches | functions |\n|---|---:|---:|---:|\n";
        for (const auto& [folder, f] : r.coverage->by_folder) {
            auto get = [&](const char* k) {
                auto it = f.find(k);
                return it == f.end() ? std::string("-") : pct(it->second.covered, it->second.total);
            };
            m << "| " << folder << " | " << get("lines") << " | " << get("branches") << " | " << get("functions") << " |\n";
        }
        m << "\n";
    }
    if (s.all.violated) {
        m << "### Violated\n\n";
        for (const auto& rr : rep.requirements) {
            if (rr.status != Status::violated) continue;
            m << "- `" << rr.requirement->id << "` (" << rr.requirement->level << "): " << md_cell(rr.requirement->text) << "\n";
            for (const auto& ob : rr.observations)
                if (ob.violated) m << "  - " << ob.kind << " " << md_cell(ob.source) << ": `" << md_cell(ob.detail) << "`\n";
        }
        m << "\n";
    }
    if (s.scenario_failed) {
        m << "### Failed scenario runs\n\n";
        for (const auto& run : r.scenario_runs)
            if (!run.passed) m << "- " << run.scenario << " seed " << run.seed << ": `" << run.replay << "`\n";
        m << "\n";
    }
    m << "Full report: `index.html`; machine-readable: `results.json`, `junit.xml`.\n";
    return m.str();
}

}  // namespace

std::string write(const Report& rep, const Results& r, const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return "cannot make " + dir + ": " + ec.message();
    auto put = [&](const char* name, const std::string& text) -> std::string {
        std::ofstream out(fs::path(dir) / name);
        out << text;
        return out ? std::string() : std::string("cannot write ") + (fs::path(dir) / name).string();
    };
    for (auto e : {put("index.html", html(rep, r)), put("report.md", markdown(rep, r)), put("junit.xml", junit_xml(rep, r)),
                   put("results.json", results_json(rep, r) + "\n")})
        if (!e.empty()) return e;
    return {};
}

}  // namespace iscsilab::report
