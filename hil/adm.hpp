// `iscsilab adm`: the management tree of a running `iscsilab serve`, over a unix socket.
// Request: "<count>\n" then each argument as "<length>:<bytes>\n". Response: "ok\n" or
// "error\n", then the payload until the server closes.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "target/mgmt/tree.hpp"

namespace iscsilab::hil {

std::string default_socket_path();

class AdmServer {
public:
    AdmServer(const std::string& path, mgmt::MgmtTree& tree, mgmt::StoreFactory& stores);
    ~AdmServer();
    const std::string& path() const { return path_; }

private:
    void run();
    std::string handle(const std::vector<std::string>& args, bool& ok);
    std::string path_;
    mgmt::MgmtTree& tree_;
    mgmt::StoreFactory& stores_;
    int fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    std::thread thread_;
};

// The client. Returns the process exit code.
int adm_main(const std::string& socket_path, const std::vector<std::string>& args);

}  // namespace iscsilab::hil
