// The copy manager (SCST's scst_copy_mgr): EXTENDED COPY(LID1) and RECEIVE COPY RESULTS
// (SPC-4 §6.4, and RECEIVE COPY RESULTS with its COPY STATUS and OPERATING PARAMETERS
// service actions), serving block-to-block segment descriptors (02h) between logical
// units named by identification-descriptor CSCD descriptors (E4h).
//
// One CopyManager per target. The mid-level routes operation codes 83h and 84h here and
// supplies a resolver that turns a designator into a logical unit the copy manager may
// drive. The copy manager then acts as an initiator of its own: it sends READ(16) and
// WRITE(16) commands, with its own I_T nexus, through the resolver's submit function,
// holding at most copy_limits::kCopyChunkBytes of data per copy at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "target/ports.hpp"
#include "target/scsi/command.hpp"

namespace iscsilab::scsi {

// The limits this copy manager keeps, reported as they are enforced: in the OPERATING
// PARAMETERS of RECEIVE COPY RESULTS and in the Third-party Copy VPD page (SPC-4 §7.8.17).
namespace copy_limits {
// MAXIMUM CSCD (target) DESCRIPTOR COUNT. SCST allows 5, LIO 2.
inline constexpr std::uint16_t kMaxTargetDescriptors = 8;
// MAXIMUM SEGMENT DESCRIPTOR COUNT.
inline constexpr std::uint16_t kMaxSegmentDescriptors = 128;
// The descriptors this copy manager accepts have fixed lengths.
inline constexpr std::uint32_t kTargetDescriptorLength = 32;   // E4h
inline constexpr std::uint32_t kSegmentDescriptorLength = 28;  // 02h
// MAXIMUM DESCRIPTOR LIST LENGTH: exactly the most descriptors of each kind (3840).
inline constexpr std::uint32_t kMaxDescriptorListLength =
    kMaxTargetDescriptors * kTargetDescriptorLength + kMaxSegmentDescriptors * kSegmentDescriptorLength;
// MAXIMUM SEGMENT LENGTH: 256 MiB, as SCST. A 02h descriptor moves at most 65535 blocks,
// which stays below this for every block size up to 4096 bytes.
inline constexpr std::uint32_t kMaxSegmentLength = 256u << 20;
// No inline data (segment descriptor 04h), no held data, no stream devices.
inline constexpr std::uint32_t kMaxInlineDataLength = 0;
inline constexpr std::uint32_t kHeldDataLimit = 0;
inline constexpr std::uint32_t kMaxStreamDeviceTransferSize = 0;
// TOTAL CONCURRENT COPIES and MAXIMUM CONCURRENT COPIES: EXTENDED COPY commands in
// progress at once on this target, all I_T nexuses together. Each holds at most one
// chunk, so this bounds the copy manager's data memory to 16 MiB.
inline constexpr std::uint16_t kTotalConcurrentCopies = 16;
inline constexpr std::uint8_t kMaxConcurrentCopies = 16;
// DATA SEGMENT GRANULARITY (log2): any whole number of 512-byte blocks.
inline constexpr std::uint8_t kDataSegmentGranularityLog2 = 9;
inline constexpr std::uint8_t kInlineDataGranularityLog2 = 0;
inline constexpr std::uint8_t kHeldDataGranularityLog2 = 0;
// The data one copy holds at a time: one READ's worth, then the WRITE of it.
inline constexpr std::uint32_t kCopyChunkBytes = 1u << 20;
// Copy statuses held for RECEIVE COPY RESULTS: per I_T nexus, and in all.
inline constexpr std::size_t kMaxHeldResultsPerNexus = 32;
inline constexpr std::size_t kMaxHeldResults = 1024;
// A unit attention the copy manager's own nexus collects (power on, mode parameters
// changed by someone) concerns no application client: the command is sent again, at
// most this often.
inline constexpr int kMaxUnitAttentionRetries = 8;
}  // namespace copy_limits

// The designation descriptor inside an identification-descriptor CSCD descriptor (E4h):
// bytes 4-27 of it, a designation descriptor as in the Device Identification VPD page
// (SPC-4 §7.8.6.1) of at most 20 designator bytes. PROTOCOL IDENTIFIER and PIV are not
// kept: libiscsi leaves them zero, and a logical unit's designators do not use them.
struct Designator {
    std::uint8_t code_set = 0;         // 1h binary, 2h ASCII, 3h UTF-8
    std::uint8_t association = 0;      // 00b logical unit
    std::uint8_t designator_type = 0;  // 1h T10 vendor ID, 2h EUI-64, 3h NAA, ...
    Bytes designator;                  // DESIGNATOR LENGTH bytes
};

// Whether a Device Identification VPD page (83h, SPC-4 §7.8.6) - the whole page as
// INQUIRY returns it, with its 4-byte header - holds a logical-unit designation descriptor
// equal to d: same code set, association 00b, same designator type, length and bytes.
// Bounds-checked: a malformed page matches nothing.
bool matches_vpd83(const Designator& d, std::span<const std::byte> vpd83_page);

// A logical unit the copy manager may read or write.
struct CopyDevice {
    std::uint32_t block_size = 0;
    std::uint64_t num_blocks = 0;
    // Runs an internal command (READ(16) or WRITE(16), built by the copy manager, with its
    // own nexus and LUN field 0) against this logical unit through the mid-level - task
    // set, unit attentions, reservations, the LUN's read-only flag - and calls done once
    // the command's result fields are filled. done may run on any thread, inline or later.
    std::function<void(std::shared_ptr<Command>, Completion)> submit;
};

// Finds the logical unit a CSCD designator names, among those the initiator of the
// EXTENDED COPY may reach (SCST: a LUN of its initiator group). nullopt: not reachable
// (COPY ABORTED, COPY TARGET DEVICE NOT REACHABLE once a segment refers to it). Called
// once per CSCD descriptor of each EXTENDED COPY, from the thread that called
// extended_copy(), with no lock of the copy manager held.
using CopyResolver = std::function<std::optional<CopyDevice>(const Designator&, const Nexus& initiator)>;

class CopyManager {
public:
    // The I_T nexus id of the copy manager's internal commands: far from the ids a
    // transport hands out.
    static constexpr std::uint64_t kDefaultNexusId = ~std::uint64_t{0};

