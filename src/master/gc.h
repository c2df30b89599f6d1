// GarbageCollector: decides which replicas are garbage and queues their
// deletion on the holding node, to go out in its next heartbeat reply.
// Garbage is
//   - a reported replica that no file references at that version and no
//     upload in progress owns (a deleted file's, an aborted upload's, a
//     stale version),
//   - the replicas of chunks that deleted or replaced files referenced, once
//     `grace` has passed (downloads under way finish first),
//   - the allocations of a dropped upload that no file took,
//   - a replica its node reported corrupt.
// Nothing is deleted while GC is not allowed: in safe mode (the master does
// not know every replica yet) or while a backup has paused it. Deletes queued
// before a pause wait too, so a backup never sees files vanish.
//
// Not thread-safe: a plain part of the Master, which holds its mutex around
// every call (REQUIRES: the master's mutex held).
#ifndef CAIRN_MASTER_GC_H_
#define CAIRN_MASTER_GC_H_

#include <deque>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "master/chunk_table.h"
#include "master/node_registry.h"
#include "master/upload_table.h"
#include "proto/master.pb.h"

namespace cairn::master {

class GarbageCollector {
 public:
  explicit GarbageCollector(absl::Duration grace) : grace_(grace) {}

  bool Allowed(absl::Time now, bool safe_mode) const { return !safe_mode && now >= paused_until_; }
  void Pause(absl::Time until) { paused_until_ = until; }
  void Resume() { paused_until_ = absl::InfinitePast(); }

  // `node` reported replica `r`, which `chunks` does not know at its version.
  void OnUnknownReplica(Node& node, const ReplicaInfo& r, const UploadTable& uploads, bool allowed);
  // Removes chunks that no file references any more (of deleted or replaced
  // files) from `chunks`; their replicas are deleted once the grace period
  // from `now` is over.
  void Forget(const std::vector<uint64_t>& handles, ChunkTable& chunks, absl::Time now);
  // `upload` was dropped (committed, aborted or expired): its allocations
  // that no file references are deleted at once.
  void DropAllocations(const Upload& upload, const ChunkTable& chunks, NodeRegistry& nodes);
  // Queues the deletion of a replica that its node reported corrupt.
  void Condemn(Node& node, const ReplicaInfo& r) { node.deletes.push_back(r); }

  // Queues the replicas whose grace period is over on their nodes.
  void Collect(absl::Time now, bool allowed, NodeRegistry& nodes);
  // Moves `node`'s queued deletes into `reply`, if GC is allowed.
  void TakeDeletes(Node& node, bool allowed, HeartbeatReply* reply);

 private:
  // Replicas of a chunk no file references any more, deleted once `due`.
  struct Doomed {
    absl::Time due;
    ReplicaInfo replica;
    absl::InlinedVector<uint32_t, 3> nodes;
  };

  const absl::Duration grace_;
  absl::Time paused_until_ = absl::InfinitePast();
  std::deque<Doomed> doomed_;  // in order of `due`
  absl::flat_hash_set<uint64_t> doomed_handles_;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_GC_H_
