// WritePipeline through its seams: an in-memory store, gmock chunkserver stubs downstream.
#include "chunkserver/write_pipeline.h"

#include "absl/strings/match.h"
#include "common/crc32c.h"
#include "common/mem_file_system.h"
#include "common/pipeline_failure.h"
#include "proto/chunkserver_mock.grpc.pb.h"
#include "test_util.h"

namespace cairn::chunkserver {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::RandomBytes;
using ::cairn::testing::StatusIs;
using ::testing::_;
using ::testing::Invoke;

// Upstream: a fixed list of messages.
class VectorSource : public WriteSource {
 public:
  explicit VectorSource(std::vector<WriteChunkRequest> msgs) : msgs_(std::move(msgs)) {}
  bool Read(WriteChunkRequest* msg) override {
    if (next_ == msgs_.size()) return false;
    *msg = msgs_[next_++];
    return true;
  }
  bool Cancelled() override { return false; }

 private:
  std::vector<WriteChunkRequest> msgs_;
  size_t next_ = 0;
};

// Downstream: records what it is sent, answers with a scripted status and reply.
struct Recorded {
  std::vector<WriteChunkRequest> msgs;
  bool writes_done = false;
};
class FakeWriter : public grpc::ClientWriterInterface<WriteChunkRequest> {
 public:
  FakeWriter(Recorded* rec, WriteChunkReply* out, grpc::Status status, WriteChunkReply reply,
             bool accept)
      : rec_(rec), out_(out), status_(std::move(status)), reply_(reply), accept_(accept) {}
  bool Write(const WriteChunkRequest& msg, grpc::WriteOptions) override {
    rec_->msgs.push_back(msg);
    return accept_;
  }
  bool WritesDone() override { return rec_->writes_done = true; }
  grpc::Status Finish() override {
    if (status_.ok()) *out_ = reply_;
    return status_;
  }

 private:
  Recorded* rec_;
  WriteChunkReply* out_;
  grpc::Status status_;
  WriteChunkReply reply_;
  bool accept_;
};

class WritePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ChunkStore::Open(&fs_, "/root");
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
    pipeline_ = std::make_unique<WritePipeline>(store_.get(), &peers_, &metrics_);
  }
  // The downstream "b:1" answers `status`; on OK it echoes `reply`.
  void Downstream(grpc::Status status, WriteChunkReply reply, bool accept = true) {
    auto stub = std::make_unique<MockChunkserverStub>();
    EXPECT_CALL(*stub, WriteChunkRaw(_, _))
        .WillOnce(Invoke([=, this](grpc::ClientContext*, WriteChunkReply* out) {
          return new FakeWriter(&down_, out, status, reply, accept);
        }));
    stubs_["b:1"] = std::move(stub);
  }
  std::vector<WriteChunkRequest> Stream(const std::string& data, std::vector<std::string> down) {
    WriteChunkRequest h;
    h.mutable_header()->set_handle(5);
    h.mutable_header()->set_version(1);
    for (auto& d : down) h.mutable_header()->add_downstream(d);
    std::vector<WriteChunkRequest> msgs{h};
    for (size_t off = 0; off < data.size(); off += 1000) {
      WriteChunkRequest m;
      m.set_data(data.substr(off, 1000));
      m.set_data_crc32c(Crc32c(m.data()));
      msgs.push_back(m);
    }
    return msgs;
  }
  absl::StatusOr<WriteChunkReply> Write(std::vector<WriteChunkRequest> msgs) {
    VectorSource src(std::move(msgs));
    return pipeline_->Write(&src);
  }
  static WriteChunkReply Reply(const std::string& data) {
    WriteChunkReply r;
    r.set_size(data.size());
    r.set_crc32c(Crc32c(data));
    return r;
  }

  MemFileSystem fs_;
  std::unique_ptr<ChunkStore> store_;
  Metrics metrics_;
  std::map<std::string, std::unique_ptr<MockChunkserverStub>> stubs_;
  StubCache<cairn::Chunkserver> peers_{[this](const std::string& a) {
    std::unique_ptr<cairn::Chunkserver::StubInterface> s = std::move(stubs_[a]);
    return s;
  }};
  std::unique_ptr<WritePipeline> pipeline_;
  Recorded down_;
};

