// The APTPL record: save() and load() of the state that must survive power loss.
#include "target/scsi/pr.hpp"

#include <string_view>
#include <utility>

#include "target/bytes.hpp"
#include "target/scsi/pr_detail.hpp"

namespace iscsilab::scsi {

using namespace detail;

namespace detail {

void put8(Bytes& b, std::uint8_t v) { b.push_back(static_cast<std::byte>(v)); }
void put16(Bytes& b, std::uint16_t v) {
    b.resize(b.size() + 2);
    st16(b, b.size() - 2, v);
}
void put32(Bytes& b, std::uint32_t v) {
    b.resize(b.size() + 4);
    st32(b, b.size() - 4, v);
}
void put64(Bytes& b, std::uint64_t v) {
    b.resize(b.size() + 8);
    st64(b, b.size() - 8, v);
}
void put_str(Bytes& b, const std::string& s) {
    for (char c : s) b.push_back(static_cast<std::byte>(c));
}

}  // namespace detail

namespace {

// Bounded reading of the saved state.
struct Reader {
    std::span<const std::byte> b;
    std::size_t pos = 0;
    bool ok = true;
    bool need(std::size_t n) {
        if (!ok || b.size() - pos < n) ok = false;
        return ok;
    }
    std::uint8_t u8() { return need(1) ? ld8(b, (pos += 1) - 1) : 0; }
    std::uint16_t u16() { return need(2) ? ld16(b, (pos += 2) - 2) : 0; }
    std::uint32_t u32() { return need(4) ? ld32(b, (pos += 4) - 4) : 0; }
    std::uint64_t u64() { return need(8) ? ld64(b, (pos += 8) - 8) : 0; }
    std::string str(std::size_t n) {
        if (!need(n)) return {};
        std::string s(n, '\0');
        for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(ld8(b, pos + i));
        pos += n;
        return s;
    }
};

// The saved state's format, version 1 (big-endian):
//   "IPRS" u8 version=1 u8 flags(bit 0: APTPL) u32 PRgeneration
//   u8 reservation TYPE (0: none) u8 SCOPE u16 holder index (0xffff: none or all registrants)
//   u16 count, then per registration in READ KEYS order:
//   u64 RESERVATION KEY, u8 n + n bytes iSCSI name, u8 m + m bytes ISID (0 or 12),
//   u8 has target port, u16 RELATIVE TARGET PORT IDENTIFIER
constexpr std::string_view kMagic = "IPRS";
constexpr std::uint8_t kFormatVersion = 1;
constexpr std::uint16_t kNoHolder = 0xffff;

}  // namespace

// ---- APTPL: save and load ----

Bytes PersistentReservations::save() const {
    std::lock_guard lock(mu_);
    return save_locked();
}

Bytes PersistentReservations::save_locked() const {
    if (!s_.aptpl) return {};
    Bytes b;
    put_str(b, std::string(kMagic));
    put8(b, kFormatVersion);
    put8(b, 0x01);  // APTPL
    put32(b, s_.generation);
    std::uint16_t holder = kNoHolder;
    if (s_.res && !all_registrants(s_.res->type))
        for (std::size_t i = 0; i < s_.regs.size(); ++i)
            if (s_.regs[i].id == s_.res->holder) holder = static_cast<std::uint16_t>(i);
    put8(b, s_.res ? static_cast<std::uint8_t>(s_.res->type) : 0);
    put8(b, s_.res ? s_.res->scope : 0);
    put16(b, holder);
    put16(b, static_cast<std::uint16_t>(s_.regs.size()));
    for (const auto& e : s_.regs) {
        put64(b, e.key);
        put8(b, static_cast<std::uint8_t>(e.who.initiator_name.size()));
        put_str(b, e.who.initiator_name);
        put8(b, static_cast<std::uint8_t>(e.who.isid.size()));
        put_str(b, e.who.isid);
        put8(b, e.who.relative_target_port ? 1 : 0);
        put16(b, e.who.relative_target_port.value_or(0));
    }
    return b;
}

std::string PersistentReservations::load(std::span<const std::byte> saved) {
    State st;
    if (!saved.empty()) {
        Reader in{saved};
        if (in.str(kMagic.size()) != kMagic || !in.ok) return "not a saved persistent reservation state";
        if (const auto v = in.u8(); v != kFormatVersion) return "unknown format version " + std::to_string(v);
        const std::uint8_t flags = in.u8();
        if (flags != 0x01) return "bad flags (the state is saved only with APTPL set)";
        in.u32();  // PRgeneration: a power on sets it to zero (SPC-4 §6.15.2)
        const std::uint8_t type = in.u8();
        const std::uint8_t scope = in.u8();
        const std::uint16_t holder = in.u16();
        const std::uint16_t count = in.u16();
        if (!in.ok) return "truncated header";
        if (count > kMaxRegistrations) return "too many registrations";
        if (type != 0 && !valid_type(type)) return "bad reservation type";
        if (scope != kLuScope) return "bad reservation scope";
        for (std::uint16_t i = 0; i < count; ++i) {
            Registration e;
            e.id = st.next_id++;
            e.key = in.u64();
            e.who.initiator_name = in.str(in.u8());
            e.who.isid = in.str(in.u8());
            const std::uint8_t has_port = in.u8();
            const std::uint16_t port = in.u16();
            if (!in.ok) return "truncated registration " + std::to_string(i);
            if (e.key == 0) return "registration " + std::to_string(i) + " has key zero";
            if (!valid_name(e.who.initiator_name) || e.who.initiator_name != lower(e.who.initiator_name))
                return "registration " + std::to_string(i) + " has a bad iSCSI name";
            if (!e.who.isid.empty() && normalize_isid(e.who.isid) != e.who.isid)
                return "registration " + std::to_string(i) + " has a bad ISID";
            if (has_port > 1 || (has_port == 1 && port == 0) || (has_port == 0 && port != 0))
                return "registration " + std::to_string(i) + " has a bad target port";
            if (has_port) e.who.relative_target_port = port;
            for (const auto& o : st.regs)
                if (o.who == e.who) return "registration " + std::to_string(i) + " is a duplicate";
            st.regs.push_back(std::move(e));
        }
        if (in.pos != saved.size()) return "trailing bytes";
        if (type != 0) {
            const auto t = static_cast<PrType>(type);
            if (all_registrants(t)) {
                if (holder != kNoHolder || st.regs.empty()) return "bad all registrants reservation";
                st.res = Reservation{t, scope, 0};
            } else {
                if (holder >= st.regs.size()) return "bad reservation holder";
                st.res = Reservation{t, scope, st.regs[holder].id};
            }
        } else if (holder != kNoHolder) {
            return "a holder without a reservation";
        }
        st.aptpl = true;
    }
    std::lock_guard lock(mu_);
    s_ = std::move(st);
    return {};
}

}  // namespace iscsilab::scsi
