#include "target/log.hpp"

#include <chrono>
#include <cstdio>

namespace iscsilab {

std::string_view to_string(LogLevel level) {
    switch (level) {
        case LogLevel::error: return "error";
        case LogLevel::warning: return "warning";
        case LogLevel::info: return "info";
        case LogLevel::debug: return "debug";
    }
    return "?";
}

std::string_view token(Trace kind) {
    switch (kind) {
        case Trace::none: return "";
        case Trace::out_of_mem: return "out_of_mem";
        case Trace::minor: return "minor";
        case Trace::special: return "special";
        case Trace::scsi: return "scsi";
        case Trace::mgmt: return "mgmt";
        case Trace::mgmt_dbg: return "mgmt_dbg";
        case Trace::debug: return "debug";
        case Trace::pr: return "pr";
        case Trace::conn: return "conn";
        case Trace::conn_dbg: return "conn_dbg";
        case Trace::pdu: return "pdu";
        case Trace::login: return "login";
    }
    return "";
}

std::string iso8601_utc(Nanos since_epoch) {
    // Calendar arithmetic only: the time itself comes from the caller.
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(since_epoch);
    const auto day = floor<days>(ms);
    const year_month_day ymd{sys_days{day}};
    const hh_mm_ss hms{ms - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
    return buf;
}

std::string_view bare_function_name(std::string_view pretty) {
    // "void iscsilab::iscsi::Connection::send_login_reply(const ...&, ...)" -> the name.
    auto paren = pretty.find('(');
    std::string_view head = pretty.substr(0, paren);
    auto cut = head.find_last_of(": ");
    return cut == std::string_view::npos ? head : head.substr(cut + 1);
}

std::string format_line(std::string_view stamp, const LogLine& line, long pid) {
    std::string out;
    out.reserve(stamp.size() + line.text.size() + 48);
    out += stamp;
    if (!stamp.empty()) out += ' ';
    const std::string_view level = to_string(line.level);
    out += level;
    out.append(level.size() < 7 ? 7 - level.size() : 0, ' ');  // columns line up
    out += ' ';
    if (line.with_pid) out += "[" + std::to_string(pid) + "]: ";
    if (!line.component.empty()) {
        out += line.component;
        out += ": ";
    }
    if (line.with_function) {
        out += bare_function_name(line.where.function_name());
        out += ':';
    }
    if (line.with_line) out += std::to_string(line.where.line()) + ":";
    if (line.with_function || line.with_line) out += ' ';
    for (char c : line.text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\x%02x", u);
            out += esc;
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace iscsilab
