#define BOOST_TEST_MODULE login
#include <boost/test/unit_test.hpp>

#include <map>

#include "support/harness.hpp"
#include "target/iscsi/login.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;
using iscsilab::testing::text_bytes;

namespace {

const char* kTarget = "iqn.2026-11.org.example:t1";

struct Env final : LoginEnv {
    bool enabled = true;
    TargetParams params;
    AuthConfig auth;
    iscsilab::testing::FixedRandom rnd;
    TargetLookup lookup_target(const std::string& name) override {
        TargetLookup t;
        if (name != kTarget) return t;
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

LoginRequestPdu req(std::uint8_t csg, std::uint8_t nsg, bool transit) {
    LoginRequestPdu r;
    r.csg = csg;
    r.nsg = nsg;
    r.transit = transit;
    r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
    r.itt = 1;
    r.cmdsn = 1;
    return r;
}

std::map<std::string, std::string> keys(const LoginReply& r) {
    std::map<std::string, std::string> m;
    for (auto& kv : r.keys) m[kv.key] = kv.value;
    return m;
}

std::uint16_t status(const LoginReply& r) {
    return static_cast<std::uint16_t>((r.pdu.status_class << 8) | r.pdu.status_detail);
}

const std::vector<KeyValue> kOperational = {
    {"HeaderDigest", "None"}, {"DataDigest", "None"}, {"InitialR2T", "Yes"}, {"ImmediateData", "Yes"},
    {"MaxBurstLength", "262144"}, {"FirstBurstLength", "65536"}, {"MaxRecvDataSegmentLength", "65536"},
    {"MaxOutstandingR2T", "1"}, {"ErrorRecoveryLevel", "0"}};

}  // namespace

BOOST_AUTO_TEST_SUITE(login_suite)

BOOST_AUTO_TEST_CASE(security_then_operational_then_full_feature) {
    Env env;
    Login l(env);
    auto r1 = l.step(req(0, 1, true), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget},
                                                  {"SessionType", "Normal"}, {"AuthMethod", "CHAP,None"}}));
    BOOST_TEST(!r1.failed);
    BOOST_TEST(r1.pdu.transit);
    BOOST_TEST(r1.pdu.nsg == 1);
    BOOST_TEST(keys(r1)["AuthMethod"] == "None");
    BOOST_TEST(keys(r1)["TargetPortalGroupTag"] == "1");
    BOOST_TEST(to_string(l.state()) == std::string("OperationalNegotiation"));

    auto r2 = l.step(req(1, 3, true), text_bytes(kOperational));
    BOOST_TEST(!r2.failed);
    BOOST_TEST(r2.complete);
    BOOST_TEST(r2.pdu.transit);
    BOOST_TEST(r2.pdu.nsg == 3);
    auto k = keys(r2);
    BOOST_TEST(k["InitialR2T"] == "Yes");
    BOOST_TEST(k["MaxRecvDataSegmentLength"] == "1048576");  // our declaration
    BOOST_TEST(to_string(l.state()) == std::string("FullFeature"));
    BOOST_TEST(l.result().max_xmit_data_segment_length == 65536u);
    BOOST_TEST(l.result().initiator_name == "iqn.i");
}

BOOST_AUTO_TEST_CASE(straight_to_operational) {
    Env env;
    Login l(env);
    auto ops = kOperational;
    ops.push_back({"InitiatorName", "iqn.i"});
    ops.push_back({"TargetName", kTarget});
    auto r = l.step(req(1, 3, true), text_bytes(ops));
    BOOST_TEST(!r.failed);
    BOOST_TEST(r.complete);
}

BOOST_AUTO_TEST_CASE(target_offers_hold_transit_for_one_round) {
    Env env;
    env.params.max_burst_length = 65536;  // we want less than the RFC default
    Login l(env);
    auto r = l.step(req(1, 3, true), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}}));
    BOOST_TEST(!r.failed);
    BOOST_TEST(!r.pdu.transit);  // we asked something: the initiator must answer first
    BOOST_TEST(keys(r)["MaxBurstLength"] == "65536");
    auto r2 = l.step(req(1, 3, true), text_bytes({{"MaxBurstLength", "65536"}}));
    BOOST_TEST(r2.complete);
    BOOST_TEST(l.result().max_burst_length == 65536u);
}

BOOST_AUTO_TEST_CASE(discovery_session) {
    Env env;
    Login l(env);
    auto r = l.step(req(1, 3, true), text_bytes({{"InitiatorName", "iqn.i"}, {"SessionType", "Discovery"}}));
    BOOST_TEST(r.complete);
    BOOST_TEST((l.result().session_type == SessionType::Discovery));
    BOOST_TEST(!keys(r).count("TargetPortalGroupTag"));
}

