// The whole tree as scst.conf and back: save() writes what scstadmin would, load()
// replaces the configuration with a file's, or changes nothing.
#include <algorithm>
#include <charconv>

#include "target/mgmt/tree_detail.hpp"

namespace iscsilab::mgmt {

using namespace detail;

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
            if (h == "vdisk_nullio") {
                // size_mb rounds down: a size given in bytes (`size 1041`) that is not a
                // whole number of MiB would come back as size_mb 0, which does not load.
                const std::string bytes = d->get_attribute("size").value_or("0");
                std::uint64_t n = 0;
                std::from_chars(bytes.data(), bytes.data() + bytes.size(), n);
                if (n % (std::uint64_t{1} << 20) != 0) db.attrs.push_back({"size", bytes, 0});
                else put("size_mb");
            }
            for (const char* k : {"blocksize", "nv_cache", "o_direct", "read_only", "removable", "thin_provisioned",
                                  "write_through"})
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
    const iscsi::DriverLimits limits = drv.limits(), default_limits;
    for (auto n : iscsi::DriverLimits::attribute_names())
        if (limits.get(n) != default_limits.get(n)) drvb.attrs.push_back({std::string(n), limits.get(n), 0});
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
    save_device_groups(blocks);
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
    for (const auto& g : scst_.device_groups()) scst_.del_device_group(g->name());
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
