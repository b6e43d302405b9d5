#define BOOST_TEST_MODULE checker
#include <boost/test/unit_test.hpp>

#include <map>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reports/checker/checker.hpp"
#include "reports/checker/rules.hpp"
#include "reports/checker/wire.hpp"

// The wire checker judged on hand-made PDU sequences. Each rule gets a sequence that
// keeps it (exercised, nothing violated) and one that differs as little as possible and
// breaks it. The PDUs are built here, byte by byte, after RFC 3720 §10: nothing of the
// target's codec (target/) is used, so a field both sides got wrong would still show.

namespace ck = iscsilab::checker;
using ck::Rule;

namespace {

using Bytes = std::vector<std::byte>;
using Keys = std::vector<std::pair<std::string, std::string>>;

constexpr std::uint32_t NO_TAG = 0xffffffffu;  // RFC 3720 §10.2.1.8

// Flag bits of byte 1.
constexpr std::uint8_t F = 0x80;   // final
constexpr std::uint8_t C = 0x40;   // continue (Text)
constexpr std::uint8_t R = 0x40;   // read (SCSI Command)
constexpr std::uint8_t W = 0x20;   // write (SCSI Command)
constexpr std::uint8_t A = 0x40;   // acknowledge (Data-In)
constexpr std::uint8_t O = 0x04;   // residual overflow
constexpr std::uint8_t U = 0x02;   // residual underflow
constexpr std::uint8_t S = 0x01;   // status (Data-In)

// CRC32C (Castagnoli), bit by bit: polynomial 0x82F63B78 (reflected), init ~0, final ~.
std::uint32_t crc32c_ref(const std::byte* p, std::size_t n) {
    std::uint32_t c = ~0u;
    for (std::size_t i = 0; i < n; ++i) {
        c ^= std::to_integer<std::uint32_t>(p[i]);
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

void put_le32(Bytes& out, std::uint32_t v) {
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<std::byte>((v >> (8 * k)) & 0xff));
}

Bytes filled(std::size_t n, std::uint8_t v) { return Bytes(n, std::byte{v}); }

Bytes text_bytes(std::string_view s) {
    Bytes out;
    for (char ch : s) out.push_back(static_cast<std::byte>(static_cast<unsigned char>(ch)));
    return out;
}

// "Key=Value\0" pairs (RFC 3720 §5.1).
Bytes keys_data(const Keys& keys) {
    Bytes out;
    for (const auto& [k, v] : keys) {
        const Bytes kv = text_bytes(k + "=" + v);
        out.insert(out.end(), kv.begin(), kv.end());
        out.push_back(std::byte{0});
    }
    return out;
}

// One PDU: a 48-byte BHS with big-endian setters, and a data segment.
struct Pkt {
    std::array<std::byte, 48> bhs{};
    Bytes ahs;                            // Additional Header Segments, whole words (RFC 3720 §10.2.2)
    Bytes data;
    std::uint8_t pad = 0;                 // the value of the pad bytes
    std::optional<std::uint32_t> dsl;     // DataSegmentLength, if not data.size()

    Pkt& u8(std::size_t at, std::uint8_t v) {
        bhs[at] = std::byte{v};
        return *this;
    }
    Pkt& be16(std::size_t at, std::uint16_t v) { return u8(at, v >> 8).u8(at + 1, v & 0xff); }
    Pkt& be32(std::size_t at, std::uint32_t v) {
        return u8(at, v >> 24).u8(at + 1, (v >> 16) & 0xff).u8(at + 2, (v >> 8) & 0xff).u8(at + 3, v & 0xff);
    }
    Pkt& flags(std::uint8_t f) { return u8(1, f); }
    std::uint8_t get8(std::size_t at) const { return std::to_integer<std::uint8_t>(bhs[at]); }

    // The bytes on the wire: BHS [header digest] data padding [data digest].
    Bytes wire(bool hd = false, bool dd = false, bool bad_hd = false, bool bad_dd = false) const {
        auto h = bhs;
        const std::uint32_t n = dsl.value_or(static_cast<std::uint32_t>(data.size()));
        h[5] = static_cast<std::byte>((n >> 16) & 0xff);
        h[6] = static_cast<std::byte>((n >> 8) & 0xff);
        h[7] = static_cast<std::byte>(n & 0xff);
        if (!ahs.empty()) h[4] = static_cast<std::byte>(ahs.size() / 4);  // TotalAHSLength
        Bytes out(h.begin(), h.end());
        out.insert(out.end(), ahs.begin(), ahs.end());
        if (hd) put_le32(out, crc32c_ref(out.data(), out.size()) ^ (bad_hd ? 1u : 0u));
        const std::size_t start = out.size();
        out.insert(out.end(), data.begin(), data.end());
        while ((out.size() - start) % 4) out.push_back(std::byte{pad});
        if (dd && !data.empty()) put_le32(out, crc32c_ref(out.data() + start, out.size() - start) ^ (bad_dd ? 1u : 0u));
        return out;
    }
};

// The 48 header bytes as sent (what a Reject carries).
Bytes header_of(const Pkt& p) {
    Bytes b = p.wire();
    b.resize(48);
    return b;
}

const ck::Address& initiator_address() {
    static const ck::Address a = ck::Address::v4(0xC000020Au, 40000);  // 192.0.2.10:40000
    return a;
}
const ck::Address& target_address() {
    static const ck::Address a = ck::Address::v4(0xC0000201u, 3260);  // 192.0.2.1:3260
    return a;
}

// One TCP connection in front of a WireChecker: SYN both ways, then each PDU as one
// segment with the running sequence number. It also keeps the iSCSI numbers the PDU
// builders below stamp (next CmdSN, next StatSN, the window the target grants).
class Wire {
public:
    explicit Wire(bool syn = true) {
        if (syn) {
            segment(true, next_seq[0]++, {}, true);
            segment(false, next_seq[1]++, {}, true);
        }
    }

    ck::WireChecker checker;
    std::uint32_t next_seq[2] = {0x10000000u, 0x70000000u};  // [0] initiator, [1] target
    std::int64_t now = 0;
    bool hd = false, dd = false;  // digests in use (after the login)
    std::uint32_t cmdsn = 1, statsn = 0, window = 16;
    std::map<std::uint32_t, std::uint32_t> task_cmdsn;  // ITT -> CmdSN, for RefCmdSN

    void segment(bool from_initiator, std::uint32_t seq, const Bytes& payload, bool syn = false) {
        ck::TcpSegment s;
        now += 1000;
        s.time_ns = now;
        s.src = from_initiator ? initiator_address() : target_address();
        s.dst = from_initiator ? target_address() : initiator_address();
        s.seq = seq;
        s.syn = syn;
        s.payload = payload;
        checker.segment(s);
    }
    void from_initiator(const Bytes& b) { send(0, b); }
    void from_target(const Bytes& b) { send(1, b); }
    void from_initiator(const Pkt& p, bool bad_hd = false, bool bad_dd = false) { send(0, p.wire(hd, dd, bad_hd, bad_dd)); }
    void from_target(const Pkt& p, bool bad_hd = false, bool bad_dd = false) { send(1, p.wire(hd, dd, bad_hd, bad_dd)); }
    void finish() { checker.finish(); }

private:
    void send(int dir, const Bytes& b) {
        segment(dir == 0, next_seq[dir], b);
        next_seq[dir] += static_cast<std::uint32_t>(b.size());
    }
};

// ---- PDU builders (RFC 3720 §10), numbered from the Wire's counters ----

// StatSN, ExpCmdSN (everything sent so far received), MaxCmdSN.
void target_numbers(Wire& w, Pkt& p, bool advances) {
    p.be32(24, w.statsn);
    if (advances) ++w.statsn;
    p.be32(28, w.cmdsn);
    p.be32(32, w.cmdsn + w.window - 1);
}

// CmdSN (immediate ones carry the next without taking it), ExpStatSN.
void initiator_numbers(Wire& w, Pkt& p, bool immediate) {
    if (immediate) p.u8(0, p.get8(0) | 0x40);
    p.be32(24, w.cmdsn);
    if (!immediate) ++w.cmdsn;
    p.be32(28, w.statsn);
}

Pkt scsi_cmd(Wire& w, std::uint32_t itt, std::uint8_t rw, std::uint32_t edtl, Bytes imm = {}, bool final = true) {
    Pkt p;
    p.u8(0, 0x01).flags((final ? F : 0) | rw).be32(16, itt).be32(20, edtl);
    p.u8(32, (rw & R) ? 0x28 : (rw & W) ? 0x2a : 0x00);  // READ(10), WRITE(10), TEST UNIT READY
    p.data = std::move(imm);
    w.task_cmdsn[itt] = w.cmdsn;
    initiator_numbers(w, p, false);
    return p;
}

// A SCSI Command marked for immediate delivery: it carries the next CmdSN without taking it.
Pkt imm_cmd(Wire& w, std::uint32_t itt, std::uint8_t rw, std::uint32_t edtl) {
    Pkt p;
    p.u8(0, 0x01).flags(F | rw).be32(16, itt).be32(20, edtl);
    p.u8(32, (rw & R) ? 0x28 : (rw & W) ? 0x2a : 0x00);
    w.task_cmdsn[itt] = w.cmdsn;
    initiator_numbers(w, p, true);
    return p;
}

Pkt scsi_rsp(Wire& w, std::uint32_t itt, std::uint32_t expdatasn = 0, std::uint8_t status = 0, std::uint8_t flags = 0,
             std::uint32_t residual = 0) {
    Pkt p;
    p.u8(0, 0x21).flags(F | flags).u8(2, 0).u8(3, status).be32(16, itt).be32(36, expdatasn).be32(44, residual);
    target_numbers(w, p, true);
    return p;
}

Pkt data_in(Wire& w, std::uint32_t itt, std::uint32_t datasn, std::uint32_t offset, Bytes d, std::uint8_t flags,
            std::uint32_t residual = 0) {
    Pkt p;
    p.u8(0, 0x25).flags(flags).be32(16, itt).be32(20, NO_TAG).be32(36, datasn).be32(40, offset).be32(44, residual);
    p.data = std::move(d);
    target_numbers(w, p, flags & S);
    return p;
}

Pkt r2t_pdu(Wire& w, std::uint32_t itt, std::uint32_t ttt, std::uint32_t r2tsn, std::uint32_t offset, std::uint32_t len) {
    Pkt p;
    p.u8(0, 0x31).flags(F).be32(16, itt).be32(20, ttt).be32(36, r2tsn).be32(40, offset).be32(44, len);
    target_numbers(w, p, false);
    return p;
}

Pkt data_out(Wire& w, std::uint32_t itt, std::uint32_t ttt, std::uint32_t datasn, std::uint32_t offset, Bytes d, bool final) {
    Pkt p;
    p.u8(0, 0x05).flags(final ? F : 0).be32(16, itt).be32(20, ttt).be32(28, w.statsn).be32(36, datasn).be32(40, offset);
    p.data = std::move(d);
    return p;
}

Pkt nop_out(Wire& w, std::uint32_t itt, std::uint32_t ttt = NO_TAG, Bytes d = {}, bool immediate = true) {
    Pkt p;
    p.u8(0, 0x00).flags(F).be32(16, itt).be32(20, ttt);
    p.data = std::move(d);
    initiator_numbers(w, p, immediate);
    return p;
}

Pkt nop_in(Wire& w, std::uint32_t itt, std::uint32_t ttt = NO_TAG, Bytes d = {}) {
    Pkt p;
    p.u8(0, 0x20).flags(F).be32(16, itt).be32(20, ttt);
    p.data = std::move(d);
    target_numbers(w, p, itt != NO_TAG);  // an unsolicited NOP-In does not advance StatSN
    return p;
}

Pkt text_req(Wire& w, std::uint32_t itt, std::uint8_t flags, const Keys& k, std::uint32_t ttt = NO_TAG) {
    Pkt p;
    p.u8(0, 0x04).flags(flags).be32(16, itt).be32(20, ttt);
    p.data = keys_data(k);
    initiator_numbers(w, p, false);
    return p;
}

Pkt text_rsp(Wire& w, std::uint32_t itt, std::uint8_t flags, const Keys& k, std::uint32_t ttt = NO_TAG) {
    Pkt p;
    p.u8(0, 0x24).flags(flags).be32(16, itt).be32(20, ttt);
    p.data = keys_data(k);
    target_numbers(w, p, true);
    return p;
}

Pkt logout_req(Wire& w, std::uint32_t itt, std::uint8_t reason = 0) {
    Pkt p;
    p.u8(0, 0x06).flags(F | reason).be32(16, itt);
    initiator_numbers(w, p, true);
    return p;
}

Pkt logout_rsp(Wire& w, std::uint32_t itt, std::uint8_t response = 0) {
    Pkt p;
    p.u8(0, 0x26).flags(F).u8(2, response).be32(16, itt);
    target_numbers(w, p, true);
    return p;
}

constexpr std::uint8_t ABORT_TASK = 1;

Pkt tmf_req(Wire& w, std::uint32_t itt, std::uint8_t function, std::uint32_t referenced) {
    Pkt p;
    p.u8(0, 0x02).flags(F | function).be32(16, itt).be32(20, referenced);
    // RFC 3720 §10.5.4: RefCmdSN names the referenced task's CmdSN.
    if (auto t = w.task_cmdsn.find(referenced); t != w.task_cmdsn.end()) p.be32(32, t->second);
    initiator_numbers(w, p, true);
    return p;
}

Pkt tmf_rsp(Wire& w, std::uint32_t itt, std::uint8_t response = 0) {
    Pkt p;
    p.u8(0, 0x22).flags(F).u8(2, response).be32(16, itt);
    target_numbers(w, p, true);
    return p;
}

Pkt reject_pdu(Wire& w, std::uint8_t reason, Bytes header) {
    Pkt p;
    p.u8(0, 0x3f).flags(F).u8(2, reason).be32(16, NO_TAG);
    p.data = std::move(header);
    target_numbers(w, p, true);
    return p;
}

Pkt async_pdu(Wire& w, std::uint8_t event) {
    Pkt p;
    p.u8(0, 0x32).flags(F).be32(16, NO_TAG).u8(36, event);
    target_numbers(w, p, true);
    return p;
}

// ---- Login (RFC 3720 §10.12, §10.13) ----

constexpr std::uint32_t LOGIN_ITT = 0xa0;
constexpr std::uint16_t SESSION_TSIH = 0x1234;
constexpr std::uint32_t LOGIN_STATSN = 7;
constexpr std::array<std::uint8_t, 6> ISID = {0x80, 0x12, 0x34, 0x56, 0x00, 0x01};
constexpr std::uint8_t LOGIN_FINAL = 0x87;  // T=1 CSG=1 (operational) NSG=3 (full feature)

Pkt login_req(const Keys& extra = {}, std::uint8_t flags = LOGIN_FINAL, std::uint16_t tsih = 0, bool discovery = false) {
    Pkt p;
    p.u8(0, 0x43).flags(flags).u8(2, 0).u8(3, 0);  // Version-max 0, Version-min 0
    for (std::size_t i = 0; i < ISID.size(); ++i) p.u8(8 + i, ISID[i]);
    p.be16(14, tsih).be32(16, LOGIN_ITT).be16(20, 0).be32(24, 1).be32(28, 0);
    Keys k{{"InitiatorName", "iqn.2024-01.org.example:initiator"}};
    if (!discovery) k.emplace_back("TargetName", "iqn.2024-01.org.example:disk0");
    k.emplace_back("SessionType", discovery ? "Discovery" : "Normal");
    k.insert(k.end(), extra.begin(), extra.end());
    p.data = keys_data(k);
    return p;
}

Pkt login_rsp(const Keys& answers = {}, std::uint8_t flags = LOGIN_FINAL, std::uint16_t tsih = SESSION_TSIH,
              std::uint32_t statsn = LOGIN_STATSN, bool tpgt = true, std::uint32_t maxcmdsn = 16) {
    Pkt p;
    p.u8(0, 0x23).flags(flags).u8(2, 0).u8(3, 0);  // Version-max 0, Version-active 0
    for (std::size_t i = 0; i < ISID.size(); ++i) p.u8(8 + i, ISID[i]);
    p.be16(14, tsih).be32(16, LOGIN_ITT).be32(24, statsn).be32(28, 1).be32(32, maxcmdsn).u8(36, 0).u8(37, 0);
    Keys k;
    if (tpgt) k.emplace_back("TargetPortalGroupTag", "1");
    k.insert(k.end(), answers.begin(), answers.end());
    p.data = keys_data(k);
    return p;
}

// A login response for a failed login: T=0, CSG=1, no keys.
Pkt login_error(std::uint8_t status_class, std::uint8_t status_detail) {
    Pkt p = login_rsp({}, 0x04, 0, LOGIN_STATSN, false, 0);
    p.be32(28, 0).be32(32, 0);  // the numbering fields are not valid with a non-zero class
    p.u8(36, status_class).u8(37, status_detail);
    return p;
}

// A normal login in one exchange: the initiator offers `offer` (besides its names), the
// target answers `answer` (by default the offer itself) and TargetPortalGroupTag=1.
void login(Wire& w, const Keys& offer = {}, const std::optional<Keys>& answer = std::nullopt, bool discovery = false) {
    w.from_initiator(login_req(offer, LOGIN_FINAL, 0, discovery).wire());
    const Keys ans = answer.value_or(offer);
    w.from_target(login_rsp(ans, LOGIN_FINAL, SESSION_TSIH, LOGIN_STATSN, true, w.window).wire());  // ExpCmdSN 1
    w.cmdsn = 1;
    w.statsn = LOGIN_STATSN + 1;
    for (const auto& [k, v] : ans) {
        if (k == "HeaderDigest") w.hd = v == "CRC32C";
        if (k == "DataDigest") w.dd = v == "CRC32C";
    }
}

// A normal login in two exchanges: the names first with T=0 (answered with the portal
// group tag), then an empty request that moves to full feature phase. The second
// request and its response may be altered by the caller.
void login_two_step(Wire& w, const std::function<void(Pkt&)>& edit_req2 = {},
                    const std::function<void(Pkt&)>& edit_rsp2 = {}) {
    w.from_initiator(login_req({}, 0x04).wire());                 // T=0 CSG=1
    w.from_target(login_rsp({}, 0x04, 0, LOGIN_STATSN).wire());   // StatSN 7, TSIH 0
    Pkt req2 = login_req({}, LOGIN_FINAL);
    req2.data.clear();
    if (edit_req2) edit_req2(req2);
    w.from_initiator(req2.wire());
    Pkt rsp2 = login_rsp({}, LOGIN_FINAL, SESSION_TSIH, LOGIN_STATSN + 1, false, w.window);
    if (edit_rsp2) edit_rsp2(rsp2);
    w.from_target(rsp2.wire());
    w.cmdsn = 1;
    w.statsn = LOGIN_STATSN + 2;
}

// The security stage of a login up to the initiator's CHAP_A (RFC 3720 §11.1.4):
// AuthMethod=CHAP offered and accepted, then CHAP_A sent. The target's answer is the
// caller's, with StatSN LOGIN_STATSN + 1.
void chap_start(Wire& w, const std::string& chap_a) {
    w.from_initiator(login_req({{"AuthMethod", "CHAP"}}, 0x00).wire());   // T=0 CSG=0
    w.from_target(login_rsp({{"AuthMethod", "CHAP"}}, 0x00, 0).wire());
    Pkt q = login_req({}, 0x00);
    q.data = keys_data({{"CHAP_A", chap_a}});
    w.from_initiator(q.wire());
}

// Sense data of a CHECK CONDITION (RFC 3720 §10.4.7): SenseLength 18, fixed format, NOT READY.
Bytes sense_data() {
    Bytes d = filled(20, 0);
    d[1] = std::byte{18};
    d[2] = std::byte{0x70};
    d[4] = std::byte{0x02};
    return d;
}

// ---- Expectations ----

const ck::RuleTally& tally(const Wire& w, Rule r) { return w.checker.tally()[static_cast<std::size_t>(r)]; }

std::string listing(const Wire& w) {
    std::ostringstream o;
    for (const auto& v : w.checker.violations())
        o << "\n  " << ck::info(v.rule).id << " [" << v.pdu << "] " << v.detail;
    return o.str();
}

// The rule was judged and held, and nothing at all was reported.
void expect_kept(const Wire& w, Rule r) {
    const auto& t = tally(w, r);
    BOOST_CHECK_MESSAGE(t.exercised > 0, ck::info(r).id << ": not exercised");
    BOOST_CHECK_MESSAGE(t.violated == 0, ck::info(r).id << ": " << t.violated << " violations");
    BOOST_CHECK_MESSAGE(w.checker.violations().empty(), ck::info(r).id << ": unexpected violations:" << listing(w));
}

// For the rules the checker only ever reports broken (no tally on a pass): nothing reported.
void expect_quiet(const Wire& w, Rule r) {
    BOOST_CHECK_MESSAGE(tally(w, r).violated == 0, ck::info(r).id << ": violated");
    BOOST_CHECK_MESSAGE(w.checker.violations().empty(), ck::info(r).id << ": unexpected violations:" << listing(w));
}

// Rules that judge one condition under two catalogue ids (the RFC states it twice), or
// that one break cannot avoid breaking together: a break of one may show the others.
const std::vector<std::vector<Rule>> COMPANIONS = {
    {Rule::opcode_direction, Rule::opcode_initiator},
    {Rule::dsl_within_mrdsl, Rule::data_mrdsl, Rule::text_req_mrdsl, Rule::text_rsp_mrdsl},
    {Rule::login_rsp_t_bit, Rule::login_rsp_nsg, Rule::final_accept_shape, Rule::stage_transitions},
    {Rule::login_c_t_exclusive, Rule::req_continue_not_transit, Rule::rsp_continue_not_transit, Rule::answer_continue_empty,
     Rule::initiator_continue_empty},
    {Rule::login_tsih_on_final, Rule::tsih_nonzero_final, Rule::tsih_with_ffp},
    {Rule::login_status_valid, Rule::redirect_address},
    {Rule::login_error_ends, Rule::failed_login_closes},
    {Rule::login_tpgt_first, Rule::tpgt_first_response},
    {Rule::key_not_understood, Rule::notunderstood_answer},
    {Rule::key_bool_and, Rule::key_immediatedata},
    {Rule::key_bool_or, Rule::key_initialr2t, Rule::key_datapduinorder, Rule::key_datasequenceinorder},
    {Rule::key_numeric_min, Rule::key_maxburst, Rule::key_firstburst, Rule::key_maxconnections, Rule::key_time2retain,
     Rule::key_maxoutstandingr2t, Rule::key_erl},
    {Rule::statsn_increment, Rule::statsn_per_status, Rule::r2t_statsn, Rule::nopin_reply_statsn, Rule::nopin_unsolicited_statsn,
     Rule::reject_statsn, Rule::async_statsn},
    {Rule::residual_flags, Rule::rsp_residual_zero, Rule::residual_write},
    {Rule::datain_datasn, Rule::datasn_from_zero, Rule::datasn_across_sequences},
    {Rule::dataout_datasn, Rule::dataout_datasn_per_sequence},
    {Rule::dataout_within_r2t, Rule::data_pdus_in_order, Rule::dataout_final, Rule::honours_r2t},
    {Rule::r2t_sequence, Rule::r2tsn_from_zero},
    {Rule::r2t_length, Rule::r2t_ddtl_nonzero},
    {Rule::r2t_unsolicited_overlap, Rule::r2t_ranges_in_order, Rule::sequences_non_decreasing, Rule::data_sequences_in_order},
    {Rule::tmf_response_code, Rule::abort_live},
    {Rule::discovery_no_scsi, Rule::discovery_only, Rule::discovery_rejects},
    {Rule::nopin_reply, Rule::nopin_ttt_reply, Rule::nopin_unsolicited_itt},
    {Rule::cmdsn_sequence, Rule::cmdsn_in_order, Rule::immediate_cmdsn},
    {Rule::text_ttt, Rule::text_not_final_ttt, Rule::text_ttt_when_not_final, Rule::text_final_for_final},
    {Rule::text_c_f_exclusive, Rule::text_continue_not_final},
    {Rule::unsolicited_total, Rule::unsolicited_all_or_immediate},
    {Rule::initiatorname_first, Rule::initiatorname_first_12},
    {Rule::targetname_first, Rule::targetname_first_12},
    {Rule::reserved_constants_not_proposed, Rule::reserved_constants},
    {Rule::standard_keys_understood, Rule::chapter12_keys_supported},
};

bool companions(Rule a, Rule b) {
    for (const auto& g : COMPANIONS)
        if (std::find(g.begin(), g.end(), a) != g.end() && std::find(g.begin(), g.end(), b) != g.end()) return true;
    return false;
}

// The rule is among the violations; any other violation must be one of `also` (the
// consequences a break cannot avoid) or a companion.
void expect_broken(const Wire& w, Rule r, std::initializer_list<Rule> also = {}) {
    bool found = false;
    for (const auto& v : w.checker.violations()) {
        if (v.rule == r) found = true;
        else if (std::find(also.begin(), also.end(), v.rule) == also.end() && !companions(r, v.rule))
            BOOST_ERROR(ck::info(r).id << ": unexpected violation of " << ck::info(v.rule).id << ": " << v.detail);
    }
    BOOST_CHECK_MESSAGE(found, ck::info(r).id << ": not reported; got:" << listing(w));
    BOOST_CHECK_MESSAGE(tally(w, r).violated > 0, ck::info(r).id << ": tally shows no violation");
}

using WireP = std::unique_ptr<Wire>;
WireP logged_in(const Keys& offer = {}, const std::optional<Keys>& answer = std::nullopt) {
    auto p = std::make_unique<Wire>();
    login(*p, offer, answer);
    return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(checker_suite)

// ======================= framing (RFC 3720 §10.2) =======================

// 3720-10.2-target-sends-target-opcodes
BOOST_AUTO_TEST_CASE(opcode_direction) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30));
        Pkt r = nop_in(w, 0x30);
        if (bad) r.u8(0, 0x3b);  // no opcode of RFC 3720, and none of the target's
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::opcode_direction);
    expect_broken(*run(true), Rule::opcode_direction);
}

