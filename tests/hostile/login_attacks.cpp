// Attacks on the login phase (RFC 3720 §5.3): connections that never finish a login,
// logins abandoned at every step, and one initiator opening sessions without end.
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "modes.hpp"

namespace hostile {

std::string spread(std::vector<double> v) {
    if (v.empty()) return "-";
    std::sort(v.begin(), v.end());
    return fmt1(v.front()) + "-" + fmt1(v.back()) + " s (median " + fmt1(v[v.size() / 2]) + ")";
}

namespace {

void sleep_until(Clock::time_point t) {
    while (!g_stop && Clock::now() < t)
        std::this_thread::sleep_for(std::min<Clock::duration>(t - Clock::now(), std::chrono::milliseconds(50)));
}

// What the target sent on a connection it then closed: a Login Response with a status
// (a refusal) is counted by that status.
void count_answer(Link& link, Counts& c, const std::string& prefix) {
    Pdu p;
    while (link.next_pdu(p)) {
        if (p.opcode() == op::LoginResponse) {
            const std::uint16_t st = static_cast<std::uint16_t>(p.bhs[36] << 8 | p.bhs[37]);
            c.add(prefix + "Login Response: " + login_status_name(st));
        } else {
            c.add(prefix + opcode_name(p.opcode()));
        }
    }
}

}  // namespace

// N connections, each sending one Login Request a byte a second: a login that would take
// a minute. RFC 3720 leaves the login's duration to the target; the target's login
// timeout must end each one, and its limit on logins in progress must hold when the
// attacker opens more than that. A slot whose connection the target closes opens a new
// one a second later, so the pressure lasts the whole run.
int slow_login(const Options& opt) {
    const int n = opt.count > 0 ? opt.count : 64;
    struct Slot {
        Link link;
        Bytes pdu;
        std::size_t sent = 0;
        Clock::time_point opened, next_byte, reopen_at;
        bool active = false;
    };
    std::vector<Slot> slots(static_cast<std::size_t>(n));
    Counts c;
    std::vector<double> closed_after, refused_after;
    const auto start = Clock::now();
    std::uint32_t serial = 0;
    for (auto& s : slots) s.reopen_at = start;

    while (time_left(start, opt.seconds)) {
        auto now = Clock::now();
        for (auto& s : slots) {
            if (!s.active && now >= s.reopen_at) {
                s.link = Link();
                std::string e = s.link.connect(opt, 300);
                if (!e.empty()) {
                    c.add("connect failed: " + e);
                    s.reopen_at = now + std::chrono::seconds(1);
                    continue;
                }
                c.add("connections opened");
                Session ses;
                ses.isid = make_isid(1, serial++);
                Keys keys = first_keys(opt, opt.initiator);
                keys.emplace_back("AuthMethod", "None");
                s.pdu = frame(login_bhs(ses, 0, 1, true, false), encode_keys(keys));
                s.sent = 0;
                s.opened = s.next_byte = Clock::now();
                s.active = true;
            }
            if (s.active && s.sent < s.pdu.size() && Clock::now() >= s.next_byte) {
                long w = s.link.send_some(std::span<const std::uint8_t>(s.pdu).subspan(s.sent, 1));
                if (w > 0) {
                    ++s.sent;
                    c.add("bytes sent (one a second)");
                }
                s.next_byte += std::chrono::seconds(1);
            }
        }
        std::vector<pollfd> fds;
        std::vector<Slot*> who;
        for (auto& s : slots)
            if (s.active) {
                fds.push_back({s.link.fd(), POLLIN, 0});
                who.push_back(&s);
            }
        ::poll(fds.data(), fds.size(), 50);
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            Slot& s = *who[i];
            if (s.link.pump()) continue;
            count_answer(s.link, c, "before closing: ");
            const double age = seconds_since(s.opened);
            // A connection closed within a second of its connect, before its second
            // byte, was refused at the door (a limit), not timed out.
            if (age < 1.0 && s.sent <= 1) {
                c.add(s.link.reset_by_peer() ? "refused at once (reset)" : "refused at once (closed)");
                refused_after.push_back(age);
            } else {
                c.add(s.link.reset_by_peer() ? "closed by the target (reset)" : "closed by the target (FIN)");
                closed_after.push_back(age);
                if (opt.expect_close > 0 && age > opt.expect_close) c.add("closed later than expected");
            }
            s.link.close();
            s.active = false;
            s.reopen_at = Clock::now() + std::chrono::seconds(1);
        }
    }
    long open_at_end = 0, overdue = 0;
    double oldest = 0;
    for (auto& s : slots)
        if (s.active) {
            ++open_at_end;
            const double age = seconds_since(s.opened);
            oldest = std::max(oldest, age);
            if (opt.expect_close > 0 && age > opt.expect_close) ++overdue;
        }
    c.add("open at the end", open_at_end);
    c.add("overdue (open past the expected close)", overdue);
    c.print("slow-login");
    std::vector<double> sorted = closed_after;
    std::sort(sorted.begin(), sorted.end());
    std::printf("did: closed %zu by login timeout (after %s s), refused %zu at once\n", closed_after.size(),
                sorted.empty() ? "-" : fmt1(sorted[sorted.size() / 2]).c_str(), refused_after.size());
    std::printf("closed by the target after: %s\n", spread(closed_after).c_str());
    std::printf("summary: slow-login: %d slots, %ld opened; %zu closed by the target after %s; %zu refused at once; "
                "%ld open at end (oldest %s s); overdue=%ld\n",
                n, c.get("connections opened"), closed_after.size(), spread(closed_after).c_str(), refused_after.size(),
                open_at_end, fmt1(oldest).c_str(), overdue + c.get("closed later than expected"));
    return 0;
}

