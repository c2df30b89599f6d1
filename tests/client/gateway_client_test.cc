// GatewayClient against two backends, each on a port the OS picks:
//
//   fake     the in-memory FakeGateway (tests/client/fake_gateway.h)
//   cluster  the real GatewayServer of an in-process TestCluster (master,
//            three chunkservers on MemFileSystems; tests/cluster/test_cluster.h)
//
// Every GatewayClientTest runs on both (".../fake", ".../cluster"), so the
// fake cannot drift from the real gateway unnoticed: where they differ, the
// real gateway is the reference and the fake is fixed. GatewayApiTest checks
// the raw REST replies (status, error name and message, headers, JSON fields)
// the same way, below the client. Fake* suites run on the fake alone: they
// inject faults the real cluster cannot produce, or need fake-only options.
//
// Checks of the exact bytes on the wire (headers the client sent, body piece
// sizes, request counts) need the fake's request log; on the cluster those
// checks are skipped and the rest of the test still runs.
#include "client/gateway_client.h"

#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "client/fake_gateway.h"
#include "client/sha256.h"
#include "cluster/test_cluster.h"
#include "common/strings.h"
#include "gtest/gtest.h"

namespace cairn::client {
namespace {

using nlohmann::json;
using testing::FakeGateway;
using testing::FakeGatewayOptions;
using testing::RecordedRequest;
using TestCluster = ::cairn::testing::TestCluster;
using ClusterOptions = ::cairn::testing::ClusterOptions;

// ---------------------------------------------------------------- helpers

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

// Percent-encodes every byte but unreserved ones and '/': the test's own
// encoder, so setting up and inspecting state does not go through the
// client's.
std::string Encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

// ---------------------------------------------------------------- fixtures

enum class Backend { kFake, kCluster };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kFake ? "fake" : "cluster";
}

// A backend, a GatewayClient on it, and a raw HTTP client for setting up and
// inspecting state without the client under test.
class BackendTest : public ::testing::Test {
 protected:
  void StartBackend(Backend backend, FakeGatewayOptions fake_options = {}) {
    int port = -1;
    if (backend == Backend::kFake) {
      fake_ = std::make_unique<FakeGateway>(fake_options);
      port = fake_->Start();
      chunk_size_ = fake_options.chunk_size;
    } else {
      cluster_ = std::make_unique<TestCluster>();
      port = cluster_->gateway_port();
      chunk_size_ = ClusterOptions{}.chunk_size;
    }
    ASSERT_GT(port, 0);
    port_ = port;
    absl::StatusOr<GatewayAddress> address =
        ParseGatewayAddress(cairn::StrCat("http://127.0.0.1:", port));
    ASSERT_TRUE(address.ok()) << address.status();
    GatewayClientOptions client_options;
    client_options.address = *address;
    client_options.io_timeout = std::chrono::seconds(30);
    client_ = std::make_unique<GatewayClient>(client_options);
    raw_ = std::make_unique<httplib::Client>("127.0.0.1", port);
    raw_->set_url_encode(false);
    raw_->set_read_timeout(30, 0);
  }

  // Whether the backend logs requests (only the fake does).
  bool records_requests() const { return fake_ != nullptr; }

  // A file, stored without the client under test.
  void AddFile(const std::string& path, std::string content) {
    if (fake_ != nullptr) return fake_->AddFile(path, std::move(content));
    httplib::Result put =
        raw_->Put(("/api/v1/files" + Encode(path)).c_str(), content, "application/octet-stream");
    ASSERT_TRUE(put) << "PUT " << path << ": " << httplib::to_string(put.error());
    ASSERT_EQ(put->status, 201) << put->body;
  }

  std::optional<std::string> FileContent(const std::string& path) {
    if (fake_ != nullptr) return fake_->FileContent(path);
    httplib::Result got = raw_->Get(("/api/v1/files" + Encode(path)).c_str());
    if (!got || got->status != 200) return std::nullopt;
    return got->body;
  }

  bool IsDirectory(const std::string& path) {
    if (fake_ != nullptr) return fake_->IsDirectory(path);
    httplib::Result got = raw_->Get(("/api/v1/fileinfo?path=" + Encode(path)).c_str());
    if (!got || got->status != 200) return false;
    json info = json::parse(got->body, nullptr, false);
    return info.is_object() && info.value("type", "") == "dir";
  }

  // REQUIRES: records_requests().
  std::vector<RecordedRequest> Requests() { return fake_->requests(); }
  RecordedRequest LastRequest() {
    std::vector<RecordedRequest> all = Requests();
    EXPECT_FALSE(all.empty());
    return all.empty() ? RecordedRequest{} : all.back();
  }

  uint64_t ChunksFor(uint64_t size) const { return (size + chunk_size_ - 1) / chunk_size_; }