// 3720-10.2-target-pdu-byte0-high-bits-zero
BOOST_AUTO_TEST_CASE(reserved_bit) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30));
        Pkt r = nop_in(w, 0x30);
        if (bad) r.u8(0, 0x60);  // the I bit in a target PDU
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::reserved_bit);
    expect_broken(*run(true), Rule::reserved_bit);
}

// 3720-12.12-pdu-within-receiver-mrdsl
BOOST_AUTO_TEST_CASE(dsl_within_mrdsl) {
    auto run = [](bool bad) {
        auto p = logged_in({{"MaxRecvDataSegmentLength", bad ? "512" : "1024"}});
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 600));
        w.from_target(data_in(w, 0x10, 0, 0, filled(600, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::dsl_within_mrdsl);
    expect_broken(*run(true), Rule::dsl_within_mrdsl);
}

// 3720-10.1-padding-bytes-zero
BOOST_AUTO_TEST_CASE(padding_zero) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30, NO_TAG, filled(5, 0x42)));
        Pkt r = nop_in(w, 0x30, NO_TAG, filled(5, 0x42));
        if (bad) r.pad = 0xee;
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::padding_zero);
    expect_broken(*run(true), Rule::padding_zero);
}

// 3720-12.1-digest-on-every-pdu-after-agreement
BOOST_AUTO_TEST_CASE(header_digest_valid) {
    // The test's own CRC32C: the standard check value and RFC 3720 Appendix B.4 (32 zero
    // bytes give aa 36 91 8a on the wire).
    const Bytes digits = text_bytes("123456789");
    BOOST_TEST(crc32c_ref(digits.data(), digits.size()) == 0xE3069283u);
    const Bytes zeros = filled(32, 0);
    BOOST_TEST(crc32c_ref(zeros.data(), zeros.size()) == 0x8A9136AAu);

    auto run = [](bool bad) {
        auto p = logged_in({{"HeaderDigest", "CRC32C"}});
        Wire& w = *p;
        BOOST_REQUIRE(w.hd);
        w.from_initiator(nop_out(w, 0x30, NO_TAG, filled(8, 0x42)), bad);
        w.from_target(nop_in(w, 0x30, NO_TAG, filled(8, 0x42)));
        return p;
    };
    auto good = run(false);
    expect_kept(*good, Rule::header_digest_valid);
    BOOST_TEST(tally(*good, Rule::nopin_echo_data).exercised == 1u);  // both PDUs were framed with their digests
    expect_broken(*run(true), Rule::header_digest_valid);
}

// 3720-10.2-digests-cover-padding
BOOST_AUTO_TEST_CASE(data_digest_valid) {
    auto run = [](bool bad) {
        auto p = logged_in({{"DataDigest", "CRC32C"}});
        Wire& w = *p;
        BOOST_REQUIRE(w.dd);
        w.from_initiator(nop_out(w, 0x30, NO_TAG, filled(5, 0x42)));  // padded: the digest covers the pad too
        w.from_target(nop_in(w, 0x30, NO_TAG, filled(5, 0x42)), false, bad);
        return p;
    };
    auto good = run(false);
    expect_kept(*good, Rule::data_digest_valid);
    BOOST_TEST(tally(*good, Rule::nopin_echo_data).exercised == 1u);
    expect_broken(*run(true), Rule::data_digest_valid);
}

// ======================= login (RFC 3720 §5.3, §10.12, §10.13) =======================

// 3720-3.2-login-first-pdu
BOOST_AUTO_TEST_CASE(login_first) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        if (bad) w.from_initiator(nop_out(w, 0x30));
        login(w);
        return p;
    };
    expect_kept(*run(false), Rule::login_first);
    expect_broken(*run(true), Rule::login_first);
}

// 3720-3.2-login-pdus-only-during-login
BOOST_AUTO_TEST_CASE(login_only_login_rsp) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        w.from_initiator(login_req().wire());
        if (bad) w.from_target(nop_in(w, NO_TAG));
        w.from_target(login_rsp().wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_only_login_rsp);
    expect_broken(*run(true), Rule::login_only_login_rsp);
}

// 3720-10.12-login-response-itt-echo
BOOST_AUTO_TEST_CASE(login_rsp_itt) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());
        Pkt r = login_rsp();
        if (bad) r.be32(16, LOGIN_ITT + 1);
        p->from_target(r.wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_rsp_itt);
    expect_broken(*run(true), Rule::login_rsp_itt);
}

// 3720-10.13-login-rsp-isid-echo
BOOST_AUTO_TEST_CASE(login_rsp_isid) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());
        Pkt r = login_rsp();
        if (bad) r.u8(13, ISID[5] + 1);
        p->from_target(r.wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_rsp_isid);
    expect_broken(*run(true), Rule::login_rsp_isid);
}

// 3720-10.13-version-active-in-range
BOOST_AUTO_TEST_CASE(login_rsp_version) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());  // Version-max 0, Version-min 0
        Pkt r = login_rsp();
        if (bad) r.u8(3, 1);
        p->from_target(r.wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_rsp_version);
    expect_broken(*run(true), Rule::login_rsp_version);
}

// 3720-10.13-transit-only-when-requested
BOOST_AUTO_TEST_CASE(login_rsp_t_bit) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req({}, bad ? 0x07 : LOGIN_FINAL).wire());  // the bad request leaves T clear
        p->from_target(login_rsp().wire());                                  // T=1 NSG=3
        return p;
    };
    expect_kept(*run(false), Rule::login_rsp_t_bit);
    expect_broken(*run(true), Rule::login_rsp_t_bit);
}

// 3720-10.13-csg-echo
BOOST_AUTO_TEST_CASE(login_rsp_csg) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());  // CSG=1
        p->from_target(login_rsp({}, bad ? 0x83 : LOGIN_FINAL).wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_rsp_csg);
    expect_broken(*run(true), Rule::login_rsp_csg);
}

// 3720-5.3-nsg-not-above-request
BOOST_AUTO_TEST_CASE(login_rsp_nsg) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req({}, 0x81).wire());  // T=1 CSG=0 NSG=1: security to operational
        // The bad response jumps to full feature (and, being final, carries the TSIH).
        p->from_target(login_rsp({}, bad ? 0x83 : 0x81, bad ? SESSION_TSIH : 0).wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_rsp_nsg);
    expect_broken(*run(true), Rule::login_rsp_nsg);
}

// 3720-5.2-continue-excludes-final
BOOST_AUTO_TEST_CASE(login_c_t_exclusive) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req({}, bad ? 0xc7 : LOGIN_FINAL).wire());
        p->from_target(login_rsp().wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_c_t_exclusive);
    expect_broken(*run(true), Rule::login_c_t_exclusive);
}

// 3720-10.13-new-session-tsih-only-in-final
BOOST_AUTO_TEST_CASE(login_tsih_on_final) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());  // TSIH 0: a new session
        p->from_target(login_rsp({}, LOGIN_FINAL, bad ? 0 : SESSION_TSIH).wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_tsih_on_final);
    expect_broken(*run(true), Rule::login_tsih_on_final);
}

// 3720-10.13-existing-session-tsih-echo
BOOST_AUTO_TEST_CASE(login_tsih_echo) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req({}, LOGIN_FINAL, SESSION_TSIH).wire());  // a connection for an existing session
        p->from_target(login_rsp({}, LOGIN_FINAL, bad ? SESSION_TSIH + 1 : SESSION_TSIH).wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_tsih_echo);
    expect_broken(*run(true), Rule::login_tsih_echo);
}

// 3720-10.13-status-class-valid
BOOST_AUTO_TEST_CASE(login_status_valid) {
    auto run = [](std::uint8_t cls, std::uint8_t detail) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());
        p->from_target(login_error(cls, detail).wire());
        return p;
    };
    expect_kept(*run(2, 0x0b), Rule::login_status_valid);  // "invalid request during login", the last of class 2
    expect_kept(*run(3, 0x02), Rule::login_status_valid);  // "out of resources"
    expect_broken(*run(2, 0x0c), Rule::login_status_valid);
    expect_broken(*run(4, 0x00), Rule::login_status_valid);
    // RFC 3720 §10.13.5 defines no 0x0100 and no 0x0303.
    expect_broken(*run(1, 0x00), Rule::login_status_valid);
    expect_broken(*run(3, 0x03), Rule::login_status_valid);
}

// 3720-7.1-login-reject-then-close
BOOST_AUTO_TEST_CASE(login_error_ends) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        w.from_initiator(login_req().wire());
        w.from_target(login_error(2, 0x01).wire());  // authentication failure
        if (bad) w.from_target(nop_in(w, NO_TAG));
        w.finish();
        return p;
    };
    expect_kept(*run(false), Rule::login_error_ends);
    expect_broken(*run(true), Rule::login_error_ends);
}

// 3720-10.13-login-statsn-increments
BOOST_AUTO_TEST_CASE(login_statsn_sequence) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        w.from_initiator(login_req({}, 0x04).wire());                          // T=0 CSG=1: keys first
        w.from_target(login_rsp({}, 0x04, 0, LOGIN_STATSN).wire());             // StatSN 7
        Pkt req2 = login_req({}, LOGIN_FINAL);
        req2.data.clear();
        w.from_initiator(req2.wire());
        w.from_target(login_rsp({}, LOGIN_FINAL, SESSION_TSIH, LOGIN_STATSN + (bad ? 2 : 1), false).wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_statsn_sequence);
    expect_broken(*run(true), Rule::login_statsn_sequence);
}

// 3720-12.9-tpgt-in-first-login-response
BOOST_AUTO_TEST_CASE(login_tpgt_first) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());
        p->from_target(login_rsp({}, LOGIN_FINAL, SESSION_TSIH, LOGIN_STATSN, !bad).wire());
        return p;
    };
    expect_kept(*run(false), Rule::login_tpgt_first);
    expect_broken(*run(true), Rule::login_tpgt_first);
}

