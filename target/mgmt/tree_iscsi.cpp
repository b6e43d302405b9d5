// The iSCSI target driver's room of the tree: targets/iscsi with its targets, LUNs,
// initiator groups and sessions (iscsi-scst README 2.0).
#include <algorithm>

#include "target/iscsi/connection.hpp"
#include "target/iscsi/session.hpp"
#include "target/mgmt/tree_detail.hpp"

namespace iscsilab::mgmt {

using namespace detail;

namespace {
std::string ip_of(const std::string& endpoint) {
    if (!endpoint.empty() && endpoint[0] == '[') return endpoint.substr(1, endpoint.find(']') - 1);
    return endpoint.substr(0, endpoint.rfind(':'));
}

const char* kDriverUsage =
    "Usage: echo \"add_target target_name [parameters]\" >mgmt\n"
    "       echo \"del_target target_name\" >mgmt\n"
    "       echo \"add_attribute <attribute> <value>\" >mgmt\n"
    "       echo \"del_attribute <attribute> <value>\" >mgmt\n"
    "       echo \"add_target_attribute target_name <attribute> <value>\" >mgmt\n"
    "       echo \"del_target_attribute target_name <attribute> <value>\" >mgmt\n"
    "where <attribute> is IncomingUser[N], OutgoingUser or iSNSServer\n";
const char* kLunsUsage =
    "Usage: echo \"add|del H:C:I:L lun [parameters]\" >mgmt\n"
    "       echo \"add VNAME lun [parameters]\" >mgmt\n"
    "       echo \"del lun\" >mgmt\n"
    "       echo \"replace VNAME lun [parameters]\" >mgmt\n"
    "       echo \"clear\" >mgmt\n"
    "where parameters: read_only=0|1\n";
const char* kGroupsUsage = "Usage: echo \"create GROUP_NAME\" >mgmt\n       echo \"del GROUP_NAME\" >mgmt\n";
const char* kInitiatorsUsage =
    "Usage: echo \"add INITIATOR_NAME\" >mgmt\n       echo \"del INITIATOR_NAME\" >mgmt\n       echo \"clear\" >mgmt\n";

}  // namespace

MgmtTree::Node MgmtTree::iscsi_node(const std::vector<std::string>& p, std::size_t i, std::string& err) {
    auto& drv = scst_.driver();
    if (p.size() == i)
        return Node::dir([&drv] {
            std::vector<Entry> v{A("enabled"), A("iSNSServer"), A("mgmt"), A("open_state"), A("refusals"), A("trace_level"),
                                 A("version")};
            for (auto n : iscsi::DriverLimits::attribute_names()) v.push_back(A(std::string(n)));
            const auto creds = drv.discovery_credentials();
            for (const auto& [n, c] : creds.entries()) v.push_back(A(n));
            for (const auto& t : drv.targets()) v.push_back(D(t->name()));
            return v;
        });
    const std::string& leaf = p[i];
    if (p.size() == i + 1) {
        if (leaf == "enabled")
            return Node::attr([&drv] { return flag(drv.enabled()) + "\n"; },
                              [&drv](const std::string& v) -> std::string {
                                  auto b = parse_flag(v);
                                  if (!b) return "enabled: expected 0 or 1";
                                  drv.set_enabled(*b);
                                  return {};
                              });
        if (leaf == "iSNSServer")
            return Node::attr([&drv] { return drv.isns_server() + "\n"; },
                              [&drv](const std::string& v) -> std::string {
                                  drv.set_isns_server(trim(v));
                                  return {};
                              });
        if (leaf == "mgmt") return Node::mgmt(kDriverUsage, [this](const std::string& c) { return driver_mgmt(c); });
        if (leaf == "open_state") return Node::attr([] { return std::string("open\n"); });
        if (leaf == "version") return Node::attr([] { return std::string(kVersion) + "\n"; });
        if (leaf == "trace_level") return trace_node("iscsi");
        if (iscsi::DriverLimits::is_attribute(leaf))
            return Node::attr([&drv, leaf] { return drv.limits().get(leaf) + "\n"; },
                              [&drv, leaf](const std::string& v) { return drv.set_limit(leaf, v); });
        // What the limits refused so far, per kind (read-only; iscsilab's own).
        if (leaf == "refusals")
            return Node::attr([&drv] {
                std::string out;
                for (const auto& [k, n] : drv.refusal_totals()) out += k + " " + std::to_string(n) + "\n";
                return out;
            });
        auto creds = drv.discovery_credentials().entries();  // a copy of the map
        if (auto it = creds.find(leaf); it != creds.end()) {
            auto shown = iscsi::CredentialSet::shown(it->second);
            return Node::attr([shown] { return shown + "\n"; });
        }
    }
    auto t = drv.find_target(leaf);
    if (!t) {
        err = "no target " + leaf;
        return {};
    }
    return target_node(t, p, i + 1, err);
}

MgmtTree::Node MgmtTree::target_node(const std::shared_ptr<iscsi::TargetNode>& t, const std::vector<std::string>& p,
                                     std::size_t i, std::string& err) {
    auto& drv = scst_.driver();
    if (p.size() == i)
        return Node::dir([t] {
            std::vector<Entry> v;
            for (auto n : iscsi::TargetParams::attribute_names()) v.push_back(A(std::string(n)));
            const auto creds = t->credentials();
            for (const auto& [n, c] : creds.entries()) v.push_back(A(n));
            for (const char* a : {"enabled", "rel_tgt_id", "tid"}) v.push_back(A(a));
            for (const char* d : {"ini_groups", "luns", "sessions"}) v.push_back(D(d));
            return v;
        });
    const std::string& leaf = p[i];
    if (leaf == "luns") return luns_node(*t, "", p, i + 1, err, 5);
    if (leaf == "sessions") return sessions_node(t, p, i + 1, err);
    if (leaf == "ini_groups") {
        if (p.size() == i + 1)
            return Node::dir([t] {
                std::vector<Entry> v{A("mgmt")};
                for (const auto& g : t->luns().groups()) v.push_back(D(g.name));
                return v;
            });
        if (p.size() == i + 2 && p[i + 1] == "mgmt")
            return Node::mgmt(kGroupsUsage, [this, t](const std::string& c) -> std::string {
                auto w = words(c);
                if (w.size() == 2 && w[0] == "create") return t->luns().create_group(w[1]);
                if (w.size() == 2 && w[0] == "del") return t->luns().del_group(w[1]);
                return "ini_groups/mgmt: expected 'create NAME' or 'del NAME'";
            });
        const std::string g = p[i + 1];
        auto groups = t->luns().groups();
        auto git = std::find_if(groups.begin(), groups.end(), [&](const scsi::IniGroup& x) { return x.name == g; });
        if (git == groups.end()) {
            err = "no initiator group " + g;
            return {};
        }
        if (p.size() == i + 2) return Node::dir([] { return std::vector<Entry>{D("initiators"), D("luns")}; });
        if (p[i + 2] == "luns") return luns_node(*t, g, p, i + 3, err, 7);
        if (p[i + 2] == "initiators") {
            if (p.size() == i + 3)
                return Node::dir([t, g] {
                    std::vector<Entry> v{A("mgmt")};
                    for (const auto& x : t->luns().groups())
                        if (x.name == g)
                            for (const auto& n : x.initiators) v.push_back(A(n));
                    return v;
                });
            if (p.size() == i + 4 && p[i + 3] == "mgmt")
                return Node::mgmt(kInitiatorsUsage, [t, g](const std::string& c) -> std::string {
                    auto w = words(c);
                    if (w.size() == 2 && w[0] == "add") return t->luns().add_initiator(g, w[1]);
                    if (w.size() == 2 && w[0] == "del") return t->luns().del_initiator(g, w[1]);
                    if (w.size() == 1 && w[0] == "clear") return t->luns().clear_initiators(g);
                    return "initiators/mgmt: expected 'add NAME', 'del NAME' or 'clear'";
                });
            if (p.size() == i + 4 &&
                std::find(git->initiators.begin(), git->initiators.end(), p[i + 3]) != git->initiators.end()) {
                std::string name = p[i + 3];
                return Node::attr([name] { return name + "\n"; });
            }
        }
        err = "no such path";
        return {};
    }
    if (p.size() != i + 1) {
        err = "no such path";
        return {};
    }
    if (auto v = t->params().get(leaf))
        return Node::attr([t, leaf] { return *t->params().get(leaf) + "\n"; },
                          [t, leaf](const std::string& v) { return t->set_param(leaf, trim(v)); });
    if (leaf == "enabled")
        return Node::attr([t] { return flag(t->enabled()) + "\n"; },
                          [&drv, t](const std::string& v) -> std::string {
                              auto b = parse_flag(v);
                              if (!b) return "enabled: expected 0 or 1";
                              return drv.enable_target(t->name(), *b);
                          });
    if (leaf == "rel_tgt_id")
        return Node::attr([t] { return std::to_string(t->rel_tgt_id()) + "\n"; },
                          [&drv, t](const std::string& v) -> std::string {
                              auto n = iscsi::parse_number(trim(v));
                              if (!n || *n == 0 || *n > 65535) return "rel_tgt_id: expected 1..65535";
                              // SCST: an enabled target's id must stay unique.
                              if (t->enabled())
                                  for (const auto& o : drv.targets())
                                      if (o != t && o->enabled() && o->rel_tgt_id() == *n)
                                          return "rel_tgt_id " + std::to_string(*n) + " is held by enabled target " + o->name();
                              t->set_rel_tgt_id(static_cast<std::uint16_t>(*n));
                              return {};
                          });
    if (leaf == "tid") return Node::attr([t] { return std::to_string(t->tid()) + "\n"; });
    auto creds = t->credentials().entries();
    if (auto it = creds.find(leaf); it != creds.end()) {
        auto shown = iscsi::CredentialSet::shown(it->second);
        return Node::attr([shown] { return shown + "\n"; });
    }
    err = "no such attribute";
    return {};
}

MgmtTree::Node MgmtTree::luns_node(iscsi::TargetNode& t, const std::string& group, const std::vector<std::string>& p,
                                   std::size_t i, std::string& err, int depth) {
    auto map = [&t, group]() -> scsi::LunMap {
        if (group.empty()) return t.luns().default_luns();
        for (const auto& g : t.luns().groups())
            if (g.name == group) return g.luns;
        return {};
    };
    std::string up;
    for (int k = 0; k < depth; ++k) up += "../";
    if (p.size() == i)
        return Node::dir([map] {
            std::vector<Entry> v{A("mgmt")};
            for (const auto& [n, e] : map()) v.push_back(D(std::to_string(n)));
            return v;
        });
    if (p[i] == "mgmt" && p.size() == i + 1)
        return Node::mgmt(kLunsUsage, [this, &t, group](const std::string& c) { return luns_mgmt(t, group, c); });
    auto n = iscsi::parse_number(p[i]);
    auto m = map();
    if (!n || !m.count(*n)) {
        err = "no LUN " + p[i];
        return {};
    }
    const scsi::LunEntry e = m.at(*n);
    if (p.size() == i + 1)
        return Node::dir([e, up] { return std::vector<Entry>{L("device", up + "devices/" + e.device->name()), A("read_only")}; });
    if (p.size() == i + 2 && p[i + 1] == "device") return Node::to(up + "devices/" + e.device->name());
    if (p.size() == i + 2 && p[i + 1] == "read_only") return Node::attr([e] { return flag(e.read_only) + "\n"; });
    err = "no such path";
    return {};
}

MgmtTree::Node MgmtTree::sessions_node(const std::shared_ptr<iscsi::TargetNode>& t, const std::vector<std::string>& p,
                                       std::size_t i, std::string& err) {
    // One directory per session, named by its initiator (a second session of the same
    // initiator gets "#2", "#3", ...).
    auto named = [this, t] {
        std::vector<std::pair<std::string, std::shared_ptr<iscsi::Session>>> v;
        std::map<std::string, int> seen;
        auto list = scst_.driver().sessions_of(t->name());
        std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a->tsih() < b->tsih(); });
        for (const auto& s : list) {
            const std::string& n = s->params().initiator_name;
            int k = ++seen[n];
            v.emplace_back(k == 1 ? n : n + "#" + std::to_string(k), s);
        }
        return v;
    };
    if (p.size() == i)
        return Node::dir([named] {
            std::vector<Entry> v;
            for (const auto& [n, s] : named()) v.push_back(D(n));
            return v;
        });
    std::shared_ptr<iscsi::Session> s;
    for (const auto& [n, x] : named())
        if (n == p[i]) s = x;
    if (!s) {
        err = "no session " + p[i];
        return {};
    }
    auto conn = s->connection.lock();
    const std::string ip = conn ? ip_of(conn->peer()) : std::string();
    const auto& np = s->params();
    auto yn = [](bool b) { return std::string(b ? "Yes" : "No") + "\n"; };
    auto digest = [](bool b) { return std::string(b ? "CRC32C" : "None") + "\n"; };
    std::map<std::string, std::string> values = {
        {"DataDigest", digest(np.data_digest)},
        {"FirstBurstLength", std::to_string(np.first_burst_length) + "\n"},
        {"HeaderDigest", digest(np.header_digest)},
        {"ImmediateData", yn(np.immediate_data)},
        {"InitialR2T", yn(np.initial_r2t)},
        {"MaxBurstLength", std::to_string(np.max_burst_length) + "\n"},
        {"MaxOutstandingR2T", std::to_string(np.max_outstanding_r2t) + "\n"},
        {"MaxRecvDataSegmentLength", std::to_string(np.max_recv_data_segment_length) + "\n"},
        {"MaxXmitDataSegmentLength", std::to_string(np.max_xmit_data_segment_length) + "\n"},
        {"initiator_name", np.initiator_name + "\n"},
        {"sid", [&] {
             char b[32];
             std::snprintf(b, sizeof b, "%llx\n", static_cast<unsigned long long>(s->sid()));
             return std::string(b);
         }()},
        {"reinstating", flag(s->reinstating.load()) + "\n"},
        {"active_commands", std::to_string(s->in_flight()) + "\n"},
        {"commands", std::to_string(s->commands()) + "\n"},
    };
    auto group = t->luns().group_of(np.initiator_name);
    const std::string luns_link = group ? "../../ini_groups/" + *group + "/luns" : "../../luns";
    if (p.size() == i + 1)
        return Node::dir([values, ip, luns_link] {
            std::vector<Entry> v;
            for (const auto& [k, x] : values) v.push_back(A(k));
            v.push_back(A("force_close"));
            v.push_back(L("luns", luns_link));
            if (!ip.empty()) v.push_back(D(ip));
            return v;
        });
    const std::string& leaf = p[i + 1];
    if (p.size() == i + 2) {
        if (auto it = values.find(leaf); it != values.end()) {
            std::string val = it->second;
            return Node::attr([val] { return val; });
        }
        if (leaf == "luns") return Node::to(luns_link);
        if (leaf == "force_close")
            return Node::attr([] { return std::string(); },
                              [s](const std::string& v) -> std::string {
                                  if (trim(v) != "1") return "force_close: write 1";
                                  std::weak_ptr<iscsi::Connection> wc = s->connection;
                                  s->executor().post([wc] {
                                      if (auto c = wc.lock()) c->close("force_close from the management tree");
                                  });
                                  return {};
                              });
        if (leaf == ip && !ip.empty())
            return Node::dir([] { return std::vector<Entry>{A("cid"), A("ip"), A("state")}; });
    }
    if (p.size() == i + 3 && leaf == ip && conn) {
        const std::string& a = p[i + 2];
        if (a == "cid") return Node::attr([conn] { return std::to_string(conn->cid()) + "\n"; });
        if (a == "ip") return Node::attr([ip] { return ip + "\n"; });
        if (a == "state")
            return Node::attr([conn] {
                auto st = conn->state();
                return std::string(st == iscsi::ConnState::FullFeature ? "established" : iscsi::to_string(st)) + "\n";
            });
    }
    err = "no such path";
    return {};
}

