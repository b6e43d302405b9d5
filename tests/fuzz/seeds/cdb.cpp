// Seeds of cdb (tests/fuzz/seeds/seeds.hpp): the commands of the vdisk, persistent
// reservation and copy manager unit tests.

#include "fuzz_support.hpp"
#include "seeds/seeds.hpp"
#include "target/bytes.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/scsi/command.hpp"

namespace iscsilab::fuzz::seeds {
namespace {

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

}  // namespace

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

}  // namespace iscsilab::fuzz::seeds
