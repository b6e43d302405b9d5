#include "target/iscsi/login.hpp"

#include <algorithm>

namespace iscsilab::iscsi {

const char* to_string(LoginState s) {
    switch (s) {
        case LoginState::Start: return "Start";
        case LoginState::SecurityNegotiation: return "SecurityNegotiation";
        case LoginState::OperationalNegotiation: return "OperationalNegotiation";
        case LoginState::FullFeature: return "FullFeature";
        case LoginState::Failed: return "Failed";
    }
    return "?";
}

void Login::transition(LoginState next) {
    // The only moves the RFC allows: forward through the stages, or to Failed.
    auto rank = [](LoginState s) { return static_cast<int>(s); };
    if (next != LoginState::Failed && rank(next) < rank(state_))
        throw std::logic_error(std::string("login cannot go from ") + to_string(state_) + " to " +
                               to_string(next));
    state_ = next;
}

LoginReply Login::fail(const LoginRequestPdu& req, std::uint16_t status, std::string why) {
    transition(LoginState::Failed);
    LoginReply r;
    r.pdu.itt = req.itt;
    r.pdu.isid = req.isid;
    r.pdu.tsih = 0;
    r.pdu.version_max = 0;
    r.pdu.version_active = 0;
    r.pdu.csg = req.csg;
    r.pdu.status_class = static_cast<std::uint8_t>(status >> 8);
    r.pdu.status_detail = static_cast<std::uint8_t>(status & 0xff);
    r.failed = true;
    r.why = std::move(why);
    return r;
}

LoginReply Login::reply(const LoginRequestPdu& req) {
    LoginReply r;
    r.pdu.itt = req.itt;
    r.pdu.isid = req.isid;
    r.pdu.tsih = req.tsih;
    r.pdu.version_max = 0;
    r.pdu.version_active = 0;
    r.pdu.csg = req.csg;
    return r;
}

std::optional<LoginReply> Login::first_pdu(const LoginRequestPdu& req, const ParsedText& text) {
    first_ = req;
    // RFC 3720 §10.12.4: we speak version 0x00 only.
    if (req.version_min > 0) return fail(req, login_status::UnsupportedVersion, "version_min > 0");
    if (req.tsih != 0) {
        // Adding a connection to an existing session: one connection per session here.
        return fail(req, login_status::TooManyConnections, "MaxConnections is 1");
    }
    const KeyValue* initiator = nullptr;
    const KeyValue* target = nullptr;
    const KeyValue* type = nullptr;
    for (const auto& kv : text.pairs) {
        if (kv.key == "InitiatorName") initiator = &kv;
        else if (kv.key == "TargetName") target = &kv;
        else if (kv.key == "SessionType") type = &kv;
    }
    // RFC 3720 §12.5: InitiatorName MUST be in the first Login Request.
    if (!initiator || initiator->value.empty())
        return fail(req, login_status::MissingParameter, "no InitiatorName in the first Login Request");
    initiator_name_ = initiator->value;
    const bool discovery = type && type->value == "Discovery";
    if (type && !discovery && type->value != "Normal")
        return fail(req, login_status::SessionTypeNotSupported, "SessionType " + type->value);
    if (discovery) {
        params_ = env_.discovery_params();
        auth_ = env_.discovery_auth();
    } else {
        // RFC 3720 §12.4: TargetName MUST be in the first request of a normal session.
        if (!target || target->value.empty())
            return fail(req, login_status::MissingParameter, "no TargetName for a normal session");
        TargetLookup t = env_.lookup_target(target->value);
        if (!t.exists) return fail(req, login_status::NotFound, "no target " + target->value);
        if (!t.enabled) return fail(req, login_status::ServiceUnavailable, "target " + target->value + " is not enabled");
        params_ = t.params;
        auth_ = t.auth;
    }
    // RFC 3720 §8.2: where authentication is required, a login may not skip it.
    if (auth_.required() && req.csg != 0)
        return fail(req, login_status::AuthenticationFailure, "authentication required: the security stage was skipped");
    negotiator_ = std::make_unique<Negotiator>(params_);
    return std::nullopt;
}

LoginReply Login::step(const LoginRequestPdu& req, std::span<const std::byte> data) {
    if (state_ == LoginState::Failed || state_ == LoginState::FullFeature)
        return fail(req, login_status::InvalidDuringLogin, "login request after the login ended");

    // RFC 3720 §10.12.2: T and C are never both set; CSG/NSG 2 is reserved.
    if (req.transit && req.continue_bit) return fail(req, login_status::InitiatorError, "T and C both set");
    if (req.csg == 2 || req.csg == 3 || (req.transit && (req.nsg == 2 || req.nsg <= req.csg)))
        return fail(req, login_status::InitiatorError, "invalid CSG/NSG");
    if (state_ != LoginState::Start) {
        // RFC 3720 §5.3: ISID, TSIH, CID and ITT stay the same for the whole login.
        if (req.isid != first_.isid || req.tsih != first_.tsih || req.cid != first_.cid)
            return fail(req, login_status::InitiatorError, "ISID/TSIH/CID changed during login");
        const LoginState expected = req.csg == 0 ? LoginState::SecurityNegotiation : LoginState::OperationalNegotiation;
        if (expected != state_) {
            // Going back to security negotiation is not allowed.
            if (state_ == LoginState::SecurityNegotiation && req.csg == 1 && !auth_done_)
                return fail(req, auth_.required() ? login_status::AuthenticationFailure : login_status::InitiatorError,
                            "left the security stage before authentication ended");
            if (!(state_ == LoginState::SecurityNegotiation && req.csg == 1))
                return fail(req, login_status::InitiatorError, "CSG does not match the login stage");
        }
    }

    partial_.insert(partial_.end(), data.begin(), data.end());
    if (partial_.size() > 65536) return fail(req, login_status::OutOfResources, "login text over 64 KiB");
    if (req.continue_bit) {
        // RFC 3720 §10.12.3: more text follows; answer with an empty response.
        if (state_ == LoginState::Start) first_ = req;
        LoginReply r = reply(req);
        r.pdu.csg = req.csg;
        return r;
    }
    ParsedText text = parse_text(partial_);
    partial_.clear();
    if (text.error != TextError::none) return fail(req, login_status::InitiatorError, "malformed login text");

    if (state_ == LoginState::Start) {
        if (auto r = first_pdu(req, text)) return *r;
        transition(req.csg == 0 ? LoginState::SecurityNegotiation : LoginState::OperationalNegotiation);
    } else if (req.csg == 1 && state_ == LoginState::SecurityNegotiation) {
        transition(LoginState::OperationalNegotiation);
    }

    LoginReply r = reply(req);
    std::vector<KeyValue> operational, chap_keys;
    const KeyValue* auth_method = nullptr;
    for (auto& kv : text.pairs) {
        if (kv.key == "AuthMethod") auth_method = &kv;
        else if (kv.key.rfind("CHAP_", 0) == 0) chap_keys.push_back(kv);
        else operational.push_back(kv);
    }
    if ((auth_method || !chap_keys.empty()) && req.csg != 0)
        return fail(req, login_status::InitiatorError, "security keys outside the security stage");
    if (auth_method) {
        if (method_chosen_) return fail(req, login_status::InitiatorError, "AuthMethod sent twice");
        method_chosen_ = true;
        bool none = false, chap = false;
        std::size_t start = 0;
        const std::string& v = auth_method->value;
        while (start <= v.size()) {
            auto comma = v.find(',', start);
            if (comma == std::string::npos) comma = v.size();
            const std::string m = v.substr(start, comma - start);
            none = none || m == "None";
            chap = chap || m == "CHAP";
            start = comma + 1;
        }
        if (auth_.required()) {
            // RFC 3720 §11.1: we pick from the initiator's list; CHAP is what we require.
            if (!chap) return fail(req, login_status::AuthenticationFailure, "CHAP required, not offered");
            r.keys.push_back({"AuthMethod", "CHAP"});
            chap_ = std::make_unique<ChapAuthenticator>(auth_, env_.random(), env_.chap_memory());
        } else if (none) {
            r.keys.push_back({"AuthMethod", "None"});
            auth_done_ = true;
        } else {
            return fail(req, login_status::AuthenticationFailure, "no acceptable AuthMethod (no CHAP secret configured)");
        }
    }
    if (!chap_keys.empty()) {
        if (!chap_) return fail(req, login_status::AuthenticationFailure, "CHAP keys without AuthMethod=CHAP");
        auto step = chap_->on_keys(chap_keys);
        if (step.failed)
            return fail(req, step.target_error ? login_status::TargetError : login_status::AuthenticationFailure, step.why);
        r.keys.insert(r.keys.end(), step.answers.begin(), step.answers.end());
        if (chap_->state() == ChapAuthenticator::State::Done) auth_done_ = true;
    }
    if (req.csg == 0 && !auth_method && !method_chosen_ && !auth_.required()) auth_done_ = true;

    auto out = negotiator_->negotiate(operational, false);
    if (out.failure) return fail(req, *out.failure, out.why);
    r.keys.insert(r.keys.end(), out.answers.begin(), out.answers.end());

    const NegotiatedParams& p = negotiator_->result();
    if (!tpgt_sent_ && p.session_type == SessionType::Normal) {
        // RFC 3720 §12.9: the target returns its portal group tag in the first response.
        r.keys.push_back({"TargetPortalGroupTag", std::to_string(env_.portal_group_tag())});
        tpgt_sent_ = true;
    }

    if (req.transit && !auth_done_) {
        // RFC 3720 §5.3.1: the target holds the security stage until authentication ends.
        if (req.csg == 0) return r;
    }
    if (req.transit) {
        bool can_transit = true;
        if (req.nsg == 3 && !offers_made_) {
            // Before full feature phase: the declarations we owe, and the keys we want
            // changed. An offer that needs an answer holds the transit for one round;
            // from the security stage there is no round left to ask in.
            offers_made_ = true;
            for (const auto& kv : negotiator_->closing_offers()) {
                const KeyDef* d = find_key(kv.key);
                const bool needs_answer = d && d->kind != KeyKind::Declarative;
                if (needs_answer && req.csg != 1) continue;
                r.keys.push_back(kv);
                if (needs_answer) can_transit = false;
            }
        }
        if (can_transit) {
            r.pdu.transit = true;
            r.pdu.nsg = req.nsg;
            if (req.nsg == 3) {
                transition(LoginState::FullFeature);
                r.complete = true;
            } else if (req.nsg == 1) {
                transition(LoginState::OperationalNegotiation);
            }
        }
    }
    return r;
}

}  // namespace iscsilab::iscsi
