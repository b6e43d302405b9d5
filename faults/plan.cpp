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

bool Plan::has(Kind k) const {
    return std::any_of(faults.begin(), faults.end(), [k](const Fault& f) {
        return f.kind == k || (f.kind == Kind::random && std::find(f.choices.begin(), f.choices.end(), k) != f.choices.end());
    });
}

bool Plan::may_break_sessions() const {
    // A stall can outlast RspTimeout or an initiator's patience; a corrupt segment is
    // a digest error; a cold reset drops every connection; the others end sessions
    // by definition. Disk faults and a latency spike alone never should.
    for (Kind k : {Kind::link_stall, Kind::link_reset, Kind::corrupt, Kind::crash, Kind::tmf, Kind::withhold_data,
                   Kind::freeze})
        if (has(k)) return true;
    return false;
}

Injector::Injector(model::SimKernel& kernel, Plan plan, std::uint64_t seed, World world)
    : kernel_(kernel), plan_(std::move(plan)), rng_(seed, "faults"), world_(std::move(world)) {
    for (std::size_t h = 0; h < world_.initiators; ++h)
        world_.link(h).pick = [this](std::size_t n) { return static_cast<std::size_t>(rng_.below(n)); };
}

Nanos Injector::uniform(Nanos lo, Nanos hi) {
    if (hi <= lo) return lo;
    return lo + Nanos(static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>((hi - lo).count()) + 1)));
}

Fault Injector::draw(const Fault& spec) {
    using namespace std::chrono_literals;
    Fault g;
    g.kind = spec.choices[rng_.below(spec.choices.size())];
    g.at_min = g.at_max = uniform(spec.at_min, spec.at_max);
    g.initiator = spec.initiator >= 0 || world_.initiators == 0
                      ? spec.initiator
                      : static_cast<int>(rng_.below(world_.initiators));
    g.direction = static_cast<int>(rng_.below(3));
    g.disk = spec.disk;
    switch (g.kind) {
        case Kind::link_stall: g.duration = uniform(1ms, 300ms); break;
        case Kind::latency_spike:
            g.extra = uniform(100us, 5ms);
            g.duration = uniform(5ms, 100ms);
            break;
        case Kind::disk_slow:
            g.factor = 2.0 + static_cast<double>(rng_.below(19));
            g.duration = uniform(5ms, 100ms);
            break;
        case Kind::medium_error: {
            // A 4 KiB-aligned range inside the spec's [offset, offset + length).
            const std::uint64_t span = std::max<std::uint64_t>(spec.length, 64 * 1024);
            g.length = 4096 * (1 + rng_.below(16));
            g.offset = spec.offset + 4096 * rng_.below((span - std::min(span, g.length)) / 4096 + 1);
            g.reads = rng_.below(3) != 0;
            g.writes = !g.reads || rng_.below(2) == 0;
            g.duration = uniform(5ms, 100ms);
            break;
        }
        case Kind::disk_offline: g.duration = uniform(1ms, 20ms); break;
        case Kind::freeze: g.duration = uniform(1ms, 3s); break;
        case Kind::withhold_data: g.duration = uniform(1ms, 2s); break;
        case Kind::tmf: {
            static constexpr iscsi::TmfFunction fns[] = {
                iscsi::TmfFunction::AbortTask, iscsi::TmfFunction::AbortTaskSet, iscsi::TmfFunction::ClearTaskSet,
                iscsi::TmfFunction::LogicalUnitReset, iscsi::TmfFunction::TargetWarmReset,
                iscsi::TmfFunction::TargetColdReset};
            g.function = fns[rng_.below(std::size(fns))];
            break;
        }
        default: break;
    }
    return g;
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
                      f.kind == Kind::latency_spike;
    const int who = initiator == -2 ? f.initiator : initiator;
    Record r;
    r.kind = static_cast<std::uint8_t>(f.kind);
    r.direction = link ? static_cast<std::uint8_t>(f.direction) : 0xff;
    r.initiator = who < 0 ? 0xff : static_cast<std::uint8_t>(who);
    r.sequence = static_cast<std::uint32_t>(fired_);
    r.time = kernel_.now();
    r.duration = f.duration;
    r.text = what;
    world_.record(r);
}

void Injector::fire(const Fault& f) {
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
        case Kind::random: return;  // drawn into concrete faults by arm()
    }
}

void Injector::heal() {
    for (std::size_t h = 0; h < world_.initiators; ++h) {
        auto& l = world_.link(h);
        l.stalled_until[0] = l.stalled_until[1] = Nanos(0);
        l.spike_until = Nanos(0);
        l.corrupt[0] = l.corrupt[1] = 0;
    }
    for (auto* d : touched_disks_) {
        d->clear_medium_errors();
        d->go_offline(Nanos(0));
        d->slow_down(1.0, Nanos(0));
    }
}

}  // namespace iscsilab::faults
