#define BOOST_TEST_MODULE mgmt_tree
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"
#include "target/iscsi/driver.hpp"
#include "target/buffer_pool.hpp"
#include "target/log.hpp"
#include "target/mgmt/tree.hpp"

#include <algorithm>

using namespace iscsilab;
using namespace iscsilab::mgmt;

namespace {

class MemStores final : public StoreFactory {
public:
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig& cfg, std::string& err) override {
        if (cfg.filename.find("missing") != std::string::npos) {
            err = cfg.filename + ": No such file or directory";
            return nullptr;
        }
        return std::make_shared<testing::MemoryStore>(8u << 20);
    }
};

struct World {
    testing::FixedRandom rnd;
    iscsi::IscsiDriver driver{rnd};
    MemStores stores;
    Scst scst{driver, stores};
    MgmtTree tree{scst, 2};
    std::string ls_r() { return tree.tree("").value; }
    void ok(const std::string& path, const std::string& v) {
        std::string e = tree.write(path, v);
        BOOST_TEST(e.empty(), path << " <- " << v << ": " << e);
    }
    void refused(const std::string& path, const std::string& v, const std::string& says) {
        const std::string before = ls_r();
        std::string e = tree.write(path, v);
        BOOST_TEST(!e.empty(), path << " <- " << v << " was accepted");
        BOOST_TEST(e.find(says) != std::string::npos, e);
        BOOST_TEST(ls_r() == before, "the tree changed after a refused write: " << path);
    }
};

const char* kTgt = "targets/iscsi/iqn.2006-10.net.vlnb:tgt";

void sample1(World& w) {
    w.ok("handlers/vdisk_fileio/mgmt", "add_device disk1 filename=/disk1; nv_cache=1");
    w.ok("targets/iscsi/mgmt", "add_target iqn.2006-10.net.vlnb:tgt");
    w.ok(std::string(kTgt) + "/luns/mgmt", "add disk1 0");
    w.ok(std::string(kTgt) + "/enabled", "1");
    w.ok("targets/iscsi/enabled", "1");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tree_suite)

BOOST_AUTO_TEST_CASE(sample_script_one) {
    World w;
    sample1(w);
    BOOST_TEST(w.tree.cat("devices/disk1/filename").value == "/disk1\n");
    BOOST_TEST(w.tree.cat("/sys/kernel/scst_tgt/devices/disk1/nv_cache").value == "1\n");
    auto ls = w.tree.ls(std::string(kTgt) + "/luns/0");
    BOOST_REQUIRE(ls.ok());
    BOOST_TEST(ls.value[0].link == "../../../../../devices/disk1");
    BOOST_TEST(w.driver.find_target("iqn.2006-10.net.vlnb:tgt")->enabled());
    BOOST_TEST(w.tree.cat(std::string(kTgt) + "/QueuedCommands").value == "32\n");
}

// The buffer pool, where SCST shows its sgv cache: the figures follow the pool.
BOOST_AUTO_TEST_CASE(sgv_shows_the_buffer_pool) {
    World w;
    const auto number = [&](const std::string& text, const std::string& key) {
        const auto at = text.find(key + " ");
        BOOST_REQUIRE_MESSAGE(at != std::string::npos, key << " missing from: " << text);
        return std::stoull(text.substr(at + key.size() + 1));
    };
    const std::string before = w.tree.cat("sgv/global_stats").value;
    {
        BufferPtr a = BufferPool::instance().get(3 * 4096);  // the 16 KiB class
        const std::string during = w.tree.cat("sgv/global_stats").value;
        BOOST_TEST(number(during, "in_use_bytes") == number(before, "in_use_bytes") + 3 * 4096);
        BOOST_TEST(number(during, "requests") == number(before, "requests") + 1);
    }
    BufferPtr again = BufferPool::instance().get(4 * 4096);  // the same class: a hit
    const std::string after = w.tree.cat("sgv/global_stats").value;
    BOOST_TEST(number(after, "hits") == number(before, "hits") + 1);
    const std::string per_class = w.tree.cat("sgv/sgv/stats").value;
    BOOST_TEST(per_class.rfind("Size Hit Total\n", 0) == 0u, per_class);
    BOOST_TEST(per_class.find("\n16384 ") != std::string::npos, per_class);
    BOOST_TEST(!w.tree.write("sgv/global_stats", "1").empty());
}

