// GatewayClient against an in-test fake gateway on a port the OS picks:
// streaming both ways, URL encoding of paths, error mapping.
#include "client/gateway_client.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/fake_gateway.h"
#include "client/sha256.h"
#include "gtest/gtest.h"

namespace cairn::client {
namespace {

using testing::FakeGateway;
using testing::FakeGatewayOptions;
using testing::RecordedRequest;

// Deterministic bytes generated on demand, so a large upload never exists
// in memory on the client side. Records how it was read.
class PatternSource : public ByteSource {
 public:
  PatternSource(uint64_t size, bool sized) : size_(size), sized_(sized) {}

  std::optional<uint64_t> size() const override {
    return sized_ ? std::optional<uint64_t>(size_) : std::nullopt;
  }
  absl::StatusOr<size_t> Read(uint64_t offset, absl::Span<char> buf) override {
    largest_read_ = std::max(largest_read_, buf.size());
    if (offset >= size_) return 0;
    size_t n = std::min<uint64_t>(buf.size(), size_ - offset);
    for (size_t i = 0; i < n; ++i) buf[i] = ByteAt(offset + i);
    return n;
  }

  static char ByteAt(uint64_t offset) {
    return static_cast<char>((offset * 131 + offset / 4099) & 0xff);
  }
  static std::string Content(uint64_t size) {
    std::string content(size, '\0');
    for (uint64_t i = 0; i < size; ++i) content[i] = ByteAt(i);
    return content;
  }
  size_t largest_read() const { return largest_read_; }

 private:
  const uint64_t size_;
  const bool sized_;
  size_t largest_read_ = 0;
};

// Records the size of every write.
class RecordingSink : public StringSink {
 public:
  absl::Status Write(std::string_view data) override {
    writes_.push_back(data.size());
    return StringSink::Write(data);
  }
  const std::vector<size_t>& writes() const { return writes_; }

 private:
  std::vector<size_t> writes_;
};

class GatewayClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeGatewayOptions options;
    options.chunk_size = 1 << 20;
    options.download_piece = 64 * 1024;
    fake_ = std::make_unique<FakeGateway>(options);
    ASSERT_GT(fake_->Start(), 0);
    absl::StatusOr<GatewayAddress> address = ParseGatewayAddress(fake_->url());
    ASSERT_TRUE(address.ok()) << address.status();
    GatewayClientOptions client_options;
    client_options.address = *address;
    client_options.io_timeout = std::chrono::seconds(10);
    client_ = std::make_unique<GatewayClient>(client_options);
  }

  // The last request the fake saw.
  RecordedRequest LastRequest() {
    std::vector<RecordedRequest> all = fake_->requests();
    EXPECT_FALSE(all.empty());
    return all.empty() ? RecordedRequest{} : all.back();
  }

  std::unique_ptr<FakeGateway> fake_;
  std::unique_ptr<GatewayClient> client_;
};

TEST_F(GatewayClientTest, PutThenGetRoundTripsAndVerifies) {
  std::string content = PatternSource::Content(3 * 1024 * 1024 + 17);
  StringSource source(content);
  absl::StatusOr<PutResult> put = client_->Put("/docs/a.bin", source);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->path, "/docs/a.bin");
  EXPECT_EQ(put->size, content.size());
  EXPECT_EQ(put->chunks, 4u);
  EXPECT_EQ(put->sha256, Sha256Hex(content));

  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/docs/a.bin", sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->verified);
  EXPECT_EQ(got->size, content.size());
  EXPECT_EQ(got->sha256, Sha256Hex(content));
  EXPECT_TRUE(sink.committed());
  EXPECT_TRUE(sink.data() == content);
}

