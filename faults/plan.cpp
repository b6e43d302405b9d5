#include "faults/plan.hpp"

#include <algorithm>
#include <cstdio>

namespace iscsilab::faults {

namespace {
template <typename Value>
struct Name {
    Value value;
    const char* text;
};
constexpr Name<Kind> kKinds[] = {
    {Kind::link_stall, "link_stall"},       {Kind::link_reset, "link_reset"},
    {Kind::corrupt, "corrupt"},             {Kind::latency_spike, "latency_spike"},
    {Kind::disk_slow, "disk_slow"},         {Kind::medium_error, "medium_error"},
    {Kind::disk_offline, "disk_offline"},   {Kind::power_loss, "power_loss"},
    {Kind::tmf, "tmf"},
    {Kind::crash, "crash"},                 {Kind::withhold_data, "withhold_data"},
    {Kind::freeze, "freeze"},               {Kind::logout, "logout"},
    {Kind::random, "random"},
    {Kind::pdu_cut, "pdu_cut"},             {Kind::bandwidth_drop, "bandwidth_drop"},
    {Kind::write_error, "write_error"},     {Kind::torn_write, "torn_write"},
    {Kind::misdirected_write, "misdirected_write"}, {Kind::misdirected_read, "misdirected_read"},
    {Kind::stuck_delivery, "stuck_delivery"}, {Kind::duplicate_isid, "duplicate_isid"},
    {Kind::nop_storm, "nop_storm"},         {Kind::bhs_corrupt, "bhs_corrupt"},
    {Kind::misbehave, "misbehave"},
    {Kind::pr, "pr"},
};
constexpr Name<model::Misbehavior> kMisbehaviors[] = {
    {model::Misbehavior::past_maxcmdsn, "past_maxcmdsn"},
    {model::Misbehavior::dup_cmdsn, "dup_cmdsn"},
    {model::Misbehavior::nop_ping, "nop_ping"},
    {model::Misbehavior::excess_data_out, "excess_data_out"},
    {model::Misbehavior::text_midway, "text_midway"},
    {model::Misbehavior::logout_midway_data, "logout_midway_data"},
};
constexpr Name<iscsi::TmfFunction> kTmfs[] = {
    {iscsi::TmfFunction::AbortTask, "abort_task"},
    {iscsi::TmfFunction::AbortTaskSet, "abort_task_set"},
    {iscsi::TmfFunction::ClearTaskSet, "clear_task_set"},
    {iscsi::TmfFunction::LogicalUnitReset, "lun_reset"},
    {iscsi::TmfFunction::TargetWarmReset, "target_warm_reset"},
    {iscsi::TmfFunction::TargetColdReset, "target_cold_reset"},
};
template <typename Value, std::size_t N>
const char* text_of(const Name<Value> (&table)[N], Value v) {
    for (const auto& n : table)
        if (n.value == v) return n.text;
    return "?";
}
template <typename Value, std::size_t N>
bool value_of(const Name<Value> (&table)[N], const std::string& s, Value& out) {
    for (const auto& n : table)
        if (s == n.text) {
            out = n.value;
            return true;
        }
    return false;
}
std::string ms(Nanos t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(t.count()) / 1e6);
    return buf;
}
// Does a link fault in direction f.direction (0, 1, or 2 for both) cover dir?
bool covers(const Fault& f, int dir) { return f.direction == 2 || f.direction == dir; }
}  // namespace

const char* to_string(Kind k) { return text_of(kKinds, k); }
bool kind_from_string(const std::string& s, Kind& out) { return value_of(kKinds, s, out); }
bool tmf_from_string(const std::string& s, iscsi::TmfFunction& out) { return value_of(kTmfs, s, out); }
bool misbehavior_from_string(const std::string& s, model::Misbehavior& out) { return value_of(kMisbehaviors, s, out); }
const char* to_string(model::Misbehavior m) { return text_of(kMisbehaviors, m); }

bool Plan::has(Kind k) const {
    return std::any_of(faults.begin(), faults.end(), [k](const Fault& f) {
        return f.kind == k || (f.kind == Kind::random && std::find(f.choices.begin(), f.choices.end(), k) != f.choices.end());
    });
}

