// The Master's chunkserver protocol and upload lifecycle with a simulated clock.
#include "master/master.h"

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "test_util.h"

namespace cairn::master {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::StatusIs;
using ::cairn::testing::TempDir;

class MasterTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    master_.reset();
    MasterOptions o;
    o.root_dir = dir_.path();
    o.chunk_size = 1024;
    o.replication = 3;
    auto m = Master::Open(o, &clock_);
    ASSERT_THAT(m, IsOk());
    master_ = std::move(*m);
  }
  uint64_t AddNode(const std::string& zone) {
    RegisterRequest r;
    r.set_address("127.0.0.1:" + std::to_string(1000 + nodes_.size()));
    r.set_zone(zone);
    auto reply = master_->Register(r);
    EXPECT_THAT(reply, IsOk());
    nodes_.push_back(reply->node_id());
    Beat(reply->node_id(), {}, true);
    return reply->node_id();
  }
  HeartbeatReply Beat(uint64_t node, std::vector<ReplicaInfo> replicas, bool full,
                      uint64_t free = 1 << 30) {
    HeartbeatRequest h;
    h.set_node_id(node);
    h.set_capacity_bytes(1 << 30);
    h.set_free_bytes(free);
    h.set_full_report(full);
    for (auto& r : replicas) *h.add_replicas() = r;
    auto reply = master_->Heartbeat(h);
    EXPECT_THAT(reply, IsOk());
    return *reply;
  }
  // Starts an upload of `path`; returns the request allocating its next
  // chunk (upload id 0 if the start failed).
  AllocateChunkRequest StartAt(const std::string& path) {
    StartUploadRequest s;
    s.set_path(path);
    auto up = master_->StartUpload(s);
    EXPECT_THAT(up, IsOk());
    AllocateChunkRequest a;
    a.set_upload_id(up.ok() ? up->upload_id() : 0);
    return a;
  }
  // Uploads a one-chunk file and returns its chunk.
  ChunkRef Upload(const std::string& path, uint64_t size = 100) {
    AllocateChunkRequest a = StartAt(path);
    auto alloc = master_->AllocateChunk(a);
    EXPECT_THAT(alloc, IsOk());
    CommitUploadRequest c;
    c.set_upload_id(a.upload_id());
    c.set_length(size);
    CommittedChunk* cc = c.add_chunks();
    *cc->mutable_chunk() = alloc->chunk();
    cc->mutable_chunk()->set_size(size);
    for (const auto& r : alloc->replicas()) cc->add_nodes(r.node_id());
    EXPECT_THAT(master_->CommitUpload(c), IsOk());
    return cc->chunk();
  }
  static ReplicaInfo Replica(uint64_t handle, uint64_t version = 1, uint64_t size = 100) {
    ReplicaInfo r;
    r.set_handle(handle);
    r.set_version(version);
    r.set_size(size);
    return r;
  }

  TempDir dir_;
  SimulatedClock clock_;
  std::unique_ptr<Master> master_;
  std::vector<uint64_t> nodes_;
};

TEST_F(MasterTest, NodeStatesFollowHeartbeats) {
  uint64_t n = AddNode("a");
  auto state = [&] { return master_->Cluster().nodes(0).state(); };
  EXPECT_EQ(state(), "alive");
  RegisterRequest r;
  r.set_address("127.0.0.1:2000");
  ASSERT_THAT(master_->Register(r), IsOk());
  EXPECT_EQ(master_->Cluster().nodes(1).state(), "dead");  // no heartbeat yet
  clock_.Advance(absl::Seconds(7));
  EXPECT_EQ(state(), "stale");
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(state(), "dead");
  Beat(n, {}, false);
  EXPECT_EQ(state(), "alive");
}

