#include "target/iscsi/pdu.hpp"

#include <algorithm>

#include "target/bytes.hpp"

namespace iscsilab::iscsi {
namespace {

using In = std::span<const std::byte>;

std::uint8_t b1(In b) { return ld8(b, 1); }

Bhs start(Opcode op, bool immediate, std::uint8_t flags, std::uint32_t dsl = 0,
          std::uint8_t ahs_words = 0) {
    Bhs h{};
    st8(h, 0, static_cast<std::uint8_t>(static_cast<std::uint8_t>(op) | (immediate ? 0x40 : 0)));
    st8(h, 1, flags);
    st8(h, 4, ahs_words);
    st24(h, 5, dsl);
    return h;
}

void put_sn(Bhs& h, const TargetSn& sn) {
    st32(h, 24, sn.statsn);
    st32(h, 28, sn.expcmdsn);
    st32(h, 32, sn.maxcmdsn);
}
TargetSn get_sn(In b) { return TargetSn{ld32(b, 24), ld32(b, 28), ld32(b, 32)}; }

}  // namespace

const char* to_string(Opcode op) {
    switch (op) {
        case Opcode::NopOut: return "NOP-Out";
        case Opcode::ScsiCommand: return "SCSI Command";
        case Opcode::TaskMgmtRequest: return "Task Management Function Request";
        case Opcode::LoginRequest: return "Login Request";
        case Opcode::TextRequest: return "Text Request";
        case Opcode::DataOut: return "SCSI Data-Out";
        case Opcode::LogoutRequest: return "Logout Request";
        case Opcode::Snack: return "SNACK Request";
        case Opcode::NopIn: return "NOP-In";
        case Opcode::ScsiResponse: return "SCSI Response";
        case Opcode::TaskMgmtResponse: return "Task Management Function Response";
        case Opcode::LoginResponse: return "Login Response";
        case Opcode::TextResponse: return "Text Response";
        case Opcode::DataIn: return "SCSI Data-In";
        case Opcode::LogoutResponse: return "Logout Response";
        case Opcode::R2T: return "Ready To Transfer";
        case Opcode::AsyncMessage: return "Asynchronous Message";
        case Opcode::Reject: return "Reject";
    }
    return "unknown opcode";
}

bool is_initiator_opcode(std::uint8_t op) {
    return op <= 0x06 || op == 0x10;
}

std::uint32_t BhsView::data_segment_length() const { return ld24(b, 5); }
std::uint32_t BhsView::itt() const { return ld32(b, 16); }

// ---- SCSI Command -----------------------------------------------------------------------
ScsiCommandPdu ScsiCommandPdu::decode(In b) {
    ScsiCommandPdu p;
    p.immediate = BhsView{b}.immediate();
    p.final_bit = b1(b) & 0x80;
    p.read = b1(b) & 0x40;
    p.write = b1(b) & 0x20;
    p.attr = static_cast<TaskAttr>(b1(b) & 0x07);
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.expected_data_transfer_length = ld32(b, 20);
    p.cmdsn = ld32(b, 24);
    p.expstatsn = ld32(b, 28);
    std::copy_n(b.begin() + 32, 16, p.cdb.begin());
    return p;
}
Bhs ScsiCommandPdu::encode(std::uint32_t dsl, std::uint8_t ahs_words) const {
    auto flags = static_cast<std::uint8_t>((final_bit ? 0x80 : 0) | (read ? 0x40 : 0) |
                                           (write ? 0x20 : 0) | static_cast<std::uint8_t>(attr));
    Bhs h = start(Opcode::ScsiCommand, immediate, flags, dsl, ahs_words);
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, expected_data_transfer_length);
    st32(h, 24, cmdsn);
    st32(h, 28, expstatsn);
    std::copy(cdb.begin(), cdb.end(), h.begin() + 32);
    return h;
}

// ---- Task Management --------------------------------------------------------------------
TaskMgmtRequestPdu TaskMgmtRequestPdu::decode(In b) {
    TaskMgmtRequestPdu p;
    p.immediate = BhsView{b}.immediate();
    p.function = static_cast<TmfFunction>(b1(b) & 0x7f);
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.referenced_task_tag = ld32(b, 20);
    p.cmdsn = ld32(b, 24);
    p.expstatsn = ld32(b, 28);
    p.refcmdsn = ld32(b, 32);
    p.expdatasn = ld32(b, 36);
    return p;
}
Bhs TaskMgmtRequestPdu::encode() const {
    Bhs h = start(Opcode::TaskMgmtRequest, immediate,
                  static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(function)));
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, referenced_task_tag);
    st32(h, 24, cmdsn);
    st32(h, 28, expstatsn);
    st32(h, 32, refcmdsn);
    st32(h, 36, expdatasn);
    return h;
}
TaskMgmtResponsePdu TaskMgmtResponsePdu::decode(In b) {
    TaskMgmtResponsePdu p;
    p.response = static_cast<TmfResponse>(ld8(b, 2));
    p.itt = ld32(b, 16);
    p.sn = get_sn(b);
    return p;
}
Bhs TaskMgmtResponsePdu::encode() const {
    Bhs h = start(Opcode::TaskMgmtResponse, false, 0x80);
    st8(h, 2, static_cast<std::uint8_t>(response));
    st32(h, 16, itt);
    put_sn(h, sn);
    return h;
}

