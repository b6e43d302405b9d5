#include "hil/swarm_runner.hpp"
#include "hil/coverage.hpp"
#include "hil/outcome_lines.hpp"
#include "reports/report/results.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "scenarios/engine/scenario.hpp"
#include "scenarios/engine/shrink.hpp"
#include "scenarios/engine/swarm.hpp"

namespace iscsilab::hil {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

struct Outcome {
    std::uint64_t index = 0, seed = 0;
    bool done = false, passed = false, liveness = false;
    std::string digest, signature, knobs, wire;
    double sim_s = 0, wall_s = 0;
    std::uint64_t pdus = 0, ops = 0, faults = 0, recoveries = 0, checked = 0, events = 0;
    std::vector<std::string> failures;
};

// One line per run travels from a worker to the parent.
std::string encode(const Outcome& o) {
    std::ostringstream s;
    s << o.index << '\t' << o.passed << '\t' << o.liveness << '\t' << o.digest << '\t' << o.sim_s << '\t' << o.wall_s << '\t'
      << o.pdus << '\t' << o.ops << '\t' << o.faults << '\t' << o.recoveries << '\t' << o.checked << '\t' << o.events << '\t'
      << one_field(o.signature)
      << '\t' << one_field(o.knobs) << '\t' << o.wire << '\t';
    for (std::size_t k = 0; k < o.failures.size() && k < 24; ++k) s << (k ? "\x1f" : "") << one_field(o.failures[k]);
    return s.str();
}

bool decode(const std::string& line, Outcome& o) {
    const std::vector<std::string> f = split_fields(line, '\t');
    if (f.size() != 16) return false;
    try {
        o.index = std::stoull(f[0]);
        o.passed = f[1] == "1";
        o.liveness = f[2] == "1";
        o.digest = f[3];
        o.sim_s = std::stod(f[4]);
        o.wall_s = std::stod(f[5]);
        o.pdus = std::stoull(f[6]);
        o.ops = std::stoull(f[7]);
        o.faults = std::stoull(f[8]);
        o.recoveries = std::stoull(f[9]);
        o.checked = std::stoull(f[10]);
        o.events = std::stoull(f[11]);
    } catch (...) {
        return false;
    }
    o.signature = f[12];
    o.knobs = f[13];
    o.wire = f[14];
    for (auto& x : split_fields(f[15], '\x1f'))
        if (!x.empty()) o.failures.push_back(std::move(x));
    o.done = true;
    return true;
}

struct Bases {
    std::vector<scenario::Scenario> list;   // empty: the default mix
    const scenario::Scenario* of(std::uint64_t seed) const {
        // By the run's seed, not its index: `--seed N --runs 1` replays run N's draw.
        return list.empty() ? nullptr : &list[seed % list.size()];
    }
};

Outcome run_one(const Bases& bases, std::uint64_t index, std::uint64_t seed, bool want_wire) {
    Outcome o;
    o.index = index;
    o.seed = seed;
    const auto draw = scenario::draw_swarm_run(bases.of(seed), seed);
    o.knobs = draw.knob_line();
    const auto t0 = Clock::now();
    const auto r = scenario::run_scenario(draw.scenario, seed, "");
    o.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    o.done = true;
    o.passed = r.passed;
    o.liveness = !r.passed && scenario::liveness_only(r);
    o.digest = r.digest;
    o.sim_s = r.sim_seconds;
    o.pdus = r.pdus;
    o.ops = r.ops;
    o.faults = r.faults;
    o.recoveries = r.recoveries;
    o.checked = r.wire_pdus;
    o.events = r.events;
    o.signature = scenario::failure_signature(r);
    o.failures = r.failures;
    if (want_wire) o.wire = tally_text(r.wire_tally);
    return o;
}

std::string replay_prefix(const SwarmOptions& opt) {
    std::string s = "iscsilab swarm";
    for (const auto& b : opt.bases) s += " " + b;
    for (const auto& d : opt.defects) s += " --defect " + d;
    return s;
}
std::string defect_flags(const SwarmOptions& opt) {
    std::string s;
    for (const auto& d : opt.defects) s += " --defect " + d;
    return s;
}

void print_run(const Outcome& o, const std::string& name) {
    char line[512];
    std::snprintf(line, sizeof line, "%s %-28s seed=%llu digest=%s sim=%.3fs wall=%.3fs pdus=%llu ops=%llu checked=%llu",
                  o.passed ? "PASS" : "FAIL", name.c_str(), static_cast<unsigned long long>(o.seed),
                  o.digest.substr(0, 16).c_str(), o.sim_s, o.wall_s, static_cast<unsigned long long>(o.pdus),
                  static_cast<unsigned long long>(o.ops), static_cast<unsigned long long>(o.checked));
    std::cout << line;
    if (o.faults) std::cout << " faults=" << o.faults << " recoveries=" << o.recoveries;
    std::cout << "\n";
}

constexpr std::size_t kRunsPerWorker = 1000;

// A worker: runs `runs` (indices into the shard's list) and reports each on fd.
[[noreturn]] void worker(const Bases& bases, const std::vector<std::uint64_t>& seeds, const std::vector<std::size_t>& mine,
                         int fd, Clock::time_point deadline, bool want_wire) {
    std::size_t ran = 0;
    for (std::size_t k : mine) {
        if (deadline != Clock::time_point{} && Clock::now() >= deadline) break;
        // Each run leaves its SystemC context behind (model/kernel.cpp): some 10 KB. A
        // worker hands on to a fresh one after kRunsPerWorker runs, so a million-run
        // swarm stays as small as a thousand-run one.
        if (ran++ == kRunsPerWorker) break;
        const std::string line = encode(run_one(bases, k, seeds[k], want_wire)) + "\n";
        for (std::size_t off = 0; off < line.size();) {
            const ssize_t n = write(fd, line.data() + off, line.size() - off);
            if (n <= 0) _exit(1);
            off += static_cast<std::size_t>(n);
        }
    }
    close(fd);
    flush_coverage();
    _exit(0);
}

// Shrinks one failing run, prints the steps and the minimal scenario, writes it next to
// the drawn one, and replays the written file. Returns "steps runs faults replays file".
std::string shrink_one(const scenario::Scenario& drawn, const Outcome& first, const std::string& signature,
                       const SwarmOptions& opt) {
    const auto r = scenario::shrink(drawn, first.seed, first.signature, opt.shrink_runs,
                                    [](const std::string& l) { std::cout << l << "\n" << std::flush; });
    scenario::Scenario minimal = r.minimal;
    minimal.name = drawn.name + "-seed" + std::to_string(first.seed) + "-shrunk";
    const std::string file = (fs::path(opt.out_dir) / ("seed-" + std::to_string(first.seed) + "-shrunk.yaml")).string();
    const std::string text = scenario::write_scenario(minimal);
    std::ofstream(file) << "# shrunk from seed " << first.seed << " in " << r.steps << " steps (" << r.runs << " runs): " << signature
                        << "\n"
                        << "# replay: iscsilab run " << file << " --seed " << first.seed << defect_flags(opt) << "\n"
                        << text;
    // The file, read back, must fail the same way: what a user replays is what shrank.
    scenario::Scenario again;
    bool replays = false;
    if (scenario::load_scenario(file, again).empty()) {
        const auto rr = scenario::run_scenario(again, first.seed, "");
        replays = !rr.passed && scenario::shows_signature(rr, first.signature);
    }
    std::cout << "  shrunk in " << r.steps << " steps (" << r.runs << " runs): " << r.before.text() << " -> " << r.after.text()
              << "\n"
              << "  minimal scenario (" << file << "), "
              << (replays ? "fails the same way on replay" : "DOES NOT fail the same way on replay") << ":\n";
    std::istringstream lines(text);
    for (std::string l; std::getline(lines, l);) std::cout << "    | " << l << "\n";
    std::cout << "  replay: iscsilab run " << file << " --seed " << first.seed << defect_flags(opt) << "\n" << std::flush;
    return std::to_string(r.steps) + " " + std::to_string(r.runs) + " " + std::to_string(r.after.faults) + " " +
           (replays ? "1" : "0") + " " + file;
}

}  // namespace

