// Private to the pr*.cpp files: nexus identity and TransportID helpers, TYPE predicates, byte writers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "target/scsi/pr.hpp"

namespace iscsilab::scsi::detail {

// ---- reservation TYPEs (pr.cpp) ----

bool valid_type(std::uint8_t t);
bool all_registrants(PrType t);
bool registrants_only(PrType t);

// ---- I_T nexus identity and iSCSI TransportIDs (pr_transport_id.cpp) ----

std::string lower(std::string_view s);
bool valid_name(std::string_view s);
std::optional<std::string> normalize_isid(std::string_view h);
bool names(const ItNexusId& reg, const ItNexusId& nexus);
bool overlap(const ItNexusId& a, const ItNexusId& b);
int specificity(const ItNexusId& id);

struct TransportId {
    std::string name;
    std::string isid;  // empty for format 00b
    std::size_t length = 0;
};

std::optional<TransportId> parse_transport_id(std::span<const std::byte> b);
Bytes transport_id(const ItNexusId& who);

// ---- byte writers of the saved state, also used by READ KEYS (pr_persist.cpp) ----

void put8(Bytes& b, std::uint8_t v);
void put16(Bytes& b, std::uint16_t v);
void put32(Bytes& b, std::uint32_t v);
void put64(Bytes& b, std::uint64_t v);
void put_str(Bytes& b, const std::string& s);

}  // namespace iscsilab::scsi::detail
