// The trace_level attributes of the tree (scst_tgt/trace_level, targets/iscsi/trace_level,
// handlers/NAME/trace_level), as SCST keeps them: a mask of trace flags per component,
// named by tokens, with SCST's bit values so that "value 0x..." means what it means there.
//   echo "all|none|default" >trace_level
//   echo "value DEC|0xHEX|0OCT" >trace_level
//   echo "add|del|set TOKEN" >trace_level
// Reading lists the tokens that are on, then the usage. A log line (target/log.hpp) shows
// when it is an error or a warning, has no kind, or its kind's token is on; pid, function
// and line add those in front of the text.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "target/log.hpp"

namespace iscsilab::mgmt {

class TraceLevels {
public:
    struct Token {
        std::string_view name;
        std::uint32_t bit;
    };
    // SCST's tokens that every component has (scst_trace_tbl), and a component's own
    // (the core's, iSCSI-SCST's, vdisk's; iscsilab adds "login" to the iSCSI driver's).
    static const std::vector<Token>& common_tokens();
    static const std::vector<Token>& local_tokens(std::string_view component);
    static std::uint32_t default_mask(std::string_view component);

    std::uint32_t mask(std::string_view component) const;
    bool has(std::string_view component, std::string_view token) const;
    // Whether the line shows, and with which decorations.
    bool shows(const LogLine& line) const;
    LogLine decorate(LogLine line) const;

    // The attribute's text, and a write to it: an error text, empty on success. `changed`
    // gets SCST's "old 0x..., new 0x..." line.
    std::string show(std::string_view component) const;
    std::string write(std::string_view component, std::string_view command, std::string* changed = nullptr);

private:
    mutable std::mutex mu_;
    std::map<std::string, std::uint32_t, std::less<>> masks_;  // absent: the default
};

}  // namespace iscsilab::mgmt
