#include "reports/report/results.hpp"

#include <nlohmann/json.hpp>

#include <fstream>

namespace iscsilab::report {

using nlohmann::json;

namespace {

constexpr const char* SCHEMA = "iscsilab-results/1";

json tally_json(const WireTally& t) {
    json j = json::object();
    for (const auto& [id, v] : t) j[id] = {{"exercised", v.exercised}, {"violated", v.violated}};
    return j;
}

WireTally tally_of(const json& j) {
    WireTally t;
    for (auto it = j.begin(); it != j.end(); ++it)
        t[it.key()] = Tally{it.value().value("exercised", std::uint64_t{0}), it.value().value("violated", std::uint64_t{0})};
    return t;
}

}  // namespace

std::string to_json(const Results& r, int indent) {
    json j;
    j["schema"] = SCHEMA;
    j["scenario_runs"] = json::array();
    for (const auto& s : r.scenario_runs)
        j["scenario_runs"].push_back({{"scenario", s.scenario}, {"file", s.file}, {"seed", s.seed}, {"passed", s.passed},
                                      {"digest", s.digest}, {"replay", s.replay}, {"pcap", s.pcap},
                                      {"sim_seconds", s.sim_seconds}, {"wall_seconds", s.wall_seconds}, {"pdus", s.pdus},
                                      {"failures", s.failures}, {"requirements", s.requirements}, {"wire", tally_json(s.wire)}});
    j["swarm"] = json::array();
    for (const auto& w : r.swarm) {
        json f = json::array();
        for (const auto& x : w.failures)
            f.push_back({{"seed", x.seed}, {"runs", x.runs}, {"signature", x.signature}, {"knobs", x.knobs},
                         {"replay", x.replay}, {"scenario_file", x.scenario_file}, {"shrunk_file", x.shrunk_file},
                         {"failures", x.failures}, {"shrink_steps", x.shrink_steps}, {"shrink_runs", x.shrink_runs},
                         {"shrunk_faults", x.shrunk_faults}, {"shrunk_replays", x.shrunk_replays}});
        j["swarm"].push_back({{"base", w.base}, {"shard", w.shard}, {"first_seed", w.first_seed}, {"runs", w.runs},
                              {"passed", w.passed}, {"failed", w.failed}, {"liveness", w.liveness},
                              {"wall_seconds", w.wall_seconds}, {"failures", f}, {"wire", tally_json(w.wire)}});
    }
    j["peer_tests"] = json::array();
    for (const auto& p : r.peer_tests) j["peer_tests"].push_back({{"name", p.name}, {"outcome", p.outcome}, {"reason", p.reason}});
    j["peer_wire"] = tally_json(r.peer_wire);
    j["peer_capture"] = r.peer_capture;
    j["unit_tests"] = json::array();
    for (const auto& u : r.unit_tests) j["unit_tests"].push_back({{"name", u.name}, {"outcome", u.outcome}});
    if (r.coverage) {
        json c = json::object();
        for (const auto& [folder, figures] : r.coverage->by_folder)
            for (const auto& [kind, f] : figures) c[folder][kind] = {{"covered", f.covered}, {"total", f.total}};
        j["coverage"] = c;
    } else {
        j["coverage"] = nullptr;
    }
    j["sources"] = r.sources;
    return j.dump(indent);
}

std::optional<Results> load(const std::string& path, std::string& error) {
    std::ifstream in(path);
    if (!in) {
        error = path + ": cannot be read";
        return std::nullopt;
    }
    try {
        const json j = json::parse(in);
        if (j.value("schema", std::string()) != SCHEMA) {
            error = path + ": not an iscsilab results file (schema " + SCHEMA + ")";
            return std::nullopt;
        }
        Results r;
        for (const auto& s : j.value("scenario_runs", json::array())) {
            ScenarioRun x;
            x.scenario = s.value("scenario", "");
            x.file = s.value("file", "");
            x.seed = s.value("seed", std::uint64_t{0});
            x.passed = s.value("passed", false);
            x.digest = s.value("digest", "");
            x.replay = s.value("replay", "");
            x.pcap = s.value("pcap", "");
            x.sim_seconds = s.value("sim_seconds", 0.0);
            x.wall_seconds = s.value("wall_seconds", 0.0);
            x.pdus = s.value("pdus", std::uint64_t{0});
            x.failures = s.value("failures", std::vector<std::string>{});
            x.requirements = s.value("requirements", std::vector<std::string>{});
            x.wire = tally_of(s.value("wire", json::object()));
            r.scenario_runs.push_back(std::move(x));
        }
        for (const auto& w : j.value("swarm", json::array())) {
            SwarmSummary x;
            x.base = w.value("base", "");
            x.shard = w.value("shard", "");
            x.first_seed = w.value("first_seed", std::uint64_t{0});
            x.runs = w.value("runs", std::uint64_t{0});
            x.passed = w.value("passed", std::uint64_t{0});
            x.failed = w.value("failed", std::uint64_t{0});
            x.liveness = w.value("liveness", std::uint64_t{0});
            x.wall_seconds = w.value("wall_seconds", 0.0);
            for (const auto& f : w.value("failures", json::array())) {
                SwarmFailure y;
                y.seed = f.value("seed", std::uint64_t{0});
                y.runs = f.value("runs", std::uint64_t{0});
                y.signature = f.value("signature", "");
                y.knobs = f.value("knobs", "");
                y.replay = f.value("replay", "");
                y.scenario_file = f.value("scenario_file", "");
                y.shrunk_file = f.value("shrunk_file", "");
                y.failures = f.value("failures", std::vector<std::string>{});
                y.shrink_steps = f.value("shrink_steps", std::uint64_t{0});
                y.shrink_runs = f.value("shrink_runs", std::uint64_t{0});
                y.shrunk_faults = f.value("shrunk_faults", std::uint64_t{0});
                y.shrunk_replays = f.value("shrunk_replays", false);
                x.failures.push_back(std::move(y));
            }
            x.wire = tally_of(w.value("wire", json::object()));
            r.swarm.push_back(std::move(x));
        }
        for (const auto& p : j.value("peer_tests", json::array()))
            r.peer_tests.push_back({p.value("name", ""), p.value("outcome", ""), p.value("reason", "")});
        r.peer_wire = tally_of(j.value("peer_wire", json::object()));
        r.peer_capture = j.value("peer_capture", "");
        for (const auto& u : j.value("unit_tests", json::array())) r.unit_tests.push_back({u.value("name", ""), u.value("outcome", "")});
        if (j.contains("coverage") && j["coverage"].is_object()) {
            Coverage c;
            for (auto f = j["coverage"].begin(); f != j["coverage"].end(); ++f)
                for (auto k = f.value().begin(); k != f.value().end(); ++k)
                    c.by_folder[f.key()][k.key()] = {k.value().value("covered", std::uint64_t{0}), k.value().value("total", std::uint64_t{0})};
            r.coverage = c;
        }
        r.sources = j.value("sources", std::vector<std::string>{});
        if (r.sources.empty()) r.sources.push_back(path);
        return r;
    } catch (const std::exception& e) {
        error = path + ": " + e.what();
        return std::nullopt;
    }
}

void merge(Results& a, const Results& b) {
    a.scenario_runs.insert(a.scenario_runs.end(), b.scenario_runs.begin(), b.scenario_runs.end());
    a.swarm.insert(a.swarm.end(), b.swarm.begin(), b.swarm.end());
    a.peer_tests.insert(a.peer_tests.end(), b.peer_tests.begin(), b.peer_tests.end());
    for (const auto& [id, t] : b.peer_wire) {
        a.peer_wire[id].exercised += t.exercised;
        a.peer_wire[id].violated += t.violated;
    }
    if (a.peer_capture.empty()) a.peer_capture = b.peer_capture;
    a.unit_tests.insert(a.unit_tests.end(), b.unit_tests.begin(), b.unit_tests.end());
    if (!a.coverage && b.coverage) a.coverage = b.coverage;
    a.sources.insert(a.sources.end(), b.sources.begin(), b.sources.end());
}

bool save(const Results& r, const std::string& path, std::string& error) {
    std::ofstream out(path);
    out << to_json(r) << "\n";
    if (!out) {
        error = "cannot write " + path;
        return false;
    }
    return true;
}

}  // namespace iscsilab::report