// ---- Data-Out / Data-In / R2T -----------------------------------------------------------
DataOutPdu DataOutPdu::decode(In b) {
    DataOutPdu p;
    p.final_bit = b1(b) & 0x80;
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.ttt = ld32(b, 20);
    p.expstatsn = ld32(b, 28);
    p.datasn = ld32(b, 36);
    p.buffer_offset = ld32(b, 40);
    return p;
}
Bhs DataOutPdu::encode(std::uint32_t dsl) const {
    Bhs h = start(Opcode::DataOut, false, final_bit ? 0x80 : 0, dsl);
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, ttt);
    st32(h, 28, expstatsn);
    st32(h, 36, datasn);
    st32(h, 40, buffer_offset);
    return h;
}
DataInPdu DataInPdu::decode(In b) {
    DataInPdu p;
    std::uint8_t f = b1(b);
    p.final_bit = f & 0x80;
    p.acknowledge = f & 0x40;
    p.overflow = f & 0x04;
    p.underflow = f & 0x02;
    p.status_present = f & 0x01;
    p.status = ld8(b, 3);
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.ttt = ld32(b, 20);
    p.sn = get_sn(b);
    p.datasn = ld32(b, 36);
    p.buffer_offset = ld32(b, 40);
    p.residual = ld32(b, 44);
    return p;
}
Bhs DataInPdu::encode(std::uint32_t dsl) const {
    auto flags = static_cast<std::uint8_t>((final_bit ? 0x80 : 0) | (acknowledge ? 0x40 : 0) |
                                           (overflow ? 0x04 : 0) | (underflow ? 0x02 : 0) |
                                           (status_present ? 0x01 : 0));
    Bhs h = start(Opcode::DataIn, false, flags, dsl);
    if (status_present) st8(h, 3, status);
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, ttt);
    put_sn(h, sn);
    // RFC 3720 §10.7.4: StatSN is reserved unless the S bit is set.
    if (!status_present) st32(h, 24, 0);
    st32(h, 36, datasn);
    st32(h, 40, buffer_offset);
    st32(h, 44, residual);
    return h;
}
R2TPdu R2TPdu::decode(In b) {
    R2TPdu p;
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.ttt = ld32(b, 20);
    p.sn = get_sn(b);
    p.r2tsn = ld32(b, 36);
    p.buffer_offset = ld32(b, 40);
    p.desired_data_transfer_length = ld32(b, 44);
    return p;
}
Bhs R2TPdu::encode() const {
    Bhs h = start(Opcode::R2T, false, 0x80);
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, ttt);
    put_sn(h, sn);
    st32(h, 36, r2tsn);
    st32(h, 40, buffer_offset);
    st32(h, 44, desired_data_transfer_length);
    return h;
}

// ---- SCSI Response ----------------------------------------------------------------------
ScsiResponsePdu ScsiResponsePdu::decode(In b) {
    ScsiResponsePdu p;
    std::uint8_t f = b1(b);
    p.bidi_overflow = f & 0x10;
    p.bidi_underflow = f & 0x08;
    p.overflow = f & 0x04;
    p.underflow = f & 0x02;
    p.response = ld8(b, 2);
    p.status = ld8(b, 3);
    p.itt = ld32(b, 16);
    p.snack_tag = ld32(b, 20);
    p.sn = get_sn(b);
    p.expdatasn = ld32(b, 36);
    p.bidi_residual = ld32(b, 40);
    p.residual = ld32(b, 44);
    return p;
}
Bhs ScsiResponsePdu::encode(std::uint32_t dsl) const {
    auto flags = static_cast<std::uint8_t>(0x80 | (bidi_overflow ? 0x10 : 0) |
                                           (bidi_underflow ? 0x08 : 0) | (overflow ? 0x04 : 0) |
                                           (underflow ? 0x02 : 0));
    Bhs h = start(Opcode::ScsiResponse, false, flags, dsl);
    st8(h, 2, response);
    st8(h, 3, status);
    st32(h, 16, itt);
    st32(h, 20, snack_tag);
    put_sn(h, sn);
    st32(h, 36, expdatasn);
    st32(h, 40, bidi_residual);
    st32(h, 44, residual);
    return h;
}

