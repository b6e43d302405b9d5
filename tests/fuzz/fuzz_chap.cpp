// CHAP (target/iscsi/chap.*): the authenticator driven with key lists in sequence, the
// binary value decoder, and the credential attributes.
//
// Input: records separated by '\n', each a control byte and "key=value\0..." text.
// The first record sets up the credentials: each pair is an attribute (IncomingUser[N],
// OutgoingUser) and its "user secret" value, added (control bit 0 clear) or deleted; with
// no incoming user left, alice is one. Every later record is one Login Request's CHAP
// keys for ChapAuthenticator::on_keys; control bit 0 swaps its CHAP_R for the right
// response to the challenge just issued (so that the fuzzer gets past it to mutual CHAP),
// with the secret of the user CHAP_N names.
#include "fuzz_support.hpp"
#include "target/iscsi/chap.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;

namespace {

void check_value(const std::string& v) {
    auto b = decode_chap_value(v);
    if (!b || b->empty()) return;
    // What decodes, re-encoded as hex, decodes to the same bytes.
    auto again = decode_chap_value(encode_hex(*b));
    if (!again || *again != *b) fuzz::fail("decode_chap_value(encode_hex(x)) != x for " + v.substr(0, 64));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    CredentialSet creds;
    {
        std::string_view rec = in.record('\n');
        const bool del = !rec.empty() && (rec[0] & 0x01);
        for (const auto& kv : parse_text(fuzz::bytes_of(rec.empty() ? rec : rec.substr(1))).pairs) {
            (void)CredentialSet::is_credential_attr(kv.key);
            if (del) (void)creds.del(kv.key, kv.value);
            else (void)creds.add(kv.key, kv.value);
        }
    }
    AuthConfig config = creds.config();
    if (config.incoming.empty()) config.incoming.push_back({fuzz::kChapUser, fuzz::kChapSecret});

    testing::FixedRandom rnd;
    ChapAuthenticator chap(config, rnd);
    std::optional<std::uint8_t> id;
    Bytes challenge;
    for (int records = 0; !in.empty() && records < 16; ++records) {
        std::string_view rec = in.record('\n');
        const std::uint8_t ctl = rec.empty() ? 0 : static_cast<std::uint8_t>(rec[0]);
        std::vector<KeyValue> keys = parse_text(fuzz::bytes_of(rec.empty() ? rec : rec.substr(1))).pairs;
        for (const auto& kv : keys) check_value(kv.value);
        if ((ctl & 0x01) && id) {
            std::string secret;
            for (const auto& kv : keys)
                if (kv.key == "CHAP_N")
                    for (const auto& c : config.incoming)
                        if (c.user == kv.value) secret = c.secret;
            for (auto& kv : keys)
                if (kv.key == "CHAP_R") kv.value = encode_hex(chap_md5(*id, secret, challenge));
        }
        const auto before = chap.state();
        auto step = chap.on_keys(keys);
        if (step.failed != (chap.state() == ChapAuthenticator::State::Failed))
            fuzz::fail("a failed CHAP step left the authenticator out of Failed");
        if (chap.state() == ChapAuthenticator::State::Done && before != ChapAuthenticator::State::Done &&
            chap.authenticated_user().empty())
            fuzz::fail("CHAP succeeded with no user");
        for (const auto& kv : step.answers) {
            if (kv.key == "CHAP_I") id = static_cast<std::uint8_t>(std::stoul(kv.value));
            if (kv.key == "CHAP_C") challenge = decode_chap_value(kv.value).value_or(Bytes{});
        }
    }
    return 0;
}
