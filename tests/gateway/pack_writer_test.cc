// PackWriter through its seams: a gmock master behind MasterClient, in-memory
// chunkservers behind gmock chunkserver stubs. Puts that queue while a batch
// is in flight share the next pack chunk and its one CommitPack; each file is
// answered on its own; a failed pipeline moves the batch to other nodes.
#include "gateway/pack_writer.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "common/crc32c.h"
#include "common/pack_record.h"
#include "fake_chunkservers.h"
#include "gateway/uploader.h"
#include "mock_master.h"
#include "test_util.h"

namespace cairn::gateway {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::RandomBytes;
using ::cairn::testing::StatusIs;
using ::testing::_;
using ::testing::NiceMock;

constexpr uint64_t kChunkSize = 4 << 20;
constexpr int kNodes = 5;

using testing::NodeAddressOf;

class PackWriterTest : public ::testing::Test {
 protected:
  PackWriterTest() {
    master_ = testing::MockMasterClient(&master_stub_);

    ON_CALL(*master_stub_, Cluster)
        .WillByDefault([](grpc::ClientContext*, const ClusterRequest&, ClusterReply* r) {
          r->set_chunk_size(kChunkSize);
          return grpc::Status::OK;
        });
    ON_CALL(*master_stub_, StartPack)
        .WillByDefault(
            [this](grpc::ClientContext*, const StartPackRequest& req, StartUploadReply* r) {
              if (gate_ != nullptr && !entered_.HasBeenNotified()) {
                entered_.Notify();
                gate_->WaitForNotification();
              }
              int n = ++starts_;
              r->set_upload_id(100 + n);
              r->set_chunk_size(kChunkSize);
              r->set_replication(3);
              AllocateChunkRequest areq;
              areq.set_upload_id(100 + n);
              areq.set_expected_size(req.expected_size());
              Allocate(areq, r->mutable_first_chunk());
              return grpc::Status::OK;
            });
    ON_CALL(*master_stub_, AllocateChunk)
        .WillByDefault(
            [this](grpc::ClientContext*, const AllocateChunkRequest& req, AllocateChunkReply* r) {
              Allocate(req, r);
              return grpc::Status::OK;
            });
    ON_CALL(*master_stub_, CommitPack)
        .WillByDefault(
            [this](grpc::ClientContext*, const CommitPackRequest& req, CommitPackReply* r) {
              absl::MutexLock lock(&mu_);
              commits_.push_back(req);
              for (const PackedFile& f : req.files()) {
                PackedFileResult* result = r->add_results();
                if (auto it = refuse_.find(f.path()); it != refuse_.end() && it->second > 0) {
                  --it->second;
                  result->set_code(static_cast<int>(refuse_code_));
                  result->set_message("refused");
                  continue;
                }
                result->mutable_entry()->set_path(f.path());
                result->mutable_entry()->mutable_file()->set_length(f.length());
              }
              return grpc::Status::OK;
            });
  }

  // Places each chunk on the first three nodes not excluded, a new handle each time.
  void Allocate(const AllocateChunkRequest& req, AllocateChunkReply* r) {
    absl::MutexLock lock(&mu_);
    allocations_.push_back(req);
    testing::PlaceOnFirstNodes(req, 1000 + allocations_.size(), kNodes, r);
  }

  absl::StatusOr<Entry> Put(PackWriter& w, const std::string& path, const std::string& data) {
    return w.Put(path, false, data, Sha256Hex(data));
  }

  // Every file of `commit` is its bytes in the pack chunk on every replica it names.
  void ExpectFilesOnEveryReplica(const CommitPackRequest& commit,
                                 const std::map<std::string, std::string>& data) {
    const ChunkRef& chunk = commit.chunk().chunk();
    EXPECT_EQ(commit.chunk().nodes_size(), 3);
    for (uint64_t n : commit.chunk().nodes()) {
      const std::string& bytes = cs_.node(NodeAddressOf(n)).chunks[chunk.handle()];
      EXPECT_EQ(bytes.size(), chunk.size());
      EXPECT_EQ(Crc32c(bytes), chunk.crc32c());
      auto records = ParsePackRecords(bytes);
      ASSERT_TRUE(records.ok()) << records.status();
      ASSERT_EQ(records->size(), static_cast<size_t>(commit.files_size()));
      for (int i = 0; i < commit.files_size(); ++i) {
        const PackedFile& f = commit.files(i);
        EXPECT_EQ((*records)[i].offset, f.offset());
        EXPECT_EQ(bytes.substr(f.offset(), f.length()), data.at(f.path())) << f.path();
        EXPECT_EQ(f.sha256(), Sha256Hex(data.at(f.path())));
      }
    }
  }

