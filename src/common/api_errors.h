// The REST API's error vocabulary (doc/design.md §4), in one table shared by the
// gateway (which renders statuses as replies), its test fake, and the client
// (which turns replies back into statuses). An error reply is HTTP status
// `http_status` with the JSON body {"error":{"code":<name>,"message":...}}:
//
//   absl::StatusCode                 HTTP  name
//   InvalidArgument                  400   BAD_REQUEST
//   NotFound                         404   NOT_FOUND
//   AlreadyExists, Aborted           409   CONFLICT
//   FailedPrecondition               412   PRECONDITION_FAILED
//   OutOfRange                       416   RANGE_NOT_SATISFIABLE
//   Unavailable, DeadlineExceeded    503   UNAVAILABLE
//   ResourceExhausted                507   INSUFFICIENT_STORAGE
//   DataLoss                         500   DATA_LOSS
//   Internal and every other code    500   INTERNAL
//
// Where several codes share a name or an HTTP status, the client reads the
// first one listed: CONFLICT is AlreadyExists, UNAVAILABLE is Unavailable,
// and a bare 500 is Internal.
#ifndef CAIRN_COMMON_API_ERRORS_H_
#define CAIRN_COMMON_API_ERRORS_H_

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace cairn {

struct ApiError {
  int http_status = 500;
  std::string_view name;  // static storage
};

// The reply the API sends for a failed call with `code`.
// REQUIRES: code != absl::StatusCode::kOk.
ApiError ApiErrorFor(absl::StatusCode code);

// The HTTP status for `code`: 200 for kOk, else ApiErrorFor(code).http_status.
int HttpStatusForCode(absl::StatusCode code);

// The code a client reports for an error reply named `name`; nullopt for a
// name the API never sends (the client then goes by the HTTP status).
std::optional<absl::StatusCode> CodeForApiErrorName(std::string_view name);

// The code a client reports for an error reply with HTTP status
// `http_status` and no usable name; nullopt for a status the API never sends.
std::optional<absl::StatusCode> CodeForApiHttpStatus(int http_status);

}  // namespace cairn

#endif  // CAIRN_COMMON_API_ERRORS_H_
