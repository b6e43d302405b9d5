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

BOOST_AUTO_TEST_SUITE_END()
