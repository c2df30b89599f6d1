// RpcWatchdog: cancels a gRPC call that stops making progress. A paused or
// wedged peer (SIGSTOP, a hung disk, a full pipe downstream) leaves a call
// blocked in Read, Write or Finish until its deadline, which for a chunk
// transfer must be long; the watchdog ends the call within `timeout` of the
// moment it blocked, so the caller fails over to another replica or
// pipeline within seconds.
//
// Guard a blocking step, not the whole call: time spent on our side (a slow
// HTTP client, hashing) must not count against the peer.
//
//   { RpcWatchdog::Guard g(watchdog, &ctx, timeout); ok = reader->Read(&msg); }
//   if (!ok && g.fired()) ...   // (keep the guard in scope to ask)
//
// One thread per watchdog, waking a few times a second. Thread-safe.
#ifndef CAIRN_COMMON_RPC_WATCHDOG_H_
#define CAIRN_COMMON_RPC_WATCHDOG_H_

#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cairn {

// How long a chunk transfer may stay blocked on a peer before the caller
// gives up on that peer (a paused or wedged node) and fails over. Deadlines
// alone cannot do it: a whole chunk transfer may rightly take minutes.
struct StallTimeouts {
  // A read blocked this long moves to the next replica.
  absl::Duration read = absl::Seconds(4);
  // A pipeline write blocked this long, or waiting this long for the
  // replicas to be durable, fails. Per pipeline member still ahead: a node
  // waits for every member after it, so each one gives up before the one
  // before it does, and the failure blames the member that stalled.
  absl::Duration write_per_node = absl::Seconds(2);
  absl::Duration sync_per_node = absl::Seconds(10);
};

class RpcWatchdog {
 public:
  explicit RpcWatchdog(absl::Duration tick = absl::Milliseconds(100));
  ~RpcWatchdog();

  // Watches `ctx` while in scope: TryCancel()s it once `timeout` has passed.
  // A null watchdog or an infinite timeout watches nothing.
  class Guard {
   public:
    Guard(RpcWatchdog* watchdog, grpc::ClientContext* ctx, absl::Duration timeout);
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    // The watchdog cancelled the call.
    bool fired() const;

   private:
    RpcWatchdog* const watchdog_;
    uint64_t id_ = 0;
  };

  // Runs `fn` (on the watchdog's thread, which must not be blocked) each
  // time a call is cancelled, e.g. to count it in /metrics.
  void set_on_fire(std::function<void()> fn);

 private:
  struct Watched {
    grpc::ClientContext* ctx;
    absl::Time due;
    bool fired = false;
  };
  void Run();

  const absl::Duration tick_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Watched> watched_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::function<void()> on_fire_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace cairn

#endif  // CAIRN_COMMON_RPC_WATCHDOG_H_
