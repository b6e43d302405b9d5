// The one-line form in which a worker process hands a run's outcome to its parent
// (`iscsilab run --jobs`, `iscsilab swarm`): tab-separated fields, and the wire checker's
// tally as "id=exercised/violated;...".
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "reports/report/results.hpp"
#include "scenarios/engine/scenario.hpp"

namespace iscsilab::hil {

// A field that holds no tab, newline or unit separator (what the lines split on).
inline std::string one_field(std::string s) {
    for (char& c : s)
        if (c == '\t' || c == '\n' || c == '\x1f') c = ' ';
    return s;
}

inline std::vector<std::string> split_fields(const std::string& line, char sep) {
    std::vector<std::string> f;
    std::size_t at = 0;
    for (;;) {
        const auto next = line.find(sep, at);
        f.push_back(line.substr(at, next == std::string::npos ? std::string::npos : next - at));
        if (next == std::string::npos) return f;
        at = next + 1;
    }
}

inline std::string tally_text(const std::vector<scenario::RunResult::WireTally>& tally) {
    std::string s;
    for (const auto& t : tally)
        s += (s.empty() ? "" : ";") + t.id + "=" + std::to_string(t.exercised) + "/" + std::to_string(t.violated);
    return s;
}

// Adds "id=exercised/violated;..." into `into`.
inline void add_tally(const std::string& text, report::WireTally& into) {
    if (text.empty()) return;
    for (const auto& item : split_fields(text, ';')) {
        const auto eq = item.find('='), slash = item.find('/');
        if (eq == std::string::npos || slash == std::string::npos || slash < eq) continue;
        auto& t = into[item.substr(0, eq)];
        t.exercised += std::stoull(item.substr(eq + 1, slash - eq - 1));
        t.violated += std::stoull(item.substr(slash + 1));
    }
}

}  // namespace iscsilab::hil
