#include "reports/report/peer_parse.hpp"

#include <optional>
#include <regex>
#include <sstream>

namespace iscsilab::report {

std::vector<PeerTest> parse_iscsi_test_cu(const std::string& output) {
    std::vector<PeerTest> out;
    std::string suite;
    std::optional<PeerTest> cur;
    std::string span;  // the text of the open test so far
    const std::regex suite_line(R"(^Suite: (\S+))");
    const std::regex test_line(R"(^\s+Test: (\S+) \.\.\.(.*)$)");
    auto close = [&](const std::string& outcome) {
        if (!cur) return;
        const auto skip = span.find("[SKIPPED]");
        if (outcome == "passed" && skip != std::string::npos) {
            cur->outcome = "skipped";
            auto end = span.find('\n', skip);
            cur->reason = span.substr(skip + 10, end == std::string::npos ? std::string::npos : end - skip - 10);
        } else {
            cur->outcome = outcome;
            if (outcome == "failed") cur->reason = span.substr(0, 2000);
        }
        out.push_back(std::move(*cur));
        cur.reset();
        span.clear();
    };
    std::istringstream in(output);
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_search(line, m, suite_line)) {
            suite = m[1];
            continue;
        }
        std::string rest = line;
        if (std::regex_match(line, m, test_line)) {
            cur = PeerTest{suite + "." + m[1].str(), "", ""};
            span.clear();
            rest = m[2];
        }
        if (!cur) continue;
        // The closing word: "passed" or "FAILED" at the start of the rest of the line,
        // or right after the "Test: ..." marker.
        std::string trimmed = rest;
        trimmed.erase(0, trimmed.find_first_not_of(' '));
        if (trimmed.rfind("passed", 0) == 0) {
            close("passed");
        } else if (trimmed.rfind("FAILED", 0) == 0) {
            close("failed");
        } else {
            // "... [SKIPPED] why" on the Test line itself, or lines in between. A line
            // ending in "passed" (output without a newline before it) closes too.
            span += trimmed + "\n";
            if (trimmed.size() >= 6 && trimmed.compare(trimmed.size() - 6, 6, "passed") == 0) close("passed");
            else if (trimmed.size() >= 6 && trimmed.compare(trimmed.size() - 6, 6, "FAILED") == 0) close("failed");
        }
    }
    if (cur) close("failed");  // the run ended inside a test (a crash, a time-out)
    return out;
}

PeerCounts count(const std::vector<PeerTest>& tests) {
    PeerCounts c;
    for (const auto& t : tests) {
        if (t.outcome == "passed") ++c.passed;
        else if (t.outcome == "skipped") ++c.skipped;
        else ++c.failed;
    }
    return c;
}

}  // namespace iscsilab::report
