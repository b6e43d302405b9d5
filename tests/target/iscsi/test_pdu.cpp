#define BOOST_TEST_MODULE pdu
#include <boost/test/unit_test.hpp>

#include "target/iscsi/pdu.hpp"
#include "target/bytes.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;

BOOST_AUTO_TEST_SUITE(pdu_suite)

BOOST_AUTO_TEST_CASE(scsi_command_layout) {
    ScsiCommandPdu c;
    c.immediate = true;
    c.final_bit = true;
    c.read = true;
    c.attr = TaskAttr::Ordered;
    c.lun = 0x0001000000000000ULL;
    c.itt = 0x11223344;
    c.expected_data_transfer_length = 4096;
    c.cmdsn = 7;
    c.expstatsn = 9;
    c.cdb[0] = std::byte{0x28};
    Bhs h = c.encode(0);
    // RFC 3720 §10.3: byte 0 = I|opcode, byte 1 = F|R|W|ATTR, LUN at 8, ITT at 16, EDTL at 20.
    BOOST_TEST(ld8(h, 0) == 0x41);
    BOOST_TEST(ld8(h, 1) == (0x80 | 0x40 | 0x02));
    BOOST_TEST(ld64(h, 8) == c.lun);
    BOOST_TEST(ld32(h, 16) == 0x11223344u);
    BOOST_TEST(ld32(h, 20) == 4096u);
    BOOST_TEST(ld32(h, 24) == 7u);
    BOOST_TEST(ld8(h, 32) == 0x28);
    auto d = ScsiCommandPdu::decode(h);
    BOOST_TEST(d.immediate);
    BOOST_TEST(d.read);
    BOOST_TEST(!d.write);
    BOOST_TEST(static_cast<int>(d.attr) == static_cast<int>(TaskAttr::Ordered));
    BOOST_TEST(d.itt == c.itt);
    BOOST_TEST(d.cmdsn == 7u);
    BOOST_TEST(d.expstatsn == 9u);
}

BOOST_AUTO_TEST_CASE(data_segment_length_and_ahs) {
    NopOutPdu n;
    n.itt = 5;
    Bhs h = n.encode(0x123456);
    BhsView v{h};
    BOOST_TEST(v.data_segment_length() == 0x123456u);
    BOOST_TEST(v.itt() == 5u);
    BOOST_TEST(static_cast<int>(v.opcode_raw()) == 0x00);
    ScsiCommandPdu c;
    Bhs h2 = c.encode(0, 3);
    BOOST_TEST(BhsView{h2}.total_ahs_length() == 3);
}

BOOST_AUTO_TEST_CASE(login_round_trip) {
    LoginRequestPdu r;
    r.transit = true;
    r.csg = 1;
    r.nsg = 3;
    r.isid = {std::byte{0x80}, std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}};
    r.tsih = 0;
    r.itt = 77;
    r.cid = 3;
    r.cmdsn = 100;
    Bhs h = r.encode(10);
    BOOST_TEST(ld8(h, 0) == 0x43);                // Login is always immediate
    BOOST_TEST(ld8(h, 1) == (0x80 | (1 << 2) | 3));
    auto d = LoginRequestPdu::decode(h);
    BOOST_TEST(d.transit);
    BOOST_TEST(d.csg == 1);
    BOOST_TEST(d.nsg == 3);
    BOOST_TEST((d.isid == r.isid));
    BOOST_TEST(d.cid == 3);
    BOOST_TEST(d.cmdsn == 100u);

    LoginResponsePdu resp;
    resp.status_class = 2;
    resp.status_detail = 1;
    resp.tsih = 9;
    resp.sn = {1, 2, 3};
    auto back = LoginResponsePdu::decode(resp.encode(0));
    BOOST_TEST(back.status_class == 2);
    BOOST_TEST(back.status_detail == 1);
    BOOST_TEST(back.tsih == 9);
    BOOST_TEST(back.sn.statsn == 1u);
    BOOST_TEST(back.sn.maxcmdsn == 3u);
}

