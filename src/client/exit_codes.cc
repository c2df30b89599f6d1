#include "client/exit_codes.h"

namespace cairn::client {

ExitCode ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
      return kExitConflict;
    case absl::StatusCode::kDataLoss:
      return kExitDataLoss;
    case absl::StatusCode::kResourceExhausted:
      return kExitNoSpace;
    default:
      return kExitError;
  }
}

const char* ExitCodeHelp() {
  return "Exit codes:\n"
         "  0  success\n"
         "  1  other error\n"
         "  2  usage error or invalid path\n"
         "  3  not found\n"
         "  4  gateway unreachable or cluster unavailable\n"
         "  5  conflict: already exists or precondition failed\n"
         "  6  checksum mismatch (data corrupted in transit or at rest)\n"
         "  7  cluster out of space\n";
}

}  // namespace cairn::client
