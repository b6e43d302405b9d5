// A small persistent-reservation client over libiscsi, for the interop tests: libiscsi-bin
// ships no PR command, and sg_persist needs a kernel block device.
//   pr_tool URL INITIATOR register KEY [aptpl]      PERSISTENT RESERVE OUT REGISTER
//   pr_tool URL INITIATOR reserve KEY TYPE          PERSISTENT RESERVE OUT RESERVE
//   pr_tool URL INITIATOR show                      READ KEYS and READ RESERVATION
//   pr_tool URL INITIATOR write LBA                 WRITE(10) of one block
// Prints one line per result ("keys 0x..", "reservation 0x.. type N", "status NAME") and
// exits 0 when the command reached the target and got an answer, 1 otherwise.
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char* status_name(int status) {
    switch (status) {
        case SCSI_STATUS_GOOD: return "GOOD";
        case SCSI_STATUS_CHECK_CONDITION: return "CHECK_CONDITION";
        case SCSI_STATUS_RESERVATION_CONFLICT: return "RESERVATION_CONFLICT";
        default: return "OTHER";
    }
}

void print_status(iscsi_context* iscsi, scsi_task* task) {
    if (!task) {
        std::printf("status ERROR %s\n", iscsi_get_error(iscsi));
        return;
    }
    std::printf("status %s", status_name(task->status));
    if (task->status == SCSI_STATUS_CHECK_CONDITION)
        std::printf(" sense %s ascq 0x%04x", scsi_sense_key_str(task->sense.key), task->sense.ascq);
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: pr_tool URL INITIATOR register KEY [aptpl] | reserve KEY TYPE | show | write LBA\n");
        return 2;
    }
    iscsi_context* iscsi = iscsi_create_context(argv[2]);
    iscsi_url* url = iscsi_parse_full_url(iscsi, argv[1]);
    if (!url) {
        std::fprintf(stderr, "pr_tool: bad URL %s: %s\n", argv[1], iscsi_get_error(iscsi));
        return 2;
    }
    // One ISID for every run, as an initiator that keeps its ports stable (open-iscsi does):
    // the I_T nexus, and so the registration, is the same from run to run (SPC-4 §5.13.2).
    iscsi_set_isid_en(iscsi, 0x1234, 1);
    iscsi_set_targetname(iscsi, url->target);
    iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
    iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
    if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
        std::fprintf(stderr, "pr_tool: login failed: %s\n", iscsi_get_error(iscsi));
        return 1;
    }
    const int lun = url->lun;
    const std::string verb = argv[3];
    int rc = 0;
    if (verb == "register" && argc >= 5) {
        scsi_persistent_reserve_out_basic p{};
        p.service_action_reservation_key = std::strtoull(argv[4], nullptr, 0);
        p.aptpl = argc >= 6 && std::string(argv[5]) == "aptpl";
        scsi_task* t = iscsi_persistent_reserve_out_sync(iscsi, lun, SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY,
                                                         0, 0, &p);
        print_status(iscsi, t);
        rc = t ? 0 : 1;
        if (t) scsi_free_scsi_task(t);
    } else if (verb == "reserve" && argc >= 6) {
        scsi_persistent_reserve_out_basic p{};
        p.reservation_key = std::strtoull(argv[4], nullptr, 0);
        scsi_task* t = iscsi_persistent_reserve_out_sync(iscsi, lun, SCSI_PERSISTENT_RESERVE_RESERVE, 0,
                                                         std::atoi(argv[5]), &p);
        print_status(iscsi, t);
        rc = t ? 0 : 1;
        if (t) scsi_free_scsi_task(t);
    } else if (verb == "show") {
        scsi_task* t = iscsi_persistent_reserve_in_sync(iscsi, lun, SCSI_PERSISTENT_RESERVE_READ_KEYS, 4096);
        if (!t || t->status != SCSI_STATUS_GOOD) {
            print_status(iscsi, t);
            return 1;
        }
        auto* keys = static_cast<scsi_persistent_reserve_in_read_keys*>(scsi_datain_unmarshall(t));
        std::printf("keys");
        for (int i = 0; keys && i < keys->num_keys; ++i) std::printf(" 0x%" PRIx64, keys->keys[i]);
        std::printf("\n");
        scsi_free_scsi_task(t);
        t = iscsi_persistent_reserve_in_sync(iscsi, lun, SCSI_PERSISTENT_RESERVE_READ_RESERVATION, 4096);
        if (!t || t->status != SCSI_STATUS_GOOD) {
            print_status(iscsi, t);
            return 1;
        }
        auto* r = static_cast<scsi_persistent_reserve_in_read_reservation*>(scsi_datain_unmarshall(t));
        if (r && r->reserved) std::printf("reservation 0x%" PRIx64 " type %d\n", r->reservation_key, r->pr_type);
        else std::printf("reservation none\n");
        scsi_free_scsi_task(t);
    } else if (verb == "write" && argc >= 5) {
        std::vector<unsigned char> block(512, 0xa5);
        scsi_task* t = iscsi_write10_sync(iscsi, lun, static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 0)),
                                          block.data(), static_cast<std::uint32_t>(block.size()), 512, 0, 0, 0, 0, 0);
        print_status(iscsi, t);
        rc = t ? 0 : 1;
        if (t) scsi_free_scsi_task(t);
    } else {
        std::fprintf(stderr, "pr_tool: unknown command %s\n", verb.c_str());
        rc = 2;
    }
    iscsi_logout_sync(iscsi);
    iscsi_destroy_url(url);
    iscsi_destroy_context(iscsi);
    return rc;
}
