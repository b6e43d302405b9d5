#include "target/iscsi/params.hpp"

#include "target/parse.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace iscsilab::iscsi {
namespace {

constexpr std::uint32_t k24 = 16777215;

// RFC 3720 §12 (and §11 for the security keys). The "discovery" column follows §12's
// notes on which keys a discovery session may negotiate.
constexpr std::array kKeys = {
    KeyDef{"AuthMethod", KeyKind::List, KeyUse::Security, 0, 0, "None", true, "§11.1"},
    KeyDef{"HeaderDigest", KeyKind::List, KeyUse::InitializeOnly, 0, 0, "None", true, "§12.1"},
    KeyDef{"DataDigest", KeyKind::List, KeyUse::InitializeOnly, 0, 0, "None", true, "§12.1"},
    KeyDef{"MaxConnections", KeyKind::NumMin, KeyUse::LeadingOnly, 1, 65535, "1", false, "§12.2"},
    KeyDef{"SendTargets", KeyKind::Declarative, KeyUse::Any, 0, 0, "", true, "§12.3"},
    KeyDef{"TargetName", KeyKind::Declarative, KeyUse::Declaration, 0, 0, "", true, "§12.4"},
    KeyDef{"InitiatorName", KeyKind::Declarative, KeyUse::Declaration, 0, 0, "", true, "§12.5"},
    KeyDef{"TargetAlias", KeyKind::Declarative, KeyUse::Declaration, 0, 0, "", true, "§12.6"},
    KeyDef{"InitiatorAlias", KeyKind::Declarative, KeyUse::Declaration, 0, 0, "", true, "§12.7"},
    KeyDef{"TargetAddress", KeyKind::Declarative, KeyUse::Declaration, 0, 0, "", true, "§12.8"},
    KeyDef{"TargetPortalGroupTag", KeyKind::Declarative, KeyUse::Declaration, 0, 65535, "", true, "§12.9"},
    KeyDef{"InitialR2T", KeyKind::BoolOr, KeyUse::LeadingOnly, 0, 0, "Yes", false, "§12.10"},
    KeyDef{"ImmediateData", KeyKind::BoolAnd, KeyUse::LeadingOnly, 0, 0, "Yes", false, "§12.11"},
    KeyDef{"MaxRecvDataSegmentLength", KeyKind::Declarative, KeyUse::Any, 512, k24, "8192", true, "§12.12"},
    KeyDef{"MaxBurstLength", KeyKind::NumMin, KeyUse::LeadingOnly, 512, k24, "262144", false, "§12.13"},
    KeyDef{"FirstBurstLength", KeyKind::NumMin, KeyUse::LeadingOnly, 512, k24, "65536", false, "§12.14"},
    KeyDef{"DefaultTime2Wait", KeyKind::NumMax, KeyUse::LeadingOnly, 0, 3600, "2", true, "§12.15"},
    KeyDef{"DefaultTime2Retain", KeyKind::NumMin, KeyUse::LeadingOnly, 0, 3600, "20", true, "§12.16"},
    KeyDef{"MaxOutstandingR2T", KeyKind::NumMin, KeyUse::LeadingOnly, 1, 65535, "1", false, "§12.17"},
    KeyDef{"DataPDUInOrder", KeyKind::BoolOr, KeyUse::LeadingOnly, 0, 0, "Yes", false, "§12.18"},
    KeyDef{"DataSequenceInOrder", KeyKind::BoolOr, KeyUse::LeadingOnly, 0, 0, "Yes", false, "§12.19"},
    KeyDef{"ErrorRecoveryLevel", KeyKind::NumMin, KeyUse::LeadingOnly, 0, 2, "0", true, "§12.20"},
    KeyDef{"SessionType", KeyKind::Declarative, KeyUse::Declaration, 0, 0, "Normal", true, "§12.21"},
    KeyDef{"OFMarker", KeyKind::BoolAnd, KeyUse::InitializeOnly, 0, 0, "No", true, "§12.23"},
    KeyDef{"IFMarker", KeyKind::BoolAnd, KeyUse::InitializeOnly, 0, 0, "No", true, "§12.23"},
    KeyDef{"OFMarkInt", KeyKind::List, KeyUse::InitializeOnly, 1, 65535, "2048", true, "§12.24"},
    KeyDef{"IFMarkInt", KeyKind::List, KeyUse::InitializeOnly, 1, 65535, "2048", true, "§12.24"},
    KeyDef{"CHAP_A", KeyKind::List, KeyUse::Security, 0, 0, "", true, "§11.1.4"},
    KeyDef{"CHAP_I", KeyKind::Declarative, KeyUse::Security, 0, 255, "", true, "§11.1.4"},
    KeyDef{"CHAP_C", KeyKind::Declarative, KeyUse::Security, 0, 0, "", true, "§11.1.4"},
    KeyDef{"CHAP_N", KeyKind::Declarative, KeyUse::Security, 0, 0, "", true, "§11.1.4"},
    KeyDef{"CHAP_R", KeyKind::Declarative, KeyUse::Security, 0, 0, "", true, "§11.1.4"},
};

bool valid_key_char(char c) {
    // RFC 3720 §5.1: key names use letters, digits, '.', '-', '+', '@', '_'.
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '+' || c == '@' || c == '_';
}

std::string yes_no(bool b) { return b ? "Yes" : "No"; }

std::vector<std::string> split_list(std::string_view v) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= v.size()) {
        auto comma = v.find(',', start);
        if (comma == std::string_view::npos) comma = v.size();
        out.emplace_back(v.substr(start, comma - start));
        start = comma + 1;
    }
    return out;
}

