// The iSCSI side of one SCSI task (RFC 3720 §10.3-10.8): its tags, the Data-Out it is
// owed (immediate, unsolicited, R2T-solicited) and where it stands.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "target/buffer_pool.hpp"
#include "target/ports.hpp"
#include "target/scsi/command.hpp"

namespace iscsilab::iscsi {

class Connection;

struct R2tState {
    std::uint32_t ttt = 0, r2tsn = 0, offset = 0, length = 0;
    std::uint32_t received = 0;     // bytes of this sequence so far
    std::uint32_t next_datasn = 0;  // RFC 3720 §10.7.5: DataSN restarts at 0 per R2T
};

enum class TaskPhase : std::uint8_t {
    ReceivingData,  // waiting for Data-Out
    Executing,      // with the SCSI mid-level and the device
    Done,
};

struct Task {
    std::uint32_t itt = 0, cmdsn = 0;
    bool immediate = false;
    std::uint64_t lun_field = 0;
    std::uint32_t lun = 0;
    std::shared_ptr<scsi::Command> cmd;
    std::uint32_t edtl = 0;
    bool read = false, write = false;
    TaskPhase phase = TaskPhase::ReceivingData;
    bool aborted = false;
    bool data_failed = false;  // a Data-Out broke the rules: the rest is dropped, then CHECK CONDITION
    bool responded = false;  // its status went out (RFC 3720 §10.4: exactly once)
    // The data buffers' bound was reached: what Data-Out is owed is dropped, then the
    // status is TASK SET FULL or BUSY (SAM-5 §5.3.1), not CHECK CONDITION.
    bool out_of_memory = false;
    // A read's claim on the buffer bound, taken at admission; it goes with the Data-In
    // buffer (Buffer::hold) so that it lasts until the data has left. A write's claim
    // is taken when its first data arrives and lives in its Data-Out buffer.
    MemoryReservation memory;

    // Data-Out bookkeeping.
    std::uint32_t received = 0;              // bytes placed in cmd->data_out
    std::uint32_t unsolicited_limit = 0;     // immediate + unsolicited Data-Out allowed
    std::uint32_t unsolicited_received = 0;
    std::uint32_t unsolicited_next_datasn = 0;
    std::uint32_t next_r2t_offset = 0;
    std::uint32_t next_r2tsn = 0;
    std::vector<R2tState> r2ts;              // outstanding R2Ts
    // The outstanding R2T a Target Transfer Tag names, or end() when none does.
    std::vector<R2tState>::iterator r2t(std::uint32_t ttt) {
        return std::find_if(r2ts.begin(), r2ts.end(), [ttt](const R2tState& s) { return s.ttt == ttt; });
    }
    Nanos waiting_since{0};                  // when we last started waiting on the initiator

    // Data-In bookkeeping (for ExpDataSN in the response).
    std::uint32_t datain_pdus = 0;

    // Task management functions waiting for this task to end.
    std::vector<std::function<void()>> on_gone;

    // While the task is at the device (Connection::execute): the task holds itself, and
    // the completion handed down captures a plain pointer to it, which std::function
    // keeps without an allocation. Cleared when the completion comes home.
    std::shared_ptr<Task> keep_alive;
    std::weak_ptr<Connection> home;
    Executor* home_executor = nullptr;
    std::shared_ptr<void> work_token;  // the nexus's record that this task works at the device
};

}  // namespace iscsilab::iscsi
