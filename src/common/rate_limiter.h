// RateLimiter: a token bucket over the Clock seam, for throttled background
// work (repair copies, scrubbing). Thread-safe.
#ifndef CAIRN_COMMON_RATE_LIMITER_H_
#define CAIRN_COMMON_RATE_LIMITER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace cairn {

class RateLimiter {
 public:
  // `bytes_per_second` 0 means unlimited. `clock` must outlive the limiter.
  RateLimiter(uint64_t bytes_per_second, Clock* clock);
  // Blocks until `bytes` may pass. Returns false if `*cancel` became true
  // (checked under `mu`) while waiting.
  bool Acquire(uint64_t bytes, absl::Mutex* mu, const bool* cancel);

 private:
  const uint64_t rate_;
  Clock* const clock_;
  absl::Mutex mu_;
  absl::Time next_free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn

#endif  // CAIRN_COMMON_RATE_LIMITER_H_