  std::unique_ptr<FakeGateway> fake_;
  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<GatewayClient> client_;
  std::unique_ptr<httplib::Client> raw_;
  int port_ = -1;
  uint64_t chunk_size_ = 0;
};

// Runs on both backends.
class GatewayClientTest : public BackendTest, public ::testing::WithParamInterface<Backend> {
 protected:
  void SetUp() override { StartBackend(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(Backends, GatewayClientTest,
                         ::testing::Values(Backend::kFake, Backend::kCluster), BackendName);

// Runs on the fake only.
class FakeGatewayClientTest : public BackendTest {
 protected:
  void SetUp() override { StartBackend(Backend::kFake); }
};

// ------------------------------------------------- tests on both backends

TEST_P(GatewayClientTest, PutThenGetRoundTripsAndVerifies) {
  std::string content = PatternSource::Content(3 * 1024 * 1024 + 17);
  StringSource source(content);
  absl::StatusOr<PutResult> put = client_->Put("/docs/a.bin", source);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->path, "/docs/a.bin");
  EXPECT_EQ(put->size, content.size());
  EXPECT_EQ(put->chunks, ChunksFor(content.size()));
  EXPECT_EQ(put->sha256, Sha256Hex(content));

  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/docs/a.bin", sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->verified);
  EXPECT_EQ(got->size, content.size());
  EXPECT_EQ(got->sha256, Sha256Hex(content));
  EXPECT_EQ(got->etag, "\"" + Sha256Hex(content) + "\"");
  EXPECT_TRUE(sink.committed());
  EXPECT_TRUE(sink.data() == content);
}

TEST_P(GatewayClientTest, SizedUploadStreamsWithContentLength) {
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
  EXPECT_EQ(put->chunks, ChunksFor(kSize));

  // Read a buffer at a time, never the whole file.
  EXPECT_LE(source.largest_read(), 1024u * 1024u);
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(progress.front(), 0u);
  EXPECT_EQ(progress.back(), kSize);
  if (records_requests()) {
    RecordedRequest request = LastRequest();
    EXPECT_EQ(request.method, "PUT");
    EXPECT_EQ(request.content_length, std::to_string(kSize));
    EXPECT_EQ(request.transfer_encoding, "");
    EXPECT_GT(request.body_pieces.size(), 10u);
  }
  EXPECT_TRUE(FileContent("/big.bin") == PatternSource::Content(kSize));
}

TEST_P(GatewayClientTest, UnsizedUploadUsesChunkedEncoding) {
  constexpr uint64_t kSize = 1024 * 1024 + 5;
  PatternSource source(kSize, /*sized=*/false);
  absl::StatusOr<PutResult> put = client_->Put("/stream.bin", source);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->size, kSize);
  EXPECT_EQ(put->sha256, Sha256Hex(PatternSource::Content(kSize)));
  if (records_requests()) {
    RecordedRequest request = LastRequest();
    EXPECT_EQ(request.transfer_encoding, "chunked");
    EXPECT_EQ(request.content_length, "");
  }
  EXPECT_TRUE(FileContent("/stream.bin") == PatternSource::Content(kSize));
}

TEST_P(GatewayClientTest, DownloadStreamsInPiecesWithProgress) {
  constexpr uint64_t kSize = 2 * 1024 * 1024;
  AddFile("/d.bin", PatternSource::Content(kSize));
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
  EXPECT_TRUE(got->verified);
  EXPECT_GT(sink.writes().size(), 1u);
  EXPECT_LE(*std::max_element(sink.writes().begin(), sink.writes().end()), 1024u * 1024u);
  EXPECT_EQ(last_done, kSize);
  EXPECT_EQ(last_total, std::optional<uint64_t>(kSize));
  EXPECT_TRUE(sink.data() == PatternSource::Content(kSize));
}

TEST_P(GatewayClientTest, EmptyFileRoundTrips) {
  StringSource source("");
  absl::StatusOr<PutResult> put = client_->Put("/empty", source);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->size, 0u);
  EXPECT_EQ(put->chunks, 0u);
  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/empty", sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size, 0u);
  EXPECT_TRUE(got->verified);
  EXPECT_TRUE(sink.committed());
  absl::StatusOr<FileHead> head = client_->Head("/empty");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, 0u);
  EXPECT_EQ(head->sha256, Sha256Hex(""));
}

TEST_P(GatewayClientTest, PathComponentsArePercentEncoded) {
  const std::string path = "/dir with space/\xC3\xBC?#%+&=.txt";
  StringSource source("x");
  absl::StatusOr<PutResult> put = client_->Put(path, source);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->path, path);
  if (records_requests()) {
    RecordedRequest request = LastRequest();
    EXPECT_EQ(request.target, "/api/v1/files/dir%20with%20space/%C3%BC%3F%23%25%2B%26%3D.txt");
    EXPECT_EQ(request.path, "/api/v1/files" + path);
  }
  EXPECT_EQ(FileContent(path), std::optional<std::string>("x"));

  absl::StatusOr<Listing> listing = client_->List("/dir with space", false);
  ASSERT_TRUE(listing.ok()) << listing.status();
  if (records_requests()) {
    EXPECT_EQ(LastRequest().target, "/api/v1/list?path=/dir%20with%20space");
  }
  EXPECT_EQ(listing->path, "/dir with space");
  ASSERT_EQ(listing->entries.size(), 1u);
  EXPECT_EQ(listing->entries[0].name, "\xC3\xBC?#%+&=.txt");
  EXPECT_EQ(listing->entries[0].path, path);

  absl::StatusOr<FileInfo> info = client_->GetFileInfo(path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->path, path);

  StringSink sink;
  ASSERT_TRUE(client_->Get(path, sink).ok());
  EXPECT_EQ(sink.data(), "x");
  ASSERT_TRUE(client_->Rename(path, "/dir with space/a+b").ok());
  EXPECT_EQ(FileContent("/dir with space/a+b"), std::optional<std::string>("x"));
  ASSERT_TRUE(client_->Delete("/dir with space/a+b", false).ok());
  EXPECT_EQ(FileContent("/dir with space/a+b"), std::nullopt);
}

