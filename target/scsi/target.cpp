#include "target/scsi/target.hpp"

#include <algorithm>
#include <set>

#include "target/bytes.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

bool wildcard_match(std::string_view p, std::string_view s) {
    // Iterative glob with backtracking on the last '*'.
    std::size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
    while (si < s.size()) {
        if (pi < p.size() && (p[pi] == '?' || p[pi] == s[si])) {
            ++pi;
            ++si;
        } else if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
}

std::shared_ptr<const LunMap> Target::luns_for(const std::string& initiator) const {
    std::lock_guard lock(mu_);
    for (const auto& g : groups_)
        for (const auto& pat : g.initiators)
            if (wildcard_match(pat, initiator)) return group_maps_.at(g.name);
    return default_;
}

LunMap* Target::map_of(const std::string& group) {
    if (group.empty()) return nullptr;
    for (auto& g : groups_)
        if (g.name == group) return &g.luns;
    return nullptr;
}

void Target::announce_change(const LunMap& before, const LunMap& after) {
    // SPC-4 §6.33: every nexus that could see the old or the new inventory is told.
    std::set<Device*> seen;
    for (const auto* m : {&before, &after})
        for (const auto& [n, e] : *m)
            if (seen.insert(e.device.get()).second)
                e.device->raise_unit_attention(asc::ReportedLunsDataHasChanged);
}

namespace {
template <class F>
std::string edit_map(std::shared_ptr<const LunMap>& slot, LunMap* group_map, F&& f,
                     LunMap& before, LunMap& after) {
    LunMap copy = group_map ? *group_map : *slot;
    std::string err = f(copy);
    if (!err.empty()) return err;
    before = group_map ? *group_map : *slot;
    after = copy;
    if (group_map) *group_map = copy;
    else slot = std::make_shared<LunMap>(std::move(copy));
    return {};
}
}  // namespace

std::string Target::add_lun(const std::string& group, std::uint32_t lun,
                            std::shared_ptr<Device> dev, bool read_only) {
    if (lun > 16383) return "LUN " + std::to_string(lun) + " out of range 0..16383";
    LunMap before, after;
    {
        std::lock_guard lock(mu_);
        LunMap* gm = map_of(group);
        if (!group.empty() && !gm) return "no initiator group '" + group + "'";
        std::string err = edit_map(default_, gm, [&](LunMap& m) -> std::string {
            if (m.count(lun)) return "LUN " + std::to_string(lun) + " already exists";
            for (const auto& [n, e] : m)
                if (e.device == dev) return "device " + dev->name() + " is already LUN " + std::to_string(n);
            m[lun] = LunEntry{dev, read_only};
            return {};
        }, before, after);
        if (!err.empty()) return err;
        if (gm) group_maps_[group] = std::make_shared<LunMap>(*gm);
    }
    announce_change(before, after);
    return {};
}

std::string Target::del_lun(const std::string& group, std::uint32_t lun) {
    LunMap before, after;
    {
        std::lock_guard lock(mu_);
        LunMap* gm = map_of(group);
        if (!group.empty() && !gm) return "no initiator group '" + group + "'";
        std::string err = edit_map(default_, gm, [&](LunMap& m) -> std::string {
            if (!m.erase(lun)) return "no LUN " + std::to_string(lun);
            return {};
        }, before, after);
        if (!err.empty()) return err;
        if (gm) group_maps_[group] = std::make_shared<LunMap>(*gm);
    }
    announce_change(before, after);
    return {};
}

std::string Target::clear_luns(const std::string& group) {
    LunMap before, after;
    {
        std::lock_guard lock(mu_);
        LunMap* gm = map_of(group);
        if (!group.empty() && !gm) return "no initiator group '" + group + "'";
        edit_map(default_, gm, [](LunMap& m) -> std::string { m.clear(); return {}; }, before, after);
        if (gm) group_maps_[group] = std::make_shared<LunMap>(*gm);
    }
    announce_change(before, after);
    return {};
}

std::string Target::create_group(const std::string& group) {
    std::lock_guard lock(mu_);
    if (group.empty()) return "a group needs a name";
    if (map_of(group)) return "initiator group '" + group + "' already exists";
    groups_.push_back(IniGroup{group, {}, {}});
    group_maps_[group] = std::make_shared<LunMap>();
    return {};
}

std::string Target::del_group(const std::string& group) {
    std::lock_guard lock(mu_);
    auto it = std::find_if(groups_.begin(), groups_.end(), [&](const IniGroup& g) { return g.name == group; });
    if (it == groups_.end()) return "no initiator group '" + group + "'";
    groups_.erase(it);
    group_maps_.erase(group);
    return {};
}

std::string Target::add_initiator(const std::string& group, const std::string& name) {
    std::lock_guard lock(mu_);
    if (name.empty()) return "an initiator needs a name";
    for (const auto& g : groups_)
        if (std::find(g.initiators.begin(), g.initiators.end(), name) != g.initiators.end())
            return "initiator '" + name + "' is already in group '" + g.name + "'";
    for (auto& g : groups_)
        if (g.name == group) {
            g.initiators.push_back(name);
            return {};
        }
    return "no initiator group '" + group + "'";
}

std::string Target::del_initiator(const std::string& group, const std::string& name) {
    std::lock_guard lock(mu_);
    for (auto& g : groups_)
        if (g.name == group) {
            auto it = std::find(g.initiators.begin(), g.initiators.end(), name);
            if (it == g.initiators.end()) return "no initiator '" + name + "' in group '" + group + "'";
            g.initiators.erase(it);
            return {};
        }
    return "no initiator group '" + group + "'";
}

std::string Target::clear_initiators(const std::string& group) {
    std::lock_guard lock(mu_);
    for (auto& g : groups_)
        if (g.name == group) {
            g.initiators.clear();
            return {};
        }
    return "no initiator group '" + group + "'";
}

bool Target::uses_device(const Device& dev) const {
    std::lock_guard lock(mu_);
    for (const auto& [n, e] : *default_)
        if (e.device.get() == &dev) return true;
    for (const auto& g : groups_)
        for (const auto& [n, e] : g.luns)
            if (e.device.get() == &dev) return true;
    return false;
}

std::optional<std::string> Target::group_of(const std::string& initiator) const {
    std::lock_guard lock(mu_);
    for (const auto& g : groups_)
        for (const auto& pat : g.initiators)
            if (wildcard_match(pat, initiator)) return g.name;
    return std::nullopt;
}

LunMap Target::default_luns() const {
    std::lock_guard lock(mu_);
    return *default_;
}

std::vector<IniGroup> Target::groups() const {
    std::lock_guard lock(mu_);
    return groups_;
}

}  // namespace iscsilab::scsi
