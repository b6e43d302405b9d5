// scstadmin's scst.conf format (../shared/reference/scst-conf-format.md): a pure parser
// into a tree of blocks, and the writer back. Errors carry file:line and what was
// expected.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace iscsilab::mgmt {

struct ConfAttr {
    std::string name, value;
    int line = 0;
};

struct ConfBlock {
    std::string keyword;               // HANDLER, DEVICE, TARGET_DRIVER, TARGET, LUN, GROUP, INITIATOR
    std::vector<std::string> args;     // "disk1"; for LUN: "0", "disk1"
    int line = 0;
    std::vector<ConfAttr> attrs;
    std::vector<ConfBlock> children;
};

struct ConfError {
    std::string file;
    int line = 0;
    std::string message;
    std::string text() const { return file + ":" + std::to_string(line) + ": " + message; }
};

struct ConfParse {
    std::vector<ConfBlock> blocks;     // top level
    std::optional<ConfError> error;
};

ConfParse parse_scst_conf(const std::string& text, const std::string& file);

// Writes blocks back in the same format (values with spaces quoted).
std::string write_scst_conf(const std::vector<ConfBlock>& blocks);

}  // namespace iscsilab::mgmt
