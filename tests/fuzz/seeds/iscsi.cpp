// Seeds of framer_conn, login_keys and chap (tests/fuzz/seeds/seeds.hpp): an initiator
// talking to the harness's target, and the key lists of its logins.
#include <map>

#include "fuzz_support.hpp"
#include "seeds/seeds.hpp"
#include "target/bytes.hpp"
#include "target/iscsi/chap.hpp"
#include "target/scsi/command.hpp"

using namespace iscsilab::iscsi;

namespace iscsilab::fuzz::seeds {
namespace {

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

}  // namespace

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
    for (std::uint8_t mode : {0x01, 0x03, 0x09, 0x41}) {
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
        if (mode == 0x41) {
            // Pieces read as TcpStream reads them: data segments into their places. This
            // split cuts 19 reads inside a segment (Connection::on_placed runs 19 times).
            write_seed(t, "ffp-io-placed-split", c.seed_split(0x0004));
            continue;
        }
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

namespace {

std::string record(std::uint8_t ctl, const std::vector<KeyValue>& keys) {
    return std::string(1, static_cast<char>(ctl)) + encode_text(keys);
}
constexpr std::uint8_t login_ctl(std::uint8_t csg, std::uint8_t nsg, bool t, bool c = false) {
    return static_cast<std::uint8_t>(csg | (nsg << 2) | (t ? 0x10 : 0) | (c ? 0x20 : 0));
}

}  // namespace

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

}  // namespace iscsilab::fuzz::seeds
