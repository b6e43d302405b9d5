// Logical block provisioning of a vdisk (SBC-3 §4.7): UNMAP, WRITE SAME(10)/(16) and GET
// LBA STATUS over the BlockStore's unmap, write_same and provisioning().
//
// A thin LU (thin_provisioned=1, SCST's attribute) reports LBPME and LBPRZ in READ
// CAPACITY(16) and LBPU, LBPWS, LBPWS10 and LBPRZ in the Logical Block Provisioning VPD
// page (vdisk_spc.cpp, vdisk_sbc.cpp): UNMAP and WRITE SAME with the UNMAP bit deallocate,
// and a deallocated block reads as zeros. A fully provisioned LU refuses UNMAP (parse())
// and WRITE SAME's UNMAP bit, and GET LBA STATUS finds every LBA mapped.
#include <algorithm>
#include <limits>

#include "target/bytes.hpp"
#include "target/defects.hpp"
#include "target/handlers/vdisk.hpp"
#include "target/handlers/vdisk_detail.hpp"

namespace iscsilab::handlers {

namespace {

// INVALID FIELD IN PARAMETER LIST, pointing at a byte of the parameter data (SPC-4
// §4.5.2.4.2, C/D=0).
Sense invalid_field_in_parameter_list(std::uint16_t byte) {
    Sense s{SenseKey::IllegalRequest, asc::InvalidFieldInParameterList};
    s.field_pointer = byte;
    s.field_in_cdb = false;
    return s;
}

// One UNMAP's store requests, one after the other: each descriptor range is one request,
// so a command costs at most kMaxUnmapDescriptors of them, never more at once.
struct UnmapRun {
    std::shared_ptr<BlockStore> store;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // bytes: offset, length
    std::size_t next = 0;
    bool fua = false;
    std::function<void(BlockStatus)> finished;
};

void unmap_next(const std::shared_ptr<UnmapRun>& run) {
    if (run->next == run->ranges.size() || defects::on(defects::Defect::unmap_not_zeroed))
        return run->finished(BlockStatus::ok);
    const auto [off, len] = run->ranges[run->next++];
    run->store->submit(BlockRequest{BlockOp::unmap, off, len, {}, run->fua}, [run](BlockStatus st) {
        if (st != BlockStatus::ok) return run->finished(st);
        unmap_next(run);
    });
}

// Sorts LBA ranges [first, second) and merges those that overlap or touch.
void merge_ranges(std::vector<std::pair<std::uint64_t, std::uint64_t>>& r) {
    std::sort(r.begin(), r.end());
    std::size_t out = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
        if (out > 0 && r[i].first <= r[out - 1].second) r[out - 1].second = std::max(r[out - 1].second, r[i].second);
        else r[out++] = r[i];
    }
    r.resize(out);
}

struct LbaStatus {
    std::uint64_t lba = 0;
    std::uint32_t blocks = 0;
    bool mapped = true;
};

// The LBA status descriptors from `start` on (SBC-3 §5.4.2), out of the store's byte
// extents. An LBA is deallocated only if a deallocated extent covers all of its block: a
// block the store freed in part still holds data. Past what the extents cover (the store
// stopped at its max_extents) nothing is said; the first descriptor always holds `start`.
std::vector<LbaStatus> lba_status(std::uint64_t start, std::uint64_t end, std::uint32_t bs,
                                  const std::vector<Extent>& extents, std::size_t max) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> holes;
    std::uint64_t covered = 0;  // bytes, the end of what the store described
    for (const auto& e : extents) {
        if (e.length > std::numeric_limits<std::uint64_t>::max() - e.offset) continue;  // nonsense: ignored
        covered = std::max(covered, e.offset + e.length);
        if (e.mapped) continue;
        const std::uint64_t a = std::max(start, e.offset / bs + (e.offset % bs != 0));
        const std::uint64_t b = std::min(end, (e.offset + e.length) / bs);
        if (a < b) holes.emplace_back(a, b);
    }
    merge_ranges(holes);
    std::uint64_t stop = std::min(end, covered / bs + (covered % bs != 0));
    if (stop <= start) stop = end;  // the store said nothing about `start`: mapped, as by default
    std::vector<LbaStatus> out;
    auto emit = [&](std::uint64_t from, std::uint64_t to, bool mapped) {
        while (from < to && out.size() < max) {
            // NUMBER OF LOGICAL BLOCKS is 32 bits: a longer run takes several descriptors.
            const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(to - from, 0xffffffffu));
            out.push_back({from, n, mapped});
            from += n;
        }
    };
    std::uint64_t cur = start;
    for (const auto& [a, b] : holes) {
        if (a >= stop) break;
        emit(cur, a, true);
        emit(a, std::min(b, stop), false);
        cur = std::min(b, stop);
    }
    emit(cur, stop, true);
    return out;
}

