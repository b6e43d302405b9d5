// One SCSI task as the mid-level sees it: the CDB, its data, and its outcome. The
// transport (iSCSI) fills the request half and reads the result half; it knows nothing
// of how a device executes it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "target/buffer_pool.hpp"
#include "target/ports.hpp"
#include "target/scsi/sense.hpp"

namespace iscsilab::scsi {

class Device;

enum class DataDirection : std::uint8_t { None, Read, Write, Bidi };

// SAM-5 task attributes.
enum class TaskAttribute : std::uint8_t { Simple, Ordered, HeadOfQueue, Aca };

// An I_T nexus: one initiator port talking to one target port.
struct Nexus {
    std::uint64_t id = 0;            // unique for the target's lifetime
    std::string initiator_name;      // iSCSI name
    std::string initiator_port;      // "<name>,i,0x<ISID>" (SPC-4 §7.6.4.6)
    std::string target_name;
    std::uint16_t relative_target_port = 1;
    // Set by the transport: ends every task of this nexus on dev, except the one tagged
    // except_tag, as ABORT TASK SET would, and runs done (on any thread) once they are
    // gone. PREEMPT AND ABORT uses it on another nexus's tasks (SPC-4 §5.13.11.2.6).
    std::function<void(const Device& dev, std::optional<std::uint32_t> except_tag, std::function<void()> done)>
        abort_tasks;
    // Set by a transport that reports asynchronous events (SAM-5 §6.5, iSCSI's Async
    // Message): hands the event for dev to this nexus and returns true, or returns false
    // when it cannot (no connection in full feature phase, the LUN not mapped), so the
    // caller establishes a unit attention instead.
    std::function<bool(const Device& dev, const Sense& sense)> report_event;
};

struct Command {
    std::array<std::byte, 16> cdb{};
    std::uint64_t lun = 0;
    std::uint32_t tag = 0;  // the transport's task tag (ITT)
    TaskAttribute attr = TaskAttribute::Simple;
    DataDirection direction = DataDirection::None;
    std::uint32_t expected_transfer_length = 0;  // iSCSI EDTL
    DataBuffer data_out;                         // all Data-Out bytes received
    std::shared_ptr<const Nexus> nexus;

    // Result. data_in holds what the device server produced (its SPDTL may exceed EDTL:
    // the transport sends min(EDTL, data_in) and reports the residual).
    Status status = Status::Good;
    Bytes sense;
    BufferPtr data_in;  // from the buffer pool: Data-In leaves from it as it is
    std::optional<std::uint64_t> spdtl;  // the CDB's transfer length in bytes, if any
    std::atomic<bool> aborted{false};

    std::uint8_t opcode() const { return static_cast<std::uint8_t>(cdb[0]); }
    std::span<const std::byte> cdb_bytes() const { return cdb; }

    void fail(const Sense& s, bool descriptor_format) {
        status = Status::CheckCondition;
        sense = encode_sense(s, descriptor_format);
        data_in.reset();
    }
};

// Runs when the command is done (result fields filled). May run on any thread.
using Completion = std::function<void()>;

// SAM LUN encoding in the 8-byte LUN field (SAM-5 §4.7): peripheral device addressing
// below 256, flat space addressing above.
std::uint64_t encode_lun(std::uint32_t lun);
std::uint32_t decode_lun(std::uint64_t field);

}  // namespace iscsilab::scsi
