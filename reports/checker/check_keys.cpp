// The negotiation of keys in Login and Text PDUs (RFC 3720 §5.1, §5.2, §11, §12): what
// each side offered and answered, judged against each key's result function, and what
// the settled values mean for the checks of the full feature phase.
#include <charconv>
#include <cstring>

#include "reports/checker/conn.hpp"

namespace iscsilab::checker {

namespace {

// RFC 3720 §12 (and §11 for AuthMethod): how each key's result is found, and the rule
// of its own section that the answer keeps.
constexpr KeySpec KEYS[] = {
    {"HeaderDigest", KeyKind::list},
    {"DataDigest", KeyKind::list},
    {"MaxConnections", KeyKind::num_min, 1, 65535, Rule::key_maxconnections},
    {"SendTargets", KeyKind::declarative},
    {"TargetName", KeyKind::declarative},
    {"InitiatorName", KeyKind::declarative},
    {"TargetAlias", KeyKind::declarative},
    {"InitiatorAlias", KeyKind::declarative},
    {"TargetAddress", KeyKind::declarative},
    {"TargetPortalGroupTag", KeyKind::declarative},
    {"InitialR2T", KeyKind::bool_or, 0, 0, Rule::key_initialr2t},
    {"ImmediateData", KeyKind::bool_and, 0, 0, Rule::key_immediatedata},
    {"MaxRecvDataSegmentLength", KeyKind::declarative, 512, 16777215},
    {"MaxBurstLength", KeyKind::num_min, 512, 16777215, Rule::key_maxburst},
    {"FirstBurstLength", KeyKind::num_min, 512, 16777215, Rule::key_firstburst},
    {"DefaultTime2Wait", KeyKind::num_max, 0, 3600, Rule::key_numeric_max},
    {"DefaultTime2Retain", KeyKind::num_min, 0, 3600, Rule::key_time2retain},
    {"MaxOutstandingR2T", KeyKind::num_min, 1, 65535, Rule::key_maxoutstandingr2t},
    {"DataPDUInOrder", KeyKind::bool_or, 0, 0, Rule::key_datapduinorder},
    {"DataSequenceInOrder", KeyKind::bool_or, 0, 0, Rule::key_datasequenceinorder},
    {"ErrorRecoveryLevel", KeyKind::num_min, 0, 2, Rule::key_erl},
    {"SessionType", KeyKind::declarative},
    {"OFMarker", KeyKind::bool_and},
    {"IFMarker", KeyKind::bool_and},
    {"OFMarkInt", KeyKind::other},
    {"IFMarkInt", KeyKind::other},
    {"AuthMethod", KeyKind::list},
    {"CHAP_A", KeyKind::auth}, {"CHAP_I", KeyKind::auth}, {"CHAP_C", KeyKind::auth},
    {"CHAP_N", KeyKind::auth}, {"CHAP_R", KeyKind::auth},
    {"SRP_U", KeyKind::auth}, {"SRP_N", KeyKind::auth}, {"SRP_g", KeyKind::auth}, {"SRP_s", KeyKind::auth},
    {"SRP_A", KeyKind::auth}, {"SRP_B", KeyKind::auth}, {"SRP_M", KeyKind::auth}, {"SRP_HM", KeyKind::auth},
    {"SPKM_A", KeyKind::auth}, {"SPKM_B", KeyKind::auth}, {"KRB_AP_REQ", KeyKind::auth}, {"KRB_AP_REP", KeyKind::auth},
};

bool is_vendor(const std::string& k) { return k.rfind("X-", 0) == 0 || k.rfind("X#", 0) == 0; }
bool is_auth_key(const std::string& k) { return k == "AuthMethod" || k.rfind("CHAP_", 0) == 0; }

// RFC 3720 §5.1: a key name starts with a capital letter and holds letters, digits and
// . - + @ _ (the part after X- or X# keeps the same form, §12.22).
bool key_name_ok(const std::string& k) {
    if (k.empty() || k.size() > 63 || k[0] < 'A' || k[0] > 'Z') return false;
    const std::size_t from = is_vendor(k) ? 2 : 0;
    for (std::size_t i = from; i < k.size(); ++i) {
        const char ch = k[i];
        const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                        ch == '-' || ch == '+' || ch == '@' || ch == '_';
        if (!ok) return false;
    }
    return true;
}

// RFC 3720 §5.1: binary values as 0x (hex) or 0b (base64); how many bytes they hold.
std::size_t binary_length(const std::string& v) {
    if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) return (v.size() - 2 + 1) / 2;
    if (v.size() > 2 && v[0] == '0' && (v[1] == 'b' || v[1] == 'B')) return (v.size() - 2) * 3 / 4;
    return v.size();
}

}  // namespace

