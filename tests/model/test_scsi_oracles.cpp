// The oracles of the SCSI scenarios (scenarios/scsi): persistent reservations
// (model/pr_oracle.hpp) and the blocks several initiators race COMPARE AND WRITE on
// (model/shared_blocks.hpp). Each check is shown to pass on a history the standards
// allow and to fail on one they forbid: a wrong expectation must be caught.
#define BOOST_TEST_MODULE scsi_oracles
#include <boost/test/unit_test.hpp>

#include "model/pr_oracle.hpp"
#include "model/shared_blocks.hpp"

// libsystemc.so wants an sc_main; Boost.Test's main runs the tests.
extern "C" int sc_main(int, char**) { return 0; }

using namespace iscsilab;
using namespace iscsilab::model;
using namespace std::chrono_literals;

namespace {
Nanos at(int us) { return Nanos(std::chrono::microseconds(us)); }
bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
const std::string A = "iqn.a,i,0x000000000001", B = "iqn.b,i,0x000000000002", C = "iqn.c,i,0x000000000003";
using Access = PrOracle::Access;
using Kind = SharedBlocks::Kind;
using Outcome = SharedBlocks::Outcome;
}  // namespace

BOOST_AUTO_TEST_SUITE(pr_oracle_suite)

BOOST_AUTO_TEST_CASE(register_reserve_preempt_and_abort) {
    PrOracle pr;
    // Two registrations under way at once commute: both predicted GOOD, state known.
    const auto ra = pr.sent(A, {PrAction::register_key, 0, 0xa, PrType::write_exclusive}, at(10));
    const auto rb = pr.sent(B, {PrAction::register_key, 0, 0xb, PrType::write_exclusive}, at(11));
    BOOST_TEST(pr.predicted(ra).value() == kStatusGood);
    BOOST_TEST(pr.predicted(rb).value() == kStatusGood);
    BOOST_TEST(pr.answered(rb, kStatusGood, at(20)).empty());
    BOOST_TEST(pr.answered(ra, kStatusGood, at(21)).empty());
    BOOST_TEST(pr.settled());
    BOOST_TEST(pr.key_of(A) == 0xau);
    BOOST_TEST(pr.key_of(B) == 0xbu);

    const auto res = pr.sent(A, {PrAction::reserve, 0xa, 0, PrType::write_exclusive_registrants_only}, at(30));
    BOOST_TEST(pr.predicted(res).value() == kStatusGood);
    BOOST_TEST(pr.answered(res, kStatusGood, at(40)).empty());
    // Registrants only: the other registrant still writes; an unregistered nexus does not.
    BOOST_TEST(!PrOracle::excluded(pr.state(), B, Access::write));
    BOOST_TEST(PrOracle::excluded(pr.state(), C, Access::write));
    BOOST_TEST(!PrOracle::excluded(pr.state(), C, Access::read));

    const auto pa = pr.sent(A, {PrAction::preempt_and_abort, 0xa, 0xb, PrType::write_exclusive_registrants_only}, at(100));
    BOOST_TEST(pr.predicted(pa).value() == kStatusGood);
    // A write of B sent before the preempt and answered while it is under way: either.
    BOOST_TEST(pr.may_conflict(B, Access::write, at(90), at(110)));
    BOOST_TEST(pr.may_pass(B, Access::write, at(90), at(110)));
    BOOST_TEST(pr.answered(pa, kStatusGood, at(120)).empty());
    BOOST_TEST(pr.key_of(B) == 0u);
    BOOST_TEST(pr.state().res->holder == A);
    // A write of B sent after the answer must conflict; its reads still run.
    BOOST_TEST(!pr.may_pass(B, Access::write, at(130), at(140)));
    BOOST_TEST(pr.may_pass(B, Access::read, at(130), at(140)));
    // And one sent and answered before any of it may not conflict.
    BOOST_TEST(!pr.may_conflict(B, Access::write, at(50), at(60)));
    BOOST_TEST(!pr.may_conflict(A, Access::write, at(130), at(140)));
    BOOST_TEST(!pr.may_conflict(B, Access::none, at(130), at(140)));
}

