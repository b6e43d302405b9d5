// The attacking initiator's own wire layer: PDUs built and read byte by byte after the
// BHS layouts of RFC 3720 §10 (no code of the target's codec, so that the tool judges
// the target from outside), key=value text (§5.1), a non-blocking TCP connection with
// poll-based reads and writes, and a login that can stop at any step (§5.3).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace hostile {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t);

// What every mode is given on the command line.
struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 3260;
    std::string target;
    std::string initiator = "iqn.2026-11.org.iscsilab:hostile";
    double seconds = 8;
    int count = 0;              // connections or sessions; 0: the mode's default
    double expect_close = 0;    // a connection the target should have closed by then is overdue; 0: no expectation
    std::uint32_t block_size = 512;
    bool verbose = false;
};

// Counters printed at the end of a mode, in name order.
struct Counts {
    std::map<std::string, long> n;
    void add(const std::string& what, long by = 1) { n[what] += by; }
    long get(const std::string& what) const {
        auto it = n.find(what);
        return it == n.end() ? 0 : it->second;
    }
    void print(const char* mode) const;
};

// RFC 3720 §10.2.1.2
namespace op {
inline constexpr std::uint8_t NopOut = 0x00, ScsiCommand = 0x01, LoginRequest = 0x03, TextRequest = 0x04,
                              DataOut = 0x05, LogoutRequest = 0x06, NopIn = 0x20, ScsiResponse = 0x21,
                              TaskMgmtResponse = 0x22, LoginResponse = 0x23, TextResponse = 0x24, DataIn = 0x25,
                              LogoutResponse = 0x26, R2T = 0x31, AsyncMessage = 0x32, Reject = 0x3f;
}
const char* opcode_name(std::uint8_t opcode);
inline constexpr std::uint32_t kReservedTag = 0xffffffffu;  // RFC 3720 §10.2.1.8

using Bytes = std::vector<std::uint8_t>;
using Bhs = std::array<std::uint8_t, 48>;

void put16(Bhs& b, std::size_t at, std::uint16_t v);
void put32(Bhs& b, std::size_t at, std::uint32_t v);
void put64(Bhs& b, std::size_t at, std::uint64_t v);
std::uint32_t get32(const std::uint8_t* p);

struct Pdu {
    Bhs bhs{};
    Bytes data;
    std::uint8_t opcode() const { return bhs[0] & 0x3f; }
    bool final_bit() const { return (bhs[1] & 0x80) != 0; }
    std::uint32_t u32(std::size_t at) const { return get32(bhs.data() + at); }
    std::uint32_t itt() const { return u32(16); }
};

// One whole PDU on the wire: the BHS with its DataSegmentLength set, the data, padding
// to a 4-byte boundary (§10.2.3). No digests: the tool never offers them.
Bytes frame(Bhs bhs, std::span<const std::uint8_t> data = {});

// Text: "key=value\0..." (§5.1).
using Keys = std::vector<std::pair<std::string, std::string>>;
Bytes encode_keys(const Keys& keys);
Keys decode_keys(const Bytes& data);
std::optional<std::string> find_key(const Keys& keys, const std::string& key);

// Serial number arithmetic, RFC 1982 with SERIAL_BITS = 32 (§3.2.2.1).
inline bool sn_lt(std::uint32_t a, std::uint32_t b) { return a != b && static_cast<std::int32_t>(a - b) < 0; }
inline bool sn_le(std::uint32_t a, std::uint32_t b) { return a == b || sn_lt(a, b); }

// A non-blocking TCP connection. Every wait is a poll with a timeout.
class Link {
public:
    Link() = default;
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;
    Link(Link&& o) noexcept { *this = std::move(o); }
    Link& operator=(Link&& o) noexcept;
    ~Link();

    // Returns an error text, empty once connected.
    std::string connect(const Options& opt, int timeout_ms = 2000);
    bool open() const { return fd_ >= 0; }
    int fd() const { return fd_; }

    // All of it, or false on an error, a closed peer or the timeout.
    bool send_all(std::span<const std::uint8_t> bytes, int timeout_ms);
    // What the socket takes now (never blocks); -1 when the connection failed.
    long send_some(std::span<const std::uint8_t> bytes);

    enum class Got { pdu, timeout, closed, reset };
    // The next PDU, read as bytes arrive (the buffer keeps what follows it).
    Got read_pdu(Pdu& out, int timeout_ms);
    // Reads what has arrived without waiting. Returns false once the peer closed or
    // reset the connection (closed_by_peer / reset tell which).
    bool pump();
    // A whole PDU already in the buffer.
    bool next_pdu(Pdu& out);
    bool closed_by_peer() const { return peer_closed_; }
    bool reset_by_peer() const { return peer_reset_; }
    std::uint64_t bytes_read() const { return bytes_read_; }