std::string MgmtTree::driver_mgmt(const std::string& cmd) {
    auto& drv = scst_.driver();
    auto w = words(cmd);
    if (w.empty()) return "mgmt: empty command";
    if (w[0] == "add_target" && w.size() >= 2) {
        std::string e = drv.add_target(w[1]);
        if (!e.empty()) return e;
        // Optional parameters: IncomingUser=..., OutgoingUser=... (semicolon list).
        std::string perr;
        auto params = parse_param_list(rest_after(cmd, 2), perr);
        if (!params) {
            drv.del_target(w[1]);
            return "add_target: " + perr;
        }
        auto t = drv.find_target(w[1]);
        for (const auto& [k, v] : *params) {
            std::string ce = iscsi::CredentialSet::is_credential_attr(k) ? t->add_credential(k, v) : t->set_param(k, v);
            if (!ce.empty()) {
                drv.del_target(w[1]);
                return "add_target: " + ce;
            }
        }
        log("iscsi", "added target " + w[1]);
        return {};
    }
    if (w[0] == "del_target" && w.size() == 2) return drv.del_target(w[1]);
    if ((w[0] == "add_attribute" || w[0] == "del_attribute") && w.size() >= 2) {
        const std::string value = rest_after(cmd, 2);
        if (w[1] == "iSNSServer") {
            drv.set_isns_server(w[0] == "add_attribute" ? value : "");
            return {};
        }
        if (!iscsi::CredentialSet::is_credential_attr(w[1]))
            return w[0] + ": unknown attribute '" + w[1] + "'; expected IncomingUser[N], OutgoingUser or iSNSServer";
        return w[0] == "add_attribute" ? drv.add_discovery_credential(w[1], value) : drv.del_discovery_credential(w[1], value);
    }
    if ((w[0] == "add_target_attribute" || w[0] == "del_target_attribute") && w.size() >= 3) {
        auto t = drv.find_target(w[1]);
        if (!t) return "no target " + w[1];
        const std::string value = rest_after(cmd, 3);
        if (!iscsi::CredentialSet::is_credential_attr(w[2]))
            return w[0] + ": unknown attribute '" + w[2] + "'; expected IncomingUser[N] or OutgoingUser";
        return w[0] == "add_target_attribute" ? t->add_credential(w[2], value) : t->del_credential(w[2], value);
    }
    return "mgmt: unknown command '" + w[0] + "'";
}

