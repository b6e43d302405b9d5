#define BOOST_TEST_MODULE scst_conf
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"
#include "target/iscsi/driver.hpp"
#include "target/mgmt/scst.hpp"
#include "target/mgmt/scst_conf.hpp"

using namespace iscsilab;
using namespace iscsilab::mgmt;

namespace {

const char* kExample = R"(# the format's own example, LUN masking included
HANDLER vdisk_fileio {
    DEVICE disk1 {
        filename /srv/disk1.img
        nv_cache 1
    }
}
HANDLER vdisk_nullio {
    DEVICE null0
}
TARGET_DRIVER iscsi {
    enabled 1
    TARGET iqn.2026-01.org.example:storage {
        QueuedCommands 64
        InitialR2T Yes
        LUN 0 disk1
        GROUP restricted {
            LUN 0 null0 {
                read_only 1
            }
            INITIATOR iqn.2026-01.org.example:host2
        }
        enabled 1
    }
}
)";

class MemStores final : public StoreFactory {
public:
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig& cfg, std::string& err) override {
        if (cfg.filename == "/missing") {
            err = "/missing: No such file or directory";
            return nullptr;
        }
        return std::make_shared<testing::MemoryStore>(4u << 20);
    }
};

struct World {
    testing::FixedRandom rnd;
    iscsi::IscsiDriver driver{rnd};
    MemStores stores;
    Scst scst{driver, stores};
};

std::optional<ConfError> load(World& w, const std::string& text) {
    auto p = parse_scst_conf(text, "scst.conf");
    if (p.error) return p.error;
    return w.scst.apply(p.blocks, "scst.conf");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scst_conf_suite)

BOOST_AUTO_TEST_CASE(parses_the_example) {
    auto p = parse_scst_conf(kExample, "scst.conf");
    BOOST_REQUIRE(!p.error);
    BOOST_REQUIRE(p.blocks.size() == 3u);
    BOOST_TEST(p.blocks[0].keyword == "HANDLER");
    BOOST_TEST(p.blocks[0].children[0].attrs[0].name == "filename");
    BOOST_TEST(p.blocks[0].children[0].attrs[0].line == 4);
    const auto& target = p.blocks[2].children[0];
    BOOST_TEST(target.args[0] == "iqn.2026-01.org.example:storage");
    BOOST_TEST(target.children[1].keyword == "GROUP");
    BOOST_TEST(target.children[1].children[0].attrs[0].value == "1");
}

BOOST_AUTO_TEST_CASE(applies_the_example) {
    World w;
    auto e = load(w, kExample);
    BOOST_REQUIRE_MESSAGE(!e, (e ? e->text() : ""));
    auto t = w.driver.find_target("iqn.2026-01.org.example:storage");
    BOOST_REQUIRE(t);
    BOOST_TEST(t->enabled());
    BOOST_TEST(w.driver.enabled());
    BOOST_TEST(t->params().queued_commands == 64u);
    BOOST_TEST(t->params().initial_r2t);
    BOOST_TEST(t->luns().default_luns().at(0).device->name() == "disk1");
    auto g = t->luns().luns_for("iqn.2026-01.org.example:host2");
    BOOST_TEST(g->at(0).device->name() == "null0");
    BOOST_TEST(g->at(0).read_only);
    BOOST_TEST(*w.scst.device("disk1")->get_attribute("nv_cache") == "1");
}

BOOST_AUTO_TEST_CASE(quoted_values_and_comments) {
    auto p = parse_scst_conf("TARGET_DRIVER iscsi {\n  TARGET iqn.a:b {\n    Note \"two words # not a comment\" # a comment\n  }\n}\n", "f");
    BOOST_REQUIRE(!p.error);
    BOOST_TEST(p.blocks[0].children[0].attrs[0].value == "two words # not a comment");
}

BOOST_AUTO_TEST_CASE(round_trip) {
    auto p = parse_scst_conf(kExample, "a");
    BOOST_REQUIRE(!p.error);
    std::string out = write_scst_conf(p.blocks);
    auto q = parse_scst_conf(out, "b");
    BOOST_REQUIRE(!q.error);
    BOOST_TEST(write_scst_conf(q.blocks) == out);
    World w;
    BOOST_TEST(!load(w, out).has_value());
}

// A quoted word is a value whatever it spells (a brace, a keyword), and the writer quotes
// every word that would not read back as it is: names too.
BOOST_AUTO_TEST_CASE(quoted_words_read_back_as_written) {
    auto p = parse_scst_conf("TARGET_DRIVER iscsi {\n TARGET iqn.a:b {\n  \"two words\" \"}\"\n  Note \"LUN\"\n"
                             "  Other \"a\vb\"\n  \"HANDLER\" \"{\"\n }\n}\n", "f");
    BOOST_REQUIRE(!p.error);
    const auto& attrs = p.blocks[0].children[0].attrs;
    BOOST_REQUIRE(attrs.size() == 4u);
    BOOST_TEST(attrs[0].name == "two words");
    BOOST_TEST(attrs[0].value == "}");
    BOOST_TEST(attrs[1].value == "LUN");
    BOOST_TEST(attrs[2].value == "a\vb");
    BOOST_TEST(attrs[3].name == "HANDLER");
    const std::string out = write_scst_conf(p.blocks);
    auto q = parse_scst_conf(out, "b");
    BOOST_REQUIRE_MESSAGE(!q.error, out);
    BOOST_TEST(write_scst_conf(q.blocks) == out);
    BOOST_TEST(q.blocks[0].children[0].attrs[0].name == "two words");
    BOOST_TEST(q.blocks[0].children[0].attrs[2].value == "a\vb");
}