BOOST_AUTO_TEST_CASE(a_status_other_than_spc4_says_is_an_error) {
    PrOracle pr;
    BOOST_TEST(pr.answered(pr.sent(A, {PrAction::register_key, 0, 0xa, PrType::write_exclusive}, at(1)), kStatusGood, at(2)).empty());
    BOOST_TEST(pr.answered(pr.sent(A, {PrAction::reserve, 0xa, 0, PrType::exclusive_access}, at(3)), kStatusGood, at(4)).empty());
    // An unregistered nexus cannot reserve (SPC-4 §5.13.9): a target that says GOOD is wrong.
    const auto bad = pr.sent(B, {PrAction::reserve, 0, 0, PrType::exclusive_access}, at(5));
    BOOST_TEST(pr.predicted(bad).value() == kStatusReservationConflict);
    const std::string err = pr.answered(bad, kStatusGood, at(6));
    BOOST_TEST(has(err, "ended GOOD; SPC-4 §5.13 says RESERVATION CONFLICT"), err);
    // After a GOOD the oracle did not expect, what the target did is unknown: no more
    // predictions (the run has failed already).
    BOOST_TEST(!pr.settled());
    BOOST_TEST(!pr.predicted(pr.sent(A, {PrAction::clear, 0xa, 0, PrType::write_exclusive}, at(7))).has_value());
    // REGISTER with a wrong RESERVATION KEY conflicts; a target that accepts it is wrong.
    PrOracle r;
    r.answered(r.sent(A, {PrAction::register_key, 0, 0xa, PrType::write_exclusive}, at(1)), kStatusGood, at(2));
    const auto wrong = r.sent(A, {PrAction::register_key, 0x99, 0xc, PrType::write_exclusive}, at(7));
    BOOST_TEST(r.predicted(wrong).value() == kStatusReservationConflict);
    BOOST_TEST(!r.answered(wrong, kStatusGood, at(8)).empty());
    // A release by the holder naming another type: CHECK CONDITION.
    PrOracle q;
    q.answered(q.sent(A, {PrAction::register_key, 0, 0xa, PrType::write_exclusive}, at(1)), kStatusGood, at(2));
    q.answered(q.sent(A, {PrAction::reserve, 0xa, 0, PrType::write_exclusive}, at(3)), kStatusGood, at(4));
    BOOST_TEST(q.predicted(q.sent(A, {PrAction::release, 0xa, 0, PrType::exclusive_access}, at(5))).value() == kStatusCheckCondition);
}

BOOST_AUTO_TEST_CASE(exclusive_access_excludes_reads_and_a_lost_answer_unknows_everything) {
    PrOracle pr;
    pr.answered(pr.sent(A, {PrAction::register_key, 0, 0xa, PrType::write_exclusive}, at(1)), kStatusGood, at(2));
    pr.answered(pr.sent(A, {PrAction::reserve, 0xa, 0, PrType::exclusive_access}, at(3)), kStatusGood, at(4));
    BOOST_TEST(!pr.may_pass(B, Access::read, at(5), at(6)));
    BOOST_TEST(pr.may_pass(A, Access::read, at(5), at(6)));
    // A RESERVATION CONFLICT for the holder: nothing explains it.
    BOOST_TEST(!pr.may_conflict(A, Access::write, at(5), at(6)));
    // CLEAR whose answer never comes: from then on anything goes.
    pr.answered(pr.sent(A, {PrAction::clear, 0xa, 0, PrType::write_exclusive}, at(10)), std::nullopt, at(20));
    BOOST_TEST(!pr.settled());
    BOOST_TEST(pr.may_pass(B, Access::read, at(30), at(31)));
    BOOST_TEST(pr.may_conflict(A, Access::write, at(30), at(31)));
    // But the past stays as it was.
    BOOST_TEST(!pr.may_pass(B, Access::read, at(5), at(6)));
}

