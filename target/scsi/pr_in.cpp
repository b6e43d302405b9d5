// PERSISTENT RESERVE IN: READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL STATUS.
#include "target/scsi/pr.hpp"

#include "target/bytes.hpp"
#include "target/scsi/pr_detail.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

using namespace detail;

// ---- results ----

void PrInResult::apply_to(Command& cmd, bool descriptor_sense) const {
    if (status == Status::CheckCondition && sense) {
        cmd.fail(*sense, descriptor_sense);
        return;
    }
    return_data(cmd, data, static_cast<std::uint32_t>(data.size()));
    cmd.status = status;
}

// ---- PERSISTENT RESERVE IN ----

PrInResult PersistentReservations::persistent_reserve_in(const Nexus&, const Command& cmd) const {
    const auto cdb = cmd.cdb_bytes();
    const std::uint8_t service_action = ld8(cdb, 1) & 0x1f;
    const std::uint16_t allocation_length = ld16(cdb, 7);
    PrInResult r;
    if (service_action > static_cast<std::uint8_t>(PrInAction::ReadFullStatus)) {
        r.status = Status::CheckCondition;
        r.sense = invalid_field_in_cdb(1, 4);
        return r;
    }
    {
        std::lock_guard lock(mu_);
        switch (static_cast<PrInAction>(service_action)) {
            case PrInAction::ReadKeys: r.data = read_keys(); break;
            case PrInAction::ReadReservation: r.data = read_reservation(); break;
            case PrInAction::ReportCapabilities: r.data = report_capabilities(); break;
            case PrInAction::ReadFullStatus: r.data = read_full_status(); break;
        }
    }
    // SPC-4 §4.2.5.6: cut at the ALLOCATION LENGTH; the length fields inside still tell
    // the whole size.
    if (r.data.size() > allocation_length) r.data.resize(allocation_length);
    return r;
}

// SPC-4 §6.15.2.
Bytes PersistentReservations::read_keys() const {
    Bytes b(8);
    st32(b, 0, s_.generation);
    st32(b, 4, static_cast<std::uint32_t>(8 * s_.regs.size()));
    for (const auto& e : s_.regs) put64(b, e.key);
    return b;
}

// SPC-4 §6.15.3. An all registrants reservation has RESERVATION KEY zero.
Bytes PersistentReservations::read_reservation() const {
    Bytes b(8);
    st32(b, 0, s_.generation);
    if (!s_.res) return b;
    b.resize(24);
    st32(b, 4, 16);
    std::uint64_t key = 0;
    if (!all_registrants(s_.res->type))
        for (const auto& e : s_.regs)
            if (e.id == s_.res->holder) key = e.key;
    st64(b, 8, key);
    st8(b, 21, static_cast<std::uint8_t>((s_.res->scope << 4) | static_cast<std::uint8_t>(s_.res->type)));
    return b;
}

// SPC-4 §6.15.4.
Bytes PersistentReservations::report_capabilities() const {
    Bytes b(8);
    st16(b, 0, 8);  // LENGTH
    // CRH=1 (SPC-4 §5.13.3 exceptions), SIP_C=1 (SPEC_I_PT), ATP_C=1 (ALL_TG_PT),
    // PTPL_C=1 (APTPL).
    st8(b, 2, 0x10 | 0x08 | 0x04 | 0x01);
    // TMV=1 (the type mask is valid), ALLOW COMMANDS=011b (see classify()), PTPL_A.
    st8(b, 3, static_cast<std::uint8_t>(0x80 | (0x3 << 4) | (s_.aptpl ? 0x01 : 0x00)));
    // PERSISTENT RESERVATION TYPE MASK: WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX;
    // then EX_AC_AR.
    st8(b, 4, 0x80 | 0x40 | 0x20 | 0x08 | 0x02);
    st8(b, 5, 0x01);
    return b;
}

// SPC-4 §6.15.5: one descriptor per registration, with its TransportID.
Bytes PersistentReservations::read_full_status() const {
    Bytes b(8);
    st32(b, 0, s_.generation);
    for (const auto& e : s_.regs) {
        Bytes d(24);
        st64(d, 0, e.key);
        const bool holder = holds(&e);
        st8(d, 12, static_cast<std::uint8_t>((e.who.relative_target_port ? 0 : 0x02) | (holder ? 0x01 : 0)));
        if (holder)
            st8(d, 13, static_cast<std::uint8_t>((s_.res->scope << 4) | static_cast<std::uint8_t>(s_.res->type)));
        st16(d, 18, e.who.relative_target_port.value_or(0));
        const Bytes tid = transport_id(e.who);
        st32(d, 20, static_cast<std::uint32_t>(tid.size()));
        b.insert(b.end(), d.begin(), d.end());
        b.insert(b.end(), tid.begin(), tid.end());
    }
    st32(b, 4, static_cast<std::uint32_t>(b.size() - 8));
    return b;
}

}  // namespace iscsilab::scsi