bool shard_from_environment(unsigned count, unsigned& index, unsigned& total, std::string& error) {
    auto number = [](const char* name, long& out) {
        const char* v = std::getenv(name);
        if (!v || !*v) return false;
        char* end = nullptr;
        out = std::strtol(v, &end, 10);
        return end && *end == '\0';
    };
    long id = 0, n = 0, min = 0;
    if (number("SLURM_ARRAY_TASK_ID", id) && number("SLURM_ARRAY_TASK_COUNT", n)) {
        if (!number("SLURM_ARRAY_TASK_MIN", min)) min = 0;
        if (n <= 0 || id - min < 0 || id - min >= n) {
            error = "SLURM_ARRAY_TASK_ID/MIN/COUNT do not describe a shard (use --array=0-N or a step of 1)";
            return false;
        }
        index = static_cast<unsigned>(id - min);
        total = static_cast<unsigned>(n);
        return true;
    }
    if (number("JOB_COMPLETION_INDEX", id)) {
        long c = count;
        if (c == 0 && !number("ISCSILAB_SHARDS", c)) {
            error = "JOB_COMPLETION_INDEX is set but not the count: pass --shards N (the Job's completions) or set ISCSILAB_SHARDS";
            return false;
        }
        if (c <= 0 || id < 0 || id >= c) {
            error = "JOB_COMPLETION_INDEX " + std::to_string(id) + " is not below the shard count " + std::to_string(c);
            return false;
        }
        index = static_cast<unsigned>(id);
        total = static_cast<unsigned>(c);
        return true;
    }
    return false;
}

