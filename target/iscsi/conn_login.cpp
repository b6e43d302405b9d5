// Login Request handling on a connection: runs the Login state machine, sends its
// responses, and on success creates the session (RFC 3720 §5.3, §10.12-10.13).
#include <cstdio>

#include "target/defects.hpp"
#include "target/iscsi/connection.hpp"
#include "target/iscsi/driver.hpp"


namespace iscsilab::iscsi {

void Connection::handle_login(Pdu& pdu) {
    // A failed login whose response waits out its back-off (send_login_reply): nothing
    // else is answered meanwhile, so nothing tells the initiator early that it failed.
    if (login_ && login_->state() == LoginState::Failed) return;
    const auto req = LoginRequestPdu::decode(pdu.bhs);
    if (login_->state() == LoginState::Start) {
        // RFC 3720 §10.13.4: the first response's StatSN starts the connection's count.
        stat_sn_ = req.expstatsn;
        next_status_sn_ = stat_sn_;
        cid_ = req.cid;
    }
    LoginReply reply = login_->step(req, pdu.data);

    if (reply.complete) {
        login_complete(req, reply);
        if (state_ == ConnState::Closed) return;
        if (session_ && session_->work && session_->work->in_flight() > 0 &&
            !defects::on(defects::Defect::reinstate_without_wait)) {
            // RFC 3720 §6.3.5: the session this one reinstates still has tasks at the
            // devices. The final Login Response waits until they are gone.
            driver_.log("connection " + std::to_string(id_) + ": waiting for " +
                        std::to_string(session_->work->in_flight()) + " tasks of the reinstated session");
            std::weak_ptr<Connection> weak = shared_from_this();
            Executor* ex = &executor_;
            session_->work->when_idle([weak, ex, req, reply] {
                ex->post([weak, req, reply]() mutable {
                    if (auto self = weak.lock(); self && self->state_ == ConnState::InLogin)
                        self->send_login_reply(req, reply);
                });
            });
            return;
        }
    }
    send_login_reply(req, reply);
}

void Connection::send_login_reply(const LoginRequestPdu& req, LoginReply& reply) {
    if (reply.failed && !reply.held) {
        reply.held = true;  // said and decided once
        if (hold_failed_login(req, reply)) return;
    }
    std::string text = encode_text(reply.keys);
    reply.pdu.sn = status_sn();
    reply.pdu.sn.expcmdsn = session_ ? session_->exp_cmdsn() : req.cmdsn;
    reply.pdu.sn.maxcmdsn = session_ ? session_->max_cmdsn() : req.cmdsn;
    if (session_) reply.pdu.tsih = session_->tsih();
    const auto* first = reinterpret_cast<const std::byte*>(text.data());
    Bytes data(first, first + text.size());
    const auto dsl = static_cast<std::uint32_t>(data.size());
    send(reply.pdu.encode(dsl), Slice::own(std::move(data)));

    if (reply.failed) {
        close("login failed");
        return;
    }
    if (reply.complete) {
        // RFC 3720 §12.1: digests apply from the first PDU after the login response.
        const NegotiatedParams& p = session_->params();
        reader_.set_digests(DigestSettings{p.header_digest, p.data_digest});
        tx_digests_ = DigestSettings{p.header_digest, p.data_digest};
        data_in_may_stay_ = !p.data_digest && stream_->takes_wire_sources();
        reader_.set_max_data_segment_length(p.max_recv_data_segment_length);
        if (!transition(ConnState::FullFeature)) return;
        if (login_timer_) {
            clock_.cancel(login_timer_);
            login_timer_ = TimerId{};
        }
        arm_timers();
    }
}

void Connection::login_complete(const LoginRequestPdu& req, LoginReply& reply) {
    NegotiatedParams p = login_->result();
    TargetParams tp = login_->target_params();
    if (p.session_type == SessionType::Normal) {
        auto target = driver_.find_target(p.target_name);
        if (!target || !target->enabled()) {
            // The target went away between the first PDU and now.
            reply.complete = false;
            reply.failed = true;
            reply.why = "target " + p.target_name + " no longer available";
            reply.pdu.transit = false;
            reply.pdu.status_class = 0x02;
            reply.pdu.status_detail = 0x04;  // Target Removed
            reply.keys.clear();
            return;
        }
    }
    std::string refusal;
    session_ = driver_.create_session(shared_from_this(), p, tp, req.isid, executor_, &refusal);
    if (!session_) {
        // RFC 3720 §10.13.5: Status-Class 3 (target error), Out of resources (0x0302).
        const std::string kind = refusal.substr(0, refusal.find(' '));
        driver_.refused(kind, "session for " + p.initiator_name + " from " + stream_->peer() + " refused: " + refusal);
        reply.complete = false;
        reply.failed = true;
        reply.why = refusal;
        reply.pdu.transit = false;
        reply.pdu.status_class = 0x03;
        reply.pdu.status_detail = 0x02;
        reply.keys.clear();
        return;
    }
    driver_.granted("max_sessions");
    driver_.granted("max_sessions_per_initiator");
    session_->start_window(login_->first().cmdsn);
    driver_.log("connection " + std::to_string(id_) + " (" + stream_->peer() + "): " +
                (p.session_type == SessionType::Discovery ? "discovery" : "normal") +
                " session for " + p.initiator_name +
                (p.target_name.empty() ? std::string() : " to " + p.target_name));
    login_.reset();
}

// ---- CHAP hardening: failed logins are logged, and back off ------------------------------

bool Connection::hold_failed_login(const LoginRequestPdu& req, LoginReply& reply) {
    const std::uint16_t status = static_cast<std::uint16_t>((reply.pdu.status_class << 8) | reply.pdu.status_detail);
    const std::string name = login_ ? login_->initiator_name() : std::string();
    char code[8];
    std::snprintf(code, sizeof code, "0x%04x", status);
    std::string line = "connection " + std::to_string(id_) + " (" + stream_->peer() + "): login of " +
                       (name.empty() ? std::string("an unnamed initiator") : name) + " failed (" + code + "): " +
                       reply.why;
    if (status != login_status::AuthenticationFailure) {
        // Out of resources is the limits' to tell, once per episode (RefusalLog).
        if (status != login_status::OutOfResources)
            driver_.log(reply.pdu.status_class == 3 ? LogLevel::warning : LogLevel::info, Trace::login, line);
        return false;
    }
    // Authentication failed: the response waits, longer at each failure of this
    // initiator or from this address (auth_guard.hpp). The wait is a timer of this
    // connection: nothing else waits for it.
    const auto v = driver_.login_backoff().failed(name, stream_->peer(), clock_.now());
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(v.delay).count();
    char wait[32];
    std::snprintf(wait, sizeof wait, "%lld.%03lld s", static_cast<long long>(ms / 1000), static_cast<long long>(ms % 1000));
    line += "; failure " + std::to_string(v.by_name) + " of this initiator, " + std::to_string(v.by_address) +
            " from its address: answered after " + wait;
    driver_.log(LogLevel::warning, Trace::login, line);
    if (v.delay <= Nanos{0}) return false;
    // The login timer gives way to this one (close() cancels either).
    if (login_timer_) clock_.cancel(login_timer_);
    std::weak_ptr<Connection> weak = shared_from_this();
    login_timer_ = clock_.after(v.delay, [weak, req, reply]() mutable {
        auto self = weak.lock();
        if (!self || self->state_ != ConnState::InLogin) return;
        self->login_timer_ = TimerId{};
        self->send_login_reply(req, reply);
    });
    return true;
}

ChapMemory* Connection::chap_memory() { return &driver_.chap_memory(); }

}  // namespace iscsilab::iscsi
