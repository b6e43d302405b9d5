// PERSISTENT RESERVE IN / OUT in the mid-level, as SCST's core runs them (scst_pres.c)
// rather than a handler: the reservation belongs to the logical unit, and honouring a
// PERSISTENT RESERVE OUT reaches other I_T nexuses (their tasks, their unit attentions)
// and stable storage (APTPL).
#include <atomic>

#include "target/bytes.hpp"
#include "target/scsi/device.hpp"
#include "target/scsi/midlevel.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

namespace {

// SPC-4 §6.16.3: the APTPL bit of the parameter list, where the service action has one
// (byte 20 bit 0; REGISTER AND MOVE: byte 17 bit 0).
bool asks_aptpl(const Command& c) {
    const std::uint8_t sa = ld8(c.cdb_bytes(), 1) & 0x1f;
    const std::size_t byte = sa == 0x07 ? 17 : 20;
    return c.data_out.size() > byte && (ld8(c.data_out, byte) & 0x01);
}

// Counts the nexuses whose tasks a PREEMPT AND ABORT is ending; the last one runs done.
struct AbortBarrier {
    explicit AbortBarrier(std::function<void()> d) : done(std::move(d)) {}
    std::atomic<int> pending{1};  // the caller's own share, released after the loop
    std::function<void()> done;
    void arrive() {
        if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) done();
    }
};

}  // namespace

bool is_persistent_reserve(const Command& c) {
    return c.opcode() == op::PersistentReserveIn || c.opcode() == op::PersistentReserveOut;
}

void persistent_reserve(const std::shared_ptr<Device>& dev, const std::shared_ptr<Command>& cmd, Completion done) {
    const bool dsense = dev->descriptor_sense();
    if (!cmd->nexus) {
        cmd->fail(Sense{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode}, dsense);
        return done();
    }
    if (cmd->opcode() == op::PersistentReserveIn) {
        auto r = dev->pr().persistent_reserve_in(*cmd->nexus, *cmd);
        if (r.status == Status::Good && !dev->persists_reservations() && !r.data.empty() &&
            (ld8(cmd->cdb_bytes(), 1) & 0x1f) == 0x02 && r.data.size() > 3) {
            // REPORT CAPABILITIES: without a state store nothing persists (PTPL_C=0,
            // PTPL_A=0; SPC-4 §6.15.4).
            r.data[2] &= std::byte{0xfe};
            r.data[3] &= std::byte{0xfe};
        }
        r.apply_to(*cmd, dsense);
        return done();
    }
    if (!dev->persists_reservations() && asks_aptpl(*cmd)) {
        // SPC-4 §6.16.3: APTPL asked of a device that cannot persist.
        Sense s{SenseKey::IllegalRequest, asc::InvalidFieldInParameterList};
        s.field_in_cdb = false;
        s.field_pointer = (ld8(cmd->cdb_bytes(), 1) & 0x1f) == 0x07 ? 17 : 20;
        s.bit_pointer = 0;
        cmd->fail(s, dsense);
        return done();
    }
    auto result = std::make_shared<PrOutResult>(dev->pr().persistent_reserve_out(*cmd->nexus, *cmd));
    if (result->status != Status::Good) {
        result->apply_to(*cmd, dsense);
        return done();
    }
    const std::uint64_t me = cmd->nexus->id;
    const std::uint32_t my_tag = cmd->tag;
    // After the aborts (1), the unit attentions (2) and the save (3), in PrOutResult's
    // order, the status goes out.
    auto finish = [dev, cmd, result, me, dsense, done = std::move(done)]() mutable {
        for (const auto& ua : result->unit_attentions)
            for (const auto& n : dev->nexuses())
                if (n->id != me && ua.nexus.matches(*n)) dev->raise_unit_attention_for(n->id, ua.asc);
        if (!result->save) {
            result->apply_to(*cmd, dsense);
            return done();
        }
        dev->save_reservations(result->state, result->state_version,
                               [cmd, result, dsense, done = std::move(done)](bool) mutable {
                                   // A failed write leaves the reservation in force for
                                   // this power cycle; the state store reports it.
                                   result->apply_to(*cmd, dsense);
                                   done();
                               });
    };
    if (result->abort_tasks_of.empty()) return finish();
    auto barrier = std::make_shared<AbortBarrier>(std::move(finish));
    for (const auto& who : result->abort_tasks_of)
        for (const auto& n : dev->nexuses()) {
            if (!who.matches(*n) || !n->abort_tasks) continue;
            barrier->pending.fetch_add(1, std::memory_order_relaxed);
            n->abort_tasks(*dev, n->id == me ? std::optional(my_tag) : std::nullopt, [barrier] { barrier->arrive(); });
        }
    barrier->arrive();
}

}  // namespace iscsilab::scsi
