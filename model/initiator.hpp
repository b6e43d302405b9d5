// An iSCSI initiator model on the same codec as the target (target/iscsi): discovery,
// login with chosen keys, SCSI commands with immediate, unsolicited and R2T-solicited
// data, NOP-In answers, logout; and a workload with data verification (every written
// block carries a tag that later reads check). It checks the target's sequence numbers
// against the RFC as it goes. On a fault plan's say-so it also misbehaves (a broken or
// hostile initiator) and checks the target's answer against the RFC.
//
// The implementation is split along its jobs:
//   initiator.cpp           the connection: bytes, framing, dispatch, sequence numbers
//   initiator_login.cpp     discovery, login, Text, logout
//   initiator_io.cpp        the workload: commands, Data-Out, R2T, Data-In, responses
//   initiator_recovery.cpp  ERL 0 recovery, reinstatement, task management
//   initiator_oracle.cpp    what reads must find: tags, durability, power loss
//   initiator_scsi.cpp      UNMAP, COMPARE AND WRITE and persistent reservations: their
//                           commands, and what their answers teach the oracles
//   initiator_misbehave.cpp rules broken on purpose, NOP-Out pings, and their checks
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/kernel.hpp"
#include "model/pr_oracle.hpp"
#include "model/rng.hpp"
#include "model/shared_blocks.hpp"
#include "target/iscsi/framer.hpp"
#include "target/iscsi/params.hpp"
#include "target/iscsi/pdu.hpp"
#include "target/ports.hpp"

