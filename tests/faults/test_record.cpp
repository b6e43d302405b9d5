#define BOOST_TEST_MODULE fault_records
#include <boost/test/unit_test.hpp>

#include "faults/plan.hpp"
#include "faults/record.hpp"

// libsystemc.so wants an sc_main; Boost.Test's main runs the tests.
extern "C" int sc_main(int, char**) { return 0; }

using namespace iscsilab;

BOOST_AUTO_TEST_SUITE(record_suite)

BOOST_AUTO_TEST_CASE(round_trip) {
    faults::Record r;
    r.kind = static_cast<std::uint8_t>(faults::Kind::link_stall);
    r.direction = 1;
    r.initiator = 3;
    r.sequence = 42;
    r.time = Nanos(123456789);
    r.duration = Nanos(2000000000);
    r.text = "link stall to the initiator for 2000.000 ms";
    const Bytes b = faults::encode_record(r);
    BOOST_TEST(b.size() == faults::kRecordHeader + r.text.size());
    BOOST_TEST(static_cast<char>(b[0]) == 'I');
    BOOST_TEST(static_cast<char>(b[3]) == 'R');
    auto d = faults::decode_record(b);
    BOOST_REQUIRE(d.has_value());
    BOOST_TEST(d->kind == r.kind);
    BOOST_TEST(d->direction == 1);
    BOOST_TEST(d->initiator == 3);
    BOOST_TEST(d->sequence == 42u);
    BOOST_TEST(d->time.count() == 123456789);
    BOOST_TEST(d->duration.count() == 2000000000);
    BOOST_TEST(d->text == r.text);
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_a_whole_record) {
    faults::Record r;
    r.text = "x";
    Bytes b = faults::encode_record(r);
    BOOST_TEST(!faults::decode_record(std::span<const std::byte>(b).first(b.size() - 1)).has_value());  // truncated
    Bytes longer = b;
    longer.push_back(std::byte{0});
    BOOST_TEST(!faults::decode_record(longer).has_value());  // trailing bytes
    b[0] = std::byte{'X'};
    BOOST_TEST(!faults::decode_record(b).has_value());       // not our magic
    b[0] = std::byte{'I'};
    b[4] = std::byte{2};
    BOOST_TEST(!faults::decode_record(b).has_value());       // a version we do not know
}

BOOST_AUTO_TEST_CASE(kind_and_function_names) {
    faults::Kind k{};
    BOOST_TEST(faults::kind_from_string("power_loss", k));
    BOOST_TEST((k == faults::Kind::power_loss));
    BOOST_TEST(std::string(faults::to_string(faults::Kind::withhold_data)) == "withhold_data");
    BOOST_TEST(!faults::kind_from_string("meteor", k));
    iscsi::TmfFunction fn{};
    BOOST_TEST(faults::tmf_from_string("target_cold_reset", fn));
    BOOST_TEST(static_cast<int>(fn) == 7);
    BOOST_TEST(!faults::tmf_from_string("clear_aca", fn));
    faults::Plan p;
    BOOST_TEST(!p.may_break_sessions());
    p.faults.push_back(faults::Fault{});  // a link stall
    BOOST_TEST(p.may_break_sessions());
    BOOST_TEST(p.has(faults::Kind::link_stall));
    BOOST_TEST(!p.has(faults::Kind::medium_error));
}

BOOST_AUTO_TEST_SUITE_END()
