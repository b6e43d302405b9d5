#include "wire.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hostile {

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt1(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return b;
}

void Counts::print(const char* mode) const {
    std::printf("%s counts:\n", mode);
    for (const auto& [k, v] : n) std::printf("  %-40s %ld\n", k.c_str(), v);
}

const char* opcode_name(std::uint8_t opcode) {
    switch (opcode) {
        case op::NopIn: return "NOP-In";
        case op::ScsiResponse: return "SCSI Response";
        case op::TaskMgmtResponse: return "Task Management Response";
        case op::LoginResponse: return "Login Response";
        case op::TextResponse: return "Text Response";
        case op::DataIn: return "Data-In";
        case op::LogoutResponse: return "Logout Response";
        case op::R2T: return "R2T";
        case op::AsyncMessage: return "Asynchronous Message";
        case op::Reject: return "Reject";
        default: return "other PDU";
    }
}

void put16(Bhs& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(Bhs& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
void put64(Bhs& b, std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
std::uint32_t get32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

Bytes frame(Bhs bhs, std::span<const std::uint8_t> data) {
    // §10.2.1.5: DataSegmentLength in bytes 5-7; §10.2.3: the segment is padded to a
    // multiple of 4 bytes, and the padding is not counted.
    const auto n = static_cast<std::uint32_t>(data.size());
    bhs[5] = static_cast<std::uint8_t>(n >> 16);
    bhs[6] = static_cast<std::uint8_t>(n >> 8);
    bhs[7] = static_cast<std::uint8_t>(n);
    Bytes out(48 + n + (4 - n % 4) % 4, 0);
    std::memcpy(out.data(), bhs.data(), 48);
    if (n) std::memcpy(out.data() + 48, data.data(), n);
    return out;
}

Bytes encode_keys(const Keys& keys) {
    Bytes out;
    for (const auto& [k, v] : keys) {
        out.insert(out.end(), k.begin(), k.end());
        out.push_back('=');
        out.insert(out.end(), v.begin(), v.end());
        out.push_back(0);
    }
    return out;
}

Keys decode_keys(const Bytes& data) {
    Keys out;
    std::size_t start = 0;
    while (start < data.size()) {
        std::size_t end = start;
        while (end < data.size() && data[end] != 0) ++end;
        std::string kv(data.begin() + static_cast<long>(start), data.begin() + static_cast<long>(end));
        auto eq = kv.find('=');
        if (eq != std::string::npos) out.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        start = end + 1;
    }
    return out;
}

std::optional<std::string> find_key(const Keys& keys, const std::string& key) {
    for (const auto& [k, v] : keys)
        if (k == key) return v;
    return std::nullopt;
}

// ---- Link ---------------------------------------------------------------------------

Link& Link::operator=(Link&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
        rx_ = std::move(o.rx_);
        rx_start_ = o.rx_start_;
        peer_closed_ = o.peer_closed_;
        peer_reset_ = o.peer_reset_;
        bytes_read_ = o.bytes_read_;
    }
    return *this;
}

Link::~Link() {
    if (fd_ >= 0) ::close(fd_);
}

std::string Link::connect(const Options& opt, int timeout_ms) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(opt.port);
    if (inet_pton(AF_INET, opt.host.c_str(), &a.sin_addr) != 1) return "not an IPv4 address: " + opt.host;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        std::string e = std::string("connect: ") + std::strerror(errno);
        close();
        return e;
    }
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) {
        close();
        return "connect: timed out";
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
        close();
        return std::string("connect: ") + std::strerror(err);
    }
    return {};
}

bool Link::send_all(std::span<const std::uint8_t> bytes, int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!bytes.empty()) {
        long n = send_some(bytes);
        if (n < 0) return false;
        bytes = bytes.subspan(static_cast<std::size_t>(n));
        if (bytes.empty()) break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, static_cast<int>(left));
    }
    return true;
}

long Link::send_some(std::span<const std::uint8_t> bytes) {
    if (fd_ < 0) return -1;
    for (;;) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno == ECONNRESET) peer_reset_ = true;
        else peer_closed_ = true;
        return -1;
    }
}

