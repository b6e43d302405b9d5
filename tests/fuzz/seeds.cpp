// Writes the seed corpora of the fuzz entry points (tests/fuzz/corpus/<name>/seed-*):
//  - framer_conn: what an initiator sends in real exchanges with the harness's own target
//    (logins with and without CHAP, discovery, reads and writes with immediate, unsolicited
//    and solicited data, task management, text, NOP, logout), recorded as it is sent, the
//    answers read back to fill in what depends on them (a TTT, a CHAP challenge);
//  - login_keys and chap: the key lists of those logins;
//  - cdb: the commands of the vdisk, persistent reservation and copy manager unit tests;
//  - scst_conf: the configurations of the scenario suites (scenarios/*/*.yaml), and the
//    harness's own;
//  - mgmt: the sample scripts of the management tree tests.
// Usage: fuzz_seeds SOURCE_DIR OUT_DIR (OUT_DIR is usually SOURCE_DIR/tests/fuzz/corpus).
// Only seed-* files are written; regress-* files are kept as they are.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "fuzz_support.hpp"
#include "target/bytes.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/iscsi/chap.hpp"
#include "target/mgmt/tree.hpp"
#include "target/scsi/command.hpp"

using namespace iscsilab;
using namespace iscsilab::iscsi;
namespace fs = std::filesystem;

namespace {

fs::path out_dir;

void write_seed(const std::string& target, const std::string& name, const Bytes& b) {
    const fs::path dir = out_dir / target;
    fs::create_directories(dir);
    std::ofstream f(dir / ("seed-" + name), std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void write_seed(const std::string& target, const std::string& name, const std::string& s) {
    write_seed(target, name, Bytes(reinterpret_cast<const std::byte*>(s.data()),
                                   reinterpret_cast<const std::byte*>(s.data()) + s.size()));
}

void append(Bytes& to, const Bytes& b) { to.insert(to.end(), b.begin(), b.end()); }
Bytes pattern(std::size_t n, int seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 31 + static_cast<std::size_t>(seed)) & 0xff);
    return b;
}

// ---- framer_conn: an initiator talking to the harness's target ---------------------------

struct Conversation {
    std::uint8_t mode;
    fuzz::IscsiRig rig{false};
    std::shared_ptr<testing::MemoryStream> s;
    DigestSettings digests;
    Bytes sent;
    std::uint32_t cmdsn = 1, itt = 1, expstatsn = 1;

    explicit Conversation(std::uint8_t m) : mode(m) {
        s = rig.connect();
        if (mode & 0x01) {
            rig.login(*s, fuzz::LoginChoice{(mode & 0x02) != 0, (mode & 0x04) != 0});
            digests = DigestSettings{(mode & 0x02) != 0, (mode & 0x02) != 0};
        }
    }
    std::vector<Pdu> send(const Bytes& wire) {
        append(sent, wire);
        s->inject(wire);
        rig.loop.run();
        auto out = testing::drain(*s, digests);
        for (const auto& p : out)
            if (p.opcode() == Opcode::ScsiResponse || p.opcode() == Opcode::LoginResponse ||
                p.opcode() == Opcode::TextResponse || p.opcode() == Opcode::LogoutResponse)
                expstatsn = ld32(p.bhs, 24) + 1;
        return out;
    }
    Bytes frame(const Bhs& bhs, std::span<const std::byte> data = {}) { return testing::frame(bhs, data, digests); }
    Bytes command(std::vector<int> cdb, std::uint32_t edtl, bool read, bool write, std::span<const std::byte> imm = {},
                  bool final_bit = true, std::uint64_t lun = 0, std::uint32_t* used = nullptr) {
        ScsiCommandPdu c;
        c.read = read;
        c.write = write;
        c.final_bit = final_bit;
        c.lun = lun;
        c.itt = itt++;
        if (used) *used = c.itt;
        c.cmdsn = cmdsn++;
        c.expstatsn = expstatsn;
        c.expected_data_transfer_length = edtl;
        for (std::size_t i = 0; i < cdb.size(); ++i) c.cdb[i] = static_cast<std::byte>(cdb[i]);
        return frame(c.encode(static_cast<std::uint32_t>(imm.size())), imm);
    }
    Bytes data_out(std::uint32_t for_itt, std::uint32_t ttt, std::uint32_t datasn, std::uint32_t offset,
                   std::span<const std::byte> d, bool final_bit) {
        DataOutPdu p;
        p.itt = for_itt;
        p.ttt = ttt;
        p.datasn = datasn;
        p.buffer_offset = offset;
        p.final_bit = final_bit;
        p.expstatsn = expstatsn;
        return frame(p.encode(static_cast<std::uint32_t>(d.size())), d);
    }
    Bytes text_request(const std::vector<KeyValue>& keys) {
        TextRequestPdu t;
        t.itt = itt++;
        t.cmdsn = cmdsn++;
        t.expstatsn = expstatsn;
        const Bytes d = testing::text_bytes(keys);
        return frame(t.encode(static_cast<std::uint32_t>(d.size())), d);
    }
    Bytes nop_out(std::span<const std::byte> ping) {
        NopOutPdu n;
        n.itt = itt++;
        n.cmdsn = cmdsn++;
        n.expstatsn = expstatsn;
        return frame(n.encode(static_cast<std::uint32_t>(ping.size())), ping);
    }
    Bytes tmf(TmfFunction f, std::uint32_t ref_itt, std::uint32_t ref_cmdsn, std::uint64_t lun = 0) {
        TaskMgmtRequestPdu t;
        t.function = f;
        t.itt = itt++;
        t.cmdsn = cmdsn;  // immediate: does not advance CmdSN
        t.expstatsn = expstatsn;
        t.referenced_task_tag = ref_itt;
        t.refcmdsn = ref_cmdsn;
        t.lun = lun;
        return frame(t.encode());
    }
    Bytes logout() {
        LogoutRequestPdu l;
        l.itt = itt++;
        l.cmdsn = cmdsn++;
        l.expstatsn = expstatsn;
        return frame(l.encode());
    }
    // WRITE(10) of n 512-byte blocks at lba: immediate data to 8 KiB, unsolicited Data-Out
    // to FirstBurstLength (16 KiB), the rest as the R2Ts ask.
    void write10(std::uint32_t lba, std::uint32_t blocks, int seed, std::uint64_t lun = 0) {
        const std::uint32_t len = blocks * 512;
        const Bytes payload = pattern(len, seed);
        const std::uint32_t imm = std::min<std::uint32_t>(len, 8192), first = std::min<std::uint32_t>(len, 16384);
        std::uint32_t witt = 0;
        auto out = send(command({0x2a, 0, int(lba >> 24), int((lba >> 16) & 0xff), int((lba >> 8) & 0xff), int(lba & 0xff), 0,
                                 int(blocks >> 8), int(blocks & 0xff), 0},
                                len, false, true, std::span<const std::byte>(payload.data(), imm), first == imm, lun, &witt));
        Bytes wire;
        std::uint32_t sn = 0;
        for (std::uint32_t off = imm; off < first; off += 8192) {
            const std::uint32_t n = std::min<std::uint32_t>(8192, first - off);
            append(wire, data_out(witt, kReservedTag, sn++, off, std::span<const std::byte>(payload.data() + off, n),
                                  off + n == first));
        }
        if (!wire.empty()) {
            auto more = send(wire);
            out.insert(out.end(), more.begin(), more.end());
        }
        // Answer every R2T, and those that follow.
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (out[i].opcode() != Opcode::R2T) continue;
            const auto r2t = R2TPdu::decode(out[i].bhs);
            Bytes seq;
            std::uint32_t dsn = 0;
            const std::uint32_t end = r2t.buffer_offset + r2t.desired_data_transfer_length;
            for (std::uint32_t off = r2t.buffer_offset; off < end; off += 8192) {
                const std::uint32_t n = std::min<std::uint32_t>(8192, end - off);
                append(seq, data_out(witt, r2t.ttt, dsn++, off, std::span<const std::byte>(payload.data() + off, n), off + n == end));
            }
            auto more = send(seq);
            out.insert(out.end(), more.begin(), more.end());
        }
    }
    Bytes seed() const {
        Bytes b{std::byte{mode}, std::byte{0}, std::byte{0}};
        append(b, sent);
        return b;
    }
    Bytes seed_split(std::uint16_t split) const {
        Bytes b = seed();
        b[1] = static_cast<std::byte>(split & 0xff);
        b[2] = static_cast<std::byte>(split >> 8);
        return b;
    }
};

