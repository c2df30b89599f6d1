// The `cairn` subcommands. Each prints its result to ctx.out (human text, or
// one JSON document with ctx.json) and returns the failure, if any, for
// cli.cc to report; progress bars go to ctx.err.
#ifndef CAIRN_CLIENT_COMMANDS_H_
#define CAIRN_CLIENT_COMMANDS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "client/gateway_client.h"

namespace cairn::client {

struct CommandContext {
  GatewayClient* client = nullptr;  // not owned
  std::ostream* out = nullptr;      // results
  std::ostream* err = nullptr;      // progress and warnings
  bool json = false;
  bool quiet = false;     // no summaries for put/get
  bool progress = false;  // ctx.err is a terminal and bars are wanted
  bool color = false;     // ctx.out is a terminal and NO_COLOR is unset
  int err_width = 80;     // columns of ctx.err
};

struct PutArgs {
  std::string local;  // file name, or "-" for stdin
  // An existing directory, or a trailing '/', means "into this directory".
  std::string remote;
  bool no_clobber = false;
};
absl::Status RunPut(const CommandContext& ctx, const PutArgs& args);

struct GetArgs {
  std::string remote;
  std::string local;  // "" = basename of remote; "-" = stdout; a directory
};
absl::Status RunGet(const CommandContext& ctx, const GetArgs& args);
absl::Status RunCat(const CommandContext& ctx, const std::string& remote);

absl::Status RunLs(const CommandContext& ctx, const std::string& path, bool recursive);
absl::Status RunRm(const CommandContext& ctx, const std::string& path, bool recursive);
// A `target` that is an existing directory or ends in '/' means "into this
// directory, same name" (like mv(1)).
absl::Status RunMv(const CommandContext& ctx, const std::string& source, const std::string& target);
absl::Status RunMkdir(const CommandContext& ctx, const std::string& path);
absl::Status RunStat(const CommandContext& ctx, const std::string& path);
absl::Status RunDu(const CommandContext& ctx, const std::string& path);
absl::Status RunCluster(const CommandContext& ctx);

// True if `path` names an existing remote directory; false if it does not,
// if it is a file, or if asking fails (the real operation reports that).
bool RemoteIsDirectory(const CommandContext& ctx, const std::string& path);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_COMMANDS_H_
