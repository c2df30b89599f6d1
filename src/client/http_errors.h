// Maps gateway error replies (DESIGN.md §5) to absl::Status.
#ifndef CAIRN_CLIENT_HTTP_ERRORS_H_
#define CAIRN_CLIENT_HTTP_ERRORS_H_

#include <string_view>

#include "absl/status/status.h"

namespace cairn::client {

// The status for a non-2xx reply. `body` is normally
// {"error":{"code":"NOT_FOUND","message":"..."}}; a canonical code name in
// it wins, otherwise the HTTP status decides: 400 InvalidArgument,
// 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 409 AlreadyExists,
// 412 FailedPrecondition, 416 OutOfRange, 429 ResourceExhausted,
// 501 Unimplemented, 502/503/504 Unavailable, 507 ResourceExhausted, other
// 4xx FailedPrecondition, other 5xx Internal. The message is the reply's
// message, or "HTTP <status>" and the start of a non-JSON body.
absl::Status StatusFromHttpReply(int http_status, std::string_view body);

// Canonical code for an HTTP status, as described above.
absl::StatusCode CodeFromHttpStatus(int http_status);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_HTTP_ERRORS_H_