BOOST_AUTO_TEST_CASE(syntax_errors_name_the_line) {
    struct Case {
        std::string text;
        int line;
        std::string says;
    };
    std::vector<Case> cases = {
        {"HANDLER vdisk_fileio {\n  DEVICE d {\n", 2, "never closed"},
        {"}\n", 1, "without an open block"},
        {"DEVICE d0\n", 1, "DEVICE is not allowed at top level"},
        {"HANDLER vdisk_fileio {\n  LUN 0 d\n}\n", 2, "LUN is not allowed inside HANDLER"},
        {"TARGET_DRIVER iscsi {\n TARGET iqn.a:b {\n  LUN 0\n }\n}\n", 3, "LUN expects 2"},
        {"HANDLER vdisk_fileio {\n  DEVICE d {\n    filename \"/x\n  }\n}\n", 3, "unterminated"},
        {"HANDLER vdisk_fileio {\n  DEVICE d {\n    filename\n  }\n}\n", 3, "has no value"},
        {"enabled 1\n", 1, "outside any block"},
    };
    for (const auto& c : cases) {
        auto p = parse_scst_conf(c.text, "bad.conf");
        BOOST_REQUIRE_MESSAGE(p.error, c.text);
        BOOST_TEST(p.error->line == c.line, c.text);
        BOOST_TEST(p.error->text().find(c.says) != std::string::npos, p.error->text());
        BOOST_TEST(p.error->text().rfind("bad.conf:", 0) == 0);
    }
}

BOOST_AUTO_TEST_CASE(semantic_errors_name_the_line) {
    struct Case {
        std::string text;
        int line;
        std::string says;
    };
    std::vector<Case> cases = {
        {"HANDLER vdisk_fileio {\n DEVICE d {\n  filename /missing\n }\n}\n", 2, "No such file"},
        {"HANDLER vdisk_fileio {\n DEVICE d {\n  blocksize 1000\n  filename /x\n }\n}\n", 2, "blocksize"},
        {"HANDLER vdisk_teleport {\n DEVICE d\n}\n", 1, "no handler"},
        {"HANDLER vdisk_teleport\n", 1, "no handler"},
        {"TARGET_DRIVER iscsi {\n TARGET iqn.a:b {\n  LUN 0 nosuch\n }\n}\n", 3, "no device 'nosuch'"},
        {"TARGET_DRIVER iscsi {\n TARGET iqn.a:b {\n  QueuedCommands many\n }\n}\n", 3, "QueuedCommands"},
        {"TARGET_DRIVER iscsi {\n TARGET notaniqn {\n }\n}\n", 2, "not an iqn."},
        {"TARGET_DRIVER fcoe {\n}\n", 1, "only iscsi"},
        {"TARGET_DRIVER iscsi {\n TARGET iqn.a:b {\n  IncomingUser \"joe\"\n }\n}\n", 3, "user secret"},
        // A user and blanks, no secret: refused, not an exception out of the parser.
        {"TARGET_DRIVER iscsi {\n TARGET iqn.a:b {\n  IncomingUser \"joe  \"\n }\n}\n", 3, "user secret"},
    };
    for (const auto& c : cases) {
        World w;
        auto e = load(w, c.text);
        BOOST_REQUIRE_MESSAGE(e, c.text);
        BOOST_TEST(e->line == c.line, e->text());
        BOOST_TEST(e->text().find(c.says) != std::string::npos, e->text());
    }
}

BOOST_AUTO_TEST_CASE(chap_attributes) {
    World w;
    auto e = load(w, "TARGET_DRIVER iscsi {\n IncomingUser \"disc discsecret12\"\n TARGET iqn.a:b {\n"
                     "  IncomingUser \"joe joesecret123\"\n  IncomingUser \"ann annsecret123\"\n"
                     "  OutgoingUser \"tgt tgtsecret1234\"\n }\n}\n");
    BOOST_REQUIRE_MESSAGE(!e, (e ? e->text() : ""));
    auto a = w.driver.find_target("iqn.a:b")->credentials().config();
    BOOST_TEST(a.incoming.size() == 2u);  // the repeated line holds several users
    BOOST_TEST(a.outgoing->user == "tgt");
    BOOST_TEST(w.driver.discovery_credentials().config().incoming.at(0).user == "disc");
}

BOOST_AUTO_TEST_CASE(add_device_parameter_list) {
    std::string err;
    auto p = parse_param_list("filename=/disk1; nv_cache=1", err);
    BOOST_REQUIRE(p);
    BOOST_TEST(p->size() == 2u);
    BOOST_TEST((*p)[1].first == "nv_cache");
    BOOST_TEST(!parse_param_list("filename", err));
    BOOST_TEST(err.find("key=value") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rel_tgt_id_must_be_unique_to_enable) {
    World w;
    BOOST_TEST(w.driver.add_target("iqn.a:one").empty());
    BOOST_TEST(w.driver.add_target("iqn.a:two").empty());
    BOOST_TEST(w.driver.find_target("iqn.a:one")->rel_tgt_id() != w.driver.find_target("iqn.a:two")->rel_tgt_id());
    w.driver.find_target("iqn.a:two")->set_rel_tgt_id(w.driver.find_target("iqn.a:one")->rel_tgt_id());
    BOOST_TEST(w.driver.enable_target("iqn.a:one", true).empty());
    BOOST_TEST(!w.driver.enable_target("iqn.a:two", true).empty());
    BOOST_TEST(!w.driver.find_target("iqn.a:two")->enabled());
}

BOOST_AUTO_TEST_SUITE_END()
