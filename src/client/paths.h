// The client side of remote paths: what a person typed, and URL encoding.
// The path rules themselves (ValidatePath, BaseName, JoinPath) are
// common/path.h's, the same the gateway enforces.
#ifndef CAIRN_CLIENT_PATHS_H_
#define CAIRN_CLIENT_PATHS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/path.h"

namespace cairn::client {

// Turns what a person typed into a valid path: a relative path is taken
// relative to the root ("docs/a" -> "/docs/a") and trailing slashes are
// dropped ("/docs/" -> "/docs"). InvalidArgument for an empty string or
// anything cairn::ValidatePath rejects.
absl::StatusOr<std::string> NormalizeUserPath(std::string_view typed);

// Percent-encodes every byte except RFC 3986 unreserved characters and '/'.
// For the path part of a URL: "/a b/ü" -> "/a%20b/%C3%BC".
std::string EncodePath(std::string_view path);

// Percent-encodes every byte except RFC 3986 unreserved characters and '/'
// for use as a query parameter value ('+', '&', '=' and '%' are encoded).
std::string EncodeQueryValue(std::string_view value);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_PATHS_H_
