// The checker's front: TCP reassembly per connection and direction, PDU framing, and
// dispatch to the per-family judges (check_*.cpp).
#include "reports/checker/checker.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "reports/checker/conn.hpp"

namespace iscsilab::checker {

namespace {

constexpr RuleInfo RULES[] = {
#define ISCSILAB_RULE_INFO(name, id, text) RuleInfo{id, text},
    ISCSILAB_WIRE_RULES(ISCSILAB_RULE_INFO)
#undef ISCSILAB_RULE_INFO
};
static_assert(std::size(RULES) == RULE_COUNT);

// Fault records (faults/record.hpp's layout, read here on its own): "ILFR", version 1,
// kind at byte 5; kind 2 is a corrupted segment.
constexpr std::uint32_t RECORD_MAGIC = 0x494c4652u;
constexpr std::uint8_t RECORD_KIND_CORRUPT = 2;

}  // namespace

std::span<const RuleInfo> rules() { return RULES; }

Address Address::v4(std::uint32_t ip, std::uint16_t port) {
    Address a;
    a.ip[10] = a.ip[11] = 0xff;
    a.ip[12] = static_cast<std::uint8_t>(ip >> 24);
    a.ip[13] = static_cast<std::uint8_t>(ip >> 16);
    a.ip[14] = static_cast<std::uint8_t>(ip >> 8);
    a.ip[15] = static_cast<std::uint8_t>(ip);
    a.port = port;
    return a;
}

std::string Address::text() const {
    char buf[64];
    bool v4 = ip[10] == 0xff && ip[11] == 0xff && std::all_of(ip.begin(), ip.begin() + 10, [](auto b) { return b == 0; });
    if (v4) {
        std::snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", ip[12], ip[13], ip[14], ip[15], port);
    } else {
        std::string s = "[";
        for (int k = 0; k < 16; k += 2) {
            char h[8];
            std::snprintf(h, sizeof h, "%s%x", k ? ":" : "", (ip[k] << 8) | ip[k + 1]);
            s += h;
        }
        std::snprintf(buf, sizeof buf, "%s]:%u", s.c_str(), port);
    }
    return buf;
}

std::string describe(const Pdu& p, bool from_initiator) {
    char buf[160];
    if (from_initiator)
        std::snprintf(buf, sizeof buf, "%s ITT 0x%x CmdSN %u ExpStatSN %u DSL %u", opcode_name(p.opcode), p.itt,
                      p.cmdsn(), p.expstatsn(), p.data_segment_length);
    else
        std::snprintf(buf, sizeof buf, "%s ITT 0x%x StatSN %u ExpCmdSN %u MaxCmdSN %u DSL %u", opcode_name(p.opcode),
                      p.itt, p.statsn(), p.expcmdsn(), p.maxcmdsn(), p.data_segment_length);
    return buf;
}

WireChecker::WireChecker(Options o) : opt_(o) {}
WireChecker::~WireChecker() = default;

void WireChecker::note(std::string line) {
    if (std::find(notes_.begin(), notes_.end(), line) == notes_.end() && notes_.size() < 200) notes_.push_back(std::move(line));
}

namespace {
// The PDU being judged, for violation lines (one connection is judged at a time).
thread_local const Pdu* current_pdu = nullptr;
thread_local bool current_from_initiator = false;
}  // namespace

void WireChecker::report(Conn& c, Rule r, bool ok, const char* fmt, ...) {
    auto& t = tally_[static_cast<std::size_t>(r)];
    ++t.exercised;
    if (ok) return;
    ++t.violated;
    ++violation_count_;
    Violation v;
    v.rule = r;
    v.connection = c.index;
    v.connection_name = c.name;
    v.from_initiator = current_pdu ? current_from_initiator : false;
    v.pdu_index = c.pdu_index ? c.pdu_index - 1 : 0;
    v.time_ns = c.now;
    v.frame = c.frame;
    if (current_pdu) v.pdu = describe(*current_pdu, current_from_initiator);
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    v.detail = buf;
    if (on_violation) on_violation(v);
    auto& kept = v.from_initiator ? kept_by_initiator_ : kept_by_target_;
    if (kept < opt_.max_violations_kept) {
        ++kept;
        violations_.push_back(std::move(v));
    }
}

void WireChecker::record(std::int64_t, std::span<const std::byte> b) {
    if (b.size() >= 6 && be32(b, 0) == RECORD_MAGIC && u8(b, 5) == RECORD_KIND_CORRUPT) corruption_announced_ = true;
}

namespace {

// Judges one whole PDU.
void dispatch(WireChecker& w, WireChecker::Conn& c, const Pdu& p, bool from_initiator) {
    // RFC 3720 §10.2.1.2: each side has its own opcodes.
    const bool own_opcode = from_initiator ? is_initiator_opcode(p.opcode) : is_target_opcode(p.opcode);
    w.report(c, from_initiator ? Rule::opcode_initiator : Rule::opcode_direction, own_opcode,
             "opcode 0x%02x is not one the %s may send", p.opcode, from_initiator ? "initiator" : "target");
    if (!own_opcode) {
        // Not a PDU this side sends: judged no further, and the stream is searched for
        // its next header (what follows may be anything).
        c.framer[from_initiator ? 0 : 1].lose_sync("an opcode of the other side");
        return;
    }
    // RFC 3720 §10.2.2: only a SCSI Command defines an AHS.
    w.report(c, Rule::ahs_zero, p.total_ahs_length == 0 || (from_initiator && p.opcode == op::SCSI_CMD),
             "TotalAHSLength %u in a %s", p.total_ahs_length, opcode_name(p.opcode));
    // RFC 3720 §10.2.1: the first bit is reserved; the I bit belongs to initiator PDUs.
    const std::uint8_t b0 = u8(p.bhs, 0);
    w.report(c, Rule::reserved_bit, !(b0 & 0x80) && (from_initiator || !(b0 & 0x40)),
             "byte 0 is 0x%02x", b0);
    // RFC 3720 §12.12: what a side may send is bounded by the other's declaration; the
    // login phase stays within the default 8192 (§12.12, "during the login phase").
    if (c.phase == Phase::full_feature || c.phase == Phase::login) {
        const std::uint32_t limit = c.phase == Phase::login ? 8192
                                    : from_initiator        ? c.neg.mrdsl_target
                                                            : c.neg.mrdsl_initiator;
        w.report(c, Rule::dsl_within_mrdsl, p.data_segment_length <= limit,
                 "DataSegmentLength %u > %u the receiver declared", p.data_segment_length, limit);
    }
    if (p.padding) w.report(c, Rule::padding_zero, p.pad_zero, "non-zero pad bytes after a %u-byte data segment", p.data_segment_length);

    if (from_initiator && c.tcp[0].saw_syn && !c.saw_first_pdu)
        w.report(c, Rule::login_first, p.opcode == op::LOGIN_REQ, "first PDU is %s", opcode_name(p.opcode));
    if (from_initiator) {
        c.saw_first_pdu = true;
        c.recent_headers.push_back(p.bhs);
        // Enough for a ping storm's backlog: a Reject may name a header sent hundreds of
        // PDUs earlier.
        if (c.recent_headers.size() > 1024) c.recent_headers.pop_front();
    }
    if (!from_initiator && c.phase == Phase::login)
        w.report(c, Rule::login_only_login_rsp, p.opcode == op::LOGIN_RSP || p.opcode == op::REJECT,
                 "%s during the login phase", opcode_name(p.opcode));

    // RFC 3720 §10.13.5 and §10.15: after a failed login, or a Logout Response that
    // closes the connection, the target says nothing more on it.
    if (c.phase == Phase::closing && c.login_failed) {
        w.report(c, Rule::failed_login_closes, false, "%s after a failed login", opcode_name(p.opcode));
        if (!from_initiator) w.report(c, Rule::login_error_ends, false, "%s after a failed login", opcode_name(p.opcode));
        return;
    }
    if (!from_initiator && c.phase == Phase::closing) {
        w.report(c, Rule::logout_last, false, "%s after the connection's end was announced", opcode_name(p.opcode));
        return;
    }
    // RFC 3720 §10.14: after its Logout Request the initiator asks for nothing more
    // (Data-Out it owes may still flow, and so may the answer to a target's ping: a
    // NOP-Out with the reserved ITT and the NOP-In's TTT, §10.18, requests nothing).
    const bool ping_answer = p.opcode == op::NOP_OUT && p.itt == 0xffffffffu && p.ttt() != 0xffffffffu;
    if (from_initiator && c.logout_sent && p.opcode != op::SCSI_DATA_OUT && !ping_answer)
        w.report(c, Rule::no_requests_after_logout, false, "%s after the Logout Request", opcode_name(p.opcode));

    switch (p.opcode) {
        case op::LOGIN_REQ: check_login_request(w, c, p); break;
        case op::LOGIN_RSP: check_login_response(w, c, p); break;
        case op::SCSI_CMD: check_scsi_command(w, c, p); break;
        case op::SCSI_DATA_OUT: check_data_out(w, c, p); break;
        case op::SCSI_DATA_IN: check_data_in(w, c, p); break;
        case op::R2T: check_r2t(w, c, p); break;
        case op::SCSI_RSP: check_scsi_response(w, c, p); break;
        case op::TASK_MGT_REQ: check_tmf_request(w, c, p); break;
        case op::TASK_MGT_RSP: check_tmf_response(w, c, p); break;
        case op::NOP_OUT: check_nop_out(w, c, p); break;
        case op::NOP_IN: check_nop_in(w, c, p); break;
        case op::TEXT_REQ: check_text_request(w, c, p); break;
        case op::TEXT_RSP: check_text_response(w, c, p); break;
        case op::LOGOUT_REQ: check_logout_request(w, c, p); break;
        case op::LOGOUT_RSP: check_logout_response(w, c, p); break;
        case op::REJECT: check_reject(w, c, p); break;
        case op::ASYNC_MSG: check_async(w, c, p); break;
        default: break;
    }
}

}  // namespace

// RFC 793 sequence space: reassembles one direction, handing in-order bytes to `out`.
template <typename Out>
static void reassemble(TcpDirection& d, const TcpSegment& s, PduFramer& framer, WireChecker& w, const std::string& name, Out&& out) {
    if (s.syn) {
        d.started = true;
        d.saw_syn = true;
        d.next = s.seq + 1;
        d.early.clear();
        d.early_bytes = 0;
    }
    if (s.payload.empty()) {
        if (s.fin || s.rst) d.closed = true;
        return;
    }
    if (!d.started) {
        // The capture began mid-connection: this may not be a PDU boundary.
        d.started = true;
        d.next = s.seq;
        framer.lose_sync("capture starts mid-connection");
        framer.forget_digests();
    }
    std::span<const std::byte> pl = s.payload;
    std::uint32_t seq = s.seq;
    const auto rel = static_cast<std::int32_t>(seq - d.next);
    if (rel < 0) {
        // Retransmitted or overlapping: keep only what is new.
        const auto old = static_cast<std::size_t>(-static_cast<std::int64_t>(rel));
        ++d.retransmitted;
        if (old >= pl.size()) return;
        pl = pl.subspan(old);
        seq = d.next;
    }
    if (seq != d.next) {
        if (d.early_bytes + pl.size() > TcpDirection::MAX_EARLY) {
            // Give the gap up: what was held goes on after it, and the framer seeks.
            ++d.gaps;
            w.note(name + ": a TCP gap was never filled; PDUs after it were found again by searching");
            framer.lose_sync("TCP gap");
            auto first = d.early.begin();
            d.next = first->first;
        } else {
            auto& slot = d.early[seq];
            if (slot.size() < pl.size()) {
                d.early_bytes += pl.size() - slot.size();
                slot.assign(pl.begin(), pl.end());
            }
            if (s.fin || s.rst) d.closed = true;
            return;
        }
    }
    if (seq == d.next) {
        d.next += static_cast<std::uint32_t>(pl.size());
        out(pl);
    }
    // Anything held that now follows on.
    while (!d.early.empty()) {
        auto it = d.early.begin();
        const auto r = static_cast<std::int32_t>(it->first - d.next);
        if (r > 0) break;
        std::vector<std::byte> bytes = std::move(it->second);
        d.early_bytes -= bytes.size();
        d.early.erase(it);
        const auto skip = static_cast<std::size_t>(-static_cast<std::int64_t>(r));
        if (skip >= bytes.size()) continue;
        d.next += static_cast<std::uint32_t>(bytes.size() - skip);
        out(std::span<const std::byte>(bytes).subspan(skip));
    }
    if (s.fin || s.rst) d.closed = true;
}

void WireChecker::segment(const TcpSegment& s) {
    bool from_initiator;
    if (s.dst.port == opt_.target_port) from_initiator = true;
    else if (s.src.port == opt_.target_port) from_initiator = false;
    else return;
    const auto key = from_initiator ? std::make_pair(s.src, s.dst) : std::make_pair(s.dst, s.src);
    // Segments come in runs of one connection: the last one found is tried first.
    auto it = (last_ != conns_.end() && last_->first == key) ? last_ : conns_.find(key);
    if (it == conns_.end() || (s.syn && from_initiator && it->second->tcp[0].started)) {
        // A new connection (or the same ports used again after a SYN).
        auto c = std::make_unique<Conn>();
        c->index = static_cast<std::uint32_t>(connections_++);
        c->initiator = key.first;
        c->target = key.second;
        c->name = key.first.text() + " -> " + key.second.text();
        if (it != conns_.end()) it->second = std::move(c);
        else it = conns_.emplace(key, std::move(c)).first;
    }
    last_ = it;
    Conn& c = *it->second;
    c.now = s.time_ns;
    c.frame = s.frame;
    const int dir = from_initiator ? 0 : 1;
    auto& framer = c.framer[dir];
    const std::uint64_t hd_before = framer.header_digest_failures();
    const std::uint64_t gaps_before = c.tcp[dir].gaps;
    if (s.truncated) {
        note("frame " + std::to_string(s.frame) + ": the capture kept only part of a segment; the PDUs around it were found again by searching");
    }
    // The peer acknowledges bytes of the other direction that the capture is still
    // waiting for: they crossed the wire unseen (dropped by the capture), and the gap
    // will never fill.
    if (s.has_ack && !c.lost) {
        const auto& other = c.tcp[1 - dir];
        if (other.started && !other.early.empty() && static_cast<std::int32_t>(s.ack - other.next) > 0) {
            c.lost = true;
            note(c.name + ": bytes missing from the capture (acknowledged at frame " + std::to_string(s.frame) +
                 "); the connection is judged no further from there");
        }
    }
    // No SYN before the first bytes: the capture began mid-connection, after the login.
    if (!c.tcp[dir].started && !s.syn && !s.payload.empty() && c.pdu_index == 0 && !c.tcp[1 - dir].saw_syn) {
        c.phase = Phase::unknown;
        c.began_mid_stream = true;
    }
    // A connection that ends while a task-set-wide TMF awaits its answer: it may have
    // acted at the target all the same.
    if ((s.fin || s.rst) && !c.tmfs.empty()) {
        for (const auto& [itt, t] : c.tmfs)
            if (t.function >= 4 && t.function <= 7) {
                ++reset_epoch(c.target);
                break;
            }
    }
    reassemble(c.tcp[dir], s, framer, *this, c.name, [&](std::span<const std::byte> bytes) {
        framer.feed(bytes, [&](const Pdu& p) {
            ++pdus_;
            ++c.pdu_index;
            if (on_pdu) on_pdu(PduEvent{c.index, from_initiator, c.now, c.frame, &p});
            if (c.corrupted[0] || c.corrupted[1] || c.lost) return;
            current_pdu = &p;
            current_from_initiator = from_initiator;
            // RFC 3720 §12.1: a data digest that does not match means the bytes changed.
            if (p.data_digest && !p.data_digest_ok) {
                if (corruption_announced_) {
                    c.corrupted[dir] = true;
                    note(c.name + ": data digest mismatch after injected corruption; the connection is judged no further");
                    pass(Rule::data_digest_valid);
                } else {
                    report(c, Rule::data_digest_valid, false, "CRC32C of the data segment does not match its digest");
                }
            } else if (p.data_digest) {
                pass(Rule::data_digest_valid);
            }
            if (p.header_digest) pass(Rule::header_digest_valid);
            if (!c.corrupted[dir]) dispatch(*this, c, p, from_initiator);
            current_pdu = nullptr;
        });
    });
    if (s.truncated) framer.lose_sync("segment truncated by the capture");
    // Bytes the capture never saw (a TCP gap, a truncated frame): what was in them cannot
    // be known, so the connection's sequence numbers and tasks are judged no further.
    if ((c.tcp[dir].gaps != gaps_before || s.truncated) && !c.lost) {
        c.lost = true;
        note(c.name + ": bytes missing from the capture (frame " + std::to_string(s.frame) +
             "); the connection is judged no further from there");
    }
    if (framer.header_digest_failures() != hd_before) {
        if (corruption_announced_) {
            note(c.name + ": header digest mismatch after injected corruption; the connection is judged no further");
        } else {
            current_pdu = nullptr;
            report(c, Rule::header_digest_valid, false, "CRC32C of a %s header does not match its digest",
                   from_initiator ? "initiator" : "target");
        }
        c.corrupted[dir] = true;
    }
}

void WireChecker::finish() {
    for (auto& [key, cp] : conns_) {
        Conn& c = *cp;
        current_pdu = nullptr;
        // A connection whose end was announced and that stayed quiet kept the rule.
        if (c.phase == Phase::closing) {
            pass(c.login_failed ? Rule::login_error_ends : Rule::logout_last);
            if (c.login_failed) pass(Rule::failed_login_closes);
        }
        for (int d = 0; d < 2; ++d) {
            if (c.framer[d].pending_bytes() > 0)
                note(c.name + ": " + std::to_string(c.framer[d].pending_bytes()) + " bytes from the " +
                     (d ? "target" : "initiator") + " at the end are a PDU cut off (checked up to there)");
            if (c.framer[d].bytes_skipped() > 0)
                note(c.name + ": " + std::to_string(c.framer[d].bytes_skipped()) + " bytes from the " +
                     (d ? "target" : "initiator") + " skipped to find a whole BHS");
            if (!c.tcp[d].early.empty()) note(c.name + ": segments after a TCP gap at the end were not checked");
        }
    }
}

}  // namespace iscsilab::checker
