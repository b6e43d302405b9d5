// The LUN side of an SCST target: the default LUNs, initiator groups (LUN masking,
// scst-core README "Access control"), and dispatch of a command from a nexus to the
// device behind its LUN. Knows nothing of iSCSI.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "target/scsi/device.hpp"

namespace iscsilab::scsi {

struct LunEntry {
    std::shared_ptr<Device> device;
    bool read_only = false;
};

using LunMap = std::map<std::uint32_t, LunEntry>;

struct IniGroup {
    std::string name;
    LunMap luns;
    std::vector<std::string> initiators;  // names or shell-style patterns (* and ?)
};

bool wildcard_match(std::string_view pattern, std::string_view name);

class CopyManager;

class Target {
public:
    Target();
    ~Target();
    Target(const Target&) = delete;
    Target& operator=(const Target&) = delete;

    // SCST's copy manager for this target: EXTENDED COPY and RECEIVE COPY RESULTS
    // between the LUs an initiator sees here.
    CopyManager& copy_manager() const { return *copies_; }
    // The nexus is gone: what the target keeps for it (copy results) goes too.
    void forget_nexus(std::uint64_t nexus) const;

    // The LUN map a given initiator sees: its group's, or the default one.
    std::shared_ptr<const LunMap> luns_for(const std::string& initiator_name) const;

    // Runs a command from nexus; done runs exactly once, from any thread.
    void execute(std::shared_ptr<Command> cmd, Completion done) const;

    // Management. Each returns an error text, empty on success, and changes nothing on
    // error. A change raises REPORTED LUNS DATA HAS CHANGED on the devices involved.
    std::string add_lun(const std::string& group, std::uint32_t lun, std::shared_ptr<Device> dev,
                        bool read_only);
    std::string del_lun(const std::string& group, std::uint32_t lun);
    std::string clear_luns(const std::string& group);
    std::string create_group(const std::string& group);
    std::string del_group(const std::string& group);
    std::string add_initiator(const std::string& group, const std::string& name);
    std::string del_initiator(const std::string& group, const std::string& name);
    std::string clear_initiators(const std::string& group);
    bool uses_device(const Device& dev) const;

    // Snapshots for the management tree.
    LunMap default_luns() const;
    std::vector<IniGroup> groups() const;
    // The group whose initiator patterns match this name, if any.
    std::optional<std::string> group_of(const std::string& initiator_name) const;

private:
    LunMap* map_of(const std::string& group);  // mu_ held; "" is the default map
    void announce_change(const LunMap& before, const LunMap& after);
    mutable std::mutex mu_;
    std::shared_ptr<const LunMap> default_ = std::make_shared<LunMap>();
    std::vector<IniGroup> groups_;
    // Copies handed to commands, rebuilt on change so that dispatch takes the lock only
    // to copy a pointer.
    std::map<std::string, std::shared_ptr<const LunMap>> group_maps_;
    std::unique_ptr<CopyManager> copies_;
};

}  // namespace iscsilab::scsi
