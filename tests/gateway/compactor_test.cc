// Compactor through its seams: a gmock master hands out a task for a pack
// chunk held by in-memory chunkservers. The live files' records are copied
// into a new pack chunk on every replica and the switch is committed; a
// record that does not check out stops the task before anything is written.
#include "gateway/compactor.h"

#include "common/pack_record.h"
#include "fake_chunkservers.h"
#include "mock_master.h"
#include "test_util.h"

namespace cairn::gateway {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::RandomBytes;
using ::cairn::testing::StatusIs;
using ::testing::_;
using ::testing::NiceMock;
using testing::NodeAddressOf;

constexpr uint64_t kOld = 77;

class CompactorTest : public ::testing::Test {
 protected:
  CompactorTest() {
    master_ = testing::MockMasterClient(&master_stub_);
    // The old pack chunk: /a, /b and /c, of which /b is dead.
    for (const char* path : {"/a", "/b", "/c"}) {
      data_[path] = RandomBytes(300 + 100 * data_.size(), static_cast<int>(data_.size()));
      offsets_[path] = AppendPackRecord(&old_, data_[path]);
    }
    for (uint64_t n = 1; n <= 3; ++n) cs_.node(NodeAddressOf(n)).chunks[kOld] = old_;
    task_.mutable_chunk()->set_handle(kOld);
    task_.mutable_chunk()->set_version(1);
    task_.set_size(old_.size());
    ChunkLocations* locs = task_.mutable_locations();
    for (uint64_t n = 1; n <= 3; ++n) {
      NodeAddress* a = locs->add_replicas();
      a->set_node_id(n);
      a->set_address(NodeAddressOf(n));
    }
    locs->set_alive(3);
    for (const char* path : {"/a", "/c"}) {
      CompactionMove* m = task_.add_moves();
      m->set_path(path);
      m->set_offset(offsets_[path]);
      m->set_length(data_[path].size());
    }
    ON_CALL(*master_stub_, CompactionTask)
        .WillByDefault(
            [this](grpc::ClientContext*, const CompactionTaskRequest&, CompactionTaskReply* r) {
              if (tasks_left_ > 0) {
                --tasks_left_;
                *r->mutable_task() = task_;
              }
              return grpc::Status::OK;
            });
    ON_CALL(*master_stub_, StartPack)
        .WillByDefault([](grpc::ClientContext*, const StartPackRequest& req, StartUploadReply* r) {
          r->set_upload_id(500);
          r->set_chunk_size(4 << 20);
          AllocateChunkRequest areq;
          areq.set_expected_size(req.expected_size());
          // Nodes 1..3 hold the old chunk; the new one goes to them too.
          testing::PlaceOnFirstNodes(areq, 900, 5, r->mutable_first_chunk());
          return grpc::Status::OK;
        });
    ON_CALL(*master_stub_, CommitCompaction)
        .WillByDefault([this](grpc::ClientContext*, const CommitCompactionRequest& req,
                              CommitCompactionReply* r) {
          commits_.push_back(req);
          r->set_moved(req.moves_size());
          return grpc::Status::OK;
        });
  }

  absl::StatusOr<bool> RunOnce() {
    CompactorOptions opts;
    opts.interval = absl::ZeroDuration();  // no background thread: the test drives it
    opts.rate_bytes = 0;
    Compactor c(master_.get(), cs_.io(), opts, Clock::Real());
    return c.RunOnce();
  }

  NiceMock<MockMasterStub>* master_stub_;
  std::unique_ptr<MasterClient> master_;
  testing::FakeChunkservers cs_;
  std::map<std::string, std::string> data_;
  std::map<std::string, uint64_t> offsets_;
  std::string old_;
  CompactionTask task_;
  int tasks_left_ = 1;
  std::vector<CommitCompactionRequest> commits_;
};

TEST_F(CompactorTest, CopiesTheLiveRecordsIntoANewPackChunkAndCommitsTheSwitch) {
  absl::StatusOr<bool> ran = RunOnce();
  ASSERT_THAT(ran, IsOk());
  EXPECT_TRUE(*ran);
  ASSERT_EQ(commits_.size(), 1u);
  const CommitCompactionRequest& c = commits_[0];
  EXPECT_EQ(c.upload_id(), 500u);
  EXPECT_EQ(c.old_chunk().handle(), kOld);
  EXPECT_EQ(c.chunk().chunk().handle(), 900u);
  EXPECT_EQ(c.chunk().nodes_size(), 3);
  ASSERT_EQ(c.moves_size(), 2);
  const std::string& fresh = cs_.node(NodeAddressOf(2)).chunks[900];
  EXPECT_EQ(fresh.size(), c.chunk().chunk().size());
  EXPECT_EQ(fresh.size(), 2 * kPackRecordHeaderBytes + data_["/a"].size() + data_["/c"].size());
  auto records = ParsePackRecords(fresh);
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const CompactionMove& m = c.moves(i);
    EXPECT_EQ(m.offset(), offsets_[m.path()]);
    EXPECT_EQ((*records)[i].offset, m.new_offset());
    EXPECT_EQ(fresh.substr(m.new_offset(), m.length()), data_[m.path()]) << m.path();
  }
  // Nothing more to do.
  ran = RunOnce();
  ASSERT_THAT(ran, IsOk());
  EXPECT_FALSE(*ran);
}

TEST_F(CompactorTest, ARecordThatDoesNotCheckOutStopsTheTaskBeforeAnythingIsWritten) {
  EXPECT_CALL(*master_stub_, StartPack).Times(0);
  EXPECT_CALL(*master_stub_, CommitCompaction).Times(0);
  // The chunkservers verified their bytes, but the record is not what it
  // should be (the data CRC32C of /c's header fails): no replica is better.
  for (uint64_t n = 1; n <= 3; ++n) {
    cs_.node(NodeAddressOf(n)).chunks[kOld][offsets_["/c"] + 3] ^= 0x20;
  }
  EXPECT_THAT(RunOnce(), StatusIs(absl::StatusCode::kDataLoss));
  // A length the record does not have.
  for (uint64_t n = 1; n <= 3; ++n) cs_.node(NodeAddressOf(n)).chunks[kOld] = old_;
  task_.mutable_moves(0)->set_length(data_["/a"].size() - 1);
  tasks_left_ = 1;
  EXPECT_THAT(RunOnce(), StatusIs(absl::StatusCode::kDataLoss));
  // An offset with no header before it.
  task_.mutable_moves(0)->set_offset(3);
  tasks_left_ = 1;
  EXPECT_THAT(RunOnce(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(CompactorTest, AFailedCommitAbortsTheNewChunksUpload) {
  EXPECT_CALL(*master_stub_, CommitCompaction)
      .WillOnce([](grpc::ClientContext*, const CommitCompactionRequest&, CommitCompactionReply*) {
        return grpc::Status(grpc::StatusCode::INTERNAL, "disk on fire");
      });
  EXPECT_CALL(*master_stub_,
              AbortUpload(_, ::testing::Property(&AbortUploadRequest::upload_id, 500), _))
      .Times(1);
  EXPECT_FALSE(RunOnce().ok());
}

}  // namespace
}  // namespace cairn::gateway
