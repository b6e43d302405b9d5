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
#include "target/mgmt/scst_conf.hpp"

namespace iscsilab::mgmt {

// What the runtime provides: a backing store for a device (files in HIL, model disks
// in simulation). Returns nullptr and sets error on failure.
class StoreFactory {
public:
    virtual ~StoreFactory() = default;
    virtual std::shared_ptr<BlockStore> open(const handlers::VdiskConfig& cfg, std::string& error) = 0;
};

class Scst {
public:
    Scst(iscsi::IscsiDriver& driver, StoreFactory& stores) : driver_(driver), stores_(stores) {}

    static const std::vector<std::string>& handler_names();

    // handlers/<handler>/mgmt: add_device NAME k=v; k=v   /   del_device NAME
    std::string add_device(const std::string& handler, const std::string& name,
                           const std::vector<std::pair<std::string, std::string>>& params);
    std::string del_device(const std::string& handler, const std::string& name);
    std::shared_ptr<scsi::Device> device(const std::string& name) const;
    std::vector<std::shared_ptr<scsi::Device>> devices() const;

    iscsi::IscsiDriver& driver() { return driver_; }

    // Applies a parsed scst.conf. Returns the first error (file:line: what); on error
    // the state may be partly applied, so callers apply into a fresh Scst.
    std::optional<ConfError> apply(const std::vector<ConfBlock>& blocks, const std::string& file);

private:
    iscsi::IscsiDriver& driver_;
    StoreFactory& stores_;
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<scsi::Device>> devices_;
};

// "filename=/disk1; nv_cache=1" (the add_device parameter list) into pairs.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_param_list(const std::string& s,
                                                                                std::string& error);

}  // namespace iscsilab::mgmt
