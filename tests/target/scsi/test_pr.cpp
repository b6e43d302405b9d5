#define BOOST_TEST_MODULE pr
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "target/bytes.hpp"
#include "target/scsi/pr.hpp"
#include "target/scsi/spc.hpp"

using namespace iscsilab;
using namespace iscsilab::scsi;

namespace {

std::uint64_t next_nexus_id = 1;

// An I_T nexus as the iSCSI layer builds it: a fresh id per login, the port name
// "<name>,i,0x<ISID>".
Nexus nexus(const std::string& name, const std::string& isid, std::uint16_t target_port = 1) {
    Nexus n;
    n.id = next_nexus_id++;
    n.initiator_name = name;
    n.initiator_port = name + ",i,0x" + isid;
    n.target_name = "iqn.2024-01.org.iscsilab:target";
    n.relative_target_port = target_port;
    return n;
}

const Nexus A = nexus("iqn.1994-05.com.example:a", "400001370000");
const Nexus B = nexus("iqn.1994-05.com.example:b", "400001370001");
const Nexus C = nexus("iqn.1994-05.com.example:c", "400001370002");

std::uint8_t u8(PrOutAction a) { return static_cast<std::uint8_t>(a); }
std::uint8_t u8(PrInAction a) { return static_cast<std::uint8_t>(a); }
std::uint8_t u8(PrType t) { return static_cast<std::uint8_t>(t); }

// The basic PERSISTENT RESERVE OUT parameter list (SPC-4 §6.16.3).
Bytes basic(std::uint64_t key, std::uint64_t sa_key, std::uint8_t flags = 0) {
    Bytes b(24);
    st64(b, 0, key);
    st64(b, 8, sa_key);
    st8(b, 20, flags);
    return b;
}
constexpr std::uint8_t kAptpl = 0x01, kAllTgPt = 0x04, kSpecIpt = 0x08;

// An iSCSI TransportID, built here by hand rather than by the code under test.
Bytes tid(const std::string& text, bool with_isid) {
    std::size_t n = std::max<std::size_t>((text.size() + 1 + 3) / 4 * 4, 20);
    Bytes b(4 + n);
    b[0] = std::byte(with_isid ? 0x45 : 0x05);
    st16(b, 2, static_cast<std::uint16_t>(n));
    for (std::size_t i = 0; i < text.size(); ++i) b[4 + i] = std::byte(static_cast<unsigned char>(text[i]));
    return b;
}

// A REGISTER parameter list with SPEC_I_PT and TransportIDs.
Bytes spec_i_pt(std::uint64_t sa_key, const std::vector<Bytes>& ids, std::uint8_t flags = kSpecIpt,
                std::uint64_t key = 0) {
    Bytes b = basic(key, sa_key, flags);
    Bytes all;
    for (const auto& t : ids) all.insert(all.end(), t.begin(), t.end());
    b.resize(28);
    st32(b, 24, static_cast<std::uint32_t>(all.size()));
    b.insert(b.end(), all.begin(), all.end());
    return b;
}

// The REGISTER AND MOVE parameter list (SPC-4 §6.16.4).
Bytes move_list(std::uint64_t key, std::uint64_t sa_key, std::uint16_t rtpi, const Bytes& id, bool unreg,
                bool aptpl = false) {
    Bytes b(24);
    st64(b, 0, key);
    st64(b, 8, sa_key);
    st8(b, 17, static_cast<std::uint8_t>((unreg ? 0x02 : 0) | (aptpl ? 0x01 : 0)));
    st16(b, 18, rtpi);
    st32(b, 20, static_cast<std::uint32_t>(id.size()));
    b.insert(b.end(), id.begin(), id.end());
    return b;
}

std::shared_ptr<Command> prout_cmd(std::uint8_t sa, const Bytes& list, std::uint8_t type = 0, std::uint8_t scope = 0) {
    auto c = std::make_shared<Command>();
    std::span<std::byte> cdb(c->cdb);
    st8(cdb, 0, op::PersistentReserveOut);
    st8(cdb, 1, sa);
    st8(cdb, 2, static_cast<std::uint8_t>((scope << 4) | type));
    st32(cdb, 5, static_cast<std::uint32_t>(list.size()));
    c->data_out = list;
    c->direction = DataDirection::Write;
    c->expected_transfer_length = static_cast<std::uint32_t>(list.size());
    return c;
}

std::shared_ptr<Command> prin_cmd(std::uint8_t sa, std::uint16_t alloc) {
    auto c = std::make_shared<Command>();
    std::span<std::byte> cdb(c->cdb);
    st8(cdb, 0, op::PersistentReserveIn);
    st8(cdb, 1, sa);
    st16(cdb, 7, alloc);
    c->direction = DataDirection::Read;
    c->expected_transfer_length = alloc;
    return c;
}

std::shared_ptr<Command> cdb_cmd(std::initializer_list<int> bytes) {
    auto c = std::make_shared<Command>();
    std::size_t i = 0;
    for (int v : bytes) c->cdb[i++] = static_cast<std::byte>(v);
    return c;
}

const auto kRead10 = cdb_cmd({op::Read10, 0, 0, 0, 0, 0, 0, 0, 1, 0});
const auto kWrite10 = cdb_cmd({op::Write10, 0, 0, 0, 0, 0, 0, 0, 1, 0});

bool good(const PrOutResult& r) { return r.status == Status::Good && !r.sense; }
bool conflict(const PrOutResult& r) { return r.status == Status::ReservationConflict && !r.sense; }
bool sense_is(const PrOutResult& r, SenseKey k, Asc a) {
    return r.status == Status::CheckCondition && r.sense && r.sense->key == k && r.sense->code == a;
}
bool sense_is(const PrInResult& r, SenseKey k, Asc a) {
    return r.status == Status::CheckCondition && r.sense && r.sense->key == k && r.sense->code == a;
}
bool has_ua(const PrOutResult& r, const Nexus& n, Asc a) {
    return std::any_of(r.unit_attentions.begin(), r.unit_attentions.end(),
                       [&](const auto& u) { return u.asc == a && u.nexus.matches(n); });
}

// One logical unit's reservations, driven as the mid-level would drive them.
struct Lu {
    PersistentReservations pr;

