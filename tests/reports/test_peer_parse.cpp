#define BOOST_TEST_MODULE peer_parse
#include <boost/test/unit_test.hpp>

#include "reports/report/peer_parse.hpp"

// iscsi-test-cu's console, counted test by test (TOOLCHAIN.md: a skip is reported to
// CUnit as a pass; a [FAILED] line inside a passing test is a helper's expected failure).
using iscsilab::report::count;
using iscsilab::report::parse_iscsi_test_cu;

namespace {
// Shaped as libiscsi 1.19 prints it (see tests/reports/peer_counts.sh for a live run).
const char* SAMPLE =
    "     CUnit - A unit testing framework for C - Version 2.1-3\n"
    "Suite: Unmap\n"
    "  Test: Simple ...    [SKIPPED] Logical unit is fully provisioned. Skipping test\n"
    "passed\n"
    "  Test: VPD ...    [SKIPPED] UNMAP is not implemented.\n"
    "passed    [SKIPPED] PERSISTENT RESERVE IN is not implemented.\n"
    "\n"
    "Suite: Inquiry\n"
    "  Test: Standard ...passed\n"
    "  Test: AllocLength ...passed\n"
    "Suite: iSCSIdatasn\n"
    "  Test: iSCSIDataSnInvalid ...    [FAILED] WRITE10 command failed with status 251658241\n"
    "    [FAILED] WRITE10 command failed with status 251658241\n"
    "passed\n"
    "Suite: StartStopUnit\n"
    "  Test: Simple ...    [FAILED] TESTUNITREADY successful but should have failed\n"
    "FAILED\n"
    "    1. test_startstopunit_simple.c:53  - CU_ASSERT_EQUAL(_r,0)\n"
    "Run Summary:    Type  Total    Ran Passed Failed Inactive\n";
}  // namespace

BOOST_AUTO_TEST_SUITE(peer_parse_suite)

BOOST_AUTO_TEST_CASE(names_are_suite_dot_test) {
    const auto t = parse_iscsi_test_cu(SAMPLE);
    BOOST_REQUIRE_EQUAL(t.size(), 6u);
    BOOST_TEST(t[0].name == "Unmap.Simple");
    BOOST_TEST(t[2].name == "Inquiry.Standard");
    BOOST_TEST(t[5].name == "StartStopUnit.Simple");
}

BOOST_AUTO_TEST_CASE(a_skip_is_not_a_pass) {
    const auto t = parse_iscsi_test_cu(SAMPLE);
    BOOST_TEST(t[0].outcome == "skipped");
    BOOST_TEST(t[0].reason.find("fully provisioned") != std::string::npos);
    BOOST_TEST(t[1].outcome == "skipped");
}

BOOST_AUTO_TEST_CASE(a_skip_after_passed_belongs_to_no_test) {
    // "passed    [SKIPPED] PERSISTENT RESERVE IN ..." closes VPD; the skip is the next
    // suite's setup, so Inquiry.Standard still passes.
    const auto t = parse_iscsi_test_cu(SAMPLE);
    BOOST_TEST(t[2].outcome == "passed");
    BOOST_TEST(t[3].outcome == "passed");
}

BOOST_AUTO_TEST_CASE(failed_lines_inside_a_passing_test_are_no_failure) {
    const auto t = parse_iscsi_test_cu(SAMPLE);
    BOOST_TEST(t[4].name == "iSCSIdatasn.iSCSIDataSnInvalid");
    BOOST_TEST(t[4].outcome == "passed");
}

BOOST_AUTO_TEST_CASE(a_failed_test_is_failed) {
    const auto t = parse_iscsi_test_cu(SAMPLE);
    BOOST_TEST(t[5].outcome == "failed");
    const auto c = count(t);
    BOOST_TEST(c.passed == 3u);
    BOOST_TEST(c.skipped == 2u);
    BOOST_TEST(c.failed == 1u);
}

BOOST_AUTO_TEST_CASE(output_cut_inside_a_test_counts_it_failed) {
    const auto t = parse_iscsi_test_cu("Suite: Read10\n  Test: Simple ...    some output\n");
    BOOST_REQUIRE_EQUAL(t.size(), 1u);
    BOOST_TEST(t[0].outcome == "failed");
}

BOOST_AUTO_TEST_SUITE_END()
