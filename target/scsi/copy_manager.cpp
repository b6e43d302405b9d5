// The copy manager: EXTENDED COPY admission, a copy's execution and aborts, the held copy statuses.
#include "target/scsi/copy_manager.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

#include "target/bytes.hpp"
#include "target/scsi/copy_detail.hpp"
#include "target/scsi/spc.hpp"

namespace iscsilab::scsi {

using namespace copy_limits;
using namespace detail;

namespace {

// SPC-4 §4.5.2 (forwarded sense data descriptor): SENSE DATA SOURCE.
constexpr std::uint8_t kSenseFromCopySource = 1;
constexpr std::uint8_t kSenseFromCopyDestination = 2;
// Fixed-format sense data: where the forwarded status and sense begin (sense.cpp puts
// them right after the sense key specific bytes).
constexpr std::uint32_t kFixedForwardedOffset = 18;

bool is_unit_attention(const Command& c) {
    if (c.status != Status::CheckCondition) return false;
    auto s = decode_sense(c.sense);
    return s && s->key == SenseKey::UnitAttention;
}

}  // namespace

// ---- shared state ---------------------------------------------------------------------

void CopyManager::State::evict(std::uint64_t nexus_id) {
    auto oldest_done = [&](auto pred) {
        auto victim = results.end();
        for (auto it = results.begin(); it != results.end(); ++it)
            if (it->second.done && pred(it->first) && (victim == results.end() || it->second.owner < victim->second.owner))
                victim = it;
        return victim;
    };
    auto count_of = [&] {
        return std::count_if(results.begin(), results.end(), [&](const auto& e) { return e.first.first == nexus_id; });
    };
    while (static_cast<std::size_t>(count_of()) > kMaxHeldResultsPerNexus) {
        auto v = oldest_done([&](const Key& k) { return k.first == nexus_id; });
        if (v == results.end()) break;
        results.erase(v);
    }
    while (results.size() > kMaxHeldResults) {
        auto v = oldest_done([](const Key&) { return true; });
        if (v == results.end()) break;
        results.erase(v);
    }
}

// One EXTENDED COPY in progress: the plan (resolved CSCDs, segment descriptors) and where
// it stands. Only one step of a copy runs at a time, so its fields need no lock.
struct CopyManager::Copy {
    std::shared_ptr<State> state;
    std::shared_ptr<const Nexus> own_nexus;
    std::shared_ptr<Command> cmd;
    Completion done;
    bool descriptor_sense = false;
    std::uint64_t serial = 0;
    std::uint64_t nexus_id = 0;
    std::uint8_t list_identifier = 0;
    ListIdUsage list_id_usage = ListIdUsage::Hold;

    std::vector<Cscd> cscds;
    std::vector<std::optional<CopyDevice>> devices;  // by CSCD descriptor ID
    std::vector<SegmentDescriptor> segments;

