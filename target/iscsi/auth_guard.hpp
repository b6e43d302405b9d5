// What authentication remembers across logins, so that guessing a CHAP secret is slow
// and no CHAP value is used twice. One of each per driver, shared by its connections on
// every reactor (hence the locks); each is a bounded table that forgets its oldest
// entries first, so a flood of names or addresses costs a fixed amount of memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <deque>

#include "target/ports.hpp"

namespace iscsilab::iscsi {

// Failed authentications, per initiator name and per address: the Login Response that
// says so waits first, then twice as long at each failure after (first, 2*first, ...
// up to cap). A name or address quiet for forget_after starts afresh. Only failures
// wait: a login with the right secret is answered at once, so an attacker who claims
// someone's name cannot lock them out.
class LoginBackoff {
public:
    struct Policy {
        Nanos first = std::chrono::seconds(1);
        Nanos cap = std::chrono::seconds(30);
        Nanos forget_after = std::chrono::minutes(10);
        std::size_t max_entries = 1024;  // names and addresses together
    };
    LoginBackoff() : LoginBackoff(Policy{}) {}
    explicit LoginBackoff(Policy p) : policy_(p) {}

    struct Verdict {
        Nanos delay{0};
        unsigned by_name = 0, by_address = 0;  // failures so far, this one included
    };
    // A login from initiator `name` at `peer` ("10.0.0.2:50000", "[::1]:3260"; the port
    // is not part of the address) failed authentication at `now`.
    Verdict failed(std::string_view name, std::string_view peer, Nanos now);
    std::size_t size() const;
    const Policy& policy() const { return policy_; }

    // "10.0.0.2" of "10.0.0.2:50000", "::1" of "[::1]:3260".
    static std::string address_of(std::string_view peer);

private:
    struct Entry {
        unsigned failures = 0;
        Nanos last{0};
        std::list<std::string>::iterator age;
    };
    unsigned bump(std::string key, Nanos now);

    Policy policy_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> ages_;  // keys, the longest quiet first
};

// A bounded memory of byte strings: the most recent `capacity` ones.
class RecentValues {
public:
    explicit RecentValues(std::size_t capacity = 4096) : capacity_(capacity) {}
    // Remembers v; false (and nothing changes) if it was already among them.
    bool insert(std::span<const std::byte> v);
    bool contains(std::span<const std::byte> v) const;
    std::size_t size() const;

private:
    std::size_t capacity_;
    mutable std::mutex mu_;
    std::unordered_set<std::string> set_;
    std::deque<std::string> order_;  // oldest first
};

// What CHAP must not see twice (RFC 1994 §2.3: a challenge value is unique, or a
// response seen once answers it again; RFC 3720 §8.2.1):
//  - issued: the challenges the target sent. A new one that repeats a recent one is
//    drawn again, and an initiator's CHAP_C equal to any of them is refused (the
//    reflection of §8.2.1, on this connection or from another one);
//  - answered: the CHAP_I/CHAP_C pairs the target answered in mutual CHAP. The same pair
//    again is refused: the target's response to it went out once already.
struct ChapMemory {
    RecentValues issued;
    RecentValues answered;
};

}  // namespace iscsilab::iscsi
