// A SCSI device as SCST models it: a named device with a handler, attributes, unit
// attentions per I_T nexus, and an execute() that a handler implements.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "target/scsi/command.hpp"
#include "target/scsi/pr.hpp"
#include "target/scsi/task_set.hpp"

namespace iscsilab::scsi {

class DeviceGroup;

// What the LUN mapping adds to a command on its way to the device.
struct AccessContext {
    bool read_only = false;  // the LUN or the device is read-only
};

class Device {
public:
    Device(std::string name, std::string handler) : name_(std::move(name)), handler_(std::move(handler)) {}
    virtual ~Device() = default;
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const std::string& name() const { return name_; }
    const std::string& handler() const { return handler_; }
    virtual std::uint8_t peripheral_type() const = 0;  // SPC-4 §6.4.2: 0x00 disk, 0x05 MMC

    // SCST's parse stage: checks the CDB against what the device serves (operation code,
    // reserved bits). A sense returned here ends the command before the mid-level admits it.
    virtual std::optional<Sense> parse(const Command&) const { return std::nullopt; }

    // Executes a command the mid-level admitted (target/scsi/midlevel.cpp): the LUN
    // exists, no unit attention is pending, no reservation conflicts. done runs exactly
    // once, from any thread.
    virtual void execute(std::shared_ptr<Command> cmd, const AccessContext& ctx, Completion done) = 0;

    // SCST-style attributes: read by name, set by name (returns an error text, empty on
    // success). names() lists them in a stable order.
    virtual std::vector<std::string> attribute_names() const = 0;
    virtual std::optional<std::string> get_attribute(const std::string& name) const = 0;
    virtual std::string set_attribute(const std::string& name, const std::string& value) = 0;

    // Unit attentions (SAM-5 §5.14). A nexus seen for the first time gets POWER ON,
    // RESET, OR BUS DEVICE RESET OCCURRED.
    std::optional<Asc> take_unit_attention(std::uint64_t nexus);
    std::optional<Asc> peek_unit_attention(std::uint64_t nexus);
    void raise_unit_attention(Asc code, std::optional<std::uint64_t> except_nexus = std::nullopt);
    // I_T nexus loss (logout, a dropped connection): the nexus's unit attentions and its
    // reservation go. A handler with per-nexus state of its own (a vdisk's PREVENT) overrides
    // this and calls the base.
    virtual void forget_nexus(std::uint64_t nexus);

    // LOGICAL UNIT RESET side effects (SAM-5 §6.6): a unit attention to every nexus, and
    // the SPC-2 reservation is gone (persistent reservations stay).
    virtual void reset(std::uint64_t by_nexus);

    // SPC-2 RESERVE(6)/RELEASE(6) reservations, held by one I_T nexus. reserve() fails
    // while another nexus holds it; release() by anyone else changes nothing (SPC-2
    // §7.17). A nexus that goes away (forget_nexus) releases what it held.
    bool reserve(std::uint64_t nexus);
    void release(std::uint64_t nexus);
    bool reserved_by_other(std::uint64_t nexus) const;

    bool spc2_reserved() const;  // by any nexus

    TaskSet& task_set() { return task_set_; }

    // What the mid-level's admission of a command needs from the device, read under one
    // lock (a command's fast path takes it once, not four times): the nexus is met, and
    // with take_ua known (a new nexus gets its power-on unit attention) and its oldest
    // unit attention taken; whether another nexus, or any, holds the SPC-2 reservation;
    // and the ALUA device group.
    struct Admission {
        std::optional<Asc> unit_attention;
        bool reserved_by_other = false;
        bool spc2_reserved = false;
        std::shared_ptr<DeviceGroup> group;
    };
    Admission admission(const std::shared_ptr<const Nexus>& nexus, bool take_ua);

    // The I_T nexuses that sent this device a command and have not gone away: whom a
    // persistent reservation's unit attentions and PREEMPT AND ABORT reach.
    void meet(const std::shared_ptr<const Nexus>& nexus);
    std::vector<std::shared_ptr<const Nexus>> nexuses() const;
    void raise_unit_attention_for(std::uint64_t nexus, Asc code);

    // Persistent reservations (SPC-4 §5.13), run by the mid-level (midlevel_pr.cpp).
    PersistentReservations& pr() { return pr_; }
    // Where APTPL state persists; loads what was saved for this device. Returns an error
    // text when the saved record is unreadable (the device then starts with none).
    std::string set_state_store(std::shared_ptr<StateStore> store);
    bool persists_reservations() const;
    // Writes the persistent reservation state saved as of version; saves of older
    // versions that finish later are skipped. done(ok) runs once, on any thread.
    void save_reservations(Bytes state, std::uint64_t version, std::function<void(bool)> done);

    // The ALUA device group this device belongs to (SPC-4 §5.16), or null: set by the
    // group itself (DeviceGroup::add_device / del_device).
    std::shared_ptr<DeviceGroup> alua_group() const;
    void set_alua_group(std::shared_ptr<DeviceGroup> group);

    // Descriptor sense is chosen by the control mode page's D_SENSE bit.
    virtual bool descriptor_sense() const { return false; }

private:
    // mu_ held: what admission() shares with meet() and take_unit_attention().
    void know(std::uint64_t nexus);
    void meet_locked(const std::shared_ptr<const Nexus>& nexus);
    std::optional<Asc> take_unit_attention_locked(std::uint64_t nexus);
    std::string name_, handler_;
    mutable std::mutex mu_;
    std::set<std::uint64_t> known_;
    std::map<std::uint64_t, std::deque<Asc>> pending_;
    TaskSet task_set_;
    std::optional<std::uint64_t> reserved_by_;
    std::shared_ptr<DeviceGroup> alua_group_;  // mu_
    std::map<std::uint64_t, std::weak_ptr<const Nexus>> nexuses_;  // mu_
    PersistentReservations pr_;
    std::shared_ptr<StateStore> state_;  // mu_
    std::mutex save_mu_;                 // below: one save in flight, the newest queued
    bool saving_ = false;
    std::uint64_t saved_version_ = 0;
    struct PendingSave {
        Bytes state;
        std::uint64_t version;
        std::vector<std::function<void(bool)>> done;
    };
    std::optional<PendingSave> next_save_;
    void start_save(PendingSave job);
};

}  // namespace iscsilab::scsi