BOOST_AUTO_TEST_CASE(status_class_and_detail) {
    Env env;
    struct Case {
        const char* what;
        LoginRequestPdu pdu;
        std::vector<KeyValue> keys;
        std::uint16_t expect;
    };
    auto versioned = req(1, 3, true);
    versioned.version_min = 1;
    auto with_tsih = req(1, 3, true);
    with_tsih.tsih = 5;
    auto both = req(1, 3, true);
    both.continue_bit = true;
    const std::vector<KeyValue> good = {{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}};
    std::vector<Case> cases = {
        {"no InitiatorName", req(1, 3, true), {{"TargetName", kTarget}}, login_status::MissingParameter},
        {"no TargetName", req(1, 3, true), {{"InitiatorName", "iqn.i"}}, login_status::MissingParameter},
        {"unknown target", req(1, 3, true), {{"InitiatorName", "iqn.i"}, {"TargetName", "iqn.nope"}}, login_status::NotFound},
        {"version", versioned, good, login_status::UnsupportedVersion},
        {"second connection", with_tsih, good, login_status::TooManyConnections},
        {"T and C", both, good, login_status::InitiatorError},
        {"reserved CSG", req(2, 3, true), good, login_status::InitiatorError},
        {"NSG behind CSG", req(1, 0, true), good, login_status::InitiatorError},
        {"bad session type", req(1, 3, true), {{"InitiatorName", "iqn.i"}, {"SessionType", "Weird"}}, login_status::SessionTypeNotSupported},
        {"CHAP without a secret", req(0, 1, true), {{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}, {"AuthMethod", "CHAP"}}, login_status::AuthenticationFailure},
        {"key twice", req(1, 3, true), {{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}, {"MaxBurstLength", "512"}, {"MaxBurstLength", "1024"}}, login_status::InitiatorError},
        {"AuthMethod in operational stage", req(1, 3, true), {{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}, {"AuthMethod", "None"}}, login_status::InitiatorError},
    };
    for (auto& c : cases) {
        Login l(env);
        auto r = l.step(c.pdu, text_bytes(c.keys));
        BOOST_TEST(r.failed, c.what);
        BOOST_TEST(status(r) == c.expect, c.what << ": got 0x" << std::hex << status(r));
        BOOST_TEST(to_string(l.state()) == std::string("Failed"), c.what);
    }
    env.enabled = false;
    Login l(env);
    BOOST_TEST(status(l.step(req(1, 3, true), text_bytes(good))) == login_status::ServiceUnavailable);
}

BOOST_AUTO_TEST_CASE(malformed_text_fails) {
    Env env;
    Login l(env);
    std::string s = "InitiatorName";  // no '='
    Bytes b(s.size());
    std::memcpy(b.data(), s.data(), s.size());
    auto r = l.step(req(1, 3, true), b);
    BOOST_TEST(status(r) == login_status::InitiatorError);
}

BOOST_AUTO_TEST_CASE(continue_bit_accumulates_text) {
    Env env;
    Login l(env);
    std::string all = iscsi::encode_text({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}});
    Bytes ab(all.size());
    std::memcpy(ab.data(), all.data(), all.size());
    Bytes first(ab.begin(), ab.begin() + 10), second(ab.begin() + 10, ab.end());
    auto p1 = req(1, 3, false);
    p1.continue_bit = true;
    auto r1 = l.step(p1, first);
    BOOST_TEST(!r1.failed);
    BOOST_TEST(r1.keys.empty());
    auto r2 = l.step(req(1, 3, true), second);
    BOOST_TEST(!r2.failed);
    BOOST_TEST(l.result().target_name == kTarget);  // both halves were read as one text
    // Our default InitialR2T=No differs from the RFC's Yes: we offer it and wait.
    BOOST_TEST(!r2.complete);
    BOOST_TEST(keys(r2)["InitialR2T"] == "No");
    auto r3 = l.step(req(1, 3, true), text_bytes({{"InitialR2T", "No"}}));
    BOOST_TEST(r3.complete);
    BOOST_TEST(!l.result().initial_r2t);
}

BOOST_AUTO_TEST_CASE(identity_must_not_change) {
    Env env;
    Login l(env);
    l.step(req(0, 1, false), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}}));
    auto other = req(0, 1, true);
    other.isid[5] = std::byte{9};
    auto r = l.step(other, {});
    BOOST_TEST(status(r) == login_status::InitiatorError);
}

