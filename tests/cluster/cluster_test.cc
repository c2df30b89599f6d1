// Whole-cluster behaviour, in one process: the data path end to end, read
// failover, corruption, and write retries around failing chunkservers. Tests
// of behaviour driven by time (heartbeats, stale and dead detection, repair,
// GC, scrubbing) run on the simulated clock with production-like intervals
// and move time with TestCluster::AdvanceUntil; data-path tests use the real
// clock.
#include <errno.h>

#include <future>

#include "cluster/test_cluster.h"
#include "common/errno_status.h"
#include "nlohmann/json.hpp"

namespace cairn::testing {
namespace {

constexpr uint64_t kChunk = 256 << 10;

ClusterOptions Simulated(ClusterOptions o = {}) {
  o.simulated_clock = true;
  return o;
}

std::string Put(TestCluster& c, const std::string& path, const std::string& data, int want = 201) {
  auto res = c.http().Put(("/api/v1/files" + path).c_str(), data, "application/octet-stream");
  EXPECT_TRUE(res) << "no response";
  if (!res) return "";
  EXPECT_EQ(res->status, want) << res->body;
  return res->body;
}

std::string Get(TestCluster& c, const std::string& path) {
  auto res = c.http().Get(("/api/v1/files" + path).c_str());
  EXPECT_TRUE(res);
  if (!res) return "";
  EXPECT_EQ(res->status, 200) << res->body;
  return res->body;
}

nlohmann::json FileInfo(TestCluster& c, const std::string& path) {
  auto res = c.http().Get(("/api/v1/fileinfo?path=" + path).c_str());
  EXPECT_TRUE(res && res->status == 200);
  return nlohmann::json::parse(res->body);
}

// Every fsync of a replica being written on `fs` fails, as on a dying disk.
void FailReplicaSyncs(MemFileSystem* fs) {
  fs->SetFaultHook([](MemFileSystem::Op op, const std::string& path) {
    return op == MemFileSystem::Op::kSync && path.find("/tmp/") != std::string::npos
               ? absl::InternalError("EIO: disk failing")
               : absl::OkStatus();
  });
}

TEST(ClusterTest, RoundTripsFilesOfEverySize) {
  TestCluster c;
  for (uint64_t size :
       {uint64_t{0}, uint64_t{1}, kChunk - 1, kChunk, kChunk + 1, 3 * kChunk + 777}) {
    std::string path = "/sizes/f" + std::to_string(size);
    std::string data = RandomBytes(size, size);
    auto put = nlohmann::json::parse(Put(c, path, data));
    EXPECT_EQ(put["size"], size);
    EXPECT_EQ(put["chunks"], (size + kChunk - 1) / kChunk);
    EXPECT_EQ(Get(c, path), data) << size;
    auto info = FileInfo(c, path);
    for (const auto& chunk : info["chunks"]) EXPECT_EQ(chunk["replicas"].size(), 3u);
  }
}

// The gateway sends chunks in 1 MiB messages and collects a chunk's
// acknowledgement while the next one is under way (after 8 of its messages,
// or at its end): bodies that end on a message boundary inside a chunk, or
// just past one, and chunks of more than 8 messages.
TEST(ClusterTest, RoundTripsBodiesAroundMessageAndChunkBoundaries) {
  constexpr uint64_t kMiB = 1 << 20;
  ClusterOptions o;
  o.chunk_size = 12 * kMiB;
  TestCluster c(o);
  for (uint64_t size :
       {kMiB, kMiB + 1, 8 * kMiB, 9 * kMiB - 1, 12 * kMiB, 20 * kMiB, 21 * kMiB + 5, 25 * kMiB}) {
    std::string path = "/msg/f" + std::to_string(size);
    std::string data = RandomBytes(size, size);
    auto put = nlohmann::json::parse(Put(c, path, data));
    EXPECT_EQ(put["size"], size);
    EXPECT_EQ(put["chunks"], (size + o.chunk_size - 1) / o.chunk_size);
    EXPECT_TRUE(Get(c, path) == data) << size;
  }
}

// A pipeline that fails at its fsync is noticed only when the chunk's answer
// is collected, by then while the next chunk is being sent: that chunk is
// replayed on other nodes and the upload still succeeds.
TEST(ClusterTest, UploadRetriesAChunkWhoseReplicasFailWhileTheNextIsSent) {
  ClusterOptions o;
  o.chunkservers = 4;
  o.chunk_size = 10 << 20;
  TestCluster c(o);
  FailReplicaSyncs(c.fs(1));
  uint64_t bad = c.chunkserver(1)->heartbeat()->node_id();
  std::string data = RandomBytes(35 << 20, 4);
  Put(c, "/f", data);
  EXPECT_TRUE(Get(c, "/f") == data);
  nlohmann::json info = FileInfo(c, "/f");
  EXPECT_EQ(info["chunks"].size(), 4u);
  for (const auto& chunk : info["chunks"]) {
    EXPECT_EQ(chunk["replicas"].size(), 3u);
    for (const auto& r : chunk["replicas"]) EXPECT_NE(r["node_id"], bad);
  }
}

TEST(ClusterTest, ReadsFailOverWhenAChunkserverIsDown) {
  TestCluster c;
  std::string data = RandomBytes(2 * kChunk + 5, 1);
  Put(c, "/f", data);
  c.StopChunkserver(0);
  EXPECT_EQ(Get(c, "/f"), data);
}

TEST(ClusterTest, CorruptReplicaIsNeverServedAndIsDropped) {
  TestCluster c(Simulated());
  std::string data = RandomBytes(kChunk, 2);
  Put(c, "/f", data);
  auto info = FileInfo(c, "/f");
  // Corrupt the replica on the node the gateway reads first.
  uint64_t first = info["chunks"][0]["replicas"][0]["node_id"];
  uint64_t handle = info["chunks"][0]["handle"];
  int idx = c.NodeIndex(first);
  ASSERT_GE(idx, 0);
  ASSERT_THAT(c.fs(idx)->CorruptByte("/cs/chunks/" + std::to_string(handle) + "_1.chunk", 1000),
              IsOk());
  EXPECT_EQ(Get(c, "/f"), data);
  EXPECT_FALSE(c.chunkserver(idx)->store()->Has(handle, 1));
  // The master hears of it with the node's next heartbeat and stops listing
  // that replica.
  absl::Time found = c.Now();
  EXPECT_TRUE(c.AdvanceUntil([&] {
    nlohmann::json info = FileInfo(c, "/f");
    for (const auto& r : info["chunks"][0]["replicas"]) {
      if (r["node_id"] == first) return false;
    }
    return true;
  }));
  EXPECT_LE(c.Now() - found, 2 * c.heartbeat_interval());
}

TEST(ClusterTest, UploadRetriesAroundAFailingChunkserver) {
  ClusterOptions o;
  o.chunkservers = 4;
  TestCluster c(o);
  FailReplicaSyncs(c.fs(1));
  uint64_t bad = c.chunkserver(1)->heartbeat()->node_id();
  std::string data = RandomBytes(3 * kChunk, 3);
  Put(c, "/f", data);
  EXPECT_EQ(Get(c, "/f"), data);
  nlohmann::json info = FileInfo(c, "/f");
  for (const auto& chunk : info["chunks"]) {
    EXPECT_EQ(chunk["replicas"].size(), 3u);
    for (const auto& r : chunk["replicas"]) EXPECT_NE(r["node_id"], bad);
  }
}

TEST(ClusterTest, UploadFailsCleanlyWhenTooFewChunkserversRemain) {
  TestCluster c;
  c.fs(2)->SetFaultHook([](MemFileSystem::Op op, const std::string&) {
    return op == MemFileSystem::Op::kAppend ? absl::InternalError("EIO") : absl::OkStatus();
  });
  auto res =
      c.http().Put("/api/v1/files/f", RandomBytes(kChunk + 1, 4), "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503) << res->body;
  auto get = c.http().Get("/api/v1/files/f");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 404);  // nothing half-visible
}

TEST(ClusterTest, OutOfSpaceIs507AndLeavesNoFile) {
  TestCluster c(Simulated());
  for (int i = 0; i < 3; ++i) c.fs(i)->SetCapacity(kChunk / 2);
  // Wait for heartbeats to report the tiny capacity.
  ASSERT_TRUE(c.AdvanceUntil([&] {
    ClusterReply cluster = c.master()->Cluster();
    for (const auto& n : cluster.nodes()) {
      if (n.free_bytes() >= kChunk) return false;
    }
    return true;
  }));
  auto res = c.http().Put("/api/v1/files/big", RandomBytes(kChunk, 5), "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 507) << res->body;
  EXPECT_EQ(c.http().Get("/api/v1/files/big")->status, 404);
}

TEST(ClusterTest, ReplaceIsAtomicAndOldChunksAreCollected) {
  TestCluster c(Simulated());
  Put(c, "/f", RandomBytes(2 * kChunk, 6));
  std::vector<uint64_t> old_handles;
  nlohmann::json v1 = FileInfo(c, "/f");
  for (const auto& chunk : v1["chunks"]) old_handles.push_back(chunk["handle"]);
  ASSERT_EQ(old_handles.size(), 2u);
  std::string v2 = RandomBytes(kChunk / 2, 7);
  Put(c, "/f", v2);
  absl::Time replaced = c.Now();
  EXPECT_EQ(Get(c, "/f"), v2);
  // How many replicas of the old version's chunks the nodes hold.
  auto old_replicas = [&] {
    int n = 0;
    for (uint64_t h : old_handles) {
      for (int i = 0; i < 3; ++i) n += c.chunkserver(i)->store()->Has(h, 1);
    }
    return n;
  };
  EXPECT_EQ(old_replicas(), 6);
  // Kept for the grace period (downloads under way finish), with heartbeats
  // and maintenance going on meanwhile...
  const absl::Duration grace = c.master()->options().gc_grace;
  c.Advance(grace - 2 * c.heartbeat_interval());
  EXPECT_EQ(old_replicas(), 6);
  // ...and deleted with the heartbeats after it.
  EXPECT_TRUE(c.AdvanceUntil([&] { return old_replicas() == 0; }));
  EXPECT_GE(c.Now() - replaced, grace);
  EXPECT_LE(c.Now() - replaced, grace + 2 * c.heartbeat_interval());
  EXPECT_EQ(Get(c, "/f"), v2);
}

}  // namespace
}  // namespace cairn::testing

namespace cairn::testing {
namespace {

int ReplicaCount(TestCluster& c, const std::string& path) {
  auto res = c.http().Get(("/api/v1/fileinfo?path=" + path).c_str());
  if (!res || res->status != 200) return -1;
  int min = 1 << 30;
  nlohmann::json info = nlohmann::json::parse(res->body);
  for (const auto& chunk : info["chunks"]) {
    min = std::min<int>(min, static_cast<int>(chunk["replicas"].size()));
  }
  return min;
}

// Stops the node holding the first replica of `path`'s first chunk; returns
// its index and sets `*id` to its node id.
int StopAReplicaHolder(TestCluster& c, const std::string& path, uint64_t* id) {
  *id = FileInfo(c, path)["chunks"][0]["replicas"][0]["node_id"];
  int idx = c.NodeIndex(*id);
  EXPECT_GE(idx, 0);
  if (idx >= 0) c.StopChunkserver(idx);
  return idx;
}

TEST(ClusterRepairTest, DeadChunkserverIsReplacedAndDataStaysReadable) {
  TestCluster c(Simulated({.chunkservers = 4}));
  const master::MasterOptions& mo = c.master()->options();
  const absl::Duration beat = c.heartbeat_interval();
  const absl::Duration step = absl::Seconds(1);
  std::string data = RandomBytes(5 * kChunk + 3, 11);
  Put(c, "/f", data);
  uint64_t id;
  ASSERT_GE(StopAReplicaHolder(c, "/f", &id), 0);
  absl::Time stopped = c.Now();
  // Its last heartbeat came at most one interval before it stopped: stale
  // after stale_after of silence (its replicas still count: nothing is
  // copied), dead after dead_after.
  ASSERT_TRUE(c.AdvanceUntil([&] { return c.NodeState(id) == "stale"; }, step));
  EXPECT_GE(c.Now() - stopped, mo.stale_after - beat - step);
  EXPECT_LE(c.Now() - stopped, mo.stale_after + step);
  EXPECT_EQ(c.master()->Cluster().under_replicated(), 0u);
  EXPECT_EQ(c.master()->Repairs().repaired, 0u);
  ASSERT_TRUE(c.AdvanceUntil([&] { return c.NodeState(id) == "dead"; }, step));
  EXPECT_GE(c.Now() - stopped, mo.dead_after - beat - step);
  EXPECT_LE(c.Now() - stopped, mo.dead_after + step);
  // Then copies restore 3 live replicas.
  EXPECT_TRUE(c.AdvanceUntil([&] {
    return c.master()->Cluster().under_replicated() == 0 && ReplicaCount(c, "/f") == 3 &&
           c.master()->Repairs().repaired >= 1;
  }));
  EXPECT_LE(c.Now() - stopped, mo.dead_after + absl::Minutes(1));
  EXPECT_EQ(Get(c, "/f"), data);
}

// Silent for less than dead_after (a restart, a short partition): stale, but
// its replicas still count, so nothing is re-replicated, and it is alive
// again with its next heartbeat.
TEST(ClusterRepairTest, ChunkserverBackBeforeDeadAfterIsNotReplaced) {
  TestCluster c(Simulated({.chunkservers = 4}));
  const master::MasterOptions& mo = c.master()->options();
  std::string data = RandomBytes(3 * kChunk, 13);
  Put(c, "/f", data);
  uint64_t id;
  int idx = StopAReplicaHolder(c, "/f", &id);
  ASSERT_GE(idx, 0);
  c.Advance(mo.dead_after / 2);
  EXPECT_EQ(c.NodeState(id), "stale");
  EXPECT_EQ(ReplicaCount(c, "/f"), 3);
  c.StartChunkserver(idx);
  EXPECT_TRUE(c.AdvanceUntil([&] { return c.NodeState(id) == "alive"; }));
  c.Advance(mo.dead_after);
  EXPECT_EQ(c.NodeState(id), "alive");
  EXPECT_EQ(c.AliveNodes(), 4);
  EXPECT_EQ(c.master()->Repairs().repaired, 0u);
  EXPECT_EQ(c.master()->Cluster().under_replicated(), 0u);
  EXPECT_EQ(ReplicaCount(c, "/f"), 3);
  EXPECT_EQ(Get(c, "/f"), data);
}

// One scrub pass of chunkserver `i`; returns what ScrubOnce() found.
// Its rate limiter paces the pass on the simulated clock, so time must move.
int ScrubOnce(TestCluster& c, int i) {
  auto scrub =
      std::async(std::launch::async, [&] { return c.chunkserver(i)->scrubber()->ScrubOnce(); });
  if (!c.AdvanceUntil(
          [&] { return scrub.wait_for(std::chrono::seconds(0)) == std::future_status::ready; },
          absl::Milliseconds(100), absl::Seconds(10))) {
    ADD_FAILURE() << "scrub pass did not end";
  }
  return scrub.get();
}

TEST(ClusterRepairTest, ScrubberFindsCorruptionAndTheReplicaIsRepaired) {
  TestCluster c(Simulated());
  std::string data = RandomBytes(kChunk, 12);
  Put(c, "/f", data);
  uint64_t handle = FileInfo(c, "/f")["chunks"][0]["handle"];
  ASSERT_THAT(c.fs(1)->CorruptByte("/cs/chunks/" + std::to_string(handle) + "_1.chunk", 5), IsOk());
  EXPECT_EQ(ScrubOnce(c, 1), 1);
  EXPECT_FALSE(c.chunkserver(1)->store()->Has(handle, 1));
  // Reported, re-replicated back onto a node without it (here: the same node).
  EXPECT_TRUE(c.AdvanceUntil([&] { return c.chunkserver(1)->store()->Has(handle, 1); }));
  EXPECT_TRUE(c.AdvanceUntil([&] { return ReplicaCount(c, "/f") == 3; }));
  EXPECT_EQ(Get(c, "/f"), data);
}

// A replica the disk can no longer read (EIO) is lost like a corrupt one:
// set aside, reported, and re-replicated. (It used to stay listed, failing
// every read, and was never repaired.)
TEST(ClusterRepairTest, UnreadableReplicaIsSetAsideAndRepaired) {
  TestCluster c(Simulated());
  std::string data = RandomBytes(kChunk, 15);
  Put(c, "/f", data);
  uint64_t handle = FileInfo(c, "/f")["chunks"][0]["handle"];
  const std::string path = "/cs/chunks/" + std::to_string(handle) + "_1.chunk";
  c.fs(1)->SetFaultHook([path](MemFileSystem::Op op, const std::string& p) {
    return op == MemFileSystem::Op::kRead && p == path ? ErrnoToStatus(EIO, "read", p)
                                                       : absl::OkStatus();
  });
  EXPECT_EQ(ScrubOnce(c, 1), 1);
  EXPECT_FALSE(c.chunkserver(1)->store()->Has(handle, 1));
  c.fs(1)->SetFaultHook(nullptr);  // the bad sector is behind us
  EXPECT_TRUE(c.AdvanceUntil(
      [&] { return c.chunkserver(1)->store()->Has(handle, 1) && ReplicaCount(c, "/f") == 3; }));
  EXPECT_EQ(Get(c, "/f"), data);
}

// The background scrubber, not a read, finds the corruption: within one
// scrub pause of simulated time.
TEST(ClusterRepairTest, BackgroundScrubberFindsCorruptionWithinAPause) {
  TestCluster c(Simulated());
  std::string data = RandomBytes(kChunk, 14);
  Put(c, "/f", data);
  uint64_t handle = FileInfo(c, "/f")["chunks"][0]["handle"];
  ASSERT_THAT(c.fs(1)->CorruptByte("/cs/chunks/" + std::to_string(handle) + "_1.chunk", 7), IsOk());
  absl::Time corrupted = c.Now();
  c.Advance(absl::Seconds(30));
  EXPECT_TRUE(c.chunkserver(1)->store()->Has(handle, 1));  // no pass yet
  EXPECT_TRUE(c.AdvanceUntil([&] { return !c.chunkserver(1)->store()->Has(handle, 1); }));
  // ChunkserverOptions::scrub_pause, the default (plus a few steps of slack).
  EXPECT_LE(c.Now() - corrupted, absl::Minutes(1) + absl::Seconds(5));
  EXPECT_TRUE(c.AdvanceUntil(
      [&] { return c.chunkserver(1)->store()->Has(handle, 1) && ReplicaCount(c, "/f") == 3; }));
  EXPECT_EQ(Get(c, "/f"), data);
}

}  // namespace
}  // namespace cairn::testing
