// Process-wide settings every Cairn daemon applies at the start of main().
#ifndef CAIRN_COMMON_PROCESS_H_
#define CAIRN_COMMON_PROCESS_H_

#include <malloc.h>
#include <sys/resource.h>

#include "absl/synchronization/mutex.h"

namespace cairn {

inline void TuneDaemonProcess() {
  // Debian's Abseil checks every lock order even in release builds; that costs
  // time on every lock. Thread-safety annotations and the tests cover lock order.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // The data path allocates and frees 1 MiB buffers (gRPC messages) all the
  // time. With glibc's defaults the freed memory goes back to the kernel and
  // the next buffer page-faults it in again, zeroed: a fifth of the gateway's
  // CPU during a download (bench/results, clear_page_erms). Keep buffers below
  // 32 MiB in the heap and trim a heap only when 64 MiB at its top are free.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // A gateway holds a descriptor per client connection: allow as many as the
  // hard limit does (often 1024 soft against 1M hard).
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

}  // namespace cairn

#endif  // CAIRN_COMMON_PROCESS_H_