    PrOutResult out(const Nexus& n, PrOutAction sa, const Bytes& list, PrType type = PrType::WriteExclusive,
                    std::uint8_t scope = 0) {
        auto c = prout_cmd(u8(sa), list, u8(type), scope);
        auto r = pr.persistent_reserve_out(n, *c);
        // The command's own result as the transport would send it.
        r.apply_to(*c, false);
        BOOST_CHECK(c->status == r.status);
        return r;
    }
    PrOutResult reg(const Nexus& n, std::uint64_t sa_key, std::uint64_t key = 0, std::uint8_t flags = 0) {
        return out(n, PrOutAction::Register, basic(key, sa_key, flags));
    }
    PrOutResult reserve(const Nexus& n, std::uint64_t key, PrType t) {
        return out(n, PrOutAction::Reserve, basic(key, 0), t);
    }
    PrOutResult release(const Nexus& n, std::uint64_t key, PrType t) {
        return out(n, PrOutAction::Release, basic(key, 0), t);
    }
    PrOutResult preempt(const Nexus& n, std::uint64_t key, std::uint64_t victim, PrType t, bool abort = false) {
        return out(n, abort ? PrOutAction::PreemptAndAbort : PrOutAction::Preempt, basic(key, victim), t);
    }
    Bytes in(const Nexus& n, PrInAction sa, std::uint16_t alloc = 0xffff) {
        auto c = prin_cmd(u8(sa), alloc);
        auto r = pr.persistent_reserve_in(n, *c);
        BOOST_REQUIRE(r.status == Status::Good);
        r.apply_to(*c, false);
        BOOST_REQUIRE(c->data_in);
        BOOST_CHECK(c->data_in->size() == r.data.size());
        return r.data;
    }
    std::vector<std::uint64_t> keys() {
        const Bytes d = in(A, PrInAction::ReadKeys);
        std::vector<std::uint64_t> k;
        for (std::size_t off = 8; off + 8 <= d.size(); off += 8) k.push_back(ld64(d, off));
        return k;
    }
    bool can_read(const Nexus& n) const { return !pr.conflicts(n, *kRead10); }
    bool can_write(const Nexus& n) const { return !pr.conflicts(n, *kWrite10); }
};

using Keys = std::vector<std::uint64_t>;

// Bytes as numbers, so that a failed comparison prints them.
std::vector<int> ints(const Bytes& b) {
    std::vector<int> v;
    for (auto x : b) v.push_back(std::to_integer<int>(x));
    return v;
}

// libiscsi's test_prout_reserve_access_*: A holds, B is a registrant, then B unregisters.
void access_rules(PrType type, bool reg_read, bool reg_write, bool unreg_read, bool unreg_write) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, type)));
    const Bytes rr = lu.in(A, PrInAction::ReadReservation);
    BOOST_REQUIRE(rr.size() == 24u);
    const bool all_reg = type == PrType::WriteExclusiveAllRegistrants || type == PrType::ExclusiveAccessAllRegistrants;
    BOOST_TEST(ld64(rr, 8) == (all_reg ? 0u : 0xau));  // all registrants: key zero
    BOOST_TEST(ld8(rr, 21) == u8(type));
    BOOST_TEST(lu.can_read(A));
    BOOST_TEST(lu.can_write(A));
    BOOST_TEST(lu.can_read(B) == reg_read);
    BOOST_TEST(lu.can_write(B) == reg_write);
    BOOST_TEST(lu.can_read(C) == unreg_read);  // C never registered
    BOOST_TEST(lu.can_write(C) == unreg_write);
    BOOST_REQUIRE(good(lu.reg(B, 0, 0xb)));  // B unregisters
    BOOST_TEST(lu.can_read(B) == unreg_read);
    BOOST_TEST(lu.can_write(B) == unreg_write);
    BOOST_TEST(good(lu.release(A, 0xa, type)));
    BOOST_TEST(!lu.pr.reserved());
    BOOST_TEST(lu.can_write(C));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pr)

BOOST_AUTO_TEST_CASE(register_and_unregister) {
    Lu lu;
    BOOST_TEST(!lu.pr.any_registered());
    BOOST_TEST(good(lu.reg(A, 0x1111)));
    BOOST_TEST(lu.pr.is_registered(A));
    BOOST_TEST(!lu.pr.is_registered(B));
    BOOST_TEST((lu.keys() == Keys{0x1111}));
    // A registered nexus changes its key with its current key.
    BOOST_TEST(good(lu.reg(A, 0x2222, 0x1111)));
    BOOST_TEST((lu.keys() == Keys{0x2222}));
    // SERVICE ACTION RESERVATION KEY zero unregisters.
    BOOST_TEST(good(lu.reg(A, 0, 0x2222)));
    BOOST_TEST(!lu.pr.is_registered(A));
    BOOST_TEST(lu.keys().empty());
    // From an unregistered nexus, key zero is a GOOD that does nothing.
    BOOST_TEST(good(lu.reg(B, 0)));
    BOOST_TEST(!lu.pr.any_registered());
    // REGISTER AND IGNORE EXISTING KEY registers too, and replaces whatever key is there.
    BOOST_TEST(good(lu.out(B, PrOutAction::RegisterAndIgnoreExistingKey, basic(0x77, 0x3333))));
    BOOST_TEST(good(lu.out(B, PrOutAction::RegisterAndIgnoreExistingKey, basic(0x99, 0x4444))));
    BOOST_TEST((lu.keys() == Keys{0x4444}));
}

BOOST_AUTO_TEST_CASE(key_mismatch_is_a_reservation_conflict) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0x1111)));
    // libiscsi prout_reregister_key_fails: REGISTER with RESERVATION KEY 0 from a
    // registered nexus.
    BOOST_TEST(conflict(lu.reg(A, 0x1112, 0)));
    BOOST_TEST(conflict(lu.reg(A, 0, 0x9999)));  // nor may a wrong key unregister
    BOOST_TEST((lu.keys() == Keys{0x1111}));
    // An unregistered nexus must send RESERVATION KEY zero.
    BOOST_TEST(conflict(lu.reg(B, 0x2222, 0x5)));
    BOOST_TEST(!lu.pr.is_registered(B));
    // Every other service action checks the key, and an unregistered nexus has none.
    BOOST_TEST(conflict(lu.reserve(A, 0x1, PrType::WriteExclusive)));
    BOOST_TEST(conflict(lu.reserve(B, 0, PrType::WriteExclusive)));
    BOOST_TEST(conflict(lu.release(A, 0x1, PrType::WriteExclusive)));
    BOOST_TEST(conflict(lu.out(A, PrOutAction::Clear, basic(0x1, 0))));
    BOOST_TEST(conflict(lu.preempt(A, 0x1, 0x1111, PrType::WriteExclusive)));
    BOOST_TEST(conflict(lu.out(B, PrOutAction::Clear, basic(0, 0))));
    BOOST_TEST(!lu.pr.reserved());
    BOOST_TEST((lu.keys() == Keys{0x1111}));
}

BOOST_AUTO_TEST_CASE(access_write_exclusive) { access_rules(PrType::WriteExclusive, true, false, true, false); }
BOOST_AUTO_TEST_CASE(access_exclusive_access) { access_rules(PrType::ExclusiveAccess, false, false, false, false); }
BOOST_AUTO_TEST_CASE(access_write_exclusive_registrants_only) {
    access_rules(PrType::WriteExclusiveRegistrantsOnly, true, true, true, false);
}
BOOST_AUTO_TEST_CASE(access_exclusive_access_registrants_only) {
    access_rules(PrType::ExclusiveAccessRegistrantsOnly, true, true, false, false);
}
BOOST_AUTO_TEST_CASE(access_write_exclusive_all_registrants) {
    access_rules(PrType::WriteExclusiveAllRegistrants, true, true, true, false);
}
BOOST_AUTO_TEST_CASE(access_exclusive_access_all_registrants) {
    access_rules(PrType::ExclusiveAccessAllRegistrants, true, true, false, false);
}

BOOST_AUTO_TEST_CASE(reserve_twice_and_by_others) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_TEST(good(lu.reserve(A, 0xa, PrType::ExclusiveAccess)));
    BOOST_TEST(good(lu.reserve(A, 0xa, PrType::ExclusiveAccess)));      // the same again: GOOD
    BOOST_TEST(conflict(lu.reserve(A, 0xa, PrType::WriteExclusive)));  // another type
    BOOST_TEST(conflict(lu.reserve(B, 0xb, PrType::ExclusiveAccess)));  // not the holder
    BOOST_TEST(lu.pr.is_holder(A));
    BOOST_TEST(!lu.pr.is_holder(B));
    // With an all registrants type every registrant holds it.
    BOOST_REQUIRE(good(lu.release(A, 0xa, PrType::ExclusiveAccess)));
    BOOST_TEST(good(lu.reserve(A, 0xa, PrType::WriteExclusiveAllRegistrants)));
    BOOST_TEST(lu.pr.is_holder(B));
    BOOST_TEST(good(lu.reserve(B, 0xb, PrType::WriteExclusiveAllRegistrants)));
    BOOST_TEST(conflict(lu.reserve(B, 0xb, PrType::WriteExclusive)));
}

BOOST_AUTO_TEST_CASE(release_by_non_holder_changes_nothing) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_TEST(good(lu.release(A, 0xa, PrType::WriteExclusive)));  // nothing to release
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusive)));
    auto r = lu.release(B, 0xb, PrType::ExclusiveAccess);  // even with another type
    BOOST_TEST(good(r));
    BOOST_TEST(r.unit_attentions.empty());
    BOOST_TEST(lu.pr.is_holder(A));
    BOOST_TEST(conflict(lu.release(C, 0, PrType::WriteExclusive)));  // unregistered
    BOOST_TEST(lu.pr.is_holder(A));
}