TEST_P(GatewayClientTest, InvalidPathsFailBeforeAnyRequest) {
  StringSource source("x");
  EXPECT_EQ(client_->Put("/a/../b", source).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Put("relative", source).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Put("/", source).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Delete("/a//b", false).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Rename("/a", "/b/./c").code(), absl::StatusCode::kInvalidArgument);
  if (records_requests()) {
    EXPECT_TRUE(Requests().empty());
  }
}

TEST_P(GatewayClientTest, MissingFileIsNotFoundWithServerMessage) {
  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/nope", sink);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(got.status().message()), "no such file or directory: /nope");
  EXPECT_FALSE(sink.committed());
  EXPECT_EQ(client_->Head("/nope").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<FileInfo> info = client_->GetFileInfo("/nope");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(info.status().message()), "no such file or directory: /nope");
}

// Errors the real cluster produces on its own: code and message must match.
TEST_P(GatewayClientTest, NamespaceErrorsMapToStatusCodes) {
  AddFile("/f", "file");
  ASSERT_TRUE(client_->Mkdir("/d/sub").ok());
  StringSource source("x");
  StringSink sink;
  auto expect = [](const absl::Status& status, absl::StatusCode code, const std::string& message) {
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_EQ(std::string(status.message()), message);
  };

  expect(client_->Put("/d", source).status(), absl::StatusCode::kAlreadyExists,
         "a directory exists at /d");
  expect(client_->Put("/f/x/y", source).status(), absl::StatusCode::kAlreadyExists,
         "a file is in the way: /f");
  expect(client_->Get("/d", sink).status(), absl::StatusCode::kInvalidArgument,
         "/d is a directory");
  expect(client_->Mkdir("/f"), absl::StatusCode::kAlreadyExists, "a file exists at /f");
  expect(client_->Mkdir("/f/g"), absl::StatusCode::kAlreadyExists, "a file is in the way: /f");
  expect(client_->List("/f", false).status(), absl::StatusCode::kInvalidArgument,
         "not a directory: /f");
  expect(client_->List("/nope", false).status(), absl::StatusCode::kNotFound,
         "no such file or directory: /nope");
  expect(client_->Rename("/f", "/d"), absl::StatusCode::kAlreadyExists, "target exists: /d");
  expect(client_->Rename("/d", "/d/sub/d"), absl::StatusCode::kInvalidArgument,
         "cannot move /d into itself (/d/sub/d)");
  expect(client_->Rename("/d", "/d"), absl::StatusCode::kInvalidArgument,
         "cannot move /d into itself (/d)");
  expect(client_->Rename("/d", "/f/d"), absl::StatusCode::kAlreadyExists,
         "a file is in the way: /f");
  expect(client_->Rename("/", "/x"), absl::StatusCode::kInvalidArgument, "cannot rename /");
  expect(client_->Rename("/nope", "/x"), absl::StatusCode::kNotFound,
         "no such file or directory: /nope");
  expect(client_->Delete("/", true), absl::StatusCode::kInvalidArgument, "cannot delete /");
  // CONFLICT for the master's Aborted: the client reads it as AlreadyExists.
  expect(client_->Delete("/d", false), absl::StatusCode::kAlreadyExists,
         "directory not empty: /d (use recursive=true)");
  expect(client_->Delete("/nope", true), absl::StatusCode::kNotFound,
         "no such file or directory: /nope");
  expect(client_->GetUsage("/nope").status(), absl::StatusCode::kNotFound,
         "no such file or directory: /nope");
  // Nothing changed.
  EXPECT_EQ(FileContent("/f"), std::optional<std::string>("file"));
  EXPECT_TRUE(IsDirectory("/d/sub"));
}

TEST_P(GatewayClientTest, FailIfExistsSendsIfNoneMatchOrFailsEarly) {
  StringSource source("one");
  PutOptions options;
  options.fail_if_exists = true;
  ASSERT_TRUE(client_->Put("/once", source, options).ok());
  if (records_requests()) {
    EXPECT_EQ(LastRequest().if_none_match, "*");
  }

  size_t before = records_requests() ? Requests().size() : 0;
  StringSource again("two");
  absl::StatusOr<PutResult> put = client_->Put("/once", again, options);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kFailedPrecondition);
  if (records_requests()) {
    std::vector<RecordedRequest> after = Requests();
    ASSERT_EQ(after.size(), before + 1);
    EXPECT_EQ(after.back().method, "HEAD");  // the body was never sent
  }
  EXPECT_EQ(FileContent("/once"), std::optional<std::string>("one"));

  // Without fail_if_exists the file is replaced.
  StringSource replace("three");
  ASSERT_TRUE(client_->Put("/once", replace).ok());
  EXPECT_EQ(FileContent("/once"), std::optional<std::string>("three"));
}