bool Link::pump() {
    if (fd_ < 0) return false;
    if (rx_start_ > 0 && rx_start_ * 2 > rx_.size()) {
        rx_.erase(rx_.begin(), rx_.begin() + static_cast<long>(rx_start_));
        rx_start_ = 0;
    }
    std::uint8_t buf[65536];
    for (;;) {
        ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            rx_.insert(rx_.end(), buf, buf + n);
            bytes_read_ += static_cast<std::uint64_t>(n);
            if (static_cast<std::size_t>(n) < sizeof buf) return true;
            continue;
        }
        if (n == 0) {
            peer_closed_ = true;
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == ECONNRESET) peer_reset_ = true;
        else peer_closed_ = true;
        return false;
    }
}

bool Link::next_pdu(Pdu& out) {
    const std::size_t have = rx_.size() - rx_start_;
    if (have < 48) return false;
    const std::uint8_t* p = rx_.data() + rx_start_;
    const std::size_t ahs = std::size_t{p[4]} * 4;
    const std::size_t dsl = std::size_t{p[5]} << 16 | std::size_t{p[6]} << 8 | p[7];
    const std::size_t total = 48 + ahs + dsl + (4 - dsl % 4) % 4;
    if (have < total) return false;
    std::copy(p, p + 48, out.bhs.begin());
    out.data.assign(p + 48 + ahs, p + 48 + ahs + dsl);
    rx_start_ += total;
    return true;
}

Link::Got Link::read_pdu(Pdu& out, int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (next_pdu(out)) return Got::pdu;
        if (fd_ < 0 || peer_closed_ || peer_reset_) return peer_reset_ ? Got::reset : Got::closed;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return Got::timeout;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) == 1) pump();
    }
}