namespace iscsilab::model {

// Rules a misbehaving initiator breaks on purpose (the fault kind `misbehave`); for each
// the initiator model checks the target's answer against RFC 3720.
enum class Misbehavior : std::uint8_t {
    past_maxcmdsn,       // a command with CmdSN MaxCmdSN + 1 (§3.2.2.1: silently ignored)
    dup_cmdsn,           // a command reusing the last CmdSN (§3.2.2.1: silently ignored)
    nop_ping,            // its own NOP-Out pings, busy and idle (§10.18, §10.19: echoed)
    excess_data_out,     // Data-Out past the end of an R2T's range (§10.4.7.2, §10.17.1)
    text_midway,         // a Text Request in the middle of a write's Data-Out (§10.10)
    logout_midway_data,  // a Logout in the middle of a write's Data-Out (§10.14)
};

struct Workload {
    enum class Pattern : std::uint8_t { sequential, random } pattern = Pattern::random;
    std::uint32_t read_pct = 50;     // the rest are writes (or verifies, below)
    std::uint32_t verify_pct = 0;    // VERIFY(16) with BYTCHK=1 of expected contents
    std::uint32_t block_size = 4096; // bytes per operation
    std::uint32_t queue_depth = 8;
    std::uint64_t ops = 1000;
    std::uint64_t region_offset = 0; // bytes
    std::uint64_t region_length = 0; // bytes; 0: to the end of the LUN
    bool verify_data = true;
    bool write_then_read = false;    // write the region once sequentially, then read it back
    std::uint64_t abort_every = 0;   // every N-th command is chased by an ABORT TASK for it
    std::uint64_t sync_every = 0;    // SYNCHRONIZE CACHE after every N commands (0: never)
    std::uint32_t fua_pct = 0;       // writes with FUA set
    // Operations that become UNMAP of their range (SBC-3 §5.28; the LU must be thin
    // provisioned with LBPRZ=1: the blocks then read back as zeros until written again).
    std::uint32_t unmap_pct = 0;
    // Operations that become COMPARE AND WRITE (SBC-3 §5.2) of their first block,
    // comparing the version the initiator believes the block holds. Where initiators
    // share a region (InitiatorConfig::shared), they race.
    std::uint32_t caw_pct = 0;
};

struct InitiatorConfig {
    std::string name = "iqn.2026-11.org.iscsilab:initiator";
    std::string target;              // TargetName
    std::uint32_t lun = 0;
    std::vector<iscsi::KeyValue> keys;
    bool discovery = true;           // SendTargets=All on a discovery session first
    std::array<std::byte, 6> isid{std::byte{0x80}, std::byte{0x12}, std::byte{0x34}, std::byte{0}, std::byte{0}, std::byte{1}};
    // ERL 0 session recovery (RFC 3720 §6.1.5, §5.3.5): when the connection fails, log
    // in again with the same ISID (reinstatement), at most this many times.
    std::uint32_t max_recoveries = 8;
    Nanos recovery_delay{std::chrono::milliseconds(1)};
    // A command older than this is chased by an ABORT TASK (as a SCSI mid-layer's error
    // handler does); an abort unanswered for as long again ends the connection, and the
    // session recovers (0: never).
    Nanos command_timeout{0};
    // Data-verification failures are what the run is after (a misdirected write or read
    // must be caught): counted, not errors.
    bool expect_data_errors = false;
};

struct InitiatorStats {
    std::uint64_t reads = 0, writes = 0, verifies = 0;
    std::uint64_t bytes_read = 0, bytes_written = 0;
    std::uint64_t pdus_sent = 0, pdus_received = 0;
    std::uint64_t r2ts = 0, data_in = 0, unit_attentions = 0, nop_in_answered = 0;
    std::uint64_t aborts_sent = 0, aborted = 0, abort_too_late = 0;
    std::uint64_t recoveries = 0, lost = 0;            // session recoveries; commands they ended
    std::uint64_t medium_errors = 0, device_errors = 0; // MEDIUM ERROR; NOT READY / HARDWARE ERROR
    std::uint64_t syncs = 0;                           // SYNCHRONIZE CACHE completed
    std::uint64_t timed_out = 0;  // commands that outlived command_timeout and were aborted
    std::uint64_t relogins = 0;   // logouts mid-workload (fault plan) followed by a new login
    std::uint64_t reverted = 0;  // blocks read back older than acknowledged after a power loss
    std::uint64_t data_errors = 0;   // blocks (or VERIFYs) whose data did not match
    std::uint64_t unmaps = 0;        // UNMAP completed GOOD
    std::uint64_t caws = 0;          // COMPARE AND WRITE completed GOOD (the compare matched)
    std::uint64_t miscompares = 0;   // COMPARE AND WRITE ended in MISCOMPARE
    std::uint64_t reservation_conflicts = 0;   // commands ended in RESERVATION CONFLICT
    std::uint64_t pr_outs = 0;       // PERSISTENT RESERVE OUT completed GOOD
    std::vector<std::string> data_error_lines;         // the first few, when expected
    // Fault outcomes this initiator checked against the RFC, by name (nop_pings_echoed,
    // past_maxcmdsn_ignored, bhs_closed, reinstated, write_errors, ...): `seen:` in expect.
    std::map<std::string, std::uint64_t> seen;
    bool write_cache = true;                           // WCE as MODE SENSE reported it
    std::vector<std::string> recovery_reasons;
    std::vector<std::string> errors;   // protocol, status or data-verification failures
    std::vector<std::string> targets_discovered;
    std::map<std::string, std::string> negotiated;
    bool logged_out = false;
};

class Initiator : public ByteStream::Handler, public std::enable_shared_from_this<Initiator> {
public:
    using Connect = std::function<std::shared_ptr<ByteStream>()>;
    Initiator(SimKernel& kernel, Connect connect, InitiatorConfig cfg, Workload wl, std::uint64_t seed);
    void start();
    // How this host drops a connection hard (a TCP reset: nothing it queued or had in
    // flight arrives after). Without it, recovery closes the stream gracefully.
    void set_abort(std::function<void(const std::string&)> abort) { abort_ = std::move(abort); }
    bool finished() const { return phase_ == Phase::Done || phase_ == Phase::Failed; }
    bool failed() const { return phase_ == Phase::Failed || !stats_.errors.empty(); }
    const InitiatorStats& stats() const { return stats_; }
    std::string phase_name() const;
    // Where it stands, for a run that did not finish: phase, commands and TMFs in
    // flight, the CmdSN window.
    std::string describe() const;

    void on_bytes(std::span<const std::byte> bytes) override;
    void on_closed(std::string_view reason) override;