BOOST_AUTO_TEST_CASE(no_going_back_to_security) {
    Env env;
    Login l(env);
    l.step(req(1, 1, false), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}}));
    auto r = l.step(req(0, 1, true), {});
    BOOST_TEST(status(r) == login_status::InitiatorError);
}

BOOST_AUTO_TEST_CASE(after_the_end) {
    Env env;
    Login l(env);
    auto ops = kOperational;
    ops.push_back({"InitiatorName", "iqn.i"});
    ops.push_back({"TargetName", kTarget});
    BOOST_TEST(l.step(req(1, 3, true), text_bytes(ops)).complete);
    BOOST_TEST(status(l.step(req(1, 3, true), {})) == login_status::InvalidDuringLogin);
}

// ---- CHAP (RFC 3720 §11.1.4) ----------------------------------------------------------

namespace {
struct ChapLogin {
    Env env;
    std::unique_ptr<Login> l;
    std::uint8_t id = 0;
    Bytes challenge;
    explicit ChapLogin(bool mutual) {
        env.auth.incoming.push_back({"joe", "joesecret1234"});
        if (mutual) env.auth.outgoing = ChapCredential{"tgt", "targetsecret99"};
        l = std::make_unique<Login>(env);
    }
    LoginReply start() {
        auto r = l->step(req(0, 1, false), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget},
                                                      {"AuthMethod", "CHAP,None"}}));
        BOOST_TEST(keys(r)["AuthMethod"] == "CHAP");
        auto r2 = l->step(req(0, 1, false), text_bytes({{"CHAP_A", "7,5"}}));
        auto k = keys(r2);
        BOOST_TEST(k["CHAP_A"] == "5");
        id = static_cast<std::uint8_t>(std::stoi(k["CHAP_I"]));
        challenge = *decode_chap_value(k["CHAP_C"]);
        BOOST_TEST(challenge.size() == 16u);
        return r2;
    }
    LoginReply answer(const std::string& secret, std::vector<KeyValue> extra = {}) {
        std::vector<KeyValue> kv = {{"CHAP_N", "joe"}, {"CHAP_R", encode_hex(chap_md5(id, secret, challenge))}};
        kv.insert(kv.end(), extra.begin(), extra.end());
        return l->step(req(0, 1, true), text_bytes(kv));
    }
};
}  // namespace

BOOST_AUTO_TEST_CASE(rfc1994_md5_response) {
    // MD5(0x01 || "secret" || 0x00..0x0f), the value computed with Python's hashlib.
    Bytes c(16);
    for (int i = 0; i < 16; ++i) c[static_cast<std::size_t>(i)] = static_cast<std::byte>(i);
    BOOST_TEST(encode_hex(chap_md5(1, "secret", c)) == "0x740e86463bda3a4d7017d6e0fba0699d");
    BOOST_TEST(encode_hex(chap_md5(1, "secret", c)) != encode_hex(chap_md5(2, "secret", c)));
    auto b64 = decode_chap_value("0bAAEC");
    BOOST_REQUIRE(b64);
    BOOST_TEST(b64->size() == 3u);
    BOOST_TEST(static_cast<int>((*b64)[2]) == 2);
    BOOST_TEST(!decode_chap_value("0xabc"));
    BOOST_TEST(!decode_chap_value("nothex"));
    // Base64 padding: "AA==" is one byte; more '=' than a quantum closes with is refused.
    BOOST_TEST(decode_chap_value("0bAA==")->size() == 1u);
    BOOST_TEST(!decode_chap_value("0b===="));
    BOOST_TEST(!decode_chap_value("0bA==="));
}

BOOST_AUTO_TEST_CASE(one_way_chap) {
    ChapLogin c(false);
    c.start();
    auto r = c.answer("joesecret1234");
    BOOST_TEST(!r.failed);
    BOOST_TEST(r.pdu.transit);
    BOOST_TEST(r.pdu.nsg == 1);
}

BOOST_AUTO_TEST_CASE(wrong_secret_fails_0201) {
    ChapLogin c(false);
    c.start();
    auto r = c.answer("not-the-secret");
    BOOST_TEST(r.failed);
    BOOST_TEST(status(r) == login_status::AuthenticationFailure);
    BOOST_TEST(r.why.find("not-the-secret") == std::string::npos);  // no secret in logs
}

BOOST_AUTO_TEST_CASE(challenges_are_fresh) {
    ChapLogin a(false), b(false);
    a.start();
    b.env.rnd.fill(std::span<std::byte>(b.challenge.data(), 0));
    Bytes dummy(5);
    b.env.rnd.fill(dummy);  // move the second stream along
    b.start();
    BOOST_TEST((a.challenge != b.challenge));
    // A response computed for one login does not open another (no replay).
    auto replay = b.l->step(req(0, 1, true), text_bytes({{"CHAP_N", "joe"},
                                                         {"CHAP_R", encode_hex(chap_md5(a.id, "joesecret1234", a.challenge))}}));
    BOOST_TEST(status(replay) == login_status::AuthenticationFailure);
}

