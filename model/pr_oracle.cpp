#include "model/pr_oracle.hpp"

#include <algorithm>
#include <cstdio>

namespace iscsilab::model {

namespace {
struct ActionName {
    PrAction a;
    const char* text;
    const char* spc;
};
constexpr ActionName kActions[] = {
    {PrAction::register_key, "register", "REGISTER"},
    {PrAction::reserve, "reserve", "RESERVE"},
    {PrAction::release, "release", "RELEASE"},
    {PrAction::clear, "clear", "CLEAR"},
    {PrAction::preempt, "preempt", "PREEMPT"},
    {PrAction::preempt_and_abort, "preempt_and_abort", "PREEMPT AND ABORT"},
    {PrAction::register_and_ignore_existing_key, "register_and_ignore_existing_key", "REGISTER AND IGNORE EXISTING KEY"},
};
struct TypeName {
    PrType t;
    const char* text;
    const char* spc;
};
constexpr TypeName kTypes[] = {
    {PrType::write_exclusive, "write_exclusive", "WRITE EXCLUSIVE"},
    {PrType::exclusive_access, "exclusive_access", "EXCLUSIVE ACCESS"},
    {PrType::write_exclusive_registrants_only, "write_exclusive_registrants_only", "WRITE EXCLUSIVE - REGISTRANTS ONLY"},
    {PrType::exclusive_access_registrants_only, "exclusive_access_registrants_only", "EXCLUSIVE ACCESS - REGISTRANTS ONLY"},
    {PrType::write_exclusive_all_registrants, "write_exclusive_all_registrants", "WRITE EXCLUSIVE - ALL REGISTRANTS"},
    {PrType::exclusive_access_all_registrants, "exclusive_access_all_registrants", "EXCLUSIVE ACCESS - ALL REGISTRANTS"},
};

bool all_registrants(PrType t) { return t == PrType::write_exclusive_all_registrants || t == PrType::exclusive_access_all_registrants; }
bool is_register(PrAction a) { return a == PrAction::register_key || a == PrAction::register_and_ignore_existing_key; }

std::string key_text(std::uint64_t k) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(k));
    return b;
}
std::string status_text(std::optional<std::uint8_t> s) {
    if (!s) return "no answer";
    switch (*s) {
        case kStatusGood: return "GOOD";
        case kStatusCheckCondition: return "CHECK CONDITION";
        case kStatusReservationConflict: return "RESERVATION CONFLICT";
        default: return "status " + key_text(*s);
    }
}
std::string state_text(const PrOracle::State& s) {
    if (!s.known) return "unknown";
    std::string t = "keys {";
    bool first = true;
    for (const auto& [who, k] : s.keys) {
        t += (first ? "" : ", ") + who + "=" + key_text(k);
        first = false;
    }
    t += "}, ";
    if (!s.res) return t + "no reservation";
    return t + spc_name(s.res->type) + " held by " + (s.res->holder.empty() ? "every registrant" : s.res->holder);
}

// SPC-4 §5.13.11.3: a nexus that loses its registration loses a reservation it holds;
// an all registrants reservation goes with its last registrant.
void unregister(PrOracle::State& s, const std::string& who) {
    s.keys.erase(who);
    if (!s.res) return;
    if (all_registrants(s.res->type) ? s.keys.empty() : s.res->holder == who) s.res.reset();
}
}  // namespace

const char* to_string(PrAction a) {
    for (const auto& n : kActions)
        if (n.a == a) return n.text;
    return "?";
}
const char* spc_name(PrAction a) {
    for (const auto& n : kActions)
        if (n.a == a) return n.spc;
    return "?";
}
const char* to_string(PrType t) {
    for (const auto& n : kTypes)
        if (n.t == t) return n.text;
    return "?";
}
const char* spc_name(PrType t) {
    for (const auto& n : kTypes)
        if (n.t == t) return n.spc;
    return "?";
}
bool pr_action_from_string(const std::string& s, PrAction& out) {
    for (const auto& n : kActions)
        if (s == n.text) {
            out = n.a;
            return true;
        }
    return false;
}
bool pr_type_from_string(const std::string& s, PrType& out) {
    for (const auto& n : kTypes)
        if (s == n.text) {
            out = n.t;
            return true;
        }
    return false;
}

