#include "target/iscsi/limits.hpp"

#include <charconv>

namespace iscsilab::iscsi {

namespace {
struct Field {
    std::string_view name;
    std::uint32_t DriverLimits::*member;
    std::uint32_t max;
};
constexpr Field kFields[] = {
    {"login_timeout", &DriverLimits::login_timeout_s, 3600},
    {"max_connections", &DriverLimits::max_connections, 1u << 20},
    {"max_pending_logins", &DriverLimits::max_pending_logins, 1u << 20},
    {"max_sessions", &DriverLimits::max_sessions, 1u << 20},
    {"max_sessions_per_initiator", &DriverLimits::max_sessions_per_initiator, 1u << 20},
};
const Field* find(std::string_view name) {
    for (const auto& f : kFields)
        if (f.name == name) return &f;
    return nullptr;
}
}  // namespace

const std::vector<std::string_view>& DriverLimits::attribute_names() {
    static const std::vector<std::string_view> names = [] {
        std::vector<std::string_view> v;
        for (const auto& f : kFields) v.push_back(f.name);
        return v;
    }();
    return names;
}

bool DriverLimits::is_attribute(std::string_view name) { return find(name) != nullptr; }

std::string DriverLimits::set(std::string_view name, std::string_view value) {
    const Field* f = find(name);
    if (!f) return "unknown limit '" + std::string(name) + "'";
    while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc{} || end != value.data() + value.size() || v > f->max)
        return std::string(name) + ": expected a number from 0 to " + std::to_string(f->max) + " (0: no bound)";
    if (f->member == &DriverLimits::login_timeout_s && v == 0) return "login_timeout: expected 1 to 3600 seconds";
    this->*(f->member) = v;
    return {};
}

std::string DriverLimits::get(std::string_view name) const {
    const Field* f = find(name);
    return f ? std::to_string(this->*(f->member)) : std::string();
}

std::optional<std::string> RefusalLog::refused(std::string_view kind, std::string_view detail) {
    std::lock_guard lock(mu_);
    auto it = kinds_.find(kind);
    if (it == kinds_.end()) it = kinds_.emplace(std::string(kind), Kind{}).first;
    ++it->second.total;
    if (it->second.in_episode++ > 0) return std::nullopt;
    return "refused (" + std::string(kind) + "): " + std::string(detail) +
           "; more refusals of this kind are counted, not logged";
}

std::optional<std::string> RefusalLog::granted(std::string_view kind) {
    std::lock_guard lock(mu_);
    auto it = kinds_.find(kind);
    if (it == kinds_.end() || it->second.in_episode == 0) return std::nullopt;
    const std::uint64_t n = it->second.in_episode;
    it->second.in_episode = 0;
    return "accepted again (" + std::string(kind) + ") after " + std::to_string(n) + " refusal" + (n == 1 ? "" : "s");
}

std::map<std::string, std::uint64_t> RefusalLog::totals() const {
    std::lock_guard lock(mu_);
    std::map<std::string, std::uint64_t> out;
    for (const auto& [k, v] : kinds_) out[k] = v.total;
    return out;
}

}  // namespace iscsilab::iscsi
