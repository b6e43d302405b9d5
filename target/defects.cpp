#include "target/defects.hpp"

#include <array>

namespace iscsilab::defects {

#if defined(ISCSILAB_DEFECTS) && ISCSILAB_DEFECTS

namespace detail {
std::atomic<std::uint32_t> armed{0};
}  // namespace detail

namespace {
// In the order of the enum.
constexpr std::array<std::string_view, static_cast<std::size_t>(Defect::count_)> kNames{
    "skip_statsn",          "ack_before_store",      "drop_fua",
    "leak_task_on_abort",   "r2t_past_max_burst",    "datasn_per_sequence",
    "expcmdsn_on_immediate", "sync_skips_flush",     "tmf_before_tasks_end",
    "reinstate_without_wait", "unsolicited_by_datasn", "medium_error_as_hardware",
    "write_error_ignored",  "r2tsn_per_connection",  "datain_over_mrdsl",
    "caw_not_atomic",       "pr_not_enforced",       "unmap_not_zeroed",
};
}  // namespace

bool arm(std::string_view name) {
    for (std::size_t k = 0; k < kNames.size(); ++k)
        if (kNames[k] == name) {
            detail::armed.fetch_or(1u << k, std::memory_order_relaxed);
            return true;
        }
    return false;
}

std::vector<std::string_view> names() { return {kNames.begin(), kNames.end()}; }

bool compiled() { return true; }

#else

// A normal build carries no defect, and not even their names.
bool arm(std::string_view) { return false; }
std::vector<std::string_view> names() { return {}; }
bool compiled() { return false; }

#endif

}  // namespace iscsilab::defects