    void close();       // FIN
    void abort();       // RST: SO_LINGER with a zero timeout
    void half_close();  // FIN on our side only; the target's side stays open
    void discard_input() { rx_.clear(); }

private:
    int fd_ = -1;
    Bytes rx_;
    std::size_t rx_start_ = 0;
    bool peer_closed_ = false, peer_reset_ = false;
    std::uint64_t bytes_read_ = 0;
};

// The sequence numbers and negotiated values of one session, as the initiator keeps them.
struct Session {
    std::array<std::uint8_t, 6> isid{};
    std::uint16_t tsih = 0;
    std::uint32_t itt = 1;
    std::uint32_t cmdsn = 1, expcmdsn = 1, maxcmdsn = 1, expstatsn = 0;
    // What the target declared it takes per PDU (§12.12) and what the login settled on.
    std::uint32_t target_mrdsl = 8192, max_burst = 262144, first_burst = 65536;
    bool initial_r2t = true, immediate_data = true;
    Keys answered;  // every key the target sent during login

    std::uint32_t next_itt() {
        std::uint32_t t = itt++;
        if (itt == kReservedTag) itt = 1;
        return t;
    }
    // Takes ExpCmdSN/MaxCmdSN (§3.2.2.1: only ever forward) and StatSN from a target PDU.
    void note(const Pdu& p);
    // Commands the window still takes (0 when CmdSN is past MaxCmdSN).
    std::uint32_t window_left() const {
        return sn_le(cmdsn, maxcmdsn) ? maxcmdsn - cmdsn + 1 : 0;
    }
};

// An ISID of the Random format (§10.12.5: T = 10b), distinct per mode, process and n.
std::array<std::uint8_t, 6> make_isid(std::uint8_t mode, std::uint32_t n);

// Login Request BHS (§10.12). stages: CSG and NSG; T (transit) and C (continue).
Bhs login_bhs(const Session& s, std::uint8_t csg, std::uint8_t nsg, bool transit, bool cont);
// The keys of a first Login Request of a normal session.
Keys first_keys(const Options& opt, const std::string& initiator);
// Operational keys the tool offers unless a mode says otherwise (§12).
Keys default_operational_keys(std::uint32_t our_mrdsl = 262144);

struct LoginResult {
    bool ok = false;
    std::uint16_t status = 0;  // class << 8 | detail, when the target answered with one
    std::string why;           // when not ok
    bool closed = false, reset = false, timeout = false;
    // The (last) Login Response: its T bit, NSG and keys.
    bool transit = false;
    std::uint8_t nsg = 0;
    Keys keys;
};
const char* login_status_name(std::uint16_t status);

// One Login Request and its response, continuing a long response (§10.12.3).
LoginResult login_step(Link& link, Session& s, std::uint8_t csg, std::uint8_t nsg, bool transit, const Keys& keys,
                       int timeout_ms);
// Security stage with AuthMethod=None, transit to operational (§5.3.1, §11.1).
LoginResult login_security(Link& link, Session& s, const Options& opt, const std::string& initiator, int timeout_ms);
// Operational stage to full feature phase, answering what the target offers (§5.3.2).
LoginResult login_operational(Link& link, Session& s, const Keys& keys, int timeout_ms);
// Both.
LoginResult login(Link& link, Session& s, const Options& opt, const std::string& initiator, const Keys& keys,
                  int timeout_ms);

// SCSI Command BHS (§10.3) with its CDB; sets ITT and CmdSN from the session (CmdSN is
// advanced for a non-immediate command).
Bhs scsi_bhs(Session& s, const std::array<std::uint8_t, 16>& cdb, bool read, bool write, std::uint32_t edtl,
             bool immediate = false);
std::array<std::uint8_t, 16> cdb_test_unit_ready();
std::array<std::uint8_t, 16> cdb_read10(std::uint32_t lba, std::uint16_t blocks);
std::array<std::uint8_t, 16> cdb_write16(std::uint64_t lba, std::uint32_t blocks);
// NOP-Out (§10.18) and Text Request (§10.10).
Bhs nop_out_bhs(Session& s, std::uint32_t itt, std::uint32_t ttt, bool immediate);
Bhs text_bhs(Session& s, std::uint32_t itt, std::uint32_t ttt, bool final_bit, bool cont, bool immediate);

// Answers a NOP-In ping of the target (§10.19: TTT != 0xffffffff wants a NOP-Out back).
// Returns the bytes to send, empty when the NOP-In wants no answer.
Bytes answer_ping(Session& s, const Pdu& nop_in);

// Sends an in-window TEST UNIT READY and waits for its SCSI Response: whether the
// session still runs commands. Other PDUs on the way are noted and dropped.
bool probe(Link& link, Session& s, int timeout_ms, Counts* counts = nullptr);

// Raises the descriptor limit to its hard maximum; returns what it now is.
long raise_fd_limit();
// "12.3" with one decimal.
std::string fmt1(double v);

}  // namespace hostile