Bytes lba_status_data(const std::vector<LbaStatus>& descs) {
    // SBC-3 §5.4.2: an 8-byte header (PARAMETER DATA LENGTH, n - 3), then 16 bytes per
    // descriptor: LBA, NUMBER OF LOGICAL BLOCKS, PROVISIONING STATUS (0 mapped,
    // 1 deallocated).
    Bytes d(8 + 16 * descs.size());
    st32(d, 0, static_cast<std::uint32_t>(d.size() - 4));
    for (std::size_t i = 0; i < descs.size(); ++i) {
        st64(d, 8 + 16 * i, descs[i].lba);
        st32(d, 8 + 16 * i + 8, descs[i].blocks);
        st8(d, 8 + 16 * i + 12, descs[i].mapped ? 0x00 : 0x01);
    }
    return d;
}

}  // namespace

void Vdisk::unmap(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done) {
    // parse() let this through on a thin LU only.
    Command& c = *cmd;
    auto writable = writable_medium(c, ctx);
    if (!writable) return done();
    auto store = writable->store;
    const bool wce = writable->wce;
    const std::uint16_t pll = ld16(c.cdb_bytes(), 7);
    c.spdtl = pll;
    // SBC-3 §5.28: a PARAMETER LIST LENGTH of zero transfers nothing and is not an error...
    if (pll == 0) {
        c.status = Status::Good;
        return done();
    }
    // ...one that cannot hold the 8-byte header is PARAMETER LIST LENGTH ERROR; so is a
    // header that did not arrive.
    const std::size_t got = std::min<std::size_t>(pll, c.data_out.size());
    if (pll < 8 || got < 8) {
        fail(c, Sense{SenseKey::IllegalRequest, asc::ParameterListLengthError});
        return done();
    }
    std::span<const std::byte> p(c.data_out.data(), got);
    const std::uint16_t data_length = ld16(p, 0);        // UNMAP DATA LENGTH (n - 1)
    const std::uint16_t descriptor_length = ld16(p, 2);  // UNMAP BLOCK DESCRIPTOR DATA LENGTH (n - 7)
    // The two lengths describe one list: descriptors that run past the data length are a
    // malformed list (T10's reading of SBC-3: reject rather than guess where they end). No
    // descriptors at all is never an error (SBC-3 §5.28.2), whatever the data length says.
    if (descriptor_length != 0 && std::uint32_t{descriptor_length} + 6 > data_length) {
        fail(c, invalid_field_in_parameter_list(2));
        return done();
    }
    // SBC-3 §5.28.2: a last descriptor that the BLOCK DESCRIPTOR DATA LENGTH cuts short is
    // ignored; one the PARAMETER LIST LENGTH cut short was never sent (not an error).
    const std::size_t count = std::min<std::size_t>(descriptor_length, p.size() - 8) / 16;
    if (count > detail::kMaxUnmapDescriptors) {
        // SBC-3 §5.28.2: more than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT.
        fail(c, invalid_field_in_parameter_list(2));
        return done();
    }
    const std::uint64_t n = store->size_bytes() / cfg_.blocksize;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // LBAs [first, second)
    ranges.reserve(count);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t at = 8 + 16 * i;
        const std::uint64_t lba = ld64(p, at);
        const std::uint32_t blocks = ld32(p, at + 8);
        // SBC-3 §5.28.2: beyond the capacity (wrap-around included) is LBA OUT OF RANGE,
        // even for zero blocks past the end; zero blocks within it unmap nothing.
        if (lba > n || blocks > n - lba) {
            fail(c, Sense{SenseKey::IllegalRequest, asc::LbaOutOfRange});
            return done();
        }
        total += blocks;
        if (total > detail::max_unmap_lba_count(cfg_.blocksize)) {
            // SBC-3 §5.28.2: more than MAXIMUM UNMAP LBA COUNT in all.
            fail(c, invalid_field_in_parameter_list(static_cast<std::uint16_t>(at + 8)));
            return done();
        }
        if (blocks) ranges.emplace_back(lba, lba + blocks);
    }
    // Descriptors may overlap and come in any order (SBC-3 §5.28.2): one store request per
    // merged range.
    merge_ranges(ranges);
    if (ranges.empty()) {
        c.status = Status::Good;
        return done();
    }
    // The lock covers the span of all the ranges: more than needed when they are far apart,
    // which only makes this UNMAP wait for a COMPARE AND WRITE in between.
    const std::uint64_t first = ranges.front().first, last = ranges.back().second;
    auto run = std::make_shared<UnmapRun>();
    run->store = store;
    run->fua = !wce && !cfg_.nv_cache;  // write cache disabled: the zeros are durable before GOOD
    for (const auto& [a, b] : ranges) run->ranges.emplace_back(a * cfg_.blocksize, (b - a) * cfg_.blocksize);
    under_range_lock(
        first, last - first, LbaRangeLock::Mode::shared,
        [this, cmd, run](scsi::Completion locked_done) {
            run->finished = [this, cmd, locked_done = std::move(locked_done)](BlockStatus st) {
                if (st == BlockStatus::ok) cmd->status = Status::Good;
                else io_failed(*cmd, st, true);
                locked_done();
            };
            unmap_next(run);
        },
        std::move(done));
}