PrOracle::Outcome PrOracle::apply(const State& s, const std::string& who, const PrOut& p) {
    Outcome o{std::nullopt, s};
    if (!s.known) return o;
    State& n = o.after;
    const auto mine = s.keys.find(who);
    const bool registered = mine != s.keys.end();
    auto conflict = [&s] { return Outcome{kStatusReservationConflict, s}; };
    const bool holder = s.res && (all_registrants(s.res->type) ? registered : s.res->holder == who);
    switch (p.action) {
        case PrAction::register_key:
            // SPC-4 §5.13.7: an unregistered nexus registers with RESERVATION KEY zero; a
            // registered one must name its key, then changes it or (SA key zero)
            // unregisters (§5.13.11.3).
            if (registered ? p.key != mine->second : p.key != 0) return conflict();
            [[fallthrough]];
        case PrAction::register_and_ignore_existing_key:
            // §5.13.8: the same without the RESERVATION KEY check.
            if (p.sa_key == 0) {
                if (registered) unregister(n, who);
            } else {
                n.keys[who] = p.sa_key;
            }
            o.status = kStatusGood;
            return o;
        case PrAction::reserve:
            // §5.13.9: only a registrant naming its own key; a reservation held by
            // another, or by itself with another type, conflicts.
            if (!registered || p.key != mine->second) return conflict();
            if (s.res) {
                if (holder && s.res->type == p.type) {
                    o.status = kStatusGood;
                    return o;
                }
                return conflict();
            }
            n.res = Reservation{all_registrants(p.type) ? std::string() : who, p.type};
            o.status = kStatusGood;
            return o;
        case PrAction::release:
            // §5.13.10.2: a release by a non-holder, or with no reservation, is GOOD
            // and does nothing; the holder naming another type gets CHECK CONDITION,
            // ILLEGAL REQUEST, INVALID RELEASE OF PERSISTENT RESERVATION.
            if (!registered || p.key != mine->second) return conflict();
            if (!s.res || !holder) {
                o.status = kStatusGood;
                return o;
            }
            if (s.res->type != p.type) {
                o.status = kStatusCheckCondition;
                o.after = s;
                return o;
            }
            n.res.reset();
            o.status = kStatusGood;
            return o;
        case PrAction::clear:
            // §5.13.10.3: every registration and the reservation go.
            if (!registered || p.key != mine->second) return conflict();
            n.keys.clear();
            n.res.reset();
            o.status = kStatusGood;
            return o;
        case PrAction::preempt:
        case PrAction::preempt_and_abort: {
            // §5.13.11.2 (the tasks PREEMPT AND ABORT aborts are the caller's business).
            if (!registered || p.key != mine->second) return conflict();
            if (s.res && all_registrants(s.res->type) && p.sa_key == 0) {
                // §5.13.11.2.4: every other registration goes; the preempting nexus
                // holds a new reservation of the TYPE given.
                for (auto it = n.keys.begin(); it != n.keys.end();) it = it->first == who ? std::next(it) : n.keys.erase(it);
                n.res = Reservation{all_registrants(p.type) ? std::string() : who, p.type};
                o.status = kStatusGood;
                return o;
            }
            if (p.sa_key == 0) return o;   // ILLEGAL REQUEST in most cases; not modelled
            const bool any = std::any_of(s.keys.begin(), s.keys.end(), [&](const auto& kv) { return kv.second == p.sa_key; });
            if (!any) return conflict();   // §5.13.11.2.1: the key names no registration
            const bool takes_reservation =
                s.res && !all_registrants(s.res->type) && s.keys.count(s.res->holder) && s.keys.at(s.res->holder) == p.sa_key;
            for (auto it = n.keys.begin(); it != n.keys.end();) {
                // §5.13.11.2.3: when the key is the holder's, the preempting nexus keeps
                // its own registration even if it carries the same key.
                const bool spare = takes_reservation && it->first == who;
                it = it->second == p.sa_key && !spare ? n.keys.erase(it) : std::next(it);
            }
            if (takes_reservation) {
                n.res = Reservation{all_registrants(p.type) ? std::string() : who, p.type};
            } else if (n.res && all_registrants(n.res->type) && n.keys.empty()) {
                n.res.reset();
            } else if (n.res && !all_registrants(n.res->type) && !n.keys.count(n.res->holder)) {
                n.res.reset();
            }
            o.status = kStatusGood;
            return o;
        }
    }
    return o;
}

bool PrOracle::independent(const Pending& a, const Pending& b) {
    // Registrations of two different nexuses commute: neither looks at the other's key
    // (REGISTER checks only the sender's own).
    return is_register(a.p.action) && is_register(b.p.action) && a.who != b.who;
}

std::uint64_t PrOracle::sent(const std::string& who, const PrOut& p, Nanos now) {
    const std::uint64_t id = next_id_++;
    Pending pd{who, p, std::nullopt, {}};
    bool alone = true;
    for (auto& [oid, other] : pending_) {
        pd.overlapped.insert(oid);
        other.overlapped.insert(id);
        alone = alone && independent(pd, other);
    }
    if (alone) pd.predicted = apply(state(), who, p).status;
    pending_.emplace(id, std::move(pd));
    Epoch e = epochs_.back();
    e.from = now;
    ++e.pending;
    epochs_.push_back(std::move(e));
    return id;
}

std::optional<std::uint8_t> PrOracle::predicted(std::uint64_t id) const {
    auto it = pending_.find(id);
    return it == pending_.end() ? std::nullopt : it->second.predicted;
}

