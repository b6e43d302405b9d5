#define BOOST_TEST_MODULE params
#include <boost/test/unit_test.hpp>

#include <map>

#include "target/iscsi/params.hpp"

using namespace iscsilab::iscsi;

namespace {
std::map<std::string, std::string> answers(const Negotiator::Outcome& o) {
    std::map<std::string, std::string> m;
    for (auto& kv : o.answers) m[kv.key] = kv.value;
    return m;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(params_suite)

BOOST_AUTO_TEST_CASE(table_covers_rfc3720_section12) {
    for (const char* k : {"HeaderDigest", "DataDigest", "MaxConnections", "SendTargets", "TargetName",
                          "InitiatorName", "TargetAlias", "InitiatorAlias", "TargetAddress",
                          "TargetPortalGroupTag", "InitialR2T", "ImmediateData", "MaxRecvDataSegmentLength",
                          "MaxBurstLength", "FirstBurstLength", "DefaultTime2Wait", "DefaultTime2Retain",
                          "MaxOutstandingR2T", "DataPDUInOrder", "DataSequenceInOrder", "ErrorRecoveryLevel",
                          "SessionType", "OFMarker", "IFMarker", "OFMarkInt", "IFMarkInt"})
        BOOST_TEST(find_key(k) != nullptr, k);
    BOOST_TEST(find_key("X-com.example.Foo") == nullptr);
}

BOOST_AUTO_TEST_CASE(text_parsing) {
    std::string s = std::string("A=1") + '\0' + "B=x=y" + '\0' + '\0';
    std::span<const std::byte> b(reinterpret_cast<const std::byte*>(s.data()), s.size());
    auto p = parse_text(b);
    BOOST_TEST(static_cast<int>(p.error) == 0);
    BOOST_REQUIRE(p.pairs.size() == 2u);
    BOOST_TEST(p.pairs[1].value == "x=y");
    std::string bad = std::string("NoEquals") + '\0';
    BOOST_TEST(static_cast<int>(parse_text(std::span<const std::byte>(reinterpret_cast<const std::byte*>(bad.data()), bad.size())).error) ==
               static_cast<int>(TextError::missing_equals));
    std::string badkey = std::string("Bad Key=1") + '\0';
    BOOST_TEST(static_cast<int>(parse_text(std::span<const std::byte>(reinterpret_cast<const std::byte*>(badkey.data()), badkey.size())).error) ==
               static_cast<int>(TextError::bad_key_name));
}

BOOST_AUTO_TEST_CASE(result_functions) {
    TargetParams ours;  // iSCSI-SCST defaults: InitialR2T=No, ImmediateData=Yes, 1 MiB bursts
    Negotiator n(ours);
    auto out = n.negotiate({{"InitialR2T", "Yes"},          // OR: Yes
                            {"ImmediateData", "No"},        // AND: No
                            {"MaxBurstLength", "262144"},   // min
                            {"FirstBurstLength", "999999"}, // min, and <= MaxBurstLength
                            {"DefaultTime2Wait", "0"},      // max with ours (2)
                            {"MaxOutstandingR2T", "100"},   // min with ours (32)
                            {"ErrorRecoveryLevel", "2"},    // min with ours (0)
                            {"MaxConnections", "8"},        // min with 1
                            {"DataPDUInOrder", "No"},       // OR with our Yes
                            {"OFMarker", "Yes"},            // AND with our No
                            {"HeaderDigest", "CRC32C,None"}},
                           false);
    BOOST_TEST(!out.failure.has_value());
    auto a = answers(out);
    BOOST_TEST(a["InitialR2T"] == "Yes");
    BOOST_TEST(a["ImmediateData"] == "No");
    BOOST_TEST(a["MaxBurstLength"] == "262144");
    BOOST_TEST(a["FirstBurstLength"] == "65536");
    BOOST_TEST(a["DefaultTime2Wait"] == "2");
    BOOST_TEST(a["MaxOutstandingR2T"] == "32");
    BOOST_TEST(a["ErrorRecoveryLevel"] == "0");
    BOOST_TEST(a["MaxConnections"] == "1");
    BOOST_TEST(a["DataPDUInOrder"] == "Yes");
    BOOST_TEST(a["OFMarker"] == "No");
    BOOST_TEST(a["HeaderDigest"] == "None");  // our list holds only None by default
    const auto& r = n.result();
    BOOST_TEST(r.initial_r2t);
    BOOST_TEST(!r.immediate_data);
    BOOST_TEST(r.max_burst_length == 262144u);
    BOOST_TEST(r.first_burst_length == 65536u);
    BOOST_TEST(!r.header_digest);
}

BOOST_AUTO_TEST_CASE(first_burst_never_exceeds_max_burst) {
    TargetParams ours;
    Negotiator n(ours);
    n.negotiate({{"MaxBurstLength", "16384"}, {"FirstBurstLength", "65536"}}, false);
    BOOST_TEST(n.result().first_burst_length <= n.result().max_burst_length);
    BOOST_TEST(n.result().first_burst_length == 16384u);
}

BOOST_AUTO_TEST_CASE(digest_lists) {
    TargetParams ours;
    ours.header_digest = {"CRC32C", "None"};
    ours.data_digest = {"CRC32C"};
    Negotiator n(ours);
    auto a = answers(n.negotiate({{"HeaderDigest", "None,CRC32C"}, {"DataDigest", "None"}}, false));
    BOOST_TEST(a["HeaderDigest"] == "None");  // the initiator's first choice we accept
    BOOST_TEST(a["DataDigest"] == "Reject");  // nothing in common
    Negotiator m(ours);
    m.negotiate({{"HeaderDigest", "CRC32C"}}, false);
    BOOST_TEST(m.result().header_digest);
}

BOOST_AUTO_TEST_CASE(unknown_invalid_and_irrelevant) {
    TargetParams ours;
    Negotiator n(ours);
    auto a = answers(n.negotiate({{"X-com.example.Frobnicate", "1"},
                                  {"Wibble", "2"},
                                  {"MaxBurstLength", "100"},   // below 512
                                  {"InitialR2T", "Maybe"},
                                  {"IFMarkInt", "2048~8192"},
                                  {"TargetAlias", "sneaky"}},  // only targets send it
                                 false));
    BOOST_TEST(a["X-com.example.Frobnicate"] == "NotUnderstood");
    BOOST_TEST(a["Wibble"] == "NotUnderstood");
    BOOST_TEST(a["MaxBurstLength"] == "Reject");
    BOOST_TEST(a["InitialR2T"] == "Reject");
    BOOST_TEST(a["IFMarkInt"] == "Irrelevant");
    BOOST_TEST(a["TargetAlias"] == "Reject");

    Negotiator d(ours);
    auto da = answers(d.negotiate({{"SessionType", "Discovery"}, {"MaxBurstLength", "4096"}, {"InitialR2T", "No"}}, false));
    BOOST_TEST(da["MaxBurstLength"] == "Irrelevant");  // not negotiated in discovery
    BOOST_TEST(da["InitialR2T"] == "Irrelevant");
}

BOOST_AUTO_TEST_CASE(declarative_max_recv_data_segment_length) {
    TargetParams ours;
    ours.max_xmit_data_segment_length = 65536;
    Negotiator n(ours);
    auto out = n.negotiate({{"MaxRecvDataSegmentLength", "262144"}}, false);
    BOOST_TEST(out.answers.empty());  // declarative: nothing to answer
    BOOST_TEST(n.result().max_xmit_data_segment_length == 65536u);  // capped by ours
    auto offers = n.closing_offers();
    bool declared = false;
    for (auto& kv : offers)
        if (kv.key == "MaxRecvDataSegmentLength" && kv.value == std::to_string(ours.max_recv_data_segment_length)) declared = true;
    BOOST_TEST(declared);
}

BOOST_AUTO_TEST_CASE(errors_fail_the_login) {
    TargetParams ours;
    Negotiator n(ours);
    auto out = n.negotiate({{"MaxBurstLength", "4096"}, {"MaxBurstLength", "8192"}}, false);
    BOOST_REQUIRE(out.failure.has_value());
    BOOST_TEST(*out.failure == 0x0200);  // RFC 3720 §5.3: a key sent twice

    Negotiator same(ours);
    same.negotiate({{"SessionType", "Discovery"}}, false);
    BOOST_TEST(!same.negotiate({{"SessionType", "Discovery"}}, false).failure.has_value());  // restated
    BOOST_TEST(same.negotiate({{"SessionType", "Normal"}}, false).failure.has_value());      // changed

    Negotiator m(ours);
    auto o2 = m.negotiate({{"SessionType", "Sideways"}}, false);
    BOOST_REQUIRE(o2.failure.has_value());
    BOOST_TEST(*o2.failure == 0x0209);

    Negotiator s(ours);
    auto o3 = s.negotiate({{"CHAP_N", "x"}}, false);
    BOOST_REQUIRE(o3.failure.has_value());
    BOOST_TEST(*o3.failure == 0x0200);
}

BOOST_AUTO_TEST_CASE(full_feature_phase_keys) {
    TargetParams ours;
    Negotiator n(ours);
    auto a = answers(n.negotiate({{"InitialR2T", "No"}, {"MaxRecvDataSegmentLength", "8192"}}, true));
    BOOST_TEST(a["InitialR2T"] == "Reject");  // login-only key in a Text Request
    BOOST_TEST(!a.count("MaxRecvDataSegmentLength"));
}

BOOST_AUTO_TEST_CASE(offers_take_answers) {
    TargetParams ours;
    ours.max_burst_length = 65536;  // below the RFC default: we must offer it
    Negotiator n(ours);
    n.negotiate({{"InitiatorName", "iqn.x"}}, false);
    auto offers = n.closing_offers();
    bool offered = false;
    for (auto& kv : offers) offered |= kv.key == "MaxBurstLength" && kv.value == "65536";
    BOOST_TEST(offered);
    n.negotiate({{"MaxBurstLength", "65536"}}, false);  // the initiator's answer
    BOOST_TEST(n.result().max_burst_length == 65536u);
}

// RFC 3720 §12.14: an initiator that lowers MaxBurstLength below 65536 and is silent
// about FirstBurstLength gets a FirstBurstLength offer no larger (a swarm finding).
BOOST_AUTO_TEST_CASE(first_burst_offered_down_to_a_lowered_max_burst) {
    TargetParams ours;
    Negotiator n(ours);
    auto a = answers(n.negotiate({{"InitiatorName", "iqn.x"}, {"MaxBurstLength", "8192"}}, false));
    BOOST_TEST(a["MaxBurstLength"] == "8192");
    std::string first;
    for (auto& kv : n.closing_offers())
        if (kv.key == "FirstBurstLength") first = kv.value;
    BOOST_TEST(first == "8192");
    BOOST_TEST(n.result().first_burst_length == 8192u);

    Negotiator quiet(ours);   // MaxBurstLength at least 65536: the default stands, no offer
    quiet.negotiate({{"InitiatorName", "iqn.x"}, {"MaxBurstLength", "262144"}}, false);
    for (auto& kv : quiet.closing_offers()) BOOST_TEST(kv.key != "FirstBurstLength");
}

BOOST_AUTO_TEST_CASE(target_params_set_and_get) {
    TargetParams p;
    BOOST_TEST(p.set("InitialR2T", "Yes").empty());
    BOOST_TEST(*p.get("InitialR2T") == "Yes");
    BOOST_TEST(p.set("QueuedCommands", "64").empty());
    BOOST_TEST(p.queued_commands == 64u);
    BOOST_TEST(p.set("HeaderDigest", "CRC32C,None").empty());
    BOOST_TEST(*p.get("HeaderDigest") == "CRC32C,None");
    BOOST_TEST(!p.set("MaxBurstLength", "12").empty());
    BOOST_TEST(p.max_burst_length == 1048576u);  // unchanged on error
    BOOST_TEST(!p.set("InitialR2T", "yes please").empty());
    BOOST_TEST(!p.set("HeaderDigest", "MD5").empty());
    BOOST_TEST(!p.set("NoSuchThing", "1").empty());
    BOOST_TEST(TargetParams::attribute_names().size() == 12u);
}

BOOST_AUTO_TEST_SUITE_END()
