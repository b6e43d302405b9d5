// Child processes for the stages that run other programs (serve, iscsi-test-cu, dumpcap,
// gcovr, unit test binaries): start one with its output in a log file, stop or wait.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace iscsilab::hil {

// Starts argv[0] (looked up in PATH) with the rest as arguments; stdout and stderr go
// to `log`. Returns the child's pid (-1 if fork failed; an exec failure exits 127).
pid_t spawn(const std::vector<std::string>& argv, const std::string& log);

// Sends `sig` first (0: none), then waits: the exit status, or 128 + the signal.
int finish(pid_t pid, int sig = 0);

// spawn + finish.
int run_command(const std::vector<std::string>& argv, const std::string& log);

// A whole file as text ("" if it cannot be read).
std::string slurp(const std::string& path);

}  // namespace iscsilab::hil