// Logins abandoned at each step (RFC 3720 §5.3): right after connect, in the middle of
// the first BHS, after a whole Login Request of the security stage, in the middle of
// operational negotiation (a request with the C bit, §10.12.2), and once in full feature
// phase. Half of them end with an RST (SO_LINGER 0), half with a half-close (FIN from us
// only): the target must notice both and keep nothing of them.
int abandon(const Options& opt) {
    const int n = opt.count > 0 ? opt.count : 1000;
    static const char* stage_names[] = {"after connect", "mid-BHS", "after a security-stage Login Request",
                                        "mid-operational negotiation", "in full feature phase"};
    Counts c;
    struct Half {
        Link link;
        Clock::time_point at;
        int stage;
    };
    std::vector<Half> halves;
    std::vector<double> half_closed_after;
    const auto start = Clock::now();
    // Spread over three quarters of the run; the rest watches the half-closed ones.
    const double pace = opt.seconds * 0.75 / n;
    int done = 0;

    auto watch_halves = [&] {
        for (auto& h : halves) {
            if (!h.link.open()) continue;
            if (h.link.pump()) {
                h.link.discard_input();
                continue;
            }
            half_closed_after.push_back(seconds_since(h.at));
            c.add(std::string("half-closed, then closed by the target: ") + stage_names[h.stage]);
            h.link.close();
        }
    };

    for (int i = 0; i < n && time_left(start, opt.seconds); ++i) {
        sleep_until(start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(pace * i)));
        watch_halves();
        const int stage = i % 5;
        const bool rst = (i / 5) % 2 == 0;
        Link link;
        std::string e = link.connect(opt, 1000);
        if (!e.empty()) {
            c.add("connect failed: " + e);
            continue;
        }
        Session s;
        s.isid = make_isid(2, static_cast<std::uint32_t>(i));
        Keys keys = first_keys(opt, opt.initiator);
        keys.emplace_back("AuthMethod", "None");
        const Bytes first = frame(login_bhs(s, 0, 1, true, false), encode_keys(keys));
        bool reached = true;
        switch (stage) {
            case 0: break;
            case 1:
                // 1 to 47 bytes of the 48 of the BHS.
                reached = link.send_all(std::span<const std::uint8_t>(first).first(1 + i % 47), 1000);
                break;
            case 2:
                reached = link.send_all(first, 1000);
                if (reached && (i / 10) % 2 == 1) {
                    // Half of them wait for the answer first.
                    Pdu p;
                    auto got = link.read_pdu(p, 1000);
                    if (got == Link::Got::pdu && p.opcode() == op::LoginResponse)
                        c.add(std::string("security-stage Login Response: ") +
                              login_status_name(static_cast<std::uint16_t>(p.bhs[36] << 8 | p.bhs[37])));
                    else c.add("security-stage Login Request: no answer");
                }
                break;
            case 3: {
                auto r = login_security(link, s, opt, opt.initiator, 1000);
                if (!r.ok) {
                    c.add("security stage refused: " + r.why);
                    reached = false;
                    break;
                }
                // Operational keys cut in the middle of a value, C=1: more is announced
                // and never comes.
                Bytes part = encode_keys({{"HeaderDigest", "None"}, {"DataDigest", "None"}});
                const std::string cut = "MaxBurstLength=26";
                part.insert(part.end(), cut.begin(), cut.end());
                reached = link.send_all(frame(login_bhs(s, 1, 3, false, true), part), 1000);
                break;
            }
            case 4: {
                auto r = login(link, s, opt, opt.initiator, default_operational_keys(), 1000);
                if (!r.ok) {
                    c.add("login refused: " + r.why);
                    reached = false;
                }
                break;
            }
        }
        c.add(std::string(reached ? "abandoned " : "could not reach the step: ") + stage_names[stage]);
        ++done;
        if (rst || !reached) {
            c.add("closed with RST");
            link.abort();
        } else {
            c.add("half-closed");
            link.half_close();
            halves.push_back({std::move(link), Clock::now(), stage});
        }
    }
    while (time_left(start, opt.seconds)) {
        watch_halves();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    watch_halves();
    long still = 0, overdue = 0;
    for (auto& h : halves)
        if (h.link.open()) {
            ++still;
            if (opt.expect_close > 0 && seconds_since(h.at) > opt.expect_close) ++overdue;
            c.add(std::string("half-closed, still open at the end: ") + stage_names[h.stage]);
        }
    c.print("abandon");
    std::vector<double> sorted = half_closed_after;
    std::sort(sorted.begin(), sorted.end());
    std::printf("did: closed %zu half-closed connections within %s s, %ld still open\n", half_closed_after.size(),
                sorted.empty() ? "-" : fmt1(sorted.back()).c_str(), still);
    std::printf("summary: abandon: %d of %d connections abandoned (%ld RST, %ld half-closed); target closed %zu "
                "half-closed ones after %s; %ld still open; overdue=%ld\n",
                done, n, c.get("closed with RST"), c.get("half-closed"), half_closed_after.size(),
                spread(half_closed_after).c_str(), still, overdue);
    return 0;
}

