// Master: every metadata operation of the cluster in one place. The gRPC
// adapter (master_service.cc) and the HTTP status port only translate.
//
// Persistent state lives in MetadataStore; chunk locations, node liveness and
// uploads in progress live in memory and are rebuilt from chunkserver reports
// after a restart (GFS). The Master owns one mutex and the parts it guards,
// each a plain class in its own file:
//   node_registry  chunkservers, their liveness and queued work
//   chunk_table    chunks and where their replicas are
//   upload_table   uploads in progress and their allocations
//   gc             what is garbage and when it may be deleted
//   safe_mode      waiting for replica reports after a start
//   repair         re-replication, surplus removal, draining (rebalance.cc)
//   placement      choosing nodes for a new chunk
// Synced metadata writes (MetadataStore) run outside the mutex, except the
// rare reservation of a block of chunk handles.
//
// Thread-safe.
#ifndef CAIRN_MASTER_MASTER_H_
#define CAIRN_MASTER_MASTER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/periodic_task.h"
#include "master/chunk_table.h"
#include "master/gc.h"
#include "master/metadata_store.h"
#include "master/node_registry.h"
#include "master/repair.h"
#include "master/safe_mode.h"
#include "master/upload_table.h"
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
  // Compaction (master_compaction.cc): a pack chunk whose live bytes fall
  // below this fraction of its size is rewritten (0: never). The metadata is
  // scanned for such chunks at most once per `compaction_interval`, and a
  // chunk handed to a gateway is not handed out again for `compaction_lease`.
  double compaction_threshold = 0.5;
  absl::Duration compaction_interval = absl::Minutes(1);
  absl::Duration compaction_lease = absl::Minutes(5);
};

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
  // Makes the file visible atomically (master_uploads.cc). InvalidArgument if
  // the chunk list does not match what was allocated (a chunk of another
  // upload or listed twice, a bad size, a replica on a node the chunk was not
  // placed on); Aborted if a commit of this upload is already under way;
  // errors of StartUpload re-checked.
  absl::StatusOr<Entry> CommitUpload(const CommitUploadRequest& req);
  absl::Status AbortUpload(uint64_t upload_id);

  // ---- packed small files (master_uploads.cc) ----
  // Starts the upload of one pack chunk, allocated at once (errors as
  // AllocateChunk). Its uploads_ entry has no path.
  absl::StatusOr<StartUploadReply> StartPack(const StartPackRequest& req);
  // Commits every file of a pack chunk in one synced metadata write; each
  // file is committed or refused on its own (results parallel to the files,
  // errors as CommitUpload's per file, InvalidArgument for a bad path or a
  // range outside the chunk). The call fails as a whole (InvalidArgument)
  // when the chunk is not the upload's or lacks replicas, NotFound for an
  // unknown upload, Aborted if already being committed.
  absl::StatusOr<CommitPackReply> CommitPack(const CommitPackRequest& req);

  // ---- compaction of pack chunks (master_compaction.cc, DESIGN.md §10) ----
  // A pack chunk to compact with the files it held at the last scan, leased
  // to the caller for `compaction_lease`; none while in safe mode, while
  // compaction is off, or when no chunk is below the threshold.
  absl::StatusOr<CompactionTaskReply> CompactionTask();
  // Switches the moved files that still have their old extent to the new
  // pack chunk, in one synced metadata write (MetadataStore::SwitchExtents),
  // and ends the lease. Errors as CommitPack's for the new chunk's upload.
  absl::StatusOr<CommitCompactionReply> CommitCompaction(const CommitCompactionRequest& req);

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
  Master(const MasterOptions& options, Clock* clock, std::unique_ptr<MetadataStore> store);
  absl::Status Load();
  void DescribeMetrics();
  // Ingests one replica a node reports: records it, completes a copy to the
  // node, or treats it as garbage.
  void AddReplicaLocked(Node& node, const ReplicaInfo& r, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a full or incremental report, and reported corruption.
  void IngestReportLocked(Node& node, const HeartbeatRequest& req, bool was_dead, absl::Time now,
                          HeartbeatReply* reply) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops an upload and collects its allocations no file took.
  void DropUploadLocked(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Checks a commit's chunk list against what the upload allocated.
  absl::Status CheckCommitLocked(const CommitUploadRequest& req, const Upload& upload) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Checks that `c` is a chunk `upload` allocated, durable on enough of the
  // nodes it was placed on. `what` names it in errors.
  // Registers an upload of `path` ("" for a pack) with `replication` (0:
  // the default) and, if `allocate_first`, allocates its first chunk,
  // charged `expected_size` if known (errors as AllocateChunk).
  absl::StatusOr<StartUploadReply> OpenUpload(const std::string& path, uint32_t replication,
                                              bool if_none_match, bool allocate_first,
                                              std::optional<uint64_t> expected_size);
  absl::Status CheckCommittedChunkLocked(const CommittedChunk& c, const Upload& upload,
                                         const std::string& what) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Starts the commit of pack upload `upload_id` with its chunk `c`: checks
  // both, marks the upload committing and makes the chunk locatable.
  // Returns the chunk's record (a pack chunk of the upload's replication).
  absl::StatusOr<ChunkRecord> BeginPackCommitLocked(uint64_t upload_id, const CommittedChunk& c)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends it: if the metadata write `stored` failed, the chunk is forgotten;
  // else the chunks it `released` go to GC. The upload is dropped.
  void EndPackCommitLocked(uint64_t upload_id, uint64_t handle, const absl::Status& stored,
                           const std::vector<uint64_t>& released)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills `locs` with the live replicas of `handle` for reading (Lookup's order).
  void LocateLocked(uint64_t handle, absl::Time now, ChunkLocations* locs) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> NextHandleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool GcAllowedLocked(absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  RepairGate GateLocked(absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  int64_t NowMs();

  // Constant after construction.
  const MasterOptions options_;
  Clock* const clock_;
  const std::unique_ptr<MetadataStore> store_;
  const absl::Time started_;
  Metrics metrics_;

  // The master's one lock. Its parts are plain classes that require it held.
  mutable absl::Mutex mu_;
  NodeRegistry nodes_ ABSL_GUARDED_BY(mu_);
  ChunkTable chunks_ ABSL_GUARDED_BY(mu_);
  UploadTable uploads_ ABSL_GUARDED_BY(mu_);
  GarbageCollector gc_ ABSL_GUARDED_BY(mu_);
  SafeMode safe_mode_ ABSL_GUARDED_BY(mu_);
  RepairScheduler repair_ ABSL_GUARDED_BY(mu_);
  // Chunk handles [next_handle_, handle_limit_) are reserved in the metadata
  // and not handed out yet.
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t handle_limit_ ABSL_GUARDED_BY(mu_) = 0;
  // Compaction: candidates of the last scan not handed out yet, the chunks
  // leased to gateways (until when), and what the cluster view reports.
  std::deque<MetadataStore::CompactionCandidate> compaction_queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, absl::Time> compaction_leases_ ABSL_GUARDED_BY(mu_);
  absl::Time last_compaction_scan_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool compaction_scanning_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t compaction_reclaimable_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t compactions_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t compaction_rewritten_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  PeriodicTask ticker_;  // declared last: stopped before the state it touches goes
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_MASTER_H_
