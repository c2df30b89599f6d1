#include "gateway/http_util.h"

#include "gateway/router.h"
#include "test_util.h"

namespace cairn::gateway {
namespace {

using ::cairn::testing::StatusIs;

std::optional<ByteRange> Range(std::string_view h, uint64_t size) {
  auto r = ParseRange(h, size);
  EXPECT_TRUE(r.ok()) << h << ": " << r.status();
  return r.ok() ? *r : std::nullopt;
}

TEST(ParseRangeTest, NoHeaderOrSeveralRangesServeWholeFile) {
  EXPECT_FALSE(Range("", 100).has_value());
  EXPECT_FALSE(Range("bytes=0-1,5-6", 100).has_value());
}

TEST(ParseRangeTest, ClosedOpenAndSuffixRanges) {
  auto r = Range("bytes=0-0", 100);
  EXPECT_EQ(r->offset, 0u);
  EXPECT_EQ(r->length, 1u);
  r = Range("bytes=10-19", 100);
  EXPECT_EQ(r->offset, 10u);
  EXPECT_EQ(r->length, 10u);
  r = Range("bytes=90-", 100);
  EXPECT_EQ(r->offset, 90u);
  EXPECT_EQ(r->length, 10u);
  r = Range("bytes=-10", 100);
  EXPECT_EQ(r->offset, 90u);
  EXPECT_EQ(r->length, 10u);
  r = Range("bytes=-1000", 100);  // more than the file: all of it
  EXPECT_EQ(r->offset, 0u);
  EXPECT_EQ(r->length, 100u);
  r = Range("bytes=50-1000", 100);  // end clamped
  EXPECT_EQ(r->length, 50u);
}

TEST(ParseRangeTest, UnsatisfiableRanges) {
  EXPECT_THAT(ParseRange("bytes=100-", 100), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(ParseRange("bytes=0-0", 0), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(ParseRange("bytes=-0", 100), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(ParseRangeTest, MalformedRangesAndOtherUnitsAreIgnored) {
  for (const char* h : {"bytes", "items=0-1", "bytes=a-b", "bytes=5-1", "bytes=-", "bytes=1",
                        "bytes=+1-2", "bytes= 1-2"}) {
    EXPECT_FALSE(Range(h, 100).has_value()) << h;
  }
}

TEST(HttpStatusTest, MapsCodes) {
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("")), 400);
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("")), 404);
  EXPECT_EQ(HttpStatusFor(absl::AlreadyExistsError("")), 409);
  EXPECT_EQ(HttpStatusFor(absl::FailedPreconditionError("")), 412);
  EXPECT_EQ(HttpStatusFor(absl::OutOfRangeError("")), 416);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("")), 503);
  EXPECT_EQ(HttpStatusFor(absl::ResourceExhaustedError("")), 507);
  EXPECT_EQ(HttpStatusFor(absl::OkStatus()), 200);
}

// The wire names of doc/design.md §4, as the pytest suite and the client read them.
TEST(SetErrorTest, SendsTheApiErrorNames) {
  struct Case {
    absl::Status status;
    int http;
    const char* name;
  };
  for (const Case& c : {Case{absl::InvalidArgumentError("m"), 400, "BAD_REQUEST"},
                        Case{absl::AbortedError("m"), 409, "CONFLICT"},
                        Case{absl::AlreadyExistsError("m"), 409, "CONFLICT"},
                        Case{absl::FailedPreconditionError("m"), 412, "PRECONDITION_FAILED"},
                        Case{absl::DeadlineExceededError("m"), 503, "UNAVAILABLE"},
                        Case{absl::ResourceExhaustedError("m"), 507, "INSUFFICIENT_STORAGE"},
                        Case{absl::DataLossError("m"), 500, "DATA_LOSS"},
                        Case{absl::PermissionDeniedError("m"), 500, "INTERNAL"}}) {
    httplib::Response res;
    SetError(res, c.status);
    EXPECT_EQ(res.status, c.http) << c.status;
    nlohmann::json body = nlohmann::json::parse(res.body);
    EXPECT_EQ(body["error"]["code"], c.name) << c.status;
    EXPECT_EQ(body["error"]["message"], "m");
  }
}

TEST(RouterTest, LabelsARouteByItsPatternsLiteralPrefix) {
  EXPECT_EQ(Router::LabelOf(R"(/api/v1/files([\s\S]*))"), "/api/v1/files");
  EXPECT_EQ(Router::LabelOf("/api/v1/list"), "/api/v1/list");
  EXPECT_EQ(Router::LabelOf(R"(/ui/(.*))"), "/ui/");
  EXPECT_EQ(Router::LabelOf("/metrics"), "/metrics");
}

TEST(RouterTest, ARequestCarriesTheLabelOfTheRouteThatServedIt) {
  httplib::Server server;
  Router router(&server);
  std::string seen;
  router.Get(R"(/api/v1/files(.*))",
             [&](const httplib::Request&, httplib::Response&) { seen = Router::CurrentLabel(); });
  router.Get(
      "/", [&](const httplib::Request&, httplib::Response&) { seen = Router::CurrentLabel(); },
      "/ui");
  Router::Reset();
  EXPECT_EQ(Router::CurrentLabel(), "other");
  // Through the server's own dispatch, as a real request goes.
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  httplib::Client client("127.0.0.1", port);
  ASSERT_TRUE(client.Get("/api/v1/files/a/b"));
  EXPECT_EQ(seen, "/api/v1/files");
  ASSERT_TRUE(client.Get("/"));
  EXPECT_EQ(seen, "/ui");
  server.stop();
  t.join();
}

}  // namespace
}  // namespace cairn::gateway