TEST_F(GatewayClientTest, SizedUploadStreamsWithContentLength) {
  constexpr uint64_t kSize = 20 * 1024 * 1024;
  PatternSource source(kSize, /*sized=*/true);
  std::vector<uint64_t> progress;
  PutOptions options;
  options.progress = [&](uint64_t done, std::optional<uint64_t> total) {
    EXPECT_EQ(total, std::optional<uint64_t>(kSize));
    progress.push_back(done);
  };
  absl::StatusOr<PutResult> put = client_->Put("/big.bin", source, options);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->size, kSize);

  RecordedRequest request = LastRequest();
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.content_length, std::to_string(kSize));
  EXPECT_EQ(request.transfer_encoding, "");
  EXPECT_GT(request.body_pieces.size(), 10u);
  // Read a buffer at a time, never the whole file.
  EXPECT_LE(source.largest_read(), 1024u * 1024u);
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(progress.front(), 0u);
  EXPECT_EQ(progress.back(), kSize);
  EXPECT_TRUE(fake_->FileContent("/big.bin") == PatternSource::Content(kSize));
}

TEST_F(GatewayClientTest, UnsizedUploadUsesChunkedEncoding) {
  constexpr uint64_t kSize = 1024 * 1024 + 5;
  PatternSource source(kSize, /*sized=*/false);
  absl::StatusOr<PutResult> put = client_->Put("/stream.bin", source);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->size, kSize);
  RecordedRequest request = LastRequest();
  EXPECT_EQ(request.transfer_encoding, "chunked");
  EXPECT_EQ(request.content_length, "");
  EXPECT_TRUE(fake_->FileContent("/stream.bin") == PatternSource::Content(kSize));
}

TEST_F(GatewayClientTest, DownloadStreamsInPiecesWithProgress) {
  constexpr uint64_t kSize = 2 * 1024 * 1024;
  fake_->AddFile("/d.bin", PatternSource::Content(kSize));
  RecordingSink sink;
  uint64_t last_done = 0;
  std::optional<uint64_t> last_total;
  GetOptions options;
  options.progress = [&](uint64_t done, std::optional<uint64_t> total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  absl::StatusOr<GetResult> got = client_->Get("/d.bin", sink, options);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_GT(sink.writes().size(), 1u);
  EXPECT_LE(*std::max_element(sink.writes().begin(), sink.writes().end()),
            1024u * 1024u);
  EXPECT_EQ(last_done, kSize);
  EXPECT_EQ(last_total, std::optional<uint64_t>(kSize));
}

TEST_F(GatewayClientTest, ChecksumMismatchIsDataLossAndNotCommitted) {
  fake_->AddFile("/c.txt", "hello");
  fake_->CorruptNextDownload();
  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/c.txt", sink);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_FALSE(sink.committed());
}

TEST_F(GatewayClientTest, ChecksumMismatchLeavesNoLocalFile) {
  fake_->AddFile("/c.txt", "hello");
  fake_->CorruptNextDownload();
  std::string dir = ::testing::TempDir() + "/cairn_sink_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    absl::StatusOr<std::unique_ptr<FileSink>> sink =
        FileSink::Create(dir + "/c.txt");
    ASSERT_TRUE(sink.ok()) << sink.status();
    EXPECT_FALSE(client_->Get("/c.txt", **sink).ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));

  absl::StatusOr<std::unique_ptr<FileSink>> sink =
      FileSink::Create(dir + "/c.txt");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(client_->Get("/c.txt", **sink).ok());
  std::ifstream in(dir + "/c.txt");
  std::stringstream read;
  read << in.rdbuf();
  EXPECT_EQ(read.str(), "hello");
  std::filesystem::remove_all(dir);
}

TEST_F(GatewayClientTest, MissingChecksumIsUnverifiedButDelivered) {
  fake_->AddFile("/n.txt", "data");
  fake_->OmitNextChecksum();
  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/n.txt", sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->verified);
  EXPECT_TRUE(sink.committed());
  EXPECT_EQ(sink.data(), "data");
}