BOOST_AUTO_TEST_CASE(release_with_wrong_type_is_an_invalid_release) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::ExclusiveAccessRegistrantsOnly)));
    BOOST_TEST(sense_is(lu.release(A, 0xa, PrType::ExclusiveAccess), SenseKey::IllegalRequest,
                        asc::InvalidReleaseOfPersistentReservation));
    BOOST_TEST(sense_is(lu.out(A, PrOutAction::Release, basic(0xa, 0), PrType::ExclusiveAccessRegistrantsOnly, 1),
                        SenseKey::IllegalRequest, asc::InvalidReleaseOfPersistentReservation));
    BOOST_TEST(lu.pr.is_holder(A));
    // The right type releases it, and a registrants only release tells the others.
    auto r = lu.release(A, 0xa, PrType::ExclusiveAccessRegistrantsOnly);
    BOOST_TEST(good(r));
    BOOST_TEST(!lu.pr.reserved());
    BOOST_TEST(r.unit_attentions.size() == 1u);
    BOOST_TEST(has_ua(r, B, asc::ReservationsReleased));
    BOOST_TEST(!has_ua(r, A, asc::ReservationsReleased));
    // A Write Exclusive release tells no one.
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusive)));
    BOOST_TEST(lu.release(A, 0xa, PrType::WriteExclusive).unit_attentions.empty());
}

BOOST_AUTO_TEST_CASE(clear_removes_every_registration) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_REQUIRE(good(lu.reg(C, 0xc)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::ExclusiveAccess)));
    const auto gen = lu.pr.generation();
    auto r = lu.out(B, PrOutAction::Clear, basic(0xb, 0));  // a registrant that does not hold it
    BOOST_TEST(good(r));
    BOOST_TEST(!lu.pr.reserved());
    BOOST_TEST(!lu.pr.any_registered());
    BOOST_TEST(lu.pr.generation() == gen + 1);
    BOOST_TEST(r.unit_attentions.size() == 2u);
    BOOST_TEST(has_ua(r, A, asc::ReservationsPreempted));
    BOOST_TEST(has_ua(r, C, asc::ReservationsPreempted));
    BOOST_TEST(!has_ua(r, B, asc::ReservationsPreempted));
    BOOST_TEST(lu.can_write(C));
}

BOOST_AUTO_TEST_CASE(preempt) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_REQUIRE(good(lu.reg(C, 0xc)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusive)));
    // B preempts the holder's key with another type: the reservation is B's, A's
    // registration is gone, and C learns that the type changed.
    auto gen = lu.pr.generation();
    auto r = lu.preempt(B, 0xb, 0xa, PrType::ExclusiveAccess);
    BOOST_TEST(good(r));
    BOOST_TEST(lu.pr.generation() == gen + 1);
    BOOST_TEST(lu.pr.is_holder(B));
    BOOST_TEST(!lu.pr.is_registered(A));
    BOOST_TEST((lu.keys() == Keys{0xb, 0xc}));
    BOOST_TEST(has_ua(r, A, asc::RegistrationsPreempted));
    BOOST_TEST(has_ua(r, C, asc::ReservationsReleased));
    BOOST_TEST(r.unit_attentions.size() == 2u);
    BOOST_TEST(r.abort_tasks_of.empty());
    const Bytes rr = lu.in(C, PrInAction::ReadReservation);
    BOOST_TEST(ld64(rr, 8) == 0xbu);
    BOOST_TEST(ld8(rr, 21) == u8(PrType::ExclusiveAccess));
    // A key that is not the holder's takes registrations only.
    r = lu.preempt(B, 0xb, 0xc, PrType::ExclusiveAccess);
    BOOST_TEST(good(r));
    BOOST_TEST((lu.keys() == Keys{0xb}));
    BOOST_TEST(has_ua(r, C, asc::RegistrationsPreempted));
    BOOST_TEST(lu.pr.is_holder(B));
    // Key zero, when it cannot mean the holder: INVALID FIELD IN PARAMETER LIST.
    BOOST_TEST(sense_is(lu.preempt(B, 0xb, 0, PrType::ExclusiveAccess), SenseKey::IllegalRequest,
                        asc::InvalidFieldInParameterList));
    // A key nobody holds: RESERVATION CONFLICT.
    BOOST_TEST(conflict(lu.preempt(B, 0xb, 0x1234, PrType::ExclusiveAccess)));
    // Preempting one's own key changes the type of one's own reservation.
    BOOST_REQUIRE(good(lu.reg(C, 0xc)));
    r = lu.preempt(B, 0xb, 0xb, PrType::WriteExclusive);
    BOOST_TEST(good(r));
    BOOST_TEST(lu.pr.is_holder(B));
    BOOST_TEST(has_ua(r, C, asc::ReservationsReleased));
    BOOST_TEST((lu.keys() == Keys{0xb, 0xc}));
}

// libiscsi test_prout_preempt_rm_reg: no reservation, one nexus preempts another's key.
BOOST_AUTO_TEST_CASE(preempt_without_reservation_removes_registrations) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0x1)));
    BOOST_REQUIRE(good(lu.reg(B, 0x2)));
    const auto gen = lu.pr.generation();
    auto r = lu.preempt(B, 0x2, 0x1, PrType::ExclusiveAccess);
    BOOST_TEST(good(r));
    BOOST_TEST((lu.keys() == Keys{0x2}));
    BOOST_TEST(lu.pr.generation() == gen + 1);
    BOOST_TEST(!lu.pr.reserved());
    BOOST_TEST(has_ua(r, A, asc::RegistrationsPreempted));
}

BOOST_AUTO_TEST_CASE(preempt_all_registrants_with_key_zero) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_REQUIRE(good(lu.reg(C, 0xc)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::ExclusiveAccessAllRegistrants)));
    auto r = lu.preempt(B, 0xb, 0, PrType::WriteExclusive);
    BOOST_TEST(good(r));
    BOOST_TEST((lu.keys() == Keys{0xb}));
    BOOST_TEST(lu.pr.is_holder(B));
    BOOST_TEST(has_ua(r, A, asc::RegistrationsPreempted));
    BOOST_TEST(has_ua(r, C, asc::RegistrationsPreempted));
    BOOST_TEST(ld8(lu.in(A, PrInAction::ReadReservation), 21) == u8(PrType::WriteExclusive));
    // With a nonzero key an all registrants reservation loses registrations only.
    BOOST_REQUIRE(good(lu.release(B, 0xb, PrType::WriteExclusive)));
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusiveAllRegistrants)));
    r = lu.preempt(B, 0xb, 0xa, PrType::ExclusiveAccess);
    BOOST_TEST(good(r));
    BOOST_TEST((lu.keys() == Keys{0xb}));
    BOOST_TEST(ld8(lu.in(A, PrInAction::ReadReservation), 21) == u8(PrType::WriteExclusiveAllRegistrants));
}

BOOST_AUTO_TEST_CASE(preempt_and_abort_lists_the_nexuses) {
    Lu lu;
    const Nexus A2 = nexus(A.initiator_name, "400001370099");  // A's second session
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(A2, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_REQUIRE(good(lu.reg(C, 0xc)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::ExclusiveAccess)));
    auto r = lu.preempt(B, 0xb, 0xa, PrType::ExclusiveAccess, true);
    BOOST_TEST(good(r));
    BOOST_TEST(r.abort_tasks_of.size() == 2u);
    auto listed = [&](const Nexus& n) {
        return std::any_of(r.abort_tasks_of.begin(), r.abort_tasks_of.end(), [&](const auto& id) { return id.matches(n); });
    };
    BOOST_TEST(listed(A));
    BOOST_TEST(listed(A2));
    BOOST_TEST(!listed(B));
    BOOST_TEST(!listed(C));
    BOOST_TEST((lu.keys() == Keys{0xb, 0xc}));
    BOOST_TEST(has_ua(r, A, asc::RegistrationsPreempted));
    BOOST_TEST(has_ua(r, A2, asc::RegistrationsPreempted));
    BOOST_TEST(lu.pr.is_holder(B));
    // The issuer's own tasks go too when its key is the one preempted (not the PR OUT).
    r = lu.preempt(B, 0xb, 0xb, PrType::ExclusiveAccess, true);
    BOOST_TEST(good(r));
    BOOST_TEST(r.abort_tasks_of.size() == 1u);
    BOOST_TEST(r.abort_tasks_of[0].matches(B));
    // A plain PREEMPT aborts nothing.
    BOOST_TEST(lu.preempt(B, 0xb, 0xc, PrType::ExclusiveAccess).abort_tasks_of.empty());
}

