#include "target/mgmt/tree.hpp"

#include <algorithm>
#include <sstream>

#include "target/iscsi/connection.hpp"
#include "target/iscsi/session.hpp"

namespace iscsilab::mgmt {

namespace {

constexpr const char* kVersion = "iscsilab 0.1 (SCST 2.0 / iSCSI-SCST 2.0 management tree)";
const std::set<std::string> kTraceTokens = {"out_of_mem", "minor", "pid", "line", "function", "special",
                                           "mgmt", "mgmt_dbg", "scsi", "conn", "flow_control", "debug"};
const std::set<std::string> kTraceDefault = {"out_of_mem", "minor", "mgmt", "conn"};

std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> w;
    for (std::string x; in >> x;) w.push_back(x);
    return w;
}

// The text after the first n words (parameters keep their own spacing).
std::string rest_after(const std::string& s, std::size_t n) {
    std::size_t pos = 0;
    for (std::size_t i = 0; i < n; ++i) {
        pos = s.find_first_not_of(" \t", pos);
        if (pos == std::string::npos) return {};
        pos = s.find_first_of(" \t", pos);
        if (pos == std::string::npos) return {};
    }
    pos = s.find_first_not_of(" \t", pos);
    if (pos == std::string::npos) return {};
    auto end = s.find_last_not_of(" \t\n");
    return s.substr(pos, end - pos + 1);
}

std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\n");
    if (b == std::string::npos) return {};
    auto e = s.find_last_not_of(" \t\n");
    return s.substr(b, e - b + 1);
}

std::string flag(bool b) { return b ? "1" : "0"; }

std::optional<bool> parse_flag(const std::string& v) {
    std::string t = trim(v);
    if (t == "1") return true;
    if (t == "0") return false;
    return std::nullopt;
}

std::string ip_of(const std::string& endpoint) {
    if (!endpoint.empty() && endpoint[0] == '[') return endpoint.substr(1, endpoint.find(']') - 1);
    return endpoint.substr(0, endpoint.rfind(':'));
}

const char* kHandlerUsage =
    "Usage: echo \"add_device device_name [parameters]\" >mgmt\n"
    "       echo \"del_device device_name\" >mgmt\n"
    "where parameters are one or more param_name=value pairs separated by ';'\n";
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

struct MgmtTree::Node {
    bool valid = false;
    Entry::Kind kind = Entry::Kind::Dir;
    std::function<std::vector<Entry>()> list;
    std::function<std::string()> read;
    std::function<std::string(const std::string&)> write;  // empty: read-only
    std::string link;

    static Node dir(std::function<std::vector<Entry>()> l) {
        Node n;
        n.valid = true;
        n.kind = Entry::Kind::Dir;
        n.list = std::move(l);
        return n;
    }
    static Node attr(std::function<std::string()> r, std::function<std::string(const std::string&)> w = {}) {
        Node n;
        n.valid = true;
        n.kind = Entry::Kind::Attr;
        n.read = std::move(r);
        n.write = std::move(w);
        return n;
    }
    static Node to(std::string target) {
        Node n;
        n.valid = true;
        n.kind = Entry::Kind::Link;
        n.link = std::move(target);
        return n;
    }
    static Node mgmt(const char* usage, std::function<std::string(const std::string&)> w) {
        return attr([usage] { return std::string(usage); }, std::move(w));
    }
};

namespace {
Entry A(std::string n) { return Entry{std::move(n), Entry::Kind::Attr, {}}; }
Entry D(std::string n) { return Entry{std::move(n), Entry::Kind::Dir, {}}; }
Entry L(std::string n, std::string to) { return Entry{std::move(n), Entry::Kind::Link, std::move(to)}; }
}  // namespace