BOOST_AUTO_TEST_CASE(bad_commands_change_nothing) {
    World w;
    sample1(w);
    w.refused("handlers/vdisk_fileio/mgmt", "add_device disk2 filename=/missing", "No such file");
    w.refused("handlers/vdisk_fileio/mgmt", "add_device disk2 filename=/d2; blocksize=1000", "blocksize");
    w.refused("handlers/vdisk_fileio/mgmt", "add_device disk2 filename", "key=value");
    w.refused("handlers/vdisk_fileio/mgmt", "add_device disk1 filename=/again", "already exists");
    w.refused("handlers/vdisk_fileio/mgmt", "frobnicate disk1", "expected");
    w.refused("handlers/vdisk_fileio/mgmt", "del_device disk1", "still a LUN");
    w.refused("targets/iscsi/mgmt", "add_target notaname", "not an iqn.");
    w.refused("targets/iscsi/mgmt", "add_target iqn.2006-10.net.vlnb:tgt", "already exists");
    w.refused("targets/iscsi/mgmt", "add_attribute Sideways x y", "unknown attribute");
    w.refused(std::string(kTgt) + "/luns/mgmt", "add nosuch 1", "no device");
    w.refused(std::string(kTgt) + "/luns/mgmt", "add disk1 1", "already LUN 0");
    w.refused(std::string(kTgt) + "/luns/mgmt", "add disk1 x", "LUN number");
    w.refused(std::string(kTgt) + "/luns/mgmt", "del 7", "no LUN 7");
    w.refused(std::string(kTgt) + "/ini_groups/mgmt", "delete g", "expected");
    w.refused(std::string(kTgt) + "/MaxBurstLength", "12", "512..");
    w.refused(std::string(kTgt) + "/InitialR2T", "perhaps", "Yes or No");
    w.refused(std::string(kTgt) + "/enabled", "2", "0 or 1");
    w.refused(std::string(kTgt) + "/tid", "5", "not writable");
    w.refused("devices/disk1/blocksize", "4096", "read-only");
    w.refused("devices/nosuch/blocksize", "4096", "no device");
    w.refused("targets/iscsi/iqn.2006-10.net.vlnb:tgt/sessions/x/force_close", "1", "no session");
    w.refused("trace_level", "add nonsense", "trace_level");
    // scst.conf has no escape for '"' nor room for a line break: save() could not write
    // them, so nothing takes them in.
    w.refused("targets/iscsi/mgmt", "add_target iqn.2006-10.net.vlnb:\"tgt2", "cannot hold");
    w.refused("devices/disk1/t10_dev_id", "a\nb", "cannot hold");
    // Group names are directories of the tree: one path component each.
    w.refused("device_groups/mgmt", "create a/b", "bad device group name");
    w.refused(std::string(kTgt) + "/ini_groups/mgmt", "create ../x", "bad initiator group name");
}

BOOST_AUTO_TEST_CASE(rel_tgt_id_rules) {
    World w;
    sample1(w);
    w.ok("targets/iscsi/mgmt", "add_target iqn.2006-10.net.vlnb:tgt1");
    const std::string id = w.tree.cat(std::string(kTgt) + "/rel_tgt_id").value;
    // A disabled target may hold a clashing id, but cannot then be enabled.
    w.ok("targets/iscsi/iqn.2006-10.net.vlnb:tgt1/rel_tgt_id", id);
    w.refused("targets/iscsi/iqn.2006-10.net.vlnb:tgt1/enabled", "1", "rel_tgt_id");
    w.ok("targets/iscsi/iqn.2006-10.net.vlnb:tgt1/rel_tgt_id", "77");
    w.ok("targets/iscsi/iqn.2006-10.net.vlnb:tgt1/enabled", "1");
    w.refused("targets/iscsi/iqn.2006-10.net.vlnb:tgt1/rel_tgt_id", id, "held by enabled target");
}