const KeySpec* find_key(const std::string& k) {
    for (const auto& s : KEYS)
        if (k == s.name) return &s;
    return nullptr;
}

bool is_special(const std::string& v) { return v == "NotUnderstood" || v == "Irrelevant" || v == "Reject"; }

std::optional<std::uint64_t> number(const std::string& v) {
    std::uint64_t n = 0;
    if (v.empty()) return std::nullopt;
    int base = 10;
    std::size_t at = 0;
    if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) base = 16, at = 2;
    auto r = std::from_chars(v.data() + at, v.data() + v.size(), n, base);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
    return n;
}

std::vector<std::string> split_list(const std::string& v) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= v.size()) {
        auto comma = v.find(',', at);
        if (comma == std::string::npos) comma = v.size();
        out.push_back(v.substr(at, comma - at));
        at = comma + 1;
    }
    return out;
}

namespace {

// What a settled key means for the framing and sequence checks that follow.
void settle(WireChecker::Conn& c, const std::string& key, const std::string& value, bool target_declared) {
    auto n = number(value);
    if (key == "MaxRecvDataSegmentLength" && n) {
        (target_declared ? c.neg.mrdsl_target : c.neg.mrdsl_initiator) = static_cast<std::uint32_t>(*n);
    } else if (key == "MaxBurstLength" && n) {
        c.neg.max_burst = static_cast<std::uint32_t>(*n);
    } else if (key == "FirstBurstLength" && n) {
        c.neg.first_burst = static_cast<std::uint32_t>(*n);
    } else if (key == "MaxOutstandingR2T" && n) {
        c.neg.max_outstanding_r2t = static_cast<std::uint32_t>(*n);
    } else if (key == "ErrorRecoveryLevel" && n) {
        c.neg.erl = static_cast<std::uint32_t>(*n);
    } else if (key == "InitialR2T" && (value == "Yes" || value == "No")) {
        c.neg.initial_r2t = value == "Yes";
    } else if (key == "ImmediateData" && (value == "Yes" || value == "No")) {
        c.neg.immediate_data = value == "Yes";
    } else if (key == "DataPDUInOrder" && (value == "Yes" || value == "No")) {
        c.neg.data_pdu_in_order = value == "Yes";
    } else if (key == "DataSequenceInOrder" && (value == "Yes" || value == "No")) {
        c.neg.data_sequence_in_order = value == "Yes";
    } else if (key == "HeaderDigest") {
        c.neg.header_digest = value == "CRC32C";
    } else if (key == "DataDigest") {
        c.neg.data_digest = value == "CRC32C";
    } else if (key == "SessionType") {
        c.discovery = value == "Discovery";
    }
}

// A response to an offer: judged against the key's result function (RFC 3720 §5.2.2)
// and its own section's rule.
void judge_answer(WireChecker& w, WireChecker::Conn& c, const KeySpec& spec, const std::string& key,
                  const std::string& offer, const std::string& answer) {
    // RFC 3720 §5.2, §10.13: a key of the RFC used as specified is understood.
    w.report(c, Rule::standard_keys_understood, answer != "NotUnderstood", "%s=%s answered NotUnderstood", key.c_str(),
             offer.c_str());
    if (spec.kind != KeyKind::auth && key != "AuthMethod")
        w.report(c, Rule::chapter12_keys_supported, answer != "NotUnderstood", "%s=%s answered NotUnderstood", key.c_str(),
                 offer.c_str());
    // RFC 3720 §6.1: level 0 is always there.
    if (key == "ErrorRecoveryLevel" && offer == "0")
        w.report(c, Rule::erl0_supported, answer == "0", "ErrorRecoveryLevel=0 answered %s", answer.c_str());
    if (is_special(answer)) return;
    switch (spec.kind) {
        case KeyKind::bool_and:
            if (offer == "No") {
                w.report(c, Rule::key_bool_and, answer == "No", "%s offered No, answered %s", key.c_str(), answer.c_str());
                if (spec.own) w.report(c, *spec.own, answer == "No", "%s offered No, answered %s", key.c_str(), answer.c_str());
            }
            break;
        case KeyKind::bool_or:
            if (offer == "Yes") {
                w.report(c, Rule::key_bool_or, answer == "Yes", "%s offered Yes, answered %s", key.c_str(), answer.c_str());
                if (spec.own) w.report(c, *spec.own, answer == "Yes", "%s offered Yes, answered %s", key.c_str(), answer.c_str());
            }
            break;
        case KeyKind::num_min: {
            auto o = number(offer), a = number(answer);
            if (o && a) {
                w.report(c, Rule::key_numeric_min, *a <= *o, "%s offered %s, answered %s", key.c_str(), offer.c_str(), answer.c_str());
                if (spec.own)
                    w.report(c, *spec.own, *a <= *o && *a >= spec.lo && *a <= spec.hi, "%s offered %s, answered %s", key.c_str(),
                             offer.c_str(), answer.c_str());
            }
            break;
        }
        case KeyKind::num_max: {
            auto o = number(offer), a = number(answer);
            if (o && a) w.report(c, Rule::key_numeric_max, *a >= *o, "%s offered %s, answered %s", key.c_str(), offer.c_str(), answer.c_str());
            break;
        }
        case KeyKind::list: {
            bool found = false, none_offered = false;
            for (const auto& v : split_list(offer)) {
                found = found || v == answer;
                none_offered = none_offered || v == "None";
            }
            w.report(c, Rule::key_list_choice, found, "%s offered %s, answered %s", key.c_str(), offer.c_str(), answer.c_str());
            if (answer == "None")
                w.report(c, Rule::none_only_if_offered, none_offered, "%s offered %s, answered None", key.c_str(), offer.c_str());
            break;
        }
        case KeyKind::declarative:
        case KeyKind::auth:
        case KeyKind::other:
            break;
    }
}

}  // namespace

