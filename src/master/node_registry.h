// NodeRegistry: the chunkservers the master knows, their liveness and what
// their heartbeats last said, and the work queued for each node's next
// heartbeat reply (garbage to delete, chunks to copy).
//
// A node is alive while it heartbeats, stale after `stale_after` of silence
// (no new chunks are placed there) and dead after `dead_after` (its replicas
// no longer count). A registered node is alive only once a heartbeat has
// reported its capacity.
//
// Not thread-safe: a plain part of the Master, which holds its mutex around
// every call (REQUIRES: the master's mutex held).
#ifndef CAIRN_MASTER_NODE_REGISTRY_H_
#define CAIRN_MASTER_NODE_REGISTRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "master/placement.h"
#include "proto/master.pb.h"

namespace cairn::master {

enum class NodeState { kAlive, kStale, kDead };
const char* NodeStateName(NodeState s);

struct Node {
  uint64_t id = 0;
  std::string address;
  std::string zone;
  absl::Time last_heartbeat = absl::InfinitePast();  // InfinitePast: never since registering
  uint64_t capacity = 0;
  uint64_t free = 0;
  uint64_t used = 0;
  uint64_t chunk_count = 0;
  uint32_t recent = 0;        // chunks placed since the last heartbeat
  uint64_t recent_bytes = 0;  // bytes expected in them (not in `used` yet)
  bool reported = false;      // sent a full report since the master started (or it was dead)
  bool draining = false;
  bool drained = false;                     // draining, and no chunk needs its replicas any more
  int copies_in = 0;                        // copies targeting this node in flight
  int copies_out = 0;                       // copies reading from this node in flight
  std::vector<ReplicaInfo> deletes;         // garbage to send in the next reply
  std::vector<ReplicateCommand> replicate;  // copies to send in the next reply

  // Utilization in [0, 1]; 1 for a node that reported no capacity.
  double Utilization() const;
};

class NodeRegistry {
 public:
  NodeRegistry(absl::Duration stale_after, absl::Duration dead_after);

  // A node from the metadata at startup. It has not been heard from since
  // `started`: stale at once, dead `dead_after - stale_after` later.
  void AddLoaded(uint64_t id, const NodeRecord& record, absl::Time started);

  // The id a registering node gets: `requested` (a node that kept its id on
  // its volume) or, for 0, a fresh one. Never hands out an id twice.
  uint64_t AssignId(uint64_t requested);

  // Records a registration that is durable in the metadata. Returns true for
  // a node the registry did not know.
  bool Register(uint64_t id, const std::string& address, const std::string& zone);

  // Takes in the capacity and usage a heartbeat reports. Returns whether the
  // node was dead until this heartbeat.
  bool RecordHeartbeat(Node& node, const HeartbeatRequest& req, absl::Time now);

  // nullptr for an unknown node.
  Node* Find(uint64_t id);
  const Node* Find(uint64_t id) const;
  // REQUIRES: `id` is registered (crashes otherwise).
  Node& Get(uint64_t id);
  const Node& Get(uint64_t id) const;

  NodeState State(const Node& node, absl::Time now) const;
  // Whether the node's replicas count towards a chunk's replication:
  // registered, not draining, not dead.
  bool Counts(uint64_t id, absl::Time now) const;
  // The address of a node (only the id for an unknown one).
  NodeAddress Address(uint64_t id) const;

  // Dead nodes, which are also marked as owing a full report.
  absl::flat_hash_set<uint32_t> MarkDead(absl::Time now);

  // Nodes that can take a new chunk (alive, not draining, not in `exclude`),
  // with the bytes placed there since their last heartbeat counted as used.
  std::vector<PlacementCandidate> PlacementCandidates(
      absl::Time now, const absl::flat_hash_set<uint64_t>& exclude) const;

  // Registered ids in ascending order.
  std::vector<uint64_t> SortedIds() const;
  size_t size() const { return nodes_.size(); }
  auto begin() { return nodes_.begin(); }
  auto end() { return nodes_.end(); }
  auto begin() const { return nodes_.begin(); }
  auto end() const { return nodes_.end(); }

 private:
  const absl::Duration stale_after_;
  const absl::Duration dead_after_;
  absl::flat_hash_map<uint64_t, Node> nodes_;
  uint64_t next_id_ = 1;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_NODE_REGISTRY_H_
