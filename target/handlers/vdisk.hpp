// The vdisk handlers of SCST (vdisk_fileio, vdisk_blockio, vdisk_nullio): a direct-access
// block device (SBC-3) emulated over a BlockStore, with the SPC-4 commands every
// logical unit answers.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

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
    std::uint64_t num_blocks() const { return store_ ? store_->size_bytes() / cfg_.blocksize : 0; }
    static std::span<const scsi::OpcodeInfo> opcodes();

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
    void fail(scsi::Command& cmd, const scsi::Sense& s) const { cmd.fail(s, descriptor_sense()); }

    void inquiry(scsi::Command& cmd) const;
    void mode_sense(scsi::Command& cmd, const scsi::AccessContext& ctx) const;
    void mode_select(scsi::Command& cmd);
    void read_capacity10(scsi::Command& cmd) const;
    void read_capacity16(scsi::Command& cmd) const;
    void request_sense(scsi::Command& cmd);
    void read(CmdPtr cmd, scsi::Completion done);
    void write(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done);
    void verify(CmdPtr cmd, scsi::Completion done);
    void synchronize_cache(CmdPtr cmd, scsi::Completion done);
    void io_failed(scsi::Command& cmd, BlockStatus st, bool writing) const;
    Bytes mode_pages(std::uint8_t page, std::uint8_t pc) const;

    VdiskConfig cfg_;
    std::shared_ptr<BlockStore> store_;
    mutable std::mutex mu_;  // mode parameters below
    bool wce_;
    bool d_sense_ = false;
    bool swp_ = false;
};

}  // namespace iscsilab::handlers
