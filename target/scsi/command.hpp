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
class CopyManager;

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
    // Set by the transport: the SCSI layer found one of its own invariants broken on a
    // command of this nexus (a task that ended twice). The transport reports it as it
    // reports its own, with the command's tag and reference, and closes the connection
    // the command came through. Runs on any thread.
    std::function<void(std::uint32_t tag, std::uint32_t reference, std::string what)> invariant_broken;
};

// Runs when the command is done (result fields filled). May run on any thread.
using Completion = std::function<void()>;

struct Command {
    std::array<std::byte, 16> cdb{};
    std::uint64_t lun = 0;
    std::uint32_t tag = 0;        // the transport's task tag (ITT)
    std::uint32_t reference = 0;  // the transport's number for it (CmdSN), for reports
    TaskAttribute attr = TaskAttribute::Simple;
    DataDirection direction = DataDirection::None;
    std::uint32_t expected_transfer_length = 0;  // iSCSI EDTL
    DataBuffer data_out;                         // all Data-Out bytes received
    std::shared_ptr<const Nexus> nexus;
    // Set by a transport that sends Data-In from a WireSource as it is (no digest over the
    // bytes): a device server may then leave a READ's bytes where they lie (data_in_source).
    bool data_in_may_stay = false;

    // Result. data_in holds what the device server produced (its SPDTL may exceed EDTL:
    // the transport sends min(EDTL, data_in) and reports the residual).
    Status status = Status::Good;
    Bytes sense;
    BufferPtr data_in;  // from the buffer pool: Data-In leaves from it as it is
    // Set only when data_in_may_stay: data_in's bytes were never read (it holds the size
    // and the claim on the bound); they lie at this source, from its byte 0.
    std::shared_ptr<const WireSource> data_in_source;
    std::optional<std::uint64_t> spdtl;  // the CDB's transfer length in bytes, if any
    std::atomic<bool> aborted{false};

    // What the mid-level keeps while the command runs (midlevel.cpp): the completion it
    // was handed, the device whose task set the command occupies, how it was admitted,
    // and the command itself. The completions it hands down capture only a plain
    // pointer to the command, which std::function holds without an allocation.
    struct MidlevelState {
        Completion done;
        std::shared_ptr<Device> device;
        std::shared_ptr<Command> self;
        CopyManager* copies = nullptr;
        TaskAttribute attr = TaskAttribute::Simple;
        bool read_only = false, alua = false, copy = false;
    } midlevel;
    // The same for a handler while the command is at its store: its completions (the
    // command's, and one for a step inside it), the store, the buffer the store fills, a
    // lock it holds, and the command.
    struct HandlerState {
        Completion done, step_done;
        std::shared_ptr<const void> store;
        BufferPtr buffer;
        std::shared_ptr<Command> self;
        std::uint64_t ticket = 0;
        bool read_only = false;
    } handler;

    // A layer of the SCSI side was told twice that this command ended (a task ends once).
    // Only a second completion that comes while the command is still held can be seen:
    // one that comes after it is released reaches freed memory (with the sanitizers on,
    // the block cache is off and that is reported as a use after free).
    void completed_twice(const char* where) const {
        if (nexus && nexus->invariant_broken)
            nexus->invariant_broken(tag, reference, std::string(where) + " finished a task that had already ended (a task ends once)");
    }

    std::uint8_t opcode() const { return static_cast<std::uint8_t>(cdb[0]); }
    std::span<const std::byte> cdb_bytes() const { return cdb; }

    void fail(const Sense& s, bool descriptor_format) {
        status = Status::CheckCondition;
        sense = encode_sense(s, descriptor_format);
        data_in.reset();
        data_in_source.reset();
    }
};


// SAM LUN encoding in the 8-byte LUN field (SAM-5 §4.7): peripheral device addressing
// below 256, flat space addressing above.
std::uint64_t encode_lun(std::uint32_t lun);
std::uint32_t decode_lun(std::uint64_t field);

}  // namespace iscsilab::scsi
