// Login and text key parsing and negotiation (target/iscsi/params.*, login.*): the login
// state machine over a sequence of Login Requests, full-feature text negotiation, and
// target parameters set by name.
//
// Input: env flags (1 byte), then records separated by '\n'. A record is a control byte
// and a data segment ("key=value\0key=value\0..."):
//   control bits 0-1 CSG, 2-3 NSG, 4 T, 5 C: a Login Request with that data segment;
//   control bit 6: the data instead goes to a full-feature Negotiator (a Text Request);
//   control bit 7: the data instead sets target parameters (key = attribute name).
// env flags bit 0: the target is disabled; bit 1: CHAP required; bit 2: an OutgoingUser.
#include "fuzz_support.hpp"
#include "target/iscsi/login.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;

namespace {

struct Env final : LoginEnv {
    bool enabled = true;
    TargetParams params;
    AuthConfig auth;
    testing::FixedRandom rnd;
    TargetLookup lookup_target(const std::string& name) override {
        TargetLookup t;
        if (name != fuzz::kTargetName) return t;
        t.exists = true;
        t.enabled = enabled;
        t.params = params;
        t.auth = auth;
        return t;
    }
    TargetParams discovery_params() override { return TargetParams{}; }
    AuthConfig discovery_auth() override { return {}; }
    Random& random() override { return rnd; }
    std::uint16_t portal_group_tag() override { return 1; }
};

// What every parse must keep: text that parses re-encodes to the same pairs.
void check_round_trip(const ParsedText& t) {
    if (t.error != TextError::none) return;
    const ParsedText back = parse_text(fuzz::bytes_of(encode_text(t.pairs)));
    bool same = back.error == TextError::none && back.pairs.size() == t.pairs.size();
    for (std::size_t i = 0; same && i < t.pairs.size(); ++i)
        same = back.pairs[i].key == t.pairs[i].key && back.pairs[i].value == t.pairs[i].value;
    if (!same) fuzz::fail("parse_text(encode_text(pairs)) differs from pairs");
}

// RFC 3720 §12: what any negotiated outcome must satisfy, whatever was offered.
void check_negotiated(const NegotiatedParams& p) {
    auto in = [](std::uint32_t v, std::uint32_t lo, std::uint32_t hi) { return v >= lo && v <= hi; };
    if (!in(p.max_recv_data_segment_length, 512, 16777215) || !in(p.max_xmit_data_segment_length, 512, 16777215))
        fuzz::fail("MaxRecvDataSegmentLength out of 512..2^24-1 (RFC 3720 §12.12)");
    if (p.session_type == SessionType::Normal) {
        if (!in(p.max_burst_length, 512, 16777215) || !in(p.first_burst_length, 512, 16777215))
            fuzz::fail("MaxBurstLength or FirstBurstLength out of 512..2^24-1 (RFC 3720 §12.13-14)");
        if (p.first_burst_length > p.max_burst_length)
            fuzz::fail("FirstBurstLength " + std::to_string(p.first_burst_length) + " over MaxBurstLength " +
                       std::to_string(p.max_burst_length) + " (RFC 3720 §12.14)");
        if (!in(p.max_outstanding_r2t, 1, 65535)) fuzz::fail("MaxOutstandingR2T out of 1..65535 (RFC 3720 §12.17)");
    }
    if (p.error_recovery_level > 2) fuzz::fail("ErrorRecoveryLevel over 2 (RFC 3720 §12.20)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const std::uint8_t flags = in.u8();
    Env env;
    env.enabled = (flags & 0x01) == 0;
    if (flags & 0x02) env.auth.incoming.push_back({fuzz::kChapUser, fuzz::kChapSecret});
    if (flags & 0x04) env.auth.outgoing = iscsi::ChapCredential{fuzz::kOutgoingUser, fuzz::kOutgoingSecret};

    Login login(env);
    std::optional<Negotiator> text;  // full feature: one Negotiator across Text Requests
    std::uint32_t itt = 1;
    for (int records = 0; !in.empty() && records < 64; ++records) {
        std::string_view rec = in.record('\n');
        const std::uint8_t ctl = rec.empty() ? 0 : static_cast<std::uint8_t>(rec[0]);
        const auto segment = fuzz::bytes_of(rec.empty() ? rec : rec.substr(1));
        const ParsedText parsed = parse_text(segment);
        check_round_trip(parsed);
        for (const auto& kv : parsed.pairs) {
            (void)parse_number(kv.value);
            (void)parse_bool(kv.value);
        }
        if (ctl & 0x80) {
            for (const auto& kv : parsed.pairs) {
                TargetParams copy = env.params;
                if (copy.set(kv.key, kv.value).empty()) {
                    env.params = copy;
                    // What was set reads back as a value that sets the same thing.
                    const auto shown = copy.get(kv.key);
                    if (!shown || !TargetParams(copy).set(kv.key, *shown).empty())
                        fuzz::fail("TargetParams: " + kv.key + " set, but what it shows does not set again");
                }
            }
            continue;
        }
        if (ctl & 0x40) {
            if (!text) text.emplace(env.params);
            auto out = text->negotiate(parsed.pairs, true);
            for (const auto& kv : out.answers) text->take_answer(kv);
            (void)text->closing_offers();
            check_negotiated(text->result());
            continue;
        }
        LoginRequestPdu req;
        req.csg = ctl & 0x03;
        req.nsg = (ctl >> 2) & 0x03;
        req.transit = (ctl & 0x10) != 0;
        req.continue_bit = (ctl & 0x20) != 0;
        req.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
        req.itt = itt;
        req.cmdsn = 1;
        LoginReply reply = login.step(req, segment);
        const std::string answer = encode_text(reply.keys);
        check_round_trip(parse_text(fuzz::bytes_of(answer)));
        if (reply.complete) {
            if (login.state() != LoginState::FullFeature) fuzz::fail("a complete login is not in full feature phase");
            check_negotiated(login.result());
        }
        if (reply.failed && login.state() != LoginState::Failed) fuzz::fail("a failed login is not in Failed");
    }
    return 0;
}