BOOST_AUTO_TEST_CASE(register_and_move) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    const Bytes to_b = tid(B.initiator_port, true);
    // No reservation yet: INVALID FIELD IN CDB.
    BOOST_TEST(sense_is(lu.out(A, PrOutAction::RegisterAndMove, move_list(0xa, 0xb0, 1, to_b, false)),
                        SenseKey::IllegalRequest, asc::InvalidFieldInCdb));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusiveRegistrantsOnly)));
    BOOST_REQUIRE(good(lu.reg(C, 0xc)));
    // Only the holder moves it; the key must match; to oneself is an error; key zero too.
    BOOST_TEST(conflict(lu.out(C, PrOutAction::RegisterAndMove, move_list(0xc, 0xb0, 1, to_b, false))));
    BOOST_TEST(conflict(lu.out(A, PrOutAction::RegisterAndMove, move_list(0x1, 0xb0, 1, to_b, false))));
    BOOST_TEST(sense_is(lu.out(A, PrOutAction::RegisterAndMove, move_list(0xa, 0xb0, 1, tid(A.initiator_port, true), false)),
                        SenseKey::IllegalRequest, asc::InvalidFieldInParameterList));
    BOOST_TEST(sense_is(lu.out(A, PrOutAction::RegisterAndMove, move_list(0xa, 0, 1, to_b, false)),
                        SenseKey::IllegalRequest, asc::InvalidFieldInParameterList));
    // A TransportID longer than the parameter list says.
    Bytes cut = move_list(0xa, 0xb0, 1, to_b, false);
    st32(cut, 20, static_cast<std::uint32_t>(to_b.size() + 4));
    BOOST_TEST(sense_is(lu.out(A, PrOutAction::RegisterAndMove, cut), SenseKey::IllegalRequest,
                        asc::ParameterListLengthError));
    // The move: B (not logged in yet) is registered with the new key and holds the same
    // reservation; with UNREG, A is gone.
    const auto gen = lu.pr.generation();
    BOOST_TEST(good(lu.out(A, PrOutAction::RegisterAndMove, move_list(0xa, 0xb0, 1, to_b, true))));
    BOOST_TEST(lu.pr.generation() == gen + 1);
    const Nexus b_later = nexus(B.initiator_name, "400001370001");
    BOOST_TEST(lu.pr.is_holder(b_later));
    BOOST_TEST(!lu.pr.is_registered(A));
    BOOST_TEST((lu.keys() == Keys{0xc, 0xb0}));
    const Bytes rr = lu.in(C, PrInAction::ReadReservation);
    BOOST_TEST(ld64(rr, 8) == 0xb0u);
    BOOST_TEST(ld8(rr, 21) == u8(PrType::WriteExclusiveRegistrantsOnly));
    // To an already registered nexus, without UNREG: its key changes, the mover stays.
    BOOST_TEST(good(lu.out(B, PrOutAction::RegisterAndMove, move_list(0xb0, 0xc1, 1, tid(C.initiator_port, true), false))));
    BOOST_TEST(lu.pr.is_holder(C));
    BOOST_TEST((lu.keys() == Keys{0xc1, 0xb0}));
    // An all registrants reservation cannot be moved.
    BOOST_REQUIRE(good(lu.release(C, 0xc1, PrType::WriteExclusiveRegistrantsOnly)));
    BOOST_REQUIRE(good(lu.reserve(C, 0xc1, PrType::ExclusiveAccessAllRegistrants)));
    BOOST_TEST(conflict(lu.out(C, PrOutAction::RegisterAndMove, move_list(0xc1, 0xa, 1, tid(A.initiator_port, true), false))));
}

BOOST_AUTO_TEST_CASE(spec_i_pt_registers_the_transport_ids) {
    Lu lu;
    const auto list = spec_i_pt(0x5, {tid(B.initiator_port, true), tid(C.initiator_name, false)});
    BOOST_TEST(good(lu.out(A, PrOutAction::Register, list)));
    BOOST_TEST((lu.keys() == Keys{0x5, 0x5, 0x5}));
    // B's port, logging in later, is registered; any session of C's is.
    BOOST_TEST(lu.pr.is_registered(nexus(B.initiator_name, "400001370001")));
    BOOST_TEST(!lu.pr.is_registered(nexus(B.initiator_name, "400001370077")));
    BOOST_TEST(lu.pr.is_registered(nexus(C.initiator_name, "123456789abc")));
    BOOST_TEST(!lu.pr.is_registered(nexus(C.initiator_name, "123456789abc", 2)));  // another target port
    // A registered nexus may not use SPEC_I_PT (INVALID FIELD IN CDB) ...
    BOOST_TEST(sense_is(lu.out(A, PrOutAction::Register, spec_i_pt(0x6, {tid("iqn.x", false)}, kSpecIpt, 0x5)),
                        SenseKey::IllegalRequest, asc::InvalidFieldInCdb));
    BOOST_TEST(conflict(lu.out(A, PrOutAction::Register, spec_i_pt(0x6, {tid("iqn.x", false)}))));  // key first
    // ... REGISTER AND IGNORE EXISTING KEY never may ...
    const Nexus D = nexus("iqn.1994-05.com.example:d", "400001370003");
    BOOST_TEST(sense_is(lu.out(D, PrOutAction::RegisterAndIgnoreExistingKey, spec_i_pt(0x6, {tid("iqn.x", false)})),
                        SenseKey::IllegalRequest, asc::InvalidFieldInParameterList));
    // ... and naming a registered nexus fails the whole command.
    BOOST_TEST(sense_is(lu.out(D, PrOutAction::Register, spec_i_pt(0x6, {tid("iqn.x", false), tid(B.initiator_port, true)})),
                        SenseKey::IllegalRequest, asc::InvalidFieldInParameterList));
    BOOST_TEST(!lu.pr.is_registered(D));
    BOOST_TEST(lu.keys().size() == 3u);
    // Malformed TransportIDs: not iSCSI, no terminating null, longer than the list.
    Bytes not_iscsi = tid("iqn.x", false);
    not_iscsi[0] = std::byte(0x01);
    Bytes unterminated = tid("iqn.x", false);
    std::fill(unterminated.begin() + 4, unterminated.end(), std::byte('x'));
    Bytes overlong = tid("iqn.x", false);
    st16(overlong, 2, 200);
    Bytes bad_format = tid("iqn.x", false);
    bad_format[0] = std::byte(0x85);
    Bytes no_isid = tid("iqn.x,i,0xzz", true);
    for (const auto& bad : {not_iscsi, unterminated, overlong, bad_format, no_isid})
        BOOST_TEST(sense_is(lu.out(D, PrOutAction::Register, spec_i_pt(0x6, {bad})), SenseKey::IllegalRequest,
                            asc::InvalidFieldInParameterList));
    // TRANSPORTID PARAMETER DATA LENGTH beyond the parameter list.
    Bytes lying = spec_i_pt(0x6, {tid("iqn.x", false)});
    st32(lying, 24, 1000);
    BOOST_TEST(sense_is(lu.out(D, PrOutAction::Register, lying), SenseKey::IllegalRequest, asc::ParameterListLengthError));
    BOOST_TEST(!lu.pr.is_registered(D));
    // SPEC_I_PT with ALL_TG_PT: the TransportIDs are registered on every target port.
    BOOST_TEST(good(lu.out(D, PrOutAction::Register, spec_i_pt(0x7, {tid("iqn.e", false)}, kSpecIpt | kAllTgPt))));
    BOOST_TEST(lu.pr.is_registered(nexus("iqn.e", "000000000001", 9)));
    BOOST_TEST(lu.pr.is_registered(nexus(D.initiator_name, "400001370003", 9)));
}

