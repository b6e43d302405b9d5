// Writes the seed corpora of the fuzz entry points (tests/fuzz/corpus/<name>/seed-*):
//  - framer_conn: what an initiator sends in real exchanges with the harness's own target
//    (logins with and without CHAP, discovery, reads and writes with immediate, unsolicited
//    and solicited data, task management, text, NOP, logout), recorded as it is sent, the
//    answers read back to fill in what depends on them (a TTT, a CHAP challenge);
//  - login_keys and chap: the key lists of those logins;
//  - cdb: the commands of the vdisk, persistent reservation and copy manager unit tests;
//  - scst_conf: the configurations of the scenario suites (scenarios/*/*.yaml), and the
//    harness's own;
//  - mgmt: the sample scripts of the management tree tests.
// Usage: fuzz_seeds SOURCE_DIR OUT_DIR (OUT_DIR is usually SOURCE_DIR/tests/fuzz/corpus).
// Only seed-* files are written; regress-* files are kept as they are.
#include <fstream>
#include <iostream>

#include "seeds/seeds.hpp"

namespace iscsilab::fuzz::seeds {

std::filesystem::path& out_dir() {
    static std::filesystem::path dir;
    return dir;
}

void write_seed(const std::string& target, const std::string& name, const Bytes& b) {
    const std::filesystem::path dir = out_dir() / target;
    std::filesystem::create_directories(dir);
    std::ofstream f(dir / ("seed-" + name), std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void write_seed(const std::string& target, const std::string& name, const std::string& s) {
    write_seed(target, name, Bytes(reinterpret_cast<const std::byte*>(s.data()),
                                   reinterpret_cast<const std::byte*>(s.data()) + s.size()));
}

void append(Bytes& to, const Bytes& b) { to.insert(to.end(), b.begin(), b.end()); }
Bytes pattern(std::size_t n, int seed) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::byte>((i * 31 + static_cast<std::size_t>(seed)) & 0xff);
    return b;
}

}  // namespace iscsilab::fuzz::seeds

int main(int argc, char** argv) {
    using namespace iscsilab::fuzz::seeds;
    if (argc != 3) {
        std::cerr << "usage: fuzz_seeds SOURCE_DIR OUT_DIR\n";
        return 2;
    }
    out_dir() = argv[2];
    framer_seeds();
    login_seeds();
    cdb_seeds();
    conf_seeds(argv[1]);
    std::cout << "seeds written under " << out_dir() << "\n";
    return 0;
}
