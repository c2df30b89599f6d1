// Cairn namespace paths: absolute, '/'-separated, UTF-8, no empty, '.' or
// '..' components, no NUL. "/" is the root directory.
#ifndef CAIRN_COMMON_PATH_H_
#define CAIRN_COMMON_PATH_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace cairn {

inline constexpr size_t kMaxPathLength = 4096;
inline constexpr size_t kMaxNameLength = 255;

// OK iff `path` is valid; InvalidArgument saying what is wrong otherwise.
absl::Status ValidatePath(std::string_view path);

// A raw request target (before its '?'), which HTTP libraries decode with a
// stray '%' kept literally: InvalidArgument unless every '%' is followed by
// two hex digits, so that one file has one URL.
absl::Status CheckPercentEscapes(std::string_view target);
bool IsValidUtf8(std::string_view s);

// REQUIRES: ValidatePath(path).ok(). "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
std::string_view ParentPath(std::string_view path);
// REQUIRES: ValidatePath(path).ok(). "/a/b" -> "b"; "/" -> "".
std::string_view BaseName(std::string_view path);
// The directories from the root's child down to `path`'s parent: "/a/b/c" -> {"/a", "/a/b"}.
std::vector<std::string> AncestorDirs(std::string_view path);
// True iff `path` is `dir` or below it.
bool IsWithin(std::string_view path, std::string_view dir);
// `dir` joined with `name`.
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace cairn

#endif  // CAIRN_COMMON_PATH_H_
