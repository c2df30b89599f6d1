// Master: every metadata operation of the cluster in one place. The gRPC
// adapter (master_service.cc) and the HTTP status port only translate.
//
// Persistent state lives in MetadataStore; chunk locations, node liveness and
// uploads in progress live in memory and are rebuilt from chunkserver reports
// after a restart (GFS). Until enough replicas are reported the master stays
// in safe mode: it serves reads and writes but deletes no replica.
//
// Thread-safe.
#ifndef CAIRN_MASTER_MASTER_H_
#define CAIRN_MASTER_MASTER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/periodic_task.h"
#include "master/metadata_store.h"
#include "proto/master.pb.h"

namespace cairn::master {

struct MasterOptions {
  std::string root_dir;
  uint64_t chunk_size = 64 << 20;
  uint32_t replication = 3;
  absl::Duration stale_after = absl::Seconds(6);
  absl::Duration dead_after = absl::Seconds(30);
  // Safe mode ends when this fraction of chunks has a reported replica, or
  // after `dead_after` at the latest.
  double safe_mode_threshold = 0.999;
  // An upload with no activity for this long is aborted.
  absl::Duration upload_timeout = absl::Hours(1);
  // Replicas of deleted or replaced files are kept this long before deletion,
  // so downloads already under way finish.
  absl::Duration gc_grace = absl::Seconds(30);
  // Re-replication and rebalancing: chunk copies in flight in the whole
  // cluster and per node (as source or target), and how long one may take.
  int repair_concurrency = 8;
  int repair_per_node = 2;
  absl::Duration repair_timeout = absl::Minutes(2);
  // Rebalance when the utilization of live nodes differs by more than this.
  double rebalance_threshold = 0.10;
};

enum class NodeState { kAlive, kStale, kDead };

// Repair and rebalancing counters, for the cluster view and metrics.
struct RepairStats {
  uint64_t under_replicated = 0;  // chunks with fewer live replicas than wanted
  uint64_t queued = 0;            // of those, not being copied yet
  uint64_t in_flight = 0;         // copies under way (repairs and moves)
  uint64_t repaired = 0;          // copies completed since start
  uint64_t moves = 0;             // rebalancing copies started since start
  uint64_t excess_removed = 0;    // surplus replicas deleted since start
};
const char* NodeStateName(NodeState s);

class Master {
 public:
  // Opens the metadata under options.root_dir. `clock` must outlive the Master.
  static absl::StatusOr<std::unique_ptr<Master>> Open(const MasterOptions& options, Clock* clock);
  ~Master();

  // ---- chunkservers ----
  absl::StatusOr<RegisterReply> Register(const RegisterRequest& req);
  // NotFound is never returned for an unknown node: the reply asks it to re-register.
  absl::StatusOr<HeartbeatReply> Heartbeat(const HeartbeatRequest& req);
  absl::Status ReportCorrupt(const ReportCorruptRequest& req);

  // ---- namespace; errors as MetadataStore's, InvalidArgument for bad paths ----
  absl::StatusOr<Entry> Mkdir(const std::string& path);
  absl::Status Rename(const std::string& source, const std::string& target);
  absl::StatusOr<DeleteReply> Delete(const std::string& path, bool recursive);
  absl::StatusOr<ListReply> List(const ListRequest& req);
  // The entry and, for a file, each chunk's live replicas (alive nodes first).
  absl::StatusOr<LookupReply> Lookup(const std::string& path);
  absl::StatusOr<UsageReply> Usage(const std::string& path);

  // ---- uploads ----
  // Checks the path could take a file (AlreadyExists: a directory is there or
  // a file is in the way; FailedPrecondition: exists and if_none_match).
  absl::StatusOr<StartUploadReply> StartUpload(const StartUploadRequest& req);
  // Places chunk `index` of an upload. NotFound: no such upload (expired, or
  // the master restarted); Unavailable: fewer live nodes than the replication;
  // ResourceExhausted: not enough nodes with free space.
  absl::StatusOr<AllocateChunkReply> AllocateChunk(const AllocateChunkRequest& req);
  // Makes the file visible atomically. InvalidArgument if the chunk list does
  // not match what was allocated; errors of StartUpload re-checked.
  absl::StatusOr<Entry> CommitUpload(const CommitUploadRequest& req);
  absl::Status AbortUpload(uint64_t upload_id);

  ClusterReply Cluster();
  bool InSafeMode();
  RepairStats Repairs();

