// The attacks of hostile_tool, one function per mode. Each runs for opt.seconds, prints
// its counts, a line "did: ..." (what the target did, in short) and a line
// "summary: MODE: ...", and returns 0 when it ran (whatever the target did), 1 when it
// could not run at all.
#pragma once

#include <csignal>

#include "wire.hpp"

namespace hostile {

// Set by SIGINT/SIGTERM: every mode stops at its next turn and reports.
extern volatile std::sig_atomic_t g_stop;
inline bool time_left(Clock::time_point start, double seconds) {
    return !g_stop && seconds_since(start) < seconds;
}

// login_attacks.cpp: connections that never become useful sessions, and too many sessions.
int slow_login(const Options& opt);
int abandon(const Options& opt);
int many_sessions(const Options& opt);

// session_attacks.cpp: logged-in sessions that misbehave.
int write_no_data(const Options& opt);
int write_partial_data(const Options& opt);
int cmdsn_flood(const Options& opt);
int text_no_finish(const Options& opt);
int nop_flood(const Options& opt);

// A list of durations as "min-max s (median m)", or "-" when empty.
std::string spread(std::vector<double> v);

}  // namespace hostile
