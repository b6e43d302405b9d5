// CHAP that resists guessing (RFC 3720 §8.2.1, §11.1.4; RFC 1994): responses compared
// in constant time, failed logins backing off on the Clock port, challenges never
// reused, reflected or replayed challenges refused, and no secret in any log.
#define BOOST_TEST_MODULE chap
#include <boost/test/unit_test.hpp>

#include <openssl/crypto.h>

#include <algorithm>

#include "support/harness.hpp"
#include "target/iscsi/driver.hpp"
#include "target/iscsi/login.hpp"
#include "target/mgmt/scst.hpp"
#include "target/mgmt/tree.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;
using namespace iscsilab::testing;
using namespace std::chrono_literals;

namespace {

const char* kIqn = "iqn.2026-11.org.example:disk";
const char* kUserSecret = "joesecret1234";
const char* kTargetSecret = "targetsecret99";
const char* kDiscoverySecret = "discsecret5678";

std::uint16_t status_of(const Pdu& p) {
    auto r = LoginResponsePdu::decode(p.bhs);
    return static_cast<std::uint16_t>((r.status_class << 8) | r.status_detail);
}

class MemStores final : public mgmt::StoreFactory {
public:
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig&, std::string&) override {
        return std::make_shared<MemoryStore>(1u << 20);
    }
};

// The driver behind real connections (MemoryStream) on a ManualLoop clock, with one
// target that wants CHAP (and can answer mutual CHAP).
struct Rig {
    ManualLoop loop;
    FixedRandom rnd;
    IscsiDriver driver{rnd};
    MemStores stores;
    mgmt::Scst scst{driver, stores};
    mgmt::MgmtTree tree{scst, 1};
    std::vector<std::string> lines;  // every log line, formatted as serve prints them

    explicit Rig(const std::string& creds = std::string(" IncomingUser \"joe ") + kUserSecret + "\"\n OutgoingUser \"tgt " +
                                            kTargetSecret + "\"\n") {
        std::string conf = std::string("HANDLER vdisk_fileio {\n DEVICE d0 {\n filename /mem\n }\n}\n") +
                           "TARGET_DRIVER iscsi {\n enabled 1\n IncomingUser \"disc " + kDiscoverySecret + "\"\n TARGET " +
                           kIqn + " {\n" + creds + " LUN 0 d0\n enabled 1\n }\n}\n";
        auto p = mgmt::parse_scst_conf(conf, "test.conf");
        BOOST_REQUIRE(!p.error);
        auto e = scst.apply(p.blocks, "test.conf");
        BOOST_REQUIRE_MESSAGE(!e, (e ? e->text() : ""));
        tree.route_logs([this](const LogLine& l) { lines.push_back(format_line("T", l, 1)); });
    }

    struct Initiator {
        std::shared_ptr<MemoryStream> s;
        std::string name;
        std::uint8_t id = 0;
        Bytes challenge;
    };

    Initiator connect(const std::string& name = "iqn.2026-11.org.example:host",
                      const std::string& peer = "10.0.0.2:50000") {
        Initiator i{std::make_shared<MemoryStream>(loop), name, 0, {}};
        i.s->peer_name = peer;
        driver.accept(i.s, loop, loop);
        loop.run();
        return i;
    }

