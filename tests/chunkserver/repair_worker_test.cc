// RepairWorker through its seams: an in-memory store, gmock chunkserver stubs
// for the peers (a scripted ReadChunk stream), a SimulatedClock for the
// bandwidth budget.
#include <atomic>
#include <map>

#include "absl/strings/str_cat.h"
#include "chunkserver/background.h"
#include "common/crc32c.h"
#include "common/mem_file_system.h"
#include "proto/chunkserver_mock.grpc.pb.h"
#include "test_util.h"

namespace cairn::chunkserver {
namespace {

using ::cairn::testing::IsOk;
using ::cairn::testing::MetricValue;
using ::cairn::testing::RandomBytes;
using ::cairn::testing::WaitFor;
using ::testing::_;
using ::testing::Invoke;

constexpr char kRoot[] = "/dst";

// What a peer does with one ReadChunk call.
struct PeerScript {
  std::vector<ReadChunkReply> pieces;  // sent in order
  grpc::Status status;                 // then the call ends with this
};

// Per-peer record of what the worker asked for.
struct PeerLog {
  std::atomic<int> calls{0};
  std::atomic<int> reads{0};  // pieces handed out
  std::atomic<int> finished{0};
  std::atomic<int> destroyed{0};
  absl::Mutex mu;
  std::vector<ReadChunkRequest> requests ABSL_GUARDED_BY(mu);
};

class FakeReader : public grpc::ClientReaderInterface<ReadChunkReply> {
 public:
  FakeReader(PeerScript script, PeerLog* log) : script_(std::move(script)), log_(log) {}
  ~FakeReader() override { ++log_->destroyed; }
  bool NextMessageSize(uint32_t* sz) override {
    if (next_ == script_.pieces.size()) return false;
    *sz = static_cast<uint32_t>(script_.pieces[next_].ByteSizeLong());
    return true;
  }
  bool Read(ReadChunkReply* msg) override {
    if (next_ == script_.pieces.size()) return false;
    *msg = script_.pieces[next_++];
    ++log_->reads;
    return true;
  }
  void WaitForInitialMetadata() override {}
  grpc::Status Finish() override {
    ++log_->finished;
    return script_.status;
  }

 private:
  PeerScript script_;
  PeerLog* log_;
  size_t next_ = 0;
};

std::vector<ReadChunkReply> Pieces(const std::string& data, size_t piece) {
  std::vector<ReadChunkReply> out;
  for (size_t off = 0; off < data.size(); off += piece) {
    ReadChunkReply r;
    r.set_data(data.substr(off, piece));
    r.set_data_crc32c(Crc32c(r.data()));
    out.push_back(std::move(r));
  }
  return out;
}

ChunkRef Ref(uint64_t handle, uint64_t version, const std::string& data) {
  ChunkRef c;
  c.set_handle(handle);
  c.set_version(version);
  c.set_size(data.size());
  c.set_crc32c(Crc32c(data));
  return c;
}

ReplicateCommand Command(const ChunkRef& chunk, std::vector<std::string> sources) {
  ReplicateCommand cmd;
  *cmd.mutable_chunk() = chunk;
  for (const auto& s : sources) cmd.add_sources()->set_address(s);
  return cmd;
}

class RepairWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = ChunkStore::Open(&fs_, kRoot);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }
  void TearDown() override { worker_.reset(); }