std::string MgmtTree::luns_mgmt(iscsi::TargetNode& t, const std::string& group, const std::string& cmd) {
    auto w = words(cmd);
    if (w.empty()) return "luns/mgmt: empty command";
    auto read_only = [&](std::size_t from, bool& ro) -> std::string {
        std::string perr;
        auto params = parse_param_list(rest_after(cmd, from), perr);
        if (!params) return perr;
        for (const auto& [k, v] : *params) {
            if (k != "read_only" || (v != "0" && v != "1")) return "LUN parameter: expected read_only=0|1, got '" + k + "=" + v + "'";
            ro = v == "1";
        }
        return {};
    };
    if ((w[0] == "add" || w[0] == "replace") && w.size() >= 3) {
        auto dev = scst_.device(w[1]);
        if (!dev) return "no device " + w[1];
        auto lun = iscsi::parse_number(w[2]);
        if (!lun) return "LUN number expected, got '" + w[2] + "'";
        bool ro = false;
        if (auto e = read_only(3, ro); !e.empty()) return e;
        if (w[0] == "replace") {
            if (auto e = t.luns().del_lun(group, *lun); !e.empty()) return e;
        }
        return t.luns().add_lun(group, *lun, dev, ro);
    }
    if (w[0] == "del" && w.size() == 2) {
        auto lun = iscsi::parse_number(w[1]);
        if (!lun) return "LUN number expected, got '" + w[1] + "'";
        return t.luns().del_lun(group, *lun);
    }
    if (w[0] == "clear" && w.size() == 1) return t.luns().clear_luns(group);
    return "luns/mgmt: expected 'add DEVICE LUN [read_only=1]', 'replace DEVICE LUN', 'del LUN' or 'clear'";
}

}  // namespace iscsilab::mgmt