TEST_P(GatewayClientTest, HeadReportsSizeAndChecksum) {
  AddFile("/h.txt", "12345");
  absl::StatusOr<FileHead> head = client_->Head("/h.txt");
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->size, 5u);
  EXPECT_EQ(head->sha256, Sha256Hex("12345"));
  EXPECT_EQ(head->etag, "\"" + Sha256Hex("12345") + "\"");
  EXPECT_EQ(client_->Head("/").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(GatewayClientTest, NamespaceOperations) {
  ASSERT_TRUE(client_->Mkdir("/a/b").ok());
  ASSERT_TRUE(client_->Mkdir("/a/b").ok());  // already there: fine
  EXPECT_TRUE(IsDirectory("/a"));
  AddFile("/a/b/f1", "1");
  AddFile("/a/f2", "22");

  absl::StatusOr<Listing> top = client_->List("/a", false);
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(top->path, "/a");
  EXPECT_FALSE(top->truncated);
  ASSERT_EQ(top->entries.size(), 2u);
  EXPECT_EQ(top->entries[0].name, "b");
  EXPECT_EQ(top->entries[0].path, "/a/b");
  EXPECT_TRUE(top->entries[0].is_dir());
  EXPECT_GT(top->entries[0].mtime, 0);
  EXPECT_EQ(top->entries[1].name, "f2");
  EXPECT_EQ(top->entries[1].type, "file");
  EXPECT_EQ(top->entries[1].size, 2u);
  EXPECT_GT(top->entries[1].mtime, 0);

  absl::StatusOr<Listing> all = client_->List("/a", true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->entries.size(), 3u);
  EXPECT_EQ(all->entries[0].path, "/a/b");
  EXPECT_EQ(all->entries[1].path, "/a/b/f1");
  EXPECT_EQ(all->entries[2].path, "/a/f2");
  if (records_requests()) {
    EXPECT_EQ(LastRequest().target, "/api/v1/list?path=/a&recursive=true");
  }
  absl::StatusOr<Listing> root = client_->List("/", false);
  ASSERT_TRUE(root.ok());
  ASSERT_EQ(root->entries.size(), 1u);
  EXPECT_EQ(root->entries[0].path, "/a");

  ASSERT_TRUE(client_->Rename("/a/f2", "/a/b/f3").ok());
  EXPECT_EQ(FileContent("/a/b/f3"), std::optional<std::string>("22"));
  EXPECT_EQ(FileContent("/a/f2"), std::nullopt);
  ASSERT_TRUE(client_->Rename("/a/b", "/c/moved").ok());  // creates /c
  EXPECT_EQ(FileContent("/c/moved/f1"), std::optional<std::string>("1"));
  EXPECT_TRUE(IsDirectory("/c"));
  EXPECT_FALSE(IsDirectory("/a/b"));
  ASSERT_TRUE(client_->Rename("/c/moved", "/a/b").ok());

  ASSERT_TRUE(client_->Delete("/a/b/f3", false).ok());
  EXPECT_EQ(FileContent("/a/b/f3"), std::nullopt);
  // A non-empty directory: the gateway sends 409 CONFLICT (the master's Aborted).
  EXPECT_EQ(client_->Delete("/a", false).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(client_->Delete("/a", true).ok());
  if (records_requests()) {
    EXPECT_EQ(LastRequest().target, "/api/v1/files/a?recursive=true");
  }
  EXPECT_FALSE(IsDirectory("/a"));
  EXPECT_EQ(FileContent("/a/b/f1"), std::nullopt);
  EXPECT_EQ(client_->Delete("/a", true).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(client_->Delete("/c", false).ok());  // empty
}

TEST_P(GatewayClientTest, FileInfoOfADirectorySaysSo) {
  ASSERT_TRUE(client_->Mkdir("/dir").ok());
  absl::StatusOr<FileInfo> info = client_->GetFileInfo("/dir");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->path, "/dir");
  EXPECT_TRUE(info->is_dir());
  EXPECT_EQ(info->size, 0u);
  EXPECT_GT(info->mtime, 0);
  EXPECT_TRUE(info->chunks.empty());
  absl::StatusOr<FileInfo> root = client_->GetFileInfo("/");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_TRUE(root->is_dir());
}

TEST_P(GatewayClientTest, FileInfoClusterAndUsage) {
  const uint64_t size = 2 * chunk_size_ + 1;
  AddFile("/t1/x", std::string(size, 'x'));
  AddFile("/t2/y", "yy");

  absl::StatusOr<FileInfo> info = client_->GetFileInfo("/t1/x");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->path, "/t1/x");
  EXPECT_FALSE(info->is_dir());
  EXPECT_EQ(info->size, size);
  EXPECT_EQ(info->sha256, Sha256Hex(std::string(size, 'x')));
  EXPECT_EQ(info->replication, 3u);
  EXPECT_GT(info->mtime, 0);
  ASSERT_EQ(info->chunks.size(), 3u);
  for (size_t i = 0; i < info->chunks.size(); ++i) {
    const ChunkInfo& chunk = info->chunks[i];
    EXPECT_EQ(chunk.index, i);
    EXPECT_FALSE(chunk.handle.empty());
    EXPECT_EQ(chunk.size, i < 2 ? chunk_size_ : 1u);
    ASSERT_EQ(chunk.replicas.size(), 3u);
    for (const ReplicaInfo& replica : chunk.replicas) {
      EXPECT_FALSE(replica.node_id.empty());
      EXPECT_FALSE(replica.address.empty());
      EXPECT_FALSE(replica.zone.empty());
    }
  }
  EXPECT_NE(info->chunks[0].handle, info->chunks[1].handle);

  absl::StatusOr<ClusterStatus> cluster = client_->GetCluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_EQ(cluster->nodes.size(), 3u);
  for (const NodeInfo& node : cluster->nodes) {
    EXPECT_FALSE(node.id.empty());
    EXPECT_FALSE(node.address.empty());
    EXPECT_EQ(node.state, "alive");
    EXPECT_GE(node.last_heartbeat_ms_ago, 0);
    EXPECT_EQ(node.capacity, node.used + node.free);
  }
  EXPECT_EQ(cluster->totals.nodes, 3u);
  EXPECT_EQ(cluster->totals.alive, 3u);
  EXPECT_EQ(cluster->totals.chunks, 4u);  // distinct chunks, not replicas
  EXPECT_EQ(cluster->totals.under_replicated, 0u);
  EXPECT_EQ(cluster->replication, 3u);
  EXPECT_EQ(cluster->chunk_size, chunk_size_);
  EXPECT_FALSE(cluster->safe_mode);

  absl::StatusOr<Usage> usage = client_->GetUsage("/");
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->path, "/");
  ASSERT_EQ(usage->children.size(), 2u);
  EXPECT_EQ(usage->children[0].name, "t1");
  EXPECT_EQ(usage->children[0].files, 1u);
  EXPECT_EQ(usage->children[0].bytes, size);
  EXPECT_EQ(usage->children[1].name, "t2");
  EXPECT_EQ(usage->children[1].bytes, 2u);

  absl::StatusOr<Usage> of_file = client_->GetUsage("/t2/y");
  ASSERT_TRUE(of_file.ok()) << of_file.status();
  EXPECT_TRUE(of_file->children.empty());
}

