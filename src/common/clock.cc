#include "common/clock.h"

namespace cairn {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration d, absl::Mutex* mu, const bool* cancel) override {
    absl::MutexLock lock(mu);
    mu->AwaitWithTimeout(absl::Condition(cancel), d);
  }
};

}  // namespace

Clock* Clock::Real() {
  static Clock* clock = new RealClock();
  return clock;
}

SimulatedClock::SimulatedClock(absl::Time start) : now_(start) {}

absl::Time SimulatedClock::Now() {
  absl::MutexLock lock(&mu_);
  return now_;
}

void SimulatedClock::SleepFor(absl::Duration d, absl::Mutex* mu, const bool* cancel) {
  absl::Time deadline = Now() + d;
  // Poll both conditions: the sleeper's own cancel flag and simulated time.
  while (true) {
    {
      absl::MutexLock lock(mu);
      if (*cancel) return;
    }
    if (Now() >= deadline) return;
    absl::MutexLock lock(mu);
    mu->AwaitWithTimeout(absl::Condition(cancel), absl::Milliseconds(1));
  }
}

void SimulatedClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

}  // namespace cairn
