#define BOOST_TEST_MODULE task_set
#include <boost/test/unit_test.hpp>

#include <vector>

#include "support/harness.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/scsi/target.hpp"
#include "target/scsi/task_set.hpp"

using namespace iscsilab;
using namespace iscsilab::scsi;

BOOST_AUTO_TEST_SUITE(task_set_suite)

BOOST_AUTO_TEST_CASE(ordered_waits_for_earlier_and_holds_later) {
    TaskSet ts;
    std::vector<std::string> started;
    ts.submit(TaskAttribute::Simple, [&] { started.push_back("s1"); });
    ts.submit(TaskAttribute::Simple, [&] { started.push_back("s2"); });
    ts.submit(TaskAttribute::Ordered, [&] { started.push_back("o1"); });
    ts.submit(TaskAttribute::Simple, [&] { started.push_back("s3"); });
    ts.submit(TaskAttribute::HeadOfQueue, [&] { started.push_back("h1"); });
    BOOST_TEST((started == std::vector<std::string>{"s1", "s2", "h1"}));
    BOOST_TEST(ts.waiting() == 2u);
    ts.finished(TaskAttribute::Simple);
    BOOST_TEST(started.size() == 3u);  // s2 still runs
    ts.finished(TaskAttribute::Simple);
    BOOST_TEST((started.back() == "o1"));
    BOOST_TEST(ts.waiting() == 1u);  // s3 waits for o1
    ts.finished(TaskAttribute::HeadOfQueue);
    BOOST_TEST(ts.waiting() == 1u);
    ts.finished(TaskAttribute::Ordered);
    BOOST_TEST((started.back() == "s3"));
    BOOST_TEST(ts.waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(simple_tasks_run_together) {
    TaskSet ts;
    int running = 0;
    for (int i = 0; i < 10; ++i) ts.submit(TaskAttribute::Simple, [&] { ++running; });
    BOOST_TEST(running == 10);
}

// Through the mid-level and a real handler: an ORDERED WRITE waits for a READ at the
// device, and a SIMPLE READ after it waits for the WRITE.
BOOST_AUTO_TEST_CASE(through_the_mid_level) {
    auto store = std::make_shared<testing::MemoryStore>(1u << 20);
    handlers::VdiskConfig c;
    c.name = "d";
    auto dev = std::make_shared<handlers::Vdisk>(c, store);
    Target t;
    BOOST_REQUIRE(t.add_lun("", 0, dev, false).empty());
    auto nexus = std::make_shared<Nexus>();
    nexus->id = 1;
    auto make = [&](std::initializer_list<int> cdb, TaskAttribute a, Bytes out = {}) {
        auto cmd = std::make_shared<Command>();
        int i = 0;
        for (int b : cdb) cmd->cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        cmd->attr = a;
        cmd->nexus = nexus;
        cmd->data_out = std::move(out);
        return cmd;
    };
    int done = 0;
    t.execute(make({0x00, 0, 0, 0, 0, 0}, TaskAttribute::Simple), [&] { ++done; });  // the power-on UA
    store->hold = true;
    t.execute(make({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, TaskAttribute::Simple), [&] { ++done; });
    t.execute(make({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, TaskAttribute::Ordered, Bytes(512, std::byte{7})), [&] { ++done; });
    t.execute(make({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, TaskAttribute::Simple), [&] { ++done; });
    BOOST_TEST(store->requests == 1);  // only the first READ reached the store
    store->release();                  // READ done -> the ORDERED WRITE starts
    BOOST_TEST(store->requests == 2);
    store->release();                  // WRITE done -> the last READ starts
    BOOST_TEST(store->requests == 3);
    store->hold = false;
    store->release();
    BOOST_TEST(done == 4);
    BOOST_TEST(dev->task_set().waiting() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
