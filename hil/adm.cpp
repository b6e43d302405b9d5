#include "hil/adm.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace iscsilab::hil {

namespace {

bool write_all(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
        ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<std::size_t>(n);
    }
    return true;
}

// Reads "<count>\n" and the framed arguments. Bounded, so a bad client cannot make the
// server buffer without end.
bool read_request(int fd, std::vector<std::string>& args) {
    std::string buf;
    char c;
    auto getc = [&](char& out) { return ::recv(fd, &out, 1, 0) == 1; };
    auto read_number = [&](char end, std::size_t& n) {
        std::string digits;
        while (getc(c) && c != end) {
            if (c < '0' || c > '9' || digits.size() > 9) return false;
            digits += c;
        }
        if (c != end || digits.empty()) return false;
        n = std::stoul(digits);
        return true;
    };
    std::size_t count = 0;
    if (!read_number('\n', count) || count > 64) return false;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) {
        std::size_t len = 0;
        if (!read_number(':', len)) return false;
        total += len;
        if (total > (16u << 20)) return false;
        std::string a(len, '\0');
        std::size_t got = 0;
        while (got < len) {
            ssize_t n = ::recv(fd, a.data() + got, len - got, 0);
            if (n <= 0) return false;
            got += static_cast<std::size_t>(n);
        }
        if (!getc(c) || c != '\n') return false;
        args.push_back(std::move(a));
    }
    return true;
}

std::string frame_request(const std::vector<std::string>& args) {
    std::string s = std::to_string(args.size()) + "\n";
    for (const auto& a : args) s += std::to_string(a.size()) + ":" + a + "\n";
    return s;
}

std::string join(const std::vector<std::string>& v, std::size_t from) {
    std::string s;
    for (std::size_t i = from; i < v.size(); ++i) s += (i > from ? " " : "") + v[i];
    return s;
}

}  // namespace

std::string default_socket_path() {
    const char* env = std::getenv("ISCSILAB_SOCKET");
    return env && *env ? env : "/tmp/iscsilab.sock";
}

AdmServer::AdmServer(const std::string& path, mgmt::MgmtTree& tree, mgmt::StoreFactory& stores)
    : path_(path), tree_(tree), stores_(stores) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("mgmt socket path too long: " + path);
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ::unlink(path.c_str());
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0) {
        std::string err = std::strerror(errno);
        if (fd_ >= 0) ::close(fd_);
        throw std::runtime_error("mgmt socket " + path + ": " + err);
    }
    ::chmod(path.c_str(), 0600);  // the tree can change everything: owner only
    if (::pipe(stop_pipe_) != 0) throw std::runtime_error("pipe");
    thread_ = std::thread([this] { run(); });
}

AdmServer::~AdmServer() {
    [[maybe_unused]] auto n = ::write(stop_pipe_[1], "x", 1);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
    ::unlink(path_.c_str());
}

void AdmServer::run() {
    for (;;) {
        pollfd p[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (p[1].revents) return;
        int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        timeval tv{5, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        std::vector<std::string> args;
        if (read_request(c, args)) {
            bool ok = true;
            std::string out = handle(args, ok);
            write_all(c, std::string(ok ? "ok\n" : "error\n") + out);
        } else {
            write_all(c, "error\nmalformed request\n");
        }
        ::close(c);
    }
}

std::string AdmServer::handle(const std::vector<std::string>& a, bool& ok) {
    auto error = [&](std::string e) {
        ok = false;
        return e + "\n";
    };
    if (a.empty()) return error("no command");
    const std::string& verb = a[0];
    if (verb == "ls") {
        bool recursive = a.size() > 1 && a[1] == "-R";
        std::string path = a.size() > (recursive ? 2u : 1u) ? a[recursive ? 2 : 1] : "";
        if (recursive) {
            auto r = tree_.tree(path);
            return r.ok() ? r.value : error(r.error);
        }
        auto r = tree_.ls(path);
        if (!r.ok()) return error(r.error);
        std::string out;
        for (const auto& e : r.value) {
            out += e.name;
            if (e.kind == mgmt::Entry::Kind::Dir) out += "/";
            if (e.kind == mgmt::Entry::Kind::Link) out += " -> " + e.link;
            out += "\n";
        }
        return out;
    }
    if (verb == "cat" && a.size() == 2) {
        auto r = tree_.cat(a[1]);
        return r.ok() ? r.value : error(r.error);
    }
    if ((verb == "set" || verb == "mgmt") && a.size() >= 3) {
        std::string e = tree_.write(a[1], join(a, 2));
        return e.empty() ? std::string() : error(e);
    }
    if (verb == "save" && a.size() == 1) return tree_.save();
    if (verb == "load" && a.size() == 3) {
        std::string e = tree_.load(a[2], a[1], stores_);
        return e.empty() ? std::string() : error(e);
    }
    return error("usage: ls [-R] [PATH] | cat PATH | set PATH VALUE | mgmt PATH COMMAND... | save FILE | load FILE");
}

int adm_main(const std::string& socket_path, const std::vector<std::string>& in) {
    if (in.empty()) {
        std::cerr << "usage: iscsilab adm [--socket PATH] ls [-R] [PATH] | cat PATH | set PATH VALUE |"
                     " mgmt PATH COMMAND... | save FILE | load FILE\n";
        return 2;
    }
    std::vector<std::string> args = in;
    std::string save_to;
    if (args[0] == "save") {
        if (args.size() != 2) {
            std::cerr << "usage: iscsilab adm save FILE\n";
            return 2;
        }
        save_to = args[1];
        args = {"save"};
    } else if (args[0] == "load") {
        if (args.size() != 2) {
            std::cerr << "usage: iscsilab adm load FILE\n";
            return 2;
        }
        std::ifstream f(args[1]);
        if (!f) {
            std::cerr << "iscsilab adm: cannot read " << args[1] << "\n";
            return 1;
        }
        std::stringstream ss;
        ss << f.rdbuf();
        args = {"load", args[1], ss.str()};
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof addr.sun_path) {
        std::cerr << "iscsilab adm: socket path too long\n";
        return 2;
    }
    std::strcpy(addr.sun_path, socket_path.c_str());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        std::cerr << "iscsilab adm: cannot reach " << socket_path << ": " << std::strerror(errno)
                  << " (is `iscsilab serve` running? --socket or ISCSILAB_SOCKET chooses the path)\n";
        if (fd >= 0) ::close(fd);
        return 1;
    }
    write_all(fd, frame_request(args));
    std::string reply;
    char buf[65536];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    auto nl = reply.find('\n');
    if (nl == std::string::npos) {
        std::cerr << "iscsilab adm: no answer from the server\n";
        return 1;
    }
    const bool ok = reply.substr(0, nl) == "ok";
    std::string payload = reply.substr(nl + 1);
    if (!ok) {
        std::cerr << "iscsilab adm: " << payload;
        return 1;
    }
    if (!save_to.empty()) {
        std::ofstream f(save_to);
        f << payload;
        if (!f) {
            std::cerr << "iscsilab adm: cannot write " << save_to << "\n";
            return 1;
        }
        return 0;
    }
    std::cout << payload;
    return 0;
}

}  // namespace iscsilab::hil
