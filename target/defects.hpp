// Deliberate defects for a test build (scenarios/README.md, "Deliberate defects"): each
// is a realistic bug a few lines long that the testbed's checks must catch. They exist
// only when the core is compiled with ISCSILAB_DEFECTS=1 (cmake -DISCSILAB_DEFECTS=ON);
// in a normal build on() is constexpr false and the compiler drops every defect branch.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#if defined(ISCSILAB_DEFECTS) && ISCSILAB_DEFECTS
#include <atomic>
#endif

namespace iscsilab::defects {

enum class Defect : std::uint8_t {
    skip_statsn,             // every 97th status on a connection skips a StatSN
    ack_before_store,        // a write's GOOD status goes before the block store finished it
    drop_fua,                // the CDB's FUA bit is not passed to the block store
    leak_task_on_abort,      // an aborted task keeps its ITT and its CmdSN window slot
    r2t_past_max_burst,      // an R2T asks for one block more than MaxBurstLength
    datasn_per_sequence,     // Data-In DataSN restarts at 0 in every Data-In sequence
    expcmdsn_on_immediate,   // an immediate TMF advances ExpCmdSN
    sync_skips_flush,        // SYNCHRONIZE CACHE answers GOOD without flushing
    tmf_before_tasks_end,    // task-set TMFs answer before the tasks they end are gone
    reinstate_without_wait,  // reinstatement does not wait for the old session's tasks
    unsolicited_by_datasn,   // unsolicited Data-Out placed at DataSN x segment, not its offset
    medium_error_as_hardware,// a medium error is sensed as HARDWARE ERROR
    write_error_ignored,     // a write the block store failed is answered GOOD
    r2tsn_per_connection,    // R2TSN counts per connection, not per task
    datain_over_mrdsl,       // Data-In segments of at least 8 KiB whatever the initiator's MRDSL
    // The SCSI commands beyond the basics; the default swarm mix sends none of them, so
    // their scenarios (scenarios/scsi) catch them instead.
    caw_not_atomic,          // COMPARE AND WRITE holds its blocks shared, not exclusive
    pr_not_enforced,         // a registrants-only reservation lets unregistered nexuses write
    unmap_not_zeroed,        // UNMAP answers GOOD and leaves the blocks as they were
    count_
};

// Arms a defect by its snake_case name; false if the name is unknown or this build has
// no defects. Several may be armed at once.
bool arm(std::string_view name);
// Every defect's name (empty in a build without defects).
std::vector<std::string_view> names();
// Whether this build has the defects compiled in.
bool compiled();

#if defined(ISCSILAB_DEFECTS) && ISCSILAB_DEFECTS
namespace detail {
// One bit per Defect. Armed before the first connection, read on the data path.
extern std::atomic<std::uint32_t> armed;
static_assert(static_cast<unsigned>(Defect::count_) <= 32);
}  // namespace detail

inline bool on(Defect d) {
    return (detail::armed.load(std::memory_order_relaxed) >> static_cast<unsigned>(d)) & 1u;
}
#else
constexpr bool on(Defect) { return false; }
#endif

}  // namespace iscsilab::defects
