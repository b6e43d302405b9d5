// One iSCSI connection (RFC 3720 §7: the target's connection state machine, reduced to
// the states a target with one connection per session and ErrorRecoveryLevel 0 needs),
// and the dispatch of every PDU to its family's handler:
//   conn_login.cpp  Login Request
//   conn_scsi.cpp   SCSI Command, Data-Out, R2T, Data-In, SCSI Response
//   conn_tmf.cpp    Task Management Function Request
//   conn_text.cpp   Text Request (SendTargets), NOP-Out, Logout Request
#pragma once

#include <array>

#include <atomic>
#include <cstdint>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>

#include "target/block_cache.hpp"
#include "target/iscsi/framer.hpp"
#include "target/log.hpp"
#include "target/iscsi/invariant.hpp"
#include "target/iscsi/login.hpp"
#include "target/iscsi/pace.hpp"
#include "target/iscsi/pdu.hpp"
#include "target/iscsi/session.hpp"
#include "target/iscsi/task.hpp"
#include "target/ports.hpp"

namespace iscsilab::iscsi {

class IscsiDriver;

// RFC 3720 §7.1.3 target states, folded: S4 (in login) -> S5 (logged in) -> S7
// (logout requested) -> S1 (free/closed).
enum class ConnState : std::uint8_t {
    InLogin,      // S4
    FullFeature,  // S5
    LoggingOut,   // S7: Logout accepted; the response is on its way
    Closed,       // S1
};
const char* to_string(ConnState s);

// Whether a full-feature PDU is ordered by its CmdSN, as dispatch() sends it to
// accept_numbered: an initiator opcode other than Login, Data-Out and SNACK, not marked
// immediate, and for a NOP-Out not the answer to a target's ping (ITT 0xffffffff).
bool numbered(const Pdu& header);

class Connection final : public ByteStream::Handler,
                         public LoginEnv,
                         public std::enable_shared_from_this<Connection> {
public:
    Connection(IscsiDriver& driver, std::shared_ptr<ByteStream> stream, Executor& executor,
               Clock& clock, std::uint64_t id);
    ~Connection() override;

    void start();
    void close(std::string_view reason);

    // ByteStream::Handler
    void on_bytes(std::span<const std::byte> bytes) override;
    void on_closed(std::string_view reason) override;
    // The rest of a data segment being placed (PduReader::room): a stream may receive
    // it straight into the task's buffer.
    std::span<std::byte> receive_into() override;
    void on_placed(std::size_t n) override;

    // LoginEnv
    TargetLookup lookup_target(const std::string& name) override;
    TargetParams discovery_params() override;
    AuthConfig discovery_auth() override;
    Random& random() override;
    std::uint16_t portal_group_tag() override;
    ChapMemory* chap_memory() override;  // the driver's (conn_login.cpp)

    ConnState state() const { return state_.load(); }  // also read by the management tree
    std::uint64_t id() const { return id_; }
    std::uint16_t cid() const { return cid_; }
    std::string peer() const { return stream_->peer(); }
    const std::shared_ptr<Session>& session() const { return session_; }
    Executor& executor() { return executor_; }

    // Third-party task management: abort this session's tasks on one LUN (or all LUNs),
    // raising nothing (the caller raised the unit attention); `ended` runs once they are
    // all gone, on this connection's executor. Runs on our executor.
    void abort_tasks(std::optional<std::uint32_t> lun, std::function<void()> ended,
                     std::optional<std::uint32_t> except_itt = std::nullopt);

    // A SCSI asynchronous event for one of the session's LUNs (conn_async.cpp): sense data
    // in an Asynchronous Message. Runs on our executor.
    void report_event(std::uint32_t lun, const Bytes& sense);
    // The SCSI layer broke an invariant on one of our commands (scsi::Nexus::
    // invariant_broken): reported with its ITT and CmdSN, and this connection closes.
    void scsi_invariant_broken(std::uint32_t itt, std::uint32_t cmdsn, const std::string& what);

private:
    // Always-on invariants (invariant.hpp): true while `ok` holds. Otherwise the broken
    // invariant is reported with this connection, the task (or the PDU in hand) and
    // `what`, the connection closes, and the caller abandons what it was doing.
    template <class What>
    bool invariant(bool ok, const Task* t, What&& what) {
        if (ok) [[likely]] return true;
        invariant_failed(t, invariant_text(std::forward<What>(what)));
        return false;
    }
    void invariant_failed(const Task* t, const std::string& what);
    void invariant_failed(std::optional<std::uint32_t> itt, std::optional<std::uint32_t> cmdsn, const std::string& what);

    bool transition(ConnState next);
    bool on_pdu(Pdu&& pdu, FrameError error);
    void dispatch(Pdu& pdu);

    // Sending.
    void send(const Bhs& bhs, Slice data = {});
    TargetSn status_sn();   // StatSN advanced: for PDUs that carry status
    TargetSn current_sn();  // StatSN not advanced (R2T, Data-In without status, NOP-In ping)
    void reject(const Pdu& pdu, RejectReason reason);

    // CmdSN ordering (RFC 3720 §3.2.2.1).
    void accept_numbered(Pdu&& pdu);
    void process_in_order(Pdu& pdu);

    // conn_login.cpp
    void handle_login(Pdu& pdu);
    void login_complete(const LoginRequestPdu& req, LoginReply& reply);
    void send_login_reply(const LoginRequestPdu& req, LoginReply& reply);
    // A failed login: logged; true when its response waits out a back-off (the timer
    // sends it).
    bool hold_failed_login(const LoginRequestPdu& req, LoginReply& reply);

    // conn_scsi.cpp
    void handle_scsi_command(Pdu& pdu);
    void handle_data_out(Pdu& pdu);
    bool place_data(Task& t, std::uint32_t offset, const Pdu& pdu);
    // The framer's header phase (PduReader::set_placer): where the data segment of a
    // SCSI Command or Data-Out goes, so that it lands in the task's buffer directly.
    Placement place_segment(const Pdu& header);
    void solicit(const std::shared_ptr<Task>& t);
    // A write's Data-Out buffer, claimed against the bound on buffers when its first
    // data comes; false when the bound is reached.
    bool claim_data_out(Task& t);
    void refuse_for_memory(const std::shared_ptr<Task>& t);
    void set_out_of_memory_status(Task& t);
    // Ends a task whose Data-Out failed once nothing more is owed.
    void drained(const std::shared_ptr<Task>& t);
    void maybe_execute(const std::shared_ptr<Task>& t);
    void execute(const std::shared_ptr<Task>& t);
    void command_done(const std::shared_ptr<Task>& t);
    void send_response(Task& t);
    void forget(const std::shared_ptr<Task>& t);
    // A non-immediate task leaves the CmdSN window (Session::command_ended).
    void leave_window(const Task& t);
    // Ends a task without a response (SAM-5 TAS=0): at once if it never reached the
    // device, else when the device finishes with it.
    void abort(const std::shared_ptr<Task>& t);

    // conn_tmf.cpp
    void handle_tmf(Pdu& pdu);
    void after_tasks_end(const std::vector<std::shared_ptr<Task>>& tasks, std::function<void()> done);

    // conn_text.cpp
    void handle_text(Pdu& pdu);
    void handle_nop_out(Pdu& pdu);
    void handle_logout(Pdu& pdu);
    void send_text_part(std::uint32_t itt, std::uint64_t lun);

    // Timers: NopInInterval pings and the RspTimeout check (iSCSI-SCST README).
    void arm_timers();
    void on_nop_timer();
    void on_rsp_timer();

    IscsiDriver& driver_;
    std::shared_ptr<ByteStream> stream_;
    Executor& executor_;
    Clock& clock_;
    std::uint64_t id_;
    std::uint16_t cid_ = 0;
    std::atomic<ConnState> state_{ConnState::InLogin};
    PduReader reader_;
    DigestSettings tx_digests_{};
    // Data-In may leave from where a READ's bytes lie (Slice::source): the stream sends
    // such slices and no DataDigest is computed over them (RFC 3720 §12.1: None).
    bool data_in_may_stay_ = false;
    std::uint32_t stat_sn_ = 0;
    // Invariant bookkeeping: the StatSN the next status must carry, the window last
    // sent, the PDU being handled (for the report), and whether an invariant broke.
    std::uint32_t next_status_sn_ = 0;
    std::uint32_t sent_exp_cmdsn_ = 0, sent_max_cmdsn_ = 0;
    bool sent_window_ = false;
    std::optional<std::uint32_t> pdu_itt_, pdu_cmdsn_;
    bool broken_ = false;
    // The I_T nexus loss of this connection's session (its last, at ERL 0): at a logout
    // before the response leaves, else at close. Once.
    void lose_nexus();
    bool nexus_lost_ = false;
    // Lines a peer could make us write once per PDU are written once per connection
    // and counted after that; the count goes out with the close (limits.hpp).
    enum class Noisy : std::uint8_t { CmdSnOutsideWindow, DataOutRejected, MemoryRefused, TextPaced, kCount };
    void log_noisy(Noisy kind, LogLevel level, const std::string& line);
    std::array<std::uint64_t, static_cast<std::size_t>(Noisy::kCount)> noisy_{};

    std::unique_ptr<Login> login_;
    std::shared_ptr<Session> session_;
    // By ITT; its nodes come from the block cache (target/block_cache.hpp).
    std::map<std::uint32_t, std::shared_ptr<Task>, std::less<>,
             CachedAllocator<std::pair<const std::uint32_t, std::shared_ptr<Task>>>>
        tasks_;
    std::map<std::uint32_t, Pdu> held_;                     // CmdSN in window, ahead of ExpCmdSN
    std::set<std::uint32_t> aborted_ahead_;                 // CmdSNs aborted before they arrived
    // ITTs of tasks a task management function ended without a response (until the ITT
    // is used again): an ABORT TASK for one still names a task that existed, aborted.
    std::set<std::uint32_t> aborted_itts_;
    std::uint32_t next_ttt_ = 1;
    // For two deliberate defects (target/defects.hpp); unused in a normal build.
    std::uint32_t defect_statuses_ = 0;  // skip_statsn
    std::uint32_t defect_r2tsn_ = 0;     // r2tsn_per_connection

    // Text Request continuation (RFC 3720 §10.10.4): the rest of a long response.
    std::string text_pending_;
    std::uint32_t text_ttt_ = kReservedTag;
    Bytes text_in_;  // a request split with the C bit
    // Text Requests are read at the pace a negotiation needs: a SendTargets answer of
    // 256 parts goes at once, and a peer that keeps sending them is read from at 256 a
    // second (hold_input), so that it costs the target's other connections little.
    static constexpr std::uint32_t kTextPerSecond = 256;
    Pace text_pace_{kTextPerSecond, kTextPerSecond, 4 * kTextPerSecond};

    // Liveness.
    TimerId nop_timer_, rsp_timer_, login_timer_;
    Nanos last_rx_{0};
    std::optional<std::uint32_t> ping_ttt_;
    Nanos ping_sent_{0};
};

}  // namespace iscsilab::iscsi
