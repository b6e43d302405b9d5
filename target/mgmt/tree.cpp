// The management tree's frame: path resolution from the root, trace levels, and the
// verbs (ls, cat, write, tree). The rooms of the tree live in tree_*.cpp.
#include "target/mgmt/tree.hpp"

#include <algorithm>

#include "target/buffer_pool.hpp"
#include "target/mgmt/tree_detail.hpp"

namespace iscsilab::mgmt {

using namespace detail;

std::vector<std::string> MgmtTree::split(const std::string& path) {
    std::string p = path;
    const std::string sys = "/sys/kernel/scst_tgt";
    if (p.rfind(sys, 0) == 0) p = p.substr(sys.size());
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= p.size()) {
        auto slash = p.find('/', start);
        if (slash == std::string::npos) slash = p.size();
        std::string part = p.substr(start, slash - start);
        if (!part.empty() && part != ".") parts.push_back(part);
        start = slash + 1;
    }
    return parts;
}

// ---- trace levels ---------------------------------------------------------------------

MgmtTree::~MgmtTree() {
    if (routes_driver_) scst_.driver().set_log({});
}

bool MgmtTree::tracing(const std::string& component, const std::string& token) const {
    return trace_.has(component, token);
}

void MgmtTree::route_logs(LogSink sink) {
    log_ = std::move(sink);
    routes_driver_ = true;
    scst_.driver().set_log([this](const LogLine& line) { emit(line); });
}

void MgmtTree::emit(const LogLine& line) const {
    if (log_ && trace_.shows(line)) log_(trace_.decorate(line));
}

void MgmtTree::log(const std::string& component, const std::string& what, Trace kind, LogLevel level,
                   SourceLocation where) {
    emit(LogLine{level, kind, component, what, where});
}

MgmtTree::Node MgmtTree::trace_node(const std::string& component) {
    return Node::attr([this, component] { return trace_.show(component); },
                      [this, component](const std::string& v) -> std::string {
                          std::string changed;
                          std::string e = trace_.write(component, v, &changed);
                          // SCST says so with PRINT_INFO: shown whatever the level.
                          if (e.empty()) log(component, changed, Trace::none);
                          return e;
                      });
}

// ---- sgv: the data buffer pool -----------------------------------------------------------

// SCST keeps command data buffers in its sgv cache and shows it under sgv/; ours is the
// buffer pool (target/buffer_pool.hpp), shown in the same place: global_stats for the
// whole pool, sgv/stats per size class (SCST's "Size", "Hit", "Total").
MgmtTree::Node MgmtTree::sgv_node(const std::vector<std::string>& p, std::string& err) {
    if (p.size() == 1) return Node::dir([] { return std::vector<Entry>{A("global_stats"), D("sgv")}; });
    if (p.size() == 2 && p[1] == "global_stats")
        return Node::attr([] {
            const BufferPool::Stats s = BufferPool::instance().stats();
            return "in_use_bytes " + std::to_string(s.in_use_bytes) + "\npeak_in_use_bytes " +
                   std::to_string(s.peak_in_use_bytes) + "\nidle_bytes " + std::to_string(s.idle_bytes) +
                   "\nmax_idle_bytes " + std::to_string(s.max_idle_bytes) + "\nrequests " + std::to_string(s.gets) +
                   "\nhits " + std::to_string(s.hits) + "\nreserved_bytes " + std::to_string(s.reserved_bytes) +
                   "\nmax_cmd_mem_bytes " +
                   (s.max_reserved_bytes == SIZE_MAX ? std::string("unbounded") : std::to_string(s.max_reserved_bytes)) +
                   "\nrefused " + std::to_string(s.refused) + "\n";
        });
    if (p.size() == 2 && p[1] == "sgv") return Node::dir([] { return std::vector<Entry>{A("stats")}; });
    if (p.size() == 3 && p[1] == "sgv" && p[2] == "stats")
        return Node::attr([] {
            const BufferPool::Stats s = BufferPool::instance().stats();
            std::string out = "Size Hit Total\n";
            for (unsigned c = 0; c <= BufferPool::kClasses; ++c) {
                if (s.class_gets[c] == 0) continue;
                out += (c < BufferPool::kClasses ? std::to_string(BufferPool::class_bytes(c)) : std::string(">") +
                                                                                               std::to_string(BufferPool::kMaxPooled)) +
                       " " + std::to_string(s.class_hits[c]) + " " + std::to_string(s.class_gets[c]) + "\n";
            }
            return out;
        });
    err = "no such path";
    return {};
}

// ---- resolution -------------------------------------------------------------------------

