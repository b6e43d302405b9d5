// Private to the copy*.cpp files: the parsed parameter list and the copy manager's shared state.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "target/scsi/copy_manager.hpp"
#include "target/scsi/sense.hpp"

namespace iscsilab::scsi {

namespace detail {

// Descriptor type codes this copy manager implements (SPC-4 §6.4.3, descriptor type codes).
inline constexpr std::uint8_t kBlockToBlock = 0x02;        // segment descriptor
inline constexpr std::uint8_t kIdentificationCscd = 0xe4;  // CSCD descriptor

// SPC-4 §6.4.3, LIST ID USAGE.
enum class ListIdUsage : std::uint8_t {
    Hold = 0,      // 00b: status held for RECEIVE COPY RESULTS; the id unique while active
    Reserved = 1,  // 01b
    Discard = 2,   // 10b: the id unique while active; nothing held once done
    None = 3,      // 11b: LIST IDENTIFIER not used (SNLID), shall be zero
};

struct Cscd {  // an identification-descriptor CSCD descriptor (E4h)
    std::uint16_t offset = 0;  // in the parameter list
    bool nul = false;          // NUL (obsolete in SPC-4): refers to no logical unit
    std::uint8_t peripheral_device_type = 0;
    Designator designator;
    std::uint32_t disk_block_length = 0;  // device type specific parameters, type 00h
};

struct SegmentDescriptor {  // block device to block device (02h)
    std::uint16_t offset = 0;
    bool dc = false;   // DESTINATION COUNT: the block count is of destination blocks
    bool cat = false;
    std::uint16_t source_cscd_id = 0;
    std::uint16_t destination_cscd_id = 0;
    std::uint16_t block_device_number_of_blocks = 0;
    std::uint64_t source_lba = 0;
    std::uint64_t destination_lba = 0;
};

struct ParameterList {
    std::uint8_t list_identifier = 0;
    bool str = false;
    ListIdUsage list_id_usage = ListIdUsage::Hold;
    std::uint8_t priority = 0;
    std::vector<Cscd> cscds;
    std::vector<SegmentDescriptor> segments;
};

// ---- parsing and validation (copy_parse.cpp) ----

// ILLEGAL REQUEST with `a`, a field pointer into the parameter list when `byte` is given.
Sense parameter_error(Asc a, std::optional<std::uint16_t> byte = std::nullopt,
                      std::optional<std::uint8_t> bit = std::nullopt);
std::optional<std::uint16_t> reserved_cdb_byte(std::span<const std::byte> cdb, std::initializer_list<std::uint16_t> bytes);
std::optional<Sense> parse_parameter_list(std::span<const std::byte> p, ParameterList& out);

}  // namespace detail

// ---- shared state (copy_manager.cpp) ----

// What copies in progress share with the CopyManager: the held copy statuses and the
// count of copies running. Copies keep it alive, so a copy may outlive its manager.
struct CopyManager::State {
    struct Result {
        std::uint64_t owner = 0;  // the copy that writes it (its serial)
        bool done = false;
        bool failed = false;
        std::uint16_t segments_processed = 0;
        std::uint64_t bytes_written = 0;
    };
    using Key = std::pair<std::uint64_t, std::uint8_t>;  // (I_T nexus id, LIST IDENTIFIER)

    mutable std::mutex mu;
    std::map<Key, Result> results;
    std::size_t active = 0;
    std::uint64_t serial = 0;
    std::atomic<std::uint32_t> next_tag{0};

    // Done results beyond the bounds go, oldest first; results of copies in progress stay
    // (there are at most kTotalConcurrentCopies of those). mu held.
    void evict(std::uint64_t nexus_id);
};

}  // namespace iscsilab::scsi
