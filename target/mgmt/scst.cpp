#include "target/mgmt/scst.hpp"

#include <algorithm>

#include "target/handlers/null_store.hpp"

namespace iscsilab::mgmt {

const std::vector<std::string>& Scst::handler_names() {
    static const std::vector<std::string> names = {"vcdrom", "vdisk_blockio", "vdisk_fileio", "vdisk_nullio"};
    return names;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_param_list(const std::string& s,
                                                                                std::string& error) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t start = 0;
    while (start < s.size()) {
        auto semi = s.find(';', start);
        if (semi == std::string::npos) semi = s.size();
        std::string item = s.substr(start, semi - start);
        start = semi + 1;
        auto b = item.find_first_not_of(" \t");
        if (b == std::string::npos) continue;
        auto e = item.find_last_not_of(" \t");
        item = item.substr(b, e - b + 1);
        auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
            // The item may be "IncomingUser joe s3cret": quoted without its secret.
            error = "expected key=value, got '" + iscsi::CredentialSet::redacted(item) + "'";
            return std::nullopt;
        }
        out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    return out;
}

std::string Scst::add_device(const std::string& handler, const std::string& name,
                             const std::vector<std::pair<std::string, std::string>>& params) {
    const auto& hs = handler_names();
    if (std::find(hs.begin(), hs.end(), handler) == hs.end()) return "no handler '" + handler + "'";
    if (name.empty() || name.find_first_of(" /\t") != std::string::npos) return "bad device name '" + name + "'";
    {
        std::lock_guard lock(mu_);
        if (devices_.count(name)) return "device " + name + " already exists";
    }
    handlers::VdiskConfig cfg;
    cfg.handler = handler;
    cfg.name = name;
    for (const auto& [k, v] : params) {
        std::string err = cfg.set(k, v);
        if (!err.empty()) return err;
    }
    std::shared_ptr<BlockStore> store;
    if (handler == "vcdrom") {
        // A CD-ROM: read-only, 2048-byte blocks, and no medium until a filename is given.
        cfg.read_only = true;
        cfg.blocksize = 2048;
        if (!cfg.filename.empty()) {
            std::string err;
            store = stores_.open(cfg, err);
            if (!store) return err;
        }
    } else if (handler == "vdisk_nullio") {
        if (cfg.size_bytes == 0) cfg.size_bytes = std::uint64_t{1} << 40;  // SCST nullio: large and empty
        store = std::make_shared<handlers::NullStore>(cfg.size_bytes);
    } else {
        if (cfg.filename.empty()) return handler + " needs filename=";
        std::string err;
        store = stores_.open(cfg, err);
        if (!store) return err;
    }
    if (store && store->size_bytes() < cfg.blocksize) return name + ": backing store smaller than one block";
    auto dev = std::make_shared<handlers::Vdisk>(cfg, store);
    // SCST reads /var/lib/scst/pr/<device> when the device is registered (APTPL).
    if (std::string e = dev->set_state_store(stores_.state_store()); !e.empty())
        return name + ": its saved persistent reservations cannot be read (" + e + ")";
    std::lock_guard lock(mu_);
    devices_[name] = dev;
    return {};
}

std::string Scst::del_device(const std::string& handler, const std::string& name) {
    std::lock_guard lock(mu_);
    auto it = devices_.find(name);
    if (it == devices_.end() || it->second->handler() != handler)
        return "no device " + name + " in handler " + handler;
    for (const auto& t : driver_.targets())
        if (t->luns().uses_device(*it->second)) return "device " + name + " is still a LUN of " + t->name();
    if (auto g = it->second->alua_group()) g->del_device(name);
    devices_.erase(it);
    return {};
}

std::string Scst::change_medium(const std::string& name, const std::string& filename) {
    auto vdisk = std::dynamic_pointer_cast<handlers::Vdisk>(device(name));
    if (!vdisk) return "no device " + name;
    if (!vdisk->cdrom()) return "filename is read-only once the device exists";
    if (filename.empty()) return vdisk->change_medium(nullptr, {});  // the tray is emptied
    // SCST's vcdrom_change: the path must be absolute.
    if (filename[0] != '/') return "filename: '" + filename + "' is not an absolute path";
    handlers::VdiskConfig cfg = vdisk->config();  // read-only, 2048-byte blocks, as add_device made it
    cfg.filename = filename;
    std::string err;
    auto store = stores_.open(cfg, err);
    if (!store) return err;
    return vdisk->change_medium(std::move(store), filename);
}

std::string Scst::create_device_group(const std::string& name) {
    std::lock_guard lock(mu_);
    if (name.empty()) return "a device group needs a name";
    // A directory of the tree (device_groups/NAME), as a device's name is.
    if (name.find_first_of(" /\t") != std::string::npos) return "bad device group name '" + name + "'";
    if (device_groups_.count(name)) return "device group " + name + " already exists";
    device_groups_[name] = std::make_shared<scsi::DeviceGroup>(name);
    return {};
}

std::string Scst::del_device_group(const std::string& name) {
    std::shared_ptr<scsi::DeviceGroup> g;
    {
        std::lock_guard lock(mu_);
        auto it = device_groups_.find(name);
        if (it == device_groups_.end()) return "no device group " + name;
        g = it->second;
        device_groups_.erase(it);
    }
    for (const auto& d : g->device_names()) g->del_device(d);
    return {};
}

std::shared_ptr<scsi::DeviceGroup> Scst::device_group(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = device_groups_.find(name);
    return it == device_groups_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<scsi::DeviceGroup>> Scst::device_groups() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<scsi::DeviceGroup>> v;
    for (const auto& [n, g] : device_groups_) v.push_back(g);
    return v;
}

std::string Scst::add_group_device(const std::string& group, const std::string& device_name) {
    auto g = device_group(group);
    if (!g) return "no device group " + group;
    auto dev = device(device_name);
    if (!dev) return "no device " + device_name;
    if (auto other = dev->alua_group()) return "device " + device_name + " is already in device group " + other->name();
    return g->add_device(dev);
}

std::string Scst::del_group_device(const std::string& group, const std::string& device_name) {
    auto g = device_group(group);
    if (!g) return "no device group " + group;
    return g->del_device(device_name);
}

std::shared_ptr<scsi::Device> Scst::device(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = devices_.find(name);
    return it == devices_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<scsi::Device>> Scst::devices() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<scsi::Device>> v;
    for (const auto& [n, d] : devices_) v.push_back(d);
    return v;
}

std::optional<ConfError> Scst::apply(const std::vector<ConfBlock>& blocks, const std::string& file) {
    auto err = [&](int line, std::string msg) { return ConfError{file, line, std::move(msg)}; };
    auto parse_lun = [](const std::string& s) -> std::optional<std::uint32_t> {
        auto n = iscsi::parse_number(s);
        if (!n || *n > 16383) return std::nullopt;
        return n;
    };
    // LUN n dev { read_only 1 }
    auto add_lun = [&](iscsi::TargetNode& t, const std::string& group, const ConfBlock& b) -> std::optional<ConfError> {
        auto lun = parse_lun(b.args[0]);
        if (!lun) return err(b.line, "LUN number expected (0..16383), got '" + b.args[0] + "'");
        auto dev = device(b.args[1]);
        if (!dev) return err(b.line, "no device '" + b.args[1] + "' (declare it in a HANDLER block first)");
        bool ro = false;
        for (const auto& a : b.attrs) {
            if (a.name != "read_only" || (a.value != "0" && a.value != "1"))
                return err(a.line, "LUN attribute: expected read_only 0|1, got '" + a.name + " " + a.value + "'");
            ro = a.value == "1";
        }
        if (!b.children.empty()) return err(b.children[0].line, "a LUN holds no blocks");
        std::string e = t.luns().add_lun(group, *lun, dev, ro);
        if (!e.empty()) return err(b.line, e);
        return std::nullopt;
    };

    for (const auto& top : blocks) {
        if (top.keyword == "DEVICE_GROUP") continue;  // after every device and target exists
        if (top.keyword == "HANDLER") {
            const auto& hs = handler_names();
            if (std::find(hs.begin(), hs.end(), top.args[0]) == hs.end())
                return err(top.line, "no handler '" + top.args[0] + "'; expected vcdrom, vdisk_blockio, vdisk_fileio or vdisk_nullio");
            for (const auto& d : top.children) {
                std::vector<std::pair<std::string, std::string>> params;
                for (const auto& a : d.attrs) params.emplace_back(a.name, a.value);
                std::string e = add_device(top.args[0], d.args[0], params);
                if (!e.empty()) return err(d.line, "DEVICE " + d.args[0] + ": " + e);
            }
            if (!top.attrs.empty()) return err(top.attrs[0].line, "HANDLER takes DEVICE blocks, not attributes");
            continue;
        }
        // TARGET_DRIVER
        if (top.args[0] != "iscsi") return err(top.line, "TARGET_DRIVER '" + top.args[0] + "': only iscsi is supported");
        std::optional<bool> driver_enabled;
        for (const auto& a : top.attrs) {
            if (a.name == "enabled") {
                if (a.value != "0" && a.value != "1") return err(a.line, "enabled: expected 0 or 1");
                driver_enabled = a.value == "1";
            } else if (iscsi::CredentialSet::is_credential_attr(a.name)) {
                std::string e = driver_.add_discovery_credential(a.name, a.value);
                if (!e.empty()) return err(a.line, e);
            } else if (a.name == "iSNSServer") {
                driver_.set_isns_server(a.value);
            } else if (iscsi::DriverLimits::is_attribute(a.name)) {
                std::string e = driver_.set_limit(a.name, a.value);
                if (!e.empty()) return err(a.line, e);
            } else {
                return err(a.line, "unknown iscsi driver attribute '" + a.name +
                                       "'; expected enabled, IncomingUser, OutgoingUser, iSNSServer, login_timeout, "
                                       "max_connections, max_pending_logins, max_sessions, max_sessions_per_initiator");
            }
        }
        for (const auto& tb : top.children) {
            const std::string& name = tb.args[0];
            std::string e = driver_.add_target(name);
            if (!e.empty()) return err(tb.line, e);
            auto t = driver_.find_target(name);
            std::optional<bool> enabled;
            for (const auto& a : tb.attrs) {
                if (a.name == "enabled") {
                    if (a.value != "0" && a.value != "1") return err(a.line, "enabled: expected 0 or 1");
                    enabled = a.value == "1";
                } else if (a.name == "rel_tgt_id") {
                    auto v = iscsi::parse_number(a.value);
                    if (!v || *v == 0 || *v > 65535) return err(a.line, "rel_tgt_id: expected 1..65535");
                    t->set_rel_tgt_id(static_cast<std::uint16_t>(*v));
                } else if (iscsi::CredentialSet::is_credential_attr(a.name)) {
                    std::string ce = t->add_credential(a.name, a.value);
                    if (!ce.empty()) return err(a.line, ce);
                } else {
                    std::string pe = t->set_param(a.name, a.value);
                    if (!pe.empty()) return err(a.line, pe);
                }
            }
            for (const auto& c : tb.children) {
                if (c.keyword == "LUN") {
                    if (auto le = add_lun(*t, "", c)) return le;
                    continue;
                }
                // GROUP
                std::string ge = t->luns().create_group(c.args[0]);
                if (!ge.empty()) return err(c.line, ge);
                if (!c.attrs.empty()) return err(c.attrs[0].line, "GROUP holds LUN and INITIATOR, not attributes");
                for (const auto& g : c.children) {
                    if (g.keyword == "LUN") {
                        if (auto le = add_lun(*t, c.args[0], g)) return le;
                    } else {
                        std::string ie = t->luns().add_initiator(c.args[0], g.args[0]);
                        if (!ie.empty()) return err(g.line, ie);
                    }
                }
            }
            if (enabled.value_or(false)) {
                std::string ee = driver_.enable_target(name, true);
                if (!ee.empty()) return err(tb.line, ee);
            }
        }
        if (driver_enabled) driver_.set_enabled(*driver_enabled);
    }
    for (const auto& top : blocks)
        if (top.keyword == "DEVICE_GROUP")
            if (auto e = apply_device_group(top, file)) return e;
    return std::nullopt;
}

// DEVICE_GROUP dg { DEVICE d  TARGET_GROUP tg { group_id 1  state active  preferred 0
//                   TARGET iqn... { rel_tgt_id 1 } } }, as scstadmin writes it.
std::optional<ConfError> Scst::apply_device_group(const ConfBlock& top, const std::string& file) {
    auto err = [&](int line, std::string msg) { return ConfError{file, line, std::move(msg)}; };
    const std::string& dg = top.args[0];
    if (auto e = create_device_group(dg); !e.empty()) return err(top.line, e);
    if (!top.attrs.empty()) return err(top.attrs[0].line, "DEVICE_GROUP holds DEVICE and TARGET_GROUP, not attributes");
    auto group = device_group(dg);
    for (const auto& c : top.children) {
        if (c.keyword == "DEVICE") {
            if (!c.attrs.empty() || !c.children.empty()) return err(c.line, "a DEVICE of a device group takes no attributes");
            if (auto e = add_group_device(dg, c.args[0]); !e.empty()) return err(c.line, e);
            continue;
        }
        // TARGET_GROUP
        const std::string& tg = c.args[0];
        if (auto e = group->create_target_group(tg); !e.empty()) return err(c.line, e);
        for (const auto& a : c.attrs) {
            std::string e;
            if (a.name == "group_id") {
                auto v = iscsi::parse_number(a.value);
                e = !v || *v == 0 || *v > 65535 ? "group_id: expected 1..65535"
                                                : group->set_group_id(tg, static_cast<std::uint16_t>(*v));
            } else if (a.name == "state") {
                auto st = scsi::parse_alua_state(a.value);
                e = st ? group->set_state(tg, *st)
                       : "state: expected active, nonoptimized, standby, unavailable, offline or transitioning";
            } else if (a.name == "preferred") {
                e = a.value == "0" || a.value == "1" ? group->set_preferred(tg, a.value == "1")
                                                     : "preferred: expected 0 or 1";
            } else {
                e = "unknown target group attribute '" + a.name + "'; expected group_id, state or preferred";
            }
            if (!e.empty()) return err(a.line, e);
        }
        for (const auto& t : c.children) {
            auto local = driver_.find_target(t.args[0]);
            std::uint16_t rel = local ? local->rel_tgt_id() : 0;
            for (const auto& a : t.attrs) {
                auto v = iscsi::parse_number(a.value);
                if (a.name != "rel_tgt_id" || !v || *v == 0 || *v > 65535)
                    return err(a.line, "TARGET of a target group: expected rel_tgt_id 1..65535");
                rel = static_cast<std::uint16_t>(*v);
            }
            if (rel == 0) return err(t.line, "target " + t.args[0] + " is not local: give its rel_tgt_id");
            if (auto e = group->add_target(tg, t.args[0], rel); !e.empty()) return err(t.line, e);
        }
    }
    return std::nullopt;
}

}  // namespace iscsilab::mgmt
