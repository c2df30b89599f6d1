// Downloader through its seams: MapRange over extents of any size, lookup
// errors from a gmock master, and reads with failover across in-memory
// replicas.
#include "gateway/downloader.h"

#include "fake_chunkservers.h"
#include "proto/master_mock.grpc.pb.h"
#include "test_util.h"

namespace cairn::gateway {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::RandomBytes;
using ::cairn::testing::StatusIs;
using ::testing::NiceMock;

// A file of whole chunks of `sizes`.
FileMeta FileOfChunks(const std::vector<uint64_t>& sizes) {
  FileMeta f;
  uint64_t length = 0;
  for (uint64_t s : sizes) {
    f.add_extents()->set_length(s);
    length += s;
  }
  f.set_length(length);
  return f;
}

MATCHER_P3(PieceIs, index, chunk_offset, length, "") {
  return arg.index == index && arg.chunk_offset == chunk_offset && arg.length == length;
}

TEST(MapRangeTest, MapsARangeOntoChunksOfTheirOwnSizes) {
  FileMeta f = FileOfChunks({10, 4, 6});
  using ::testing::ElementsAre;
  EXPECT_THAT(MapRange(f, {0, 20}),
              ElementsAre(PieceIs(0, 0u, 10u), PieceIs(1, 0u, 4u), PieceIs(2, 0u, 6u)));
  EXPECT_THAT(MapRange(f, {9, 3}), ElementsAre(PieceIs(0, 9u, 1u), PieceIs(1, 0u, 2u)));
  EXPECT_THAT(MapRange(f, {10, 4}), ElementsAre(PieceIs(1, 0u, 4u)));
  EXPECT_THAT(MapRange(f, {12, 5}), ElementsAre(PieceIs(1, 2u, 2u), PieceIs(2, 0u, 3u)));
  EXPECT_THAT(MapRange(f, {19, 1}), ElementsAre(PieceIs(2, 5u, 1u)));
}

TEST(MapRangeTest, CutsAtTheEndAndMapsNothingPastIt) {
  FileMeta f = FileOfChunks({10, 4});
  EXPECT_THAT(MapRange(f, {12, 100}), ::testing::ElementsAre(PieceIs(1, 2u, 2u)));
  EXPECT_TRUE(MapRange(f, {14, 1}).empty());
  EXPECT_TRUE(MapRange(f, {3, 0}).empty());
  EXPECT_TRUE(MapRange(FileOfChunks({}), {0, 5}).empty());
  EXPECT_THAT(MapRange(f, {5, UINT64_MAX}),
              ::testing::ElementsAre(PieceIs(0, 5u, 5u), PieceIs(1, 0u, 4u)));
}

TEST(MapRangeTest, StartsEachPieceAtItsExtentsOffsetInTheChunk) {
  FileMeta f = FileOfChunks({10, 4});
  f.mutable_extents(0)->set_offset(100);  // bytes [100, 110) of a shared chunk
  f.mutable_extents(1)->set_offset(7);
  EXPECT_THAT(MapRange(f, {8, 4}),
              ::testing::ElementsAre(PieceIs(0, 108u, 2u), PieceIs(1, 7u, 2u)));
}

TEST(ReadLoadTest, LeadsWithTheLeastBusyAliveReplicaAndNeverAStaleOne) {
  ChunkLocations loc;
  for (const char* a : {"a:1", "b:1", "c:1", "stale:1"}) loc.add_replicas()->set_address(a);
  loc.set_alive(3);
  ReadLoad load;
  auto first = [&] { return load.Order(loc).front().address(); };
  EXPECT_EQ(first(), "a:1");  // ties keep the master's order
  load.Begin("a:1");
  EXPECT_EQ(first(), "b:1");
  load.Begin("b:1");
  load.Begin("stale:1");
  EXPECT_EQ(first(), "c:1");
  load.Begin("c:1");
  load.Begin("c:1");
  EXPECT_EQ(first(), "a:1");
  std::vector<NodeAddress> order = load.Order(loc);
  EXPECT_EQ(order.back().address(), "stale:1");  // everyone is still tried
  EXPECT_EQ(order.size(), 4u);
  load.End("a:1");
  load.End("b:1");
  load.End("c:1");
  load.End("c:1");
  EXPECT_EQ(first(), "a:1");
}

class DownloaderTest : public ::testing::Test {
 protected:
  DownloaderTest() {
    auto stub = std::make_unique<NiceMock<MockMasterStub>>();
    master_stub_ = stub.get();
    std::vector<std::unique_ptr<cairn::Master::StubInterface>> stubs;
    stubs.push_back(std::move(stub));
    master_ = std::make_unique<MasterClient>(std::move(stubs));
    ON_CALL(*master_stub_, Lookup)
        .WillByDefault([this](grpc::ClientContext*, const LookupRequest& req, LookupReply* r) {
          if (req.path() != "/f") return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such file");
          *r = file_;
          return grpc::Status::OK;
        });
  }

