#include "master/placement.h"

#include <set>

#include "test_util.h"

namespace cairn::master {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

TEST(PlacementTest, SpreadsOverZonesFirst) {
  std::vector<PlacementCandidate> c = {{1, "a", 10 * kGiB, 0, 0},
                                       {2, "a", 10 * kGiB, 0, 0},
                                       {3, "b", 10 * kGiB, 5 * kGiB, 0},
                                       {4, "c", 10 * kGiB, 6 * kGiB, 0}};
  auto chosen = ChooseReplicas(c, 3, {});
  ASSERT_EQ(chosen.size(), 3u);
  EXPECT_EQ(std::set<uint64_t>(chosen.begin(), chosen.end()), (std::set<uint64_t>{1, 3, 4}));
}

TEST(PlacementTest, PrefersLeastUtilizedAndDistinctNodes) {
  std::vector<PlacementCandidate> c = {{1, "z", 10 * kGiB, 9 * kGiB, 0},
                                       {2, "z", 10 * kGiB, 1 * kGiB, 0},
                                       {3, "z", 10 * kGiB, 2 * kGiB, 0},
                                       {4, "z", 10 * kGiB, 5 * kGiB, 0}};
  EXPECT_EQ(ChooseReplicas(c, 3, {}), (std::vector<uint64_t>{2, 3, 4}));
}

TEST(PlacementTest, SkipsFullNodesAndReturnsWhatFits) {
  PlacementOptions o;
  o.chunk_size = kGiB;
  std::vector<PlacementCandidate> c = {{1, "a", 10 * kGiB, 10 * kGiB - 1, 0},
                                       {2, "b", 10 * kGiB, 0, 0}};
  EXPECT_EQ(ChooseReplicas(c, 3, o), (std::vector<uint64_t>{2}));
}

TEST(PlacementTest, AvoidsNodesWithManyRecentPlacements) {
  PlacementOptions o;
  o.recent_cap = 4;
  std::vector<PlacementCandidate> c = {{1, "a", 10 * kGiB, 0, 10}, {2, "a", 10 * kGiB, kGiB, 0}};
  EXPECT_EQ(ChooseReplicas(c, 1, o), (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace cairn::master
