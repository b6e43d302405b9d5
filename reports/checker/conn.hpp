// What the checker remembers of one connection: its two TCP byte streams, their PDU
// framers, the login and what it negotiated, and the tasks, pings, text exchanges and
// task management functions under way. Internal to reports/checker.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "reports/checker/checker.hpp"
#include "reports/checker/framer.hpp"
#include "reports/checker/wire.hpp"

namespace iscsilab::checker {

// One direction of TCP, reassembled: retransmissions and overlaps trimmed, segments
// that arrive early held until the gap before them fills (or is given up).
struct TcpDirection {
    bool started = false, saw_syn = false, closed = false;
    std::uint32_t next = 0;  // next sequence number expected
    std::map<std::uint32_t, std::vector<std::byte>> early;  // keyed by seq - base
    std::size_t early_bytes = 0;
    std::uint64_t gaps = 0, retransmitted = 0;
    static constexpr std::size_t MAX_EARLY = 64u << 20;
};

// What the login settled (RFC 3720 §12), with the RFC's defaults until it says otherwise.
struct Negotiated {
    std::uint32_t mrdsl_initiator = 8192;   // what the target may send
    std::uint32_t mrdsl_target = 8192;      // what the initiator may send
    std::uint32_t max_burst = 262144, first_burst = 65536;
    std::uint32_t max_outstanding_r2t = 1;
    bool initial_r2t = true, immediate_data = true;
    bool data_pdu_in_order = true, data_sequence_in_order = true;
    std::uint32_t erl = 0;
    bool header_digest = false, data_digest = false;
};

enum class KeyKind : std::uint8_t { declarative, bool_and, bool_or, num_min, num_max, list, auth, other };

// A key of RFC 3720 §11-§12: how its result is found, its numeric range, and the rule
// of its own section that an answer keeps.
struct KeySpec {
    const char* name;
    KeyKind kind;
    std::uint32_t lo = 0, hi = 0;
    std::optional<Rule> own{};
};
const KeySpec* find_key(const std::string& k);
bool is_special(const std::string& v);   // NotUnderstood, Irrelevant, Reject
std::optional<std::uint64_t> number(const std::string& v);
std::vector<std::string> split_list(const std::string& v);

struct R2tState {
    std::uint32_t offset = 0, length = 0, received = 0;
    std::uint32_t next_datasn = 0;
    bool done = false;
};

struct TaskState {
    std::uint32_t itt = 0;
    bool read = false, write = false, immediate = false;
    std::uint32_t edtl = 0;
    std::uint64_t lun = 0;
    Serial cmdsn;
    bool in_window = true;          // CmdSN within the window the target had advertised
    // Data-In
    std::uint32_t datain_next_datasn = 0;  // shared with R2TSN for bidirectional tasks
    std::uint64_t datain_bytes = 0;
    std::uint32_t datain_next_offset = 0;
    std::uint64_t datain_seq_bytes = 0;
    bool datain_last_final = true;
    std::uint32_t datain_pdus = 0;
    // Data-Out
    std::uint32_t r2t_next_sn = 0;
    std::uint32_t r2ts = 0;
    std::unordered_map<std::uint32_t, R2tState> r2t;   // by TTT
    std::uint32_t outstanding_r2t = 0;
    std::optional<std::uint32_t> last_r2t_offset, last_r2t_end;
    std::uint64_t unsolicited = 0;    // immediate + unsolicited Data-Out bytes
    std::uint32_t unsolicited_next_datasn = 0;
    bool unsolicited_done = false;
    std::uint64_t taken = 0;          // every byte of Data-Out and immediate data
    // How it began and ended
    bool duplicate_cmdsn = false;      // a second command with a CmdSN still in use
    std::uint64_t reset_epoch = 0;     // WireChecker::reset_epoch when it began
};

struct TmfState {
    std::uint8_t function = 0;
    bool names_tmf = false;             // ABORT TASK of a task management request
    bool unknown_outside_window = false; // ABORT TASK of a tag never seen, RefCmdSN outside the window
    std::uint32_t referenced = RESERVED_TAG;
    std::uint64_t lun = 0;
    std::vector<std::uint32_t> covered;  // tasks under way when the request arrived
};

enum class Phase : std::uint8_t {
    unknown,      // capture began mid-connection: no login seen
    login,
    full_feature,
    closing,      // Logout Response sent, or a login failed
};

struct WireChecker::Conn {
    std::uint32_t index = 0;
    std::string name;
    Address initiator, target;
    TcpDirection tcp[2];                        // [0] from the initiator, [1] from the target
    PduFramer framer[2]{PduFramer(true), PduFramer(false)};
    std::uint64_t pdu_index = 0;
    std::int64_t now = 0;
    std::uint64_t frame = 0;
    bool corrupted[2] = {false, false};         // a digest mismatch: judged no further that way
    bool lost = false;                          // the capture missed bytes: judged no further

    Phase phase = Phase::login;
    // The capture began after the connection did: commands and login requests sent
    // before it are unknown, so an answer to one is no finding.
    bool began_mid_stream = false;
    bool discovery = false;
    bool saw_first_pdu = false;
    Negotiated neg;

