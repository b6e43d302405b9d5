// The initiator model's connection: the stream and its framer, the dispatch of every
// PDU from the target, and the sequence-number checks every status-bearing PDU gets.
#include "model/initiator.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "target/bytes.hpp"

namespace iscsilab::model {

using namespace iscsilab::iscsi;

namespace detail {
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
SenseCode sense_code(std::span<const std::byte> sense) {
    SenseCode c;
    if (sense.size() < 3) return c;
    const bool descriptor = (ld8(sense, 0) & 0x7f) >= 0x72;
    c.key = (descriptor ? ld8(sense, 1) : ld8(sense, 2)) & 0x0f;
    if (descriptor && sense.size() >= 4) {
        c.asc = ld8(sense, 2);
        c.ascq = ld8(sense, 3);
    } else if (!descriptor && sense.size() >= 14) {
        c.asc = ld8(sense, 12);
        c.ascq = ld8(sense, 13);
    }
    return c;
}
}  // namespace detail

using detail::hex;

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
    o << ", " << aborts_.size() << " TMF pending, " << pings_.size() << " pings pending, CmdSN " << cmdsn_ << " ExpCmdSN "
      << expcmdsn_ << " MaxCmdSN " << maxcmdsn_ << ", last PDU at " << last_rx_.count() / 1000 << " us";
    return o.str();
}

void Initiator::connect_session(bool discovery) {
    stream_ = connect_();
    reader_ = std::make_unique<PduReader>([this](Pdu&& p, FrameError e) {
        if (e != FrameError::none) {
            // RFC 3720 §6.7: the framing or the data cannot be trusted; at ERL 0 the
            // session recovers.
            if (e == FrameError::header_digest) ++stats_.seen["bhs_detected"];
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
    // What a misbehaving step waits for belongs to the connection it was sent on.
    pings_.clear();
    ignored_.clear();
    midway_text_itt_ = 0;
    bhs_sent_corrupt_ = false;
    closed_by_us_ = false;
    stream_->set_handler(std::weak_ptr<ByteStream::Handler>(shared_from_this()));
    send_login();
}

void Initiator::send_pdu(const Bhs& bhs, Bytes data) {
    ++stats_.pdus_sent;
    stream_->send(frame_pdu(bhs, Slice::own(std::move(data)), digests_), {});
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
    // A close of a stream already logged out and closed here (it can come late, as a
    // frozen host reads what waited) ends nothing more.
    if (finished() || closed_by_us_) return;
    if (frozen_) {
        if (!frozen_closed_) frozen_closed_ = std::string(reason);
        return;
    }
    if (bhs_sent_corrupt_) {
        // RFC 3720 §6.7: a header that failed its digest cannot be trusted; the target
        // dropped the connection rather than act on it.
        bhs_sent_corrupt_ = false;
        ++stats_.seen["bhs_closed"];
    }
    recover("connection closed: " + std::string(reason));
}

void Initiator::header_corrupted(int dir) {
    if (dir == 0 && !finished() && !recovering_) bhs_sent_corrupt_ = true;
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
        case Opcode::NopIn: return on_nop_in(pdu);
        case Opcode::LogoutResponse: return on_logout_response(pdu);
        case Opcode::Reject: return on_reject(pdu);
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

}  // namespace iscsilab::model