// ---- Async Message ----------------------------------------------------------------------
AsyncMessagePdu AsyncMessagePdu::decode(In b) {
    AsyncMessagePdu p;
    p.lun = ld64(b, 8);
    p.sn = get_sn(b);
    p.event = static_cast<AsyncEvent>(ld8(b, 36));
    p.vcode = ld8(b, 37);
    p.parameter1 = ld16(b, 38);
    p.parameter2 = ld16(b, 40);
    p.parameter3 = ld16(b, 42);
    return p;
}
Bhs AsyncMessagePdu::encode(std::uint32_t dsl) const {
    Bhs h = start(Opcode::AsyncMessage, false, 0x80, dsl);
    st64(h, 8, lun);
    st32(h, 16, kReservedTag);
    put_sn(h, sn);
    st8(h, 36, static_cast<std::uint8_t>(event));
    st8(h, 37, vcode);
    st16(h, 38, parameter1);
    st16(h, 40, parameter2);
    st16(h, 42, parameter3);
    return h;
}

// ---- Text -------------------------------------------------------------------------------
TextRequestPdu TextRequestPdu::decode(In b) {
    TextRequestPdu p;
    p.immediate = BhsView{b}.immediate();
    p.final_bit = b1(b) & 0x80;
    p.continue_bit = b1(b) & 0x40;
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.ttt = ld32(b, 20);
    p.cmdsn = ld32(b, 24);
    p.expstatsn = ld32(b, 28);
    return p;
}
Bhs TextRequestPdu::encode(std::uint32_t dsl) const {
    auto flags = static_cast<std::uint8_t>((final_bit ? 0x80 : 0) | (continue_bit ? 0x40 : 0));
    Bhs h = start(Opcode::TextRequest, immediate, flags, dsl);
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, ttt);
    st32(h, 24, cmdsn);
    st32(h, 28, expstatsn);
    return h;
}
TextResponsePdu TextResponsePdu::decode(In b) {
    TextResponsePdu p;
    p.final_bit = b1(b) & 0x80;
    p.continue_bit = b1(b) & 0x40;
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.ttt = ld32(b, 20);
    p.sn = get_sn(b);
    return p;
}
Bhs TextResponsePdu::encode(std::uint32_t dsl) const {
    auto flags = static_cast<std::uint8_t>((final_bit ? 0x80 : 0) | (continue_bit ? 0x40 : 0));
    Bhs h = start(Opcode::TextResponse, false, flags, dsl);
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, ttt);
    put_sn(h, sn);
    return h;
}

// ---- Login ------------------------------------------------------------------------------
LoginRequestPdu LoginRequestPdu::decode(In b) {
    LoginRequestPdu p;
    std::uint8_t f = b1(b);
    p.transit = f & 0x80;
    p.continue_bit = f & 0x40;
    p.csg = (f >> 2) & 0x03;
    p.nsg = f & 0x03;
    p.version_max = ld8(b, 2);
    p.version_min = ld8(b, 3);
    std::copy_n(b.begin() + 8, 6, p.isid.begin());
    p.tsih = ld16(b, 14);
    p.itt = ld32(b, 16);
    p.cid = ld16(b, 20);
    p.cmdsn = ld32(b, 24);
    p.expstatsn = ld32(b, 28);
    return p;
}
Bhs LoginRequestPdu::encode(std::uint32_t dsl) const {
    auto flags = static_cast<std::uint8_t>((transit ? 0x80 : 0) | (continue_bit ? 0x40 : 0) |
                                           ((csg & 3) << 2) | (nsg & 3));
    Bhs h = start(Opcode::LoginRequest, true, flags, dsl);
    st8(h, 2, version_max);
    st8(h, 3, version_min);
    std::copy(isid.begin(), isid.end(), h.begin() + 8);
    st16(h, 14, tsih);
    st32(h, 16, itt);
    st16(h, 20, cid);
    st32(h, 24, cmdsn);
    st32(h, 28, expstatsn);
    return h;
}
LoginResponsePdu LoginResponsePdu::decode(In b) {
    LoginResponsePdu p;
    std::uint8_t f = b1(b);
    p.transit = f & 0x80;
    p.continue_bit = f & 0x40;
    p.csg = (f >> 2) & 0x03;
    p.nsg = f & 0x03;
    p.version_max = ld8(b, 2);
    p.version_active = ld8(b, 3);
    std::copy_n(b.begin() + 8, 6, p.isid.begin());
    p.tsih = ld16(b, 14);
    p.itt = ld32(b, 16);
    p.sn = get_sn(b);
    p.status_class = ld8(b, 36);
    p.status_detail = ld8(b, 37);
    return p;
}
Bhs LoginResponsePdu::encode(std::uint32_t dsl) const {
    auto flags = static_cast<std::uint8_t>((transit ? 0x80 : 0) | (continue_bit ? 0x40 : 0) |
                                           ((csg & 3) << 2) | (nsg & 3));
    Bhs h = start(Opcode::LoginResponse, false, flags, dsl);
    st8(h, 2, version_max);
    st8(h, 3, version_active);
    std::copy(isid.begin(), isid.end(), h.begin() + 8);
    st16(h, 14, tsih);
    st32(h, 16, itt);
    put_sn(h, sn);
    st8(h, 36, status_class);
    st8(h, 37, status_detail);
    return h;
}