std::string join_list(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) {
        if (!s.empty()) s += ',';
        s += x;
    }
    return s;
}

}  // namespace

std::span<const KeyDef> key_table() { return kKeys; }

const KeyDef* find_key(std::string_view name) {
    for (const auto& k : kKeys)
        if (k.name == name) return &k;
    return nullptr;
}

ParsedText parse_text(std::span<const std::byte> data) {
    ParsedText out;
    std::string_view all(reinterpret_cast<const char*>(data.data()), data.size());
    std::size_t pos = 0;
    while (pos < all.size()) {
        auto nul = all.find('\0', pos);
        if (nul == std::string_view::npos) nul = all.size();
        std::string_view item = all.substr(pos, nul - pos);
        pos = nul + 1;
        if (item.empty()) continue;  // padding or a trailing NUL
        auto eq = item.find('=');
        if (eq == std::string_view::npos) {
            out.error = TextError::missing_equals;
            return out;
        }
        std::string_view key = item.substr(0, eq);
        if (key.empty() || key.size() > 63 ||
            !std::all_of(key.begin(), key.end(), valid_key_char)) {
            out.error = key.size() > 63 ? TextError::too_long : TextError::bad_key_name;
            return out;
        }
        std::string_view value = item.substr(eq + 1);
        if (value.size() > 8192) {
            out.error = TextError::too_long;
            return out;
        }
        out.pairs.push_back(KeyValue{std::string(key), std::string(value)});
    }
    return out;
}

std::string encode_text(const std::vector<KeyValue>& pairs) {
    std::string s;
    for (const auto& kv : pairs) {
        s += kv.key;
        s += '=';
        s += kv.value;
        s += '\0';
    }
    return s;
}

std::optional<std::uint32_t> parse_number(std::string_view v) { return parse_u32(v); }

std::optional<bool> parse_bool(std::string_view v) {
    if (v == "Yes") return true;
    if (v == "No") return false;
    return std::nullopt;
}

// ---- TargetParams -------------------------------------------------------------------

namespace {
constexpr std::array<std::string_view, 12> kTargetAttrs = {
    "InitialR2T", "ImmediateData", "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength",
    "MaxBurstLength", "FirstBurstLength", "MaxOutstandingR2T", "HeaderDigest", "DataDigest",
    "QueuedCommands", "RspTimeout", "NopInInterval"};
}

std::span<const std::string_view> TargetParams::attribute_names() { return kTargetAttrs; }

