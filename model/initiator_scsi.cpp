// The initiator model's newer SCSI commands: UNMAP on a thin provisioned LU (SBC-3 §5.28,
// §4.7.3), COMPARE AND WRITE (SBC-3 §5.2), PERSISTENT RESERVE OUT and IN (SPC-4 §6.16,
// §6.15); and what their answers, and a RESERVATION CONFLICT on any command, teach the
// oracles: this initiator's own shadow (initiator_oracle.cpp), the SharedBlocks of a
// region several initiators race on, the PrOracle of the LU.
#include <algorithm>
#include <cstdio>

#include "model/initiator.hpp"
#include "target/bytes.hpp"

namespace iscsilab::model {

using namespace iscsilab::iscsi;
using detail::hex;

namespace {
// SPC-4 §6.16.3: the basic PERSISTENT RESERVE OUT parameter list.
constexpr std::uint32_t kPrOutListLength = 24;
// SBC-3 §5.28.2: an 8-byte header and one 16-byte UNMAP block descriptor.
constexpr std::uint32_t kUnmapListLength = 24;
// PERSISTENT RESERVE IN allocation lengths: READ KEYS (8-byte header, 8 per key; the
// target keeps at most 256 registrations), READ RESERVATION (SPC-4 §6.15.3: 8 + 16).
constexpr std::uint16_t kReadKeysAllocation = 8 + 8 * 256;
constexpr std::uint16_t kReadReservationAllocation = 24;
constexpr std::uint8_t kReadKeys = 0x00, kReadReservation = 0x01;

std::string ms(Nanos t) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f ms", static_cast<double>(t.count()) / 1e6);
    return b;
}
std::string keys_text(const std::vector<std::uint64_t>& keys) {
    std::string t = "{";
    for (std::size_t i = 0; i < keys.size(); ++i) {
        char b[24];
        std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(keys[i]));
        t += (i ? ", " : "") + std::string(b);
    }
    return t + "}";
}
bool all_zero(std::span<const std::byte> b) {
    return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}
}  // namespace

std::string Initiator::nexus() const {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = cfg_.name + ",i,0x";
    for (std::byte b : cfg_.isid) {
        s += digits[std::to_integer<unsigned>(b) >> 4];
        s += digits[std::to_integer<unsigned>(b) & 15];
    }
    return s;
}

namespace {
const char* op_name(std::uint8_t kind) {
    static const char* const names[] = {"READ(16)", "WRITE(16)", "VERIFY(16)", "TEST UNIT READY", "READ CAPACITY(16)",
                                        "MODE SENSE(6)", "SYNCHRONIZE CACHE(10)", "UNMAP", "COMPARE AND WRITE",
                                        "PERSISTENT RESERVE OUT", "PERSISTENT RESERVE IN"};
    return kind < std::size(names) ? names[kind] : "?";
}
}  // namespace

PrOracle::Access Initiator::access_of(const Op& op) const {
    switch (op.kind) {
        case Op::Kind::read:
        case Op::Kind::verify:
        case Op::Kind::mode_sense: return PrOracle::Access::read;
        case Op::Kind::write:
        case Op::Kind::unmap:
        case Op::Kind::caw:
        case Op::Kind::sync: return PrOracle::Access::write;
        default: return PrOracle::Access::none;
    }
}

bool Initiator::persistent_reserve_out(PrOut p, bool own_key, std::function<void(std::optional<std::uint8_t>)> on_end) {
    if (phase_ != Phase::Running || recovering_ || frozen_) return false;
    if (!pr_) pr_ = std::make_shared<PrOracle>();
    auto op = std::make_shared<Op>();
    op->kind = Op::Kind::pr_out;
    op->pr = p;
    op->pr_own_key = own_key;
    op->pr_done = std::move(on_end);
    pr_queue_.push_back(std::move(op));
    issue();
    return true;
}

