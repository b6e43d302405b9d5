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
}  // namespace op

namespace sa {
inline constexpr std::uint8_t ReadCapacity16 = 0x10;
inline constexpr std::uint8_t ReportSupportedOperationCodes = 0x0c;
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