std::string TargetParams::set(std::string_view name, std::string_view value) {
    auto number = [&](std::uint32_t lo, std::uint32_t hi, std::uint32_t& out) -> std::string {
        auto n = parse_number(value);
        if (!n || *n < lo || *n > hi)
            return std::string(name) + ": expected a number in " + std::to_string(lo) + ".." +
                   std::to_string(hi) + ", got '" + std::string(value) + "'";
        out = *n;
        return {};
    };
    auto boolean = [&](bool& out) -> std::string {
        auto b = parse_bool(value);
        if (!b) return std::string(name) + ": expected Yes or No, got '" + std::string(value) + "'";
        out = *b;
        return {};
    };
    auto digest = [&](std::vector<std::string>& out) -> std::string {
        auto items = split_list(value);
        for (const auto& i : items)
            if (i != "None" && i != "CRC32C")
                return std::string(name) + ": expected a list of CRC32C and None, got '" +
                       std::string(value) + "'";
        out = items;
        return {};
    };
    if (name == "InitialR2T") return boolean(initial_r2t);
    if (name == "ImmediateData") return boolean(immediate_data);
    if (name == "MaxRecvDataSegmentLength") return number(512, k24, max_recv_data_segment_length);
    if (name == "MaxXmitDataSegmentLength") return number(512, k24, max_xmit_data_segment_length);
    if (name == "MaxBurstLength") return number(512, k24, max_burst_length);
    if (name == "FirstBurstLength") return number(512, k24, first_burst_length);
    if (name == "MaxOutstandingR2T") return number(1, 65535, max_outstanding_r2t);
    if (name == "HeaderDigest") return digest(header_digest);
    if (name == "DataDigest") return digest(data_digest);
    if (name == "QueuedCommands") return number(1, 2048, queued_commands);
    if (name == "RspTimeout") return number(1, 65535, rsp_timeout_s);
    if (name == "NopInInterval") return number(0, 65535, nop_in_interval_s);
    return "unknown target parameter '" + std::string(name) + "'";
}

std::optional<std::string> TargetParams::get(std::string_view name) const {
    if (name == "InitialR2T") return yes_no(initial_r2t);
    if (name == "ImmediateData") return yes_no(immediate_data);
    if (name == "MaxRecvDataSegmentLength") return std::to_string(max_recv_data_segment_length);
    if (name == "MaxXmitDataSegmentLength") return std::to_string(max_xmit_data_segment_length);
    if (name == "MaxBurstLength") return std::to_string(max_burst_length);
    if (name == "FirstBurstLength") return std::to_string(first_burst_length);
    if (name == "MaxOutstandingR2T") return std::to_string(max_outstanding_r2t);
    if (name == "HeaderDigest") return join_list(header_digest);
    if (name == "DataDigest") return join_list(data_digest);
    if (name == "QueuedCommands") return std::to_string(queued_commands);
    if (name == "RspTimeout") return std::to_string(rsp_timeout_s);
    if (name == "NopInInterval") return std::to_string(nop_in_interval_s);
    return std::nullopt;
}

// ---- Negotiator ---------------------------------------------------------------------

void Negotiator::store(std::string_view key, std::string_view value) {
    auto& r = result_;
    auto num = [&] { return parse_number(value).value_or(0); };
    if (key == "HeaderDigest") r.header_digest = value == "CRC32C";
    else if (key == "DataDigest") r.data_digest = value == "CRC32C";
    else if (key == "InitialR2T") r.initial_r2t = value == "Yes";
    else if (key == "ImmediateData") r.immediate_data = value == "Yes";
    else if (key == "DataPDUInOrder") r.data_pdu_in_order = value == "Yes";
    else if (key == "DataSequenceInOrder") r.data_sequence_in_order = value == "Yes";
    else if (key == "MaxBurstLength") r.max_burst_length = num();
    else if (key == "FirstBurstLength") r.first_burst_length = num();
    else if (key == "MaxOutstandingR2T") r.max_outstanding_r2t = num();
    else if (key == "MaxConnections") r.max_connections = num();
    else if (key == "DefaultTime2Wait") r.default_time2wait = num();
    else if (key == "DefaultTime2Retain") r.default_time2retain = num();
    else if (key == "ErrorRecoveryLevel") r.error_recovery_level = num();
    // RFC 3720 §12.14: FirstBurstLength MUST NOT exceed MaxBurstLength.
    if (r.first_burst_length > r.max_burst_length) r.first_burst_length = r.max_burst_length;
}

