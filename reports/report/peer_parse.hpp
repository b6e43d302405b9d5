// libiscsi's iscsi-test-cu console output, counted test by test. CUnit reports a test
// that libiscsi skipped ("[SKIPPED] why", then CU_PASS) as passed: here a skip is a
// skip. A test runs from its "Test: NAME ..." line to the "passed" or "FAILED" that
// closes it; a [SKIPPED] inside that span makes it skipped. A "[FAILED]" line inside a
// test that ends "passed" is a helper's log of an expected failure, not a failure.
#pragma once

#include <string>
#include <vector>

#include "reports/report/results.hpp"

namespace iscsilab::report {

std::vector<PeerTest> parse_iscsi_test_cu(const std::string& output);

struct PeerCounts {
    std::size_t passed = 0, skipped = 0, failed = 0;
    std::size_t total() const { return passed + skipped + failed; }
};
PeerCounts count(const std::vector<PeerTest>& tests);

}  // namespace iscsilab::report
