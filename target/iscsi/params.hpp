// Login and text negotiation keys, driven by one table (RFC 3720 §12 and §5.2-5.3).
// Each key has a kind (declarative, boolean AND/OR, numerical min/max, list), a phase
// (security, operational, full feature), a scope and its RFC default.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace iscsilab::iscsi {

enum class KeyKind : std::uint8_t {
    Declarative,  // each side states its own value; no answer needed (RFC 3720 §5.2.2)
    BoolOr,       // result: offered OR ours (RFC 3720 §5.2.2)
    BoolAnd,      // result: offered AND ours
    NumMin,       // result: the smaller of offered and ours
    NumMax,       // result: the larger
    List,         // result: the first offered value we support
};

enum class KeyUse : std::uint8_t {
    LeadingOnly,      // LO: leading login of a session, operational stage
    InitializeOnly,   // IO: any login, not full feature phase
    Security,         // only in the security negotiation stage
    Any,              // also in full feature phase (Text Request)
    Declaration,      // declarative names (InitiatorName, SessionType, ...)
};

struct KeyDef {
    std::string_view name;
    KeyKind kind;
    KeyUse use;
    std::uint32_t min = 0, max = 0;       // numerical range
    std::string_view rfc_default;        // "" when none
    bool discovery = false;              // also meaningful in discovery sessions
    std::string_view rfc;                // where the rule comes from
};

// The table: every key of RFC 3720 §12 (plus §11 security keys).
std::span<const KeyDef> key_table();
const KeyDef* find_key(std::string_view name);

// "key=value\0key=value\0" (RFC 3720 §5.1). Order is kept.
struct KeyValue {
    std::string key, value;
};
enum class TextError : std::uint8_t { none, missing_equals, bad_key_name, too_long };
struct ParsedText {
    std::vector<KeyValue> pairs;
    TextError error = TextError::none;
};
ParsedText parse_text(std::span<const std::byte> data);
std::string encode_text(const std::vector<KeyValue>& pairs);

std::optional<std::uint32_t> parse_number(std::string_view v);  // decimal or 0x hex
std::optional<bool> parse_bool(std::string_view v);             // Yes / No

// The values a target offers and accepts: iSCSI-SCST's per-target settable parameters
// (iscsi-scst-README-2.0.0: targets/iscsi/<target>/...), with its defaults.
struct TargetParams {
    bool initial_r2t = false;
    bool immediate_data = true;
    std::uint32_t max_recv_data_segment_length = 1048576;
    std::uint32_t max_xmit_data_segment_length = 1048576;
    std::uint32_t max_burst_length = 1048576;
    std::uint32_t first_burst_length = 65536;
    std::uint32_t max_outstanding_r2t = 32;
    std::vector<std::string> header_digest{"None"};  // accepted, in preference order
    std::vector<std::string> data_digest{"None"};
    std::uint32_t queued_commands = 32;
    std::uint32_t rsp_timeout_s = 30;
    std::uint32_t nop_in_interval_s = 30;
    std::uint32_t default_time2wait = 2;
    std::uint32_t default_time2retain = 0;   // ERL 0 only: nothing to retain
    std::uint32_t max_error_recovery_level = 0;

    // Set one attribute by its SCST name (InitialR2T, QueuedCommands, ...). Returns an
    // error text, empty when the value was accepted.
    std::string set(std::string_view name, std::string_view value);
    std::optional<std::string> get(std::string_view name) const;
    static std::span<const std::string_view> attribute_names();
};

enum class SessionType : std::uint8_t { Normal, Discovery };

// What a login settled on; the session and connection run by these.
struct NegotiatedParams {
    SessionType session_type = SessionType::Normal;
    std::string initiator_name, initiator_alias, target_name;
    bool header_digest = false, data_digest = false;
    bool initial_r2t = true, immediate_data = true;
    bool data_pdu_in_order = true, data_sequence_in_order = true;
    std::uint32_t max_recv_data_segment_length = 8192;   // what we accept (we declared)
    std::uint32_t max_xmit_data_segment_length = 8192;   // what we send: the initiator's limit, capped by ours
    std::uint32_t initiator_max_recv_data_segment_length = 8192;  // what the initiator declared (RFC 3720 §12.12)
    std::uint32_t max_burst_length = 262144, first_burst_length = 65536;
    std::uint32_t max_outstanding_r2t = 1, max_connections = 1;
    std::uint32_t default_time2wait = 2, default_time2retain = 20;
    std::uint32_t error_recovery_level = 0;
};

// One login's (or text exchange's) negotiation, key by key, by the table's rules.
class Negotiator {
public:
    explicit Negotiator(const TargetParams& ours) : ours_(ours) {}

    struct Outcome {
        std::vector<KeyValue> answers;
        // Set when the offer as a whole must fail the login (RFC 3720 §5.3): status
        // class/detail and why.
        std::optional<std::uint16_t> failure;
        std::string why;
    };

    // Operational or full-feature keys (security keys are the login's business).
    Outcome negotiate(const std::vector<KeyValue>& offered, bool full_feature);

    // Keys the target must still state before the login ends (declarations we owe,
    // and negotiated keys the initiator did not offer whose value we want to change).
    std::vector<KeyValue> closing_offers();

    // Answers to keys that we offered ourselves (RFC 3720 §5.3: the initiator answers).
    void take_answer(const KeyValue& kv);

    NegotiatedParams& result() { return result_; }
    const NegotiatedParams& result() const { return result_; }
    bool offered(std::string_view key) const { return seen_.count(std::string(key)) != 0; }

private:
    std::optional<std::string> apply(const KeyDef& def, const std::string& value,
                                     std::string& why);
    void store(std::string_view key, std::string_view value);
    const TargetParams& ours_;
    NegotiatedParams result_;
    std::map<std::string, std::string, std::less<>> seen_;
    std::map<std::string, std::string, std::less<>> we_offered_;
};

}  // namespace iscsilab::iscsi
