// SafeMode: after a start the master does not yet know where the replicas
// are (chunkservers report them, GFS). Until enough are reported it serves
// reads and writes but neither repairs nor deletes anything, since a chunk it
// has not heard of yet would look lost and a replica it has not matched to a
// file would look like garbage.
//
// Safe mode ends once `threshold` of the chunks have a reported replica, or
// `max_wait` after the start at the latest (a chunk whose every replica is
// gone must not block repair of the rest forever).
//
// Not thread-safe: a plain part of the Master, which holds its mutex around
// every call (REQUIRES: the master's mutex held).
#ifndef CAIRN_MASTER_SAFE_MODE_H_
#define CAIRN_MASTER_SAFE_MODE_H_

#include <cstdint>

#include "absl/time/time.h"

namespace cairn::master {

class SafeMode {
 public:
  SafeMode(double threshold, absl::Duration max_wait, absl::Time started)
      : threshold_(threshold), max_wait_(max_wait), started_(started) {}

  // Called once the metadata is loaded: a master with no chunks has nothing
  // to wait for.
  void Begin(uint64_t chunks) { on_ = chunks > 0; }
  // `with_replica` of `chunks` have a reported replica at `now`.
  void Update(uint64_t with_replica, uint64_t chunks, absl::Time now);
  bool on() const { return on_; }

 private:
  const double threshold_;
  const absl::Duration max_wait_;
  const absl::Time started_;
  bool on_ = true;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_SAFE_MODE_H_