bool Initiator::prepare_scsi_op(Op& op) {
    const Nanos now = kernel_.now();
    switch (op.kind) {
        case Op::Kind::unmap: {
            // SBC-3 §5.28.2: UNMAP DATA LENGTH (the bytes after it), UNMAP BLOCK DESCRIPTOR
            // DATA LENGTH, then the descriptor: LBA and NUMBER OF LOGICAL BLOCKS.
            op.out = std::make_shared<Bytes>(kUnmapListLength);
            std::span<std::byte> d(*op.out);
            st16(d, 0, kUnmapListLength - 2);
            st16(d, 2, 16);
            st64(d, 8, op.lba);
            st32(d, 16, op.blocks);
            return true;
        }
        case Op::Kind::caw: {
            // SBC-3 §5.2: the Data-Out holds the block to compare, then the block to write.
            // Compare against what this initiator believes the block holds; with no belief,
            // learn it first (a shared block: read it) or just write it (its own block).
            std::uint64_t compare = 0;
            Nanos from{0};
            if (shared_) {
                auto b = belief_.find(op.lba);
                if (b == belief_.end()) {
                    op.kind = Op::Kind::read;
                    return false;
                }
                compare = b->second.version;
                from = b->second.from;
            } else {
                auto s = shadow_.find(op.lba);
                compare = s == shadow_.end() ? 0 : s->second;
                if (compare == kUnknown || uncertain_.count(op.lba)) {
                    op.kind = Op::Kind::write;
                    return false;
                }
            }
            op.blocks = 1;
            op.compare = compare;
            op.observed_from = from;
            op.version = shared_ ? shared_->next_version() : ++gen_;
            op.out = std::make_shared<Bytes>(2 * block_len_);
            fill_block(op.lba, compare, std::span<std::byte>(*op.out).first(block_len_));
            fill_block(op.lba, op.version, std::span<std::byte>(*op.out).subspan(block_len_, block_len_));
            return true;
        }
        case Op::Kind::pr_out: {
            if (op.pr_own_key) op.pr.key = pr_->key_of(nexus());
            // SPC-4 §6.16.3: RESERVATION KEY, SERVICE ACTION RESERVATION KEY; SPEC_I_PT,
            // ALL_TG_PT and APTPL zero.
            op.out = std::make_shared<Bytes>(kPrOutListLength);
            std::span<std::byte> d(*op.out);
            st64(d, 0, op.pr.key);
            st64(d, 8, op.pr.sa_key);
            op.pr_id = pr_->sent(nexus(), op.pr, now);
            return true;
        }
        case Op::Kind::pr_in: op.pr_epoch = pr_ ? pr_->epochs() : 0; return true;
        default: return true;
    }
}

void Initiator::register_shared(Op& op) {
    if (!shared_ || !op.modifies()) return;
    const auto kind = op.kind == Op::Kind::write ? SharedBlocks::Kind::write
                      : op.kind == Op::Kind::caw ? SharedBlocks::Kind::caw
                                                 : SharedBlocks::Kind::unmap;
    for (std::uint32_t b = 0; b < op.blocks; ++b)
        op.mods.push_back(shared_->sent(nexus(), kind, op.lba + b, op.compare, op.version, op.observed_from, kernel_.now()));
}

void Initiator::fill_cdb_scsi(const Op& op, ScsiCommandPdu& c) {
    auto cdb = std::span<std::byte>(c.cdb);
    switch (op.kind) {
        case Op::Kind::unmap:
            // SBC-3 §5.28.1: UNMAP(10), ANCHOR 0, PARAMETER LIST LENGTH.
            st8(cdb, 0, 0x42);
            st16(cdb, 7, kUnmapListLength);
            c.write = true;
            c.expected_data_transfer_length = kUnmapListLength;
            break;
        case Op::Kind::caw:
            // SBC-3 §5.2: COMPARE AND WRITE(16), LBA, NUMBER OF LOGICAL BLOCKS; the
            // Data-Out carries twice that.
            st8(cdb, 0, 0x89);
            st64(cdb, 2, op.lba);
            st8(cdb, 13, static_cast<std::uint8_t>(op.blocks));
            c.write = true;
            c.expected_data_transfer_length = static_cast<std::uint32_t>(op.out->size());
            break;
        case Op::Kind::pr_out: {
            // SPC-4 §6.16.1: SERVICE ACTION; SCOPE (LU_SCOPE) and TYPE, which REGISTER,
            // REGISTER AND IGNORE EXISTING KEY and CLEAR ignore; PARAMETER LIST LENGTH.
            st8(cdb, 0, 0x5f);
            st8(cdb, 1, static_cast<std::uint8_t>(op.pr.action));
            const bool typed = op.pr.action == PrAction::reserve || op.pr.action == PrAction::release ||
                               op.pr.action == PrAction::preempt || op.pr.action == PrAction::preempt_and_abort;
            st8(cdb, 2, typed ? static_cast<std::uint8_t>(op.pr.type) : 0);
            st32(cdb, 5, kPrOutListLength);
            c.write = true;
            c.expected_data_transfer_length = kPrOutListLength;
            break;
        }
        case Op::Kind::pr_in: {
            // SPC-4 §6.15.1: SERVICE ACTION, ALLOCATION LENGTH.
            const std::uint16_t alloc = op.pr_in_action == kReadKeys ? kReadKeysAllocation : kReadReservationAllocation;
            st8(cdb, 0, 0x5e);
            st8(cdb, 1, op.pr_in_action);
            st16(cdb, 7, alloc);
            c.read = true;
            c.expected_data_transfer_length = alloc;
            break;
        }
        default: break;
    }
}

