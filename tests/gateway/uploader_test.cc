// Uploader through its seams: a gmock master behind MasterClient, in-memory
// chunkservers behind gmock chunkserver stubs. Chunk boundaries, the commit
// it sends, and its retries on other nodes when a pipeline fails.
#include "gateway/uploader.h"

#include "absl/algorithm/container.h"
#include "common/crc32c.h"
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

constexpr uint64_t kChunkSize = 2 << 20;  // two messages per chunk
constexpr int kNodes = 5;

using testing::NodeAddressOf;

class UploaderTest : public ::testing::Test {
 protected:
  UploaderTest() {
    master_ = testing::MockMasterClient(&master_stub_);

    ON_CALL(*master_stub_, StartUpload)
        .WillByDefault([](grpc::ClientContext*, const StartUploadRequest&, StartUploadReply* r) {
          r->set_upload_id(7);
          r->set_chunk_size(kChunkSize);
          r->set_replication(3);
          return grpc::Status::OK;
        });
    // Places each chunk on the first three nodes not excluded, a new handle each time.
    ON_CALL(*master_stub_, AllocateChunk)
        .WillByDefault(
            [this](grpc::ClientContext*, const AllocateChunkRequest& req, AllocateChunkReply* r) {
              allocations_.push_back(req);
              testing::PlaceOnFirstNodes(req, 100 + allocations_.size(), kNodes, r);
              return grpc::Status::OK;
            });
    ON_CALL(*master_stub_, CommitUpload)
        .WillByDefault(
            [this](grpc::ClientContext*, const CommitUploadRequest& req, CommitUploadReply* r) {
              commits_.push_back(req);
              r->mutable_entry()->set_path("/f");
              r->mutable_entry()->mutable_file()->set_length(req.length());
              return grpc::Status::OK;
            });
  }

  // Uploads `data` in 300 KiB writes.
  absl::StatusOr<Entry> Upload(const std::string& data, int max_chunk_attempts = 3) {
    UploadOptions opts;
    opts.path = "/f";
    opts.max_chunk_attempts = max_chunk_attempts;
    Uploader up(master_.get(), cs_.io(), &buffers_, opts);
    RETURN_IF_ERROR(up.Start());
    for (size_t off = 0; off < data.size(); off += 300 << 10) {
      RETURN_IF_ERROR(up.Write(std::string_view(data).substr(off, 300 << 10)));
    }
    return up.Finish();
  }

  // The committed chunks' bytes, read back from each node the commit names.
  void ExpectCommittedOnEveryReplica(const std::string& data) {
    ASSERT_EQ(commits_.size(), 1u);
    const CommitUploadRequest& c = commits_[0];
    EXPECT_EQ(c.length(), data.size());
    uint64_t offset = 0;
    for (const CommittedChunk& chunk : c.chunks()) {
      std::string expected = data.substr(offset, chunk.chunk().size());
      EXPECT_EQ(chunk.chunk().crc32c(), Crc32c(expected));
      EXPECT_EQ(chunk.nodes_size(), 3);
      for (uint64_t n : chunk.nodes()) {
        EXPECT_EQ(cs_.node(NodeAddressOf(n)).chunks[chunk.chunk().handle()], expected)
            << "chunk " << chunk.chunk().handle() << " on node " << n;
      }
      offset += chunk.chunk().size();
    }
    EXPECT_EQ(offset, data.size());
  }

  NiceMock<MockMasterStub>* master_stub_;
  std::unique_ptr<MasterClient> master_;
  testing::FakeChunkservers cs_;
  BufferPool buffers_{8};
  std::vector<AllocateChunkRequest> allocations_;
  std::vector<CommitUploadRequest> commits_;
};

