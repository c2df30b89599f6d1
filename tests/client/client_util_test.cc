// Pure parts of the client library: path rules and encoding, gateway
// addresses, HTTP error mapping, lenient JSON parsing, byte sources.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "client/api_types.h"
#include "client/byte_io.h"
#include "client/gateway_client.h"
#include "client/http_errors.h"
#include "client/paths.h"
#include "client/sha256.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace cairn::client {
namespace {

TEST(PathsTest, ValidatePathAcceptsCairnPaths) {
  EXPECT_TRUE(ValidatePath("/").ok());
  EXPECT_TRUE(ValidatePath("/a").ok());
  EXPECT_TRUE(ValidatePath("/a b/\xC3\xBC/c.txt").ok());
  EXPECT_TRUE(ValidatePath("/.hidden/..dots").ok());
}

TEST(PathsTest, ValidatePathRejectsBadPaths) {
  for (std::string bad : {"", "a", "a/b", "//", "/a//b", "/a/", "/.", "/a/./b", "/..", "/a/../b"}) {
    EXPECT_EQ(ValidatePath(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ValidatePath(std::string("/a\0b", 4)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(PathsTest, NormalizeUserPath) {
  EXPECT_EQ(NormalizeUserPath("docs/a").value(), "/docs/a");
  EXPECT_EQ(NormalizeUserPath("/docs/").value(), "/docs");
  EXPECT_EQ(NormalizeUserPath("/").value(), "/");
  EXPECT_EQ(NormalizeUserPath("//").value(), "/");
  EXPECT_FALSE(NormalizeUserPath("").ok());
  EXPECT_FALSE(NormalizeUserPath("/a/../b").ok());
  EXPECT_FALSE(NormalizeUserPath("a//b").ok());
}

TEST(PathsTest, EncodePathKeepsSlashesAndUnreserved) {
  EXPECT_EQ(EncodePath("/a-b_c.d~e/F9"), "/a-b_c.d~e/F9");
  EXPECT_EQ(EncodePath("/a b/\xC3\xBC?#%+"), "/a%20b/%C3%BC%3F%23%25%2B");
  EXPECT_EQ(EncodeQueryValue("/x&y=z+1"), "/x%26y%3Dz%2B1");
}

TEST(PathsTest, BasenameAndJoin) {
  EXPECT_EQ(BaseName("/a/b.txt"), "b.txt");
  EXPECT_EQ(BaseName("/"), "");
  EXPECT_EQ(JoinPath("/", "x"), "/x");
  EXPECT_EQ(JoinPath("/a", "x"), "/a/x");
}

TEST(GatewayAddressTest, ParsesTheAcceptedForms) {
  GatewayAddress a = ParseGatewayAddress("http://127.0.0.1:8089").value();
  EXPECT_EQ(a.scheme, "http");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 8089);
  EXPECT_EQ(a.base_path, "");

  GatewayAddress b = ParseGatewayAddress("gateway:9000").value();
  EXPECT_EQ(b.ToString(), "http://gateway:9000");

  GatewayAddress c = ParseGatewayAddress("8090").value();
  EXPECT_EQ(c.ToString(), "http://127.0.0.1:8090");

  GatewayAddress d = ParseGatewayAddress("https://gw.example").value();
  EXPECT_EQ(d.ToString(), "https://gw.example:443");

  GatewayAddress e = ParseGatewayAddress(" http://[::1]:8089/cairn/ ").value();
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.base_path, "/cairn");
  EXPECT_EQ(e.ToString(), "http://[::1]:8089/cairn");

  GatewayAddress f = ParseGatewayAddress("HTTP://host").value();
  EXPECT_EQ(f.ToString(), "http://host:8089");
}

TEST(GatewayAddressTest, RejectsNonsense) {
  for (const char* bad : {"", "ftp://x", "host:port", "host:70000", "host:", "[::1", "0"}) {
    EXPECT_EQ(ParseGatewayAddress(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(HttpErrorsTest, ApiErrorNameInBodyWins) {
  // A bare 500 is Internal; the name says it was a checksum mismatch.
  absl::Status s = StatusFromHttpReply(500, R"({"error":{"code":"DATA_LOSS","message":"m"}})");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "m");
  EXPECT_EQ(StatusFromHttpReply(409, R"({"error":{"code":"PRECONDITION_FAILED"}})").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(HttpErrorsTest, NamesTheGatewayNeverSendsFallBackToTheHttpStatus) {
  // absl's own names are not the API's: FAILED_PRECONDITION is no API name.
  EXPECT_EQ(StatusFromHttpReply(409, R"({"error":{"code":"FAILED_PRECONDITION"}})").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusFromHttpReply(500, R"({"error":{"code":"BOOM"}})").code(),
            absl::StatusCode::kInternal);
}

TEST(HttpErrorsTest, HttpStatusDecidesOtherwise) {
  EXPECT_EQ(StatusFromHttpReply(404, "").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusFromHttpReply(416, "").code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(StatusFromHttpReply(502, "").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromHttpReply(418, "").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusFromHttpReply(500, "").code(), absl::StatusCode::kInternal);
}

TEST(HttpErrorsTest, NonJsonBodyIsQuoted) {
  absl::Status s = StatusFromHttpReply(502, "  Bad Gateway\nfrom proxy  ");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "HTTP 502: Bad Gateway");
}

TEST(ApiTypesTest, ClusterTotalsAreComputedWhenMissing) {
  absl::StatusOr<ClusterStatus> cluster = ParseClusterStatus(R"({"nodes":[
      {"id":1,"address":"a:1","zone":"z","state":"alive","capacity":100,"used":25,"chunks":3},
      {"id":"n2","state":"dead","capacity":100,"used":75,"chunks":"4"}]})");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->nodes[0].id, "1");
  EXPECT_EQ(cluster->nodes[0].last_heartbeat_ms_ago, -1);
  EXPECT_EQ(cluster->nodes[1].chunks, 4u);
  EXPECT_EQ(cluster->totals.nodes, 2u);
  EXPECT_EQ(cluster->totals.alive, 1u);
  EXPECT_EQ(cluster->totals.used, 100u);
  EXPECT_DOUBLE_EQ(cluster->totals.usage_percent, 50.0);
  EXPECT_EQ(cluster->totals.chunks, 7u);
}

TEST(ApiTypesTest, ClusterCompactionIsReadAndPrintedBack) {
  absl::StatusOr<ClusterStatus> cluster = ParseClusterStatus(
      R"({"nodes":[],"compaction":{"reclaimable_bytes":4096,"compactions":3,"rewritten_bytes":7}})");
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_EQ(cluster->compaction.reclaimable_bytes, 4096u);
  EXPECT_EQ(cluster->compaction.compactions, 3u);
  EXPECT_EQ(cluster->compaction.rewritten_bytes, 7u);
  EXPECT_EQ(ToJson(*cluster)["compaction"]["compactions"], 3);
  // An older gateway sends none: zeros.
  EXPECT_EQ(ParseClusterStatus(R"({"nodes":[]})")->compaction.compactions, 0u);
}

TEST(ApiTypesTest, MalformedRepliesAreInternal) {
  EXPECT_EQ(ParseListing("not json").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseListing("[1,2]").status().code(), absl::StatusCode::kInternal);
  // Wrong types in fields degrade to defaults instead of failing.
  absl::StatusOr<Listing> listing =
      ParseListing(R"({"path":"/","entries":[{"name":"a","size":"x"}]})");
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(listing->entries[0].size, 0u);
}

TEST(ApiTypesTest, PutResultAcceptsChunkCountOrList) {
  EXPECT_EQ(ParsePutResult(R"({"chunks":3})").value().chunks, 3u);
  EXPECT_EQ(ParsePutResult(R"({"chunks":[{},{}]})").value().chunks, 2u);
}

TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 sha;
  sha.Update("ab");
  sha.Update("c");
  EXPECT_EQ(sha.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(FdSourceTest, ReadsRegularFilesAtAnyOffset) {
  std::string path = ::testing::TempDir() + "/cairn_fd_source_test";
  { std::ofstream(path) << "0123456789"; }
  absl::StatusOr<std::unique_ptr<FdSource>> source = FdSource::Open(path);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->size(), std::optional<uint64_t>(10));
  char buf[4];
  EXPECT_EQ((*source)->Read(6, absl::MakeSpan(buf, 4)).value(), 4u);
  EXPECT_EQ(std::string(buf, 4), "6789");
  EXPECT_EQ((*source)->Read(10, absl::MakeSpan(buf, 4)).value(), 0u);
  std::filesystem::remove(path);
}

TEST(FdSourceTest, MissingFileAndDirectory) {
  EXPECT_EQ(FdSource::Open("/nonexistent/cairn").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FdSource::Open(::testing::TempDir()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FdSourceTest, PipesAreSequentialWithUnknownSize) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "abc", 3), 3);
  close(fds[1]);
  absl::StatusOr<std::unique_ptr<FdSource>> source = FdSource::Borrow(fds[0], "pipe");
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->size(), std::nullopt);
  char buf[8];
  EXPECT_EQ((*source)->Read(0, absl::MakeSpan(buf, 8)).value(), 3u);
  EXPECT_EQ((*source)->Read(0, absl::MakeSpan(buf, 8)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*source)->Read(3, absl::MakeSpan(buf, 8)).value(), 0u);
  close(fds[0]);
}

TEST(FileSinkTest, PublishesOnlyOnCommit) {
  std::string dir = ::testing::TempDir() + "/cairn_file_sink_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/out.txt";
  {
    auto sink = FileSink::Create(path);
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Write("partial").ok());
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir));  // temp file removed
  {
    auto sink = FileSink::Create(path);
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Write("whole").ok());
    ASSERT_TRUE((*sink)->Commit().ok());
  }
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "whole");
  EXPECT_EQ(FileSink::Create(dir + "/missing/x").status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cairn::client
