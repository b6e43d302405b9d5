#include "model/initiator.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "target/bytes.hpp"

namespace iscsilab::model {

using namespace iscsilab::iscsi;

namespace {
std::string hex(std::uint32_t v) {
    std::ostringstream o;
    o << "0x" << std::hex << v;
    return o.str();
}
Bytes text_of(const std::vector<KeyValue>& kv) {
    std::string s = encode_text(kv);
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    return Bytes(p, p + s.size());
}
}  // namespace

Initiator::Initiator(SimKernel& kernel, Connect connect, InitiatorConfig cfg, Workload wl, std::uint64_t seed)
    : kernel_(kernel), connect_(std::move(connect)), cfg_(std::move(cfg)), wl_(wl), rng_(seed, "workload/" + cfg_.name) {
    for (const auto& kv : cfg_.keys) {
        if (kv.key == "HeaderDigest") want_hd_ = kv.value.rfind("CRC32C", 0) == 0;
        if (kv.key == "DataDigest") want_dd_ = kv.value.rfind("CRC32C", 0) == 0;
    }
}

std::string Initiator::phase_name() const {
    switch (phase_) {
        case Phase::Discovery: return "discovery";
        case Phase::Login: return "login";
        case Phase::Ready: return "ready";
        case Phase::Running: return "running";
        case Phase::LoggingOut: return "logging out";
        case Phase::Done: return "done";
        case Phase::Failed: return "failed";
    }
    return "?";
}

void Initiator::start() { connect_session(cfg_.discovery); }

std::string Initiator::describe() const {
    std::ostringstream o;
    o << phase_name() << ", " << completed_ << "/" << wl_.ops << " done, " << ops_.size() << " in flight";
    if (!ops_.empty()) {
        const Op& first = *ops_.begin()->second;
        o << " (ITT " << hex(first.itt) << " CmdSN " << first.cmdsn << " kind " << static_cast<int>(first.kind)
          << " sent at " << first.sent.count() / 1000 << " us" << (first.timeout_abort ? ", ABORT TASK sent" : "") << ")";
    }
    o << ", " << aborts_.size() << " TMF pending, CmdSN " << cmdsn_ << " ExpCmdSN " << expcmdsn_ << " MaxCmdSN "
      << maxcmdsn_ << ", last PDU at " << last_rx_.count() / 1000 << " us";
    return o.str();
}

void Initiator::connect_session(bool discovery) {
    stream_ = connect_();
    reader_ = std::make_unique<PduReader>([this](Pdu&& p, FrameError e) {
        if (e != FrameError::none) {
            // RFC 3720 §6.7: the framing or the data cannot be trusted; at ERL 0 the
            // session recovers.
            recover(std::string("frame error from the target: ") + to_string(e));
            return false;
        }
        on_pdu(p);
        return !finished() && !recovering_;
    });
    reader_->set_max_data_segment_length(1u << 24);
    digests_ = {};
    withhold_until_ = Nanos(0);
    session_discovery_ = discovery;
    phase_ = discovery ? Phase::Discovery : Phase::Login;
    cmdsn_ = 1;
    expcmdsn_ = maxcmdsn_ = 1;
    have_statsn_ = false;
    pending_answers_.clear();
    stream_->set_handler(std::weak_ptr<ByteStream::Handler>(shared_from_this()));
    send_login();
}

void Initiator::send_pdu(const Bhs& bhs, Bytes data) {
    ++stats_.pdus_sent;
    stream_->send(frame_pdu(bhs, {}, Slice::own(std::move(data)), digests_), {});
}

void Initiator::send_login() {
    LoginRequestPdu r;
    r.csg = 1;
    r.nsg = 3;
    r.transit = true;
    r.isid = cfg_.isid;
    if (session_discovery_) r.isid[5] = std::byte{0xd1};
    r.itt = login_itt_ = itt_++;
    r.cmdsn = cmdsn_;
    r.expstatsn = expstatsn_;
    std::vector<KeyValue> keys = pending_answers_;
    if (!have_statsn_) {
        keys.insert(keys.begin(), KeyValue{"InitiatorName", cfg_.name});
        if (session_discovery_) {
            keys.push_back({"SessionType", "Discovery"});
        } else {
            keys.push_back({"SessionType", "Normal"});
            keys.push_back({"TargetName", cfg_.target});
            keys.insert(keys.end(), cfg_.keys.begin(), cfg_.keys.end());
        }
    }
    pending_answers_.clear();
    login_sent_ = kernel_.now();
    Bytes data = text_of(keys);
    {
        const auto dsl = static_cast<std::uint32_t>(data.size());
        send_pdu(r.encode(dsl), std::move(data));
    }
}

void Initiator::on_bytes(std::span<const std::byte> bytes) {
    if (!reader_ || finished() || recovering_) return;
    if (frozen_) {
        frozen_in_.insert(frozen_in_.end(), bytes.begin(), bytes.end());
        return;
    }
    last_rx_ = kernel_.now();
    reader_->feed(bytes);
}

void Initiator::on_closed(std::string_view reason) {
    if (finished()) return;
    if (frozen_) {
        if (!frozen_closed_) frozen_closed_ = std::string(reason);
        return;
    }
    recover("connection closed: " + std::string(reason));
}

void Initiator::freeze(Nanos duration) {
    if (finished() || frozen_) return;
    frozen_ = true;
    auto self = shared_from_this();
    kernel_.after(duration, [self] { self->thaw(); });
}

void Initiator::thaw() {
    frozen_ = false;
    Bytes in = std::move(frozen_in_);
    frozen_in_.clear();
    auto closed = std::move(frozen_closed_);
    frozen_closed_.reset();
    if (!in.empty()) on_bytes(in);
    if (closed) on_closed(*closed);
}

void Initiator::end_unanswered(Op& op) {
    // The command ended without telling how far it got: an interrupted write leaves its
    // blocks unknown until they are written again.
    if (op.kind == Op::Kind::write) unknown(op.lba, op.blocks);
    if (op.workload()) {
        busy_.erase(op.lba);
        ++completed_;
    }
}

void Initiator::lose(Op& op) {
    end_unanswered(op);
    if (op.workload()) ++stats_.lost;
}

void Initiator::relogin_later() {
    // Every command still pending ended with the old session, and so did every task
    // management request; log in again (same ISID) from a fresh stack after a pause.
    for (auto& [itt, op] : ops_) lose(*op);
    ops_.clear();
    for (auto& [itt, t] : aborts_)
        if (t.on_end) t.on_end();
    aborts_.clear();
    phase_ = Phase::Login;
    recovering_ = true;
    auto self = shared_from_this();
    kernel_.after(cfg_.recovery_delay, [self] {
        self->recovering_ = false;
        self->connect_session(false);
    });
}

bool Initiator::logout_midway() {
    if (phase_ != Phase::Running || recovering_ || frozen_) return false;
    relogin_ = true;
    logout();
    return true;
}

void Initiator::recover(std::string why) {
    if (finished() || recovering_) return;
    relogin_ = false;
    if (frozen_) {
        // A crash ends a freeze: nothing the frozen host had pending matters now.
        frozen_ = false;
        frozen_in_.clear();
        frozen_closed_.reset();
    }
    if (session_discovery_) return fail(why);  // discovery is not worth a second try
    if (stats_.recovery_reasons.size() < 8) stats_.recovery_reasons.push_back(why);
    if (++stats_.recoveries > cfg_.max_recoveries)
        return fail("gave up after " + std::to_string(cfg_.max_recoveries) + " session recoveries: " + why);
    // Hard: a command or task management request still queued on the old connection
    // must not reach the target after the session has given up on it.
    if (stream_) {
        stream_->set_handler({});
        if (abort_) abort_("session recovery: " + why);
        stream_->close("session recovery");
    }
    // RFC 3720 §6.3.5: a new login with the same ISID and TSIH 0 reinstates the
    // session; the target ends the old one's tasks first. From a fresh stack: the
    // reader that called us is still on it.
    relogin_later();
}

void Initiator::watchdog() {
    if (finished()) {
        watchdog_armed_ = false;
        return;
    }
    auto self = shared_from_this();
    kernel_.after(cfg_.command_timeout / 4, [self] { self->watchdog(); });
    if (recovering_ || frozen_) return;
    const Nanos now = kernel_.now();
    const std::string waited = std::to_string(cfg_.command_timeout.count() / 1000) + " us";
    // A login, or the first command after it, that goes unanswered (a garbled login
    // can leave the target waiting for bytes, or its CmdSN window elsewhere).
    if (!session_discovery_ && (phase_ == Phase::Login || phase_ == Phase::Ready) &&
        now - std::max(login_sent_, last_rx_) > cfg_.command_timeout)
        return recover("no answer during login for " + waited);
    if (phase_ != Phase::Running) return;
    for (const auto& [itt, t] : aborts_)
        if (t.timeout && now - t.sent > cfg_.command_timeout) return recover("ABORT TASK unanswered for " + waited);
    for (auto& [itt, op] : ops_)
        if (!op->timeout_abort && now - op->sent > cfg_.command_timeout) {
            op->timeout_abort = true;
            ++stats_.timed_out;
            aborts_[send_tmf(TmfFunction::AbortTask, {op->itt}, op->itt, op->cmdsn)].timeout = true;
        }
}

void Initiator::fail(std::string why) {
    if (phase_ == Phase::Failed) return;
    stats_.errors.push_back(std::move(why));
    phase_ = Phase::Failed;
    if (stream_) stream_->close("initiator gives up");
}

void Initiator::error(std::string why) {
    if (stats_.errors.size() < 20) stats_.errors.push_back(std::move(why));
}

void Initiator::check_sn(const TargetSn& sn, bool carries_status, const char* what) {
    // RFC 3720 §3.2.2.2: StatSN counts up by one per status-carrying PDU.
    if (carries_status) {
        if (have_statsn_ && sn.statsn != expstatsn_)
            error(std::string(what) + ": StatSN " + std::to_string(sn.statsn) + ", expected " + std::to_string(expstatsn_));
        expstatsn_ = sn.statsn + 1;
        have_statsn_ = true;
    }
    // RFC 3720 §3.2.2.1: ExpCmdSN never falls back; MaxCmdSN >= ExpCmdSN - 1.
    if (sn_lt(sn.expcmdsn, expcmdsn_))
        error(std::string(what) + ": ExpCmdSN fell from " + std::to_string(expcmdsn_) + " to " + std::to_string(sn.expcmdsn));
    if (!sn_le(sn.expcmdsn - 1, sn.maxcmdsn))
        error(std::string(what) + ": MaxCmdSN " + std::to_string(sn.maxcmdsn) + " below ExpCmdSN-1");
    if (sn_gt(sn.expcmdsn, expcmdsn_)) expcmdsn_ = sn.expcmdsn;
    if (sn_gt(sn.maxcmdsn, maxcmdsn_)) maxcmdsn_ = sn.maxcmdsn;
}

void Initiator::on_pdu(Pdu& pdu) {
    ++stats_.pdus_received;
    switch (pdu.opcode()) {
        case Opcode::LoginResponse: return on_login_response(pdu);
        case Opcode::TextResponse: return on_text_response(pdu);
        case Opcode::DataIn: return on_data_in(pdu);
        case Opcode::R2T: return on_r2t(pdu);
        case Opcode::ScsiResponse: return on_scsi_response(pdu);
        case Opcode::NopIn: {
            auto n = NopInPdu::decode(pdu.bhs);
            check_sn(n.sn, n.itt != kReservedTag, "NOP-In");
            if (n.ttt != kReservedTag) {
                // RFC 3720 §10.19: a ping from the target is answered with its TTT.
                NopOutPdu o;
                o.immediate = true;
                o.itt = kReservedTag;
                o.ttt = n.ttt;
                o.lun = n.lun;
                o.cmdsn = cmdsn_;
                o.expstatsn = expstatsn_;
                ++stats_.nop_in_answered;
                send_pdu(o.encode(0));
            }
            return;
        }
        case Opcode::LogoutResponse: {
            auto l = LogoutResponsePdu::decode(pdu.bhs);
            check_sn(l.sn, true, "Logout Response");
            if (l.response != LogoutResponseCode::Success) return fail("logout refused");
            stream_->close("logged out");
            if (session_discovery_) {
                if (cfg_.target.empty()) {
                    phase_ = Phase::Done;
                    stats_.logged_out = true;
                    return;
                }
                // The normal session follows on a new connection, from a fresh stack.
                auto self = shared_from_this();
                kernel_.post([self] { self->connect_session(false); });
                return;
            }
            if (relogin_) {
                // A logout in the middle of the workload (the fault plan): RFC 3720 §10.14,
                // the target ended every task still pending without a response. Log in
                // again and go on.
                relogin_ = false;
                ++stats_.relogins;
                return relogin_later();
            }
            stats_.logged_out = true;
            phase_ = Phase::Done;
            return;
        }
        case Opcode::Reject: {
            auto r = RejectPdu::decode(pdu.bhs);
            check_sn(r.sn, true, "Reject");
            // A data digest error is the link's doing (a fault), not a protocol error:
            // the target drops the connection after it and the session recovers.
            if (r.reason == RejectReason::DataDigestError) return;
            return error("target rejected a PDU, reason " + hex(static_cast<std::uint8_t>(r.reason)));
        }
        case Opcode::AsyncMessage: {
            auto a = AsyncMessagePdu::decode(pdu.bhs);
            check_sn(a.sn, true, "Async Message");
            return;
        }
        case Opcode::TaskMgmtResponse: return on_tmf_response(pdu);
        default:
            return error(std::string("unexpected PDU from the target: ") + to_string(pdu.opcode()));
    }
}

void Initiator::on_login_response(Pdu& pdu) {
    auto r = LoginResponsePdu::decode(pdu.bhs);
    // Digests start after the login (RFC 3720 §12.1), so a bit flipped on the wire can
    // garble a login in either direction. A failed login is retried as a recovery: the
    // run fails it unless a fault explains it, and max_recoveries bounds the retries.
    if (r.itt != login_itt_) return recover("Login Response with a foreign ITT");
    if (r.status_class != 0)
        return recover("login failed, status " + hex(static_cast<std::uint32_t>((r.status_class << 8) | r.status_detail)));
    check_sn(r.sn, true, "Login Response");
    auto text = parse_text(pdu.data);
    if (text.error != TextError::none) return recover("malformed login text from the target");
    std::set<std::string> ours;
    for (const auto& kv : cfg_.keys) ours.insert(kv.key);
    for (const auto& kv : text.pairs) {
        stats_.negotiated[kv.key] = kv.value;
        const KeyDef* d = find_key(kv.key);
        const bool declarative = !d || d->kind == KeyKind::Declarative;
        // A key the target offers on its own needs our answer; we take its value.
        if (!ours.count(kv.key) && !declarative) pending_answers_.push_back(kv);
    }
    tsih_ = r.tsih;
    if (!(r.transit && r.nsg == 3)) return send_login();

    auto get = [&](const char* k) -> std::optional<std::string> {
        auto it = stats_.negotiated.find(k);
        if (it == stats_.negotiated.end()) return std::nullopt;
        return it->second;
    };
    if (auto v = get("MaxRecvDataSegmentLength")) target_mrdsl_ = parse_number(*v).value_or(8192);
    if (!session_discovery_) {
        if (auto v = get("InitialR2T")) initial_r2t_ = *v == "Yes";
        if (auto v = get("ImmediateData")) immediate_data_ = *v == "Yes";
        if (auto v = get("FirstBurstLength")) first_burst_ = parse_number(*v).value_or(65536);
        if (auto v = get("MaxBurstLength")) max_burst_ = parse_number(*v).value_or(262144);
        bool hd = get("HeaderDigest").value_or("None") == "CRC32C";
        bool dd = get("DataDigest").value_or("None") == "CRC32C";
        digests_ = DigestSettings{hd, dd};
        reader_->set_digests(digests_);
        // RFC 3720 §5.3: an outcome the initiator cannot accept ends the login. Only a
        // garbled login (no digests yet) gets here; the run fails it unless a fault
        // explains it.
        if (hd != want_hd_ || dd != want_dd_) return recover("digests negotiated differently than offered");
    }
    if (session_discovery_) {
        TextRequestPdu t;
        t.itt = itt_++;
        t.cmdsn = cmdsn_++;
        t.expstatsn = expstatsn_;
        Bytes q = text_of({{"SendTargets", "All"}});
        {
            const auto dsl = static_cast<std::uint32_t>(q.size());
            return send_pdu(t.encode(dsl), std::move(q));
        }
    }
    phase_ = Phase::Ready;
    // READ CAPACITY(16) first: it learns the geometry, and clears the power-on UA.
    auto op = std::make_shared<Op>();
    op->kind = Op::Kind::read_capacity;
    send_command(op);
}

void Initiator::on_text_response(Pdu& pdu) {
    auto t = TextResponsePdu::decode(pdu.bhs);
    check_sn(t.sn, true, "Text Response");
    for (const auto& kv : parse_text(pdu.data).pairs)
        if (kv.key == "TargetName") stats_.targets_discovered.push_back(kv.value);
    if (!t.final_bit) {
        TextRequestPdu more;
        more.itt = t.itt;
        more.ttt = t.ttt;
        more.cmdsn = cmdsn_++;
        more.expstatsn = expstatsn_;
        return send_pdu(more.encode(0));
    }
    if (!cfg_.target.empty() &&
        std::find(stats_.targets_discovered.begin(), stats_.targets_discovered.end(), cfg_.target) ==
            stats_.targets_discovered.end())
        return fail("SendTargets did not list " + cfg_.target);
    logout();
}

void Initiator::logout() {
    phase_ = Phase::LoggingOut;
    LogoutRequestPdu l;
    l.immediate = true;
    l.reason = LogoutReason::CloseSession;
    l.itt = itt_++;
    l.cmdsn = cmdsn_;
    l.expstatsn = expstatsn_;
    send_pdu(l.encode());
}

// ---- the workload -------------------------------------------------------------------

void Initiator::fill_block(std::uint64_t lba, std::uint64_t gen, std::span<std::byte> out) const {
    if (gen == 0) {
        std::fill(out.begin(), out.end(), std::byte{0});
        return;
    }
    // The tag: LBA and generation in the first 16 bytes, a pattern derived from both after.
    for (std::size_t i = 0; i + 8 <= out.size(); i += 8) {
        std::uint64_t w = i == 0 ? lba : i == 8 ? gen : (lba << 24) ^ (gen << 44) ^ (i * 0x9e3779b97f4a7c15ULL);
        st64(out, i, w);
    }
}

bool Initiator::next_op(Op& op) {
    const std::uint64_t bpo = std::max<std::uint64_t>(1, wl_.block_size / block_len_);
    const std::uint64_t first = wl_.region_offset / block_len_;
    std::uint64_t len = wl_.region_length ? wl_.region_length / block_len_ : lun_blocks_ - first;
    len = std::min(len, lun_blocks_ - std::min(first, lun_blocks_));
    const std::uint64_t slots = len / bpo;
    if (slots == 0) {
        fail("workload region holds no whole operation");
        return false;
    }
    if (wl_.write_then_read) {
        const std::uint64_t half = wl_.ops / 2;
        op.kind = issued_ < half ? Op::Kind::write : Op::Kind::read;
        op.lba = first + ((issued_ % half) % slots) * bpo;
    } else {
        const std::uint64_t r = rng_.below(100);
        op.kind = r < wl_.read_pct ? Op::Kind::read : r < wl_.read_pct + wl_.verify_pct ? Op::Kind::verify : Op::Kind::write;
        bool found = false;
        for (int attempt = 0; attempt < 32 && !found; ++attempt) {
            const std::uint64_t slot = wl_.pattern == Workload::Pattern::sequential ? (seq_next_++ % slots) : rng_.below(slots);
            op.lba = first + slot * bpo;
            found = !busy_.count(op.lba);
        }
        if (!found) return false;  // everything near is busy: wait for a completion
    }
    if (busy_.count(op.lba)) return false;
    op.blocks = static_cast<std::uint32_t>(bpo);
    return true;
}

void Initiator::unknown(std::uint64_t lba, std::uint32_t blocks) {
    for (std::uint32_t b = 0; b < blocks; ++b) {
        shadow_[lba + b] = kUnknown;
        uncertain_.erase(lba + b);
    }
}

std::uint64_t Initiator::durable_gen(std::uint64_t lba) const {
    auto d = durable_.find(lba);
    return d == durable_.end() ? 0 : d->second;
}

void Initiator::power_lost() {
    for (const auto& [block, gen] : shadow_) {
        if (gen == kUnknown) continue;
        if (const std::uint64_t lo = durable_gen(block); lo != gen) uncertain_[block] = {lo, gen};
    }
    // A SYNCHRONIZE CACHE still running flushes a cache that is no longer there: it makes
    // nothing acknowledged before the loss durable.
    log_base_ += acked_log_.size();
    acked_log_.clear();
    // A write still in flight may have reached the cache before the loss: its
    // acknowledgement (checked against the epoch) does not prove it is there.
    ++power_epoch_;
}

bool Initiator::check_block(std::uint64_t lba, std::span<const std::byte> got, bool settle) {
    Bytes want(block_len_);
    if (auto u = uncertain_.find(lba); u != uncertain_.end()) {
        // After a power loss: any version from the last durable one to the last
        // acknowledged one (the tag says which). A read sent after the loss found what
        // the device holds now (one sent before may have read the lost cache); that need
        // not be durable yet: a write that crossed the loss may sit in the new cache.
        const auto [lo, hi] = u->second;
        const bool zero = std::all_of(got.begin(), got.end(), [](std::byte b) { return b == std::byte{0}; });
        const std::uint64_t gen = zero ? 0 : ld64(got, 8);
        if (gen < lo || gen > hi) return false;
        fill_block(lba, gen, want);
        if (!std::equal(want.begin(), want.end(), got.begin())) return false;
        if (!settle) return true;
        if (gen != hi) ++stats_.reverted;
        uncertain_.erase(u);
        shadow_[lba] = gen;
        return true;
    }
    auto s = shadow_.find(lba);
    if (s != shadow_.end() && s->second == kUnknown) return true;  // after an abort or recovery
    fill_block(lba, s == shadow_.end() ? 0 : s->second, want);
    return std::equal(want.begin(), want.end(), got.begin());
}

void Initiator::issue() {
    while (phase_ == Phase::Running && issued_ < wl_.ops && ops_.size() < wl_.queue_depth && sn_le(cmdsn_, maxcmdsn_)) {
        if (wl_.sync_every && since_sync_ >= wl_.sync_every) {
            // SYNCHRONIZE CACHE(10) of the whole LU: every write acknowledged so far is
            // durable once it completes.
            since_sync_ = 0;
            auto sync = std::make_shared<Op>();
            sync->kind = Op::Kind::sync;
            sync->sync_mark = log_base_ + acked_log_.size();
            send_command(sync);
            continue;
        }
        auto op = std::make_shared<Op>();
        if (!next_op(*op)) return;
        ++issued_;
        ++since_sync_;
        if (op->kind == Op::Kind::write && wl_.fua_pct) op->fua = rng_.below(100) < wl_.fua_pct;
        if (op->kind == Op::Kind::verify)
            for (std::uint32_t b = 0; b < op->blocks; ++b)
                if (uncertain_.count(op->lba + b)) {
                    op->kind = Op::Kind::read;  // a VERIFY needs to know what to expect
                    break;
                }
        if (op->kind == Op::Kind::write || op->kind == Op::Kind::verify) {
            op->out = std::make_shared<Bytes>(std::size_t{op->blocks} * block_len_);
            const std::uint64_t gen = op->kind == Op::Kind::write ? ++gen_ : 0;
            for (std::uint32_t b = 0; b < op->blocks; ++b) {
                auto it = shadow_.find(op->lba + b);
                std::uint64_t g = op->kind == Op::Kind::write ? gen : (it == shadow_.end() ? 0 : it->second);
                if (g == kUnknown) {
                    // A VERIFY of a block whose contents are unknown would prove nothing: read it.
                    op->kind = Op::Kind::read;
                    op->out.reset();
                    break;
                }
                fill_block(op->lba + b, g, std::span<std::byte>(op->out->data() + b * block_len_, block_len_));
            }
        }
        send_command(op);
        if (wl_.abort_every && issued_ % wl_.abort_every == 0) send_abort(*op);
    }
}

void Initiator::send_abort(const Op& op) {
    ++stats_.aborts_sent;
    send_tmf(TmfFunction::AbortTask, {op.itt}, op.itt, op.cmdsn);
}

std::uint32_t Initiator::send_tmf(TmfFunction fn, std::vector<std::uint32_t> tasks, std::uint32_t ref_itt, std::uint32_t ref_cmdsn) {
    // RFC 3720 §10.5: immediate; ABORT TASK names its task by ITT and CmdSN.
    TaskMgmtRequestPdu t;
    t.immediate = true;
    t.function = fn;
    t.lun = (std::uint64_t{cfg_.lun} << 48);
    t.itt = itt_++;
    if (fn == TmfFunction::AbortTask) {
        t.referenced_task_tag = ref_itt;
        t.refcmdsn = ref_cmdsn;
    }
    t.cmdsn = cmdsn_;
    t.expstatsn = expstatsn_;
    aborts_[t.itt] = PendingTmf{fn, std::move(tasks), false, kernel_.now(), {}};
    send_pdu(t.encode());
    return t.itt;
}

bool Initiator::task_management(TmfFunction fn, std::function<void()> on_end) {
    if (phase_ != Phase::Running || recovering_ || frozen_) return false;
    if (fn == TmfFunction::AbortTask) {
        // The oldest workload command (ITTs grow, so the first in the map).
        auto oldest = std::find_if(ops_.begin(), ops_.end(), [](const auto& e) { return e.second->workload(); });
        if (oldest == ops_.end()) return false;
        send_abort(*oldest->second);
        return true;
    }
    // A function on the task set covers every task in flight, a SYNCHRONIZE CACHE too.
    std::vector<std::uint32_t> tasks;
    for (const auto& [itt, op] : ops_) tasks.push_back(itt);
    aborts_[send_tmf(fn, std::move(tasks), 0, 0)].on_end = std::move(on_end);
    return true;
}

void Initiator::on_tmf_response(Pdu& pdu) {
    auto t = TaskMgmtResponsePdu::decode(pdu.bhs);
    check_sn(t.sn, true, "TMF Response");
    auto a = aborts_.find(t.itt);
    if (a == aborts_.end()) return error("TMF Response for an unknown request " + hex(t.itt));
    const PendingTmf tmf = std::move(a->second);
    aborts_.erase(a);
    if (tmf.on_end) tmf.on_end();
    if (t.response == TmfResponse::FunctionComplete) {
        // The tasks it covers ended without a response (RFC 3720 §10.6.2: the TMF
        // response comes after every response of the tasks it ended).
        for (const std::uint32_t task : tmf.tasks) {
            auto it = ops_.find(task);
            if (it == ops_.end()) {
                ++stats_.abort_too_late;  // it had completed first; the target found nothing left
                continue;
            }
            auto op = it->second;
            ops_.erase(it);
            end_unanswered(*op);  // an aborted write may or may not have reached the medium
            ++stats_.aborted;
        }
    } else if (t.response == TmfResponse::TaskDoesNotExist && tmf.fn == TmfFunction::AbortTask) {
        auto it = ops_.find(tmf.tasks.front());
        if (it != ops_.end() && (foreign_resets_ > 0 || it->second->sent <= foreign_reset_at_)) {
            // Gone without a response: another nexus's LUN RESET, CLEAR TASK SET or
            // target reset ended it (SAM-5 with TAS=0). Its outcome is unknown.
            auto op = it->second;
            ops_.erase(it);
            lose(*op);
        } else if (it != ops_.end()) {
            // Nobody else reset the LU: the target lost a task it was given.
            error("ABORT TASK found no task " + hex(tmf.tasks.front()) + ", yet it never completed");
        }
        ++stats_.abort_too_late;
    } else {
        error("task management function " + std::to_string(static_cast<int>(tmf.fn)) + " answered " +
              std::to_string(static_cast<int>(t.response)));
    }
    maybe_finish();
}

void Initiator::maybe_finish() {
    if (phase_ != Phase::Running) return;
    if (completed_ >= wl_.ops && ops_.empty() && aborts_.empty()) return logout();
    issue();
}

void Initiator::send_command(std::shared_ptr<Op> op) {
    ScsiCommandPdu c;
    c.itt = op->itt = itt_++;
    c.cmdsn = op->cmdsn = cmdsn_++;
    c.expstatsn = expstatsn_;
    c.lun = (std::uint64_t{cfg_.lun} << 48);
    c.attr = TaskAttr::Simple;
    const std::uint32_t len = static_cast<std::uint32_t>(op->blocks * block_len_);
    auto cdb = std::span<std::byte>(c.cdb);
    switch (op->kind) {
        case Op::Kind::read_capacity:
            st8(cdb, 0, 0x9e);
            st8(cdb, 1, 0x10);
            st32(cdb, 10, 32);
            c.read = true;
            c.expected_data_transfer_length = 32;
            break;
        case Op::Kind::mode_sense:
            // MODE SENSE(6), the caching page: is the write cache on (WCE)?
            st8(cdb, 0, 0x1a);
            st8(cdb, 2, 0x08);
            st8(cdb, 4, 0xff);
            c.read = true;
            c.expected_data_transfer_length = 0xff;
            break;
        case Op::Kind::sync: st8(cdb, 0, 0x35); break;
        case Op::Kind::tur: break;
        case Op::Kind::read:
        case Op::Kind::write:
        case Op::Kind::verify:
            st8(cdb, 0, op->kind == Op::Kind::read ? 0x88 : op->kind == Op::Kind::write ? 0x8a : 0x8f);
            if (op->kind == Op::Kind::verify) st8(cdb, 1, 0x02);  // BYTCHK=1
            if (op->fua) st8(cdb, 1, 0x08);
            st64(cdb, 2, op->lba);
            st32(cdb, 10, op->blocks);
            c.read = op->kind == Op::Kind::read;
            c.write = op->kind != Op::Kind::read;
            c.expected_data_transfer_length = len;
            break;
    }
    ops_[op->itt] = op;
    op->power_epoch = power_epoch_;
    op->sent = kernel_.now();
    if (op->workload()) busy_.insert(op->lba);
    Bytes imm;
    std::uint32_t unsolicited_end = 0;
    if (c.write) {
        // RFC 3720 §10.3: immediate data up to FirstBurstLength and the target's
        // MaxRecvDataSegmentLength; unsolicited Data-Out after it up to FirstBurstLength.
        const std::uint32_t first_burst = std::min(first_burst_, len);
        std::uint32_t n = immediate_data_ ? std::min(first_burst, target_mrdsl_) : 0;
        imm.assign(op->out->begin(), op->out->begin() + n);
        op->unsolicited_sent = n;
        unsolicited_end = initial_r2t_ ? n : first_burst;
        c.final_bit = unsolicited_end == n;
    }
    {
        const auto dsl = static_cast<std::uint32_t>(imm.size());
        send_pdu(c.encode(dsl), std::move(imm));
    }
    if (c.write && op->unsolicited_sent < unsolicited_end)
        send_data_out(*op, kReservedTag, op->unsolicited_sent, unsolicited_end - op->unsolicited_sent, false);
}

void Initiator::send_data_out(Op& op, std::uint32_t ttt, std::uint32_t offset, std::uint32_t length, bool) {
    std::uint32_t datasn = 0;
    std::uint32_t sent = 0;
    while (sent < length) {
        const std::uint32_t n = std::min(target_mrdsl_, length - sent);
        DataOutPdu d;
        d.itt = op.itt;
        d.ttt = ttt;
        d.lun = (std::uint64_t{cfg_.lun} << 48);
        d.datasn = datasn++;
        d.buffer_offset = offset + sent;
        d.expstatsn = expstatsn_;
        d.final_bit = sent + n == length;
        Bytes data(op.out->begin() + offset + sent, op.out->begin() + offset + sent + n);
        send_pdu(d.encode(n), std::move(data));
        sent += n;
    }
}

void Initiator::on_r2t(Pdu& pdu) {
    auto r = R2TPdu::decode(pdu.bhs);
    check_sn(r.sn, false, "R2T");
    ++stats_.r2ts;
    auto it = ops_.find(r.itt);
    if (it == ops_.end() || !it->second->out) return error("R2T for unknown task " + hex(r.itt));
    Op& op = *it->second;
    // RFC 3720 §10.8: R2TSN counts from 0 per task; the burst stays in bounds.
    if (r.r2tsn != op.next_r2tsn) error("R2TSN " + std::to_string(r.r2tsn) + ", expected " + std::to_string(op.next_r2tsn));
    op.next_r2tsn = r.r2tsn + 1;
    if (r.desired_data_transfer_length > max_burst_) error("R2T beyond MaxBurstLength");
    if (std::uint64_t{r.buffer_offset} + r.desired_data_transfer_length > op.out->size()) return error("R2T beyond the data");
    if (kernel_.now() < withhold_until_) return;  // the fault plan: Data-Out withheld
    send_data_out(op, r.ttt, r.buffer_offset, r.desired_data_transfer_length, true);
}

void Initiator::on_data_in(Pdu& pdu) {
    auto d = DataInPdu::decode(pdu.bhs);
    check_sn(d.sn, d.status_present, "Data-In");
    ++stats_.data_in;
    auto it = ops_.find(d.itt);
    if (it == ops_.end()) return error("Data-In for unknown task " + hex(d.itt));
    auto op = it->second;
    if (d.datasn != op->next_datasn) error("DataSN " + std::to_string(d.datasn) + ", expected " + std::to_string(op->next_datasn));
    op->next_datasn = d.datasn + 1;
    if (d.buffer_offset != op->in.size()) error("Data-In out of order at offset " + std::to_string(d.buffer_offset));
    if (pdu.data.size() > 0 && d.status_present == false && !d.final_bit && pdu.data.size() > 16777215) error("oversize Data-In");
    op->in.insert(op->in.end(), pdu.data.begin(), pdu.data.end());
    if (d.status_present) {
        if (d.underflow || d.overflow) {
            if (op->workload()) error("unexpected residual on a Data-In");
        }
        complete(op, d.status, {});
    }
}

void Initiator::on_scsi_response(Pdu& pdu) {
    auto r = ScsiResponsePdu::decode(pdu.bhs);
    check_sn(r.sn, true, "SCSI Response");
    auto it = ops_.find(r.itt);
    if (it == ops_.end()) return error("SCSI Response for unknown task " + hex(r.itt));
    if (r.response != 0) error("iSCSI response " + hex(r.response));
    std::span<const std::byte> sense;
    if (pdu.data.size() >= 2) {
        const std::size_t n = std::min<std::size_t>(ld16(pdu.data, 0), pdu.data.size() - 2);
        sense = std::span<const std::byte>(pdu.data).subspan(2, n);
    }
    complete(it->second, r.status, sense);
}

void Initiator::complete(std::shared_ptr<Op> op, std::uint8_t status, std::span<const std::byte> sense) {
    ops_.erase(op->itt);
    if (op->workload()) busy_.erase(op->lba);
    if (status != 0) {
        const int key = sense.size() >= 3 ? ((ld8(sense, 0) & 0x7f) >= 0x72 ? ld8(sense, 1) : ld8(sense, 2)) & 0x0f : -1;
        if (key == 0x6) {
            // UNIT ATTENTION: the command did not run; send it again.
            ++stats_.unit_attentions;
            op->in.clear();
            op->next_datasn = op->next_r2tsn = 0;
            return send_command(op);
        }
        if (status == 0x02 && key == 0xe && op->kind == Op::Kind::verify && op->power_epoch != power_epoch_) {
            // MISCOMPARE from a VERIFY that crossed a power loss: it may have compared
            // against what the loss took. Nothing to learn either way.
            ++completed_;
            return maybe_finish();
        }
        if (status == 0x02 && (key == 0x3 || key == 0x2 || key == 0x4) && (op->workload() || op->kind == Op::Kind::sync)) {
            // MEDIUM ERROR, NOT READY, HARDWARE ERROR: the device failed the command.
            // Counted (the run checks them against its faults); a failed write leaves its
            // blocks unknown, a failed SYNCHRONIZE CACHE makes nothing durable.
            ++(key == 0x3 ? stats_.medium_errors : stats_.device_errors);
            if (op->kind == Op::Kind::write) unknown(op->lba, op->blocks);
            if (op->workload()) ++completed_;
            return maybe_finish();
        }
        error("command " + hex(op->itt) + " (op " + std::to_string(static_cast<int>(op->kind)) + ", LBA " +
              std::to_string(op->lba) + ") ended with status " + hex(status) + ", sense key " + std::to_string(key) + " (sent at " +
              std::to_string(op->sent.count() / 1000) + " us)");
    } else {
        switch (op->kind) {
            case Op::Kind::read_capacity:
                if (op->in.size() < 12) return fail("short READ CAPACITY(16) data");
                lun_blocks_ = ld64(op->in, 0) + 1;
                block_len_ = ld32(op->in, 8);
                stats_.negotiated["block_size"] = std::to_string(block_len_);
                {
                    auto ms = std::make_shared<Op>();
                    ms->kind = Op::Kind::mode_sense;
                    send_command(ms);
                }
                return;
            case Op::Kind::mode_sense: {
                // SPC-4 §7.5.5: header, block descriptors, then the caching page (SBC-3
                // §6.5.5): WCE is bit 2 of its third byte.
                const std::size_t bdl = op->in.size() >= 4 ? ld8(op->in, 3) : 0;
                const std::size_t at = 4 + bdl;
                if (op->in.size() < at + 3 || (ld8(op->in, at) & 0x3f) != 0x08) return fail("no caching page in MODE SENSE");
                stats_.write_cache = ld8(op->in, at + 2) & 0x04;
                phase_ = Phase::Running;
                last_rx_ = kernel_.now();
                if (cfg_.command_timeout.count() > 0 && !watchdog_armed_) {
                    watchdog_armed_ = true;
                    watchdog();
                }
                if (wl_.ops == 0) return logout();
                return maybe_finish();
            }
            case Op::Kind::sync:
                ++stats_.syncs;
                while (!acked_log_.empty() && log_base_ < op->sync_mark) {
                    auto& d = durable_[acked_log_.front().first];
                    d = std::max(d, acked_log_.front().second);
                    acked_log_.pop_front();
                    ++log_base_;
                }
                return maybe_finish();
            case Op::Kind::read: {
                ++stats_.reads;
                stats_.bytes_read += op->in.size();
                if (wl_.verify_data) {
                    for (std::uint32_t b = 0; b < op->blocks; ++b) {
                        if (op->in.size() < (b + 1) * block_len_ ||
                            !check_block(op->lba + b, std::span<const std::byte>(op->in).subspan(b * block_len_, block_len_),
                                         op->power_epoch == power_epoch_)) {
                            error("data verification failed at LBA " + std::to_string(op->lba + b));
                            break;
                        }
                    }
                }
                break;
            }
            case Op::Kind::write: {
                ++stats_.writes;
                stats_.bytes_written += op->out->size();
                const std::uint64_t gen = ld64(*op->out, 8);
                // Durable now if the write cache is off or the write had FUA; otherwise once
                // a SYNCHRONIZE CACHE issued after this acknowledgement completes.
                const bool durable = !stats_.write_cache || op->fua;
                const bool crossed_a_loss = op->power_epoch != power_epoch_;
                for (std::uint32_t b = 0; b < op->blocks; ++b) {
                    const std::uint64_t lba = op->lba + b;
                    shadow_[lba] = gen;
                    uncertain_.erase(lba);
                    if (durable) {
                        durable_[lba] = gen;
                        continue;
                    }
                    if (crossed_a_loss) {
                        // It may have reached the cache before the loss and gone with it:
                        // no later SYNCHRONIZE CACHE can make it durable.
                        uncertain_[lba] = {durable_gen(lba), gen};
                        continue;
                    }
                    acked_log_.emplace_back(lba, gen);
                }
                // Without SYNCHRONIZE CACHE the log only grows: forget its oldest entries
                // (those writes are then never counted durable: the check only loosens).
                while (acked_log_.size() > (1u << 20)) {
                    acked_log_.pop_front();
                    ++log_base_;
                }
                break;
            }
            case Op::Kind::verify: ++stats_.verifies; break;
            case Op::Kind::tur: break;
        }
    }
    if (op->workload()) ++completed_;
    maybe_finish();
}

}  // namespace iscsilab::model
