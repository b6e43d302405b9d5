// The real runtime: reactors on real sockets, files behind the devices, the target core
// in between. `iscsilab serve`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace iscsilab::hil {

struct ServeOptions {
    std::string listen = "127.0.0.1:3260";
    std::string config_file;   // empty: the embedded default
    unsigned reactors = 0;     // 0: one per core
    bool quiet = false;
    std::string ready_file;    // written with "host:port" once listening (for tests)
    std::string mgmt_socket;   // empty: default_socket_path()
    // What outlives the process (APTPL reservations in <state_dir>/pr/<device>), as SCST's
    // /var/lib/scst; "none" keeps nothing.
    std::string state_dir = "/var/lib/iscsilab";
    // The most commands' data buffers may hold at once, in MiB (SCST's scst_max_cmd_mem);
    // 0: as SCST, about a quarter of the machine's memory.
    std::uint64_t max_cmd_mem_mb = 0;
    // The longest a reactor polls for the next event before blocking, in microseconds
    // (fabric/tcp/spin_policy.hpp: only while mostly idle and the gaps are short); 0 never.
    unsigned poll_us = 200;
    // vdisk_fileio reads of at least this many bytes, found whole in the page cache, leave
    // by sendfile(2) when no DataDigest is on (hil/file_store.hpp); 0 never, the default:
    // sendfile measured faster on one machine and far slower on another
    // (fabric/tcp/tcp_stream.cpp, send_from_source), reading into memory never collapsed.
    std::size_t sendfile_min = 0;
};

// Runs until SIGINT/SIGTERM. Returns the process exit code.
int serve(const ServeOptions& opt);

// The embedded default configuration, with the backing file's path filled in.
std::string default_config(const std::string& backing_file);

}  // namespace iscsilab::hil
