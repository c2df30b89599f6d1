#include "common/errno_status.h"

#include <errno.h>
#include <string.h>

#include <string>

#include "common/strings.h"

namespace cairn {

absl::Status ErrnoToStatus(int error_number, std::string_view operation, std::string_view name) {
  std::string message = cairn::StrCat(operation, " ", name, ": ", strerror(error_number));
  switch (error_number) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case EISDIR:
    case EINVAL:
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(message);
    case ENOSPC:
    case EDQUOT:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    case EIO:
    case EBADMSG:
      return absl::DataLossError(message);  // the device could not return the data
    case EAGAIN:
    case EINTR:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace cairn