Bytes login_pdu(Conversation& c, std::uint8_t csg, std::uint8_t nsg, bool transit, const std::vector<KeyValue>& keys) {
    LoginRequestPdu r;
    r.csg = csg;
    r.nsg = nsg;
    r.transit = transit;
    r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{2}};
    r.itt = 0x2000;
    r.cmdsn = c.cmdsn;
    r.expstatsn = c.expstatsn;
    const Bytes d = testing::text_bytes(keys);
    return testing::frame(r.encode(static_cast<std::uint32_t>(d.size())), d);
}

std::map<std::string, std::string> keys_of(const std::vector<Pdu>& out) {
    std::map<std::string, std::string> m;
    for (const auto& p : out)
        for (auto& kv : parse_text(p.data).pairs) m[kv.key] = kv.value;
    return m;
}

// The CHAP login, step by step; also what fuzz_login_keys and fuzz_chap start from.
struct ChapLogin {
    std::vector<std::vector<KeyValue>> steps;
};

ChapLogin chap_login(Conversation& c) {
    ChapLogin l;
    l.steps.push_back({{"InitiatorName", fuzz::kInitiatorName}, {"TargetName", fuzz::kChapTargetName},
                       {"SessionType", "Normal"}, {"AuthMethod", "CHAP,None"}});
    c.send(login_pdu(c, 0, 1, false, l.steps.back()));
    l.steps.push_back({{"CHAP_A", "5"}});
    auto k = keys_of(c.send(login_pdu(c, 0, 1, false, l.steps.back())));
    const auto id = static_cast<std::uint8_t>(std::stoul(k["CHAP_I"]));
    const Bytes challenge = decode_chap_value(k["CHAP_C"]).value();
    const Bytes mine = pattern(16, 9);
    l.steps.push_back({{"CHAP_N", fuzz::kChapUser},
                       {"CHAP_R", encode_hex(chap_md5(id, fuzz::kChapSecret, challenge))},
                       {"CHAP_I", "7"},
                       {"CHAP_C", encode_hex(mine)}});
    k = keys_of(c.send(login_pdu(c, 0, 1, true, l.steps.back())));
    if (k["CHAP_R"] != encode_hex(chap_md5(7, fuzz::kOutgoingSecret, mine))) fuzz::fail("seeds: mutual CHAP failed");
    l.steps.push_back({{"HeaderDigest", "None"}, {"DataDigest", "None"}, {"InitialR2T", "Yes"}, {"ImmediateData", "No"},
                       {"MaxRecvDataSegmentLength", "4096"}, {"MaxBurstLength", "16384"}, {"FirstBurstLength", "4096"},
                       {"DefaultTime2Wait", "0"}, {"DefaultTime2Retain", "0"}, {"ErrorRecoveryLevel", "0"},
                       {"MaxConnections", "1"}, {"DataPDUInOrder", "Yes"}, {"DataSequenceInOrder", "Yes"}});
    auto out = c.send(login_pdu(c, 1, 3, true, l.steps.back()));
    if (out.empty() || LoginResponsePdu::decode(out[0].bhs).status_class != 0) fuzz::fail("seeds: CHAP login failed");
    return l;
}

