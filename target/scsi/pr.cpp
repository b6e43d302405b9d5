// The persistent reservation state: TYPE predicates, registration bookkeeping and the queries.
#include "target/scsi/pr.hpp"

#include <algorithm>
#include <utility>

#include "target/scsi/pr_detail.hpp"

namespace iscsilab::scsi {

using namespace detail;

namespace detail {

bool valid_type(std::uint8_t t) {
    switch (t) {
        case static_cast<std::uint8_t>(PrType::WriteExclusive):
        case static_cast<std::uint8_t>(PrType::ExclusiveAccess):
        case static_cast<std::uint8_t>(PrType::WriteExclusiveRegistrantsOnly):
        case static_cast<std::uint8_t>(PrType::ExclusiveAccessRegistrantsOnly):
        case static_cast<std::uint8_t>(PrType::WriteExclusiveAllRegistrants):
        case static_cast<std::uint8_t>(PrType::ExclusiveAccessAllRegistrants):
            return true;
        default:
            return false;
    }
}

// SPC-4 §5.13.10: with an all registrants type every registered I_T nexus is a holder.
bool all_registrants(PrType t) {
    switch (t) {
        case PrType::WriteExclusiveAllRegistrants:
        case PrType::ExclusiveAccessAllRegistrants:
            return true;
        case PrType::WriteExclusive:
        case PrType::ExclusiveAccess:
        case PrType::WriteExclusiveRegistrantsOnly:
        case PrType::ExclusiveAccessRegistrantsOnly:
            return false;
    }
    return false;
}

bool registrants_only(PrType t) {
    switch (t) {
        case PrType::WriteExclusiveRegistrantsOnly:
        case PrType::ExclusiveAccessRegistrantsOnly:
            return true;
        case PrType::WriteExclusive:
        case PrType::ExclusiveAccess:
        case PrType::WriteExclusiveAllRegistrants:
        case PrType::ExclusiveAccessAllRegistrants:
            return false;
    }
    return false;
}

}  // namespace detail

// ---- state helpers (mu_ held) ----

const PersistentReservations::Registration* PersistentReservations::find(const Nexus& n) const {
    const ItNexusId id = ItNexusId::of(n);
    const Registration* best = nullptr;
    for (const auto& r : s_.regs)
        if (names(r.who, id) && (!best || specificity(r.who) > specificity(best->who))) best = &r;
    return best;
}

PersistentReservations::Registration* PersistentReservations::find(const Nexus& n) {
    return const_cast<Registration*>(std::as_const(*this).find(n));
}

bool PersistentReservations::holds(const Registration* r) const {
    if (!r || !s_.res) return false;
    return all_registrants(s_.res->type) || s_.res->holder == r->id;
}

void PersistentReservations::add(const ItNexusId& who, std::uint64_t key) {
    s_.regs.push_back(Registration{s_.next_id++, who, key});
}

// SPC-4 §5.13.11, unregistering (REGISTER with SERVICE ACTION RESERVATION KEY zero).
void PersistentReservations::unregister(std::uint64_t id, PrOutResult& out) {
    auto it = std::find_if(s_.regs.begin(), s_.regs.end(), [&](const auto& r) { return r.id == id; });
    if (it == s_.regs.end()) return;
    const bool was_holder = holds(&*it);
    s_.regs.erase(it);
    if (!was_holder) return;
    const PrType type = s_.res->type;
    if (all_registrants(type)) {
        // The reservation stays while any registrant (each one a holder) is left.
        if (s_.regs.empty()) s_.res.reset();
        return;
    }
    s_.res.reset();
    // A registrants only reservation released by its holder's unregistration: every
    // remaining registrant must learn it (RESERVATIONS RELEASED).
    if (registrants_only(type)) ua_all_but(0, asc::ReservationsReleased, out);
}

void PersistentReservations::ua_all_but(std::uint64_t except_id, Asc code, PrOutResult& out) const {
    for (const auto& r : s_.regs)
        if (r.id != except_id) out.unit_attentions.push_back(PrUnitAttention{r.who, code});
}

// ---- queries ----

bool PersistentReservations::any_registered() const {
    std::lock_guard lock(mu_);
    return !s_.regs.empty();
}

bool PersistentReservations::is_registered(const Nexus& n) const {
    std::lock_guard lock(mu_);
    return find(n) != nullptr;
}

bool PersistentReservations::is_holder(const Nexus& n) const {
    std::lock_guard lock(mu_);
    return holds(find(n));
}

bool PersistentReservations::reserved() const {
    std::lock_guard lock(mu_);
    return s_.res.has_value();
}

std::uint32_t PersistentReservations::generation() const {
    std::lock_guard lock(mu_);
    return s_.generation;
}

bool PersistentReservations::aptpl() const {
    std::lock_guard lock(mu_);
    return s_.aptpl;
}

const char* to_string(PrType t) {
    switch (t) {
        case PrType::WriteExclusive: return "Write Exclusive";
        case PrType::ExclusiveAccess: return "Exclusive Access";
        case PrType::WriteExclusiveRegistrantsOnly: return "Write Exclusive - Registrants Only";
        case PrType::ExclusiveAccessRegistrantsOnly: return "Exclusive Access - Registrants Only";
        case PrType::WriteExclusiveAllRegistrants: return "Write Exclusive - All Registrants";
        case PrType::ExclusiveAccessAllRegistrants: return "Exclusive Access - All Registrants";
    }
    return "?";
}

}  // namespace iscsilab::scsi
