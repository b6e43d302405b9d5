#define BOOST_TEST_MODULE seams
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>
#include <fstream>
#include <regex>

// DESIGN.md: the core (target/) sees the world only through its ports. No socket,
// thread, file descriptor or wall-clock header may appear there.
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(seams_suite)

BOOST_AUTO_TEST_CASE(core_includes_no_os_headers) {
    const std::regex forbidden(
        R"(#\s*include\s*<(sys/socket\.h|netinet/[^>]*|arpa/inet\.h|netdb\.h|thread|unistd\.h|fcntl\.h|sys/epoll\.h|sys/uio\.h|sys/stat\.h|pthread\.h|ctime|time\.h|sys/time\.h|random|future)>)");
    const std::regex clocks(R"((steady_clock|system_clock|high_resolution_clock)::now|random_device|[^_a-z]rand\()");
    int files = 0, lines = 0;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(ISCSILAB_SOURCE_DIR) / "target")) {
        if (!e.is_regular_file()) continue;
        auto ext = e.path().extension();
        if (ext != ".cpp" && ext != ".hpp") continue;
        ++files;
        std::ifstream in(e.path());
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {  // line by line: std::regex recurses per character
            ++n;
            std::smatch m;
            if (std::regex_search(line, m, forbidden)) BOOST_ERROR(e.path().string() << ":" << n << " includes " << m.str());
            if (std::regex_search(line, m, clocks)) BOOST_ERROR(e.path().string() << ":" << n << " uses " << m.str());
            ++lines;
        }
    }
    BOOST_TEST(files > 20);
    BOOST_TEST(lines > 3000);
}

// DESIGN.md, the rooms: target/scsi and target/handlers know nothing of iSCSI (as SPDK's
// lib/scsi knows nothing of its iscsi library); the dependency runs one way.
BOOST_AUTO_TEST_CASE(scsi_and_handlers_include_nothing_of_iscsi) {
    const std::regex iscsi_include(R"re(#\s*include\s*"target/iscsi/)re");
    int files = 0;
    for (const char* dir : {"target/scsi", "target/handlers"})
        for (const auto& e : fs::recursive_directory_iterator(fs::path(ISCSILAB_SOURCE_DIR) / dir)) {
            if (!e.is_regular_file()) continue;
            ++files;
            std::ifstream in(e.path());
            std::string line;
            int n = 0;
            while (std::getline(in, line)) {
                ++n;
                if (std::regex_search(line, iscsi_include)) BOOST_ERROR(e.path().string() << ":" << n << " includes " << line);
            }
        }
    BOOST_TEST(files >= 6);
}

