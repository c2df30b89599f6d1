#include "common/api_errors.h"

namespace cairn {
namespace {

struct Row {
  absl::StatusCode code;
  ApiError error;
};

// The table of api_errors.h, in its order: for a name or an HTTP status
// shared by several codes, the first row is what a client reads back.
constexpr Row kRows[] = {
    {absl::StatusCode::kInvalidArgument, {400, "BAD_REQUEST"}},
    {absl::StatusCode::kNotFound, {404, "NOT_FOUND"}},
    {absl::StatusCode::kAlreadyExists, {409, "CONFLICT"}},
    {absl::StatusCode::kAborted, {409, "CONFLICT"}},
    {absl::StatusCode::kFailedPrecondition, {412, "PRECONDITION_FAILED"}},
    {absl::StatusCode::kOutOfRange, {416, "RANGE_NOT_SATISFIABLE"}},
    {absl::StatusCode::kUnavailable, {503, "UNAVAILABLE"}},
    {absl::StatusCode::kDeadlineExceeded, {503, "UNAVAILABLE"}},
    {absl::StatusCode::kResourceExhausted, {507, "INSUFFICIENT_STORAGE"}},
    {absl::StatusCode::kInternal, {500, "INTERNAL"}},
    {absl::StatusCode::kDataLoss, {500, "DATA_LOSS"}},
};

constexpr ApiError kInternal = {500, "INTERNAL"};

}  // namespace

ApiError ApiErrorFor(absl::StatusCode code) {
  for (const Row& row : kRows) {
    if (row.code == code) return row.error;
  }
  return kInternal;
}

int HttpStatusForCode(absl::StatusCode code) {
  return code == absl::StatusCode::kOk ? 200 : ApiErrorFor(code).http_status;
}

std::optional<absl::StatusCode> CodeForApiErrorName(std::string_view name) {
  for (const Row& row : kRows) {
    if (row.error.name == name) return row.code;
  }
  return std::nullopt;
}

std::optional<absl::StatusCode> CodeForApiHttpStatus(int http_status) {
  for (const Row& row : kRows) {
    if (row.error.http_status == http_status) return row.code;
  }
  return std::nullopt;
}

}  // namespace cairn