void Initiator::forget(Op& op) {
    if (shared_) {
        shared_end(op, SharedBlocks::Outcome::unknown);
        for (std::uint32_t b = 0; b < op.blocks; ++b) belief_.erase(op.lba + b);
        return;
    }
    unknown(op.lba, op.blocks);
}

void Initiator::shared_end(Op& op, SharedBlocks::Outcome outcome, bool miscompared) {
    if (!shared_) return;
    for (std::uint64_t id : op.mods) {
        const std::uint64_t races = shared_->races_lost();
        std::string err = shared_->answered(id, outcome, kernel_.now(), miscompared);
        stats_.seen["caw_races_lost"] += shared_->races_lost() - races;
        if (!err.empty()) data_error(std::move(err));
    }
    op.mods.clear();
}

void Initiator::shared_read(const Op& op) {
    Bytes want(block_len_);
    for (std::uint32_t b = 0; b < op.blocks; ++b) {
        const std::uint64_t lba = op.lba + b;
        if (op.in.size() < (b + 1) * block_len_) return data_error("short READ of shared LBA " + std::to_string(lba));
        const auto got = std::span<const std::byte>(op.in).subspan(b * block_len_, block_len_);
        const std::uint64_t version = all_zero(got) ? 0 : ld64(got, 8);
        fill_block(lba, version, want);
        if (!std::equal(want.begin(), want.end(), got.begin())) {
            data_error(nexus() + "'s READ of shared LBA " + std::to_string(lba) + " found data that is no write's tag (LBA field " +
                       std::to_string(ld64(got, 0)) + ", version field " + std::to_string(version) + ")");
            belief_.erase(lba);
            continue;
        }
        if (std::string err = shared_->check_read(nexus(), lba, version, op.sent, kernel_.now()); !err.empty()) {
            data_error(std::move(err));
            belief_.erase(lba);
            continue;
        }
        belief_[lba] = {version, op.sent};
    }
}