BOOST_AUTO_TEST_CASE(mutual_chap) {
    ChapLogin c(true);
    c.start();
    Bytes mine(16, std::byte{0x42});
    auto r = c.answer("joesecret1234", {{"CHAP_I", "7"}, {"CHAP_C", encode_hex(mine)}});
    BOOST_TEST(!r.failed);
    auto k = keys(r);
    BOOST_TEST(k["CHAP_N"] == "tgt");
    BOOST_TEST(k["CHAP_R"] == encode_hex(chap_md5(7, "targetsecret99", mine)));
}

BOOST_AUTO_TEST_CASE(reflected_challenge_is_refused) {
    ChapLogin c(true);
    c.start();
    auto r = c.answer("joesecret1234", {{"CHAP_I", "7"}, {"CHAP_C", encode_hex(c.challenge)}});
    BOOST_TEST(status(r) == login_status::AuthenticationFailure);
}

BOOST_AUTO_TEST_CASE(mutual_without_outgoing_user_fails) {
    ChapLogin c(false);
    c.start();
    Bytes mine(16, std::byte{0x42});
    auto r = c.answer("joesecret1234", {{"CHAP_I", "7"}, {"CHAP_C", encode_hex(mine)}});
    BOOST_TEST(status(r) == login_status::AuthenticationFailure);
}

BOOST_AUTO_TEST_CASE(chap_required_cannot_be_skipped) {
    Env env;
    env.auth.incoming.push_back({"joe", "joesecret1234"});
    {
        Login l(env);  // straight to the operational stage
        auto r = l.step(req(1, 3, true), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}}));
        BOOST_TEST(status(r) == login_status::AuthenticationFailure);
    }
    {
        Login l(env);  // AuthMethod=None only
        auto r = l.step(req(0, 1, true), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}, {"AuthMethod", "None"}}));
        BOOST_TEST(status(r) == login_status::AuthenticationFailure);
    }
    {
        Login l(env);  // CHAP chosen, then a jump to the operational stage
        l.step(req(0, 1, false), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}, {"AuthMethod", "CHAP"}}));
        auto r = l.step(req(1, 3, true), text_bytes({{"MaxBurstLength", "4096"}}));
        BOOST_TEST(status(r) == login_status::AuthenticationFailure);
    }
    {
        Login l(env);  // no MD5 in CHAP_A
        l.step(req(0, 1, false), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}, {"AuthMethod", "CHAP"}}));
        auto r = l.step(req(0, 1, false), text_bytes({{"CHAP_A", "6,7"}}));
        BOOST_TEST(status(r) == login_status::AuthenticationFailure);
    }
    {
        Login l(env);  // T=1 before authenticating: held in the security stage
        auto r = l.step(req(0, 1, true), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kTarget}, {"AuthMethod", "CHAP"}}));
        BOOST_TEST(!r.failed);
        BOOST_TEST(!r.pdu.transit);
    }
}

BOOST_AUTO_TEST_CASE(credential_attributes) {
    CredentialSet s;
    BOOST_TEST(s.add("IncomingUser1", "joe2 12charsecret2").empty());
    BOOST_TEST(s.add("IncomingUser", "joe 12charsecret").empty());
    BOOST_TEST(s.add("IncomingUser", "ann 12charsecret").empty());  // moves to the next free name
    BOOST_TEST(s.entries().count("IncomingUser2") == 1u);
    BOOST_TEST(!s.add("IncomingUser", "joe othersecret").empty());  // same user twice
    BOOST_TEST(s.add("OutgoingUser", "jim1 12charpasswd").empty());
    BOOST_TEST(!s.add("OutgoingUser", "jim2 12charpasswd").empty());
    BOOST_TEST(!s.add("Incoming", "x y").empty());
    BOOST_TEST(!s.add("IncomingUser3", "nosecret").empty());
    BOOST_TEST(s.config().incoming.size() == 3u);
    BOOST_TEST(s.config().outgoing->user == "jim1");
    BOOST_TEST(CredentialSet::shown(s.entries().at("IncomingUser")).find("12charsecret") == std::string::npos);
    BOOST_TEST(s.del("IncomingUser", "joe2").empty());
    BOOST_TEST(s.config().incoming.size() == 2u);
    BOOST_TEST(!s.del("IncomingUser", "nobody").empty());
}

BOOST_AUTO_TEST_SUITE_END()