    // Login (RFC 3720 §5.3, §10.12, §10.13)
    struct LoginRequest {
        bool valid = false;
        bool transit = false, cont = false;
        std::uint8_t csg = 0, nsg = 0, version_max = 0, version_min = 0;
        std::uint64_t isid_tsih = 0;
        std::uint32_t itt = 0;
        std::uint32_t cmdsn = 0;
    } login_req;
    std::uint32_t login_requests = 0;
    std::optional<std::uint8_t> stage;      // the login stage the last transit reached
    std::uint8_t current_csg = 0;
    bool login_rsp_continued = false, first_request_judged = false, chap_a_offered = false;
    std::uint32_t declared_initiatorname = 0, declared_targetname = 0;
    std::uint8_t first_version_max = 0, first_version_active = 0;
    std::uint32_t login_responses = 0;
    std::optional<Serial> login_statsn;
    bool login_failed = false;
    std::string login_text[2];          // key=value data accumulated over C bits
    // Key negotiation: what each side offered and whether it was answered.
    std::map<std::string, std::string> offered[2];
    std::set<std::string> answered_by_target;
    bool tpgt_seen = false, first_response_done = false;
    std::uint16_t tsih = 0;

    // Full feature phase (RFC 3720 §3.2.2)
    std::optional<Serial> next_statsn;      // the StatSN the next status must carry
    std::optional<Serial> exp_cmdsn, max_cmdsn;
    std::optional<Serial> next_cmdsn;       // initiator's next non-immediate CmdSN
    std::unordered_map<std::uint32_t, TaskState> tasks;
    std::unordered_map<std::uint32_t, std::vector<std::byte>> pings;   // NOP-Out ITT -> data
    std::unordered_map<std::uint32_t, std::uint64_t> target_pings;    // NOP-In TTT -> its LUN, awaiting a NOP-Out
    std::unordered_map<std::uint32_t, TmfState> tmfs;
    std::unordered_map<std::uint32_t, std::uint32_t> text_ttt;        // Text ITT -> TTT of the last partial response
    std::unordered_map<std::uint32_t, std::uint8_t> logouts;          // Logout ITT -> 1: closes this connection, 2: for recovery
    std::optional<std::uint16_t> cid;                                 // from the Login Request
    std::unordered_set<std::uint32_t> text_pending;                   // Text Requests awaiting a response
    std::unordered_map<std::uint32_t, bool> text_req_final, text_req_continued, text_rsp_continued;  // by ITT
    bool logout_sent = false;                                         // a Logout Request awaits its response
    std::optional<Serial> last_cmdsn;                                 // the last non-immediate CmdSN
    std::unordered_map<std::uint32_t, std::uint32_t> cmdsn_open;      // CmdSN -> ITT of open non-immediate tasks
    std::unordered_set<std::uint32_t> discovery_bad;                  // SCSI Commands and TMFs of a discovery session
    std::deque<std::array<std::byte, BHS_LENGTH>> recent_headers;     // initiator BHSs, for Reject
    std::unordered_set<std::uint32_t> ended_tasks;   // ITTs answered (a late duplicate is judged)
    std::deque<std::uint32_t> ended_order;            // the same, oldest first (bounded)
    std::unordered_set<std::uint32_t> aborted_tasks;  // ended by a TMF Response
    std::unordered_set<std::uint32_t> datain_status;  // ended by a Data-In with S
};

// Formats "SCSI Response ITT 0x.. ..." for a violation line.
std::string describe(const Pdu& p, bool from_initiator);

// The per-family judges (check_*.cpp).
void check_login_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_login_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
// Key=value data of a Login or Text PDU, gathered over C bits; when complete, judged and
// returned (check_keys.cpp).
std::optional<TextKeys> check_text_keys(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool from_initiator, bool complete,
                                        bool login);
void judge_unanswered_keys(WireChecker& w, WireChecker::Conn& c);
// Keys of a target PDU that the target offers itself and that need the initiator's
// answer (not declarative, not an answer to an offer), comma-separated; empty if none.
std::string open_target_keys(const WireChecker::Conn& c, const TextKeys& keys);
void check_scsi_command(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_data_out(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_data_in(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_r2t(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_scsi_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_tmf_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_tmf_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_nop_out(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_nop_in(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_text_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_text_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_logout_request(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_logout_response(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_reject(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
void check_async(WireChecker& w, WireChecker::Conn& c, const Pdu& p);
// Sequence numbers every target PDU carries (StatSN, ExpCmdSN, MaxCmdSN).
void check_target_numbers(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool advances_statsn, bool carries_statsn);
void check_target_numbers(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool advances_statsn, bool carries_statsn,
                          Rule statsn_rule);
// CmdSN and ExpStatSN of a command-numbered initiator PDU; `t` learns whether it was in the window.
void initiator_cmdsn(WireChecker& w, WireChecker::Conn& c, const Pdu& p, TaskState* t);

}  // namespace iscsilab::checker