    // Fault plan actions. A task management function for every task in flight (or, for
    // ABORT TASK, the oldest); false if there was nothing to do.
    bool task_management(iscsi::TmfFunction fn, std::function<void()> on_end = {});
    // Drop the connection as a crashed host would, and recover.
    void crash(std::string why) { recover(std::move(why)); }
    // The disk behind the LUN lost power: what was acknowledged but not made durable
    // (FUA, write-through, SYNCHRONIZE CACHE) may read back as any older version
    // since the last durable one, until written again.
    void power_lost();
    // From now until this connection ends (or `duration` passes, if not zero), R2Ts go
    // unanswered (a broken initiator: the target's RspTimeout has to notice).
    void withhold_data_out(Nanos duration = Nanos(0)) {
        withhold_until_ = duration.count() > 0 ? kernel_.now() + duration : Nanos::max();
    }
    // The host stops for a while (a paused VM, a stalled kernel): it neither reads nor
    // sends, its timers wait; what arrives meanwhile is read when it resumes.
    void freeze(Nanos duration);
    // Log the session out while commands are in flight, then log in again; false if
    // not running.
    bool logout_midway();
    // The oracle: another initiator's task management may end this one's tasks without
    // a response (SAM-5, TAS=0) from begin until end: tasks sent before end may vanish.
    void foreign_reset_begin() { ++foreign_resets_; }
    void foreign_reset_end() {
        if (foreign_resets_ > 0) --foreign_resets_;
        foreign_reset_at_ = kernel_.now();
    }
    // The link flipped a bit inside a BHS this host sent (dir 0) or was sent (dir 1).
    // Sent: RFC 3720 §6.7, the target must discard it or close the connection, never
    // act on it; the initiator checks that the connection ends.
    void header_corrupted(int dir);
    // Log in again with this session's ISID and TSIH 0 on a second connection while the
    // session runs (a session reinstatement race, RFC 3720 §5.3.5, §6.3.5): the target
    // must close the old connection and let the new login in. False if not running.
    bool duplicate_login();
    // `count` immediate NOP-Out pings back to back, each to be echoed (RFC 3720 §10.19).
    bool nop_storm(std::uint32_t count);
    // Break a rule on purpose; false if not running.
    bool misbehave(Misbehavior what);

