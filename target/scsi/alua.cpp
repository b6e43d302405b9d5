#include "target/scsi/alua.hpp"

#include <algorithm>
#include <set>

#include "target/bytes.hpp"
#include "target/scsi/device.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

namespace {

// Operation codes the access-state tables name (SPC-4 §5.16.2.4.x).
constexpr std::uint8_t kInquiry = 0x12, kRequestSense = 0x03, kReportLuns = 0xa0, kModeSelect6 = 0x15,
                       kModeSense6 = 0x1a, kModeSelect10 = 0x55, kModeSense10 = 0x5a, kLogSelect = 0x4c,
                       kLogSense = 0x4d, kReceiveDiagnosticResults = 0x1c, kSendDiagnostic = 0x1d,
                       kReadBuffer = 0x3c, kWriteBuffer = 0x3b, kMaintenanceIn = 0xa3, kMaintenanceOut = 0xa4,
                       kPersistentReserveIn = 0x5e, kPersistentReserveOut = 0x5f, kServiceActionIn16 = 0x9e;
constexpr std::uint8_t kSaReportTargetPortGroups = 0x0a, kSaSetTargetPortGroups = 0x0a,
                       kSaReadCapacity16 = 0x10;

bool is_rtpg(const Command& c) {
    return c.opcode() == kMaintenanceIn && (ld8(c.cdb_bytes(), 1) & 0x1f) == kSaReportTargetPortGroups;
}
bool is_stpg(const Command& c) {
    return c.opcode() == kMaintenanceOut && (ld8(c.cdb_bytes(), 1) & 0x1f) == kSaSetTargetPortGroups;
}

}  // namespace

std::string_view scst_name(AluaState s) {
    switch (s) {
        case AluaState::ActiveOptimized: return "active";
        case AluaState::ActiveNonOptimized: return "nonoptimized";
        case AluaState::Standby: return "standby";
        case AluaState::Unavailable: return "unavailable";
        case AluaState::Offline: return "offline";
        case AluaState::Transitioning: return "transitioning";
    }
    return "active";
}

std::optional<AluaState> parse_alua_state(std::string_view n) {
    for (AluaState s : {AluaState::ActiveOptimized, AluaState::ActiveNonOptimized, AluaState::Standby,
                        AluaState::Unavailable, AluaState::Offline, AluaState::Transitioning})
        if (scst_name(s) == n) return s;
    return std::nullopt;
}

// ---- the group ------------------------------------------------------------------------

TargetGroup* DeviceGroup::find(const std::string& tg) {
    for (auto& g : tgs_)
        if (g.name == tg) return &g;
    return nullptr;
}

std::string DeviceGroup::add_device(const std::shared_ptr<Device>& dev) {
    {
        std::lock_guard lock(mu_);
        for (const auto& w : devices_)
            if (auto d = w.lock(); d && d->name() == dev->name())
                return "device " + dev->name() + " is already in device group " + name_;
        devices_.push_back(dev);
    }
    dev->set_alua_group(shared_from_this());
    return {};
}

std::string DeviceGroup::del_device(const std::string& device_name) {
    std::shared_ptr<Device> gone;
    {
        std::lock_guard lock(mu_);
        auto it = std::find_if(devices_.begin(), devices_.end(), [&](const std::weak_ptr<Device>& w) {
            auto d = w.lock();
            return d && d->name() == device_name;
        });
        if (it == devices_.end()) return "no device " + device_name + " in device group " + name_;
        gone = it->lock();
        devices_.erase(it);
    }
    if (gone) gone->set_alua_group(nullptr);
    return {};
}

std::vector<std::string> DeviceGroup::device_names() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> v;
    for (const auto& w : devices_)
        if (auto d = w.lock()) v.push_back(d->name());
    return v;
}

std::string DeviceGroup::create_target_group(const std::string& tg) {
    std::lock_guard lock(mu_);
    if (tg.empty()) return "a target group needs a name";
    // A directory of the management tree (target_groups/NAME).
    if (tg.find_first_of(" /\t") != std::string::npos) return "bad target group name '" + tg + "'";
    if (find(tg)) return "target group " + tg + " already exists";
    // SCST gives a new group no id; 0 is reserved by SPC-4, so the first free one is used.
    std::uint16_t id = 1;
    while (std::any_of(tgs_.begin(), tgs_.end(), [&](const TargetGroup& g) { return g.group_id == id; })) ++id;
    TargetGroup g;
    g.name = tg;
    g.group_id = id;
    tgs_.push_back(std::move(g));
    return {};
}

