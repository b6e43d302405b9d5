// Login (RFC 3720 §5.3, §10.12, §10.13) and the negotiation of keys (§5.1, §5.2, §12).
#include <charconv>
#include <cstring>

#include "reports/checker/conn.hpp"

namespace iscsilab::checker {

namespace {

enum class KeyKind : std::uint8_t { declarative, bool_and, bool_or, num_min, num_max, list, auth, other };

struct KeySpec {
    const char* name;
    KeyKind kind;
    std::uint32_t lo = 0, hi = 0;  // numeric range (RFC 3720 §12)
};

// RFC 3720 §12 (and §11 for AuthMethod): how each key's result is found.
constexpr KeySpec KEYS[] = {
    {"HeaderDigest", KeyKind::list},
    {"DataDigest", KeyKind::list},
    {"MaxConnections", KeyKind::num_min, 1, 65535},
    {"SendTargets", KeyKind::declarative},
    {"TargetName", KeyKind::declarative},
    {"InitiatorName", KeyKind::declarative},
    {"TargetAlias", KeyKind::declarative},
    {"InitiatorAlias", KeyKind::declarative},
    {"TargetAddress", KeyKind::declarative},
    {"TargetPortalGroupTag", KeyKind::declarative},
    {"InitialR2T", KeyKind::bool_or},
    {"ImmediateData", KeyKind::bool_and},
    {"MaxRecvDataSegmentLength", KeyKind::declarative, 512, 16777215},
    {"MaxBurstLength", KeyKind::num_min, 512, 16777215},
    {"FirstBurstLength", KeyKind::num_min, 512, 16777215},
    {"DefaultTime2Wait", KeyKind::num_max, 0, 3600},
    {"DefaultTime2Retain", KeyKind::num_min, 0, 3600},
    {"MaxOutstandingR2T", KeyKind::num_min, 1, 65535},
    {"DataPDUInOrder", KeyKind::bool_or},
    {"DataSequenceInOrder", KeyKind::bool_or},
    {"ErrorRecoveryLevel", KeyKind::num_min, 0, 2},
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

// A response to an offer: judged against the key's result function (RFC 3720 §5.2.2).
void judge_answer(WireChecker& w, WireChecker::Conn& c, const KeySpec& spec, const std::string& key,
                  const std::string& offer, const std::string& answer) {
    if (is_special(answer)) return;
    switch (spec.kind) {
        case KeyKind::bool_and:
            if (offer == "No")
                w.report(c, Rule::key_bool_and, answer == "No", "%s offered No, answered %s", key.c_str(), answer.c_str());
            break;
        case KeyKind::bool_or:
            if (offer == "Yes")
                w.report(c, Rule::key_bool_or, answer == "Yes", "%s offered Yes, answered %s", key.c_str(), answer.c_str());
            break;
        case KeyKind::num_min: {
            auto o = number(offer), a = number(answer);
            if (o && a) w.report(c, Rule::key_numeric_min, *a <= *o, "%s offered %s, answered %s", key.c_str(), offer.c_str(), answer.c_str());
            break;
        }
        case KeyKind::num_max: {
            auto o = number(offer), a = number(answer);
            if (o && a) w.report(c, Rule::key_numeric_max, *a >= *o, "%s offered %s, answered %s", key.c_str(), offer.c_str(), answer.c_str());
            break;
        }
        case KeyKind::list: {
            bool found = false;
            for (const auto& v : split_list(offer)) found = found || v == answer;
            w.report(c, Rule::key_list_choice, found, "%s offered %s, answered %s", key.c_str(), offer.c_str(), answer.c_str());
            break;
        }
        case KeyKind::declarative:
        case KeyKind::auth:
        case KeyKind::other:
            break;
    }
}

}  // namespace

void check_text_keys(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool from_initiator, bool complete) {
    const int side = from_initiator ? 0 : 1;
    c.login_text[side].append(reinterpret_cast<const char*>(p.data.data()), p.data.size());
    if (!complete) return;
    const std::string text = std::move(c.login_text[side]);
    c.login_text[side].clear();
    if (text.empty()) return;
    auto keys = parse_text_keys(std::as_bytes(std::span<const char>(text.data(), text.size())));
    // RFC 3720 §5.1: key=value, NUL-terminated; key names at most 63 bytes.
    bool syntax_ok = keys.well_formed;
    std::string problem = keys.problem;
    for (const auto& [k, v] : keys.items)
        if (k.size() > 63) syntax_ok = false, problem = "key name longer than 63 bytes";
    w.report(c, Rule::key_syntax, syntax_ok, "%s", problem.c_str());

    for (const auto& [k, v] : keys.items) {
        const KeySpec* spec = find_key(k);
        const bool vendor = k.rfind("X-", 0) == 0 || k.rfind("X#", 0) == 0;
        // RFC 3720 §12: numeric keys stay within their ranges.
        if (spec && spec->hi > 0 && !is_special(v)) {
            auto n = number(v);
            w.report(c, Rule::key_value_range, n && *n >= spec->lo && *n <= spec->hi, "%s=%s outside %u..%u", k.c_str(),
                     v.c_str(), spec->lo, spec->hi);
        }
        if (from_initiator) {
            if (!c.answered_by_target.count(k) && !c.offered[1].count(k)) c.offered[0][k] = v;
            if (spec && spec->kind == KeyKind::declarative) settle(c, k, v, false);
            if (c.offered[1].count(k)) {
                // The initiator answers the target's offer: the result is settled.
                settle(c, k, v, false);
            }
            continue;
        }
        // From the target.
        if (!spec && !vendor) {
            // RFC 3720 §5.2: a key the target does not know is answered NotUnderstood;
            // a key the target offers unprompted must be one of the RFC's.
            if (c.offered[0].count(k)) {
                w.report(c, Rule::key_not_understood, v == "NotUnderstood", "unknown key %s answered %s", k.c_str(), v.c_str());
                c.answered_by_target.insert(k);
            }
            continue;
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
    // Initiator-offered keys the RFC knows must be answered (§5.2) unless unknown ones
    // are judged above; here record which unknown keys the initiator sent.
    if (from_initiator)
        for (const auto& [k, v] : keys.items) {
            const bool vendor = k.rfind("X-", 0) == 0 || k.rfind("X#", 0) == 0;
            if (!find_key(k) && !vendor) c.offered[0][k] = v;
        }
}

void check_login_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const bool t = p.flags & 0x80, cont = p.flags & 0x40;
    // RFC 3720 §10.12.2: T and C are never both set.
    w.report(c, Rule::login_c_t_exclusive, !(t && cont), "Login Request with T and C both set");
    auto& r = c.login_req;
    r.valid = true;
    r.transit = t;
    r.cont = cont;
    r.csg = (p.flags >> 2) & 3;
    r.nsg = p.flags & 3;
    r.version_max = u8(p.bhs, 2);
    r.version_min = u8(p.bhs, 3);
    r.isid_tsih = p.lun;
    r.itt = p.itt;
    c.cid = be16(p.bhs, 20);
    if (c.phase == Phase::unknown) c.phase = Phase::login;
    // RFC 3720 §3.2.2.1: the login's CmdSN is the first the full feature phase uses.
    c.next_cmdsn = Serial{p.cmdsn()};
    check_text_keys(w, c, p, true, !cont);
}

void check_login_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const bool t = p.flags & 0x80, cont = p.flags & 0x40;
    const std::uint8_t csg = (p.flags >> 2) & 3, nsg = p.flags & 3;
    const std::uint8_t status_class = u8(p.bhs, 36), status_detail = u8(p.bhs, 37);
    const std::uint16_t tsih = static_cast<std::uint16_t>(p.lun & 0xffff);
    const std::uint64_t isid = p.lun >> 16;
    const auto& r = c.login_req;
    w.report(c, Rule::login_c_t_exclusive, !(t && cont), "Login Response with T and C both set");
    // RFC 3720 §10.13.3: status classes 0-3 and the details §10.13.5 lists.
    bool status_ok = false;
    switch (status_class) {
        case 0: status_ok = status_detail == 0; break;
        case 1: status_ok = status_detail >= 1 && status_detail <= 2; break;  // redirection
        case 2: status_ok = status_detail <= 0x0b; break;                      // initiator error
        case 3: status_ok = status_detail <= 2; break;                         // target error
        default: break;
    }
    w.report(c, Rule::login_status_valid, status_ok, "status class 0x%02x detail 0x%02x", status_class, status_detail);
    if (r.valid) {
        w.report(c, Rule::login_rsp_itt, p.itt == r.itt, "ITT 0x%x, request had 0x%x", p.itt, r.itt);
        w.report(c, Rule::login_rsp_isid, isid == (r.isid_tsih >> 16), "ISID 0x%012llx, request had 0x%012llx",
                 static_cast<unsigned long long>(isid), static_cast<unsigned long long>(r.isid_tsih >> 16));
        if (status_class == 0) {
            const std::uint8_t active = u8(p.bhs, 3);
            w.report(c, Rule::login_rsp_version, active >= r.version_min && active <= r.version_max,
                     "Version-active %u outside the request's %u..%u", active, r.version_min, r.version_max);
            w.report(c, Rule::login_rsp_t_bit, !t || r.transit, "T set in a response to a request without T");
            w.report(c, Rule::login_rsp_csg, csg == r.csg, "CSG %u, request had %u", csg, r.csg);
            if (t)
                w.report(c, Rule::login_rsp_nsg, nsg != 2 && nsg > csg && nsg <= r.nsg,
                         "NSG %u with CSG %u, request asked for NSG %u", nsg, csg, r.nsg);
        }
        const std::uint16_t req_tsih = static_cast<std::uint16_t>(r.isid_tsih & 0xffff);
        if (status_class == 0) {
            if (req_tsih != 0)
                w.report(c, Rule::login_tsih_echo, tsih == req_tsih, "TSIH 0x%x, request had 0x%x", tsih, req_tsih);
            else if (t && nsg == 3)
                w.report(c, Rule::login_tsih_on_final, tsih != 0, "final Login Response of a new session with TSIH 0");
            else
                w.report(c, Rule::login_tsih_on_final, tsih == 0, "TSIH 0x%x before the final Login Response", tsih);
        }
    }
    // RFC 3720 §10.13.4: StatSN counts from the first Login Response.
    if (c.login_statsn)
        w.report(c, Rule::login_statsn_sequence, Serial{p.statsn()} == Serial{c.login_statsn->v + 1},
                 "StatSN %u after %u", p.statsn(), c.login_statsn->v);
    c.login_statsn = Serial{p.statsn()};
    // ExpCmdSN and MaxCmdSN already hold in the login phase (RFC 3720 §10.13.4).
    if (status_class == 0) check_target_numbers(w, c, p, false, false);
    ++c.login_responses;
    check_text_keys(w, c, p, false, !cont);

    if (status_class != 0) {
        c.login_failed = true;
        c.phase = Phase::closing;
        return;
    }
    if (!c.first_response_done && !cont) {
        c.first_response_done = true;
        // RFC 3720 §12.9: a normal session's first Login Response names the portal group.
        if (!c.discovery) {
            bool tpgt = c.answered_by_target.count("TargetPortalGroupTag") > 0;
            w.report(c, Rule::login_tpgt_first, tpgt, "no TargetPortalGroupTag in the first Login Response");
        }
    }
    if (t && nsg == 3 && !cont) {
        // RFC 3720 §5.2: by the end of the login every negotiable key the initiator
        // offered has its answer (AND offered No and OR offered Yes settle themselves).
        for (const auto& [k, v] : c.offered[0]) {
            const KeySpec* spec = find_key(k);
            if (spec && (spec->kind == KeyKind::declarative || spec->kind == KeyKind::auth || spec->kind == KeyKind::other)) continue;
            if (spec && spec->kind == KeyKind::bool_and && v == "No") continue;
            if (spec && spec->kind == KeyKind::bool_or && v == "Yes") continue;
            if (spec && spec->name == std::string("AuthMethod")) continue;
            if (!spec) {
                w.report(c, Rule::key_not_understood, c.answered_by_target.count(k) > 0, "unknown key %s never answered", k.c_str());
                continue;
            }
            w.report(c, Rule::key_answered, c.answered_by_target.count(k) > 0, "%s=%s never answered", k.c_str(), v.c_str());
        }
        // RFC 3720 §12.14: FirstBurstLength never exceeds MaxBurstLength.
        if (!c.discovery)
            w.report(c, Rule::key_firstburst_le_maxburst, c.neg.first_burst <= c.neg.max_burst,
                     "FirstBurstLength %u > MaxBurstLength %u", c.neg.first_burst, c.neg.max_burst);
        c.phase = Phase::full_feature;
        c.tsih = tsih;
        c.next_statsn = Serial{p.statsn() + 1};
        // RFC 3720 §12.1: digests start with the first PDU after the login.
        c.framer[0].set_digests(c.neg.header_digest, c.neg.data_digest);
        c.framer[1].set_digests(c.neg.header_digest, c.neg.data_digest);
    }
}

}  // namespace iscsilab::checker