BOOST_AUTO_TEST_CASE(preempt_of_the_holder_moves_the_reservation) {
    PrOracle pr;
    pr.answered(pr.sent(A, {PrAction::register_key, 0, 0xa, PrType::write_exclusive}, at(1)), kStatusGood, at(2));
    pr.answered(pr.sent(B, {PrAction::register_key, 0, 0xb, PrType::write_exclusive}, at(1)), kStatusGood, at(2));
    pr.answered(pr.sent(B, {PrAction::reserve, 0xb, 0, PrType::write_exclusive}, at(3)), kStatusGood, at(4));
    BOOST_TEST(PrOracle::excluded(pr.state(), A, Access::write));
    const auto p = pr.sent(A, {PrAction::preempt, 0xa, 0xb, PrType::exclusive_access}, at(5));
    BOOST_TEST(pr.predicted(p).value() == kStatusGood);
    pr.answered(p, kStatusGood, at(6));
    BOOST_TEST(pr.state().res->holder == A);
    BOOST_TEST((pr.state().res->type == PrType::exclusive_access));
    BOOST_TEST(PrOracle::excluded(pr.state(), B, Access::read));
    // Preempting a key nobody holds conflicts (SPC-4 §5.13.11.2).
    BOOST_TEST(pr.predicted(pr.sent(A, {PrAction::preempt, 0xa, 0x77, PrType::exclusive_access}, at(7))).value() ==
               kStatusReservationConflict);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shared_blocks_suite)

BOOST_AUTO_TEST_CASE(one_racer_wins_the_other_miscompares) {
    SharedBlocks sb;
    const auto v1 = sb.next_version(), v2 = sb.next_version();
    // Both saw zeros (version 0) at 0 us and race.
    const auto c1 = sb.sent(A, Kind::caw, 7, 0, v1, at(0), at(10));
    const auto c2 = sb.sent(B, Kind::caw, 7, 0, v2, at(0), at(11));
    // The loser's MISCOMPARE may arrive first: the winner is still under way, a cause.
    BOOST_TEST(sb.answered(c2, Outcome::failed, at(20), true).empty());
    BOOST_TEST(sb.answered(c1, Outcome::done, at(21)).empty());
    BOOST_TEST(sb.races_lost() == 1u);
    // The winner's version is what a read sent afterwards finds; zeros would be lost data.
    BOOST_TEST(sb.check_read(A, 7, v1, at(30), at(31)).empty());
    const std::string stale = sb.check_read(A, 7, 0, at(30), at(31));
    BOOST_TEST(has(stale, "had replaced before the read was sent"), stale);
    // The loser's version was never written.
    const std::string ghost = sb.check_read(B, 7, v2, at(30), at(31));
    BOOST_TEST(has(ghost, "which was not performed"), ghost);
}

BOOST_AUTO_TEST_CASE(two_winners_of_one_version_break_atomicity) {
    SharedBlocks sb;
    const auto v1 = sb.next_version(), v2 = sb.next_version();
    const auto c1 = sb.sent(A, Kind::caw, 3, 0, v1, at(0), at(10));
    const auto c2 = sb.sent(B, Kind::caw, 3, 0, v2, at(0), at(12));
    BOOST_TEST(sb.answered(c1, Outcome::done, at(20)).empty());
    const std::string err = sb.answered(c2, Outcome::done, at(22));
    BOOST_TEST(has(err, "atomicity broken at LBA 3"), err);
    BOOST_TEST(has(err, "both compared version 0"), err);
}

BOOST_AUTO_TEST_CASE(two_losers_of_one_version_is_a_miscompare_without_cause) {
    SharedBlocks sb;
    const auto c1 = sb.sent(A, Kind::caw, 3, 0, sb.next_version(), at(0), at(10));
    const auto c2 = sb.sent(B, Kind::caw, 3, 0, sb.next_version(), at(0), at(12));
    BOOST_TEST(sb.answered(c1, Outcome::failed, at(20), true).empty());   // c2 under way: a cause
    const std::string err = sb.answered(c2, Outcome::failed, at(22), true);
    BOOST_TEST(has(err, "ended in MISCOMPARE, yet the block held version 0"), err);
}