std::string DeviceGroup::del_target_group(const std::string& tg) {
    std::lock_guard lock(mu_);
    auto it = std::find_if(tgs_.begin(), tgs_.end(), [&](const TargetGroup& g) { return g.name == tg; });
    if (it == tgs_.end()) return "no target group " + tg;
    tgs_.erase(it);
    return {};
}

std::string DeviceGroup::add_target(const std::string& tg, const std::string& target, std::uint16_t rel) {
    std::lock_guard lock(mu_);
    TargetGroup* g = find(tg);
    if (!g) return "no target group " + tg;
    // SPC-4 §5.16.2.1: a target port is in exactly one target port group of the LU.
    for (const auto& o : tgs_)
        if (o.targets.count(target)) return "target " + target + " is already in target group " + o.name;
    g->targets[target] = rel;
    return {};
}

std::string DeviceGroup::del_target(const std::string& tg, const std::string& target) {
    std::lock_guard lock(mu_);
    TargetGroup* g = find(tg);
    if (!g) return "no target group " + tg;
    if (!g->targets.erase(target)) return "no target " + target + " in target group " + tg;
    return {};
}

std::string DeviceGroup::set_group_id(const std::string& tg, std::uint16_t id) {
    std::lock_guard lock(mu_);
    TargetGroup* g = find(tg);
    if (!g) return "no target group " + tg;
    if (id == 0) return "group_id: 0 is reserved (SPC-4 §6.37)";
    for (const auto& o : tgs_)
        if (&o != g && o.group_id == id) return "group_id " + std::to_string(id) + " is used by " + o.name;
    g->group_id = id;
    return {};
}

std::string DeviceGroup::set_preferred(const std::string& tg, bool preferred) {
    std::lock_guard lock(mu_);
    TargetGroup* g = find(tg);
    if (!g) return "no target group " + tg;
    g->preferred = preferred;
    return {};
}

std::string DeviceGroup::set_rel_tgt_id(const std::string& tg, const std::string& target, std::uint16_t id) {
    std::lock_guard lock(mu_);
    TargetGroup* g = find(tg);
    if (!g) return "no target group " + tg;
    auto it = g->targets.find(target);
    if (it == g->targets.end()) return "no target " + target + " in target group " + tg;
    it->second = id;
    return {};
}

std::string DeviceGroup::set_state(const std::string& tg, AluaState state, std::optional<std::uint64_t> except) {
    std::vector<std::shared_ptr<Device>> devs;
    {
        std::lock_guard lock(mu_);
        TargetGroup* g = find(tg);
        if (!g) return "no target group " + tg;
        if (g->state == state) return {};
        g->state = state;
        for (const auto& w : devices_)
            if (auto d = w.lock()) devs.push_back(d);
    }
    for (const auto& d : devs) d->raise_unit_attention(asc::AsymmetricAccessStateChanged, except);
    return {};
}

std::vector<TargetGroup> DeviceGroup::target_groups() const {
    std::lock_guard lock(mu_);
    return tgs_;
}

std::optional<TargetGroup> DeviceGroup::group_of_target(const std::string& target) const {
    std::lock_guard lock(mu_);
    for (const auto& g : tgs_)
        if (g.targets.count(target)) return g;
    return std::nullopt;
}

// ---- what each state lets through -----------------------------------------------------

std::optional<Sense> alua_refusal(AluaState state, const Command& c) {
    const std::uint8_t o = c.opcode();
    // SPC-4 §5.16.2.4.5 (unavailable) and §5.16.2.4.6 (transitioning): the commands that
    // manage or identify the LU still run.
    auto always = [&] {
        return o == kInquiry || o == kReportLuns || o == kRequestSense || o == kReadBuffer || o == kWriteBuffer ||
               is_rtpg(c) || is_stpg(c);
    };
    switch (state) {
        case AluaState::ActiveOptimized:
        case AluaState::ActiveNonOptimized:
            return std::nullopt;  // §5.16.2.4.2/3: every command
        case AluaState::Standby: {
            // §5.16.2.4.4: configuration and reservation commands run too.
            const bool ok = always() || o == kModeSelect6 || o == kModeSelect10 || o == kModeSense6 ||
                            o == kModeSense10 || o == kLogSelect || o == kLogSense ||
                            o == kReceiveDiagnosticResults || o == kSendDiagnostic || o == kMaintenanceIn ||
                            o == kPersistentReserveIn || o == kPersistentReserveOut ||
                            (o == kServiceActionIn16 && (ld8(c.cdb_bytes(), 1) & 0x1f) == kSaReadCapacity16);
            if (ok) return std::nullopt;
            return Sense{SenseKey::NotReady, asc::LogicalUnitNotAccessibleStandby};
        }
        case AluaState::Unavailable:
            if (always()) return std::nullopt;
            return Sense{SenseKey::NotReady, asc::LogicalUnitNotAccessibleUnavailable};
        case AluaState::Offline:
            if (o == kInquiry || o == kReportLuns || o == kRequestSense || is_rtpg(c)) return std::nullopt;
            return Sense{SenseKey::NotReady, asc::LogicalUnitNotAccessibleOffline};
        case AluaState::Transitioning:
            if (always()) return std::nullopt;
            return Sense{SenseKey::NotReady, asc::LogicalUnitNotAccessibleTransitioning};
    }
    return std::nullopt;
}