BOOST_AUTO_TEST_CASE(groups_and_initiators) {
    World w;
    sample1(w);
    const std::string g = std::string(kTgt) + "/ini_groups";
    w.ok(g + "/mgmt", "create special_ini");
    w.refused(g + "/mgmt", "create special_ini", "already exists");
    w.ok(g + "/special_ini/luns/mgmt", "add disk1 0 read_only=1");
    w.refused(g + "/special_ini/luns/mgmt", "add disk1 1 writable=1", "read_only");
    w.ok(g + "/special_ini/initiators/mgmt", "add iqn.2005-03.org.open-iscsi:*");
    BOOST_TEST(w.tree.cat(g + "/special_ini/luns/0/read_only").value == "1\n");
    auto map = w.driver.find_target("iqn.2006-10.net.vlnb:tgt")->luns().luns_for("iqn.2005-03.org.open-iscsi:abc");
    BOOST_TEST(map->at(0).read_only);
    w.ok(g + "/special_ini/initiators/mgmt", "clear");
    BOOST_TEST(!w.driver.find_target("iqn.2006-10.net.vlnb:tgt")->luns().luns_for("iqn.2005-03.org.open-iscsi:abc")->at(0).read_only);
    w.ok(g + "/mgmt", "del special_ini");
    BOOST_TEST(w.tree.ls(g).value.size() == 1u);  // mgmt only
}

BOOST_AUTO_TEST_CASE(credentials_hidden_and_saved) {
    World w;
    sample1(w);
    w.ok("targets/iscsi/mgmt", "add_target_attribute iqn.2006-10.net.vlnb:tgt IncomingUser joe 12charsecret");
    w.ok("targets/iscsi/mgmt", "add_attribute IncomingUser disc discsecret99");
    BOOST_TEST(w.tree.cat(std::string(kTgt) + "/IncomingUser").value == "joe ********\n");
    BOOST_TEST(w.ls_r().find("12charsecret") == std::string::npos);
    const std::string saved = w.tree.save();
    BOOST_TEST(saved.find("IncomingUser \"joe 12charsecret\"") != std::string::npos);
    w.ok("targets/iscsi/mgmt", "del_target_attribute iqn.2006-10.net.vlnb:tgt IncomingUser joe");
    BOOST_TEST(!w.tree.cat(std::string(kTgt) + "/IncomingUser").ok());
}

BOOST_AUTO_TEST_CASE(save_load_round_trip) {
    World w;
    sample1(w);
    w.ok("handlers/vdisk_nullio/mgmt", "add_device null0 size_mb=4");
    w.ok(std::string(kTgt) + "/ini_groups/mgmt", "create g");
    w.ok(std::string(kTgt) + "/ini_groups/g/luns/mgmt", "add null0 5 read_only=1");
    w.ok(std::string(kTgt) + "/ini_groups/g/initiators/mgmt", "add iqn.x:y");
    w.ok(std::string(kTgt) + "/QueuedCommands", "8");
    // iscsilab's bounds on what initiators hold (iscsi/limits.hpp) are kept too.
    w.ok("targets/iscsi/max_sessions_per_initiator", "4");
    w.ok("targets/iscsi/login_timeout", "9");
    BOOST_TEST(!w.tree.write("targets/iscsi/max_connections", "many").empty());
    const std::string tree = w.ls_r();
    const std::string saved = w.tree.save();
    BOOST_TEST(saved.find("max_sessions_per_initiator 4") != std::string::npos, saved);
    BOOST_TEST(saved.find("login_timeout 9") != std::string::npos, saved);
    BOOST_TEST(saved.find("max_connections") == std::string::npos, saved);  // at its default
    World w2;
    BOOST_TEST(w2.tree.load(saved, "saved.conf", w2.stores).empty());
    BOOST_TEST(w2.ls_r() == tree);
    BOOST_TEST(w2.tree.save() == saved);
    // A bad file changes nothing.
    std::string bad = saved + "TARGET_DRIVER iscsi {\n  TARGET iqn.z:z {\n    LUN 0 nodevice\n  }\n}\n";
    std::string e = w2.tree.load(bad, "bad.conf", w2.stores);
    BOOST_TEST(e.rfind("bad.conf:", 0) == 0, e);
    BOOST_TEST(e.find("no device 'nodevice'") != std::string::npos, e);
    BOOST_TEST(w2.ls_r() == tree);
}

