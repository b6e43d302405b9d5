#include "target/mgmt/scst_conf.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

namespace iscsilab::mgmt {
namespace {

// Which keyword may open a block inside which, and how many names it takes.
struct KeywordRule {
    const char* keyword;
    const char* parent;  // "" for top level
    int args;
};
constexpr KeywordRule kRules[] = {
    {"HANDLER", "", 1},        {"DEVICE", "HANDLER", 1},      {"TARGET_DRIVER", "", 1},
    {"TARGET", "TARGET_DRIVER", 1}, {"LUN", "TARGET", 2},     {"GROUP", "TARGET", 1},
    {"LUN", "GROUP", 2},       {"INITIATOR", "GROUP", 1},
    // ALUA (SCST's device_groups): devices and target groups of one device group.
    {"DEVICE_GROUP", "", 1},   {"DEVICE", "DEVICE_GROUP", 1}, {"TARGET_GROUP", "DEVICE_GROUP", 1},
    {"TARGET", "TARGET_GROUP", 1},
};

bool is_keyword(const std::string& w) {
    for (const auto& r : kRules)
        if (w == r.keyword) return true;
    return false;
}

const KeywordRule* rule_for(const std::string& kw, const std::string& parent) {
    for (const auto& r : kRules)
        if (kw == r.keyword && parent == r.parent) return &r;
    return nullptr;
}

std::string allowed_here(const std::string& parent) {
    std::string s;
    for (const auto& r : kRules)
        if (parent == r.parent) s += std::string(s.empty() ? "" : ", ") + r.keyword;
    return s;
}

// A word of a line. A quoted word is a value whatever it spells: never a brace or a
// keyword, so that whatever the writer quotes reads back as it was.
struct Word {
    std::string text;
    bool quoted = false;
    bool is(const char* s) const { return !quoted && text == s; }
};

// Splits a line into words: double quotes group, '#' outside quotes ends the line.
bool tokenize(const std::string& line, std::vector<Word>& out, std::string& err) {
    std::size_t i = 0;
    while (i < line.size()) {
        char c = line[i];
        if (std::isspace(static_cast<unsigned char>(c))) {
            ++i;
            continue;
        }
        if (c == '#') break;
        if (c == '"') {
            auto end = line.find('"', i + 1);
            if (end == std::string::npos) {
                err = "unterminated quoted value";
                return false;
            }
            out.push_back({line.substr(i + 1, end - i - 1), true});
            i = end + 1;
            continue;
        }
        if (c == '{' || c == '}') {
            out.push_back({std::string(1, c), false});
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j])) && line[j] != '{' &&
               line[j] != '}' && line[j] != '#' && line[j] != '"')
            ++j;
        out.push_back({line.substr(i, j - i), false});
        i = j;
    }
    return true;
}

}  // namespace

ConfParse parse_scst_conf(const std::string& text, const std::string& file) {
    ConfParse out;
    std::vector<ConfBlock*> stack;  // open blocks
    std::istringstream in(text);
    std::string line;
    int n = 0;
    auto error = [&](std::string msg) {
        out.error = ConfError{file, n, std::move(msg)};
        return out;
    };
    while (std::getline(in, line)) {
        ++n;
        std::vector<Word> w;
        std::string terr;
        if (!tokenize(line, w, terr)) return error(terr);
        while (!w.empty()) {
            if (w[0].is("}")) {
                if (stack.empty()) return error("'}' without an open block");
                stack.pop_back();
                w.erase(w.begin());
                continue;
            }
            const std::string parent = stack.empty() ? "" : stack.back()->keyword;
            if (!w[0].quoted && is_keyword(w[0].text)) {
                const KeywordRule* r = rule_for(w[0].text, parent);
                if (!r)
                    return error(w[0].text + " is not allowed " +
                                 (parent.empty() ? std::string("at top level") : "inside " + parent) +
                                 "; expected " + (allowed_here(parent).empty() ? "an attribute" : allowed_here(parent) + " or an attribute"));
                ConfBlock b;
                b.keyword = w[0].text;
                b.line = n;
                std::size_t k = 1;
                for (; k < w.size() && !w[k].is("{") && !w[k].is("}"); ++k) b.args.push_back(w[k].text);
                if (static_cast<int>(b.args.size()) != r->args)
                    return error(w[0].text + " expects " + std::to_string(r->args) + (r->args == 1 ? " name" : " values (number and device)") +
                                 ", got " + std::to_string(b.args.size()));
                const bool opens = k < w.size() && w[k].is("{");
                std::vector<ConfBlock>& siblings = stack.empty() ? out.blocks : stack.back()->children;
                siblings.push_back(std::move(b));
                if (opens) {
                    stack.push_back(&siblings.back());
                    ++k;
                }
                w.erase(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(k));
                continue;
            }
            if (w[0].is("{")) return error("'{' without a keyword before it");
            if (stack.empty()) return error("attribute '" + w[0].text + "' outside any block; expected " + allowed_here(""));
            // An attribute: name, then the value (the rest of the line).
            ConfAttr a{w[0].text, "", n};
            std::size_t k = 1;
            for (; k < w.size() && !w[k].is("}") && !w[k].is("{"); ++k) a.value += (k > 1 ? " " : "") + w[k].text;
            if (k < w.size() && w[k].is("{")) return error("attribute '" + w[0].text + "' cannot open a block");
            if (k == 1) return error("attribute '" + w[0].text + "' has no value");
            stack.back()->attrs.push_back(std::move(a));
            w.erase(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(k));
        }
    }
    if (!stack.empty()) {
        n = stack.back()->line;
        return error(stack.back()->keyword + " block opened here is never closed with '}'");
    }
    return out;
}

namespace {
// Quoted where the tokenizer would not read the word back as it is: empty, with a blank
// (any isspace, as the tokenizer splits on), '#', a brace, or spelling a keyword. A value
// cannot hold '"' (nothing in the format escapes it): the management tree refuses one.
std::string quoted(const std::string& v) {
    const bool plain = !v.empty() && !is_keyword(v) && std::none_of(v.begin(), v.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || c == '#' || c == '{' || c == '}';
    });
    return plain ? v : "\"" + v + "\"";
}
void write_block(std::ostringstream& os, const ConfBlock& b, int depth) {
    std::string ind(static_cast<std::size_t>(depth) * 4, ' ');
    os << ind << b.keyword;
    for (const auto& a : b.args) os << ' ' << quoted(a);
    if (b.attrs.empty() && b.children.empty()) {
        os << '\n';
        return;
    }
    os << " {\n";
    for (const auto& a : b.attrs) os << ind << "    " << quoted(a.name) << ' ' << quoted(a.value) << '\n';
    for (const auto& c : b.children) write_block(os, c, depth + 1);
    os << ind << "}\n";
}
}  // namespace

std::string write_scst_conf(const std::vector<ConfBlock>& blocks) {
    std::ostringstream os;
    for (const auto& b : blocks) {
        write_block(os, b, 0);
        os << '\n';
    }
    return os.str();
}

}  // namespace iscsilab::mgmt