    std::vector<Pdu> send(Initiator& i, const std::vector<KeyValue>& kv, bool transit) {
        LoginRequestPdu r;
        r.csg = 0;
        r.nsg = 1;
        r.transit = transit;
        r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{1}};
        r.itt = 1;
        r.cmdsn = 1;
        Bytes data = text_bytes(kv);
        i.s->inject(frame(r.encode(static_cast<std::uint32_t>(data.size())), data));
        loop.run();
        return drain(*i.s);
    }

    // AuthMethod, then CHAP_A: the target's CHAP_I and CHAP_C.
    void start(Initiator& i) {
        auto r1 = send(i, {{"InitiatorName", i.name}, {"TargetName", kIqn}, {"SessionType", "Normal"},
                           {"AuthMethod", "CHAP,None"}}, false);
        BOOST_REQUIRE_EQUAL(r1.size(), 1u);
        BOOST_REQUIRE(keys_of(r1[0])["AuthMethod"] == "CHAP");
        auto r2 = send(i, {{"CHAP_A", "5"}}, false);
        BOOST_REQUIRE_EQUAL(r2.size(), 1u);
        auto k = keys_of(r2[0]);
        i.id = static_cast<std::uint8_t>(std::stoi(k["CHAP_I"]));
        i.challenge = *decode_chap_value(k["CHAP_C"]);
    }

    // CHAP_N and CHAP_R made with `secret` (and mutual CHAP keys in extra): what came back
    // at once (nothing while a failure waits out its back-off).
    std::vector<Pdu> answer(Initiator& i, const std::string& secret, std::vector<KeyValue> extra = {},
                            const std::string& user = "joe") {
        std::vector<KeyValue> kv = {{"CHAP_N", user}, {"CHAP_R", encode_hex(chap_md5(i.id, secret, i.challenge))}};
        kv.insert(kv.end(), extra.begin(), extra.end());
        return send(i, kv, true);
    }

    // The time until the held Login Response of i goes out, to the millisecond (at most
    // 60 s); the response itself in `out`.
    Nanos wait_for_response(Initiator& i, std::vector<Pdu>& out) {
        Nanos waited{0};
        while (waited < 60s) {
            loop.advance(1ms);
            waited += 1ms;
            out = drain(*i.s);
            if (!out.empty()) return waited;
        }
        return waited;
    }
};

Bytes bytes_of(std::string_view s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    return Bytes(p, p + s.size());
}

// Restores the comparison routine when the test ends, whatever happens in it.
struct CompareGuard {
    CompareFn saved = chap_compare();
    ~CompareGuard() { chap_compare() = saved; }
};
int calls = 0;
std::size_t last_length = 0;
int spy_compare(const void* a, const void* b, std::size_t n) {
    ++calls;
    last_length = n;
    return CRYPTO_memcmp(a, b, n);
}
int says_equal(const void*, const void*, std::size_t) {
    ++calls;
    return 0;
}

// A login with a test LoginEnv (no connection): for CHAP's own rules.
struct Env final : LoginEnv {
    AuthConfig auth;
    FixedRandom fixed;
    Random* rnd = &fixed;
    ChapMemory* memory = nullptr;
    TargetLookup lookup_target(const std::string&) override {
        TargetLookup t;
        t.exists = t.enabled = true;
        t.auth = auth;
        return t;
    }
    TargetParams discovery_params() override { return {}; }
    AuthConfig discovery_auth() override { return {}; }
    Random& random() override { return *rnd; }
    std::uint16_t portal_group_tag() override { return 1; }
    ChapMemory* chap_memory() override { return memory; }
};

LoginRequestPdu req(bool transit) {
    LoginRequestPdu r;
    r.csg = 0;
    r.nsg = 1;
    r.transit = transit;
    r.itt = 1;
    return r;
}

std::uint16_t status(const LoginReply& r) {
    return static_cast<std::uint16_t>((r.pdu.status_class << 8) | r.pdu.status_detail);
}

struct EnvLogin {
    Login l;
    std::uint8_t id = 0;
    Bytes challenge;
    LoginReply last;
    explicit EnvLogin(Env& env) : l(env) {}
    bool start() {
        l.step(req(false), text_bytes({{"InitiatorName", "iqn.i"}, {"TargetName", kIqn}, {"AuthMethod", "CHAP"}}));
        last = l.step(req(false), text_bytes({{"CHAP_A", "5"}}));
        if (last.failed) return false;
        std::map<std::string, std::string> k;
        for (auto& kv : last.keys) k[kv.key] = kv.value;
        id = static_cast<std::uint8_t>(std::stoi(k["CHAP_I"]));
        challenge = *decode_chap_value(k["CHAP_C"]);
        return true;
    }
    LoginReply answer(const Bytes& response, std::vector<KeyValue> extra = {}) {
        std::vector<KeyValue> kv = {{"CHAP_N", "joe"}, {"CHAP_R", encode_hex(response)}};
        kv.insert(kv.end(), extra.begin(), extra.end());
        return last = l.step(req(true), text_bytes(kv));
    }
    Bytes right(std::string_view secret) const {
        auto m = chap_md5(id, secret, challenge);
        return Bytes(m.begin(), m.end());
    }
};

