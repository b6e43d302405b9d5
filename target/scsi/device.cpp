#include "target/scsi/device.hpp"

#include <algorithm>

namespace iscsilab::scsi {

std::uint64_t encode_lun(std::uint32_t lun) {
    if (lun < 256) return std::uint64_t{lun} << 48;
    return (std::uint64_t{0x4000u | (lun & 0x3fffu)}) << 48;
}

std::uint32_t decode_lun(std::uint64_t field) {
    auto top = static_cast<std::uint16_t>(field >> 48);
    switch (top >> 14) {
        case 0: return top & 0xff;     // peripheral device addressing (bus 0)
        case 1: return top & 0x3fff;   // flat space addressing
        default: return 0xffffffffu;   // other methods: no such LUN here
    }
}

void Device::know(std::uint64_t nexus) {
    if (known_.insert(nexus).second) pending_[nexus].push_back(asc::PowerOnResetOrBusDeviceReset);
}

std::optional<Asc> Device::take_unit_attention(std::uint64_t nexus) {
    std::lock_guard lock(mu_);
    know(nexus);
    auto& q = pending_[nexus];
    if (q.empty()) return std::nullopt;
    Asc a = q.front();
    q.pop_front();
    return a;
}

std::optional<Asc> Device::peek_unit_attention(std::uint64_t nexus) {
    std::lock_guard lock(mu_);
    know(nexus);
    auto& q = pending_[nexus];
    if (q.empty()) return std::nullopt;
    return q.front();
}

void Device::raise_unit_attention(Asc code, std::optional<std::uint64_t> except) {
    std::lock_guard lock(mu_);
    for (auto n : known_) {
        if (except && *except == n) continue;
        auto& q = pending_[n];
        if (std::find(q.begin(), q.end(), code) == q.end()) q.push_back(code);
    }
}

void Device::forget_nexus(std::uint64_t nexus) {
    std::lock_guard lock(mu_);
    known_.erase(nexus);
    pending_.erase(nexus);
    if (reserved_by_ == nexus) reserved_by_.reset();  // SPC-2 §5.5.1: I_T nexus loss
}

void Device::reset(std::uint64_t by_nexus) {
    {
        std::lock_guard lock(mu_);
        reserved_by_.reset();
    }
    raise_unit_attention(asc::BusDeviceResetFunctionOccurred, by_nexus);
}

bool Device::reserve(std::uint64_t nexus) {
    std::lock_guard lock(mu_);
    if (reserved_by_ && *reserved_by_ != nexus) return false;
    reserved_by_ = nexus;
    return true;
}

void Device::release(std::uint64_t nexus) {
    std::lock_guard lock(mu_);
    if (reserved_by_ == nexus) reserved_by_.reset();
}

bool Device::reserved_by_other(std::uint64_t nexus) const {
    std::lock_guard lock(mu_);
    return reserved_by_ && *reserved_by_ != nexus;
}

}  // namespace iscsilab::scsi
