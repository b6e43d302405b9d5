#define BOOST_TEST_MODULE seams
#include <boost/test/unit_test.hpp>

#include <filesystem>
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
            // fabric/tcp is allowed; this file names the patterns it looks for.
            if (rel.rfind("fabric/tcp/", 0) == 0 || rel.rfind("tests/seams/", 0) == 0) continue;
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