    // The oracles this initiator shares with others (initiator_scsi.cpp). The persistent
    // reservations of its LU, as every initiator of the run knows them; without one, a
    // RESERVATION CONFLICT is an error.
    void set_pr_oracle(std::shared_ptr<PrOracle> pr) { pr_ = std::move(pr); }
    // Its region is shared with other initiators (a COMPARE AND WRITE race): every block
    // of it is judged by `blocks`, not by this initiator's own shadow.
    void set_shared_blocks(std::shared_ptr<SharedBlocks> blocks) { shared_ = std::move(blocks); }
    // The fault plan's persistent reservation step: a PERSISTENT RESERVE OUT (SPC-4
    // §6.16) with these fields; own_key: the RESERVATION KEY is the one this nexus holds
    // (as the oracle knows it), not p.key. on_end gets its status (nullopt: none came).
    // After a GOOD one, PERSISTENT RESERVE IN READ KEYS and READ RESERVATION check the
    // oracle's state. False if not running.
    bool persistent_reserve_out(PrOut p, bool own_key, std::function<void(std::optional<std::uint8_t>)> on_end = {});
    // May this nexus hold `key` (the oracle knows it does, or does not know)?
    bool pr_may_hold(std::uint64_t key) const { return !pr_ || pr_->may_hold(nexus(), key); }
    // The I_T nexus's initiator port name (SPC-4 §7.6.4.6: "<iSCSI name>,i,0x<ISID>").
    std::string nexus() const;

private:
    enum class Phase : std::uint8_t { Discovery, Login, Ready, Running, LoggingOut, Done, Failed };
    struct Op {
        enum class Kind : std::uint8_t { read, write, verify, tur, read_capacity, mode_sense, sync, unmap, caw, pr_out, pr_in } kind;
        bool workload() const {
            return kind == Kind::read || kind == Kind::write || kind == Kind::verify || kind == Kind::unmap || kind == Kind::caw;
        }
        // Does it change the medium (and so leave its blocks unknown when it ends unanswered)?
        bool modifies() const { return kind == Kind::write || kind == Kind::unmap || kind == Kind::caw; }
        bool fua = false;
        std::uint64_t sync_mark = 0;  // sync: the acknowledged writes it makes durable
        std::uint64_t power_epoch = 0;  // power losses seen when it was sent
        Nanos sent{0};
        bool timeout_abort = false;     // an ABORT TASK chases it after command_timeout
        std::uint64_t lba = 0;
        std::uint32_t blocks = 0;
        std::uint32_t itt = 0, cmdsn = 0;
        std::shared_ptr<Bytes> out;   // write/verify data
        Bytes in;                     // read data
        std::uint32_t next_datasn = 0, next_r2tsn = 0;
        std::uint32_t unsolicited_sent = 0;
        bool excess = false;          // misbehave: one R2T got more Data-Out than it asked for
        bool cut_by_logout = false;   // misbehave: a Logout went out in the middle of its data
        // COMPARE AND WRITE: the version compared and the one written (also a WRITE's, in
        // a shared region); when the version compared was seen there.
        std::uint64_t compare = 0, version = 0;
        Nanos observed_from{0};
        std::vector<std::uint64_t> mods;   // shared region: its modifications in the SharedBlocks oracle
        bool recheck = false;              // a read of blocks a RESERVATION CONFLICT kept unwritten
        bool pr_own_key = false;           // PR OUT: RESERVATION KEY is the one this nexus holds
        // PERSISTENT RESERVE OUT / IN.
        PrOut pr;
        std::uint64_t pr_id = 0;           // in the PrOracle
        std::uint8_t pr_in_action = 0;     // PERSISTENT RESERVE IN service action
        std::size_t pr_epoch = 0;          // PrOracle epochs when the PR IN was sent
        std::function<void(std::optional<std::uint8_t>)> pr_done;
    };
    // A NOP-Out ping of ours (ITT != 0xffffffff) awaiting its NOP-In (RFC 3720 §10.19).
    struct Ping {
        Bytes data;
        std::string seen;             // counted under this name when echoed
    };
    // The old connection of a session this initiator reinstated on purpose: what it
    // still carries is ignored; the target must close it.
    class Superseded;

    void connect_session(bool discovery);
    void send_pdu(const iscsi::Bhs& bhs, Bytes data = {});
    void send_login();
    void on_pdu(iscsi::Pdu& pdu);
    void on_login_response(iscsi::Pdu& pdu);
    void on_text_response(iscsi::Pdu& pdu);
    void on_data_in(iscsi::Pdu& pdu);
    void on_r2t(iscsi::Pdu& pdu);
    void on_scsi_response(iscsi::Pdu& pdu);
    void check_sn(const iscsi::TargetSn& sn, bool carries_status, const char* what);
    void fail(std::string why);
    void error(std::string why);

    void issue();                      // fill the queue up to QueuedCommands / queue depth
    bool next_op(Op& op);
    void send_command(std::shared_ptr<Op> op);
    void send_data_out(Op& op, std::uint32_t ttt, std::uint32_t offset, std::uint32_t length, bool solicited);
    void complete(std::shared_ptr<Op> op, std::uint8_t status, std::span<const std::byte> sense);
    void fill_block(std::uint64_t lba, std::uint64_t gen, std::span<std::byte> out) const;
    void logout();
    void send_abort(const Op& op);
    // Returns the TMF's ITT.
    std::uint32_t send_tmf(iscsi::TmfFunction fn, std::vector<std::uint32_t> tasks, std::uint32_t ref_itt, std::uint32_t ref_cmdsn);
    void recover(std::string why);
    void watchdog();
    void start_workload();         // the LU is known (READ CAPACITY, MODE SENSE): run
    void written(const Op& op, std::uint64_t gen);   // a write of gen acknowledged: shadow, durability
    void forget(Op& op);           // what it may have changed is unknown until written again
    void end_unanswered(Op& op);   // a command ended without a response
    void lose(Op& op);             // ... because its session ended
    void relogin_later(bool discovery = false);  // the session is over: log in again
    std::uint64_t durable_gen(std::uint64_t lba) const;
    void unknown(std::uint64_t lba, std::uint32_t blocks);   // contents no longer known
    // settle: the read was sent after the last power loss, so what it found is what
    // the medium holds now.
    bool check_block(std::uint64_t lba, std::span<const std::byte> got, bool settle);
    void on_tmf_response(iscsi::Pdu& pdu);
    void on_logout_response(iscsi::Pdu& pdu);
    void on_nop_in(iscsi::Pdu& pdu);
    void on_reject(iscsi::Pdu& pdu);
    void maybe_finish();

