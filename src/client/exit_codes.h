// Process exit codes of the `cairn` CLI, one per kind of failure a script
// may want to tell apart.
#ifndef CAIRN_CLIENT_EXIT_CODES_H_
#define CAIRN_CLIENT_EXIT_CODES_H_

#include "absl/status/status.h"

namespace cairn::client {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // anything not listed below
  kExitUsage = 2,        // bad command line or invalid path (InvalidArgument)
  kExitNotFound = 3,     // remote or local file/directory missing
  kExitUnavailable = 4,  // gateway unreachable, or cluster unavailable (503)
  kExitConflict = 5,     // already exists / precondition failed (409, 412)
  kExitDataLoss = 6,     // checksum mismatch
  kExitNoSpace = 7,      // out of space (507)
};

// The exit code for a failed (or OK) status.
ExitCode ExitCodeFor(const absl::Status& status);

// One line per code, for --help.
const char* ExitCodeHelp();

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_EXIT_CODES_H_
