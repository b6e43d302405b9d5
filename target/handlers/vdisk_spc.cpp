// The SPC-4 commands of a vdisk: INQUIRY and its VPD pages, REQUEST SENSE, MODE SENSE
// and MODE SELECT.
#include <algorithm>

#include "target/handlers/vdisk.hpp"
#include "target/bytes.hpp"
#include "target/handlers/vdisk_detail.hpp"
#include "target/scsi/alua.hpp"
#include "target/scsi/copy_manager.hpp"

namespace iscsilab::handlers {

using detail::pad_ascii;

void Vdisk::inquiry(Command& c) const {
    auto cdb = c.cdb_bytes();
    const bool evpd = ld8(cdb, 1) & 0x01;
    const std::uint8_t page = ld8(cdb, 2);
    const std::uint16_t alloc = ld16(cdb, 3);
    if (!evpd) {
        if (page != 0) return fail(c, scsi::invalid_field_in_cdb(2));
        Bytes d(74);
        st8(d, 0, peripheral_type());
        st8(d, 1, cfg_.removable || cdrom() ? 0x80 : 0x00);
        st8(d, 2, 0x06);                 // SPC-4
        st8(d, 3, 0x12);                 // HISUP, response data format 2
        // TPGS 11b: implicit and explicit ALUA, for a device in an SCST device group
        // (SPC-4 §6.4.2, §5.16.2.8).
        // 3PC: the target's copy manager takes EXTENDED COPY (SPC-4 §6.4.2).
        st8(d, 5, static_cast<std::uint8_t>((alua_group() ? 0x30 : 0x00) | 0x08));
        st8(d, 4, static_cast<std::uint8_t>(d.size() - 5));
        st8(d, 7, 0x02);                 // CMDQUE
        pad_ascii(d, 8, 8, "ISCSILAB");
        pad_ascii(d, 16, 16, cfg_.handler == "vdisk_nullio" ? "NULLIO" : cdrom() ? "VCDROM" : "VDISK");
        pad_ascii(d, 32, 4, "0100");
        // Version descriptors (SPC-4 §6.4.2 table): SAM-5, iSCSI, SPC-4, SBC-3.
        st16(d, 58, 0x00a0);
        st16(d, 60, 0x0960);
        st16(d, 62, 0x0460);
        st16(d, 64, 0x04c0);
        return scsi::return_data(c, d, alloc);
    }
    Bytes d(4);
    st8(d, 0, peripheral_type());
    st8(d, 1, page);
    auto append = [&](std::initializer_list<std::uint8_t> v) {
        for (auto x : v) d.push_back(static_cast<std::byte>(x));
    };
    switch (page) {
        case 0x00:  // Supported VPD pages, ascending
            append({0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1, 0xb2});
            break;
        case 0x80:  // Unit serial number
            for (char ch : cfg_.usn) d.push_back(static_cast<std::byte>(ch));
            break;
        case 0x83: {  // Device identification (SPC-4 §7.8.6)
            // T10 vendor ID based, associated with the logical unit.
            std::string t10 = "ISCSILAB" + cfg_.t10_dev_id;
            append({0x02, 0x01, 0x00, static_cast<std::uint8_t>(t10.size())});
            for (char ch : t10) d.push_back(static_cast<std::byte>(ch));
            // NAA IEEE Registered (type 3, NAA 5), locally derived from the id.
            std::uint64_t id = 0;
            for (char ch : cfg_.t10_dev_id + cfg_.name) id = id * 131 + static_cast<std::uint8_t>(ch);
            Bytes naa(12);
            st8(naa, 0, 0x01);
            st8(naa, 1, 0x03);
            st8(naa, 3, 8);
            st64(naa, 4, (std::uint64_t{0x5} << 60) | (id & 0x0fffffffffffffffULL));
            d.insert(d.end(), naa.begin(), naa.end());
            if (c.nexus) {
                // The target port the command came through (SPC-4 §7.8.6.6, §7.8.6.7):
                // relative target port, and its target port group under ALUA. PIV=1 with
                // protocol identifier 5 (iSCSI), association 01b (target port).
                Bytes port(8);
                st8(port, 0, 0x51);
                st8(port, 1, 0x94);
                st8(port, 3, 4);
                st16(port, 6, c.nexus->relative_target_port);
                d.insert(d.end(), port.begin(), port.end());
                if (auto group = alua_group())
                    if (auto tg = group->group_of_target(c.nexus->target_name)) {
                        Bytes tpg(8);
                        st8(tpg, 0, 0x51);
                        st8(tpg, 1, 0x95);
                        st8(tpg, 3, 4);
                        st16(tpg, 6, tg->group_id);
                        d.insert(d.end(), tpg.begin(), tpg.end());
                    }
            }
            break;
        }
        case 0x8f: {  // Third-party copy (SPC-4 §7.8.17): what the target's copy manager takes
            Bytes page = scsi::CopyManager::third_party_copy_vpd(peripheral_type());
            return scsi::return_data(c, page, alloc);
        }
        case 0xb0: {  // Block limits (SBC-3 §6.5.3), page length 0x3c
            Bytes p(0x3c);
            const std::uint32_t max_blocks = scsi::kMaxTransferBytes / cfg_.blocksize;
            // Offsets below are the page's byte numbers less the 4-byte header. WSNZ=0
            // (byte 4): WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 writes to the last LBA.
            st8(p, 1, detail::kMaxCompareAndWriteBlocks);   // maximum compare and write length
            st16(p, 2, 1);                                  // optimal transfer length granularity
            st32(p, 4, max_blocks);                         // maximum transfer length
            st32(p, 8, (128u << 10) / cfg_.blocksize);      // optimal transfer length
            if (cfg_.thin_provisioned) {
                // With LBPU=1 these must be non-zero; without, zero (SBC-3 §6.5.3).
                st32(p, 16, detail::max_unmap_lba_count(cfg_.blocksize));      // maximum unmap LBA count
                st32(p, 20, detail::kMaxUnmapDescriptors);                     // maximum unmap block descriptor count
                st32(p, 24, detail::optimal_unmap_granularity(cfg_.blocksize));  // optimal unmap granularity
                st32(p, 28, 0x80000000u);  // UGAVALID=1, UNMAP GRANULARITY ALIGNMENT 0
            }
            st64(p, 32, detail::max_write_same_blocks(cfg_.blocksize));  // maximum write same length
            d.insert(d.end(), p.begin(), p.end());
            break;
        }
        case 0xb1: {  // Block device characteristics (SBC-3 §6.5.2)
            Bytes p(0x3c);
            st16(p, 0, 0x0001);  // non-rotating medium
            d.insert(d.end(), p.begin(), p.end());
            break;
        }
        case 0xb2: {  // Logical block provisioning (SBC-3 §6.5.4)
            Bytes p(4);
            if (cfg_.thin_provisioned) {
                // LBPU (UNMAP), LBPWS (WRITE SAME(16) UNMAP), LBPWS10, LBPRZ: an unmapped
                // block reads as zeros (the BlockStore's unmap promises it). No ANC_SUP, no
                // provisioning group descriptor (DP=0). PROVISIONING TYPE 010b: thin.
                st8(p, 1, 0xe4);
                st8(p, 2, 0x02);
            }  // else all zero: PROVISIONING TYPE 000b, fully provisioned
            d.insert(d.end(), p.begin(), p.end());
            break;
        }
        default:
            return fail(c, scsi::invalid_field_in_cdb(2));
    }
    st16(d, 2, static_cast<std::uint16_t>(d.size() - 4));
    scsi::return_data(c, d, alloc);
}

void Vdisk::request_sense(Command& c) {
    const bool desc = ld8(c.cdb_bytes(), 1) & 0x01;
    Sense s{SenseKey::NoSense, asc::NoAdditionalSense};
    if (c.nexus)
        if (auto ua = take_unit_attention(c.nexus->id)) s = Sense{SenseKey::UnitAttention, *ua};
    auto data = scsi::encode_sense(s, desc);
    scsi::return_data(c, data, ld8(c.cdb_bytes(), 4));
}

Bytes Vdisk::mode_pages(std::uint8_t page, std::uint8_t pc) const {
    // pc: 0 current, 1 changeable, 2 default (SPC-4 §6.11.2)
    Bytes out;
    auto add = [&](Bytes p) { out.insert(out.end(), p.begin(), p.end()); };
    const bool all = page == 0x3f;
    if (all || page == 0x01) {  // Read-Write Error Recovery (SBC-3 §6.4.8)
        Bytes p(12);
        st8(p, 0, 0x01);
        st8(p, 1, 0x0a);
        add(p);
    }
    if (all || page == 0x08) {  // Caching (SBC-3 §6.4.5)
        Bytes p(20);
        st8(p, 0, 0x08);
        st8(p, 1, 0x12);
        bool wce = pc == 1 ? true : pc == 2 ? !cfg_.write_through : wce_;
        st8(p, 2, wce ? 0x04 : 0x00);
        add(p);
    }
    if (all || page == 0x0a) {  // Control (SPC-4 §7.5.8)
        Bytes p(12);
        st8(p, 0, 0x0a);
        st8(p, 1, 0x0a);
        if (pc == 1) {
            st8(p, 2, 0x04);   // D_SENSE changeable
            st8(p, 4, 0x08);   // SWP changeable
        } else {
            bool d = pc == 0 && d_sense_;
            bool swp = pc == 0 && swp_;
            st8(p, 2, d ? 0x04 : 0x00);
            st8(p, 3, 0x10);   // queue algorithm modifier 1: unrestricted reordering allowed
            st8(p, 4, swp ? 0x08 : 0x00);
            st8(p, 5, 0x00);   // TAS=0: aborted tasks end without a response
            st16(p, 8, 0xffff);
        }
        add(p);
    }
    if (all || page == 0x1c) {  // Informational Exceptions Control (SPC-4 §7.5.15)
        Bytes p(12);
        st8(p, 0, 0x1c);
        st8(p, 1, 0x0a);
        add(p);
    }
    return out;
}

void Vdisk::mode_sense(Command& c, const scsi::AccessContext& ctx) const {
    auto cdb = c.cdb_bytes();
    const bool ten = c.opcode() == op::ModeSense10;
    const bool dbd = ld8(cdb, 1) & 0x08;
    const bool llbaa = ten && (ld8(cdb, 1) & 0x10);
    const std::uint8_t pc = ld8(cdb, 2) >> 6;
    const std::uint8_t page = ld8(cdb, 2) & 0x3f;
    const std::uint8_t subpage = ld8(cdb, 3);
    const std::uint32_t alloc = ten ? ld16(cdb, 7) : ld8(cdb, 4);

    if (pc == 3) return fail(c, Sense{SenseKey::IllegalRequest, asc::SavingParametersNotSupported});
    if (subpage != 0 && !(page == 0x3f && subpage == 0xff)) return fail(c, scsi::invalid_field_in_cdb(3));
    if (page != 0x3f && page != 0x01 && page != 0x08 && page != 0x0a && page != 0x1c)
        return fail(c, scsi::invalid_field_in_cdb(2, 5));

    Bytes pages;
    bool wp;
    {
        std::lock_guard lock(mu_);
        pages = mode_pages(page, pc);
        wp = swp_ || ctx.read_only || cfg_.read_only;
    }
    const std::uint64_t blocks = num_blocks();
    Bytes bd;
    if (!dbd) {
        if (llbaa) {
            bd.resize(16);
            st64(bd, 0, blocks);
            st32(bd, 12, cfg_.blocksize);
        } else {
            bd.resize(8);
            st32(bd, 0, blocks > 0xffffffffULL ? 0xffffffffu : static_cast<std::uint32_t>(blocks));
            st24(bd, 5, cfg_.blocksize);
        }
    }
    // Device-specific parameter for disks (SBC-3 §6.4.1): WP and DPOFUA.
    const std::uint8_t dsp = static_cast<std::uint8_t>((wp ? 0x80 : 0x00) | 0x10);
    Bytes out;
    if (ten) {
        out.resize(8);
        st8(out, 3, dsp);
        if (llbaa && !bd.empty()) st8(out, 4, 0x01);
        st16(out, 6, static_cast<std::uint16_t>(bd.size()));
    } else {
        out.resize(4);
        st8(out, 2, dsp);
        st8(out, 3, static_cast<std::uint8_t>(bd.size()));
    }
    out.insert(out.end(), bd.begin(), bd.end());
    out.insert(out.end(), pages.begin(), pages.end());
    if (ten) st16(out, 0, static_cast<std::uint16_t>(out.size() - 2));
    else st8(out, 0, static_cast<std::uint8_t>(std::min<std::size_t>(out.size() - 1, 255)));
    scsi::return_data(c, out, alloc);
}

void Vdisk::mode_select(Command& c) {
    auto cdb = c.cdb_bytes();
    const bool ten = c.opcode() == op::ModeSelect10;
    const bool pf = ld8(cdb, 1) & 0x10;
    const bool sp = ld8(cdb, 1) & 0x01;
    const std::uint32_t len = ten ? ld16(cdb, 7) : ld8(cdb, 4);
    if (sp) return fail(c, Sense{SenseKey::IllegalRequest, asc::SavingParametersNotSupported});
    if (len == 0) {
        c.status = Status::Good;
        return;
    }
    if (!pf) return fail(c, scsi::invalid_field_in_cdb(1, 4));
    if (c.data_out.size() < len)
        return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
    std::span<const std::byte> p(c.data_out.data(), len);
    const std::size_t hdr = ten ? 8 : 4;
    if (p.size() < hdr) return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
    const std::size_t bdl = ten ? ld16(p, 6) : ld8(p, 3);
    auto bad_param = [&](std::size_t byte) {
        Sense s{SenseKey::IllegalRequest, asc::InvalidFieldInParameterList};
        s.field_pointer = static_cast<std::uint16_t>(byte);
        s.field_in_cdb = false;
        fail(c, s);
    };
    if (hdr + bdl > p.size()) return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
    if (bdl >= 8) {
        // The block length may be restated, not changed.
        std::uint32_t bl = ld24(p, hdr + bdl - 3);
        if (bl != 0 && bl != cfg_.blocksize) return bad_param(hdr + bdl - 3);
    }
    bool wce, dsense, swp;
    {
        std::lock_guard lock(mu_);
        wce = wce_;
        dsense = d_sense_;
        swp = swp_;
    }
    std::size_t off = hdr + bdl;
    while (off < p.size()) {
        if (off + 2 > p.size()) return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
        const std::uint8_t code = ld8(p, off) & 0x3f;
        if (ld8(p, off) & 0x40) return bad_param(off);  // subpage format: none supported
        const std::size_t plen = ld8(p, off + 1);
        if (off + 2 + plen > p.size()) return fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
        Bytes current, changeable;
        {
            std::lock_guard lock(mu_);
            current = mode_pages(code, 0);
            changeable = mode_pages(code, 1);
        }
        if (code == 0x3f || current.empty()) return bad_param(off);
        if (plen + 2 != current.size()) return bad_param(off + 1);
        // A bit may differ from the current value only where the page says changeable.
        for (std::size_t i = 2; i < current.size(); ++i) {
            std::uint8_t diff = ld8(p, off + i) ^ ld8(current, i);
            if (diff & ~ld8(changeable, i)) return bad_param(off + i);
        }
        if (code == 0x08) wce = ld8(p, off + 2) & 0x04;
        if (code == 0x0a) {
            dsense = ld8(p, off + 2) & 0x04;
            swp = ld8(p, off + 4) & 0x08;
        }
        off += 2 + plen;
    }
    bool changed;
    {
        std::lock_guard lock(mu_);
        changed = wce != wce_ || dsense != d_sense_ || swp != swp_;
        wce_ = wce;
        d_sense_ = dsense;
        swp_ = swp;
    }
    // SPC-4 §5.14: other nexuses learn that mode parameters changed.
    if (changed) raise_unit_attention(asc::ModeParametersChanged, c.nexus ? std::optional(c.nexus->id) : std::nullopt);
    c.status = Status::Good;
}

}  // namespace iscsilab::handlers
