#include "hil/serve.hpp"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "fabric/tcp/tcp_stream.hpp"
#include "hil/adm.hpp"
#include "target/buffer_pool.hpp"
#include "hil/file_store.hpp"
#include "hil/state_store.hpp"
#include "hil/uring_store.hpp"
#include "hil/random.hpp"
#include "fabric/tcp/reactor.hpp"
#include "target/iscsi/driver.hpp"
#include "target/log.hpp"
#include "target/mgmt/scst.hpp"
#include "target/mgmt/tree.hpp"

namespace iscsilab::hil {

namespace {

class FileStores final : public mgmt::StoreFactory {
public:
    FileStores(IoPool& pool, std::shared_ptr<StateStore> state, FileStoreOptions options)
        : pool_(pool), state_(std::move(state)), options_(std::move(options)) {}
    std::shared_ptr<StateStore> state_store() override { return state_; }
    std::shared_ptr<BlockStore> open(const handlers::VdiskConfig& cfg, std::string& error) override {
        try {
            const std::uint64_t create = cfg.size_bytes;  // size_mb= creates a sparse file
            // SCST's vdisk_blockio, and vdisk_fileio with o_direct=1 ("BLOCKIO on files"):
            // past the page cache, through io_uring. Everything else: buffered, on the pool.
            if (cfg.handler == "vdisk_blockio" || (cfg.handler == "vdisk_fileio" && cfg.o_direct)) {
                auto store = std::make_shared<UringStore>(cfg.filename, cfg.read_only, create, pool_);
                // O_DIRECT moves whole logical blocks of the device (or of the file
                // system's direct I/O): a smaller SCSI block could not be written alone.
                if (cfg.blocksize < store->alignment()) {
                    error = cfg.filename + ": blocksize " + std::to_string(cfg.blocksize) +
                            " is smaller than the logical block size " + std::to_string(store->alignment()) +
                            " that direct I/O needs there; give blocksize " + std::to_string(store->alignment()) +
                            " or more";
                    return nullptr;
                }
                return store;
            }
            return std::make_shared<FileStore>(cfg.filename, cfg.read_only, create, pool_, options_);
        } catch (const std::exception& e) {
            error = e.what();
            return nullptr;
        }
    }

private:
    IoPool& pool_;
    std::shared_ptr<StateStore> state_;
    FileStoreOptions options_;
};

bool split_hostport(const std::string& s, std::string& host, std::uint16_t& port) {
    std::string p;
    if (!s.empty() && s[0] == '[') {
        auto end = s.find(']');
        if (end == std::string::npos) return false;
        host = s.substr(1, end - 1);
        if (end + 1 < s.size() && s[end + 1] == ':') p = s.substr(end + 2);
    } else {
        auto colon = s.rfind(':');
        host = colon == std::string::npos ? s : s.substr(0, colon);
        if (colon != std::string::npos) p = s.substr(colon + 1);
    }
    if (p.empty()) {
        port = 3260;
        return true;
    }
    try {
        auto v = std::stoul(p);
        if (v > 65535) return false;
        port = static_cast<std::uint16_t>(v);
    } catch (...) {
        return false;
    }
    return true;
}

// The wall-clock time of a log line: ISO-8601 UTC with milliseconds.
std::string stamp() {
    return iso8601_utc(std::chrono::duration_cast<Nanos>(std::chrono::system_clock::now().time_since_epoch()));
}

// Resident memory at most: what the process holds now, commands' data buffers in use
// and idle, and per connection what a peer can make us hold beside them (the stream's
// queue before it stops reading, its receive buffer, a data segment of the largest
// MaxRecvDataSegmentLength, the login or text being gathered).
std::string memory_bound(const iscsi::IscsiDriver& driver, std::uint64_t cmd_mem, std::uint64_t idle_cap) {
    long pages = 0, resident = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    const std::uint64_t now = static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    std::uint64_t mrdsl = 8192;
    for (const auto& t : driver.targets()) mrdsl = std::max<std::uint64_t>(mrdsl, t->params().max_recv_data_segment_length);
    const std::uint64_t per_conn = tcp::TcpStream::kPauseAt + 2 * tcp::TcpStream::kReceiveBuffer + mrdsl + (128u << 10);
    const auto conns = driver.limits().max_connections;
    auto mib = [](std::uint64_t b) { return std::to_string((b + (1u << 20) - 1) >> 20); };
    if (conns == 0) return "memory bound: none (max_connections is 0)";
    const std::uint64_t bound = now + cmd_mem + idle_cap + conns * per_conn;
    return "memory bound: " + mib(bound) + " MiB (at start " + mib(now) + ", data buffers " + mib(cmd_mem) + " + idle " +
           mib(idle_cap) + ", " + std::to_string(conns) + " connections x " + std::to_string(per_conn >> 10) + " KiB)";
}

}  // namespace

std::string default_config(const std::string& backing_file) {
    return "# iscsilab's embedded default: one target, one 1 GiB sparse LUN\n"
           "HANDLER vdisk_fileio {\n"
           "    DEVICE disk0 {\n"
           "        filename " + backing_file + "\n"
           "        nv_cache 1\n"
           "    }\n"
           "}\n"
           "TARGET_DRIVER iscsi {\n"
           "    enabled 1\n"
           "    TARGET iqn.2026-11.org.iscsilab:default {\n"
           "        LUN 0 disk0\n"
           "        enabled 1\n"
           "    }\n"
           "}\n";
}

int serve(const ServeOptions& opt) {
    std::string host;
    std::uint16_t port = 0;
    if (!split_hostport(opt.listen, host, port)) {
        std::cerr << "iscsilab serve: --listen wants HOST:PORT, got '" << opt.listen << "'\n";
        return 2;
    }

    // Signals are taken by this thread alone, with sigwait.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    std::string text, file = opt.config_file, temp_backing;
    if (file.empty()) {
        char tmpl[] = "/tmp/iscsilab-default-XXXXXX";
        int fd = mkstemp(tmpl);
        if (fd < 0 || ftruncate(fd, std::int64_t{1} << 30) != 0) {
            std::cerr << "iscsilab serve: cannot create the default backing file in /tmp\n";
            return 1;
        }
        ::close(fd);
        temp_backing = tmpl;
        text = default_config(temp_backing);
        file = "<embedded default>";
    } else {
        std::ifstream in(file);
        if (!in) {
            std::cerr << "iscsilab serve: cannot read " << file << "\n";
            return 2;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }

    // SCST's scst_max_cmd_mem: by default about a quarter of the memory. Idle buffers
    // kept for reuse never exceed it either.
    const std::uint64_t ram = static_cast<std::uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    const std::uint64_t cmd_mem = opt.max_cmd_mem_mb ? opt.max_cmd_mem_mb << 20 : ram / 4;
    BufferPool::instance().set_max_reserved_bytes(cmd_mem);
    const std::uint64_t idle_cap = std::min<std::uint64_t>(256u << 20, cmd_mem);
    BufferPool::instance().set_max_idle_bytes(idle_cap);

    const unsigned n = opt.reactors ? opt.reactors : std::max(1u, std::thread::hardware_concurrency());
    IoPool pool(std::max(4u, 2 * n));
    // SCST keeps APTPL reservations in /var/lib/scst/pr; ours go under --state-dir.
    std::shared_ptr<StateStore> state;
    if (opt.state_dir != "none") {
        try {
            state = std::make_shared<DirStateStore>(opt.state_dir + "/pr", pool);
        } catch (const std::exception& e) {
            std::cerr << "iscsilab serve: " << e.what()
                      << ": persistent reservations will not persist (APTPL refused); give --state-dir DIR\n";
        }
    }
    FileStoreOptions file_options;
    file_options.wire_source_min = opt.sendfile_min;
    FileStores stores(pool, state, file_options);
    KernelRandom random;
    iscsi::IscsiDriver driver(random);
    mgmt::Scst scst(driver, stores);
    mgmt::MgmtTree tree(scst, n);
    if (!opt.quiet) {
        // The core's lines (the driver's and the tree's), as the trace_level attributes
        // say: "2026-11-30T14:02:06.123Z info    [4711]: iscsi: connection 1 ... closed".
        // The pid is the thread's, as SCST's is the kernel thread's. One write per line.
        tree.route_logs([](const LogLine& line) {
            const std::string out = format_line(stamp(), line, static_cast<long>(gettid())) + "\n";
            std::fwrite(out.data(), 1, out.size(), stderr);
        });
    }

    auto parsed = mgmt::parse_scst_conf(text, file);
    if (parsed.error) {
        std::cerr << "iscsilab serve: " << parsed.error->text() << "\n";
        if (!temp_backing.empty()) unlink(temp_backing.c_str());
        return 2;
    }
    if (auto e = scst.apply(parsed.blocks, file)) {
        std::cerr << "iscsilab serve: " << e->text() << "\n";
        if (!temp_backing.empty()) unlink(temp_backing.c_str());
        return 2;
    }

    std::vector<std::unique_ptr<Reactor>> reactors;
    for (unsigned i = 0; i < n; ++i)
        reactors.push_back(std::make_unique<Reactor>(std::chrono::microseconds(opt.poll_us)));
    std::atomic<std::uint64_t> accepted{0};
    std::unique_ptr<tcp::Listener> listener;
    try {
        listener = std::make_unique<tcp::Listener>(*reactors[0], host, port, [&](int fd) {
            // Spread connections over the reactors; each connection lives on one.
            Reactor& r = *reactors[accepted++ % reactors.size()];
            r.post([&driver, &r, fd] {
                auto s = std::make_shared<tcp::TcpStream>(r, fd);
                s->start();
                driver.accept(s, r, r);
            });
        });
    } catch (const std::exception& e) {
        std::cerr << "iscsilab serve: " << e.what() << "\n";
        if (!temp_backing.empty()) unlink(temp_backing.c_str());
        return 1;
    }
    std::unique_ptr<AdmServer> adm;
    try {
        adm = std::make_unique<AdmServer>(opt.mgmt_socket.empty() ? default_socket_path() : opt.mgmt_socket, tree, stores);
    } catch (const std::exception& e) {
        std::cerr << "iscsilab serve: " << e.what() << "\n";
        if (!temp_backing.empty()) unlink(temp_backing.c_str());
        return 1;
    }
    for (auto& r : reactors) r->start_thread();

    const std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                              std::to_string(listener->port());
    std::cout << "iscsilab: listening on " << where << " with " << n << " reactor" << (n > 1 ? "s" : "") << "\n";
    for (const auto& t : driver.targets()) {
        std::cout << "  target " << t->name() << (t->enabled() ? "" : " (disabled)") << "\n";
        for (const auto& [lun, e] : t->luns().default_luns())
            std::cout << "    LUN " << lun << ": " << e.device->name() << " ("
                      << e.device->get_attribute("size_mb").value_or("?") << " MiB, "
                      << e.device->handler() << ")\n";
        std::cout << "  try: iscsi-ls -s iscsi://" << where << "/\n"
                  << "       iscsi-inq iscsi://" << where << "/" << t->name() << "/0\n";
    }
    std::cout << "  manage: iscsilab adm --socket " << adm->path() << " ls -R\n";
    std::cout << "  " << memory_bound(driver, cmd_mem, idle_cap) << "\n";
    if (!driver.enabled()) std::cout << "  note: the iscsi driver is not enabled (TARGET_DRIVER iscsi { enabled 1 })\n";
    std::cout.flush();
    if (!opt.ready_file.empty()) {
        std::ofstream rf(opt.ready_file);
        rf << where << "\n";
    }

    const auto started = std::chrono::steady_clock::now();
    int sig = 0;
    sigwait(&sigs, &sig);
    adm.reset();
    for (auto& r : reactors) r->stop();
    for (auto& r : reactors) r->join();
    listener.reset();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
    std::cout << "iscsilab: stopped by signal " << sig << " after " << secs << " s; " << accepted.load()
              << " connections accepted\n";
    reactors.clear();
    if (!temp_backing.empty()) unlink(temp_backing.c_str());
    return 0;
}

}  // namespace iscsilab::hil
