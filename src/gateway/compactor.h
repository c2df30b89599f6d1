// Compactor: the gateway's side of the compaction of pack chunks (DESIGN.md
// §10; the master's side is master/master_compaction.cc). It asks the master
// for a mostly dead pack chunk, reads the chunk from a replica, checks the
// record of every live file it names (header, length and CRC32C: a record
// that does not check out is not copied, and the task is given up), writes
// those files as records of a new pack chunk through a replica pipeline, and
// commits the switch. Files replaced or deleted meanwhile are left alone by
// the master. Reads and writes are throttled to `rate_bytes` per second.
//
// Thread-safe; one background thread.
#ifndef CAIRN_GATEWAY_COMPACTOR_H_
#define CAIRN_GATEWAY_COMPACTOR_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/master_client.h"
#include "common/metrics.h"
#include "common/periodic_task.h"
#include "common/rate_limiter.h"
#include "gateway/chunk_io.h"
#include "proto/master.pb.h"

namespace cairn::gateway {

struct CompactorOptions {
  // How often the master is asked for work while it has none (0: never;
  // the background thread is not started).
  absl::Duration interval = absl::Seconds(30);
  uint64_t rate_bytes = 32 << 20;  // per second, read and written together; 0: unlimited
  int max_chunk_attempts = 3;      // pipelines tried for the new chunk
};

class Compactor {
 public:
  // `master`, `io` and `clock` (and `metrics`, if given) must outlive it.
  Compactor(MasterClient* master, ChunkIo* io, CompactorOptions options, Clock* clock,
            Metrics* metrics = nullptr);
  ~Compactor();

  // Starts the background loop: tasks back to back while the master has
  // them, then one ask per interval.
  void Start();

  // Asks for one task and carries it out. False if the master had none.
  absl::StatusOr<bool> RunOnce();

 private:
  // Copies the live files of `task` into a new pack chunk and commits.
  absl::Status Compact(const CompactionTask& task);
  // Throttles `bytes` of I/O; false once stopping.
  bool Throttle(uint64_t bytes);

  MasterClient* const master_;
  ChunkIo* const io_;
  const CompactorOptions options_;
  Metrics* const metrics_;
  RateLimiter limiter_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  PeriodicTask task_;  // declared last: stopped before the rest goes
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_COMPACTOR_H_
