// The persistent reservations oracle: what the initiators of a run, together, know of
// one logical unit's registrations and reservation (SPC-4 §5.13), from the PERSISTENT
// RESERVE OUT commands they sent and the answers they got. It predicts the status of
// each PERSISTENT RESERVE OUT (SPC-4 §5.13.5 to §5.13.11), and it judges every other
// command: may it be refused with RESERVATION CONFLICT (status 0x18), may it run?
//
// Time. A PERSISTENT RESERVE OUT takes effect at the target at one instant between its
// sending and its answer; until the answer the LU is in the old state or the new one.
// The oracle keeps the states as a timeline of epochs (a new one at every sending and
// every answer; an epoch with a PR OUT under way is "either"). A command sent at s and
// answered at a was admitted at one instant of [s, a]: it may conflict if some epoch
// overlapping [s, a] excludes it (or is "either"), and it may run if some epoch
// overlapping [s, a] admits it (or is "either"). So a WRITE sent after the holder's
// RESERVE was answered GOOD must conflict, and a RESERVATION CONFLICT with no
// reservation anywhere near it fails the run.
//
// An answer that never comes (the PR OUT was aborted, or its session ended) leaves the
// state unknown from then on: every later command may then conflict or run.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "target/ports.hpp"

namespace iscsilab::model {

// SPC-4 §6.16.1: PERSISTENT RESERVE OUT service actions (those the model sends).
enum class PrAction : std::uint8_t {
    register_key = 0x00,                      // REGISTER
    reserve = 0x01,                           // RESERVE
    release = 0x02,                           // RELEASE
    clear = 0x03,                             // CLEAR
    preempt = 0x04,                           // PREEMPT
    preempt_and_abort = 0x05,                 // PREEMPT AND ABORT
    register_and_ignore_existing_key = 0x06,  // REGISTER AND IGNORE EXISTING KEY
};

// SPC-4 §6.15.3.4 (Table 208): persistent reservation TYPE codes.
enum class PrType : std::uint8_t {
    write_exclusive = 0x1,
    exclusive_access = 0x3,
    write_exclusive_registrants_only = 0x5,
    exclusive_access_registrants_only = 0x6,
    write_exclusive_all_registrants = 0x7,
    exclusive_access_all_registrants = 0x8,
};

const char* to_string(PrAction a);
const char* to_string(PrType t);
bool pr_action_from_string(const std::string& s, PrAction& out);
bool pr_type_from_string(const std::string& s, PrType& out);
// The standard's words, for messages ("PREEMPT AND ABORT", "WRITE EXCLUSIVE - REGISTRANTS ONLY").
const char* spc_name(PrAction a);
const char* spc_name(PrType t);

// The fields of a basic PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3) and CDB.
struct PrOut {
    PrAction action = PrAction::register_key;
    std::uint64_t key = 0;      // RESERVATION KEY
    std::uint64_t sa_key = 0;   // SERVICE ACTION RESERVATION KEY
    PrType type = PrType::write_exclusive;
};

inline constexpr std::uint8_t kStatusGood = 0x00, kStatusCheckCondition = 0x02, kStatusReservationConflict = 0x18;

class PrOracle {
public:
    // What a command asks of the medium, as SPC-4 §5.13.1 and SBC-3's reservation table
    // sort them: reads (READ, VERIFY, MODE SENSE) conflict with the exclusive access
    // types, writes (WRITE, COMPARE AND WRITE, UNMAP, SYNCHRONIZE CACHE) with every
    // type; `none` (TEST UNIT READY, READ CAPACITY, PERSISTENT RESERVE IN/OUT) never
    // conflicts with a persistent reservation (a PR OUT's own conflicts are predicted).
    enum class Access : std::uint8_t { none, read, write };

    struct Reservation {
        std::string holder;     // the I_T nexus; empty for the all registrants types
        PrType type = PrType::write_exclusive;
    };
    struct State {
        std::map<std::string, std::uint64_t> keys;   // I_T nexus -> its registered key
        std::optional<Reservation> res;
        bool known = true;
    };

    // A PERSISTENT RESERVE OUT from nexus `who` is sent now. Returns its id.
    std::uint64_t sent(const std::string& who, const PrOut& p, Nanos now);
    // The status SPC-4 says it must end with, when the oracle knows enough (the state is
    // known and every PR OUT under way beside it is a registration of another nexus).
    std::optional<std::uint8_t> predicted(std::uint64_t id) const;
    // Its answer, or nullopt if none will come (aborted, or lost with its session).
    // Returns the error text of a status other than the predicted one (empty if fine).
    std::string answered(std::uint64_t id, std::optional<std::uint8_t> status, Nanos now);

    // A command of `who` sent at `sent`, answered now.
    bool may_conflict(const std::string& who, Access a, Nanos sent, Nanos now) const;
    bool may_pass(const std::string& who, Access a, Nanos sent, Nanos now) const;
    // Does the state `s` exclude this access of `who` (SPC-4 §5.13.1, SBC-3)?
    static bool excluded(const State& s, const std::string& who, Access a);
    // What the state was over [sent, now], for a message.
    std::string describe(Nanos sent, Nanos now) const;

    // The current state, and whether nothing is under way and it is known.
    const State& state() const { return epochs_.back().state; }
    bool settled() const { return epochs_.back().pending == 0 && epochs_.back().state.known; }
    // Grows with every PR OUT sent or answered: equal counts, nothing happened between.
    std::size_t epochs() const { return epochs_.size(); }
    // The key `who` holds now (0: none, or not known).
    std::uint64_t key_of(const std::string& who) const;
    // Might `who` hold `key` now (or soon: a PR OUT is under way, or the state is unknown)?
    bool may_hold(const std::string& who, std::uint64_t key) const;

    // The state after `p` from `who` ends GOOD in state `s`, and the status SPC-4
    // §5.13.5-§5.13.11 gives it (nullopt: a case this oracle does not model).
    struct Outcome {
        std::optional<std::uint8_t> status;
        State after;
    };
    static Outcome apply(const State& s, const std::string& who, const PrOut& p);

private:
    struct Epoch {
        Nanos from{0};
        State state;
        std::uint32_t pending = 0;   // PR OUTs under way: the LU may be in either state
    };
    struct Pending {
        std::string who;
        PrOut p;
        std::optional<std::uint8_t> predicted;
        std::set<std::uint64_t> overlapped;   // other PR OUTs under way at some time beside it
    };
    static bool independent(const Pending& a, const Pending& b);
    std::vector<Epoch> epochs_{Epoch{}};
    std::map<std::uint64_t, Pending> pending_;
    std::map<std::uint64_t, Pending> done_;   // answered, for the overlap test of later answers
    std::uint64_t next_id_ = 1;
};

}  // namespace iscsilab::model
