// The initiator model's sessions: discovery (SendTargets), the login with its keys
// (RFC 3720 §5.3, §10.12-10.13), Text Requests in full feature phase and logout
// (§10.14-10.15).
#include <algorithm>
#include <set>

#include "model/initiator.hpp"
#include "target/bytes.hpp"

namespace iscsilab::model {

using namespace iscsilab::iscsi;
using detail::hex;
using detail::text_of;

void Initiator::send_login() {
    LoginRequestPdu r;
    r.csg = 1;
    r.nsg = 3;
    r.transit = true;
    r.isid = cfg_.isid;
    if (session_discovery_) r.isid[5] = std::byte{0xd1};
    r.itt = login_itt_ = itt_++;
    r.cmdsn = cmdsn_;
    r.expstatsn = expstatsn_;
    std::vector<KeyValue> keys = pending_answers_;
    if (!have_statsn_) {
        keys.insert(keys.begin(), KeyValue{"InitiatorName", cfg_.name});
        if (session_discovery_) {
            keys.push_back({"SessionType", "Discovery"});
        } else {
            keys.push_back({"SessionType", "Normal"});
            keys.push_back({"TargetName", cfg_.target});
            keys.insert(keys.end(), cfg_.keys.begin(), cfg_.keys.end());
        }
    }
    pending_answers_.clear();
    login_sent_ = kernel_.now();
    Bytes data = text_of(keys);
    {
        const auto dsl = static_cast<std::uint32_t>(data.size());
        send_pdu(r.encode(dsl), std::move(data));
    }
}

void Initiator::on_login_response(Pdu& pdu) {
    auto r = LoginResponsePdu::decode(pdu.bhs);
    // Digests start after the login (RFC 3720 §12.1), so a bit flipped on the wire can
    // garble a login in either direction. A failed login is retried as a recovery: the
    // run fails it unless a fault explains it, and max_recoveries bounds the retries.
    if (r.itt != login_itt_) return recover("Login Response with a foreign ITT");
    if (r.status_class != 0)
        return recover("login failed, status " + hex(static_cast<std::uint32_t>((r.status_class << 8) | r.status_detail)));
    check_sn(r.sn, true, "Login Response");
    auto text = parse_text(pdu.data);
    if (text.error != TextError::none) return recover("malformed login text from the target");
    std::set<std::string> ours;
    for (const auto& kv : cfg_.keys) ours.insert(kv.key);
    for (const auto& kv : text.pairs) {
        stats_.negotiated[kv.key] = kv.value;
        const KeyDef* d = find_key(kv.key);
        const bool declarative = !d || d->kind == KeyKind::Declarative;
        // A key the target offers on its own needs our answer; we take its value.
        if (!ours.count(kv.key) && !declarative) pending_answers_.push_back(kv);
    }
    tsih_ = r.tsih;
    if (!(r.transit && r.nsg == 3)) return send_login();

    auto get = [&](const char* k) -> std::optional<std::string> {
        auto it = stats_.negotiated.find(k);
        if (it == stats_.negotiated.end()) return std::nullopt;
        return it->second;
    };
    if (auto v = get("MaxRecvDataSegmentLength")) target_mrdsl_ = parse_number(*v).value_or(8192);
    if (!session_discovery_) {
        if (auto v = get("InitialR2T")) initial_r2t_ = *v == "Yes";
        if (auto v = get("ImmediateData")) immediate_data_ = *v == "Yes";
        if (auto v = get("FirstBurstLength")) first_burst_ = parse_number(*v).value_or(65536);
        if (auto v = get("MaxBurstLength")) max_burst_ = parse_number(*v).value_or(262144);
        bool hd = get("HeaderDigest").value_or("None") == "CRC32C";
        bool dd = get("DataDigest").value_or("None") == "CRC32C";
        digests_ = DigestSettings{hd, dd};
        reader_->set_digests(digests_);
        // RFC 3720 §5.3: an outcome the initiator cannot accept ends the login. Only a
        // garbled login (no digests yet) gets here; the run fails it unless a fault
        // explains it.
        if (hd != want_hd_ || dd != want_dd_) return recover("digests negotiated differently than offered");
    }
    if (session_discovery_) {
        TextRequestPdu t;
        t.itt = itt_++;
        t.cmdsn = cmdsn_++;
        t.expstatsn = expstatsn_;
        Bytes q = text_of({{"SendTargets", "All"}});
        {
            const auto dsl = static_cast<std::uint32_t>(q.size());
            return send_pdu(t.encode(dsl), std::move(q));
        }
    }
    phase_ = Phase::Ready;
    // READ CAPACITY(16) first: it learns the geometry, and clears the power-on UA.
    auto op = std::make_shared<Op>();
    op->kind = Op::Kind::read_capacity;
    send_command(op);
}

void Initiator::on_text_response(Pdu& pdu) {
    auto t = TextResponsePdu::decode(pdu.bhs);
    check_sn(t.sn, true, "Text Response");
    if (midway_text_itt_ != 0 && t.itt == midway_text_itt_) {
        // The Text Request sent between two Data-Outs of a write (RFC 3720 §10.10): a
        // whole answer to it, as if nothing else were going on; in a normal session
        // SendTargets=All names this session's target (appendix D).
        midway_text_itt_ = 0;
        bool named = false;
        for (const auto& kv : parse_text(pdu.data).pairs) named = named || (kv.key == "TargetName" && kv.value == cfg_.target);
        if (!t.final_bit || t.ttt != kReservedTag)
            error("Text Response to a short SendTargets not final (F=" + std::to_string(t.final_bit) + ", TTT " + hex(t.ttt) + ")");
        else if (!named)
            error("SendTargets=All in a normal session did not name " + cfg_.target + " (RFC 3720 appendix D)");
        else
            ++stats_.seen["text_midway"];
        return maybe_finish();
    }
    for (const auto& kv : parse_text(pdu.data).pairs)
        if (kv.key == "TargetName") stats_.targets_discovered.push_back(kv.value);
    if (!t.final_bit) {
        TextRequestPdu more;
        more.itt = t.itt;
        more.ttt = t.ttt;
        more.cmdsn = cmdsn_++;
        more.expstatsn = expstatsn_;
        return send_pdu(more.encode(0));
    }
    if (!cfg_.target.empty() &&
        std::find(stats_.targets_discovered.begin(), stats_.targets_discovered.end(), cfg_.target) ==
            stats_.targets_discovered.end())
        return fail("SendTargets did not list " + cfg_.target);
    logout();
}

void Initiator::logout() {
    phase_ = Phase::LoggingOut;
    LogoutRequestPdu l;
    l.immediate = true;
    l.reason = LogoutReason::CloseSession;
    l.itt = itt_++;
    l.cmdsn = cmdsn_;
    l.expstatsn = expstatsn_;
    send_pdu(l.encode());
}

void Initiator::on_logout_response(Pdu& pdu) {
    auto l = LogoutResponsePdu::decode(pdu.bhs);
    check_sn(l.sn, true, "Logout Response");
    if (l.response != LogoutResponseCode::Success) return fail("logout refused");
    stream_->close("logged out");
    closed_by_us_ = true;
    if (session_discovery_) {
        if (cfg_.target.empty()) {
            phase_ = Phase::Done;
            stats_.logged_out = true;
            return;
        }
        // The normal session follows on a new connection, from a fresh stack.
        auto self = shared_from_this();
        kernel_.post([self] { self->connect_session(false); });
        return;
    }
    // RFC 3720 §10.19 (and §10.14): a ping sent before the Logout is answered before
    // the Logout Response.
    if (!pings_.empty())
        error(std::to_string(pings_.size()) + " NOP-Out pings unanswered at the Logout Response (RFC 3720 §10.19)");
    pings_.clear();
    check_ignored_at_logout();
    if (relogin_) {
        // A logout in the middle of the workload (the fault plan): RFC 3720 §10.14,
        // the target ended every task still pending without a response. Log in
        // again and go on.
        relogin_ = false;
        if (logout_cut_itt_ != 0) {
            // The write whose Data-Out the Logout interrupted got no response (it never
            // had all its data): the target ended it (RFC 3720 §10.14).
            if (ops_.count(logout_cut_itt_)) ++stats_.seen["logout_midway_data"];
            logout_cut_itt_ = 0;
        }
        ++stats_.relogins;
        return relogin_later();
    }
    // RFC 3720 §5.3.5: a session this initiator reinstated on purpose has its old
    // connection closed by the target. The target may close it gracefully, so its FIN
    // can trail the bytes still queued on it (a slow link): the run waits for it, a
    // while, before calling the old connection left open.
    logout_answered_ = true;
    if (!superseded_.empty()) {
        auto self = shared_from_this();
        kernel_.after(std::chrono::seconds(5), [self] { self->end_after_logout(); });
        return;
    }
    end_after_logout();
}

void Initiator::end_after_logout() {
    if (phase_ == Phase::Done || phase_ == Phase::Failed) return;
    if (!superseded_.empty())
        error("the target left the old connection of a reinstated session open for 5 s after the logout (RFC 3720 §5.3.5)");
    superseded_.clear();
    stats_.logged_out = true;
    phase_ = Phase::Done;
}

}  // namespace iscsilab::model
