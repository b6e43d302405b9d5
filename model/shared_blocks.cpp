#include "model/shared_blocks.hpp"

#include <algorithm>
#include <cstdio>

namespace iscsilab::model {

namespace {
std::string ms(Nanos t) {
    if (t == Nanos::max()) return "never";
    char b[32];
    std::snprintf(b, sizeof b, "%.3f ms", static_cast<double>(t.count()) / 1e6);
    return b;
}
const char* kind_name(SharedBlocks::Kind k) {
    switch (k) {
        case SharedBlocks::Kind::write: return "WRITE";
        case SharedBlocks::Kind::caw: return "COMPARE AND WRITE";
        case SharedBlocks::Kind::unmap: return "UNMAP";
    }
    return "?";
}
const char* outcome_name(SharedBlocks::Outcome o) {
    switch (o) {
        case SharedBlocks::Outcome::pending: return "under way";
        case SharedBlocks::Outcome::done: return "GOOD";
        case SharedBlocks::Outcome::failed: return "not performed";
        case SharedBlocks::Outcome::unknown: return "outcome unknown";
    }
    return "?";
}
}  // namespace

std::string SharedBlocks::describe(const Mod& m) const {
    std::string t = m.who + "'s " + kind_name(m.kind) + " of LBA " + std::to_string(m.lba) + " (";
    if (m.kind == Kind::caw) t += "compare version " + std::to_string(m.compare) + ", ";
    t += "write version " + std::to_string(m.version) + ", sent at " + ms(m.sent) + ", ";
    t += m.outcome == Outcome::pending || m.outcome == Outcome::unknown ? std::string(outcome_name(m.outcome))
                                                                         : std::string(outcome_name(m.outcome)) + " at " + ms(m.answered);
    return t + ")";
}

std::string SharedBlocks::history(std::uint64_t lba, Nanos from, Nanos to) const {
    auto b = by_block_.find(lba);
    if (b == by_block_.end()) return {};
    std::vector<const Mod*> in;
    for (std::uint64_t id : b->second) {
        const Mod& m = mods_[id - 1];
        if (m.sent <= to && m.answered >= from) in.push_back(&m);
    }
    // The last few: those nearest the failure.
    std::string t = in.size() > 8 ? "; the last 8 of " + std::to_string(in.size()) + " since:" : "; meanwhile:";
    for (std::size_t k = in.size() > 8 ? in.size() - 8 : 0; k < in.size(); ++k) t += " " + describe(*in[k]) + ";";
    if (in.empty()) return {};
    t.pop_back();
    return t;
}

bool SharedBlocks::loss_between(Nanos from, Nanos to) const {
    return std::any_of(losses_.begin(), losses_.end(), [&](Nanos t) { return t > from && t <= to; });
}

std::uint64_t SharedBlocks::sent(const std::string& who, Kind kind, std::uint64_t lba, std::uint64_t compare,
                                 std::uint64_t version, Nanos observed_from, Nanos now) {
    Mod m;
    m.who = who;
    m.kind = kind;
    m.lba = lba;
    m.compare = compare;
    m.version = kind == Kind::unmap ? 0 : version;
    m.observed_from = observed_from;
    m.sent = now;
    mods_.push_back(std::move(m));
    const std::uint64_t id = mods_.size();
    by_block_[lba].push_back(id);
    if (kind != Kind::unmap) writer_[version] = id;
    return id;
}

Nanos SharedBlocks::certainly_written(std::uint64_t version) const {
    if (version == 0) return Nanos::min();   // the block starts zeroed
    auto w = writer_.find(version);
    if (w == writer_.end()) return Nanos::max();
    const Mod& m = mods_[w->second - 1];
    return m.outcome == Outcome::done ? m.answered : Nanos::max();
}

bool SharedBlocks::zeros_may_return(std::uint64_t lba, Nanos after, Nanos before) const {
    auto b = by_block_.find(lba);
    if (b == by_block_.end()) return false;
    return std::any_of(b->second.begin(), b->second.end(), [&](std::uint64_t id) {
        const Mod& u = mods_[id - 1];
        return u.kind == Kind::unmap && u.outcome != Outcome::failed && u.sent < before && u.answered > after;
    });
}

const SharedBlocks::Mod* SharedBlocks::replaced_before(std::uint64_t lba, std::uint64_t version, Nanos t, Nanos until) const {
    auto b = by_block_.find(lba);
    if (b == by_block_.end()) return nullptr;
    const Nanos present = certainly_written(version);
    for (std::uint64_t id : b->second) {
        const Mod& s = mods_[id - 1];
        if (s.outcome != Outcome::done || s.answered >= t) continue;
        // A COMPARE AND WRITE that matched `version` ran while the block held it; a WRITE
        // or UNMAP of another version sent after `version` was certainly there ran after
        // it. Either way the block no longer holds it: versions are never written twice.
        const bool replaces = s.kind == Kind::caw ? s.compare == version : s.version != version && s.sent > present;
        if (!replaces) continue;
        if (version == 0 && zeros_may_return(lba, s.sent, until)) continue;   // an UNMAP may have zeroed it again
        if (loss_between(s.sent, until)) continue;   // a power loss may have brought it back
        return &s;
    }
    return nullptr;
}

std::string SharedBlocks::answered(std::uint64_t id, Outcome outcome, Nanos now, bool miscompared) {
    if (id == 0 || id > mods_.size()) return {};
    Mod& m = mods_[id - 1];
    if (m.outcome != Outcome::pending) return {};
    m.outcome = outcome;
    // Unknown: it may still run at any later instant, as far as anyone can tell.
    m.answered = outcome == Outcome::unknown ? Nanos::max() : now;
    if (m.kind != Kind::caw) return {};
    const auto& block = by_block_[m.lba];
    if (outcome == Outcome::done) {
        // (1) Atomicity: no other successful COMPARE AND WRITE compared the same version.
        for (std::uint64_t other : block) {
            const Mod& d = mods_[other - 1];
            if (other == id || d.kind != Kind::caw || d.compare != m.compare || d.outcome != Outcome::done) continue;
            if (m.compare == 0 && zeros_may_return(m.lba, std::min(d.sent, m.sent), std::max(d.answered, m.answered))) continue;
            if (loss_between(std::min(d.sent, m.sent), std::max(d.answered, m.answered))) continue;   // a revert
            return "COMPARE AND WRITE atomicity broken at LBA " + std::to_string(m.lba) + ": " + describe(d) + " and " + describe(m) +
                   " both compared version " + std::to_string(m.compare) +
                   " and both succeeded; once one wrote, the other must have miscompared (SBC-3 §5.2)";
        }
        // (3) and (4): the version it matched was written, and not certainly gone.
        if (m.compare != 0) {
            auto w = writer_.find(m.compare);
            if (w == writer_.end() || mods_[w->second - 1].outcome == Outcome::failed)
                return describe(m) + " succeeded comparing version " + std::to_string(m.compare) + ", which " +
                       (w == writer_.end() ? std::string("nobody wrote") : describe(mods_[w->second - 1]) + " never wrote");
        }
        if (const Mod* s = replaced_before(m.lba, m.compare, m.sent, m.answered))
            return describe(m) + " succeeded, but the version it compared was already replaced by " + describe(*s) +
                   " before it was sent (SBC-3 §5.2: the compare must fail)";
        return {};
    }
    if (!miscompared) return {};
    // (2) A MISCOMPARE needs something that may have replaced the compared version since
    // its initiator saw it.
    bool cause = loss_between(m.observed_from, now), race = false;   // a power loss may have reverted it
    for (std::uint64_t other : block) {
        const Mod& p = mods_[other - 1];
        if (other == id || p.outcome == Outcome::failed || p.sent >= now || p.answered <= m.observed_from) continue;
        // A COMPARE AND WRITE that spans a power loss may have compared before it and
        // written after: a write of whatever the block then held.
        const bool compared_here = p.kind == Kind::caw && !loss_between(p.sent, p.answered);
        const bool replaces = compared_here ? p.compare == m.compare : p.version != m.compare;
        if (!replaces) continue;
        cause = true;
        race = race || (p.kind == Kind::caw && p.who != m.who);
    }
    if (race) ++races_lost_;
    if (cause) return {};
    return describe(m) + " ended in MISCOMPARE, yet the block held version " + std::to_string(m.compare) + " since " + m.who +
           " saw it (by an operation sent at " + ms(m.observed_from) +
           ") and no WRITE, UNMAP or COMPARE AND WRITE of that version, by anyone, could have replaced it (SBC-3 §5.2)" +
           history(m.lba, m.observed_from, now);
}

std::string SharedBlocks::check_read(const std::string& who, std::uint64_t lba, std::uint64_t version, Nanos sent, Nanos now) const {
    const std::string read = who + "'s READ of LBA " + std::to_string(lba) + " (sent at " + ms(sent) + ", answered at " + ms(now) +
                             ") found version " + std::to_string(version);
    if (version != 0) {
        auto w = writer_.find(version);
        if (w == writer_.end()) return read + ", which no write of this run put there";
        const Mod& m = mods_[w->second - 1];
        if (m.lba != lba) return read + ", which was written to LBA " + std::to_string(m.lba);
        if (m.outcome == Outcome::failed)
            return read + ", written by " + describe(m) +
                   ", which was not performed (a MISCOMPARE or RESERVATION CONFLICT writes nothing: SBC-3 §5.2, SPC-4 §5.13.1)";
        if (m.sent > now) return read + " before " + describe(m) + " was sent";
    }
    if (const Mod* s = replaced_before(lba, version, sent, now))
        return read + ", which " + describe(*s) + " had replaced before the read was sent: a successful write is lost" +
               history(lba, s->sent, now);
    return {};
}

}  // namespace iscsilab::model
