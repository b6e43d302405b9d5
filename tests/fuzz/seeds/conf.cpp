// Seeds of scst_conf and mgmt (tests/fuzz/seeds/seeds.hpp): the scenario suites'
// configurations, the harness's own, and the management tree tests' scripts.
#include <filesystem>
#include <fstream>
#include <set>

#include "fuzz_support.hpp"
#include "seeds/seeds.hpp"
#include "target/bytes.hpp"

namespace fs = std::filesystem;

namespace iscsilab::fuzz::seeds {
namespace {

// ---- scst_conf and mgmt ------------------------------------------------------------------

// The `config: |` blocks of the scenario files, as the target reads them.
std::vector<std::pair<std::string, std::string>> scenario_configs(const fs::path& source) {
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string> seen;
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(source / "scenarios"))
        if (e.path().extension() == ".yaml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f);
        std::string line, conf;
        std::size_t indent = std::string::npos;
        bool inside = false;
        while (std::getline(in, line)) {
            if (!inside) {
                if (line.find("config: |") != std::string::npos) inside = true;
                continue;
            }
            const std::size_t first = line.find_first_not_of(' ');
            if (first == std::string::npos) {
                conf += "\n";
                continue;
            }
            if (indent == std::string::npos) indent = first;
            if (first < indent) break;
            conf += line.substr(indent) + "\n";
        }
        if (conf.empty() || !seen.insert(conf).second) continue;
        out.emplace_back(f.parent_path().filename().string() + "-" + f.stem().string(), conf);
    }
    return out;
}

}  // namespace