// The real gateway drains a rejected upload's body up to 64 MiB, then closes
// the connection: past that the client sees a broken upload, not the 409, and
// must diagnose it (the fake reads it all and answers).
TEST_P(GatewayClientTest, RejectedUploadPastTheDrainLimitIsConflict) {
  AddFile("/f", "file");
  PatternSource under_file(80 << 20, /*sized=*/true);
  absl::StatusOr<PutResult> put = client_->Put("/f/x/y", under_file);
  EXPECT_EQ(put.status().code(), absl::StatusCode::kAlreadyExists) << put.status();
  EXPECT_NE(put.status().message().find("in the way: /f"), absl::string_view::npos) << put.status();
  EXPECT_EQ(FileContent("/f"), std::optional<std::string>("file"));
}

// A sibling whose name sorts between "a" and "a/..." ("a.b": '.' < '/') does
// not split "a" in two (the master's Usage once grouped children by
// consecutive keys and reported [a, a.b, a]).
TEST_P(GatewayClientTest, UsageKeepsEachChildOnce) {
  AddFile("/a/x", "xx");
  AddFile("/a.b", "b");
  absl::StatusOr<Usage> usage = client_->GetUsage("/");
  ASSERT_TRUE(usage.ok()) << usage.status();
  ASSERT_EQ(usage->children.size(), 2u);
  EXPECT_EQ(usage->children[0].name, "a");
  EXPECT_EQ(usage->children[0].files, 1u);
  EXPECT_EQ(usage->children[0].bytes, 2u);
  EXPECT_EQ(usage->children[1].name, "a.b");
}

// --------------------------------------------- raw REST replies, both backends

class GatewayApiTest : public GatewayClientTest {
 protected:
  static json Json(const httplib::Result& result) {
    return result ? json::parse(result->body, nullptr, false) : json();
  }
  static void ExpectError(const httplib::Result& result, int status, std::string_view name,
                          std::string_view message) {
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, status) << result->body;
    EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
    json body = Json(result);
    ASSERT_TRUE(body.is_object() && body.contains("error")) << result->body;
    EXPECT_EQ(body["error"].value("code", ""), name);
    EXPECT_EQ(body["error"].value("message", ""), message);
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, GatewayApiTest,
                         ::testing::Values(Backend::kFake, Backend::kCluster), BackendName);