void framer_seeds() {
    const std::string t = "framer_conn";
    {
        Conversation c(0);
        c.send(fuzz::login_request_bytes({}));
        write_seed(t, "login-normal", c.seed());
        write_seed(t, "login-normal-split", c.seed_split(0x2b1d));
    }
    {
        Conversation c(0);
        chap_login(c);
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        c.send(c.logout());
        write_seed(t, "login-chap-mutual", c.seed());
    }
    {
        Conversation c(0);
        c.send(login_pdu(c, 1, 3, true, {{"InitiatorName", fuzz::kInitiatorName}, {"SessionType", "Discovery"},
                                         {"HeaderDigest", "None,CRC32C"}, {"DataDigest", "None"}}));
        c.send(c.text_request({{"SendTargets", "All"}}));
        c.send(c.logout());
        write_seed(t, "login-discovery-sendtargets", c.seed());
    }
    {
        Conversation c(0);
        // A login with the C bit: its text in two PDUs.
        const Bytes all = testing::text_bytes({{"InitiatorName", fuzz::kInitiatorName}, {"TargetName", fuzz::kTargetName},
                                               {"SessionType", "Normal"}, {"MaxRecvDataSegmentLength", "8192"}});
        LoginRequestPdu r;
        r.csg = 1;
        r.nsg = 3;
        r.continue_bit = true;
        r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{3}};
        r.itt = 5;
        r.cmdsn = 1;
        const std::size_t half = all.size() / 2;
        c.send(testing::frame(r.encode(static_cast<std::uint32_t>(half)), std::span<const std::byte>(all.data(), half)));
        r.continue_bit = false;
        r.transit = true;
        c.send(testing::frame(r.encode(static_cast<std::uint32_t>(all.size() - half)),
                              std::span<const std::byte>(all.data() + half, all.size() - half)));
        write_seed(t, "login-continued", c.seed());
    }
    for (std::uint8_t mode : {0x01, 0x03, 0x09}) {
        Conversation c(mode);
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));  // the power-on unit attention
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        c.send(c.command({0x12, 0, 0, 0, 96, 0}, 96, true, false));
        c.send(c.command({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8, true, false));
        c.send(c.command({0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256, true, false));
        c.write10(16, 64, 7);
        c.send(c.command({0x28, 0, 0, 0, 0, 16, 0, 0, 64, 0}, 64 * 512, true, false));
        const Bytes ping = pattern(100, 3);
        c.send(c.nop_out(ping));
        c.send(c.logout());
        const std::string name = mode == 0x01 ? "ffp-io" : mode == 0x03 ? "ffp-io-digests" : "ffp-io-deferred";
        write_seed(t, name, c.seed());
        if (mode == 0x01) write_seed(t, name + "-split", c.seed_split(0x51a7));
    }
    {
        Conversation c(0x01);
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        // A WRITE that waits for its data, then ABORT TASK, LUN RESET, TARGET WARM RESET.
        std::uint32_t witt = 0;
        const std::uint32_t wcmdsn = c.cmdsn;
        c.send(c.command({0x2a, 0, 0, 0, 0, 0, 0, 0, 64, 0}, 64 * 512, false, true, {}, true, 0, &witt));
        c.send(c.tmf(TmfFunction::AbortTask, witt, wcmdsn));
        c.send(c.command({0x2a, 0, 0, 0, 0, 0, 0, 0, 64, 0}, 64 * 512, false, true, {}, true, 0, &witt));
        c.send(c.tmf(TmfFunction::AbortTaskSet, kReservedTag, 0));
        c.send(c.tmf(TmfFunction::LogicalUnitReset, kReservedTag, 0));
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        c.send(c.tmf(TmfFunction::TargetWarmReset, kReservedTag, 0));
        c.send(c.tmf(TmfFunction::ClearTaskSet, kReservedTag, 0, scsi::encode_lun(1)));
        write_seed(t, "ffp-task-management", c.seed());
    }
    {
        Conversation c(0x01);
        // Commands out of CmdSN order (held for their turn), SendTargets in a normal
        // session, then PDUs a target refuses: SNACK, an unknown opcode, a Login Request.
        c.cmdsn = 3;
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        c.cmdsn = 2;
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        c.cmdsn = 1;
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        c.cmdsn = 4;
        c.send(c.text_request({{"SendTargets", "All"}}));
        SnackPdu sn;
        sn.itt = 9;
        c.send(c.frame(sn.encode()));
        Bhs odd{};
        odd[0] = std::byte{0x1c};
        odd[1] = std::byte{0x80};
        c.send(c.frame(odd));
        c.send(fuzz::login_request_bytes({}));
        write_seed(t, "ffp-order-and-rejects", c.seed());
    }
    {
        Conversation c(0x09);
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        // Thin provisioning and COMPARE AND WRITE on LUN 0, with completions from the loop.
        Bytes unmap(24);
        st16(unmap, 0, 22);
        st16(unmap, 2, 16);
        st64(unmap, 8, 64);
        st32(unmap, 16, 32);
        c.send(c.command({0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, 24, false, true, unmap));
        const Bytes block = pattern(512, 5);
        c.send(c.command({0x41, 0x08, 0, 0, 0, 0, 0, 0, 8, 0}, 512, false, true, block));  // WRITE SAME(10) UNMAP
        c.send(c.command({0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, 32, true, false));
        Bytes caw(1024);
        c.send(c.command({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0}, 1024, false, true, caw));
        c.send(c.command({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, false, false));
        write_seed(t, "ffp-thin-caw-deferred", c.seed());
    }
    {
        Conversation c(0x05);
        c.send(c.text_request({{"SendTargets", "All"}}));
        c.send(c.text_request({{"SendTargets", fuzz::kTargetName}}));
        c.send(c.nop_out({}));
        c.send(c.logout());
        write_seed(t, "ffp-discovery", c.seed());
    }
    {
        Conversation c(0x11);
        // Time passes: NOP-In pings, then RspTimeout on a WRITE that never gets its data.
        c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false));
        c.send(c.command({0x2a, 0, 0, 0, 0, 0, 0, 0, 64, 0}, 64 * 512, false, true));
        write_seed(t, "ffp-timers", c.seed());
    }
    {
        Conversation c(0x01);
        // LUNs 1 (4 KiB blocks), 2 (CD-ROM) and 3 (null), and a READ past the end.
        for (std::uint32_t lun : {1u, 2u, 3u}) {
            c.send(c.command({0x00, 0, 0, 0, 0, 0}, 0, false, false, {}, true, scsi::encode_lun(lun)));
            c.send(c.command({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8, true, false, {}, true, scsi::encode_lun(lun)));
            c.send(c.command({0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0}, 8192, true, false, {}, true, scsi::encode_lun(lun)));
        }
        c.write10(0, 8, 1, scsi::encode_lun(1));
        c.send(c.command({0x28, 0, 0xff, 0xff, 0, 0, 0, 0, 2, 0}, 1024, true, false));
        c.send(c.command({0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0}, 12, true, false, {}, true, scsi::encode_lun(2)));
        write_seed(t, "ffp-luns", c.seed());
    }
}

// ---- login_keys and chap -------------------------------------------------------------------

std::string record(std::uint8_t ctl, const std::vector<KeyValue>& keys) {
    return std::string(1, static_cast<char>(ctl)) + encode_text(keys);
}
constexpr std::uint8_t login_ctl(std::uint8_t csg, std::uint8_t nsg, bool t, bool c = false) {
    return static_cast<std::uint8_t>(csg | (nsg << 2) | (t ? 0x10 : 0) | (c ? 0x20 : 0));
}

void login_seeds() {
    const std::string t = "login_keys";
    const std::vector<KeyValue> hello = {{"InitiatorName", fuzz::kInitiatorName}, {"TargetName", fuzz::kTargetName},
                                         {"SessionType", "Normal"}};
    std::vector<KeyValue> operational = {{"HeaderDigest", "CRC32C,None"}, {"DataDigest", "None"}, {"InitialR2T", "No"},
                                         {"ImmediateData", "Yes"}, {"MaxBurstLength", "262144"},
                                         {"FirstBurstLength", "65536"}, {"MaxRecvDataSegmentLength", "65536"},
                                         {"MaxOutstandingR2T", "1"}, {"ErrorRecoveryLevel", "0"},
                                         {"DefaultTime2Wait", "2"}, {"DefaultTime2Retain", "20"},
                                         {"MaxConnections", "1"}, {"DataPDUInOrder", "Yes"},
                                         {"DataSequenceInOrder", "Yes"}, {"IFMarker", "No"}, {"OFMarker", "No"}};
    auto with = [](std::vector<KeyValue> a, const std::vector<KeyValue>& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    write_seed(t, "security-then-operational",
               std::string(1, '\0') + record(login_ctl(0, 1, true), with(hello, {{"AuthMethod", "None"}})) + "\n" +
                   record(login_ctl(1, 3, true), operational));
    write_seed(t, "operational-only", std::string(1, '\0') + record(login_ctl(1, 3, true), with(hello, operational)));
    {
        Conversation c(0);
        const ChapLogin l = chap_login(c);
        std::string s(1, '\x06');
        s += record(login_ctl(0, 1, false), l.steps[0]) + "\n" + record(login_ctl(0, 1, false), l.steps[1]) + "\n" +
             record(login_ctl(0, 1, true), l.steps[2]) + "\n" + record(login_ctl(1, 3, true), l.steps[3]);
        write_seed(t, "chap-mutual", s);
        // The CHAP records alone, for the authenticator: credentials, then CHAP_A, then the
        // response (swapped for the right one), with the mutual challenge.
        std::string ch = record(0, {{"IncomingUser", std::string(fuzz::kChapUser) + " " + fuzz::kChapSecret},
                                    {"OutgoingUser", std::string(fuzz::kOutgoingUser) + " " + fuzz::kOutgoingSecret}}) +
                         "\n" + record(0, l.steps[1]) + "\n" + record(1, l.steps[2]);
        write_seed("chap", "mutual", ch);
        write_seed("chap", "one-way",
                   record(0, {{"IncomingUser", "bob pw1234567890"}, {"IncomingUser", std::string(fuzz::kChapUser) + " " + fuzz::kChapSecret}}) +
                       "\n" + record(0, {{"CHAP_A", "7,5"}}) + "\n" +
                       record(1, {{"CHAP_N", fuzz::kChapUser}, {"CHAP_R", "0x00"}}));
        write_seed("chap", "base64-and-errors",
                   record(0, {}) + "\n" + record(0, {{"CHAP_A", "5"}}) + "\n" +
                       record(0, {{"CHAP_N", "alice"}, {"CHAP_R", "0bAAECAwQFBgcICQoLDA0ODw=="},
                                  {"CHAP_I", "300"}, {"CHAP_C", "0bAQID"}}));
        write_seed("chap", "credential-edits",
                   record(1, {{"IncomingUser1", "carol pw"}, {"OutgoingUser", "x y"}, {"IncomingUser", "alice"}}) + "\n" +
                       record(0, {{"CHAP_A", "6"}}));
        write_seed("chap", "wrong-order", record(0, {}) + "\n" + record(0, {{"CHAP_N", "alice"}}) + "\n" +
                                              record(0, {{"CHAP_A", "5"}}) + "\n" + record(0, {{"CHAP_A", "5"}}));
    }
    write_seed(t, "discovery-then-text",
               std::string(1, '\0') +
                   record(login_ctl(1, 3, true), {{"InitiatorName", fuzz::kInitiatorName}, {"SessionType", "Discovery"},
                                                   {"HeaderDigest", "None"}, {"MaxRecvDataSegmentLength", "32768"}}) +
                   "\n" + record(0x40, {{"SendTargets", "All"}, {"MaxRecvDataSegmentLength", "4096"}}) + "\n" +
                   record(0x40, {{"X-com.example.private", "1"}, {"InitialR2T", "Yes"}, {"Unknown", "Irrelevant"}}));
    write_seed(t, "target-params-then-login",
               std::string(1, '\0') +
                   record(0x80, {{"MaxBurstLength", "4096"}, {"FirstBurstLength", "4096"}, {"InitialR2T", "Yes"},
                                 {"HeaderDigest", "CRC32C"}, {"QueuedCommands", "64"}, {"NopInInterval", "0"}}) +
                   "\n" + record(login_ctl(1, 3, true), with(hello, operational)));
    write_seed(t, "continued-text",
               std::string(1, '\0') + std::string(1, static_cast<char>(login_ctl(1, 3, false, true))) +
                   encode_text(hello).substr(0, 30) + "\n" + std::string(1, static_cast<char>(login_ctl(1, 3, true))) +
                   encode_text(hello).substr(30) + encode_text(operational));
    write_seed(t, "refusals",
               std::string(1, '\x01') + record(login_ctl(1, 3, true), hello) + "\n" +
                   record(login_ctl(0, 0, true), {{"SessionType", "Bogus"}}) + "\n" +
                   record(login_ctl(1, 3, true), {{"MaxRecvDataSegmentLength", "100"}, {"ErrorRecoveryLevel", "2"},
                                                  {"MaxConnections", "0"}, {"OFMarker", "Yes"}, {"TargetAlias", "x"}}));
    write_seed(t, "reject-values",
               std::string(1, '\0') +
                   record(login_ctl(1, 1, false), with(hello, {{"HeaderDigest", "MD5,SHA1"}, {"InitialR2T", "Maybe"},
                                                               {"MaxBurstLength", "0x10000"}, {"FirstBurstLength", "999999999999"},
                                                               {"DataDigest", "Reject"}, {"DefaultTime2Wait", "NotUnderstood"}})) +
                   "\n" + record(login_ctl(1, 3, true), {{"MaxOutstandingR2T", "65536"}, {"TargetPortalGroupTag", "1"}}));
}

// ---- cdb -----------------------------------------------------------------------------

struct CdbSeed {
    Bytes b;
    explicit CdbSeed(std::uint8_t flags) { b.push_back(std::byte{flags}); }
    CdbSeed& cmd(std::vector<int> cdb, std::uint16_t edtl = 0, const Bytes& out = {}, std::uint8_t nexus = 0,
                 std::uint8_t lun = 0, std::uint8_t extra = 0) {
        b.push_back(static_cast<std::byte>(nexus | (lun << 2) | extra));
        for (std::size_t i = 0; i < 16; ++i) b.push_back(static_cast<std::byte>(i < cdb.size() ? cdb[i] : 0));
        b.push_back(static_cast<std::byte>(edtl & 0xff));
        b.push_back(static_cast<std::byte>(edtl >> 8));
        b.push_back(static_cast<std::byte>(out.size() & 0xff));
        b.push_back(static_cast<std::byte>(out.size() >> 8));
        append(b, out);
        return *this;
    }
    CdbSeed& tur(std::uint8_t nexus = 0, std::uint8_t lun = 0) { return cmd({0x00}, 0, {}, nexus, lun); }
};

Bytes pr_out_list(std::uint64_t key, std::uint64_t sa_key, std::uint8_t flags = 0) {
    Bytes b(24);
    st64(b, 0, key);
    st64(b, 8, sa_key);
    st8(b, 20, flags);
    return b;
}

std::vector<int> pr_out(std::uint8_t sa, std::uint8_t type, std::uint32_t len) {
    return {0x5f, sa, type, 0, 0, 0, 0, int(len >> 8), int(len & 0xff), 0};
}

// The NAA designator of a vdisk's VPD page 83h, as the copy manager matches it.
Bytes naa_of(const std::string& name, std::uint32_t bs) {
    handlers::VdiskConfig c;
    c.name = name;
    c.filename = "/mem/" + name;
    c.blocksize = bs;
    auto dev = std::make_shared<handlers::Vdisk>(c, std::make_shared<fuzz::FuzzStore>(1u << 20, nullptr));
    auto inq = std::make_shared<scsi::Command>();
    for (int i = 0, v[] = {0x12, 0x01, 0x83, 0x00, 0xff, 0x00}; i < 6; ++i) inq->cdb[static_cast<std::size_t>(i)] = static_cast<std::byte>(v[i]);
    dev->execute(inq, {}, [] {});
    const Bytes page = inq->data_in->to_vector();
    for (std::size_t off = 4; off + 4 <= page.size(); off += 4 + ld8(page, off + 3))
        if ((ld8(page, off + 1) & 0x3f) == 0x03)
            return Bytes(page.begin() + static_cast<std::ptrdiff_t>(off + 4),
                         page.begin() + static_cast<std::ptrdiff_t>(off + 4 + ld8(page, off + 3)));
    fuzz::fail("seeds: no NAA designator");
}

Bytes xcopy_list(std::uint32_t bs0) {
    auto cscd = [](const Bytes& naa, std::uint32_t bs) {
        Bytes d(32);
        st8(d, 0, 0xe4);
        st8(d, 4, 0x01);
        st8(d, 5, 0x03);
        st8(d, 7, static_cast<std::uint8_t>(naa.size()));
        std::copy(naa.begin(), naa.end(), d.begin() + 8);
        st24(d, 29, bs);
        return d;
    };
    auto segment = [](std::uint16_t src, std::uint16_t dst, std::uint16_t blocks, std::uint64_t sl, std::uint64_t dl) {
        Bytes d(28);
        st8(d, 0, 0x02);
        st16(d, 2, 0x18);
        st16(d, 4, src);
        st16(d, 6, dst);
        st16(d, 10, blocks);
        st64(d, 12, sl);
        st64(d, 20, dl);
        return d;
    };
    Bytes t = cscd(naa_of("d0", bs0), bs0), g = segment(0, 0, 4, 0, 8);
    append(t, cscd(naa_of("d1", 4096), 4096));
    append(g, segment(0, 1, 8, 0, 2));
    Bytes p(16);
    st8(p, 0, 1);
    st16(p, 2, static_cast<std::uint16_t>(t.size()));
    st32(p, 8, static_cast<std::uint32_t>(g.size()));
    append(p, t);
    append(p, g);
    return p;
}

void cdb_seeds() {
    const std::string t = "cdb";
    const Bytes blocks = pattern(2048, 4);
    write_seed(t, "spc-inquiry-and-capacity",
               CdbSeed(0x00)
                   .cmd({0x12, 0, 0, 0, 96}, 96).tur().tur()
                   .cmd({0x12, 1, 0x00, 0, 255}, 255).cmd({0x12, 1, 0x80, 0, 255}, 255).cmd({0x12, 1, 0x83, 0, 255}, 255)
                   .cmd({0x12, 1, 0xb0, 0, 255}, 255).cmd({0x12, 1, 0xb1, 0, 255}, 255).cmd({0x12, 1, 0xb2, 0, 255}, 255)
                   .cmd({0x12, 1, 0x8f, 0, 255}, 255).cmd({0x25}, 8).cmd({0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32}, 32)
                   .cmd({0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 256).cmd({0x03, 0, 0, 0, 252}, 252)
                   .cmd({0xa3, 0x0c, 0, 0, 0, 0, 0, 0, 0x10, 0}, 4096).cmd({0xa3, 0x0c, 0x01, 0x2a, 0, 0, 0, 0, 1, 0}, 256)
                   .b);
    write_seed(t, "sbc-read-write-verify",
               CdbSeed(0x00).tur()
                   .cmd({0x2a, 0, 0, 0, 0, 10, 0, 0, 2, 0}, 1024, Bytes(blocks.begin(), blocks.begin() + 1024))
                   .cmd({0x28, 0, 0, 0, 0, 10, 0, 0, 2, 0}, 1024)
                   .cmd({0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 4, 0, 0}, 2048, blocks)
                   .cmd({0x88, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 4, 0, 0}, 2048)
                   .cmd({0x2f, 0x02, 0, 0, 0, 20, 0, 0, 4, 0}, 2048, blocks)
                   .cmd({0x2e, 0x02, 0, 0, 0, 30, 0, 0, 4, 0}, 2048, blocks)
                   .cmd({0x0a, 0, 0, 40, 1}, 512, Bytes(blocks.begin(), blocks.begin() + 512))
                   .cmd({0x08, 0, 0, 40, 1}, 512)
                   .cmd({0x35, 0x02}).cmd({0x91}).cmd({0x34, 0, 0, 0, 0, 0, 0, 0, 8, 0})
                   .cmd({0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1}, 512)
                   .b);
    write_seed(t, "sbc-4k-blocks",
               CdbSeed(0x03).tur()
                   .cmd({0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0}, 4096, pattern(4096, 2))
                   .cmd({0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0}, 4096).cmd({0x25}, 8).b);
    {
        Bytes unmap(40);
        st16(unmap, 0, 38);
        st16(unmap, 2, 32);
        st64(unmap, 8, 100);
        st32(unmap, 16, 50);
        st64(unmap, 24, 1000);
        st32(unmap, 32, 8);
        const Bytes one(blocks.begin(), blocks.begin() + 512);
        write_seed(t, "thin-unmap-write-same-lba-status",
                   CdbSeed(0x04).tur()
                       .cmd({0x42, 0, 0, 0, 0, 0, 0, 0, 40}, 40, unmap)
                       .cmd({0x41, 0x08, 0, 0, 0, 64, 0, 0, 16, 0}, 512, one)
                       .cmd({0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 16, 0, 0}, 512, one)
                       .cmd({0x41, 0, 0, 0, 1, 0, 0, 0, 4, 0}, 512, one)
                       .cmd({0x9e, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256)
                       .cmd({0x12, 1, 0xb2, 0, 64}, 64)
                       .cmd({0x5a, 0, 0x1c, 0, 0, 0, 0, 1, 0, 0}, 256).cmd({0x1a, 0, 0x3f, 0, 255}, 255)
                       .b);
        write_seed(t, "thin-deferred-batch",
                   CdbSeed(0x0c).tur()
                       .cmd({0x42, 0, 0, 0, 0, 0, 0, 0, 40}, 40, unmap, 0, 0, 0x80)
                       .cmd({0x2a, 0, 0, 0, 0, 100, 0, 0, 1, 0}, 512, one, 0, 0, 0x80)
                       .cmd({0x28, 0, 0, 0, 0, 100, 0, 0, 1, 0}, 512, {}, 0, 0, 0x80 | 0x20)
                       .cmd({0x28, 0, 0, 0, 0, 100, 0, 0, 1, 0}, 512, {}, 0, 0, 0x40)
                       .b);
    }
    {
        Bytes caw(1024);
        std::copy(blocks.begin(), blocks.begin() + 512, caw.begin() + 512);
        Bytes bad = caw;
        bad[3] = std::byte{1};
        write_seed(t, "compare-and-write",
                   CdbSeed(0x08).tur()
                       .cmd({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0}, 1024, caw, 0, 0, 0x80)
                       .cmd({0x2a, 0, 0, 0, 0, 5, 0, 0, 1, 0}, 512, Bytes(512), 0, 0, 0x80)
                       .cmd({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0}, 1024, bad)
                       .cmd({0x34, 0, 0, 0, 0, 5, 0, 0, 1, 0})
                       .b);
    }
    {
        CdbSeed s(0x00);
        s.tur(0).tur(1).tur(2);
        s.cmd(pr_out(0x00, 0, 24), 24, pr_out_list(0, 0xa1), 0);      // REGISTER
        s.cmd(pr_out(0x00, 0, 24), 24, pr_out_list(0, 0xb2), 1);
        s.cmd(pr_out(0x01, 0x05, 24), 24, pr_out_list(0xa1, 0), 0);   // RESERVE, WE registrants only
        s.cmd({0x5e, 0x00, 0, 0, 0, 0, 0, 1, 0, 0}, 256, {}, 2);      // READ KEYS
        s.cmd({0x5e, 0x01, 0, 0, 0, 0, 0, 1, 0, 0}, 256, {}, 2);      // READ RESERVATION
        s.cmd({0x5e, 0x02, 0, 0, 0, 0, 0, 0, 8, 0}, 8, {}, 2);        // REPORT CAPABILITIES
        s.cmd({0x5e, 0x03, 0, 0, 0, 0, 0, 1, 0, 0}, 256, {}, 2);      // READ FULL STATUS
        s.cmd({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, Bytes(512), 2); // conflicts
        s.cmd(pr_out(0x05, 0x05, 24), 24, pr_out_list(0xb2, 0xa1), 1); // PREEMPT AND ABORT
        s.cmd(pr_out(0x06, 0, 24), 24, pr_out_list(0xb2, 0xc3, 0x01), 1);  // REGISTER AND IGNORE, APTPL
        s.cmd(pr_out(0x02, 0x05, 24), 24, pr_out_list(0xc3, 0), 1);    // RELEASE
        s.cmd(pr_out(0x03, 0, 24), 24, pr_out_list(0xc3, 0), 1);       // CLEAR
        s.cmd({0x16}, 0, {}, 0).cmd({0x16}, 0, {}, 1).cmd({0x17}, 0, {}, 0).cmd({0x56}, 0, {}, 1).cmd({0x57}, 0, {}, 1);
        write_seed(t, "persistent-reservations", s.b);
    }
    {
        // REGISTER AND MOVE to another I_T nexus named by its TransportID, and SPEC_I_PT.
        const std::string port = "iqn.2026-11.org.example:host1,i,0x400001370001";
        Bytes tid(4 + ((port.size() + 1 + 3) / 4 * 4));
        st8(tid, 0, 0x45);
        st16(tid, 2, static_cast<std::uint16_t>(tid.size() - 4));
        std::copy(port.begin(), port.end(), reinterpret_cast<char*>(tid.data()) + 4);
        Bytes move(24);
        st64(move, 0, 0xa1);
        st64(move, 8, 0xd4);
        st16(move, 18, 1);
        st32(move, 20, static_cast<std::uint32_t>(tid.size()));
        append(move, tid);
        Bytes spec = pr_out_list(0, 0xe5, 0x08);
        spec.resize(28);
        st32(spec, 24, static_cast<std::uint32_t>(tid.size()));
        append(spec, tid);
        CdbSeed s(0x00);
        s.tur(0).tur(1);
        s.cmd(pr_out(0x00, 0, 24), 24, pr_out_list(0, 0xa1), 0);
        s.cmd(pr_out(0x01, 0x03, 24), 24, pr_out_list(0xa1, 0), 0);
        s.cmd(pr_out(0x07, 0x03, static_cast<std::uint32_t>(move.size())), static_cast<std::uint16_t>(move.size()), move, 0);
        s.cmd({0x5e, 0x03, 0, 0, 0, 0, 0, 1, 0, 0}, 256, {}, 1);
        s.cmd(pr_out(0x00, 0, static_cast<std::uint32_t>(spec.size())), static_cast<std::uint16_t>(spec.size()), spec, 2);
        s.cmd({0x5e, 0x00, 0, 0, 0, 0, 0, 1, 0, 0}, 256, {}, 2);
        write_seed(t, "pr-register-and-move", s.b);
    }
    {
        const Bytes list = xcopy_list(512);
        CdbSeed s(0x00);
        s.tur(0, 0).tur(0, 1);
        s.cmd({0x2a, 0, 0, 0, 0, 0, 0, 0, 4, 0}, 2048, blocks);
        s.cmd({0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, int(list.size() >> 8), int(list.size() & 0xff), 0, 0},
              static_cast<std::uint16_t>(list.size()), list);
        s.cmd({0x84, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256);  // COPY STATUS
        s.cmd({0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256);  // OPERATING PARAMETERS
        s.cmd({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 4096, {}, 0, 1);
        write_seed(t, "extended-copy", s.b);
        CdbSeed d(0x08);
        d.tur(0, 0).tur(0, 1);
        d.cmd({0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, int(list.size() >> 8), int(list.size() & 0xff), 0, 0},
              static_cast<std::uint16_t>(list.size()), list, 0, 0, 0x80);
        d.cmd({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, Bytes(512), 0, 0, 0x80);
        d.cmd({0x84, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, 256);
        write_seed(t, "extended-copy-deferred", d.b);
    }
    write_seed(t, "alua-tpg",
               CdbSeed(0x80).tur()
                   .cmd({0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 1, 0}, 256).cmd({0x12, 1, 0x83, 0, 255}, 255)
                   .cmd({0xa4, 0x0a, 0, 0, 0, 0, 0, 0, 0, 8, 0}, 8, Bytes{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                                                                       std::byte{0x02}, std::byte{0}, std::byte{0}, std::byte{1}})
                   .cmd({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512).b);
    write_seed(t, "mode-pages",
               CdbSeed(0x00).tur()
                   .cmd({0x1a, 0x08, 0x08, 0, 255}, 255).cmd({0x5a, 0, 0x0a, 0, 0, 0, 0, 0, 255}, 255)
                   .cmd({0x15, 0x10, 0, 0, 24}, 24,
                        Bytes{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0x08}, std::byte{0x12},
                              std::byte{0x00}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                              std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0},
                              std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}})
                   .cmd({0x1a, 0, 0x08, 0, 255}, 255).cmd({0x4d, 0, 0x40, 0, 0, 0, 0, 1, 0, 0}, 256)
                   .cmd({0x37, 0, 0, 0, 0, 0, 0, 1, 0, 0}, 256).b);
    write_seed(t, "removable-and-cdrom",
               CdbSeed(0x40).tur()
                   .cmd({0x1e, 0, 0, 0, 1}).cmd({0x1b, 0, 0, 0, 0x02}).cmd({0x1e, 0, 0, 0, 0}).cmd({0x1b, 0, 0, 0, 0x02})
                   .tur().cmd({0x1b, 0, 0, 0, 0x03}).tur()
                   .tur(0, 2).cmd({0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0}, 12, {}, 0, 2)
                   .cmd({0x46, 0, 0, 0, 0, 0, 0, 1, 0, 0}, 256, {}, 0, 2).cmd({0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8, 0}, 8, {}, 0, 2)
                   .cmd({0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0}, 34, {}, 0, 2).cmd({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 2048, {}, 0, 2)
                   .cmd({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 2048, Bytes(2048), 0, 2)
                   .b);
    write_seed(t, "luns-and-nullio",
               CdbSeed(0x00)
                   .cmd({0xa0, 0, 0x02, 0, 0, 0, 0, 0, 1, 0}, 256).tur(0, 3)
                   .cmd({0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0}, 4096, {}, 0, 3)
                   .cmd({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, Bytes(512), 0, 3)
                   .cmd({0x12, 0, 0, 0, 36}, 36, {}, 1, 3).cmd({0x03, 0, 0, 0, 18}, 18, {}, 2, 3)
                   .b);
    write_seed(t, "task-attributes",
               CdbSeed(0x08).tur()
                   .cmd({0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, Bytes(512), 0, 0, 0x80)
                   .cmd({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, {}, 0, 0, 0x80 | 0x20)
                   .cmd({0x00}, 0, {}, 0, 0, 0x80 | 0x30)
                   .cmd({0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 512, {}, 0, 0, 0x10)
                   .b);
}

// ---- scst_conf and mgmt ------------------------------------------------------------------

// The `config: |` blocks of the scenario files, as the target reads them.
std::vector<std::pair<std::string, std::string>> scenario_configs(const fs::path& source) {
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string> seen;
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(source / "scenarios"))
        if (e.path().extension() == ".yaml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f);
        std::string line, conf;
        std::size_t indent = std::string::npos;
        bool inside = false;
        while (std::getline(in, line)) {
            if (!inside) {
                if (line.find("config: |") != std::string::npos) inside = true;
                continue;
            }
            const std::size_t first = line.find_first_not_of(' ');
            if (first == std::string::npos) {
                conf += "\n";
                continue;
            }
            if (indent == std::string::npos) indent = first;
            if (first < indent) break;
            conf += line.substr(indent) + "\n";
        }
        if (conf.empty() || !seen.insert(conf).second) continue;
        out.emplace_back(f.parent_path().filename().string() + "-" + f.stem().string(), conf);
    }
    return out;
}

void conf_seeds(const fs::path& source) {
    const auto confs = scenario_configs(source);
    // Tens of files at most: the first of each suite, and every one that differs in its
    // keywords from those taken.
    std::set<std::string> suites;
    std::size_t taken = 0;
    for (const auto& [name, conf] : confs) {
        const std::string suite = name.substr(0, name.find('-'));
        const bool rich = conf.find("GROUP") != std::string::npos || conf.find("IncomingUser") != std::string::npos ||
                          conf.find("DEVICE_GROUP") != std::string::npos || conf.find("vcdrom") != std::string::npos ||
                          conf.find("nullio") != std::string::npos;
        if (!suites.insert(suite).second && !rich) continue;
        if (++taken > 24) break;
        write_seed("scst_conf", "scenario-" + name, conf);
    }
    write_seed("scst_conf", "harness", fuzz::rig_conf());
    write_seed("scst_conf", "alua-groups-credentials",
               "# every block kind\n"
               "HANDLER vdisk_fileio {\n\tDEVICE disk1 {\n\t\tfilename /disk1\n\t\tnv_cache 1\n\t\tt10_dev_id \"id 1\"\n\t}\n}\n"
               "HANDLER vdisk_blockio {\n\tDEVICE disk2 {\n\t\tfilename /dev/sdb\n\t\tblocksize 4096\n\t\tthin_provisioned 1\n\t}\n}\n"
               "HANDLER vdisk_nullio {\n\tDEVICE null1 {\n\t\tsize_mb 1024\n\t\tread_only 1\n\t}\n}\n"
               "TARGET_DRIVER iscsi {\n\tenabled 1\n\tIncomingUser joe secret1234567\n\tiSNSServer 10.0.0.9\n"
               "\tTARGET iqn.2006-10.net.vlnb:tgt {\n\t\tMaxBurstLength 262144\n\t\tIncomingUser alice pw123456789012\n"
               "\t\tOutgoingUser tgt tgtsecret1234\n\t\tLUN 0 disk1\n\t\tGROUP special {\n\t\t\tLUN 0 disk2 {\n\t\t\t\tread_only 1\n"
               "\t\t\t}\n\t\t\tINITIATOR iqn.2005-03.org.open-iscsi:*\n\t\t}\n\t\trel_tgt_id 3\n\t\tenabled 1\n\t}\n"
               "\tTARGET iqn.2006-10.net.vlnb:tgt1 {\n\t\tLUN 0 null1\n\t\tenabled 0\n\t}\n}\n"
               "DEVICE_GROUP dg1 {\n\tDEVICE disk1\n\tTARGET_GROUP local {\n\t\tgroup_id 1\n\t\tstate active\n"
               "\t\tpreferred 1\n\t\tTARGET iqn.2006-10.net.vlnb:tgt\n\t}\n\tTARGET_GROUP remote {\n\t\tgroup_id 2\n"
               "\t\tstate standby\n\t\tTARGET iqn.2006-10.net.vlnb:remote {\n\t\t\trel_tgt_id 9\n\t\t}\n\t}\n}\n");
    write_seed("scst_conf", "one-line-blocks",
               "HANDLER vdisk_fileio { DEVICE a { filename /a } DEVICE b { filename /b } }\n"
               "TARGET_DRIVER iscsi { TARGET iqn.x:y { LUN 0 a } TARGET iqn.x:z { LUN 1 b } enabled 1 }\n");

    const std::string tgt = "targets/iscsi/iqn.2006-10.net.vlnb:tgt";
    auto lines = [](std::uint8_t flags, const std::vector<std::string>& ls) {
        std::string s(1, static_cast<char>(flags));
        for (const auto& l : ls) s += l + "\n";
        return s;
    };
    write_seed("mgmt", "sample-script",
               lines(0, {"handlers/vdisk_fileio/mgmt add_device disk1 filename=/disk1; nv_cache=1",
                         "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt", tgt + "/luns/mgmt add disk1 0",
                         tgt + "/enabled 1", "targets/iscsi/enabled 1", "devices/disk1/filename",
                         "/sys/kernel/scst_tgt/devices/disk1/nv_cache", tgt + "/luns/0", tgt + "/QueuedCommands", "devices",
                         tgt}));
    write_seed("mgmt", "groups-and-initiators",
               lines(0, {"handlers/vdisk_fileio/mgmt add_device disk1 filename=/disk1",
                         "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt", tgt + "/ini_groups/mgmt create special_ini",
                         tgt + "/ini_groups/special_ini/luns/mgmt add disk1 0 read_only=1",
                         tgt + "/ini_groups/special_ini/initiators/mgmt add iqn.2005-03.org.open-iscsi:*",
                         tgt + "/ini_groups/special_ini/luns/0/read_only", tgt + "/ini_groups/special_ini/initiators/mgmt clear",
                         tgt + "/ini_groups/mgmt del special_ini", tgt + "/ini_groups"}));
    write_seed("mgmt", "attributes-and-refusals",
               lines(0, {"handlers/vdisk_fileio/mgmt add_device disk2 filename=/d2; blocksize=1000",
                         "handlers/vdisk_fileio/mgmt add_device disk2 filename=/missing",
                         "handlers/vdisk_nullio/mgmt add_device null1 size_mb=16; read_only=1",
                         "handlers/vdisk_fileio/mgmt frobnicate disk1", "targets/iscsi/mgmt add_target notaname",
                         "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt",
                         "targets/iscsi/mgmt add_target_attribute iqn.2006-10.net.vlnb:tgt IncomingUser joe 12345678901234",
                         "targets/iscsi/mgmt add_attribute IncomingUser jim 12345678901234",
                         "targets/iscsi/mgmt del_target_attribute iqn.2006-10.net.vlnb:tgt IncomingUser joe",
                         tgt + "/MaxBurstLength 12", tgt + "/InitialR2T perhaps", tgt + "/InitialR2T Yes", tgt + "/rel_tgt_id 77",
                         "trace_level add scsi", "targets/iscsi/trace_level none", "sgv/global_stats", "sgv/sgv/stats",
                         "handlers/vdisk_fileio/mgmt del_device disk1", "targets/iscsi/mgmt del_target iqn.2006-10.net.vlnb:tgt"}));
    write_seed("mgmt", "device-groups",
               lines(0, {"handlers/vdisk_fileio/mgmt add_device disk1 filename=/disk1",
                         "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt", "targets/iscsi/mgmt add_target iqn.2006-10.net.vlnb:tgt1",
                         "device_groups/mgmt create dg1", "device_groups/dg1/devices/mgmt add disk1",
                         "device_groups/dg1/target_groups/mgmt create local", "device_groups/dg1/target_groups/mgmt create remote",
                         "device_groups/dg1/target_groups/local/mgmt add iqn.2006-10.net.vlnb:tgt",
                         "device_groups/dg1/target_groups/remote/mgmt add iqn.2006-10.net.vlnb:tgt1",
                         "device_groups/dg1/target_groups/local/group_id 1", "device_groups/dg1/target_groups/remote/state standby",
                         "device_groups/dg1/target_groups/local/preferred 1", "device_groups/dg1/devices/disk1",
                         "device_groups/mgmt del dg1"}));
    const std::string fz = std::string("targets/iscsi/") + fuzz::kTargetName;
    write_seed("mgmt", "live-session",
               lines(1, {fz + "/sessions", fz + "/sessions/" + fuzz::kInitiatorName,
                         fz + "/sessions/" + fuzz::kInitiatorName + "/luns", fz + "/luns/mgmt del 2",
                         fz + "/luns/mgmt add cd0 5", "devices/d0/resync_size 1", "devices/cd0/filename /mem/new.iso",
                         "devices/cd0/filename ", "devices/d0/t10_dev_id fuzz-0", fz + "/NopInInterval 5",
                         fz + "/sessions/" + fuzz::kInitiatorName + "/force_close 1", fz + "/sessions"}));
    write_seed("mgmt", "live-session-target-deleted",
               lines(3, {fz + "/enabled 0", "targets/iscsi/mgmt del_target " + std::string(fuzz::kTargetName),
                         "handlers/vdisk_fileio/mgmt del_device d0", "targets/iscsi/enabled 0", ""}));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: fuzz_seeds SOURCE_DIR OUT_DIR\n";
        return 2;
    }
    out_dir = argv[2];
    framer_seeds();
    login_seeds();
    cdb_seeds();
    conf_seeds(argv[1]);
    std::cout << "seeds written under " << out_dir << "\n";
    return 0;
}
