// RECEIVE COPY RESULTS (COPY STATUS, OPERATING PARAMETERS) and the Third-party Copy VPD page.
#include "target/scsi/copy_manager.hpp"

#include <mutex>
#include <utility>

#include "target/bytes.hpp"
#include "target/scsi/copy_detail.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

using namespace copy_limits;
using namespace detail;

namespace {

// RECEIVE COPY RESULTS, COPY STATUS (SPC-3 §6.17.2): TRANSFER COUNT UNITS 00h bytes,
// 01h KiB, ... 06h EiB; the smallest unit in which the count fits the 4-byte field.
std::pair<std::uint8_t, std::uint32_t> transfer_count(std::uint64_t bytes) {
    std::uint8_t units = 0;
    while ((bytes >> (10 * units)) > 0xffffffffULL) ++units;
    return {units, static_cast<std::uint32_t>(bytes >> (10 * units))};
}

}  // namespace

void CopyManager::receive_copy_results(Command& c, const Nexus& nexus, bool descriptor_sense) {
    auto cdb = c.cdb_bytes();
    const std::uint8_t service_action = ld8(cdb, 1) & 0x1f;
    const std::uint8_t list_identifier = ld8(cdb, 2);
    const std::uint32_t allocation_length = ld32(cdb, 10);
    if (ld8(cdb, 1) & 0xe0) return c.fail(invalid_field_in_cdb(1, 7), descriptor_sense);
    if (auto r = reserved_cdb_byte(cdb, {3, 4, 5, 6, 7, 8, 9, 14}))
        return c.fail(invalid_field_in_cdb(*r), descriptor_sense);

    switch (service_action) {
        case sa::CopyStatus: {
            // COPY STATUS (SPC-3 §6.17.2): the status of the EXTENDED COPY with this LIST IDENTIFIER
            // from this I_T nexus; none held: INVALID FIELD IN CDB.
            std::lock_guard lock(state_->mu);
            auto it = state_->results.find({nexus.id, list_identifier});
            if (it == state_->results.end()) return c.fail(invalid_field_in_cdb(2), descriptor_sense);
            const State::Result& r = it->second;
            Bytes d(12);
            st32(d, 0, 8);  // AVAILABLE DATA
            // HDD (held data discarded) 0; COPY MANAGER STATUS: 00h in progress, 01h
            // completed without errors, 02h completed with errors.
            st8(d, 4, !r.done ? 0x00 : r.failed ? 0x02 : 0x01);
            st16(d, 5, r.segments_processed);
            const auto [units, count] = transfer_count(r.bytes_written);
            st8(d, 7, units);
            st32(d, 8, count);
            return_data(c, d, allocation_length);
            // Status all transferred for a finished copy: it is not held any longer.
            if (r.done && allocation_length >= d.size()) state_->results.erase(it);
            return;
        }
        case sa::OperatingParameters:
            return return_data(c, operating_parameters(), allocation_length);
        default:
            // RECEIVE DATA (01h): no segment descriptor here holds data. FAILED SEGMENT
            // DETAILS (04h) and the LID4 service actions: not served.
            return c.fail(invalid_field_in_cdb(1, 4), descriptor_sense);
    }
}

Bytes CopyManager::operating_parameters() {
    // SPC-4 RECEIVE COPY RESULTS, OPERATING PARAMETERS (SPC-3 §6.17.4): the limits
    // extended_copy() enforces, and the descriptor type codes it implements, ascending.
    const std::uint8_t implemented[] = {kBlockToBlock, kIdentificationCscd};
    Bytes d(44 + sizeof implemented);
    st32(d, 0, static_cast<std::uint32_t>(d.size() - 4));  // AVAILABLE DATA
    st8(d, 4, 0x01);                                       // SNLID: LIST ID USAGE 11b served
    st16(d, 8, kMaxTargetDescriptors);
    st16(d, 10, kMaxSegmentDescriptors);
    st32(d, 12, kMaxDescriptorListLength);
    st32(d, 16, kMaxSegmentLength);
    st32(d, 20, kMaxInlineDataLength);
    st32(d, 24, kHeldDataLimit);
    st32(d, 28, kMaxStreamDeviceTransferSize);
    st16(d, 34, kTotalConcurrentCopies);
    st8(d, 36, kMaxConcurrentCopies);
    st8(d, 37, kDataSegmentGranularityLog2);
    st8(d, 38, kInlineDataGranularityLog2);
    st8(d, 39, kHeldDataGranularityLog2);
    st8(d, 43, static_cast<std::uint8_t>(sizeof implemented));  // IMPLEMENTED DESCRIPTOR LIST LENGTH
    for (std::size_t i = 0; i < sizeof implemented; ++i) st8(d, 44 + i, implemented[i]);
    return d;
}

Bytes CopyManager::third_party_copy_vpd(std::uint8_t peripheral_byte) {
    // SPC-4 §7.8.17: a copy manager that serves EXTENDED COPY(LID1) reports these five
    // third-party copy descriptors; each is a multiple of four bytes long.
    Bytes page(4);
    st8(page, 0, peripheral_byte);
    st8(page, 1, 0x8f);
    auto add = [&](std::uint16_t type, Bytes body) {
        body.resize((body.size() + 4 + 3) / 4 * 4 - 4);  // pad
        Bytes h(4);
        st16(h, 0, type);
        st16(h, 2, static_cast<std::uint16_t>(body.size()));
        page.insert(page.end(), h.begin(), h.end());
        page.insert(page.end(), body.begin(), body.end());
    };
    {   // §7.8.17.4 Supported Commands: operation code, service action list.
        const std::uint8_t commands[] = {op::ExtendedCopy, 1, sa::ExtendedCopyLid1,
                                         op::ReceiveCopyResults, 2, sa::CopyStatus, sa::OperatingParameters};
        Bytes b(1);
        st8(b, 0, sizeof commands);  // COMMANDS SUPPORTED LIST LENGTH
        for (auto x : commands) b.push_back(static_cast<std::byte>(x));
        add(0x0001, std::move(b));
    }
    {   // §7.8.17.5 Parameter Data.
        Bytes b(28);
        st16(b, 4, kMaxTargetDescriptors);
        st16(b, 6, kMaxSegmentDescriptors);
        st32(b, 8, kMaxDescriptorListLength);
        st32(b, 12, kMaxInlineDataLength);
        add(0x0004, std::move(b));
    }
    {   // §7.8.17.6 Supported Descriptors.
        Bytes b{std::byte{2}, std::byte{kBlockToBlock}, std::byte{kIdentificationCscd}};
        add(0x0008, std::move(b));
    }
    {   // §7.8.17.7 Supported CSCD Descriptor IDs: none beyond the list indexes 0000h-07FFh.
        add(0x000c, Bytes(2));
    }
    {   // §7.8.17.10 General Copy Operations.
        Bytes b(32);
        st32(b, 0, kTotalConcurrentCopies);
        st32(b, 4, kMaxConcurrentCopies);  // MAXIMUM IDENTIFIED CONCURRENT COPIES
        st32(b, 8, kMaxSegmentLength);
        st8(b, 12, kDataSegmentGranularityLog2);
        st8(b, 13, kInlineDataGranularityLog2);
        add(0x8001, std::move(b));
    }
    st16(page, 2, static_cast<std::uint16_t>(page.size() - 4));
    return page;
}

}  // namespace iscsilab::scsi
