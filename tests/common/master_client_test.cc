// MasterClient through gmock stubs: which master a call goes to, and when it
// moves to the next one.
#include "common/master_client.h"

#include "proto/master_mock.grpc.pb.h"
#include "test_util.h"

namespace cairn {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::StatusIs;
using ::testing::_;
using ::testing::Return;

class MasterClientTest : public ::testing::Test {
 protected:
  MasterClientTest() {
    std::vector<std::unique_ptr<Master::StubInterface>> stubs;
    for (auto*& m : masters_) {
      auto stub = std::make_unique<::testing::StrictMock<MockMasterStub>>();
      m = stub.get();
      stubs.push_back(std::move(stub));
    }
    client_ = std::make_unique<MasterClient>(std::move(stubs));
  }
  grpc::Status Lookup() {
    LookupRequest req;
    req.set_path("/f");
    LookupReply reply;
    return client_->Unary(&Master::StubInterface::Lookup, req, &reply);
  }
  static grpc::Status Unavailable() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"); }

  ::testing::StrictMock<MockMasterStub>* masters_[3];
  std::unique_ptr<MasterClient> client_;
};

TEST_F(MasterClientTest, CallsTheFirstMasterWhileItAnswers) {
  EXPECT_CALL(*masters_[0], Lookup(_, _, _)).Times(2).WillRepeatedly(Return(grpc::Status::OK));
  EXPECT_TRUE(Lookup().ok());
  EXPECT_TRUE(Lookup().ok());
  EXPECT_EQ(client_->stub(), masters_[0]);
}

TEST_F(MasterClientTest, MovesToTheNextMasterOnUnavailableAndStaysThere) {
  EXPECT_CALL(*masters_[0], Lookup(_, _, _)).WillOnce(Return(Unavailable()));
  EXPECT_CALL(*masters_[1], Lookup(_, _, _)).WillOnce(Return(Unavailable()));
  EXPECT_CALL(*masters_[2], Lookup(_, _, _)).Times(2).WillRepeatedly(Return(grpc::Status::OK));
  EXPECT_TRUE(Lookup().ok());
  EXPECT_EQ(client_->stub(), masters_[2]);
  EXPECT_TRUE(Lookup().ok());  // straight to the one that answered
}

TEST_F(MasterClientTest, OtherErrorsAreTheMastersAnswerNotAFailover) {
  EXPECT_CALL(*masters_[0], Lookup(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such file")));
  EXPECT_EQ(Lookup().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(client_->stub(), masters_[0]);
}

TEST_F(MasterClientTest, TriesEachMasterOnceWhenNoneAnswers) {
  for (auto* m : masters_) EXPECT_CALL(*m, Lookup(_, _, _)).WillOnce(Return(Unavailable()));
  EXPECT_EQ(Lookup().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(client_->stub(), masters_[0]);  // no master answered: nothing learned
}

TEST_F(MasterClientTest, EachAttemptGetsAFreshContextWithTheOptions) {
  absl::Time before = absl::Now();
  std::vector<absl::Time> deadlines;
  auto record = [&](grpc::ClientContext* ctx, const LookupRequest&, LookupReply*) {
    deadlines.push_back(absl::FromChrono(ctx->deadline()));
    return Unavailable();
  };
  EXPECT_CALL(*masters_[0], Lookup(_, _, _)).WillOnce(record);
  EXPECT_CALL(*masters_[1], Lookup(_, _, _)).WillOnce(record);
  EXPECT_CALL(*masters_[2], Lookup(_, _, _)).WillOnce(Return(grpc::Status::OK));
  LookupRequest req;
  LookupReply reply;
  MasterCallOptions quick{.deadline = absl::Seconds(2), .wait_for_ready = false};
  EXPECT_TRUE(client_->Unary(&Master::StubInterface::Lookup, req, &reply, quick).ok());
  ASSERT_EQ(deadlines.size(), 2u);
  for (absl::Time d : deadlines) {
    EXPECT_GE(d, before + absl::Seconds(2));
    EXPECT_LE(d, absl::Now() + absl::Seconds(2));
  }
}

TEST(MasterClientConnectTest, NeedsAnAddress) {
  EXPECT_THAT(MasterClient::Connect(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MasterClient::Connect(" , "), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MasterClient::Connect("127.0.0.1:1, 127.0.0.1:2"), IsOk());
}

}  // namespace
}  // namespace cairn
