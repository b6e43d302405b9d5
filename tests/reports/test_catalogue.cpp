#define BOOST_TEST_MODULE catalogue
#include <boost/test/unit_test.hpp>

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "reports/catalogue/catalogue.hpp"
#include "reports/checker/rules.hpp"

// The catalogue holds together: its entries are well formed, and every name that
// points into it (checker rules, scenario requirements, ids in tests) or out of it
// (observers: wire rules, scenarios, unit tests, peer tests) exists.
namespace fs = std::filesystem;
using iscsilab::catalogue::Catalogue;

namespace {

const fs::path root(ISCSILAB_SOURCE_DIR);

const Catalogue& catalogue() {
    static const Catalogue c = iscsilab::catalogue::load((root / "reports/catalogue").string());
    return c;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// suite -> cases, from every Boost.Test source under tests/.
std::map<std::string, std::set<std::string>> unit_tests() {
    std::map<std::string, std::set<std::string>> out;
    const std::regex suite(R"(BOOST_AUTO_TEST_SUITE\((\w+)\))"), tcase(R"(BOOST_(AUTO|FIXTURE)_TEST_CASE\((\w+))");
    for (const auto& e : fs::recursive_directory_iterator(root / "tests")) {
        if (e.path().extension() != ".cpp") continue;
        std::string cur;
        std::ifstream in(e.path());
        std::string line;
        while (std::getline(in, line)) {
            std::smatch m;
            if (std::regex_search(line, m, suite)) cur = m[1];
            else if (std::regex_search(line, m, tcase)) out[cur].insert(m[2]);
        }
    }
    return out;
}

std::vector<fs::path> scenario_files() {
    std::vector<fs::path> v;
    for (const auto& e : fs::recursive_directory_iterator(root / "scenarios"))
        if (e.path().extension() == ".yaml") v.push_back(e.path());
    return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(catalogue_suite)

BOOST_AUTO_TEST_CASE(entries_are_well_formed) {
    for (const auto& e : catalogue().errors) BOOST_ERROR(e);
    std::size_t must = 0;
    for (const auto& r : catalogue().requirements) must += r.must_level();
    BOOST_TEST_MESSAGE(catalogue().requirements.size() << " requirements, " << must << " at MUST level");
    BOOST_TEST(catalogue().requirements.size() >= 250u);
    BOOST_TEST(must >= 150u);
}

BOOST_AUTO_TEST_CASE(every_checker_rule_is_a_wire_entry_and_back) {
    std::set<std::string> rule_ids;
    for (const auto& r : iscsilab::checker::rules()) {
        rule_ids.insert(std::string(r.id));
        const auto* req = catalogue().find(std::string(r.id));
        if (!req) {
            BOOST_ERROR("checker rule " << r.id << " is not in the catalogue");
            continue;
        }
        bool wire = false;
        for (const auto& o : req->observed_by) wire = wire || o.kind == "wire";
        if (!wire) BOOST_ERROR(req->file << ": " << r.id << " is a checker rule but its entry does not say wire");
    }
    BOOST_TEST(rule_ids.size() == iscsilab::checker::RULE_COUNT);  // no id twice
    for (const auto& req : catalogue().requirements)
        for (const auto& o : req.observed_by)
            if (o.kind == "wire" && !rule_ids.count(req.id))
                BOOST_ERROR(req.file << ": " << req.id << " says wire, but the checker has no such rule (planned: wire?)");
}

BOOST_AUTO_TEST_CASE(observers_exist) {
    const auto units = unit_tests();
    std::set<std::string> peers;
    {
        std::ifstream in(root / "reports/peer/iscsi-test-cu-tests.txt");
        std::string line;
        while (std::getline(in, line))
            if (!line.empty()) peers.insert(line);
    }
    BOOST_TEST(peers.size() > 100u);
    for (const auto& req : catalogue().requirements)
        for (const auto& o : req.observed_by) {
            if (o.kind == "unit") {
                const auto slash = o.value.find('/');
                const auto suite = o.value.substr(0, slash);
                const auto cas = slash == std::string::npos ? "" : o.value.substr(slash + 1);
                auto it = units.find(suite);
                if (it == units.end() || !it->second.count(cas))
                    BOOST_ERROR(req.file << ": " << req.id << ": no unit test " << o.value);
            } else if (o.kind == "peer") {
                if (!peers.count(o.value)) BOOST_ERROR(req.file << ": " << req.id << ": no iscsi-test-cu test " << o.value);
            } else if (o.kind == "scenario") {
                const fs::path p = root / o.value;
                if (!fs::exists(p)) {
                    BOOST_ERROR(req.file << ": " << req.id << ": no scenario " << o.value);
                    continue;
                }
                bool listed = false;
                for (const auto& id : YAML::LoadFile(p.string())["requirements"]) listed = listed || id.as<std::string>() == req.id;
                if (!listed) BOOST_ERROR(req.file << ": " << req.id << ": " << o.value << " does not list it in requirements:");
            }
        }
}

BOOST_AUTO_TEST_CASE(scenarios_name_only_catalogue_ids) {
    std::size_t named = 0;
    for (const auto& f : scenario_files()) {
        const auto y = YAML::LoadFile(f.string());
        if (y["rfc"]) BOOST_ERROR(f.string() << ": free-text rfc: instead of requirements:");
        for (const auto& id : y["requirements"]) {
            ++named;
            if (!catalogue().find(id.as<std::string>()))
                BOOST_ERROR(f.string() << ": requirement " << id.as<std::string>() << " is not in the catalogue");
        }
    }
    BOOST_TEST(named > 20u);
}

BOOST_AUTO_TEST_CASE(tests_name_only_catalogue_ids) {
    // Any 3720-<section>-<words> token in a test or script under tests/ must exist.
    const std::regex id(R"(3720-[0-9]+(\.[0-9]+)?-[a-z0-9]+(-[a-z0-9]+)*)");
    std::size_t named = 0;
    for (const auto& e : fs::recursive_directory_iterator(root / "tests")) {
        if (!e.is_regular_file()) continue;
        const auto ext = e.path().extension();
        if (ext != ".cpp" && ext != ".sh") continue;
        const std::string text = slurp(e.path());
        for (auto it = std::sregex_iterator(text.begin(), text.end(), id); it != std::sregex_iterator(); ++it) {
            ++named;
            if (!catalogue().find(it->str())) BOOST_ERROR(e.path().string() << " names " << it->str() << ", which the catalogue lacks");
        }
    }
    BOOST_TEST(named > 0u);
}

BOOST_AUTO_TEST_CASE(loader_rejects_a_malformed_entry) {
    // The checks above can fail: a broken file is reported, not skipped.
    const fs::path dir = fs::temp_directory_path() / "iscsilab-catalogue-test";
    fs::create_directories(dir);
    std::ofstream(dir / "bad.yaml") << "requirements:\n"
                                       "  - id: 3720-10.19" "-x\n    section: \"10.19\"\n    level: MUST\n    binds: target\n"
                                       "    text: t\n    observed_by: [wire]\n    rfc7143: same\n"
                                       "  - id: 3720-10.19" "-x\n    section: \"10.19\"\n    level: OUGHT\n    binds: target\n"
                                       "    text: t\n    observed_by: [ouija]\n    rfc7143: maybe\n";
    const auto c = iscsilab::catalogue::load(dir.string());
    fs::remove_all(dir);
    BOOST_TEST(c.requirements.size() == 2u);
    BOOST_TEST(c.errors.size() == 4u);  // id twice, level, observer, rfc7143
}

BOOST_AUTO_TEST_SUITE_END()
