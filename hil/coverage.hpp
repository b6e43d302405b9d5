// In a coverage build (-DISCSILAB_COVERAGE=ON) a process writes its gcov counters at
// exit; a worker that leaves by _exit, or a report that runs gcovr before exiting,
// writes them now.
#pragma once

#if defined(ISCSILAB_COVERAGE)
extern "C" void __gcov_dump(void);
#endif

namespace iscsilab::hil {

inline void flush_coverage() {
#if defined(ISCSILAB_COVERAGE)
    __gcov_dump();
#endif
}

}  // namespace iscsilab::hil