int run_swarm(const SwarmOptions& opt) {
    Bases bases;
    for (const auto& f : opt.bases) {
        scenario::Scenario s;
        if (auto err = scenario::load_scenario(f, s); !err.empty()) {
            std::cerr << "iscsilab swarm: " << err << "\n";
            return 2;
        }
        bases.list.push_back(std::move(s));
    }
    if (opt.shard_count == 0 || opt.shard_index >= opt.shard_count) {
        std::cerr << "iscsilab swarm: bad shard " << opt.shard_index << "/" << opt.shard_count << "\n";
        return 2;
    }
    // Run k (0-based, over all shards) has seed seed + k; a shard takes every
    // shard_count-th run from shard_index, as `iscsilab run --shard` does.
    std::vector<std::uint64_t> seeds;
    for (std::uint64_t k = opt.shard_index; k < opt.runs; k += opt.shard_count) seeds.push_back(opt.seed + k);
    if (opt.draw_only) {
        for (std::uint64_t seed : seeds) {
            const auto draw = scenario::draw_swarm_run(bases.of(seed), seed);
            std::cout << "# seed " << seed << ": " << draw.knob_line() << "\n" << scenario::write_scenario(draw.scenario) << "\n";
        }
        return 0;
    }
    const std::string who = opt.bases.empty() ? std::string("swarm/default-mix") : std::string("swarm");
    std::cout << "swarm: " << seeds.size() << " runs (seeds " << opt.seed << ".." << (opt.seed + opt.runs - 1);
    if (opt.shard_count > 1) std::cout << ", shard " << opt.shard_index << "/" << opt.shard_count;
    std::cout << ") over " << (opt.bases.empty() ? std::string("the default mix") : std::to_string(opt.bases.size()) + " base scenario(s)")
              << ", " << std::max(1u, opt.jobs) << " job(s)";
    if (!opt.defects.empty()) std::cout << ", defects armed:" << defect_flags(opt);
    std::cout << "\n" << std::flush;

    const auto start = Clock::now();
    const Clock::time_point deadline =
        opt.minutes > 0 ? start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.minutes * 60))
                        : Clock::time_point{};
    // Per run, one byte (0 not yet, 1 passed, 2 failed); whole outcomes are kept only for
    // the failures and, with -v, for the lines still waiting their turn. A million-run
    // shard costs a megabyte here, not the outcomes of a million runs.
    std::vector<std::uint8_t> state(seeds.size(), 0);
    std::map<std::size_t, Outcome> failures, waiting;
    report::WireTally wire_sum;
    std::uint64_t events = 0, pdus = 0;
    const unsigned workers = std::max(1u, std::min<unsigned>(opt.jobs, static_cast<unsigned>(std::max<std::size_t>(1, seeds.size()))));
    const bool want_wire = !opt.results.empty();

    // Each worker takes every workers-th run; a worker that dies (a crash inside a run)
    // is replaced by one that goes on after the run it died in, which counts as failed.
    struct Worker {
        pid_t pid = -1;
        int fd = -1;
        std::vector<std::size_t> todo;   // its runs, in order
        std::size_t next = 0;            // first not yet reported
        std::string buf;
    };
    std::vector<Worker> pool(workers);
    auto spawn = [&](Worker& w) {
        int fds[2];
        if (pipe(fds) != 0) return false;
        std::cout << std::flush;
        const pid_t pid = fork();
        if (pid < 0) return false;
        if (pid == 0) {
            close(fds[0]);
            std::vector<std::size_t> rest(w.todo.begin() + static_cast<std::ptrdiff_t>(w.next), w.todo.end());
            worker(bases, seeds, rest, fds[1], deadline, want_wire);
        }
        close(fds[1]);
        w.pid = pid;
        w.fd = fds[0];
        return true;
    };
    for (unsigned k = 0; k < workers; ++k) {
        for (std::size_t r = k; r < seeds.size(); r += workers) pool[k].todo.push_back(r);
        if (!pool[k].todo.empty() && !spawn(pool[k])) {
            std::cerr << "iscsilab swarm: cannot start a worker\n";
            return 2;
        }
    }

    std::size_t done = 0, failed = 0, printed = 0;
    const bool tty = isatty(STDOUT_FILENO);
    auto last_progress = start;
    auto progress = [&](bool force) {
        const auto now = Clock::now();
        if (!force && now - last_progress < std::chrono::seconds(tty ? 1 : 10)) return;
        last_progress = now;
        const double el = std::chrono::duration<double>(now - start).count();
        const double rate = el > 0 ? static_cast<double>(done) / el : 0;
        double left = rate > 0 ? static_cast<double>(seeds.size() - done) / rate : 0;
        if (opt.minutes > 0) left = std::min(left, std::max(0.0, opt.minutes * 60 - el));
        char line[200];
        std::snprintf(line, sizeof line, "swarm: %zu/%zu runs, %zu failed, %.1f runs/s, ~%.0f s left", done, seeds.size(), failed,
                      rate, left);
        if (tty && !opt.verbose) std::cout << "\r" << line << "   " << std::flush;
        else std::cout << line << "\n" << std::flush;
    };
    auto accept = [&](Outcome o) {
        if (o.index >= state.size() || state[o.index]) return;
        o.seed = seeds[o.index];
        state[o.index] = o.passed ? 1 : 2;
        ++done;
        failed += !o.passed;
        events += o.events;
        pdus += o.pdus;
        add_tally(o.wire, wire_sum);
        o.wire.clear();
        if (!o.passed) failures[o.index] = o;
        // -v: lines in run order, whatever order the workers finish in.
        if (opt.verbose) {
            waiting[o.index] = std::move(o);
            for (auto it = waiting.begin(); it != waiting.end() && it->first == printed; it = waiting.erase(it), ++printed)
                print_run(it->second, who);
        }
    };

    for (;;) {
        std::vector<pollfd> fds;
        std::vector<std::size_t> which;
        for (std::size_t k = 0; k < pool.size(); ++k)
            if (pool[k].fd >= 0) {
                fds.push_back({pool[k].fd, POLLIN, 0});
                which.push_back(k);
            }
        if (fds.empty()) break;
        const int n = poll(fds.data(), fds.size(), 1000);
        if (n < 0 && errno != EINTR) break;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            Worker& w = pool[which[i]];
            char tmp[65536];
            const ssize_t got = read(w.fd, tmp, sizeof tmp);
            if (got > 0) {
                w.buf.append(tmp, static_cast<std::size_t>(got));
                for (std::size_t nl; (nl = w.buf.find('\n')) != std::string::npos;) {
                    Outcome o;
                    if (decode(w.buf.substr(0, nl), o)) {
                        accept(o);
                        while (w.next < w.todo.size() && state[w.todo[w.next]]) ++w.next;
                    }
                    w.buf.erase(0, nl + 1);
                }
                continue;
            }
            // The worker is gone: finished, stopped at the deadline, or dead.
            close(w.fd);
            w.fd = -1;
            int status = 0;
            waitpid(w.pid, &status, 0);
            const bool clean_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            const bool time_left = deadline == Clock::time_point{} || Clock::now() < deadline;
            if (clean_exit && w.next < w.todo.size() && time_left) {
                spawn(w);   // it retired after kRunsPerWorker runs
            } else if (!clean_exit && w.next < w.todo.size()) {
                Outcome o;
                o.index = w.todo[w.next];
                o.done = true;
                o.signature = WIFSIGNALED(status) ? "crash: signal " + std::to_string(WTERMSIG(status)) : "crash: worker exit";
                o.failures.push_back("the run crashed the worker process (" + o.signature + ")");
                accept(o);
                ++w.next;
                if (w.next < w.todo.size() && time_left) spawn(w);
            }
        }
        progress(false);
        // Stop at the first failure in run order, not the first one a worker happened to
        // report: the runs before it still finish, so which failure is shrunk depends on
        // the seed alone, never on --jobs or on how busy the machine is.
        const bool earlier_pending =
            opt.fail_fast && failed > 0 &&
            std::any_of(state.begin(), state.begin() + static_cast<std::ptrdiff_t>(failures.begin()->first),
                        [](auto s) { return s == 0; });
        if (opt.fail_fast && failed > 0 && !earlier_pending) {
            // Enough: the workers stop where they are; what they had not reported is not run.
            for (auto& w : pool)
                if (w.fd >= 0) {
                    kill(w.pid, SIGKILL);
                    waitpid(w.pid, nullptr, 0);
                    close(w.fd);
                    w.fd = -1;
                }
            break;
        }
    }
    if (tty && !opt.verbose) std::cout << "\n";
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();

    // Failures: every one with its seed, knobs and replay command; the first run of each
    // kind (signature) is written out and shrunk.
    std::map<std::string, std::vector<const Outcome*>> kinds;
    std::size_t liveness = 0;
    const auto not_run = static_cast<std::size_t>(std::count(state.begin(), state.end(), 0));
    for (const auto& [index, o] : failures) {
        liveness += o.liveness;
        kinds[o.signature].push_back(&o);
    }
    if (!kinds.empty()) {
        fs::create_directories(opt.out_dir);
        // Every failing run, one line each, for the runs the console lists by seed only.
        std::ofstream list(fs::path(opt.out_dir) / "failures.txt");
        for (const auto& [index, o] : failures)
            list << "seed=" << o.seed << "\tsignature=" << o.signature << "\treplay: " << replay_prefix(opt) << " --seed "
                 << o.seed << " --runs 1\tknobs: " << o.knobs << "\n";
    }
    report::Results results;
    report::SwarmSummary summary;
    std::size_t shown = 0;
    for (const auto& [signature, runs] : kinds) {
        std::cout << "\nFAILED " << runs.size() << " run(s): " << signature << "\n";
        std::string more;
        for (std::size_t k = 0; k < runs.size(); ++k) {
            const Outcome* o = runs[k];
            if (k >= 3 || shown >= 30) {
                // The rest of this kind by seed only: each replays the same way.
                if (k < 203) more += " " + std::to_string(o->seed);
                continue;
            }
            ++shown;
            std::cout << "  seed=" << o->seed << " digest=" << o->digest.substr(0, 16) << "\n";
            for (std::size_t k = 0; k < o->failures.size() && k < 12; ++k) std::cout << "      " << o->failures[k] << "\n";
            std::cout << "    knobs: " << o->knobs << "\n";
            std::cout << "    replay: " << replay_prefix(opt) << " --seed " << o->seed << " --runs 1\n";
        }
        if (!more.empty())
            std::cout << "  also seeds" << more << (runs.size() > 203 ? " ..." : "") << " (each with its knobs and replay in "
                      << (fs::path(opt.out_dir) / "failures.txt").string() << ")\n";
        const Outcome& first = *runs.front();
        const auto draw = scenario::draw_swarm_run(bases.of(first.seed), first.seed);
        const std::string drawn = (fs::path(opt.out_dir) / ("seed-" + std::to_string(first.seed) + ".yaml")).string();
        std::ofstream(drawn) << "# iscsilab swarm run, seed " << first.seed << ": " << signature << "\n"
                             << "# replay: iscsilab run " << drawn << " --seed " << first.seed << defect_flags(opt) << "\n"
                             << scenario::write_scenario(draw.scenario);
        std::cout << "  drawn scenario: " << drawn << "\n";
        report::SwarmFailure rec;
        rec.seed = first.seed;
        rec.signature = signature;
        rec.runs = runs.size();
        rec.knobs = first.knobs;
        rec.failures = first.failures;
        rec.replay = replay_prefix(opt) + " --seed " + std::to_string(first.seed) + " --runs 1";
        rec.scenario_file = drawn;
        if (opt.shrink && first.signature.rfind("crash:", 0) != 0) {
            std::cout << "  shrinking seed " << first.seed << " (the same failure must stay: " << signature << ")\n" << std::flush;
            // In a child process: a candidate that crashes the simulation must not take
            // the swarm's results with it.
            int fds[2];
            if (pipe(fds) == 0) {
                const pid_t pid = fork();
                if (pid == 0) {
                    close(fds[0]);
                    const std::string line = shrink_one(draw.scenario, first, signature, opt) + "\n";
                    [[maybe_unused]] auto n = write(fds[1], line.data(), line.size());
                    close(fds[1]);
                    flush_coverage();
                    _exit(0);
                }
                close(fds[1]);
                std::string got;
                char tmp[4096];
                for (ssize_t n; (n = read(fds[0], tmp, sizeof tmp)) > 0;) got.append(tmp, static_cast<std::size_t>(n));
                close(fds[0]);
                int status = 0;
                if (pid > 0) waitpid(pid, &status, 0);
                std::istringstream in(got);
                if (in >> rec.shrink_steps >> rec.shrink_runs >> rec.shrunk_faults >> rec.shrunk_replays >> rec.shrunk_file) {
                } else {
                    std::cout << "  the shrink stopped: a candidate crashed the simulation ("
                              << (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status)) : std::string("exit")) << ")\n";
                }
            }
        }
        summary.failures.push_back(std::move(rec));
    }

    const std::size_t passed = done - failed;
    if (!opt.results.empty()) {
        summary.base = opt.bases.empty() ? "default-mix" : [&] {
            std::string b;
            for (const auto& f : opt.bases) b += (b.empty() ? "" : " ") + f;
            return b;
        }();
        summary.first_seed = opt.seed;
        summary.runs = done;
        summary.passed = passed;
        summary.failed = failed;
        summary.liveness = liveness;
        summary.shard = std::to_string(opt.shard_index) + "/" + std::to_string(opt.shard_count);
        summary.wall_seconds = wall;
        summary.wire = wire_sum;
        results.swarm.push_back(std::move(summary));
        results.sources.push_back(opt.results);
        std::string err;
        if (!report::save(results, opt.results, err)) std::cerr << "iscsilab swarm: " << err << "\n";
    }
    char line[320];
    std::snprintf(line, sizeof line,
                  "swarm: %zu runs, %zu passed, %zu failed (%zu liveness), %zu kinds of failure, %.1f runs/s on %u job(s), "
                  "%.0f kernel events and %.0f PDUs per run",
                  done, passed, failed, liveness, kinds.size(), wall > 0 ? static_cast<double>(done) / wall : 0.0, workers,
                  done ? static_cast<double>(events) / static_cast<double>(done) : 0.0,
                  done ? static_cast<double>(pdus) / static_cast<double>(done) : 0.0);
    std::cout << "\n" << line;
    if (not_run) std::cout << ", " << not_run << " not run (" << (opt.fail_fast && failed ? "stopped at the first failure" : "time limit") << ")";
    std::cout << "\n";
    if (failed == 0) return 0;
    return failed > liveness ? 1 : 3;
}

}  // namespace iscsilab::hil