  RepairWorker& MakeWorker(uint64_t bytes_per_second = 0, int threads = 2) {
    worker_ = std::make_unique<RepairWorker>(store_.get(), &peers_, &clock_, &metrics_,
                                             bytes_per_second, threads);
    worker_->OnCopied([this] {
      {
        absl::MutexLock lock(&copied_mu_);
        copied_at_.push_back(clock_.Now());
      }
      ++copied_;
    });
    return *worker_;
  }
  // `address` answers its ReadChunk calls with `scripts`, one per call, in order.
  PeerLog* Peer(const std::string& address, std::vector<PeerScript> scripts) {
    auto stub = std::make_unique<MockChunkserverStub>();
    PeerLog* log = &logs_[address];
    auto& expect = EXPECT_CALL(*stub, ReadChunkRaw(_, _)).Times(scripts.size());
    for (PeerScript& script : scripts) {
      expect.WillOnce(Invoke([script, log](grpc::ClientContext*, const ReadChunkRequest& req) {
        ++log->calls;
        {
          absl::MutexLock lock(&log->mu);
          log->requests.push_back(req);
        }
        return new FakeReader(script, log);
      }));
    }
    stubs_[address] = std::move(stub);
    return log;
  }
  absl::StatusOr<std::string> Stored(uint64_t handle, uint64_t version) {
    std::string out;
    absl::Status s = store_->Read(handle, version, 0, 0, 1 << 20, [&](std::string* p) {
      out.append(*p);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }
  double Copies(const std::string& result) {
    return MetricValue(
        metrics_, absl::StrCat("cairn_chunkserver_repair_copies_total{result=\"", result, "\"}"),
        /*absent=*/0);
  }
  bool TmpEmpty() {
    auto names = fs_.ListDir(std::string(kRoot) + "/tmp");
    return names.ok() && names->empty();
  }

  MemFileSystem fs_;
  std::unique_ptr<ChunkStore> store_;
  SimulatedClock clock_;
  Metrics metrics_;
  std::map<std::string, PeerLog> logs_;
  std::map<std::string, std::unique_ptr<MockChunkserverStub>> stubs_;
  StubCache<cairn::Chunkserver> peers_{[this](const std::string& a) {
    std::unique_ptr<cairn::Chunkserver::StubInterface> s = std::move(stubs_[a]);
    if (!s) {
      ADD_FAILURE() << "no peer " << a;
      s = std::make_unique<MockChunkserverStub>();
    }
    return s;
  }};
  std::atomic<int> copied_{0};
  absl::Mutex copied_mu_;
  std::vector<absl::Time> copied_at_ ABSL_GUARDED_BY(copied_mu_);  // when on_copied ran
  std::unique_ptr<RepairWorker> worker_;
};

TEST_F(RepairWorkerTest, CopiesAChunkFromAPeer) {
  std::string data = RandomBytes(3 * kBlockSize + 1234, 1);
  PeerLog* a = Peer("a:1", {{Pieces(data, kBlockSize), grpc::Status::OK}});
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));
  ASSERT_TRUE(WaitFor([&] { return copied_ == 1; }));
  ASSERT_TRUE(store_->Has(7, 3));
  auto stored = Stored(7, 3);
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(*stored, data);
  EXPECT_THAT(store_->Verify(7, 3), IsOk());
  ASSERT_EQ(store_->List().size(), 1u);
  EXPECT_EQ(store_->List()[0].size(), data.size());
  {
    absl::MutexLock lock(&a->mu);
    ASSERT_EQ(a->requests.size(), 1u);
    EXPECT_EQ(a->requests[0].handle(), 7u);
    EXPECT_EQ(a->requests[0].version(), 3u);
    EXPECT_EQ(a->requests[0].offset(), 0u);
    EXPECT_EQ(a->requests[0].length(), 0u);  // the whole chunk
  }
  EXPECT_EQ(a->finished, 1);
  EXPECT_TRUE(TmpEmpty());
  EXPECT_EQ(Copies("ok"), 1);
  EXPECT_EQ(MetricValue(metrics_, "cairn_chunkserver_repair_bytes_total", 0), data.size());
  // The new replica is in the next heartbeat's changes.
  auto changes = store_->TakeChanges();
  ASSERT_EQ(changes.added.size(), 1u);
  EXPECT_EQ(changes.added[0].handle(), 7u);
}

TEST_F(RepairWorkerTest, CopiesSeveralChunksOnSeveralThreads) {
  std::vector<std::string> data;
  for (int i = 0; i < 6; ++i) {
    data.push_back(RandomBytes(10000 + i * 777, 10 + i));
    Peer(absl::StrCat("p", i, ":1"), {{Pieces(data[i], 4096), grpc::Status::OK}});
  }
  RepairWorker& w = MakeWorker(0, 3);
  for (int i = 0; i < 6; ++i)
    w.Enqueue(Command(Ref(100 + i, 1, data[i]), {absl::StrCat("p", i, ":1")}));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return copied_ == 6; }));
  for (int i = 0; i < 6; ++i) {
    auto stored = Stored(100 + i, 1);
    ASSERT_THAT(stored, IsOk()) << i;
    EXPECT_EQ(*stored, data[i]) << i;
  }
}

TEST_F(RepairWorkerTest, PeerFailingMidwayThenTheNextSourceIsTried) {
  std::string data = RandomBytes(5 * 10000, 2);
  auto pieces = Pieces(data, 10000);
  // a:1 sends two pieces, then its stream breaks.
  PeerLog* a = Peer("a:1", {{{pieces[0], pieces[1]},
                             grpc::Status(grpc::StatusCode::UNAVAILABLE, "peer went away")}});
  PeerLog* b = Peer("b:1", {{pieces, grpc::Status::OK}});
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1", "b:1"}));
  ASSERT_TRUE(WaitFor([&] { return copied_ == 1; }));
  EXPECT_EQ(a->calls, 1);
  EXPECT_EQ(b->calls, 1);
  auto stored = Stored(7, 3);
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(*stored, data);  // nothing of a's partial copy mixed in
  EXPECT_TRUE(TmpEmpty());
  EXPECT_EQ(Copies("ok"), 1);
  EXPECT_EQ(Copies("error"), 0);
}

