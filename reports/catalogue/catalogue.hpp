// The requirement catalogue (reports/catalogue/*.yaml, schema in README.md beside
// this file), loaded for the tests that hold it together and for the report.
#pragma once

#include <string>
#include <vector>

namespace iscsilab::catalogue {

struct Observer {
    std::string kind;    // wire | scenario | unit | peer | planned | none
    std::string value;   // the scenario path, suite/case, peer test, or the reason
};

struct Requirement {
    std::string id, section, level, binds, text;
    std::vector<Observer> observed_by;
    std::string rfc7143;        // same | changed | dropped
    std::string rfc7143_note;
    std::string file;           // where it was read
    bool must_level() const {
        return level == "MUST" || level == "MUST NOT" || level == "SHALL" || level == "SHALL NOT" || level == "REQUIRED";
    }
};

struct Catalogue {
    std::vector<Requirement> requirements;
    std::vector<std::string> errors;   // "file: id: what is wrong"; empty when well formed
    const Requirement* find(const std::string& id) const;
};

// Reads every *.yaml in `dir`, checking the schema as it goes.
Catalogue load(const std::string& dir);

}  // namespace iscsilab::catalogue