TEST_F(GatewayClientTest, EmptyFileRoundTrips) {
  StringSource source("");
  absl::StatusOr<PutResult> put = client_->Put("/empty", source);
  ASSERT_TRUE(put.ok()) << put.status();
  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/empty", sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size, 0u);
  EXPECT_TRUE(got->verified);
  EXPECT_TRUE(sink.committed());
}

TEST_F(GatewayClientTest, PathComponentsArePercentEncoded) {
  const std::string path = "/dir with space/\xC3\xBC?#%+&=.txt";
  StringSource source("x");
  ASSERT_TRUE(client_->Put(path, source).ok());
  RecordedRequest put = LastRequest();
  EXPECT_EQ(put.target,
            "/api/v1/files/dir%20with%20space/%C3%BC%3F%23%25%2B%26%3D.txt");
  EXPECT_EQ(put.path, "/api/v1/files" + path);
  EXPECT_EQ(fake_->FileContent(path), std::optional<std::string>("x"));

  absl::StatusOr<Listing> listing = client_->List("/dir with space", false);
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_EQ(LastRequest().target, "/api/v1/list?path=/dir%20with%20space");
  ASSERT_EQ(listing->entries.size(), 1u);
  EXPECT_EQ(listing->entries[0].name, "\xC3\xBC?#%+&=.txt");

  absl::StatusOr<FileInfo> info = client_->GetFileInfo(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->path, path);
}

