// The time seam: daemons take a Clock so tests can drive heartbeats, timeouts
// and repair deterministically with a SimulatedClock.
#ifndef CAIRN_COMMON_CLOCK_H_
#define CAIRN_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cairn {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Returns after `d` has passed on this clock, or earlier once `*cancel`
  // becomes true (checked under `mu`, which the caller must not hold).
  virtual void SleepFor(absl::Duration d, absl::Mutex* mu, const bool* cancel) = 0;

  // The process-wide real clock; never destroyed.
  static Clock* Real();
};

class SimulatedClock : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24 * 365 * 50));
  absl::Time Now() override;
  void SleepFor(absl::Duration d, absl::Mutex* mu, const bool* cancel) override;
  // Moves time forward and wakes sleepers whose deadline passed.
  void Advance(absl::Duration d);

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn

#endif  // CAIRN_COMMON_CLOCK_H_