std::optional<std::string> Negotiator::apply(const KeyDef& def, const std::string& value,
                                             std::string& why) {
    const std::string_view key = def.name;
    auto& r = result_;

    if (def.use == KeyUse::Declaration || key == "SendTargets") {
        if (key == "InitiatorName") r.initiator_name = value;
        else if (key == "InitiatorAlias") r.initiator_alias = value;
        else if (key == "TargetName") r.target_name = value;
        else if (key == "SessionType") {
            if (value == "Discovery") r.session_type = SessionType::Discovery;
            else if (value == "Normal") r.session_type = SessionType::Normal;
            else {
                why = "SessionType '" + value + "' is neither Discovery nor Normal";
                return std::nullopt;  // caller turns an empty why-less answer into failure
            }
        } else if (key == "TargetAlias" || key == "TargetAddress" || key == "TargetPortalGroupTag") {
            // RFC 3720 §12.6, §12.8, §12.9: only the target sends these.
            return std::string("Reject");
        }
        return std::nullopt;
    }

    if (r.session_type == SessionType::Discovery && !def.discovery)
        return std::string("Irrelevant");  // RFC 3720 §12: not negotiated in discovery sessions

    switch (def.kind) {
        case KeyKind::Declarative: {  // MaxRecvDataSegmentLength
            auto n = parse_number(value);
            if (!n || *n < def.min || *n > def.max) return std::string("Reject");
            r.max_xmit_data_segment_length = std::min(*n, ours_.max_xmit_data_segment_length);
            r.initiator_max_recv_data_segment_length = *n;
            return std::nullopt;
        }
        case KeyKind::BoolOr:
        case KeyKind::BoolAnd: {
            auto b = parse_bool(value);
            if (!b) return std::string("Reject");
            bool mine = true;
            if (key == "InitialR2T") mine = ours_.initial_r2t;
            else if (key == "ImmediateData") mine = ours_.immediate_data;
            else if (key == "OFMarker" || key == "IFMarker") mine = false;  // markers: not supported
            else mine = true;  // DataPDUInOrder, DataSequenceInOrder: we deliver in order
            bool res = def.kind == KeyKind::BoolOr ? (*b || mine) : (*b && mine);
            store(key, yes_no(res));
            return yes_no(res);
        }
        case KeyKind::NumMin:
        case KeyKind::NumMax: {
            auto n = parse_number(value);
            if (!n || *n < def.min || *n > def.max) return std::string("Reject");
            std::uint32_t mine = *n;
            if (key == "MaxBurstLength") mine = ours_.max_burst_length;
            else if (key == "FirstBurstLength") mine = ours_.first_burst_length;
            else if (key == "MaxOutstandingR2T") mine = ours_.max_outstanding_r2t;
            else if (key == "MaxConnections") mine = 1;  // one connection per session, as iSCSI-SCST
            else if (key == "ErrorRecoveryLevel") mine = ours_.max_error_recovery_level;
            else if (key == "DefaultTime2Wait") mine = ours_.default_time2wait;
            else if (key == "DefaultTime2Retain") mine = ours_.default_time2retain;
            std::uint32_t res = def.kind == KeyKind::NumMin ? std::min(*n, mine) : std::max(*n, mine);
            if (key == "FirstBurstLength") {
                auto mb = seen_.find("MaxBurstLength");
                std::uint32_t max_burst = mb != seen_.end() ? r.max_burst_length : ours_.max_burst_length;
                res = std::min(res, std::max<std::uint32_t>(max_burst, 512));
            }
            store(key, std::to_string(res));
            return std::to_string(res);
        }
        case KeyKind::List: {
            if (key == "OFMarkInt" || key == "IFMarkInt") return std::string("Irrelevant");  // markers off
            if (key == "HeaderDigest" || key == "DataDigest") {
                const auto& accepted = key == "HeaderDigest" ? ours_.header_digest : ours_.data_digest;
                for (const auto& v : split_list(value)) {
                    if (v != "None" && v != "CRC32C") continue;
                    if (std::find(accepted.begin(), accepted.end(), v) != accepted.end()) {
                        store(key, v);
                        return v;
                    }
                }
                return std::string("Reject");
            }
            return std::string("Reject");
        }
    }
    return std::string("Reject");
}

