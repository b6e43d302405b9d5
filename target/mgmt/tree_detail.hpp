// What the files of the management tree share: the node a path resolves to, entry
// constructors and the small text helpers of mgmt commands.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "target/mgmt/tree.hpp"

namespace iscsilab::mgmt {

namespace detail {

inline constexpr const char* kVersion = "iscsilab 0.1 (SCST 2.0 / iSCSI-SCST 2.0 management tree)";

inline std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> w;
    for (std::string x; in >> x;) w.push_back(x);
    return w;
}

// The text after the first n words (parameters keep their own spacing).
inline std::string rest_after(const std::string& s, std::size_t n) {
    std::size_t pos = 0;
    for (std::size_t i = 0; i < n; ++i) {
        pos = s.find_first_not_of(" \t", pos);
        if (pos == std::string::npos) return {};
        pos = s.find_first_of(" \t", pos);
        if (pos == std::string::npos) return {};
    }
    pos = s.find_first_not_of(" \t", pos);
    if (pos == std::string::npos) return {};
    auto end = s.find_last_not_of(" \t\n");
    return s.substr(pos, end - pos + 1);
}

inline std::string trim(const std::string& s) {
    auto b = s.find_first_not_of(" \t\n");
    if (b == std::string::npos) return {};
    auto e = s.find_last_not_of(" \t\n");
    return s.substr(b, e - b + 1);
}

inline std::string flag(bool b) { return b ? "1" : "0"; }

inline std::optional<bool> parse_flag(const std::string& v) {
    std::string t = trim(v);
    if (t == "1") return true;
    if (t == "0") return false;
    return std::nullopt;
}


inline Entry A(std::string n) { return Entry{std::move(n), Entry::Kind::Attr, {}}; }
inline Entry D(std::string n) { return Entry{std::move(n), Entry::Kind::Dir, {}}; }
inline Entry L(std::string n, std::string to) { return Entry{std::move(n), Entry::Kind::Link, std::move(to)}; }

}  // namespace detail

struct MgmtTree::Node {
    bool valid = false;
    Entry::Kind kind = Entry::Kind::Dir;
    std::function<std::vector<Entry>()> list;
    std::function<std::string()> read;
    std::function<std::string(const std::string&)> write;  // empty: read-only
    std::string link;

    static Node dir(std::function<std::vector<Entry>()> l) {
        Node n;
        n.valid = true;
        n.kind = Entry::Kind::Dir;
        n.list = std::move(l);
        return n;
    }
    static Node attr(std::function<std::string()> r, std::function<std::string(const std::string&)> w = {}) {
        Node n;
        n.valid = true;
        n.kind = Entry::Kind::Attr;
        n.read = std::move(r);
        n.write = std::move(w);
        return n;
    }
    static Node to(std::string target) {
        Node n;
        n.valid = true;
        n.kind = Entry::Kind::Link;
        n.link = std::move(target);
        return n;
    }
    static Node mgmt(const char* usage, std::function<std::string(const std::string&)> w) {
        return attr([usage] { return std::string(usage); }, std::move(w));
    }
};

}  // namespace iscsilab::mgmt
