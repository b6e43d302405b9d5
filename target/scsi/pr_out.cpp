// PERSISTENT RESERVE OUT: the CDB and parameter list, and the service actions.
#include "target/scsi/pr.hpp"

#include <algorithm>
#include <utility>

#include "target/bytes.hpp"
#include "target/scsi/pr_detail.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

using namespace detail;

namespace {

// The parameter lists of PERSISTENT RESERVE OUT: the basic one (SPC-4 §6.16.3) and the
// REGISTER AND MOVE one (§6.16.4) share their first 24 bytes' size and keys.
constexpr std::size_t kBasicListLength = 24;
constexpr std::size_t kSpecIptHeaderLength = 28;  // + TRANSPORTID PARAMETER DATA LENGTH
constexpr std::size_t kMoveHeaderLength = 24;

PrOutResult conflict() {
    PrOutResult r;
    r.status = Status::ReservationConflict;
    return r;
}

PrOutResult check(Sense s) {
    PrOutResult r;
    r.status = Status::CheckCondition;
    r.sense = s;
    return r;
}

Sense bad_parameter(std::uint16_t byte, std::optional<std::uint8_t> bit = std::nullopt) {
    Sense s{SenseKey::IllegalRequest, asc::InvalidFieldInParameterList};
    s.field_pointer = byte;
    s.field_in_cdb = false;
    s.bit_pointer = bit;
    return s;
}

Sense list_length_error() { return Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError}; }
Sense no_resources() { return Sense{SenseKey::IllegalRequest, asc::InsufficientRegistrationResources}; }

}  // namespace

// ---- results ----

void PrOutResult::apply_to(Command& cmd, bool descriptor_sense) const {
    if (status == Status::CheckCondition && sense) {
        cmd.fail(*sense, descriptor_sense);
        return;
    }
    cmd.status = status;
    cmd.sense.clear();
    cmd.data_in.reset();
}

// ---- PERSISTENT RESERVE OUT ----

struct PersistentReservations::Params {
    PrOutAction action = PrOutAction::Register;
    std::uint8_t scope = 0, type = 0;  // the CDB's SCOPE and TYPE, raw
    std::uint64_t reservation_key = 0;
    std::uint64_t service_action_reservation_key = 0;
    bool spec_i_pt = false, all_tg_pt = false, aptpl = false;
    std::span<const std::byte> transport_ids;  // SPEC_I_PT, or REGISTER AND MOVE
    std::size_t transport_ids_offset = 0;      // in the parameter list, for field pointers
    bool unreg = false;                        // REGISTER AND MOVE
    std::uint16_t relative_target_port = 0;    // REGISTER AND MOVE
};

