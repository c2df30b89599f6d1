// HTTP helpers of the gateway: status mapping, JSON error bodies, Range parsing.
#ifndef CAIRN_GATEWAY_HTTP_UTIL_H_
#define CAIRN_GATEWAY_HTTP_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/http_server.h"
#include "gateway/downloader.h"  // ByteRange
#include "nlohmann/json.hpp"
#include "proto/master.pb.h"

namespace cairn::gateway {

// The HTTP status for `status`, from the API error table (common/api_errors.h):
// 200 for OK.
int HttpStatusFor(const absl::Status& status);

void SetJson(HttpResponse& res, const nlohmann::json& body, int http_status = 200);

// Parses a Range header value for a resource of `size` bytes: "bytes=a-b",
// "bytes=a-" or "bytes=-n". nullopt means serve the whole resource: no
// header, another unit, a malformed value or several ranges (RFC 9110 §14.2
// lets a server ignore those). OutOfRange if the range is not satisfiable.
absl::StatusOr<std::optional<ByteRange>> ParseRange(std::string_view header, uint64_t size);

// The namespace path in a request: the route's capture, or a query parameter.
// InvalidArgument (a 400) for anything ValidatePath rejects, and for a raw
// request target with a '%' not followed by two hex digits.
absl::StatusOr<std::string> PathFromCapture(const HttpRequest& req, size_t group);
absl::StatusOr<std::string> PathFromParam(const HttpRequest& req, const std::string& name,
                                          bool required = true);

nlohmann::json EntryJson(const Entry& e);

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_HTTP_UTIL_H_
