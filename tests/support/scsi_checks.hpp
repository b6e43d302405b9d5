// Checks the SCSI-layer tests share: a command ended in CHECK CONDITION with this sense.
#pragma once

#include <boost/test/unit_test.hpp>

#include "target/scsi/command.hpp"
#include "target/scsi/sense.hpp"

namespace iscsilab::testing {

inline void expect_sense(const scsi::Command& c, scsi::SenseKey k, scsi::Asc a) {
    BOOST_TEST(static_cast<int>(c.status) == static_cast<int>(scsi::Status::CheckCondition));
    auto s = scsi::decode_sense(c.sense);
    BOOST_REQUIRE_MESSAGE(s.has_value(), "no sense data with CHECK CONDITION");
    BOOST_TEST(static_cast<int>(s->key) == static_cast<int>(k));
    BOOST_TEST(s->code.asc == a.asc);
    BOOST_TEST(s->code.ascq == a.ascq);
}

}  // namespace iscsilab::testing