BOOST_AUTO_TEST_CASE(all_tg_pt_registers_every_target_port) {
    Lu lu;
    BOOST_TEST(good(lu.reg(A, 0xa, 0, kAllTgPt)));
    BOOST_TEST(lu.pr.is_registered(nexus(A.initiator_name, "400001370000", 2)));
    const Bytes fs = lu.in(A, PrInAction::ReadFullStatus);
    BOOST_TEST(ld8(fs, 8 + 12) == 0x02);  // ALL_TG_PT
    BOOST_TEST(ld16(fs, 8 + 18) == 0u);
    // Without it, only the port it came through.
    BOOST_TEST(good(lu.reg(B, 0xb)));
    BOOST_TEST(!lu.pr.is_registered(nexus(B.initiator_name, "400001370001", 2)));
}

BOOST_AUTO_TEST_CASE(read_full_status_bytes) {
    Lu lu;
    const Nexus a = nexus("iqn.a", "400001370000", 1);
    const Nexus b = nexus("iqn.b", "000000000001", 2);
    BOOST_REQUIRE(good(lu.reg(a, 0x1122334455667788)));
    BOOST_REQUIRE(good(lu.reg(b, 0xb)));
    BOOST_REQUIRE(good(lu.reserve(a, 0x1122334455667788, PrType::WriteExclusive)));
    auto text = [](const char* s) {
        Bytes out;
        for (; *s; ++s) out.push_back(std::byte(static_cast<unsigned char>(*s)));
        return out;
    };
    Bytes want = {std::byte(0), std::byte(0), std::byte(0), std::byte(2),  // PRgeneration
                  std::byte(0), std::byte(0), std::byte(0), std::byte(104)};
    auto descriptor = [&](std::initializer_list<int> head, const char* port) {
        for (int v : head) want.push_back(std::byte(v));
        want.insert(want.end(), {std::byte(0x45), std::byte(0), std::byte(0), std::byte(24)});
        const Bytes t = text(port);  // 22 characters, a null and one byte of padding
        want.insert(want.end(), t.begin(), t.end());
        want.insert(want.end(), {std::byte(0), std::byte(0)});
    };
    descriptor({0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // RESERVATION KEY
                0, 0, 0, 0,                                      // reserved
                0x01,                                            // R_HOLDER
                0x01,                                            // SCOPE 0, TYPE Write Exclusive
                0, 0, 0, 0,                                      // reserved
                0, 1,                                            // RELATIVE TARGET PORT IDENTIFIER
                0, 0, 0, 28},                                    // ADDITIONAL DESCRIPTOR LENGTH
               "iqn.a,i,0x400001370000");
    descriptor({0, 0, 0, 0, 0, 0, 0, 0x0b, 0, 0, 0, 0, 0x00, 0x00, 0, 0, 0, 0, 0, 2, 0, 0, 0, 28},
               "iqn.b,i,0x000000000001");
    const Bytes got = lu.in(a, PrInAction::ReadFullStatus);
    BOOST_TEST(ints(got) == ints(want), boost::test_tools::per_element());
    // A registration by iSCSI name alone (format 00b), padded to the minimum of 20.
    BOOST_REQUIRE(good(lu.out(nexus("iqn.c", "000000000003"), PrOutAction::Register, spec_i_pt(0xd, {tid("iqn.d", false)}))));
    const Bytes fs = lu.in(a, PrInAction::ReadFullStatus);
    const Bytes last(fs.end() - 24, fs.end());
    Bytes want_last = {std::byte(0x05), std::byte(0), std::byte(0), std::byte(20)};
    const Bytes d = text("iqn.d");
    want_last.insert(want_last.end(), d.begin(), d.end());
    want_last.resize(24);
    BOOST_TEST(ints(last) == ints(want_last), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(report_capabilities_bytes) {
    Lu lu;
    const Bytes want = {std::byte(0x00), std::byte(0x08),  // LENGTH
                        std::byte(0x1d),                   // CRH SIP_C ATP_C PTPL_C
                        std::byte(0xb0),                   // TMV, ALLOW COMMANDS 011b, PTPL_A 0
                        std::byte(0xea), std::byte(0x01),  // every type
                        std::byte(0x00), std::byte(0x00)};
    BOOST_TEST(ints(lu.in(A, PrInAction::ReportCapabilities)) == ints(want), boost::test_tools::per_element());
    BOOST_REQUIRE(good(lu.reg(A, 0xa, 0, kAptpl)));
    BOOST_TEST(ld8(lu.in(A, PrInAction::ReportCapabilities), 3) == 0xb1);  // PTPL_A
}

BOOST_AUTO_TEST_CASE(prgeneration_counts_as_spc4_says) {
    Lu lu;
    auto gen = [&] { return ld32(lu.in(A, PrInAction::ReadKeys), 0); };
    BOOST_TEST(gen() == 0u);
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_TEST(gen() == 1u);
    BOOST_REQUIRE(good(lu.reg(C, 0)));  // a GOOD REGISTER that did nothing still counts
    BOOST_TEST(gen() == 2u);
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusive)));  // RESERVE does not
    BOOST_REQUIRE(good(lu.release(A, 0xa, PrType::WriteExclusive)));  // nor RELEASE
    BOOST_TEST(gen() == 3u);
    BOOST_REQUIRE(conflict(lu.reg(A, 0xc, 0x99)));  // nor a conflict
    BOOST_REQUIRE(!good(lu.out(A, PrOutAction::Register, Bytes(25))));
    BOOST_TEST(gen() == 3u);  // nor an error
    BOOST_REQUIRE(good(lu.out(A, PrOutAction::RegisterAndIgnoreExistingKey, basic(0, 0xaa))));
    BOOST_TEST(gen() == 4u);
    BOOST_REQUIRE(good(lu.preempt(A, 0xaa, 0xb, PrType::WriteExclusive)));
    BOOST_TEST(gen() == 5u);
    BOOST_REQUIRE(good(lu.out(A, PrOutAction::Clear, basic(0xaa, 0))));
    BOOST_TEST(gen() == 6u);
    // READ RESERVATION and READ FULL STATUS report the same counter.
    BOOST_TEST(ld32(lu.in(A, PrInAction::ReadReservation), 0) == 6u);
    BOOST_TEST(ld32(lu.in(A, PrInAction::ReadFullStatus), 0) == 6u);
}

BOOST_AUTO_TEST_CASE(allocation_length_truncates) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    // libiscsi test_prin_read_keys_truncate: ADDITIONAL LENGTH is the whole list's.
    Bytes k = lu.in(A, PrInAction::ReadKeys, 8);
    BOOST_TEST(k.size() == 8u);
    BOOST_TEST(ld32(k, 4) == 16u);
    k = lu.in(A, PrInAction::ReadKeys, 12);
    BOOST_TEST(k.size() == 12u);
    BOOST_TEST(lu.in(A, PrInAction::ReadKeys, 0).empty());
    const Bytes full = lu.in(A, PrInAction::ReadFullStatus);
    const Bytes cut = lu.in(A, PrInAction::ReadFullStatus, 30);
    BOOST_TEST(cut.size() == 30u);
    BOOST_TEST(std::equal(cut.begin(), cut.end(), full.begin()));
    BOOST_TEST(ld32(cut, 4) == full.size() - 8);
    BOOST_TEST(lu.in(A, PrInAction::ReportCapabilities, 3).size() == 3u);
    BOOST_TEST(lu.in(A, PrInAction::ReadReservation, 4).size() == 4u);
}

