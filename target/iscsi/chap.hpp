// CHAP authentication for the login's security stage (RFC 3720 §11.1.4, RFC 1994):
// CHAP_A negotiation, a fresh challenge per login, verification of the initiator's
// response, and the target's own response for mutual CHAP.
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "target/iscsi/auth_guard.hpp"
#include "target/iscsi/params.hpp"
#include "target/ports.hpp"

namespace iscsilab::iscsi {

struct ChapCredential {
    std::string user, secret;
    bool operator==(const ChapCredential&) const = default;
};

struct AuthConfig {
    std::vector<ChapCredential> incoming;   // IncomingUser, IncomingUser1, ...: who may log in
    std::optional<ChapCredential> outgoing; // OutgoingUser: how we prove ourselves (mutual)
    bool required() const { return !incoming.empty(); }
};

// The CHAP attributes of a target (or of discovery) as iSCSI-SCST names them:
// IncomingUser, IncomingUser1, ... and one OutgoingUser. Value "user secret".
class CredentialSet {
public:
    // attr: IncomingUser[N] or OutgoingUser. An IncomingUser name already taken moves
    // to the next free IncomingUserN (scst.conf repeats the line for several users).
    std::string add(const std::string& attr, const std::string& value);
    // Removes by attribute name, or (for "IncomingUser USER") by user name.
    std::string del(const std::string& attr, const std::string& value);
    AuthConfig config() const;
    // attribute name -> credential, in name order.
    const std::map<std::string, ChapCredential>& entries() const { return entries_; }
    static bool is_credential_attr(const std::string& attr);
    // What `cat` shows: the user and a placeholder, never the secret.
    static std::string shown(const ChapCredential& c) { return c.user + " ********"; }
    // A text that may hold credential attributes ("IncomingUser joe s3cret", "OutgoingUser=
    // tgt s3cret", as in mgmt commands and scst.conf lines), with every secret replaced
    // by the placeholder: for error texts that quote what they were given.
    static std::string redacted(std::string_view text);

private:
    std::map<std::string, ChapCredential> entries_;
};

// RFC 1994 §4.1: MD5(Identifier || secret || Challenge).
std::array<std::byte, 16> chap_md5(std::uint8_t id, std::string_view secret, std::span<const std::byte> challenge);

// Whether a CHAP response is the expected one: a comparison whose time does not depend
// on where the two differ (OpenSSL's CRYPTO_memcmp), so that timing tells an attacker
// nothing of how close a guess came. The routine is a seam for the tests, which check
// that it is CRYPTO_memcmp and that every comparison goes through it.
using CompareFn = int (*)(const void*, const void*, std::size_t);
CompareFn& chap_compare();
bool chap_equal(std::span<const std::byte> a, std::span<const std::byte> b);

// CHAP binary values: "0x" hex or "0b" base64 (RFC 3720 §5.1).
std::optional<Bytes> decode_chap_value(std::string_view v);
std::string encode_hex(std::span<const std::byte> b);

class ChapAuthenticator {
public:
    enum class State : std::uint8_t { WaitAlgorithm, WaitResponse, Done, Failed };

    // memory (may be null: nothing is remembered past this login) is the driver's.
    ChapAuthenticator(AuthConfig config, Random& random, ChapMemory* memory = nullptr)
        : config_(std::move(config)), random_(random), memory_(memory) {}

    // RFC 3720 §11.1.4 / RFC 1994: as long as the MD5 hash, at least.
    static constexpr std::size_t kChallengeLength = 16;

    struct Step {
        std::vector<KeyValue> answers;
        bool failed = false;
        bool target_error = false;  // the target could not go on (no fresh challenge)
        std::string why;            // never holds a secret
    };
    // The CHAP_* keys of one Login Request.
    Step on_keys(const std::vector<KeyValue>& chap_keys);
    State state() const { return state_; }
    const std::string& authenticated_user() const { return user_; }

private:
    Step fail(std::string why);
    AuthConfig config_;
    Random& random_;
    ChapMemory* memory_ = nullptr;
    State state_ = State::WaitAlgorithm;
    std::uint8_t id_ = 0;
    Bytes challenge_;
    std::string user_;
};

}  // namespace iscsilab::iscsi