TEST_F(MasterTest, RegisterRejectsANodeIdOutOfRange) {
  RegisterRequest r;
  r.set_address("127.0.0.1:1");
  r.set_node_id(uint64_t{1} << 32);  // would alias node 0 in the chunk table
  EXPECT_THAT(master_->Register(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r.set_node_id(UINT32_MAX);
  EXPECT_THAT(master_->Register(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r.set_node_id(UINT32_MAX - 1);
  EXPECT_THAT(master_->Register(r), IsOk());
}

TEST_F(MasterTest, RefusesPlacementWithTooFewLiveNodes) {
  AddNode("a");
  AddNode("b");
  AllocateChunkRequest a = StartAt("/f");
  ASSERT_NE(a.upload_id(), 0u);
  EXPECT_THAT(master_->AllocateChunk(a), StatusIs(absl::StatusCode::kUnavailable));
  AddNode("c");
  clock_.Advance(absl::Seconds(7));  // all stale: no new chunks there
  EXPECT_THAT(master_->AllocateChunk(a), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(MasterTest, StartUploadCanAllocateTheFirstChunk) {
  AddNode("a");
  AddNode("b");
  StartUploadRequest s;
  s.set_path("/f");
  s.set_allocate_first_chunk(true);
  // Too few nodes: the error of the allocation, and no upload left behind.
  EXPECT_THAT(master_->StartUpload(s), StatusIs(absl::StatusCode::kUnavailable));
  AddNode("c");
  auto up = master_->StartUpload(s);
  ASSERT_THAT(up, IsOk());
  ASSERT_TRUE(up->has_first_chunk());
  EXPECT_EQ(up->first_chunk().replicas_size(), 3);
  EXPECT_NE(up->first_chunk().chunk().handle(), 0u);
  // It is the upload's own chunk: the commit accepts it.
  CommitUploadRequest c;
  c.set_upload_id(up->upload_id());
  CommittedChunk* cc = c.add_chunks();
  *cc->mutable_chunk() = up->first_chunk().chunk();
  cc->mutable_chunk()->set_size(10);
  for (const auto& r : up->first_chunk().replicas()) cc->add_nodes(r.node_id());
  c.set_length(10);
  EXPECT_THAT(master_->CommitUpload(c), IsOk());
  s.set_allocate_first_chunk(false);
  auto plain = master_->StartUpload(s);
  ASSERT_THAT(plain, IsOk());
  EXPECT_FALSE(plain->has_first_chunk());
}

// One small file of a pack commit.
PackedFile Packed(const std::string& path, uint64_t offset, uint64_t length,
                  bool if_none_match = false) {
  PackedFile f;
  f.set_path(path);
  f.set_offset(offset);
  f.set_length(length);
  f.set_sha256("ab");
  f.set_if_none_match(if_none_match);
  return f;
}

TEST_F(MasterTest, CommitPackCommitsEachFileOfAPackChunkOnItsOwn) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  Upload("/taken");
  StartPackRequest sp;
  sp.set_expected_size(100);
  auto pack = master_->StartPack(sp);
  ASSERT_THAT(pack, IsOk());
  ASSERT_EQ(pack->first_chunk().replicas_size(), 3);
  CommitPackRequest c;
  c.set_upload_id(pack->upload_id());
  *c.mutable_chunk()->mutable_chunk() = pack->first_chunk().chunk();
  c.mutable_chunk()->mutable_chunk()->set_size(100);
  for (const auto& r : pack->first_chunk().replicas()) c.mutable_chunk()->add_nodes(r.node_id());
  *c.add_files() = Packed("/s/a", 0, 40);
  *c.add_files() = Packed("/taken", 40, 10, /*if_none_match=*/true);
  *c.add_files() = Packed("bad path", 50, 10);
  *c.add_files() = Packed("/s/past-the-end", 90, 20);
  *c.add_files() = Packed("/s/b", 50, 50);
  *c.add_files() = Packed("/s/empty", 0, 0);
  // A pack commit is not an upload's, and an upload's is not a pack's.
  CommitUploadRequest wrong;
  wrong.set_upload_id(pack->upload_id());
  EXPECT_THAT(master_->CommitUpload(wrong), StatusIs(absl::StatusCode::kInvalidArgument));
  CommitPackRequest not_pack = c;
  not_pack.set_upload_id(StartAt("/x").upload_id());
  EXPECT_THAT(master_->CommitPack(not_pack), StatusIs(absl::StatusCode::kInvalidArgument));

  auto reply = master_->CommitPack(c);
  ASSERT_THAT(reply, IsOk());
  ASSERT_EQ(reply->results_size(), 6);
  std::vector<int> codes;
  for (const auto& r : reply->results()) codes.push_back(r.code());
  EXPECT_EQ(codes, (std::vector<int>{0, static_cast<int>(absl::StatusCode::kFailedPrecondition),
                                     static_cast<int>(absl::StatusCode::kInvalidArgument),
                                     static_cast<int>(absl::StatusCode::kInvalidArgument), 0, 0}));
  EXPECT_EQ(reply->results(4).entry().path(), "/s/b");
  // Both files read their own bytes of the one chunk, from its replicas.
  auto b = master_->Lookup("/s/b");
  ASSERT_THAT(b, IsOk());
  ASSERT_EQ(b->entry().file().extents_size(), 1);
  EXPECT_EQ(b->entry().file().extents(0).handle(), pack->first_chunk().chunk().handle());
  EXPECT_EQ(b->entry().file().extents(0).offset(), 50u);
  EXPECT_EQ(b->locations(0).replicas_size(), 3);
  EXPECT_EQ(master_->Lookup("/s/a")->entry().file().extents(0).length(), 40u);
  EXPECT_EQ(master_->Lookup("/s/empty")->entry().file().length(), 0u);
  EXPECT_THAT(master_->Lookup("/s/past-the-end"), StatusIs(absl::StatusCode::kNotFound));
  // The upload is gone once committed.
  EXPECT_THAT(master_->CommitPack(c), StatusIs(absl::StatusCode::kNotFound));
  // The chunk stays while one file references it.
  ASSERT_THAT(master_->Delete("/s/a", false), IsOk());
  EXPECT_THAT(master_->Lookup("/s/b"), IsOk());
  Open();  // and after a restart
  EXPECT_EQ(master_->Lookup("/s/b")->entry().file().extents(0).offset(), 50u);
}

// Starts a pack upload and returns the commit of its chunk, `size` bytes on
// every node it was placed on, with no files yet.
CommittedChunk PackChunk(Master* master, uint64_t size, uint64_t* upload_id) {
  StartPackRequest sp;
  sp.set_expected_size(size);
  auto pack = master->StartPack(sp);
  EXPECT_THAT(pack, IsOk());
  *upload_id = pack.ok() ? pack->upload_id() : 0;
  CommittedChunk c;
  if (!pack.ok()) return c;
  *c.mutable_chunk() = pack->first_chunk().chunk();
  c.mutable_chunk()->set_size(size);
  for (const auto& r : pack->first_chunk().replicas()) c.add_nodes(r.node_id());
  return c;
}

TEST_F(MasterTest, CompactionRewritesAMostlyDeadPackAndCollectsTheOldChunk) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  CommitPackRequest c;
  uint64_t upload = 0;
  *c.mutable_chunk() = PackChunk(master_.get(), 100, &upload);
  c.set_upload_id(upload);
  *c.add_files() = Packed("/a", 16, 10);
  *c.add_files() = Packed("/b", 42, 20);
  *c.add_files() = Packed("/c", 78, 22);
  ASSERT_THAT(master_->CommitPack(c), IsOk());
  const ChunkRef old = c.chunk().chunk();
  for (uint64_t n : nodes_) Beat(n, {Replica(old.handle(), old.version(), 100)}, false);
  // 52% live: nothing to do.
  auto none = master_->CompactionTask();
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_task());
  EXPECT_EQ(master_->Cluster().compaction_reclaimable_bytes(), 48u);
  ASSERT_THAT(master_->Delete("/c", false), IsOk());
  // The next scan waits for the interval.
  EXPECT_FALSE(master_->CompactionTask()->has_task());
  clock_.Advance(absl::Minutes(1));
  for (uint64_t n : nodes_) Beat(n, {}, false);  // alive: the chunk can be read
  auto task = master_->CompactionTask();
  ASSERT_THAT(task, IsOk());
  ASSERT_TRUE(task->has_task());
  EXPECT_EQ(task->task().chunk().handle(), old.handle());
  EXPECT_EQ(task->task().size(), 100u);
  EXPECT_EQ(task->task().locations().alive(), 3u);
  ASSERT_EQ(task->task().moves_size(), 2);
  EXPECT_EQ(task->task().moves(0).path(), "/a");
  EXPECT_EQ(task->task().moves(1).offset(), 42u);
  EXPECT_EQ(master_->Cluster().compaction_reclaimable_bytes(), 70u);
  // Leased: not handed out again, even after another scan.
  clock_.Advance(absl::Minutes(1));
  for (uint64_t n : nodes_) Beat(n, {}, false);
  EXPECT_FALSE(master_->CompactionTask()->has_task());

  // The gateway wrote /a and /b into a new chunk; /b was replaced meanwhile.
  Upload("/b");
  CommitCompactionRequest cc;
  *cc.mutable_chunk() = PackChunk(master_.get(), 62, &upload);
  cc.set_upload_id(upload);
  *cc.mutable_old_chunk() = old;
  for (const CompactionMove& m : task->task().moves()) *cc.add_moves() = m;
  cc.mutable_moves(0)->set_new_offset(16);
  cc.mutable_moves(1)->set_new_offset(42);
  auto done = master_->CommitCompaction(cc);
  ASSERT_THAT(done, IsOk());
  EXPECT_EQ(done->moved(), 1u);
  EXPECT_EQ(done->skipped(), 1u);
  EXPECT_THAT(master_->CommitCompaction(cc), StatusIs(absl::StatusCode::kNotFound));
  auto a = master_->Lookup("/a");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->entry().file().extents(0).handle(), cc.chunk().chunk().handle());
  EXPECT_EQ(a->entry().file().extents(0).offset(), 16u);
  EXPECT_EQ(a->locations(0).replicas_size(), 3);
  ClusterReply cluster = master_->Cluster();
  EXPECT_EQ(cluster.compactions_total(), 1u);
  EXPECT_EQ(cluster.compaction_rewritten_bytes_total(), 62u);
  // No file is left on the old chunk: collected after the grace period.
  clock_.Advance(absl::Seconds(31));
  master_->Tick();
  HeartbeatReply r = Beat(nodes_[0], {}, false);
  ASSERT_EQ(r.delete__size(), 1);
  EXPECT_EQ(r.delete_(0).handle(), old.handle());
  Open();  // the switch is durable
  EXPECT_EQ(master_->Lookup("/a")->entry().file().extents(0).handle(), cc.chunk().chunk().handle());
  EXPECT_FALSE(master_->CompactionTask()->has_task());  // safe mode
}

TEST_F(MasterTest, CommitPackRefusesAChunkNotOfTheUploadOrShortOfReplicas) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  auto pack = master_->StartPack(StartPackRequest());
  ASSERT_THAT(pack, IsOk());
  auto commit = [&](auto edit) {
    CommitPackRequest c;
    c.set_upload_id(pack->upload_id());
    *c.mutable_chunk()->mutable_chunk() = pack->first_chunk().chunk();
    c.mutable_chunk()->mutable_chunk()->set_size(10);
    for (const auto& r : pack->first_chunk().replicas()) c.mutable_chunk()->add_nodes(r.node_id());
    *c.add_files() = Packed("/f", 0, 10);
    edit(c);
    return master_->CommitPack(c);
  };
  EXPECT_THAT(
      commit([](CommitPackRequest& c) { c.mutable_chunk()->mutable_nodes()->RemoveLast(); }),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      commit([](CommitPackRequest& c) { c.mutable_chunk()->mutable_chunk()->set_handle(9999); }),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(commit([](CommitPackRequest& c) { c.mutable_chunk()->mutable_chunk()->set_size(0); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(commit([](CommitPackRequest& c) {
                c.mutable_chunk()->mutable_chunk()->set_size(4096);  // over chunk_size
              }),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(master_->Lookup("/f"), StatusIs(absl::StatusCode::kNotFound));
  // None of those used the upload up: the right commit still goes through.
  EXPECT_THAT(commit([](CommitPackRequest&) {}), IsOk());
  EXPECT_THAT(master_->Lookup("/f"), IsOk());
}

// A replace is visible to readers a moment before its metadata is synced (the
// WAL sync is shared by concurrent commits): a reader must still never find
// the file without the locations of its chunks, old or new.
TEST_F(MasterTest, ReadersDuringReplacesAlwaysFindChunkLocations) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  Upload("/hot");
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, unlocated{0};
  std::thread reader([&] {
    while (!done) {
      auto r = master_->Lookup("/hot");
      ASSERT_THAT(r, IsOk());
      ++reads;
      if (r->locations_size() != 1 || r->locations(0).replicas_size() != 3) ++unlocated;
    }
  });
  for (int i = 0; i < 100; ++i) Upload("/hot");
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(unlocated.load(), 0);
}

TEST_F(MasterTest, PlacesOnDistinctNodesAndRecordsLocations) {
  for (const char* z : {"a", "b", "c", "a"}) AddNode(z);
  ChunkRef c = Upload("/dir/f");
  auto info = master_->Lookup("/dir/f");
  ASSERT_THAT(info, IsOk());
  ASSERT_EQ(info->locations_size(), 1);
  std::set<std::string> zones;
  std::set<uint64_t> ids;
  for (const auto& r : info->locations(0).replicas()) {
    zones.insert(r.zone());
    ids.insert(r.node_id());
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(zones.size(), 3u);
  EXPECT_EQ(info->entry().file().extents(0).handle(), c.handle());
}

// A side-by-side run found small uploads refused with "only 1 chunkservers
// have room" on nearly empty disks: every placement was charged a whole chunk
// until the node's next heartbeat.
TEST_F(MasterTest, PlacementChargesANodeWhatTheWriterWillWrite) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  for (uint64_t n : nodes_) Beat(n, {}, false, /*free=*/8 * 1024);  // room for 8 whole chunks
  for (int i = 0; i < 200; ++i) {  // 200 files of 20 bytes: 4,000 bytes a node
    AllocateChunkRequest a = StartAt("/small" + std::to_string(i));
    a.set_expected_size(20);
    ASSERT_THAT(master_->AllocateChunk(a), IsOk()) << i;
  }
  // Whole chunks (the size unknown) still count whole: 4 more fit, not 5.
  for (int i = 0; i < 4; ++i) ASSERT_THAT(master_->AllocateChunk(StartAt("/big")), IsOk()) << i;
  EXPECT_THAT(master_->AllocateChunk(StartAt("/big")),
              StatusIs(absl::StatusCode::kResourceExhausted));
  for (uint64_t n : nodes_) Beat(n, {}, false, /*free=*/8 * 1024);  // what was placed is reported
  EXPECT_THAT(master_->AllocateChunk(StartAt("/big")), IsOk());
  // StartUpload's first chunk is charged the body's length.
  for (uint64_t n : nodes_) Beat(n, {}, false, /*free=*/1024);
  StartUploadRequest s;
  s.set_path("/first");
  s.set_allocate_first_chunk(true);
  s.set_expected_length(100);
  for (int i = 0; i < 10; ++i) ASSERT_THAT(master_->StartUpload(s), IsOk()) << i;
  EXPECT_THAT(master_->StartUpload(s), StatusIs(absl::StatusCode::kResourceExhausted));
}

// With replication equal to the node count every chunk is on every node;
// the pipeline's head and the first replica a reader tries must still spread.
TEST_F(MasterTest, PipelineHeadsAndReadersSpreadOverTheHolders) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  std::map<uint64_t, int> heads, readers;
  for (int i = 0; i < 30; ++i) {
    AllocateChunkRequest a = StartAt("/f" + std::to_string(i));
    auto alloc = master_->AllocateChunk(a);
    ASSERT_THAT(alloc, IsOk());
    ++heads[alloc->replicas(0).node_id()];
    CommitUploadRequest c;
    c.set_upload_id(a.upload_id());
    c.set_length(10);
    CommittedChunk* cc = c.add_chunks();
    *cc->mutable_chunk() = alloc->chunk();
    cc->mutable_chunk()->set_size(10);
    for (const auto& r : alloc->replicas()) cc->add_nodes(r.node_id());
    ASSERT_THAT(master_->CommitUpload(c), IsOk());
    auto info = master_->Lookup("/f" + std::to_string(i));
    ASSERT_THAT(info, IsOk());
    EXPECT_EQ(info->locations(0).alive(), 3u);
    ++readers[info->locations(0).replicas(0).node_id()];
  }
  for (uint64_t n : nodes_) {
    EXPECT_EQ(heads[n], 10) << "node " << n;
    EXPECT_EQ(readers[n], 10) << "node " << n;
  }
  // A stale holder is listed last, after every alive one.
  clock_.Advance(absl::Seconds(7));
  Beat(nodes_[0], {}, false);
  Beat(nodes_[1], {}, false);
  for (int i = 0; i < 30; ++i) {
    auto info = master_->Lookup("/f" + std::to_string(i));
    ASSERT_THAT(info, IsOk());
    EXPECT_EQ(info->locations(0).alive(), 2u);
    ASSERT_EQ(info->locations(0).replicas_size(), 3);
    EXPECT_EQ(info->locations(0).replicas(2).node_id(), nodes_[2]);
  }
}

TEST_F(MasterTest, CommitRejectsForeignOrMisSizedChunks) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  StartUploadRequest s;
  s.set_path("/f");
  auto up = master_->StartUpload(s);
  CommitUploadRequest c;
  c.set_upload_id(up->upload_id());
  c.set_length(10);
  c.add_chunks()->mutable_chunk()->set_handle(999);
  EXPECT_THAT(master_->CommitUpload(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.set_upload_id(12345);
  EXPECT_THAT(master_->CommitUpload(c), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(MasterTest, CommitRejectsADuplicatedChunkOrAReplicaOffItsPlacement) {
  for (const char* z : {"a", "b", "c", "d"}) AddNode(z);
  AllocateChunkRequest a = StartAt("/f");
  ASSERT_NE(a.upload_id(), 0u);
  auto alloc = master_->AllocateChunk(a);
  ASSERT_THAT(alloc, IsOk());
  auto commit = [&](int copies, uint64_t stray_node) {
    CommitUploadRequest c;
    c.set_upload_id(a.upload_id());
    c.set_length(1024 * copies);
    for (int i = 0; i < copies; ++i) {
      CommittedChunk* cc = c.add_chunks();
      *cc->mutable_chunk() = alloc->chunk();
      cc->mutable_chunk()->set_size(1024);
      for (const auto& r : alloc->replicas()) cc->add_nodes(r.node_id());
      if (stray_node != 0) cc->set_nodes(0, stray_node);
    }
    return master_->CommitUpload(c);
  };
  EXPECT_THAT(commit(2, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  uint64_t unplaced = 0;
  for (uint64_t n : nodes_) {
    bool placed = false;
    for (const auto& r : alloc->replicas()) placed |= r.node_id() == n;
    if (!placed) unplaced = n;
  }
  ASSERT_NE(unplaced, 0u);
  EXPECT_THAT(commit(1, unplaced), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(commit(1, 987654), StatusIs(absl::StatusCode::kInvalidArgument));
  // The upload survived the bad commits and commits once.
  EXPECT_THAT(commit(1, 0), IsOk());
  EXPECT_THAT(commit(1, 0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(master_->Cluster().chunks(), 1u);
}

TEST(NodeRegistryDeathTest, GettingAnUnregisteredNodeIsABrokenInvariant) {
  NodeRegistry nodes(absl::Seconds(6), absl::Seconds(30));
  EXPECT_EQ(nodes.Find(7), nullptr);
  EXPECT_DEATH(nodes.Get(7), "node 7 is not registered");
}

TEST(ChunkTableDeathTest, CommittingAHandleTwiceIsABrokenInvariant) {
  ChunkTable chunks;
  ChunkRef ref;
  ref.set_handle(5);
  ref.set_version(1);
  google::protobuf::RepeatedField<uint64_t> nodes;
  nodes.Add(1);
  nodes.Add(1);
  chunks.AddCommitted(ref, 3, nodes);
  EXPECT_EQ(chunks.Find(5)->nodes.size(), 1u);  // replicas are distinct
  EXPECT_DEATH(chunks.AddCommitted(ref, 3, nodes), "chunk 5 committed twice");
}

TEST_F(MasterTest, GarbageIsDeletedButReferencedAndPendingReplicasAreNot) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  ChunkRef kept = Upload("/keep");
  // A pending upload's chunk on node 1.
  StartUploadRequest s;
  s.set_path("/pending");
  auto up = master_->StartUpload(s);
  AllocateChunkRequest a;
  a.set_upload_id(up->upload_id());
  auto pending = master_->AllocateChunk(a);
  ASSERT_THAT(pending, IsOk());
  HeartbeatReply r = Beat(nodes_[0],
                          {Replica(kept.handle()), Replica(pending->chunk().handle()),
                           Replica(424242), Replica(kept.handle(), 0)},
                          true);
  // Deleted: the unknown replica and the stale version of the kept chunk, by version.
  std::set<std::pair<uint64_t, uint64_t>> deleted;
  for (const auto& d : r.delete_()) deleted.insert({d.handle(), d.version()});
  EXPECT_EQ(deleted, (std::set<std::pair<uint64_t, uint64_t>>{{424242, 1}, {kept.handle(), 0}}));
}

TEST_F(MasterTest, DeletedFileReplicasAreCollected) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  ChunkRef c = Upload("/f");
  ASSERT_THAT(master_->Delete("/f", false), IsOk());
  // Kept through the grace period, even when a full report mentions it.
  EXPECT_EQ(Beat(nodes_[0], {Replica(c.handle())}, true).delete__size(), 0);
  clock_.Advance(absl::Seconds(31));
  master_->Tick();
  for (uint64_t n : nodes_) {
    HeartbeatReply r = Beat(n, {}, false);
    ASSERT_EQ(r.delete__size(), 1);
    EXPECT_EQ(r.delete_(0).handle(), c.handle());
  }
}

TEST_F(MasterTest, RacingCommitsToOnePathDeleteNothingBeforeTheGracePeriod) {
  // A commit replaced by a racing one before it drops its upload: its chunks
  // are the racer's garbage now, deleted only after the grace period.
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  std::set<uint64_t> handles;
  absl::Mutex mu;
  auto uploader = [&] {
    for (int i = 0; i < 200; ++i) {
      ChunkRef c = Upload("/race");
      absl::MutexLock lock(&mu);
      handles.insert(c.handle());
    }
  };
  std::thread a(uploader), b(uploader);
  a.join();
  b.join();
  for (uint64_t n : nodes_) EXPECT_EQ(Beat(n, {}, false).delete__size(), 0) << "node " << n;
  clock_.Advance(absl::Seconds(31));
  master_->Tick();
  auto live = master_->Lookup("/race");
  ASSERT_THAT(live, IsOk());
  handles.erase(live->entry().file().extents(0).handle());
  for (uint64_t n : nodes_) {
    HeartbeatReply reply = Beat(n, {}, false);
    std::set<uint64_t> deleted;
    for (const ReplicaInfo& r : reply.delete_()) deleted.insert(r.handle());
    EXPECT_EQ(deleted, handles) << "node " << n;
  }
}

TEST_F(MasterTest, RestartKeepsMetadataAndDeletesNothingInSafeMode) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  ChunkRef c = Upload("/f");
  Open();  // restart
  EXPECT_TRUE(master_->InSafeMode());
  auto info = master_->Lookup("/f");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->entry().file().extents(0).handle(), c.handle());
  EXPECT_EQ(info->locations(0).replicas_size(), 0);  // not reported yet
  // Garbage reported during safe mode is kept for now.
  HeartbeatReply r = Beat(nodes_[0], {Replica(c.handle()), Replica(777)}, true);
  EXPECT_EQ(r.delete__size(), 0);
  master_->Tick();
  EXPECT_FALSE(master_->InSafeMode());  // every chunk has a replica again
  EXPECT_EQ(master_->Lookup("/f")->locations(0).replicas_size(), 1);
  r = Beat(nodes_[0], {Replica(c.handle()), Replica(777)}, true);
  ASSERT_EQ(r.delete__size(), 1);
  EXPECT_EQ(r.delete_(0).handle(), 777u);
  // New handles never collide with old ones.
  for (uint64_t n : nodes_) Beat(n, {}, false);
  EXPECT_GT(Upload("/g").handle(), c.handle());
}

TEST_F(MasterTest, CheckpointPausesGc) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  ASSERT_THAT(master_->Checkpoint(dir_.path() + "/cp", absl::Minutes(5)), IsOk());
  EXPECT_EQ(Beat(nodes_[0], {Replica(555)}, true).delete__size(), 0);
  master_->ResumeGc();
  EXPECT_EQ(Beat(nodes_[0], {Replica(555)}, true).delete__size(), 1);
}

// A delete decided before a backup's pause is not handed out during it: the
// backup copies the volumes then, and files must not vanish under it.
TEST_F(MasterTest, DeletesQueuedBeforeAPauseWaitForItsEnd) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  ChunkRef c = Upload("/f");
  ASSERT_THAT(master_->Delete("/f", false), IsOk());
  clock_.Advance(absl::Minutes(1));  // past the GC grace
  master_->Tick();                   // the replicas' deletes are queued now
  ASSERT_THAT(master_->Checkpoint(dir_.path() + "/cp", absl::Minutes(5)), IsOk());
  for (uint64_t n : nodes_) EXPECT_EQ(Beat(n, {}, false).delete__size(), 0);
  master_->ResumeGc();
  int deletes = 0;
  for (uint64_t n : nodes_) {
    HeartbeatReply reply = Beat(n, {}, false);
    for (const auto& d : reply.delete_()) deletes += d.handle() == c.handle();
  }
  EXPECT_EQ(deletes, 3);
}

}  // namespace
}  // namespace cairn::master

namespace cairn::master {
namespace {

// Re-replication, surplus removal, draining and rebalancing, driven by Tick().
class RepairTest : public MasterTest {
 protected:
  // Beats every node in `alive` with incremental reports, returning the replies.
  std::map<uint64_t, HeartbeatReply> BeatAll(const std::set<uint64_t>& alive) {
    std::map<uint64_t, HeartbeatReply> replies;
    for (uint64_t n : alive) replies[n] = Beat(n, {}, false);
    return replies;
  }
  // Advances the clock a second at a time, beating only `alive` and ticking,
  // until the master sees an under-replicated chunk (the silent nodes died).
  void BeatUntilUnderReplicated(const std::set<uint64_t>& alive) {
    for (int i = 0; i < 40 && master_->Cluster().under_replicated() == 0; ++i) {
      clock_.Advance(absl::Seconds(1));
      BeatAll(alive);
      master_->Tick();
    }
  }
  std::set<uint64_t> Holders(const std::string& path) {
    std::set<uint64_t> ids;
    auto info = master_->Lookup(path);
    for (const auto& r : info->locations(0).replicas()) ids.insert(r.node_id());
    return ids;
  }
};

TEST_F(RepairTest, DeadNodesChunksAreCopiedToANewNode) {
  for (const char* z : {"a", "b", "c", "d"}) AddNode(z);
  ChunkRef c = Upload("/f");
  std::set<uint64_t> holders = Holders("/f");
  uint64_t spare = 0;
  for (uint64_t n : nodes_) {
    if (!holders.contains(n)) spare = n;
  }
  uint64_t victim = *holders.begin();
  std::set<uint64_t> alive(nodes_.begin(), nodes_.end());
  alive.erase(victim);
  // The victim goes silent; the others keep beating until it is dead.
  BeatUntilUnderReplicated(alive);
  EXPECT_EQ(master_->Cluster().under_replicated(), 1u);
  EXPECT_EQ(master_->Cluster().nodes(victim - 1).state(), "dead");
  auto replies = BeatAll(alive);
  ASSERT_EQ(replies[spare].replicate_size(), 1);
  const ReplicateCommand& cmd = replies[spare].replicate(0);
  EXPECT_EQ(cmd.chunk().handle(), c.handle());
  EXPECT_EQ(cmd.chunk().crc32c(), c.crc32c());
  ASSERT_GE(cmd.sources_size(), 1);
  EXPECT_NE(cmd.sources(0).node_id(), victim);
  EXPECT_EQ(master_->Repairs().in_flight, 1u);
  // The copy lands: reported by the spare node.
  Beat(spare, {Replica(c.handle(), 1, 100)}, false);
  master_->Tick();
  EXPECT_EQ(master_->Repairs().repaired, 1u);
  EXPECT_EQ(master_->Cluster().under_replicated(), 0u);
  EXPECT_TRUE(Holders("/f").contains(spare));
}

// The heartbeat that reports a finished copy carries the next copy for that
// node: no wait for the next tick and heartbeat.
TEST_F(RepairTest, AFinishedCopyFreesItsSlotForTheNextInTheSameHeartbeat) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  // Chunks on a, b, c; then d joins and a dies: three copies to d, two at a time.
  for (int i = 0; i < 3; ++i) Upload("/f" + std::to_string(i));
  uint64_t spare = AddNode("d");
  uint64_t victim = nodes_[0];
  std::set<uint64_t> alive(nodes_.begin(), nodes_.end());
  alive.erase(victim);
  BeatUntilUnderReplicated(alive);
  HeartbeatReply first = Beat(spare, {}, false);
  ASSERT_EQ(first.replicate_size(), 2);  // the per-node cap
  ReplicaInfo done = Replica(first.replicate(0).chunk().handle());
  HeartbeatReply next = Beat(spare, {done}, false);  // no Tick in between
  ASSERT_EQ(next.replicate_size(), 1);
  EXPECT_NE(next.replicate(0).chunk().handle(), first.replicate(0).chunk().handle());
  EXPECT_NE(next.replicate(0).chunk().handle(), first.replicate(1).chunk().handle());
}

// A node that has just come back has not said yet what it holds: it gets no
// copies until its full report is in (it may hold the very chunk).
TEST_F(RepairTest, NoCopiesToANodeBeforeItsFullReport) {
  for (const char* z : {"a", "b", "c"}) AddNode(z);
  Upload("/f");
  uint64_t spare = AddNode("d");
  uint64_t victim = nodes_[0];
  std::set<uint64_t> alive(nodes_.begin(), nodes_.end());
  alive.erase(victim);
  // The spare goes silent too, long enough to be dead, and comes back
  // beating without a full report.
  alive.erase(spare);
  BeatUntilUnderReplicated(alive);
  ASSERT_EQ(master_->Cluster().under_replicated(), 1u);
  EXPECT_EQ(Beat(spare, {}, false).replicate_size(), 0);
  master_->Tick();
  HeartbeatReply r = Beat(spare, {}, false);
  EXPECT_TRUE(r.want_full_report());
  EXPECT_EQ(r.replicate_size(), 0);
  Beat(spare, {}, true);  // the full report: it holds nothing
  master_->Tick();
  EXPECT_EQ(Beat(spare, {}, false).replicate_size(), 1);
}

TEST_F(RepairTest, CopyToANodeThatGoesSilentIsRescheduledAtOnce) {
  for (const char* z : {"a", "b", "c", "d", "e"}) AddNode(z);
  ChunkRef c = Upload("/f");
  std::set<uint64_t> holders = Holders("/f");
  uint64_t victim = *holders.begin();
  std::set<uint64_t> alive(nodes_.begin(), nodes_.end());
  alive.erase(victim);
  for (int i = 0; i < 40 && master_->Repairs().in_flight == 0; ++i) {
    clock_.Advance(absl::Seconds(1));
    BeatAll(alive);
    master_->Tick();
  }
  ASSERT_EQ(master_->Repairs().in_flight, 1u);
  // Whoever got the copy goes silent before doing it.
  uint64_t target = 0;
  for (auto& [n, r] : BeatAll(alive)) {
    if (r.replicate_size() == 1) target = n;
  }
  ASSERT_NE(target, 0u);
  alive.erase(target);
  uint64_t new_target = 0;
  for (int i = 0; i < 8 && new_target == 0; ++i) {  // stale after 6 s; the copy timeout is 2 min
    clock_.Advance(absl::Seconds(1));
    for (auto& [n, r] : BeatAll(alive)) {
      if (r.replicate_size() == 1 && r.replicate(0).chunk().handle() == c.handle()) new_target = n;
    }
    master_->Tick();
  }
  EXPECT_NE(new_target, 0u);
  EXPECT_NE(new_target, target);
}

TEST_F(RepairTest, SurplusReplicaIsRemovedWhenADeadNodeReturns) {
  for (const char* z : {"a", "b", "c", "d"}) AddNode(z);
  ChunkRef c = Upload("/f");
  std::set<uint64_t> holders = Holders("/f");
  for (uint64_t n : nodes_) {
    if (!holders.contains(n)) Beat(n, {Replica(c.handle())}, false);  // a 4th replica
  }
  master_->Tick();
  size_t deletes = 0;
  for (auto& [n, reply] : BeatAll({nodes_.begin(), nodes_.end()})) deletes += reply.delete__size();
  EXPECT_EQ(deletes, 1u);
  EXPECT_EQ(Holders("/f").size(), 3u);
  EXPECT_EQ(master_->Repairs().excess_removed, 1u);
}

TEST_F(RepairTest, DrainingNodeIsEmptiedThenDrained) {
  for (const char* z : {"a", "b", "c", "d"}) AddNode(z);
  Upload("/f");
  std::set<uint64_t> holders = Holders("/f");
  uint64_t drain = *holders.begin();
  ASSERT_THAT(master_->Drain(drain), IsOk());
  EXPECT_THAT(master_->Drain(999), StatusIs(absl::StatusCode::kNotFound));
  master_->Tick();
  auto state = [&] {
    ClusterReply c = master_->Cluster();
    for (const auto& n : c.nodes()) {
      if (n.id() == drain) return n.state();
    }
    return std::string("missing");
  };
  EXPECT_EQ(state(), "draining");
  auto replies = BeatAll({nodes_.begin(), nodes_.end()});
  uint64_t target = 0;
  for (auto& [n, r] : replies) {
    if (r.replicate_size() == 1) target = n;
  }
  ASSERT_NE(target, 0u);
  EXPECT_FALSE(holders.contains(target));
  Beat(target, {Replica(replies[target].replicate(0).chunk().handle())}, false);
  master_->Tick();
  EXPECT_EQ(state(), "drained");
  // No new chunk goes to a draining node.
  for (int i = 0; i < 5; ++i) {
    Upload("/g" + std::to_string(i));
    EXPECT_FALSE(Holders("/g" + std::to_string(i)).contains(drain));
  }
}

TEST_F(RepairTest, RebalancerMovesChunksFromFullestToEmptiestNode) {
  // One zone, as in a single-host compose cluster.
  for (int i = 0; i < 3; ++i) AddNode("z");
  for (int i = 0; i < 4; ++i) Upload("/f" + std::to_string(i));
  uint64_t fresh = AddNode("z");
  // The old nodes report being 40% full, the new one empty.
  auto beat = [&](uint64_t n, uint64_t used) {
    HeartbeatRequest h;
    h.set_node_id(n);
    h.set_used_bytes(used);
    h.set_free_bytes(1000 - used);
    return *master_->Heartbeat(h);
  };
  for (uint64_t n : nodes_) {
    if (n != fresh) beat(n, 400);
  }
  beat(fresh, 0);
  master_->Tick();
  EXPECT_GE(master_->Repairs().moves, 1u);
  HeartbeatReply r = beat(fresh, 0);
  ASSERT_GE(r.replicate_size(), 1);
  // The copy lands; the surplus replica goes from a full node, not the new one.
  uint64_t handle = r.replicate(0).chunk().handle();
  Beat(fresh, {Replica(handle)}, false);  // the master reschedules at once
  size_t deletes = 0;
  auto count_deletes = [&](uint64_t n, const HeartbeatReply& reply) {
    for (const auto& d : reply.delete_()) {
      EXPECT_NE(n, fresh);
      deletes += d.handle() == handle;
    }
  };
  for (uint64_t n : nodes_) {
    if (n != fresh) count_deletes(n, beat(n, 400));
  }
  master_->Tick();
  for (uint64_t n : nodes_) count_deletes(n, beat(n, n == fresh ? 100 : 400));
  EXPECT_EQ(deletes, 1u);
}

TEST_F(RepairTest, NoRepairInSafeMode) {
  for (const char* z : {"a", "b", "c", "d"}) AddNode(z);
  ChunkRef c = Upload("/f");
  Open();  // restart: safe mode until replicas are reported
  Beat(nodes_[3], {}, true);
  master_->Tick();
  EXPECT_TRUE(master_->InSafeMode());
  for (auto& [n, r] : BeatAll({nodes_.begin(), nodes_.end()})) EXPECT_EQ(r.replicate_size(), 0);
  (void)c;
}

}  // namespace
}  // namespace cairn::master
