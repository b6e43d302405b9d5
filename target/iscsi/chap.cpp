#include "target/iscsi/chap.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace iscsilab::iscsi {

namespace {
constexpr std::size_t kMaxBinary = 1024;  // RFC 3720 §11.1.4: CHAP_C/CHAP_R bound
// A Random that gives the same challenge this many times running is broken: the login
// fails rather than send a challenge twice.
constexpr int kDraws = 8;
static_assert(ChapAuthenticator::kChallengeLength >= 16);
}  // namespace

CompareFn& chap_compare() {
    static CompareFn fn = &CRYPTO_memcmp;
    return fn;
}

bool chap_equal(std::span<const std::byte> a, std::span<const std::byte> b) {
    if (a.size() != b.size()) return false;  // sizes are public (16 for MD5)
    return chap_compare()(a.data(), b.data(), a.size()) == 0;
}

std::string CredentialSet::redacted(std::string_view text) {
    std::string out(text);
    auto word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    auto sep = [](char c) { return c == ' ' || c == '\t' || c == '=' || c == '"'; };
    auto end_of_word = [](char c) { return c == ' ' || c == '\t' || c == '"' || c == ';' || c == '\n' || c == '\''; };
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (i > 0 && word_char(out[i - 1])) continue;
        std::size_t j = i;
        if (out.compare(i, 12, "IncomingUser") == 0 || out.compare(i, 12, "OutgoingUser") == 0) j = i + 12;
        else continue;
        while (j < out.size() && std::isdigit(static_cast<unsigned char>(out[j]))) ++j;
        if (j < out.size() && !sep(out[j])) continue;
        while (j < out.size() && sep(out[j])) ++j;
        while (j < out.size() && !end_of_word(out[j])) ++j;  // the user
        while (j < out.size() && (out[j] == ' ' || out[j] == '\t')) ++j;
        std::size_t k = j;
        while (k < out.size() && !end_of_word(out[k])) ++k;  // the secret
        if (k > j) out.replace(j, k - j, "********");
        i = j;
    }
    return out;
}

bool CredentialSet::is_credential_attr(const std::string& a) {
    if (a == "OutgoingUser" || a == "IncomingUser") return true;
    if (a.rfind("IncomingUser", 0) != 0 || a.size() == 12) return false;
    return std::all_of(a.begin() + 12, a.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string CredentialSet::add(const std::string& attr, const std::string& value) {
    if (!is_credential_attr(attr)) return "unknown attribute '" + attr + "'; expected IncomingUser[N] or OutgoingUser";
    auto sp = value.find_first_of(" \t");
    // "user " with nothing after the blanks has no secret (and no place to take it from).
    const auto secret_at = sp == std::string::npos ? sp : value.find_first_not_of(" \t", sp);
    if (sp == 0 || secret_at == std::string::npos) return attr + ": expected 'user secret'";
    ChapCredential c{value.substr(0, sp), value.substr(secret_at)};
    if (c.secret.empty() || c.secret.find_first_of(" \t") != std::string::npos)
        return attr + ": expected 'user secret' (one word each)";
    std::string name = attr;
    if (attr == "OutgoingUser") {
        if (entries_.count(name)) return "OutgoingUser is already set; delete it first";
    } else {
        for (const auto& [n, e] : entries_)
            if (n != "OutgoingUser" && e.user == c.user) return "incoming user '" + c.user + "' already exists";
        if (entries_.count(name)) {
            if (attr != "IncomingUser") return attr + " already exists";
            for (int i = 1; entries_.count(name); ++i) name = "IncomingUser" + std::to_string(i);
        }
    }
    entries_[name] = std::move(c);
    return {};
}

std::string CredentialSet::del(const std::string& attr, const std::string& value) {
    if (!is_credential_attr(attr)) return "unknown attribute '" + attr + "'";
    std::string user = value.substr(0, value.find_first_of(" \t"));
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        const bool incoming = it->first != "OutgoingUser";
        const bool kind_ok = attr == "OutgoingUser" ? !incoming : incoming;
        if (kind_ok && (it->first == attr || it->second.user == user) && (user.empty() || it->second.user == user)) {
            entries_.erase(it);
            return {};
        }
    }
    return "no " + attr + (user.empty() ? std::string() : " for user '" + user + "'");
}

AuthConfig CredentialSet::config() const {
    AuthConfig a;
    for (const auto& [n, c] : entries_) {
        if (n == "OutgoingUser") a.outgoing = c;
        else a.incoming.push_back(c);
    }
    return a;
}

std::array<std::byte, 16> chap_md5(std::uint8_t id, std::string_view secret, std::span<const std::byte> challenge) {
    std::array<std::byte, 16> out{};
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
    EVP_DigestUpdate(ctx, &id, 1);
    EVP_DigestUpdate(ctx, secret.data(), secret.size());
    EVP_DigestUpdate(ctx, challenge.data(), challenge.size());
    EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), &len);
    EVP_MD_CTX_free(ctx);
    return out;
}