std::optional<TextKeys> check_text_keys(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool from_initiator, bool complete,
                                        bool login) {
    const int side = from_initiator ? 0 : 1;
    c.login_text[side].append(reinterpret_cast<const char*>(p.data.data()), p.data.size());
    if (!complete) return std::nullopt;
    const std::string text = std::move(c.login_text[side]);
    c.login_text[side].clear();
    if (text.empty()) return TextKeys{};
    auto keys = parse_text_keys(std::as_bytes(std::span<const char>(text.data(), text.size())));
    // RFC 3720 §5.1: key=value, NUL-terminated; key names at most 63 bytes.
    bool syntax_ok = keys.well_formed;
    std::string problem = keys.problem;
    for (const auto& [k, v] : keys.items)
        if (k.size() > 63) syntax_ok = false, problem = "key name longer than 63 bytes";
    w.report(c, Rule::key_syntax, syntax_ok, "%s", problem.c_str());

    for (const auto& [k, v] : keys.items) {
        const KeySpec* spec = find_key(k);
        const bool vendor = is_vendor(k);
        w.report(c, vendor ? Rule::extension_name_format : Rule::key_name_format, key_name_ok(k), "key name '%s'", k.c_str());
        if (vendor && from_initiator)
            w.report(c, Rule::extension_normal_only, !c.discovery, "%s offered in a discovery session", k.c_str());
        // RFC 3720 §11.1: authentication keys belong to the security stage of a login.
        if (is_auth_key(k))
            w.report(c, Rule::auth_keys_security_stage, login && c.current_csg == 0, "%s outside the security stage", k.c_str());
        // RFC 3720 §5.2: the reserved constants are answers, never offers.
        if (is_special(v)) {
            const bool answer = c.offered[1 - side].count(k) > 0;
            w.report(c, Rule::reserved_constants_not_proposed, answer, "%s=%s offered, not answered", k.c_str(), v.c_str());
            w.report(c, Rule::reserved_constants, answer, "%s=%s offered, not answered", k.c_str(), v.c_str());
        }
        // RFC 3720 §12: numeric keys stay within their ranges.
        if (spec && spec->hi > 0 && !is_special(v)) {
            auto n = number(v);
            w.report(c, Rule::key_value_range, n && *n >= spec->lo && *n <= spec->hi, "%s=%s outside %u..%u", k.c_str(),
                     v.c_str(), spec->lo, spec->hi);
        }
        // RFC 3720 §11.1.4: CHAP binary values hold at most 1024 bytes.
        if (k == "CHAP_C" || k == "CHAP_R")
            w.report(c, Rule::chap_length, binary_length(v) <= 1024, "%s of %zu bytes", k.c_str(), binary_length(v));
        if (from_initiator) {
            if (k == "CHAP_A") {
                bool md5 = false;
                for (const auto& a : split_list(v)) md5 = md5 || a == "5";
                w.report(c, Rule::chap_md5_offered, md5, "CHAP_A=%s", v.c_str());
            }
            if (!c.answered_by_target.count(k) && !c.offered[1].count(k)) c.offered[0][k] = v;
            if (spec && spec->kind == KeyKind::declarative) settle(c, k, v, false);
            if (c.offered[1].count(k)) settle(c, k, v, false);  // the initiator answers the target's offer
            continue;
        }
        // From the target.
        if (!spec && !vendor) {
            // RFC 3720 §5.2: a key the target does not know is answered NotUnderstood.
            if (c.offered[0].count(k)) {
                w.report(c, Rule::key_not_understood, v == "NotUnderstood", "unknown key %s answered %s", k.c_str(), v.c_str());
                w.report(c, Rule::notunderstood_answer, v == "NotUnderstood", "unknown key %s answered %s", k.c_str(), v.c_str());
                c.answered_by_target.insert(k);
            }
            continue;
        }
        if (k == "CHAP_A") {
            auto offer = c.offered[0].find("CHAP_A");
            if (offer != c.offered[0].end() && !is_special(v)) {
                bool listed = false;
                for (const auto& a : split_list(offer->second)) listed = listed || a == v;
                w.report(c, Rule::chap_algorithm_offered, listed, "CHAP_A=%s, the initiator offered %s", v.c_str(), offer->second.c_str());
            }
        }
        if (spec && spec->kind == KeyKind::declarative) {
            settle(c, k, v, true);
            c.answered_by_target.insert(k);
            continue;
        }
        auto offer = c.offered[0].find(k);
        if (offer != c.offered[0].end() && !c.answered_by_target.count(k)) {
            if (spec) judge_answer(w, c, *spec, k, offer->second, v);
            c.answered_by_target.insert(k);
            if (!is_special(v)) settle(c, k, v, true);
        } else if (offer == c.offered[0].end()) {
            c.offered[1][k] = v;  // the target offers; the initiator's answer settles it
        }
    }
    // Unknown keys the initiator sent wait for their NotUnderstood.
    if (from_initiator)
        for (const auto& [k, v] : keys.items)
            if (!find_key(k) && !is_vendor(k)) c.offered[0][k] = v;
    return keys;
}