std::string PrOracle::answered(std::uint64_t id, std::optional<std::uint8_t> status, Nanos now) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return {};
    Pending pd = std::move(it->second);
    pending_.erase(it);
    std::string err;
    if (status && pd.predicted && *status != *pd.predicted)
        err = std::string("PERSISTENT RESERVE OUT ") + spc_name(pd.p.action) + " (RESERVATION KEY " + key_text(pd.p.key) +
              ", SERVICE ACTION RESERVATION KEY " + key_text(pd.p.sa_key) + ", TYPE " + spc_name(pd.p.type) + ") from " + pd.who +
              " ended " + status_text(status) + "; SPC-4 §5.13 says " + status_text(pd.predicted) + " in the state " +
              state_text(state());
    Epoch e = epochs_.back();
    e.from = now;
    --e.pending;
    if (!status) {
        e.state.known = false;   // it may or may not have taken effect, and nobody will know
    } else if (*status == kStatusGood) {
        // Applied in the order the answers come: right when every PR OUT it overlapped
        // commutes with it; otherwise the order at the target is unknown.
        bool commutes = true;
        for (std::uint64_t o : pd.overlapped) {
            const Pending* other = nullptr;
            if (auto q = pending_.find(o); q != pending_.end()) other = &q->second;
            else if (auto d = done_.find(o); d != done_.end()) other = &d->second;
            if (other) commutes = commutes && independent(pd, *other);
        }
        const Outcome out = apply(e.state, pd.who, pd.p);
        // GOOD where SPC-4 says otherwise (reported above), or a case not modelled: what
        // the target did is not known.
        if (commutes && out.status == kStatusGood) e.state = out.after;
        else e.state.known = false;
    }
    // Any other status: nothing changed (SPC-4 §5.13: a PR OUT that fails changes nothing).
    done_.emplace(id, std::move(pd));
    epochs_.push_back(std::move(e));
    return err;
}

bool PrOracle::excluded(const State& s, const std::string& who, Access a) {
    if (a == Access::none || !s.res) return false;
    const bool registered = s.keys.count(who) > 0;
    const PrType t = s.res->type;
    if (all_registrants(t) ? registered : s.res->holder == who) return false;   // a holder
    switch (t) {
        // SPC-4 §5.13.1, Table 46 (and SBC-3's): the holder alone may write; with
        // exclusive access alone read too.
        case PrType::write_exclusive: return a == Access::write;
        case PrType::exclusive_access: return true;
        // Registrants only, all registrants: every registrant may, others may not.
        case PrType::write_exclusive_registrants_only:
        case PrType::write_exclusive_all_registrants: return a == Access::write && !registered;
        case PrType::exclusive_access_registrants_only:
        case PrType::exclusive_access_all_registrants: return !registered;
    }
    return false;
}

namespace {
// The epochs overlapping [sent, now]: from the last one that began at or before `sent`.
template <typename Epochs, typename Fn>
bool any_epoch(const Epochs& epochs, Nanos sent, Nanos now, Fn fn) {
    std::size_t first = epochs.size() - 1;
    while (first > 0 && epochs[first].from > sent) --first;
    for (std::size_t i = first; i < epochs.size() && epochs[i].from <= now; ++i)
        if (fn(epochs[i])) return true;
    return false;
}
}  // namespace

bool PrOracle::may_conflict(const std::string& who, Access a, Nanos sent, Nanos now) const {
    if (a == Access::none) return false;
    return any_epoch(epochs_, sent, now,
                     [&](const Epoch& e) { return e.pending > 0 || !e.state.known || excluded(e.state, who, a); });
}

bool PrOracle::may_pass(const std::string& who, Access a, Nanos sent, Nanos now) const {
    return any_epoch(epochs_, sent, now,
                     [&](const Epoch& e) { return e.pending > 0 || !e.state.known || !excluded(e.state, who, a); });
}

std::string PrOracle::describe(Nanos sent, Nanos now) const {
    std::string t;
    any_epoch(epochs_, sent, now, [&](const Epoch& e) {
        char at[48];
        std::snprintf(at, sizeof at, "from %.3f ms: ", static_cast<double>(e.from.count()) / 1e6);
        t += (t.empty() ? "" : "; ") + std::string(at) + state_text(e.state) + (e.pending ? " (a PR OUT under way)" : "");
        return false;
    });
    return t;
}

std::uint64_t PrOracle::key_of(const std::string& who) const {
    const State& s = state();
    auto it = s.keys.find(who);
    return s.known && it != s.keys.end() ? it->second : 0;
}

bool PrOracle::may_hold(const std::string& who, std::uint64_t key) const {
    if (!settled()) return true;
    auto it = state().keys.find(who);
    return it != state().keys.end() && it->second == key;
}

}  // namespace iscsilab::model