// 3720-5.1-key-pair-null-terminated
BOOST_AUTO_TEST_CASE(key_syntax) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Pkt q = login_req();
        if (bad) {
            const Bytes junk = text_bytes("NoEqualsSign");
            q.data.insert(q.data.end(), junk.begin(), junk.end());
            q.data.push_back(std::byte{0});
        }
        p->from_initiator(q.wire());
        p->from_target(login_rsp().wire());
        return p;
    };
    expect_kept(*run(false), Rule::key_syntax);
    expect_broken(*run(true), Rule::key_syntax);
}

// 3720-5.2-key-proposal-answered
BOOST_AUTO_TEST_CASE(key_answered) {
    const Keys offer{{"MaxConnections", "1"}};
    expect_kept(*logged_in(offer, offer), Rule::key_answered);
    expect_broken(*logged_in(offer, Keys{}), Rule::key_answered);
}

// 3720-5.2-key-unknown-answered-notunderstood
BOOST_AUTO_TEST_CASE(key_not_understood) {
    const Keys offer{{"FrobnicationLevel", "3"}};
    expect_kept(*logged_in(offer, Keys{{"FrobnicationLevel", "NotUnderstood"}}), Rule::key_not_understood);
    expect_broken(*logged_in(offer, offer), Rule::key_not_understood);
}

// 3720-5.2-key-boolean-answer-follows-function
BOOST_AUTO_TEST_CASE(key_bool_and) {
    const Keys offer{{"ImmediateData", "No"}};
    expect_kept(*logged_in(offer, Keys{{"ImmediateData", "No"}}), Rule::key_bool_and);
    expect_broken(*logged_in(offer, Keys{{"ImmediateData", "Yes"}}), Rule::key_bool_and);
}

// 3720-5.2-key-result-or
BOOST_AUTO_TEST_CASE(key_bool_or) {
    const Keys offer{{"InitialR2T", "Yes"}};
    expect_kept(*logged_in(offer, Keys{{"InitialR2T", "Yes"}}), Rule::key_bool_or);
    expect_broken(*logged_in(offer, Keys{{"InitialR2T", "No"}}), Rule::key_bool_or);
}

// 3720-5.2-key-result-min
BOOST_AUTO_TEST_CASE(key_numeric_min) {
    const Keys offer{{"MaxBurstLength", "65536"}};
    expect_kept(*logged_in(offer, Keys{{"MaxBurstLength", "65536"}}), Rule::key_numeric_min);
    expect_broken(*logged_in(offer, Keys{{"MaxBurstLength", "131072"}}), Rule::key_numeric_min);
}

// 3720-12.15-defaulttime2wait-maximum
BOOST_AUTO_TEST_CASE(key_numeric_max) {
    const Keys offer{{"DefaultTime2Wait", "2"}};
    expect_kept(*logged_in(offer, Keys{{"DefaultTime2Wait", "2"}}), Rule::key_numeric_max);
    expect_broken(*logged_in(offer, Keys{{"DefaultTime2Wait", "1"}}), Rule::key_numeric_max);
}

// 3720-5.2-key-list-answer-from-offer
BOOST_AUTO_TEST_CASE(key_list_choice) {
    const Keys offer{{"HeaderDigest", "CRC32C,None"}, {"DataDigest", "None"}};
    expect_kept(*logged_in(offer, Keys{{"HeaderDigest", "None"}, {"DataDigest", "None"}}), Rule::key_list_choice);
    expect_broken(*logged_in(offer, Keys{{"HeaderDigest", "None"}, {"DataDigest", "CRC32C"}}), Rule::key_list_choice);
}

// 3720-12-key-value-in-range
BOOST_AUTO_TEST_CASE(key_value_range) {
    const Keys offer{{"DefaultTime2Wait", "2"}};
    expect_kept(*logged_in(offer, Keys{{"DefaultTime2Wait", "2"}}), Rule::key_value_range);
    expect_broken(*logged_in(offer, Keys{{"DefaultTime2Wait", "4000"}}), Rule::key_value_range);
}

// 3720-12.14-firstburst-not-above-maxburst
BOOST_AUTO_TEST_CASE(key_firstburst_le_maxburst) {
    const Keys offer{{"FirstBurstLength", "65536"}, {"MaxBurstLength", "65536"}};
    expect_kept(*logged_in(offer, offer), Rule::key_firstburst_le_maxburst);
    expect_broken(*logged_in(offer, Keys{{"FirstBurstLength", "65536"}, {"MaxBurstLength", "32768"}}),
                  Rule::key_firstburst_le_maxburst);
}

// ======================= sequence numbers (RFC 3720 §3.2.2) =======================

// 3720-3.2-statsn-per-connection
BOOST_AUTO_TEST_CASE(statsn_increment) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        const std::uint32_t sn = w.statsn;
        Pkt r = scsi_rsp(w, 0x10);
        if (bad) r.be32(24, sn + 1);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::statsn_increment);
    expect_broken(*run(true), Rule::statsn_increment);
}

// 3720-3.2-maxcmdsn-not-below-expcmdsn-minus-one
BOOST_AUTO_TEST_CASE(maxcmdsn_window) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt n = nop_in(w, NO_TAG);               // ExpCmdSN 1
        if (bad) n.be32(32, 0xfffffffeu);        // MaxCmdSN = ExpCmdSN - 3
        w.from_target(n);
        return p;
    };
    expect_kept(*run(false), Rule::maxcmdsn_window);
    expect_broken(*run(true), Rule::maxcmdsn_window);
}

// 3720-3.2-expcmdsn-never-decreases
BOOST_AUTO_TEST_CASE(expcmdsn_monotonic) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        w.from_target(scsi_rsp(w, 0x10));        // ExpCmdSN 2
        Pkt n = nop_in(w, NO_TAG);
        if (bad) n.be32(28, 1);
        w.from_target(n);
        return p;
    };
    expect_kept(*run(false), Rule::expcmdsn_monotonic);
    expect_broken(*run(true), Rule::expcmdsn_monotonic);
}

// 3720-3.2-maxcmdsn-never-decreases
BOOST_AUTO_TEST_CASE(maxcmdsn_monotonic) {
    auto run = [](bool bad) {
        auto p = logged_in();                    // MaxCmdSN 16
        Wire& w = *p;
        Pkt n = nop_in(w, NO_TAG);
        if (bad) n.be32(32, 15);
        w.from_target(n);
        return p;
    };
    expect_kept(*run(false), Rule::maxcmdsn_monotonic);
    expect_broken(*run(true), Rule::maxcmdsn_monotonic);
}

// 3720-3.2-expcmdsn-no-holes
BOOST_AUTO_TEST_CASE(expcmdsn_received) {
    auto run = [](bool bad) {
        auto p = logged_in();                    // nothing sent yet: the next CmdSN is 1
        Wire& w = *p;
        Pkt n = nop_in(w, NO_TAG);
        if (bad) n.be32(28, 2);
        w.from_target(n);
        return p;
    };
    expect_kept(*run(false), Rule::expcmdsn_received);
    expect_broken(*run(true), Rule::expcmdsn_received);
}

// 3720-3.2-cmdsn-within-window
BOOST_AUTO_TEST_CASE(cmdsn_in_window) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        w.window = bad ? 0 : 16;                 // 0: MaxCmdSN = ExpCmdSN - 1, the window closed
        login(w);
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        return p;
    };
    expect_kept(*run(false), Rule::cmdsn_in_window);
    expect_broken(*run(true), Rule::cmdsn_in_window);
}

// 3720-3.2-ignore-cmdsn-outside-window
BOOST_AUTO_TEST_CASE(cmdsn_ignored_outside) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        w.window = bad ? 0 : 16;
        login(w);
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        w.from_target(scsi_rsp(w, 0x10));
        return p;
    };
    expect_kept(*run(false), Rule::cmdsn_ignored_outside);
    expect_broken(*run(true), Rule::cmdsn_ignored_outside, {Rule::cmdsn_in_window});
}

// 3720-3.2-cmdsn-increments-non-immediate
BOOST_AUTO_TEST_CASE(cmdsn_sequence) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt c = scsi_cmd(w, 0x10, 0, 0);
        if (bad) c.be32(24, 2);                  // skips CmdSN 1 (still within the window)
        w.from_initiator(c);
        return p;
    };
    expect_kept(*run(false), Rule::cmdsn_sequence);
    expect_broken(*run(true), Rule::cmdsn_sequence);
}

// 3720-3.2-expstatsn-not-ahead
BOOST_AUTO_TEST_CASE(expstatsn_not_ahead) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt c = scsi_cmd(w, 0x10, 0, 0);
        if (bad) c.be32(28, w.statsn + 1);
        w.from_initiator(c);
        return p;
    };
    expect_kept(*run(false), Rule::expstatsn_not_ahead);
    expect_broken(*run(true), Rule::expstatsn_not_ahead);
}

// ======================= tasks (RFC 3720 §10.3, §10.4, §10.7, §10.8) =======================

// 3720-10.4-response-names-open-task
// The checker tallies this rule only when it is broken, so the clean run shows no
// exercise (reported); it is held to reporting nothing.
BOOST_AUTO_TEST_CASE(response_once) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        w.from_target(scsi_rsp(w, 0x10));
        if (bad) w.from_target(scsi_rsp(w, 0x10));
        return p;
    };
    expect_quiet(*run(false), Rule::response_once);
    expect_broken(*run(true), Rule::response_once);
}

// 3720-3.2-response-same-connection
BOOST_AUTO_TEST_CASE(response_known_task) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        w.from_target(scsi_rsp(w, bad ? 0x11 : 0x10));
        return p;
    };
    expect_kept(*run(false), Rule::response_known_task);
    expect_broken(*run(true), Rule::response_known_task);
}

// 3720-10.4-nothing-after-status
// Tallied only when broken (see response_once).
BOOST_AUTO_TEST_CASE(no_pdu_after_response) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), F | S));
        if (bad) w.from_target(data_in(w, 0x10, 1, 512, filled(512, 0x11), F));
        return p;
    };
    expect_quiet(*run(false), Rule::no_pdu_after_response);
    expect_broken(*run(true), Rule::no_pdu_after_response);
}

// 3720-10.4-overflow-underflow-exclusive
BOOST_AUTO_TEST_CASE(residual_flags) {
    auto run = [](std::uint8_t flags, std::uint32_t residual) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), F));
        w.from_target(scsi_rsp(w, 0x10, 1, 0, flags, residual));
        return p;
    };
    expect_kept(*run(0, 0), Rule::residual_flags);
    expect_broken(*run(U | O, 0), Rule::residual_flags);
    expect_broken(*run(0, 100), Rule::residual_flags);  // a residual without U or O
}

// 3720-10.7-data-in-residuals-as-response
BOOST_AUTO_TEST_CASE(residual_read) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), F));
        w.from_target(scsi_rsp(w, 0x10, 1, 0, U, bad ? 256 : 512));
        return p;
    };
    expect_kept(*run(false), Rule::residual_read);
    expect_broken(*run(true), Rule::residual_read);
}

// 3720-10.4-residual-count-valid-when-flagged
BOOST_AUTO_TEST_CASE(residual_write) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024, filled(512, 0x22)));  // half of it as immediate data
        w.from_target(scsi_rsp(w, 0x10, 0, 0, bad ? 0 : U, bad ? 0 : 512));
        return p;
    };
    expect_kept(*run(false), Rule::residual_write);
    expect_broken(*run(true), Rule::residual_write);
}

// 3720-10.4-response-code-defined-values
BOOST_AUTO_TEST_CASE(response_code_valid) {
    auto run = [](std::uint8_t response) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        Pkt r = scsi_rsp(w, 0x10);
        r.u8(2, response);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(0x00), Rule::response_code_valid);
    expect_kept(*run(0x01), Rule::response_code_valid);
    expect_broken(*run(0x02), Rule::response_code_valid);
}

// 3720-10.4-check-condition-carries-sense
BOOST_AUTO_TEST_CASE(sense_length) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        Pkt r = scsi_rsp(w, 0x10, 0, 0x02);  // CHECK CONDITION
        r.data = filled(20, 0);
        r.data[0] = std::byte{0};
        r.data[1] = std::byte{static_cast<std::uint8_t>(bad ? 30 : 18)};  // SenseLength
        r.data[2] = std::byte{0x70};                                        // fixed format sense
        r.data[4] = std::byte{0x02};                                        // NOT READY
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::sense_length);
    expect_broken(*run(true), Rule::sense_length);
}

// 3720-10.4-expdatasn-counts-input-pdus
BOOST_AUTO_TEST_CASE(exp_datasn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), F));
        w.from_target(scsi_rsp(w, 0x10, bad ? 0 : 1));
        return p;
    };
    expect_kept(*run(false), Rule::exp_datasn);
    expect_broken(*run(true), Rule::exp_datasn);
}

// 3720-3.2-datain-datasn-from-zero
BOOST_AUTO_TEST_CASE(datain_datasn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), 0));
        w.from_target(data_in(w, 0x10, bad ? 2 : 1, 512, filled(512, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::datain_datasn);
    expect_broken(*run(true), Rule::datain_datasn);
}

// 3720-10.7-data-in-pdus-in-order
BOOST_AUTO_TEST_CASE(datain_offset) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), 0));
        w.from_target(data_in(w, 0x10, 1, bad ? 256 : 512, filled(512, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::datain_offset);
    expect_broken(*run(true), Rule::datain_offset);
}

// 3720-10.7-datain-within-edtl
BOOST_AUTO_TEST_CASE(datain_within_edtl) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(bad ? 1024 : 512, 0x11), F));
        return p;
    };
    expect_kept(*run(false), Rule::datain_within_edtl);
    expect_broken(*run(true), Rule::datain_within_edtl);
}

// 3720-10.7-datain-only-for-read
BOOST_AUTO_TEST_CASE(datain_read_only) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, bad ? W : R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), F));
        return p;
    };
    expect_kept(*run(false), Rule::datain_read_only);
    expect_broken(*run(true), Rule::datain_read_only);
}

// 3720-10.7-status-bit-implies-final
BOOST_AUTO_TEST_CASE(datain_status_final) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), bad ? S : F | S));
        return p;
    };
    expect_kept(*run(false), Rule::datain_status_final);
    expect_broken(*run(true), Rule::datain_status_final);
}

// 3720-10.7-error-status-not-in-data-in
BOOST_AUTO_TEST_CASE(datain_status_value) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        Pkt d = data_in(w, 0x10, 0, 0, filled(512, 0x11), F | S);
        d.u8(3, bad ? 0x02 : 0x00);  // CHECK CONDITION / GOOD
        w.from_target(d);
        return p;
    };
    expect_kept(*run(false), Rule::datain_status_value);
    expect_broken(*run(true), Rule::datain_status_value);
}

// 3720-10.7-no-a-bit-at-erl0
BOOST_AUTO_TEST_CASE(datain_ttt_lun) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), F | S | (bad ? A : 0)));
        return p;
    };
    expect_kept(*run(false), Rule::datain_ttt_lun);
    expect_broken(*run(true), Rule::datain_ttt_lun);
}

// 3720-10.7-data-in-sequence-within-maxburst
BOOST_AUTO_TEST_CASE(datain_burst) {
    auto run = [](bool bad) {
        const Keys burst{{"FirstBurstLength", "512"}, {"MaxBurstLength", "512"}};
        auto p = logged_in(burst, burst);
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), bad ? 0 : F));  // F ends a sequence
        w.from_target(data_in(w, 0x10, 1, 512, filled(512, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::datain_burst);
    expect_broken(*run(true), Rule::datain_burst);
}

// 3720-10.7-data-in-final-bit-per-sequence
BOOST_AUTO_TEST_CASE(datain_final_last) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), bad ? 0 : F));
        w.from_target(scsi_rsp(w, 0x10, 1));
        return p;
    };
    expect_kept(*run(false), Rule::datain_final_last);
    expect_broken(*run(true), Rule::datain_final_last);
}

// 3720-10.7-data-out-ttt-copies-r2t
BOOST_AUTO_TEST_CASE(dataout_ttt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 512));
        w.from_initiator(data_out(w, 0x10, bad ? 0x999 : 0x100, 0, 0, filled(512, 0x22), true));
        return p;
    };
    expect_kept(*run(false), Rule::dataout_ttt);
    expect_broken(*run(true), Rule::dataout_ttt);
}

// 3720-10.7-data-out-datasn-per-sequence
BOOST_AUTO_TEST_CASE(dataout_datasn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 1024));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, 0, filled(512, 0x22), false));
        w.from_initiator(data_out(w, 0x10, 0x100, bad ? 2 : 1, 512, filled(512, 0x22), true));
        w.from_target(scsi_rsp(w, 0x10, 0));  // ExpDataSN 0: a write sends no Data-In (RFC 3720 §10.4.8)
        return p;
    };
    expect_kept(*run(false), Rule::dataout_datasn);
    expect_broken(*run(true), Rule::dataout_datasn);
}

// 3720-10.8-answer-within-r2t-range
BOOST_AUTO_TEST_CASE(dataout_within_r2t) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 512));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, bad ? 512 : 0, filled(512, 0x22), true));
        return p;
    };
    expect_kept(*run(false), Rule::dataout_within_r2t);
    expect_broken(*run(true), Rule::dataout_within_r2t);
}

// 3720-10.8-unsolicited-needs-initialr2t-no
BOOST_AUTO_TEST_CASE(unsolicited_allowed) {
    auto run = [](bool bad) {
        const Keys imm{{"ImmediateData", bad ? "No" : "Yes"}};
        auto p = logged_in(imm, imm);
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512, filled(512, 0x22)));
        return p;
    };
    expect_kept(*run(false), Rule::unsolicited_allowed);
    expect_broken(*run(true), Rule::unsolicited_allowed);
}

