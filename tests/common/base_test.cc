// cairn_base on its own (Abseil only, no gRPC): the API error table and the
// errno mapping.
#include <errno.h>

#include "common/api_errors.h"
#include "common/errno_status.h"
#include "common/path.h"
#include "common/status_macros.h"
#include "test_util.h"

namespace cairn {
namespace {

TEST(ApiErrorsTest, RendersEveryCode) {
  EXPECT_EQ(ApiErrorFor(absl::StatusCode::kNotFound).http_status, 404);
  EXPECT_EQ(ApiErrorFor(absl::StatusCode::kNotFound).name, "NOT_FOUND");
  EXPECT_EQ(ApiErrorFor(absl::StatusCode::kAborted).name, "CONFLICT");
  EXPECT_EQ(ApiErrorFor(absl::StatusCode::kFailedPrecondition).name, "PRECONDITION_FAILED");
  EXPECT_EQ(ApiErrorFor(absl::StatusCode::kUnauthenticated).name, "INTERNAL");
  EXPECT_EQ(ApiErrorFor(absl::StatusCode::kUnauthenticated).http_status, 500);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kOk), 200);
}

TEST(ApiErrorsTest, ReadsNamesAndStatusesBack) {
  EXPECT_EQ(CodeForApiErrorName("CONFLICT"), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CodeForApiErrorName("UNAVAILABLE"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForApiErrorName("DATA_LOSS"), absl::StatusCode::kDataLoss);
  EXPECT_EQ(CodeForApiErrorName("ALREADY_EXISTS"), std::nullopt);
  EXPECT_EQ(CodeForApiHttpStatus(500), absl::StatusCode::kInternal);
  EXPECT_EQ(CodeForApiHttpStatus(409), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CodeForApiHttpStatus(502), std::nullopt);
}

TEST(ErrnoToStatusTest, MapsCodesAndNamesTheFile) {
  absl::Status s = ErrnoToStatus(ENOENT, "open", "/x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "open /x: No such file or directory");
  EXPECT_EQ(ErrnoToStatus(ENOTDIR, "open", "/x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrnoToStatus(EROFS, "open", "/x").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EISDIR, "open", "/x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrnoToStatus(ENOSPC, "write", "/x").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoToStatus(EEXIST, "open", "/x").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoToStatus(EIO, "read", "/x").code(), absl::StatusCode::kDataLoss);
  // Running out of descriptors or memory says nothing about the file.
  EXPECT_EQ(ErrnoToStatus(EMFILE, "open", "/x").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoToStatus(ENOMEM, "read", "/x").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ErrnoToStatus(EINTR, "read", "/x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrnoToStatus(EXDEV, "rename", "/x").code(), absl::StatusCode::kInternal);
}

TEST(AnnotateTest, PrefixesErrorsOnly) {
  EXPECT_EQ(Annotate(absl::NotFoundError("gone"), "get /a").message(), "get /a: gone");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

TEST(CheckPercentEscapesTest, WantsTwoHexDigitsAfterEveryPercent) {
  EXPECT_TRUE(CheckPercentEscapes("/api/v1/files/a%20b%2Fc").ok());
  EXPECT_TRUE(CheckPercentEscapes("/list?path=%zz").ok());  // the query is not the path
  for (const char* bad : {"/a%", "/a%2", "/a%zz", "/a%2g/b"}) {
    EXPECT_EQ(CheckPercentEscapes(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace cairn
