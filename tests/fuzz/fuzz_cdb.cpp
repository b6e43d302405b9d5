// The CDB path: the SCSI mid-level (LUN dispatch, task set, unit attentions,
// reservations, ALUA, the copy manager) and the vdisk handlers over memory stores.
//
// Input: device flags (1 byte), then commands, each:
//   header (1 byte): bits 0-1 the I_T nexus (three initiators), bits 2-3 the LUN,
//                    bits 4-5 the task attribute, bit 6 aborted right after it is
//                    submitted, bit 7 the next command goes in before this one is done
//   CDB (16 bytes), expected transfer length (2 bytes LE), data-out length (2 bytes LE),
//   data-out bytes.
// device flags: bits 0-1 LUN 0's block size (512 << n), bit 2 thin provisioned, bit 3
// store completions come later from the loop, bit 4 nv_cache, bit 5 write_through,
// bit 6 removable, bit 7 LUN 0 in an ALUA device group.
// LUNs: 0 vdisk_fileio (as the flags say), 1 vdisk_fileio with 4 KiB blocks, 2 vcdrom,
// 3 vdisk_nullio mapped read-only. Every command must complete exactly once.
#include "fuzz_support.hpp"
#include "target/handlers/null_store.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/scsi/alua.hpp"
#include "target/scsi/target.hpp"

using namespace iscsilab;
using namespace iscsilab::scsi;

