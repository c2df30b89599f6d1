#include "master/master.h"

#include <algorithm>
#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "common/strings.h"
#include "common/path.h"
#include "common/status.h"
#include "master/placement.h"
#include "common/logging.h"

namespace cairn::master {
namespace {

constexpr uint64_t kHandleBlock = 1 << 16;
constexpr size_t kDefaultListLimit = 1000;
constexpr size_t kMaxListLimit = 10000;

}  // namespace

const char* NodeStateName(NodeState s) {
  switch (s) {
    case NodeState::kAlive:
      return "alive";
    case NodeState::kStale:
      return "stale";
    case NodeState::kDead:
      return "dead";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Master>> Master::Open(const MasterOptions& options, Clock* clock) {
  if (options.chunk_size == 0) return absl::InvalidArgumentError("chunk_size must be positive");
  if (options.replication == 0) return absl::InvalidArgumentError("replication must be positive");
  std::error_code ec;
  std::filesystem::create_directories(options.root_dir, ec);
  if (ec) {
    return absl::InternalError(cairn::StrCat("cannot create ", options.root_dir, ": ", ec.message()));
  }
  ASSIGN_OR_RETURN(auto store, MetadataStore::Open(options.root_dir + "/meta"));
  auto master = std::unique_ptr<Master>(new Master(options, clock, std::move(store)));
  RETURN_IF_ERROR(master->Load());
  return master;
}

Master::Master(const MasterOptions& options, Clock* clock, std::unique_ptr<MetadataStore> store)
    : options_(options), clock_(clock), store_(std::move(store)), started_(clock->Now()),
      ticker_(clock, absl::Seconds(1), [this] { Tick(); }) {
  metrics_.Describe("cairn_master_rpcs_total", Metrics::Type::kCounter,
                    "Master RPCs handled, by method and status code.");
  metrics_.Describe("cairn_master_rpc_duration_seconds", Metrics::Type::kHistogram,
                    "Master RPC latency, by method.");
  for (const auto& [name, help] : std::vector<std::pair<const char*, const char*>>{
           {"cairn_master_repaired_chunks_total", "Chunk copies completed by re-replication or rebalancing."},
           {"cairn_master_rebalance_moves_total", "Rebalancing moves started."},
           {"cairn_master_excess_replicas_removed_total", "Surplus replicas deleted."}}) {
    metrics_.Describe(name, Metrics::Type::kCounter, help);
  }
  for (const auto& [name, help] : std::vector<std::pair<const char*, const char*>>{
           {"cairn_master_chunks", "Chunks referenced by files."},
           {"cairn_master_under_replicated_chunks", "Chunks with fewer live replicas than wanted."},
           {"cairn_master_safe_mode", "1 while the master waits for replica reports after a start."},
           {"cairn_master_replication_queue_chunks", "Under-replicated chunks not being copied yet."},
           {"cairn_master_copies_in_flight", "Repair and rebalancing copies under way."},
           {"cairn_master_nodes", "Registered chunkservers, by state."}}) {
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
    std::map<std::string, int> states;
    for (const NodeStatus& n : c.nodes()) ++states[n.state()];
    for (const char* s : {"alive", "stale", "dead", "draining", "drained"}) {
      m.Set("cairn_master_nodes", cairn::StrCat("state=\"", s, "\""), states[s]);
    }
  });
}

Master::~Master() { Stop(); }

absl::Status Master::Load() {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(store_->ForEachChunk([&](uint64_t handle, const ChunkRecord& rec) {
    Chunk& c = chunks_[handle];
    c.version = rec.version();
    c.size = rec.size();
    c.crc32c = rec.crc32c();
    c.replication = rec.replication();
  }));
  RETURN_IF_ERROR(store_->ForEachNode([&](uint64_t id, const NodeRecord& rec) {
    Node& n = nodes_[id];
    n.id = id;
    n.address = rec.address();
    n.zone = rec.zone();
    // Not heard from since this start: stale at once, dead after dead_after.
    n.last_heartbeat = started_ - options_.stale_after;
    next_node_id_ = std::max(next_node_id_, id + 1);
  }));
  safe_mode_ = !chunks_.empty();
  spdlog::info("master loaded {} chunks, {} nodes; safe mode {}", chunks_.size(), nodes_.size(),
               safe_mode_ ? "on" : "off");
  return absl::OkStatus();
}

int64_t Master::NowMs() { return absl::ToUnixMillis(clock_->Now()); }

NodeState Master::StateLocked(const Node& n, absl::Time now) const {
  absl::Duration silence = now - n.last_heartbeat;
  if (silence >= options_.dead_after) return NodeState::kDead;
  if (silence >= options_.stale_after) return NodeState::kStale;
  return NodeState::kAlive;
}

bool Master::GcAllowedLocked(absl::Time now) const { return !safe_mode_ && now >= gc_paused_until_; }

NodeAddress Master::AddressLocked(uint64_t node_id) const {
  NodeAddress a;
  a.set_node_id(node_id);
  if (auto it = nodes_.find(node_id); it != nodes_.end()) {
    a.set_address(it->second.address);
    a.set_zone(it->second.zone);
  }
  return a;
}

// ---------------------------------------------------------------- chunkservers

absl::StatusOr<RegisterReply> Master::Register(const RegisterRequest& req) {
  if (req.address().empty()) return absl::InvalidArgumentError("register: address is empty");
  absl::MutexLock lock(&mu_);
  uint64_t id = req.node_id();
  if (id == 0) id = next_node_id_++;
  next_node_id_ = std::max(next_node_id_, id + 1);
  NodeRecord rec;
  rec.set_address(req.address());
  rec.set_zone(req.zone());
  RETURN_IF_ERROR(store_->PutNode(id, rec));
  Node& n = nodes_[id];
  if (n.id == 0) {
    spdlog::info("node {} registered at {} (zone {})", id, req.address(), req.zone());
    // Alive only once a heartbeat has reported its capacity.
    n.last_heartbeat = absl::InfinitePast();
  }
  n.id = id;
  n.address = req.address();
  n.zone = req.zone();
  RegisterReply reply;
  reply.set_node_id(id);
  return reply;
}

void Master::AddReplicaLocked(Node& node, const ReplicaInfo& r, absl::Time now) {
  auto it = chunks_.find(r.handle());
  if (it != chunks_.end() && it->second.version == r.version()) {
    auto& nodes = it->second.nodes;
    if (std::find(nodes.begin(), nodes.end(), node.id) == nodes.end()) {
      nodes.push_back(static_cast<uint32_t>(node.id));
    }
    FinishCopyLocked(r.handle(), node.id);
    return;
  }
  if (pending_.contains(r.handle())) return;  // an upload in progress
  if (doomed_handles_.contains(r.handle())) return;  // deleted after its grace period
  // Unknown handle (deleted file, aborted upload) or stale version: garbage.
  if (GcAllowedLocked(now)) node.deletes.push_back(r);
}

void Master::RemoveReplicaLocked(uint64_t node_id, uint64_t handle) {
  auto it = chunks_.find(handle);
  if (it == chunks_.end()) return;
  auto& nodes = it->second.nodes;
  nodes.erase(std::remove(nodes.begin(), nodes.end(), node_id), nodes.end());
}

absl::StatusOr<HeartbeatReply> Master::Heartbeat(const HeartbeatRequest& req) {
  HeartbeatReply reply;
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(req.node_id());
  if (it == nodes_.end()) {
    reply.set_reregister(true);
    return reply;
  }
  absl::Time now = clock_->Now();
  Node& n = it->second;
  const uint64_t repaired_before = repair_stats_.repaired;
  bool was_dead = StateLocked(n, now) == NodeState::kDead;
  n.last_heartbeat = now;
  if (!req.address().empty()) n.address = req.address();
  n.capacity = req.capacity_bytes();
  n.free = req.free_bytes();
  n.used = req.used_bytes();
  n.chunk_count = req.chunk_count();
  n.recent = 0;
  if (req.full_report()) {
    absl::flat_hash_set<uint64_t> held;
    held.reserve(req.replicas_size());
    for (const ReplicaInfo& r : req.replicas()) {
      held.insert(r.handle());
      AddReplicaLocked(n, r, now);
    }
    for (auto& [handle, chunk] : chunks_) {
      if (!held.contains(handle)) {
        auto& nodes = chunk.nodes;
        nodes.erase(std::remove(nodes.begin(), nodes.end(), n.id), nodes.end());
      }
    }
    n.reported = true;
  } else {
    if (!n.reported || was_dead) reply.set_want_full_report(true);
    for (const ReplicaInfo& r : req.replicas()) AddReplicaLocked(n, r, now);
    for (const ReplicaInfo& r : req.removed()) RemoveReplicaLocked(n.id, r.handle());
  }
  for (const ReplicaInfo& r : req.corrupt()) {
    spdlog::warn("node {} reports corrupt replica of chunk {}", n.id, r.handle());
    RemoveReplicaLocked(n.id, r.handle());
    n.deletes.push_back(r);
  }
  if (repair_stats_.repaired != repaired_before) {
    // Copies finished: hand out the next ones now (this reply included)
    // instead of at the next tick and heartbeat.
    ScheduleRepairsLocked(now);
    ScheduleRebalanceLocked(now);
  }
  // Deletes wait while GC is not allowed (safe mode, a backup's pause), also
  // those queued before the pause began: a backup must not see files vanish.
  if (GcAllowedLocked(now)) {
    for (ReplicaInfo& r : n.deletes) *reply.add_delete_() = std::move(r);
    n.deletes.clear();
  }
  for (ReplicateCommand& c : n.replicate) *reply.add_replicate() = std::move(c);
  n.replicate.clear();
  return reply;
}

absl::Status Master::ReportCorrupt(const ReportCorruptRequest& req) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(req.node_id());
  if (it == nodes_.end()) return absl::NotFoundError(cairn::StrCat("unknown node ", req.node_id()));
  spdlog::warn("node {} reports corrupt replica of chunk {}", req.node_id(), req.replica().handle());
  RemoveReplicaLocked(req.node_id(), req.replica().handle());
  it->second.deletes.push_back(req.replica());
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

void Master::ForgetChunksLocked(const std::vector<ChunkRef>& chunks) {
  absl::Time due = clock_->Now() + options_.gc_grace;
  for (const ChunkRef& c : chunks) {
    auto it = chunks_.find(c.handle());
    if (it == chunks_.end()) continue;
    Doomed d;
    d.due = due;
    d.replica.set_handle(c.handle());
    d.replica.set_version(it->second.version);
    d.nodes = it->second.nodes;
    doomed_.push_back(std::move(d));
    doomed_handles_.insert(c.handle());
    chunks_.erase(it);
  }
}

absl::StatusOr<DeleteReply> Master::Delete(const std::string& path, bool recursive) {
  RETURN_IF_ERROR(ValidatePath(path));
  std::vector<ChunkRef> removed;
  RETURN_IF_ERROR(store_->Delete(path, recursive, &removed));
  absl::MutexLock lock(&mu_);
  ForgetChunksLocked(removed);
  return DeleteReply();
}

absl::StatusOr<ListReply> Master::List(const ListRequest& req) {
  RETURN_IF_ERROR(ValidatePath(req.path()));
  size_t limit = req.limit() == 0 ? kDefaultListLimit : std::min<size_t>(req.limit(), kMaxListLimit);
  ASSIGN_OR_RETURN(ListResult r, store_->List(req.path(), req.recursive(), req.start_after(), limit));
  ListReply reply;
  for (Entry& e : r.entries) *reply.add_entries() = std::move(e);
  reply.set_truncated(r.truncated);
  return reply;
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
  for (const ChunkRef& c : reply.entry().file().chunks()) {
    ChunkLocations* locs = reply.add_locations();
    auto it = chunks_.find(c.handle());
    if (it == chunks_.end()) continue;
    std::vector<std::pair<NodeState, uint32_t>> order;
    for (uint32_t node : it->second.nodes) {
      auto n = nodes_.find(node);
      if (n == nodes_.end()) continue;
      NodeState s = StateLocked(n->second, now);
      if (s != NodeState::kDead) order.emplace_back(s, node);
    }
    std::stable_sort(order.begin(), order.end());
    for (const auto& [state, node] : order) *locs->add_replicas() = AddressLocked(node);
  }
  return reply;
}

absl::StatusOr<UsageReply> Master::Usage(const std::string& path) {
  RETURN_IF_ERROR(ValidatePath(path));
  return store_->Usage(path);
}

// --------------------------------------------------------------------- uploads

absl::StatusOr<StartUploadReply> Master::StartUpload(const StartUploadRequest& req) {
  RETURN_IF_ERROR(ValidatePath(req.path()));
  if (req.path() == "/") return absl::AlreadyExistsError("a directory exists at /");
  RETURN_IF_ERROR(store_->CheckCreatable(req.path(), req.if_none_match()));
  uint32_t replication = req.replication() == 0 ? options_.replication : req.replication();
  if (replication > 16) return absl::InvalidArgumentError("replication must be at most 16");
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = next_upload_id_++;
    Upload& u = uploads_[id];
    u.path = req.path();
    u.replication = replication;
    u.if_none_match = req.if_none_match();
    u.last_activity = clock_->Now();
  }
  StartUploadReply reply;
  reply.set_upload_id(id);
  reply.set_chunk_size(options_.chunk_size);
  reply.set_replication(replication);
  if (req.allocate_first_chunk()) {
    AllocateChunkRequest areq;
    areq.set_upload_id(id);
    auto first = AllocateChunk(areq);
    if (!first.ok()) {
      AbortUpload(id).IgnoreError();
      return first.status();
    }
    *reply.mutable_first_chunk() = *std::move(first);
  }
  return reply;
}

absl::StatusOr<uint64_t> Master::NextHandleLocked() {
  if (next_handle_ >= handle_limit_) {
    ASSIGN_OR_RETURN(uint64_t limit, store_->ReserveHandles(kHandleBlock));
    next_handle_ = limit - kHandleBlock;
    handle_limit_ = limit;
  }
  return next_handle_++;
}

absl::StatusOr<AllocateChunkReply> Master::AllocateChunk(const AllocateChunkRequest& req) {
  absl::MutexLock lock(&mu_);
  auto it = uploads_.find(req.upload_id());
  if (it == uploads_.end()) {
    return absl::NotFoundError(
        cairn::StrCat("upload ", req.upload_id(), " not found (expired or master restarted)"));
  }
  Upload& u = it->second;
  absl::Time now = clock_->Now();
  u.last_activity = now;
  absl::flat_hash_set<uint64_t> exclude(req.exclude_nodes().begin(), req.exclude_nodes().end());
  std::vector<PlacementCandidate> candidates;
  size_t alive = 0;
  for (const auto& [id, n] : nodes_) {
    if (StateLocked(n, now) != NodeState::kAlive || n.draining || exclude.contains(id)) continue;
    ++alive;
    // Free space as the node reported it, less what was placed there since.
    uint64_t pending = uint64_t{n.recent} * options_.chunk_size;
    uint64_t capacity = n.used + n.free;
    candidates.push_back({id, n.zone, capacity, n.used + pending, n.recent});
  }
  if (alive < u.replication) {
    return absl::UnavailableError(cairn::StrCat("only ", alive, " chunkservers alive, need ",
                                               u.replication));
  }
  PlacementOptions popts;
  popts.chunk_size = options_.chunk_size;
  std::vector<uint64_t> chosen = ChooseReplicas(std::move(candidates), u.replication, popts);
  if (chosen.size() < u.replication) {
    return absl::ResourceExhaustedError(
        cairn::StrCat("only ", chosen.size(), " chunkservers have room for a chunk, need ",
                     u.replication));
  }
  ASSIGN_OR_RETURN(uint64_t handle, NextHandleLocked());
  AllocateChunkReply reply;
  reply.mutable_chunk()->set_handle(handle);
  reply.mutable_chunk()->set_version(1);
  for (uint64_t id : chosen) {
    *reply.add_replicas() = AddressLocked(id);
    ++nodes_[id].recent;
  }
  u.allocations.push_back({handle, chosen});
  pending_[handle] = req.upload_id();
  return reply;
}

void Master::DropUploadLocked(uint64_t id, bool delete_replicas) {
  auto it = uploads_.find(id);
  if (it == uploads_.end()) return;
  for (const Allocation& a : it->second.allocations) {
    pending_.erase(a.handle);
    if (!delete_replicas || chunks_.contains(a.handle)) continue;
    ReplicaInfo r;
    r.set_handle(a.handle);
    r.set_version(1);
    for (uint64_t node : a.nodes) {
      if (auto n = nodes_.find(node); n != nodes_.end()) n->second.deletes.push_back(r);
    }
  }
  uploads_.erase(it);
}

absl::StatusOr<Entry> Master::CommitUpload(const CommitUploadRequest& req) {
  Upload upload;
  {
    absl::MutexLock lock(&mu_);
    auto it = uploads_.find(req.upload_id());
    if (it == uploads_.end()) {
      return absl::NotFoundError(
          cairn::StrCat("upload ", req.upload_id(), " not found (expired or master restarted)"));
    }
    upload = it->second;
  }
  // The chunk list must be chunks this upload allocated, of chunk_size each
  // but the last, adding up to the length.
  absl::flat_hash_set<uint64_t> allocated;
  for (const Allocation& a : upload.allocations) allocated.insert(a.handle);
  uint64_t total = 0;
  for (int i = 0; i < req.chunks_size(); ++i) {
    const ChunkRef& c = req.chunks(i).chunk();
    if (!allocated.contains(c.handle())) {
      return absl::InvalidArgumentError(cairn::StrCat("chunk ", c.handle(), " not of this upload"));
    }
    bool last = i + 1 == req.chunks_size();
    if (c.size() == 0 || c.size() > options_.chunk_size || (!last && c.size() != options_.chunk_size)) {
      return absl::InvalidArgumentError(cairn::StrCat("chunk ", i, " has a bad size ", c.size()));
    }
    if (static_cast<uint32_t>(req.chunks(i).nodes_size()) < upload.replication) {
      return absl::InvalidArgumentError(cairn::StrCat("chunk ", i, " has too few replicas"));
    }
    total += c.size();
  }
  if (total != req.length()) {
    return absl::InvalidArgumentError(cairn::StrCat("chunks add up to ", total, " bytes, not ", req.length()));
  }
  FileMeta meta;
  meta.set_length(req.length());
  meta.set_replication(upload.replication);
  meta.set_sha256(req.sha256());
  for (const CommittedChunk& c : req.chunks()) *meta.add_chunks() = c.chunk();
  {
    // Readers see the new entry as soon as PutFile applies it, a moment
    // before it is synced: its chunks must be locatable by then.
    absl::MutexLock lock(&mu_);
    for (const CommittedChunk& c : req.chunks()) {
      Chunk& chunk = chunks_[c.chunk().handle()];
      chunk.version = c.chunk().version();
      chunk.size = c.chunk().size();
      chunk.crc32c = c.chunk().crc32c();
      chunk.replication = upload.replication;
      for (uint64_t node : c.nodes()) chunk.nodes.push_back(static_cast<uint32_t>(node));
    }
  }
  std::vector<ChunkRef> replaced;
  auto entry = store_->PutFile(upload.path, meta, NowMs(), upload.if_none_match, &replaced);
  absl::MutexLock lock(&mu_);
  if (!entry.ok()) {
    for (const CommittedChunk& c : req.chunks()) chunks_.erase(c.chunk().handle());
    DropUploadLocked(req.upload_id(), /*delete_replicas=*/true);
    return entry.status();
  }
  // A Lookup holds mu_ from reading the entry to resolving its chunks, so a
  // reader that saw the old entry still finds the old chunks' locations.
  ForgetChunksLocked(replaced);
  // Allocations not in the file (retried chunks) become garbage.
  DropUploadLocked(req.upload_id(), /*delete_replicas=*/true);
  return entry;
}

absl::Status Master::AbortUpload(uint64_t upload_id) {
  absl::MutexLock lock(&mu_);
  if (!uploads_.contains(upload_id)) {
    return absl::NotFoundError(cairn::StrCat("upload ", upload_id, " not found"));
  }
  DropUploadLocked(upload_id, /*delete_replicas=*/true);
  return absl::OkStatus();
}

// ----------------------------------------------------------------- cluster view

ClusterReply Master::Cluster() {
  ClusterReply reply;
  absl::ReaderMutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  std::vector<uint64_t> ids;
  for (const auto& [id, n] : nodes_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint64_t id : ids) {
    const Node& n = nodes_.at(id);
    NodeStatus* s = reply.add_nodes();
    s->set_id(id);
    s->set_address(n.address);
    s->set_zone(n.zone);
    NodeState state = StateLocked(n, now);
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
  reply.set_chunks(chunks_.size());
  reply.set_under_replicated(repair_stats_.under_replicated);
  reply.set_replication_queue(repair_stats_.queued);
  reply.set_copies_in_flight(repair_stats_.in_flight);
  reply.set_repaired_total(repair_stats_.repaired);
  reply.set_rebalance_moves_total(repair_stats_.moves);
  reply.set_excess_removed_total(repair_stats_.excess_removed);
  reply.set_safe_mode(safe_mode_);
  reply.set_chunk_size(options_.chunk_size);
  reply.set_replication(options_.replication);
  return reply;
}

RepairStats Master::Repairs() {
  absl::ReaderMutexLock lock(&mu_);
  return repair_stats_;
}

absl::Status Master::Drain(uint64_t node_id) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return absl::NotFoundError(cairn::StrCat("no node ", node_id));
  if (!it->second.draining) spdlog::info("draining node {} ({})", node_id, it->second.address);
  it->second.draining = true;
  return absl::OkStatus();
}

bool Master::InSafeMode() {
  absl::ReaderMutexLock lock(&mu_);
  return safe_mode_;
}

absl::Status Master::Checkpoint(const std::string& dir, absl::Duration gc_pause) {
  {
    absl::MutexLock lock(&mu_);
    gc_paused_until_ = clock_->Now() + gc_pause;
    // Garbage already queued was decided before the checkpoint; keep it.
  }
  return store_->Checkpoint(dir);
}

void Master::ResumeGc() {
  absl::MutexLock lock(&mu_);
  gc_paused_until_ = absl::InfinitePast();
}

// ------------------------------------------------------------------ maintenance

void Master::Tick() {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  // Dead nodes hold no replicas we count on.
  absl::flat_hash_set<uint32_t> dead;
  for (auto& [id, n] : nodes_) {
    if (StateLocked(n, now) == NodeState::kDead) {
      dead.insert(static_cast<uint32_t>(id));
      n.reported = false;
    }
  }
  uint64_t with_replica = 0;
  for (auto& [handle, c] : chunks_) {
    if (!dead.empty()) {
      c.nodes.erase(std::remove_if(c.nodes.begin(), c.nodes.end(),
                                   [&](uint32_t n) { return dead.contains(n); }),
                    c.nodes.end());
    }
    if (!c.nodes.empty()) ++with_replica;
  }
  if (safe_mode_) {
    double fraction = chunks_.empty() ? 1.0 : static_cast<double>(with_replica) / chunks_.size();
    if (fraction >= options_.safe_mode_threshold || now - started_ >= options_.dead_after) {
      safe_mode_ = false;
      spdlog::info("leaving safe mode: {:.1f}% of {} chunks reported", fraction * 100, chunks_.size());
    }
  }
  ScheduleRepairsLocked(now);
  ScheduleRebalanceLocked(now);
  // Replicas of deleted files whose grace period is over. Held while GC is not
  // allowed; a replica missed here is unknown at the next full report.
  while (!doomed_.empty() && doomed_.front().due <= now && GcAllowedLocked(now)) {
    const Doomed& d = doomed_.front();
    for (uint32_t node : d.nodes) {
      if (auto n = nodes_.find(node); n != nodes_.end()) n->second.deletes.push_back(d.replica);
    }
    doomed_handles_.erase(d.replica.handle());
    doomed_.pop_front();
  }
  std::vector<uint64_t> expired;
  for (const auto& [id, u] : uploads_) {
    if (now - u.last_activity >= options_.upload_timeout) expired.push_back(id);
  }
  for (uint64_t id : expired) {
    spdlog::warn("upload {} of {} expired", id, uploads_[id].path);
    DropUploadLocked(id, /*delete_replicas=*/true);
  }
}

void Master::Start() { ticker_.Start(); }

void Master::Stop() { ticker_.Stop(); }

}  // namespace cairn::master
