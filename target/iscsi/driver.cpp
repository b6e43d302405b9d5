#include "target/iscsi/driver.hpp"

#include <algorithm>
#include <cstdio>

#include "target/iscsi/connection.hpp"
#include "target/iscsi/session.hpp"

namespace iscsilab::iscsi {

IscsiDriver::~IscsiDriver() = default;

std::string IscsiDriver::add_target(const std::string& name) {
    // RFC 3720 §3.2.6: iqn., eui. or naa. names, at most 223 bytes.
    if (name.empty() || name.size() > 223) return "target name must be 1..223 characters";
    if (name.rfind("iqn.", 0) != 0 && name.rfind("eui.", 0) != 0 && name.rfind("naa.", 0) != 0)
        return "target name '" + name + "' is not an iqn., eui. or naa. name";
    for (char c : name)
        if (c == ' ' || c == '/' || static_cast<unsigned char>(c) < 0x20)
            return "target name '" + name + "' has a character iSCSI names cannot hold";
    std::lock_guard lock(mu_);
    if (targets_.count(name)) return "target " + name + " already exists";
    // SCST initialises rel_tgt_id unique: the smallest id no other target holds.
    std::uint16_t rel = 1;
    for (bool clash = true; clash;) {
        clash = false;
        for (const auto& [n, t] : targets_)
            if (t->rel_tgt_id() == rel) {
                ++rel;
                clash = true;
            }
    }
    targets_[name] = std::make_shared<TargetNode>(name, next_tid_++, rel);
    return {};
}

std::string IscsiDriver::del_target(const std::string& name) {
    std::shared_ptr<TargetNode> t;
    {
        std::lock_guard lock(mu_);
        auto it = targets_.find(name);
        if (it == targets_.end()) return "no target " + name;
        t = it->second;
        targets_.erase(it);
    }
    t->set_enabled(false);
    for_each_session_of(name, [](const std::shared_ptr<Session>& s) {
        std::weak_ptr<Connection> wc = s->connection;
        s->executor().post([wc] {
            if (auto c = wc.lock()) c->close("target deleted");
        });
    });
    return {};
}

std::shared_ptr<TargetNode> IscsiDriver::find_target(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = targets_.find(name);
    return it == targets_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<TargetNode>> IscsiDriver::targets() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<TargetNode>> v;
    for (const auto& [n, t] : targets_) v.push_back(t);
    return v;
}

std::string IscsiDriver::enable_target(const std::string& name, bool on) {
    std::lock_guard lock(mu_);
    auto it = targets_.find(name);
    if (it == targets_.end()) return "no target " + name;
    if (on) {
        for (const auto& [n, t] : targets_)
            if (t != it->second && t->enabled() && t->rel_tgt_id() == it->second->rel_tgt_id())
                return "rel_tgt_id " + std::to_string(t->rel_tgt_id()) + " is also held by enabled target " + n;
    }
    it->second->set_enabled(on);
    return {};
}

TargetParams IscsiDriver::discovery_params() const {
    TargetParams p;
    p.header_digest = {"None", "CRC32C"};
    p.data_digest = {"None", "CRC32C"};
    return p;
}

std::string IscsiDriver::add_discovery_credential(const std::string& attr, const std::string& value) {
    std::lock_guard lock(mu_);
    return discovery_creds_.add(attr, value);
}
std::string IscsiDriver::del_discovery_credential(const std::string& attr, const std::string& value) {
    std::lock_guard lock(mu_);
    return discovery_creds_.del(attr, value);
}
CredentialSet IscsiDriver::discovery_credentials() const {
    std::lock_guard lock(mu_);
    return discovery_creds_;
}
std::string IscsiDriver::isns_server() const {
    std::lock_guard lock(mu_);
    return isns_server_;
}
void IscsiDriver::set_isns_server(const std::string& v) {
    std::lock_guard lock(mu_);
    isns_server_ = v;
}

void IscsiDriver::accept(std::shared_ptr<ByteStream> stream, Executor& executor, Clock& clock) {
    std::shared_ptr<Connection> c;
    std::string refusal;
    {
        std::lock_guard lock(mu_);
        if (limits_.max_connections && connections_.size() >= limits_.max_connections)
            refusal = "max_connections";
        else if (limits_.max_pending_logins && pending_logins_ >= limits_.max_pending_logins)
            refusal = "max_pending_logins";
        else {
            c = std::make_shared<Connection>(*this, stream, executor, clock, next_conn_++);
            connections_[c->id()] = c;
            ++pending_logins_;
        }
    }
    if (!refusal.empty()) {
        refused(refusal, "connection from " + stream->peer() + " closed: " + refusal + " " + limits().get(refusal) + " reached");
        stream->close(refusal + " reached");
        return;
    }
    granted("max_connections");
    granted("max_pending_logins");
    c->start();
}

std::size_t IscsiDriver::connection_count() const {
    std::lock_guard lock(mu_);
    return connections_.size();
}

std::size_t IscsiDriver::pending_login_count() const {
    std::lock_guard lock(mu_);
    return pending_logins_;
}

void IscsiDriver::login_ended() {
    std::lock_guard lock(mu_);
    if (pending_logins_ > 0) --pending_logins_;
}

DriverLimits IscsiDriver::limits() const {
    std::lock_guard lock(mu_);
    return limits_;
}

std::string IscsiDriver::set_limit(std::string_view name, std::string_view value) {
    std::lock_guard lock(mu_);
    return limits_.set(name, value);
}

void IscsiDriver::refused(std::string_view kind, std::string_view detail) {
    if (auto line = refusals_.refused(kind, detail)) log(LogLevel::warning, Trace::conn, *line);
}

void IscsiDriver::granted(std::string_view kind) {
    if (auto line = refusals_.granted(kind)) log(LogLevel::warning, Trace::conn, *line);
}

std::shared_ptr<Session> IscsiDriver::create_session(const std::shared_ptr<Connection>& conn,
                                                     const NegotiatedParams& params,
                                                     const TargetParams& tparams,
                                                     const std::array<std::byte, 6>& isid,
                                                     Executor& executor, std::string* refusal) {
    std::vector<std::shared_ptr<Session>> old;
    std::shared_ptr<Session> s;
    {
        std::lock_guard lock(mu_);
        // RFC 3720 §5.3.5: a new session with the InitiatorName and ISID of an existing
        // one (to the same target) reinstates it: the old session is closed.
        std::size_t of_initiator = 0;
        for (const auto& [p, e] : sessions_) {
            if (e->params().initiator_name == params.initiator_name && e->isid() == isid &&
                e->params().target_name == params.target_name &&
                e->params().session_type == params.session_type)
                old.push_back(e);
            else if (e->params().initiator_name == params.initiator_name)
                ++of_initiator;
        }
        const std::size_t others = sessions_.size() - old.size();
        std::string why;
        if (limits_.max_sessions && others >= limits_.max_sessions) why = "max_sessions";
        else if (limits_.max_sessions_per_initiator && of_initiator >= limits_.max_sessions_per_initiator)
            why = "max_sessions_per_initiator";
        if (!why.empty()) {
            if (refusal) *refusal = why + " " + limits_.get(why) + " reached";
            return nullptr;
        }
        std::uint16_t tsih = next_tsih_++;
        if (tsih == 0) tsih = next_tsih_++;  // TSIH 0 is reserved for "new session"
        auto nexus = std::make_shared<scsi::Nexus>();
        nexus->id = next_nexus_++;
        nexus->initiator_name = params.initiator_name;
        char buf[32];
        std::snprintf(buf, sizeof buf, ",i,0x%02x%02x%02x%02x%02x%02x",
                      static_cast<unsigned>(isid[0]), static_cast<unsigned>(isid[1]),
                      static_cast<unsigned>(isid[2]), static_cast<unsigned>(isid[3]),
                      static_cast<unsigned>(isid[4]), static_cast<unsigned>(isid[5]));
        nexus->initiator_port = params.initiator_name + buf;
        nexus->target_name = params.target_name;
        // PREEMPT AND ABORT from another nexus ends this session's tasks on that device
        // (SPC-4 §5.13.11.2.6), on this session's own executor.
        // SCSI events reach a session in full feature phase as an Asynchronous Message
        // (RFC 3720 §10.9), for a device the session sees as a LUN.
        nexus->report_event = [this, id = nexus->id](const scsi::Device& dev, const scsi::Sense& sense) {
            std::shared_ptr<Session> s;
            {
                std::lock_guard lock(mu_);
                auto it = sessions_.find(id);
                if (it != sessions_.end()) s = it->second;
            }
            if (!s || !s->target()) return false;
            std::shared_ptr<Connection> c = s->connection.lock();
            if (!c || c->state() != ConnState::FullFeature) return false;
            auto luns = s->target()->luns().luns_for(s->params().initiator_name);
            for (const auto& [n, e] : *luns) {
                if (e.device.get() != &dev) continue;
                Bytes data = scsi::encode_sense(sense, dev.descriptor_sense());
                std::weak_ptr<Connection> wc = c;
                s->executor().post([wc, lun = n, data = std::move(data)] {
                    if (auto conn = wc.lock()) conn->report_event(lun, data);
                });
                return true;
            }
            return false;
        };
        // A broken invariant of the SCSI layer, on this session's executor, after what it
        // had already posted (the first completion of a task that ended twice).
        nexus->invariant_broken = [this, id = nexus->id](std::uint32_t itt, std::uint32_t cmdsn, std::string what) {
            std::shared_ptr<Session> s;
            {
                std::lock_guard lock(mu_);
                auto it = sessions_.find(id);
                if (it != sessions_.end()) s = it->second;
            }
            if (!s) return;
            std::weak_ptr<Connection> wc = s->connection;
            s->executor().post([wc, itt, cmdsn, what = std::move(what)] {
                if (auto c = wc.lock()) c->scsi_invariant_broken(itt, cmdsn, what);
            });
        };
        nexus->abort_tasks = [this, id = nexus->id](const scsi::Device& dev, std::optional<std::uint32_t> except,
                                                    std::function<void()> done) {
            std::shared_ptr<Session> s;
            {
                std::lock_guard lock(mu_);
                auto it = sessions_.find(id);
                if (it != sessions_.end()) s = it->second;
            }
            if (!s || !s->target()) return done();
            std::weak_ptr<Connection> wc = s->connection;
            const std::string initiator = s->params().initiator_name;
            auto target = s->target();
            s->executor().post([wc, target, initiator, &dev, except, done = std::move(done)]() mutable {
                auto c = wc.lock();
                if (!c) return done();
                auto luns = target->luns().luns_for(initiator);
                for (const auto& [n, e] : *luns)
                    if (e.device.get() == &dev) return c->abort_tasks(n, std::move(done), except);
                done();
            });
        };
        std::shared_ptr<TargetNode> target;
        if (params.session_type == SessionType::Normal) {
            auto it = targets_.find(params.target_name);
            if (it != targets_.end()) target = it->second;
            if (target) nexus->relative_target_port = target->rel_tgt_id();
        }
        s = std::make_shared<Session>(tsih, isid, params, tparams, target, nexus, executor);
        s->connection = conn;
        if (params.session_type == SessionType::Normal) {
            std::erase_if(nexus_work_, [](const auto& e) { return e.second.expired(); });
            auto& w = nexus_work_[nexus->initiator_port + "|" + params.target_name];
            s->work = w.lock();
            if (!s->work) {
                s->work = std::make_shared<NexusWork>();
                w = s->work;
            }
        }
        std::erase_if(memory_shares_, [](const auto& e) { return e.second.expired(); });
        auto& share = memory_shares_[params.initiator_name];
        s->memory_share = share.lock();
        if (!s->memory_share) {
            s->memory_share = std::make_shared<MemoryShare>();
            share = s->memory_share;
        }
        sessions_[s->nexus()->id] = s;
    }
    for (auto& o : old) {
        o->reinstating = true;
        std::weak_ptr<Connection> wc = o->connection;
        o->executor().post([wc] {
            if (auto c = wc.lock()) c->close("session reinstated");
        });
        remove_session(o.get());
    }
    return s;
}

void IscsiDriver::remove_session(const Session* s) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(s->nexus()->id);
    if (it != sessions_.end() && it->second.get() == s) sessions_.erase(it);
}

void IscsiDriver::remove_connection(const Connection* c) {
    std::shared_ptr<Connection> keep;  // destroyed outside the lock
    std::lock_guard lock(mu_);
    auto it = connections_.find(c->id());
    if (it != connections_.end() && it->second.get() == c) {
        keep = std::move(it->second);
        connections_.erase(it);
    }
}

std::vector<std::shared_ptr<Session>> IscsiDriver::sessions() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Session>> v;
    for (const auto& [p, s] : sessions_) v.push_back(s);
    return v;
}

std::vector<std::shared_ptr<Session>> IscsiDriver::sessions_of(const std::string& target) const {
    std::vector<std::shared_ptr<Session>> v;
    for (auto& s : sessions())
        if (s->target() && s->target()->name() == target) v.push_back(s);
    return v;
}

void IscsiDriver::for_each_session_of(const std::string& target,
                                      const std::function<void(const std::shared_ptr<Session>&)>& fn) const {
    for (const auto& s : sessions_of(target)) fn(s);
}

}  // namespace iscsilab::iscsi
