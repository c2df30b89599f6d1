// Replica placement (GFS §4.2): distinct nodes, spread over zones first, then
// the least utilized, skipping nodes that took many chunks recently.
#ifndef CAIRN_MASTER_PLACEMENT_H_
#define CAIRN_MASTER_PLACEMENT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::master {

struct PlacementCandidate {
  uint64_t id = 0;
  std::string zone;
  uint64_t capacity = 0;  // bytes the node may use
  uint64_t used = 0;      // bytes used, including recent placements not yet reported
  uint32_t recent = 0;    // chunks placed since its last heartbeat
};

struct PlacementOptions {
  uint64_t chunk_size = 64 << 20;  // a node needs this much free space (the bytes to write)
  uint32_t recent_cap = 32;        // prefer nodes under this many recent placements
};

// Chooses up to `n` distinct nodes from `candidates`: first one per zone in
// order of utilization, then the least utilized of the rest. Nodes without
// room for a chunk are never chosen. Returns fewer than `n` when fewer fit.
std::vector<uint64_t> ChooseReplicas(std::vector<PlacementCandidate> candidates, size_t n,
                                     const PlacementOptions& options);

}  // namespace cairn::master

#endif  // CAIRN_MASTER_PLACEMENT_H_
