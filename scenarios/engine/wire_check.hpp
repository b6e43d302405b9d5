// The wire checker (reports/checker) on the simulated wire: every segment every link
// delivers goes through it, so each run is judged against the catalogue's wire rules.
// A violation fails the run with its id, connection, PDU index and time, and rides in
// the run's pcap as a violation record next to the PDU that broke the rule.
#pragma once

#include <array>

#include <functional>
#include <string>
#include <vector>

#include "fabric/capture/capture.hpp"
#include "reports/checker/checker.hpp"

namespace iscsilab::scenario {

class WireCheckTap final : public capture::PacketTap {
public:
    // `emit` writes a record datagram into the run's trace (and pcap).
    explicit WireCheckTap(std::function<void(const capture::Datagram&)> emit);
    void segment(const capture::Segment& s) override;
    void datagram(const capture::Datagram& d) override;
    // End of the run: what is left open is judged; returns one line per violation.
    std::vector<std::string> finish();
    const checker::WireChecker& checker() const { return checker_; }
    // Per rule, how many of its violations the initiator made.
    const std::array<std::uint64_t, checker::RULE_COUNT>& by_initiator() const { return by_initiator_; }

private:
    checker::WireChecker checker_;
    std::function<void(const capture::Datagram&)> emit_;
    std::vector<std::string> lines_;
    std::array<std::uint64_t, checker::RULE_COUNT> by_initiator_{};
    Nanos now_{0};
};

}  // namespace iscsilab::scenario