PrOutResult PersistentReservations::persistent_reserve_out(const Nexus& n, const Command& cmd) {
    const auto cdb = cmd.cdb_bytes();
    Params p;
    const std::uint8_t service_action = ld8(cdb, 1) & 0x1f;
    if (service_action > static_cast<std::uint8_t>(PrOutAction::RegisterAndMove))
        return check(invalid_field_in_cdb(1, 4));
    p.action = static_cast<PrOutAction>(service_action);
    p.scope = ld8(cdb, 2) >> 4;
    p.type = ld8(cdb, 2) & 0x0f;

    // SPC-4 §6.16.2: RESERVE, PREEMPT and PREEMPT AND ABORT need LU_SCOPE and a valid
    // TYPE. The other service actions ignore both; RELEASE compares them with the
    // reservation it releases instead (INVALID RELEASE OF PERSISTENT RESERVATION).
    switch (p.action) {
        case PrOutAction::Reserve:
        case PrOutAction::Preempt:
        case PrOutAction::PreemptAndAbort:
            if (p.scope != kLuScope) return check(invalid_field_in_cdb(2, 7));
            if (!valid_type(p.type)) return check(invalid_field_in_cdb(2, 3));
            break;
        case PrOutAction::Register:
        case PrOutAction::Release:
        case PrOutAction::Clear:
        case PrOutAction::RegisterAndIgnoreExistingKey:
        case PrOutAction::RegisterAndMove:
            break;
    }

    // The PARAMETER LIST LENGTH (bytes 5-8) against what arrived, then against the list
    // the service action needs (SPC-4 §6.16.1, §6.16.3, §6.16.4).
    const std::uint64_t length = ld32(cdb, 5);
    if (cmd.data_out.size() < length) return check(list_length_error());
    const std::span<const std::byte> list(cmd.data_out.data(), static_cast<std::size_t>(length));
    if (length < kBasicListLength) return check(list_length_error());
    p.reservation_key = ld64(list, 0);
    p.service_action_reservation_key = ld64(list, 8);
    if (p.action == PrOutAction::RegisterAndMove) {
        p.unreg = ld8(list, 17) & 0x02;
        p.aptpl = ld8(list, 17) & 0x01;
        p.relative_target_port = ld16(list, 18);
        const std::uint64_t tpdl = ld32(list, 20);  // TRANSPORTID PARAMETER DATA LENGTH
        if (kMoveHeaderLength + tpdl > length) return check(list_length_error());
        p.transport_ids = list.subspan(kMoveHeaderLength, static_cast<std::size_t>(tpdl));
        p.transport_ids_offset = kMoveHeaderLength;
    } else {
        const std::uint8_t flags = ld8(list, 20);
        p.spec_i_pt = flags & 0x08;
        p.all_tg_pt = flags & 0x04;
        p.aptpl = flags & 0x01;
        // SPC-4 §6.16.3: SPEC_I_PT belongs to REGISTER alone.
        if (p.spec_i_pt && p.action != PrOutAction::Register) return check(bad_parameter(20, 3));
        if (p.spec_i_pt) {
            if (length < kSpecIptHeaderLength) return check(list_length_error());
            const std::uint64_t tpdl = ld32(list, 24);
            if (kSpecIptHeaderLength + tpdl > length) return check(list_length_error());
            p.transport_ids = list.subspan(kSpecIptHeaderLength, static_cast<std::size_t>(tpdl));
            p.transport_ids_offset = kSpecIptHeaderLength;
        } else if (length != kBasicListLength) {
            return check(list_length_error());
        }
        // ALL_TG_PT and APTPL mean something to REGISTER and REGISTER AND IGNORE
        // EXISTING KEY only, and are ignored by the others.
        if (p.action != PrOutAction::Register && p.action != PrOutAction::RegisterAndIgnoreExistingKey) {
            p.all_tg_pt = false;
            p.aptpl = false;
        }
    }

    std::lock_guard lock(mu_);
    const bool aptpl_before = s_.aptpl;
    PrOutResult r;
    switch (p.action) {
        case PrOutAction::Register: r = do_register(n, p, false); break;
        case PrOutAction::RegisterAndIgnoreExistingKey: r = do_register(n, p, true); break;
        case PrOutAction::Reserve: r = do_reserve(n, p); break;
        case PrOutAction::Release: r = do_release(n, p); break;
        case PrOutAction::Clear: r = do_clear(n, p); break;
        case PrOutAction::Preempt: r = do_preempt(n, p, false); break;
        case PrOutAction::PreemptAndAbort: r = do_preempt(n, p, true); break;
        case PrOutAction::RegisterAndMove: r = do_register_and_move(n, p); break;
    }
    // The do_ functions set `save` when they changed the state; it is worth writing only
    // while APTPL is (or just was) set.
    if (r.status != Status::Good) return r;
    r.save = (aptpl_before || s_.aptpl) && (r.save || aptpl_before != s_.aptpl);
    if (r.save) {
        r.state = save_locked();
        r.state_version = ++version_;
    }
    return r;
}

