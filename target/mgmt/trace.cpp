#include "target/mgmt/trace.hpp"

#include <cstdio>
#include <sstream>

namespace iscsilab::mgmt {

namespace {

// SCST's bit values (scst_debug.h, scst_priv.h, iscsi_dbg.h, scst_vdisk.c).
constexpr std::uint32_t kOutOfMem = 0x00000100, kMgmt = 0x00000400, kPid = 0x00000008, kSpecial = 0x00002000;
constexpr std::uint32_t kFunction = 0x00000002, kLine = 0x00000004;
constexpr std::uint32_t kConn = 0x40000000;   // iSCSI-SCST's TRACE_CONN_OC
constexpr std::uint32_t kLogin = 0x02000000;  // iscsilab's, in iSCSI-SCST's free local space
// SCST's default in a tracing build: SCST_DEFAULT_LOG_FLAGS, ISCSI_DEFAULT_LOG_FLAGS,
// SCST_DEFAULT_DEV_LOG_FLAGS. The iSCSI driver also logs connections and logins by
// default (what its debug build does for conn), which is what an operator watches.
constexpr std::uint32_t kDefault = kOutOfMem | kMgmt | kPid | kSpecial;

bool is_vdisk(std::string_view c) { return c.rfind("vdisk_", 0) == 0 || c == "vcdrom"; }

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// strtoul with base 0: DEC, 0xHEX or 0OCT, all of it, within 32 bits.
bool parse_value(const std::string& s, std::uint32_t& out) {
    if (s.empty()) return false;
    int base = 10;
    std::size_t i = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, i = 2;
    else if (s.size() > 1 && s[0] == '0') base = 8, i = 1;
    std::uint64_t v = 0;
    for (; i < s.size(); ++i) {
        int d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0'
                : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
                                             : 99;
        if (d >= base) return false;
        v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
        if (v > 0xffffffffu) return false;
    }
    out = static_cast<std::uint32_t>(v);
    return true;
}

}  // namespace

const std::vector<TraceLevels::Token>& TraceLevels::common_tokens() {
    static const std::vector<Token> t = {
        {"out_of_mem", 0x00000100}, {"minor", 0x00000200},     {"sg", 0x00000080},      {"mem", 0x00000040},
        {"buff", 0x00000020},       {"entryexit", 0x00000010}, {"pid", kPid},           {"line", kLine},
        {"function", kFunction},    {"debug", 0x00000001},     {"special", kSpecial},   {"scsi", 0x00001000},
        {"mgmt", kMgmt},            {"mgmt_dbg", 0x00000800},  {"flow_control", 0x00004000}, {"pr", 0x00008000},
    };
    return t;
}

const std::vector<TraceLevels::Token>& TraceLevels::local_tokens(std::string_view component) {
    static const std::vector<Token> core = {{"retry", 0x80000000},         {"scsi_serializing", 0x40000000},
                                            {"data_send", 0x20000000},     {"data_received", 0x01000000},
                                            {"block", 0x00010000}};
    static const std::vector<Token> iscsi = {{"d_write", 0x80000000}, {"conn", kConn},         {"conn_dbg", 0x04000000},
                                             {"iov", 0x20000000},     {"pdu", 0x10000000},     {"net_page", 0x08000000},
                                             {"login", kLogin}};
    static const std::vector<Token> vdisk = {{"order", 0x80000000}};
    static const std::vector<Token> none;
    if (component == "scst") return core;
    if (component == "iscsi") return iscsi;
    if (is_vdisk(component)) return vdisk;
    return none;
}

std::uint32_t TraceLevels::default_mask(std::string_view component) {
    return component == "iscsi" ? kDefault | kConn | kLogin : kDefault;
}

std::uint32_t TraceLevels::mask(std::string_view component) const {
    std::lock_guard lock(mu_);
    auto it = masks_.find(component);
    return it == masks_.end() ? default_mask(component) : it->second;
}

namespace {
std::uint32_t bit_of(std::string_view component, std::string_view token) {
    const std::string t = lower(token);
    for (const auto& x : TraceLevels::local_tokens(component))
        if (x.name == t) return x.bit;
    for (const auto& x : TraceLevels::common_tokens())
        if (x.name == t) return x.bit;
    return 0;
}
}  // namespace

bool TraceLevels::has(std::string_view component, std::string_view token) const {
    const std::uint32_t bit = bit_of(component, token);
    return bit != 0 && (mask(component) & bit) != 0;
}

bool TraceLevels::shows(const LogLine& line) const {
    if (line.level == LogLevel::error || line.level == LogLevel::warning || line.kind == Trace::none) return true;
    return has(line.component, token(line.kind));
}

LogLine TraceLevels::decorate(LogLine line) const {
    const std::uint32_t m = mask(line.component);
    line.with_pid = (m & kPid) != 0;
    line.with_function = (m & kFunction) != 0;
    line.with_line = (m & kLine) != 0;
    return line;
}

std::string TraceLevels::show(std::string_view component) const {
    const std::uint32_t m = mask(component);
    std::string on, all;
    for (const auto* table : {&common_tokens(), &local_tokens(component)})
        for (const auto& t : *table) {
            if (m & t.bit) on += (on.empty() ? "" : " | ") + std::string(t.name);
            all += (all.empty() ? "" : ", ") + std::string(t.name);
        }
    return on + "\n\n\nUsage:\n"
                "\techo \"all|none|default\" >trace_level\n"
                "\techo \"value DEC|0xHEX|0OCT\" >trace_level\n"
                "\techo \"add|del|set TOKEN\" >trace_level\n"
                "\nwhere TOKEN is one of [" + all + "]\n";
}

std::string TraceLevels::write(std::string_view component, std::string_view command, std::string* changed) {
    std::istringstream in{std::string(command)};
    std::string action, arg;
    in >> action >> arg;
    action = lower(action);
    std::uint32_t level = 0;
    if (action == "all") {
        level = 0xffffffffu;
    } else if (action == "none" || action == "null") {
        level = 0;
    } else if (action == "default") {
        level = default_mask(component);
    } else if (action == "add" || action == "del" || action == "set") {
        level = bit_of(component, arg);
        if (level == 0)
            return "trace_level: unknown token '" + arg + "'; see `cat trace_level` for the tokens of " +
                   std::string(component);
    } else if (action == "value") {
        if (!parse_value(arg, level)) return "trace_level: value wants DEC, 0xHEX or 0OCT, got '" + arg + "'";
    } else {
        return "trace_level: expected all, none, default, value N, or add|del|set TOKEN";
    }
    std::lock_guard lock(mu_);
    auto it = masks_.try_emplace(std::string(component), default_mask(component)).first;
    const std::uint32_t old = it->second;
    if (action == "add") it->second |= level;
    else if (action == "del") it->second &= ~level;
    else it->second = level;
    if (changed) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "old 0x%08x, new 0x%08x", old, it->second);
        *changed = "changed trace level for \"" + std::string(component) + "\": " + buf;
    }
    return {};
}

}  // namespace iscsilab::mgmt