// One initiator name, as many sessions as the target lets it have (distinct ISIDs, so
// none reinstates another, RFC 3720 §5.3.5), held until the run ends. The target's
// limits on sessions must refuse the surplus with a Login Response status (§10.13.5),
// not by running out of something.
int many_sessions(const Options& opt) {
    const int n = opt.count > 0 ? opt.count : 2000;
    raise_fd_limit();
    struct Held {
        Link link;
        Session s;
    };
    std::vector<Held> held;
    held.reserve(static_cast<std::size_t>(n));
    Counts c;
    const auto start = Clock::now();
    auto service = [&] {
        for (auto& h : held) {
            if (!h.link.open()) continue;
            if (!h.link.pump()) {
                c.add(h.link.reset_by_peer() ? "held sessions reset by the target"
                                             : "held sessions closed by the target");
                h.link.close();
                continue;
            }
            Pdu p;
            while (h.link.next_pdu(p)) {
                h.s.note(p);
                if (auto a = answer_ping(h.s, p); !a.empty()) h.link.send_all(a, 200);
            }
        }
    };
    int consecutive_failures = 0;
    // Logins take the first 60% of the run at most; the sessions are held to the end.
    for (int i = 0; i < n && time_left(start, opt.seconds * 0.6); ++i) {
        Held h;
        h.s.isid = make_isid(7, static_cast<std::uint32_t>(i));
        std::string e = h.link.connect(opt, 1000);
        LoginResult r;
        if (e.empty()) r = login(h.link, h.s, opt, opt.initiator, default_operational_keys(), 2000);
        if (e.empty() && r.ok) {
            c.add("sessions opened");
            held.push_back(std::move(h));
            consecutive_failures = 0;
        } else {
            if (!e.empty()) c.add("connect failed: " + e);
            else if (r.status) c.add(std::string("refused: ") + login_status_name(r.status));
            else c.add("failed: " + r.why);
            // Refusals are cheap for both sides; past a run of them, slow down so that
            // the attack measures the limit, not the connect rate.
            if (++consecutive_failures > 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (i % 50 == 49) service();
    }
    while (time_left(start, opt.seconds)) {
        service();
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    service();
    long at_end = 0;
    for (auto& h : held)
        if (h.link.open()) ++at_end;
    c.add("held at the end", at_end);
    c.print("many-sessions");
    long refused = 0;
    for (const auto& [k, v] : c.n)
        if (k.rfind("refused: ", 0) == 0 || k.rfind("failed: ", 0) == 0 || k.rfind("connect failed", 0) == 0)
            refused += v;
    std::printf("did: let one initiator hold %ld sessions, refused %ld\n", at_end, refused);
    std::printf("summary: many-sessions: %ld sessions opened of %d tried, %ld refused; held=%ld at the end\n",
                c.get("sessions opened"), static_cast<int>(c.get("sessions opened") + refused), refused, at_end);
    // Held sessions close with a FIN when the process ends.
    return 0;
}

}  // namespace hostile
