#include "master/master.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/container/flat_hash_set.h"
#include "common/check.h"
#include "common/logging.h"
#include "common/path.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::master {
namespace {

constexpr size_t kDefaultListLimit = 1000;
constexpr size_t kMaxListLimit = 10000;

RepairOptions RepairOptionsOf(const MasterOptions& o) {
  RepairOptions r;
  r.concurrency = o.repair_concurrency;
  r.per_node = o.repair_per_node;
  r.timeout = o.repair_timeout;
  r.rebalance_threshold = o.rebalance_threshold;
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Master>> Master::Open(const MasterOptions& options, Clock* clock) {
  if (options.chunk_size == 0) return absl::InvalidArgumentError("chunk_size must be positive");
  if (options.replication == 0) return absl::InvalidArgumentError("replication must be positive");
  if (options.dead_after <= options.stale_after) {
    return absl::InvalidArgumentError("dead_after must exceed stale_after");
  }
  if (!(options.compaction_threshold >= 0 && options.compaction_threshold < 1)) {
    return absl::InvalidArgumentError("compaction_threshold must be at least 0 and below 1");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.root_dir, ec);
  if (ec) {
    return absl::InternalError(
        cairn::StrCat("cannot create ", options.root_dir, ": ", ec.message()));
  }
  ASSIGN_OR_RETURN(auto store, MetadataStore::Open(options.root_dir + "/meta"));
  auto master = std::unique_ptr<Master>(new Master(options, clock, std::move(store)));
  RETURN_IF_ERROR(master->Load());
  return master;
}

Master::Master(const MasterOptions& options, Clock* clock, std::unique_ptr<MetadataStore> store)
    : options_(options),
      clock_(clock),
      store_(std::move(store)),
      started_(clock->Now()),
      nodes_(options.stale_after, options.dead_after),
      gc_(options.gc_grace),
      safe_mode_(options.safe_mode_threshold, options.dead_after, started_),
      repair_(RepairOptionsOf(options)),
      ticker_(clock, absl::Seconds(1), [this] { Tick(); }) {
  DescribeMetrics();
}

void Master::DescribeMetrics() {
  metrics_.Describe("cairn_master_rpcs_total", Metrics::Type::kCounter,
                    "Master RPCs handled, by method and status code.");
  metrics_.Describe("cairn_master_rpc_duration_seconds", Metrics::Type::kHistogram,
                    "Master RPC latency, by method.");
  for (const auto& [name, help] : std::vector<std::pair<const char*, const char*>>{
           {"cairn_master_repaired_chunks_total",
            "Chunk copies completed by re-replication or rebalancing."},
           {"cairn_master_rebalance_moves_total", "Rebalancing moves started."},
           {"cairn_master_excess_replicas_removed_total", "Surplus replicas deleted."},
           {"cairn_master_compactions_total", "Pack chunks whose live files were rewritten."},
           {"cairn_master_compaction_rewritten_bytes_total",
            "Bytes of the pack chunks compaction wrote."}}) {
    metrics_.Describe(name, Metrics::Type::kCounter, help);
  }
  for (const auto& [name, help] : std::vector<std::pair<const char*, const char*>>{
           {"cairn_master_chunks", "Chunks referenced by files."},
           {"cairn_master_under_replicated_chunks", "Chunks with fewer live replicas than wanted."},
           {"cairn_master_safe_mode",
            "1 while the master waits for replica reports after a start."},
           {"cairn_master_replication_queue_chunks",
            "Under-replicated chunks not being copied yet."},
           {"cairn_master_copies_in_flight", "Repair and rebalancing copies under way."},
           {"cairn_master_nodes", "Registered chunkservers, by state."},
           {"cairn_master_compaction_reclaimable_bytes",
            "Bytes of pack chunks that no file references, as of the last compaction scan."}}) {
    metrics_.Describe(name, Metrics::Type::kGauge, help);
  }
  metrics_.AddCollector([this](Metrics& m) {
    ClusterReply c = Cluster();
    m.Set("cairn_master_chunks", "", static_cast<double>(c.chunks()));
    m.Set("cairn_master_under_replicated_chunks", "", static_cast<double>(c.under_replicated()));
    m.Set("cairn_master_safe_mode", "", c.safe_mode() ? 1 : 0);
    m.Set("cairn_master_replication_queue_chunks", "", static_cast<double>(c.replication_queue()));
    m.Set("cairn_master_copies_in_flight", "", static_cast<double>(c.copies_in_flight()));
    m.Set("cairn_master_repaired_chunks_total", "", static_cast<double>(c.repaired_total()));
    m.Set("cairn_master_rebalance_moves_total", "", static_cast<double>(c.rebalance_moves_total()));
    m.Set("cairn_master_excess_replicas_removed_total", "",
          static_cast<double>(c.excess_removed_total()));
    m.Set("cairn_master_compactions_total", "", static_cast<double>(c.compactions_total()));
    m.Set("cairn_master_compaction_rewritten_bytes_total", "",
          static_cast<double>(c.compaction_rewritten_bytes_total()));
    m.Set("cairn_master_compaction_reclaimable_bytes", "",
          static_cast<double>(c.compaction_reclaimable_bytes()));
    std::map<std::string, int> states;
    for (const NodeStatus& n : c.nodes()) ++states[n.state()];
    for (const char* s : {"alive", "stale", "dead", "draining", "drained"}) {
      m.Set("cairn_master_nodes", cairn::StrCat("state=\"", s, "\""), states[s]);
    }
  });
}

Master::~Master() { Stop(); }

absl::Status Master::Load() {
  // Read without the lock (nothing else runs yet), applied under it.
  std::vector<std::pair<uint64_t, ChunkRecord>> chunks;
  std::vector<std::pair<uint64_t, NodeRecord>> nodes;
  RETURN_IF_ERROR(store_->ForEachChunk(
      [&](uint64_t handle, const ChunkRecord& rec) { chunks.emplace_back(handle, rec); }));
  RETURN_IF_ERROR(store_->ForEachNode(
      [&](uint64_t id, const NodeRecord& rec) { nodes.emplace_back(id, rec); }));
  absl::MutexLock lock(&mu_);
  for (const auto& [handle, rec] : chunks) chunks_.AddLoaded(handle, rec);
  // Not heard from since this start: stale at once, dead after dead_after.
  for (const auto& [id, rec] : nodes) nodes_.AddLoaded(id, rec, started_);
  safe_mode_.Begin(chunks_.size());
  spdlog::info("master loaded {} chunks, {} nodes; safe mode {}", chunks_.size(), nodes_.size(),
               safe_mode_.on() ? "on" : "off");
  return absl::OkStatus();
}

int64_t Master::NowMs() { return absl::ToUnixMillis(clock_->Now()); }

bool Master::GcAllowedLocked(absl::Time now) const { return gc_.Allowed(now, safe_mode_.on()); }

RepairGate Master::GateLocked(absl::Time now) const {
  return RepairGate{safe_mode_.on(), GcAllowedLocked(now)};
}

// ---------------------------------------------------------------- chunkservers

absl::StatusOr<RegisterReply> Master::Register(const RegisterRequest& req) {
  if (req.address().empty()) return absl::InvalidArgumentError("register: address is empty");
  // The chunk table keeps node ids in 32 bits; a larger one would alias
  // another node (and the next fresh id must fit too).
  if (req.node_id() >= UINT32_MAX) {
    return absl::InvalidArgumentError(cairn::StrCat("register: node id ", req.node_id(),
                                                    " is out of range (below ", UINT32_MAX, ")"));
  }
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = nodes_.AssignId(req.node_id());
  }
  // The synced write runs outside the lock (heartbeats and lookups go on);
  // the node enters the registry only once its record is durable.
  NodeRecord rec;
  rec.set_address(req.address());
  rec.set_zone(req.zone());
  RETURN_IF_ERROR(store_->PutNode(id, rec));
  {
    absl::MutexLock lock(&mu_);
    if (nodes_.Register(id, req.address(), req.zone())) {
      spdlog::info("node {} registered at {} (zone {})", id, req.address(), req.zone());
    }
  }
  RegisterReply reply;
  reply.set_node_id(id);
  return reply;
}

void Master::AddReplicaLocked(Node& node, const ReplicaInfo& r, absl::Time now) {
  if (chunks_.AddReplica(r.handle(), r.version(), static_cast<uint32_t>(node.id))) {
    repair_.FinishCopy(r.handle(), node.id, nodes_);
    return;
  }
  gc_.OnUnknownReplica(node, r, uploads_, GcAllowedLocked(now));
}

void Master::IngestReportLocked(Node& n, const HeartbeatRequest& req, bool was_dead, absl::Time now,
                                HeartbeatReply* reply) {
  const uint32_t id = static_cast<uint32_t>(n.id);
  if (req.full_report()) {
    absl::flat_hash_set<uint64_t> held;
    held.reserve(req.replicas_size());
    for (const ReplicaInfo& r : req.replicas()) {
      held.insert(r.handle());
      AddReplicaLocked(n, r, now);
    }
    chunks_.RetainReplicas(id, held);
    n.reported = true;
  } else {
    if (!n.reported || was_dead) reply->set_want_full_report(true);
    for (const ReplicaInfo& r : req.replicas()) AddReplicaLocked(n, r, now);
    for (const ReplicaInfo& r : req.removed()) chunks_.RemoveReplica(r.handle(), id);
  }
  for (const ReplicaInfo& r : req.corrupt()) {
    spdlog::warn("node {} reports corrupt replica of chunk {}", n.id, r.handle());
    chunks_.RemoveReplica(r.handle(), id);
    gc_.Condemn(n, r);
  }
}

absl::StatusOr<HeartbeatReply> Master::Heartbeat(const HeartbeatRequest& req) {
  HeartbeatReply reply;
  absl::MutexLock lock(&mu_);
  Node* n = nodes_.Find(req.node_id());
  if (n == nullptr) {
    reply.set_reregister(true);
    return reply;
  }
  absl::Time now = clock_->Now();
  const uint64_t repaired_before = repair_.stats().repaired;
  bool was_dead = nodes_.RecordHeartbeat(*n, req, now);
  IngestReportLocked(*n, req, was_dead, now, &reply);
  if (repair_.stats().repaired != repaired_before) {
    // Copies finished: hand out the next ones now (this reply included)
    // instead of at the next tick and heartbeat.
    repair_.ScheduleRepairs(now, GateLocked(now), nodes_, chunks_);
    repair_.ScheduleRebalance(now, GateLocked(now), nodes_, chunks_);
  }
  gc_.TakeDeletes(*n, GcAllowedLocked(now), &reply);
  for (ReplicateCommand& c : n->replicate) *reply.add_replicate() = std::move(c);
  n->replicate.clear();
  return reply;
}

absl::Status Master::ReportCorrupt(const ReportCorruptRequest& req) {
  absl::MutexLock lock(&mu_);
  Node* n = nodes_.Find(req.node_id());
  if (n == nullptr) return absl::NotFoundError(cairn::StrCat("unknown node ", req.node_id()));
  spdlog::warn("node {} reports corrupt replica of chunk {}", req.node_id(),
               req.replica().handle());
  chunks_.RemoveReplica(req.replica().handle(), static_cast<uint32_t>(n->id));
  gc_.Condemn(*n, req.replica());
  return absl::OkStatus();
}

// ------------------------------------------------------------------- namespace

absl::StatusOr<Entry> Master::Mkdir(const std::string& path) {
  RETURN_IF_ERROR(ValidatePath(path));
  return store_->Mkdir(path, NowMs());
}

absl::Status Master::Rename(const std::string& source, const std::string& target) {
  RETURN_IF_ERROR(ValidatePath(source));
  RETURN_IF_ERROR(ValidatePath(target));
  return store_->Rename(source, target, NowMs());
}

absl::StatusOr<DeleteReply> Master::Delete(const std::string& path, bool recursive) {
  RETURN_IF_ERROR(ValidatePath(path));
  std::vector<uint64_t> released;
  RETURN_IF_ERROR(store_->Delete(path, recursive, &released));
  absl::MutexLock lock(&mu_);
  gc_.Forget(released, chunks_, clock_->Now());
  return DeleteReply();
}

absl::StatusOr<ListReply> Master::List(const ListRequest& req) {
  RETURN_IF_ERROR(ValidatePath(req.path()));
  size_t limit =
      req.limit() == 0 ? kDefaultListLimit : std::min<size_t>(req.limit(), kMaxListLimit);
  ASSIGN_OR_RETURN(ListResult r,
                   store_->List(req.path(), req.recursive(), req.start_after(), limit));
  ListReply reply;
  for (Entry& e : r.entries) *reply.add_entries() = std::move(e);
  reply.set_truncated(r.truncated);
  return reply;
}

void Master::LocateLocked(uint64_t handle, absl::Time now, ChunkLocations* locs) const {
  const Chunk* chunk = chunks_.Find(handle);
  if (chunk == nullptr) return;
  locs->set_chunk_crc32c(chunk->crc32c);
  absl::InlinedVector<uint32_t, 3> alive, stale;
  for (uint32_t node : chunk->nodes) {
    NodeState s = nodes_.State(nodes_.Get(node), now);
    if (s == NodeState::kAlive) alive.push_back(node);
    if (s == NodeState::kStale) stale.push_back(node);
  }
  // Every chunk's readers start at a different holder (handles are
  // consecutive), so reads spread over the replicas instead of all going
  // to the node that placement happened to list first.
  if (!alive.empty()) {
    std::rotate(alive.begin(), alive.begin() + handle % alive.size(), alive.end());
  }
  for (uint32_t node : alive) *locs->add_replicas() = nodes_.Address(node);
  for (uint32_t node : stale) *locs->add_replicas() = nodes_.Address(node);
  locs->set_alive(static_cast<uint32_t>(alive.size()));
}

absl::StatusOr<LookupReply> Master::Lookup(const std::string& path) {
  RETURN_IF_ERROR(ValidatePath(path));
  LookupReply reply;
  // Held across the read of the entry, so a concurrent replace or delete
  // cannot forget the chunks of the entry read before they are resolved.
  absl::ReaderMutexLock lock(&mu_);
  ASSIGN_OR_RETURN(*reply.mutable_entry(), store_->Get(path));
  if (reply.entry().type() != Entry::FILE) return reply;
  absl::Time now = clock_->Now();
  for (const Extent& x : reply.entry().file().extents()) {
    LocateLocked(x.handle(), now, reply.add_locations());
  }
  return reply;
}

absl::StatusOr<UsageReply> Master::Usage(const std::string& path) {
  RETURN_IF_ERROR(ValidatePath(path));
  return store_->Usage(path);
}

// ----------------------------------------------------------------- cluster view

ClusterReply Master::Cluster() {
  ClusterReply reply;
  absl::ReaderMutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  for (uint64_t id : nodes_.SortedIds()) {
    const Node& n = nodes_.Get(id);
    NodeStatus* s = reply.add_nodes();
    s->set_id(id);
    s->set_address(n.address);
    s->set_zone(n.zone);
    NodeState state = nodes_.State(n, now);
    s->set_state(n.draining && state != NodeState::kDead ? (n.drained ? "drained" : "draining")
                                                         : NodeStateName(state));
    s->set_capacity_bytes(n.used + n.free);
    s->set_free_bytes(n.free);
    s->set_used_bytes(n.used);
    s->set_chunk_count(n.chunk_count);
    s->set_last_heartbeat_ms_ago(n.last_heartbeat == absl::InfinitePast()
                                     ? -1
                                     : absl::ToInt64Milliseconds(now - n.last_heartbeat));
  }
  const RepairStats& stats = repair_.stats();
  reply.set_chunks(chunks_.size());
  reply.set_under_replicated(stats.under_replicated);
  reply.set_replication_queue(stats.queued);
  reply.set_copies_in_flight(stats.in_flight);
  reply.set_repaired_total(stats.repaired);
  reply.set_rebalance_moves_total(stats.moves);
  reply.set_excess_removed_total(stats.excess_removed);
  reply.set_safe_mode(safe_mode_.on());
  reply.set_chunk_size(options_.chunk_size);
  reply.set_replication(options_.replication);
  reply.set_compaction_reclaimable_bytes(compaction_reclaimable_);
  reply.set_compactions_total(compactions_);
  reply.set_compaction_rewritten_bytes_total(compaction_rewritten_bytes_);
  return reply;
}

RepairStats Master::Repairs() {
  absl::ReaderMutexLock lock(&mu_);
  return repair_.stats();
}

absl::Status Master::Drain(uint64_t node_id) {
  absl::MutexLock lock(&mu_);
  Node* n = nodes_.Find(node_id);
  if (n == nullptr) return absl::NotFoundError(cairn::StrCat("no node ", node_id));
  if (!n->draining) spdlog::info("draining node {} ({})", node_id, n->address);
  n->draining = true;
  return absl::OkStatus();
}

bool Master::InSafeMode() {
  absl::ReaderMutexLock lock(&mu_);
  return safe_mode_.on();
}

absl::Status Master::Checkpoint(const std::string& dir, absl::Duration gc_pause) {
  {
    absl::MutexLock lock(&mu_);
    // Garbage already queued was decided before the checkpoint; it waits too.
    gc_.Pause(clock_->Now() + gc_pause);
  }
  return store_->Checkpoint(dir);
}

void Master::ResumeGc() {
  absl::MutexLock lock(&mu_);
  gc_.Resume();
}

// ------------------------------------------------------------------ maintenance

void Master::Tick() {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  // Dead nodes hold no replicas we count on.
  uint64_t with_replica = chunks_.DropNodes(nodes_.MarkDead(now));
  safe_mode_.Update(with_replica, chunks_.size(), now);
  repair_.ScheduleRepairs(now, GateLocked(now), nodes_, chunks_);
  repair_.ScheduleRebalance(now, GateLocked(now), nodes_, chunks_);
  gc_.Collect(now, GcAllowedLocked(now), nodes_);
  for (uint64_t id : uploads_.Idle(now, options_.upload_timeout)) {
    spdlog::warn("upload {} of {} expired", id, uploads_.Find(id)->path);
    DropUploadLocked(id);
  }
}

void Master::Start() { ticker_.Start(); }

void Master::Stop() { ticker_.Stop(); }

}  // namespace cairn::master
