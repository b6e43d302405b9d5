// The SCST core's rooms of the tree: devices/ and handlers/ (iscsi-scst README 2.0).
#include <algorithm>

#include "target/mgmt/tree_detail.hpp"

namespace iscsilab::mgmt {

using namespace detail;

namespace {
const char* kHandlerUsage =
    "Usage: echo \"add_device device_name [parameters]\" >mgmt\n"
    "       echo \"del_device device_name\" >mgmt\n"
    "where parameters are one or more param_name=value pairs separated by ';'\n";
}  // namespace

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
    // A vcdrom's filename changes its medium: the store comes from the runtime's factory,
    // which the device cannot reach (Scst::change_medium). An empty value ejects.
    if (p.size() == i + 2 && leaf == "filename" && dev->handler() == "vcdrom")
        return Node::attr([dev] { return dev->get_attribute("filename").value_or("") + "\n"; },
                          [this, name = dev->name()](const std::string& v) { return scst_.change_medium(name, trim(v)); });
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
    // Through the handler's link to one of its devices, as sysfs follows it
    // (echo FILE >/sys/kernel/scst_tgt/handlers/vcdrom/<dev>/filename).
    if (p.size() > i + 2)
        if (auto d = scst_.device(p[i + 1]); d && d->handler() == h) return device_node(p, i + 1, err);
    err = "no such path";
    return {};
}

std::string MgmtTree::handler_mgmt(const std::string& h, const std::string& cmd) {
    auto w = words(cmd);
    if (w.size() >= 2 && w[0] == "add_device") {
        std::string perr;
        auto params = parse_param_list(rest_after(cmd, 2), perr);
        if (!params) return "add_device: " + perr;
        std::string e = scst_.add_device(h, w[1], *params);
        if (e.empty()) log(h, "added device " + w[1]);
        return e;
    }
    if (w.size() == 2 && w[0] == "del_device") {
        std::string e = scst_.del_device(h, w[1]);
        if (e.empty()) log(h, "deleted device " + w[1]);
        return e;
    }
    return h + "/mgmt: expected 'add_device NAME [k=v; ...]' or 'del_device NAME'";
}

}  // namespace iscsilab::mgmt