// The same 16 bytes, `times` times (then an LCG): a random source that repeats itself.
class RepeatingRandom final : public Random {
public:
    explicit RepeatingRandom(int times) : left_(times) {}
    void fill(std::span<std::byte> out) override {
        ++fills;
        if (out.size() == 16 && left_ > 0) {
            --left_;
            std::fill(out.begin(), out.end(), std::byte{0x5a});
            return;
        }
        for (auto& b : out) b = static_cast<std::byte>(state_ = state_ * 1103515245u + 12345u);
    }
    int fills = 0;

private:
    int left_;
    std::uint32_t state_ = 7;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(chap_suite)

// ---- constant-time comparison ------------------------------------------------------

BOOST_AUTO_TEST_CASE(responses_are_compared_in_constant_time) {
    CompareGuard guard;
    // The routine is OpenSSL's constant-time one...
    BOOST_TEST(chap_compare() == &CRYPTO_memcmp);

    // ...and the response is judged through it, whole: a wrong response that differs in
    // its first byte is still compared over all 16 bytes (no early exit).
    Env env;
    env.auth.incoming.push_back({"joe", kUserSecret});
    chap_compare() = &spy_compare;
    calls = 0;
    {
        EnvLogin l(env);
        BOOST_REQUIRE(l.start());
        Bytes wrong = l.right(kUserSecret);
        wrong[0] ^= std::byte{0xff};
        BOOST_TEST(status(l.answer(wrong)) == login_status::AuthenticationFailure);
    }
    BOOST_TEST(calls >= 1);
    BOOST_TEST(last_length == 16u);

    // Nothing else decides: a routine that says "equal" lets any response in. (So a
    // plain == or memcmp beside it would have made this fail.)
    chap_compare() = &says_equal;
    calls = 0;
    {
        EnvLogin l(env);
        BOOST_REQUIRE(l.start());
        Bytes wrong(16, std::byte{0});
        BOOST_TEST(!l.answer(wrong).failed);
    }
    BOOST_TEST(calls >= 1);
}

// ---- back-off on the Clock port -------------------------------------------------------

BOOST_AUTO_TEST_CASE(failed_login_is_answered_after_a_growing_back_off) {
    Rig rig;
    const Nanos expected[] = {1s, 2s, 4s, 8s};
    for (int k = 0; k < 4; ++k) {
        auto i = rig.connect();
        rig.start(i);
        // The wrong secret: no answer yet...
        BOOST_TEST(rig.answer(i, "not-the-secret").empty());
        // ...a Login Request meanwhile is not answered either...
        BOOST_TEST(rig.send(i, {{"CHAP_N", "joe"}}, true).empty());
        std::vector<Pdu> out;
        const Nanos waited = rig.wait_for_response(i, out);
        // ...and the Authentication Failure goes out after the back-off, not before.
        BOOST_TEST(waited.count() == expected[k].count(), "failure " << k + 1 << ": answered after " << waited.count() / 1000000 << " ms");
        BOOST_REQUIRE_EQUAL(out.size(), 1u);
        BOOST_TEST(status_of(out[0]) == login_status::AuthenticationFailure);
        BOOST_TEST(i.s->closed);
    }
    // Logged, with the count.
    BOOST_TEST(std::count_if(rig.lines.begin(), rig.lines.end(), [](const std::string& l) {
                   return l.find("warning") != std::string::npos && l.find("failure 4 of this initiator") != std::string::npos;
               }) == 1);
}

BOOST_AUTO_TEST_CASE(back_off_holds_no_other_initiator) {
    Rig rig;
    // A failed once from its host: its next failure waits 2 s.
    {
        auto a = rig.connect("iqn.a", "10.0.0.2:50000");
        rig.start(a);
        rig.answer(a, "wrong-secret");
        std::vector<Pdu> out;
        rig.wait_for_response(a, out);
    }
    auto a = rig.connect("iqn.a", "10.0.0.2:50001");
    rig.start(a);
    BOOST_TEST(rig.answer(a, "wrong-secret").empty());  // held for 2 s

    // Meanwhile B, from another host, logs in with the right secret: answered at once.
    auto b = rig.connect("iqn.b", "10.0.0.3:50000");
    rig.start(b);
    auto ok = rig.answer(b, kUserSecret);
    BOOST_REQUIRE_EQUAL(ok.size(), 1u);
    BOOST_TEST(status_of(ok[0]) == login_status::Success);
    BOOST_TEST(LoginResponsePdu::decode(ok[0].bhs).transit);

    // And C, from a third host, fails: its own count (1 s), not A's.
    auto c = rig.connect("iqn.c", "10.0.0.4:50000");
    rig.start(c);
    BOOST_TEST(rig.answer(c, "wrong-secret").empty());
    rig.loop.advance(1s);
    auto c_out = drain(*c.s);
    BOOST_REQUIRE_EQUAL(c_out.size(), 1u);
    BOOST_TEST(status_of(c_out[0]) == login_status::AuthenticationFailure);
    BOOST_TEST(drain(*a.s).empty());  // A still waits
    rig.loop.advance(1s);
    auto a_out = drain(*a.s);
    BOOST_REQUIRE_EQUAL(a_out.size(), 1u);
    BOOST_TEST(status_of(a_out[0]) == login_status::AuthenticationFailure);
}

BOOST_AUTO_TEST_CASE(back_off_counts_names_and_addresses_in_a_bounded_table) {
    LoginBackoff::Policy p;
    p.max_entries = 4;
    LoginBackoff b(p);
    // Doubling up to the cap.
    const long expect_s[] = {1, 2, 4, 8, 16, 30, 30};
    Nanos t{0};
    for (long e : expect_s) {
        t += 1s;
        BOOST_TEST(b.failed("iqn.x", "", t).delay.count() == Nanos(std::chrono::seconds(e)).count());
    }
    // By address, whatever the name (and whatever the port).
    LoginBackoff b2(p);
    BOOST_TEST(b2.failed("iqn.1", "192.0.2.7:1000", t).delay.count() == Nanos(1s).count());
    BOOST_TEST(b2.failed("iqn.2", "192.0.2.7:1001", t).delay.count() == Nanos(2s).count());
    BOOST_TEST(b2.failed("iqn.3", "[2001:db8::1]:1002", t).by_address == 1u);
    BOOST_TEST(LoginBackoff::address_of("[2001:db8::1]:3260") == "2001:db8::1");
    // Bounded: a flood of names keeps at most max_entries, the longest quiet going first.
    LoginBackoff b3(p);
    b3.failed("iqn.old", "", t);
    b3.failed("iqn.old", "", t + 1ms);
    for (int k = 0; k < 100; ++k) b3.failed("iqn.flood" + std::to_string(k), "", t + 2ms);
    BOOST_TEST(b3.size() <= 4u);
    BOOST_TEST(b3.failed("iqn.old", "", t + 3ms).by_name == 1u);  // evicted: starts afresh
    // Forgotten after a quiet period.
    LoginBackoff b4(p);
    b4.failed("iqn.q", "", t);
    b4.failed("iqn.q", "", t);
    BOOST_TEST(b4.failed("iqn.q", "", t + p.forget_after - 1ms).by_name == 3u);
    BOOST_TEST(b4.failed("iqn.q", "", t + 2 * p.forget_after).by_name == 1u);
}

// ---- challenges ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_challenge_is_never_sent_twice) {
    ChapMemory memory;
    RepeatingRandom rnd(2);  // the same 16 bytes for the first two challenges drawn
    Env env;
    env.auth.incoming.push_back({"joe", kUserSecret});
    env.rnd = &rnd;
    env.memory = &memory;
    EnvLogin a(env), b(env);
    BOOST_REQUIRE(a.start());
    const int before = rnd.fills;
    BOOST_REQUIRE(b.start());
    BOOST_TEST(a.challenge.size() >= 16u);
    BOOST_TEST(b.challenge.size() >= 16u);
    BOOST_TEST((a.challenge != b.challenge));
    BOOST_TEST(rnd.fills - before == 3);  // the id, the repeat, the fresh one
    BOOST_TEST(memory.issued.size() == 2u);
    // Both still work, each with its own challenge.
    BOOST_TEST(!b.answer(b.right(kUserSecret)).failed);