BOOST_AUTO_TEST_CASE(save_and_load_round_trip) {
    Lu lu;
    // Without APTPL nothing is saved, and nothing needs writing.
    auto r = lu.reg(C, 0xc);
    BOOST_TEST(!r.save);
    BOOST_TEST(lu.pr.save().empty());
    r = lu.reg(A, 0xa, 0, kAptpl);
    BOOST_TEST(r.save);
    BOOST_TEST(!r.state.empty());
    const auto v1 = r.state_version;
    BOOST_REQUIRE(good(lu.out(B, PrOutAction::Register, spec_i_pt(0xb, {tid("iqn.f", false)}, kSpecIpt | kAllTgPt | kAptpl))));
    r = lu.reserve(A, 0xa, PrType::ExclusiveAccessRegistrantsOnly);
    BOOST_TEST(r.save);
    BOOST_TEST(r.state_version > v1);
    BOOST_TEST((r.state == lu.pr.save()));
    BOOST_TEST(lu.pr.aptpl());
    const Bytes saved = lu.pr.save();

    PersistentReservations after;
    BOOST_TEST(after.load(saved) == "");
    // Power on: nobody has logged in yet, and every registration is there.
    BOOST_TEST(after.is_registered(nexus(A.initiator_name, "400001370000")));
    BOOST_TEST(after.is_holder(nexus(A.initiator_name, "400001370000")));
    BOOST_TEST(after.is_registered(nexus(B.initiator_name, "400001370001", 5)));
    BOOST_TEST(after.is_registered(nexus("iqn.f", "000000000009", 7)));
    BOOST_TEST(after.is_registered(nexus(C.initiator_name, "400001370002")));
    BOOST_TEST(after.generation() == 0u);  // SPC-4 §6.15.2: zero at power on
    BOOST_TEST(after.aptpl());
    auto c = prin_cmd(u8(PrInAction::ReadFullStatus), 0xffff);
    const auto before_status = lu.pr.persistent_reserve_in(A, *c).data;
    const auto after_status = after.persistent_reserve_in(A, *c).data;
    BOOST_REQUIRE(before_status.size() == after_status.size());
    BOOST_TEST(std::equal(before_status.begin() + 4, before_status.end(), after_status.begin() + 4));
    Bytes resaved = after.save();
    BOOST_REQUIRE(resaved.size() == saved.size());
    Bytes expect = saved;
    st32(expect, 6, 0);  // the saved PRgeneration
    BOOST_TEST(ints(resaved) == ints(expect), boost::test_tools::per_element());
    // APTPL 0 again: the saved copy must be erased (save with an empty state).
    r = lu.reg(A, 0xa2, 0xa, 0);
    BOOST_TEST(r.save);
    BOOST_TEST(r.state.empty());
    BOOST_TEST(lu.pr.save().empty());
    BOOST_TEST(!lu.pr.aptpl());
    // Loading nothing is an empty state.
    BOOST_TEST(after.load({}) == "");
    BOOST_TEST(!after.any_registered());
}

BOOST_AUTO_TEST_CASE(load_of_garbage_fails_cleanly) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa, 0, kAptpl)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb, 0, kAptpl | kAllTgPt)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusive)));
    const Bytes good_state = lu.pr.save();
    PersistentReservations p;
    BOOST_REQUIRE(p.load(good_state) == "");
    auto intact = [&] { return p.is_holder(A) && p.is_registered(B); };
    // Every truncation fails and leaves the state alone.
    for (std::size_t n = 1; n < good_state.size(); ++n) {
        BOOST_TEST(!p.load(std::span(good_state.data(), n)).empty());
        BOOST_TEST(intact());
    }
    Bytes trailing = good_state;
    trailing.push_back(std::byte(0));
    BOOST_TEST(!p.load(trailing).empty());
    Bytes magic = good_state;
    magic[0] = std::byte('X');
    BOOST_TEST(!p.load(magic).empty());
    Bytes version = good_state;
    version[4] = std::byte(2);
    BOOST_TEST(!p.load(version).empty());
    Bytes many = good_state;
    st16(many, 14, 0xffff);  // count
    BOOST_TEST(!p.load(many).empty());
    Bytes holder = good_state;
    st16(holder, 12, 7);  // a holder index past the registrations
    BOOST_TEST(!p.load(holder).empty());
    Bytes zero_key = good_state;
    st64(zero_key, 16, 0);
    BOOST_TEST(!p.load(zero_key).empty());
    BOOST_TEST(intact());
    // Random bytes and random corruptions never crash; a failure changes nothing.
    std::mt19937 rng(12345);
    for (int i = 0; i < 2000; ++i) {
        Bytes junk = (i % 2) ? good_state : Bytes(rng() % 300);
        if (i % 2) {
            for (int k = 0; k < 3; ++k) junk[rng() % junk.size()] = std::byte(rng() & 0xff);
        } else {
            for (auto& x : junk) x = std::byte(rng() & 0xff);
            if (junk.size() >= 5 && i % 4 == 0) {
                junk[0] = std::byte('I'), junk[1] = std::byte('P'), junk[2] = std::byte('R'), junk[3] = std::byte('S');
                junk[4] = std::byte(1);
            }
        }
        PersistentReservations q;
        BOOST_REQUIRE(q.load(good_state) == "");
        if (!q.load(junk).empty()) BOOST_TEST(q.is_holder(A));
    }
}

BOOST_AUTO_TEST_CASE(registration_cap) {
    Lu lu;
    for (std::size_t i = 0; i < PersistentReservations::kMaxRegistrations; ++i)
        BOOST_REQUIRE(good(lu.reg(nexus("iqn.h" + std::to_string(i), "000000000001"), i + 1)));
    const Nexus one_more = nexus("iqn.overflow", "000000000001");
    BOOST_TEST(sense_is(lu.reg(one_more, 0x9999), SenseKey::IllegalRequest, asc::InsufficientRegistrationResources));
    BOOST_TEST(!lu.pr.is_registered(one_more));
    BOOST_TEST(lu.keys().size() == PersistentReservations::kMaxRegistrations);
    // Freeing one makes room for one; SPEC_I_PT beyond the room registers none.
    BOOST_REQUIRE(good(lu.reg(nexus("iqn.h0", "000000000001"), 0, 1)));
    BOOST_TEST(sense_is(lu.out(one_more, PrOutAction::Register, spec_i_pt(0x9999, {tid("iqn.x", false)})),
                        SenseKey::IllegalRequest, asc::InsufficientRegistrationResources));
    BOOST_TEST(!lu.pr.is_registered(one_more));
    BOOST_TEST(good(lu.reg(one_more, 0x9999)));
}

BOOST_AUTO_TEST_CASE(parameter_list_length_errors) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    for (std::size_t n : {0, 8, 23, 25, 32}) {
        Bytes list = basic(0xa, 0xb);
        list.resize(n);
        BOOST_TEST(sense_is(lu.out(A, PrOutAction::Register, list), SenseKey::IllegalRequest,
                            asc::ParameterListLengthError));
        BOOST_TEST(sense_is(lu.out(A, PrOutAction::Reserve, list), SenseKey::IllegalRequest,
                            asc::ParameterListLengthError));
    }
    // Fewer bytes arrived than the PARAMETER LIST LENGTH said.
    auto c = prout_cmd(u8(PrOutAction::Register), basic(0xa, 0xb));
    c->data_out.resize(20);
    BOOST_TEST(sense_is(lu.pr.persistent_reserve_out(A, *c), SenseKey::IllegalRequest, asc::ParameterListLengthError));
    // SPEC_I_PT with no room for the TRANSPORTID PARAMETER DATA LENGTH.
    BOOST_TEST(sense_is(lu.out(B, PrOutAction::Register, basic(0, 0xb, kSpecIpt)), SenseKey::IllegalRequest,
                        asc::ParameterListLengthError));
    // SPEC_I_PT on anything but REGISTER.
    BOOST_TEST(sense_is(lu.out(A, PrOutAction::Clear, basic(0xa, 0, kSpecIpt)), SenseKey::IllegalRequest,
                        asc::InvalidFieldInParameterList));
    BOOST_TEST((lu.keys() == Keys{0xa}));
}

