// A target with one memory-backed LUN behind the driver, and a tiny initiator that logs
// in and sends commands through the codec: the rig of the connection-level tests.
#pragma once

#include "support/harness.hpp"
#include "target/bytes.hpp"
#include "target/iscsi/driver.hpp"
#include "target/mgmt/scst.hpp"

namespace iscsilab::testing {

using namespace iscsilab::iscsi;

inline const char* kIqn = "iqn.2026-11.org.example:disk";

class MemStores final : public mgmt::StoreFactory {
public:
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig&, std::string&) override {
        last = std::make_shared<MemoryStore>(16u << 20);
        return last;
    }
    std::shared_ptr<MemoryStore> last;
};

struct Rig {
    ManualLoop loop;
    FixedRandom rnd;
    IscsiDriver driver{rnd};
    MemStores stores;
    mgmt::Scst scst{driver, stores};
    std::uint32_t cmdsn = 1, itt = 1, expstatsn = 0;
    std::string initiator = "iqn.2026-11.org.example:host";  // the next login's InitiatorName

    // extra: lines of the TARGET block; driver_extra: lines of the TARGET_DRIVER block.
    explicit Rig(const std::string& extra = "", const std::string& driver_extra = "") {
        std::string conf = std::string("HANDLER vdisk_fileio {\n DEVICE d0 {\n filename /mem\n }\n}\n") +
                           "TARGET_DRIVER iscsi {\n enabled 1\n" + driver_extra + " TARGET " + kIqn + " {\n" + extra +
                           " LUN 0 d0\n enabled 1\n }\n}\n";
        auto p = mgmt::parse_scst_conf(conf, "test.conf");
        BOOST_REQUIRE(!p.error);
        auto e = scst.apply(p.blocks, "test.conf");
        BOOST_REQUIRE_MESSAGE(!e, (e ? e->text() : ""));
    }

    std::shared_ptr<MemoryStream> connect() {
        auto s = std::make_shared<MemoryStream>(loop);
        driver.accept(s, loop, loop);
        loop.run();
        return s;
    }

    std::vector<Pdu> exchange(MemoryStream& s, const Bytes& wire, DigestSettings rx = {}) {
        s.inject(wire);
        loop.run();
        return drain(s, rx);
    }

    // A normal-session login with the given operational keys; returns the final response.
    Pdu login(MemoryStream& s, std::vector<KeyValue> keys, std::uint8_t isid_last = 1) {
        keys.insert(keys.begin(), {{"InitiatorName", initiator}, {"TargetName", kIqn},
                                   {"SessionType", "Normal"}});
        LoginRequestPdu r;
        r.csg = 1;
        r.nsg = 3;
        r.transit = true;
        r.isid = {std::byte{0x80}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{isid_last}};
        r.itt = itt++;
        r.cmdsn = cmdsn;
        Bytes data = text_bytes(keys);
        auto out = exchange(s, frame(r.encode(static_cast<std::uint32_t>(data.size())), data));
        BOOST_REQUIRE(out.size() == 1u);
        auto resp = LoginResponsePdu::decode(out[0].bhs);
        expstatsn = resp.sn.statsn + 1;
        return out[0];
    }

    // Every operational key, so the login completes in one exchange.
    static std::vector<KeyValue> full_keys() {
        return {{"InitialR2T", "No"}, {"ImmediateData", "Yes"}, {"MaxBurstLength", "262144"},
                {"FirstBurstLength", "65536"}, {"MaxRecvDataSegmentLength", "8192"},
                {"MaxOutstandingR2T", "1"}, {"HeaderDigest", "None"}, {"DataDigest", "None"}};
    }

    Pdu full_login(MemoryStream& s, std::vector<KeyValue> extra = {}) {
        std::vector<KeyValue> keys = full_keys();
        for (auto& kv : extra)
            for (auto& k : keys)
                if (k.key == kv.key) k.value = kv.value;
        Pdu p = login(s, keys);
        auto resp = LoginResponsePdu::decode(p.bhs);
        BOOST_REQUIRE(resp.status_class == 0);
        BOOST_REQUIRE(resp.transit);
        return p;
    }

    Bytes command(std::initializer_list<int> cdb, std::uint32_t edtl, bool read, bool write,
                  std::span<const std::byte> imm = {}, bool final_bit = true, std::uint32_t* used_itt = nullptr) {
        ScsiCommandPdu c;
        c.read = read;
        c.write = write;
        c.final_bit = final_bit;
        c.itt = itt++;
        if (used_itt) *used_itt = c.itt;
        c.cmdsn = cmdsn++;
        c.expstatsn = expstatsn;
        c.expected_data_transfer_length = edtl;
        int i = 0;
        for (int b : cdb) c.cdb[static_cast<std::size_t>(i++)] = static_cast<std::byte>(b);
        return frame(c.encode(static_cast<std::uint32_t>(imm.size())), imm);
    }
};

inline Bytes pattern(std::size_t n, int seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 31 + static_cast<std::size_t>(seed)) & 0xff);
    return b;
}

inline Bytes data_out(std::uint32_t itt, std::uint32_t ttt, std::uint32_t datasn, std::uint32_t offset,
               std::span<const std::byte> data, bool final_bit) {
    DataOutPdu d;
    d.itt = itt;
    d.ttt = ttt;
    d.datasn = datasn;
    d.buffer_offset = offset;
    d.final_bit = final_bit;
    return frame(d.encode(static_cast<std::uint32_t>(data.size())), data);
}


}  // namespace iscsilab::testing