    // A source that only repeats itself: the login fails (target error), the challenge
    // is not sent again.
    RepeatingRandom stuck(1000);
    ChapMemory fresh_memory;
    env.rnd = &stuck;
    env.memory = &fresh_memory;
    EnvLogin c(env), d(env);
    BOOST_REQUIRE(c.start());
    BOOST_TEST(!d.start());
    BOOST_TEST(status(d.last) == login_status::TargetError);
    BOOST_TEST(d.last.keys.empty());
}

BOOST_AUTO_TEST_CASE(reflected_challenge_is_refused_with_0201) {
    Rig rig;
    // The target's own challenge back as the initiator's CHAP_C (RFC 3720 §8.2.1).
    auto i = rig.connect();
    rig.start(i);
    BOOST_TEST(rig.answer(i, kUserSecret, {{"CHAP_I", "7"}, {"CHAP_C", encode_hex(i.challenge)}}).empty());
    std::vector<Pdu> out;
    rig.wait_for_response(i, out);
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_TEST(status_of(out[0]) == login_status::AuthenticationFailure);
    BOOST_TEST(keys_of(out[0]).count("CHAP_R") == 0u);  // no response of ours went out
    BOOST_TEST(i.s->closed);

    // The RFC's example: a challenge the target sent on one connection, reflected on
    // another.
    auto one = rig.connect("iqn.one", "10.0.0.5:1");
    rig.start(one);
    auto two = rig.connect("iqn.two", "10.0.0.6:1");
    rig.start(two);
    rig.answer(two, kUserSecret, {{"CHAP_I", "9"}, {"CHAP_C", encode_hex(one.challenge)}});
    rig.wait_for_response(two, out);
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_TEST(status_of(out[0]) == login_status::AuthenticationFailure);
    BOOST_TEST(keys_of(out[0]).count("CHAP_R") == 0u);
}

