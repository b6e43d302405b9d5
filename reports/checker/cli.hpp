// `iscsilab check FILE.pcap`: the wire checker over a capture. Exit 0 clean, 1
// violations found, 2 unusable input.
#pragma once

#include <cstdint>
#include <string>

namespace iscsilab::checker {

struct CheckArgs {
    std::string file;
    std::uint16_t port = 3260;
    std::string annotate;       // write a copy with violation records here
    bool pdus = false;          // print every decoded PDU (tab-separated)
    bool rules = false;         // print the tally of every rule
    bool strict = false;        // initiator deviations fail too
};

inline constexpr int EXIT_CLEAN = 0, EXIT_VIOLATIONS = 1, EXIT_UNUSABLE = 2;

int check_command(const CheckArgs& a);

}  // namespace iscsilab::checker