bool Plan::may_break_sessions() const {
    // A stall can outlast RspTimeout or an initiator's patience; a corrupt segment is
    // a digest error; a cold reset drops every connection; the others end sessions
    // by definition. Disk faults and a latency spike alone never should.
    // A reset mid-PDU ends the connection; a receiver that reads nothing for long
    // enough meets RspTimeout, as a stall does; a header that fails its digest ends the
    // connection (RFC 3720 §6.7).
    for (Kind k : {Kind::link_stall, Kind::link_reset, Kind::corrupt, Kind::crash, Kind::tmf, Kind::withhold_data,
                   Kind::freeze, Kind::pdu_cut, Kind::stuck_delivery, Kind::bhs_corrupt})
        if (has(k)) return true;
    return false;
}

bool Plan::may_fail_media() const { return has(Kind::medium_error) || has(Kind::write_error); }

Injector::Injector(model::SimKernel& kernel, Plan plan, std::uint64_t seed, World world)
    : kernel_(kernel), plan_(std::move(plan)), rng_(seed, "faults"), world_(std::move(world)) {
    for (std::size_t h = 0; h < world_.initiators; ++h) {
        world_.link(h).pick = [this](std::size_t n) { return static_cast<std::size_t>(rng_.below(n)); };
        // The initiator whose PDU header was flipped checks what the target makes of it.
        world_.link(h).on_bhs_corrupt = [this, h](int dir) {
            if (model::Initiator* i = world_.initiator ? world_.initiator(h) : nullptr) i->header_corrupted(dir);
        };
    }
}


namespace {
Nanos uniform_in(model::Rng& rng, Nanos lo, Nanos hi) {
    if (hi <= lo) return lo;
    return lo + Nanos(static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>((hi - lo).count()) + 1)));
}
}  // namespace

Fault draw_fault(Kind kind, const Fault& spec, model::Rng& rng, std::size_t initiators) {
    using namespace std::chrono_literals;
    auto uniform = [&rng](Nanos lo, Nanos hi) { return uniform_in(rng, lo, hi); };
    Fault g;
    g.kind = kind;
    g.at_min = g.at_max = uniform(spec.at_min, spec.at_max);
    g.initiator = spec.initiator >= 0 || initiators == 0 ? spec.initiator : static_cast<int>(rng.below(initiators));
    g.direction = static_cast<int>(rng.below(3));
    g.disk = spec.disk;
    switch (g.kind) {
        case Kind::link_stall: g.duration = uniform(1ms, 300ms); break;
        case Kind::latency_spike:
            g.extra = uniform(100us, 5ms);
            g.duration = uniform(5ms, 100ms);
            break;
        case Kind::disk_slow:
            g.factor = 2.0 + static_cast<double>(rng.below(19));
            g.duration = uniform(5ms, 100ms);
            break;
        case Kind::medium_error: {
            // A 4 KiB-aligned range inside the spec's [offset, offset + length).
            const std::uint64_t span = std::max<std::uint64_t>(spec.length, 64 * 1024);
            g.length = 4096 * (1 + rng.below(16));
            g.offset = spec.offset + 4096 * rng.below((span - std::min(span, g.length)) / 4096 + 1);
            g.reads = rng.below(3) != 0;
            g.writes = !g.reads || rng.below(2) == 0;
            g.duration = uniform(5ms, 100ms);
            break;
        }
        case Kind::write_error: {
            // As medium_error, writes only.
            const std::uint64_t span = std::max<std::uint64_t>(spec.length, 64 * 1024);
            g.length = 4096 * (1 + rng.below(16));
            g.offset = spec.offset + 4096 * rng.below((span - std::min(span, g.length)) / 4096 + 1);
            g.reads = false;
            g.writes = true;
            g.duration = uniform(5ms, 100ms);
            break;
        }
        case Kind::torn_write: g.landed_pct = spec.landed_pct; break;
        case Kind::bandwidth_drop:
            g.factor = 2.0 + static_cast<double>(rng.below(49));
            g.duration = uniform(5ms, 200ms);
            break;
        case Kind::stuck_delivery: g.duration = uniform(1ms, 300ms); break;
        case Kind::nop_storm: g.count = 10 + static_cast<std::uint32_t>(rng.below(491)); break;
        case Kind::misbehave:
            g.what = spec.what ? *spec.what : static_cast<model::Misbehavior>(rng.below(std::size(kMisbehaviors)));
            break;
        case Kind::disk_offline: g.duration = uniform(1ms, 20ms); break;
        case Kind::freeze: g.duration = uniform(1ms, 3s); break;
        case Kind::withhold_data: g.duration = uniform(1ms, 2s); break;
        case Kind::tmf: {
            static constexpr iscsi::TmfFunction fns[] = {
                iscsi::TmfFunction::AbortTask, iscsi::TmfFunction::AbortTaskSet, iscsi::TmfFunction::ClearTaskSet,
                iscsi::TmfFunction::LogicalUnitReset, iscsi::TmfFunction::TargetWarmReset,
                iscsi::TmfFunction::TargetColdReset};
            g.function = fns[rng.below(std::size(fns))];
            break;
        }
        default: break;
    }
    return g;
}