    // UNMAP, COMPARE AND WRITE, persistent reservations (initiator_scsi.cpp).
    bool prepare_scsi_op(Op& op);                 // its data; false: it became another kind
    void register_shared(Op& op);                 // a shared region's modification is sent
    void fill_cdb_scsi(const Op& op, iscsi::ScsiCommandPdu& c);
    // The answers; each returns true if it dealt with the completion.
    bool complete_scsi(std::shared_ptr<Op> op, std::uint8_t status, std::span<const std::byte> sense);
    void shared_read(const Op& op);               // a read of a shared region, judged
    void shared_end(Op& op, SharedBlocks::Outcome outcome, bool miscompared = false);
    void pr_ended(Op& op, std::optional<std::uint8_t> status, std::span<const std::byte> sense);
    void pr_in_check(const Op& op);
    PrOracle::Access access_of(const Op& op) const;
    bool must_have_conflicted(const Op& op);       // GOOD where a reservation excluded it
    void data_error(std::string why);
    // "data verification failed at LBA n: expected ..., found ...", for a block that failed check_block.
    std::string mismatch(std::uint64_t lba, std::span<const std::byte> got) const;
    void superseded_closed();
    void end_after_logout();   // the session's Logout Response is in: done (once old connections are closed)

    // Misbehaving (initiator_misbehave.cpp).
    void send_ping(bool immediate, std::string seen);
    void send_ignored_command(std::uint32_t cmdsn, const char* what);
    bool run_idle_misbehaviors();      // at the end of the workload; true if it sent something
    void midway(Op& op);               // between two Data-Out PDUs of a sequence
    bool answered_ignored(std::uint32_t itt, const char* what);  // an error if it was ignored
    void check_ignored_at_logout();
    void check_excess_outcome(std::shared_ptr<Op> op, std::uint8_t status, std::span<const std::byte> sense);

    SimKernel& kernel_;
    Connect connect_;
    std::function<void(const std::string&)> abort_;
    InitiatorConfig cfg_;
    Workload wl_;
    Rng rng_;
    Phase phase_ = Phase::Discovery;
    InitiatorStats stats_;
    std::shared_ptr<ByteStream> stream_;
    std::unique_ptr<iscsi::PduReader> reader_;
    iscsi::DigestSettings digests_{};
    bool session_discovery_ = false;

    // Negotiated.
    std::uint32_t target_mrdsl_ = 8192, first_burst_ = 65536, max_burst_ = 262144;
    bool initial_r2t_ = true, immediate_data_ = true;
    bool want_hd_ = false, want_dd_ = false;

    // Sequence numbers.
    std::uint32_t itt_ = 1, cmdsn_ = 1, expstatsn_ = 0;
    std::uint32_t expcmdsn_ = 1, maxcmdsn_ = 1;
    bool have_statsn_ = false;
    std::uint16_t tsih_ = 0;

