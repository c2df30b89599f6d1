#include "gateway/http_util.h"

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
    HttpResponse res;
    SetApiError(res, c.status);
    EXPECT_EQ(res.status, c.http) << c.status;
    nlohmann::json body = nlohmann::json::parse(res.body_);
    EXPECT_EQ(body["error"]["code"], c.name) << c.status;
    EXPECT_EQ(body["error"]["message"], "m");
  }
}

}  // namespace
}  // namespace cairn::gateway