std::string encode_hex(std::span<const std::byte> b) {
    static const char* d = "0123456789abcdef";
    std::string s = "0x";
    for (auto x : b) {
        s += d[static_cast<std::uint8_t>(x) >> 4];
        s += d[static_cast<std::uint8_t>(x) & 0xf];
    }
    return s;
}

std::optional<Bytes> decode_chap_value(std::string_view v) {
    if (v.size() < 3 || v[0] != '0') return std::nullopt;
    std::string_view body = v.substr(2);
    if (v[1] == 'x' || v[1] == 'X') {
        if (body.size() % 2 != 0 || body.size() / 2 > kMaxBinary) return std::nullopt;
        Bytes out;
        auto nib = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        };
        for (std::size_t i = 0; i < body.size(); i += 2) {
            int hi = nib(body[i]), lo = nib(body[i + 1]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<std::byte>(hi * 16 + lo));
        }
        return out;
    }
    if (v[1] == 'b' || v[1] == 'B') {
        if (body.empty() || body.size() % 4 != 0 || body.size() / 4 * 3 > kMaxBinary + 3) return std::nullopt;
        Bytes out(body.size() / 4 * 3);
        int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(body.data()), static_cast<int>(body.size()));
        if (n < 0) return std::nullopt;
        std::size_t pad = 0;
        for (auto it = body.rbegin(); it != body.rend() && *it == '='; ++it) ++pad;
        // RFC 2045 §6.8 (RFC 3720 §5.1): at most two '=' close the last quantum. More
        // ("0b====") is not base64, and would count more padding than bytes decoded.
        if (pad > 2) return std::nullopt;
        out.resize(static_cast<std::size_t>(n) - pad);
        return out;
    }
    return std::nullopt;
}

ChapAuthenticator::Step ChapAuthenticator::fail(std::string why) {
    state_ = State::Failed;
    Step s;
    s.failed = true;
    s.why = std::move(why);
    return s;
}

