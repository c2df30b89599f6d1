#include "common/rpc_watchdog.h"

#include "absl/time/clock.h"

namespace cairn {

RpcWatchdog::RpcWatchdog(absl::Duration tick) : tick_(tick) {
  thread_ = std::thread([this] { Run(); });
}

RpcWatchdog::~RpcWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void RpcWatchdog::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), tick_);
    absl::Time now = absl::Now();
    // Under mu_: a Guard leaving scope waits here, so no context is
    // cancelled after its guard is gone.
    for (auto& [id, w] : watched_) {
      if (!w.fired && w.due <= now) {
        w.fired = true;
        w.ctx->TryCancel();
        if (on_fire_) on_fire_();
      }
    }
  }
}

RpcWatchdog::Guard::Guard(RpcWatchdog* watchdog, grpc::ClientContext* ctx, absl::Duration timeout)
    : watchdog_(watchdog) {
  if (watchdog_ == nullptr || timeout == absl::InfiniteDuration()) return;
  absl::MutexLock lock(&watchdog_->mu_);
  id_ = watchdog_->next_id_++;
  watchdog_->watched_[id_] = Watched{ctx, absl::Now() + timeout};
}

RpcWatchdog::Guard::~Guard() {
  if (id_ == 0) return;
  absl::MutexLock lock(&watchdog_->mu_);
  watchdog_->watched_.erase(id_);
}

bool RpcWatchdog::Guard::fired() const {
  if (id_ == 0) return false;
  absl::MutexLock lock(&watchdog_->mu_);
  auto it = watchdog_->watched_.find(id_);
  return it != watchdog_->watched_.end() && it->second.fired;
}

void RpcWatchdog::set_on_fire(std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  on_fire_ = std::move(fn);
}

}  // namespace cairn
