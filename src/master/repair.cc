#include "master/repair.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "common/check.h"
#include "common/logging.h"
#include "master/placement.h"

namespace cairn::master {

size_t RepairScheduler::Budget() const {
  int free = options_.concurrency - static_cast<int>(copies_.size());
  return free > 0 ? static_cast<size_t>(free) : 0;
}

void RepairScheduler::StartCopy(uint64_t handle, const Chunk& chunk, uint64_t source,
                                uint64_t target, absl::Time now, NodeRegistry& nodes) {
  CAIRN_CHECK(!copies_.contains(handle)) << "a second copy of chunk " << handle;
  CAIRN_CHECK(source != target);
  ReplicateCommand cmd;
  cmd.mutable_chunk()->set_handle(handle);
  cmd.mutable_chunk()->set_version(chunk.version);
  cmd.mutable_chunk()->set_size(chunk.size);
  cmd.mutable_chunk()->set_crc32c(chunk.crc32c);
  *cmd.add_sources() = nodes.Address(source);
  for (uint32_t n : chunk.nodes) {  // fallbacks, should the first source fail
    if (n != source && nodes.State(nodes.Get(n), now) != NodeState::kDead) {
      *cmd.add_sources() = nodes.Address(n);
    }
  }
  Node& t = nodes.Get(target);
  t.replicate.push_back(std::move(cmd));
  ++t.copies_in;
  ++nodes.Get(source).copies_out;
  copies_[handle] = Copy{source, target, now + options_.timeout};
}

bool RepairScheduler::FinishCopy(uint64_t handle, uint64_t node, NodeRegistry& nodes) {
  auto it = copies_.find(handle);
  if (it == copies_.end() || it->second.target != node) return false;
  Node& target = nodes.Get(it->second.target);
  Node& source = nodes.Get(it->second.source);
  --target.copies_in;
  --source.copies_out;
  CAIRN_CHECK(target.copies_in >= 0 && source.copies_out >= 0) << "copy counts went negative";
  copies_.erase(it);
  ++stats_.repaired;
  return true;
}

void RepairScheduler::ExpireCopies(absl::Time now, NodeRegistry& nodes) {
  for (auto it = copies_.begin(); it != copies_.end();) {
    Node& target = nodes.Get(it->second.target);
    bool target_alive = nodes.State(target, now) == NodeState::kAlive;
    if (it->second.deadline > now && target_alive) {
      ++it;
      continue;
    }
    spdlog::warn("copy of chunk {} to node {} {}", it->first, it->second.target,
                 target_alive ? "timed out" : "abandoned: the target is not alive");
    --target.copies_in;
    --nodes.Get(it->second.source).copies_out;
    copies_.erase(it++);
  }
}

void RepairScheduler::RemoveSurplus(uint64_t handle, Chunk& chunk, absl::Time now,
                                    NodeRegistry& nodes) {
  // From a zone holding several replicas first, then from the fullest node.
  absl::flat_hash_map<std::string, int> per_zone;
  for (uint32_t n : chunk.nodes) {
    if (nodes.Counts(n, now)) ++per_zone[nodes.Get(n).zone];
  }
  uint32_t victim = 0;
  std::pair<int, double> worst{-1, -1};
  for (uint32_t n : chunk.nodes) {
    if (!nodes.Counts(n, now)) continue;
    const Node& node = nodes.Get(n);
    std::pair<int, double> score{per_zone[node.zone], node.Utilization()};
    if (score > worst) {
      worst = score;
      victim = n;
    }
  }
  CAIRN_CHECK(victim != 0) << "chunk " << handle << " has a surplus but no counting replica";
  ReplicaInfo r;
  r.set_handle(handle);
  r.set_version(chunk.version);
  nodes.Get(victim).deletes.push_back(r);
  chunk.nodes.erase(std::find(chunk.nodes.begin(), chunk.nodes.end(), victim));
  ++stats_.excess_removed;
}

uint64_t RepairScheduler::ChooseSource(const Chunk& chunk, absl::Time now,
                                       const NodeRegistry& nodes) const {
  uint64_t source = 0;
  NodeState best = NodeState::kDead;
  for (uint32_t n : chunk.nodes) {
    const Node& node = nodes.Get(n);
    NodeState s = nodes.State(node, now);
    if (s == NodeState::kDead || node.copies_out >= options_.per_node) continue;
    if (source == 0 || s < best) {
      source = n;
      best = s;
    }
  }
  return source;
}

uint64_t RepairScheduler::ChooseTarget(const Chunk& chunk, absl::Time now,
                                       const NodeRegistry& nodes) const {
  // A node whose full report is not in may hold the chunk without the master
  // knowing yet (it has just come back): never a target.
  absl::flat_hash_set<std::string> zones;
  for (uint32_t n : chunk.nodes) zones.insert(nodes.Get(n).zone);
  std::vector<PlacementCandidate> fresh_zone, any_zone;
  for (const auto& [id, n] : nodes) {
    if (n.draining || !n.reported || nodes.State(n, now) != NodeState::kAlive ||
        n.copies_in >= options_.per_node || chunk.HasReplicaOn(static_cast<uint32_t>(id))) {
      continue;
    }
    PlacementCandidate cand{id, n.zone, n.used + n.free, n.used + n.recent_bytes, n.recent};
    if (!zones.contains(n.zone)) fresh_zone.push_back(cand);
    any_zone.push_back(cand);
  }
  PlacementOptions popts;
  popts.chunk_size = chunk.size;
  std::vector<uint64_t> target = ChooseReplicas(fresh_zone, 1, popts);
  if (target.empty()) target = ChooseReplicas(any_zone, 1, popts);
  return target.empty() ? 0 : target[0];
}

void RepairScheduler::ScheduleRepairs(absl::Time now, RepairGate gate, NodeRegistry& nodes,
                                      ChunkTable& chunks) {
  ExpireCopies(now, nodes);
  std::vector<std::pair<size_t, uint64_t>> queue;  // (live replicas, handle)
  absl::flat_hash_set<uint64_t> still_needed;      // draining nodes some chunk needs
  uint64_t under = 0;
  for (auto& [handle, c] : chunks) {
    size_t live = 0;
    for (uint32_t n : c.nodes) live += nodes.Counts(n, now);
    if (live < c.replication) {
      ++under;
      for (uint32_t n : c.nodes) {
        if (nodes.Get(n).draining) still_needed.insert(n);
      }
      if (!c.nodes.empty() && !copies_.contains(handle)) queue.emplace_back(live, handle);
    } else if (live > c.replication && gate.gc_allowed && !copies_.contains(handle)) {
      RemoveSurplus(handle, c, now, nodes);
    }
  }
  for (auto& [id, n] : nodes) n.drained = n.draining && !still_needed.contains(id);

  stats_.under_replicated = under;
  stats_.queued = queue.size();
  stats_.in_flight = copies_.size();
  if (gate.safe_mode) return;

  std::sort(queue.begin(), queue.end());
  size_t budget = Budget();
  for (const auto& [live, handle] : queue) {
    if (budget == 0) break;
    const Chunk& c = *chunks.Find(handle);
    uint64_t source = ChooseSource(c, now, nodes);
    if (source == 0) continue;
    uint64_t target = ChooseTarget(c, now, nodes);
    if (target == 0) continue;
    StartCopy(handle, c, source, target, now, nodes);
    --budget;
    --stats_.queued;
  }
  stats_.in_flight = copies_.size();
}

}  // namespace cairn::master