MgmtTree::Node MgmtTree::resolve(const std::vector<std::string>& p, std::string& err) {
    if (p.empty())
        return Node::dir([] {
            return std::vector<Entry>{D("device_groups"), D("devices"), D("handlers"), D("sgv"), D("targets"),
                                      A("threads"), A("trace_level"), A("version")};
        });
    const std::string& top = p[0];
    if (top == "devices") return device_node(p, 1, err);
    if (top == "device_groups") return device_groups_node(p, 1, err);
    if (top == "handlers") return handler_node(p, 1, err);
    if (top == "sgv") return sgv_node(p, err);
    if (top == "targets") {
        if (p.size() == 1) return Node::dir([] { return std::vector<Entry>{D("iscsi")}; });
        if (p[1] == "iscsi") return iscsi_node(p, 2, err);
    }
    if (p.size() == 1 && top == "threads") {
        unsigned n = threads_;
        return Node::attr([n] { return std::to_string(n) + "\n"; });
    }
    if (p.size() == 1 && top == "version") return Node::attr([] { return std::string(kVersion) + "\n"; });
    if (p.size() == 1 && top == "trace_level") return trace_node("scst");
    err = "no such path";
    return {};
}

// ---- the public verbs ---------------------------------------------------------------

Result<std::vector<Entry>> MgmtTree::ls(const std::string& path) {
    Result<std::vector<Entry>> r;
    auto parts = split(path);
    Node n = resolve(parts, r.error);
    if (!n.valid) {
        r.error = path + ": " + r.error;
        return r;
    }
    if (n.kind != Entry::Kind::Dir) {
        r.value.push_back(Entry{parts.empty() ? "." : parts.back(), n.kind, n.link});
        return r;
    }
    r.value = n.list();
    std::sort(r.value.begin(), r.value.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return r;
}

Result<std::string> MgmtTree::cat(const std::string& path) {
    Result<std::string> r;
    Node n = resolve(split(path), r.error);
    if (!n.valid) r.error = path + ": " + r.error;
    else if (n.kind == Entry::Kind::Dir) r.error = path + ": is a directory";
    else if (n.kind == Entry::Kind::Link) r.value = n.link + "\n";
    else r.value = n.read();
    return r;
}

std::string MgmtTree::write(const std::string& path, const std::string& written) {
    // One trailing line break is echo's (and what cat gives back): not part of the value.
    const std::string value = !written.empty() && written.back() == '\n' ? written.substr(0, written.size() - 1) : written;
    // What the tree holds, save() writes as scst.conf, whose values cannot hold a '"' (no
    // escape) or a line break: a value with one would make a file that does not load.
    if (value.find_first_of("\"\n") != std::string::npos)
        return path + ": a value cannot hold '\"' or a line break (scst.conf could not save it)";
    std::string err;
    Node n = resolve(split(path), err);
    if (!n.valid) return path + ": " + err;
    if (n.kind != Entry::Kind::Attr || !n.write) return path + ": not writable";
    err = n.write(value);
    return err.empty() ? std::string() : path + ": " + err;
}

void MgmtTree::draw(const std::vector<std::string>& parts, const std::string& prefix, std::string& out, int depth) {
    if (depth > 16) return;
    auto r = ls([&] {
        std::string p;
        for (const auto& x : parts) p += "/" + x;
        return p;
    }());
    if (!r.ok()) return;
    for (std::size_t k = 0; k < r.value.size(); ++k) {
        const Entry& e = r.value[k];
        const bool last = k + 1 == r.value.size();
        out += prefix + (last ? "`-- " : "|-- ") + e.name;
        if (e.kind == Entry::Kind::Link) out += " -> " + e.link;
        out += "\n";
        // A name that is not one path component (a '/' in an initiator's name, which the
        // initiator chooses) would lead back up the tree: listed, never walked into.
        if (e.kind == Entry::Kind::Dir && !e.name.empty() && e.name != "." && e.name.find('/') == std::string::npos) {
            auto sub = parts;
            sub.push_back(e.name);
            draw(sub, prefix + (last ? "    " : "|   "), out, depth + 1);
        }
    }
}

Result<std::string> MgmtTree::tree(const std::string& path) {
    Result<std::string> r;
    auto parts = split(path);
    std::string err;
    Node n = resolve(parts, err);
    if (!n.valid) {
        r.error = path + ": " + err;
        return r;
    }
    r.value = (parts.empty() ? std::string("/sys/kernel/scst_tgt") : path) + "\n";
    draw(parts, "", r.value, 0);
    return r;
}

}  // namespace iscsilab::mgmt
