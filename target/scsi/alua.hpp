// Asymmetric logical unit access (SPC-4 §5.16) as SCST exposes it: a device group holds
// devices and target groups; a target group holds target ports (targets with their
// relative target port identifiers) and one access state. Every device of the group is
// reached through each target group's ports in that group's state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "target/scsi/command.hpp"

namespace iscsilab::scsi {

class Device;

// SPC-4 §6.37 table 247, ASYMMETRIC ACCESS STATE.
enum class AluaState : std::uint8_t {
    ActiveOptimized = 0x0,
    ActiveNonOptimized = 0x1,
    Standby = 0x2,
    Unavailable = 0x3,
    Offline = 0xe,
    Transitioning = 0xf,
};

// SCST's names for the states in device_groups/<dg>/target_groups/<tg>/state.
std::string_view scst_name(AluaState s);
std::optional<AluaState> parse_alua_state(std::string_view scst_name);

struct TargetGroup {
    std::string name;
    std::uint16_t group_id = 0;  // TARGET PORT GROUP (SPC-4 §6.37)
    AluaState state = AluaState::ActiveOptimized;
    bool preferred = false;      // PREF bit
    std::map<std::string, std::uint16_t> targets;  // target name -> RELATIVE TARGET PORT IDENTIFIER
};

// One SCST device group. Thread-safe: commands read it from every session's thread while
// the management tree or SET TARGET PORT GROUPS changes it.
class DeviceGroup : public std::enable_shared_from_this<DeviceGroup> {
public:
    explicit DeviceGroup(std::string name) : name_(std::move(name)) {}
    const std::string& name() const { return name_; }

    // Devices. A device belongs to at most one group (the caller checks across groups).
    std::string add_device(const std::shared_ptr<Device>& dev);
    std::string del_device(const std::string& device_name);
    std::vector<std::string> device_names() const;

    // Target groups. Each returns an error text, empty on success.
    std::string create_target_group(const std::string& tg);
    std::string del_target_group(const std::string& tg);
    std::string add_target(const std::string& tg, const std::string& target, std::uint16_t rel_tgt_id);
    std::string del_target(const std::string& tg, const std::string& target);
    std::string set_group_id(const std::string& tg, std::uint16_t id);
    std::string set_preferred(const std::string& tg, bool preferred);
    std::string set_rel_tgt_id(const std::string& tg, const std::string& target, std::uint16_t id);
    // A state change tells every nexus of every device of the group, except the one
    // that asked for it (SPC-4 §5.16.2.7: ASYMMETRIC ACCESS STATE CHANGED).
    std::string set_state(const std::string& tg, AluaState state,
                          std::optional<std::uint64_t> except_nexus = std::nullopt);

    std::vector<TargetGroup> target_groups() const;
    // The target group whose ports include this target, if any.
    std::optional<TargetGroup> group_of_target(const std::string& target) const;

private:
    TargetGroup* find(const std::string& tg);  // mu_ held
    std::string name_;
    mutable std::mutex mu_;
    std::vector<TargetGroup> tgs_;
    std::vector<std::weak_ptr<Device>> devices_;
};

// SPC-4 §5.16.2.4: whether a command may run through a port in this state, and if not,
// the sense it gets. The states with no access restriction return nullopt.
std::optional<Sense> alua_refusal(AluaState state, const Command& cmd);

// REPORT TARGET PORT GROUPS (SPC-4 §6.37), answered by the mid-level for a device in a
// group. Fills cmd, including errors.
void report_target_port_groups(Command& cmd, const DeviceGroup& group, bool descriptor_sense);

// SET TARGET PORT GROUPS (SPC-4 §6.47): explicit ALUA. Fills cmd, including errors.
void set_target_port_groups(Command& cmd, DeviceGroup& group, bool descriptor_sense);

}  // namespace iscsilab::scsi
