// The configurable state of the target as SCST has it: device handlers with their
// devices, and the iSCSI target driver with its targets. scst.conf and (later) the
// mgmt tree act on it through the same operations.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "target/handlers/vdisk.hpp"
#include "target/iscsi/driver.hpp"
#include "target/scsi/alua.hpp"
#include "target/mgmt/scst_conf.hpp"

namespace iscsilab::mgmt {

// What the runtime provides: a backing store for a device (files in HIL, model disks
// in simulation). Returns nullptr and sets error on failure.
class StoreFactory {
public:
    virtual ~StoreFactory() = default;
    virtual std::shared_ptr<BlockStore> open(const handlers::VdiskConfig& cfg, std::string& error) = 0;
    // Where devices keep what must outlive the process (APTPL persistent reservations);
    // null: nothing persists, and devices say so (REPORT CAPABILITIES PTPL_C=0).
    virtual std::shared_ptr<StateStore> state_store() { return nullptr; }
};

class Scst {
public:
    Scst(iscsi::IscsiDriver& driver, StoreFactory& stores) : driver_(driver), stores_(stores) {}

    static const std::vector<std::string>& handler_names();

    // handlers/<handler>/mgmt: add_device NAME k=v; k=v   /   del_device NAME
    std::string add_device(const std::string& handler, const std::string& name,
                           const std::vector<std::pair<std::string, std::string>>& params);
    std::string del_device(const std::string& handler, const std::string& name);
    // devices/<vcdrom>/filename: opens the new medium through the StoreFactory and hands it
    // to the drive (Vdisk::change_medium); an empty filename ejects. SCST's vcdrom_change.
    std::string change_medium(const std::string& name, const std::string& filename);
    std::shared_ptr<scsi::Device> device(const std::string& name) const;
    std::vector<std::shared_ptr<scsi::Device>> devices() const;

    iscsi::IscsiDriver& driver() { return driver_; }

    // device_groups/mgmt: create NAME / del NAME (ALUA, SPC-4 §5.16). A device is in at
    // most one device group; deleting a device takes it out of its group.
    std::string create_device_group(const std::string& name);
    std::string del_device_group(const std::string& name);
    std::shared_ptr<scsi::DeviceGroup> device_group(const std::string& name) const;
    std::vector<std::shared_ptr<scsi::DeviceGroup>> device_groups() const;
    // device_groups/<dg>/devices/mgmt: add DEVICE / del DEVICE.
    std::string add_group_device(const std::string& group, const std::string& device);
    std::string del_group_device(const std::string& group, const std::string& device);

    // Applies a parsed scst.conf. Returns the first error (file:line: what); on error
    // the state may be partly applied, so callers apply into a fresh Scst.
    std::optional<ConfError> apply(const std::vector<ConfBlock>& blocks, const std::string& file);

private:
    std::optional<ConfError> apply_device_group(const ConfBlock& block, const std::string& file);
    iscsi::IscsiDriver& driver_;
    StoreFactory& stores_;
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<scsi::Device>> devices_;
    std::map<std::string, std::shared_ptr<scsi::DeviceGroup>> device_groups_;
};

// "filename=/disk1; nv_cache=1" (the add_device parameter list) into pairs.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_param_list(const std::string& s,
                                                                                std::string& error);

}  // namespace iscsilab::mgmt
