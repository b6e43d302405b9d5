// SPC-4 persistent reservations of one logical unit (SPC-4 §5.13; PERSISTENT RESERVE IN
// §6.15, PERSISTENT RESERVE OUT §6.16), as a unit of its own: it keeps the registrations,
// the reservation and PRgeneration, answers both commands, and tells the mid-level which
// commands conflict. It performs no side effect outside itself: unit attentions, task
// aborts and the APTPL write are returned to the caller (see PrOutResult).
//
// I_T nexus identity. A registration belongs to an initiator port and a target port, not
// to a login: it survives logout and re-login (SPC-4 §5.13: only PREEMPT, CLEAR, an
// unregistration, or a power on with APTPL=0 removes it), so it is keyed by the
// iSCSI initiator port name ("<iSCSI name>,i,0x<ISID>", Nexus::initiator_port) and
// Nexus::relative_target_port, never by Nexus::id. Two kinds of registration name more
// than one I_T nexus: ALL_TG_PT=1 (every target port, §6.16.3) and an iSCSI TransportID
// of format 00b in SPEC_I_PT (the iSCSI name alone: every initiator port of that
// initiator device, §7.6.4.6). A nexus uses the most specific registration that names it.
//
// SPC-2 RESERVE/RELEASE. We report CRH=1 (REPORT CAPABILITIES), so SPC-4 §5.13.3
// "Exceptions to SPC-2 RESERVE and RELEASE behavior" applies; see spc2_reserve_release().
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "target/ports.hpp"
#include "target/scsi/command.hpp"
#include "target/scsi/sense.hpp"

namespace iscsilab::scsi {

// SPC-4 §6.16.1, PERSISTENT RESERVE OUT SERVICE ACTION codes.
enum class PrOutAction : std::uint8_t {
    Register = 0x00,
    Reserve = 0x01,
    Release = 0x02,
    Clear = 0x03,
    Preempt = 0x04,
    PreemptAndAbort = 0x05,
    RegisterAndIgnoreExistingKey = 0x06,
    RegisterAndMove = 0x07,
};

// SPC-4 §6.15.1, PERSISTENT RESERVE IN SERVICE ACTION codes.
enum class PrInAction : std::uint8_t {
    ReadKeys = 0x00,
    ReadReservation = 0x01,
    ReportCapabilities = 0x02,
    ReadFullStatus = 0x03,
};

// SPC-4 §6.15.3 (persistent reservation TYPE codes); the others are reserved.
enum class PrType : std::uint8_t {
    WriteExclusive = 0x1,
    ExclusiveAccess = 0x3,
    WriteExclusiveRegistrantsOnly = 0x5,
    ExclusiveAccessRegistrantsOnly = 0x6,
    WriteExclusiveAllRegistrants = 0x7,
    ExclusiveAccessAllRegistrants = 0x8,
};

// SPC-4 §6.15.3: LU_SCOPE is the only SCOPE code left.
inline constexpr std::uint8_t kLuScope = 0x0;

// The I_T nexuses that one registration names (see the top of this file). Names are kept
// in lower case: iSCSI names and ISIDs compare without regard to case (RFC 3722).
struct ItNexusId {
    std::string initiator_name;                          // iSCSI name
    std::string isid;                                    // 12 hex digits; empty: every ISID
    std::optional<std::uint16_t> relative_target_port;   // nullopt: every target port

    // The I_T nexus through which a command arrived.
    static ItNexusId of(const Nexus& n);
    bool matches(const Nexus& n) const;
    // "<name>,i,0x<isid>", or the bare name when the ISID is open.
    std::string initiator_port() const;
    bool operator==(const ItNexusId&) const = default;
};

// A unit attention the caller must establish (SAM-5 §5.14) for every I_T nexus that
// `nexus` matches, except the nexus the PERSISTENT RESERVE OUT came through.
struct PrUnitAttention {
    ItNexusId nexus;
    Asc asc;  // RESERVATIONS PREEMPTED, RESERVATIONS RELEASED or REGISTRATIONS PREEMPTED
};

// The outcome of a PERSISTENT RESERVE OUT and what the caller must do about it, in this
// order, before it sends the status (nothing at all unless status is Good):
//  1. abort_tasks_of: abort every task of every I_T nexus matched, as ABORT TASK SET
//     would (with its TAS and COMMANDS CLEARED BY ANOTHER INITIATOR rules), except the
//     PERSISTENT RESERVE OUT itself: its own nexus may be listed when its key is the one
//     preempted (PREEMPT AND ABORT, SPC-4 §5.13.11).
//  2. unit_attentions: see PrUnitAttention.
//  3. save: write `state` (empty: erase the saved copy) if `state_version` is newer than
//     the last one written; PR OUTs on other threads may finish in another order.
struct PrOutResult {
    Status status = Status::Good;
    std::optional<Sense> sense;  // with CheckCondition
    std::vector<PrUnitAttention> unit_attentions;
    std::vector<ItNexusId> abort_tasks_of;
    bool save = false;
    Bytes state;                     // save() as of this command
    std::uint64_t state_version = 0;

