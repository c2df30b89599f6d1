// Remote path rules (DESIGN.md §5) and their URL encoding, shared by the
// client library and the `cairn` CLI.
#ifndef CAIRN_CLIENT_PATHS_H_
#define CAIRN_CLIENT_PATHS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::client {

// OK if `path` is a Cairn path: starts with '/', has no empty, "." or ".."
// component and no NUL byte. "/" (the root) is valid. Otherwise
// InvalidArgument naming the problem.
absl::Status ValidatePath(std::string_view path);

// Turns what a person typed into a valid path: a relative path is taken
// relative to the root ("docs/a" -> "/docs/a") and trailing slashes are
// dropped ("/docs/" -> "/docs"). InvalidArgument for an empty string or
// anything ValidatePath rejects.
absl::StatusOr<std::string> NormalizeUserPath(std::string_view typed);

// Percent-encodes every byte except RFC 3986 unreserved characters and '/'.
// For the path part of a URL: "/a b/ü" -> "/a%20b/%C3%BC".
std::string EncodePath(std::string_view path);

// Percent-encodes every byte except RFC 3986 unreserved characters and '/'
// for use as a query parameter value ('+', '&', '=' and '%' are encoded).
std::string EncodeQueryValue(std::string_view value);

// Last component of a valid path; "" for "/".
std::string_view Basename(std::string_view path);

// `dir` joined with the single component `name`; REQUIRES: dir is valid.
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_PATHS_H_