// 3720-10.7-unsolicited-within-firstburst
BOOST_AUTO_TEST_CASE(unsolicited_first_burst) {
    auto run = [](bool bad) {
        const Keys burst{{"FirstBurstLength", "512"}, {"MaxBurstLength", "512"}};
        auto p = logged_in(burst, burst);
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024, filled(bad ? 1024 : 512, 0x22)));
        return p;
    };
    expect_kept(*run(false), Rule::unsolicited_first_burst);
    expect_broken(*run(true), Rule::unsolicited_first_burst);
}

// 3720-10.8-r2tsn-sequence
BOOST_AUTO_TEST_CASE(r2t_sequence) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        w.from_target(r2t_pdu(w, 0x10, 0x100, bad ? 1 : 0, 0, 512));
        return p;
    };
    expect_kept(*run(false), Rule::r2t_sequence);
    expect_broken(*run(true), Rule::r2t_sequence);
}

// 3720-10.8-ddtl-within-maxburst
BOOST_AUTO_TEST_CASE(r2t_length) {
    auto run = [](std::uint32_t len) {
        auto p = logged_in();  // MaxBurstLength 262144 (the default)
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1u << 20));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, len));
        return p;
    };
    expect_kept(*run(262144), Rule::r2t_length);
    expect_broken(*run(0), Rule::r2t_length);
    expect_broken(*run(262148), Rule::r2t_length);
}

// 3720-10.8-r2t-within-edtl
BOOST_AUTO_TEST_CASE(r2t_within_edtl) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, bad ? 1024 : 512));
        return p;
    };
    expect_kept(*run(false), Rule::r2t_within_edtl);
    expect_broken(*run(true), Rule::r2t_within_edtl);
}

// 3720-10.8-ttt-not-reserved-value
BOOST_AUTO_TEST_CASE(r2t_ttt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        w.from_target(r2t_pdu(w, 0x10, bad ? NO_TAG : 0x100, 0, 0, 512));
        return p;
    };
    expect_kept(*run(false), Rule::r2t_ttt);
    expect_broken(*run(true), Rule::r2t_ttt);
}

// 3720-10.8-r2t-only-for-write
BOOST_AUTO_TEST_CASE(r2t_write_only) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, bad ? R : W, 512));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 512));
        return p;
    };
    expect_kept(*run(false), Rule::r2t_write_only);
    expect_broken(*run(true), Rule::r2t_write_only);
}

// 3720-10.8-outstanding-r2t-limit
BOOST_AUTO_TEST_CASE(r2t_outstanding) {
    auto run = [](bool bad) {
        auto p = logged_in();  // MaxOutstandingR2T 1 (the default)
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        Pkt first = r2t_pdu(w, 0x10, 0x100, 0, 0, 512);
        Pkt second = r2t_pdu(w, 0x10, 0x101, 1, 512, 512);
        const Pkt out1 = data_out(w, 0x10, 0x100, 0, 0, filled(512, 0x22), true);
        const Pkt out2 = data_out(w, 0x10, 0x101, 0, 512, filled(512, 0x22), true);
        w.from_target(first);
        if (bad) {  // the second R2T before the first is answered
            w.from_target(second);
            w.from_initiator(out1);
        } else {
            w.from_initiator(out1);
            w.from_target(second);
        }
        w.from_initiator(out2);
        w.from_target(scsi_rsp(w, 0x10, 0));
        return p;
    };
    expect_kept(*run(false), Rule::r2t_outstanding);
    expect_broken(*run(true), Rule::r2t_outstanding);
}

// 3720-10.8-statsn-not-advanced
BOOST_AUTO_TEST_CASE(r2t_statsn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        Pkt r = r2t_pdu(w, 0x10, 0x100, 0, 0, 512);
        if (bad) r.be32(24, w.statsn + 1);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::r2t_statsn);
    expect_broken(*run(true), Rule::r2t_statsn);
}

// 3720-3.2-no-discard-then-r2t
BOOST_AUTO_TEST_CASE(r2t_unsolicited_overlap) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024, filled(512, 0x22)));  // the first 512 bytes immediate
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, bad ? 0 : 512, 512));
        return p;
    };
    expect_kept(*run(false), Rule::r2t_unsolicited_overlap);
    expect_broken(*run(true), Rule::r2t_unsolicited_overlap);
}

// ======================= task management (RFC 3720 §10.5, §10.6) =======================

// 3720-10.5-every-request-answered
BOOST_AUTO_TEST_CASE(tmf_response_known) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_initiator(tmf_req(w, 0x50, ABORT_TASK, 0x10));
        w.from_target(tmf_rsp(w, bad ? 0x51 : 0x50));
        return p;
    };
    expect_kept(*run(false), Rule::tmf_response_known);
    expect_broken(*run(true), Rule::tmf_response_known);
}

// 3720-10.6-response-code-defined-values
BOOST_AUTO_TEST_CASE(tmf_response_code) {
    auto run = [](std::uint8_t response, std::uint8_t function = ABORT_TASK) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_initiator(tmf_req(w, 0x50, function, 0x10));
        w.from_target(tmf_rsp(w, 0x50, response));
        return p;
    };
    expect_kept(*run(0), Rule::tmf_response_code);
    expect_kept(*run(255, 8), Rule::tmf_response_code);  // TASK REASSIGN at ErrorRecoveryLevel 0: function rejected
    expect_broken(*run(7), Rule::tmf_response_code);
}

// 3720-10.5-acts-on-lower-cmdsn
// Tallied only when broken (see response_once).
BOOST_AUTO_TEST_CASE(tmf_no_status_after) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_initiator(tmf_req(w, 0x50, ABORT_TASK, 0x10));
        w.from_target(tmf_rsp(w, 0x50, 0));  // function complete: task 0x10 is gone
        if (bad) w.from_target(scsi_rsp(w, 0x10));
        return p;
    };
    expect_quiet(*run(false), Rule::tmf_no_status_after);
    expect_broken(*run(true), Rule::tmf_no_status_after);
}

// ======================= NOP (RFC 3720 §10.18, §10.19) =======================

// 3720-10.19-nopin-answers-nopout-itt
BOOST_AUTO_TEST_CASE(nopin_reply) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30));
        w.from_target(nop_in(w, 0x30, bad ? 0x99 : NO_TAG));  // the answer's TTT must be 0xffffffff
        return p;
    };
    expect_kept(*run(false), Rule::nopin_reply);
    expect_broken(*run(true), Rule::nopin_reply);
}

// 3720-10.19-nopin-answers-nopout-itt: a ping still unanswered when the logout is
// answered was never answered.
BOOST_AUTO_TEST_CASE(nopin_reply_before_logout) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30));
        if (!bad) w.from_target(nop_in(w, 0x30));
        w.from_initiator(logout_req(w, 0x60, 0));
        w.from_target(logout_rsp(w, 0x60, 0));
        return p;
    };
    expect_kept(*run(false), Rule::nopin_reply);
    expect_broken(*run(true), Rule::nopin_reply);
}

// 3720-10.19-nopin-answers-nopout-itt: a ping refused with a Reject (data longer than
// the initiator's MaxRecvDataSegmentLength, say) is answered; so is a ping whose Reject
// comes after hundreds of other PDUs.
BOOST_AUTO_TEST_CASE(nopin_reply_by_reject) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const Pkt ping = nop_out(w, 0x30);
        w.from_initiator(ping);
        for (std::uint32_t k = 0; k < 300; ++k) {
            w.from_initiator(nop_out(w, 0x100 + k));
            w.from_target(nop_in(w, 0x100 + k));
        }
        if (!bad) w.from_target(reject_pdu(w, 0x04, header_of(ping)));
        w.from_initiator(logout_req(w, 0x60, 0));
        w.from_target(logout_rsp(w, 0x60, 0));
        return p;
    };
    expect_kept(*run(false), Rule::nopin_reply);
    expect_kept(*run(false), Rule::reject_real_pdu);
    expect_broken(*run(true), Rule::nopin_reply);
}

// 3720-10.19-unsolicited-nopin-itt-reserved
BOOST_AUTO_TEST_CASE(nopin_unsolicited_itt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30));
        w.from_target(nop_in(w, bad ? 0x31 : 0x30));
        return p;
    };
    expect_kept(*run(false), Rule::nopin_unsolicited_itt);
    expect_broken(*run(true), Rule::nopin_unsolicited_itt);
}

// 3720-10.19-nopin-echoes-ping-data
BOOST_AUTO_TEST_CASE(nopin_echo_data) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30, NO_TAG, filled(8, 0x42)));
        w.from_target(nop_in(w, 0x30, NO_TAG, filled(8, bad ? 0x43 : 0x42)));
        return p;
    };
    expect_kept(*run(false), Rule::nopin_echo_data);
    expect_broken(*run(true), Rule::nopin_echo_data);
}

// 3720-10.19-unsolicited-nopin-no-data
BOOST_AUTO_TEST_CASE(nopin_unsolicited_empty) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_target(nop_in(w, NO_TAG, NO_TAG, bad ? filled(4, 0x42) : Bytes{}));
        return p;
    };
    expect_kept(*run(false), Rule::nopin_unsolicited_empty);
    expect_broken(*run(true), Rule::nopin_unsolicited_empty);
}

// 3720-10.18-nopout-ttt-only-when-answering
BOOST_AUTO_TEST_CASE(nopout_ttt_echo) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_target(nop_in(w, NO_TAG, 0x77));  // the target pings
        w.from_initiator(nop_out(w, NO_TAG, bad ? 0x78 : 0x77));
        return p;
    };
    expect_kept(*run(false), Rule::nopout_ttt_echo);
    expect_broken(*run(true), Rule::nopout_ttt_echo);
}

// 3720-10.18-nopout-reserved-itt-immediate
BOOST_AUTO_TEST_CASE(nopout_reserved_itt_immediate) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, NO_TAG, NO_TAG, {}, !bad));
        return p;
    };
    expect_kept(*run(false), Rule::nopout_reserved_itt_immediate);
    expect_broken(*run(true), Rule::nopout_reserved_itt_immediate);
}

// ======================= text (RFC 3720 §10.10, §10.11) =======================

const Keys SEND_TARGETS{{"SendTargets", "All"}};
const Keys TARGETS{{"TargetName", "iqn.2024-01.org.example:disk0"}, {"TargetAddress", "192.0.2.1:3260,1"}};

// 3720-10.11-text-itt-echo
BOOST_AUTO_TEST_CASE(text_rsp_itt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        w.from_target(text_rsp(w, bad ? 0x21 : 0x20, F, TARGETS));
        return p;
    };
    expect_kept(*run(false), Rule::text_rsp_itt);
    expect_broken(*run(true), Rule::text_rsp_itt);
}

// 3720-10.11-text-continue-not-final
BOOST_AUTO_TEST_CASE(text_c_f_exclusive) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        w.from_target(text_rsp(w, 0x20, bad ? F | C : F, TARGETS));
        return p;
    };
    expect_kept(*run(false), Rule::text_c_f_exclusive);
    expect_broken(*run(true), Rule::text_c_f_exclusive);
}

// 3720-10.11-text-final-ttt-reserved
BOOST_AUTO_TEST_CASE(text_ttt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        w.from_target(text_rsp(w, 0x20, F, TARGETS, bad ? 0x5 : NO_TAG));
        return p;
    };
    expect_kept(*run(false), Rule::text_ttt);
    expect_broken(*run(true), Rule::text_ttt);
}

// 3720-10.11-initiator-copies-ttt
BOOST_AUTO_TEST_CASE(text_ttt_echo) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        w.from_target(text_rsp(w, 0x20, 0, {TARGETS[0]}, 0x77));  // more to come
        w.from_initiator(text_req(w, 0x20, F, {}, bad ? 0x78 : 0x77));
        w.from_target(text_rsp(w, 0x20, F, {TARGETS[1]}));
        return p;
    };
    expect_kept(*run(false), Rule::text_ttt_echo);
    expect_broken(*run(true), Rule::text_ttt_echo);
}

// ======================= logout (RFC 3720 §10.14, §10.15) =======================

// 3720-10.15-logout-response-itt-echo
BOOST_AUTO_TEST_CASE(logout_rsp_itt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(logout_req(w, 0x60));
        w.from_target(logout_rsp(w, bad ? 0x61 : 0x60));
        return p;
    };
    expect_kept(*run(false), Rule::logout_rsp_itt);
    expect_broken(*run(true), Rule::logout_rsp_itt);
}

// 3720-10.15-logout-response-code-valid
BOOST_AUTO_TEST_CASE(logout_rsp_code) {
    auto run = [](std::uint8_t response) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(logout_req(w, 0x60));
        w.from_target(logout_rsp(w, 0x60, response));
        return p;
    };
    expect_kept(*run(0), Rule::logout_rsp_code);
    expect_kept(*run(3), Rule::logout_rsp_code);  // cleanup failed
    expect_broken(*run(4), Rule::logout_rsp_code);
}

// 3720-7.1-logout-response-then-close
BOOST_AUTO_TEST_CASE(logout_last) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(logout_req(w, 0x60, 0));  // close the session
        w.from_target(logout_rsp(w, 0x60, 0));
        if (bad) w.from_target(nop_in(w, NO_TAG));
        w.finish();
        return p;
    };
    expect_kept(*run(false), Rule::logout_last);
    expect_broken(*run(true), Rule::logout_last);
}

// 3720-12.9-tpgt-in-first-login-response: a first Login Request with C=1 gets an empty
// answer (RFC 3720 §5.2); the tag is due in the answer to the first request with C=0.
BOOST_AUTO_TEST_CASE(tpgt_after_a_continued_first_request) {
    auto run = [](bool tag_in_second) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        Pkt first = login_req({}, 0x04 | 0x40);  // C=1, CSG 1, T=0: the keys go on
        w.from_initiator(first);
        w.from_target(login_rsp({}, 0x04, 0, LOGIN_STATSN, false).wire());   // empty, no tag
        Pkt rest = login_req({}, LOGIN_FINAL);
        rest.data.clear();
        w.from_initiator(rest);
        w.from_target(login_rsp({}, LOGIN_FINAL, SESSION_TSIH, LOGIN_STATSN + 1, tag_in_second).wire());
        return p;
    };
    BOOST_TEST(run(true)->checker.tally()[static_cast<std::size_t>(Rule::login_tpgt_first)].violated == 0u);
    BOOST_TEST(run(true)->checker.tally()[static_cast<std::size_t>(Rule::login_tpgt_first)].exercised == 1u);
    BOOST_TEST(run(false)->checker.tally()[static_cast<std::size_t>(Rule::login_tpgt_first)].violated == 1u);
}

// 3720-10.14-no-new-requests-after-logout: a Logout of another connection's CID leaves
// this one free to go on (RFC 3720 §10.14).
BOOST_AUTO_TEST_CASE(logout_of_another_cid_allows_requests_here) {
    auto run = [](std::uint16_t cid) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt req = logout_req(w, 0x62, 1);
        req.u8(20, static_cast<std::uint8_t>(cid >> 8)).u8(21, static_cast<std::uint8_t>(cid));
        w.from_initiator(req);
        w.from_initiator(nop_out(w, 0x33));
        return p;
    };
    BOOST_TEST(run(5)->checker.tally()[static_cast<std::size_t>(Rule::no_requests_after_logout)].violated == 0u);
    BOOST_TEST(run(0)->checker.tally()[static_cast<std::size_t>(Rule::no_requests_after_logout)].violated == 1u);
}

// 3720-10.6-abort-task-unknown-outside-window
BOOST_AUTO_TEST_CASE(abort_unknown_outside) {
    auto run = [](std::uint8_t response) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt abort = tmf_req(w, 0x50, ABORT_TASK, 0x77);  // a tag never sent
        abort.be32(32, w.cmdsn + 1000);                    // RefCmdSN far beyond MaxCmdSN
        w.from_initiator(abort);
        w.from_target(tmf_rsp(w, 0x50, response));
        return p;
    };
    expect_kept(*run(1), Rule::abort_unknown_outside);
    expect_broken(*run(0), Rule::abort_unknown_outside);
}

// 3720-10.4-residual-count-valid-when-flagged: U says data did not move; residual 0 contradicts it.
BOOST_AUTO_TEST_CASE(underflow_flag_with_zero_residual) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 1), F));
        w.from_target(scsi_rsp(w, 0x10, 1, 0, 0x02, bad ? 0 : 512));  // U: 512 of 1024 bytes not sent
        return p;
    };
    expect_kept(*run(false), Rule::residual_write);
    expect_broken(*run(true), Rule::residual_write, {Rule::residual_read});
}

// 3720-10.13-transit-no-open-keys: a Login Response that ends the stage offers no key
// the initiator would have to answer (here MaxBurstLength, which it never offered).
BOOST_AUTO_TEST_CASE(transit_no_open_keys) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login(*p, {}, bad ? Keys{{"MaxBurstLength", "65536"}} : Keys{});
        return p;
    };
    expect_kept(*run(false), Rule::transit_no_open_keys);
    expect_broken(*run(true), Rule::transit_no_open_keys, {Rule::transit_no_open_keys_53});
}

// 3720-10.11-text-final-no-open-keys
BOOST_AUTO_TEST_CASE(text_final_no_open_keys) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        Keys answer = TARGETS;
        if (bad) answer.emplace_back("MaxBurstLength", "65536");
        w.from_target(text_rsp(w, 0x20, F, answer));
        return p;
    };
    expect_kept(*run(false), Rule::text_final_no_open_keys);
    expect_broken(*run(true), Rule::text_final_no_open_keys, {Rule::text_final_no_open_keys_54});
}

// 3720-3.2-task-pdus-match-command-lun
BOOST_AUTO_TEST_CASE(task_lun) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        Pkt r = r2t_pdu(w, 0x10, 0x500, 0, 0, 512);
        if (bad) r.u8(9, 1);  // LUN 1, the command named LUN 0
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::task_lun);
    expect_broken(*run(true), Rule::task_lun);
}

// 3720-3.2-dataout-same-connection
BOOST_AUTO_TEST_CASE(dataout_same_connection) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        w.from_target(r2t_pdu(w, 0x10, 0x500, 0, 0, 512));
        w.from_initiator(data_out(w, bad ? 0x99 : 0x10, 0x500, 0, 0, filled(512, 1), true));
        return p;
    };
    expect_kept(*run(false), Rule::dataout_same_connection);
    expect_broken(*run(true), Rule::dataout_same_connection);
}