// SPC-4 §5.13.7 (registering) and its tables of REGISTER and REGISTER AND IGNORE
// EXISTING KEY behaviour for unregistered and registered I_T nexuses.
PrOutResult PersistentReservations::do_register(const Nexus& n, const Params& p, bool ignore_existing) {
    PrOutResult r;
    const std::uint64_t sark = p.service_action_reservation_key;
    if (Registration* reg = find(n)) {
        if (!ignore_existing && p.reservation_key != reg->key) return conflict();
        // SPEC_I_PT from a registered I_T nexus: the table says INVALID FIELD IN CDB.
        if (p.spec_i_pt) return check(Sense{SenseKey::IllegalRequest, asc::InvalidFieldInCdb});
        if (sark == 0)
            unregister(reg->id, r);
        else
            reg->key = sark;  // re-registering with a new key keeps any reservation held
    } else {
        // An unregistered I_T nexus must send RESERVATION KEY zero with REGISTER.
        if (!ignore_existing && p.reservation_key != 0) return conflict();
        if (sark != 0) {
            ItNexusId self = ItNexusId::of(n);
            if (p.all_tg_pt) self.relative_target_port.reset();
            // A nexus whose name we could not report or save (the login should not have
            // let it in): we cannot hold that registration.
            if (!valid_name(self.initiator_name)) return check(no_resources());
            std::vector<ItNexusId> more;
            std::size_t off = 0, parsed = 0;
            while (off < p.transport_ids.size()) {
                // More TransportIDs than we could ever register: refuse before the work.
                if (++parsed > kMaxRegistrations) return check(no_resources());
                const auto t = parse_transport_id(p.transport_ids.subspan(off));
                const auto at = static_cast<std::uint16_t>(std::min<std::size_t>(p.transport_ids_offset + off, 0xffff));
                if (!t) return check(bad_parameter(at));
                off += t->length;
                ItNexusId id{t->name, t->isid, p.all_tg_pt ? std::nullopt : std::optional(n.relative_target_port)};
                if (id == self || std::find(more.begin(), more.end(), id) != more.end()) continue;
                // SPC-4 §6.16.3: a TransportID naming an I_T nexus that is registered
                // already fails the whole command; no registration is made.
                for (const auto& e : s_.regs)
                    if (overlap(e.who, id)) return check(bad_parameter(at));
                more.push_back(std::move(id));
            }
            // All or none (SPC-4 §6.16.3: "no registrations shall be made").
            if (s_.regs.size() + 1 + more.size() > kMaxRegistrations) return check(no_resources());
            add(self, sark);
            for (const auto& id : more) add(id, sark);
        }
        // SERVICE ACTION RESERVATION KEY zero from an unregistered nexus: no action, GOOD.
    }
    // SPC-4 §6.15.2: REGISTER and REGISTER AND IGNORE EXISTING KEY count in PRgeneration
    // whenever they complete with GOOD; the APTPL bit of the last one is the one in force.
    ++s_.generation;
    s_.aptpl = p.aptpl;
    r.save = true;
    return r;
}

// SPC-4 §5.13.9, reserving.
PrOutResult PersistentReservations::do_reserve(const Nexus& n, const Params& p) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    const auto type = static_cast<PrType>(p.type);
    if (!s_.res) {
        s_.res = Reservation{type, p.scope, all_registrants(type) ? 0 : reg->id};
        r.save = true;
        return r;
    }
    // Only the holder may reserve again, and only with the same type and scope (a GOOD
    // that changes nothing); anything else conflicts.
    if (!holds(reg) || s_.res->type != type || s_.res->scope != p.scope) return conflict();
    return r;
}

// SPC-4 §5.13.11, releasing.
PrOutResult PersistentReservations::do_release(const Nexus& n, const Params& p) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    // No reservation, or a registrant that does not hold it: GOOD, nothing changes.
    if (!s_.res || !holds(reg)) return r;
    if (p.type != static_cast<std::uint8_t>(s_.res->type) || p.scope != s_.res->scope)
        return check(Sense{SenseKey::IllegalRequest, asc::InvalidReleaseOfPersistentReservation});
    const PrType type = s_.res->type;
    s_.res.reset();
    // Releasing a registrants only or all registrants reservation tells every other
    // registrant (RESERVATIONS RELEASED); the Write Exclusive and Exclusive Access types
    // had no one else to tell.
    if (registrants_only(type) || all_registrants(type)) ua_all_but(reg->id, asc::ReservationsReleased, r);
    r.save = true;  // no PRgeneration: RELEASE does not count (SPC-4 §6.15.2)
    return r;
}

// SPC-4 §5.13.11, clearing.
PrOutResult PersistentReservations::do_clear(const Nexus& n, const Params& p) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    ua_all_but(reg->id, asc::ReservationsPreempted, r);
    s_.regs.clear();
    s_.res.reset();
    ++s_.generation;
    r.save = true;
    return r;
}