// DESIGN.md, the rooms: every directory of the tree is a room, and a room includes only
// the rooms listed for it here. The list is a DAG (checked below), so dependencies run
// one way: the SCSI layer under the transport, the target under the testbed, the
// checker beside everything it judges and sharing none of its code.
BOOST_AUTO_TEST_CASE(every_room_includes_only_the_rooms_below_it) {
    const std::map<std::string, std::set<std::string>> allowed = {
        {"target", {}},
        {"target/scsi", {"target"}},
        {"target/handlers", {"target", "target/scsi"}},
        {"target/iscsi", {"target", "target/scsi"}},
        {"target/mgmt", {"target", "target/scsi", "target/handlers", "target/iscsi"}},
        // The initiator model speaks the wire through the target's PDU codec; the wire
        // checker (reports/checker) has its own decoder so a shared bug still shows.
        {"model", {"target", "target/iscsi"}},
        {"fabric/capture", {"target"}},
        {"fabric/capture/wireshark", {"faults", "reports/checker"}},
        {"fabric/sim", {"target", "model", "fabric/capture"}},
        {"fabric/tcp", {"target"}},
        {"faults", {"target", "target/iscsi", "model", "fabric/sim"}},
        {"reports/checker", {}},
        {"reports/catalogue", {}},
        {"reports/report", {"reports/catalogue"}},
        {"scenarios/engine", {"target", "target/iscsi", "target/mgmt", "model", "fabric/capture", "fabric/sim",
                              "faults", "reports/checker"}},
        // hil/ holds two libraries: the real runtime (iscsilab_runtime) and the testbed's
        // stages; the runtime's files are held to less (runtime_includes_nothing_of_the_simulation).
        {"hil", {"target", "target/iscsi", "target/mgmt", "fabric/tcp", "reports/catalogue", "reports/checker",
                 "reports/report", "scenarios/engine"}},
        {"hil/bench", {"model"}},
    };
    // Acyclic: a depth-first walk never meets a room on its own path.
    std::map<std::string, int> state;  // 1 on the path, 2 done
    std::function<void(const std::string&, std::vector<std::string>&)> walk = [&](const std::string& r,
                                                                                  std::vector<std::string>& path) {
        if (state[r] == 2) return;
        path.push_back(r);
        if (state[r] == 1) {
            std::string cycle;
            for (const auto& p : path) cycle += p + " -> ";
            BOOST_ERROR("the room table has a cycle: " << cycle);
            path.pop_back();
            return;
        }
        state[r] = 1;
        auto it = allowed.find(r);
        if (it != allowed.end())
            for (const auto& d : it->second) walk(d, path);
        state[r] = 2;
        path.pop_back();
    };
    for (const auto& [room, deps] : allowed) {
        std::vector<std::string> path;
        walk(room, path);
    }

    const std::regex local_include(R"re(#\s*include\s*"([^"]+)/[^"/]+")re");
    const fs::path root(ISCSILAB_SOURCE_DIR);
    int files = 0, edges = 0;
    for (const char* top : {"target", "model", "fabric", "faults", "reports", "scenarios", "hil"}) {
        for (const auto& e : fs::recursive_directory_iterator(root / top)) {
            if (!e.is_regular_file()) continue;
            auto ext = e.path().extension();
            if (ext != ".cpp" && ext != ".hpp" && ext != ".h") continue;
            const std::string room = fs::relative(e.path().parent_path(), root).generic_string();
            auto rule = allowed.find(room);
            if (rule == allowed.end()) {
                BOOST_ERROR(room << " holds sources but is not in the room table");
                continue;
            }
            ++files;
            std::ifstream in(e.path());
            std::string line;
            int n = 0;
            while (std::getline(in, line)) {
                ++n;
                std::smatch m;
                if (!std::regex_search(line, m, local_include)) continue;
                const std::string to = m[1].str();
                if (to == room) continue;
                ++edges;
                if (!rule->second.count(to))
                    BOOST_ERROR(fs::relative(e.path(), root).generic_string()
                                << ":" << n << ": room " << room << " may not include " << to << " (" << line << ")");
            }
        }
    }
    BOOST_TEST(files > 100);
    BOOST_TEST(edges > 50);
}

// DESIGN.md, the rooms: the real runtime links no SystemC. Its sources are those of
// iscsilab_runtime in CMakeLists.txt; everything they include, followed to the end, stays
// in target/, fabric/tcp and the runtime's own files of hil/ (not a header of the
// testbed's stages there), and names no header of SystemC, yaml-cpp, libpcap or xxhash.
// tests/hil/runtime_links_no_sim.sh checks the linked program.
BOOST_AUTO_TEST_CASE(runtime_includes_nothing_of_the_simulation) {
    const fs::path root(ISCSILAB_SOURCE_DIR);
    std::ifstream cm(root / "CMakeLists.txt");
    std::stringstream text;
    text << cm.rdbuf();
    const std::string s = text.str();
    const auto begin = s.find("add_library(iscsilab_runtime STATIC");
    BOOST_REQUIRE_MESSAGE(begin != std::string::npos, "CMakeLists.txt declares no iscsilab_runtime");
    const auto end = s.find(')', begin);
    std::set<std::string> runtime;  // its .cpp files, relative to the root
    std::stringstream list(s.substr(begin, end - begin));
    for (std::string w; list >> w;)
        if (w.size() > 4 && w.substr(w.size() - 4) == ".cpp") runtime.insert(w);
    BOOST_TEST(runtime.size() >= 6);

    const std::regex local_include(R"re(#\s*include\s*"([^"]+)")re");
    const std::regex foreign(R"re(#\s*include\s*<(systemc|tlm|sysc/[^>]*|yaml-cpp/[^>]*|pcap[^>]*|xxhash\.h)>)re");
    auto allowed = [&](const std::string& f) {
        if (f.rfind("target/", 0) == 0 || f.rfind("fabric/tcp/", 0) == 0) return true;
        if (f.rfind("hil/", 0) != 0 || f.find('/', 4) != std::string::npos) return false;
        // A header of hil/ belongs to the runtime when its .cpp does, or when it has none.
        const std::string cpp = f.substr(0, f.rfind('.')) + ".cpp";
        return runtime.count(cpp) || !fs::exists(root / cpp);
    };
    std::set<std::string> seen;
    std::vector<std::pair<std::string, std::string>> todo;  // file, who included it
    for (const auto& f : runtime) todo.emplace_back(f, "CMakeLists.txt");
    while (!todo.empty()) {
        auto [f, from] = todo.back();
        todo.pop_back();
        if (!seen.insert(f).second) continue;
        if (!allowed(f)) {
            BOOST_ERROR(from << " brings " << f << " into the real runtime");
            continue;
        }
        std::ifstream in(root / f);
        BOOST_REQUIRE_MESSAGE(in, "cannot read " << f);
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            ++n;
            std::smatch m;
            if (std::regex_search(line, m, foreign)) BOOST_ERROR(f << ":" << n << " includes " << m.str());
            if (std::regex_search(line, m, local_include) && fs::exists(root / m[1].str()))
                todo.emplace_back(m[1].str(), f + ":" + std::to_string(n));
        }
    }
    BOOST_TEST(seen.size() > runtime.size());
}

// DESIGN.md, determinism: outside the real runtime (hil/) and real sockets (fabric/tcp),
// no source or test reaches for sockets, threads or the wall clock.
BOOST_AUTO_TEST_CASE(only_hil_and_fabric_tcp_touch_sockets_threads_and_clocks) {
    const std::regex forbidden(
        R"(#\s*include\s*<(sys/socket\.h|netinet/[^>]*|arpa/inet\.h|netdb\.h|sys/un\.h|thread|pthread\.h|sys/epoll\.h|ctime|time\.h|sys/time\.h|future)>)");
    const std::regex clocks(R"((steady_clock|system_clock|high_resolution_clock)::now|random_device|std::thread|[^_a-z]rand\()");
    const fs::path root(ISCSILAB_SOURCE_DIR);
    int files = 0;
    for (const char* dir : {"target", "model", "fabric", "faults", "scenarios", "reports", "tests"}) {
        if (!fs::exists(root / dir)) continue;
        for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
            if (!e.is_regular_file()) continue;
            const auto rel = fs::relative(e.path(), root).generic_string();
            // fabric/tcp is allowed, and so are its tests (tests/fabric/tcp), which drive
            // TcpStream over real loopback sockets, and the hostile initiators
            // (tests/hostile), real peers on real sockets; this file names the patterns
            // it looks for.
            if (rel.rfind("fabric/tcp/", 0) == 0 || rel.rfind("tests/fabric/tcp/", 0) == 0 ||
                rel.rfind("tests/hostile/", 0) == 0 || rel.rfind("tests/seams/", 0) == 0)
                continue;
            auto ext = e.path().extension();
            if (ext != ".cpp" && ext != ".hpp" && ext != ".h") continue;
            ++files;
            std::ifstream in(e.path());
            std::string line;
            int n = 0;
            while (std::getline(in, line)) {
                ++n;
                std::smatch m;
                if (std::regex_search(line, m, forbidden)) BOOST_ERROR(rel << ":" << n << " includes " << m.str());
                if (std::regex_search(line, m, clocks)) BOOST_ERROR(rel << ":" << n << " uses " << m.str());
            }
        }
    }
    BOOST_TEST(files > 40);
}

BOOST_AUTO_TEST_SUITE_END()