// 3720-7.1-logout-response-then-close: a Logout for another connection's CID
// (RFC 3720 §10.14.1) closes that one, not the connection it travelled on.
BOOST_AUTO_TEST_CASE(logout_of_another_cid_keeps_this_connection) {
    auto run = [](std::uint16_t cid) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt req = logout_req(w, 0x61, 1);  // close a connection
        req.u8(20, static_cast<std::uint8_t>(cid >> 8)).u8(21, static_cast<std::uint8_t>(cid));
        w.from_initiator(req);
        w.from_target(logout_rsp(w, 0x61, 0));
        w.from_target(nop_in(w, NO_TAG));
        w.finish();
        return p;
    };
    expect_broken(*run(0), Rule::logout_last);   // the login's CID is 0: this connection
    BOOST_TEST(run(5)->checker.tally()[static_cast<std::size_t>(Rule::logout_last)].violated == 0u);
}

// ======================= reject (RFC 3720 §10.17) =======================

// 3720-10.17-reject-carries-bad-header
BOOST_AUTO_TEST_CASE(reject_header) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const Pkt c = scsi_cmd(w, 0x30, 0, 0);
        w.from_initiator(c);
        w.from_target(reject_pdu(w, 0x09, bad ? Bytes{} : header_of(c)));  // invalid PDU field
        return p;
    };
    expect_kept(*run(false), Rule::reject_header);
    expect_broken(*run(true), Rule::reject_header);
}

// 3720-10.17-reject-reason-defined
BOOST_AUTO_TEST_CASE(reject_reason) {
    auto run = [](std::uint8_t reason) {
        auto p = logged_in();
        Wire& w = *p;
        const Pkt c = scsi_cmd(w, 0x30, 0, 0);
        w.from_initiator(c);
        w.from_target(reject_pdu(w, reason, header_of(c)));
        return p;
    };
    expect_kept(*run(0x09), Rule::reject_reason);
    expect_broken(*run(0x01), Rule::reject_reason);  // reserved
    expect_broken(*run(0x0d), Rule::reject_reason);
}

// 3720-10.17-reject-itt-reserved
BOOST_AUTO_TEST_CASE(reject_itt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const Pkt c = scsi_cmd(w, 0x30, 0, 0);
        w.from_initiator(c);
        Pkt r = reject_pdu(w, 0x09, header_of(c));
        if (bad) r.be32(16, 0x30);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::reject_itt);
    expect_broken(*run(true), Rule::reject_itt);
}

// 3720-10.17-rejected-pdu-was-sent
BOOST_AUTO_TEST_CASE(reject_real_pdu) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const Pkt c = scsi_cmd(w, 0x30, 0, 0);
        w.from_initiator(c);
        Bytes h = header_of(c);
        if (bad) h[19] ^= std::byte{0x01};  // ITT 0x31: never sent
        w.from_target(reject_pdu(w, 0x09, h));
        return p;
    };
    expect_kept(*run(false), Rule::reject_real_pdu);
    expect_broken(*run(true), Rule::reject_real_pdu);
}

// ======================= asynchronous messages (RFC 3720 §10.9) =======================

// 3720-10.9-header-fixed-fields
BOOST_AUTO_TEST_CASE(async_itt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt a = async_pdu(w, 1);  // the target asks for a logout
        if (bad) a.be32(16, 0);
        w.from_target(a);
        return p;
    };
    expect_kept(*run(false), Rule::async_itt);
    expect_broken(*run(true), Rule::async_itt);
}

// 3720-10.9-event-code-defined-values
BOOST_AUTO_TEST_CASE(async_event) {
    auto run = [](std::uint8_t event) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_target(async_pdu(w, event));
        return p;
    };
    expect_kept(*run(1), Rule::async_event);
    expect_kept(*run(255), Rule::async_event);  // vendor specific
    expect_broken(*run(5), Rule::async_event);
}

// ======================= discovery sessions (RFC 3720 §3.3) =======================

// 3720-12.21-discovery-session-accepts-only-sendtargets-and-logout
BOOST_AUTO_TEST_CASE(discovery_no_scsi) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        login(w, {}, std::nullopt, bad);  // the bad session is a discovery session
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        w.from_target(scsi_rsp(w, 0x10));
        return p;
    };
    expect_kept(*run(false), Rule::discovery_no_scsi);
    expect_broken(*run(true), Rule::discovery_no_scsi);
}

// ======================= more framing (RFC 3720 §10.2, §10.7) =======================

// 3720-10.2-initiator-sends-initiator-opcodes
BOOST_AUTO_TEST_CASE(opcode_initiator) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt n = nop_out(w, NO_TAG);      // a NOP-Out that wants no answer
        if (bad) n.u8(0, 0x40 | 0x1b);   // no opcode of RFC 3720, and none of the initiator's
        w.from_initiator(n);
        return p;
    };
    expect_kept(*run(false), Rule::opcode_initiator);
    expect_broken(*run(true), Rule::opcode_initiator);
}

// 3720-10.2-total-ahs-length-zero-without-ahs
BOOST_AUTO_TEST_CASE(ahs_zero) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt n = nop_in(w, NO_TAG);
        if (bad) n.ahs = filled(4, 0);   // one AHS word in a NOP-In
        w.from_target(n);
        return p;
    };
    expect_kept(*run(false), Rule::ahs_zero);
    expect_broken(*run(true), Rule::ahs_zero);
}

// 3720-10.7-segments-whole-words-unless-final
BOOST_AUTO_TEST_CASE(data_words) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const std::uint32_t first = bad ? 510 : 512;  // the bad first PDU ends mid-word without F
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, 0, filled(first, 0x11), 0));
        w.from_target(data_in(w, 0x10, 1, first, filled(1024 - first, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::data_words);
    expect_broken(*run(true), Rule::data_words);
}

// 3720-10.7-segment-within-mrdsl
BOOST_AUTO_TEST_CASE(data_mrdsl) {
    auto run = [](bool bad) {
        auto p = logged_in({{"MaxRecvDataSegmentLength", bad ? "512" : "1024"}});
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, 0, filled(1024, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::data_mrdsl);
    expect_broken(*run(true), Rule::data_mrdsl);
}

// Vendor keys of 200 bytes each, to make a Text PDU long.
Keys long_keys(int n) {
    Keys k;
    for (int i = 0; i < n; ++i) k.emplace_back("X-org.example.Note" + std::to_string(i), std::string(200, 'a'));
    return k;
}

// 3720-10.10-request-within-mrdsl
BOOST_AUTO_TEST_CASE(text_req_mrdsl) {
    auto run = [](bool bad) {
        auto p = logged_in({{"MaxRecvDataSegmentLength", bad ? "512" : "1024"}});
        Wire& w = *p;
        Keys offer = SEND_TARGETS;
        const Keys notes = long_keys(3);  // some 700 bytes
        offer.insert(offer.end(), notes.begin(), notes.end());
        w.from_initiator(text_req(w, 0x20, F, offer));
        Keys answer = TARGETS;
        for (const auto& [k, v] : notes) answer.emplace_back(k, "NotUnderstood");
        w.from_target(text_rsp(w, 0x20, F, answer));
        return p;
    };
    expect_kept(*run(false), Rule::text_req_mrdsl);
    expect_broken(*run(true), Rule::text_req_mrdsl);
}

// 3720-10.11-text-response-within-mrdsl
BOOST_AUTO_TEST_CASE(text_rsp_mrdsl) {
    auto run = [](bool bad) {
        auto p = logged_in({{"MaxRecvDataSegmentLength", bad ? "512" : "1024"}});
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        Keys targets;  // eight targets, some 600 bytes
        for (int i = 0; i < 8; ++i) {
            targets.emplace_back("TargetName", "iqn.2024-01.org.example:disk" + std::to_string(i));
            targets.emplace_back("TargetAddress", "192.0.2.1:3260,1");
        }
        w.from_target(text_rsp(w, 0x20, F, targets));
        return p;
    };
    expect_kept(*run(false), Rule::text_rsp_mrdsl);
    expect_broken(*run(true), Rule::text_rsp_mrdsl);
}

// ======================= more SCSI Response (RFC 3720 §9.2, §10.4) =======================

// 3720-10.4-final-bit-set
BOOST_AUTO_TEST_CASE(rsp_final) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        Pkt r = scsi_rsp(w, 0x10);
        if (bad) r.flags(0);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::rsp_final);
    expect_broken(*run(true), Rule::rsp_final);
}

// 3720-10.4-residual-bits-clear-unless-completed
BOOST_AUTO_TEST_CASE(rsp_residual_bits_clear) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        Pkt r = scsi_rsp(w, 0x10, 0, 0, bad ? U : 0, bad ? 512 : 0);
        r.u8(2, 0x01);  // target failure: the command did not complete
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::rsp_residual_bits_clear);
    expect_broken(*run(true), Rule::rsp_residual_bits_clear);
}

// 3720-10.4-residual-count-zero-without-flags
BOOST_AUTO_TEST_CASE(rsp_residual_zero) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        Pkt r = scsi_rsp(w, 0x10);
        if (bad) r.be32(40, 100);  // a Bidirectional Read Residual Count without o or u
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::rsp_residual_zero);
    expect_broken(*run(true), Rule::rsp_residual_zero);
}

// 3720-10.4-expdatasn-zero-unless-data-in
BOOST_AUTO_TEST_CASE(expdatasn_zero) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));   // no data: no Data-In
        w.from_target(scsi_rsp(w, 0x10, bad ? 1 : 0));
        return p;
    };
    expect_kept(*run(false), Rule::expdatasn_zero);
    expect_broken(*run(true), Rule::expdatasn_zero);
}

// 3720-9.2-autosense
BOOST_AUTO_TEST_CASE(autosense) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        Pkt r = scsi_rsp(w, 0x10, 0, 0x02);  // CHECK CONDITION
        if (!bad) r.data = sense_data();
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::autosense);
    expect_broken(*run(true), Rule::autosense);
}

// 3720-10.4-statsn-advances-per-status
BOOST_AUTO_TEST_CASE(statsn_per_status) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        const std::uint32_t sn = w.statsn;
        Pkt d = data_in(w, 0x10, 0, 0, filled(512, 0x11), F | S);  // status in the Data-In
        if (bad) d.be32(24, sn + 1);
        w.from_target(d);
        return p;
    };
    expect_kept(*run(false), Rule::statsn_per_status);
    expect_broken(*run(true), Rule::statsn_per_status);
}

// 3720-10.4-snack-tag-zero-without-snack
BOOST_AUTO_TEST_CASE(snack_tag_zero) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        Pkt r = scsi_rsp(w, 0x10);
        if (bad) r.be32(20, 7);  // a SNACK Tag, though no SNACK was sent (and ERL 0 has none)
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::snack_tag_zero);
    expect_broken(*run(true), Rule::snack_tag_zero);
}

// 3720-10.7-no-response-after-data-in-status
BOOST_AUTO_TEST_CASE(no_rsp_after_datain_status) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), bad ? F | S : F));
        w.from_target(scsi_rsp(w, 0x10, 1));
        return p;
    };
    expect_kept(*run(false), Rule::no_rsp_after_datain_status);
    // The response after the Data-In's status is a second status too.
    expect_broken(*run(true), Rule::no_rsp_after_datain_status, {Rule::response_once});
}

// ======================= more Data-In and R2T (RFC 3720 §10.7, §10.8) =======================

// 3720-10.7-datasn-starts-at-zero
BOOST_AUTO_TEST_CASE(datasn_from_zero) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_target(data_in(w, 0x10, bad ? 1 : 0, 0, filled(512, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::datasn_from_zero);
    expect_broken(*run(true), Rule::datasn_from_zero);
}

// 3720-10.7-datasn-increments-across-sequences
BOOST_AUTO_TEST_CASE(datasn_across_sequences) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, 0, filled(512, 0x11), F));  // F ends the first sequence
        w.from_target(data_in(w, 0x10, bad ? 0 : 1, 512, filled(512, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::datasn_across_sequences);
    expect_broken(*run(true), Rule::datasn_across_sequences);
}

// 3720-10.7-data-sequences-in-order
BOOST_AUTO_TEST_CASE(data_sequences_in_order) {
    auto run = [](bool bad) {
        // PDUs may come in any order within a sequence; sequences may not.
        const Keys order{{"DataPDUInOrder", "No"}};
        auto p = logged_in(order, order);
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 1024));
        w.from_target(data_in(w, 0x10, 0, bad ? 512 : 0, filled(512, 0x11), F));
        w.from_target(data_in(w, 0x10, 1, bad ? 0 : 512, filled(512, 0x11), F | S));
        return p;
    };
    expect_kept(*run(false), Rule::data_sequences_in_order);
    expect_broken(*run(true), Rule::data_sequences_in_order);
}

// 3720-10.8-r2t-ranges-in-order
BOOST_AUTO_TEST_CASE(r2t_ranges_in_order) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1536));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 512));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, 0, filled(512, 0x22), true));
        w.from_target(r2t_pdu(w, 0x10, 0x101, 1, bad ? 1024 : 512, 512));  // the bad one leaves a gap
        return p;
    };
    expect_kept(*run(false), Rule::r2t_ranges_in_order);
    expect_broken(*run(true), Rule::r2t_ranges_in_order);
}

// 3720-12.19-sequences-non-decreasing
BOOST_AUTO_TEST_CASE(sequences_non_decreasing) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const std::uint32_t first = bad ? 512 : 0, second = bad ? 0 : 512;  // the bad R2Ts go back
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, first, 512));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, first, filled(512, 0x22), true));
        w.from_target(r2t_pdu(w, 0x10, 0x101, 1, second, 512));
        return p;
    };
    expect_kept(*run(false), Rule::sequences_non_decreasing);
    expect_broken(*run(true), Rule::sequences_non_decreasing);
}

// 3720-10.8-final-bit-set
BOOST_AUTO_TEST_CASE(r2t_final) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        Pkt r = r2t_pdu(w, 0x10, 0x100, 0, 0, 512);
        if (bad) r.flags(0);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::r2t_final);
    expect_broken(*run(true), Rule::r2t_final);
}

// 3720-10.8-no-ahs-or-data
BOOST_AUTO_TEST_CASE(r2t_no_data) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        Pkt r = r2t_pdu(w, 0x10, 0x100, 0, 0, 512);
        if (bad) r.data = filled(4, 0);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::r2t_no_data);
    expect_broken(*run(true), Rule::r2t_no_data);
}

// 3720-10.8-ddtl-nonzero
BOOST_AUTO_TEST_CASE(r2t_ddtl_nonzero) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, bad ? 0 : 512));
        return p;
    };
    expect_kept(*run(false), Rule::r2t_ddtl_nonzero);
    expect_broken(*run(true), Rule::r2t_ddtl_nonzero);
}

// 3720-3.2-r2tsn-from-zero
BOOST_AUTO_TEST_CASE(r2tsn_from_zero) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 512));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, 0, filled(512, 0x22), true));
        w.from_target(r2t_pdu(w, 0x10, 0x101, bad ? 2 : 1, 512, 512));
        return p;
    };
    expect_kept(*run(false), Rule::r2tsn_from_zero);
    expect_broken(*run(true), Rule::r2tsn_from_zero);
}

// ======================= more Data-Out and SCSI Command (RFC 3720 §3.2, §10.3, §10.7) =======================

// 3720-10.8-answer-ends-with-final
BOOST_AUTO_TEST_CASE(dataout_final) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 1024));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, 0, filled(512, 0x22), false));
        w.from_initiator(data_out(w, 0x10, 0x100, 1, 512, filled(512, 0x22), !bad));  // completes the range
        return p;
    };
    expect_kept(*run(false), Rule::dataout_final);
    expect_broken(*run(true), Rule::dataout_final);
}

// 3720-3.2-initiator-honours-r2t
BOOST_AUTO_TEST_CASE(honours_r2t) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 1024));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, 0, filled(bad ? 512 : 1024, 0x22), true));
        return p;
    };
    expect_kept(*run(false), Rule::honours_r2t);
    expect_broken(*run(true), Rule::honours_r2t);
}

// 3720-3.2-dataout-datasn-per-sequence
BOOST_AUTO_TEST_CASE(dataout_datasn_per_sequence) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 512));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, 0, filled(512, 0x22), true));
        w.from_target(r2t_pdu(w, 0x10, 0x101, 1, 512, 512));
        w.from_initiator(data_out(w, 0x10, 0x101, bad ? 1 : 0, 512, filled(512, 0x22), true));  // a new sequence
        w.from_target(scsi_rsp(w, 0x10));
        return p;
    };
    expect_kept(*run(false), Rule::dataout_datasn_per_sequence);
    expect_broken(*run(true), Rule::dataout_datasn_per_sequence);
}

// 3720-12.18-data-pdus-in-order
BOOST_AUTO_TEST_CASE(data_pdus_in_order) {
    auto run = [](bool bad) {
        auto p = logged_in();  // DataPDUInOrder=Yes (the default)
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 1024));
        w.from_initiator(data_out(w, 0x10, 0x100, 0, bad ? 512 : 0, filled(512, 0x22), false));
        w.from_initiator(data_out(w, 0x10, 0x100, 1, bad ? 0 : 512, filled(512, 0x22), true));
        return p;
    };
    expect_kept(*run(false), Rule::data_pdus_in_order);
    expect_broken(*run(true), Rule::data_pdus_in_order);
}

const Keys NO_INITIAL_R2T{{"InitialR2T", "No"}};

// 3720-3.2-unsolicited-total-first-burst
BOOST_AUTO_TEST_CASE(unsolicited_total) {
    auto run = [](bool bad) {
        auto p = logged_in(NO_INITIAL_R2T, NO_INITIAL_R2T);
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024, {}, false));  // unsolicited Data-Out follows
        w.from_initiator(data_out(w, 0x10, NO_TAG, 0, 0, filled(bad ? 512 : 1024, 0x22), true));
        return p;
    };
    expect_kept(*run(false), Rule::unsolicited_total);
    expect_broken(*run(true), Rule::unsolicited_total);
}