Negotiator::Outcome Negotiator::negotiate(const std::vector<KeyValue>& offered, bool full_feature) {
    Outcome out;
    // SessionType governs which keys are relevant: take it first (RFC 3720 §12.21).
    std::vector<const KeyValue*> order;
    for (const auto& kv : offered)
        if (kv.key == "SessionType") order.insert(order.begin(), &kv);
        else order.push_back(&kv);

    for (const KeyValue* kv : order) {
        const KeyDef* offered_def = find_key(kv->key);
        if (we_offered_.count(kv->key) && offered_def && offered_def->kind != KeyKind::Declarative) {
            // An answer to a key we offered ourselves.
            take_answer(*kv);
            continue;
        }
        const KeyDef* def = find_key(kv->key);
        if (!def) {
            // RFC 3720 §5.2: unknown keys (X- extensions included) are answered NotUnderstood.
            out.answers.push_back({kv->key, "NotUnderstood"});
            continue;
        }
        // Some initiators (libiscsi's discovery with CHAP) restate their names in each
        // login PDU: the same declaration again is harmless, a different one is not.
        if (def->use == KeyUse::Declaration) {
            auto prev = seen_.find(kv->key);
            if (prev != seen_.end() && prev->second == kv->value) continue;
        }
        const bool repeatable = def->name == "SendTargets" || def->name == "MaxRecvDataSegmentLength";
        if (!repeatable || !full_feature) {
            if (seen_.count(kv->key) && !(full_feature && repeatable)) {
                // RFC 3720 §5.3: renegotiating or redeclaring a key is an initiator error.
                out.failure = 0x0200;
                out.why = "key " + kv->key + " sent twice";
                return out;
            }
        }
        seen_[kv->key] = kv->value;
        if (def->use == KeyUse::Security) {
            out.failure = 0x0200;
            out.why = "security key " + kv->key + " outside the security stage";
            return out;
        }
        if (full_feature && def->use != KeyUse::Any) {
            out.answers.push_back({kv->key, "Reject"});  // RFC 3720 §5.3: login-only key
            continue;
        }
        if (kv->value == "NotUnderstood" || kv->value == "Irrelevant" || kv->value == "Reject")
            continue;  // the initiator's answer to something we said; nothing to answer
        std::string why;
        auto ans = apply(*def, kv->value, why);
        if (!why.empty()) {
            out.failure = def->name == "SessionType" ? 0x0209 : 0x0200;
            out.why = why;
            return out;
        }
        if (ans) out.answers.push_back({kv->key, *ans});
    }
    return out;
}

std::vector<KeyValue> Negotiator::closing_offers() {
    std::vector<KeyValue> out;
    auto offer = [&](std::string_view key, std::string value) {
        if (seen_.count(key) || we_offered_.count(key)) return;
        we_offered_[std::string(key)] = value;
        out.push_back({std::string(key), std::move(value)});
    };
    // Our receive limit is declarative: state it so the initiator may send that much.
    if (!we_offered_.count("MaxRecvDataSegmentLength")) {
        we_offered_["MaxRecvDataSegmentLength"] = std::to_string(ours_.max_recv_data_segment_length);
        out.push_back({"MaxRecvDataSegmentLength", std::to_string(ours_.max_recv_data_segment_length)});
    }
    result_.max_recv_data_segment_length = ours_.max_recv_data_segment_length;
    if (result_.session_type == SessionType::Normal) {
        // Where our wish differs from the RFC default and the initiator was silent, offer
        // it; the initiator's answer comes back through take_answer.
        if (!ours_.initial_r2t) offer("InitialR2T", "No");
        if (!ours_.immediate_data) offer("ImmediateData", "No");
        if (ours_.max_burst_length < 262144) offer("MaxBurstLength", std::to_string(ours_.max_burst_length));
        // RFC 3720 §12.14: FirstBurstLength MUST NOT exceed MaxBurstLength. An initiator
        // that lowered MaxBurstLength below the FirstBurstLength default (65536) and said
        // nothing of FirstBurstLength would keep a first burst longer than any burst (and
        // we would hold a smaller one than it does): offer the cap. Found by the swarm.
        const std::uint32_t max_burst = seen_.count("MaxBurstLength") ? result_.max_burst_length : ours_.max_burst_length;
        const std::uint32_t first = std::min(ours_.first_burst_length, max_burst);
        if (first < 65536) offer("FirstBurstLength", std::to_string(first));
    }
    return out;
}

void Negotiator::take_answer(const KeyValue& kv) {
    const KeyDef* def = find_key(kv.key);
    auto it = we_offered_.find(kv.key);
    if (!def || it == we_offered_.end()) return;
    if (def->kind == KeyKind::Declarative) return;
    if (kv.value == "Reject" || kv.value == "NotUnderstood" || kv.value == "Irrelevant") return;
    // The initiator computed the result by the same rule; take it when it is valid.
    if (def->kind == KeyKind::BoolOr || def->kind == KeyKind::BoolAnd) {
        if (parse_bool(kv.value)) store(kv.key, kv.value);
    } else if (auto n = parse_number(kv.value); n && *n >= def->min && *n <= def->max) {
        store(kv.key, kv.value);
    }
}

}  // namespace iscsilab::iscsi