BOOST_AUTO_TEST_CASE(a_chap_i_chap_c_pair_is_answered_once) {
    Rig rig;
    const Bytes mine(16, std::byte{0x42});
    auto first = rig.connect("iqn.one", "10.0.0.5:1");
    rig.start(first);
    auto ok = rig.answer(first, kUserSecret, {{"CHAP_I", "7"}, {"CHAP_C", encode_hex(mine)}});
    BOOST_REQUIRE_EQUAL(ok.size(), 1u);
    BOOST_TEST(status_of(ok[0]) == login_status::Success);
    BOOST_TEST(keys_of(ok[0])["CHAP_R"] == encode_hex(chap_md5(7, kTargetSecret, mine)));

    // The same pair again: refused, and the target's response is not sent twice.
    auto again = rig.connect("iqn.two", "10.0.0.6:1");
    rig.start(again);
    rig.answer(again, kUserSecret, {{"CHAP_I", "7"}, {"CHAP_C", encode_hex(mine)}});
    std::vector<Pdu> out;
    rig.wait_for_response(again, out);
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_TEST(status_of(out[0]) == login_status::AuthenticationFailure);
    BOOST_TEST(keys_of(out[0]).count("CHAP_R") == 0u);

    // Another identifier with it is another pair.
    auto other = rig.connect("iqn.three", "10.0.0.7:1");
    rig.start(other);
    auto ok2 = rig.answer(other, kUserSecret, {{"CHAP_I", "8"}, {"CHAP_C", encode_hex(mine)}});
    BOOST_REQUIRE_EQUAL(ok2.size(), 1u);
    BOOST_TEST(status_of(ok2[0]) == login_status::Success);
}

BOOST_AUTO_TEST_CASE(one_secret_in_both_directions_is_refused) {
    // RFC 3720 §8.2.1: a response equal to the one the target would make for the same
    // challenge is an authentication failure.
    Env env;
    env.auth.incoming.push_back({"joe", "samesecret1234"});
    env.auth.outgoing = ChapCredential{"tgt", "samesecret1234"};
    EnvLogin l(env);
    BOOST_REQUIRE(l.start());
    auto r = l.answer(l.right("samesecret1234"));
    BOOST_TEST(status(r) == login_status::AuthenticationFailure);
    BOOST_TEST(r.why.find("samesecret1234") == std::string::npos);
}

