// Login Requests and Responses (RFC 3720 §5.3, §10.12, §10.13); their keys are judged
// in check_keys.cpp.
#include "reports/checker/conn.hpp"

namespace iscsilab::checker {

namespace {

bool has_key(const TextKeys& k, const char* name) {
    for (const auto& [key, value] : k.items)
        if (key == name) return true;
    return false;
}

const std::string* key_value(const TextKeys& k, const char* name) {
    for (const auto& [key, value] : k.items)
        if (key == name) return &value;
    return nullptr;
}

}  // namespace

void check_login_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const bool t = p.flags & 0x80, cont = p.flags & 0x40;
    const std::uint8_t csg = (p.flags >> 2) & 3, nsg = p.flags & 3;
    // RFC 3720 §10.12.2: T and C are never both set.
    w.report(c, Rule::login_c_t_exclusive, !(t && cont), "Login Request with T and C both set");
    w.report(c, Rule::req_continue_not_transit, !(t && cont), "Login Request with T and C both set");
    // RFC 3720 §10.12.4: version 0x00 is the only one defined.
    w.report(c, Rule::version_zero, u8(p.bhs, 2) == 0 && u8(p.bhs, 3) == 0, "Version-max 0x%02x Version-min 0x%02x", u8(p.bhs, 2),
             u8(p.bhs, 3));
    // RFC 3720 §5.3: the stages only move forward, and a request names the stage it is in.
    bool stages_ok = csg <= 1 && (!t || ((nsg == 1 || nsg == 3) && nsg > csg));
    if (c.stage) stages_ok = stages_ok && csg == *c.stage;
    w.report(c, Rule::stage_transitions, stages_ok, "Login Request CSG %u NSG %u T=%d in stage %d", csg, nsg, t,
             c.stage ? static_cast<int>(*c.stage) : -1);
    c.current_csg = csg;
    auto& r = c.login_req;
    const std::uint16_t cid = be16(p.bhs, 20);
    const std::uint16_t tsih = static_cast<std::uint16_t>(p.lun & 0xffff);
    if (c.login_requests > 0) {
        // RFC 3720 §10.12: the requests of one login keep their versions, TSIH and CID.
        w.report(c, Rule::version_same, u8(p.bhs, 2) == r.version_max && u8(p.bhs, 3) == r.version_min,
                 "versions 0x%02x/0x%02x after 0x%02x/0x%02x", u8(p.bhs, 2), u8(p.bhs, 3), r.version_max, r.version_min);
        w.report(c, Rule::tsih_same, tsih == static_cast<std::uint16_t>(r.isid_tsih & 0xffff), "TSIH 0x%x after 0x%x", tsih,
                 static_cast<unsigned>(r.isid_tsih & 0xffff));
        if (c.cid) w.report(c, Rule::cid_same, cid == *c.cid, "CID %u after %u", cid, *c.cid);
    }
    // RFC 3720 §5.2: a response with C set is followed by an empty request.
    if (c.login_rsp_continued)
        w.report(c, Rule::initiator_continue_empty, p.data_segment_length == 0, "a %u-byte request after a response with C",
                 p.data_segment_length);
    ++c.login_requests;
    r.valid = true;
    r.transit = t;
    r.cont = cont;
    r.csg = csg;
    r.nsg = nsg;
    r.version_max = u8(p.bhs, 2);
    r.version_min = u8(p.bhs, 3);
    r.isid_tsih = p.lun;
    r.itt = p.itt;
    r.cmdsn = p.cmdsn();
    c.cid = cid;
    if (c.phase == Phase::unknown) c.phase = Phase::login;
    // RFC 3720 §3.2.2.1: the login's CmdSN is the first the full feature phase uses.
    c.next_cmdsn = Serial{p.cmdsn()};
    const auto keys = check_text_keys(w, c, p, true, !cont, true);
    if (!keys) return;
    for (const auto& [k, v] : keys->items) {
        // RFC 3720 §12.4, §12.5: the names are declared once per login.
        if (k == "InitiatorName") w.report(c, Rule::initiatorname_once, c.declared_initiatorname++ == 0, "InitiatorName declared again");
        if (k == "TargetName") w.report(c, Rule::targetname_once, c.declared_targetname++ == 0, "TargetName declared again");
    }
    // RFC 3720 §12.3, §12.6, §12.8, §12.9: keys only the target (or only Text) carries.
    w.report(c, Rule::sendtargets_text_only, !has_key(*keys, "SendTargets"), "SendTargets in a Login Request");
    w.report(c, Rule::initiator_no_targetalias, !has_key(*keys, "TargetAlias"), "the initiator sent TargetAlias");
    w.report(c, Rule::initiator_no_targetaddress, !has_key(*keys, "TargetAddress"), "the initiator sent TargetAddress");
    w.report(c, Rule::initiator_no_tpgt, !has_key(*keys, "TargetPortalGroupTag"), "the initiator sent TargetPortalGroupTag");
    if (!c.first_request_judged) {
        // RFC 3720 §5.3, §12.4, §12.5: the first request names the initiator, and the
        // target of a normal session.
        c.first_request_judged = true;
        const bool initiator = has_key(*keys, "InitiatorName");
        w.report(c, Rule::initiatorname_first, initiator, "no InitiatorName in the first Login Request");
        w.report(c, Rule::initiatorname_first_12, initiator, "no InitiatorName in the first Login Request");
        const std::string* type = key_value(*keys, "SessionType");
        if (!type || *type != "Discovery") {
            const bool target = has_key(*keys, "TargetName");
            w.report(c, Rule::targetname_first, target, "no TargetName in the first Login Request of a normal session");
            w.report(c, Rule::targetname_first_12, target, "no TargetName in the first Login Request of a normal session");
        }
    }
    c.chap_a_offered = false;
    if (const std::string* a = key_value(*keys, "CHAP_A"))
        for (const auto& alg : split_list(*a)) c.chap_a_offered = c.chap_a_offered || alg == "5";
}

