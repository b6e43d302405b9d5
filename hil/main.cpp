// iscsilab: the command-line program.
#include <CLI/CLI.hpp>

#include <iostream>

#include "hil/adm.hpp"
#include "hil/peer_suite.hpp"
#include "hil/report_stages.hpp"
#include "hil/serve.hpp"
#include "hil/sim_runner.hpp"
#include "hil/swarm_runner.hpp"
#include "reports/checker/cli.hpp"
#include "target/defects.hpp"

#include <cstdlib>

// libsystemc.so wants an sc_main; this program has its own main and drives SystemC
// from `iscsilab run`.
extern "C" int sc_main(int, char**) { return 0; }

namespace {
// --shard I/N: the I-th (0-based) of N shares.
bool parse_shard(const std::string& text, unsigned& index, unsigned& count) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) return false;
    try {
        index = static_cast<unsigned>(std::stoul(text.substr(0, slash)));
        count = static_cast<unsigned>(std::stoul(text.substr(slash + 1)));
    } catch (...) {
        return false;
    }
    return count > 0 && index < count;
}
// --defect NAME...: deliberate defects, in a build made with -DISCSILAB_DEFECTS=ON only.
bool arm_defects(const std::vector<std::string>& names, const char* command) {
    namespace df = iscsilab::defects;
    for (const auto& d : names) {
        if (!df::compiled()) {
            std::cerr << "iscsilab " << command << ": --defect " << d << ": this build has no deliberate defects "
                         "(configure with -DISCSILAB_DEFECTS=ON)\n";
            return false;
        }
        if (!df::arm(d)) {
            std::cerr << "iscsilab " << command << ": unknown defect '" << d << "'; known:";
            for (auto n : df::names()) std::cerr << ' ' << n;
            std::cerr << '\n';
            return false;
        }
    }
    return true;
}
}  // namespace