void Link::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Link::abort() {
    if (fd_ < 0) return;
    linger lg{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close();
}

void Link::half_close() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

// ---- Session ----------------------------------------------------------------------------

void Session::note(const Pdu& p) {
    const std::uint8_t o = p.opcode();
    const bool carries_sn = o == op::NopIn || o == op::ScsiResponse || o == op::TaskMgmtResponse ||
                            o == op::LoginResponse || o == op::TextResponse || o == op::DataIn ||
                            o == op::LogoutResponse || o == op::R2T || o == op::AsyncMessage || o == op::Reject;
    if (!carries_sn) return;
    // §3.2.2.2: StatSN of a PDU with status; ExpStatSN acknowledges it.
    const bool status = o != op::R2T && o != op::AsyncMessage && !(o == op::DataIn && !(p.bhs[1] & 0x01)) &&
                        !(o == op::NopIn && p.itt() == kReservedTag);
    if (status || o == op::NopIn) {
        const std::uint32_t next = p.u32(24) + (status ? 1 : 0);
        if (sn_lt(expstatsn, next)) expstatsn = next;
    }
    // §3.2.2.1: a MaxCmdSN below ExpCmdSN - 1 is ignored; neither moves back.
    const std::uint32_t e = p.u32(28), m = p.u32(32);
    if (sn_le(e - 1, m)) {
        if (sn_lt(expcmdsn, e)) expcmdsn = e;
        if (sn_lt(maxcmdsn, m)) maxcmdsn = m;
    }
}

std::array<std::uint8_t, 6> make_isid(std::uint8_t mode, std::uint32_t n) {
    // §10.12.5: T = 10b (Random), then A (6 bits), B (16), C (8) and D (16) bits.
    const auto pid = static_cast<std::uint32_t>(::getpid());
    return {static_cast<std::uint8_t>(0x80 | (mode & 0x3f)), static_cast<std::uint8_t>(pid >> 8),
            static_cast<std::uint8_t>(pid), static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
            static_cast<std::uint8_t>(n)};
}

Bhs login_bhs(const Session& s, std::uint8_t csg, std::uint8_t nsg, bool transit, bool cont) {
    // §10.12: I=1, opcode 0x03; byte 1: T, C, CSG (bits 2-3), NSG (bits 0-1); versions 0.
    Bhs b{};
    b[0] = 0x40 | op::LoginRequest;
    b[1] = static_cast<std::uint8_t>((transit ? 0x80 : 0) | (cont ? 0x40 : 0) | (csg & 3) << 2 |
                                     (transit ? nsg & 3 : 0));
    std::copy(s.isid.begin(), s.isid.end(), b.begin() + 8);
    put16(b, 14, s.tsih);
    put32(b, 16, 0);  // ITT, the same through the login (§5.3)
    put16(b, 20, 0);  // CID
    put32(b, 24, s.cmdsn);
    put32(b, 28, s.expstatsn);
    return b;
}

Keys first_keys(const Options& opt, const std::string& initiator) {
    return {{"InitiatorName", initiator}, {"TargetName", opt.target}, {"SessionType", "Normal"}};
}

Keys default_operational_keys(std::uint32_t our_mrdsl) {
    return {{"HeaderDigest", "None"},
            {"DataDigest", "None"},
            {"MaxConnections", "1"},
            {"InitialR2T", "No"},
            {"ImmediateData", "Yes"},
            {"MaxRecvDataSegmentLength", std::to_string(our_mrdsl)},
            {"MaxBurstLength", "1048576"},
            {"FirstBurstLength", "262144"},
            {"DefaultTime2Wait", "0"},
            {"DefaultTime2Retain", "0"},
            {"MaxOutstandingR2T", "1"},
            {"DataPDUInOrder", "Yes"},
            {"DataSequenceInOrder", "Yes"},
            {"ErrorRecoveryLevel", "0"},
            {"IFMarker", "No"},
            {"OFMarker", "No"}};
}

const char* login_status_name(std::uint16_t status) {
    // §10.13.5
    switch (status) {
        case 0x0000: return "success";
        case 0x0101: return "target moved temporarily";
        case 0x0102: return "target moved permanently";
        case 0x0200: return "initiator error";
        case 0x0201: return "authentication failure";
        case 0x0202: return "authorization failure";
        case 0x0203: return "not found";
        case 0x0204: return "target removed";
        case 0x0205: return "unsupported version";
        case 0x0206: return "too many connections";
        case 0x0207: return "missing parameter";
        case 0x0208: return "can't include in session";
        case 0x0209: return "session type not supported";
        case 0x020a: return "session does not exist";
        case 0x020b: return "invalid during login";
        case 0x0300: return "target error";
        case 0x0301: return "service unavailable";
        case 0x0302: return "out of resources";
        default: return "unknown status";
    }
}

namespace {

void take_negotiated(Session& s, const Keys& keys) {
    for (const auto& [k, v] : keys) {
        s.answered.emplace_back(k, v);
        auto num = [&v] { return static_cast<std::uint32_t>(std::strtoul(v.c_str(), nullptr, 0)); };
        if (k == "MaxRecvDataSegmentLength") s.target_mrdsl = num();
        else if (k == "MaxBurstLength") s.max_burst = num();
        else if (k == "FirstBurstLength") s.first_burst = num();
        else if (k == "InitialR2T") s.initial_r2t = v == "Yes";
        else if (k == "ImmediateData") s.immediate_data = v == "Yes";
    }
}

}  // namespace

LoginResult login_step(Link& link, Session& s, std::uint8_t csg, std::uint8_t nsg, bool transit, const Keys& keys,
                       int timeout_ms) {
    LoginResult r;
    Bytes text = encode_keys(keys);
    for (int part = 0; part < 16; ++part) {
        if (!link.send_all(frame(login_bhs(s, csg, nsg, transit, false), text), timeout_ms)) {
            r.closed = true;
            r.reset = link.reset_by_peer();
            r.why = "the target closed the connection before our Login Request was sent";
            return r;
        }
        Pdu p;
        auto got = link.read_pdu(p, timeout_ms);
        if (got != Link::Got::pdu) {
            r.timeout = got == Link::Got::timeout;
            r.closed = !r.timeout;
            r.reset = got == Link::Got::reset;
            r.why = r.timeout ? "no Login Response"
                    : r.reset ? "reset with no Login Response"
                              : "closed with no Login Response";
            return r;
        }
        if (p.opcode() != op::LoginResponse) {
            r.why = std::string("a ") + opcode_name(p.opcode()) + " in place of a Login Response";
            return r;
        }
        s.note(p);
        s.tsih = static_cast<std::uint16_t>(p.bhs[14] << 8 | p.bhs[15]);
        r.status = static_cast<std::uint16_t>(p.bhs[36] << 8 | p.bhs[37]);
        if (r.status != 0) {
            r.why = std::string("login refused: ") + login_status_name(r.status);
            return r;
        }
        Keys got_keys = decode_keys(p.data);
        r.keys.insert(r.keys.end(), got_keys.begin(), got_keys.end());
        r.transit = (p.bhs[1] & 0x80) != 0;
        r.nsg = p.bhs[1] & 3;
        if (!(p.bhs[1] & 0x40)) {
            take_negotiated(s, r.keys);
            r.ok = true;
            return r;
        }
        // §10.13.3: C=1, more text follows; an empty request asks for it.
        text.clear();
        transit = false;
    }
    r.why = "a Login Response that never ends";
    return r;
}

LoginResult login_security(Link& link, Session& s, const Options& opt, const std::string& initiator, int timeout_ms) {
    Keys keys = first_keys(opt, initiator);
    keys.emplace_back("AuthMethod", "None");
    auto r = login_step(link, s, 0, 1, true, keys, timeout_ms);
    // §5.3.1: the target may hold the security stage for a round; ask again.
    for (int round = 0; r.ok && !(r.transit && r.nsg == 1) && round < 3; ++round)
        r = login_step(link, s, 0, 1, true, {}, timeout_ms);
    if (r.ok && !(r.transit && r.nsg == 1)) {
        r.ok = false;
        r.why = "the target kept the security stage";
    }
    return r;
}

LoginResult login_operational(Link& link, Session& s, const Keys& keys, int timeout_ms) {
    auto r = login_step(link, s, 1, 3, true, keys, timeout_ms);
    for (int round = 0; r.ok && !(r.transit && r.nsg == 3) && round < 4; ++round) {
        // §5.3.2: the target offered keys of its own and holds the transit until they
        // are answered: accept its values (declarations need no answer, §5.2.2).
        Keys answer;
        for (const auto& [k, v] : r.keys) {
            if (k == "TargetAlias" || k == "TargetAddress" || k == "TargetPortalGroupTag" ||
                k == "MaxRecvDataSegmentLength" || find_key(keys, k))
                continue;
            answer.emplace_back(k, v);
        }
        r = login_step(link, s, 1, 3, true, answer, timeout_ms);
    }
    if (r.ok && !(r.transit && r.nsg == 3)) {
        r.ok = false;
        r.why = "the target never let the login reach full feature phase";
    }
    return r;
}

LoginResult login(Link& link, Session& s, const Options& opt, const std::string& initiator, const Keys& keys,
                  int timeout_ms) {
    auto r = login_security(link, s, opt, initiator, timeout_ms);
    if (!r.ok) return r;
    return login_operational(link, s, keys, timeout_ms);
}

Bhs scsi_bhs(Session& s, const std::array<std::uint8_t, 16>& cdb, bool read, bool write, std::uint32_t edtl,
             bool immediate) {
    // §10.3: F=1, R, W, ATTR=Simple; LUN 0; EDTL; CmdSN; ExpStatSN; the CDB in 32-47.
    Bhs b{};
    b[0] = static_cast<std::uint8_t>((immediate ? 0x40 : 0) | op::ScsiCommand);
    b[1] = static_cast<std::uint8_t>(0x80 | (read ? 0x40 : 0) | (write ? 0x20 : 0) | 1);
    put64(b, 8, 0);
    put32(b, 16, s.next_itt());
    put32(b, 20, edtl);
    put32(b, 24, s.cmdsn);
    put32(b, 28, s.expstatsn);
    std::copy(cdb.begin(), cdb.end(), b.begin() + 32);
    if (!immediate) ++s.cmdsn;
    return b;
}

std::array<std::uint8_t, 16> cdb_test_unit_ready() { return {}; }

std::array<std::uint8_t, 16> cdb_read10(std::uint32_t lba, std::uint16_t blocks) {
    std::array<std::uint8_t, 16> c{};
    c[0] = 0x28;
    for (int i = 0; i < 4; ++i) c[2 + i] = static_cast<std::uint8_t>(lba >> (24 - 8 * i));
    c[7] = static_cast<std::uint8_t>(blocks >> 8);
    c[8] = static_cast<std::uint8_t>(blocks);
    return c;
}

std::array<std::uint8_t, 16> cdb_write16(std::uint64_t lba, std::uint32_t blocks) {
    std::array<std::uint8_t, 16> c{};
    c[0] = 0x8a;
    for (int i = 0; i < 8; ++i) c[2 + i] = static_cast<std::uint8_t>(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) c[10 + i] = static_cast<std::uint8_t>(blocks >> (24 - 8 * i));
    return c;
}

Bhs nop_out_bhs(Session& s, std::uint32_t itt, std::uint32_t ttt, bool immediate) {
    // §10.18: F=1; a ping (ITT != 0xffffffff) wants a NOP-In with its data back.
    Bhs b{};
    b[0] = static_cast<std::uint8_t>((immediate ? 0x40 : 0) | op::NopOut);
    b[1] = 0x80;
    put32(b, 16, itt);
    put32(b, 20, ttt);
    put32(b, 24, s.cmdsn);
    put32(b, 28, s.expstatsn);
    // §10.18.1: a non-immediate NOP-Out with a reserved ITT does not take a CmdSN.
    if (!immediate && itt != kReservedTag) ++s.cmdsn;
    return b;
}

Bhs text_bhs(Session& s, std::uint32_t itt, std::uint32_t ttt, bool final_bit, bool cont, bool immediate) {
    // §10.10: F and C; TTT 0xffffffff starts (or, with C, continues) a request.
    Bhs b{};
    b[0] = static_cast<std::uint8_t>((immediate ? 0x40 : 0) | op::TextRequest);
    b[1] = static_cast<std::uint8_t>((final_bit ? 0x80 : 0) | (cont ? 0x40 : 0));
    put32(b, 16, itt);
    put32(b, 20, ttt);
    put32(b, 24, s.cmdsn);
    put32(b, 28, s.expstatsn);
    if (!immediate) ++s.cmdsn;
    return b;
}

Bytes answer_ping(Session& s, const Pdu& nop_in) {
    if (nop_in.opcode() != op::NopIn || nop_in.u32(20) == kReservedTag) return {};
    // §10.18: the answer to a target's ping: ITT 0xffffffff, its TTT and LUN, immediate.
    Bhs b = nop_out_bhs(s, kReservedTag, nop_in.u32(20), true);
    std::copy(nop_in.bhs.begin() + 8, nop_in.bhs.begin() + 16, b.begin() + 8);
    return frame(b);
}

bool probe(Link& link, Session& s, int timeout_ms, Counts* counts) {
    if (!link.open()) return false;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    std::optional<std::uint32_t> itt;
    for (;;) {
        if (!itt && s.window_left() > 0) {
            // §3.2.2.1: only once the window has room for it.
            Bhs b = scsi_bhs(s, cdb_test_unit_ready(), false, false, 0);
            itt = get32(b.data() + 16);
            if (!link.send_all(frame(b), timeout_ms)) return false;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        Pdu p;
        if (link.read_pdu(p, static_cast<int>(left)) != Link::Got::pdu) return false;
        s.note(p);
        if (itt && p.opcode() == op::ScsiResponse && p.itt() == *itt) return true;
        if (auto a = answer_ping(s, p); !a.empty()) link.send_all(a, 1000);
        if (counts) counts->add(std::string("probe: ") + opcode_name(p.opcode()) + " on the way");
    }
}

long raise_fd_limit() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return static_cast<long>(rl.rlim_cur);
}

}  // namespace hostile
