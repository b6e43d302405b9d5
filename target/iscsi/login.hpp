// The login phase as one explicit state machine (RFC 3720 §5.3, §10.12, §10.13): stages,
// transit rules, key negotiation through the table, and the status class/detail of
// every failure. Pure: it sees the world only through LoginEnv.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "target/iscsi/chap.hpp"
#include "target/iscsi/params.hpp"
#include "target/iscsi/pdu.hpp"

namespace iscsilab::iscsi {

// What a login needs to know about the target it asks for.
struct TargetLookup {
    bool exists = false;
    bool enabled = false;
    TargetParams params;
    std::string alias;
    AuthConfig auth;
};

class LoginEnv {
public:
    virtual ~LoginEnv() = default;
    virtual TargetLookup lookup_target(const std::string& name) = 0;
    virtual TargetParams discovery_params() = 0;
    virtual AuthConfig discovery_auth() = 0;
    virtual Random& random() = 0;
    virtual std::uint16_t portal_group_tag() = 0;
    // What CHAP remembers across logins (the driver's); null: nothing.
    virtual ChapMemory* chap_memory() { return nullptr; }
};

enum class LoginState : std::uint8_t {
    Start,                  // no PDU yet
    SecurityNegotiation,    // CSG 0
    OperationalNegotiation, // CSG 1
    FullFeature,            // login succeeded
    Failed,                 // a failure response was sent; the connection closes
};
const char* to_string(LoginState s);

struct LoginReply {
    LoginResponsePdu pdu;           // StatSN/ExpCmdSN/MaxCmdSN and TSIH are the caller's
    std::vector<KeyValue> keys;
    bool complete = false;          // transit to full feature phase in this reply
    bool failed = false;
    std::string why;                // for logs, on failure
    bool held = false;              // a failure: logged, and its back-off decided
};

class Login {
public:
    explicit Login(LoginEnv& env) : env_(env) {}

    // One Login Request (with its data segment) in, one Login Response out.
    LoginReply step(const LoginRequestPdu& req, std::span<const std::byte> data);

    LoginState state() const { return state_; }
    const NegotiatedParams& result() const { return negotiator_->result(); }
    const TargetParams& target_params() const { return params_; }
    const LoginRequestPdu& first() const { return first_; }
    // The InitiatorName of the first request (empty before it is known).
    const std::string& initiator_name() const { return initiator_name_; }

private:
    LoginReply fail(const LoginRequestPdu& req, std::uint16_t status, std::string why);
    LoginReply reply(const LoginRequestPdu& req);
    void transition(LoginState next);
    std::optional<LoginReply> first_pdu(const LoginRequestPdu& req, const ParsedText& text);

    LoginEnv& env_;
    LoginState state_ = LoginState::Start;
    LoginRequestPdu first_;
    std::string initiator_name_;
    TargetParams params_;
    std::unique_ptr<Negotiator> negotiator_;
    Bytes partial_;               // text of a request split with the C bit
    AuthConfig auth_;
    std::unique_ptr<ChapAuthenticator> chap_;
    bool method_chosen_ = false;
    bool auth_done_ = false;
    bool tpgt_sent_ = false;
    bool offers_made_ = false;
};

}  // namespace iscsilab::iscsi