TEST_F(RepairWorkerTest, StopsAtTheFirstSourceThatWorks) {
  std::string data = RandomBytes(20000, 3);
  Peer("a:1", {{Pieces(data, 8192), grpc::Status::OK}});
  Peer("b:1", {});  // must not be asked
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1", "b:1"}));
  ASSERT_TRUE(WaitFor([&] { return copied_ == 1; }));
  EXPECT_EQ(logs_["b:1"].calls, 0);
}

TEST_F(RepairWorkerTest, CorruptedPieceIsRejectedAndTheNextSourceTried) {
  std::string data = RandomBytes(4 * 10000, 4);
  auto bad = Pieces(data, 10000);
  (*bad[2].mutable_data())[17] ^= 0x01;  // bit rot in transit; its CRC no longer matches
  PeerLog* a = Peer("a:1", {{bad, grpc::Status::OK}});
  PeerLog* b = Peer("b:1", {{Pieces(data, 10000), grpc::Status::OK}});
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1", "b:1"}));
  ASSERT_TRUE(WaitFor([&] { return copied_ == 1; }));
  EXPECT_EQ(a->reads, 3);  // stopped reading a:1 at the bad piece
  EXPECT_EQ(b->calls, 1);
  auto stored = Stored(7, 3);
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(*stored, data);
  EXPECT_TRUE(TmpEmpty());
}

TEST_F(RepairWorkerTest, CorruptedPieceFromTheOnlySourceKeepsNothing) {
  std::string data = RandomBytes(4 * 10000, 5);
  auto bad = Pieces(data, 10000);
  (*bad[1].mutable_data())[0] ^= 0x80;
  PeerLog* a = Peer("a:1", {{bad, grpc::Status::OK}});
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));
  ASSERT_TRUE(WaitFor([&] { return Copies("error") == 1; }));
  EXPECT_EQ(a->destroyed, 1);
  EXPECT_FALSE(store_->Has(7, 3));
  EXPECT_TRUE(store_->List().empty());
  EXPECT_TRUE(TmpEmpty());
  EXPECT_EQ(copied_, 0);
  EXPECT_EQ(Copies("ok"), 0);
}

TEST_F(RepairWorkerTest, WholeChunkChecksumOrSizeMismatchKeepsNothing) {
  std::string data = RandomBytes(30000, 6);
  std::string other = RandomBytes(30000, 7);  // each piece is self-consistent, the chunk is not
  std::string shorter = data.substr(0, 20000);
  PeerLog* a = Peer("a:1", {{Pieces(other, 10000), grpc::Status::OK}});
  PeerLog* b = Peer("b:1", {{Pieces(shorter, 10000), grpc::Status::OK}});
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1", "b:1"}));
  ASSERT_TRUE(WaitFor([&] { return Copies("error") == 1; }));
  EXPECT_EQ(a->calls, 1);
  EXPECT_EQ(b->calls, 1);
  EXPECT_FALSE(store_->Has(7, 3));
  EXPECT_TRUE(store_->List().empty());
  EXPECT_EQ(store_->Stats().bytes, 0u);
  EXPECT_TRUE(TmpEmpty());
  EXPECT_EQ(copied_, 0);
}

TEST_F(RepairWorkerTest, AllSourcesFailingLeavesNothingAndTheWorkerCarriesOn) {
  std::string data = RandomBytes(10000, 8);
  std::string next = RandomBytes(10000, 9);
  PeerLog* a = Peer("a:1", {{{}, grpc::Status(grpc::StatusCode::NOT_FOUND, "no such replica")},
                            {Pieces(next, 4096), grpc::Status::OK}});
  PeerLog* b = Peer("b:1", {{{}, grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")}});
  RepairWorker& w = MakeWorker(0, 1);
  w.Enqueue(Command(Ref(7, 3, data), {"a:1", "b:1"}));
  w.Enqueue(Command(Ref(8, 1, next), {"a:1"}));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return copied_ == 1; }));
  EXPECT_EQ(a->calls, 2);
  EXPECT_EQ(b->calls, 1);
  EXPECT_FALSE(store_->Has(7, 3));
  EXPECT_TRUE(store_->Has(8, 1));
  EXPECT_EQ(Copies("error"), 1);
  EXPECT_EQ(Copies("ok"), 1);
  EXPECT_TRUE(TmpEmpty());
}

TEST_F(RepairWorkerTest, CommandWithoutSourcesFails) {
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Enqueue(Command(Ref(7, 3, "x"), {}));
  ASSERT_TRUE(WaitFor([&] { return Copies("error") == 1; }));
  EXPECT_FALSE(store_->Has(7, 3));
  EXPECT_EQ(copied_, 0);
}

