// The vdisk handlers of SCST (vdisk_fileio, vdisk_blockio, vdisk_nullio): a direct-access
// block device (SBC-3) emulated over a BlockStore, with the SPC-4 commands every
// logical unit answers.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "target/handlers/lba_range_lock.hpp"
#include "target/scsi/device.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::handlers {

struct VdiskConfig {
    std::string handler = "vdisk_fileio";
    std::string name;
    std::string filename;
    std::uint32_t blocksize = 512;
    bool nv_cache = false;       // SYNCHRONIZE CACHE is a no-op: the cache is non-volatile
    bool read_only = false;
    bool write_through = false;  // WCE=0: every write is durable before it completes
    bool o_direct = false;
    bool removable = false;
    // SCST's thin_provisioned: logical block provisioning management (SBC-3 §4.7) with
    // UNMAP, WRITE SAME's UNMAP bit and GET LBA STATUS over the store's unmap (vdisk_thin.cpp).
    bool thin_provisioned = false;
    std::uint64_t size_bytes = 0;  // nullio: the advertised size
    std::string t10_dev_id;
    std::string usn;

    // Apply "key=value" pairs of add_device (iscsi-scst README). Returns an error text.
    std::string set(const std::string& key, const std::string& value);
};

class Vdisk final : public scsi::Device {
public:
    // store may be null only for vcdrom: a drive with no medium loaded.
    Vdisk(VdiskConfig cfg, std::shared_ptr<BlockStore> store);

    // vcdrom is an MMC device (type 5); the vdisk handlers are SBC disks (type 0).
    std::uint8_t peripheral_type() const override { return cdrom() ? 0x05 : 0x00; }
    bool cdrom() const { return cfg_.handler == "vcdrom"; }
    std::optional<scsi::Sense> parse(const scsi::Command& cmd) const override;
    void execute(std::shared_ptr<scsi::Command> cmd, const scsi::AccessContext& ctx,
                 scsi::Completion done) override;

    std::vector<std::string> attribute_names() const override;
    std::optional<std::string> get_attribute(const std::string& name) const override;
    std::string set_attribute(const std::string& name, const std::string& value) override;

    bool descriptor_sense() const override;
    void reset(std::uint64_t by_nexus) override;

    const VdiskConfig& config() const { return cfg_; }
    std::uint64_t num_blocks() const;  // of the medium in the drive; 0 with none
    static std::span<const scsi::OpcodeInfo> opcodes();

    // Removable media (vdisk_media.cpp). A removable LU (removable=1, and every vcdrom)
    // ejects and loads its medium through START STOP UNIT (SBC-3 §5.25), and PREVENT ALLOW
    // MEDIUM REMOVAL holds it in, per I_T nexus.
    bool removable() const { return cfg_.removable || cdrom(); }
    // The medium in the drive, or null: a copy taken under the lock, so that a command keeps
    // the store it started with while another thread ejects or changes the medium.
    std::shared_ptr<BlockStore> medium() const;
    // A vcdrom's new medium, from the management layer (its filename attribute, SCST's
    // vcdrom_change); null with an empty filename ejects it. Refused while an I_T nexus
    // prevents medium removal. Returns an error text, empty on success.
    std::string change_medium(std::shared_ptr<BlockStore> store, const std::string& filename);
    // I_T nexus loss ends that nexus's PREVENT (SBC-3 PREVENT ALLOW MEDIUM REMOVAL).
    void forget_nexus(std::uint64_t nexus) override;

private:
    using CmdPtr = std::shared_ptr<scsi::Command>;
    struct Rw {
        std::uint64_t lba = 0;
        std::uint32_t blocks = 0;
        bool fua = false;
        std::uint8_t protect = 0;  // RDPROTECT / WRPROTECT / VRPROTECT
        std::uint8_t bytchk = 0;
    };
    Rw decode_rw(const scsi::Command& cmd) const;
    bool check_range(scsi::Command& cmd, const Rw& rw) const;
    bool check_range(scsi::Command& cmd, const Rw& rw, std::uint64_t blocks) const;
    // The medium for a command that needs one; with none, the command has failed with NOT
    // READY, MEDIUM NOT PRESENT and null comes back.
    std::shared_ptr<BlockStore> medium_for(scsi::Command& cmd) const;
    // The medium for a command that writes, with the write cache state as of now; or
    // nothing, the command failed (NOT READY without a medium, DATA PROTECT when
    // write-protected).
    struct WritableMedium {
        std::shared_ptr<BlockStore> store;
        bool wce = true;
    };
    std::optional<WritableMedium> writable_medium(scsi::Command& cmd, const scsi::AccessContext& ctx) const;
    void fail(scsi::Command& cmd, const scsi::Sense& s) const { cmd.fail(s, descriptor_sense()); }

    void inquiry(scsi::Command& cmd) const;
    void mode_sense(scsi::Command& cmd, const scsi::AccessContext& ctx) const;
    void mode_select(scsi::Command& cmd);
    void read_capacity10(scsi::Command& cmd) const;
    void read_capacity16(scsi::Command& cmd) const;
    void read_defect_data(scsi::Command& cmd) const;
    void request_sense(scsi::Command& cmd);
    void read(CmdPtr cmd, scsi::Completion done);
    void write(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done);
    void verify(CmdPtr cmd, scsi::Completion done);
    void synchronize_cache(CmdPtr cmd, scsi::Completion done);
    void start_stop_unit(CmdPtr cmd, scsi::Completion done);
    void prevent_allow_medium_removal(scsi::Command& cmd);
    void end_prevention();
    void io_failed(scsi::Command& cmd, BlockStatus st, bool writing) const;
    // Logical block provisioning (vdisk_thin.cpp).
    void unmap(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done);
    void write_same(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done);
    void get_lba_status(CmdPtr cmd, scsi::Completion done);
    // COMPARE AND WRITE, PRE-FETCH and the LBA range lock (vdisk_caw.cpp).
    void compare_and_write(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done);
    void pre_fetch(scsi::Command& cmd) const;
    // Runs body once [lba, lba + blocks) is held in mode; the completion handed to body
    // unlocks the range, then runs done.
    void under_range_lock(std::uint64_t lba, std::uint64_t blocks, LbaRangeLock::Mode mode,
                          std::function<void(scsi::Completion)> body, scsi::Completion done);
    // What REPORT SUPPORTED OPERATION CODES lists for this LU: the table less what a fully
    // provisioned LU refuses (vdisk_opcodes.cpp).
    std::vector<scsi::OpcodeInfo> supported_opcodes() const;
    Bytes mode_pages(std::uint8_t page, std::uint8_t pc) const;

    VdiskConfig cfg_;
    LbaRangeLock range_lock_;  // COMPARE AND WRITE against overlapping writes (vdisk_caw.cpp)
    // The medium, behind medium_mu_: commands on every reactor read it, START STOP UNIT and
    // the management layer change it. Read it through medium() or medium_for().
    mutable std::mutex medium_mu_;
    std::shared_ptr<BlockStore> medium_;  // what a LOAD puts back: an eject keeps it, as SCST keeps the file
    bool loaded_ = false;
    std::string filename_;                // a vcdrom's changes with its medium
    std::set<std::uint64_t> preventing_;  // I_T nexuses whose PREVENT field is 01b
    mutable std::mutex mu_;  // mode parameters below
    bool wce_;
    bool d_sense_ = false;
    bool swp_ = false;
};

}  // namespace iscsilab::handlers
