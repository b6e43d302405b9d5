// A small write client over libiscsi, for the FUA / SYNCHRONIZE CACHE test of
// tests/interop/blockio.sh: libiscsi-bin has no tool that sets FUA on a write.
//   write_tool pattern SEED BYTES                  the bytes `write` sends for SEED, raw on stdout
//   write_tool URL write LBA BLOCKS SEED [fua]     WRITE(16) of BLOCKS blocks from LBA, FUA=1 with fua
//   write_tool URL sync                            SYNCHRONIZE CACHE(10) of the whole LU
// The block size comes from READ CAPACITY(16). Prints one line, "status NAME" (with the
// sense key of a CHECK CONDITION), and exits 0 when the target answered GOOD, 1 otherwise.
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// Byte i of the pattern for seed: a mix of both, so that two seeds, and two blocks of one
// seed, differ everywhere.
unsigned char pattern_byte(std::uint64_t seed, std::uint64_t i) {
    std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + (i / 8) * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    return static_cast<unsigned char>(x >> (8 * (i % 8)));
}

int report(iscsi_context* iscsi, scsi_task* task) {
    if (!task) {
        std::printf("status ERROR %s\n", iscsi_get_error(iscsi));
        return 1;
    }
    const int status = task->status;
    if (status == SCSI_STATUS_GOOD) std::printf("status GOOD\n");
    else if (status == SCSI_STATUS_CHECK_CONDITION)
        std::printf("status CHECK_CONDITION sense %s ascq 0x%04x\n", scsi_sense_key_str(task->sense.key), task->sense.ascq);
    else std::printf("status 0x%02x\n", status);
    scsi_free_scsi_task(task);
    return status == SCSI_STATUS_GOOD ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "pattern") {
        const std::uint64_t seed = std::strtoull(argv[2], nullptr, 0), n = std::strtoull(argv[3], nullptr, 0);
        std::vector<unsigned char> out(n);
        for (std::uint64_t i = 0; i < n; ++i) out[i] = pattern_byte(seed, i);
        return std::fwrite(out.data(), 1, out.size(), stdout) == out.size() ? 0 : 1;
    }
    if (argc < 3) {
        std::fprintf(stderr, "usage: write_tool pattern SEED BYTES | URL write LBA BLOCKS SEED [fua] | URL sync\n");
        return 2;
    }
    iscsi_context* iscsi = iscsi_create_context("iqn.2026-11.org.iscsilab:write-tool");
    iscsi_url* url = iscsi_parse_full_url(iscsi, argv[1]);
    if (!url) {
        std::fprintf(stderr, "write_tool: bad URL %s: %s\n", argv[1], iscsi_get_error(iscsi));
        return 2;
    }
    iscsi_set_targetname(iscsi, url->target);
    iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
    iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
    if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
        std::fprintf(stderr, "write_tool: login failed: %s\n", iscsi_get_error(iscsi));
        return 1;
    }
    const int lun = url->lun;
    const std::string verb = argv[2];
    int rc = 2;
    if (verb == "write" && argc >= 6) {
        scsi_task* cap = iscsi_readcapacity16_sync(iscsi, lun);
        auto* rc16 = cap && cap->status == SCSI_STATUS_GOOD ? static_cast<scsi_readcapacity16*>(scsi_datain_unmarshall(cap))
                                                            : nullptr;
        if (!rc16 || rc16->block_length == 0) {
            std::printf("status ERROR no READ CAPACITY(16): %s\n", iscsi_get_error(iscsi));
            rc = 1;
        } else {
            const std::uint32_t bs = rc16->block_length;
            const std::uint64_t lba = std::strtoull(argv[3], nullptr, 0);
            const std::uint32_t blocks = static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 0));
            const std::uint64_t seed = std::strtoull(argv[5], nullptr, 0);
            const bool fua = argc >= 7 && std::string(argv[6]) == "fua";
            std::vector<unsigned char> data(std::size_t{blocks} * bs);
            for (std::size_t i = 0; i < data.size(); ++i) data[i] = pattern_byte(seed, i);
            rc = report(iscsi, iscsi_write16_sync(iscsi, lun, lba, data.data(), static_cast<std::uint32_t>(data.size()),
                                                  static_cast<int>(bs), 0, 0, fua ? 1 : 0, 0, 0));
        }
        if (cap) scsi_free_scsi_task(cap);
    } else if (verb == "sync") {
        rc = report(iscsi, iscsi_synchronizecache10_sync(iscsi, lun, 0, 0, 0, 0));
    } else {
        std::fprintf(stderr, "write_tool: unknown command %s\n", verb.c_str());
    }
    iscsi_logout_sync(iscsi);
    iscsi_destroy_url(url);
    iscsi_destroy_context(iscsi);
    return rc;
}