// ---- no secret anywhere ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(no_secret_in_logs_errors_or_the_tree) {
    Rig rig;
    // Everything the logs can say.
    BOOST_REQUIRE(rig.tree.write("targets/iscsi/trace_level", "all").empty());
    BOOST_REQUIRE(rig.tree.write("trace_level", "all").empty());
    std::vector<std::string> said;

    // A failed login with a known secret, a mutual CHAP login, a reflection.
    auto bad = rig.connect("iqn.bad", "10.0.0.9:1");
    rig.start(bad);
    rig.answer(bad, "guessedsecret1");
    std::vector<Pdu> out;
    rig.wait_for_response(bad, out);
    auto good = rig.connect("iqn.good", "10.0.0.8:1");
    rig.start(good);
    BOOST_REQUIRE_EQUAL(rig.answer(good, kUserSecret, {{"CHAP_I", "1"}, {"CHAP_C", encode_hex(Bytes(16, std::byte{7}))}}).size(), 1u);
    auto refl = rig.connect("iqn.refl", "10.0.0.10:1");
    rig.start(refl);
    rig.answer(refl, kUserSecret, {{"CHAP_I", "1"}, {"CHAP_C", encode_hex(refl.challenge)}});
    rig.wait_for_response(refl, out);

    // Management: credentials added and removed, mistakes that quote what they got.
    const std::string tgt = std::string("targets/iscsi/") + kIqn;
    BOOST_TEST(rig.tree.write("targets/iscsi/mgmt", std::string("add_target_attribute ") + kIqn + " IncomingUser ann annsecret5678").empty());
    said.push_back(rig.tree.write("targets/iscsi/mgmt", "add_target iqn.2026-11.org.example:t2 IncomingUser bob bobsecret5678"));
    said.push_back(rig.tree.write("targets/iscsi/mgmt", std::string("add_target_attribute ") + kIqn + " IncomingUser ann annsecret5678"));
    said.push_back(rig.tree.write("targets/iscsi/mgmt", std::string("add_target_attribute ") + kIqn + " OutgoingUser tgt2 annsecret5678"));
    BOOST_TEST(rig.tree.write("targets/iscsi/mgmt", std::string("del_target_attribute ") + kIqn + " IncomingUser ann").empty());
    for (const char* path : {"IncomingUser", "OutgoingUser"}) said.push_back(rig.tree.cat(tgt + "/" + path).value);
    said.push_back(rig.tree.cat("targets/iscsi/IncomingUser").value);
    said.push_back(rig.tree.tree("").value);
    BOOST_TEST(said[0].find("IncomingUser bob ********") != std::string::npos, said[0]);

    said.insert(said.end(), rig.lines.begin(), rig.lines.end());
    BOOST_TEST(rig.lines.size() > 5u);
    for (std::string secret : {kUserSecret, kTargetSecret, kDiscoverySecret, "guessedsecret1", "annsecret5678", "bobsecret5678"}) {
        const std::string hex = encode_hex(bytes_of(secret));  // "0x..."
        for (const auto& s : said) {
            BOOST_TEST(s.find(secret) == std::string::npos, "'" << secret << "' in: " << s);
            BOOST_TEST(s.find(hex.substr(2)) == std::string::npos, "the hex of '" << secret << "' in: " << s);
        }
    }
    // Only scst.conf holds them (it must, to configure the target again).
    const std::string saved = rig.tree.save();
    BOOST_TEST(saved.find(kUserSecret) != std::string::npos);
    BOOST_TEST(saved.find(kTargetSecret) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(redacted_hides_every_secret_form) {
    for (const char* t : {"IncomingUser joe s3cretvalue1", "IncomingUser3=joe s3cretvalue1", "OutgoingUser \"joe s3cretvalue1\"",
                          "x; IncomingUser=joe\ts3cretvalue1; y=1"}) {
        const std::string r = CredentialSet::redacted(t);
        BOOST_TEST(r.find("s3cretvalue1") == std::string::npos, r);
        BOOST_TEST(r.find("joe") != std::string::npos, r);
    }
    BOOST_TEST(CredentialSet::redacted("MaxBurstLength=4096") == "MaxBurstLength=4096");
}

BOOST_AUTO_TEST_SUITE_END()