    explicit CopyManager(CopyResolver resolver, std::uint64_t nexus_id = kDefaultNexusId);
    ~CopyManager();
    CopyManager(const CopyManager&) = delete;
    CopyManager& operator=(const CopyManager&) = delete;

    // EXTENDED COPY(LID1) (operation code 83h, service action 00h; SPC-4 §6.4). cmd->data_out
    // holds the parameter list. done runs exactly once, from any thread, when the copy has
    // ended: GOOD; CHECK CONDITION with ILLEGAL REQUEST for a bad CDB or parameter list;
    // COPY ABORTED once segment processing began (the segment number in the sense data);
    // or, when cmd->aborted is seen between chunks, with the result untouched (the
    // transport knows the task was aborted). descriptor_sense: the D_SENSE of the LU that
    // received the command. A copy in progress keeps what it needs alive by itself: the
    // CopyManager may go away before it ends.
    void extended_copy(std::shared_ptr<Command> cmd, Completion done, bool descriptor_sense = false);

    // RECEIVE COPY RESULTS (operation code 84h): COPY STATUS (00h) of a copy that this I_T
    // nexus started, and OPERATING PARAMETERS (03h). Completes synchronously: cmd's result
    // fields are filled on return.
    void receive_copy_results(Command& cmd, const Nexus& nexus, bool descriptor_sense = false);

    // The Third-party Copy VPD page (8Fh, SPC-4 §7.8.17), whole, with its 4-byte header;
    // peripheral_byte is byte 0 (qualifier and device type of the LU asked). A vdisk lists
    // 8Fh in its Supported VPD Pages and answers INQUIRY EVPD 8Fh with it: libiscsi's
    // ReceiveCopyResults.CopyStatus skips unless it finds RECEIVE COPY RESULTS with the
    // COPY STATUS service action in this page's Supported Commands descriptor.
    static Bytes third_party_copy_vpd(std::uint8_t peripheral_byte = 0x00);

    // The OPERATING PARAMETERS parameter data, before allocation-length truncation.
    static Bytes operating_parameters();

    // An I_T nexus is gone (logout, session reinstatement) or was reset: the copy statuses
    // it held are discarded.
    void forget_nexus(std::uint64_t nexus_id);

    // EXTENDED COPY commands in progress.
    std::size_t active_copies() const;
    // Copy statuses held for RECEIVE COPY RESULTS (of copies done or in progress).
    std::size_t held_results() const;

    const std::shared_ptr<const Nexus>& nexus() const { return nexus_; }

    struct State;  // shared with the copies in progress (copy_manager.cpp)
    struct Copy;   // one EXTENDED COPY in progress

private:
    CopyResolver resolver_;
    std::shared_ptr<const Nexus> nexus_;
    std::shared_ptr<State> state_;
};

}  // namespace iscsilab::scsi
