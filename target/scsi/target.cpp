#include "target/scsi/target.hpp"

#include <algorithm>
#include <set>

#include "target/bytes.hpp"
#include "target/scsi/copy_manager.hpp"
#include "target/scsi/midlevel.hpp"
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

namespace {

// Runs a command on a device now, for the copy manager's look at a candidate LU: INQUIRY
// and READ CAPACITY complete before execute() returns on every handler here; a handler
// that answers later is not a copy target.
std::shared_ptr<Command> ask(Device& dev, std::initializer_list<std::uint8_t> cdb) {
    auto c = std::make_shared<Command>();
    std::size_t i = 0;
    for (auto b : cdb) c->cdb[i++] = static_cast<std::byte>(b);
    c->direction = DataDirection::Read;
    bool finished = false;
    dev.execute(c, AccessContext{}, [&finished] { finished = true; });
    if (!finished || c->status != Status::Good || !c->data_in) return nullptr;
    return c;
}

}  // namespace

Target::Target() {
    // SPC-4 §6.4.3.2: a CSCD descriptor names an LU by its designator (VPD page 83h); the
    // initiator reaches only the LUs it can see through this target.
    copies_ = std::make_unique<CopyManager>([this](const Designator& d, const Nexus& initiator) -> std::optional<CopyDevice> {
        auto luns = luns_for(initiator.initiator_name);
        for (const auto& [n, e] : *luns) {
            auto dev = e.device;
            if (dev->parse(Command{}).has_value()) continue;  // no medium
            auto vpd = ask(*dev, {0x12, 0x01, 0x83, 0x10, 0x00, 0x00});
            if (!vpd || !matches_vpd83(d, *vpd->data_in)) continue;
            auto cap = ask(*dev, {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0});
            if (!cap || cap->data_in->size() < 12) continue;
            CopyDevice out;
            out.num_blocks = ld64(*cap->data_in, 0) + 1;
            out.block_size = ld32(*cap->data_in, 8);
            AccessContext ctx;
            ctx.read_only = e.read_only;
            out.submit = [dev, ctx](std::shared_ptr<Command> cmd, Completion done) {
                submit(dev, std::move(cmd), ctx, std::move(done));
            };
            return out;
        }
        return std::nullopt;
    });
}

Target::~Target() = default;

void Target::forget_nexus(std::uint64_t nexus) const { copies_->forget_nexus(nexus); }

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
    // A directory of the management tree (ini_groups/NAME).
    if (group.find_first_of(" /\t") != std::string::npos) return "bad initiator group name '" + group + "'";
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
