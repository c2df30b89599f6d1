#include "common/rate_limiter.h"

#include <algorithm>

namespace cairn {

RateLimiter::RateLimiter(uint64_t bytes_per_second, Clock* clock)
    : rate_(bytes_per_second), clock_(clock), next_free_(clock->Now()) {}

bool RateLimiter::Acquire(uint64_t bytes, absl::Mutex* mu, const bool* cancel) {
  if (rate_ == 0) return true;
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_->Now();
    // At most one second of burst.
    next_free_ = std::max(next_free_, now - absl::Seconds(1));
    next_free_ += absl::Seconds(static_cast<double>(bytes) / static_cast<double>(rate_));
    wait = next_free_ - now;
  }
  if (wait > absl::ZeroDuration()) clock_->SleepFor(wait, mu, cancel);
  absl::MutexLock lock(mu);
  return !*cancel;
}

}  // namespace cairn