TEST_F(RepairWorkerTest, ChunkAlreadyStoredIsNotCopiedAgain) {
  std::string data = RandomBytes(10000, 10);
  {
    auto wr = store_->Create(7, 3);
    ASSERT_THAT(wr, IsOk());
    ASSERT_THAT((*wr)->Append(data), IsOk());
    ASSERT_THAT((*wr)->Finish(), IsOk());
  }
  Peer("a:1", {});  // never asked
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));
  ASSERT_TRUE(WaitFor([&] { return Copies("ok") + Copies("error") == 1; }));
  w.Stop();
  EXPECT_EQ(logs_["a:1"].calls, 0);
  EXPECT_EQ(*Stored(7, 3), data);
}

TEST_F(RepairWorkerTest, ChunkAlreadyQueuedIsQueuedOnce) {
  std::string data = RandomBytes(10000, 11);
  std::string last = RandomBytes(10000, 12);
  Peer("a:1", {{Pieces(data, 4096), grpc::Status::OK}});
  Peer("b:1", {{Pieces(last, 4096), grpc::Status::OK}});
  RepairWorker& w = MakeWorker(0, /*threads=*/1);
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));
  w.Enqueue(Command(Ref(7, 3, data), {"b:1"}));  // same chunk, other source: still a duplicate
  w.Enqueue(Command(Ref(8, 1, last), {"b:1"}));
  w.Start();
  // One thread, in order: once chunk 8 is stored every earlier entry is done.
  ASSERT_TRUE(WaitFor([&] { return store_->Has(8, 1); }));
  w.Stop();
  EXPECT_EQ(copied_, 2);
  EXPECT_EQ(Copies("ok"), 2);
  EXPECT_EQ(*Stored(7, 3), data);
}

TEST_F(RepairWorkerTest, UnthrottledCopiesNeedNoSimulatedTime) {
  std::string data = RandomBytes(200000, 13);
  Peer("a:1", {{Pieces(data, 10000), grpc::Status::OK}});
  const absl::Time start = clock_.Now();
  RepairWorker& w = MakeWorker(/*bytes_per_second=*/0);
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));
  ASSERT_TRUE(WaitFor([&] { return copied_ == 1; }));
  absl::MutexLock lock(&copied_mu_);
  ASSERT_EQ(copied_at_.size(), 1u);
  EXPECT_EQ(copied_at_[0], start);  // the clock never moved
}

TEST_F(RepairWorkerTest, CopiesAreThrottledToTheBandwidthBudget) {
  // 5000 bytes at 1000 B/s. The limiter allows at most one second of burst,
  // so however the worker's steps fall between clock advances the copy cannot
  // end before 4 simulated seconds.
  std::string data = RandomBytes(5000, 14);
  PeerLog* a = Peer("a:1", {{Pieces(data, 1000), grpc::Status::OK}});
  const absl::Time start = clock_.Now();
  RepairWorker& w = MakeWorker(/*bytes_per_second=*/1000);
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));
  // Without simulated time passing it gets no further than the first piece.
  ASSERT_TRUE(WaitFor([&] { return a->reads >= 1; }));
  EXPECT_EQ(a->reads, 1);
  EXPECT_FALSE(store_->Has(7, 3));
  ASSERT_TRUE(WaitFor([&] {
    if (copied_ == 1) return true;
    clock_.Advance(absl::Milliseconds(100));
    return false;
  }));
  EXPECT_EQ(*Stored(7, 3), data);
  absl::MutexLock lock(&copied_mu_);
  ASSERT_EQ(copied_at_.size(), 1u);
  EXPECT_GE(copied_at_[0] - start, absl::Seconds(4));
}

TEST_F(RepairWorkerTest, StopCancelsAThrottledCopy) {
  std::string data = RandomBytes(3000, 15);
  PeerLog* a = Peer("a:1", {{Pieces(data, 1000), grpc::Status::OK}});
  RepairWorker& w = MakeWorker(/*bytes_per_second=*/1);  // 1000 simulated s per piece
  w.Start();
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));
  ASSERT_TRUE(WaitFor([&] { return a->reads >= 1; }));
  // The copy waits on the limiter; Stop() must end that wait (the clock never moves).
  w.Stop();
  EXPECT_EQ(a->reads, 1);
  EXPECT_EQ(a->destroyed, 1);
  EXPECT_FALSE(store_->Has(7, 3));
  EXPECT_TRUE(TmpEmpty());
  EXPECT_EQ(copied_, 0);
}

TEST_F(RepairWorkerTest, StopWithWorkQueuedReturns) {
  RepairWorker& w = MakeWorker();
  w.Start();
  w.Stop();
  w.Stop();  // idempotent
  std::string data = RandomBytes(100, 16);
  Peer("a:1", {});
  w.Enqueue(Command(Ref(7, 3, data), {"a:1"}));  // no thread left to take it
  EXPECT_EQ(logs_["a:1"].calls, 0);
}

}  // namespace
}  // namespace cairn::chunkserver