// ---- Logout -----------------------------------------------------------------------------
LogoutRequestPdu LogoutRequestPdu::decode(In b) {
    LogoutRequestPdu p;
    p.immediate = BhsView{b}.immediate();
    p.reason = static_cast<LogoutReason>(b1(b) & 0x7f);
    p.itt = ld32(b, 16);
    p.cid = ld16(b, 20);
    p.cmdsn = ld32(b, 24);
    p.expstatsn = ld32(b, 28);
    return p;
}
Bhs LogoutRequestPdu::encode() const {
    Bhs h = start(Opcode::LogoutRequest, immediate,
                  static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(reason)));
    st32(h, 16, itt);
    st16(h, 20, cid);
    st32(h, 24, cmdsn);
    st32(h, 28, expstatsn);
    return h;
}
LogoutResponsePdu LogoutResponsePdu::decode(In b) {
    LogoutResponsePdu p;
    p.response = static_cast<LogoutResponseCode>(ld8(b, 2));
    p.itt = ld32(b, 16);
    p.sn = get_sn(b);
    p.time2wait = ld16(b, 40);
    p.time2retain = ld16(b, 42);
    return p;
}
Bhs LogoutResponsePdu::encode() const {
    Bhs h = start(Opcode::LogoutResponse, false, 0x80);
    st8(h, 2, static_cast<std::uint8_t>(response));
    st32(h, 16, itt);
    put_sn(h, sn);
    st16(h, 40, time2wait);
    st16(h, 42, time2retain);
    return h;
}

// ---- NOP --------------------------------------------------------------------------------
NopOutPdu NopOutPdu::decode(In b) {
    NopOutPdu p;
    p.immediate = BhsView{b}.immediate();
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.ttt = ld32(b, 20);
    p.cmdsn = ld32(b, 24);
    p.expstatsn = ld32(b, 28);
    return p;
}
Bhs NopOutPdu::encode(std::uint32_t dsl) const {
    Bhs h = start(Opcode::NopOut, immediate, 0x80, dsl);
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, ttt);
    st32(h, 24, cmdsn);
    st32(h, 28, expstatsn);
    return h;
}
NopInPdu NopInPdu::decode(In b) {
    NopInPdu p;
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.ttt = ld32(b, 20);
    p.sn = get_sn(b);
    return p;
}
Bhs NopInPdu::encode(std::uint32_t dsl) const {
    Bhs h = start(Opcode::NopIn, false, 0x80, dsl);
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, ttt);
    put_sn(h, sn);
    return h;
}

// ---- SNACK / Reject ---------------------------------------------------------------------
SnackPdu SnackPdu::decode(In b) {
    SnackPdu p;
    p.type = b1(b) & 0x0f;
    p.lun = ld64(b, 8);
    p.itt = ld32(b, 16);
    p.ttt = ld32(b, 20);
    p.expstatsn = ld32(b, 28);
    p.begrun = ld32(b, 40);
    p.runlength = ld32(b, 44);
    return p;
}
Bhs SnackPdu::encode() const {
    Bhs h = start(Opcode::Snack, false, static_cast<std::uint8_t>(0x80 | (type & 0x0f)));
    st64(h, 8, lun);
    st32(h, 16, itt);
    st32(h, 20, ttt);
    st32(h, 28, expstatsn);
    st32(h, 40, begrun);
    st32(h, 44, runlength);
    return h;
}
RejectPdu RejectPdu::decode(In b) {
    RejectPdu p;
    p.reason = static_cast<RejectReason>(ld8(b, 2));
    p.sn = get_sn(b);
    p.datasn_r2tsn = ld32(b, 36);
    return p;
}
Bhs RejectPdu::encode(std::uint32_t dsl) const {
    Bhs h = start(Opcode::Reject, false, 0x80, dsl);
    st8(h, 2, static_cast<std::uint8_t>(reason));
    st32(h, 16, kReservedTag);
    put_sn(h, sn);
    st32(h, 36, datasn_r2tsn);
    return h;
}

}  // namespace iscsilab::iscsi
