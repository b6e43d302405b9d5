#include "hil/peer_suite.hpp"

#include "hil/process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "reports/checker/capture.hpp"
#include "reports/checker/checker.hpp"
#include "reports/report/peer_parse.hpp"
#include "reports/report/results.hpp"

namespace iscsilab::hil {

namespace fs = std::filesystem;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int peer_suite(const PeerSuiteOptions& opt) {
    const auto t0 = std::chrono::steady_clock::now();
    char tmpl[] = "/tmp/iscsilab-peer-XXXXXX";
    if (!mkdtemp(tmpl)) {
        std::cerr << "iscsilab peer-suite: cannot make a work folder\n";
        return 2;
    }
    const fs::path work(tmpl);
    // LUN 0: a 256 MiB thin-provisioned disk for every family; LUN 1: a removable one, for the families
    // that skip on a fixed disk (PREVENT ALLOW MEDIUM REMOVAL, START STOP UNIT); LUN 2: a
    // write-protected one, for the family that skips on a writable disk (ReadOnly).
    for (const char* name : {"disk0.img", "disk1.img", "disk2.img"}) {
        std::ofstream(work / name).close();
        fs::resize_file(work / name, 256ull << 20);
    }
    const std::string target = "iqn.2026-11.org.iscsilab:peer";
    {
        std::ofstream conf(work / "peer.conf");
        conf << "HANDLER vdisk_fileio {\n"
             // Thin provisioned, so that the Unmap, WriteSame*.Unmap* and GetLBAStatus
             // families run rather than skip.
             << "    DEVICE disk0 {\n        filename " << (work / "disk0.img").string()
             << "\n        thin_provisioned 1\n    }\n"
             << "    DEVICE disk1 {\n        filename " << (work / "disk1.img").string() << "\n        removable 1\n    }\n"
             << "    DEVICE disk2 {\n        filename " << (work / "disk2.img").string() << "\n        read_only 1\n        thin_provisioned 1\n    }\n"
             << "}\nTARGET_DRIVER iscsi {\n    enabled 1\n    TARGET " << target << " {\n"
             << "        LUN 0 disk0\n        LUN 1 disk1\n        LUN 2 disk2\n        enabled 1\n    }\n"
             // A second path to disk0 through another target, so that the MultipathIO
             // family runs (libiscsi matches the paths by their VPD 83h designators).
             << "    TARGET " << target << "-path2 {\n        LUN 0 disk0\n        enabled 1\n    }\n}\n";
    }
    const std::string self = fs::read_symlink("/proc/self/exe").string();
    const std::string ready = (work / "ready").string();
    const pid_t serve = spawn({self, "serve", "-q", "--listen", "127.0.0.1:0", "--ready-file", ready, "-c",
                               (work / "peer.conf").string(), "--mgmt-socket", (work / "mgmt.sock").string(),
                               "--state-dir", (work / "state").string()},
                              (work / "serve.log").string());
    std::string portal;
    for (int k = 0; k < 100 && portal.empty(); ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        portal = slurp(ready);
        while (!portal.empty() && (portal.back() == '\n' || portal.back() == ' ')) portal.pop_back();
    }
    if (portal.empty()) {
        std::cerr << "iscsilab peer-suite: iscsilab serve did not start:\n" << slurp((work / "serve.log").string());
        finish(serve, SIGTERM);
        return 2;
    }
    const std::string port = portal.substr(portal.rfind(':') + 1);
    pid_t capture = -1;
    if (!opt.capture.empty()) {
        // A large buffer: loopback runs fast, and a dropped packet leaves a connection unjudged.
        capture = spawn({"dumpcap", "-q", "-B", "512", "-i", "lo", "-f", "tcp port " + port, "-w", opt.capture},
                        (work / "dumpcap.log").string());
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }

    // iscsi-test-cu: every family on LUN 0 (two initiator names for the reservation
    // families), then the removable-medium families on LUN 1 and the write-protected one on
    // LUN 2.
    struct Run {
        std::string tests, lun;
    };
    std::vector<Run> runs = {{opt.tests, "0"}};
    if (opt.tests == "ALL") runs.push_back({"SCSI.PreventAllow,SCSI.StartStopUnit", "1"});
    if (opt.tests == "ALL") runs.push_back({"SCSI.ReadOnly", "2"});
    std::vector<report::PeerTest> tests;
    std::size_t k = 0;
    for (const auto& r : runs) {
        const auto tr = std::chrono::steady_clock::now();
        const std::string log = (work / ("cu-" + std::to_string(k++) + ".log")).string();
        std::vector<std::string> argv = {"timeout", "1200", "iscsi-test-cu", "--dataloss", "-i",
                                         "iqn.2026-11.org.iscsilab:peer-a", "-I", "iqn.2026-11.org.iscsilab:peer-b",
                                         "-t", r.tests, "iscsi://" + portal + "/" + target + "/" + r.lun};
        if (r.lun == "0") argv.push_back("iscsi://" + portal + "/" + target + "-path2/0");  // the second path
        const pid_t cu = spawn(argv, log);
        const int rc = finish(cu, 0);
        const auto got = report::parse_iscsi_test_cu(slurp(log));
        const auto c = report::count(got);
        std::cout << "peer suite: iscsi-test-cu -t " << r.tests << " on LUN " << r.lun << ": " << c.total() << " tests, "
                  << c.passed << " passed, " << c.skipped << " skipped, " << c.failed << " failed (exit " << rc << ", "
                  << static_cast<int>(since(tr)) << " s)\n";
        std::cout.flush();
        for (const auto& t : got) {
            // A test run on both LUNs counts once: the run that did not skip it wins.
            auto same = std::find_if(tests.begin(), tests.end(), [&](const report::PeerTest& x) { return x.name == t.name; });
            if (same == tests.end()) tests.push_back(t);
            else if (same->outcome == "skipped") *same = t;
        }
        if (!opt.keep_logs.empty()) {
            std::error_code ec;
            fs::create_directories(opt.keep_logs, ec);
            fs::copy_file(log, fs::path(opt.keep_logs) / fs::path(log).filename(), fs::copy_options::overwrite_existing, ec);
            if (ec) std::cerr << "iscsilab peer-suite: cannot keep " << log << ": " << ec.message() << "\n";
        }
    }
    if (capture > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        finish(capture, SIGINT);
    }
    const int serve_rc = finish(serve, SIGTERM);

    report::Results res;
    res.peer_tests = tests;
    if (!opt.capture.empty()) {
        checker::Options co;
        co.target_port = static_cast<std::uint16_t>(std::stoul(port));
        checker::WireChecker w(co);
        const auto s = checker::check_capture(opt.capture, w);
        std::uint64_t by_target = 0;
        for (const auto& v : w.violations()) by_target += !v.from_initiator;
        for (std::size_t r = 0; r < checker::RULE_COUNT; ++r) {
            const auto& t = w.tally()[r];
            if (!t.exercised && !t.violated) continue;
            // Deviations of the test initiator (it breaks rules on purpose) are not the
            // target's: only the target's own violations count against a requirement.
            std::uint64_t target_violations = 0;
            for (const auto& v : w.violations()) target_violations += !v.from_initiator && static_cast<std::size_t>(v.rule) == r;
            res.peer_wire[std::string(checker::rules()[r].id)] = {t.exercised, target_violations};
        }
        res.peer_capture = opt.capture;
        if (opt.capture_on_violation_only && by_target == 0) {
            fs::remove(opt.capture);
            res.peer_capture.clear();
        }
        std::cout << "peer suite: wire checker on the capture: " << w.pdus() << " PDUs on " << w.connections() << " connections, "
                  << by_target << " violations by the target" << (s.usable ? "" : " (capture unusable: " + s.error + ")") << "\n";
    }
    const auto c = report::count(tests);
    if (!opt.results.empty()) {
        res.sources.push_back(opt.results);
        std::string err;
        if (!report::save(res, opt.results, err)) std::cerr << "iscsilab peer-suite: " << err << "\n";
    }
    if (serve_rc != 0) std::cerr << "iscsilab peer-suite: serve exited with " << serve_rc << ":\n" << slurp((work / "serve.log").string());
    fs::remove_all(work);
    std::cout << "peer suite: " << c.total() << " tests, " << c.passed << " passed, " << c.skipped << " skipped, " << c.failed
              << " failed in " << static_cast<int>(since(t0)) << " s\n";
    return c.failed == 0 && serve_rc == 0 && c.total() > 0 ? 0 : 1;
}

}  // namespace iscsilab::hil