void conf_seeds(const fs::path& source) {
    const auto confs = scenario_configs(source);
    // Tens of files at most: the first of each suite, and every one that differs in its
    // keywords from those taken.
    std::set<std::string> suites;
    std::size_t taken = 0;
    for (const auto& [name, conf] : confs) {
        const std::string suite = name.substr(0, name.find('-'));
        const bool rich = conf.find("GROUP") != std::string::npos || conf.find("IncomingUser") != std::string::npos ||
                          conf.find("DEVICE_GROUP") != std::string::npos || conf.find("vcdrom") != std::string::npos ||
                          conf.find("nullio") != std::string::npos;
        if (!suites.insert(suite).second && !rich) continue;
        if (++taken > 24) break;
        write_seed("scst_conf", "scenario-" + name, conf);
    }
    write_seed("scst_conf", "harness", fuzz::rig_conf());
    write_seed("scst_conf", "alua-groups-credentials",
               "# every block kind\n"
               "HANDLER vdisk_fileio {\n\tDEVICE disk1 {\n\t\tfilename /disk1\n\t\tnv_cache 1\n\t\tt10_dev_id \"id 1\"\n\t}\n}\n"
               "HANDLER vdisk_blockio {\n\tDEVICE disk2 {\n\t\tfilename /dev/sdb\n\t\tblocksize 4096\n\t\tthin_provisioned 1\n\t}\n}\n"
               "HANDLER vdisk_nullio {\n\tDEVICE null1 {\n\t\tsize_mb 1024\n\t\tread_only 1\n\t}\n}\n"
               "TARGET_DRIVER iscsi {\n\tenabled 1\n\tIncomingUser joe secret1234567\n\tiSNSServer 10.0.0.9\n"
               "\tTARGET iqn.2006-10.net.vlnb:tgt {\n\t\tMaxBurstLength 262144\n\t\tIncomingUser alice pw123456789012\n"
               "\t\tOutgoingUser tgt tgtsecret1234\n\t\tLUN 0 disk1\n\t\tGROUP special {\n\t\t\tLUN 0 disk2 {\n\t\t\t\tread_only 1\n"
               "\t\t\t}\n\t\t\tINITIATOR iqn.2005-03.org.open-iscsi:*\n\t\t}\n\t\trel_tgt_id 3\n\t\tenabled 1\n\t}\n"
               "\tTARGET iqn.2006-10.net.vlnb:tgt1 {\n\t\tLUN 0 null1\n\t\tenabled 0\n\t}\n}\n"
               "DEVICE_GROUP dg1 {\n\tDEVICE disk1\n\tTARGET_GROUP local {\n\t\tgroup_id 1\n\t\tstate active\n"
               "\t\tpreferred 1\n\t\tTARGET iqn.2006-10.net.vlnb:tgt\n\t}\n\tTARGET_GROUP remote {\n\t\tgroup_id 2\n"
               "\t\tstate standby\n\t\tTARGET iqn.2006-10.net.vlnb:remote {\n\t\t\trel_tgt_id 9\n\t\t}\n\t}\n}\n");
    write_seed("scst_conf", "one-line-blocks",
               "HANDLER vdisk_fileio { DEVICE a { filename /a } DEVICE b { filename /b } }\n"
               "TARGET_DRIVER iscsi { TARGET iqn.x:y { LUN 0 a } TARGET iqn.x:z { LUN 1 b } enabled 1 }\n");

    const std::string tgt = "targets/iscsi/iqn.2006-10.net.vlnb:tgt";
    auto lines = [](std::uint8_t flags, const std::vector<std::string>& ls) {
        std::string s(1, static_cast<char>(flags));
        for (const auto& l : ls) s += l + "\n";
        return s;
    };
    write_seed("mgmt", "sample-script",
               lines(0, {"handlers/vdisk_fileio/mgmt add_device disk1 filename=/disk1; nv_cache=1",
                         "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt", tgt + "/luns/mgmt add disk1 0",
                         tgt + "/enabled 1", "targets/iscsi/enabled 1", "devices/disk1/filename",
                         "/sys/kernel/scst_tgt/devices/disk1/nv_cache", tgt + "/luns/0", tgt + "/QueuedCommands", "devices",
                         tgt}));
    write_seed("mgmt", "groups-and-initiators",
               lines(0, {"handlers/vdisk_fileio/mgmt add_device disk1 filename=/disk1",
                         "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt", tgt + "/ini_groups/mgmt create special_ini",
                         tgt + "/ini_groups/special_ini/luns/mgmt add disk1 0 read_only=1",
                         tgt + "/ini_groups/special_ini/initiators/mgmt add iqn.2005-03.org.open-iscsi:*",
                         tgt + "/ini_groups/special_ini/luns/0/read_only", tgt + "/ini_groups/special_ini/initiators/mgmt clear",
                         tgt + "/ini_groups/mgmt del special_ini", tgt + "/ini_groups"}));
    write_seed("mgmt", "attributes-and-refusals",
               lines(0, {"handlers/vdisk_fileio/mgmt add_device disk2 filename=/d2; blocksize=1000",
                         "handlers/vdisk_fileio/mgmt add_device disk2 filename=/missing",
                         "handlers/vdisk_nullio/mgmt add_device null1 size_mb=16; read_only=1",
                         "handlers/vdisk_fileio/mgmt frobnicate disk1", "targets/iscsi/mgmt add_target notaname",
                         "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt",
                         "targets/iscsi/mgmt add_target_attribute iqn.2006-10.net.vlnb:tgt IncomingUser joe 12345678901234",
                         "targets/iscsi/mgmt add_attribute IncomingUser jim 12345678901234",
                         "targets/iscsi/mgmt del_target_attribute iqn.2006-10.net.vlnb:tgt IncomingUser joe",
                         tgt + "/MaxBurstLength 12", tgt + "/InitialR2T perhaps", tgt + "/InitialR2T Yes", tgt + "/rel_tgt_id 77",
                         "trace_level add scsi", "targets/iscsi/trace_level none", "sgv/global_stats", "sgv/sgv/stats",
                         "handlers/vdisk_fileio/mgmt del_device disk1", "targets/iscsi/mgmt del_target iqn.2006-10.net.vlnb:tgt"}));
    write_seed("mgmt", "device-groups",
               lines(0, {"handlers/vdisk_fileio/mgmt add_device disk1 filename=/disk1",
                         "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt", "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt1",
                         "device_groups/mgmt create dg1", "device_groups/dg1/devices/mgmt add disk1",
                         "device_groups/dg1/target_groups/mgmt create local", "device_groups/dg1/target_groups/mgmt create remote",
                         "device_groups/dg1/target_groups/local/mgmt add iqn.2006-10.net.vlnb:tgt",
                         "device_groups/dg1/target_groups/remote/mgmt add iqn.2006-10.net.vlnb:tgt1",
                         "device_groups/dg1/target_groups/local/group_id 1", "device_groups/dg1/target_groups/remote/state standby",
                         "device_groups/dg1/target_groups/local/preferred 1", "device_groups/dg1/devices/disk1",
                         "device_groups/mgmt del dg1"}));
    const std::string fz = std::string("targets/iscsi/") + fuzz::kTargetName;
    write_seed("mgmt", "live-session",
               lines(1, {fz + "/sessions", fz + "/sessions/" + fuzz::kInitiatorName,
                         fz + "/sessions/" + fuzz::kInitiatorName + "/luns", fz + "/luns/mgmt del 2",
                         fz + "/luns/mgmt add cd0 5", "devices/d0/resync_size 1", "devices/cd0/filename /mem/new.iso",
                         "devices/cd0/filename ", "devices/d0/t10_dev_id fuzz-0", fz + "/NopInInterval 5",
                         fz + "/sessions/" + fuzz::kInitiatorName + "/force_close 1", fz + "/sessions"}));
    write_seed("mgmt", "live-session-target-deleted",
               lines(3, {fz + "/enabled 0", "targets/iscsi/mgmt del_target " + std::string(fuzz::kTargetName),
                         "handlers/vdisk_fileio/mgmt del_device d0", "targets/iscsi/enabled 0", ""}));
}

}  // namespace iscsilab::fuzz::seeds