// 3720-10.3-unsolicited-burst-all-or-immediate-only
BOOST_AUTO_TEST_CASE(unsolicited_all_or_immediate) {
    auto run = [](bool bad) {
        auto p = logged_in(NO_INITIAL_R2T, NO_INITIAL_R2T);
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 1024, filled(512, 0x22), false));  // immediate data, then more
        w.from_initiator(data_out(w, 0x10, NO_TAG, 0, 512, filled(bad ? 256 : 512, 0x22), true));
        return p;
    };
    expect_kept(*run(false), Rule::unsolicited_all_or_immediate);
    expect_broken(*run(true), Rule::unsolicited_all_or_immediate);
}

// 3720-10.3-f-set-when-immediate-data-completes-write
BOOST_AUTO_TEST_CASE(f_when_immediate_complete) {
    auto run = [](bool bad) {
        auto p = logged_in(NO_INITIAL_R2T, NO_INITIAL_R2T);  // F=0 alone would be allowed
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, W, 512, filled(512, 0x22), !bad));
        return p;
    };
    expect_kept(*run(false), Rule::f_when_immediate_complete);
    expect_broken(*run(true), Rule::f_when_immediate_complete);
}

// 3720-10.3-w-and-f-not-both-clear
BOOST_AUTO_TEST_CASE(w_or_f) {
    auto run = [](bool bad) {
        auto p = logged_in(NO_INITIAL_R2T, NO_INITIAL_R2T);
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512, {}, !bad));
        return p;
    };
    expect_kept(*run(false), Rule::w_or_f);
    expect_broken(*run(true), Rule::w_or_f);
}

// 3720-10.3-direction-bit-when-data-expected
BOOST_AUTO_TEST_CASE(direction_bit) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, bad ? 0 : R, 512));
        return p;
    };
    expect_kept(*run(false), Rule::direction_bit);
    expect_broken(*run(true), Rule::direction_bit);
}

// 3720-10.2-itt-unique-while-task-exists
BOOST_AUTO_TEST_CASE(itt_unique) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));
        w.from_initiator(scsi_cmd(w, bad ? 0x10 : 0x11, 0, 0));  // task 0x10 is still open
        return p;
    };
    expect_kept(*run(false), Rule::itt_unique);
    expect_broken(*run(true), Rule::itt_unique);
}

// ======================= more task management (RFC 3720 §10.5, §10.6) =======================

// 3720-10.6-final-bit-set
BOOST_AUTO_TEST_CASE(tmf_final) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_initiator(tmf_req(w, 0x50, ABORT_TASK, 0x10));
        Pkt r = tmf_rsp(w, 0x50, 0);
        if (bad) r.flags(0);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::tmf_final);
    expect_broken(*run(true), Rule::tmf_final);
}

// 3720-10.6-no-ahs-or-data
BOOST_AUTO_TEST_CASE(tmf_no_data) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_initiator(tmf_req(w, 0x50, ABORT_TASK, 0x10));
        Pkt r = tmf_rsp(w, 0x50, 0);
        if (bad) r.data = filled(4, 0);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::tmf_no_data);
    expect_broken(*run(true), Rule::tmf_no_data);
}

// 3720-10.5-refcmdsn-for-queued-task
BOOST_AUTO_TEST_CASE(refcmdsn_queued) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));               // CmdSN 1
        Pkt t = tmf_req(w, 0x50, ABORT_TASK, 0x10);                // RefCmdSN 1
        if (bad) t.be32(32, 7);
        w.from_initiator(t);
        w.from_target(tmf_rsp(w, 0x50, 0));
        return p;
    };
    expect_kept(*run(false), Rule::refcmdsn_queued);
    expect_broken(*run(true), Rule::refcmdsn_queued);
}

// 3720-10.5-refcmdsn-for-immediate-task
BOOST_AUTO_TEST_CASE(refcmdsn_immediate) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(imm_cmd(w, 0x10, R, 512));                // immediate: CmdSN 1, not taken
        Pkt t = tmf_req(w, 0x50, ABORT_TASK, 0x10);                // CmdSN 1, RefCmdSN 1: its own
        if (bad) t.be32(32, 0);
        w.from_initiator(t);
        w.from_target(tmf_rsp(w, 0x50, 0));
        return p;
    };
    expect_kept(*run(false), Rule::refcmdsn_immediate);
    expect_broken(*run(true), Rule::refcmdsn_immediate);
}

// 3720-10.5-abort-of-tmf-rejected
BOOST_AUTO_TEST_CASE(abort_of_tmf) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_initiator(tmf_req(w, 0x50, ABORT_TASK, 0x10));
        w.from_initiator(tmf_req(w, 0x51, ABORT_TASK, 0x50));      // aborts the TMF itself
        w.from_target(tmf_rsp(w, 0x51, bad ? 0 : 255));
        w.from_target(tmf_rsp(w, 0x50, 0));
        return p;
    };
    expect_kept(*run(false), Rule::abort_of_tmf);
    expect_broken(*run(true), Rule::abort_of_tmf);
}

// 3720-10.6-abort-task-live-task-complete
BOOST_AUTO_TEST_CASE(abort_live) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, R, 512));
        w.from_initiator(tmf_req(w, 0x50, ABORT_TASK, 0x10));
        w.from_target(tmf_rsp(w, 0x50, bad ? 1 : 0));  // 1: task does not exist, yet it is open
        return p;
    };
    expect_kept(*run(false), Rule::abort_live);
    expect_broken(*run(true), Rule::abort_live);
}

// ======================= more NOP (RFC 3720 §10.18, §10.19) =======================

// 3720-10.19-nopin-ttt-reserved-in-reply
BOOST_AUTO_TEST_CASE(nopin_ttt_reply) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30));
        w.from_target(nop_in(w, 0x30, bad ? 0x99 : NO_TAG));
        return p;
    };
    expect_kept(*run(false), Rule::nopin_ttt_reply);
    expect_broken(*run(true), Rule::nopin_ttt_reply);
}

// 3720-10.19-unsolicited-nopin-statsn-not-advanced
BOOST_AUTO_TEST_CASE(nopin_unsolicited_statsn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt n = nop_in(w, NO_TAG, 0x77);   // the target pings
        if (bad) n.be32(24, w.statsn + 1);
        w.from_target(n);
        return p;
    };
    expect_kept(*run(false), Rule::nopin_unsolicited_statsn);
    expect_broken(*run(true), Rule::nopin_unsolicited_statsn);
}

// 3720-10.19-nopin-reply-statsn-advances
BOOST_AUTO_TEST_CASE(nopin_reply_statsn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(nop_out(w, 0x30));
        w.from_initiator(nop_out(w, 0x31));
        w.from_target(nop_in(w, 0x30));
        Pkt n = nop_in(w, 0x31);
        if (bad) n.be32(24, w.statsn - 2);  // the StatSN of the first answer again
        w.from_target(n);
        return p;
    };
    expect_kept(*run(false), Rule::nopin_reply_statsn);
    expect_broken(*run(true), Rule::nopin_reply_statsn);
}

// 3720-10.18-nopout-copies-lun
BOOST_AUTO_TEST_CASE(nopout_lun) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt ping = nop_in(w, NO_TAG, 0x77);
        ping.u8(9, 0x01);                  // LUN 1
        w.from_target(ping);
        Pkt answer = nop_out(w, NO_TAG, 0x77);
        if (!bad) answer.u8(9, 0x01);
        w.from_initiator(answer);
        return p;
    };
    expect_kept(*run(false), Rule::nopout_lun);
    expect_broken(*run(true), Rule::nopout_lun);
}

// ======================= more text (RFC 3720 §5.4, §10.10, §10.11) =======================

// SendTargets=All cut in two Text Requests with C (RFC 3720 §5.1, §10.10.2).
Bytes send_targets_part(int part) {
    const Bytes all = keys_data(SEND_TARGETS);
    return part == 0 ? Bytes(all.begin(), all.begin() + 8) : Bytes(all.begin() + 8, all.end());
}

// 3720-10.11-text-not-final-ttt-valid
BOOST_AUTO_TEST_CASE(text_not_final_ttt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        w.from_target(text_rsp(w, 0x20, 0, {TARGETS[0]}, bad ? NO_TAG : 0x77));  // more to come
        return p;
    };
    expect_kept(*run(false), Rule::text_not_final_ttt);
    expect_broken(*run(true), Rule::text_not_final_ttt);
}

// 3720-5.4-ttt-when-not-final
BOOST_AUTO_TEST_CASE(text_ttt_when_not_final) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        w.from_target(text_rsp(w, 0x20, 0, {TARGETS[0]}, bad ? NO_TAG : 0x77));
        if (!bad) {
            w.from_initiator(text_req(w, 0x20, F, {}, 0x77));
            w.from_target(text_rsp(w, 0x20, F, {TARGETS[1]}));
        }
        return p;
    };
    expect_kept(*run(false), Rule::text_ttt_when_not_final);
    expect_broken(*run(true), Rule::text_ttt_when_not_final);
}

// 3720-10.11-text-final-only-for-final-request
BOOST_AUTO_TEST_CASE(text_final_for_final) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, 0, SEND_TARGETS));  // F=0: more requests follow
        if (bad) {
            w.from_target(text_rsp(w, 0x20, F, TARGETS));
        } else {
            w.from_target(text_rsp(w, 0x20, 0, {}, 0x77));
            w.from_initiator(text_req(w, 0x20, F, {}, 0x77));
            w.from_target(text_rsp(w, 0x20, F, TARGETS));
        }
        return p;
    };
    expect_kept(*run(false), Rule::text_final_for_final);
    expect_broken(*run(true), Rule::text_final_for_final);
}

// 3720-10.10-one-outstanding-text-request
BOOST_AUTO_TEST_CASE(text_one_outstanding) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        if (!bad) w.from_target(text_rsp(w, 0x20, F, TARGETS));
        w.from_initiator(text_req(w, 0x21, F, SEND_TARGETS));  // the bad one while 0x20 waits
        return p;
    };
    expect_kept(*run(false), Rule::text_one_outstanding);
    expect_broken(*run(true), Rule::text_one_outstanding);
}

// 3720-10.10-continue-implies-not-final
BOOST_AUTO_TEST_CASE(text_continue_not_final) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt first = text_req(w, 0x20, bad ? F | C : C, {});
        first.data = send_targets_part(0);
        w.from_initiator(first);
        w.from_target(text_rsp(w, 0x20, 0, {}, 0x77));          // empty: go on
        Pkt second = text_req(w, 0x20, F, {}, 0x77);
        second.data = send_targets_part(1);
        w.from_initiator(second);
        w.from_target(text_rsp(w, 0x20, F, TARGETS));
        return p;
    };
    expect_kept(*run(false), Rule::text_continue_not_final);
    expect_broken(*run(true), Rule::text_continue_not_final);
}

// 3720-10.10-itt-constant-in-sequence
BOOST_AUTO_TEST_CASE(text_itt_constant) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        w.from_target(text_rsp(w, 0x20, 0, {TARGETS[0]}, 0x77));
        w.from_initiator(text_req(w, bad ? 0x21 : 0x20, F, {}, 0x77));
        return p;
    };
    expect_kept(*run(false), Rule::text_itt_constant);
    // Under another ITT the continuation copies no TTT of its own exchange, and is a
    // second request while the first exchange is still open.
    expect_broken(*run(true), Rule::text_itt_constant, {Rule::text_ttt_echo, Rule::text_one_outstanding});
}

// 3720-5.2-answer-continue-with-empty (a Text Request with C)
BOOST_AUTO_TEST_CASE(answer_continue_empty) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt first = text_req(w, 0x20, C, {});
        first.data = send_targets_part(0);
        w.from_initiator(first);
        w.from_target(text_rsp(w, 0x20, 0, bad ? Keys{TARGETS[0]} : Keys{}, 0x77));
        Pkt second = text_req(w, 0x20, F, {}, 0x77);
        second.data = send_targets_part(1);
        w.from_initiator(second);
        w.from_target(text_rsp(w, 0x20, F, TARGETS));
        return p;
    };
    expect_kept(*run(false), Rule::answer_continue_empty);
    expect_broken(*run(true), Rule::answer_continue_empty);
}

// 3720-12.8-sendtargets-targetaddress-has-tpgt
BOOST_AUTO_TEST_CASE(sendtargets_address_tpgt) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(text_req(w, 0x20, F, SEND_TARGETS));
        w.from_target(text_rsp(w, 0x20, F, {TARGETS[0], {"TargetAddress", bad ? "192.0.2.1:3260" : "192.0.2.1:3260,1"}}));
        return p;
    };
    expect_kept(*run(false), Rule::sendtargets_address_tpgt);
    expect_broken(*run(true), Rule::sendtargets_address_tpgt);
}

// ======================= more login (RFC 3720 §5.3, §10.12, §10.13) =======================

// 3720-10.12-version-zero
BOOST_AUTO_TEST_CASE(version_zero) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());
        Pkt r = login_rsp();
        if (bad) r.u8(2, 1);  // Version-max 1 (Version-active stays 0)
        p->from_target(r.wire());
        return p;
    };
    expect_kept(*run(false), Rule::version_zero);
    expect_broken(*run(true), Rule::version_zero);
}

// 3720-10.12-version-same-across-requests
BOOST_AUTO_TEST_CASE(version_same) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login_two_step(*p, [&](Pkt& q) {
            if (bad) q.u8(2, 1);
        });
        return p;
    };
    expect_kept(*run(false), Rule::version_same);
    // Any version but 0 is one RFC 3720 does not define.
    expect_broken(*run(true), Rule::version_same, {Rule::version_zero});
}

// 3720-10.12-tsih-same-across-requests
BOOST_AUTO_TEST_CASE(tsih_same) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login_two_step(*p, [&](Pkt& q) {
            if (bad) q.be16(14, SESSION_TSIH);
        });
        return p;
    };
    expect_kept(*run(false), Rule::tsih_same);
    expect_broken(*run(true), Rule::tsih_same);
}

// 3720-10.12-cid-same-across-requests
BOOST_AUTO_TEST_CASE(cid_same) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login_two_step(*p, [&](Pkt& q) {
            if (bad) q.be16(20, 1);
        });
        return p;
    };
    expect_kept(*run(false), Rule::cid_same);
    expect_broken(*run(true), Rule::cid_same);
}

// 3720-10.12-leading-login-cmdsn-sets-expcmdsn
BOOST_AUTO_TEST_CASE(leading_expcmdsn) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());  // TSIH 0, CmdSN 1
        Pkt r = login_rsp();
        if (bad) r.be32(28, 2);
        p->from_target(r.wire());
        return p;
    };
    expect_kept(*run(false), Rule::leading_expcmdsn);
    expect_broken(*run(true), Rule::leading_expcmdsn);
}

// 3720-10.13-version-max-constant
BOOST_AUTO_TEST_CASE(version_max_constant) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login_two_step(*p, {}, [&](Pkt& r) {
            if (bad) r.u8(2, 1);
        });
        return p;
    };
    expect_kept(*run(false), Rule::version_max_constant);
    expect_broken(*run(true), Rule::version_max_constant, {Rule::version_zero});
}

// 3720-10.13-version-active-constant
BOOST_AUTO_TEST_CASE(version_active_constant) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login_two_step(*p, {}, [&](Pkt& r) {
            if (bad) r.u8(3, 1);
        });
        return p;
    };
    expect_kept(*run(false), Rule::version_active_constant);
    // The requests offer only version 0, so an active 1 is out of their range too.
    expect_broken(*run(true), Rule::version_active_constant, {Rule::login_rsp_version});
}

// 3720-10.13-new-session-tsih-nonzero-in-final
BOOST_AUTO_TEST_CASE(tsih_nonzero_final) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login_two_step(*p, {}, [&](Pkt& r) {
            if (bad) r.be16(14, 0);
        });
        return p;
    };
    expect_kept(*run(false), Rule::tsih_nonzero_final);
    expect_broken(*run(true), Rule::tsih_nonzero_final);
}

// 3720-5.3-tsih-with-ffp-transition (a connection added to an existing session)
BOOST_AUTO_TEST_CASE(tsih_with_ffp) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req({}, LOGIN_FINAL, SESSION_TSIH).wire());
        p->from_target(login_rsp({}, LOGIN_FINAL, bad ? 0 : SESSION_TSIH).wire());
        return p;
    };
    expect_kept(*run(false), Rule::tsih_with_ffp);
    // TSIH 0 is not the request's TSIH either.
    expect_broken(*run(true), Rule::tsih_with_ffp, {Rule::login_tsih_echo});
}

// A redirection (status class 1, RFC 3720 §10.13.5) with the given keys.
Pkt redirect(const Keys& k) {
    Pkt r = login_error(1, 0x01);  // target moved temporarily
    r.data = keys_data(k);
    return r;
}

// 3720-10.13-redirect-has-targetaddress
BOOST_AUTO_TEST_CASE(redirect_address) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());
        p->from_target(redirect(bad ? Keys{} : Keys{{"TargetAddress", "192.0.2.2:3260"}}).wire());
        p->finish();
        return p;
    };
    expect_kept(*run(false), Rule::redirect_address);
    expect_broken(*run(true), Rule::redirect_address);
}

// 3720-12.8-redirect-targetaddress-no-tpgt
BOOST_AUTO_TEST_CASE(redirect_address_no_tpgt) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());
        p->from_target(redirect({{"TargetAddress", bad ? "192.0.2.2:3260,1" : "192.0.2.2:3260"}}).wire());
        p->finish();
        return p;
    };
    expect_kept(*run(false), Rule::redirect_address_no_tpgt);
    expect_broken(*run(true), Rule::redirect_address_no_tpgt);
}

