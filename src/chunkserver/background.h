// Background work of a chunkserver, each a small class with Start()/Stop()
// over the injected Clock:
//  - RepairWorker carries out the master's copy commands (re-replication and
//    rebalancing) off the heartbeat thread, within a bandwidth budget.
//  - Scrubber re-reads and verifies every replica at a bounded rate; a
//    corrupt one is set aside by the store and reported in the next heartbeat.
#ifndef CAIRN_CHUNKSERVER_BACKGROUND_H_
#define CAIRN_CHUNKSERVER_BACKGROUND_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chunkserver/chunk_store.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/net.h"
#include "common/periodic_task.h"
#include "common/rate_limiter.h"
#include "proto/chunkserver.grpc.pb.h"
#include "proto/master.pb.h"

namespace cairn::chunkserver {

class RepairWorker {
 public:
  // `bytes_per_second` 0: unthrottled. Pointers must outlive the worker.
  RepairWorker(ChunkStore* store, StubCache<cairn::Chunkserver>* peers, Clock* clock,
               Metrics* metrics, uint64_t bytes_per_second, int threads = 2);
  ~RepairWorker();
  // Queues a copy; copies of a chunk already queued or stored are skipped.
  void Enqueue(const ReplicateCommand& cmd);
  // Called after each successful copy (set before Start()).
  void OnCopied(std::function<void()> fn) { on_copied_ = std::move(fn); }
  void Start();
  void Stop();

 private:
  void Run();

  ChunkStore* const store_;
  StubCache<cairn::Chunkserver>* const peers_;
  Metrics* const metrics_;
  RateLimiter limiter_;
  const int threads_;
  std::function<void()> on_copied_;
  absl::Mutex mu_;
  std::deque<ReplicateCommand> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

class Scrubber {
 public:
  // Verifies at most `bytes_per_second` (0: scrubbing off), a full pass and
  // then `pause` before the next. Pointers must outlive the scrubber.
  // ScrubOnce() may also be called directly (tests), started or not.
  Scrubber(ChunkStore* store, Clock* clock, Metrics* metrics, uint64_t bytes_per_second,
           absl::Duration pause = absl::Minutes(1));
  ~Scrubber();
  // One full pass over the replicas stored now. Returns how many were corrupt.
  int ScrubOnce();
  void Start();
  void Stop();

 private:
  ChunkStore* const store_;
  Metrics* const metrics_;
  const uint64_t rate_;
  RateLimiter limiter_;
  PeriodicTask task_;
};

}  // namespace cairn::chunkserver

#endif  // CAIRN_CHUNKSERVER_BACKGROUND_H_