    // Fills the command's status and sense.
    void apply_to(Command& cmd, bool descriptor_sense) const;
};

struct PrInResult {
    Status status = Status::Good;
    std::optional<Sense> sense;
    Bytes data;  // already cut to the ALLOCATION LENGTH

    // Fills status and sense, or data_in.
    void apply_to(Command& cmd, bool descriptor_sense) const;
};

// What an SPC-2 RESERVE(6)/(10) or RELEASE(6)/(10) becomes (SPC-4 §5.13.3, CRH=1).
enum class Spc2Access : std::uint8_t {
    Process,   // no registration: process it as SPC-2 says
    GoodNoOp,  // complete with GOOD; establish nothing, release nothing
    Conflict,  // RESERVATION CONFLICT
};

class PersistentReservations {
public:
    // Bounds what initiators can make us keep (INSUFFICIENT REGISTRATION RESOURCES).
    static constexpr std::size_t kMaxRegistrations = 256;

    PersistentReservations() = default;
    PersistentReservations(const PersistentReservations&) = delete;
    PersistentReservations& operator=(const PersistentReservations&) = delete;

    // PERSISTENT RESERVE OUT (0x5F), from the nexus `n`; the parameter list is
    // cmd.data_out. The command is not modified: see PrOutResult::apply_to.
    PrOutResult persistent_reserve_out(const Nexus& n, const Command& cmd);

    // PERSISTENT RESERVE IN (0x5E).
    PrInResult persistent_reserve_in(const Nexus& n, const Command& cmd) const;

    // True when the command must end in RESERVATION CONFLICT because of the persistent
    // reservation (SPC-4 §5.13.1 tables for SPC commands and PERSISTENT RESERVE OUT
    // service actions; SBC-3's reservations table for block commands), or because of
    // the SPC-2 exceptions for RESERVE/RELEASE (spc2_reserve_release() == Conflict).
    bool conflicts(const Nexus& n, const Command& cmd) const;

    // SPC-4 §5.13.3 with CRH=1. A RESERVE(6)/(10) or RELEASE(6)/(10)
    //  - completes with GOOD and changes nothing if it comes from the persistent
    //    reservation holder, or from any registered nexus while a registrants only or
    //    all registrants reservation is held;
    //  - otherwise conflicts while any registration exists (SPC-2 §5.5.1: a logical unit
    //    with registrations makes every RESERVE and RELEASE conflict, whoever sends it);
    //  - otherwise is processed as SPC-2 says.
    // The other half of that rule is the caller's: while an SPC-2 reservation is held,
    // every PERSISTENT RESERVE IN and OUT, from any nexus, conflicts.
    Spc2Access spc2_reserve_release(const Nexus& n) const;

    bool any_registered() const;
    bool is_registered(const Nexus& n) const;
    bool is_holder(const Nexus& n) const;
    bool reserved() const;
    std::uint32_t generation() const;  // PRgeneration
    bool aptpl() const;                // the last valid APTPL bit received

    // The state that must survive power loss: registrations, the reservation and
    // PRgeneration, in a small versioned binary format, or nothing while APTPL is 0.
    Bytes save() const;
    // Replaces the state with a saved one (empty input: no saved state). Returns an error
    // text, the state unchanged, if the input is not something save() wrote. A load is a
    // power on: PRgeneration starts at zero (SPC-4 §6.15.2), whatever was saved.
    std::string load(std::span<const std::byte> saved);

private:
    struct Registration {
        std::uint64_t id = 0;  // stable handle for the holder
        ItNexusId who;
        std::uint64_t key = 0;  // never zero
    };
    struct Reservation {
        PrType type = PrType::WriteExclusive;
        std::uint8_t scope = kLuScope;
        std::uint64_t holder = 0;  // Registration::id; 0 for the all registrants types
    };
    struct State {
        std::vector<Registration> regs;  // in order of registration (READ KEYS order)
        std::optional<Reservation> res;
        std::uint32_t generation = 0;
        bool aptpl = false;
        std::uint64_t next_id = 1;
    };
    struct Params;

    // All below: mu_ held.
    const Registration* find(const Nexus& n) const;
    Registration* find(const Nexus& n);
    bool holds(const Registration* r) const;
    Spc2Access spc2_locked(const Nexus& n) const;
    void add(const ItNexusId& who, std::uint64_t key);
    void unregister(std::uint64_t id, PrOutResult& out);
    void ua_all_but(std::uint64_t except_id, Asc asc, PrOutResult& out) const;
    Bytes save_locked() const;

    PrOutResult do_register(const Nexus& n, const Params& p, bool ignore_existing);
    PrOutResult do_reserve(const Nexus& n, const Params& p);
    PrOutResult do_release(const Nexus& n, const Params& p);
    PrOutResult do_clear(const Nexus& n, const Params& p);
    PrOutResult do_preempt(const Nexus& n, const Params& p, bool abort);
    PrOutResult do_register_and_move(const Nexus& n, const Params& p);

    Bytes read_keys() const;
    Bytes read_reservation() const;
    Bytes report_capabilities() const;
    Bytes read_full_status() const;

    mutable std::mutex mu_;
    State s_;
    std::uint64_t version_ = 0;  // of the saved state, for PrOutResult::state_version
};

const char* to_string(PrType t);

}  // namespace iscsilab::scsi