Nanos Injector::uniform(Nanos lo, Nanos hi) { return uniform_in(rng_, lo, hi); }

Fault Injector::draw(const Fault& spec) {
    const Kind kind = spec.choices[rng_.below(spec.choices.size())];
    return draw_fault(kind, spec, rng_, world_.initiators);
}

void Injector::schedule(const Fault& f) {
    // The first time is drawn from the window; repeats follow `every` apart.
    const Nanos first = uniform(f.at_min, f.at_max);
    for (std::uint32_t k = 0; k < f.repeat; ++k) {
        const Nanos at = first + f.every * k;
        kernel_.after(at - std::min(at, kernel_.now()), [this, &f] { fire(f); });
    }
}

void Injector::arm() {
    for (const Fault& f : plan_.faults) {
        if (f.kind == Kind::random) {
            for (std::uint32_t k = 0; k < f.repeat; ++k) {
                drawn_.push_back(draw(f));
                schedule(drawn_.back());
            }
            continue;
        }
        schedule(f);
    }
}

std::vector<std::size_t> Injector::hosts(const Fault& f) const {
    std::vector<std::size_t> v;
    for (std::size_t h = 0; h < world_.initiators; ++h)
        if (f.initiator < 0 || static_cast<std::size_t>(f.initiator) == h) v.push_back(h);
    return v;
}

Nanos Injector::until(const Fault& f) const {
    // Lasting link faults always have a duration (the loader insists); a disk fault
    // without one lasts until heal().
    return f.duration.count() > 0 ? kernel_.now() + f.duration : Nanos(std::chrono::hours(24 * 365));
}

void Injector::note(const Fault& f, const std::string& what, int initiator) {
    ++fired_;
    if (log_.size() < 64) log_.push_back(ms(kernel_.now()) + ": " + what);
    if (!world_.record) return;
    const bool link = f.kind == Kind::link_stall || f.kind == Kind::link_reset || f.kind == Kind::corrupt ||
                      f.kind == Kind::latency_spike || f.kind == Kind::pdu_cut || f.kind == Kind::bandwidth_drop ||
                      f.kind == Kind::stuck_delivery || f.kind == Kind::bhs_corrupt;
    const int who = initiator == -2 ? f.initiator : initiator;
    Record r;
    // A flipped header bit is corruption to a reader of the capture: the wire checker
    // takes a digest mismatch after a corruption record as injected, not as a violation.
    r.kind = static_cast<std::uint8_t>(f.kind == Kind::bhs_corrupt ? Kind::corrupt : f.kind);
    r.direction = link ? static_cast<std::uint8_t>(f.direction) : 0xff;
    r.initiator = who < 0 ? 0xff : static_cast<std::uint8_t>(who);
    r.sequence = static_cast<std::uint32_t>(fired_);
    r.time = kernel_.now();
    r.duration = f.duration;
    r.text = what;
    world_.record(r);
}