// A nullio size given in bytes that is not a whole number of MiB is saved in bytes: as
// size_mb it would round down to 0, which does not load (found by fuzz_scst_conf).
BOOST_AUTO_TEST_CASE(nullio_size_in_bytes_saves_and_loads_back) {
    World w;
    w.ok("handlers/vdisk_nullio/mgmt", "add_device n0 size=1041");
    w.ok("handlers/vdisk_nullio/mgmt", "add_device n1 size_mb=3");
    BOOST_TEST(w.tree.cat("handlers/vdisk_nullio/n0/size_mb").value == "0\n");
    const std::string saved = w.tree.save();
    BOOST_TEST(saved.find("size 1041\n") != std::string::npos, saved);
    BOOST_TEST(saved.find("size_mb 3\n") != std::string::npos, saved);
    BOOST_TEST(saved.find("size_mb 0") == std::string::npos, saved);
    World w2;
    BOOST_TEST(w2.tree.load(saved, "saved.conf", w2.stores).empty());
    BOOST_TEST(w2.tree.save() == saved);
    BOOST_TEST(w2.ls_r() == w.ls_r());
}

// SCST's device_groups (ALUA): made through the tree, shown by it, saved as DEVICE_GROUP
// blocks and loaded back to the same tree.
BOOST_AUTO_TEST_CASE(device_groups_through_the_tree_and_scst_conf) {
    World w;
    sample1(w);
    w.ok("targets/iscsi/mgmt", "add_target iqn.2006-10.net.vlnb:tgt2");
    w.ok("targets/iscsi/iqn.2006-10.net.vlnb:tgt2/rel_tgt_id", "2");
    w.ok("device_groups/mgmt", "create dg1");
    w.ok("device_groups/dg1/devices/mgmt", "add disk1");
    w.ok("device_groups/dg1/target_groups/mgmt", "create tg_local");
    w.ok("device_groups/dg1/target_groups/mgmt", "create tg_remote");
    w.ok("device_groups/dg1/target_groups/tg_local/mgmt", "add iqn.2006-10.net.vlnb:tgt");
    w.ok("device_groups/dg1/target_groups/tg_remote/mgmt", "add iqn.2006-10.net.vlnb:tgt2");
    w.ok("device_groups/dg1/target_groups/tg_local/group_id", "17");
    w.ok("device_groups/dg1/target_groups/tg_remote/state", "standby");
    w.ok("device_groups/dg1/target_groups/tg_local/preferred", "1");
    BOOST_TEST(w.tree.cat("device_groups/dg1/target_groups/tg_remote/state").value == "standby\n");
    BOOST_TEST(w.tree.cat("device_groups/dg1/target_groups/tg_local/group_id").value == "17\n");
    BOOST_TEST(w.tree.cat("device_groups/dg1/target_groups/tg_remote/iqn.2006-10.net.vlnb:tgt2/rel_tgt_id").value == "2\n");
    auto dev_link = w.tree.ls("device_groups/dg1/devices/disk1");
    BOOST_REQUIRE(dev_link.ok());
    BOOST_TEST(dev_link.value[0].link == "../../../devices/disk1");
    BOOST_TEST(w.scst.device("disk1")->alua_group() == w.scst.device_group("dg1"));

    w.refused("device_groups/dg1/target_groups/tg_local/state", "sideways", "expected active");
    w.refused("device_groups/dg1/target_groups/tg_local/group_id", "0", "group_id");
    w.refused("device_groups/dg1/target_groups/tg_remote/mgmt", "add iqn.2006-10.net.vlnb:tgt", "already in target group");
    w.refused("device_groups/mgmt", "create dg1", "already exists");
    w.ok("device_groups/mgmt", "create dg2");
    w.refused("device_groups/dg2/devices/mgmt", "add disk1", "already in device group dg1");

    const std::string tree = w.ls_r();
    const std::string saved = w.tree.save();
    BOOST_TEST(saved.find("DEVICE_GROUP dg1") != std::string::npos, saved);
    BOOST_TEST(saved.find("state standby") != std::string::npos, saved);
    World w2;
    BOOST_TEST(w2.tree.load(saved, "saved.conf", w2.stores).empty());
    BOOST_TEST(w2.ls_r() == tree);
    BOOST_TEST(w2.tree.save() == saved);
    BOOST_TEST(w2.scst.device("disk1")->alua_group() == w2.scst.device_group("dg1"));

    // Deleting the device takes it out of its group; deleting the group frees the rest.
    w.ok(std::string(kTgt) + "/luns/mgmt", "del 0");
    w.ok("handlers/vdisk_fileio/mgmt", "del_device disk1");
    BOOST_TEST(w.tree.ls("device_groups/dg1/devices").value.size() == 1u);  // mgmt only
    w.ok("device_groups/mgmt", "del dg1");
    BOOST_TEST(!w.tree.ls("device_groups/dg1").ok());
}

