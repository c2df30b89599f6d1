// PeriodicTask: runs a function on its own thread every `interval` of the
// injected Clock until Stop(). The loop every background class shares
// (heartbeat, master maintenance, scrubbing).
#ifndef CAIRN_COMMON_PERIODIC_TASK_H_
#define CAIRN_COMMON_PERIODIC_TASK_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace cairn {

class PeriodicTask {
 public:
  // `clock` must outlive the task.
  PeriodicTask(Clock* clock, absl::Duration interval, std::function<void()> fn)
      : clock_(clock), interval_(interval), fn_(std::move(fn)) {}
  ~PeriodicTask() { Stop(); }

  // Runs fn now and then every interval. Call at most once.
  void Start() {
    thread_ = std::thread([this] {
      while (!stopping()) {
        fn_();
        clock_->SleepFor(interval_, &mu_, &wake_);
        absl::MutexLock lock(&mu_);
        wake_ = stopping_;
      }
    });
  }
  // Ends the current sleep early: fn runs again as soon as it is free.
  void RunSoon() {
    absl::MutexLock lock(&mu_);
    wake_ = true;
  }
  // Wakes the task from its sleep, waits for fn to return. Idempotent.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      wake_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }
  bool stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }
  // For waits inside fn that should end early on Stop() (e.g. RateLimiter::Acquire).
  absl::Mutex* mu() { return &mu_; }
  const bool* stop_flag() { return &stopping_; }

 private:
  Clock* const clock_;
  const absl::Duration interval_;
  const std::function<void()> fn_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;  // ends the sleep: Stop() or RunSoon()
  std::thread thread_;
};

}  // namespace cairn

#endif  // CAIRN_COMMON_PERIODIC_TASK_H_
