// Always-on invariants of the target core: the rules its own bookkeeping must keep (a
// task ends once, the CmdSN window stays within its bounds, buffers and R2Ts add up,
// sequence numbers advance as RFC 3720 §3.2.2 says). They run on every PDU, so a check
// is a comparison and nothing more; the text is built only when one fails.
//
// A broken invariant is reported as one line naming the connection (its number, peer,
// CID, and the session's ISID and TSIH), the task (ITT, CmdSN) and what broke. The
// connection it concerns is closed; the process never is (Connection::invariant). The
// driver logs the line and hands it to its invariant handler, which a simulated run
// turns into a failure with its replay line.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace iscsilab::iscsi {

// Where an invariant broke.
struct InvariantSite {
    std::uint64_t connection = 0;
    std::string peer;
    std::uint16_t cid = 0;
    std::optional<std::array<std::byte, 6>> isid;  // once a session exists
    std::uint16_t tsih = 0;
    std::optional<std::uint32_t> itt, cmdsn;       // the task or the PDU in hand
};

// "connection 3 (192.0.2.10:40000, CID 0, ISID 0x801234000001, TSIH 1): ITT 0x00000005,
// CmdSN 17: what broke"
inline std::string describe(const InvariantSite& s, std::string_view what) {
    std::string out = "connection " + std::to_string(s.connection) + " (" + s.peer + ", CID " + std::to_string(s.cid);
    if (s.isid) {
        char b[48];
        const auto& i = *s.isid;
        std::snprintf(b, sizeof b, ", ISID 0x%02x%02x%02x%02x%02x%02x, TSIH %u", static_cast<unsigned>(i[0]),
                      static_cast<unsigned>(i[1]), static_cast<unsigned>(i[2]), static_cast<unsigned>(i[3]),
                      static_cast<unsigned>(i[4]), static_cast<unsigned>(i[5]), static_cast<unsigned>(s.tsih));
        out += b;
    }
    out += "): ITT ";
    if (s.itt) {
        char b[16];
        std::snprintf(b, sizeof b, "0x%08x", static_cast<unsigned>(*s.itt));
        out += b;
    } else {
        out += "-";
    }
    out += ", CmdSN " + (s.cmdsn ? std::to_string(*s.cmdsn) : std::string("-"));
    out += ": ";
    out += what;
    return out;
}

// What broke, as text: a string, or a callable that builds one (so that the numbers in
// it cost nothing while the invariant holds).
template <class What>
std::string invariant_text(What&& what) {
    if constexpr (std::is_invocable_v<What>) return std::string(what());
    else return std::string(std::forward<What>(what));
}

}  // namespace iscsilab::iscsi