// 3720-10.13-continue-not-transit
BOOST_AUTO_TEST_CASE(rsp_continue_not_transit) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());
        p->from_target(login_rsp({}, bad ? 0xc7 : LOGIN_FINAL).wire());
        return p;
    };
    expect_kept(*run(false), Rule::rsp_continue_not_transit);
    expect_broken(*run(true), Rule::rsp_continue_not_transit);
}

// 3720-10.12-login-continue-not-transit
BOOST_AUTO_TEST_CASE(req_continue_not_transit) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req({}, bad ? 0xc7 : LOGIN_FINAL).wire());
        p->from_target(login_rsp().wire());
        return p;
    };
    expect_kept(*run(false), Rule::req_continue_not_transit);
    expect_broken(*run(true), Rule::req_continue_not_transit);
}

// 3720-10.13-failed-login-closes-connection (the initiator's side of it)
BOOST_AUTO_TEST_CASE(failed_login_closes) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        w.from_initiator(login_req().wire());
        w.from_target(login_error(2, 0x01).wire());  // authentication failure
        if (bad) w.from_initiator(login_req().wire());
        w.finish();
        return p;
    };
    expect_kept(*run(false), Rule::failed_login_closes);
    expect_broken(*run(true), Rule::failed_login_closes);
}

// 3720-5.3-final-accept-shape
BOOST_AUTO_TEST_CASE(final_accept_shape) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        // Security to full feature (T=1 CSG=0 NSG=3); the bad request asks only for NSG 1.
        p->from_initiator(login_req({}, bad ? 0x81 : 0x83).wire());
        p->from_target(login_rsp({}, 0x83).wire());
        return p;
    };
    expect_kept(*run(false), Rule::final_accept_shape);
    expect_broken(*run(true), Rule::final_accept_shape);
}

// 3720-5.3-stage-transitions
BOOST_AUTO_TEST_CASE(stage_transitions) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        p->from_initiator(login_req().wire());  // T=1 CSG=1 NSG=3
        // The bad response moves to stage 2, which RFC 3720 §10.12.3 reserves (no TSIH:
        // it is not the final response).
        p->from_target(login_rsp({}, bad ? 0x86 : LOGIN_FINAL, bad ? 0 : SESSION_TSIH).wire());
        return p;
    };
    expect_kept(*run(false), Rule::stage_transitions);
    expect_broken(*run(true), Rule::stage_transitions);
}

// 3720-5.3-tpgt-first-response
BOOST_AUTO_TEST_CASE(tpgt_first_response) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        w.from_initiator(login_req({}, 0x04).wire());                            // T=0 CSG=1
        w.from_target(login_rsp({}, 0x04, 0, LOGIN_STATSN, !bad).wire());
        Pkt q = login_req({}, LOGIN_FINAL);
        q.data.clear();
        w.from_initiator(q.wire());
        // The bad target names its portal group only in the second response.
        w.from_target(login_rsp({}, LOGIN_FINAL, SESSION_TSIH, LOGIN_STATSN + 1, bad).wire());
        return p;
    };
    expect_kept(*run(false), Rule::tpgt_first_response);
    expect_broken(*run(true), Rule::tpgt_first_response);
}

// 3720-5.2-initiator-answers-continue-with-empty
BOOST_AUTO_TEST_CASE(initiator_continue_empty) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        const Bytes tag = keys_data({{"TargetPortalGroupTag", "1"}});
        w.from_initiator(login_req({}, 0x04).wire());                 // T=0 CSG=1
        Pkt r1 = login_rsp({}, 0x44, 0, LOGIN_STATSN, false);          // C=1: its text goes on
        r1.data.assign(tag.begin(), tag.begin() + 10);
        w.from_target(r1.wire());
        Pkt q2 = login_req({}, 0x04);
        q2.data = bad ? keys_data({{"InitiatorAlias", "host"}}) : Bytes{};
        w.from_initiator(q2.wire());
        Pkt r2 = login_rsp({}, 0x04, 0, LOGIN_STATSN + 1, false);
        r2.data.assign(tag.begin() + 10, tag.end());
        w.from_target(r2.wire());
        Pkt q3 = login_req({}, LOGIN_FINAL);
        q3.data.clear();
        w.from_initiator(q3.wire());
        w.from_target(login_rsp({}, LOGIN_FINAL, SESSION_TSIH, LOGIN_STATSN + 2, false).wire());
        return p;
    };
    expect_kept(*run(false), Rule::initiator_continue_empty);
    expect_broken(*run(true), Rule::initiator_continue_empty);
}

// The first Login Request with only the given keys.
WireP login_with_keys(const Keys& k) {
    auto p = std::make_unique<Wire>();
    Pkt q = login_req();
    q.data = keys_data(k);
    p->from_initiator(q.wire());
    p->from_target(login_rsp().wire());
    return p;
}

const std::pair<std::string, std::string> INITIATOR_NAME{"InitiatorName", "iqn.2024-01.org.example:initiator"};
const std::pair<std::string, std::string> TARGET_NAME{"TargetName", "iqn.2024-01.org.example:disk0"};
const std::pair<std::string, std::string> NORMAL{"SessionType", "Normal"};

// 3720-5.3-initiatorname-first
BOOST_AUTO_TEST_CASE(initiatorname_first) {
    expect_kept(*login_with_keys({INITIATOR_NAME, TARGET_NAME, NORMAL}), Rule::initiatorname_first);
    expect_broken(*login_with_keys({TARGET_NAME, NORMAL}), Rule::initiatorname_first);
}

// 3720-12.5-initiatorname-in-first-login
BOOST_AUTO_TEST_CASE(initiatorname_first_12) {
    // SessionType may be left out: Normal is its default.
    expect_kept(*login_with_keys({INITIATOR_NAME, TARGET_NAME}), Rule::initiatorname_first_12);
    expect_broken(*login_with_keys({TARGET_NAME}), Rule::initiatorname_first_12);
}

// 3720-5.3-targetname-first
BOOST_AUTO_TEST_CASE(targetname_first) {
    expect_kept(*login_with_keys({INITIATOR_NAME, TARGET_NAME, NORMAL}), Rule::targetname_first);
    expect_broken(*login_with_keys({INITIATOR_NAME, NORMAL}), Rule::targetname_first);
}

// 3720-12.4-targetname-in-first-login
BOOST_AUTO_TEST_CASE(targetname_first_12) {
    expect_kept(*login_with_keys({INITIATOR_NAME, TARGET_NAME}), Rule::targetname_first_12);
    expect_broken(*login_with_keys({INITIATOR_NAME}), Rule::targetname_first_12);
}

// 3720-12.4-target-sends-targetname-only-for-sendtargets
BOOST_AUTO_TEST_CASE(target_no_targetname) {
    const Keys none{};
    expect_kept(*logged_in(none, Keys{{"TargetAlias", "disk0"}}), Rule::target_no_targetname);
    expect_broken(*logged_in(none, Keys{TARGET_NAME}), Rule::target_no_targetname);
}

// 3720-12.6-targetalias-target-only
BOOST_AUTO_TEST_CASE(initiator_no_targetalias) {
    expect_kept(*logged_in({{"InitiatorAlias", "host"}}, Keys{}), Rule::initiator_no_targetalias);
    expect_broken(*logged_in({{"TargetAlias", "disk0"}}, Keys{}), Rule::initiator_no_targetalias);
}

// 3720-12.8-targetaddress-target-only
BOOST_AUTO_TEST_CASE(initiator_no_targetaddress) {
    expect_kept(*logged_in({{"InitiatorAlias", "host"}}, Keys{}), Rule::initiator_no_targetaddress);
    expect_broken(*logged_in({{"TargetAddress", "192.0.2.1:3260,1"}}, Keys{}), Rule::initiator_no_targetaddress);
}

// 3720-12.9-tpgt-target-only
BOOST_AUTO_TEST_CASE(initiator_no_tpgt) {
    expect_kept(*logged_in({{"InitiatorAlias", "host"}}, Keys{}), Rule::initiator_no_tpgt);
    expect_broken(*logged_in({{"TargetPortalGroupTag", "1"}}, Keys{}), Rule::initiator_no_tpgt);
}

// 3720-12.3-sendtargets-text-only
BOOST_AUTO_TEST_CASE(sendtargets_text_only) {
    expect_kept(*logged_in({{"InitiatorAlias", "host"}}, Keys{}), Rule::sendtargets_text_only);
    expect_broken(*logged_in({{"SendTargets", "All"}}, Keys{}), Rule::sendtargets_text_only);
}

// 3720-12.5-initiatorname-not-redeclared
BOOST_AUTO_TEST_CASE(initiatorname_once) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login_two_step(*p, [&](Pkt& q) {
            if (bad) q.data = keys_data({INITIATOR_NAME});
        });
        return p;
    };
    expect_kept(*run(false), Rule::initiatorname_once);
    expect_broken(*run(true), Rule::initiatorname_once);
}

// 3720-12.4-targetname-not-redeclared
BOOST_AUTO_TEST_CASE(targetname_once) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login_two_step(*p, [&](Pkt& q) {
            if (bad) q.data = keys_data({TARGET_NAME});
        });
        return p;
    };
    expect_kept(*run(false), Rule::targetname_once);
    expect_broken(*run(true), Rule::targetname_once);
}

// ======================= more keys (RFC 3720 §5.1, §5.2, §6.1, §11, §12) =======================

// 3720-12.2-maxconnections-minimum
BOOST_AUTO_TEST_CASE(key_maxconnections) {
    const Keys offer{{"MaxConnections", "1"}};
    expect_kept(*logged_in(offer, offer), Rule::key_maxconnections);
    expect_broken(*logged_in(offer, Keys{{"MaxConnections", "2"}}), Rule::key_maxconnections);
}

// 3720-12.10-initialr2t-or
BOOST_AUTO_TEST_CASE(key_initialr2t) {
    const Keys offer{{"InitialR2T", "Yes"}};
    expect_kept(*logged_in(offer, offer), Rule::key_initialr2t);
    expect_broken(*logged_in(offer, Keys{{"InitialR2T", "No"}}), Rule::key_initialr2t);
}

// 3720-12.11-immediatedata-and
BOOST_AUTO_TEST_CASE(key_immediatedata) {
    const Keys offer{{"ImmediateData", "No"}};
    expect_kept(*logged_in(offer, offer), Rule::key_immediatedata);
    expect_broken(*logged_in(offer, Keys{{"ImmediateData", "Yes"}}), Rule::key_immediatedata);
}

// 3720-12.13-maxburstlength-minimum
BOOST_AUTO_TEST_CASE(key_maxburst) {
    const Keys offer{{"MaxBurstLength", "131072"}};  // never below FirstBurstLength (65536 by default)
    expect_kept(*logged_in(offer, Keys{{"MaxBurstLength", "65536"}}), Rule::key_maxburst);
    expect_broken(*logged_in(offer, Keys{{"MaxBurstLength", "262144"}}), Rule::key_maxburst);
}

// 3720-12.14-firstburstlength-minimum
BOOST_AUTO_TEST_CASE(key_firstburst) {
    const Keys offer{{"FirstBurstLength", "65536"}};
    expect_kept(*logged_in(offer, Keys{{"FirstBurstLength", "16384"}}), Rule::key_firstburst);
    expect_broken(*logged_in(offer, Keys{{"FirstBurstLength", "131072"}}), Rule::key_firstburst);
}

// 3720-12.16-defaulttime2retain-minimum
BOOST_AUTO_TEST_CASE(key_time2retain) {
    const Keys offer{{"DefaultTime2Retain", "20"}};
    expect_kept(*logged_in(offer, Keys{{"DefaultTime2Retain", "0"}}), Rule::key_time2retain);
    expect_broken(*logged_in(offer, Keys{{"DefaultTime2Retain", "30"}}), Rule::key_time2retain);
}

// 3720-12.17-maxoutstandingr2t-minimum
BOOST_AUTO_TEST_CASE(key_maxoutstandingr2t) {
    const Keys offer{{"MaxOutstandingR2T", "1"}};
    expect_kept(*logged_in(offer, offer), Rule::key_maxoutstandingr2t);
    expect_broken(*logged_in(offer, Keys{{"MaxOutstandingR2T", "2"}}), Rule::key_maxoutstandingr2t);
}

// 3720-12.18-datapduinorder-or
BOOST_AUTO_TEST_CASE(key_datapduinorder) {
    const Keys offer{{"DataPDUInOrder", "Yes"}};
    expect_kept(*logged_in(offer, offer), Rule::key_datapduinorder);
    expect_broken(*logged_in(offer, Keys{{"DataPDUInOrder", "No"}}), Rule::key_datapduinorder);
}

// 3720-12.19-datasequenceinorder-or
BOOST_AUTO_TEST_CASE(key_datasequenceinorder) {
    const Keys offer{{"DataSequenceInOrder", "Yes"}};
    expect_kept(*logged_in(offer, offer), Rule::key_datasequenceinorder);
    expect_broken(*logged_in(offer, Keys{{"DataSequenceInOrder", "No"}}), Rule::key_datasequenceinorder);
}

// 3720-12.20-errorrecoverylevel-minimum
BOOST_AUTO_TEST_CASE(key_erl) {
    const Keys offer{{"ErrorRecoveryLevel", "1"}};
    expect_kept(*logged_in(offer, offer), Rule::key_erl);
    expect_broken(*logged_in(offer, Keys{{"ErrorRecoveryLevel", "2"}}), Rule::key_erl);
}

// 3720-6.1-erl0-supported
BOOST_AUTO_TEST_CASE(erl0_supported) {
    const Keys offer{{"ErrorRecoveryLevel", "0"}};
    expect_kept(*logged_in(offer, offer), Rule::erl0_supported);
    expect_broken(*logged_in(offer, Keys{{"ErrorRecoveryLevel", "Reject"}}), Rule::erl0_supported);
}

// 3720-12.19-one-r2t-when-erl-and-sequence-order
BOOST_AUTO_TEST_CASE(one_r2t_erl) {
    const Keys good{{"ErrorRecoveryLevel", "1"}, {"MaxOutstandingR2T", "1"}};
    const Keys bad{{"ErrorRecoveryLevel", "1"}, {"MaxOutstandingR2T", "2"}};
    expect_kept(*logged_in(good, good), Rule::one_r2t_erl);
    expect_broken(*logged_in(bad, bad), Rule::one_r2t_erl);
}

// 3720-5.1-key-name-format
BOOST_AUTO_TEST_CASE(key_name_format) {
    auto run = [](const std::string& name) { return logged_in({{name, "3"}}, Keys{{name, "NotUnderstood"}}); };
    expect_kept(*run("FrobnicationLevel"), Rule::key_name_format);
    expect_broken(*run("Frob!Level"), Rule::key_name_format);
    expect_broken(*run("frobnicationLevel"), Rule::key_name_format);
}

// 3720-5.2-key-reserved-constants-not-proposed (a target's declaration)
BOOST_AUTO_TEST_CASE(reserved_constants_not_proposed) {
    const Keys offer{{"FrobnicationLevel", "3"}};
    auto answer = [](const char* alias) { return Keys{{"FrobnicationLevel", "NotUnderstood"}, {"TargetAlias", alias}}; };
    expect_kept(*logged_in(offer, answer("disk0")), Rule::reserved_constants_not_proposed);
    expect_broken(*logged_in(offer, answer("Irrelevant")), Rule::reserved_constants_not_proposed);
}

// 3720-5.2-reserved-constants (an initiator's offer)
BOOST_AUTO_TEST_CASE(reserved_constants) {
    const Keys answer{{"FrobnicationLevel", "NotUnderstood"}, {"MaxConnections", "1"}};
    auto offer = [](const char* v) { return Keys{{"FrobnicationLevel", "3"}, {"MaxConnections", v}}; };
    expect_kept(*logged_in(offer("1"), answer), Rule::reserved_constants);
    expect_broken(*logged_in(offer("Reject"), answer), Rule::reserved_constants);
}

// 3720-5.2-standard-keys-understood
BOOST_AUTO_TEST_CASE(standard_keys_understood) {
    const Keys offer{{"MaxConnections", "1"}};
    expect_kept(*logged_in(offer, offer), Rule::standard_keys_understood);
    expect_broken(*logged_in(offer, Keys{{"MaxConnections", "NotUnderstood"}}), Rule::standard_keys_understood);
}

// 3720-10.13-chapter12-keys-supported
BOOST_AUTO_TEST_CASE(chapter12_keys_supported) {
    const Keys offer{{"DefaultTime2Wait", "2"}};
    expect_kept(*logged_in(offer, offer), Rule::chapter12_keys_supported);
    expect_broken(*logged_in(offer, Keys{{"DefaultTime2Wait", "NotUnderstood"}}), Rule::chapter12_keys_supported);
}

// 3720-5.2-notunderstood-answer
BOOST_AUTO_TEST_CASE(notunderstood_answer) {
    const Keys offer{{"FrobnicationLevel", "3"}};
    expect_kept(*logged_in(offer, Keys{{"FrobnicationLevel", "NotUnderstood"}}), Rule::notunderstood_answer);
    expect_broken(*logged_in(offer, Keys{{"FrobnicationLevel", "Irrelevant"}}), Rule::notunderstood_answer);
}

// 3720-5.2-boolean-answer-required
BOOST_AUTO_TEST_CASE(boolean_answer_required) {
    const Keys offer{{"InitialR2T", "No"}};  // OR offered No: the answer decides
    expect_kept(*logged_in(offer, offer), Rule::boolean_answer_required);
    expect_broken(*logged_in(offer, Keys{}), Rule::boolean_answer_required, {Rule::key_answered});
}

// 3720-5.2-none-only-if-offered
BOOST_AUTO_TEST_CASE(none_only_if_offered) {
    const Keys answer{{"HeaderDigest", "None"}};
    expect_kept(*logged_in({{"HeaderDigest", "CRC32C,None"}}, answer), Rule::none_only_if_offered);
    // None is then also no value of the list offered.
    expect_broken(*logged_in({{"HeaderDigest", "CRC32C"}}, answer), Rule::none_only_if_offered, {Rule::key_list_choice});
}