TEST_P(GatewayApiTest, UploadReply) {
  httplib::Result put = raw_->Put("/api/v1/files/u/v", "hello", "application/octet-stream");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 201);
  EXPECT_EQ(put->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(put->get_header_value("ETag"), "\"" + Sha256Hex("hello") + "\"");
  EXPECT_EQ(put->get_header_value("X-Checksum-Sha256"), Sha256Hex("hello"));
  EXPECT_EQ(Json(put),
            json({{"path", "/u/v"}, {"size", 5}, {"chunks", 1}, {"sha256", Sha256Hex("hello")}}));

  const httplib::Headers inm = {{"If-None-Match", "*"}};
  const httplib::Headers bad_inm = {{"If-None-Match", "\"abc\""}};
  ExpectError(raw_->Put("/api/v1/files/u/v", inm, "again", "application/octet-stream"), 412,
              "PRECONDITION_FAILED", "file exists: /u/v");
  ExpectError(raw_->Put("/api/v1/files/u/w", bad_inm, "x", "application/octet-stream"), 400,
              "BAD_REQUEST", "If-None-Match on upload supports only *");
  ExpectError(raw_->Put("/api/v1/files/u", "x", "application/octet-stream"), 409, "CONFLICT",
              "a directory exists at /u");
  ExpectError(raw_->Put("/api/v1/files/u/v/w", "x", "application/octet-stream"), 409, "CONFLICT",
              "a file is in the way: /u/v");
  ExpectError(raw_->Put("/api/v1/files/a%zz", "x", "application/octet-stream"), 400, "BAD_REQUEST",
              "malformed percent-escape in path");
  ExpectError(raw_->Put("/api/v1/files", "x", "application/octet-stream"), 400, "BAD_REQUEST",
              "path is empty");
}

TEST_P(GatewayApiTest, DownloadHeadersAndRanges) {
  AddFile("/g", "0123456789");
  httplib::Result got = raw_->Get("/api/v1/files/g");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "0123456789");
  const std::string etag = "\"" + Sha256Hex("0123456789") + "\"";
  EXPECT_EQ(got->get_header_value("Content-Type"), "application/octet-stream");
  EXPECT_EQ(got->get_header_value("Content-Length"), "10");
  EXPECT_EQ(got->get_header_value("ETag"), etag);
  EXPECT_EQ(got->get_header_value("X-Checksum-Sha256"), Sha256Hex("0123456789"));
  EXPECT_EQ(got->get_header_value("Accept-Ranges"), "bytes");
  EXPECT_TRUE(got->get_header_value("Last-Modified").ends_with(" GMT"))
      << got->get_header_value("Last-Modified");

  httplib::Result range = raw_->Get("/api/v1/files/g", httplib::Headers{{"Range", "bytes=2-4"}});
  ASSERT_TRUE(range);
  EXPECT_EQ(range->status, 206);
  EXPECT_EQ(range->body, "234");
  EXPECT_EQ(range->get_header_value("Content-Range"), "bytes 2-4/10");

  httplib::Result cached = raw_->Get("/api/v1/files/g", httplib::Headers{{"If-None-Match", etag}});
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 304);
  EXPECT_EQ(cached->body, "");

  httplib::Result head = raw_->Head("/api/v1/files/g");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->get_header_value("Content-Length"), "10");
  EXPECT_EQ(head->get_header_value("X-Checksum-Sha256"), Sha256Hex("0123456789"));

  ExpectError(raw_->Get("/api/v1/files/missing"), 404, "NOT_FOUND",
              "no such file or directory: /missing");
  ExpectError(raw_->Get("/api/v1/files/"), 400, "BAD_REQUEST", "/ is a directory");
}

