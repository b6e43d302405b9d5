// An attacking iSCSI initiator on raw TCP sockets, for tests/hostile/hostile.sh: each
// mode misbehaves in one way for a given number of seconds, prints what it did and what
// the target did (counts), and ends with one line "summary: MODE: ...".
//
//   hostile_tool MODE --portal HOST:PORT --target IQN [--seconds S] [--count N]
//                [--initiator NAME] [--expect-close S] [--block-size B]
//
// Modes: slow-login, abandon, write-no-data, write-partial-data, cmdsn-flood,
// text-no-finish, nop-flood, many-sessions (what each does is said above its function in
// login_attacks.cpp and session_attacks.cpp). --expect-close S: a connection the target
// should have ended (login timeout, RspTimeout, a half-close) and still holds S seconds
// later is counted "overdue". Before the summary, a line "did: ..." says in short what
// the target did. Exit status: 0 when the mode ran, whatever the target did; 1 when it could
// not run (no session logged in); 2 on bad usage.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>

#include "modes.hpp"

namespace hostile {
volatile std::sig_atomic_t g_stop = 0;
}

namespace {

void on_signal(int) { hostile::g_stop = 1; }

int usage() {
    std::fprintf(stderr,
                 "usage: hostile_tool MODE --portal HOST:PORT --target IQN [--seconds S] [--count N]\n"
                 "                    [--initiator NAME] [--expect-close S] [--block-size B]\n"
                 "modes: slow-login abandon write-no-data write-partial-data cmdsn-flood text-no-finish\n"
                 "       nop-flood many-sessions\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace hostile;
    static const std::map<std::string, std::function<int(const Options&)>> modes = {
        {"slow-login", slow_login},         {"abandon", abandon},
        {"write-no-data", write_no_data},   {"write-partial-data", write_partial_data},
        {"cmdsn-flood", cmdsn_flood},       {"text-no-finish", text_no_finish},
        {"nop-flood", nop_flood},           {"many-sessions", many_sessions},
    };
    if (argc < 2) return usage();
    const std::string mode = argv[1];
    auto it = modes.find(mode);
    if (it == modes.end()) return usage();
    Options opt;
    opt.initiator = "iqn.2026-11.org.iscsilab:hostile-" + mode;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage();
        const std::string v = argv[++i];
        if (a == "--portal") {
            const auto colon = v.rfind(':');
            if (colon == std::string::npos) return usage();
            opt.host = v.substr(0, colon);
            opt.port = static_cast<std::uint16_t>(std::strtoul(v.c_str() + colon + 1, nullptr, 10));
        } else if (a == "--target") {
            opt.target = v;
        } else if (a == "--seconds") {
            opt.seconds = std::strtod(v.c_str(), nullptr);
        } else if (a == "--count") {
            opt.count = std::atoi(v.c_str());
        } else if (a == "--initiator") {
            opt.initiator = v;
        } else if (a == "--expect-close") {
            opt.expect_close = std::strtod(v.c_str(), nullptr);
        } else if (a == "--block-size") {
            opt.block_size = static_cast<std::uint32_t>(std::strtoul(v.c_str(), nullptr, 0));
        } else {
            return usage();
        }
    }
    if (opt.target.empty() || opt.port == 0 || opt.seconds <= 0 || opt.block_size == 0) return usage();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::printf("%s: %s:%u %s for %.1f s as %s\n", mode.c_str(), opt.host.c_str(), opt.port, opt.target.c_str(),
                opt.seconds, opt.initiator.c_str());
    return it->second(opt);
}
