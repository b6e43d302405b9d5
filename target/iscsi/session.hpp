// An iSCSI session (RFC 3720 §3.4): the I_T nexus, the parameters its login settled on,
// and the CmdSN window (§3.2.2.1). One connection per session, as iSCSI-SCST.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "target/buffer_pool.hpp"
#include <mutex>
#include <string>
#include <vector>

#include "target/iscsi/params.hpp"
#include "target/iscsi/pdu.hpp"
#include "target/iscsi/target_node.hpp"
#include "target/ports.hpp"
#include "target/scsi/command.hpp"

namespace iscsilab::iscsi {

class Connection;

// The work an I_T nexus (InitiatorName, ISID, target) still has at the devices, across
// its sessions. RFC 3720 §6.3.5: reinstatement ends the old session's tasks, and a task
// ended at the iSCSI layer may still be writing; the new session waits until it is
// gone, or a stale write could land over a newer one. Tokens may be dropped on any
// thread.
class NexusWork : public std::enable_shared_from_this<NexusWork> {
public:
    // One token per task handed to the SCSI layer; the task's work is done when the
    // token goes.
    std::shared_ptr<void> hold();
    // fn runs once no token is left: at once (here) if none is, otherwise on the thread
    // that drops the last one.
    void when_idle(std::function<void()> fn);
    std::size_t in_flight() const;

private:
    void release();
    mutable std::mutex mu_;
    std::atomic<std::size_t> count_{0};
    std::vector<std::function<void()>> waiters_;
};

class Session {
public:
    Session(std::uint16_t tsih, std::array<std::byte, 6> isid, NegotiatedParams params,
            TargetParams target_params, std::shared_ptr<TargetNode> target,
            std::shared_ptr<const scsi::Nexus> nexus, Executor& executor)
        : tsih_(tsih), isid_(isid), params_(std::move(params)), tparams_(std::move(target_params)),
          target_(std::move(target)), nexus_(std::move(nexus)), executor_(executor) {}

    std::uint16_t tsih() const { return tsih_; }
    const std::array<std::byte, 6>& isid() const { return isid_; }
    std::uint64_t sid() const;  // SCST's sid: ISID and TSIH in one number
    const NegotiatedParams& params() const { return params_; }
    const TargetParams& target_params() const { return tparams_; }
    const std::shared_ptr<TargetNode>& target() const { return target_; }
    const std::shared_ptr<const scsi::Nexus>& nexus() const { return nexus_; }
    bool discovery() const { return params_.session_type == SessionType::Discovery; }
    Executor& executor() const { return executor_; }

    // The CmdSN window. MaxCmdSN = ExpCmdSN + QueuedCommands - 1 - commands in flight,
    // never lower than before (RFC 3720 §3.2.2.1).
    void start_window(std::uint32_t cmdsn);
    std::uint32_t exp_cmdsn() const { return exp_cmdsn_; }
    std::uint32_t max_cmdsn() const { return max_cmdsn_; }
    bool in_window(std::uint32_t cmdsn) const;
    void advance_exp_cmdsn();
    void command_started() { ++in_flight_; ++commands_; refresh(); }
    void command_ended();
    // A numbered PDU that starts no task (NOP-Out, Text, Logout, TMF) took its CmdSN: the
    // window moves on now, so the answer it gets already shows it. Without this a
    // numbered ping at QueuedCommands 1 left MaxCmdSN at ExpCmdSN - 1 for good, a window
    // closed with nothing in flight (found by the swarm).
    void took_cmdsn_without_task() { refresh(); }
    std::uint32_t in_flight() const { return in_flight_; }
    std::uint64_t commands() const { return commands_; }

    std::weak_ptr<Connection> connection;
    std::atomic<bool> reinstating{false};
    // Shared with the earlier sessions of the same nexus (set by the driver).
    std::shared_ptr<NexusWork> work;
    // The initiator's share of the bound on data buffers, shared by all its sessions.
    std::shared_ptr<MemoryShare> memory_share;

private:
    void refresh();
    std::uint16_t tsih_;
    std::array<std::byte, 6> isid_;
    NegotiatedParams params_;
    TargetParams tparams_;
    std::shared_ptr<TargetNode> target_;
    std::shared_ptr<const scsi::Nexus> nexus_;
    Executor& executor_;
    std::uint32_t exp_cmdsn_ = 0, max_cmdsn_ = 0;
    std::atomic<std::uint32_t> in_flight_{0};
    std::atomic<std::uint64_t> commands_{0};
};

}  // namespace iscsilab::iscsi