BOOST_AUTO_TEST_CASE(invalid_cdb_fields) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    for (int sa = 0x08; sa <= 0x1f; ++sa) {
        auto c = prout_cmd(static_cast<std::uint8_t>(sa), basic(0xa, 0));
        auto r = lu.pr.persistent_reserve_out(A, *c);
        BOOST_TEST(sense_is(r, SenseKey::IllegalRequest, asc::InvalidFieldInCdb));
        BOOST_TEST((r.sense && r.sense->field_pointer == 1));
    }
    for (int type : {0, 2, 4, 9, 15}) {
        auto c = prout_cmd(u8(PrOutAction::Reserve), basic(0xa, 0), static_cast<std::uint8_t>(type));
        auto r = lu.pr.persistent_reserve_out(A, *c);
        BOOST_TEST(sense_is(r, SenseKey::IllegalRequest, asc::InvalidFieldInCdb));
        BOOST_TEST((r.sense && r.sense->field_pointer == 2));
        c = prout_cmd(u8(PrOutAction::Preempt), basic(0xa, 0xa), static_cast<std::uint8_t>(type));
        BOOST_TEST(sense_is(lu.pr.persistent_reserve_out(A, *c), SenseKey::IllegalRequest, asc::InvalidFieldInCdb));
    }
    BOOST_TEST(sense_is(lu.out(A, PrOutAction::Reserve, basic(0xa, 0), PrType::WriteExclusive, 1),
                        SenseKey::IllegalRequest, asc::InvalidFieldInCdb));
    BOOST_TEST(!lu.pr.reserved());
    // libiscsi test_prin_serviceaction_range: 0-3 work, 4-0x1f do not.
    for (int sa = 0; sa < 0x20; ++sa) {
        auto c = prin_cmd(static_cast<std::uint8_t>(sa), 16384);
        auto r = lu.pr.persistent_reserve_in(A, *c);
        if (sa < 4) {
            BOOST_TEST((r.status == Status::Good));
        } else {
            BOOST_TEST(sense_is(r, SenseKey::IllegalRequest, asc::InvalidFieldInCdb));
            r.apply_to(*c, false);
            BOOST_TEST((c->status == Status::CheckCondition));
            BOOST_TEST(!c->sense.empty());
        }
    }
}

// libiscsi test_prout_reserve_ownership_*: what the holder's unregistration does.
BOOST_AUTO_TEST_CASE(unregistering_the_holder) {
    for (PrType t : {PrType::WriteExclusive, PrType::ExclusiveAccess, PrType::WriteExclusiveRegistrantsOnly,
                     PrType::ExclusiveAccessRegistrantsOnly, PrType::WriteExclusiveAllRegistrants,
                     PrType::ExclusiveAccessAllRegistrants}) {
        BOOST_TEST_CONTEXT(to_string(t)) {
            Lu lu;
            BOOST_REQUIRE(good(lu.reg(A, 0xa)));
            BOOST_REQUIRE(good(lu.reg(B, 0xb)));
            BOOST_REQUIRE(good(lu.reserve(A, 0xa, t)));
            auto r = lu.reg(A, 0, 0xa);
            BOOST_TEST(good(r));
            const bool shared = t == PrType::WriteExclusiveAllRegistrants || t == PrType::ExclusiveAccessAllRegistrants;
            const bool ro = t == PrType::WriteExclusiveRegistrantsOnly || t == PrType::ExclusiveAccessRegistrantsOnly;
            BOOST_TEST(lu.pr.reserved() == shared);
            BOOST_TEST(has_ua(r, B, asc::ReservationsReleased) == ro);
            if (shared) {
                BOOST_TEST(lu.pr.is_holder(B));
                BOOST_TEST(good(lu.release(B, 0xb, t)));
                BOOST_TEST(!lu.pr.reserved());
            }
            // The last registrant of an all registrants reservation takes it along.
            BOOST_REQUIRE(good(lu.reserve(B, 0xb, PrType::ExclusiveAccessAllRegistrants)));
            BOOST_REQUIRE(good(lu.reg(B, 0, 0xb)));
            BOOST_TEST(!lu.pr.reserved());
        }
    }
}

BOOST_AUTO_TEST_CASE(spc2_reserve_release_exceptions) {
    Lu lu;
    const auto reserve6 = cdb_cmd({op::Reserve6, 0, 0, 0, 0, 0});
    const auto release10 = cdb_cmd({op::Release10, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    BOOST_TEST((lu.pr.spc2_reserve_release(A) == Spc2Access::Process));
    BOOST_TEST(!lu.pr.conflicts(A, *reserve6));
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    // Registrations and no reservation: RESERVE and RELEASE conflict, whoever sends them.
    BOOST_TEST((lu.pr.spc2_reserve_release(A) == Spc2Access::Conflict));
    BOOST_TEST((lu.pr.spc2_reserve_release(C) == Spc2Access::Conflict));
    BOOST_TEST(lu.pr.conflicts(C, *reserve6));
    BOOST_TEST(lu.pr.conflicts(A, *release10));
    // CRH=1: the holder gets a GOOD that does nothing; others conflict.
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusive)));
    BOOST_TEST((lu.pr.spc2_reserve_release(A) == Spc2Access::GoodNoOp));
    BOOST_TEST(!lu.pr.conflicts(A, *reserve6));
    BOOST_TEST((lu.pr.spc2_reserve_release(B) == Spc2Access::Conflict));
    BOOST_TEST((lu.pr.spc2_reserve_release(C) == Spc2Access::Conflict));
    // ... and so does any registrant of a registrants only reservation.
    BOOST_REQUIRE(good(lu.release(A, 0xa, PrType::WriteExclusive)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::WriteExclusiveRegistrantsOnly)));
    BOOST_TEST((lu.pr.spc2_reserve_release(B) == Spc2Access::GoodNoOp));
    BOOST_TEST(!lu.pr.conflicts(B, *release10));
    BOOST_TEST((lu.pr.spc2_reserve_release(C) == Spc2Access::Conflict));
}

BOOST_AUTO_TEST_CASE(identity_is_the_initiator_port_not_the_login) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::ExclusiveAccess)));
    // A logs out and in again: a new Nexus::id, the same initiator port.
    const Nexus again = nexus(A.initiator_name, "400001370000");
    BOOST_TEST(again.id != A.id);
    BOOST_TEST(lu.pr.is_holder(again));
    BOOST_TEST(lu.can_write(again));
    // iSCSI names and ISIDs compare without regard to case.
    Nexus upper = again;
    upper.initiator_port = "IQN.1994-05.COM.EXAMPLE:A,i,0x400001370000";
    BOOST_TEST(lu.pr.is_holder(upper));
    // Another ISID (session) or another target port is another I_T nexus.
    BOOST_TEST(!lu.pr.is_registered(nexus(A.initiator_name, "400001370001")));
    BOOST_TEST(!lu.pr.is_registered(nexus(A.initiator_name, "400001370000", 2)));
    BOOST_TEST(!lu.can_read(nexus(A.initiator_name, "400001370000", 2)));
    // A nexus whose name could not be reported or saved is not registered.
    Nexus odd = nexus("iqn.odd", "000000000001");
    odd.initiator_port = "bad name, with a comma";
    BOOST_TEST(sense_is(lu.reg(odd, 0x55), SenseKey::IllegalRequest, asc::InsufficientRegistrationResources));
    // A TransportID may carry a UTF-8 iSCSI name (RFC 3722).
    const std::string utf8 = "iqn.2024-01.example:caf\xc3\xa9";
    BOOST_TEST(good(lu.out(nexus("iqn.p", "000000000001"), PrOutAction::Register, spec_i_pt(0x56, {tid(utf8, false)}))));
    BOOST_TEST(lu.pr.is_registered(nexus(utf8, "000000000002")));
}

