#include "hil/sim_runner.hpp"
#include "hil/coverage.hpp"
#include "hil/outcome_lines.hpp"
#include "reports/report/report.hpp"
#include "reports/report/results.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "scenarios/engine/scenario.hpp"

namespace iscsilab::hil {

namespace fs = std::filesystem;

namespace {

std::string pcap_path(const std::string& dir, const std::string& name, std::uint64_t seed) {
    std::string base = name;
    std::replace(base.begin(), base.end(), '/', '_');
    return (fs::path(dir) / (base + "-seed" + std::to_string(seed) + ".pcap")).string();
}

struct Job {
    std::string file;
    std::uint64_t seed;
};

struct Outcome {
    std::size_t index = 0;
    std::string file, name;
    std::uint64_t seed = 0;
    bool passed = false;
    std::string digest;
    double sim_s = 0, wall_s = 0;
    std::uint64_t pdus = 0, ops = 0;
    std::uint64_t faults = 0, recoveries = 0;
    std::uint64_t checked = 0;   // PDUs the wire checker judged
    std::string wire;            // "id=exercised/violated;..." (the rules the run exercised)
    std::vector<std::string> failures;
};

// One line per outcome travels from a worker process to the parent.
std::string encode(const Outcome& o) {
    std::ostringstream s;
    s << o.index << '\t' << o.passed << '\t' << o.digest << '\t' << o.sim_s << '\t' << o.wall_s << '\t' << o.pdus
      << '\t' << o.ops << '\t' << o.faults << '\t' << o.recoveries << '\t' << o.checked << '\t' << o.wire << '\t' << one_field(o.name);
    for (const auto& f : o.failures) s << '\t' << one_field(f);
    return s.str();
}

bool decode(const std::string& line, Outcome& o) {
    const std::vector<std::string> f = split_fields(line, '\t');
    if (f.size() < 12) return false;
    o.index = std::stoul(f[0]);
    o.passed = f[1] == "1";
    o.digest = f[2];
    o.sim_s = std::stod(f[3]);
    o.wall_s = std::stod(f[4]);
    o.pdus = std::stoull(f[5]);
    o.ops = std::stoull(f[6]);
    o.faults = std::stoull(f[7]);
    o.recoveries = std::stoull(f[8]);
    o.checked = std::stoull(f[9]);
    o.wire = f[10];
    o.name = f[11];
    o.failures.assign(f.begin() + 12, f.end());
    return true;
}

Outcome run_one(const Job& j, std::size_t index, const std::string& pcap_dir, bool pcap_failed_only) {
    Outcome o;
    o.index = index;
    o.file = j.file;
    o.seed = j.seed;
    scenario::Scenario s;
    std::string err = scenario::load_scenario(j.file, s);
    o.name = s.name.empty() ? j.file : s.name;
    if (!err.empty()) {
        o.failures.push_back(err);
        return o;
    }
    std::string pcap;
    if (!pcap_dir.empty()) pcap = pcap_path(pcap_dir, s.name, j.seed);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = scenario::run_scenario(s, j.seed, pcap);
    o.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    o.passed = r.passed;
    o.digest = r.digest;
    o.sim_s = r.sim_seconds;
    o.pdus = r.pdus;
    o.ops = r.ops;
    o.faults = r.faults;
    o.recoveries = r.recoveries;
    // Same seed, same binary, same pcap: a passing run's capture can always be made again.
    if (pcap_failed_only && r.passed && !pcap.empty()) fs::remove(pcap);
    o.checked = r.wire_pdus;
    o.wire = tally_text(r.wire_tally);
    o.failures = r.failures;
    return o;
}

void print_line(const Outcome& o, std::size_t total, const std::string& file) {
    std::cout << "[" << (o.index + 1) << "/" << total << "] " << (o.passed ? "PASS " : "FAIL ") << std::left
              << std::setw(44) << o.name << std::right << " seed=" << o.seed << " digest=" << o.digest.substr(0, 16)
              << " sim=" << std::fixed << std::setprecision(3) << o.sim_s << "s wall=" << o.wall_s << "s pdus=" << o.pdus
              << " ops=" << o.ops << " checked=" << o.checked;
    if (o.faults) std::cout << " faults=" << o.faults << " recoveries=" << o.recoveries;
    std::cout << "\n";
    if (!o.passed) {
        for (std::size_t k = 0; k < o.failures.size() && k < 40; ++k) std::cout << "      " << o.failures[k] << "\n";
        std::cout << "      replay: iscsilab run " << file << " --seed " << o.seed << "\n";
    }
    std::cout.flush();
}

}  // namespace

int run_scenarios(const RunOptions& opt) {
    std::vector<std::string> files;
    for (const auto& p : opt.paths) {
        if (fs::is_directory(p)) {
            for (const auto& e : fs::recursive_directory_iterator(p))
                if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml"))
                    files.push_back(e.path().string());
        } else if (fs::exists(p)) {
            files.push_back(p);
        } else {
            std::cerr << "iscsilab run: no such file or folder: " << p << "\n";
            return 2;
        }
    }
    std::sort(files.begin(), files.end());
    std::vector<Job> all;
    for (const auto& f : files)
        for (unsigned r = 0; r < opt.repeat; ++r) all.push_back(Job{f, opt.seed + r});
    // --shard I/N: every N-th job from I, so a CI matrix splits a suite evenly.
    std::vector<Job> jobs;
    for (std::size_t k = 0; k < all.size(); ++k)
        if (k % opt.shard_count == opt.shard_index) jobs.push_back(all[k]);
    if (jobs.empty()) {
        std::cout << "0 passed, 0 failed\n";
        return 0;
    }
    if (!opt.pcap_dir.empty()) fs::create_directories(opt.pcap_dir);

    std::vector<Outcome> outcomes(jobs.size());
    const unsigned workers = std::max(1u, std::min<unsigned>(opt.jobs, static_cast<unsigned>(jobs.size())));
    if (workers == 1) {
        for (std::size_t k = 0; k < jobs.size(); ++k) {
            outcomes[k] = run_one(jobs[k], k, opt.pcap_dir, opt.pcap_failed_only);
            print_line(outcomes[k], jobs.size(), jobs[k].file);
        }
    } else {
        // Each worker process takes every workers-th job and reports one line per job.
        std::vector<std::pair<pid_t, int>> kids;
        for (unsigned w = 0; w < workers; ++w) {
            int fds[2];
            if (pipe(fds) != 0) return 1;
            pid_t pid = fork();
            if (pid == 0) {
                close(fds[0]);
                for (std::size_t k = w; k < jobs.size(); k += workers) {
                    std::string line = encode(run_one(jobs[k], k, opt.pcap_dir, opt.pcap_failed_only)) + "\n";
                    [[maybe_unused]] auto n = write(fds[1], line.data(), line.size());
                }
                close(fds[1]);
                flush_coverage();
                _exit(0);
            }
            close(fds[1]);
            kids.emplace_back(pid, fds[0]);
        }
        std::size_t done = 0;
        for (auto& [pid, fd] : kids) {
            std::string buf;
            char tmp[4096];
            for (ssize_t n; (n = read(fd, tmp, sizeof tmp)) > 0;) buf.append(tmp, static_cast<std::size_t>(n));
            close(fd);
            int status = 0;
            waitpid(pid, &status, 0);
            std::istringstream lines(buf);
            for (std::string line; std::getline(lines, line);) {
                Outcome o;
                if (!decode(line, o) || o.index >= jobs.size()) continue;
                o.file = jobs[o.index].file;
                o.seed = jobs[o.index].seed;
                outcomes[o.index] = o;
                ++done;
            }
        }
        for (std::size_t k = 0; k < jobs.size(); ++k) {
            if (outcomes[k].name.empty()) {
                outcomes[k].index = k;
                outcomes[k].name = jobs[k].file;
                outcomes[k].seed = jobs[k].seed;
                outcomes[k].failures.push_back("the worker running it died");
            }
            print_line(outcomes[k], jobs.size(), jobs[k].file);
        }
    }

    std::size_t passed = 0;
    for (const auto& o : outcomes) passed += o.passed;
    const std::size_t failed = outcomes.size() - passed;
    if (!opt.junit.empty()) {
        std::ofstream j(opt.junit);
        double total = 0;
        for (const auto& o : outcomes) total += o.wall_s;
        j << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"iscsilab scenarios\" tests=\""
          << outcomes.size() << "\" failures=\"" << failed << "\" time=\"" << total << "\">\n";
        for (std::size_t k = 0; k < outcomes.size(); ++k) {
            const auto& o = outcomes[k];
            j << "    <testcase classname=\"scenarios\" name=\"" << report::escape_xml(o.name) << " [seed " << o.seed << "]\" time=\""
              << o.wall_s << "\">\n";
            j << "      <system-out>digest " << o.digest << " sim " << o.sim_s << " s pdus " << o.pdus << "</system-out>\n";
            if (!o.passed) {
                std::string msg;
                for (const auto& f : o.failures) msg += f + "\n";
                j << "      <failure message=\"" << report::escape_xml(o.failures.empty() ? "failed" : o.failures[0]) << "\">"
                  << report::escape_xml(msg + "replay: iscsilab run " + jobs[k].file + " --seed " + std::to_string(o.seed))
                  << "</failure>\n";
            }
            j << "    </testcase>\n";
        }
        j << "  </testsuite>\n</testsuites>\n";
    }
    if (!opt.results.empty()) {
        // The JSON results for `iscsilab report` (reports/README.md): each run with its
        // catalogue requirements and the wire checker's tally.
        report::Results res;
        for (std::size_t k = 0; k < outcomes.size(); ++k) {
            const auto& o = outcomes[k];
            report::ScenarioRun r;
            scenario::Scenario s;
            scenario::load_scenario(jobs[k].file, s);
            r.scenario = o.name;
            r.file = jobs[k].file;
            r.seed = o.seed;
            r.passed = o.passed;
            r.digest = o.digest;
            r.replay = "iscsilab run " + jobs[k].file + " --seed " + std::to_string(o.seed);
            if (!opt.pcap_dir.empty() && (!opt.pcap_failed_only || !o.passed)) r.pcap = pcap_path(opt.pcap_dir, s.name, o.seed);
            r.sim_seconds = o.sim_s;
            r.wall_seconds = o.wall_s;
            r.pdus = o.pdus;
            r.failures = o.failures;
            r.requirements = s.requirements;
            add_tally(o.wire, r.wire);
            res.scenario_runs.push_back(std::move(r));
        }
        res.sources.push_back(opt.results);
        std::string err;
        if (!report::save(res, opt.results, err)) std::cerr << "iscsilab run: " << err << "\n";
    }
    std::cout << passed << " passed, " << failed << " failed\n";
    return failed == 0 ? 0 : 1;
}

}  // namespace iscsilab::hil