void Injector::fire(const Fault& f) {
    if (healed_) return;
    const std::string dirs = f.direction == 0 ? "to the target" : f.direction == 1 ? "to the initiator" : "both ways";
    switch (f.kind) {
        case Kind::link_stall:
            for (auto h : hosts(f)) {
                auto& l = world_.link(h);
                for (int d = 0; d < 2; ++d)
                    if (covers(f, d)) l.stalled_until[d] = std::max(l.stalled_until[d], until(f));
            }
            return note(f, "link stall " + dirs + " for " + ms(f.duration));
        case Kind::link_reset:
            for (auto h : hosts(f)) world_.reset(h, "fault plan");
            return note(f, "link reset");
        case Kind::corrupt:
            for (auto h : hosts(f))
                for (int d = 0; d < 2; ++d)
                    if (covers(f, d)) world_.link(h).corrupt[d] += f.count;
            return note(f, std::to_string(f.count) + " corrupt segment(s) " + dirs);
        case Kind::latency_spike:
            for (auto h : hosts(f)) {
                auto& l = world_.link(h);
                l.extra_latency = f.extra;
                l.spike_until = until(f);
            }
            return note(f, "latency +" + ms(f.extra) + " for " + ms(f.duration));
        case Kind::pdu_cut:
            for (auto h : hosts(f))
                for (int d = 0; d < 2; ++d)
                    if (covers(f, d)) world_.link(h).pdu_cut[d] += f.count;
            return note(f, "connection reset inside the next PDU " + dirs);
        case Kind::bhs_corrupt:
            for (auto h : hosts(f))
                for (int d = 0; d < 2; ++d)
                    if (covers(f, d)) world_.link(h).bhs_corrupt[d] += f.count;
            return note(f, std::to_string(f.count) + " bit flip(s) inside a BHS " + dirs);
        case Kind::bandwidth_drop: {
            for (auto h : hosts(f)) {
                auto& l = world_.link(h);
                l.bandwidth_factor = f.factor;
                l.bandwidth_until = until(f);
            }
            char x[32];
            std::snprintf(x, sizeof x, "%gx", f.factor);
            return note(f, std::string("link bandwidth ") + x + " lower for " + ms(f.duration));
        }
        case Kind::stuck_delivery:
            for (auto h : hosts(f)) {
                auto& l = world_.link(h);
                for (int d = 0; d < 2; ++d)
                    if (covers(f, d)) l.stuck_until[d] = std::max(l.stuck_until[d], until(f));
            }
            return note(f, "delivery stuck " + dirs + " for " + ms(f.duration) + ", then one burst");
        case Kind::duplicate_isid:
            for (auto h : hosts(f)) {
                model::Initiator* i = world_.initiator(h);
                const bool sent = i && i->duplicate_login();
                note(f, "initiator " + std::to_string(h) + " logs in again with its ISID on a second connection" +
                            (sent ? "" : " (not running: not sent)"),
                     static_cast<int>(h));
            }
            return;
        case Kind::nop_storm:
            for (auto h : hosts(f)) {
                model::Initiator* i = world_.initiator(h);
                const bool sent = i && i->nop_storm(f.count);
                note(f, "initiator " + std::to_string(h) + " sends " + std::to_string(f.count) + " NOP-Out pings" +
                            (sent ? "" : " (not running: not sent)"),
                     static_cast<int>(h));
            }
            return;
        case Kind::misbehave: {
            const model::Misbehavior what = f.what.value_or(model::Misbehavior::past_maxcmdsn);
            for (auto h : hosts(f)) {
                model::Initiator* i = world_.initiator(h);
                const bool done = i && i->misbehave(what);
                note(f, "initiator " + std::to_string(h) + " misbehaves: " + to_string(what) +
                            (done ? "" : " (not running: not done)"),
                     static_cast<int>(h));
            }
            return;
        }
        case Kind::torn_write: {
            model::SimDisk* d = world_.disk(f.disk);
            if (!d) return note(f, "no disk '" + f.disk + "'");
            const auto t = d->torn_power_loss(f.landed_pct, rng_);
            seen_["torn_writes"] += t.writes_torn;
            seen_["pages_landed"] += t.pages_landed;
            seen_["pages_lost"] += t.pages_lost;
            // The oracle as for power_loss: every block may read back as any version from
            // its last durable one to its last acknowledged one, each block whole.
            for (std::size_t h = 0; h < world_.initiators; ++h)
                if (model::Initiator* i = world_.initiator(h)) i->power_lost();
            return note(f, "disk " + f.disk + " lost power: " + std::to_string(t.pages_landed) + " cached pages landed, " +
                               std::to_string(t.pages_lost) + " lost, " + std::to_string(t.writes_torn) + " writes torn");
        }
        case Kind::write_error:
        case Kind::misdirected_write:
        case Kind::misdirected_read:
        case Kind::disk_slow:
        case Kind::medium_error:
        case Kind::disk_offline: {
            model::SimDisk* d = world_.disk(f.disk);
            if (!d) return note(f, "no disk '" + f.disk + "'");
            touched_disks_.push_back(d);
            if (f.kind == Kind::disk_slow) {
                d->slow_down(f.factor, until(f));
                char x[32];
                std::snprintf(x, sizeof x, "%gx", f.factor);
                return note(f, "disk " + f.disk + " " + x + " slower for " + ms(f.duration));
            }
            if (f.kind == Kind::disk_offline) {
                d->go_offline(until(f));
                return note(f, "disk " + f.disk + " offline for " + ms(f.duration));
            }
            if (f.kind == Kind::misdirected_write || f.kind == Kind::misdirected_read) {
                const bool w = f.kind == Kind::misdirected_write;
                d->misdirect({w, f.shift, f.offset, f.length, until(f)});
                return note(f, "disk " + f.disk + (w ? " writes " : " reads ") + std::to_string(f.shift) +
                                   " bytes away from the offset asked for " + ms(f.duration));
            }
            if (f.kind == Kind::write_error) {
                // SBC-3 §4.17 (as medium_error, writes only): CHECK CONDITION, MEDIUM
                // ERROR, WRITE ERROR (0x0C00); reads of the range still work.
                d->add_medium_error({f.offset, f.length, false, true});
                if (f.duration.count() > 0) kernel_.after(f.duration, [d] { d->clear_medium_errors(); });
                return note(f, "disk " + f.disk + " write error on bytes " + std::to_string(f.offset) + "+" +
                                   std::to_string(f.length));
            }
            d->add_medium_error({f.offset, f.length, f.reads, f.writes});
            if (f.duration.count() > 0) kernel_.after(f.duration, [d] { d->clear_medium_errors(); });
            return note(f, "disk " + f.disk + " medium error on bytes " + std::to_string(f.offset) + "+" + std::to_string(f.length));
        }
        case Kind::power_loss: {
            model::SimDisk* d = world_.disk(f.disk);
            if (!d) return note(f, "no disk '" + f.disk + "'");
            d->power_loss();
            // The oracle: every initiator now accepts, per block, any version from the
            // last durable one on (it cannot tell which LUNs sit on this disk; for the
            // others this only loosens the check).
            for (std::size_t h = 0; h < world_.initiators; ++h)
                if (model::Initiator* i = world_.initiator(h)) i->power_lost();
            return note(f, "disk " + f.disk + " lost power: its write cache is gone");
        }
        case Kind::tmf:
            for (auto h : hosts(f)) {
                model::Initiator* i = world_.initiator(h);
                // CLEAR TASK SET and the resets reach every nexus of the LU or target: the
                // others may see tasks vanish while the function runs.
                const bool wide = f.function != iscsi::TmfFunction::AbortTask &&
                                  f.function != iscsi::TmfFunction::AbortTaskSet;
                std::vector<model::Initiator*> others;
                if (wide)
                    for (std::size_t o = 0; o < world_.initiators; ++o)
                        if (o != h && world_.initiator(o)) others.push_back(world_.initiator(o));
                for (auto* o : others) o->foreign_reset_begin();
                const bool sent = i && i->task_management(f.function, [others] {
                    for (auto* o : others) o->foreign_reset_end();
                });
                if (!sent)
                    for (auto* o : others) o->foreign_reset_end();
                note(f, std::string(text_of(kTmfs, f.function)) + " from initiator " + std::to_string(h) + (sent ? "" : " (idle: not sent)"),
                     static_cast<int>(h));
            }
            return;
        case Kind::crash:
            for (auto h : hosts(f))
                if (model::Initiator* i = world_.initiator(h)) i->crash("crash (fault plan)");
            return note(f, "initiator crash");
        case Kind::withhold_data:
            for (auto h : hosts(f))
                if (model::Initiator* i = world_.initiator(h)) i->withhold_data_out(f.duration);
            return note(f, "initiator stops answering R2Ts" +
                               (f.duration.count() > 0 ? " for " + ms(f.duration) : std::string(" on this connection")));
        case Kind::freeze:
            for (auto h : hosts(f))
                if (model::Initiator* i = world_.initiator(h)) i->freeze(f.duration);
            return note(f, "initiator host frozen for " + ms(f.duration));
        case Kind::logout:
            for (auto h : hosts(f)) {
                model::Initiator* i = world_.initiator(h);
                const bool sent = i && i->logout_midway();
                note(f, "logout of initiator " + std::to_string(h) + " during I/O" + (sent ? "" : " (idle: not sent)"),
                     static_cast<int>(h));
            }
            return;
        case Kind::pr:
            for (auto h : hosts(f)) {
                model::Initiator* i = world_.initiator(h);
                // PREEMPT AND ABORT aborts every task of the nexuses whose registration it
                // removes, without a response (SPC-4 §5.13.11.2.5, SAM-5 with TAS=0): until
                // it is answered, tasks of theirs may vanish (the oracle, as for a LUN RESET).
                std::vector<model::Initiator*> victims;
                if (f.pr.action == model::PrAction::preempt_and_abort)
                    for (std::size_t o = 0; o < world_.initiators; ++o)
                        if (o != h && world_.initiator(o) && world_.initiator(o)->pr_may_hold(f.pr.sa_key))
                            victims.push_back(world_.initiator(o));
                for (auto* v : victims) v->foreign_reset_begin();
                const bool sent = i && i->persistent_reserve_out(f.pr, !f.pr_key_given, [victims](std::optional<std::uint8_t>) {
                    for (auto* v : victims) v->foreign_reset_end();
                });
                if (!sent)
                    for (auto* v : victims) v->foreign_reset_end();
                char key[24] = "its own", keys[128];
                if (f.pr_key_given) std::snprintf(key, sizeof key, "0x%llx", static_cast<unsigned long long>(f.pr.key));
                std::snprintf(keys, sizeof keys, " (key %s, sa_key 0x%llx, type %s)", key,
                              static_cast<unsigned long long>(f.pr.sa_key), model::spc_name(f.pr.type));
                note(f, "initiator " + std::to_string(h) + ": PERSISTENT RESERVE OUT " + model::spc_name(f.pr.action) + keys +
                            (sent ? "" : " (not running: not sent)"),
                     static_cast<int>(h));
            }
            return;
        case Kind::random: return;  // drawn into concrete faults by arm()
    }
}

