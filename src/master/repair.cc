// Re-replication (GFS §4.3): chunks with fewer live replicas than their
// replication are copied from a live replica to a new node, fewest live
// replicas first, within cluster-wide and per-node caps on copies in flight.
// Surplus replicas (a node came back, a move finished) are removed, never
// below the replication. Draining nodes stop counting, so their chunks are
// copied away. The rebalancer moves chunks from the fullest to the emptiest
// node (copy, then delete) when utilization differs by more than a threshold.
#include <algorithm>

#include "common/logging.h"
#include "master/master.h"
#include "master/placement.h"

namespace cairn::master {

bool Master::CountsLocked(uint32_t node, absl::Time now) const {
  auto it = nodes_.find(node);
  return it != nodes_.end() && !it->second.draining && StateLocked(it->second, now) != NodeState::kDead;
}

void Master::StartCopyLocked(uint64_t handle, const Chunk& chunk, uint64_t source, uint64_t target,
                             absl::Time now) {
  ReplicateCommand cmd;
  cmd.mutable_chunk()->set_handle(handle);
  cmd.mutable_chunk()->set_version(chunk.version);
  cmd.mutable_chunk()->set_size(chunk.size);
  cmd.mutable_chunk()->set_crc32c(chunk.crc32c);
  *cmd.add_sources() = AddressLocked(source);
  for (uint32_t n : chunk.nodes) {  // fallbacks, should the first source fail
    if (n != source && StateLocked(nodes_.at(n), now) != NodeState::kDead) {
      *cmd.add_sources() = AddressLocked(n);
    }
  }
  Node& t = nodes_.at(target);
  t.replicate.push_back(std::move(cmd));
  ++t.copies_in;
  ++nodes_.at(source).copies_out;
  copies_[handle] = Copy{source, target, now + options_.repair_timeout};
}

void Master::FinishCopyLocked(uint64_t handle, uint64_t node) {
  auto it = copies_.find(handle);
  if (it == copies_.end() || it->second.target != node) return;
  if (auto t = nodes_.find(it->second.target); t != nodes_.end()) --t->second.copies_in;
  if (auto s = nodes_.find(it->second.source); s != nodes_.end()) --s->second.copies_out;
  copies_.erase(it);
  ++repair_stats_.repaired;
}

void Master::ScheduleRepairsLocked(absl::Time now) {
  // Copies that took too long, or whose target stopped heartbeating, are given
  // up (and rescheduled below, elsewhere if need be).
  for (auto it = copies_.begin(); it != copies_.end();) {
    auto t = nodes_.find(it->second.target);
    bool target_alive = t != nodes_.end() && StateLocked(t->second, now) == NodeState::kAlive;
    if (it->second.deadline > now && target_alive) {
      ++it;
      continue;
    }
    spdlog::warn("copy of chunk {} to node {} {}", it->first, it->second.target,
                 target_alive ? "timed out" : "abandoned: the target is not alive");
    if (t != nodes_.end()) --t->second.copies_in;
    if (auto s = nodes_.find(it->second.source); s != nodes_.end()) --s->second.copies_out;
    copies_.erase(it++);
  }

  const bool gc = GcAllowedLocked(now);
  std::vector<std::pair<size_t, uint64_t>> queue;  // (live replicas, handle)
  absl::flat_hash_map<uint64_t, uint64_t> still_needed;  // draining node -> chunks needing it
  uint64_t under = 0;
  for (auto& [handle, c] : chunks_) {
    size_t live = 0;
    for (uint32_t n : c.nodes) live += CountsLocked(n, now);
    if (live < c.replication) {
      ++under;
      for (uint32_t n : c.nodes) {
        if (nodes_.at(n).draining) ++still_needed[n];
      }
      if (!c.nodes.empty() && !copies_.contains(handle)) queue.emplace_back(live, handle);
    } else if (live > c.replication && gc && !copies_.contains(handle)) {
      // Remove one surplus replica: from a zone holding several, then the fullest node.
      absl::flat_hash_map<std::string, int> per_zone;
      for (uint32_t n : c.nodes) {
        if (CountsLocked(n, now)) ++per_zone[nodes_.at(n).zone];
      }
      uint32_t victim = 0;
      std::pair<int, double> worst{-1, -1};
      for (uint32_t n : c.nodes) {
        if (!CountsLocked(n, now)) continue;
        const Node& node = nodes_.at(n);
        double util = node.used + node.free == 0 ? 1.0
                                                 : static_cast<double>(node.used) / (node.used + node.free);
        std::pair<int, double> score{per_zone[node.zone], util};
        if (score > worst) {
          worst = score;
          victim = n;
        }
      }
      ReplicaInfo r;
      r.set_handle(handle);
      r.set_version(c.version);
      nodes_.at(victim).deletes.push_back(r);
      c.nodes.erase(std::find(c.nodes.begin(), c.nodes.end(), victim));
      ++repair_stats_.excess_removed;
    }
  }
  for (auto& [id, n] : nodes_) n.drained = n.draining && !still_needed.contains(id);

  repair_stats_.under_replicated = under;
  repair_stats_.queued = queue.size();
  repair_stats_.in_flight = copies_.size();
  if (safe_mode_) return;

  std::sort(queue.begin(), queue.end());
  size_t budget = options_.repair_concurrency > static_cast<int>(copies_.size())
                      ? options_.repair_concurrency - copies_.size()
                      : 0;
  for (const auto& [live, handle] : queue) {
    if (budget == 0) break;
    const Chunk& c = chunks_.at(handle);
    // Source: a readable replica whose node has copy capacity, alive before stale.
    uint64_t source = 0;
    NodeState best = NodeState::kDead;
    for (uint32_t n : c.nodes) {
      const Node& node = nodes_.at(n);
      NodeState s = StateLocked(node, now);
      if (s == NodeState::kDead || node.copies_out >= options_.repair_per_node) continue;
      if (source == 0 || s < best) {
        source = n;
        best = s;
      }
    }
    if (source == 0) continue;
    // Target: alive, not draining, not holding it, with room; a new zone if
    // possible. And one whose full report is in: a node that has just come
    // back may hold the chunk without the master knowing yet.
    absl::flat_hash_set<std::string> zones;
    for (uint32_t n : c.nodes) zones.insert(nodes_.at(n).zone);
    std::vector<PlacementCandidate> fresh_zone, any_zone;
    for (const auto& [id, n] : nodes_) {
      if (n.draining || !n.reported || StateLocked(n, now) != NodeState::kAlive ||
          n.copies_in >= options_.repair_per_node ||
          std::find(c.nodes.begin(), c.nodes.end(), id) != c.nodes.end()) {
        continue;
      }
      PlacementCandidate cand{id, n.zone, n.used + n.free, n.used, n.recent};
      if (!zones.contains(n.zone)) fresh_zone.push_back(cand);
      any_zone.push_back(cand);
    }
    PlacementOptions popts;
    popts.chunk_size = c.size;
    std::vector<uint64_t> target = ChooseReplicas(fresh_zone, 1, popts);
    if (target.empty()) target = ChooseReplicas(any_zone, 1, popts);
    if (target.empty()) continue;
    StartCopyLocked(handle, c, source, target[0], now);
    --budget;
    --repair_stats_.queued;
  }
  repair_stats_.in_flight = copies_.size();
}

void Master::ScheduleRebalanceLocked(absl::Time now) {
  if (safe_mode_ || repair_stats_.under_replicated > 0 || !GcAllowedLocked(now)) return;
  if (static_cast<int>(copies_.size()) >= options_.repair_concurrency) return;
  struct Util {
    double util;
    uint64_t id;
  };
  std::vector<Util> utils;
  for (const auto& [id, n] : nodes_) {
    if (n.draining || StateLocked(n, now) != NodeState::kAlive || n.used + n.free == 0) continue;
    utils.push_back({static_cast<double>(n.used) / static_cast<double>(n.used + n.free), id});
  }
  if (utils.size() < 2) return;
  std::sort(utils.begin(), utils.end(), [](const Util& a, const Util& b) { return a.util < b.util; });
  const Util& emptiest = utils.front();
  const Util& fullest = utils.back();
  if (fullest.util - emptiest.util <= options_.rebalance_threshold) return;
  Node& from = nodes_.at(fullest.id);
  Node& to = nodes_.at(emptiest.id);
  int moves = std::min({options_.repair_concurrency - static_cast<int>(copies_.size()),
                        options_.repair_per_node - from.copies_out,
                        options_.repair_per_node - to.copies_in});
  for (auto& [handle, c] : chunks_) {
    if (moves <= 0) break;
    if (copies_.contains(handle) || c.nodes.size() != c.replication) continue;
    bool on_from = false, on_to = false;
    absl::flat_hash_set<std::string> before, after;
    for (uint32_t n : c.nodes) {
      on_from |= n == fullest.id;
      on_to |= n == emptiest.id;
      before.insert(nodes_.at(n).zone);
      if (n != fullest.id) after.insert(nodes_.at(n).zone);
    }
    after.insert(to.zone);
    // A move may not shrink the chunk's spread over zones.
    if (!on_from || on_to || after.size() < before.size()) continue;
    // Copy now; the surplus replica on the fullest node goes when the copy lands.
    StartCopyLocked(handle, c, fullest.id, emptiest.id, now);
    ++repair_stats_.moves;
    --moves;
  }
  repair_stats_.in_flight = copies_.size();
}

}  // namespace cairn::master