BOOST_AUTO_TEST_CASE(conflict_table) {
    Lu lu;
    BOOST_REQUIRE(good(lu.reg(A, 0xa)));
    BOOST_REQUIRE(good(lu.reg(B, 0xb)));
    // No reservation: nothing conflicts but SPC-2 RESERVE/RELEASE.
    for (const auto& c : {kRead10, kWrite10, cdb_cmd({op::ModeSelect6, 0x10, 0, 0, 0, 0})})
        BOOST_TEST(!lu.pr.conflicts(C, *c));
    BOOST_REQUIRE(good(lu.reserve(A, 0xa, PrType::ExclusiveAccess)));
    const std::vector<std::shared_ptr<Command>> always = {
        cdb_cmd({op::Inquiry, 0, 0, 0, 36, 0}),
        cdb_cmd({op::ReportLuns, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}),
        cdb_cmd({op::RequestSense, 0, 0, 0, 18, 0}),
        cdb_cmd({op::TestUnitReady, 0, 0, 0, 0, 0}),
        cdb_cmd({op::ReadCapacity10, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
        cdb_cmd({op::ServiceActionIn16, sa::ReadCapacity16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}),
        cdb_cmd({op::PersistentReserveIn, 0, 0, 0, 0, 0, 0, 1, 0, 0}),
        cdb_cmd({op::LogSense, 0, 0, 0, 0, 0, 0, 1, 0, 0}),
        cdb_cmd({op::MaintenanceIn, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}),  // REPORT TARGET PORT GROUPS
        cdb_cmd({op::StartStopUnit, 0, 0, 0, 0x01, 0}),
        cdb_cmd({op::PreventAllowMediumRemoval, 0, 0, 0, 0x00, 0}),
    };
    for (const auto& c : always) BOOST_TEST(!lu.pr.conflicts(C, *c), "opcode " << int(c->opcode()));
    // Read-like under Exclusive Access: conflict; under Write Exclusive: allowed.
    const std::vector<std::shared_ptr<Command>> reads = {
        kRead10,
        cdb_cmd({op::ModeSense6, 0, 0x3f, 0, 0xff, 0}),
        cdb_cmd({op::PreFetch10, 0, 0, 0, 0, 0, 0, 0, 1, 0}),
        cdb_cmd({op::Verify16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}),
        cdb_cmd({op::MaintenanceIn, sa::ReportSupportedOperationCodes, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}),
        cdb_cmd({op::ServiceActionIn16, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}),  // GET LBA STATUS
    };
    const std::vector<std::shared_ptr<Command>> writes = {
        kWrite10,
        cdb_cmd({op::ModeSelect10, 0x10, 0, 0, 0, 0, 0, 0, 8, 0}),
        cdb_cmd({op::SynchronizeCache10, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
        cdb_cmd({op::WriteSame16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}),
        cdb_cmd({op::Unmap, 0, 0, 0, 0, 0, 0, 0, 24, 0}),
        cdb_cmd({op::CompareAndWrite, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}),
        cdb_cmd({op::StartStopUnit, 0, 0, 0, 0x00, 0}),
        cdb_cmd({op::PreventAllowMediumRemoval, 0, 0, 0, 0x01, 0}),
        cdb_cmd({op::ReadLong10, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
        cdb_cmd({0xc0, 0, 0, 0, 0, 0}),  // vendor specific: the safe side
    };
    for (const auto& c : reads) BOOST_TEST(lu.pr.conflicts(B, *c), "opcode " << int(c->opcode()));
    for (const auto& c : writes) BOOST_TEST(lu.pr.conflicts(B, *c), "opcode " << int(c->opcode()));
    for (const auto& c : writes) BOOST_TEST(!lu.pr.conflicts(A, *c), "opcode " << int(c->opcode()));
    BOOST_REQUIRE(good(lu.preempt(A, 0xa, 0xa, PrType::WriteExclusive)));
    for (const auto& c : reads) BOOST_TEST(!lu.pr.conflicts(C, *c), "opcode " << int(c->opcode()));
    for (const auto& c : writes) BOOST_TEST(lu.pr.conflicts(C, *c), "opcode " << int(c->opcode()));
    // PERSISTENT RESERVE OUT from a non-holder: REGISTER always; RELEASE, CLEAR and
    // PREEMPT from registrants only; RESERVE and REGISTER AND MOVE never.
    auto pro = [&](PrOutAction sa) { return prout_cmd(u8(sa), basic(0, 0), u8(PrType::WriteExclusive)); };
    for (const Nexus* n : {&B, &C}) {
        const bool registered = n == &B;
        BOOST_TEST(!lu.pr.conflicts(*n, *pro(PrOutAction::Register)));
        BOOST_TEST(!lu.pr.conflicts(*n, *pro(PrOutAction::RegisterAndIgnoreExistingKey)));
        BOOST_TEST(lu.pr.conflicts(*n, *pro(PrOutAction::Release)) == !registered);
        BOOST_TEST(lu.pr.conflicts(*n, *pro(PrOutAction::Clear)) == !registered);
        BOOST_TEST(lu.pr.conflicts(*n, *pro(PrOutAction::Preempt)) == !registered);
        BOOST_TEST(lu.pr.conflicts(*n, *pro(PrOutAction::PreemptAndAbort)) == !registered);
        BOOST_TEST(lu.pr.conflicts(*n, *pro(PrOutAction::Reserve)));
        BOOST_TEST(lu.pr.conflicts(*n, *pro(PrOutAction::RegisterAndMove)));
    }
    BOOST_TEST(!lu.pr.conflicts(A, *pro(PrOutAction::Reserve)));
}

// Malformed CDBs and parameter data, from registered and unregistered nexuses: every
// answer is GOOD, RESERVATION CONFLICT or CHECK CONDITION with sense, and the state keeps
// its bounds.
BOOST_AUTO_TEST_CASE(malformed_commands_never_crash) {
    Lu lu;
    std::mt19937 rng(777);
    const std::vector<Nexus> who = {A, B, C, nexus("iqn.z", "000000000001", 3)};
    int outcomes[3] = {0, 0, 0};
    for (int i = 0; i < 20000; ++i) {
        const Nexus& n = who[rng() % who.size()];
        Bytes list;
        switch (rng() % 4) {
            case 0: list = basic(rng() % 3, rng() % 3, static_cast<std::uint8_t>(rng())); break;
            case 1: list = spec_i_pt(rng() % 3, {tid("iqn.q" + std::to_string(rng() % 400), rng() % 2)}); break;
            case 2: list = move_list(rng() % 3, rng() % 3, static_cast<std::uint16_t>(rng() % 3), tid(B.initiator_port, true), rng() % 2); break;
            default: list.resize(rng() % 64); break;
        }
        for (int k = 0, m = static_cast<int>(rng() % 3); k < m && !list.empty(); ++k)
            list[rng() % list.size()] = std::byte(rng() & 0xff);
        auto c = prout_cmd(static_cast<std::uint8_t>(rng() % 9), list, static_cast<std::uint8_t>(rng() % 10),
                           static_cast<std::uint8_t>(rng() % 4 == 0));
        std::span<std::byte> cdb(c->cdb);
        if (rng() % 8 == 0) st32(cdb, 5, static_cast<std::uint32_t>(rng()));  // a lying PARAMETER LIST LENGTH
        if (rng() % 8 == 0) c->data_out.resize(rng() % 40);
        const auto r = lu.pr.persistent_reserve_out(n, *c);
        const bool sane = (r.status == Status::Good && !r.sense) ||
                          (r.status == Status::ReservationConflict && !r.sense) ||
                          (r.status == Status::CheckCondition && r.sense.has_value());
        BOOST_REQUIRE(sane);
        ++outcomes[r.status == Status::Good ? 0 : r.status == Status::ReservationConflict ? 1 : 2];
        if (rng() % 16 == 0) {
            auto in = prin_cmd(static_cast<std::uint8_t>(rng() % 6), static_cast<std::uint16_t>(rng()));
            const auto ri = lu.pr.persistent_reserve_in(n, *in);
            BOOST_REQUIRE(ri.data.size() <= ld16(in->cdb_bytes(), 7));
        }
        (void)lu.pr.conflicts(n, *c);
    }
    BOOST_TEST(outcomes[0] > 200);  // the mix reaches every kind of answer
    BOOST_TEST(outcomes[1] > 500);
    BOOST_TEST(outcomes[2] > 500);
    const Bytes fs = lu.in(A, PrInAction::ReadFullStatus);
    BOOST_TEST(ld32(fs, 4) == fs.size() - 8);
    BOOST_TEST(lu.keys().size() <= PersistentReservations::kMaxRegistrations);
    PersistentReservations copy;
    BOOST_TEST(copy.load(lu.pr.save()) == "");  // whatever state it reached can be saved
}

BOOST_AUTO_TEST_SUITE_END()