// SPC-4 §5.13.11, preempting (and, with abort, preempting and aborting).
PrOutResult PersistentReservations::do_preempt(const Nexus& n, const Params& p, bool abort) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    const std::uint64_t self = reg->id;
    const std::uint64_t sark = p.service_action_reservation_key;
    const auto type = static_cast<PrType>(p.type);

    // Removes the registrations `victims` names, with REGISTRATIONS PREEMPTED for each;
    // aborts the tasks of `aborted` (PREEMPT AND ABORT).
    auto preempt = [&](const std::vector<std::uint64_t>& victims, const std::vector<std::uint64_t>& aborted) {
        for (const auto& e : s_.regs) {
            if (abort && std::find(aborted.begin(), aborted.end(), e.id) != aborted.end())
                r.abort_tasks_of.push_back(e.who);
            if (std::find(victims.begin(), victims.end(), e.id) != victims.end())
                r.unit_attentions.push_back(PrUnitAttention{e.who, asc::RegistrationsPreempted});
        }
        std::erase_if(s_.regs, [&](const auto& e) {
            return std::find(victims.begin(), victims.end(), e.id) != victims.end();
        });
    };
    // Registrations holding `key`: all of them, and all but the issuer's (which a
    // preempt never removes).
    auto with_key = [&](std::uint64_t key, std::vector<std::uint64_t>& all, std::vector<std::uint64_t>& others) {
        for (const auto& e : s_.regs) {
            if (e.key != key) continue;
            all.push_back(e.id);
            if (e.id != self) others.push_back(e.id);
        }
    };

    if (s_.res && all_registrants(s_.res->type) && sark == 0) {
        // An all registrants reservation preempted with key zero: every other
        // registration goes, and the issuer holds a reservation of the new type and scope
        // (nobody is left to be told of the change of type).
        std::vector<std::uint64_t> others;
        for (const auto& e : s_.regs)
            if (e.id != self) others.push_back(e.id);
        preempt(others, others);
        s_.res = Reservation{type, p.scope, all_registrants(type) ? 0 : self};
    } else if (s_.res && !all_registrants(s_.res->type) &&
               std::any_of(s_.regs.begin(), s_.regs.end(),
                           [&](const auto& e) { return e.id == s_.res->holder && e.key == sark; })) {
        // The key is the holder's: the reservation passes to the issuer with the new type
        // and scope, and every registration with that key but the issuer's goes.
        std::vector<std::uint64_t> all, others;
        with_key(sark, all, others);
        const Reservation old = *s_.res;
        preempt(others, all);
        s_.res = Reservation{type, p.scope, all_registrants(type) ? 0 : self};
        if (old.type != type || old.scope != p.scope) ua_all_but(self, asc::ReservationsReleased, r);
    } else {
        // No reservation, or a key that is not the holder's: registrations only.
        if (sark == 0) return check(bad_parameter(8));
        std::vector<std::uint64_t> all, others;
        with_key(sark, all, others);
        if (all.empty()) return conflict();
        preempt(others, all);
    }
    ++s_.generation;
    r.save = true;
    return r;
}

// SPC-4 §5.13.8, registering and moving the reservation.
PrOutResult PersistentReservations::do_register_and_move(const Nexus& n, const Params& p) {
    PrOutResult r;
    const Registration* reg = find(n);
    if (!reg || reg->key != p.reservation_key) return conflict();
    if (!s_.res) return check(Sense{SenseKey::IllegalRequest, asc::InvalidFieldInCdb});
    // Only a holder moves the reservation, and an all registrants one cannot be moved.
    if (!holds(reg) || all_registrants(s_.res->type)) return conflict();
    const std::uint64_t sark = p.service_action_reservation_key;
    if (sark == 0) return check(bad_parameter(8));
    if (p.relative_target_port == 0) return check(bad_parameter(18));  // 0 is reserved
    const auto t = parse_transport_id(p.transport_ids);
    if (!t) return check(bad_parameter(static_cast<std::uint16_t>(p.transport_ids_offset)));
    const ItNexusId dest{t->name, t->isid, p.relative_target_port};
    // The registration the destination I_T nexus would use, if it exists.
    Registration* d = nullptr;
    if (!dest.isid.empty()) {
        Nexus probe;
        probe.initiator_port = dest.initiator_port();
        probe.relative_target_port = p.relative_target_port;
        d = find(probe);
    } else {
        for (auto& e : s_.regs)
            if (e.who == dest) d = &e;
    }
    // Moving to the I_T nexus the command came through is an error.
    if (d == reg || dest.matches(n))
        return check(bad_parameter(static_cast<std::uint16_t>(p.transport_ids_offset)));
    const std::uint64_t self = reg->id;
    std::uint64_t dest_id = 0;
    if (d) {
        dest_id = d->id;
        d->key = sark;
    } else {
        if (s_.regs.size() >= kMaxRegistrations) return check(no_resources());
        add(dest, sark);
        dest_id = s_.regs.back().id;
    }
    s_.res->holder = dest_id;  // same type and scope
    if (p.unreg) std::erase_if(s_.regs, [&](const auto& e) { return e.id == self; });
    ++s_.generation;
    s_.aptpl = p.aptpl;
    r.save = true;
    return r;
}

}  // namespace iscsilab::scsi