  NiceMock<MockMasterStub>* master_stub_;
  std::unique_ptr<MasterClient> master_;
  testing::FakeChunkservers cs_;
  std::atomic<int> starts_{0};
  absl::Notification* gate_ = nullptr;  // holds the first StartPack until notified
  absl::Notification entered_;          // the first StartPack is held
  absl::Mutex mu_;
  std::vector<AllocateChunkRequest> allocations_;
  std::vector<CommitPackRequest> commits_;
  std::map<std::string, int> refuse_;  // path -> how many more commits refuse it
  absl::StatusCode refuse_code_ = absl::StatusCode::kAlreadyExists;
};

TEST_F(PackWriterTest, OnePutIsAPackOfOneOnEveryReplica) {
  PackWriter w(master_.get(), cs_.io(), {});
  std::string data = RandomBytes(5000, 1);
  auto entry = Put(w, "/a", data);
  ASSERT_THAT(entry, IsOk());
  EXPECT_EQ(entry->file().length(), 5000u);
  ASSERT_EQ(commits_.size(), 1u);
  EXPECT_EQ(commits_[0].upload_id(), 101u);
  EXPECT_EQ(commits_[0].chunk().chunk().size(), 5000 + kPackRecordHeaderBytes);
  ExpectFilesOnEveryReplica(commits_[0], {{"/a", data}});
  EXPECT_EQ(w.MaxFileBytes(), kChunkSize - kPackRecordHeaderBytes);
}

TEST_F(PackWriterTest, PutsQueuedWhileABatchIsInFlightShareTheNextChunkAndCommit) {
  absl::Notification gate;
  gate_ = &gate;
  PackOptions opts;
  opts.writers = 1;
  PackWriter w(master_.get(), cs_.io(), opts);
  std::map<std::string, std::string> data;
  for (int i = 0; i < 20; ++i) data["/f" + std::to_string(i)] = RandomBytes(100 + 997 * i, i);
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(data.size());
  threads.emplace_back([&] { results[0] = Put(w, "/f0", data["/f0"]).status(); });
  entered_.WaitForNotification();
  // The first batch (/f0) is held in StartPack; the rest queue behind it.
  for (int i = 1; i < 20; ++i) {
    threads.emplace_back([&, i] {
      std::string p = "/f" + std::to_string(i);
      results[i] = Put(w, p, data[p]).status();
    });
  }
  while (w.Queued() < 19) absl::SleepFor(absl::Milliseconds(1));
  gate.Notify();
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_THAT(s, IsOk());
  ASSERT_EQ(commits_.size(), 2u);
  EXPECT_EQ(commits_[0].files_size(), 1);
  EXPECT_EQ(commits_[1].files_size(), 19);  // one chunk, one fsync per replica, one commit
  for (const CommitPackRequest& c : commits_) ExpectFilesOnEveryReplica(c, data);
}

TEST_F(PackWriterTest, EachFileIsAnsweredOnItsOwnAndTwoPutsOfAPathGoInOrder) {
  absl::Notification gate;
  gate_ = &gate;
  PackOptions opts;
  opts.writers = 1;
  PackWriter w(master_.get(), cs_.io(), opts);
  refuse_["/taken"] = 1;
  std::vector<std::thread> threads;
  absl::Status first, taken, same1, same2, other;
  threads.emplace_back([&] { first = Put(w, "/first", "1").status(); });
  entered_.WaitForNotification();
  threads.emplace_back([&] { taken = Put(w, "/taken", "t").status(); });
  while (w.Queued() < 1) absl::SleepFor(absl::Milliseconds(1));
  threads.emplace_back([&] { same1 = Put(w, "/same", "one").status(); });
  while (w.Queued() < 2) absl::SleepFor(absl::Milliseconds(1));
  threads.emplace_back([&] { same2 = Put(w, "/same", "two").status(); });
  while (w.Queued() < 3) absl::SleepFor(absl::Milliseconds(1));
  threads.emplace_back([&] { other = Put(w, "/other", "o").status(); });
  while (w.Queued() < 4) absl::SleepFor(absl::Milliseconds(1));
  gate.Notify();
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(first, IsOk());
  EXPECT_THAT(taken, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(same1, IsOk());
  EXPECT_THAT(same2, IsOk());
  EXPECT_THAT(other, IsOk());
  // /same's second put waited for the batch with its first.
  ASSERT_EQ(commits_.size(), 3u);
  ASSERT_EQ(commits_[1].files_size(), 3);
  EXPECT_EQ(commits_[1].files(0).path(), "/taken");
  EXPECT_EQ(commits_[1].files(1).path(), "/same");
  EXPECT_EQ(commits_[1].files(2).path(), "/other");
  ASSERT_EQ(commits_[2].files_size(), 1);
  EXPECT_EQ(commits_[2].files(0).path(), "/same");
  ExpectFilesOnEveryReplica(commits_[2], {{"/same", "two"}});
}

TEST_F(PackWriterTest, AFileRefusedForRacingItsBatchIsTriedInTheNextOne) {
  refuse_code_ = absl::StatusCode::kAborted;
  refuse_["/a"] = 1;
  PackWriter w(master_.get(), cs_.io(), {});
  EXPECT_THAT(Put(w, "/a", "x"), IsOk());
  EXPECT_EQ(commits_.size(), 2u);
  refuse_["/b"] = 2;  // twice: given up
  EXPECT_THAT(Put(w, "/b", "y"), StatusIs(absl::StatusCode::kAborted));
}

TEST_F(PackWriterTest, AFailedPipelineMovesTheBatchToOtherNodes) {
  cs_.node(NodeAddressOf(2)).fail_writes = true;
  PackWriter w(master_.get(), cs_.io(), {});
  std::string data = RandomBytes(3 << 20, 7);  // several messages
  ASSERT_THAT(Put(w, "/big", data), IsOk());
  ASSERT_EQ(allocations_.size(), 2u);
  EXPECT_THAT(allocations_[1].exclude_nodes(), ::testing::ElementsAre(2));
  EXPECT_EQ(allocations_[1].upload_id(), allocations_[0].upload_id());
  ASSERT_EQ(commits_.size(), 1u);
  EXPECT_THAT(commits_[0].chunk().nodes(), ::testing::ElementsAre(1, 3, 4));
  ExpectFilesOnEveryReplica(commits_[0], {{"/big", data}});
}

TEST_F(PackWriterTest, NoPipelineLeftFailsEveryFileAndAbortsThePack) {
  for (int n = 1; n <= kNodes; ++n) cs_.node(NodeAddressOf(n)).fail_writes = true;
  EXPECT_CALL(*master_stub_,
              AbortUpload(_, ::testing::Property(&AbortUploadRequest::upload_id, 101), _))
      .Times(1);
  PackOptions opts;
  opts.max_chunk_attempts = 2;
  PackWriter w(master_.get(), cs_.io(), opts);
  EXPECT_THAT(Put(w, "/a", "abc"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(commits_.empty());
}

TEST_F(PackWriterTest, MasterErrorsPassThroughAndAForgottenUploadMeansRetry) {
  PackWriter w(master_.get(), cs_.io(), {});
  EXPECT_CALL(*master_stub_, StartPack)
      .WillOnce([](grpc::ClientContext*, const StartPackRequest&, StartUploadReply*) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "full");
      });
  EXPECT_THAT(Put(w, "/a", "abc"), StatusIs(absl::StatusCode::kResourceExhausted));
  ::testing::Mock::VerifyAndClearExpectations(master_stub_);
  EXPECT_CALL(*master_stub_, CommitPack)
      .WillOnce([](grpc::ClientContext*, const CommitPackRequest&, CommitPackReply*) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such upload");
      });
  EXPECT_THAT(Put(w, "/a", "abc"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(PackWriterTest, ABatchIsBoundedByTheChunkSize) {
  absl::Notification gate;
  gate_ = &gate;
  PackOptions opts;
  opts.writers = 1;
  PackWriter w(master_.get(), cs_.io(), opts);
  ASSERT_EQ(w.MaxFileBytes(), kChunkSize - kPackRecordHeaderBytes);
  std::string mib = RandomBytes(1 << 20, 9);
  std::vector<std::thread> threads;
  threads.emplace_back([&] { EXPECT_THAT(Put(w, "/first", "1"), IsOk()); });
  entered_.WaitForNotification();
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] { EXPECT_THAT(Put(w, "/m" + std::to_string(i), mib), IsOk()); });
  }
  while (w.Queued() < 6) absl::SleepFor(absl::Milliseconds(1));
  gate.Notify();
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(commits_.size(), 3u);  // 3 of 1 MiB fit a 4 MiB chunk with their headers, not 4
  EXPECT_EQ(commits_[1].files_size(), 3);
  EXPECT_EQ(commits_[2].files_size(), 3);
  for (size_t i = 1; i < commits_.size(); ++i) {
    EXPECT_LE(commits_[i].chunk().chunk().size(), kChunkSize);
  }
}

}  // namespace
}  // namespace cairn::gateway