TEST_F(UploaderTest, CutsChunksAndCommitsWhatEveryReplicaAcknowledged) {
  std::string data = RandomBytes(5 * (1 << 20) + 123, 1);
  ASSERT_THAT(Upload(data), IsOk());
  ASSERT_EQ(commits_.size(), 1u);
  ASSERT_EQ(commits_[0].chunks_size(), 3);
  EXPECT_EQ(commits_[0].chunks(0).chunk().size(), kChunkSize);
  EXPECT_EQ(commits_[0].chunks(1).chunk().size(), kChunkSize);
  EXPECT_EQ(commits_[0].chunks(2).chunk().size(), data.size() - 2 * kChunkSize);
  EXPECT_EQ(commits_[0].upload_id(), 7u);
  EXPECT_EQ(commits_[0].sha256().size(), 64u);
  ExpectCommittedOnEveryReplica(data);
  ASSERT_EQ(allocations_.size(), 3u);
  for (size_t i = 0; i < allocations_.size(); ++i) {
    EXPECT_EQ(allocations_[i].index(), i);
    EXPECT_TRUE(allocations_[i].exclude_nodes().empty());
  }
}

TEST_F(UploaderTest, AnEmptyBodyCommitsAnEmptyFile) {
  ASSERT_THAT(Upload(""), IsOk());
  ASSERT_EQ(commits_.size(), 1u);
  EXPECT_EQ(commits_[0].chunks_size(), 0);
  EXPECT_EQ(commits_[0].length(), 0u);
}

TEST_F(UploaderTest, RetriesAChunkWithoutTheFirstReplicaThatFailed) {
  cs_.node(NodeAddressOf(1)).fail_writes = true;
  std::string data = RandomBytes(3 * (1 << 20), 2);
  ASSERT_THAT(Upload(data), IsOk());
  // The first chunk's pipeline failed on node 1; every later allocation avoids it.
  ASSERT_GE(allocations_.size(), 3u);
  EXPECT_TRUE(allocations_[0].exclude_nodes().empty());
  EXPECT_THAT(allocations_[1].exclude_nodes(), ::testing::ElementsAre(1));
  EXPECT_EQ(allocations_[1].index(), 0u);  // the same chunk again
  for (const CommittedChunk& c : commits_[0].chunks()) {
    EXPECT_FALSE(absl::c_linear_search(c.nodes(), 1u));
  }
  ExpectCommittedOnEveryReplica(data);
}

TEST_F(UploaderTest, ExcludesTheDownstreamReplicaThePipelineBlames) {
  cs_.node(NodeAddressOf(3)).fail_writes = true;  // third in every first pipeline
  std::string data = RandomBytes(1 << 20, 3);
  ASSERT_THAT(Upload(data), IsOk());
  ASSERT_EQ(allocations_.size(), 2u);
  EXPECT_THAT(allocations_[1].exclude_nodes(), ::testing::ElementsAre(3));
  EXPECT_THAT(commits_[0].chunks(0).nodes(), ::testing::ElementsAre(1, 2, 4));
  ExpectCommittedOnEveryReplica(data);
}

TEST_F(UploaderTest, GivesUpAfterMaxAttemptsAndAbortsTheUpload) {
  for (int n = 1; n <= kNodes; ++n) cs_.node(NodeAddressOf(n)).fail_writes = true;
  EXPECT_CALL(*master_stub_,
              AbortUpload(_, ::testing::Property(&AbortUploadRequest::upload_id, 7), _))
      .Times(1);
  EXPECT_THAT(Upload(RandomBytes(1000, 4), /*max_chunk_attempts=*/2),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(allocations_.size(), 2u);
  EXPECT_TRUE(commits_.empty());
}

TEST_F(UploaderTest, AMasterThatForgotTheUploadMeansRetryLater) {
  ON_CALL(*master_stub_, AllocateChunk)
      .WillByDefault([](grpc::ClientContext*, const AllocateChunkRequest&, AllocateChunkReply*) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such upload");
      });
  EXPECT_THAT(Upload("abc"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(UploaderTest, StartUploadErrorsPassThrough) {
  ON_CALL(*master_stub_, StartUpload)
      .WillByDefault([](grpc::ClientContext*, const StartUploadRequest&, StartUploadReply*) {
        return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "exists");
      });
  EXPECT_THAT(Upload("abc"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_TRUE(allocations_.empty());
}

}  // namespace
}  // namespace cairn::gateway