void Vdisk::write_same(CmdPtr cmd, const scsi::AccessContext& ctx, scsi::Completion done) {
    Command& c = *cmd;
    auto cdb = c.cdb_bytes();
    const bool sixteen = c.opcode() == op::WriteSame16;
    const std::uint8_t flags = ld8(cdb, 1);
    const bool unmap_bit = flags & 0x08;
    // SBC-4 WRITE SAME(16): NDOB, no Data-Out Buffer: the block is all zeros.
    const bool ndob = sixteen && (flags & 0x01);
    const std::uint64_t lba = sixteen ? ld64(cdb, 2) : ld32(cdb, 2);
    const std::uint32_t number = sixteen ? ld32(cdb, 10) : ld16(cdb, 7);
    const std::uint16_t number_at = sixteen ? 10 : 7;
    const std::uint32_t bs = cfg_.blocksize;

    auto writable = writable_medium(c, ctx);
    if (!writable) return done();
    auto store = writable->store;
    const bool wce = writable->wce;
    if ((flags >> 5) != 0) {
        // WRPROTECT without protection information (SBC-3 §5.43, as for WRITE).
        fail(c, scsi::invalid_field_in_cdb(1, 7));
        return done();
    }
    if (unmap_bit && !cfg_.thin_provisioned) {
        // SBC-3 §5.43: the UNMAP bit is for a LU with logical block provisioning management;
        // a fully provisioned one reports LBPWS=LBPWS10=0 and refuses it.
        fail(c, scsi::invalid_field_in_cdb(1, 3));
        return done();
    }
    const std::uint64_t n = store->size_bytes() / bs;
    // SBC-3 §5.43: NUMBER OF LOGICAL BLOCKS 0 writes from the LBA to the last one (the
    // Block Limits page has WSNZ=0). Either way, beyond the capacity is LBA OUT OF RANGE.
    std::uint64_t blocks = number;
    if (number == 0) {
        if (lba >= n) {
            fail(c, Sense{SenseKey::IllegalRequest, asc::LbaOutOfRange});
            return done();
        }
        blocks = n - lba;
    } else if (lba > n || blocks > n - lba) {
        fail(c, Sense{SenseKey::IllegalRequest, asc::LbaOutOfRange});
        return done();
    }
    if (blocks > detail::max_write_same_blocks(bs)) {
        // SBC-3 §5.43: more than MAXIMUM WRITE SAME LENGTH.
        fail(c, scsi::invalid_field_in_cdb(number_at));
        return done();
    }
    // Exactly one logical block of Data-Out, or none with NDOB: anything else is a
    // command whose transfer disagrees with its CDB (as WRITE's partial block, vdisk_sbc.cpp).
    const std::uint64_t expect = ndob ? 0 : bs;
    c.spdtl = expect;
    if (c.data_out.size() != expect) {
        fail(c, Sense{SenseKey::IllegalRequest, asc::InvalidFieldInInformationUnit});
        return done();
    }
    // SBC-3 §5.43 (the ANCHOR and UNMAP bits; SBC-4 the same): with UNMAP=1 and ANCHOR=0 a
    // thin provisioned LU "should deallocate each LBA", whatever the block holds; a read
    // then returns zeros (LBPRZ=1), not the block. SCST and Linux's target do the same, and
    // libiscsi's WriteSame10.UnmapUntilEnd checks it with a block of 0xff. The block is
    // written only where no unmap was asked for.
    const bool deallocate = unmap_bit;
    const std::uint64_t offset = lba * bs, length = blocks * bs;
    under_range_lock(
        lba, blocks, LbaRangeLock::Mode::shared,
        [this, cmd, store, deallocate, ndob, offset, length, bs, fua = !wce && !cfg_.nv_cache](scsi::Completion locked_done) {
            auto finish = [this, cmd, store, locked_done = std::move(locked_done)](BlockStatus st) {
                if (st == BlockStatus::ok) cmd->status = Status::Good;
                else io_failed(*cmd, st, true);
                locked_done();
            };
            if (deallocate) return store->submit(BlockRequest{BlockOp::unmap, offset, length, {}, fua}, std::move(finish));
            if (ndob) {
                auto zero = std::make_shared<Bytes>(bs);
                return store->submit(BlockRequest{BlockOp::write_same, offset, length, *zero, fua},
                                     [zero, finish = std::move(finish)](BlockStatus st) { finish(st); });
            }
            std::span<std::byte> block(cmd->data_out.data(), bs);
            store->submit(BlockRequest{BlockOp::write_same, offset, length, block, fua}, std::move(finish));
        },
        std::move(done));
}

