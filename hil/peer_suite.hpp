// `iscsilab peer-suite`: libiscsi's iscsi-test-cu against `iscsilab serve` on loopback,
// with devices that let every family run that can, each test counted passed, skipped or
// failed (a [SKIPPED] is not a pass), and optionally the wire checker over a dumpcap
// capture of it all. Writes JSON results for `iscsilab report`.
#pragma once

#include <string>

namespace iscsilab::hil {

struct PeerSuiteOptions {
    std::string tests = "ALL";   // iscsi-test-cu -t
    std::string results;         // JSON results here
    std::string capture;         // dumpcap the suite into this pcap and check it
    std::string keep_logs;       // copy iscsi-test-cu's console logs into this folder
    bool capture_on_violation_only = false;  // delete the capture (it can be GBs) unless the target broke a rule
};

int peer_suite(const PeerSuiteOptions& opt);

}  // namespace iscsilab::hil
