// The token bucket that paces Text Requests (target/iscsi/pace.hpp).
#define BOOST_TEST_MODULE pace
#include <boost/test/unit_test.hpp>

#include "target/iscsi/pace.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;
using std::chrono::milliseconds;

BOOST_AUTO_TEST_SUITE(pace)

BOOST_AUTO_TEST_CASE(a_burst_goes_without_a_wait) {
    Pace p(100, 10, 1000);
    for (int i = 0; i < 10; ++i) BOOST_TEST(p.take(milliseconds(0)).count() == 0, "take " << i);
    BOOST_TEST(p.take(milliseconds(0)).count() > 0);
}

BOOST_AUTO_TEST_CASE(the_wait_pays_the_whole_debt) {
    Pace p(100, 1, 1000);                         // 10 ms a token
    BOOST_TEST(p.take(milliseconds(0)).count() == 0);
    BOOST_TEST(p.take(milliseconds(0)) == milliseconds(10));
    BOOST_TEST(p.take(milliseconds(0)) == milliseconds(20));  // two owed
    BOOST_TEST(p.take(milliseconds(0)) == milliseconds(30));
    // 30 ms later the debt is paid and the bucket is empty: the next one waits 10 ms.
    BOOST_TEST(p.take(milliseconds(30)) == milliseconds(10));
}

BOOST_AUTO_TEST_CASE(tokens_come_back_at_the_rate_up_to_the_burst) {
    Pace p(1000, 50, 1000);
    for (int i = 0; i < 50; ++i) p.take(milliseconds(0));
    BOOST_TEST(p.tokens(milliseconds(0)) == 0);
    BOOST_TEST(p.tokens(milliseconds(20)) == 20);
    BOOST_TEST(p.tokens(milliseconds(10'000)) == 50);  // no more than the burst
}

BOOST_AUTO_TEST_CASE(a_rate_over_a_long_run_is_the_refill) {
    // A sender that takes whenever it is let: over 10 s it gets burst + 10 s of refill.
    Pace p(256, 256, 1024);
    Nanos now{0};
    int taken = 0;
    while (now < std::chrono::seconds(10)) {
        ++taken;
        now += p.take(now) + std::chrono::microseconds(1);
    }
    BOOST_TEST(taken >= 256 * 10);
    BOOST_TEST(taken <= 256 * 11 + 1);
}

BOOST_AUTO_TEST_CASE(the_debt_is_bounded) {
    Pace p(100, 1, 5);
    for (int i = 0; i < 1000; ++i) p.take(milliseconds(0));
    BOOST_TEST(p.take(milliseconds(0)) == milliseconds(50));
    BOOST_TEST(p.tokens(milliseconds(0)) == -5);
}

BOOST_AUTO_TEST_CASE(time_that_goes_back_adds_nothing) {
    Pace p(100, 2, 10);
    p.take(milliseconds(100));
    p.take(milliseconds(100));
    BOOST_TEST(p.take(milliseconds(50)) == milliseconds(10));
}

BOOST_AUTO_TEST_SUITE_END()