    // Progress.
    std::size_t segment = 0;     // the segment descriptor being processed
    bool segment_started = false;
    const CopyDevice* source = nullptr;
    const CopyDevice* destination = nullptr;
    std::uint64_t segment_bytes = 0;
    std::uint64_t segment_done = 0;  // bytes of this segment written
    std::uint64_t bytes_written = 0; // in all
    bool writing = false;            // the next command: false READ, true WRITE
    std::uint32_t chunk = 0;         // bytes the current READ/WRITE moves
    DataBuffer buffer;               // read, not yet written
    int unit_attention_retries = 0;
    std::atomic<bool> ended{false};
};

namespace {

using CopyPtr = std::shared_ptr<CopyManager::Copy>;

bool holds_status(ListIdUsage u) { return u == ListIdUsage::Hold || u == ListIdUsage::Discard; }

// The copy's held status follows its progress (RECEIVE COPY RESULTS, COPY STATUS).
void publish_progress(const CopyManager::Copy& c) {
    if (!holds_status(c.list_id_usage)) return;
    std::lock_guard lock(c.state->mu);
    auto it = c.state->results.find({c.nexus_id, c.list_identifier});
    if (it == c.state->results.end() || it->second.owner != c.serial) return;  // forgotten meanwhile
    it->second.segments_processed = static_cast<std::uint16_t>(c.segment);
    it->second.bytes_written = c.bytes_written;
}

enum class Outcome : std::uint8_t { Good, Failed, Aborted };

// Ends the copy: the held status, the count of copies, then done - exactly once.
void end_copy(const CopyPtr& c, Outcome how) {
    if (c->ended.exchange(true)) return;
    c->buffer = DataBuffer{};
    {
        std::lock_guard lock(c->state->mu);
        --c->state->active;
        auto it = c->state->results.find({c->nexus_id, c->list_identifier});
        const bool ours = holds_status(c->list_id_usage) && it != c->state->results.end() && it->second.owner == c->serial;
        if (ours) {
            switch (how) {
                case Outcome::Good:
                case Outcome::Failed:
                    if (c->list_id_usage == ListIdUsage::Discard) {
                        c->state->results.erase(it);  // SPC-4 §6.4.3: 10b holds nothing once done
                    } else {
                        it->second.done = true;
                        it->second.failed = how == Outcome::Failed;
                        it->second.segments_processed = static_cast<std::uint16_t>(c->segment);
                        it->second.bytes_written = c->bytes_written;
                    }
                    break;
                case Outcome::Aborted:
                    c->state->results.erase(it);  // as SCST: an aborted copy leaves no status
                    break;
            }
        }
    }
    switch (how) {
        case Outcome::Good: c->cmd->status = Status::Good; break;
        case Outcome::Failed: break;   // the sense is in cmd already
        case Outcome::Aborted: break;  // the transport answers (or not) for an aborted task
    }
    auto done = std::move(c->done);
    c->done = nullptr;
    done();
}

// SPC-4 §6.4, errors detected during processing of segment descriptors (SPC-3 §6.3.3):
// COPY ABORTED; the segment descriptor being processed in the third and fourth bytes of
// the COMMAND-SPECIFIC INFORMATION; a field pointer relative to that descriptor (SD set)
// when a field of it is at fault; the status and sense of a failed READ or WRITE when
// that is the cause.
void fail_segment(const CopyPtr& c, Asc code, std::optional<std::uint16_t> segment_field,
                  std::optional<Sense::Forwarded> forwarded = std::nullopt) {
    Sense s{SenseKey::CopyAborted, code};
    std::uint32_t csi = static_cast<std::uint16_t>(c->segment);
    if (forwarded && !c->descriptor_sense) {
        // SOURCE SENSE DATA OFFSET (byte 8) or DESTINATION SENSE DATA OFFSET (byte 9).
        csi |= kFixedForwardedOffset << (forwarded->source == kSenseFromCopySource ? 24 : 16);
    }
    s.command_specific_information = csi;
    if (segment_field) {
        s.field_pointer = segment_field;
        s.field_in_cdb = false;
        s.segment_descriptor = true;
    }
    s.forwarded = std::move(forwarded);
    c->cmd->fail(s, c->descriptor_sense);
    end_copy(c, Outcome::Failed);
}

// Checks the segment descriptor about to be processed against the CSCDs it names and the
// logical units behind them. Returns false when it ended the copy.
bool start_segment(const CopyPtr& c) {
    const SegmentDescriptor& sd = c->segments[c->segment];
    // SPC-4 §6.4.6.1: a CSCD descriptor ID indexes the CSCD descriptor list; one that
    // names no descriptor, or a descriptor the copy manager cannot reach, is an
    // unreachable copy target.
    const struct { std::uint16_t id; std::uint16_t field; } ends[] = {
        {sd.source_cscd_id, 4}, {sd.destination_cscd_id, 6}};
    for (const auto& e : ends) {
        if (e.id >= c->cscds.size()) {
            fail_segment(c, asc::UnreachableCopyTarget, e.field);
            return false;
        }
        if (!c->devices[e.id]) {
            fail_segment(c, asc::CopyTargetDeviceNotReachable, e.field);
            return false;
        }
        // A block device to block device segment needs block devices at both ends.
        if (c->cscds[e.id].peripheral_device_type != 0x00) {
            fail_segment(c, asc::IncorrectCopyTargetDeviceType, e.field);
            return false;
        }
    }
    const CopyDevice& src = *c->devices[sd.source_cscd_id];
    const CopyDevice& dst = *c->devices[sd.destination_cscd_id];
    // SPC-4 §6.4.6: BLOCK DEVICE NUMBER OF BLOCKS counts source blocks, or destination
    // blocks with DC set; the bytes must be whole blocks at both ends.
    const std::uint64_t bytes = std::uint64_t{sd.block_device_number_of_blocks} * (sd.dc ? dst.block_size : src.block_size);
    if (bytes % src.block_size != 0 || bytes % dst.block_size != 0) {
        fail_segment(c, asc::UnexpectedInexactSegment, 10);
        return false;
    }
    if (bytes > kMaxSegmentLength) {
        fail_segment(c, asc::InvalidFieldInParameterList, 10);
        return false;
    }
    // Both ranges inside the logical units, wrap-around included, before any data moves:
    // a copy that cannot finish its segment does not start it. The device checks again.
    const std::uint64_t src_blocks = bytes / src.block_size;
    const std::uint64_t dst_blocks = bytes / dst.block_size;
    if (sd.source_lba > src.num_blocks || src_blocks > src.num_blocks - sd.source_lba) {
        fail_segment(c, asc::NoAdditionalSense, 12);
        return false;
    }
    if (sd.destination_lba > dst.num_blocks || dst_blocks > dst.num_blocks - sd.destination_lba) {
        fail_segment(c, asc::NoAdditionalSense, 20);
        return false;
    }
    c->source = &src;
    c->destination = &dst;
    c->segment_bytes = bytes;
    c->segment_done = 0;
    c->writing = false;
    c->unit_attention_retries = 0;
    return true;
}

// The next READ(16) or WRITE(16) (SBC-3) of the current segment.
std::shared_ptr<Command> next_command(CopyManager::Copy& c) {
    const SegmentDescriptor& sd = c.segments[c.segment];
    auto ic = std::make_shared<Command>();
    ic->nexus = c.own_nexus;
    ic->tag = c.state->next_tag.fetch_add(1);
    // HEAD OF QUEUE (SAM-5 §8.6): the EXTENDED COPY already holds its place in its task
    // set and these are parts of it. As SIMPLE tasks they could wait behind an ORDERED
    // task that itself waits for the EXTENDED COPY to end (SCST sends them as internal
    // commands, outside the session's ordering).
    ic->attr = TaskAttribute::HeadOfQueue;
    std::span<std::byte> cdb(ic->cdb);
    if (!c.writing) {
        // Whole blocks at both ends, at most a chunk (block sizes are powers of two up to
        // 4096 here; a larger block still moves one block at a time).
        const std::uint64_t unit = std::max(c.source->block_size, c.destination->block_size);
        const std::uint64_t most = std::max<std::uint64_t>(unit, kCopyChunkBytes / unit * unit);
        c.chunk = static_cast<std::uint32_t>(std::min(most, c.segment_bytes - c.segment_done));
        st8(cdb, 0, op::Read16);
        st64(cdb, 2, sd.source_lba + c.segment_done / c.source->block_size);
        st32(cdb, 10, c.chunk / c.source->block_size);
        ic->direction = DataDirection::Read;
    } else {
        st8(cdb, 0, op::Write16);
        st64(cdb, 2, sd.destination_lba + c.segment_done / c.destination->block_size);
        st32(cdb, 10, c.chunk / c.destination->block_size);
        ic->direction = DataDirection::Write;
        ic->data_out = std::move(c.buffer);
        c.buffer = DataBuffer{};
    }
    ic->expected_transfer_length = c.chunk;
    return ic;
}

// A READ or WRITE came back. Returns whether the copy goes on (false: it ended).
bool command_done(const CopyPtr& c, Command& ic) {
    if (is_unit_attention(ic) && c->unit_attention_retries < kMaxUnitAttentionRetries) {
        ++c->unit_attention_retries;  // the same command again
        if (c->writing) c->buffer = std::move(ic.data_out);
        return true;
    }
    const std::uint8_t source = c->writing ? kSenseFromCopyDestination : kSenseFromCopySource;
    if (ic.status != Status::Good) {
        // SPC-4 §6.4 (SPC-3 §6.3.3): a copy source or destination failed the command.
        fail_segment(c, asc::NoAdditionalSense, std::nullopt, Sense::Forwarded{source, ic.status, ic.sense});
        return false;
    }
    c->unit_attention_retries = 0;
    if (!c->writing) {
        if (!ic.data_in || ic.data_in->size() != c->chunk) {
            fail_segment(c, asc::CopyTargetDeviceDataUnderrun, std::nullopt);
            return false;
        }
        // Take the read buffer as the write's data, without a copy when no one else holds it.
        c->buffer = std::move(ic.data_in);
        c->writing = true;
        return true;
    }
    c->segment_done += c->chunk;
    c->bytes_written += c->chunk;
    c->writing = false;
    publish_progress(*c);
    return true;
}

// Drives a copy until it waits for a command or ends. A command that completes inline
// continues the loop here rather than recursing, so a copy of many chunks over a
// synchronous store keeps a flat stack; one that completes later continues from its
// completion. Whichever of the two sides comes second goes on.
void run(const CopyPtr& c) {
    for (;;) {
        // SAM-5 §5.6: an aborted task stops between chunks.
        if (c->cmd->aborted) return end_copy(c, Outcome::Aborted);
        while (c->segment < c->segments.size()) {
            if (!c->segment_started) {
                if (!start_segment(c)) return;
                c->segment_started = true;
            }
            if (c->segment_done < c->segment_bytes) break;
            ++c->segment;  // SEGMENTS PROCESSED
            c->segment_started = false;
            publish_progress(*c);
        }
        if (c->segment == c->segments.size()) return end_copy(c, Outcome::Good);

        auto ic = next_command(*c);
        const CopyDevice& dev = c->writing ? *c->destination : *c->source;
        auto second = std::make_shared<std::atomic<bool>>(false);
        dev.submit(ic, [c, ic, second] {
            if (!second->exchange(true)) return;  // the submitter goes on
            if (command_done(c, *ic)) run(c);
        });
        if (!second->exchange(true)) return;  // the completion goes on
        if (!command_done(c, *ic)) return;
    }
}

}  // namespace

// ---- CopyManager ----------------------------------------------------------------------

CopyManager::CopyManager(CopyResolver resolver, std::uint64_t nexus_id)
    : resolver_(std::move(resolver)), state_(std::make_shared<State>()) {
    auto n = std::make_shared<Nexus>();
    n->id = nexus_id;
    n->initiator_name = "copy_manager";
    n->initiator_port = "copy_manager";  // SCST's copy manager target and session: copy_manager_tgt
    n->target_name = "copy_manager_tgt";
    nexus_ = std::move(n);
}

CopyManager::~CopyManager() = default;

void CopyManager::extended_copy(std::shared_ptr<Command> cmd, Completion done, bool descriptor_sense) {
    Command& c = *cmd;
    auto fail = [&](const Sense& s) {
        c.fail(s, descriptor_sense);
        done();
    };
    auto cdb = c.cdb_bytes();
    // SPC-4 §6.4.1: service action 00h is EXTENDED COPY(LID1); LID4 (01h) has another
    // parameter list altogether and is not served.
    if ((ld8(cdb, 1) & 0x1f) != sa::ExtendedCopyLid1) return fail(invalid_field_in_cdb(1, 4));
    if (ld8(cdb, 1) & 0xe0) return fail(invalid_field_in_cdb(1, 7));
    if (auto r = reserved_cdb_byte(cdb, {2, 3, 4, 5, 6, 7, 8, 9, 14})) return fail(invalid_field_in_cdb(*r));
    const std::uint32_t parameter_list_length = ld32(cdb, 10);
    c.spdtl = parameter_list_length;
    // SPC-4 §6.4.1: a PARAMETER LIST LENGTH of zero is no error; nothing is copied.
    if (parameter_list_length == 0) {
        c.status = Status::Good;
        return done();
    }
    // What arrived of the list: the transport may have taken fewer bytes (EDTL).
    std::span<const std::byte> list(c.data_out.data(), std::min<std::size_t>(c.data_out.size(), parameter_list_length));
    ParameterList pl;
    if (auto err = parse_parameter_list(list, pl)) return fail(*err);
    if (pl.segments.empty()) {  // nothing to process: done, with nothing held (as SCST)
        c.status = Status::Good;
        return done();
    }

    // Resolve every CSCD descriptor now, without a lock held: the resolver looks at the
    // target's LUN map.
    static const Nexus no_nexus;
    const Nexus& initiator = c.nexus ? *c.nexus : no_nexus;
    std::vector<std::optional<CopyDevice>> devices;
    devices.reserve(pl.cscds.size());
    for (const Cscd& d : pl.cscds) {
        std::optional<CopyDevice> dev;
        if (!d.nul && resolver_) dev = resolver_(d.designator, initiator);
        if (dev && (dev->block_size == 0 || !dev->submit)) dev.reset();  // nothing usable
        // SPC-4 §6.4.5: DISK BLOCK LENGTH of a block device CSCD is its logical block length.
        if (dev && d.peripheral_device_type == 0x00 && d.disk_block_length != dev->block_size)
            return fail(parameter_error(asc::InvalidFieldInParameterList, static_cast<std::uint16_t>(d.offset + 29)));
        devices.push_back(std::move(dev));
    }

    auto copy = std::make_shared<Copy>();
    copy->state = state_;
    copy->own_nexus = nexus_;
    copy->cmd = cmd;
    copy->done = std::move(done);
    copy->descriptor_sense = descriptor_sense;
    copy->nexus_id = initiator.id;
    copy->list_identifier = pl.list_identifier;
    copy->list_id_usage = pl.list_id_usage;
    copy->cscds = std::move(pl.cscds);
    copy->devices = std::move(devices);
    copy->segments = std::move(pl.segments);
    // Admission: bounded work and memory, and a LIST IDENTIFIER unique among the copies
    // this I_T nexus has in progress (SPC-4 §6.4.3: OPERATION IN PROGRESS).
    std::optional<Sense> refused;
    {
        std::lock_guard lock(state_->mu);
        if (state_->active >= kTotalConcurrentCopies) {
            refused = Sense{SenseKey::IllegalRequest, asc::InsufficientResources};
        } else {
            copy->serial = ++state_->serial;
            if (holds_status(copy->list_id_usage)) {
                const State::Key key{copy->nexus_id, copy->list_identifier};
                auto it = state_->results.find(key);
                if (it != state_->results.end() && !it->second.done) {
                    refused = Sense{SenseKey::IllegalRequest, asc::OperationInProgress};
                } else {
                    // A new copy with the same list identifier replaces a finished one's
                    // status (COPY STATUS, SPC-3 §6.17.2).
                    state_->results[key] = State::Result{copy->serial, false, false, 0, 0};
                    state_->evict(copy->nexus_id);
                }
            }
            if (!refused) ++state_->active;
        }
    }
    if (refused) {
        auto d = std::move(copy->done);
        copy->done = nullptr;
        copy->ended = true;
        c.fail(*refused, descriptor_sense);
        return d();
    }
    run(copy);
}

void CopyManager::forget_nexus(std::uint64_t nexus_id) {
    std::lock_guard lock(state_->mu);
    std::erase_if(state_->results, [&](const auto& e) { return e.first.first == nexus_id; });
}

std::size_t CopyManager::active_copies() const {
    std::lock_guard lock(state_->mu);
    return state_->active;
}

std::size_t CopyManager::held_results() const {
    std::lock_guard lock(state_->mu);
    return state_->results.size();
}

}  // namespace iscsilab::scsi
