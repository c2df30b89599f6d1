// RepairScheduler: keeps every chunk at its replication (GFS §4.3) and the
// nodes balanced.
//   - Re-replication: chunks with fewer live replicas than wanted are copied
//     from a live replica to a new node, fewest live replicas first, within a
//     cluster-wide and a per-node cap on copies in flight. The target pulls
//     the chunk itself (the command goes out in its heartbeat reply) and the
//     copy counts once the target reports the replica.
//   - Surplus removal: a chunk with more live replicas than wanted (a dead
//     node came back, a move landed) loses one, from a zone holding several
//     first, then from the fullest node; never below the replication.
//   - Draining: a draining node's replicas stop counting, so its chunks are
//     copied away; it is "drained" once none needs it.
//   - Rebalancing (rebalance.cc): when the utilization of live nodes differs
//     by more than a threshold, chunks move from the fullest to the emptiest
//     node, copy first, the surplus replica removed once the copy lands.
// Nothing is scheduled in safe mode, and nothing removed while GC is paused.
//
// Not thread-safe: a plain part of the Master, which holds its mutex around
// every call (REQUIRES: the master's mutex held).
#ifndef CAIRN_MASTER_REPAIR_H_
#define CAIRN_MASTER_REPAIR_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "master/chunk_table.h"
#include "master/node_registry.h"

namespace cairn::master {

struct RepairOptions {
  int concurrency = 8;                        // copies in flight in the whole cluster
  int per_node = 2;                           // copies in flight per node, as source or target
  absl::Duration timeout = absl::Minutes(2);  // a copy not done by then is given up
  double rebalance_threshold = 0.10;
};

// Repair and rebalancing counters, for the cluster view and metrics.
struct RepairStats {
  uint64_t under_replicated = 0;  // chunks with fewer live replicas than wanted
  uint64_t queued = 0;            // of those, not being copied yet
  uint64_t in_flight = 0;         // copies under way (repairs and moves)
  uint64_t repaired = 0;          // copies completed since start
  uint64_t moves = 0;             // rebalancing copies started since start
  uint64_t excess_removed = 0;    // surplus replicas deleted since start
};

// Whether the master may act: safe mode forbids scheduling, a GC pause
// forbids removing replicas.
struct RepairGate {
  bool safe_mode = false;
  bool gc_allowed = true;
};

class RepairScheduler {
 public:
  explicit RepairScheduler(const RepairOptions& options) : options_(options) {}

  // `node` now holds `handle`: completes a copy to it, if one was under way.
  // Returns whether one was.
  bool FinishCopy(uint64_t handle, uint64_t node, NodeRegistry& nodes);
  // Gives up stale copies, counts under-replication, removes one surplus
  // replica per over-replicated chunk and starts copies for the rest.
  void ScheduleRepairs(absl::Time now, RepairGate gate, NodeRegistry& nodes, ChunkTable& chunks);
  // Starts moves from the fullest to the emptiest node (rebalance.cc).
  void ScheduleRebalance(absl::Time now, RepairGate gate, NodeRegistry& nodes, ChunkTable& chunks);

  const RepairStats& stats() const { return stats_; }

 private:
  struct Copy {
    uint64_t source = 0;
    uint64_t target = 0;
    absl::Time deadline;
  };

  // Starts copying `handle` from `source` to `target` (registered nodes).
  void StartCopy(uint64_t handle, const Chunk& chunk, uint64_t source, uint64_t target,
                 absl::Time now, NodeRegistry& nodes);
  // Gives up copies past their deadline or whose target is no longer alive.
  void ExpireCopies(absl::Time now, NodeRegistry& nodes);
  // Queues the deletion of one surplus replica of `handle`.
  void RemoveSurplus(uint64_t handle, Chunk& chunk, absl::Time now, NodeRegistry& nodes);
  // A live replica whose node has copy capacity, alive before stale; 0 if none.
  uint64_t ChooseSource(const Chunk& chunk, absl::Time now, const NodeRegistry& nodes) const;
  // A node to copy `chunk` to (alive, not draining, fully reported, with
  // room, in a new zone if possible); 0 if none.
  uint64_t ChooseTarget(const Chunk& chunk, absl::Time now, const NodeRegistry& nodes) const;
  size_t Budget() const;

  const RepairOptions options_;
  absl::flat_hash_map<uint64_t, Copy> copies_;  // handle -> copy in flight
  RepairStats stats_;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_REPAIR_H_