    // Workload.
    std::uint64_t block_len_ = 512, lun_blocks_ = 0;
    std::uint64_t issued_ = 0, completed_ = 0, seq_next_ = 0, gen_ = 0;
    std::map<std::uint32_t, std::shared_ptr<Op>> ops_;
    // First LBAs of the slots with an operation in flight (operations are slot-aligned,
    // so one entry covers all its blocks).
    std::unordered_set<std::uint64_t> busy_;
    std::unordered_map<std::uint64_t, std::uint64_t> shadow_;  // block -> generation acknowledged
    std::uint32_t login_itt_ = 0;
    struct PendingTmf {
        iscsi::TmfFunction fn;
        std::vector<std::uint32_t> tasks;                     // the ITTs it covers
        bool timeout = false;                                 // an ABORT TASK for a timed-out command
        Nanos sent{0};
        std::function<void()> on_end;                         // answered, or lost with the session
    };
    std::map<std::uint32_t, PendingTmf> aborts_;              // TMF ITT -> what it covers
    bool recovering_ = false;
    Nanos last_rx_{0}, login_sent_{0};
    Nanos foreign_reset_at_{-1};
    std::uint32_t foreign_resets_ = 0;
    bool watchdog_armed_ = false;
    Nanos withhold_until_{0};              // R2Ts go unanswered before then (fault plan)
    bool frozen_ = false;
    bool relogin_ = false;
    Bytes frozen_in_;                      // bytes that arrived while frozen
    std::optional<std::string> frozen_closed_;  // a close that arrived while frozen
    void thaw();
    static constexpr std::uint64_t kUnknown = ~0ull;          // block state after an aborted write
    std::vector<iscsi::KeyValue> pending_answers_;
    // Durability, for power loss: the last generation known durable per block, the
    // acknowledged writes a SYNCHRONIZE CACHE has yet to cover (in order; log_base_ is
    // the position of its front), and blocks whose contents a power loss made uncertain
    // (any generation in [durable, acknowledged]).
    std::unordered_map<std::uint64_t, std::uint64_t> durable_;
    std::deque<std::pair<std::uint64_t, std::uint64_t>> acked_log_;
    std::uint64_t log_base_ = 0, since_sync_ = 0, power_epoch_ = 0;
    std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>> uncertain_;

    // Misbehaving, pings and header faults.
    std::map<std::uint32_t, Ping> pings_;       // by ITT
    std::map<std::uint32_t, std::string> ignored_;  // commands the target must ignore: ITT -> rule
    std::vector<Misbehavior> at_idle_;          // to do once the workload is done
    bool excess_next_r2t_ = false, text_midway_ = false, logout_midway_data_ = false;
    bool past_max_ready_ = false;               // the window probe came back: send past MaxCmdSN now
    std::uint32_t midway_text_itt_ = 0;         // the Text Request sent between Data-Outs
    std::uint32_t logout_cut_itt_ = 0;          // the write a Logout interrupted
    bool bhs_sent_corrupt_ = false;             // a header we sent failed its digest
    bool closed_by_us_ = false;                 // the current stream was closed after its logout
    std::vector<std::shared_ptr<Superseded>> superseded_;
    bool logout_answered_ = false;         // the final Logout Response came; waiting for superseded_

    // UNMAP, COMPARE AND WRITE, persistent reservations.
    bool lbpme_ = false, lbprz_ = false;   // READ CAPACITY(16): thin provisioned; unmapped blocks read zeros
    std::unordered_set<std::uint64_t> unmapped_;   // blocks whose last acknowledged change was an UNMAP
    std::shared_ptr<PrOracle> pr_;
    std::shared_ptr<SharedBlocks> shared_;
    struct Belief {
        std::uint64_t version = 0;
        Nanos from{0};                     // when the operation that showed it was sent
    };
    std::unordered_map<std::uint64_t, Belief> belief_;   // shared region: what this host last saw per block
    std::deque<std::shared_ptr<Op>> pr_queue_;           // PERSISTENT RESERVE commands waiting for the window
    std::deque<std::uint64_t> recheck_;    // slots a RESERVATION CONFLICT kept unwritten: read them back
};


// Small helpers the initiator's files share.
namespace detail {
std::string hex(std::uint32_t v);
Bytes text_of(const std::vector<iscsi::KeyValue>& kv);
// Sense key, ASC and ASCQ of fixed or descriptor sense data (SPC-4 §4.5); -1 if absent.
struct SenseCode {
    int key = -1, asc = -1, ascq = -1;
};
SenseCode sense_code(std::span<const std::byte> sense);
}  // namespace detail

}  // namespace iscsilab::model