bool Initiator::complete_scsi(std::shared_ptr<Op> op, std::uint8_t status, std::span<const std::byte> sense) {
    const Nanos now = kernel_.now();
    const detail::SenseCode sc = detail::sense_code(sense);
    auto done = [&] {
        if (op->workload()) ++completed_;
        maybe_finish();
        return true;
    };
    const std::string what = std::string(op_name(static_cast<std::uint8_t>(op->kind))) +
                             (op->workload() ? " of LBA " + std::to_string(op->lba) : std::string()) + " from " + nexus() +
                             " (sent at " + ms(op->sent) + ", answered at " + ms(now) + ")";
    if (status == 0x02 && sc.key == 0x6) {
        // UNIT ATTENTION (complete() sends the command again). Those of reservations and
        // of another initiator's task management, counted (SPC-4 §5.13.11.2.5, SAM-5
        // §5.6, Annex D of SPC-4 for the codes).
        if (sc.asc == 0x2a && sc.ascq == 0x05) ++stats_.seen["ua_registrations_preempted"];
        if (sc.asc == 0x2a && sc.ascq == 0x03) ++stats_.seen["ua_reservations_preempted"];
        if (sc.asc == 0x2a && sc.ascq == 0x04) ++stats_.seen["ua_reservations_released"];
        if (sc.asc == 0x2f && sc.ascq == 0x00) ++stats_.seen["ua_commands_cleared_by_another_initiator"];
        return false;
    }
    if (op->kind == Op::Kind::pr_out) {
        pr_ended(*op, status, sense);
        return done();
    }
    if (op->kind == Op::Kind::pr_in) {
        if (status == 0) pr_in_check(*op);
        else error(what + " ended with status " + hex(status) + ", sense key " + std::to_string(sc.key));
        return done();
    }
    if (status == kStatusReservationConflict) {
        // SPC-4 §5.13.1: a command the persistent reservation excludes ends in
        // RESERVATION CONFLICT and is not performed. Only a reservation that excluded
        // this nexus at some instant while the command was under way explains one.
        ++stats_.reservation_conflicts;
        const PrOracle::Access a = access_of(*op);
        if (!pr_ || !pr_->may_conflict(nexus(), a, op->sent, now))
            error(what + " ended in RESERVATION CONFLICT, but no persistent reservation excluded it then (SPC-4 §5.13.1)" +
                  (pr_ ? "; the LU: " + pr_->describe(op->sent, now) : std::string()));
        if (op->modifies()) {
            // Nothing written: the blocks hold what they held, and a read must show it.
            if (shared_) shared_end(*op, SharedBlocks::Outcome::failed);
            else if (wl_.verify_data && pr_ && pr_->settled() &&
                     !PrOracle::excluded(pr_->state(), nexus(), PrOracle::Access::read))
                recheck_.push_back(op->lba);
        }
        if (op->kind == Op::Kind::mode_sense) {
            // An exclusive access reservation refuses MODE SENSE: the caching page is
            // unknown, so take the write cache as on (nothing counts durable unless FUA or
            // SYNCHRONIZE CACHE made it so).
            stats_.write_cache = true;
            start_workload();
            return true;
        }
        if (op->kind == Op::Kind::read_capacity) {
            fail(what + " ended in RESERVATION CONFLICT: the LU's geometry is unknown");
            return true;
        }
        return done();
    }
    if (status == 0) {
        const PrOracle::Access a = access_of(*op);
        if (pr_ && a != PrOracle::Access::none && !pr_->may_pass(nexus(), a, op->sent, now))
            error(what + " ended GOOD, but a persistent reservation excluded it throughout (SPC-4 §5.13.1: RESERVATION "
                         "CONFLICT); the LU: " + pr_->describe(op->sent, now));
        switch (op->kind) {
            case Op::Kind::caw:
                ++stats_.caws;
                stats_.bytes_written += block_len_;
                if (shared_) {
                    shared_end(*op, SharedBlocks::Outcome::done);
                    belief_[op->lba] = {op->version, op->sent};
                } else {
                    written(*op, op->version);
                }
                return done();
            case Op::Kind::unmap:
                ++stats_.unmaps;
                if (shared_) {
                    shared_end(*op, SharedBlocks::Outcome::done);
                    for (std::uint32_t b = 0; b < op->blocks; ++b) belief_[op->lba + b] = {0, op->sent};
                    return done();
                }
                for (std::uint32_t b = 0; b < op->blocks; ++b) {
                    const std::uint64_t lba = op->lba + b;
                    if (!lbprz_) {
                        // LBPRZ=0: an unmapped block may read back as anything (SBC-3 §4.7.4.4).
                        unknown(lba, 1);
                        continue;
                    }
                    // LBPRZ=1: zeros until written again. Never counted durable: an UNMAP a
                    // power loss may undo leaves the block unknown (power_lost()).
                    shadow_[lba] = 0;
                    uncertain_.erase(lba);
                    unmapped_.insert(lba);
                }
                return done();
            case Op::Kind::read:
                if (!shared_) return false;
                ++stats_.reads;
                stats_.bytes_read += op->in.size();
                if (wl_.verify_data) shared_read(*op);
                return done();
            case Op::Kind::write:
                if (!shared_) return false;
                ++stats_.writes;
                stats_.bytes_written += op->out->size();
                shared_end(*op, SharedBlocks::Outcome::done);
                for (std::uint32_t b = 0; b < op->blocks; ++b) belief_[op->lba + b] = {op->version, op->sent};
                return done();
            default: return false;
        }
    }
    if (op->kind == Op::Kind::caw && status == 0x02 && sc.key == 0xe) {
        // SBC-3 §5.2: the data differ; CHECK CONDITION, MISCOMPARE, MISCOMPARE DURING
        // VERIFY OPERATION, and nothing is written.
        ++stats_.miscompares;
        if (sc.asc != 0x1d || sc.ascq != 0x00)
            error(what + " MISCOMPARE with ASC/ASCQ " + hex(static_cast<std::uint32_t>(sc.asc)) + "/" +
                  hex(static_cast<std::uint32_t>(sc.ascq)) + ", SBC-3 §5.2 wants 0x1d/0x0 (MISCOMPARE DURING VERIFY OPERATION)");
        if (shared_) {
            shared_end(*op, SharedBlocks::Outcome::failed, true);
            belief_.erase(op->lba);
        } else if (op->power_epoch != power_epoch_) {
            unknown(op->lba, 1);   // a power loss may have reverted the block meanwhile
        } else {
            // This initiator alone writes its region: the block holds the version it
            // compared, and SBC-3 §5.2 allows MISCOMPARE only when the data differ.
            data_error(what + " ended in MISCOMPARE, comparing version " + std::to_string(op->compare) +
                       ", the last version this initiator (the only writer of this block) wrote there");
        }
        return done();
    }
    return false;
}