void check_login_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p) {
    const bool t = p.flags & 0x80, cont = p.flags & 0x40;
    const std::uint8_t csg = (p.flags >> 2) & 3, nsg = p.flags & 3;
    const std::uint8_t status_class = u8(p.bhs, 36), status_detail = u8(p.bhs, 37);
    const std::uint16_t tsih = static_cast<std::uint16_t>(p.lun & 0xffff);
    const std::uint64_t isid = p.lun >> 16;
    const auto& r = c.login_req;
    const std::uint8_t version_max = u8(p.bhs, 2), version_active = u8(p.bhs, 3);
    w.report(c, Rule::login_c_t_exclusive, !(t && cont), "Login Response with T and C both set");
    w.report(c, Rule::rsp_continue_not_transit, !(t && cont), "Login Response with T and C both set");
    w.report(c, Rule::version_zero, version_max == 0, "Version-max 0x%02x", version_max);
    if (c.login_responses > 0) {
        w.report(c, Rule::version_max_constant, version_max == c.first_version_max, "Version-max 0x%02x after 0x%02x", version_max,
                 c.first_version_max);
        w.report(c, Rule::version_active_constant, version_active == c.first_version_active,
                 "Version-active 0x%02x after 0x%02x", version_active, c.first_version_active);
    } else {
        c.first_version_max = version_max;
        c.first_version_active = version_active;
    }
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
        // RFC 3720 §5.2: a request with C set gets an empty response.
        if (r.cont)
            w.report(c, Rule::answer_continue_empty, p.data_segment_length == 0, "a %u-byte response to a request with C",
                     p.data_segment_length);
        if (status_class == 0) {
            w.report(c, Rule::login_rsp_version, version_active >= r.version_min && version_active <= r.version_max,
                     "Version-active %u outside the request's %u..%u", version_active, r.version_min, r.version_max);
            w.report(c, Rule::login_rsp_t_bit, !t || r.transit, "T set in a response to a request without T");
            w.report(c, Rule::login_rsp_csg, csg == r.csg, "CSG %u, request had %u", csg, r.csg);
            if (t) {
                w.report(c, Rule::login_rsp_nsg, nsg != 2 && nsg > csg && nsg <= r.nsg,
                         "NSG %u with CSG %u, request asked for NSG %u", nsg, csg, r.nsg);
                w.report(c, Rule::stage_transitions, nsg != 2 && nsg > csg, "Login Response CSG %u NSG %u", csg, nsg);
            }
            if (t && nsg == 3)
                w.report(c, Rule::final_accept_shape, r.transit && r.nsg == 3, "accepted a request with T=%d NSG %u", r.transit, r.nsg);
        }
        const std::uint16_t req_tsih = static_cast<std::uint16_t>(r.isid_tsih & 0xffff);
        if (status_class == 0) {
            if (req_tsih != 0) {
                w.report(c, Rule::login_tsih_echo, tsih == req_tsih, "TSIH 0x%x, request had 0x%x", tsih, req_tsih);
            } else if (t && nsg == 3) {
                w.report(c, Rule::login_tsih_on_final, tsih != 0, "final Login Response of a new session with TSIH 0");
                w.report(c, Rule::tsih_nonzero_final, tsih != 0, "final Login Response of a new session with TSIH 0");
            } else {
                w.report(c, Rule::login_tsih_on_final, tsih == 0, "TSIH 0x%x before the final Login Response", tsih);
            }
            if (t && nsg == 3) w.report(c, Rule::tsih_with_ffp, tsih != 0, "the move to full feature phase with TSIH 0");
            // RFC 3720 §10.12.6: a leading login's responses acknowledge its CmdSN.
            if (req_tsih == 0)
                w.report(c, Rule::leading_expcmdsn, p.expcmdsn() == r.cmdsn, "ExpCmdSN %u, the Login Request had CmdSN %u",
                         p.expcmdsn(), r.cmdsn);
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
    c.login_rsp_continued = cont;
    const auto keys = check_text_keys(w, c, p, false, !cont, true);
    if (keys) {
        // RFC 3720 §5.3, §10.13.1: a response that ends the stage offers nothing that
        // would need the initiator's answer in it.
        // Which keys are open depends on the requests; unseen ones leave it unknown.
        if (t && status_class == 0 && r.valid) {
            const std::string open = open_target_keys(c, *keys);
            w.report(c, Rule::transit_no_open_keys, open.empty(), "T=1 with the target's own offers %s", open.c_str());
            w.report(c, Rule::transit_no_open_keys_53, open.empty(), "T=1 with the target's own offers %s", open.c_str());
        }
        // RFC 3720 §12.4: TargetName comes back only in SendTargets answers.
        w.report(c, Rule::target_no_targetname, !has_key(*keys, "TargetName"), "TargetName in a Login Response");
        if (status_class == 1) {
            // RFC 3720 §10.13.5, §12.8: a redirection names where to go, without a tag.
            const std::string* address = key_value(*keys, "TargetAddress");
            w.report(c, Rule::redirect_address, address != nullptr, "a redirection without TargetAddress");
            if (address)
                w.report(c, Rule::redirect_address_no_tpgt, address->find(',') == std::string::npos,
                         "redirection to %s carries a portal group tag", address->c_str());
        }
        // RFC 3720 §11.1.4: the target answers an MD5 CHAP_A with CHAP_A, CHAP_I, CHAP_C.
        if (c.chap_a_offered && status_class == 0) {
            w.report(c, Rule::chap_aic, has_key(*keys, "CHAP_A") && has_key(*keys, "CHAP_I") && has_key(*keys, "CHAP_C"),
                     "CHAP_A=5 answered without CHAP_A, CHAP_I and CHAP_C");
            c.chap_a_offered = false;
        }
    }

    if (status_class != 0) {
        c.login_failed = true;
        c.phase = Phase::closing;
        return;
    }
    if (t && !cont) c.stage = nsg;
    if (!c.first_response_done && !r.cont && !cont) {
        c.first_response_done = true;
        // RFC 3720 §5.3.1, §12.9: the answer to the first Login Request with C=0 (a
        // request with C=1 gets an empty answer, §5.2) names the portal group.
        if (!c.discovery) {
            const bool tpgt = c.answered_by_target.count("TargetPortalGroupTag") > 0;
            w.report(c, Rule::login_tpgt_first, tpgt, "no TargetPortalGroupTag in the first Login Response");
            w.report(c, Rule::tpgt_first_response, tpgt, "no TargetPortalGroupTag in the first Login Response");
        }
    }
    if (t && nsg == 3 && !cont) {
        judge_unanswered_keys(w, c);
        // RFC 3720 §12.14: FirstBurstLength never exceeds MaxBurstLength.
        if (!c.discovery)
            w.report(c, Rule::key_firstburst_le_maxburst, c.neg.first_burst <= c.neg.max_burst,
                     "FirstBurstLength %u > MaxBurstLength %u", c.neg.first_burst, c.neg.max_burst);
        // RFC 3720 §12.19: above level 0 with sequences in order, one R2T at a time.
        if (c.neg.erl > 0 && c.neg.data_sequence_in_order)
            w.report(c, Rule::one_r2t_erl, c.neg.max_outstanding_r2t == 1, "MaxOutstandingR2T %u at ErrorRecoveryLevel %u",
                     c.neg.max_outstanding_r2t, c.neg.erl);
        c.phase = Phase::full_feature;
        c.tsih = tsih;
        c.next_statsn = Serial{p.statsn() + 1};
        // RFC 3720 §12.1: digests start with the first PDU after the login.
        c.framer[0].set_digests(c.neg.header_digest, c.neg.data_digest);
        c.framer[1].set_digests(c.neg.header_digest, c.neg.data_digest);
    }
}

}  // namespace iscsilab::checker