  // Marks a node draining: no new chunks go there and its replicas are copied
  // elsewhere; the cluster view shows it "drained" once none is needed.
  // NotFound for an unknown node.
  absl::Status Drain(uint64_t node_id);

  // Writes a RocksDB checkpoint to `dir` and pauses replica deletion for
  // `gc_pause`, so a backup of the chunkserver volumes taken next holds every
  // chunk the checkpoint references.
  absl::Status Checkpoint(const std::string& dir, absl::Duration gc_pause);
  void ResumeGc();

  // Periodic maintenance: node states, safe mode exit, upload expiry,
  // under-replication accounting. Start() runs it every second on the clock.
  void Tick();
  void Start();
  void Stop();

  Metrics* metrics() { return &metrics_; }
  const MasterOptions& options() const { return options_; }

 private:
  struct Node {
    uint64_t id = 0;
    std::string address;
    std::string zone;
    absl::Time last_heartbeat;  // InfinitePast: never since registering
    uint64_t capacity = 0;
    uint64_t free = 0;
    uint64_t used = 0;
    uint64_t chunk_count = 0;
    uint32_t recent = 0;  // chunks placed since the last heartbeat
    bool reported = false;  // sent a full report since the master started
    bool draining = false;
    bool drained = false;   // draining, and no chunk needs its replicas any more
    int copies_in = 0;      // repairs targeting this node in flight
    int copies_out = 0;     // repairs reading from this node in flight
    std::vector<ReplicaInfo> deletes;  // garbage to send in the next reply
    std::vector<ReplicateCommand> replicate;  // copies to send in the next reply
  };
  struct Chunk {
    uint64_t version = 0;
    uint64_t size = 0;
    uint32_t crc32c = 0;
    uint32_t replication = 0;
    absl::InlinedVector<uint32_t, 3> nodes;  // reported or acknowledged replicas
  };
  struct Copy {
    uint64_t source = 0;
    uint64_t target = 0;
    absl::Time deadline;
  };
  struct Allocation {
    uint64_t handle = 0;
    std::vector<uint64_t> nodes;
  };
  // Replicas of a chunk no file references any more, deleted once `due`.
  struct Doomed {
    absl::Time due;
    ReplicaInfo replica;
    absl::InlinedVector<uint32_t, 3> nodes;
  };
  struct Upload {
    std::string path;
    uint32_t replication = 0;
    bool if_none_match = false;
    absl::Time last_activity;
    std::vector<Allocation> allocations;
  };

  Master(const MasterOptions& options, Clock* clock, std::unique_ptr<MetadataStore> store);
  absl::Status Load();
  NodeState StateLocked(const Node& n, absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool GcAllowedLocked(absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Forgets `chunks` and schedules their replicas for deletion after gc_grace.
  void ForgetChunksLocked(const std::vector<ChunkRef>& chunks) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropUploadLocked(uint64_t id, bool delete_replicas) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddReplicaLocked(Node& node, const ReplicaInfo& r, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveReplicaLocked(uint64_t node_id, uint64_t handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  NodeAddress AddressLocked(uint64_t node_id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> NextHandleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t NowMs();
  // repair.cc: re-replication, surplus removal, draining and rebalancing.
  void ScheduleRepairsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleRebalanceLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts copying `handle` from `source` to `target`.
  void StartCopyLocked(uint64_t handle, const Chunk& chunk, uint64_t source, uint64_t target,
                       absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishCopyLocked(uint64_t handle, uint64_t node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a node's replicas count towards a chunk's replication.
  bool CountsLocked(uint32_t node, absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const MasterOptions options_;
  Clock* const clock_;
  const std::unique_ptr<MetadataStore> store_;
  const absl::Time started_;
  Metrics metrics_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Node> nodes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_node_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Chunk> chunks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Upload> uploads_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, uint64_t> pending_ ABSL_GUARDED_BY(mu_);  // handle -> upload
  uint64_t next_upload_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t handle_limit_ ABSL_GUARDED_BY(mu_) = 0;
  bool safe_mode_ ABSL_GUARDED_BY(mu_) = true;
  absl::Time gc_paused_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::deque<Doomed> doomed_ ABSL_GUARDED_BY(mu_);  // in order of `due`
  absl::flat_hash_map<uint64_t, Copy> copies_ ABSL_GUARDED_BY(mu_);  // handle -> copy in flight
  RepairStats repair_stats_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint64_t> doomed_handles_ ABSL_GUARDED_BY(mu_);
  PeriodicTask ticker_;  // declared last: stopped before the state it touches goes
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_MASTER_H_