std::vector<std::string> MgmtTree::split(const std::string& path) {
    std::string p = path;
    const std::string sys = "/sys/kernel/scst_tgt";
    if (p.rfind(sys, 0) == 0) p = p.substr(sys.size());
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= p.size()) {
        auto slash = p.find('/', start);
        if (slash == std::string::npos) slash = p.size();
        std::string part = p.substr(start, slash - start);
        if (!part.empty() && part != ".") parts.push_back(part);
        start = slash + 1;
    }
    return parts;
}

// ---- trace levels ---------------------------------------------------------------------

bool MgmtTree::tracing(const std::string& component, const std::string& token) const {
    std::lock_guard lock(trace_mu_);
    auto it = trace_.find(component);
    const auto& set = it == trace_.end() ? kTraceDefault : it->second;
    return set.count(token) != 0;
}

void MgmtTree::log(const std::string& component, const std::string& what) {
    if (log_ && tracing(component, "mgmt")) log_(what);
}

MgmtTree::Node MgmtTree::trace_node(const std::string& component) {
    return Node::attr(
        [this, component] {
            std::lock_guard lock(trace_mu_);
            auto it = trace_.find(component);
            const auto& set = it == trace_.end() ? kTraceDefault : it->second;
            std::string s;
            for (const auto& t : set) s += (s.empty() ? "" : " | ") + t;
            return (s.empty() ? std::string("none") : s) + "\n";
        },
        [this, component](const std::string& v) -> std::string {
            auto w = words(v);
            std::lock_guard lock(trace_mu_);
            auto& set = trace_.try_emplace(component, kTraceDefault).first->second;
            if (w.size() == 1 && (w[0] == "all" || w[0] == "none" || w[0] == "default")) {
                set = w[0] == "all" ? kTraceTokens : w[0] == "none" ? std::set<std::string>{} : kTraceDefault;
                return {};
            }
            if (w.size() == 2 && (w[0] == "add" || w[0] == "del") && kTraceTokens.count(w[1])) {
                if (w[0] == "add") set.insert(w[1]);
                else set.erase(w[1]);
                return {};
            }
            return "trace_level: expected all, none, default, or add|del TOKEN";
        });
}

// ---- resolution -------------------------------------------------------------------------

MgmtTree::Node MgmtTree::resolve(const std::vector<std::string>& p, std::string& err) {
    if (p.empty())
        return Node::dir([] {
            return std::vector<Entry>{D("devices"), D("handlers"), D("targets"), A("threads"), A("trace_level"), A("version")};
        });
    const std::string& top = p[0];
    if (top == "devices") return device_node(p, 1, err);
    if (top == "handlers") return handler_node(p, 1, err);
    if (top == "targets") {
        if (p.size() == 1) return Node::dir([] { return std::vector<Entry>{D("iscsi")}; });
        if (p[1] == "iscsi") return iscsi_node(p, 2, err);
    }
    if (p.size() == 1 && top == "threads") {
        unsigned n = threads_;
        return Node::attr([n] { return std::to_string(n) + "\n"; });
    }
    if (p.size() == 1 && top == "version") return Node::attr([] { return std::string(kVersion) + "\n"; });
    if (p.size() == 1 && top == "trace_level") return trace_node("scst");
    err = "no such path";
    return {};
}

std::vector<std::pair<std::string, std::string>> MgmtTree::exports_of(const scsi::Device& d) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& t : scst_.driver().targets()) {
        for (const auto& [n, e] : t->luns().default_luns())
            if (e.device.get() == &d)
                out.emplace_back("export" + std::to_string(out.size()),
                                 "../../../targets/iscsi/" + t->name() + "/luns/" + std::to_string(n));
        for (const auto& g : t->luns().groups())
            for (const auto& [n, e] : g.luns)
                if (e.device.get() == &d)
                    out.emplace_back("export" + std::to_string(out.size()), "../../../targets/iscsi/" + t->name() +
                                                                             "/ini_groups/" + g.name + "/luns/" + std::to_string(n));
    }
    return out;
}