TEST_F(GatewayClientTest, InvalidPathsFailBeforeAnyRequest) {
  StringSource source("x");
  EXPECT_EQ(client_->Put("/a/../b", source).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Put("relative", source).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Delete("/a//b", false).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Rename("/a", "/b/./c").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(fake_->requests().empty());
}

TEST_F(GatewayClientTest, MissingFileIsNotFoundWithServerMessage) {
  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/nope", sink);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("no such file"), absl::string_view::npos)
      << got.status();
  EXPECT_FALSE(sink.committed());
  EXPECT_EQ(client_->Head("/nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->GetFileInfo("/nope").status().code(),
            absl::StatusCode::kNotFound);
}

// What the client reports for each error the gateway can send (the fake
// renders `sent` as the real gateway does, through common/api_errors.h).
struct ErrorCase {
  absl::StatusCode sent;
  absl::StatusCode expected;
};

class ErrorMappingTest : public GatewayClientTest,
                         public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(ErrorMappingTest, JsonErrorsMapToStatusCodes) {
  const ErrorCase& c = GetParam();
  fake_->FailNextRequest(absl::Status(c.sent, "injected failure"));
  absl::Status status = client_->Mkdir("/x");
  EXPECT_EQ(status.code(), c.expected) << status;
  EXPECT_EQ(status.message(), "injected failure");
}

TEST_P(ErrorMappingTest, UploadErrorsMapToStatusCodes) {
  const ErrorCase& c = GetParam();
  fake_->FailNextRequest(absl::Status(c.sent, "injected failure"));
  StringSource source(std::string(100000, 'u'));
  EXPECT_EQ(client_->Put("/u", source).status().code(), c.expected);
}

using Code = absl::StatusCode;
INSTANTIATE_TEST_SUITE_P(
    AllCodes, ErrorMappingTest,
    ::testing::Values(ErrorCase{Code::kInvalidArgument, Code::kInvalidArgument},
                      ErrorCase{Code::kNotFound, Code::kNotFound},
                      ErrorCase{Code::kAlreadyExists, Code::kAlreadyExists},
                      // CONFLICT: the client cannot tell Aborted from AlreadyExists.
                      ErrorCase{Code::kAborted, Code::kAlreadyExists},
                      ErrorCase{Code::kFailedPrecondition, Code::kFailedPrecondition},
                      ErrorCase{Code::kOutOfRange, Code::kOutOfRange},
                      ErrorCase{Code::kUnavailable, Code::kUnavailable},
                      ErrorCase{Code::kDeadlineExceeded, Code::kUnavailable},
                      ErrorCase{Code::kResourceExhausted, Code::kResourceExhausted},
                      ErrorCase{Code::kDataLoss, Code::kDataLoss},
                      ErrorCase{Code::kPermissionDenied, Code::kInternal},
                      ErrorCase{Code::kInternal, Code::kInternal}));

TEST_F(GatewayClientTest, ConnectionRefusedIsUnavailable) {
  int port = fake_->port();
  fake_->Stop();
  GatewayClientOptions options;
  options.address.port = port;
  GatewayClient client(options);
  absl::StatusOr<ClusterStatus> cluster = client.GetCluster();
  EXPECT_EQ(cluster.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(cluster.status().message().find("cannot connect"),
            absl::string_view::npos)
      << cluster.status();
  StringSource source("x");
  EXPECT_EQ(client.Put("/x", source).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(GatewayClientTest, FailIfExistsSendsIfNoneMatchOrFailsEarly) {
  StringSource source("one");
  PutOptions options;
  options.fail_if_exists = true;
  ASSERT_TRUE(client_->Put("/once", source, options).ok());
  EXPECT_EQ(LastRequest().if_none_match, "*");

  size_t before = fake_->requests().size();
  StringSource again("two");
  absl::StatusOr<PutResult> put = client_->Put("/once", again, options);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kFailedPrecondition);
  std::vector<RecordedRequest> after = fake_->requests();
  ASSERT_EQ(after.size(), before + 1);
  EXPECT_EQ(after.back().method, "HEAD");  // the body was never sent
  EXPECT_EQ(fake_->FileContent("/once"), std::optional<std::string>("one"));
}

TEST(GatewayClientRejectTest, UploadRejectedUnreadIsDiagnosed) {
  FakeGatewayOptions options;
  options.read_rejected_uploads = false;
  FakeGateway fake(options);
  ASSERT_GT(fake.Start(), 0);
  fake.AddFile("/f", "file");
  ASSERT_TRUE(fake.FileContent("/f").has_value());
  GatewayClientOptions client_options;
  client_options.address = ParseGatewayAddress(fake.url()).value();
  GatewayClient client(client_options);
  // Large enough that the gateway closes the connection mid-body.
  PatternSource under_file(32 << 20, /*sized=*/true);
  absl::StatusOr<PutResult> put = client.Put("/f/x/y", under_file);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kAlreadyExists) << put.status();
  EXPECT_NE(put.status().message().find("in the way: /f"), absl::string_view::npos)
      << put.status();
}

TEST_F(GatewayClientTest, HeadReportsSizeAndChecksum) {
  fake_->AddFile("/h.txt", "12345");
  absl::StatusOr<FileHead> head = client_->Head("/h.txt");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, 5u);
  EXPECT_EQ(head->sha256, Sha256Hex("12345"));
}

TEST_F(GatewayClientTest, NamespaceOperations) {
  ASSERT_TRUE(client_->Mkdir("/a/b").ok());
  EXPECT_TRUE(fake_->IsDirectory("/a"));
  fake_->AddFile("/a/b/f1", "1");
  fake_->AddFile("/a/f2", "22");

  absl::StatusOr<Listing> top = client_->List("/a", false);
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_EQ(top->entries.size(), 2u);
  EXPECT_EQ(top->entries[0].name, "b");
  EXPECT_TRUE(top->entries[0].is_dir());
  EXPECT_EQ(top->entries[1].name, "f2");
  EXPECT_EQ(top->entries[1].size, 2u);
  EXPECT_GT(top->entries[1].mtime, 0);

  absl::StatusOr<Listing> all = client_->List("/a", true);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->entries.size(), 3u);
  EXPECT_EQ(LastRequest().target, "/api/v1/list?path=/a&recursive=true");

  ASSERT_TRUE(client_->Rename("/a/f2", "/a/b/f3").ok());
  EXPECT_EQ(fake_->FileContent("/a/b/f3"), std::optional<std::string>("22"));
  EXPECT_EQ(client_->Rename("/missing", "/x").code(), absl::StatusCode::kNotFound);

  // A non-empty directory: the gateway sends 409 CONFLICT (the master's Aborted).
  EXPECT_EQ(client_->Delete("/a", false).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(client_->Delete("/a", true).ok());
  EXPECT_EQ(LastRequest().target, "/api/v1/files/a?recursive=true");
  EXPECT_FALSE(fake_->IsDirectory("/a"));
  EXPECT_EQ(client_->Delete("/a", true).code(), absl::StatusCode::kNotFound);
}

TEST(GatewayClientPagingTest, ListFollowsTruncatedPages) {
  FakeGatewayOptions options;
  options.list_page_size = 2;
  FakeGateway fake(options);
  ASSERT_GT(fake.Start(), 0);
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    fake.AddFile(std::string("/p/") + name, name);
  }
  GatewayClientOptions client_options;
  client_options.address = ParseGatewayAddress(fake.url()).value();
  GatewayClient client(client_options);
  absl::StatusOr<Listing> listing = client.List("/p", false);
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->entries.size(), 5u);
  EXPECT_EQ(listing->entries[4].name, "e");
  EXPECT_FALSE(listing->truncated);
  std::vector<RecordedRequest> requests = fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].target, "/api/v1/list?path=/p&start_after=/p/d");
}