// ---- REPORT / SET TARGET PORT GROUPS --------------------------------------------------

void report_target_port_groups(Command& c, const DeviceGroup& group, bool dsense) {
    auto cdb = c.cdb_bytes();
    const std::uint8_t format = ld8(cdb, 1) >> 5;  // PARAMETER DATA FORMAT
    const std::uint32_t alloc = ld32(cdb, 6);
    if (format != 0 && format != 1) return c.fail(invalid_field_in_cdb(1, 7), dsense);
    const bool extended = format == 1;
    Bytes d(extended ? 8 : 4);
    if (extended) {
        st8(d, 4, 0x10);  // FORMAT TYPE 001b
        st8(d, 5, 0);     // IMPLICIT TRANSITION TIME: transitions are immediate
    }
    for (const auto& g : group.target_groups()) {
        Bytes e(8);
        st8(e, 0, static_cast<std::uint8_t>((g.preferred ? 0x80 : 0x00) | static_cast<std::uint8_t>(g.state)));
        // T_SUP, O_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP: every state can be set.
        st8(e, 1, 0xcf);
        st16(e, 2, g.group_id);
        st8(e, 5, 0);  // STATUS CODE: no status available
        st8(e, 7, static_cast<std::uint8_t>(std::min<std::size_t>(g.targets.size(), 255)));
        std::size_t n = 0;
        for (const auto& [t, rel] : g.targets) {
            if (n++ == 255) break;
            Bytes p(4);
            st16(p, 2, rel);
            e.insert(e.end(), p.begin(), p.end());
        }
        d.insert(d.end(), e.begin(), e.end());
    }
    st32(d, 0, static_cast<std::uint32_t>(d.size() - 4));  // RETURN DATA LENGTH
    return_data(c, d, alloc);
}

void set_target_port_groups(Command& c, DeviceGroup& group, bool dsense) {
    const std::uint32_t len = ld32(c.cdb_bytes(), 6);
    c.status = Status::Good;
    if (len == 0) return;  // SPC-4 §6.47: not an error
    if (c.data_out.size() < len || len < 4 || (len - 4) % 4 != 0)
        return c.fail(Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError}, dsense);
    std::span<const std::byte> p(c.data_out.data(), len);
    auto bad = [&](std::size_t byte) {
        Sense s{SenseKey::IllegalRequest, asc::InvalidFieldInParameterList};
        s.field_pointer = static_cast<std::uint16_t>(byte);
        s.field_in_cdb = false;
        c.fail(s, dsense);
    };
    // Validate the whole list before any change: SPC-4 §6.47 applies all or nothing.
    const auto groups = group.target_groups();
    std::vector<std::pair<std::string, AluaState>> changes;
    std::set<std::uint16_t> seen;
    for (std::size_t off = 4; off < len; off += 4) {
        const std::uint8_t st = ld8(p, off) & 0x0f;
        const std::uint16_t id = ld16(p, off + 2);
        // Transitioning cannot be requested (§6.47 table 293).
        if (st != 0x0 && st != 0x1 && st != 0x2 && st != 0x3 && st != 0xe) return bad(off);
        auto it = std::find_if(groups.begin(), groups.end(), [&](const TargetGroup& g) { return g.group_id == id; });
        if (it == groups.end() || !seen.insert(id).second) return bad(off + 2);
        changes.emplace_back(it->name, static_cast<AluaState>(st));
    }
    const std::optional<std::uint64_t> me = c.nexus ? std::optional(c.nexus->id) : std::nullopt;
    for (const auto& [name, st] : changes) group.set_state(name, st, me);
}

}  // namespace iscsilab::scsi