MgmtTree::Node MgmtTree::device_node(const std::vector<std::string>& p, std::size_t i, std::string& err) {
    if (p.size() == i)
        return Node::dir([this] {
            std::vector<Entry> v;
            for (const auto& d : scst_.devices()) v.push_back(D(d->name()));
            return v;
        });
    auto dev = scst_.device(p[i]);
    if (!dev) {
        err = "no device " + p[i];
        return {};
    }
    if (p.size() == i + 1)
        return Node::dir([this, dev] {
            std::vector<Entry> v;
            for (const auto& a : dev->attribute_names()) v.push_back(A(a));
            v.push_back(D("exported"));
            v.push_back(L("handler", "../../handlers/" + dev->handler()));
            return v;
        });
    const std::string& leaf = p[i + 1];
    if (leaf == "handler" && p.size() == i + 2) return Node::to("../../handlers/" + dev->handler());
    if (leaf == "exported") {
        if (p.size() == i + 2)
            return Node::dir([this, dev] {
                std::vector<Entry> v;
                for (auto& [n, to] : exports_of(*dev)) v.push_back(L(n, to));
                return v;
            });
        for (auto& [n, to] : exports_of(*dev))
            if (p.size() == i + 3 && n == p[i + 2]) return Node::to(to);
        err = "no such export";
        return {};
    }
    auto names = dev->attribute_names();
    if (p.size() == i + 2 && std::find(names.begin(), names.end(), leaf) != names.end())
        return Node::attr([dev, leaf] { return dev->get_attribute(leaf).value_or("") + "\n"; },
                          [dev, leaf](const std::string& v) { return dev->set_attribute(leaf, trim(v)); });
    err = "no such attribute";
    return {};
}

MgmtTree::Node MgmtTree::handler_node(const std::vector<std::string>& p, std::size_t i, std::string& err) {
    const auto& hs = Scst::handler_names();
    if (p.size() == i)
        return Node::dir([&hs] {
            std::vector<Entry> v;
            for (const auto& h : hs) v.push_back(D(h));
            return v;
        });
    const std::string h = p[i];
    if (std::find(hs.begin(), hs.end(), h) == hs.end()) {
        err = "no handler " + h;
        return {};
    }
    if (p.size() == i + 1)
        return Node::dir([this, h] {
            std::vector<Entry> v{A("mgmt"), A("trace_level"), A("type")};
            for (const auto& d : scst_.devices())
                if (d->handler() == h) v.push_back(L(d->name(), "../../devices/" + d->name()));
            return v;
        });
    if (p.size() == i + 2) {
        const std::string& leaf = p[i + 1];
        if (leaf == "mgmt") return Node::mgmt(kHandlerUsage, [this, h](const std::string& c) { return handler_mgmt(h, c); });
        if (leaf == "trace_level") return trace_node(h);
        if (leaf == "type")
            return Node::attr([h] {
                return std::string(h == "vcdrom" ? "5 - CD-ROM device" : "0 - Direct-access device (e.g., magnetic disk)") + "\n";
            });
        if (auto d = scst_.device(leaf); d && d->handler() == h) return Node::to("../../devices/" + leaf);
    }
    err = "no such path";
    return {};
}

