#define BOOST_TEST_MODULE spin_policy
#include <boost/test/unit_test.hpp>

#include "fabric/tcp/spin_policy.hpp"

// The reactor's hybrid polling, driven by the durations a reactor would measure.

using namespace iscsilab;
using hil::SpinPolicy;
using us = std::chrono::microseconds;
using ms = std::chrono::milliseconds;

namespace {

// A QD1-like rhythm: work for `busy`, then a wait of `gap` until the next request, with the
// policy's own window: caught when the request came inside it.
void serve_one(SpinPolicy& p, Nanos busy, Nanos gap) {
    p.busy(busy);
    const Nanos w = p.window();
    if (w > Nanos{0} && gap <= w)
        p.waited(gap, true, Nanos{0});
    else
        p.waited(w, false, gap - w);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(spin_policy)

BOOST_AUTO_TEST_CASE(never_polls_without_a_maximum) {
    SpinPolicy p{Nanos{0}};
    for (int i = 0; i < 100; ++i) serve_one(p, us(5), us(20));
    BOOST_TEST(p.window().count() == 0);
}

BOOST_AUTO_TEST_CASE(short_gaps_grow_the_window_until_it_catches_them) {
    SpinPolicy p{us(200)};
    BOOST_TEST(p.window().count() == 0);
    serve_one(p, us(5), us(30));  // blocked 30 us: a window would have caught it
    BOOST_TEST(p.window() == us(10));
    serve_one(p, us(5), us(30));  // polled 10, blocked 20: grow
    BOOST_TEST(p.window() == us(20));
    serve_one(p, us(5), us(30));
    BOOST_TEST(p.window() == us(40));
    for (int i = 0; i < 50; ++i) serve_one(p, us(5), us(30));  // caught each time: kept
    BOOST_TEST(p.window() == us(40));
}

BOOST_AUTO_TEST_CASE(window_stops_at_the_maximum) {
    SpinPolicy p{us(50)};
    for (int i = 0; i < 20; ++i) serve_one(p, us(5), us(49));
    BOOST_TEST(p.window() == us(50));
}

BOOST_AUTO_TEST_CASE(long_gaps_shrink_the_window_to_nothing) {
    SpinPolicy p{us(200)};
    for (int i = 0; i < 10; ++i) serve_one(p, us(5), us(150));
    BOOST_TEST(p.window() == us(160));
    serve_one(p, us(5), ms(5));  // past the maximum: halved
    BOOST_TEST(p.window() == us(80));
    serve_one(p, us(5), ms(5));
    serve_one(p, us(5), ms(5));
    serve_one(p, us(5), ms(5));
    BOOST_TEST(p.window() == us(10));
    serve_one(p, us(5), ms(5));  // below 10 us: no polling
    BOOST_TEST(p.window().count() == 0);
    serve_one(p, us(5), ms(5));  // and a long blocking wait does not start it again
    BOOST_TEST(p.window().count() == 0);
}

BOOST_AUTO_TEST_CASE(a_loaded_reactor_does_not_poll) {
    SpinPolicy p{us(200)};
    for (int i = 0; i < 10; ++i) serve_one(p, us(5), us(30));
    BOOST_TEST(p.window() > Nanos{0});
    // 30 us of work per 2 us gap over more than 10 ms: busy most of the time.
    for (int i = 0; i < 400; ++i) serve_one(p, us(30), us(2));
    BOOST_TEST(p.loaded());
    BOOST_TEST(p.window().count() == 0);
    // Light again (mostly idle over the next period): polling comes back.
    for (int i = 0; i < 400; ++i) serve_one(p, us(5), us(30));
    BOOST_TEST(!p.loaded());
    BOOST_TEST(p.window() > Nanos{0});
}

BOOST_AUTO_TEST_SUITE_END()