  // Makes /f of chunks with `sizes`, each on replicas a:1 and b:1.
  std::string MakeFile(const std::vector<uint64_t>& sizes) {
    std::string data;
    Entry* e = file_.mutable_entry();
    e->set_path("/f");
    e->set_type(Entry::FILE);
    *e->mutable_file() = FileOfChunks(sizes);
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::string bytes = RandomBytes(sizes[i], i + 1);
      e->mutable_file()->mutable_extents(i)->set_handle(i + 1);
      ChunkLocations* loc = file_.add_locations();
      loc->set_alive(2);
      for (const char* a : {"a:1", "b:1"}) {
        loc->add_replicas()->set_address(a);
        cs_.node(a).chunks[i + 1] = bytes;
      }
      data += bytes;
    }
    return data;
  }

  absl::StatusOr<std::string> Read(ByteRange range) {
    Downloader d(master_.get(), cs_.io(), "/f");
    RETURN_IF_ERROR(d.Open());
    std::string out;
    RETURN_IF_ERROR(d.Read(range, [&](std::string_view piece) {
      out.append(piece);
      return true;
    }));
    return out;
  }

  NiceMock<MockMasterStub>* master_stub_;
  std::unique_ptr<MasterClient> master_;
  testing::FakeChunkservers cs_;
  LookupReply file_;
};

TEST_F(DownloaderTest, ReadsRangesAcrossChunksOfUnevenSizes) {
  std::string data = MakeFile({300000, 70000, 150001});
  EXPECT_EQ(Read({0, data.size()}).value_or("error"), data);
  EXPECT_EQ(Read({299990, 70020}).value_or("error"), data.substr(299990, 70020));
  EXPECT_EQ(Read({data.size() - 1, 10}).value_or("error"), data.substr(data.size() - 1));
  EXPECT_EQ(Read({5, 0}).value_or("error"), "");
}

TEST_F(DownloaderTest, FailsOverToTheNextReplicaOnAnErrorOrABadChecksum) {
  std::string data = MakeFile({200000});
  cs_.node("a:1").fail_reads = true;
  EXPECT_EQ(Read({0, data.size()}).value_or("error"), data);
  cs_.node("a:1").fail_reads = false;
  cs_.node("a:1").corrupt_reads = true;
  EXPECT_EQ(Read({1000, 5000}).value_or("error"), data.substr(1000, 5000));
  EXPECT_EQ(cs_.node("b:1").read_streams, 2);
  cs_.node("b:1").corrupt_reads = true;
  EXPECT_THAT(Read({0, 10}), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(DownloaderTest, ASinkThatStopsCancelsTheRead) {
  MakeFile({200000, 10});
  Downloader d(master_.get(), cs_.io(), "/f");
  ASSERT_THAT(d.Open(), IsOk());
  int calls = 0;
  EXPECT_THAT(d.Read({0, 200010}, [&](std::string_view) { return ++calls < 2; }),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(calls, 2);
}

TEST_F(DownloaderTest, OpenRejectsDirectoriesMissingFilesAndChunksWithoutReplicas) {
  EXPECT_THAT(Downloader(master_.get(), cs_.io(), "/nope").Open(),
              StatusIs(absl::StatusCode::kNotFound));
  file_.mutable_entry()->set_path("/f");
  file_.mutable_entry()->set_type(Entry::DIR);
  EXPECT_THAT(Downloader(master_.get(), cs_.io(), "/f").Open(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  MakeFile({10, 20});
  file_.mutable_locations(1)->clear_replicas();
  EXPECT_THAT(Downloader(master_.get(), cs_.io(), "/f").Open(),
              StatusIs(absl::StatusCode::kUnavailable));
  file_.mutable_locations()->RemoveLast();
  EXPECT_THAT(Downloader(master_.get(), cs_.io(), "/f").Open(),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace cairn::gateway
