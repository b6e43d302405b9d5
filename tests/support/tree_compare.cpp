// Compares two trees drawn like tree(1): the iscsi-scst README's (two columns a level)
// and `iscsilab adm ls -R` (four columns a level). Prints what only one side has.
// Usage: tree_compare EXPECTED ACTUAL [--exclude PATTERN]... [--normalize-ip]
// A PATTERN is a path prefix whose segments may be '*'.
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

std::vector<std::string> split(const std::string& p) {
    std::vector<std::string> v;
    std::size_t s = 0;
    while (s <= p.size()) {
        auto e = p.find('/', s);
        if (e == std::string::npos) e = p.size();
        if (e > s) v.push_back(p.substr(s, e - s));
        s = e + 1;
    }
    return v;
}

bool excluded(const std::string& path, const std::vector<std::vector<std::string>>& patterns) {
    auto segs = split(path);
    for (const auto& pat : patterns) {
        if (segs.size() < pat.size()) continue;
        bool match = true;
        for (std::size_t i = 0; i < pat.size() && match; ++i) match = pat[i] == "*" || pat[i] == segs[i];
        if (match) return true;
    }
    return false;
}

std::set<std::string> read_tree(const std::string& file, bool normalize_ip) {
    std::ifstream in(file);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    // Which drawing: ours indents by "|   " or "    ", the README's by "| ".
    int unit = 2;
    for (const auto& l : lines)
        if (l.rfind("|   ", 0) == 0 || l.rfind("    ", 0) == 0) unit = 4;
    std::set<std::string> out;
    struct Node {
        std::string name;
        bool last;
    };
    std::vector<Node> stack;  // the current line's ancestors and itself
    static const std::regex ip(R"(^\d+\.\d+\.\d+\.\d+$|^[0-9a-fA-F:]+:[0-9a-fA-F:]*$)");
    for (const auto& l : lines) {
        auto pos = l.find("|-- ");
        auto pos2 = l.find("`-- ");
        if (pos2 != std::string::npos && (pos == std::string::npos || pos2 < pos)) pos = pos2;
        if (pos == std::string::npos) continue;
        const bool last = l.compare(pos, 4, "`-- ") == 0;
        std::size_t depth;
        if (unit == 4) {
            depth = pos / 4;
        } else {
            // The README's drawing lost the blank columns under last children: a "| "
            // stands only for an ancestor that is not a last child. Take the deepest
            // level whose not-last ancestors number as many as the bars.
            const std::size_t bars = pos / 2;
            depth = 0;
            std::size_t count = 0;
            for (std::size_t d = 0; d <= stack.size(); ++d) {
                if (d > 0) count += stack[d - 1].last ? 0 : 1;
                if (count == bars) depth = d;
                if (count > bars) break;
            }
        }
        std::string name = l.substr(pos + 4), link;
        if (auto arrow = name.find(" -> "); arrow != std::string::npos) {
            link = name.substr(arrow + 4);
            name = name.substr(0, arrow);
        }
        if (normalize_ip && std::regex_match(name, ip)) name = "<ip>";
        stack.resize(depth);
        stack.push_back(Node{name, last});
        std::string path;
        for (const auto& n : stack) path += (path.empty() ? "" : "/") + n.name;
        out.insert(link.empty() ? path : path + " -> " + link);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: tree_compare EXPECTED ACTUAL [--exclude PATTERN]... [--normalize-ip]\n";
        return 2;
    }
    std::vector<std::vector<std::string>> patterns;
    bool normalize = false;
    for (int i = 3; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--exclude" && i + 1 < argc) patterns.push_back(split(argv[++i]));
        else if (a == "--normalize-ip") normalize = true;
    }
    auto want = read_tree(argv[1], normalize);
    auto got = read_tree(argv[2], normalize);
    int missing = 0, extra = 0, same = 0;
    for (const auto& w : want) {
        if (excluded(w, patterns)) continue;
        if (got.count(w)) ++same;
        else {
            std::cout << "- only expected: " << w << "\n";
            ++missing;
        }
    }
    for (const auto& g : got)
        if (!excluded(g, patterns) && !want.count(g)) {
            std::cout << "+ only actual:   " << g << "\n";
            ++extra;
        }
    std::cout << "tree_compare: " << same << " entries alike, " << missing << " missing, " << extra << " extra\n";
    return missing == 0 && extra == 0 && same > 0 ? 0 : 1;
}
