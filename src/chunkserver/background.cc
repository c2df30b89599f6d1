#include "chunkserver/background.h"

#include "chunkserver/peer_copy.h"
#include "common/logging.h"

namespace cairn::chunkserver {

RepairWorker::RepairWorker(ChunkStore* store, StubCache<cairn::Chunkserver>* peers, Clock* clock,
                           Metrics* metrics, uint64_t bytes_per_second, int threads)
    : store_(store),
      peers_(peers),
      metrics_(metrics),
      limiter_(bytes_per_second, clock),
      threads_(threads) {
  metrics_->Describe("cairn_chunkserver_repair_copies_total", Metrics::Type::kCounter,
                     "Chunk copies from peers (repair, rebalancing), by result.");
  metrics_->Describe("cairn_chunkserver_repair_bytes_total", Metrics::Type::kCounter,
                     "Bytes copied from peers.", /*unlabeled=*/true);
}

RepairWorker::~RepairWorker() { Stop(); }

void RepairWorker::Enqueue(const ReplicateCommand& cmd) {
  absl::MutexLock lock(&mu_);
  for (const ReplicateCommand& q : queue_) {
    if (q.chunk().handle() == cmd.chunk().handle()) return;
  }
  queue_.push_back(cmd);
}

void RepairWorker::Start() {
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { Run(); });
}

void RepairWorker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void RepairWorker::Run() {
  while (true) {
    ReplicateCommand cmd;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      cmd = std::move(queue_.front());
      queue_.pop_front();
    }
    absl::Status s = absl::UnavailableError("no source given");
    for (const NodeAddress& src : cmd.sources()) {
      s = CopyFromPeer(store_, peers_, cmd.chunk(), src.address(), [this](size_t n) {
        metrics_->Add("cairn_chunkserver_repair_bytes_total", "", static_cast<double>(n));
        return limiter_.Acquire(n, &mu_, &stopping_);
      });
      if (s.ok() || absl::IsCancelled(s)) break;
      spdlog::warn("copy of chunk {} from {} failed: {}", cmd.chunk().handle(), src.address(),
                   s.ToString());
    }
    metrics_->Add("cairn_chunkserver_repair_copies_total",
                  s.ok() ? "result=\"ok\"" : "result=\"error\"");
    if (s.ok()) {
      spdlog::info("copied chunk {} for repair", cmd.chunk().handle());
      if (on_copied_) on_copied_();
    }
  }
}

Scrubber::Scrubber(ChunkStore* store, Clock* clock, Metrics* metrics, uint64_t bytes_per_second,
                   absl::Duration pause)
    : store_(store),
      metrics_(metrics),
      rate_(bytes_per_second),
      limiter_(bytes_per_second, clock),
      task_(clock, pause, [this] { ScrubOnce(); }) {
  metrics_->Describe("cairn_chunkserver_scrubbed_bytes_total", Metrics::Type::kCounter,
                     "Replica bytes re-verified by the scrubber.", /*unlabeled=*/true);
  metrics_->Describe("cairn_chunkserver_scrub_errors_total", Metrics::Type::kCounter,
                     "Corrupt replicas found by the scrubber.", /*unlabeled=*/true);
  metrics_->Describe("cairn_chunkserver_scrub_passes_total", Metrics::Type::kCounter,
                     "Completed scrub passes over all replicas.", /*unlabeled=*/true);
}

Scrubber::~Scrubber() { Stop(); }

int Scrubber::ScrubOnce() {
  int corrupt = 0;
  for (const ReplicaInfo& r : store_->List()) {
    if (!limiter_.Acquire(r.size(), task_.mu(), task_.stop_flag())) return corrupt;
    absl::Status s = store_->Verify(r.handle(), r.version());
    metrics_->Add("cairn_chunkserver_scrubbed_bytes_total", "", static_cast<double>(r.size()));
    if (absl::IsDataLoss(s)) {
      ++corrupt;
      metrics_->Add("cairn_chunkserver_scrub_errors_total", "");
      spdlog::warn("scrubber: replica {} v{} is corrupt: {}", r.handle(), r.version(),
                   s.ToString());
    }
  }
  metrics_->Add("cairn_chunkserver_scrub_passes_total", "");
  return corrupt;
}

void Scrubber::Start() {
  if (rate_ > 0) task_.Start();
}

void Scrubber::Stop() { task_.Stop(); }

}  // namespace cairn::chunkserver