int main(int argc, char** argv) {
    setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 1);
    CLI::App app{"iscsilab: a userspace iSCSI target (SCST-compatible configuration) and its testbed"};
    app.require_subcommand(1);

    iscsilab::hil::ServeOptions serve;
    auto* s = app.add_subcommand("serve", "serve iSCSI targets on real sockets");
    s->add_option("--listen", serve.listen, "HOST:PORT to listen on")->capture_default_str();
    s->add_option("-c,--config", serve.config_file, "scst.conf-format configuration (default: embedded)");
    s->add_option("--reactors", serve.reactors, "event loops (default: one per core)");
    s->add_option("--ready-file", serve.ready_file, "write HOST:PORT here once listening");
    s->add_flag("-q,--quiet", serve.quiet, "no event log on stderr");
    s->add_option("--state-dir", serve.state_dir,
                  "where APTPL persistent reservations are kept (<DIR>/pr/<device>; 'none': nowhere)")
        ->envname("ISCSILAB_STATE_DIR")
        ->capture_default_str();
    s->add_option("--max-cmd-mem", serve.max_cmd_mem_mb,
                  "MiB that commands' data buffers may hold at once; past it, TASK SET FULL/BUSY (default: a quarter of RAM)");
    s->add_option("--poll-us", serve.poll_us,
                  "microseconds a lightly loaded reactor polls before it sleeps: a shorter QD1 round trip (0: never)")
        ->capture_default_str();
    s->add_option("--sendfile-min", serve.sendfile_min,
                  "bytes from which a vdisk_fileio read held in the page cache leaves by sendfile (0: never; "
                  "try 65536 on a host where it measures better)")
        ->capture_default_str();
    s->add_option("--mgmt-socket", serve.mgmt_socket, "unix socket for `iscsilab adm` (default: $ISCSILAB_SOCKET or /tmp/iscsilab.sock)");

    std::string socket;
    auto* adm = app.add_subcommand("adm", "the management tree of a running serve: ls [-R] [PATH], cat PATH, "
                                          "set PATH VALUE, mgmt PATH COMMAND..., save FILE, load FILE");
    adm->add_option("--socket", socket, "the serve's unix socket");
    adm->prefix_command();

    iscsilab::hil::RunOptions run;
    std::string shard;
    auto* r = app.add_subcommand("run", "run scenario files and folders in simulated time");
    r->add_option("paths", run.paths, "scenario files or folders")->required();
    r->add_option("--seed", run.seed, "the run's seed")->capture_default_str();
    r->add_option("--repeat", run.repeat, "run each scenario K times, seeds seed..seed+K-1");
    r->add_option("--shard", shard, "I/N: run only the I-th of N shares (0-based)");
    r->add_option("--junit", run.junit, "write JUnit XML here");
    r->add_option("--pcap", run.pcap_dir, "write one pcap per scenario into this folder");
    r->add_option("--jobs,-j", run.jobs, "worker processes");
    r->add_option("--results", run.results, "write JSON results for `iscsilab report` here");
    std::vector<std::string> defects;
    r->add_option("--defect", defects, "arm a deliberate defect in the target (repeatable; a build with "
                                       "-DISCSILAB_DEFECTS=ON only)");

    iscsilab::hil::SwarmOptions sw;
    std::string sw_shard;
    unsigned sw_shards = 0;
    bool no_shrink = false;
    auto* sm = app.add_subcommand("swarm", "many simulated runs, each drawing every knob and its faults from its own seed; "
                                           "failures are shrunk to a small scenario (exit 0 passed, 1 a check failed, "
                                           "2 bad input, 3 a liveness failure)");
    sm->add_option("scenarios", sw.bases, "base scenario files (default: the built-in mix)");
    sm->add_option("--runs,-n", sw.runs, "runs in all shards together")->capture_default_str();
    sm->add_option("--seed", sw.seed, "run k has seed SEED+k")->capture_default_str();
    sm->add_option("--jobs,-j", sw.jobs, "worker processes")->capture_default_str();
    sm->add_option("--shard", sw_shard, "I/N: only every N-th run from the I-th (0-based); default from "
                                        "SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX");
    sm->add_option("--shards", sw_shards, "the shard count that goes with JOB_COMPLETION_INDEX (Kubernetes Indexed Job)");
    sm->add_option("--minutes", sw.minutes, "start no run after this many minutes");
    sm->add_flag("-v,--verbose", sw.verbose, "one line per run, in iscsilab run's form");
    sm->add_flag("--no-shrink", no_shrink, "report failures without shrinking them");
    sm->add_flag("--fail-fast", sw.fail_fast, "stop at the first failing run");
    sm->add_flag("--draw-only", sw.draw_only, "print each run's drawn scenario (YAML for iscsilab run) and run nothing");
    sm->add_option("--shrink-runs", sw.shrink_runs, "runs one shrink may take")->capture_default_str();
    sm->add_option("--out", sw.out_dir, "where the drawn and shrunk scenarios of failing runs go")->capture_default_str();
    sm->add_option("--results", sw.results, "write JSON results for `iscsilab report --from` here");
    sm->add_option("--defect", sw.defects, "arm a deliberate defect in the target (repeatable; test builds only)");

    iscsilab::checker::CheckArgs check;
    auto* ck = app.add_subcommand("check", "judge the iSCSI PDUs of a capture against the catalogue's wire rules "
                                           "(exit 0 clean, 1 violations, 2 unusable input)");
    ck->add_option("file", check.file, "a pcap or pcapng file (tcpdump, dumpcap, iscsilab run --pcap)")->required();
    ck->add_option("--port", check.port, "the target's TCP port")->capture_default_str();
    ck->add_option("--annotate", check.annotate, "write a copy of the capture with a violation record after each offending PDU");
    ck->add_flag("--pdus", check.pdus, "print every decoded PDU, tab-separated");
    ck->add_flag("--rules", check.rules, "print how often each rule was exercised and violated");
    ck->add_flag("--strict", check.strict, "deviations by the initiator fail the check too");

    iscsilab::hil::PeerSuiteOptions peer;
    auto* ps = app.add_subcommand("peer-suite", "libiscsi's iscsi-test-cu against iscsilab serve, each test counted passed, "
                                                "skipped or failed");
    ps->add_option("--tests,-t", peer.tests, "iscsi-test-cu -t (families, suites or tests, comma-separated)")->capture_default_str();
    ps->add_option("--results", peer.results, "write JSON results for `iscsilab report` here");
    ps->add_option("--capture", peer.capture, "capture the suite with dumpcap into this pcap and check it");
    ps->add_option("--keep-logs", peer.keep_logs, "copy iscsi-test-cu's console logs into this folder");

    iscsilab::hil::ReportOptions rep;
    std::string rep_shard;
    bool no_peer = false;
    auto* rp = app.add_subcommand("report", "the RFC 3720 conformance report: runs the suites, the peer suite, unit tests and "
                                            "coverage (or merges --from results) and writes index.html, report.md, junit.xml, results.json");
    rp->add_option("--from", rep.from, "results files or folders of earlier runs (no stage runs then)");
    rp->add_option("--out", rep.out, "where the report goes")->capture_default_str();
    rp->add_option("--catalogue", rep.catalogue, "the requirement catalogue")->capture_default_str();
    rp->add_option("--suites", rep.suites, "scenario files and folders")->capture_default_str();
    rp->add_option("--swarm-runs", rep.swarm_runs, "swarm runs over the default mix (0: none)")->capture_default_str();
    rp->add_option("--seed", rep.seed, "the scenarios' seed")->capture_default_str();
    rp->add_option("--shard", rep_shard, "I/N: run only the I-th of N shares of the scenarios");
    rp->add_option("--jobs,-j", rep.jobs, "scenario worker processes")->capture_default_str();
    rp->add_flag("--no-peer", no_peer, "skip the peer suite");
    rp->add_flag("--all-pcaps", rep.all_pcaps, "keep every pcap (default: only failed runs', and the peer capture when the target broke a rule)");
    rp->add_option("--peer-tests", rep.peer_tests, "iscsi-test-cu -t for the peer suite")->capture_default_str();
    rp->add_option("--unit-tests", rep.unit_tests, "folder of the unit test binaries (test_*) to run");
    rp->add_option("--coverage", rep.coverage_build, "the coverage build folder: gcovr reads its counters");
    rp->add_option("--source-root", rep.source_root, "the source tree, for gcovr")->capture_default_str();

    CLI11_PARSE(app, argc, argv);
    if (rp->parsed()) {
        rep.peer = !no_peer;
        if (!rep_shard.empty() && !parse_shard(rep_shard, rep.shard_index, rep.shard_count)) {
            std::cerr << "iscsilab report: --shard wants I/N with 0 <= I < N\n";
            return 2;
        }
        return iscsilab::hil::report_main(rep);
    }
    if (ps->parsed()) return iscsilab::hil::peer_suite(peer);
    if (sm->parsed()) {
        sw.shrink = !no_shrink;
        if (!sw_shard.empty()) {
            if (!parse_shard(sw_shard, sw.shard_index, sw.shard_count)) {
                std::cerr << "iscsilab swarm: --shard wants I/N with 0 <= I < N\n";
                return 2;
            }
        } else {
            std::string err;
            if (!iscsilab::hil::shard_from_environment(sw_shards, sw.shard_index, sw.shard_count, err) && !err.empty()) {
                std::cerr << "iscsilab swarm: " << err << "\n";
                return 2;
            }
        }
        if (!arm_defects(sw.defects, "swarm")) return 2;
        return iscsilab::hil::run_swarm(sw);
    }
    if (ck->parsed()) return iscsilab::checker::check_command(check);
    if (r->parsed()) {
        if (!shard.empty() && !parse_shard(shard, run.shard_index, run.shard_count)) {
            std::cerr << "iscsilab run: --shard wants I/N with 0 <= I < N\n";
            return 2;
        }
        if (!arm_defects(defects, "run")) return 2;
        return iscsilab::hil::run_scenarios(run);
    }
    if (s->parsed()) return iscsilab::hil::serve(serve);
    if (adm->parsed())
        return iscsilab::hil::adm_main(socket.empty() ? iscsilab::hil::default_socket_path() : socket, adm->remaining());
    return 0;
}
