// The ALUA room of the tree: device_groups/, as SCST lays it out (scst_tg.c's sysfs):
//   device_groups/mgmt                                  create NAME | del NAME
//   device_groups/<dg>/devices/mgmt                     add DEVICE | del DEVICE
//   device_groups/<dg>/devices/<device>                 -> ../../../devices/<device>
//   device_groups/<dg>/target_groups/mgmt               create NAME | del NAME
//   device_groups/<dg>/target_groups/<tg>/mgmt          add TARGET | del TARGET
//   device_groups/<dg>/target_groups/<tg>/{group_id,preferred,state}
//   device_groups/<dg>/target_groups/<tg>/<target>/rel_tgt_id
#include <algorithm>

#include "target/mgmt/tree_detail.hpp"
#include "target/scsi/alua.hpp"

namespace iscsilab::mgmt {

using namespace detail;

namespace {
const char* kDeviceGroupsUsage = "Usage: echo \"create GROUP_NAME\" >mgmt\n       echo \"del GROUP_NAME\" >mgmt\n";
const char* kGroupDevicesUsage = "Usage: echo \"add DEVICE_NAME\" >mgmt\n       echo \"del DEVICE_NAME\" >mgmt\n";
const char* kTargetGroupsUsage = "Usage: echo \"create TARGET_GROUP_NAME\" >mgmt\n       echo \"del TARGET_GROUP_NAME\" >mgmt\n";
const char* kTargetGroupUsage = "Usage: echo \"add TARGET_NAME\" >mgmt\n       echo \"del TARGET_NAME\" >mgmt\n";

std::optional<scsi::TargetGroup> find_tg(const scsi::DeviceGroup& g, const std::string& tg) {
    for (auto& t : g.target_groups())
        if (t.name == tg) return t;
    return std::nullopt;
}
}  // namespace

MgmtTree::Node MgmtTree::device_groups_node(const std::vector<std::string>& p, std::size_t i, std::string& err) {
    if (p.size() == i)
        return Node::dir([this] {
            std::vector<Entry> v{A("mgmt")};
            for (const auto& g : scst_.device_groups()) v.push_back(D(g->name()));
            return v;
        });
    if (p.size() == i + 1 && p[i] == "mgmt")
        return Node::mgmt(kDeviceGroupsUsage, [this](const std::string& cmd) -> std::string {
            auto w = words(cmd);
            if (w.size() == 2 && w[0] == "create") return scst_.create_device_group(w[1]);
            if (w.size() == 2 && w[0] == "del") return scst_.del_device_group(w[1]);
            return "device_groups/mgmt: expected 'create NAME' or 'del NAME'";
        });
    auto g = scst_.device_group(p[i]);
    if (!g) {
        err = "no device group " + p[i];
        return {};
    }
    const std::string dg = p[i];
    if (p.size() == i + 1) return Node::dir([] { return std::vector<Entry>{D("devices"), D("target_groups")}; });
    const std::string& room = p[i + 1];
    if (room == "devices") {
        if (p.size() == i + 2)
            return Node::dir([g] {
                std::vector<Entry> v{A("mgmt")};
                for (const auto& d : g->device_names()) v.push_back(L(d, "../../../devices/" + d));
                return v;
            });
        if (p.size() == i + 3 && p[i + 2] == "mgmt")
            return Node::mgmt(kGroupDevicesUsage, [this, dg](const std::string& cmd) -> std::string {
                auto w = words(cmd);
                if (w.size() == 2 && w[0] == "add") return scst_.add_group_device(dg, w[1]);
                if (w.size() == 2 && w[0] == "del") return scst_.del_group_device(dg, w[1]);
                return "devices/mgmt: expected 'add DEVICE' or 'del DEVICE'";
            });
        if (p.size() == i + 3) {
            auto names = g->device_names();
            if (std::find(names.begin(), names.end(), p[i + 2]) != names.end())
                return Node::to("../../../devices/" + p[i + 2]);
        }
        err = "no such device in group " + dg;
        return {};
    }
    if (room != "target_groups") {
        err = "no such path";
        return {};
    }
    if (p.size() == i + 2)
        return Node::dir([g] {
            std::vector<Entry> v{A("mgmt")};
            for (const auto& t : g->target_groups()) v.push_back(D(t.name));
            return v;
        });
    if (p.size() == i + 3 && p[i + 2] == "mgmt")
        return Node::mgmt(kTargetGroupsUsage, [g](const std::string& cmd) -> std::string {
            auto w = words(cmd);
            if (w.size() == 2 && w[0] == "create") return g->create_target_group(w[1]);
            if (w.size() == 2 && w[0] == "del") return g->del_target_group(w[1]);
            return "target_groups/mgmt: expected 'create NAME' or 'del NAME'";
        });
    const std::string tg = p[i + 2];
    auto t = find_tg(*g, tg);
    if (!t) {
        err = "no target group " + tg;
        return {};
    }
    if (p.size() == i + 3)
        return Node::dir([g, tg] {
            std::vector<Entry> v{A("group_id"), A("mgmt"), A("preferred"), A("state")};
            if (auto now = find_tg(*g, tg))
                for (const auto& [name, rel] : now->targets) v.push_back(D(name));
            return v;
        });
    const std::string& leaf = p[i + 3];
    if (p.size() == i + 4) {
        if (leaf == "mgmt")
            return Node::mgmt(kTargetGroupUsage, [this, g, tg](const std::string& cmd) -> std::string {
                auto w = words(cmd);
                if (w.size() == 2 && w[0] == "add") {
                    // A local target brings its own rel_tgt_id; a remote one is given one
                    // through <target>/rel_tgt_id afterwards (SCST: 0 until set).
                    auto local = scst_.driver().find_target(w[1]);
                    return g->add_target(tg, w[1], local ? local->rel_tgt_id() : 0);
                }
                if (w.size() == 2 && w[0] == "del") return g->del_target(tg, w[1]);
                return "mgmt: expected 'add TARGET' or 'del TARGET'";
            });
        if (leaf == "group_id")
            return Node::attr([g, tg] { return std::to_string(find_tg(*g, tg).value_or(scsi::TargetGroup{}).group_id) + "\n"; },
                              [g, tg](const std::string& v) -> std::string {
                                  auto n = iscsi::parse_number(trim(v));
                                  if (!n || *n == 0 || *n > 65535) return "group_id: expected 1..65535";
                                  return g->set_group_id(tg, static_cast<std::uint16_t>(*n));
                              });
        if (leaf == "preferred")
            return Node::attr([g, tg] { return flag(find_tg(*g, tg).value_or(scsi::TargetGroup{}).preferred) + "\n"; },
                              [g, tg](const std::string& v) -> std::string {
                                  auto b = parse_flag(v);
                                  if (!b) return "preferred: expected 0 or 1";
                                  return g->set_preferred(tg, *b);
                              });
        if (leaf == "state")
            return Node::attr(
                [g, tg] {
                    return std::string(scsi::scst_name(find_tg(*g, tg).value_or(scsi::TargetGroup{}).state)) + "\n";
                },
                [this, g, tg](const std::string& v) -> std::string {
                    auto st = scsi::parse_alua_state(trim(v));
                    if (!st) return "state: expected active, nonoptimized, standby, unavailable, offline or transitioning";
                    std::string e = g->set_state(tg, *st);
                    if (e.empty()) log("scst", "device group " + g->name() + ": target group " + tg + " is now " + trim(v));
                    return e;
                });
    }
    if (t->targets.count(leaf)) {
        if (p.size() == i + 4) return Node::dir([] { return std::vector<Entry>{A("rel_tgt_id")}; });
        if (p.size() == i + 5 && p[i + 4] == "rel_tgt_id") {
            const std::string target = leaf;
            return Node::attr(
                [g, tg, target] {
                    auto now = find_tg(*g, tg);
                    auto it = now ? now->targets.find(target) : decltype(now->targets.end()){};
                    return (now && it != now->targets.end() ? std::to_string(it->second) : std::string("0")) + "\n";
                },
                [g, tg, target](const std::string& v) -> std::string {
                    auto n = iscsi::parse_number(trim(v));
                    if (!n || *n == 0 || *n > 65535) return "rel_tgt_id: expected 1..65535";
                    return g->set_rel_tgt_id(tg, target, static_cast<std::uint16_t>(*n));
                });
        }
    }
    err = "no such path";
    return {};
}

void MgmtTree::save_device_groups(std::vector<ConfBlock>& blocks) {
    for (const auto& g : scst_.device_groups()) {
        ConfBlock gb{"DEVICE_GROUP", {g->name()}, 0, {}, {}};
        for (const auto& d : g->device_names()) gb.children.push_back(ConfBlock{"DEVICE", {d}, 0, {}, {}});
        for (const auto& t : g->target_groups()) {
            ConfBlock tb{"TARGET_GROUP", {t.name}, 0, {}, {}};
            tb.attrs.push_back({"group_id", std::to_string(t.group_id), 0});
            tb.attrs.push_back({"state", std::string(scsi::scst_name(t.state)), 0});
            tb.attrs.push_back({"preferred", flag(t.preferred), 0});
            for (const auto& [name, rel] : t.targets) {
                ConfBlock target{"TARGET", {name}, 0, {}, {}};
                target.attrs.push_back({"rel_tgt_id", std::to_string(rel), 0});
                tb.children.push_back(std::move(target));
            }
            gb.children.push_back(std::move(tb));
        }
        blocks.push_back(std::move(gb));
    }
}

}  // namespace iscsilab::mgmt
