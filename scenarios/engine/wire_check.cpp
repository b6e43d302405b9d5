#include "scenarios/engine/wire_check.hpp"

#include <cstdio>

#include "reports/checker/violation_record.hpp"

namespace iscsilab::scenario {

WireCheckTap::WireCheckTap(std::function<void(const capture::Datagram&)> emit) : emit_(std::move(emit)) {
    checker_.on_violation = [this](const checker::Violation& v) {
        if (v.from_initiator) ++by_initiator_[static_cast<std::size_t>(v.rule)];
        char at[64];
        std::snprintf(at, sizeof at, "%.6f ms", static_cast<double>(v.time_ns) / 1e6);
        const auto& r = checker::info(v.rule);
        lines_.push_back("wire rule " + std::string(r.id) + " broken by the " + (v.from_initiator ? "initiator" : "target") +
                         " on connection " + std::to_string(v.connection) + " (" + v.connection_name + "), PDU #" +
                         std::to_string(v.pdu_index) + " at " + at + ": " + std::string(r.text) + ": " + v.detail +
                         (v.pdu.empty() ? "" : " [" + v.pdu + "]"));
        const auto rec = checker::encode_violation_record(v);
        capture::Datagram d;
        d.time = now_;
        d.src = {0xc00002feu, checker::VIOLATION_RECORD_PORT};
        d.dst = {0xc0000201u, checker::VIOLATION_RECORD_PORT};
        d.payload = rec;
        if (emit_) emit_(d);
    };
}

void WireCheckTap::segment(const capture::Segment& s) {
    now_ = s.time;
    checker::TcpSegment t;
    t.time_ns = s.time.count();
    t.src = checker::Address::v4(s.src.ip, s.src.port);
    t.dst = checker::Address::v4(s.dst.ip, s.dst.port);
    t.seq = s.seq;
    t.syn = s.flags & capture::tcp_flags::SYN;
    t.fin = s.flags & capture::tcp_flags::FIN;
    t.rst = s.flags & capture::tcp_flags::RST;
    t.has_ack = s.flags & capture::tcp_flags::ACK;
    t.ack = s.ack;
    t.payload = s.payload;
    checker_.segment(t);
}

void WireCheckTap::datagram(const capture::Datagram& d) {
    checker_.record(d.time.count(), d.payload);
}

std::vector<std::string> WireCheckTap::finish() {
    checker_.finish();
    return std::move(lines_);
}

}  // namespace iscsilab::scenario