BOOST_AUTO_TEST_CASE(trace_levels) {
    World w;
    BOOST_TEST(w.tree.tracing("iscsi", "conn"));
    w.ok("targets/iscsi/trace_level", "del conn");
    BOOST_TEST(!w.tree.tracing("iscsi", "conn"));
    w.ok("targets/iscsi/trace_level", "all");
    BOOST_TEST(w.tree.tracing("iscsi", "debug"));
    BOOST_TEST(w.tree.cat("handlers/vcdrom/type").value == "5 - CD-ROM device\n");
}

namespace {
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }
}  // namespace

// SCST's trace_level (scst_sysfs.c): tokens with SCST's bits, the actions all, none
// (null), default, value N, add|del TOKEN (and set TOKEN, of the /proc interface); reading
// lists the tokens that are on, then the usage.
BOOST_AUTO_TEST_CASE(trace_level_reads_and_writes_as_scst_does) {
    World w;
    const std::string iscsi = "targets/iscsi/trace_level";
    BOOST_TEST(first_line(w.tree.cat("trace_level").value) == "out_of_mem | pid | special | mgmt");
    BOOST_TEST(first_line(w.tree.cat(iscsi).value) == "out_of_mem | pid | special | mgmt | conn | login");
    BOOST_TEST(first_line(w.tree.cat("handlers/vdisk_fileio/trace_level").value) == "out_of_mem | pid | special | mgmt");
    const std::string help = w.tree.cat(iscsi).value;
    BOOST_TEST(help.find("echo \"value DEC|0xHEX|0OCT\" >trace_level") != std::string::npos);
    BOOST_TEST(help.find("conn_dbg") != std::string::npos);  // the driver's own tokens are listed

    w.ok(iscsi, "del special");
    w.ok(iscsi, "add conn_dbg");
    BOOST_TEST(first_line(w.tree.cat(iscsi).value) == "out_of_mem | pid | mgmt | conn | conn_dbg | login");
    w.ok(iscsi, "set conn");
    BOOST_TEST(first_line(w.tree.cat(iscsi).value) == "conn");
    w.ok(iscsi, "value 0x00000402");  // function | mgmt, by SCST's bits
    BOOST_TEST(first_line(w.tree.cat(iscsi).value) == "function | mgmt");
    w.ok(iscsi, "value 0");
    BOOST_TEST(first_line(w.tree.cat(iscsi).value) == "");
    w.ok(iscsi, "all");
    BOOST_TEST(first_line(w.tree.cat(iscsi).value).find("debug | special") != std::string::npos);
    BOOST_TEST(w.tree.tracing("iscsi", "net_page"));
    w.ok(iscsi, "NULL");
    BOOST_TEST(!w.tree.tracing("iscsi", "out_of_mem"));
    w.ok(iscsi, "default");
    BOOST_TEST(first_line(w.tree.cat(iscsi).value) == "out_of_mem | pid | special | mgmt | conn | login");
    // Each component has its own level and its own tokens.
    BOOST_TEST(first_line(w.tree.cat("trace_level").value) == "out_of_mem | pid | special | mgmt");
    w.ok("trace_level", "add retry");
    w.ok("handlers/vdisk_fileio/trace_level", "add order");
    BOOST_TEST(w.tree.tracing("vdisk_fileio", "order"));
    BOOST_TEST(!w.tree.tracing("vdisk_blockio", "order"));
    w.refused("trace_level", "add conn", "unknown token");  // iSCSI-SCST's, not the core's
    w.refused("handlers/vdisk_fileio/trace_level", "add login", "unknown token");
    w.refused(iscsi, "add", "unknown token");
    w.refused(iscsi, "value 12abc", "value");
    w.refused(iscsi, "value 0x1ffffffff", "value");
    w.refused(iscsi, "frob conn", "expected");
}