void Vdisk::get_lba_status(CmdPtr cmd, scsi::Completion done) {
    Command& c = *cmd;
    auto cdb = c.cdb_bytes();
    const std::uint64_t start = ld64(cdb, 2);
    const std::uint32_t alloc = ld32(cdb, 10);
    auto store = medium_for(c);
    if (!store) return done();
    const std::uint32_t bs = cfg_.blocksize;
    const std::uint64_t n = store->size_bytes() / bs;
    // SBC-3 §5.4: a STARTING LOGICAL BLOCK ADDRESS past the last LBA.
    if (start >= n) {
        fail(c, Sense{SenseKey::IllegalRequest, asc::LbaOutOfRange});
        return done();
    }
    // As many descriptors as the allocation length holds (at least the first, which the
    // allocation length may then truncate), and no more than we bound it to.
    const std::size_t room = alloc > 8 ? (alloc - 8) / 16 : 0;
    const std::size_t max = std::clamp<std::size_t>(room, 1, detail::kMaxLbaStatusDescriptors);
    if (!cfg_.thin_provisioned) {
        // SBC-3 §4.7.2: every LBA of a fully provisioned LU is mapped.
        auto d = lba_status_data(lba_status(start, n, bs, {}, max));
        scsi::return_data(c, d, alloc);
        return done();
    }
    // A store extent can turn into two descriptors and merged ones into fewer: ask for a
    // few more than we answer.
    store->provisioning(start * bs, (n - start) * bs, 2 * max,
                        [this, cmd, store, start, n, bs, max, alloc, done = std::move(done)](
                            BlockStatus st, std::vector<Extent> extents) {
                            if (st != BlockStatus::ok) {
                                io_failed(*cmd, st, false);
                                return done();
                            }
                            auto d = lba_status_data(lba_status(start, n, bs, extents, max));
                            scsi::return_data(*cmd, d, alloc);
                            done();
                        });
}

}  // namespace iscsilab::handlers
