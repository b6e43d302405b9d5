#include "reports/checker/cli.hpp"

#include <cinttypes>
#include <cstdio>

#include "reports/checker/capture.hpp"
#include "reports/checker/checker.hpp"
#include "reports/checker/wire.hpp"

namespace iscsilab::checker {

namespace {

void print_violation(const Violation& v) {
    std::printf("VIOLATION %.*s  connection %u (%s) PDU #%" PRIu64 " t=%.9f s frame %" PRIu64 " [%s]\n    %.*s: %s\n    %s\n",
                static_cast<int>(info(v.rule).id.size()), info(v.rule).id.data(), v.connection, v.connection_name.c_str(),
                v.pdu_index, static_cast<double>(v.time_ns) / 1e9, v.frame, v.from_initiator ? "initiator's PDU" : "target's PDU",
                static_cast<int>(info(v.rule).text.size()), info(v.rule).text.data(), v.detail.c_str(),
                v.pdu.empty() ? "(at the end of the connection)" : v.pdu.c_str());
}

}  // namespace

int check_command(const CheckArgs& a) {
    Options o;
    o.target_port = a.port;
    WireChecker w(o);
    std::uint64_t by_target = 0, by_initiator = 0;
    w.on_violation = [&](const Violation& v) { ++(v.from_initiator ? by_initiator : by_target); };
    if (a.pdus) {
        std::printf("frame\tconnection\tdirection\topcode\titt\tsn24\tsn28\tsn32\tsn36\toffset\tdsl\n");
        w.on_pdu = [](const WireChecker::PduEvent& e) {
            const Pdu& p = *e.pdu;
            std::printf("%" PRIu64 "\t%u\t%s\t0x%02x\t0x%08x\t%u\t%u\t%u\t%u\t%u\t%u\n", e.frame, e.connection,
                        e.from_initiator ? "i" : "t", p.opcode, p.itt, p.f24, p.f28, p.f32, p.f36, p.f40, p.data_segment_length);
        };
    }
    const CaptureSummary s = check_capture(a.file, w, a.annotate);
    if (!s.usable) {
        std::fprintf(stderr, "iscsilab check: %s: %s\n", a.file.c_str(), s.error.c_str());
        return EXIT_UNUSABLE;
    }
    for (const auto& v : w.violations())
        if (!v.from_initiator) print_violation(v);
    if (by_initiator) {
        std::printf("-- deviations by the initiator (%" PRIu64 "; a test initiator breaks rules on purpose to see the target's answer):\n",
                    by_initiator);
        for (const auto& v : w.violations())
            if (v.from_initiator) print_violation(v);
    }
    for (const auto& n : w.notes()) std::printf("note: %s\n", n.c_str());
    std::size_t exercised = 0, violated = 0;
    for (std::size_t k = 0; k < RULE_COUNT; ++k) {
        const auto& t = w.tally()[k];
        if (t.exercised) ++exercised;
        if (t.violated) ++violated;
        if (a.rules)
            std::printf("rule %-48.*s exercised %10" PRIu64 "  violated %8" PRIu64 "\n", static_cast<int>(rules()[k].id.size()),
                        rules()[k].id.data(), t.exercised, t.violated);
    }
    std::printf("check: %s: %" PRIu64 " frames, %" PRIu64 " connections, %" PRIu64 " PDUs; %zu of %zu rules exercised, "
                "%zu passed, %zu violated; %" PRIu64 " violations by the target, %" PRIu64 " by the initiator%s\n",
                a.file.c_str(), s.frames, w.connections(), w.pdus(), exercised, RULE_COUNT, exercised - violated, violated,
                by_target, by_initiator, s.cut_off ? "; capture cut off (checked up to the cut)" : "");
    if (by_target || (a.strict && by_initiator)) return EXIT_VIOLATIONS;
    return EXIT_CLEAN;
}

}  // namespace iscsilab::checker