void Initiator::pr_ended(Op& op, std::optional<std::uint8_t> status, std::span<const std::byte> sense) {
    if (op.pr_id && pr_) {
        std::string err = pr_->answered(op.pr_id, status, kernel_.now());
        if (!err.empty()) {
            const detail::SenseCode sc = detail::sense_code(sense);
            if (status == kStatusCheckCondition)
                err += " (sense key " + hex(static_cast<std::uint32_t>(sc.key)) + ", ASC/ASCQ " +
                       hex(static_cast<std::uint32_t>(sc.asc)) + "/" + hex(static_cast<std::uint32_t>(sc.ascq)) + ")";
            error(std::move(err));
        }
        op.pr_id = 0;
    }
    if (status == kStatusGood) {
        ++stats_.pr_outs;
        // What the target now reports must be what the oracle holds: READ KEYS and READ
        // RESERVATION, judged if no other PR OUT comes between.
        if (pr_ && pr_->settled())
            for (std::uint8_t sa : {kReadKeys, kReadReservation}) {
                auto in = std::make_shared<Op>();
                in->kind = Op::Kind::pr_in;
                in->pr_in_action = sa;
                pr_queue_.push_back(std::move(in));
            }
    }
    if (op.pr_done) {
        auto end = std::move(op.pr_done);
        op.pr_done = {};
        end(status);
    }
}

void Initiator::pr_in_check(const Op& op) {
    if (!pr_ || pr_->epochs() != op.pr_epoch || !pr_->settled()) {
        ++stats_.seen["pr_in_unchecked"];   // a PR OUT came between: nothing exact to expect
        return;
    }
    const char* name = op.pr_in_action == kReadKeys ? "READ KEYS" : "READ RESERVATION";
    const std::string what = std::string("PERSISTENT RESERVE IN ") + name + " from " + nexus();
    if (op.in.size() < 8) return error(what + " returned " + std::to_string(op.in.size()) + " bytes, less than its 8-byte header");
    const PrOracle::State& st = pr_->state();
    const std::uint32_t additional = ld32(op.in, 4);
    if (op.pr_in_action == kReadKeys) {
        // SPC-4 §6.15.2: PRgeneration, ADDITIONAL LENGTH, then one key per registered nexus.
        std::vector<std::uint64_t> got, want;
        for (std::size_t at = 8; at + 8 <= op.in.size() && at + 8 <= 8 + std::size_t{additional}; at += 8) got.push_back(ld64(op.in, at));
        for (const auto& [who, key] : st.keys) want.push_back(key);
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        if (got != want || additional != 8 * want.size())
            return error(what + " lists " + keys_text(got) + " (ADDITIONAL LENGTH " + std::to_string(additional) +
                         "); the registrations are " + keys_text(want) + " (SPC-4 §6.15.2)");
        ++stats_.seen["pr_keys_checked"];
        return;
    }
    // SPC-4 §6.15.3: no reservation, ADDITIONAL LENGTH 0; else 16 bytes: RESERVATION KEY
    // (the holder's; zero for the all registrants types), SCOPE and TYPE in byte 21.
    if (!st.res) {
        if (additional != 0) return error(what + " reports a reservation (ADDITIONAL LENGTH " + std::to_string(additional) + "); none is held");
        ++stats_.seen["pr_reservation_checked"];
        return;
    }
    const bool all = st.res->type == PrType::write_exclusive_all_registrants || st.res->type == PrType::exclusive_access_all_registrants;
    const auto holder = st.keys.find(st.res->holder);
    const std::uint64_t want_key = all || holder == st.keys.end() ? 0 : holder->second;
    if (additional < 16 || op.in.size() < 24)
        return error(what + " reports no reservation (ADDITIONAL LENGTH " + std::to_string(additional) + "); " +
                     spc_name(st.res->type) + " is held");
    const std::uint64_t key = ld64(op.in, 8);
    const std::uint8_t type = ld8(op.in, 21) & 0x0f;
    if (key != want_key || type != static_cast<std::uint8_t>(st.res->type))
        return error(what + " reports key " + keys_text({key}) + " and TYPE " + hex(type) + "; the oracle holds " +
                     spc_name(st.res->type) + " with key " + keys_text({want_key}));
    ++stats_.seen["pr_reservation_checked"];
}

}  // namespace iscsilab::model
