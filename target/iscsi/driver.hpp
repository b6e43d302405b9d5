// The iSCSI target driver (targets/iscsi in SCST's tree): its targets, the sessions and
// connections they have, session reinstatement, and the entry point for a new
// transport connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "target/iscsi/limits.hpp"
#include "target/iscsi/params.hpp"
#include "target/iscsi/target_node.hpp"
#include "target/log.hpp"
#include "target/ports.hpp"
// ---- CHAP hardening: what authentication remembers (auth_guard.hpp) ----
#include "target/iscsi/auth_guard.hpp"
// ---- end CHAP hardening ----

namespace iscsilab::iscsi {

class Connection;
class Session;
class NexusWork;

// Something to say about what happened, for the runtime's log (never secrets): lines
// with a level and a kind (target/log.hpp), of the "iscsi" trace_level.
using EventLog = LogSink;

class IscsiDriver {
public:
    explicit IscsiDriver(Random& random) : random_(random) {}
    ~IscsiDriver();

    // Targets. Each returns an error text, empty on success.
    std::string add_target(const std::string& name);
    std::string del_target(const std::string& name);
    std::shared_ptr<TargetNode> find_target(const std::string& name) const;
    std::vector<std::shared_ptr<TargetNode>> targets() const;
    // SCST: a target may be enabled only while its rel_tgt_id is unique.
    std::string enable_target(const std::string& name, bool on);

    bool enabled() const { return enabled_.load(); }
    void set_enabled(bool on) { enabled_.store(on); }
    TargetParams discovery_params() const;
    // Discovery CHAP (targets/iscsi/IncomingUser, OutgoingUser) and the iSNS server
    // setting. iSNSServer is kept and shown; this target never contacts it.
    std::string add_discovery_credential(const std::string& attr, const std::string& value);
    std::string del_discovery_credential(const std::string& attr, const std::string& value);
    CredentialSet discovery_credentials() const;
    std::string isns_server() const;
    void set_isns_server(const std::string& v);
    std::uint16_t portal_group_tag() const { return 1; }

    // A transport connection arrived. The driver keeps the Connection alive until it
    // closes. Its events run on executor; its timers on clock. Past max_connections or
    // max_pending_logins the stream is closed at once (no PDU has been read: there is
    // nobody to answer yet).
    void accept(std::shared_ptr<ByteStream> stream, Executor& executor, Clock& clock);
    std::size_t connection_count() const;
    std::size_t pending_login_count() const;
    // A connection left the login phase (to full feature phase, or closed).
    void login_ended();

    DriverLimits limits() const;
    std::string set_limit(std::string_view name, std::string_view value);
    // A refusal of kind (logged once while they go on; RefusalLog).
    void refused(std::string_view kind, std::string_view detail);
    void granted(std::string_view kind);
    std::map<std::string, std::uint64_t> refusal_totals() const { return refusals_.totals(); }

    // Sessions (called by connections on their own executor).
    // nullptr past max_sessions or max_sessions_per_initiator (a session it reinstates
    // does not count); refusal then says which.
    std::shared_ptr<Session> create_session(const std::shared_ptr<Connection>& conn,
                                            const struct NegotiatedParams& params,
                                            const TargetParams& tparams,
                                            const std::array<std::byte, 6>& isid,
                                            Executor& executor, std::string* refusal = nullptr);
    void remove_session(const Session* s);
    void remove_connection(const Connection* c);
    std::vector<std::shared_ptr<Session>> sessions() const;
    std::vector<std::shared_ptr<Session>> sessions_of(const std::string& target) const;
    // Ask every session of a target to run fn on its own executor.
    void for_each_session_of(const std::string& target,
                             const std::function<void(const std::shared_ptr<Session>&)>& fn) const;

    // ---- logs (target/log.hpp) ----
    void set_log(EventLog log) { log_ = std::move(log); }
    //   driver_.log(LogLevel::warning, Trace::login, "login of ... failed: ...");
    void log(LogLevel level, Trace kind, std::string_view what,
             SourceLocation where = SourceLocation::current()) const {
        if (log_) log_(LogLine{level, kind, "iscsi", what, where});
    }
    // The short form: an info line about a connection (kind conn).
    void log(std::string_view what, SourceLocation where = SourceLocation::current()) const {
        log(LogLevel::info, Trace::conn, what, where);
    }
    // ---- end logs ----
    // ---- CHAP hardening: failed logins back off; CHAP values are never used twice ----
    LoginBackoff& login_backoff() { return login_backoff_; }
    ChapMemory& chap_memory() { return chap_memory_; }
    // ---- end CHAP hardening ----
    // Told of every broken invariant of the core (invariant.hpp), one line each, after
    // the log; the connection it concerns closes either way. Set before the first
    // connection; it runs on the connection's executor.
    void set_invariant_handler(std::function<void(std::string_view)> handler) {
        invariant_handler_ = std::move(handler);
    }
    void invariant_failed(std::string_view line) const {
        log(LogLevel::error, Trace::special, "invariant broken: " + std::string(line));
        if (invariant_handler_) invariant_handler_(line);
    }
    Random& random() { return random_; }

private:
    Random& random_;
    std::atomic<bool> enabled_{false};  // SCST: targets/iscsi/enabled is 0 by default
    mutable std::mutex mu_;
    std::map<std::string, std::shared_ptr<TargetNode>> targets_;
    CredentialSet discovery_creds_;
    std::string isns_server_;
    // Keyed by creation order (connection id, nexus id), never by address: a walk over
    // them (a cold reset, a reinstatement search) must go the same way in every run of a
    // seed, whatever the heap did before (determinism, scenarios/README.md).
    std::map<std::uint64_t, std::shared_ptr<Connection>> connections_;
    std::map<std::uint64_t, std::shared_ptr<Session>> sessions_;
    // Per nexus ("initiator port|target"): kept while a session or a task holds it.
    std::map<std::string, std::weak_ptr<NexusWork>> nexus_work_;
    // Per initiator name: its share of the bound on data buffers (MemoryShare).
    std::map<std::string, std::weak_ptr<MemoryShare>> memory_shares_;
    std::uint32_t next_tid_ = 1;
    std::uint16_t next_tsih_ = 1;
    std::uint64_t next_nexus_ = 1;
    std::uint64_t next_conn_ = 1;
    DriverLimits limits_;
    std::size_t pending_logins_ = 0;
    RefusalLog refusals_;
    EventLog log_;
    // ---- CHAP hardening ----
    LoginBackoff login_backoff_;
    ChapMemory chap_memory_;
    // ---- end CHAP hardening ----
    std::function<void(std::string_view)> invariant_handler_;
};

}  // namespace iscsilab::iscsi
