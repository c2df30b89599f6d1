// Heartbeat: registers the chunkserver with the master (keeping the assigned
// node id in <root>/node_id, so identity follows the volume), then reports
// capacity, usage and replica changes every interval: a full report first and
// every `full_report_every` beats, incremental changes in between. Carries
// out the master's replies: deletes garbage, copies chunks for repair.
#ifndef CAIRN_CHUNKSERVER_HEARTBEAT_H_
#define CAIRN_CHUNKSERVER_HEARTBEAT_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "chunkserver/chunk_store.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "common/master_client.h"
#include "common/metrics.h"
#include "common/periodic_task.h"
#include "proto/master.pb.h"

namespace cairn::chunkserver {

struct HeartbeatOptions {
  std::string advertise;  // our gRPC address as others reach it
  std::string zone;
  absl::Duration interval = absl::Seconds(2);
  int full_report_every = 30;
  // Bytes this node may use (0: the whole file system). Reported capacity and
  // free space are capped by it, so nodes sharing a disk can still be balanced.
  uint64_t capacity_limit = 0;
  // Receives the master's copy commands (re-replication, rebalancing).
  std::function<void(const ReplicateCommand&)> on_replicate;
};

class Heartbeat {
 public:
  // `master`, `fs`, `store`, `clock` and `metrics` are borrowed and must
  // outlive this object.
  Heartbeat(const HeartbeatOptions& options, MasterClient* master, FileSystem* fs,
            ChunkStore* store, Clock* clock, Metrics* metrics);
  ~Heartbeat();

  // One beat: registers if needed, reports, applies the reply. Returns the
  // master call's error (Unavailable, DeadlineExceeded, ...) or DataLoss for
  // an unreadable <root>/node_id. Not to be called concurrently with itself
  // (the thread of Start() calls it).
  absl::Status BeatOnce();
  // Beats every interval on a thread until Stop().
  void Start();
  void Stop();
  // Sends the next heartbeat now rather than at the end of the interval (a
  // repair copy finished: the master frees its slot and sends the next one).
  void BeatSoon() { task_.RunSoon(); }

  uint64_t node_id() const;
  // OK once registered and the last beat reached the master.
  absl::Status Healthy() const;

 private:
  absl::Status EnsureRegistered();
  void Apply(const HeartbeatReply& reply);

  // Constant after construction.
  const HeartbeatOptions options_;
  MasterClient* const master_;
  FileSystem* const fs_;
  ChunkStore* const store_;
  Metrics* const metrics_;

  mutable absl::Mutex mu_;
  uint64_t node_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool id_persisted_ ABSL_GUARDED_BY(mu_) = false;  // node_id_ is in <root>/node_id
  absl::Status last_ ABSL_GUARDED_BY(mu_) = absl::UnavailableError("no heartbeat yet");
  int beats_ ABSL_GUARDED_BY(mu_) = 0;
  bool want_full_ ABSL_GUARDED_BY(mu_) = true;
  // Corrupt replicas taken from the store whose report the master has not
  // accepted yet (a failed beat, or a reply asking us to register again). A
  // full report lists replicas held, not corrupt ones, so these are kept.
  std::vector<ReplicaInfo> unreported_corrupt_ ABSL_GUARDED_BY(mu_);
  PeriodicTask task_;
};

}  // namespace cairn::chunkserver

#endif  // CAIRN_CHUNKSERVER_HEARTBEAT_H_
