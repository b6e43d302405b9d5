// The wire checker: judges every PDU of every iSCSI connection, both directions, in
// order and with their times, against the wire rules of the catalogue (rules.hpp). It
// is a leaf: it knows bytes, TCP segments, PDUs and rule ids, nothing of the target.
// Fed from the simulated wire during a run, or from a capture (`iscsilab check`).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "reports/checker/rules.hpp"

namespace iscsilab::checker {

// One TCP endpoint; IPv4 addresses sit in the last four bytes, as IPv4-mapped IPv6.
struct Address {
    std::array<std::uint8_t, 16> ip{};
    std::uint16_t port = 0;
    static Address v4(std::uint32_t host_order_ip, std::uint16_t port);
    std::string text() const;
    friend bool operator<(const Address& a, const Address& b) {
        return a.ip != b.ip ? a.ip < b.ip : a.port < b.port;
    }
    friend bool operator==(const Address&, const Address&) = default;
};

struct TcpSegment {
    std::int64_t time_ns = 0;
    Address src, dst;
    std::uint32_t seq = 0;
    bool syn = false, fin = false, rst = false;
    bool has_ack = false;
    std::uint32_t ack = 0;    // what the sender has received of the other direction
    std::span<const std::byte> payload;
    bool truncated = false;   // the capture kept fewer bytes than the segment carried
    std::uint64_t frame = 0;  // the capture's frame number (1-based), 0 if none
};

struct Violation {
    Rule rule;
    std::uint32_t connection = 0;  // index, in order of first appearance
    std::string connection_name;   // "192.0.2.10:40000 -> 192.0.2.1:3260"
    bool from_initiator = false;   // the direction of the PDU judged
    std::uint64_t pdu_index = 0;   // PDUs of this connection, both directions, from 0
    std::int64_t time_ns = 0;
    std::uint64_t frame = 0;       // capture frame that completed the PDU (0 in simulation)
    std::string pdu;               // "SCSI Response ITT 0x12 StatSN 7"
    std::string detail;            // what was seen against what the rule wants
};

struct RuleTally {
    std::uint64_t exercised = 0, violated = 0;
};

struct Options {
    std::uint16_t target_port = 3260;
    std::size_t max_violations_kept = 1000;  // for each side; beyond this they are counted only
};

class WireChecker {
public:
    explicit WireChecker(Options o = {});
    ~WireChecker();
    WireChecker(const WireChecker&) = delete;
    WireChecker& operator=(const WireChecker&) = delete;

    // A TCP segment (either direction). Segments that do not touch the target port
    // are ignored.
    void segment(const TcpSegment& s);
    // A UDP datagram of our own record protocol (port 47474): the fault records tell
    // the checker where corruption was injected on purpose.
    void record(std::int64_t time_ns, std::span<const std::byte> payload);
    // End of input: connections still open are judged on what they showed.
    void finish();

    // Called at once for each violation (the simulation fails its run; --annotate
    // writes a record).
    std::function<void(const Violation&)> on_violation;

    const std::vector<Violation>& violations() const { return violations_; }
    std::uint64_t violation_count() const { return violation_count_; }
    const std::array<RuleTally, RULE_COUNT>& tally() const { return tally_; }
    std::uint64_t pdus() const { return pdus_; }
    std::uint64_t connections() const { return connections_; }
    // What the checker could not judge, and why (one line each, deduplicated).
    const std::vector<std::string>& notes() const { return notes_; }
    void note(std::string line);

    // Decoded PDUs, one callback each (for `iscsilab check --pdus` and the tshark test).
    struct PduEvent {
        std::uint32_t connection;
        bool from_initiator;
        std::int64_t time_ns;
        std::uint64_t frame;
        const struct Pdu* pdu;
    };
    std::function<void(const PduEvent&)> on_pdu;

    // For the connection state (internal).
    struct Conn;
    void report(Conn& c, Rule r, bool ok, const char* detail_fmt, ...) __attribute__((format(printf, 5, 6)));
    void pass(Rule r) { ++tally_[static_cast<std::size_t>(r)].exercised; }
    // Task management that ends tasks of every session at a target (CLEAR TASK SET, LUN
    // and target resets) counts up here, so a connection knows its open tasks may be
    // gone without a word on its own wire (SAM: TAS=0).
    std::uint64_t& reset_epoch(const Address& target) { return reset_epochs_[target]; }

private:
    Options opt_;
    std::map<std::pair<Address, Address>, std::unique_ptr<Conn>> conns_;  // (initiator, target)
    std::map<std::pair<Address, Address>, std::unique_ptr<Conn>>::iterator last_ = conns_.end();
    std::vector<Violation> violations_;
    std::uint64_t violation_count_ = 0, pdus_ = 0, connections_ = 0;
    std::array<RuleTally, RULE_COUNT> tally_{};
    std::vector<std::string> notes_;
    bool corruption_announced_ = false;
    std::map<Address, std::uint64_t> reset_epochs_;
    std::size_t kept_by_target_ = 0, kept_by_initiator_ = 0;
    friend struct ConnAccess;
};

}  // namespace iscsilab::checker