// Each token gates the lines of its kind; errors, warnings and lines of no kind always
// show; pid, function and line decorate the lines of their component.
BOOST_AUTO_TEST_CASE(trace_level_gates_the_log) {
    World w;
    std::vector<LogLine> got;
    std::vector<std::string> texts, printed;
    w.tree.route_logs([&](const LogLine& l) {
        got.push_back(l);
        texts.emplace_back(l.text);
        printed.push_back(format_line("T", l, 42));
    });
    auto said = [&](const std::string& t) { return std::find(texts.begin(), texts.end(), t) != texts.end(); };
    w.driver.log(LogLevel::info, Trace::conn, "conn line 1");
    w.driver.log(LogLevel::info, Trace::login, "login line 1");
    w.driver.log(LogLevel::debug, Trace::conn_dbg, "conn_dbg line 1");
    w.driver.log("short form 1");  // info, conn
    BOOST_TEST(said("conn line 1"));
    BOOST_TEST(said("login line 1"));
    BOOST_TEST(!said("conn_dbg line 1"));
    BOOST_TEST(said("short form 1"));
    BOOST_TEST(got.front().component == "iscsi");
    BOOST_TEST(got.front().with_pid);  // pid is on by default, as in SCST
    BOOST_TEST(printed.front() == "T info    [42]: iscsi: conn line 1");

    w.ok("targets/iscsi/trace_level", "del conn");
    w.ok("targets/iscsi/trace_level", "add conn_dbg");
    w.ok("targets/iscsi/trace_level", "del pid");
    w.driver.log(LogLevel::info, Trace::conn, "conn line 2");
    w.driver.log("short form 2");
    w.driver.log(LogLevel::debug, Trace::conn_dbg, "conn_dbg line 2");
    w.driver.log(LogLevel::warning, Trace::conn, "conn warning");
    w.driver.log(LogLevel::error, Trace::conn, "conn error");
    BOOST_TEST(!said("conn line 2"));
    BOOST_TEST(!said("short form 2"));
    BOOST_TEST(said("conn_dbg line 2"));
    BOOST_TEST(said("conn warning"));
    BOOST_TEST(said("conn error"));
    BOOST_TEST(printed.back() == "T error   iscsi: conn error");

    // The tree's own lines: kind mgmt, of the component they concern.
    w.ok("targets/iscsi/mgmt", "add_target iqn.2006-10.net.vlnb:one");
    BOOST_TEST(said("added target iqn.2006-10.net.vlnb:one"));
    w.ok("targets/iscsi/trace_level", "del mgmt");
    w.ok("targets/iscsi/mgmt", "add_target iqn.2006-10.net.vlnb:two");
    BOOST_TEST(!said("added target iqn.2006-10.net.vlnb:two"));
    // A change of level is always said (SCST's PRINT_INFO).
    w.ok("targets/iscsi/trace_level", "none");
    BOOST_TEST(printed.back().find("changed trace level for \"iscsi\"") != std::string::npos);
    BOOST_TEST(printed.back().find("new 0x00000000") != std::string::npos);

    // function and line: where the line was said.
    w.ok("targets/iscsi/trace_level", "set function");
    w.ok("targets/iscsi/trace_level", "add line");
    w.ok("targets/iscsi/trace_level", "add debug");
    const int here = __LINE__ + 1;
    w.driver.log(LogLevel::debug, Trace::debug, "where am I");
    BOOST_TEST(printed.back().find(":" + std::to_string(here) + ": where am I") != std::string::npos, printed.back());
    BOOST_TEST(printed.back().find("test_method") != std::string::npos, printed.back());
}

BOOST_AUTO_TEST_CASE(log_lines_are_stamped_in_iso8601_utc_with_a_level) {
    BOOST_TEST(iso8601_utc(std::chrono::milliseconds(1796047326123)) == "2026-11-30T14:02:06.123Z");
    BOOST_TEST(iso8601_utc(std::chrono::milliseconds(946684799999)) == "1999-12-31T23:59:59.999Z");
    BOOST_TEST(iso8601_utc(Nanos{0}) == "1970-01-01T00:00:00.000Z");
    LogLine l{LogLevel::warning, Trace::login, "iscsi", "login of iqn.evil\nfake line failed", {}};
    // One event, one line: a newline an initiator put in its name is escaped.
    BOOST_TEST(format_line("2026-11-30T14:02:06.123Z", l) ==
               "2026-11-30T14:02:06.123Z warning iscsi: login of iqn.evil\\x0afake line failed");
    for (auto level : {LogLevel::error, LogLevel::warning, LogLevel::info, LogLevel::debug})
        BOOST_TEST(format_line("", LogLine{level, Trace::none, "", "x", {}}).find(std::string(to_string(level))) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
