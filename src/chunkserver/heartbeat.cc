#include "chunkserver/heartbeat.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::chunkserver {
namespace {

// Fail fast while the master is down: the beat is retried next interval, and
// Healthy() should say so meanwhile.
constexpr MasterCallOptions kRegisterCall{.deadline = absl::Seconds(5), .wait_for_ready = false};
constexpr MasterCallOptions kHeartbeatCall{.deadline = absl::Seconds(10), .wait_for_ready = false};

}  // namespace

Heartbeat::Heartbeat(const HeartbeatOptions& options, MasterClient* master, FileSystem* fs,
                     ChunkStore* store, Clock* clock, Metrics* metrics)
    : options_(options),
      master_(master),
      fs_(fs),
      store_(store),
      metrics_(metrics),
      task_(clock, options.interval, [this] { BeatOnce().IgnoreError(); }) {
  metrics_->Describe("cairn_chunkserver_heartbeats_total", Metrics::Type::kCounter,
                     "Heartbeats sent to the master, by result.");
  metrics_->Describe("cairn_chunkserver_garbage_deleted_total", Metrics::Type::kCounter,
                     "Replicas deleted because the master no longer needs them.",
                     /*unlabeled=*/true);
  metrics_->Describe("cairn_chunkserver_garbage_deleted_bytes_total", Metrics::Type::kCounter,
                     "Bytes of replicas deleted as garbage.", /*unlabeled=*/true);
}

Heartbeat::~Heartbeat() { Stop(); }

uint64_t Heartbeat::node_id() const {
  absl::MutexLock lock(&mu_);
  return node_id_;
}

absl::Status Heartbeat::Healthy() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

absl::Status Heartbeat::EnsureRegistered() {
  const std::string id_path = store_->root() + "/node_id";
  uint64_t id;
  bool persisted;
  {
    absl::MutexLock lock(&mu_);
    id = node_id_;
    persisted = id_persisted_;
  }
  if (id != 0 && !persisted) {
    // Registered, but the id is not on the volume yet: keep trying, keep the id.
    absl::Status s = WriteFileAtomically(fs_, id_path, cairn::StrCat(id, "\n"));
    if (s.ok()) {
      absl::MutexLock lock(&mu_);
      id_persisted_ = true;
    }
    return absl::OkStatus();
  }
  if (id != 0) return absl::OkStatus();
  if (fs_->Exists(id_path)) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(fs_, id_path));
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &id)) {
      return absl::DataLossError(cairn::StrCat("bad node id file ", id_path));
    }
  }
  RegisterRequest req;
  req.set_node_id(id);
  req.set_address(options_.advertise);
  req.set_zone(options_.zone);
  RegisterReply reply;
  grpc::Status status =
      master_->Unary(&cairn::Master::StubInterface::Register, req, &reply, kRegisterCall);
  RETURN_IF_ERROR(Annotate(FromGrpcStatus(status), "register"));
  persisted = reply.node_id() == id;
  if (!persisted) {
    absl::Status s = WriteFileAtomically(fs_, id_path, cairn::StrCat(reply.node_id(), "\n"));
    if (!s.ok()) spdlog::error("cannot keep node id on the volume (will retry): {}", s.ToString());
    persisted = s.ok();
  }
  spdlog::info("registered as node {} ({}, zone {})", reply.node_id(), options_.advertise,
               options_.zone);
  absl::MutexLock lock(&mu_);
  node_id_ = reply.node_id();
  id_persisted_ = persisted;
  want_full_ = true;
  return absl::OkStatus();
}

absl::Status Heartbeat::BeatOnce() {
  absl::Status s = EnsureRegistered();
  if (s.ok()) {
    HeartbeatRequest req;
    bool full;
    {
      absl::MutexLock lock(&mu_);
      req.set_node_id(node_id_);
      full = want_full_ || beats_ % options_.full_report_every == 0;
      ++beats_;
    }
    req.set_address(options_.advertise);
    req.set_zone(options_.zone);
    // Take the changes before listing, so nothing added meanwhile is missed.
    ChunkStore::Changes changes = store_->TakeChanges();
    if (full) {
      req.set_full_report(true);
      for (ReplicaInfo& r : store_->List()) *req.add_replicas() = std::move(r);
    } else {
      for (ReplicaInfo& r : changes.added) *req.add_replicas() = std::move(r);
      for (ReplicaInfo& r : changes.removed) *req.add_removed() = std::move(r);
    }
    {
      absl::MutexLock lock(&mu_);
      for (ReplicaInfo& r : changes.corrupt) unreported_corrupt_.push_back(std::move(r));
      for (const ReplicaInfo& r : unreported_corrupt_) *req.add_corrupt() = r;
    }
    StoreStats stats = store_->Stats();
    req.set_used_bytes(stats.bytes);
    req.set_chunk_count(stats.chunks);
    if (auto space = store_->Space(); space.ok()) {
      uint64_t capacity = space->capacity, free = space->free;
      if (options_.capacity_limit > 0) {
        capacity = std::min(capacity, options_.capacity_limit);
        free = std::min(free, capacity > stats.bytes ? capacity - stats.bytes : 0);
      }
      req.set_capacity_bytes(capacity);
      req.set_free_bytes(free);
    }
    HeartbeatReply reply;
    grpc::Status status =
        master_->Unary(&cairn::Master::StubInterface::Heartbeat, req, &reply, kHeartbeatCall);
    s = Annotate(FromGrpcStatus(status), "heartbeat");
    metrics_->Add("cairn_chunkserver_heartbeats_total",
                  s.ok() ? "result=\"ok\"" : "result=\"error\"");
    if (s.ok()) {
      {
        absl::MutexLock lock(&mu_);
        if (full) want_full_ = false;
        // A reply asking us to register again ignored the report.
        if (!reply.reregister()) unreported_corrupt_.clear();
      }
      Apply(reply);
    } else {
      // Report these again next time: the master never saw them.
      absl::MutexLock lock(&mu_);
      want_full_ = true;
    }
  }
  absl::MutexLock lock(&mu_);
  if (!s.ok() && last_.ok()) spdlog::warn("{}", s.ToString());
  last_ = s;
  return s;
}

void Heartbeat::Apply(const HeartbeatReply& reply) {
  if (reply.reregister()) {
    spdlog::warn("master does not know node {}; registering again", node_id());
    absl::MutexLock lock(&mu_);
    node_id_ = 0;
    return;
  }
  if (reply.want_full_report()) {
    absl::MutexLock lock(&mu_);
    want_full_ = true;
  }
  for (const ReplicaInfo& r : reply.delete_()) {
    absl::Status s = store_->Delete(r.handle(), r.version());
    if (s.ok()) {
      metrics_->Add("cairn_chunkserver_garbage_deleted_total", "");
      metrics_->Add("cairn_chunkserver_garbage_deleted_bytes_total", "",
                    static_cast<double>(r.size()));
      spdlog::debug("deleted garbage replica {} v{}", r.handle(), r.version());
    } else if (!absl::IsNotFound(s)) {
      spdlog::warn("deleting replica {}: {}", r.handle(), s.ToString());
    }
  }
  for (const ReplicateCommand& cmd : reply.replicate()) {
    if (options_.on_replicate) options_.on_replicate(cmd);
  }
}

void Heartbeat::Start() { task_.Start(); }

void Heartbeat::Stop() { task_.Stop(); }

}  // namespace cairn::chunkserver
