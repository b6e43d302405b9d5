#include "hil/state_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace iscsilab::hil {

namespace {

bool write_all(int fd, const Bytes& b) {
    std::size_t off = 0;
    while (off < b.size()) {
        ssize_t n = ::write(fd, b.data() + off, b.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

DirStateStore::DirStateStore(std::string dir, IoPool& pool) : dir_(std::move(dir)), pool_(pool) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw std::runtime_error(dir_ + ": " + ec.message());
    if (::access(dir_.c_str(), W_OK) != 0) throw std::runtime_error(dir_ + ": " + std::strerror(errno));
}

std::string DirStateStore::path_of(const std::string& name) const {
    // Device names hold no '/' (add_device refuses them), so a name is one file.
    return dir_ + "/" + name;
}

Bytes DirStateStore::load(const std::string& name) {
    Bytes out;
    int fd = ::open(path_of(name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    std::byte buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.insert(out.end(), buf, buf + n);
        if (out.size() > (1u << 20)) {  // a record is a few KiB; more is not ours
            out.clear();
            break;
        }
    }
    ::close(fd);
    return out;
}

void DirStateStore::save(const std::string& name, Bytes bytes, std::function<void(bool)> done) {
    pool_.run([this, name, bytes = std::move(bytes), done = std::move(done)] {
        const std::string path = path_of(name);
        if (bytes.empty()) {
            bool ok = ::unlink(path.c_str()) == 0 || errno == ENOENT;
            return done(ok);
        }
        const std::string tmp = path + ".tmp";
        int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return done(false);
        bool ok = write_all(fd, bytes) && ::fsync(fd) == 0;
        ::close(fd);
        ok = ok && ::rename(tmp.c_str(), path.c_str()) == 0;
        if (ok) {
            // The rename itself must survive a power loss.
            int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                ok = ::fsync(dfd) == 0;
                ::close(dfd);
            }
        }
        done(ok);
    });
}

}  // namespace iscsilab::hil