TEST_F(WritePipelineTest, StoresAndForwardsToTheNextReplica) {
  std::string data = RandomBytes(2500, 1);
  Downstream(grpc::Status::OK, Reply(data));
  auto reply = Write(Stream(data, {"b:1", "c:1"}));
  ASSERT_THAT(reply, IsOk());
  EXPECT_EQ(reply->size(), data.size());
  EXPECT_EQ(reply->crc32c(), Crc32c(data));
  EXPECT_TRUE(store_->Has(5, 1));
  ASSERT_EQ(down_.msgs.size(), 4u);
  ASSERT_TRUE(down_.msgs[0].has_header());
  EXPECT_EQ(down_.msgs[0].header().handle(), 5u);
  ASSERT_EQ(down_.msgs[0].header().downstream_size(), 1);
  EXPECT_EQ(down_.msgs[0].header().downstream(0), "c:1");
  std::string forwarded;
  for (size_t i = 1; i < down_.msgs.size(); ++i) forwarded += down_.msgs[i].data();
  EXPECT_EQ(forwarded, data);
  EXPECT_TRUE(down_.writes_done);
}

TEST_F(WritePipelineTest, DownstreamFailureNamesThatNode) {
  Downstream(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "disk full"), {});
  auto reply = Write(Stream("abc", {"b:1"}));
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(BlamedPipelineNode(reply.status()), "b:1");
  EXPECT_TRUE(absl::StrContains(reply.status().message(), "pipeline b:1: disk full"));
}

TEST_F(WritePipelineTest, PassesOnAFailureBlamedFurtherDown) {
  grpc::Status blamed = ToGrpcPipelineStatus(BlamePipelineNode("c:1", absl::UnavailableError("x")));
  Downstream(blamed, {});
  auto reply = Write(Stream("abc", {"b:1", "c:1"}));
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(BlamedPipelineNode(reply.status()), "c:1");
}

TEST_F(WritePipelineTest, UnreachableDownstreamIsUnavailableNamingIt) {
  Downstream(grpc::Status(grpc::StatusCode::UNAVAILABLE, "refused"), {}, /*accept=*/false);
  auto reply = Write(Stream("abc", {"b:1"}));
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(BlamedPipelineNode(reply.status()), "b:1");
}

TEST_F(WritePipelineTest, DownstreamChecksumMismatchIsDataLossNamingIt) {
  std::string data = RandomBytes(1500, 2);
  WriteChunkReply wrong = Reply(data);
  wrong.set_crc32c(wrong.crc32c() ^ 1);
  Downstream(grpc::Status::OK, wrong);
  auto reply = Write(Stream(data, {"b:1"}));
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(BlamedPipelineNode(reply.status()), "b:1");
}

TEST_F(WritePipelineTest, DownstreamSizeMismatchIsDataLossNamingIt) {
  std::string data = RandomBytes(1500, 3);
  WriteChunkReply wrong = Reply(data);
  wrong.set_size(data.size() - 1);
  Downstream(grpc::Status::OK, wrong);
  auto reply = Write(Stream(data, {"b:1"}));
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(BlamedPipelineNode(reply.status()), "b:1");
}

TEST_F(WritePipelineTest, RejectsADataMessageWithABadCrc) {
  std::vector<WriteChunkRequest> msgs = Stream(RandomBytes(1500, 4), {});
  msgs[1].set_data_crc32c(msgs[1].data_crc32c() ^ 1);
  auto reply = Write(msgs);
  EXPECT_THAT(reply, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(BlamedPipelineNode(reply.status()), "");
  EXPECT_FALSE(store_->Has(5, 1));
}

TEST_F(WritePipelineTest, StreamWithoutHeaderIsInvalid) {
  WriteChunkRequest m;
  m.set_data("x");
  m.set_data_crc32c(Crc32c("x"));
  EXPECT_THAT(Write({m}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PipelineFailureTest, BlamedNodeSurvivesTheGrpcRoundTrip) {
  absl::Status s = BlamePipelineNode("b:1", absl::DataLossError("bad"));
  absl::Status back = FromGrpcPipelineStatus(ToGrpcPipelineStatus(s));
  EXPECT_THAT(back, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(back.message(), "pipeline b:1: bad");
  EXPECT_EQ(BlamedPipelineNode(back), "b:1");
  EXPECT_EQ(
      BlamedPipelineNode(FromGrpcPipelineStatus(grpc::Status(grpc::StatusCode::INTERNAL, "x"))),
      "");
}

}  // namespace
}  // namespace cairn::chunkserver
