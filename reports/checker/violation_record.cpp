#include "reports/checker/violation_record.hpp"

namespace iscsilab::checker {

namespace {
void put(std::vector<std::byte>& v, std::uint64_t x, int bytes) {
    for (int k = bytes - 1; k >= 0; --k) v.push_back(std::byte(x >> (8 * k)));
}
}  // namespace

std::vector<std::byte> encode_violation_record(const Violation& v) {
    std::vector<std::byte> b;
    const auto id = info(v.rule).id;
    std::string text = std::string(info(v.rule).text) + ": " + v.detail + (v.pdu.empty() ? "" : " [" + v.pdu + "]");
    if (text.size() > 1000) text.resize(1000);
    b.reserve(VIOLATION_RECORD_HEADER + id.size() + 2 + text.size());
    put(b, VIOLATION_RECORD_MAGIC, 4);
    put(b, 1, 1);
    put(b, v.from_initiator ? 1 : 0, 1);
    put(b, v.connection, 4);
    put(b, v.pdu_index, 8);
    put(b, static_cast<std::uint64_t>(v.time_ns), 8);
    put(b, v.frame, 8);
    put(b, id.size(), 1);
    for (char ch : id) b.push_back(std::byte(ch));
    put(b, text.size(), 2);
    for (char ch : text) b.push_back(std::byte(ch));
    return b;
}

}  // namespace iscsilab::checker
