// GroupSync: group commit. Writers that need an expensive sync (an fsync of a
// directory, of a write-ahead log) after their own write share one: each takes
// a ticket after writing, and Wait(ticket) returns once a sync that started
// after the ticket was taken has finished. While one sync runs, every writer
// arriving meanwhile waits and is covered by the next one, so N concurrent
// writers cost about two syncs instead of N.
//
// Thread-safe.
#ifndef CAIRN_COMMON_GROUP_SYNC_H_
#define CAIRN_COMMON_GROUP_SYNC_H_

#include <cstdint>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace cairn {

class GroupSync {
 public:
  explicit GroupSync(std::function<absl::Status()> sync) : sync_(std::move(sync)) {}

  // Call after the write that needs syncing has been made.
  uint64_t Ticket() {
    absl::MutexLock lock(&mu_);
    return ++tickets_;
  }

  // Returns once a sync covering `ticket` has finished: its status.
  absl::Status Wait(uint64_t ticket) {
    absl::MutexLock lock(&mu_);
    while (synced_ < ticket && failed_through_ < ticket) {
      if (running_) {
        done_.Wait(&mu_);
        continue;
      }
      // Lead a sync covering every ticket handed out so far.
      running_ = true;
      uint64_t covers = tickets_;
      mu_.Unlock();
      absl::Status s = sync_();
      mu_.Lock();
      running_ = false;
      if (s.ok()) {
        synced_ = covers;
      } else {
        // Everyone covered by this sync learns of the failure; later
        // tickets try again.
        failed_through_ = covers;
        last_error_ = s;
      }
      done_.SignalAll();
    }
    if (synced_ >= ticket) return absl::OkStatus();
    return last_error_;  // the sync that covered this ticket failed
  }

  absl::Status Sync() { return Wait(Ticket()); }

 private:
  const std::function<absl::Status()> sync_;
  absl::Mutex mu_;
  absl::CondVar done_;
  uint64_t tickets_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t synced_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_through_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cairn

#endif  // CAIRN_COMMON_GROUP_SYNC_H_