BOOST_AUTO_TEST_CASE(data_in_flags_and_reserved_statsn) {
    DataInPdu d;
    d.final_bit = true;
    d.status_present = false;
    d.underflow = true;
    d.sn = {42, 1, 2};
    d.datasn = 3;
    d.buffer_offset = 8192;
    Bhs h = d.encode(512);
    BOOST_TEST(ld8(h, 1) == (0x80 | 0x02));
    BOOST_TEST(ld32(h, 24) == 0u);  // RFC 3720 §10.7.4: StatSN reserved without S
    auto back = DataInPdu::decode(h);
    BOOST_TEST(back.datasn == 3u);
    BOOST_TEST(back.buffer_offset == 8192u);
    d.status_present = true;
    BOOST_TEST(DataInPdu::decode(d.encode(512)).sn.statsn == 42u);
}

BOOST_AUTO_TEST_CASE(every_target_pdu_round_trips) {
    ScsiResponsePdu sr;
    sr.status = 2;
    sr.overflow = true;
    sr.residual = 100;
    sr.itt = 3;
    auto srb = ScsiResponsePdu::decode(sr.encode(20));
    BOOST_TEST(srb.overflow);
    BOOST_TEST(srb.residual == 100u);
    BOOST_TEST(srb.status == 2);

    R2TPdu r;
    r.ttt = 9;
    r.r2tsn = 4;
    r.buffer_offset = 65536;
    r.desired_data_transfer_length = 262144;
    auto rb = R2TPdu::decode(r.encode());
    BOOST_TEST(rb.ttt == 9u);
    BOOST_TEST(rb.r2tsn == 4u);
    BOOST_TEST(rb.desired_data_transfer_length == 262144u);

    RejectPdu rj;
    rj.reason = RejectReason::DataDigestError;
    Bhs rjh = rj.encode(48);
    BOOST_TEST(ld32(rjh, 16) == kReservedTag);
    BOOST_TEST(static_cast<int>(RejectPdu::decode(rjh).reason) == 2);

    TaskMgmtRequestPdu tm;
    tm.function = TmfFunction::LogicalUnitReset;
    tm.referenced_task_tag = 12;
    auto tmb = TaskMgmtRequestPdu::decode(tm.encode());
    BOOST_TEST(static_cast<int>(tmb.function) == 5);
    BOOST_TEST(tmb.referenced_task_tag == 12u);

    LogoutResponsePdu lr;
    lr.response = LogoutResponseCode::CidNotFound;
    lr.time2wait = 2;
    auto lrb = LogoutResponsePdu::decode(lr.encode());
    BOOST_TEST(static_cast<int>(lrb.response) == 1);
    BOOST_TEST(lrb.time2wait == 2);

    AsyncMessagePdu am;
    am.event = AsyncEvent::LogoutRequest;
    am.parameter3 = 20;
    auto amb = AsyncMessagePdu::decode(am.encode(0));
    BOOST_TEST(static_cast<int>(amb.event) == 1);
    BOOST_TEST(amb.parameter3 == 20);

    TextResponsePdu tr;
    tr.final_bit = false;
    tr.continue_bit = true;
    tr.ttt = 77;
    auto trb = TextResponsePdu::decode(tr.encode(0));
    BOOST_TEST(!trb.final_bit);
    BOOST_TEST(trb.continue_bit);
    BOOST_TEST(trb.ttt == 77u);
}

BOOST_AUTO_TEST_CASE(serial_number_arithmetic) {
    // RFC 1982 with SERIAL_BITS = 32 (RFC 3720 §3.2.2.1): comparisons wrap.
    BOOST_TEST(sn_lt(1, 2));
    BOOST_TEST(!sn_lt(2, 1));
    BOOST_TEST(sn_lt(0xfffffff0u, 5));
    BOOST_TEST(sn_gt(5, 0xfffffff0u));
    BOOST_TEST(sn_le(7, 7));
    BOOST_TEST(!sn_lt(7, 7));
}

BOOST_AUTO_TEST_CASE(opcode_classes) {
    for (int op : {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10}) BOOST_TEST(is_initiator_opcode(std::uint8_t(op)));
    for (int op : {0x07, 0x1c, 0x1e, 0x20, 0x21, 0x3f}) BOOST_TEST(!is_initiator_opcode(std::uint8_t(op)));
    BOOST_TEST(std::string(to_string(Opcode::R2T)) == "Ready To Transfer");
}

BOOST_AUTO_TEST_SUITE_END()