TEST_P(GatewayApiTest, NamespaceReplies) {
  httplib::Result mkdir = raw_->Post("/api/v1/mkdir", R"({"path":"/m/n"})", "application/json");
  ASSERT_TRUE(mkdir);
  EXPECT_EQ(mkdir->status, 201);
  json dir = Json(mkdir);
  EXPECT_EQ(dir.value("name", ""), "n");
  EXPECT_EQ(dir.value("path", ""), "/m/n");
  EXPECT_EQ(dir.value("type", ""), "dir");
  EXPECT_EQ(dir.value("size", -1), 0);
  EXPECT_GT(dir.value("mtime_ms", int64_t{0}), 0);
  EXPECT_EQ(dir.value("mtime", int64_t{0}), dir.value("mtime_ms", int64_t{0}) / 1000);
  ExpectError(raw_->Post("/api/v1/mkdir", "[]", "application/json"), 400, "BAD_REQUEST",
              "request body must be a JSON object");
  ExpectError(raw_->Post("/api/v1/mkdir", R"({"path":1})", "application/json"), 400, "BAD_REQUEST",
              "field 'path' must be a string");

  AddFile("/m/n/f", "abc");
  httplib::Result list = raw_->Get("/api/v1/list?path=/m/n");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  json listing = Json(list);
  EXPECT_EQ(listing.value("path", ""), "/m/n");
  EXPECT_EQ(listing.value("truncated", true), false);
  EXPECT_FALSE(listing.contains("next_start_after"));
  ASSERT_EQ(listing["entries"].size(), 1u);
  json entry = listing["entries"][0];
  for (const char* field :
       {"name", "path", "type", "mtime", "mtime_ms", "size", "sha256", "chunks", "replication"}) {
    EXPECT_TRUE(entry.contains(field)) << field << " in " << entry.dump();
  }
  EXPECT_EQ(entry.value("sha256", ""), Sha256Hex("abc"));
  EXPECT_EQ(entry.value("chunks", 0), 1);
  EXPECT_EQ(entry.value("replication", 0), 3);

  httplib::Result paged = raw_->Get("/api/v1/list?path=/m&recursive=1&limit=1");
  ASSERT_TRUE(paged);
  json page = Json(paged);
  EXPECT_EQ(page.value("truncated", false), true) << paged->body;
  EXPECT_EQ(page.value("next_start_after", ""), "/m/n");
  httplib::Result next = raw_->Get("/api/v1/list?path=/m&recursive=1&limit=1&start_after=/m/n");
  ASSERT_TRUE(next);
  ASSERT_EQ(Json(next)["entries"].size(), 1u) << next->body;
  EXPECT_EQ(Json(next)["entries"][0].value("path", ""), "/m/n/f");

  httplib::Result root = raw_->Get("/api/v1/list");  // path defaults to /
  ASSERT_TRUE(root);
  EXPECT_EQ(Json(root).value("path", ""), "/");

  httplib::Result info = raw_->Get("/api/v1/fileinfo?path=/m/n/f");
  ASSERT_TRUE(info);
  ASSERT_EQ(info->status, 200);
  json file = Json(info);
  EXPECT_EQ(file.value("name", ""), "f");
  EXPECT_EQ(file.value("type", ""), "file");
  ASSERT_EQ(file["chunks"].size(), 1u);
  for (const char* field : {"index", "handle", "version", "offset", "size", "crc32c", "replicas"}) {
    EXPECT_TRUE(file["chunks"][0].contains(field)) << field;
  }
  EXPECT_TRUE(file["chunks"][0]["handle"].is_number()) << file.dump();
  ExpectError(raw_->Get("/api/v1/fileinfo"), 400, "BAD_REQUEST", "missing query parameter 'path'");

  httplib::Result usage = raw_->Get("/api/v1/usage");
  ASSERT_TRUE(usage);
  json use = Json(usage);
  EXPECT_EQ(use.value("path", ""), "/");
  EXPECT_EQ(use.value("files", 0), 1);
  EXPECT_EQ(use.value("bytes", 0), 3);
  ASSERT_EQ(use["children"].size(), 1u);
  EXPECT_EQ(use["children"][0], json({{"name", "m"}, {"type", "dir"}, {"files", 1}, {"bytes", 3}}));

  httplib::Result rename =
      raw_->Post("/api/v1/rename", R"({"source":"/m/n/f","target":"/m/g"})", "application/json");
  ASSERT_TRUE(rename);
  EXPECT_EQ(rename->status, 200);
  EXPECT_EQ(Json(rename), json({{"source", "/m/n/f"}, {"target", "/m/g"}}));
  ExpectError(raw_->Post("/api/v1/rename", R"({"source":"/m/g"})", "application/json"), 400,
              "BAD_REQUEST", "field 'target' must be a string");

  httplib::Result del = raw_->Delete("/api/v1/files/m/g");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(Json(del), json({{"path", "/m/g"}, {"deleted", true}}));
  httplib::Result rdel = raw_->Delete("/api/v1/files/m?recursive=1");
  ASSERT_TRUE(rdel);
  EXPECT_EQ(rdel->status, 200) << rdel->body;

  ExpectError(raw_->Get("/api/v1/nope"), 404, "NOT_FOUND", "no route for GET /api/v1/nope");
}

TEST_P(GatewayApiTest, ClusterReplyFields) {
  httplib::Result cluster = raw_->Get("/api/v1/cluster");
  ASSERT_TRUE(cluster);
  ASSERT_EQ(cluster->status, 200);
  json reply = Json(cluster);
  for (const char* field :
       {"nodes", "totals", "compaction", "safe_mode", "chunk_size", "replication"}) {
    EXPECT_TRUE(reply.contains(field)) << field;
  }
  for (const char* field : {"reclaimable_bytes", "compactions", "rewritten_bytes"}) {
    EXPECT_TRUE(reply["compaction"].contains(field)) << field;
  }
  ASSERT_EQ(reply["nodes"].size(), 3u);
  for (const char* field : {"id", "address", "zone", "state", "capacity", "used", "free", "chunks",
                            "last_heartbeat_ms_ago"}) {
    EXPECT_TRUE(reply["nodes"][0].contains(field)) << field;
  }
  for (const char* field : {"nodes", "alive", "capacity", "used", "usage_percent", "chunks",
                            "under_replicated", "replication_queue"}) {
    EXPECT_TRUE(reply["totals"].contains(field)) << field;
  }
}

// ------------------------------------------------------------- fake only

TEST_F(FakeGatewayClientTest, ChecksumMismatchIsDataLossAndNotCommitted) {
  fake_->AddFile("/c.txt", "hello");
  fake_->CorruptNextDownload();
  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/c.txt", sink);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << got.status();
  EXPECT_FALSE(sink.committed());
}

