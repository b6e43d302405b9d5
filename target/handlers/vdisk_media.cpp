// Removable media of a vdisk: START STOP UNIT loads and ejects the medium of a removable
// logical unit (SBC-3 §5.25), PREVENT ALLOW MEDIUM REMOVAL holds it in for as long as any
// I_T nexus asks, and the management layer puts a new medium into a vcdrom (its filename
// attribute).
//
// SCST's vdisk does less: its START STOP UNIT only syncs the file, and one PREVENT flag
// stands for every nexus. Here a removable LU behaves as SBC-3 and MMC-6 describe it, which
// is what libiscsi's SCSI.PreventAllow and SCSI.StartStopUnit families check: an eject
// takes the medium away (NOT READY, MEDIUM NOT PRESENT) and a load puts the same file back,
// as SCST keeps the file of a removable vdisk.
#include "target/bytes.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/handlers/vdisk_detail.hpp"

namespace iscsilab::handlers {

std::shared_ptr<BlockStore> Vdisk::medium() const {
    std::lock_guard lock(medium_mu_);
    return loaded_ ? medium_ : nullptr;
}

std::uint64_t Vdisk::num_blocks() const {
    auto m = medium();
    return m ? m->size_bytes() / cfg_.blocksize : 0;
}

std::shared_ptr<BlockStore> Vdisk::medium_for(Command& c) const {
    auto m = medium();
    // SPC-4 §4.5.6: NOT READY, MEDIUM NOT PRESENT, for a command that needs the medium.
    if (!m) fail(c, Sense{SenseKey::NotReady, asc::MediumNotPresent});
    return m;
}

std::optional<Vdisk::WritableMedium> Vdisk::writable_medium(Command& c, const scsi::AccessContext& ctx) const {
    auto m = medium_for(c);
    if (!m) return std::nullopt;
    bool swp, wce;
    {
        std::lock_guard lock(mu_);
        swp = swp_;
        wce = wce_;
    }
    // SBC-3 §4.11: a write-protected LU (the LUN, the device, or the control page's SWP)
    // refuses every command that would change the medium.
    if (ctx.read_only || cfg_.read_only || swp) {
        fail(c, Sense{SenseKey::DataProtect, asc::WriteProtected});
        return std::nullopt;
    }
    return WritableMedium{std::move(m), wce};
}

void Vdisk::prevent_allow_medium_removal(Command& c) {
    const std::uint8_t field = ld8(c.cdb_bytes(), 4) & 0x03;
    // SBC-3 PREVENT ALLOW MEDIUM REMOVAL: PREVENT 00b allows, 01b prevents, 1xb is obsolete
    // (it served medium changers). MMC-6 gives bit 1 to the persistent prevent, which only
    // shapes GET EVENT STATUS NOTIFICATION (not served here): for a vcdrom, bit 0 decides.
    if ((field & 0x02) && !cdrom()) return fail(c, scsi::invalid_field_in_cdb(4, 1));
    const bool prevent = field & 0x01;
    // A fixed disk has no medium to hold in: the command changes nothing, as in SCST (and
    // Linux's sd sends it only to removable devices). The target's own commands have no
    // nexus to hold a prevention.
    if (removable() && c.nexus) {
        std::lock_guard lock(medium_mu_);
        // The prevention is per I_T nexus and holds while any nexus keeps it (SPC-3 §6.13,
        // which SBC-3 inherits): one nexus's ALLOW does not undo another's PREVENT.
        if (prevent) preventing_.insert(c.nexus->id);
        else preventing_.erase(c.nexus->id);
    }
    c.status = Status::Good;
}

void Vdisk::start_stop_unit(CmdPtr cmd, scsi::Completion done) {
    Command& c = *cmd;
    auto cdb = c.cdb_bytes();
    const bool immed = ld8(cdb, 1) & 0x01;
    const std::uint8_t power_condition = ld8(cdb, 4) >> 4;
    const bool no_flush = ld8(cdb, 4) & 0x04;
    const bool loej = ld8(cdb, 4) & 0x02;
    const bool start = ld8(cdb, 4) & 0x01;

    if (power_condition != 0) {
        // SBC-3 §5.25: a POWER CONDITION other than START_VALID (0h) asks for a power
        // condition, and START and LOEJ are ignored. A vdisk has no power conditions to
        // enter: as in SCST, the command succeeds and the medium stays where it is (libiscsi's
        // StartStopUnit.PwrCnd sends every value 1h..Fh with LOEJ set and expects both).
        c.status = Status::Good;
        return done();
    }
    if (loej && !removable()) {
        // SBC-3 §5.25: LOEJ loads or ejects a removable medium; a fixed disk (RMB=0) has
        // none to move. Refused, pointing at LOEJ, rather than ignored as SCST does, so that
        // an eject of a fixed disk does not look done.
        fail(c, scsi::invalid_field_in_cdb(4, 1));
        return done();
    }
    // The medium to flush: the one in the drive before an eject takes it out.
    auto store = medium();
    if (loej) {
        bool prevented = false, became_ready = false;
        {
            std::lock_guard lock(medium_mu_);
            if (!preventing_.empty()) {
                // SBC-3 §5.25, MMC-6 START STOP UNIT: while medium removal is prevented the
                // tray stays shut, for an eject and for a load alike (libiscsi's
                // PreventAllow.Eject expects both refused).
                prevented = true;
            } else if (start) {
                // Load: the medium that was ejected goes back in. An empty vcdrom tray just
                // closes; the command still succeeds (MMC-6).
                became_ready = !loaded_ && medium_;
                loaded_ = medium_ != nullptr;
            } else {
                loaded_ = false;  // eject; ejecting an empty drive is no error
            }
        }
        if (prevented) {
            fail(c, Sense{SenseKey::IllegalRequest, asc::MediumRemovalPrevented});
            return done();
        }
        // SAM-5 §5.14: the logical unit went from not ready to ready, so the other I_T
        // nexuses learn NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED. The nexus that
        // loaded it asked for it (libiscsi's tests load, then expect TEST UNIT READY GOOD).
        if (became_ready)
            raise_unit_attention(asc::NotReadyToReadyChange, c.nexus ? std::optional(c.nexus->id) : std::nullopt);
    }
    // SBC-3 §5.25: NO_FLUSH=0 with START=0 writes the volatile cache to the medium. A
    // vdisk's medium stays open after an eject (the file is kept for the next load), so the
    // flush can follow the eject. nv_cache and a read-only device have nothing to write.
    const bool flush = !start && !no_flush && store && !cfg_.nv_cache && !cfg_.read_only;
    if (!flush) {
        c.status = Status::Good;
        return done();
    }
    BlockRequest req{BlockOp::flush, 0, 0, {}, false};
    if (immed) {
        // SBC-3 §5.25: IMMED=1 returns status once the CDB is checked. The flush goes on;
        // its outcome has no command to report to (deferred errors are not modelled).
        c.status = Status::Good;
        done();
        store->submit(req, [store](BlockStatus) {});
        return;
    }
    store->submit(req, [this, store, cmd, done = std::move(done)](BlockStatus st) {
        if (st == BlockStatus::ok) cmd->status = Status::Good;
        else io_failed(*cmd, st, true);
        done();
    });
}

std::string Vdisk::change_medium(std::shared_ptr<BlockStore> store, const std::string& filename) {
    // As in SCST, only a vcdrom's filename can be written once the device exists.
    if (!cdrom()) return "filename is read-only once the device exists";
    if (store && store->size_bytes() < cfg_.blocksize) return name() + ": backing store smaller than one block";
    bool loaded;
    {
        std::lock_guard lock(medium_mu_);
        // SCST's vcdrom_change refuses (EBUSY) while medium removal is prevented: the tray
        // is locked shut.
        if (!preventing_.empty()) return name() + ": medium removal is prevented";
        medium_ = std::move(store);
        loaded_ = medium_ != nullptr;
        filename_ = loaded_ ? filename : std::string();
        loaded = loaded_;
    }
    // A new medium: every I_T nexus learns NOT READY TO READY CHANGE, MEDIUM MAY HAVE
    // CHANGED (SAM-5 §5.14; SCST's media_changed).
    if (loaded) raise_unit_attention(asc::NotReadyToReadyChange);
    return {};
}

void Vdisk::forget_nexus(std::uint64_t nexus) {
    {
        // SPC-3 §6.13: an I_T nexus loss ends that nexus's prevention of medium removal.
        std::lock_guard lock(medium_mu_);
        preventing_.erase(nexus);
    }
    Device::forget_nexus(nexus);
}

void Vdisk::end_prevention() {
    // SPC-3 §6.13: a logical unit reset (and a hard reset: TARGET WARM / COLD RESET reset
    // every logical unit) ends every prevention of medium removal.
    std::lock_guard lock(medium_mu_);
    preventing_.clear();
}

}  // namespace iscsilab::handlers
