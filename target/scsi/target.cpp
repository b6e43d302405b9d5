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

void Target::execute(std::shared_ptr<Command> cmd, Completion done) const {
    auto luns = luns_for(cmd->nexus ? cmd->nexus->initiator_name : std::string());
    const std::uint8_t opcode = cmd->opcode();
    const std::uint32_t lun = decode_lun(cmd->lun);

    if (opcode == op::ReportLuns) {
        // SPC-4 §6.33: answered by the target for any LUN, from the nexus's own map.
        auto cdb = cmd->cdb_bytes();
        const std::uint8_t select = ld8(cdb, 2);
        const std::uint32_t alloc = ld32(cdb, 6);
        if (select > 2 && select != 0x10 && select != 0x11 && select != 0x12) {
            cmd->fail(invalid_field_in_cdb(2), false);
        } else if (alloc < 16) {
            cmd->fail(invalid_field_in_cdb(6), false);
        } else {
            std::vector<std::uint32_t> list;
            for (const auto& [n, e] : *luns) list.push_back(n);
            if (select == 0x01 || select == 0x10) list.clear();  // no well-known LUNs here
            auto data = report_luns_data(list);
            return_data(*cmd, data, alloc);
            auto it = luns->find(lun);
            if (it != luns->end() && cmd->nexus) {
                // SPC-4 §6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED.
                auto ua = it->second.device->peek_unit_attention(cmd->nexus->id);
                if (ua && *ua == asc::ReportedLunsDataHasChanged)
                    it->second.device->take_unit_attention(cmd->nexus->id);
            }
        }
        done();
        return;
    }

    auto it = luns->find(lun);
    if (it == luns->end()) {
        if (opcode == op::Inquiry) {
            auto cdb = cmd->cdb_bytes();
            if (ld8(cdb, 1) & 0x01) {
                cmd->fail(Sense{SenseKey::IllegalRequest, asc::LogicalUnitNotSupported}, false);
            } else {
                auto data = inquiry_no_lun();
                return_data(*cmd, data, ld16(cdb, 3));
            }
        } else if (opcode == op::RequestSense) {
            // SPC-4 §6.39: for an unsupported LUN, the sense data reports it as GOOD data.
            auto data = encode_sense(Sense{SenseKey::IllegalRequest, asc::LogicalUnitNotSupported},
                                     (ld8(cmd->cdb_bytes(), 1) & 0x01) != 0);
            return_data(*cmd, data, ld8(cmd->cdb_bytes(), 4));
        } else {
            cmd->fail(Sense{SenseKey::IllegalRequest, asc::LogicalUnitNotSupported}, false);
        }
        done();
        return;
    }
    AccessContext ctx;
    ctx.read_only = it->second.read_only;
    // Through the LU's task set: ORDERED and HEAD OF QUEUE keep their meaning (SAM-5 §8.6).
    auto dev = it->second.device;
    const TaskAttribute attr = cmd->attr;
    dev->task_set().submit(attr, [dev, cmd, ctx, attr, done = std::move(done)]() mutable {
        if (cmd->aborted) {  // aborted while it waited: nothing to run
            dev->task_set().finished(attr);
            return done();
        }
        dev->execute(cmd, ctx, [dev, attr, done = std::move(done)] {
            dev->task_set().finished(attr);
            done();
        });
    });
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