namespace {

constexpr std::size_t kMaxCommands = 64;
constexpr std::size_t kMaxDataOut = 32768;

struct Issued {
    std::shared_ptr<Command> cmd;
    int completions = 0;
};

std::shared_ptr<handlers::Vdisk> vdisk(handlers::VdiskConfig c, std::shared_ptr<BlockStore> store,
                                       const std::shared_ptr<StateStore>& state) {
    auto d = std::make_shared<handlers::Vdisk>(std::move(c), std::move(store));
    if (std::string e = d->set_state_store(state); !e.empty()) fuzz::fail("harness: " + e);
    return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t flags = in.u8();
    testing::ManualLoop loop;
    Executor* later = (flags & 0x08) ? &loop : nullptr;
    auto state = std::make_shared<fuzz::MemStateStore>(later);

    handlers::VdiskConfig c0;
    c0.name = "d0";
    c0.filename = "/mem/d0";
    c0.blocksize = 512u << (flags & 0x03);
    c0.thin_provisioned = (flags & 0x04) != 0;
    c0.nv_cache = (flags & 0x10) != 0;
    c0.write_through = (flags & 0x20) != 0;
    c0.removable = (flags & 0x40) != 0;
    handlers::VdiskConfig c1;
    c1.name = "d1";
    c1.filename = "/mem/d1";
    c1.blocksize = 4096;
    c1.thin_provisioned = true;
    handlers::VdiskConfig cd;
    cd.handler = "vcdrom";
    cd.name = "cd0";
    cd.read_only = true;
    cd.blocksize = 2048;
    handlers::VdiskConfig n0;
    n0.handler = "vdisk_nullio";
    n0.name = "n0";
    n0.size_bytes = 1ull << 30;

    std::vector<std::shared_ptr<Device>> devs = {
        vdisk(c0, std::make_shared<fuzz::FuzzStore>(1u << 20, later), state),
        vdisk(c1, std::make_shared<fuzz::FuzzStore>(256u << 10, later), state),
        vdisk(cd, std::make_shared<fuzz::FuzzStore>(256u << 10, later), state),
        vdisk(n0, std::make_shared<handlers::NullStore>(n0.size_bytes), state)};
    Target target;
    for (std::uint32_t l = 0; l < devs.size(); ++l)
        if (!target.add_lun("", l, devs[l], l == 3).empty()) fuzz::fail("harness: add_lun");
    std::shared_ptr<DeviceGroup> group;
    if (flags & 0x80) {
        group = std::make_shared<DeviceGroup>("dg");
        if (!group->add_device(devs[0]).empty() || !group->create_target_group("local").empty() ||
            !group->add_target("local", fuzz::kTargetName, 1).empty() || !group->create_target_group("remote").empty() ||
            !group->add_target("remote", "iqn.2026-11.org.iscsilab:remote", 2).empty() ||
            !group->set_state("remote", AluaState::Standby).empty())
            fuzz::fail("harness: device group");
    }

    std::vector<Issued> issued;
    issued.reserve(kMaxCommands);
    std::vector<std::shared_ptr<Nexus>> nexuses;
    for (std::uint64_t i = 0; i < 3; ++i) {
        auto n = std::make_shared<Nexus>();
        n->id = i + 1;
        n->initiator_name = "iqn.2026-11.org.example:host" + std::to_string(i);
        n->initiator_port = n->initiator_name + ",i,0x40000137000" + std::to_string(i);
        n->target_name = fuzz::kTargetName;
        n->relative_target_port = 1;
        // PREEMPT AND ABORT: the transport ends this nexus's tasks on dev (they still
        // complete, as aborted), then says so from its loop.
        n->abort_tasks = [&issued, &loop, id = n->id](const Device& dev, std::optional<std::uint32_t> except,
                                                     std::function<void()> done) {
            for (auto& is : issued)
                if (is.cmd->nexus->id == id && is.completions == 0 && is.cmd->tag != except &&
                    is.cmd->midlevel.device.get() == &dev)
                    is.cmd->aborted = true;
            loop.post(std::move(done));
        };
        n->report_event = [](const Device&, const Sense&) { return false; };
        n->invariant_broken = [](std::uint32_t tag, std::uint32_t, std::string what) {
            fuzz::fail("SCSI invariant broken on tag " + std::to_string(tag) + ": " + what);
        };
        nexuses.push_back(std::move(n));
    }

    while (!in.empty() && issued.size() < kMaxCommands) {
        const std::uint8_t hdr = in.u8();
        auto cmd = std::make_shared<Command>();
        const auto cdb = in.take(16);
        std::copy(cdb.begin(), cdb.end(), cmd->cdb.begin());
        cmd->expected_transfer_length = in.u16();
        const auto out = in.take(std::min<std::size_t>(in.u16(), kMaxDataOut));
        cmd->data_out = out;
        cmd->direction = !out.empty() ? DataDirection::Write
                         : cmd->expected_transfer_length ? DataDirection::Read
                                                         : DataDirection::None;
        cmd->nexus = nexuses[(hdr & 0x03) % 3];
        cmd->lun = encode_lun((hdr >> 2) & 0x03);
        cmd->attr = static_cast<TaskAttribute>((hdr >> 4) & 0x03);
        cmd->tag = static_cast<std::uint32_t>(issued.size());
        cmd->reference = cmd->tag;
        issued.push_back(Issued{cmd, 0});
        const std::size_t k = issued.size() - 1;
        target.execute(cmd, [&issued, k] {
            if (++issued[k].completions > 1) fuzz::fail("command " + std::to_string(k) + " completed twice");
        });
        if (hdr & 0x40) cmd->aborted = true;
        if (!(hdr & 0x80)) loop.run();
    }
    loop.run();
    for (std::size_t k = 0; k < issued.size(); ++k) {
        if (issued[k].completions != 1)
            fuzz::fail("command " + std::to_string(k) + " (opcode " + std::to_string(issued[k].cmd->opcode()) +
                       ") never completed");
        const auto& c = *issued[k].cmd;
        if (c.status == Status::CheckCondition && c.sense.empty()) fuzz::fail("CHECK CONDITION without sense data");
    }
    // I_T nexus loss for every initiator, as a logout would bring.
    for (const auto& n : nexuses) {
        for (const auto& d : devs) d->forget_nexus(n->id);
        target.forget_nexus(n->id);
    }
    loop.run();
    if (group) group->del_device("d0");
    return 0;
}
