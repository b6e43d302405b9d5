// What initiators may hold of the target at once: connections, logins in progress,
// sessions, and how long a login may take. iscsilab's own attributes of targets/iscsi
// (SCST bounds none of these); 0 means no bound. A hostile initiator meets a bound and
// gets the RFC's answer (Login Response "Out of resources", RFC 3720 §10.13.5) or, before
// any PDU, a closed connection.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iscsilab::iscsi {

struct DriverLimits {
    std::uint32_t max_connections = 1024;
    std::uint32_t max_pending_logins = 128;   // connections not yet in full feature phase
    std::uint32_t max_sessions = 1024;
    std::uint32_t max_sessions_per_initiator = 64;
    std::uint32_t login_timeout_s = 30;        // from the connection to the final Login Response

    static const std::vector<std::string_view>& attribute_names();
    static bool is_attribute(std::string_view name);
    // An error text, empty on success.
    std::string set(std::string_view name, std::string_view value);
    std::string get(std::string_view name) const;
    bool operator==(const DriverLimits&) const = default;
};

// Refusals are logged once per kind while they go on, not once per packet: the first
// refusal of a kind is logged, the rest counted, and the count is logged when that kind
// of request is next granted. Counts stay for the management tree.
class RefusalLog {
public:
    // Returns the line to log, if any.
    std::optional<std::string> refused(std::string_view kind, std::string_view detail);
    std::optional<std::string> granted(std::string_view kind);
    std::map<std::string, std::uint64_t> totals() const;

private:
    struct Kind {
        std::uint64_t total = 0, in_episode = 0;
    };
    mutable std::mutex mu_;
    std::map<std::string, Kind, std::less<>> kinds_;
};

}  // namespace iscsilab::iscsi
