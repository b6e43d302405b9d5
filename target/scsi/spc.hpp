// SPC-4 / SBC-3 operation codes and the helpers every device handler shares.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "target/scsi/command.hpp"

namespace iscsilab::scsi {

namespace op {
inline constexpr std::uint8_t TestUnitReady = 0x00;
inline constexpr std::uint8_t RequestSense = 0x03;
inline constexpr std::uint8_t Read6 = 0x08;
inline constexpr std::uint8_t Write6 = 0x0a;
inline constexpr std::uint8_t Inquiry = 0x12;
inline constexpr std::uint8_t ModeSelect6 = 0x15;
inline constexpr std::uint8_t Reserve6 = 0x16;
inline constexpr std::uint8_t Release6 = 0x17;
inline constexpr std::uint8_t ModeSense6 = 0x1a;
inline constexpr std::uint8_t StartStopUnit = 0x1b;
inline constexpr std::uint8_t PreventAllowMediumRemoval = 0x1e;
inline constexpr std::uint8_t ReadCapacity10 = 0x25;
inline constexpr std::uint8_t Read10 = 0x28;
inline constexpr std::uint8_t Write10 = 0x2a;
inline constexpr std::uint8_t WriteAndVerify10 = 0x2e;
inline constexpr std::uint8_t Verify10 = 0x2f;
inline constexpr std::uint8_t SynchronizeCache10 = 0x35;
inline constexpr std::uint8_t ModeSelect10 = 0x55;
inline constexpr std::uint8_t ModeSense10 = 0x5a;
inline constexpr std::uint8_t Read16 = 0x88;
inline constexpr std::uint8_t Write16 = 0x8a;
inline constexpr std::uint8_t WriteAndVerify16 = 0x8e;
inline constexpr std::uint8_t Verify16 = 0x8f;
inline constexpr std::uint8_t SynchronizeCache16 = 0x91;
inline constexpr std::uint8_t ServiceActionIn16 = 0x9e;  // READ CAPACITY(16) is SA 0x10
inline constexpr std::uint8_t ReportLuns = 0xa0;
inline constexpr std::uint8_t MaintenanceIn = 0xa3;       // REPORT SUPPORTED OPERATION CODES is SA 0x0c
inline constexpr std::uint8_t Read12 = 0xa8;
inline constexpr std::uint8_t Write12 = 0xaa;
inline constexpr std::uint8_t WriteAndVerify12 = 0xae;
inline constexpr std::uint8_t Verify12 = 0xaf;
// Persistent reservations, and the commands their conflict tables name (SPC-4 §5.13.1,
// SBC-3's reservations table).
inline constexpr std::uint8_t PersistentReserveIn = 0x5e;
inline constexpr std::uint8_t PersistentReserveOut = 0x5f;
inline constexpr std::uint8_t Reserve10 = 0x56;
inline constexpr std::uint8_t Release10 = 0x57;
inline constexpr std::uint8_t FormatUnit = 0x04;
inline constexpr std::uint8_t ReassignBlocks = 0x07;
inline constexpr std::uint8_t ReceiveDiagnosticResults = 0x1c;
inline constexpr std::uint8_t SendDiagnostic = 0x1d;
inline constexpr std::uint8_t PreFetch10 = 0x34;
inline constexpr std::uint8_t ReadDefectData10 = 0x37;
inline constexpr std::uint8_t WriteBuffer = 0x3b;
inline constexpr std::uint8_t ReadBuffer = 0x3c;
inline constexpr std::uint8_t ReadLong10 = 0x3e;
inline constexpr std::uint8_t WriteLong10 = 0x3f;
inline constexpr std::uint8_t WriteSame10 = 0x41;
inline constexpr std::uint8_t Unmap = 0x42;
inline constexpr std::uint8_t Sanitize = 0x48;
inline constexpr std::uint8_t LogSelect = 0x4c;
inline constexpr std::uint8_t LogSense = 0x4d;
inline constexpr std::uint8_t VariableLength = 0x7f;     // READ(32), WRITE(32), ...
inline constexpr std::uint8_t ExtendedCopy = 0x83;
inline constexpr std::uint8_t ReceiveCopyResults = 0x84;
inline constexpr std::uint8_t AccessControlIn = 0x86;
inline constexpr std::uint8_t AccessControlOut = 0x87;
inline constexpr std::uint8_t CompareAndWrite = 0x89;
inline constexpr std::uint8_t Orwrite16 = 0x8b;
inline constexpr std::uint8_t ReadAttribute = 0x8c;
inline constexpr std::uint8_t WriteAttribute = 0x8d;
inline constexpr std::uint8_t PreFetch16 = 0x90;
inline constexpr std::uint8_t WriteSame16 = 0x93;
inline constexpr std::uint8_t WriteAtomic16 = 0x9c;
inline constexpr std::uint8_t ServiceActionOut16 = 0x9f;  // WRITE LONG(16) is SA 0x11
inline constexpr std::uint8_t SecurityProtocolIn = 0xa2;
inline constexpr std::uint8_t MaintenanceOut = 0xa4;
inline constexpr std::uint8_t ServiceActionIn12 = 0xab;   // READ MEDIA SERIAL NUMBER is SA 0x01
inline constexpr std::uint8_t SecurityProtocolOut = 0xb5;
inline constexpr std::uint8_t ReadDefectData12 = 0xb7;
}  // namespace op

namespace sa {
inline constexpr std::uint8_t ReadCapacity16 = 0x10;
inline constexpr std::uint8_t ReportSupportedOperationCodes = 0x0c;
// EXTENDED COPY (SPC-4 §6.3, §6.4)
inline constexpr std::uint8_t ExtendedCopyLid1 = 0x00;
inline constexpr std::uint8_t ExtendedCopyLid4 = 0x01;
// RECEIVE COPY RESULTS (SPC-3 §6.17; SPC-4 names them RECEIVE COPY STATUS(LID1), ...)
inline constexpr std::uint8_t CopyStatus = 0x00;
inline constexpr std::uint8_t ReceiveData = 0x01;
inline constexpr std::uint8_t OperatingParameters = 0x03;
inline constexpr std::uint8_t FailedSegmentDetails = 0x04;
// GET LBA STATUS is SERVICE ACTION IN(16) SA 0x12 (SBC-3 §5.4)
inline constexpr std::uint8_t GetLbaStatus = 0x12;
}  // namespace sa

// The most data one command may move, reported as MAXIMUM TRANSFER LENGTH in the Block
// Limits page and enforced by the handlers and the transport alike: it bounds what a
// session can make the target buffer.
inline constexpr std::uint32_t kMaxTransferBytes = 8u << 20;

// CDB length from the group code (SPC-4 §4.2.5.1); 0 for vendor-specific groups.
std::size_t cdb_length(std::uint8_t opcode);

// Copies src into a fresh data-in buffer, truncated to the allocation length: the SPC
// rule for every command that returns parameter data.
void return_data(Command& cmd, std::span<const std::byte> src, std::uint32_t allocation_length);

// A command a handler supports: drives REPORT SUPPORTED OPERATION CODES and dispatch.
struct OpcodeInfo {
    std::uint8_t opcode = 0;
    std::optional<std::uint16_t> service_action;
    std::vector<std::uint8_t> usage;  // CDB usage data (SPC-4 §6.35.3): bits the CDB may set
    std::string name;
};

// REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35). Fills cmd, including errors.
void report_supported_operation_codes(Command& cmd, std::span<const OpcodeInfo> table,
                                      bool descriptor_sense);

// REPORT LUNS parameter data (SPC-4 §6.33).
Bytes report_luns_data(std::span<const std::uint32_t> luns);

// INQUIRY for a LUN that the nexus cannot see (SPC-4 §6.4.2: peripheral qualifier 011b).
Bytes inquiry_no_lun();

Sense invalid_field_in_cdb(std::uint16_t byte, std::optional<std::uint8_t> bit = std::nullopt);

}  // namespace iscsilab::scsi