BOOST_AUTO_TEST_CASE(a_miscompare_alone_needs_a_cause) {
    SharedBlocks sb;
    const auto v1 = sb.next_version();
    BOOST_TEST(sb.answered(sb.sent(A, Kind::write, 5, 0, v1, at(0), at(0)), Outcome::done, at(10)).empty());
    // B read v1 (sent at 20 us), then compares it: nothing else touches the block.
    BOOST_TEST(sb.check_read(B, 5, v1, at(20), at(25)).empty());
    const auto c = sb.sent(B, Kind::caw, 5, v1, sb.next_version(), at(20), at(30));
    BOOST_TEST(!sb.answered(c, Outcome::failed, at(40), true).empty());
    // The same with a WRITE of A sent meanwhile: a cause.
    SharedBlocks sb2;
    const auto w1 = sb2.next_version();
    sb2.answered(sb2.sent(A, Kind::write, 5, 0, w1, at(0), at(0)), Outcome::done, at(10));
    const auto c2 = sb2.sent(B, Kind::caw, 5, w1, sb2.next_version(), at(20), at(30));
    const auto w2 = sb2.sent(A, Kind::write, 5, 0, sb2.next_version(), at(0), at(32));
    BOOST_TEST(sb2.answered(c2, Outcome::failed, at(40), true).empty());
    BOOST_TEST(sb2.answered(w2, Outcome::done, at(41)).empty());
    // But a WRITE answered before B saw v1 is no cause.
    SharedBlocks sb3;
    const auto x1 = sb3.next_version(), x2 = sb3.next_version();
    sb3.answered(sb3.sent(A, Kind::write, 5, 0, x1, at(0), at(0)), Outcome::done, at(5));
    sb3.answered(sb3.sent(A, Kind::write, 5, 0, x2, at(0), at(6)), Outcome::done, at(9));
    const auto c3 = sb3.sent(B, Kind::caw, 5, x2, sb3.next_version(), at(20), at(30));
    BOOST_TEST(!sb3.answered(c3, Outcome::failed, at(40), true).empty());
}

BOOST_AUTO_TEST_CASE(a_success_against_a_replaced_version_is_wrong) {
    SharedBlocks sb;
    const auto v1 = sb.next_version(), v2 = sb.next_version();
    BOOST_TEST(sb.answered(sb.sent(A, Kind::caw, 9, 0, v1, at(0), at(0)), Outcome::done, at(10)).empty());
    // B compares zeros long after A's COMPARE AND WRITE replaced them: it must miscompare.
    const auto late = sb.sent(B, Kind::caw, 9, 0, v2, at(0), at(20));
    const std::string err = sb.answered(late, Outcome::done, at(30));
    BOOST_TEST(!err.empty(), err);
}

BOOST_AUTO_TEST_CASE(an_unmap_may_bring_zeros_back) {
    SharedBlocks sb;
    const auto v1 = sb.next_version();
    sb.answered(sb.sent(A, Kind::write, 2, 0, v1, at(0), at(0)), Outcome::done, at(10));
    const auto u = sb.sent(B, Kind::unmap, 2, 0, 0, at(0), at(25));   // under way while the read runs
    BOOST_TEST(sb.check_read(A, 2, 0, at(20), at(30)).empty());
    BOOST_TEST(sb.check_read(A, 2, v1, at(20), at(30)).empty());
    sb.answered(u, Outcome::done, at(28));
    // After the UNMAP was answered, v1 is gone; zeros are what is there.
    BOOST_TEST(!sb.check_read(A, 2, v1, at(40), at(41)).empty());
    BOOST_TEST(sb.check_read(A, 2, 0, at(40), at(41)).empty());
    // A version nobody wrote is always wrong.
    BOOST_TEST(has(sb.check_read(A, 2, 999, at(40), at(41)), "no write of this run"));
}

BOOST_AUTO_TEST_CASE(an_unknown_outcome_may_or_may_not_have_run) {
    SharedBlocks sb;
    const auto v1 = sb.next_version(), v2 = sb.next_version();
    sb.answered(sb.sent(A, Kind::write, 4, 0, v1, at(0), at(0)), Outcome::done, at(10));
    const auto w = sb.sent(A, Kind::write, 4, 0, v2, at(0), at(20));
    sb.answered(w, Outcome::unknown, at(30));
    BOOST_TEST(sb.check_read(B, 4, v1, at(40), at(41)).empty());
    BOOST_TEST(sb.check_read(B, 4, v2, at(40), at(41)).empty());
    // A COMPARE AND WRITE of v1 by B may miscompare: the lost write may have run.
    const auto c = sb.sent(B, Kind::caw, 4, v1, sb.next_version(), at(40), at(50));
    BOOST_TEST(sb.answered(c, Outcome::failed, at(60), true).empty());
}

BOOST_AUTO_TEST_SUITE_END()