MgmtTree::Node MgmtTree::iscsi_node(const std::vector<std::string>& p, std::size_t i, std::string& err) {
    auto& drv = scst_.driver();
    if (p.size() == i)
        return Node::dir([&drv] {
            std::vector<Entry> v{A("enabled"), A("iSNSServer"), A("mgmt"), A("open_state"), A("trace_level"), A("version")};
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

// ---- mgmt commands ------------------------------------------------------------------

std::string MgmtTree::handler_mgmt(const std::string& h, const std::string& cmd) {
    auto w = words(cmd);
    if (w.size() >= 2 && w[0] == "add_device") {
        std::string perr;
        auto params = parse_param_list(rest_after(cmd, 2), perr);
        if (!params) return "add_device: " + perr;
        std::string e = scst_.add_device(h, w[1], *params);
        if (e.empty()) log(h, "handler " + h + ": added device " + w[1]);
        return e;
    }
    if (w.size() == 2 && w[0] == "del_device") {
        std::string e = scst_.del_device(h, w[1]);
        if (e.empty()) log(h, "handler " + h + ": deleted device " + w[1]);
        return e;
    }
    return h + "/mgmt: expected 'add_device NAME [k=v; ...]' or 'del_device NAME'";
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
        log("iscsi", "iscsi: added target " + w[1]);
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

// ---- the public verbs ---------------------------------------------------------------

Result<std::vector<Entry>> MgmtTree::ls(const std::string& path) {
    Result<std::vector<Entry>> r;
    auto parts = split(path);
    Node n = resolve(parts, r.error);
    if (!n.valid) {
        r.error = path + ": " + r.error;
        return r;
    }
    if (n.kind != Entry::Kind::Dir) {
        r.value.push_back(Entry{parts.empty() ? "." : parts.back(), n.kind, n.link});
        return r;
    }
    r.value = n.list();
    std::sort(r.value.begin(), r.value.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return r;
}

Result<std::string> MgmtTree::cat(const std::string& path) {
    Result<std::string> r;
    Node n = resolve(split(path), r.error);
    if (!n.valid) r.error = path + ": " + r.error;
    else if (n.kind == Entry::Kind::Dir) r.error = path + ": is a directory";
    else if (n.kind == Entry::Kind::Link) r.value = n.link + "\n";
    else r.value = n.read();
    return r;
}

std::string MgmtTree::write(const std::string& path, const std::string& value) {
    std::string err;
    Node n = resolve(split(path), err);
    if (!n.valid) return path + ": " + err;
    if (n.kind != Entry::Kind::Attr || !n.write) return path + ": not writable";
    err = n.write(value);
    return err.empty() ? std::string() : path + ": " + err;
}

void MgmtTree::draw(const std::vector<std::string>& parts, const std::string& prefix, std::string& out, int depth) {
    if (depth > 16) return;
    auto r = ls([&] {
        std::string p;
        for (const auto& x : parts) p += "/" + x;
        return p;
    }());
    if (!r.ok()) return;
    for (std::size_t k = 0; k < r.value.size(); ++k) {
        const Entry& e = r.value[k];
        const bool last = k + 1 == r.value.size();
        out += prefix + (last ? "`-- " : "|-- ") + e.name;
        if (e.kind == Entry::Kind::Link) out += " -> " + e.link;
        out += "\n";
        if (e.kind == Entry::Kind::Dir) {
            auto sub = parts;
            sub.push_back(e.name);
            draw(sub, prefix + (last ? "    " : "|   "), out, depth + 1);
        }
    }
}

Result<std::string> MgmtTree::tree(const std::string& path) {
    Result<std::string> r;
    auto parts = split(path);
    std::string err;
    Node n = resolve(parts, err);
    if (!n.valid) {
        r.error = path + ": " + err;
        return r;
    }
    r.value = (parts.empty() ? std::string("/sys/kernel/scst_tgt") : path) + "\n";
    draw(parts, "", r.value, 0);
    return r;
}

// ---- save and load ------------------------------------------------------------------

std::string MgmtTree::save() {
    std::vector<ConfBlock> blocks;
    for (const auto& h : Scst::handler_names()) {
        ConfBlock hb{"HANDLER", {h}, 0, {}, {}};
        for (const auto& d : scst_.devices()) {
            if (d->handler() != h) continue;
            ConfBlock db{"DEVICE", {d->name()}, 0, {}, {}};
            auto put = [&](const std::string& k) {
                auto v = d->get_attribute(k);
                if (v) db.attrs.push_back({k, *v, 0});
            };
            auto names = d->attribute_names();
            auto has = [&](const char* k) { return std::find(names.begin(), names.end(), k) != names.end(); };
            if (has("filename") && !d->get_attribute("filename")->empty()) put("filename");
            if (h == "vdisk_nullio") put("size_mb");
            for (const char* k : {"blocksize", "nv_cache", "o_direct", "read_only", "removable", "write_through"})
                if (has(k) && h != "vcdrom") put(k);
            put("t10_dev_id");
            put("usn");
            hb.children.push_back(std::move(db));
        }
        if (!hb.children.empty()) blocks.push_back(std::move(hb));
    }
    auto& drv = scst_.driver();
    ConfBlock drvb{"TARGET_DRIVER", {"iscsi"}, 0, {}, {}};
    const auto disc = drv.discovery_credentials();
    for (const auto& [n, c] : disc.entries()) drvb.attrs.push_back({n, c.user + " " + c.secret, 0});
    if (!drv.isns_server().empty()) drvb.attrs.push_back({"iSNSServer", drv.isns_server(), 0});
    const iscsi::TargetParams defaults;
    for (const auto& t : drv.targets()) {
        ConfBlock tb{"TARGET", {t->name()}, 0, {}, {}};
        auto params = t->params();
        for (auto n : iscsi::TargetParams::attribute_names())
            if (*params.get(n) != *defaults.get(n)) tb.attrs.push_back({std::string(n), *params.get(n), 0});
        const auto creds = t->credentials();
        for (const auto& [n, c] : creds.entries()) tb.attrs.push_back({n, c.user + " " + c.secret, 0});
        tb.attrs.push_back({"rel_tgt_id", std::to_string(t->rel_tgt_id()), 0});
        auto lun_block = [](std::uint32_t n, const scsi::LunEntry& e) {
            ConfBlock lb{"LUN", {std::to_string(n), e.device->name()}, 0, {}, {}};
            if (e.read_only) lb.attrs.push_back({"read_only", "1", 0});
            return lb;
        };
        for (const auto& [n, e] : t->luns().default_luns()) tb.children.push_back(lun_block(n, e));
        for (const auto& g : t->luns().groups()) {
            ConfBlock gb{"GROUP", {g.name}, 0, {}, {}};
            for (const auto& [n, e] : g.luns) gb.children.push_back(lun_block(n, e));
            for (const auto& i : g.initiators) gb.children.push_back(ConfBlock{"INITIATOR", {i}, 0, {}, {}});
            tb.children.push_back(std::move(gb));
        }
        tb.attrs.push_back({"enabled", flag(t->enabled()), 0});
        drvb.children.push_back(std::move(tb));
    }
    drvb.attrs.push_back({"enabled", flag(drv.enabled()), 0});
    blocks.push_back(std::move(drvb));
    return "# written by " + std::string(kVersion) + "\n\n" + write_scst_conf(blocks);
}

std::string MgmtTree::load(const std::string& text, const std::string& file, StoreFactory& stores) {
    auto parsed = parse_scst_conf(text, file);
    if (parsed.error) return parsed.error->text();
    {
        // A scratch copy takes the file first: a bad line changes nothing that runs.
        iscsi::IscsiDriver scratch_driver(scst_.driver().random());
        Scst scratch(scratch_driver, stores);
        if (auto e = scratch.apply(parsed.blocks, file)) return e->text();
    }
    auto& drv = scst_.driver();
    for (const auto& t : drv.targets()) drv.del_target(t->name());
    for (const auto& d : scst_.devices()) scst_.del_device(d->handler(), d->name());
    const auto old_creds = drv.discovery_credentials();
    for (const auto& [n, c] : old_creds.entries()) drv.del_discovery_credential(n, c.user);
    drv.set_isns_server("");
    drv.set_enabled(false);
    if (auto e = scst_.apply(parsed.blocks, file)) return e->text();  // the scratch run said it fits
    log("scst", "configuration loaded from " + file);
    return {};
}

}  // namespace iscsilab::mgmt
