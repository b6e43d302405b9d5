// The oracle for blocks that several initiators write at once: a COMPARE AND WRITE race
// (SBC-3 §5.2), with plain WRITEs and UNMAPs mixed in. Each initiator's own shadow
// (initiator_oracle.cpp) cannot judge these blocks: another host may change them at any
// moment. This one sees every initiator's modifications of them and judges each answer.
//
// Versions. Every write of a shared block puts a version in it that no other write ever
// uses (next_version(): one counter for all the initiators; the block's tag carries it),
// and version 0 is the zeroed block (never written, or unmapped: LBPRZ=1). A read shows
// which version a block held; a COMPARE AND WRITE names the version it compares (the one
// its initiator last saw there) and the one it writes.
//
// Time. A modification M runs at the target at one instant of [M.sent, M.answered]
// (sent by the initiator, answered when its status arrived there); one not answered
// (yet, or ever) may run at any instant after M.sent. COMPARE AND WRITE is atomic
// (SBC-3 §5.2: the compare and the write are one operation on the medium, no other
// command's write comes between). So per block the successful modifications form one
// sequence in time, and with versions unique:
//
//  1. Atomicity. A version V is replaced once: after a COMPARE AND WRITE comparing V
//     succeeds, the block no longer holds V, and a second COMPARE AND WRITE comparing V
//     must miscompare, whoever sent it and however the two overlapped. Two COMPARE AND
//     WRITEs that both compared V and both succeeded is a broken atomicity, and fails
//     the run. (Version 0 comes back with an UNMAP: for it the check holds only while no
//     UNMAP of the block may have run.)
//  2. A miscompare needs a cause. COMPARE AND WRITE C compares V, which its initiator
//     saw in the block by an operation O sent at C.observed_from. C may miscompare only
//     if something could have replaced V between O and C: a modification P of the block
//     that has not failed, that was sent before C's answer, and that may have run after
//     O began (P.answered > O's sending, or P unanswered), and that replaces V (a WRITE
//     or an UNMAP of another version, or a COMPARE AND WRITE comparing V itself: the
//     race's winner). Otherwise the block held V throughout and the MISCOMPARE is the
//     target's error. Two racers that both miscompare are caught here: the second answer
//     finds the first racer failed, no cause left.
//  3. Nothing written on a miscompare. A COMPARE AND WRITE that miscompared (or a write
//     refused with RESERVATION CONFLICT) wrote nothing (SBC-3 §5.2): a read that finds
//     its version fails the run.
//  4. A successful write is seen. A read R may find only a version not yet certainly
//     replaced when R was sent: V is certainly replaced by a successful modification S
//     answered before R was sent that was a COMPARE AND WRITE comparing V, or a WRITE or
//     UNMAP sent after V's writer was answered. A successful COMPARE AND WRITE's version
//     is therefore what a later read sees (or a later version), never the one before.
//     The same judges the version a successful COMPARE AND WRITE compared: one
//     certainly replaced before it was sent cannot have matched.
//
// A modification that ends with no answer (aborted, lost with its session) is
// "unknown": it may or may not have run, so it counts as a possible cause (2) and never
// as a certain replacement (4).
//
// A power loss may take acknowledged versions from a volatile cache and bring older
// ones back: over an interval that contains one, no version is certainly replaced (4),
// atomicity (1) cannot be told from a revert, and anything may cause a MISCOMPARE (2);
// a COMPARE AND WRITE that spans one may have compared before it and written after, so
// it counts as a plain write of its version (2).
// Only (3) and the versions nobody wrote stay judged there.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "target/ports.hpp"

namespace iscsilab::model {

class SharedBlocks {
public:
    enum class Kind : std::uint8_t { write, caw, unmap };
    enum class Outcome : std::uint8_t {
        pending,
        done,        // GOOD: it ran
        failed,      // it did not run (MISCOMPARE, RESERVATION CONFLICT, another error that writes nothing)
        unknown,     // no answer will come, or an error after which the block is not known
    };

    // A version no other write uses (never 0).
    std::uint64_t next_version() { return next_version_++; }

    // A modification of one block, sent now by `who`. compare: the version a COMPARE AND
    // WRITE compares; observed_from: when the operation that showed its initiator that
    // version was sent. version: what it writes (0 for an UNMAP). Returns its id.
    std::uint64_t sent(const std::string& who, Kind kind, std::uint64_t lba, std::uint64_t compare, std::uint64_t version,
                       Nanos observed_from, Nanos now);
    // Its end. miscompared: a COMPARE AND WRITE answered MISCOMPARE (checked for a cause).
    // Returns an error text (empty: consistent).
    std::string answered(std::uint64_t id, Outcome outcome, Nanos now, bool miscompared = false);
    // A read of `lba` sent at `sent` found `version` (0: zeros). Returns an error text.
    std::string check_read(const std::string& who, std::uint64_t lba, std::uint64_t version, Nanos sent, Nanos now) const;

    // The disk behind the blocks lost power now.
    void power_lost(Nanos now) { losses_.push_back(now); }

    // Races: COMPARE AND WRITEs that miscompared because another initiator's COMPARE AND
    // WRITE of the same version won (or may have).
    std::uint64_t races_lost() const { return races_lost_; }

private:
    struct Mod {
        std::string who;
        Kind kind = Kind::write;
        std::uint64_t lba = 0, compare = 0, version = 0;
        Nanos observed_from{0}, sent{0}, answered = Nanos::max();
        Outcome outcome = Outcome::pending;
    };
    // When `version` was certainly in the block: its writer answered GOOD (0: always).
    Nanos certainly_written(std::uint64_t version) const;
    // A successful modification answered before `t` that certainly replaced `version` in
    // block `lba`, and it cannot have come back by `until` (zeros can: an UNMAP); nullptr
    // if none.
    const Mod* replaced_before(std::uint64_t lba, std::uint64_t version, Nanos t, Nanos until) const;
    // May an UNMAP have put zeros back in `lba` after `after` (until `before`)?
    bool zeros_may_return(std::uint64_t lba, Nanos after, Nanos before) const;
    std::string describe(const Mod& m) const;
    bool loss_between(Nanos from, Nanos to) const;   // a power loss in (from, to]?
    // The block's modifications that may have run in [from, to], for a failure's context.
    std::string history(std::uint64_t lba, Nanos from, Nanos to) const;

    std::vector<Mod> mods_;                                           // by id - 1
    std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> by_block_;  // lba -> ids, in order sent
    std::unordered_map<std::uint64_t, std::uint64_t> writer_;         // version -> id
    std::uint64_t next_version_ = 1;
    std::uint64_t races_lost_ = 0;
    std::vector<Nanos> losses_;   // power losses, in time order
};

}  // namespace iscsilab::model