TEST_F(GatewayClientTest, FileInfoOfADirectorySaysSo) {
  ASSERT_TRUE(client_->Mkdir("/dir").ok());
  absl::StatusOr<FileInfo> info = client_->GetFileInfo("/dir");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->is_dir());
  EXPECT_TRUE(info->chunks.empty());
}

TEST_F(GatewayClientTest, FileInfoClusterAndUsage) {
  fake_->AddFile("/t1/x", std::string(2 * 1024 * 1024 + 1, 'x'));
  fake_->AddFile("/t2/y", "yy");

  absl::StatusOr<FileInfo> info = client_->GetFileInfo("/t1/x");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size, 2u * 1024 * 1024 + 1);
  EXPECT_EQ(info->replication, 3u);
  ASSERT_EQ(info->chunks.size(), 3u);
  EXPECT_EQ(info->chunks[2].index, 2u);
  EXPECT_EQ(info->chunks[2].handle, "4098");  // sent as a number
  EXPECT_EQ(info->chunks[2].size, 1u);
  ASSERT_EQ(info->chunks[0].replicas.size(), 3u);
  EXPECT_EQ(info->chunks[0].replicas[1].node_id, "cs-2");
  EXPECT_EQ(info->chunks[0].replicas[1].zone, "z2");

  absl::StatusOr<ClusterStatus> cluster = client_->GetCluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_EQ(cluster->nodes.size(), 3u);
  EXPECT_EQ(cluster->nodes[0].state, "alive");
  EXPECT_EQ(cluster->nodes[0].last_heartbeat_ms_ago, 250);
  EXPECT_EQ(cluster->totals.alive, 3u);
  EXPECT_EQ(cluster->totals.capacity, 3 * (uint64_t{100} << 30));
  EXPECT_EQ(cluster->replication, 3u);
  EXPECT_EQ(cluster->chunk_size, 1u << 20);
  EXPECT_FALSE(cluster->safe_mode);

  absl::StatusOr<Usage> usage = client_->GetUsage("/");
  ASSERT_TRUE(usage.ok()) << usage.status();
  ASSERT_EQ(usage->children.size(), 2u);
  EXPECT_EQ(usage->children[0].name, "t1");
  EXPECT_EQ(usage->children[0].files, 1u);
  EXPECT_EQ(usage->children[1].bytes, 2u);
}

}  // namespace
}  // namespace cairn::client
