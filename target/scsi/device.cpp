#include "target/scsi/device.hpp"

#include <algorithm>
#include <utility>

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

std::optional<Asc> Device::take_unit_attention_locked(std::uint64_t nexus) {
    know(nexus);
    auto& q = pending_[nexus];
    if (q.empty()) return std::nullopt;
    Asc a = q.front();
    q.pop_front();
    return a;
}

std::optional<Asc> Device::take_unit_attention(std::uint64_t nexus) {
    std::lock_guard lock(mu_);
    return take_unit_attention_locked(nexus);
}

std::optional<Asc> Device::peek_unit_attention(std::uint64_t nexus) {
    std::lock_guard lock(mu_);
    know(nexus);
    auto& q = pending_[nexus];
    if (q.empty()) return std::nullopt;
    return q.front();
}

namespace {
// The conditions SCST reports as asynchronous events where the transport can (scst_gen_aen_or_ua):
// a changed LUN inventory and a changed capacity.
bool reported_as_event(Asc code) {
    return code == asc::ReportedLunsDataHasChanged || code == asc::CapacityDataHasChanged;
}
}  // namespace

void Device::raise_unit_attention(Asc code, std::optional<std::uint64_t> except) {
    std::set<std::uint64_t> told;
    if (reported_as_event(code)) {
        // SAM-5 §6.5: an event reported asynchronously is not also a unit attention for
        // that nexus; the others (no connection, a transport that cannot) get one.
        std::vector<std::shared_ptr<const Nexus>> live;
        {
            std::lock_guard lock(mu_);
            for (const auto& [id, w] : nexuses_)
                if (auto n = w.lock(); n && n->report_event && !(except && *except == id)) live.push_back(n);
        }
        const Sense sense{SenseKey::UnitAttention, code};
        for (const auto& n : live)
            if (n->report_event(*this, sense)) told.insert(n->id);
    }
    std::lock_guard lock(mu_);
    for (auto n : known_) {
        if ((except && *except == n) || told.count(n)) continue;
        auto& q = pending_[n];
        if (std::find(q.begin(), q.end(), code) == q.end()) q.push_back(code);
    }
}

void Device::forget_nexus(std::uint64_t nexus) {
    std::lock_guard lock(mu_);
    known_.erase(nexus);
    nexuses_.erase(nexus);
    pending_.erase(nexus);
    if (reserved_by_ == nexus) reserved_by_.reset();  // SPC-2 §5.5.1: I_T nexus loss
}

void Device::reset(std::uint64_t by_nexus) {
    {
        std::lock_guard lock(mu_);
        reserved_by_.reset();
    }
    // SAM-5 §6.6: a unit attention for every I_T nexus, the one that asked included
    // (libiscsi's MultipathIO.Reset checks each path, the resetting one too).
    (void)by_nexus;
    raise_unit_attention(asc::BusDeviceResetFunctionOccurred);
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

std::shared_ptr<DeviceGroup> Device::alua_group() const {
    std::lock_guard lock(mu_);
    return alua_group_;
}

void Device::set_alua_group(std::shared_ptr<DeviceGroup> group) {
    std::lock_guard lock(mu_);
    alua_group_ = std::move(group);
}

bool Device::spc2_reserved() const {
    std::lock_guard lock(mu_);
    return reserved_by_.has_value();
}

Device::Admission Device::admission(const std::shared_ptr<const Nexus>& nexus, bool take_ua) {
    Admission a;
    std::lock_guard lock(mu_);
    meet_locked(nexus);
    if (take_ua) a.unit_attention = take_unit_attention_locked(nexus->id);
    a.reserved_by_other = reserved_by_ && *reserved_by_ != nexus->id;
    a.spc2_reserved = reserved_by_.has_value();
    a.group = alua_group_;
    return a;
}

void Device::meet_locked(const std::shared_ptr<const Nexus>& nexus) {
    auto& slot = nexuses_[nexus->id];
    if (slot.expired()) slot = nexus;
}

void Device::meet(const std::shared_ptr<const Nexus>& nexus) {
    std::lock_guard lock(mu_);
    meet_locked(nexus);
}

std::vector<std::shared_ptr<const Nexus>> Device::nexuses() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<const Nexus>> v;
    for (const auto& [id, w] : nexuses_)
        if (auto n = w.lock()) v.push_back(n);
    return v;
}

void Device::raise_unit_attention_for(std::uint64_t nexus, Asc code) {
    std::lock_guard lock(mu_);
    know(nexus);
    auto& q = pending_[nexus];
    if (std::find(q.begin(), q.end(), code) == q.end()) q.push_back(code);
}

std::string Device::set_state_store(std::shared_ptr<StateStore> store) {
    {
        std::lock_guard lock(mu_);
        state_ = store;
    }
    if (!store) return {};
    const Bytes saved = store->load(name_);
    if (saved.empty()) return {};
    return pr_.load(saved);
}

bool Device::persists_reservations() const {
    std::lock_guard lock(mu_);
    return state_ != nullptr;
}

void Device::save_reservations(Bytes state, std::uint64_t version, std::function<void(bool)> done) {
    {
        std::lock_guard lock(save_mu_);
        if (version <= saved_version_) return done(true);  // a newer state is already written
        if (saving_) {
            // One write at a time, so an older state never lands over a newer one; the
            // newest waiting state replaces an older waiting one.
            if (next_save_ && next_save_->version > version) {
                next_save_->done.push_back(std::move(done));
            } else {
                std::vector<std::function<void(bool)>> waiting;
                if (next_save_) waiting = std::move(next_save_->done);
                waiting.push_back(std::move(done));
                next_save_ = PendingSave{std::move(state), version, std::move(waiting)};
            }
            return;
        }
        saving_ = true;
    }
    start_save(PendingSave{std::move(state), version, {std::move(done)}});
}

void Device::start_save(PendingSave job) {
    std::shared_ptr<StateStore> store;
    {
        std::lock_guard lock(mu_);
        store = state_;
    }
    if (!store) {
        std::lock_guard lock(save_mu_);
        saving_ = false;
        for (auto& d : job.done) d(false);
        return;
    }
    const std::uint64_t version = job.version;
    auto waiting = std::make_shared<std::vector<std::function<void(bool)>>>(std::move(job.done));
    store->save(name_, std::move(job.state), [this, version, waiting](bool ok) {
        std::optional<PendingSave> next;
        {
            std::lock_guard lock(save_mu_);
            if (ok) saved_version_ = std::max(saved_version_, version);
            next = std::exchange(next_save_, std::nullopt);
            if (!next) saving_ = false;
        }
        for (auto& d : *waiting) d(ok);
        if (next) start_save(std::move(*next));
    });
}

}  // namespace iscsilab::scsi
