#include "target/scsi/midlevel.hpp"

#include "target/bytes.hpp"
#include "target/scsi/alua.hpp"
#include "target/scsi/copy_manager.hpp"
#include "target/scsi/spc.hpp"
#include "target/scsi/target.hpp"

namespace iscsilab::scsi {

bool passes_unit_attention(std::uint8_t o) {
    return o == op::Inquiry || o == op::ReportLuns || o == op::RequestSense;
}

bool passes_spc2_reservation(std::uint8_t o) {
    return o == op::Inquiry || o == op::ReportLuns || o == op::RequestSense || o == op::Release6 || o == op::Release10 ||
           o == op::ReadCapacity10 || o == op::ServiceActionIn16 || o == op::MaintenanceIn;
}

bool is_target_port_groups_command(const Command& c) {
    // MAINTENANCE IN / OUT with service action 0Ah (SPC-4 §6.37, §6.47).
    return (c.opcode() == op::MaintenanceIn || c.opcode() == 0xa4) && (ld8(c.cdb_bytes(), 1) & 0x1f) == 0x0a;
}

bool admit(Device& dev, Command& cmd) {
    if (!cmd.nexus) return true;  // the target's own commands (none today) skip the nexus rules
    const std::uint8_t o = cmd.opcode();
    const Device::Admission a = dev.admission(cmd.nexus, !passes_unit_attention(o));
    if (a.unit_attention) {
        cmd.fail(Sense{SenseKey::UnitAttention, *a.unit_attention}, dev.descriptor_sense());
        return false;
    }
    auto conflict = [&] {
        cmd.status = Status::ReservationConflict;  // SAM-5 §5.3: no sense data
        return false;
    };
    // SPC-4 §5.13.3: while an SPC-2 reservation is held, every PERSISTENT RESERVE IN and
    // OUT conflicts, whoever sends it.
    if (is_persistent_reserve(cmd) && a.spc2_reserved) return conflict();
    if (o == op::Reserve6 || o == op::Release6 || o == op::Reserve10 || o == op::Release10) {
        // SPC-4 §5.13.3 with CRH=1: RESERVE and RELEASE next to persistent reservations.
        switch (dev.pr().spc2_reserve_release(*cmd.nexus)) {
            case Spc2Access::Process: break;
            case Spc2Access::GoodNoOp:
                cmd.status = Status::Good;
                return false;
            case Spc2Access::Conflict: return conflict();
        }
    } else if (dev.pr().conflicts(*cmd.nexus, cmd)) {
        return conflict();
    }
    if (!passes_spc2_reservation(o) && a.reserved_by_other) return conflict();
    // SPC-4 §5.16.2.4: the access state of the target port group the command came
    // through. A port outside every target group of the device group is unrestricted.
    if (a.group)
        if (auto tg = a.group->group_of_target(cmd.nexus->target_name))
            if (auto refusal = alua_refusal(tg->state, cmd)) {
                cmd.fail(*refusal, dev.descriptor_sense());
                return false;
            }
    return true;
}

namespace {
void start(Command& c);  // the task may start: admit it and run it (below)
}  // namespace

void submit(std::shared_ptr<Device> dev, std::shared_ptr<Command> cmd, const AccessContext& ctx,
            Completion done, CopyManager* copies) {
    // REPORT and SET TARGET PORT GROUPS belong to the device group, not the handler, as
    // in SCST's core: answered here for a device in a group (SPC-4 §6.37, §6.47).
    const bool alua_command = is_target_port_groups_command(*cmd) && dev->alua_group();
    // EXTENDED COPY and RECEIVE COPY RESULTS go to the copy manager, as in SCST, which
    // moves the data with commands of its own through this same path.
    const bool copy_command = copies && cmd->nexus && (cmd->opcode() == op::ExtendedCopy || cmd->opcode() == op::ReceiveCopyResults);
    // SCST's parse stage: a CDB the device does not serve ends here, before any unit
    // attention or reservation is considered (SPC-4 §4.5.2.4.2).
    if (!alua_command && !copy_command) if (auto bad = dev->parse(*cmd)) {
        cmd->fail(*bad, dev->descriptor_sense());
        return done();
    }
    // Through the LU's task set: ORDERED and HEAD OF QUEUE keep their meaning (SAM-5 §8.6).
    // Admission happens when the task may start, so an earlier ORDERED task's RESERVE or
    // MODE SELECT is seen by the tasks behind it. What the task needs meanwhile stays in
    // the command (Command::midlevel), so that nothing is allocated to carry it.
    Command::MidlevelState& m = cmd->midlevel;
    m.done = std::move(done);
    m.device = dev;
    m.self = cmd;
    m.copies = copies;
    m.attr = cmd->attr;
    m.read_only = ctx.read_only;
    m.alua = alua_command;
    m.copy = copy_command;
    dev->task_set().submit(m.attr, [c = cmd.get()] { start(*c); });
}

namespace {

// Whoever ends the task, the task set hears of it before the transport does.
void finish(Command& c) {
    Command::MidlevelState& m = c.midlevel;
    if (!m.self) return c.completed_twice("the device");
    const std::shared_ptr<Command> self = std::move(m.self);
    const std::shared_ptr<Device> dev = std::move(m.device);
    const Completion done = std::move(m.done);
    dev->task_set().finished(m.attr);
    done();
}

void start(Command& c) {
    Command::MidlevelState& m = c.midlevel;
    const std::shared_ptr<Command> cmd = m.self;
    Device& dev = *m.device;
    Completion finished = [cp = &c] { finish(*cp); };
    if (c.aborted) return finished();  // aborted while it waited: nothing to run
    if (!admit(dev, c)) return finished();
    if (m.copy) {
        if (c.opcode() == op::ExtendedCopy) return m.copies->extended_copy(cmd, std::move(finished), dev.descriptor_sense());
        m.copies->receive_copy_results(c, *c.nexus, dev.descriptor_sense());
        return finished();
    }
    if (is_persistent_reserve(c)) return persistent_reserve(m.device, cmd, std::move(finished));
    if (m.alua) {
        if (auto group = dev.alua_group()) {
            if (c.opcode() == op::MaintenanceIn)
                report_target_port_groups(c, *group, dev.descriptor_sense());
            else
                set_target_port_groups(c, *group, dev.descriptor_sense());
        } else {  // left its group while it waited
            c.fail(Sense{SenseKey::IllegalRequest, asc::InvalidCommandOperationCode}, dev.descriptor_sense());
        }
        return finished();
    }
    AccessContext ctx;
    ctx.read_only = m.read_only;
    dev.execute(cmd, ctx, std::move(finished));
}

}  // namespace

void Target::execute(std::shared_ptr<Command> cmd, Completion done) const {
    static const std::string no_name;
    auto luns = luns_for(cmd->nexus ? cmd->nexus->initiator_name : no_name);
    const std::uint8_t opcode = cmd->opcode();
    const std::uint32_t lun = decode_lun(cmd->lun);

    if (opcode == op::ReportLuns) {
        // SPC-4 §6.33: answered by the target for any LUN, from the nexus's own map.
        auto cdb = cmd->cdb_bytes();
        const std::uint8_t select = ld8(cdb, 2);
        const std::uint32_t alloc = ld32(cdb, 6);
        if (select > 2 && select != 0x10 && select != 0x11 && select != 0x12) {
            cmd->fail(invalid_field_in_cdb(2), false);
        } else if (alloc < 16) {
            cmd->fail(invalid_field_in_cdb(6), false);
        } else {
            std::vector<std::uint32_t> list;
            for (const auto& [n, e] : *luns) list.push_back(n);
            if (select == 0x01 || select == 0x10) list.clear();  // no well-known LUNs here
            auto data = report_luns_data(list);
            return_data(*cmd, data, alloc);
            auto it = luns->find(lun);
            if (it != luns->end() && cmd->nexus) {
                // SPC-4 §6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED.
                auto ua = it->second.device->peek_unit_attention(cmd->nexus->id);
                if (ua && *ua == asc::ReportedLunsDataHasChanged)
                    it->second.device->take_unit_attention(cmd->nexus->id);
            }
        }
        done();
        return;
    }

    auto it = luns->find(lun);
    if (it == luns->end()) {
        if (opcode == op::Inquiry) {
            auto cdb = cmd->cdb_bytes();
            if (ld8(cdb, 1) & 0x01) {
                cmd->fail(Sense{SenseKey::IllegalRequest, asc::LogicalUnitNotSupported}, false);
            } else {
                auto data = inquiry_no_lun();
                return_data(*cmd, data, ld16(cdb, 3));
            }
        } else if (opcode == op::RequestSense) {
            // SPC-4 §6.39: for an unsupported LUN, the sense data reports it as GOOD data.
            auto data = encode_sense(Sense{SenseKey::IllegalRequest, asc::LogicalUnitNotSupported},
                                     (ld8(cmd->cdb_bytes(), 1) & 0x01) != 0);
            return_data(*cmd, data, ld8(cmd->cdb_bytes(), 4));
        } else {
            cmd->fail(Sense{SenseKey::IllegalRequest, asc::LogicalUnitNotSupported}, false);
        }
        done();
        return;
    }
    AccessContext ctx;
    ctx.read_only = it->second.read_only;
    submit(it->second.device, std::move(cmd), ctx, std::move(done), copies_.get());
}

}  // namespace iscsilab::scsi
