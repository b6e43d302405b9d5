// The target's log: lines with a level (error, warning, info, debug) and a kind, the
// trace_level token that gates them (SCST's trace flags: "conn", "mgmt", "special"...).
// The core says what happened; the runtime decides whether a line shows (the management
// tree's trace_level attributes, target/mgmt/trace.hpp) and stamps it (hil/serve.cpp:
// ISO-8601 UTC time; the simulation: simulated time). Never a secret in a line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <version>
#if defined(__cpp_lib_source_location)
#include <source_location>
#endif

#include "target/ports.hpp"

namespace iscsilab {

// Where a line was made: std::source_location where the library has it. Debian's clang 14
// with libstdc++ 12 has not (it needs __builtin_source_location), and builds the fuzz
// targets (tests/fuzz): there the same fields come from the builtins both compilers have,
// evaluated where current() is a default argument, as std::source_location's are.
#if defined(__cpp_lib_source_location)
using SourceLocation = std::source_location;
#else
class SourceLocation {
public:
    static constexpr SourceLocation current(const char* file = __builtin_FILE(), const char* function = __builtin_FUNCTION(),
                                            std::uint_least32_t line = __builtin_LINE()) noexcept {
        SourceLocation s;
        s.file_ = file;
        s.function_ = function;
        s.line_ = line;
        return s;
    }
    constexpr std::uint_least32_t line() const noexcept { return line_; }
    constexpr std::uint_least32_t column() const noexcept { return 0; }
    constexpr const char* file_name() const noexcept { return file_; }
    constexpr const char* function_name() const noexcept { return function_; }

private:
    const char* file_ = "";
    const char* function_ = "";
    std::uint_least32_t line_ = 0;
};
#endif

enum class LogLevel : std::uint8_t { error, warning, info, debug };
std::string_view to_string(LogLevel level);

// The kind of a line: the trace_level token that gates it. Errors and warnings show
// whatever trace_level says (SCST's PRINT_ERROR and PRINT_WARNING), and so do lines of
// kind none (SCST's PRINT_INFO); the rest show while their component's trace_level has
// their token.
enum class Trace : std::uint8_t {
    none,
    // SCST's own tokens (scst_trace_tbl), the ones the core uses.
    out_of_mem,
    minor,
    special,
    scsi,
    mgmt,
    mgmt_dbg,
    debug,
    pr,
    // iSCSI-SCST's: connections opened and closed, their details, PDUs.
    conn,
    conn_dbg,
    pdu,
    // iscsilab's own: logins, their failures and back-off.
    login,
};
std::string_view token(Trace kind);

struct LogLine {
    LogLevel level = LogLevel::info;
    Trace kind = Trace::none;
    std::string_view component;  // whose trace_level: "scst", "iscsi", a handler's name
    std::string_view text;
    SourceLocation where{};
    // What trace_level's pid, function and line tokens add in front of the text.
    bool with_pid = false, with_function = false, with_line = false;

    // A sink that wants the text alone may take a std::string_view.
    operator std::string_view() const { return text; }
};
using LogSink = std::function<void(const LogLine&)>;

// "2026-11-30T14:02:06.123Z" from a time since the Unix epoch (the caller's clock).
std::string iso8601_utc(Nanos since_epoch);

// One line as a log prints it, after a stamp (the time, or anything the sink likes):
//   2026-11-30T14:02:06.123Z warning [4711]: iscsi: send_login_reply:58: login of ...
// `pid` is shown when the line asks for it. Control characters of the text (a newline
// in a name an initiator chose) come out as \xNN, so one event is one line.
std::string format_line(std::string_view stamp, const LogLine& line, long pid = 0);

// The function's bare name from std::source_location ("send_login_reply").
std::string_view bare_function_name(std::string_view pretty);

}  // namespace iscsilab
