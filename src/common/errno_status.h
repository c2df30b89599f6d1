// The one errno -> absl::Status mapping, for the POSIX FileSystem and for the
// client's local files alike.
#ifndef CAIRN_COMMON_ERRNO_STATUS_H_
#define CAIRN_COMMON_ERRNO_STATUS_H_

#include <string_view>

#include "absl/status/status.h"

namespace cairn {

// The status for `error_number` (an errno value, not 0) after `operation`
// ("open", "write", ...) on `name` (a path, or "stdout") failed. The message
// is "<operation> <name>: <strerror>". Codes:
//   ENOENT, ENOTDIR                    NotFound (a path component is missing
//                                      or is not a directory)
//   EACCES, EPERM, EROFS               PermissionDenied
//   EEXIST                             AlreadyExists
//   EISDIR, EINVAL, ENAMETOOLONG       InvalidArgument (the name is unusable)
//   ENOSPC, EDQUOT                     ResourceExhausted
//   anything else (EIO, ...)           Internal
absl::Status ErrnoToStatus(int error_number, std::string_view operation, std::string_view name);

}  // namespace cairn

#endif  // CAIRN_COMMON_ERRNO_STATUS_H_
