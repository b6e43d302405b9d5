#include "hil/report_stages.hpp"
#include "hil/swarm_runner.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "hil/coverage.hpp"
#include "hil/process.hpp"
#include "hil/peer_suite.hpp"
#include "hil/sim_runner.hpp"
#include "reports/catalogue/catalogue.hpp"
#include "reports/report/report.hpp"
#include "reports/report/results.hpp"

namespace iscsilab::hil {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Boost.Test's JUnit log: one <testcase classname="suite" name="case"> each, with a
// <failure>, <error> or <skipped> child when it did not pass.
std::vector<report::UnitTest> parse_boost_junit(const std::string& xml) {
    std::vector<report::UnitTest> out;
    const std::regex tc(R"re(<testcase[^>]*classname="([^"]*)"[^>]*name="([^"]*)"[^>]*>([\s\S]*?)</testcase>)re");
    for (auto it = std::sregex_iterator(xml.begin(), xml.end(), tc); it != std::sregex_iterator(); ++it) {
        const std::string body = (*it)[3];
        std::string outcome = "passed";
        if (body.find("<failure") != std::string::npos || body.find("<error") != std::string::npos) outcome = "failed";
        else if (body.find("<skipped") != std::string::npos) outcome = "skipped";
        out.push_back({(*it)[1].str() + "/" + (*it)[2].str(), outcome});
    }
    return out;
}

// gcovr --json-summary, by folder of target/ and for target/ as a whole.
report::Coverage parse_gcovr(const std::string& text) {
    report::Coverage c;
    const auto j = nlohmann::json::parse(text);
    for (const auto& f : j.value("files", nlohmann::json::array())) {
        const std::string name = f.value("filename", "");
        if (name.rfind("target/", 0) != 0) continue;
        std::vector<std::string> folders = {"target"};
        const auto slash = name.find('/', 7);
        if (slash != std::string::npos) folders.push_back(name.substr(0, slash));
        for (const auto& folder : folders) {
            auto& by = c.by_folder[folder];
            by["lines"].covered += f.value("line_covered", std::uint64_t{0});
            by["lines"].total += f.value("line_total", std::uint64_t{0});
            by["branches"].covered += f.value("branch_covered", std::uint64_t{0});
            by["branches"].total += f.value("branch_total", std::uint64_t{0});
            by["functions"].covered += f.value("function_covered", std::uint64_t{0});
            by["functions"].total += f.value("function_total", std::uint64_t{0});
        }
    }
    return c;
}

// --from: a file, or a folder holding results.json (an earlier report), or stage files.
std::vector<std::string> results_files(const std::string& from) {
    if (!fs::is_directory(from)) return {from};
    if (fs::exists(fs::path(from) / "results.json")) return {(fs::path(from) / "results.json").string()};
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(from))
        if (e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

namespace {
// A path given relative to the source tree works from anywhere (the build folder, CTest).
std::string in_source(const std::string& p) {
#if defined(ISCSILAB_SOURCE_DIR)
    if (!p.empty() && fs::path(p).is_relative() && !fs::exists(p) && fs::exists(fs::path(ISCSILAB_SOURCE_DIR) / p))
        return (fs::path(ISCSILAB_SOURCE_DIR) / p).string();
#endif
    return p;
}
}  // namespace

int report_main(const ReportOptions& given) {
    const auto t0 = Clock::now();
    ReportOptions opt = given;
    opt.catalogue = in_source(opt.catalogue);
    for (auto& s : opt.suites) s = in_source(s);
    const fs::path out(opt.out);
    const fs::path stages = out / "stages";
    std::error_code ec;
    fs::create_directories(stages, ec);
    if (ec) {
        std::cerr << "iscsilab report: cannot make " << stages << ": " << ec.message() << "\n";
        return 2;
    }
    std::vector<std::string> inputs;
    if (!opt.from.empty()) {
        for (const auto& f : opt.from) {
            if (!fs::exists(f)) {
                std::cerr << "iscsilab report: no such results file or folder: " << f << "\n";
                return 2;
            }
            for (const auto& x : results_files(f)) inputs.push_back(x);
        }
        std::cout << "report: merging " << inputs.size() << " results file(s)\n";
    } else {
        // Stage 1: the scenario suites, the wire checker on every run.
        auto ts = Clock::now();
        std::cout << "== stage 1/4: scenario suites\n";
        std::cout.flush();
        RunOptions run;
        run.paths = opt.suites;
        run.seed = opt.seed;
        run.shard_index = opt.shard_index;
        run.shard_count = opt.shard_count;
        run.jobs = opt.jobs;
        run.pcap_dir = (out / "pcaps").string();
        run.results = (stages / "scenarios.json").string();
        run.pcap_failed_only = !opt.all_pcaps;
        const int rc = run_scenarios(run);
        std::cout << "== stage 1/4: scenario suites done (exit " << rc << ", " << static_cast<int>(since(ts)) << " s)\n";
        inputs.push_back(run.results);
        if (opt.swarm_runs > 0) {
            // The swarm over the default mix: every knob drawn per run; its wire tallies
            // count as observations, its failures come with their shrunk scenarios.
            std::cout << "== stage 1/4: swarm, " << opt.swarm_runs << " runs\n" << std::flush;
            SwarmOptions sw;
            sw.runs = opt.swarm_runs;
            sw.seed = opt.seed;
            sw.jobs = opt.jobs;
            sw.shard_index = opt.shard_index;
            sw.shard_count = opt.shard_count;
            sw.out_dir = (out / "swarm").string();
            sw.results = (stages / "swarm.json").string();
            const int src = run_swarm(sw);
            std::cout << "== stage 1/4: swarm done (exit " << src << ", " << static_cast<int>(since(ts)) << " s)\n";
            if (fs::exists(sw.results)) inputs.push_back(sw.results);
        }
        // Stage 2: the peer suite, captured and checked.
        ts = Clock::now();
        if (opt.peer) {
            std::cout << "== stage 2/4: peer suite (iscsi-test-cu -t " << opt.peer_tests << ")\n";
            std::cout.flush();
            PeerSuiteOptions peer;
            peer.tests = opt.peer_tests;
            peer.results = (stages / "peer.json").string();
            peer.capture = (out / "pcaps" / "peer-suite.pcap").string();
            peer.capture_on_violation_only = !opt.all_pcaps;
            const int prc = peer_suite(peer);
            std::cout << "== stage 2/4: peer suite done (exit " << prc << ", " << static_cast<int>(since(ts)) << " s)\n";
            if (fs::exists(peer.results)) inputs.push_back(peer.results);
        } else {
            std::cout << "== stage 2/4: peer suite skipped (--no-peer)\n";
        }
        // Stage 3: unit tests, each Boost.Test binary with a JUnit log.
        ts = Clock::now();
        if (!opt.unit_tests.empty()) {
            report::Results unit;
            const fs::path logs = stages / "unit";
            fs::create_directories(logs);
            std::size_t binaries = 0;
            std::vector<fs::path> found;
            for (const auto& e : fs::directory_iterator(opt.unit_tests))
                if (e.is_regular_file() && e.path().filename().string().rfind("test_", 0) == 0 &&
                    (fs::status(e.path()).permissions() & fs::perms::owner_exec) != fs::perms::none)
                    found.push_back(e.path());
            std::sort(found.begin(), found.end());
            for (const auto& bin : found) {
                const auto xml = logs / (bin.filename().string() + ".xml");
                run_command({bin.string(), "--log_format=JUNIT", "--log_sink=" + xml.string(), "--report_level=no"},
                            (logs / (bin.filename().string() + ".log")).string());
                for (auto& u : parse_boost_junit(slurp(xml.string()))) unit.unit_tests.push_back(std::move(u));
                ++binaries;
            }
            std::size_t failed = 0;
            for (const auto& u : unit.unit_tests) failed += u.outcome == "failed";
            unit.sources.push_back((stages / "unit.json").string());
            std::string err;
            report::save(unit, (stages / "unit.json").string(), err);
            inputs.push_back((stages / "unit.json").string());
            std::cout << "== stage 3/4: unit tests: " << binaries << " binaries, " << unit.unit_tests.size() << " cases, " << failed
                      << " failed (" << static_cast<int>(since(ts)) << " s)\n";
        } else {
            std::cout << "== stage 3/4: unit tests skipped (no --unit-tests)\n";
        }
        // Stage 4: coverage of target/ from everything above (a coverage build).
        ts = Clock::now();
        if (!opt.coverage_build.empty()) {
            flush_coverage();
            fs::create_directories(out / "coverage");
            const std::string summary = (stages / "gcovr.json").string();
            const int grc = run_command({"gcovr", "-r", opt.source_root, "--object-directory", opt.coverage_build, "--filter",
                                         (fs::path(opt.source_root) / "target").string() + "/", "--exclude-throw-branches",
                                         "--exclude-unreachable-branches", "--json-summary", summary, "--html-details",
                                         (out / "coverage" / "index.html").string()},
                                        (stages / "gcovr.log").string());
            if (grc == 0 && fs::exists(summary)) {
                report::Results cov;
                cov.coverage = parse_gcovr(slurp(summary));
                cov.sources.push_back((stages / "coverage.json").string());
                std::string err;
                report::save(cov, (stages / "coverage.json").string(), err);
                inputs.push_back((stages / "coverage.json").string());
                const auto& t = cov.coverage->by_folder["target"];
                std::cout << "== stage 4/4: coverage of target/: lines " << t.at("lines").covered << "/" << t.at("lines").total
                          << ", branches " << t.at("branches").covered << "/" << t.at("branches").total << " ("
                          << static_cast<int>(since(ts)) << " s)\n";
            } else {
                std::cout << "== stage 4/4: gcovr failed (exit " << grc << "): " << slurp((stages / "gcovr.log").string()) << "\n";
            }
        } else {
            std::cout << "== stage 4/4: coverage skipped (no --coverage BUILD_DIR)\n";
        }
    }

    report::Results all;
    for (const auto& f : inputs) {
        std::string err;
        auto r = report::load(f, err);
        if (!r) {
            std::cerr << "iscsilab report: " << err << "\n";
            return 2;
        }
        report::merge(all, *r);
    }
    // Links in the report are relative to it.
    auto relative = [&](std::string& p) {
        if (p.empty() || !fs::exists(p)) return;
        p = fs::relative(fs::absolute(p), fs::absolute(out)).string();
    };
    for (auto& run : all.scenario_runs) relative(run.pcap);
    relative(all.peer_capture);

    const auto cat = catalogue::load(opt.catalogue);
    if (!cat.errors.empty()) {
        std::cerr << "iscsilab report: the catalogue in " << opt.catalogue << " is not well formed:\n";
        for (const auto& e : cat.errors) std::cerr << "  " << e << "\n";
        return 2;
    }
    const auto rep = report::build(cat, all);
    if (auto e = report::write(rep, all, opt.out); !e.empty()) {
        std::cerr << "iscsilab report: " << e << "\n";
        return 2;
    }
    std::cout << "report written: " << (out / "index.html").string() << " (also report.md, junit.xml, results.json) in "
              << static_cast<int>(since(t0)) << " s\n";
    std::cout << report::summary_line(rep) << "\n";
    const auto& s = rep.summary;
    return s.all.violated == 0 && s.scenario_failed == 0 && s.swarm_failed == 0 && s.peer_failed == 0 && s.unit_failed == 0 ? 0 : 1;
}

}  // namespace iscsilab::hil