std::string open_target_keys(const WireChecker::Conn& c, const TextKeys& keys) {
    std::string open;
    for (const auto& [k, v] : keys.items) {
        const KeySpec* spec = find_key(k);
        if (!spec || is_special(v)) continue;
        if (spec->kind == KeyKind::declarative || spec->kind == KeyKind::auth || spec->kind == KeyKind::other) continue;
        if (c.offered[0].count(k)) continue;  // an answer to the initiator's offer
        open += (open.empty() ? "" : ",") + k;
    }
    return open;
}

void judge_unanswered_keys(WireChecker& w, WireChecker::Conn& c) {
    // RFC 3720 §5.2: by the end of the login every negotiable key the initiator offered
    // has its answer (AND offered No and OR offered Yes settle themselves).
    for (const auto& [k, v] : c.offered[0]) {
        const KeySpec* spec = find_key(k);
        if (spec && (spec->kind == KeyKind::declarative || spec->kind == KeyKind::auth || spec->kind == KeyKind::other)) continue;
        if (spec && spec->kind == KeyKind::bool_and && v == "No") continue;
        if (spec && spec->kind == KeyKind::bool_or && v == "Yes") continue;
        if (spec && spec->name == std::string("AuthMethod")) continue;
        const bool answered = c.answered_by_target.count(k) > 0;
        if (!spec) {
            w.report(c, Rule::key_not_understood, answered, "unknown key %s never answered", k.c_str());
            continue;
        }
        w.report(c, Rule::key_answered, answered, "%s=%s never answered", k.c_str(), v.c_str());
        if (spec->kind == KeyKind::bool_and || spec->kind == KeyKind::bool_or)
            w.report(c, Rule::boolean_answer_required, answered, "%s=%s never answered", k.c_str(), v.c_str());
    }
}

}  // namespace iscsilab::checker