void Injector::heal() {
    healed_ = true;
    for (std::size_t h = 0; h < world_.initiators; ++h) {
        auto& l = world_.link(h);
        l.stalled_until[0] = l.stalled_until[1] = Nanos(0);
        l.spike_until = Nanos(0);
        l.corrupt[0] = l.corrupt[1] = 0;
        l.bandwidth_until = Nanos(0);
        l.stuck_until[0] = l.stuck_until[1] = Nanos(0);
        l.pdu_cut[0] = l.pdu_cut[1] = 0;
        l.bhs_corrupt[0] = l.bhs_corrupt[1] = 0;
    }
    for (auto* d : touched_disks_) {
        d->clear_medium_errors();
        d->clear_misdirects();
        d->go_offline(Nanos(0));
        d->slow_down(1.0, Nanos(0));
    }
}

std::map<std::string, std::uint64_t> Injector::seen() const {
    std::map<std::string, std::uint64_t> out = seen_;
    for (std::size_t h = 0; h < world_.initiators; ++h) {
        const auto& l = world_.link(h);
        out["slowed_segments"] += l.slowed_segments;
        out["stuck_reads"] += l.stuck_reads;
        out["pdus_cut"] += l.pdus_cut;
        out["bhs_flipped"] += l.bhs_flipped;
    }
    std::vector<const model::SimDisk*> disks;
    for (const auto* d : touched_disks_)
        if (std::find(disks.begin(), disks.end(), d) == disks.end()) disks.push_back(d);
    for (const auto* d : disks) out["misdirected"] += d->misdirected();
    return out;
}

}  // namespace iscsilab::faults