// 3720-11.1-auth-keys-security-stage-only
BOOST_AUTO_TEST_CASE(auth_keys_security_stage) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        const Keys auth{{"AuthMethod", "None"}};
        const std::uint8_t flags = bad ? LOGIN_FINAL : 0x83;  // CSG 1 (operational) or 0 (security), NSG 3
        p->from_initiator(login_req(auth, flags).wire());
        p->from_target(login_rsp(auth, flags).wire());
        return p;
    };
    expect_kept(*run(false), Rule::auth_keys_security_stage);
    expect_broken(*run(true), Rule::auth_keys_security_stage);
}

// The target's CHAP challenge (RFC 3720 §11.1.4), StatSN LOGIN_STATSN + 1.
Pkt chap_challenge(const Keys& k) { return login_rsp(k, 0x00, 0, LOGIN_STATSN + 1, false); }
const std::pair<std::string, std::string> CHAP_I{"CHAP_I", "1"};
const std::pair<std::string, std::string> CHAP_C{"CHAP_C", "0x" + std::string(32, 'a')};

// 3720-11.1-chap-a-offers-md5
BOOST_AUTO_TEST_CASE(chap_md5_offered) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        chap_start(*p, bad ? "7" : "5");
        p->from_target(chap_challenge(bad ? Keys{{"CHAP_A", "Reject"}} : Keys{{"CHAP_A", "5"}, CHAP_I, CHAP_C}).wire());
        return p;
    };
    expect_kept(*run(false), Rule::chap_md5_offered);
    expect_broken(*run(true), Rule::chap_md5_offered);
}

// 3720-11.1-chap-algorithm-from-offer
BOOST_AUTO_TEST_CASE(chap_algorithm_offered) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        chap_start(*p, "5");
        p->from_target(chap_challenge({{"CHAP_A", bad ? "7" : "5"}, CHAP_I, CHAP_C}).wire());
        return p;
    };
    expect_kept(*run(false), Rule::chap_algorithm_offered);
    expect_broken(*run(true), Rule::chap_algorithm_offered);
}

// 3720-11.1-chap-target-sends-a-i-c
BOOST_AUTO_TEST_CASE(chap_aic) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        chap_start(*p, "5");
        Keys k{{"CHAP_A", "5"}, CHAP_I};
        if (!bad) k.push_back(CHAP_C);
        p->from_target(chap_challenge(k).wire());
        return p;
    };
    expect_kept(*run(false), Rule::chap_aic);
    expect_broken(*run(true), Rule::chap_aic);
}

// 3720-11.1-chap-binary-length-limit
BOOST_AUTO_TEST_CASE(chap_length) {
    auto run = [](std::size_t bytes) {
        auto p = std::make_unique<Wire>();
        chap_start(*p, "5");
        p->from_target(chap_challenge({{"CHAP_A", "5"}, CHAP_I, {"CHAP_C", "0x" + std::string(2 * bytes, 'b')}}).wire());
        return p;
    };
    expect_kept(*run(1024), Rule::chap_length);
    expect_broken(*run(1025), Rule::chap_length);
}

// 3720-12.22-extension-keys-normal-sessions-only
BOOST_AUTO_TEST_CASE(extension_normal_only) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        login(*p, {{"X-org.example.Frob", "1"}}, Keys{{"X-org.example.Frob", "NotUnderstood"}}, bad);  // bad: discovery
        return p;
    };
    expect_kept(*run(false), Rule::extension_normal_only);
    expect_broken(*run(true), Rule::extension_normal_only);
}

// 3720-12.22-extension-key-name-format
BOOST_AUTO_TEST_CASE(extension_name_format) {
    auto run = [](const std::string& name) { return logged_in({{name, "1"}}, Keys{{name, "NotUnderstood"}}); };
    expect_kept(*run("X-org.example.Frob"), Rule::extension_name_format);
    expect_kept(*run("X#org.example.Frob"), Rule::extension_name_format);
    expect_broken(*run("X-org.example!Frob"), Rule::extension_name_format);
}

// ======================= more logout (RFC 3720 §10.14, §10.15) =======================

// 3720-10.15-logout-response-no-data
BOOST_AUTO_TEST_CASE(logout_rsp_no_data) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(logout_req(w, 0x60));
        Pkt r = logout_rsp(w, 0x60);
        if (bad) r.data = filled(4, 0);
        w.from_target(r);
        return p;
    };
    expect_kept(*run(false), Rule::logout_rsp_no_data);
    expect_broken(*run(true), Rule::logout_rsp_no_data);
}

// 3720-10.14-logout-request-no-data
BOOST_AUTO_TEST_CASE(logout_req_no_data) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt q = logout_req(w, 0x60);
        if (bad) q.data = filled(4, 0);
        w.from_initiator(q);
        w.from_target(logout_rsp(w, 0x60));
        return p;
    };
    expect_kept(*run(false), Rule::logout_req_no_data);
    expect_broken(*run(true), Rule::logout_req_no_data);
}

// 3720-10.15-recovery-logout-below-erl2
BOOST_AUTO_TEST_CASE(recovery_logout) {
    auto run = [](bool bad) {
        auto p = logged_in();  // ErrorRecoveryLevel 0
        Wire& w = *p;
        Pkt q = logout_req(w, 0x60, 2);  // remove connection 5 for recovery
        q.be16(20, 5);
        w.from_initiator(q);
        w.from_target(logout_rsp(w, 0x60, bad ? 0 : 2));
        return p;
    };
    expect_kept(*run(false), Rule::recovery_logout);
    expect_broken(*run(true), Rule::recovery_logout);
}

// 3720-10.14-no-new-requests-after-logout
// Tallied only when broken (see response_once).
BOOST_AUTO_TEST_CASE(no_requests_after_logout) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        if (!bad) w.from_target(nop_in(w, NO_TAG, 0x77));  // the target pings
        w.from_initiator(logout_req(w, 0x60, 0));  // close the session
        if (bad) w.from_initiator(nop_out(w, NO_TAG));
        else w.from_initiator(nop_out(w, NO_TAG, 0x77));  // the answer to a target's ping asks nothing
        w.from_target(logout_rsp(w, 0x60, 0));
        w.finish();
        return p;
    };
    expect_quiet(*run(false), Rule::no_requests_after_logout);
    expect_broken(*run(true), Rule::no_requests_after_logout);
}

// ======================= more reject and async (RFC 3720 §10.9, §10.17) =======================

// 3720-10.17-reject-advances-statsn
BOOST_AUTO_TEST_CASE(reject_statsn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const Pkt c = scsi_cmd(w, 0x30, 0, 0);
        w.from_initiator(c);
        const std::uint32_t sn = w.statsn;
        Pkt r = reject_pdu(w, 0x09, header_of(c));
        if (bad) r.be32(24, sn + 1);
        w.from_target(r);
        w.from_initiator(nop_out(w, 0x31));
        w.from_target(nop_in(w, 0x31));  // the next status after the Reject
        return p;
    };
    expect_kept(*run(false), Rule::reject_statsn);
    expect_broken(*run(true), Rule::reject_statsn);
}

// 3720-10.9-advances-statsn
BOOST_AUTO_TEST_CASE(async_statsn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const std::uint32_t sn = w.statsn;
        Pkt a = async_pdu(w, 1);
        if (bad) a.be32(24, sn + 1);
        w.from_target(a);
        return p;
    };
    expect_kept(*run(false), Rule::async_statsn);
    expect_broken(*run(true), Rule::async_statsn);
}

// 3720-10.9-lun-and-vcode-reserved-otherwise
BOOST_AUTO_TEST_CASE(async_reserved) {
    auto run = [](std::uint8_t event, std::uint8_t lun, std::uint8_t vcode) {
        auto p = logged_in();
        Wire& w = *p;
        Pkt a = async_pdu(w, event);
        a.u8(9, lun).u8(37, vcode);
        w.from_target(a);
        return p;
    };
    expect_kept(*run(1, 0, 0), Rule::async_reserved);
    expect_kept(*run(0, 1, 0), Rule::async_reserved);     // a SCSI event names its LUN
    expect_kept(*run(255, 0, 9), Rule::async_reserved);   // a vendor event has its code
    expect_broken(*run(1, 1, 0), Rule::async_reserved);
    expect_broken(*run(1, 0, 9), Rule::async_reserved);
}

// ======================= more discovery (RFC 3720 §3.3) =======================

// 3720-3.3-discovery-rejects-others
BOOST_AUTO_TEST_CASE(discovery_rejects) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        login(w, {}, std::nullopt, true);  // a discovery session
        const Pkt c = scsi_cmd(w, 0x10, 0, 0);
        w.from_initiator(c);
        w.from_target(bad ? scsi_rsp(w, 0x10) : reject_pdu(w, 0x05, header_of(c)));  // command not supported
        return p;
    };
    expect_kept(*run(false), Rule::discovery_rejects);
    expect_broken(*run(true), Rule::discovery_rejects);
}

// 3720-3.3-discovery-only-sendtargets-logout
BOOST_AUTO_TEST_CASE(discovery_only) {
    auto run = [](bool bad) {
        auto p = std::make_unique<Wire>();
        Wire& w = *p;
        login(w, {}, std::nullopt, bad);  // the bad session is a discovery session
        w.from_initiator(scsi_cmd(w, 0x10, W, 512));
        w.from_target(r2t_pdu(w, 0x10, 0x100, 0, 0, 512));
        return p;
    };
    expect_kept(*run(false), Rule::discovery_only);
    expect_broken(*run(true), Rule::discovery_only);
}

// ======================= more CmdSN (RFC 3720 §3.2.2.1) =======================

// 3720-3.2-immediate-carries-current-cmdsn
BOOST_AUTO_TEST_CASE(immediate_cmdsn) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));  // CmdSN 1
        Pkt n = nop_out(w, NO_TAG);                 // immediate: CmdSN 2, not taken
        if (bad) n.be32(24, 3);
        w.from_initiator(n);
        return p;
    };
    expect_kept(*run(false), Rule::immediate_cmdsn);
    expect_broken(*run(true), Rule::immediate_cmdsn);
}

// 3720-3.2-initiator-sends-cmdsn-in-order
BOOST_AUTO_TEST_CASE(cmdsn_in_order) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        const Pkt a = scsi_cmd(w, 0x10, 0, 0);  // CmdSN 1
        const Pkt b = scsi_cmd(w, 0x11, 0, 0);  // CmdSN 2
        w.from_initiator(bad ? b : a);
        w.from_initiator(bad ? a : b);
        return p;
    };
    expect_kept(*run(false), Rule::cmdsn_in_order);
    expect_broken(*run(true), Rule::cmdsn_in_order);
}

// 3720-3.2-ignore-duplicate-cmdsn
BOOST_AUTO_TEST_CASE(duplicate_cmdsn_ignored) {
    auto run = [](bool bad) {
        auto p = logged_in();
        Wire& w = *p;
        w.from_initiator(scsi_cmd(w, 0x10, 0, 0));  // CmdSN 1
        Pkt dup = scsi_cmd(w, 0x11, 0, 0);          // CmdSN 2
        if (bad) {
            dup.be32(24, 1);                        // CmdSN 1 again, while task 0x10 is open
            w.cmdsn = 2;
        }
        w.from_initiator(dup);
        w.from_target(scsi_rsp(w, 0x10));
        w.from_target(scsi_rsp(w, 0x11));           // the bad target answers the duplicate
        return p;
    };
    expect_kept(*run(false), Rule::duplicate_cmdsn_ignored);
    // The duplicate is the initiator's fault first.
    expect_broken(*run(true), Rule::duplicate_cmdsn_ignored, {Rule::cmdsn_sequence, Rule::cmdsn_in_order});
}


// ======================= the framer and TCP reassembly =======================

// A PDU cut into three segments that arrive last first, the first overlapping the
// second, and then a retransmission across all three: decoded exactly once.
BOOST_AUTO_TEST_CASE(framer_reassembles_reordered_overlapping_segments) {
    Wire w;
    login(w);
    int nop_outs = 0;
    w.checker.on_pdu = [&](const ck::WireChecker::PduEvent& e) {
        if (e.from_initiator && e.pdu->opcode == ck::op::NOP_OUT) ++nop_outs;
    };
    const Bytes b = nop_out(w, 0x30, NO_TAG, filled(100, 0x42)).wire();
    BOOST_REQUIRE(b.size() == 148u);
    const std::uint32_t base = w.next_seq[0];
    auto part = [&](std::size_t from, std::size_t to) { return Bytes(b.begin() + from, b.begin() + to); };
    w.segment(true, base + 100, part(100, 148));  // the third part first
    w.segment(true, base + 50, part(50, 100));    // then the second
    BOOST_TEST(nop_outs == 0);
    w.segment(true, base, part(0, 60));           // then the first, overlapping the second
    BOOST_TEST(nop_outs == 1);
    w.segment(true, base + 40, part(40, 120));    // a retransmission
    w.next_seq[0] = base + 148;
    w.from_target(nop_in(w, 0x30, NO_TAG, filled(100, 0x42)));
    w.from_initiator(nop_out(w, 0x31));           // the stream goes on in step
    w.from_target(nop_in(w, 0x31));
    BOOST_TEST(nop_outs == 2);
    BOOST_TEST(tally(w, Rule::nopin_echo_data).exercised == 2u);
    BOOST_CHECK_MESSAGE(w.checker.violations().empty(), "unexpected violations:" << listing(w));
}

// A capture that begins mid-connection: no SYN, and each direction's first segment
// starts inside a data segment. The first whole BHS is found and the PDUs from there
// on are judged, without violations.
BOOST_AUTO_TEST_CASE(framer_finds_first_bhs_mid_connection) {
    Wire w(false);
    int pdus[2] = {0, 0};
    w.checker.on_pdu = [&](const ck::WireChecker::PduEvent& e) { ++pdus[e.from_initiator ? 0 : 1]; };
    w.cmdsn = 100;  // a session well under way
    w.statsn = 50;

    // Initiator: the last 37 bytes of an earlier Data-Out's data, then two commands.
    Bytes ib = filled(37, 0xAA);
    for (const Bytes& x : {scsi_cmd(w, 0x40, R, 512).wire(), scsi_cmd(w, 0x41, 0, 0).wire()})
        ib.insert(ib.end(), x.begin(), x.end());
    w.from_initiator(ib);
    // Target: the last 23 bytes of an earlier Data-In's data, then the answers.
    Bytes tb = filled(23, 0xAA);
    for (const Bytes& x : {data_in(w, 0x40, 0, 0, filled(512, 0x5a), F | S).wire(), scsi_rsp(w, 0x41).wire()})
        tb.insert(tb.end(), x.begin(), x.end());
    w.from_target(tb);
    // From here on in step.
    w.from_initiator(scsi_cmd(w, 0x42, R, 512));
    w.from_target(data_in(w, 0x42, 0, 0, filled(512, 0x5b), F | S));

    BOOST_TEST(pdus[0] == 3);
    BOOST_TEST(pdus[1] == 3);
    BOOST_TEST(tally(w, Rule::statsn_increment).exercised > 0u);
    BOOST_TEST(tally(w, Rule::response_known_task).exercised == 3u);
    BOOST_TEST(tally(w, Rule::residual_read).exercised == 2u);
    BOOST_CHECK_MESSAGE(w.checker.violations().empty(), "unexpected violations:" << listing(w));
    w.finish();
    BOOST_CHECK_MESSAGE(w.checker.violations().empty(), "unexpected violations:" << listing(w));
}

// A capture that begins between the Login Request and its final Login Response, each
// PDU in a segment of its own (as the first seconds of a live capture show). The
// response carries the target's own declarations, whose request was never seen; then a
// command and its status. Each PDU is judged as it arrives, in wire order (the status
// after its command), and nothing is found.
BOOST_AUTO_TEST_CASE(capture_beginning_inside_a_login_finds_nothing) {
    Wire w(false);
    std::string order;  // who sent what, in the order the checker judged it
    w.checker.on_pdu = [&](const ck::WireChecker::PduEvent& e) {
        order += std::string(e.from_initiator ? " I:" : " T:") + ck::opcode_name(e.pdu->opcode);
    };
    w.from_target(login_rsp({{"HeaderDigest", "None"}, {"MaxBurstLength", "262144"}, {"ErrorRecoveryLevel", "0"}},
                            LOGIN_FINAL, SESSION_TSIH, LOGIN_STATSN, true, w.window)
                      .wire());
    w.cmdsn = 1;
    w.statsn = LOGIN_STATSN + 1;
    w.from_initiator(scsi_cmd(w, 0x50, 0, 0));
    w.from_target(scsi_rsp(w, 0x50));
    w.from_initiator(scsi_cmd(w, 0x51, 0, 0));
    w.from_target(scsi_rsp(w, 0x51));
    const std::string expected = std::string(" T:") + ck::opcode_name(ck::op::LOGIN_RSP) + " I:" +
                                 ck::opcode_name(ck::op::SCSI_CMD) + " T:" + ck::opcode_name(ck::op::SCSI_RSP) + " I:" +
                                 ck::opcode_name(ck::op::SCSI_CMD) + " T:" + ck::opcode_name(ck::op::SCSI_RSP);
    BOOST_TEST(order == expected);
    BOOST_TEST(tally(w, Rule::transit_no_open_keys).violated == 0u);
    BOOST_CHECK_MESSAGE(w.checker.violations().empty(), "unexpected violations:" << listing(w));
}

// ======================= the checker is a leaf =======================

BOOST_AUTO_TEST_CASE(checker_includes_nothing_of_target) {
    namespace fs = std::filesystem;
    const std::regex forbidden(R"(#\s*include\s*["<](target|model|fabric|scenarios)/)");
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(ISCSILAB_SOURCE_DIR) / "reports" / "checker")) {
        if (!e.is_regular_file()) continue;
        ++files;
        std::ifstream in(e.path());
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            ++n;
            std::smatch m;
            if (std::regex_search(line, m, forbidden)) BOOST_ERROR(e.path().string() << ":" << n << ": " << m.str());
        }
    }
    BOOST_TEST(files >= 10);
}

BOOST_AUTO_TEST_SUITE_END()
