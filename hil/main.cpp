// iscsilab: the command-line program.
#include <CLI/CLI.hpp>

#include <iostream>

#include "hil/adm.hpp"
#include "hil/serve.hpp"

int main(int argc, char** argv) {
    CLI::App app{"iscsilab: a userspace iSCSI target (SCST-compatible configuration) and its testbed"};
    app.require_subcommand(1);

    iscsilab::hil::ServeOptions serve;
    auto* s = app.add_subcommand("serve", "serve iSCSI targets on real sockets");
    s->add_option("--listen", serve.listen, "HOST:PORT to listen on")->capture_default_str();
    s->add_option("-c,--config", serve.config_file, "scst.conf-format configuration (default: embedded)");
    s->add_option("--reactors", serve.reactors, "event loops (default: one per core)");
    s->add_option("--ready-file", serve.ready_file, "write HOST:PORT here once listening");
    s->add_flag("-q,--quiet", serve.quiet, "no event log on stderr");
    s->add_option("--mgmt-socket", serve.mgmt_socket, "unix socket for `iscsilab adm` (default: $ISCSILAB_SOCKET or /tmp/iscsilab.sock)");

    std::string socket;
    auto* adm = app.add_subcommand("adm", "the management tree of a running serve: ls [-R] [PATH], cat PATH, "
                                          "set PATH VALUE, mgmt PATH COMMAND..., save FILE, load FILE");
    adm->add_option("--socket", socket, "the serve's unix socket");
    adm->prefix_command();

    CLI11_PARSE(app, argc, argv);
    if (s->parsed()) return iscsilab::hil::serve(serve);
    if (adm->parsed())
        return iscsilab::hil::adm_main(socket.empty() ? iscsilab::hil::default_socket_path() : socket, adm->remaining());
    return 0;
}
