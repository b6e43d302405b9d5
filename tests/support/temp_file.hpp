// A sparse file in the working directory (the build directory under ctest: a real file
// system, with O_DIRECT, where /dev/shm would not do), removed at the end, and what it
// holds read or written behind the back of the store under test.
#pragma once

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace iscsilab::testing {

class TempFile {
public:
    TempFile(const std::string& stem, std::uint64_t bytes) {
        std::string tmpl = (std::filesystem::current_path() / (stem + "-XXXXXX")).string();
        int fd = ::mkstemp(tmpl.data());
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::ftruncate(fd, static_cast<off_t>(bytes)) == 0);
        ::close(fd);
        path = tmpl;
    }
    ~TempFile() { ::unlink(path.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    std::vector<std::byte> file_bytes(std::uint64_t at, std::size_t n) const {
        std::vector<std::byte> out(n);
        int fd = ::open(path.c_str(), O_RDONLY);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::pread(fd, out.data(), n, static_cast<off_t>(at)) == static_cast<ssize_t>(n));
        ::close(fd);
        return out;
    }
    // Written and fsync'd.
    void put_file_bytes(std::uint64_t at, std::span<const std::byte> b) const {
        int fd = ::open(path.c_str(), O_WRONLY);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::pwrite(fd, b.data(), b.size(), static_cast<off_t>(at)) == static_cast<ssize_t>(b.size()));
        BOOST_REQUIRE(::fsync(fd) == 0);
        ::close(fd);
    }

    std::string path;
};

}  // namespace iscsilab::testing
