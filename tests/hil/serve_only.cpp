// The real runtime on its own: `serve` and `adm`, linked against iscsilab_runtime and
// nothing of the simulation. tests/hil/runtime_links_no_sim.sh reads this program's
// dynamic libraries and symbols.
//
// No sc_main here, on purpose: libsystemc.so defines main and wants an sc_main
// (TOOLCHAIN.md), so once this program needs libsystemc.so (a runtime file that uses
// SystemC, or any SystemC linked in a sanitizer build, where GCC drops --as-needed) it
// stops linking: "undefined reference to `sc_main'". The script finds the other ways.
//
//     serve_only [HOST:PORT [CONFIG [STATE_DIR]]]
//     serve_only adm [--socket PATH] ARGS...
#include <string>
#include <vector>

#include "hil/adm.hpp"
#include "hil/serve.hpp"

int main(int argc, char** argv) {
    using namespace iscsilab::hil;
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "adm") {
        std::string socket = default_socket_path();
        std::vector<std::string> rest(args.begin() + 1, args.end());
        if (rest.size() >= 2 && rest[0] == "--socket") {
            socket = rest[1];
            rest.erase(rest.begin(), rest.begin() + 2);
        }
        return adm_main(socket, rest);
    }
    ServeOptions opt;
    if (args.size() > 0) opt.listen = args[0];
    if (args.size() > 1) opt.config_file = args[1];
    if (args.size() > 2) opt.state_dir = args[2];
    return serve(opt);
}
