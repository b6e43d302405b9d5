#include "reports/catalogue/catalogue.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

namespace iscsilab::catalogue {

const Requirement* Catalogue::find(const std::string& id) const {
    for (const auto& r : requirements)
        if (r.id == id) return &r;
    return nullptr;
}

Catalogue load(const std::string& dir) {
    namespace fs = std::filesystem;
    Catalogue c;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        c.errors.push_back(dir + ": no such catalogue folder");
        return c;
    }
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".yaml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    static const std::set<std::string> levels = {"MUST", "MUST NOT", "SHALL", "SHALL NOT", "REQUIRED", "SHOULD", "SHOULD NOT", "MAY"};
    static const std::set<std::string> sides = {"target", "initiator", "both"};
    static const std::set<std::string> kinds = {"wire", "scenario", "unit", "peer", "planned", "none"};
    static const std::set<std::string> keys = {"id", "section", "level", "binds", "text", "observed_by", "rfc7143"};
    // 3720-<section, one or two levels>-<lower-case words>
    static const std::regex id_form(R"(3720-[0-9]+(\.[0-9]+)?-[a-z0-9]+(-[a-z0-9]+)*)");
    std::set<std::string> seen;
    for (const auto& f : files) {
        const std::string name = f.filename().string();
        YAML::Node doc;
        try {
            doc = YAML::LoadFile(f.string());
        } catch (const std::exception& e) {
            c.errors.push_back(name + ": " + e.what());
            continue;
        }
        if (!doc["requirements"] || !doc["requirements"].IsSequence()) {
            c.errors.push_back(name + ": no requirements: list");
            continue;
        }
        for (const auto& n : doc["requirements"]) {
            Requirement r;
            r.file = name;
            auto err = [&](const std::string& what) { c.errors.push_back(name + ": " + (r.id.empty() ? "?" : r.id) + ": " + what); };
            if (!n.IsMap()) {
                err("an entry is not a map");
                continue;
            }
            for (const auto& kv : n)
                if (!keys.count(kv.first.as<std::string>())) err("unknown field " + kv.first.as<std::string>());
            auto str = [&](const char* k, std::string& out) {
                if (!n[k] || !n[k].IsScalar() || n[k].as<std::string>().empty()) err(std::string("missing ") + k);
                else out = n[k].as<std::string>();
            };
            str("id", r.id);
            str("section", r.section);
            str("level", r.level);
            str("binds", r.binds);
            str("text", r.text);
            if (!r.id.empty() && !std::regex_match(r.id, id_form)) err("id is not 3720-<section>-<words>");
            if (!r.id.empty() && !seen.insert(r.id).second) err("id used twice");
            if (!r.level.empty() && !levels.count(r.level)) err("level " + r.level);
            if (!r.binds.empty() && !sides.count(r.binds)) err("binds " + r.binds);
            if (!n["observed_by"] || !n["observed_by"].IsSequence() || n["observed_by"].size() == 0) {
                err("observed_by is empty");
            } else {
                for (const auto& o : n["observed_by"]) {
                    Observer ob;
                    if (o.IsScalar()) {
                        ob.kind = o.as<std::string>();
                    } else if (o.IsMap() && o.size() == 1) {
                        ob.kind = o.begin()->first.as<std::string>();
                        ob.value = o.begin()->second.as<std::string>();
                    }
                    if (!kinds.count(ob.kind)) err("observer '" + ob.kind + "' unknown");
                    else if (ob.kind != "wire" && ob.value.empty()) err("observer " + ob.kind + " without a value");
                    r.observed_by.push_back(ob);
                }
            }
            const auto& v = n["rfc7143"];
            if (v && v.IsScalar() && v.as<std::string>() == "same") {
                r.rfc7143 = "same";
            } else if (v && v.IsMap() && v.size() == 1 &&
                       (v.begin()->first.as<std::string>() == "changed" || v.begin()->first.as<std::string>() == "dropped")) {
                r.rfc7143 = v.begin()->first.as<std::string>();
                r.rfc7143_note = v.begin()->second.as<std::string>();
            } else {
                err("rfc7143 is not same, changed: or dropped:");
            }
            c.requirements.push_back(std::move(r));
        }
    }
    return c;
}

}  // namespace iscsilab::catalogue