TEST_F(FakeGatewayClientTest, ChecksumMismatchLeavesNoLocalFile) {
  fake_->AddFile("/c.txt", "hello");
  fake_->CorruptNextDownload();
  std::string dir = ::testing::TempDir() + "/cairn_sink_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    absl::StatusOr<std::unique_ptr<FileSink>> sink = FileSink::Create(dir + "/c.txt");
    ASSERT_TRUE(sink.ok()) << sink.status();
    EXPECT_FALSE(client_->Get("/c.txt", **sink).ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));

  absl::StatusOr<std::unique_ptr<FileSink>> sink = FileSink::Create(dir + "/c.txt");
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE(client_->Get("/c.txt", **sink).ok());
  std::ifstream in(dir + "/c.txt");
  std::stringstream read;
  read << in.rdbuf();
  EXPECT_EQ(read.str(), "hello");
  std::filesystem::remove_all(dir);
}

TEST_F(FakeGatewayClientTest, MissingChecksumIsUnverifiedButDelivered) {
  fake_->AddFile("/n.txt", "data");
  fake_->OmitNextChecksum();
  StringSink sink;
  absl::StatusOr<GetResult> got = client_->Get("/n.txt", sink);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->verified);
  EXPECT_TRUE(sink.committed());
  EXPECT_EQ(sink.data(), "data");
}

TEST_F(FakeGatewayClientTest, ConnectionRefusedIsUnavailable) {
  int port = fake_->port();
  fake_->Stop();
  GatewayClientOptions options;
  options.address.port = port;
  GatewayClient client(options);
  absl::StatusOr<ClusterStatus> cluster = client.GetCluster();
  EXPECT_EQ(cluster.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(cluster.status().message().find("cannot connect"), absl::string_view::npos)
      << cluster.status();
  StringSource source("x");
  EXPECT_EQ(client.Put("/x", source).status().code(), absl::StatusCode::kUnavailable);
}

// The fake's canned topology, and a chunk handle sent as a JSON number.
TEST_F(FakeGatewayClientTest, FileInfoAndClusterCannedValues) {
  fake_->AddFile("/t1/x", std::string(2 * 1024 * 1024 + 1, 'x'));
  absl::StatusOr<FileInfo> info = client_->GetFileInfo("/t1/x");
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->chunks.size(), 3u);
  EXPECT_EQ(info->chunks[2].handle, "4098");  // sent as a number
  ASSERT_EQ(info->chunks[0].replicas.size(), 3u);
  EXPECT_EQ(info->chunks[0].replicas[1].node_id, "cs-2");
  EXPECT_EQ(info->chunks[0].replicas[1].zone, "z2");

  absl::StatusOr<ClusterStatus> cluster = client_->GetCluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->nodes[0].last_heartbeat_ms_ago, 250);
  EXPECT_EQ(cluster->totals.capacity, 3 * (uint64_t{100} << 30));
  EXPECT_EQ(cluster->chunk_size, 1u << 20);
}

// What the client reports for each error the gateway can send (the fake
// renders `sent` as the real gateway does, through common/api_errors.h).
// Codes the real cluster produces on its own are also covered, on both
// backends, by GatewayClientTest.NamespaceErrorsMapToStatusCodes.
struct ErrorCase {
  absl::StatusCode sent;
  absl::StatusCode expected;
};

class FakeErrorMappingTest : public BackendTest, public ::testing::WithParamInterface<ErrorCase> {
 protected:
  void SetUp() override { StartBackend(Backend::kFake); }
};

TEST_P(FakeErrorMappingTest, JsonErrorsMapToStatusCodes) {
  const ErrorCase& c = GetParam();
  fake_->FailNextRequest(absl::Status(c.sent, "injected failure"));
  absl::Status status = client_->Mkdir("/x");
  EXPECT_EQ(status.code(), c.expected) << status;
  EXPECT_EQ(status.message(), "injected failure");
}

TEST_P(FakeErrorMappingTest, UploadErrorsMapToStatusCodes) {
  const ErrorCase& c = GetParam();
  fake_->FailNextRequest(absl::Status(c.sent, "injected failure"));
  StringSource source(std::string(100000, 'u'));
  EXPECT_EQ(client_->Put("/u", source).status().code(), c.expected);
}

using Code = absl::StatusCode;
INSTANTIATE_TEST_SUITE_P(
    AllCodes, FakeErrorMappingTest,
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

// The real gateway drains a rejected upload's body (up to 64 MiB) and answers;
// a gateway that does not leaves the client a broken connection, which the
// client diagnoses. Only the fake can be told to behave so.
TEST(FakeGatewayClientRejectTest, UploadRejectedUnreadIsDiagnosed) {
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
  EXPECT_NE(put.status().message().find("in the way: /f"), absl::string_view::npos) << put.status();
}

// Pages of 2 entries; the real gateway pages at 100000, too many for a test.
TEST(FakeGatewayClientPagingTest, ListFollowsTruncatedPages) {
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

}  // namespace
}  // namespace cairn::client
