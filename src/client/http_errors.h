// Maps gateway error replies (doc/design.md §4) to absl::Status.
#ifndef CAIRN_CLIENT_HTTP_ERRORS_H_
#define CAIRN_CLIENT_HTTP_ERRORS_H_

#include <string_view>

#include "absl/status/status.h"

namespace cairn::client {

// The status for a non-2xx reply. `body` is normally
// {"error":{"code":"NOT_FOUND","message":"..."}}; an API error name in it
// (common/api_errors.h) wins, otherwise the HTTP status decides (see
// CodeFromHttpStatus). The message is the reply's message, or
// "HTTP <status>" and the start of a non-JSON body.
absl::Status StatusFromHttpReply(int http_status, std::string_view body);

// The code for an HTTP status: the API error table's for the statuses the
// gateway sends (400, 404, 409, 412, 416, 500, 503, 507); for those only a
// proxy in front of it sends, 401 Unauthenticated, 403 PermissionDenied,
// 429 ResourceExhausted, 501 Unimplemented, 502/504 Unavailable; other 4xx
// FailedPrecondition, other 5xx Internal.
absl::StatusCode CodeFromHttpStatus(int http_status);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_HTTP_ERRORS_H_