ChapAuthenticator::Step ChapAuthenticator::on_keys(const std::vector<KeyValue>& keys) {
    auto find = [&](std::string_view k) -> const std::string* {
        for (const auto& kv : keys)
            if (kv.key == k) return &kv.value;
        return nullptr;
    };
    switch (state_) {
        case State::WaitAlgorithm: {
            const std::string* a = find("CHAP_A");
            if (!a) {
                if (keys.empty()) return Step{};  // nothing yet (AuthMethod round)
                return fail("CHAP keys before CHAP_A");
            }
            // RFC 3720 §11.1.4: CHAP_A is a list; 5 (MD5) is the one we speak.
            bool md5 = false;
            std::size_t start = 0;
            while (start <= a->size()) {
                auto comma = a->find(',', start);
                if (comma == std::string::npos) comma = a->size();
                if (a->substr(start, comma - start) == "5") md5 = true;
                start = comma + 1;
            }
            if (!md5) return fail("CHAP_A offers no MD5 (5)");
            std::byte id{};
            random_.fill(std::span<std::byte>(&id, 1));
            id_ = static_cast<std::uint8_t>(id);
            // A fresh challenge from Random, never one the target sent recently (on any
            // connection): one seen before would be answered by a response seen before.
            challenge_.resize(kChallengeLength);
            bool fresh = false;
            for (int k = 0; k < kDraws && !fresh; ++k) {
                random_.fill(challenge_);
                fresh = !memory_ || memory_->issued.insert(challenge_);
            }
            if (!fresh) {
                Step s = fail("no fresh CHAP challenge: the random source repeats itself");
                s.target_error = true;
                return s;
            }
            state_ = State::WaitResponse;
            Step s;
            s.answers = {{"CHAP_A", "5"}, {"CHAP_I", std::to_string(id_)}, {"CHAP_C", encode_hex(challenge_)}};
            return s;
        }
        case State::WaitResponse: {
            const std::string* n = find("CHAP_N");
            const std::string* r = find("CHAP_R");
            if (!n || !r) return fail("CHAP_N and CHAP_R expected");
            auto resp = decode_chap_value(*r);
            if (!resp || resp->size() != 16) return fail("CHAP_R is not a 16-byte MD5 response");
            // Every configured secret is tried and every comparison made, whatever the
            // name: how long this takes says nothing of which user exists or how close
            // the response came.
            bool ok = false;
            for (const auto& c : config_.incoming) {
                const bool match = chap_equal(chap_md5(id_, c.secret, challenge_), *resp);
                ok = ok || (match && c.user == *n);
            }
            if (!ok) return fail("CHAP response for user '" + *n + "' does not match");
            // RFC 3720 §8.2.1: a response equal to the one the target would give to the
            // same challenge is an authentication failure (one secret in both directions).
            if (config_.outgoing && chap_equal(chap_md5(id_, config_.outgoing->secret, challenge_), *resp))
                return fail("CHAP response for user '" + *n + "' is made with the target's own secret (OutgoingUser)");
            user_ = *n;
            Step s;
            const std::string* ci = find("CHAP_I");
            const std::string* cc = find("CHAP_C");
            if (ci || cc) {
                // Mutual CHAP: the initiator challenges us.
                if (!ci || !cc) return fail("mutual CHAP needs both CHAP_I and CHAP_C");
                if (!config_.outgoing) return fail("mutual CHAP asked, but no OutgoingUser is set");
                auto id = parse_number(*ci);
                auto chal = decode_chap_value(*cc);
                if (!id || *id > 255 || !chal || chal->empty()) return fail("malformed CHAP_I/CHAP_C");
                // RFC 3720 §8.2.1: the originator MUST NOT reuse the challenge the responder
                // sent; the responder checks and closes. Ours on this connection, or one we
                // sent on another (the two-connection reflection of the RFC's example).
                if (*chal == challenge_) return fail("initiator reflected our own challenge (CHAP_C)");
                if (memory_ && memory_->issued.contains(*chal))
                    return fail("initiator's CHAP_C is a challenge the target issued");
                // The same CHAP_I/CHAP_C pair twice would get the same response twice.
                Bytes pair{static_cast<std::byte>(*id)};
                pair.insert(pair.end(), chal->begin(), chal->end());
                if (memory_ && !memory_->answered.insert(pair))
                    return fail("initiator's CHAP_I/CHAP_C pair was answered before");
                auto mine = chap_md5(static_cast<std::uint8_t>(*id), config_.outgoing->secret, *chal);
                s.answers = {{"CHAP_N", config_.outgoing->user}, {"CHAP_R", encode_hex(mine)}};
            }
            state_ = State::Done;
            return s;
        }
        case State::Done:
            if (keys.empty()) return Step{};
            return fail("CHAP keys after authentication completed");
        case State::Failed:
            return fail("authentication already failed");
    }
    return fail("?");
}

}  // namespace iscsilab::iscsi
