#include "master/safe_mode.h"

#include "common/logging.h"

namespace cairn::master {

void SafeMode::Update(uint64_t with_replica, uint64_t chunks, absl::Time now) {
  if (!on_) return;
  double fraction = chunks == 0 ? 1.0 : static_cast<double>(with_replica) / chunks;
  if (fraction >= threshold_ || now - started_ >= max_wait_) {
    on_ = false;
    spdlog::info("leaving safe mode: {:.1f}% of {} chunks reported", fraction * 100, chunks);
  }
}

}  // namespace cairn::master
