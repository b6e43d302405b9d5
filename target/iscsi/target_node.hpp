// One iSCSI target (targets/iscsi/<name> in SCST's tree): its name, ids, negotiable
// defaults and its SCSI side (LUNs and initiator groups).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "target/iscsi/chap.hpp"
#include "target/iscsi/params.hpp"
#include "target/scsi/target.hpp"

namespace iscsilab::iscsi {

class TargetNode {
public:
    TargetNode(std::string name, std::uint32_t tid, std::uint16_t rel_tgt_id)
        : name_(std::move(name)), tid_(tid), rel_tgt_id_(rel_tgt_id) {}

    const std::string& name() const { return name_; }
    std::uint32_t tid() const { return tid_; }
    std::uint16_t rel_tgt_id() const { return rel_tgt_id_.load(); }
    void set_rel_tgt_id(std::uint16_t v) { rel_tgt_id_.store(v); }
    bool enabled() const { return enabled_.load(); }
    void set_enabled(bool v) { enabled_.store(v); }

    // Parameters apply to sessions that log in after the change (iSCSI-SCST README).
    TargetParams params() const {
        std::lock_guard lock(mu_);
        return params_;
    }
    std::string set_param(std::string_view name, std::string_view value) {
        std::lock_guard lock(mu_);
        TargetParams copy = params_;
        std::string err = copy.set(name, value);
        if (err.empty()) params_ = copy;
        return err;
    }

    // CHAP attributes (IncomingUser[N], OutgoingUser).
    std::string add_credential(const std::string& attr, const std::string& value) {
        std::lock_guard lock(mu_);
        return creds_.add(attr, value);
    }
    std::string del_credential(const std::string& attr, const std::string& value) {
        std::lock_guard lock(mu_);
        return creds_.del(attr, value);
    }
    CredentialSet credentials() const {
        std::lock_guard lock(mu_);
        return creds_;
    }

    scsi::Target& luns() { return luns_; }
    const scsi::Target& luns() const { return luns_; }

private:
    std::string name_;
    std::uint32_t tid_;
    std::atomic<std::uint16_t> rel_tgt_id_;
    std::atomic<bool> enabled_{false};
    mutable std::mutex mu_;
    TargetParams params_;
    CredentialSet creds_;
    scsi::Target luns_;
};

}  // namespace iscsilab::iscsi
