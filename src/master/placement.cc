#include "master/placement.h"

#include <algorithm>
#include <set>

namespace cairn::master {

std::vector<uint64_t> ChooseReplicas(std::vector<PlacementCandidate> candidates, size_t n,
                                     const PlacementOptions& options) {
  std::erase_if(candidates, [&](const PlacementCandidate& c) {
    return c.capacity < c.used || c.capacity - c.used < options.chunk_size;
  });
  auto utilization = [](const PlacementCandidate& c) {
    return c.capacity == 0 ? 1.0 : static_cast<double>(c.used) / static_cast<double>(c.capacity);
  };
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](const PlacementCandidate& a, const PlacementCandidate& b) {
                     bool a_busy = a.recent >= options.recent_cap;
                     bool b_busy = b.recent >= options.recent_cap;
                     if (a_busy != b_busy) return !a_busy;
                     double ua = utilization(a), ub = utilization(b);
                     if (ua != ub) return ua < ub;
                     if (a.recent != b.recent) return a.recent < b.recent;
                     return a.id < b.id;
                   });
  std::vector<uint64_t> chosen;
  std::vector<bool> taken(candidates.size(), false);
  std::set<std::string> zones;
  for (size_t i = 0; i < candidates.size() && chosen.size() < n; ++i) {
    if (zones.insert(candidates[i].zone).second) {
      chosen.push_back(candidates[i].id);
      taken[i] = true;
    }
  }
  for (size_t i = 0; i < candidates.size() && chosen.size() < n; ++i) {
    if (!taken[i]) chosen.push_back(candidates[i].id);
  }
  return chosen;
}

}  // namespace cairn::master
