// I_T nexus identity (ItNexusId, iSCSI names, ISIDs) and iSCSI TransportIDs (SPC-4 §7.6.4.6).
#include "target/scsi/pr.hpp"

#include <algorithm>
#include <string_view>

#include "target/bytes.hpp"
#include "target/scsi/pr_detail.hpp"

namespace iscsilab::scsi {

using namespace detail;

namespace {

// SPC-4 §7.6.4.1: PROTOCOL IDENTIFIER of iSCSI; §7.6.4.6: its TransportID FORMAT CODEs.
constexpr std::uint8_t kProtocolIscsi = 0x5;
constexpr std::uint8_t kFormatName = 0x0;  // 00b: iSCSI name
constexpr std::uint8_t kFormatPort = 0x1;  // 01b: iSCSI name, ",i,0x", ISID
constexpr std::string_view kSeparator = ",i,0x";
constexpr std::size_t kMaxIscsiName = 223;  // RFC 3720 §3.2.6.1
constexpr std::size_t kIsidDigits = 12;     // six bytes in hex

}  // namespace

namespace detail {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// What we accept as an iSCSI name, in TransportIDs, from a nexus and in a saved state
// alike: RFC 3720 §3.2.6.2 allows fewer characters (and UTF-8 beyond ASCII), but the name
// is the initiator's business; we need it bounded, free of control characters and of the
// separator's comma, so that what we register we can also report, save and load.
bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxIscsiName) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f && c != ',';
    });
}

// An ISID in hex, 12 digits in lower case; shorter (leading zeros dropped) is padded.
std::optional<std::string> normalize_isid(std::string_view h) {
    if (h.empty() || h.size() > kIsidDigits) return std::nullopt;
    std::string out(kIsidDigits - h.size(), '0');
    for (char c : h) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
        out.push_back(c);
    }
    return out;
}

// Does registration `reg` name the I_T nexus `nexus` (an exact identity)?
bool names(const ItNexusId& reg, const ItNexusId& nexus) {
    return reg.initiator_name == nexus.initiator_name && (reg.isid.empty() || reg.isid == nexus.isid) &&
           (!reg.relative_target_port || reg.relative_target_port == nexus.relative_target_port);
}

// Do two registrations name at least one I_T nexus in common?
bool overlap(const ItNexusId& a, const ItNexusId& b) {
    return a.initiator_name == b.initiator_name && (a.isid.empty() || b.isid.empty() || a.isid == b.isid) &&
           (!a.relative_target_port || !b.relative_target_port ||
            a.relative_target_port == b.relative_target_port);
}

int specificity(const ItNexusId& id) {
    return (id.isid.empty() ? 0 : 2) + (id.relative_target_port ? 1 : 0);
}

// SPC-4 §7.6.4.6, iSCSI TransportID: FORMAT CODE and PROTOCOL IDENTIFIER, ADDITIONAL
// LENGTH, then the null-terminated iSCSI name (00b) or "<name>,i,0x<ISID>" (01b).
std::optional<TransportId> parse_transport_id(std::span<const std::byte> b) {
    if (b.size() < 4) return std::nullopt;
    const std::uint8_t b0 = ld8(b, 0);
    if ((b0 & 0x0f) != kProtocolIscsi) return std::nullopt;
    const std::uint8_t format = b0 >> 6;
    if (format != kFormatName && format != kFormatPort) return std::nullopt;
    const std::size_t additional = ld16(b, 2);
    if (additional == 0 || 4 + additional > b.size()) return std::nullopt;
    std::string s;
    bool terminated = false;
    for (std::size_t i = 4; i < 4 + additional; ++i) {
        const auto c = static_cast<char>(ld8(b, i));
        if (c == '\0') {
            terminated = true;
            break;
        }
        s.push_back(c);
    }
    if (!terminated) return std::nullopt;
    s = lower(s);
    TransportId t;
    t.length = 4 + additional;
    if (format == kFormatName) {
        t.name = s;
    } else {
        const auto pos = s.find(kSeparator);
        if (pos == std::string::npos) return std::nullopt;
        t.name = s.substr(0, pos);
        auto isid = normalize_isid(std::string_view(s).substr(pos + kSeparator.size()));
        if (!isid) return std::nullopt;
        t.isid = *isid;
    }
    if (!valid_name(t.name)) return std::nullopt;
    return t;
}

// The TransportID READ FULL STATUS reports for a registration: format 01b when it names
// one initiator port, 00b when it names the initiator device. ADDITIONAL LENGTH is a
// multiple of four and at least 20 (SPC-4 §7.6.4.6).
Bytes transport_id(const ItNexusId& who) {
    const std::string s = who.initiator_port();
    std::size_t n = (s.size() + 1 + 3) & ~std::size_t{3};
    n = std::max<std::size_t>(n, 20);
    Bytes b(4 + n);
    st8(b, 0, static_cast<std::uint8_t>(((who.isid.empty() ? kFormatName : kFormatPort) << 6) | kProtocolIscsi));
    st16(b, 2, static_cast<std::uint16_t>(n));
    for (std::size_t i = 0; i < s.size(); ++i) b[4 + i] = static_cast<std::byte>(s[i]);
    return b;
}

}  // namespace detail

// ---- ItNexusId ----

ItNexusId ItNexusId::of(const Nexus& n) {
    ItNexusId id;
    const std::string port = lower(n.initiator_port.empty() ? n.initiator_name : n.initiator_port);
    const auto pos = port.rfind(kSeparator);
    std::optional<std::string> isid;
    if (pos != std::string::npos) isid = normalize_isid(std::string_view(port).substr(pos + kSeparator.size()));
    if (isid) {
        id.initiator_name = port.substr(0, pos);
        id.isid = *isid;
    } else {
        id.initiator_name = port;
    }
    id.relative_target_port = n.relative_target_port;
    return id;
}

bool ItNexusId::matches(const Nexus& n) const { return names(*this, of(n)); }

std::string ItNexusId::initiator_port() const {
    return isid.empty() ? initiator_name : initiator_name + std::string(kSeparator) + isid;
}

}  // namespace iscsilab::scsi
