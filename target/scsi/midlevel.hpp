// The SCSI mid-level: every command passes here on its way from a transport to a device,
// as in SCST's core. It answers what belongs to the target rather than to a device
// (REPORT LUNS, a LUN the nexus cannot see), asks the device's handler to parse the CDB,
// and admits the command only when SAM-5 / SPC-4 let it run: no unit attention pending,
// no reservation in the way. Handlers only execute.
#pragma once

#include <cstdint>
#include <memory>

#include "target/scsi/command.hpp"
#include "target/scsi/device.hpp"

namespace iscsilab::scsi {

class CopyManager;

// SAM-5 §5.14 / SPC-4 §5.14: the commands a pending unit attention does not block.
bool passes_unit_attention(std::uint8_t opcode);

// SPC-2 §5.5.1 table 7, SBC-2 table 6: the commands another I_T nexus may still run
// while a RESERVE(6)/(10) reservation is held.
bool passes_spc2_reservation(std::uint8_t opcode);

// A command for a device the nexus can see: parse, then the task set, then admission,
// then the handler. done runs exactly once, from any thread.
// copies: the target's copy manager, which runs EXTENDED COPY and RECEIVE COPY RESULTS
// (null: the device's handler is asked, and refuses them).
void submit(std::shared_ptr<Device> dev, std::shared_ptr<Command> cmd, const AccessContext& ctx,
            Completion done, CopyManager* copies = nullptr);

// REPORT TARGET PORT GROUPS or SET TARGET PORT GROUPS.
bool is_target_port_groups_command(const Command& cmd);

// PERSISTENT RESERVE IN / OUT, run by the mid-level (midlevel_pr.cpp) once admitted.
bool is_persistent_reserve(const Command& cmd);
void persistent_reserve(const std::shared_ptr<Device>& dev, const std::shared_ptr<Command>& cmd, Completion done);

// Decides whether an admitted-for-parsing command may run on dev now. Returns false
// when it ended the command (status and sense are set in cmd).
bool admit(Device& dev, Command& cmd);

}  // namespace iscsilab::scsi
