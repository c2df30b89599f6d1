#include "master/node_registry.h"

#include <algorithm>

#include "common/check.h"

namespace cairn::master {

const char* NodeStateName(NodeState s) {
  switch (s) {
    case NodeState::kAlive:
      return "alive";
    case NodeState::kStale:
      return "stale";
    case NodeState::kDead:
      return "dead";
  }
  return "unknown";
}

double Node::Utilization() const {
  uint64_t capacity = used + free;
  return capacity == 0 ? 1.0 : static_cast<double>(used) / static_cast<double>(capacity);
}

NodeRegistry::NodeRegistry(absl::Duration stale_after, absl::Duration dead_after)
    : stale_after_(stale_after), dead_after_(dead_after) {
  CAIRN_CHECK(stale_after <= dead_after) << "a node must go stale before it is dead";
}

void NodeRegistry::AddLoaded(uint64_t id, const NodeRecord& record, absl::Time started) {
  CAIRN_CHECK(id != 0);
  Node& n = nodes_[id];
  n.id = id;
  n.address = record.address();
  n.zone = record.zone();
  n.last_heartbeat = started - stale_after_;
  next_id_ = std::max(next_id_, id + 1);
}

uint64_t NodeRegistry::AssignId(uint64_t requested) {
  uint64_t id = requested == 0 ? next_id_ : requested;
  next_id_ = std::max(next_id_, id + 1);
  return id;
}

bool NodeRegistry::Register(uint64_t id, const std::string& address, const std::string& zone) {
  CAIRN_CHECK(id != 0 && id < next_id_) << "node " << id << " was not assigned";
  Node& n = nodes_[id];
  bool fresh = n.id == 0;
  if (fresh) n.last_heartbeat = absl::InfinitePast();
  n.id = id;
  n.address = address;
  n.zone = zone;
  return fresh;
}

bool NodeRegistry::RecordHeartbeat(Node& n, const HeartbeatRequest& req, absl::Time now) {
  bool was_dead = State(n, now) == NodeState::kDead;
  n.last_heartbeat = now;
  if (!req.address().empty()) n.address = req.address();
  n.capacity = req.capacity_bytes();
  n.free = req.free_bytes();
  n.used = req.used_bytes();
  n.chunk_count = req.chunk_count();
  n.recent = 0;
  n.recent_bytes = 0;
  return was_dead;
}

Node* NodeRegistry::Find(uint64_t id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

const Node* NodeRegistry::Find(uint64_t id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

Node& NodeRegistry::Get(uint64_t id) {
  Node* n = Find(id);
  CAIRN_CHECK(n != nullptr) << "node " << id << " is not registered";
  return *n;
}

const Node& NodeRegistry::Get(uint64_t id) const {
  const Node* n = Find(id);
  CAIRN_CHECK(n != nullptr) << "node " << id << " is not registered";
  return *n;
}

NodeState NodeRegistry::State(const Node& n, absl::Time now) const {
  absl::Duration silence = now - n.last_heartbeat;
  if (silence >= dead_after_) return NodeState::kDead;
  if (silence >= stale_after_) return NodeState::kStale;
  return NodeState::kAlive;
}

bool NodeRegistry::Counts(uint64_t id, absl::Time now) const {
  const Node* n = Find(id);
  return n != nullptr && !n->draining && State(*n, now) != NodeState::kDead;
}

NodeAddress NodeRegistry::Address(uint64_t id) const {
  NodeAddress a;
  a.set_node_id(id);
  if (const Node* n = Find(id)) {
    a.set_address(n->address);
    a.set_zone(n->zone);
  }
  return a;
}

absl::flat_hash_set<uint32_t> NodeRegistry::MarkDead(absl::Time now) {
  absl::flat_hash_set<uint32_t> dead;
  for (auto& [id, n] : nodes_) {
    if (State(n, now) == NodeState::kDead) {
      dead.insert(static_cast<uint32_t>(id));
      n.reported = false;
    }
  }
  return dead;
}

std::vector<PlacementCandidate> NodeRegistry::PlacementCandidates(
    absl::Time now, const absl::flat_hash_set<uint64_t>& exclude) const {
  std::vector<PlacementCandidate> candidates;
  for (const auto& [id, n] : nodes_) {
    if (State(n, now) != NodeState::kAlive || n.draining || exclude.contains(id)) continue;
    // Free space as the node reported it, less what was placed there since:
    // the bytes expected, not whole chunks, or small files would exhaust a
    // node's room at free space / chunk size placements per heartbeat.
    candidates.push_back({id, n.zone, n.used + n.free, n.used + n.recent_bytes, n.recent});
  }
  return candidates;
}

std::vector<uint64_t> NodeRegistry::SortedIds() const {
  std::vector<uint64_t> ids;
  ids.reserve(nodes_.size());
  for (const auto& [id, n] : nodes_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace cairn::master
