// The rebalancer half of RepairScheduler (repair.h).
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "master/repair.h"

namespace cairn::master {

void RepairScheduler::ScheduleRebalance(absl::Time now, RepairGate gate, NodeRegistry& nodes,
                                        ChunkTable& chunks) {
  if (gate.safe_mode || !gate.gc_allowed || stats_.under_replicated > 0) return;
  if (Budget() == 0) return;
  struct Util {
    double util;
    uint64_t id;
  };
  std::vector<Util> utils;
  for (const auto& [id, n] : nodes) {
    if (n.draining || nodes.State(n, now) != NodeState::kAlive || n.used + n.free == 0) continue;
    utils.push_back({n.Utilization(), id});
  }
  if (utils.size() < 2) return;
  std::sort(utils.begin(), utils.end(),
            [](const Util& a, const Util& b) { return a.util < b.util; });
  const Util& emptiest = utils.front();
  const Util& fullest = utils.back();
  if (fullest.util - emptiest.util <= options_.rebalance_threshold) return;
  const Node& from = nodes.Get(fullest.id);
  const Node& to = nodes.Get(emptiest.id);
  int moves = std::min({static_cast<int>(Budget()), options_.per_node - from.copies_out,
                        options_.per_node - to.copies_in});
  for (auto& [handle, c] : chunks) {
    if (moves <= 0) break;
    if (copies_.contains(handle) || c.nodes.size() != c.replication) continue;
    if (!c.HasReplicaOn(static_cast<uint32_t>(fullest.id)) ||
        c.HasReplicaOn(static_cast<uint32_t>(emptiest.id))) {
      continue;
    }
    // A move may not shrink the chunk's spread over zones.
    absl::flat_hash_set<std::string> before, after;
    for (uint32_t n : c.nodes) {
      before.insert(nodes.Get(n).zone);
      if (n != fullest.id) after.insert(nodes.Get(n).zone);
    }
    after.insert(to.zone);
    if (after.size() < before.size()) continue;
    // Copy now; the surplus replica on the fullest node goes when the copy lands.
    StartCopy(handle, c, fullest.id, emptiest.id, now, nodes);
    ++stats_.moves;
    --moves;
  }
  stats_.in_flight = copies_.size();
}

}  // namespace cairn::master
