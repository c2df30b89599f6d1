#include "client/cli.h"

#include <errno.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/gateway_client.h"
#include "client/progress.h"

namespace cairn::client {
namespace {

constexpr char kDefaultGateway[] = "http://127.0.0.1:8089";
constexpr int kExitPipeClosed = 128 + SIGPIPE;

struct GlobalFlags {
  std::string gateway = kDefaultGateway;
  bool json = false;
  bool quiet = false;
  bool no_progress = false;
  int timeout_seconds = 120;
};

// Arguments of every subcommand; only the chosen one's are filled in.
struct Args {
  PutArgs put;
  GetArgs get;
  std::string path = "/";
  std::string source;
  std::string target;
  bool recursive = false;
  bool parents = true;
};

bool ColorWanted() {
  const char* term = std::getenv("TERM");
  return isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr &&
         (term == nullptr || std::string(term) != "dumb");
}

int Report(const absl::Status& status, const GlobalFlags& flags,
           const std::string& gateway) {
  if (absl::IsCancelled(status)) return kExitPipeClosed;
  ExitCode code = ExitCodeFor(status);
  if (flags.json) {
    nlohmann::json error = {
        {"error",
         {{"code", absl::StatusCodeToString(status.code())},
          {"message", std::string(status.message())},
          {"exit_code", static_cast<int>(code)}}}};
    std::cerr << error.dump() << "\n";
    return code;
  }
  std::cerr << "cairn: " << status.message() << "\n";
  if (absl::IsUnavailable(status) &&
      (absl::StrContains(status.message(), "cannot connect to the gateway") ||
       absl::StrContains(status.message(), "timed out connecting"))) {
    std::cerr << "cairn: is the gateway running at " << gateway
              << "? Choose another with --gateway or CAIRN_GATEWAY.\n";
  }
  return code;
}

}  // namespace

int RunCli(int argc, char** argv) {
  GlobalFlags flags;
  Args args;
  CLI::App app{"cairn: command-line client of the Cairn distributed file system",
               "cairn"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  app.footer(ExitCodeHelp());
  app.set_version_flag("--version", "cairn 0.1");
  app.add_option("--gateway", flags.gateway, "gateway URL, host:port or port")
      ->envname("CAIRN_GATEWAY")
      ->capture_default_str();
  app.add_flag("--json", flags.json, "print results as JSON (for scripts)");
  app.add_flag("-q,--quiet", flags.quiet, "no summaries after put/get");
  app.add_flag("--no-progress", flags.no_progress, "never draw progress bars");
  app.add_option("--timeout", flags.timeout_seconds,
                 "seconds to wait for any network read or write")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  CLI::App* put = app.add_subcommand("put", "upload a local file (- = stdin)");
  put->add_option("LOCAL", args.put.local, "local file, or - for stdin")
      ->required();
  put->add_option("REMOTE", args.put.remote,
                  "remote path; an existing directory (or a trailing /) "
                  "means into it")
      ->required();
  put->add_flag("-n,--no-clobber", args.put.no_clobber,
                "fail if REMOTE exists instead of replacing it");

  CLI::App* get = app.add_subcommand("get", "download a file (SHA-256 verified)");
  get->add_option("REMOTE", args.get.remote, "remote file")->required();
  get->add_option("LOCAL", args.get.local,
                  "local file or directory (default: the remote name), - = stdout");

  CLI::App* cat = app.add_subcommand("cat", "write a file to stdout");
  cat->add_option("REMOTE", args.path, "remote file")->required();

  CLI::App* ls = app.add_subcommand("ls", "list a directory");
  ls->add_flag("-r,--recursive", args.recursive, "list everything below PATH");
  ls->add_option("PATH", args.path, "directory (default /)");

  CLI::App* rm = app.add_subcommand("rm", "delete a file or directory");
  rm->add_flag("-r,--recursive", args.recursive,
               "delete a directory and everything below it");
  rm->add_option("PATH", args.path, "remote path")->required();

  CLI::App* mv = app.add_subcommand("mv", "rename a file or directory (atomic)");
  mv->add_option("SRC", args.source, "remote path")->required();
  mv->add_option("DST", args.target,
                 "new remote path; an existing directory (or a trailing /) "
                 "means into it")
      ->required();

  CLI::App* mkdir = app.add_subcommand("mkdir", "create a directory and parents");
  mkdir->add_flag("-p,--parents", args.parents, "accepted for habit; always on");
  mkdir->add_option("PATH", args.path, "remote directory")->required();

  CLI::App* stat = app.add_subcommand("stat", "show a file's chunks and replicas");
  stat->add_option("PATH", args.path, "remote path")->required();

  CLI::App* du = app.add_subcommand("du", "files and bytes under each child");
  du->add_option("PATH", args.path, "directory (default /)");

  CLI::App* cluster =
      app.add_subcommand("cluster", "chunkservers, capacity and health");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  absl::StatusOr<GatewayAddress> address = ParseGatewayAddress(flags.gateway);
  if (!address.ok()) return Report(address.status(), flags, flags.gateway);
  GatewayClientOptions options;
  options.address = *address;
  options.io_timeout = std::chrono::seconds(flags.timeout_seconds);
  GatewayClient client(options);

  CommandContext ctx;
  ctx.client = &client;
  ctx.out = &std::cout;
  ctx.err = &std::cerr;
  ctx.json = flags.json;
  ctx.quiet = flags.quiet;
  ctx.progress = !flags.no_progress && isatty(STDERR_FILENO) == 1;
  ctx.color = !flags.json && ColorWanted();
  ctx.err_width = TerminalWidth(STDERR_FILENO);

  absl::Status status;
  if (put->parsed()) {
    status = RunPut(ctx, args.put);
  } else if (get->parsed()) {
    status = RunGet(ctx, args.get);
  } else if (cat->parsed()) {
    status = RunCat(ctx, args.path);
  } else if (ls->parsed()) {
    status = RunLs(ctx, args.path, args.recursive);
  } else if (rm->parsed()) {
    status = RunRm(ctx, args.path, args.recursive);
  } else if (mv->parsed()) {
    status = RunMv(ctx, args.source, args.target);
  } else if (mkdir->parsed()) {
    status = RunMkdir(ctx, args.path);
  } else if (stat->parsed()) {
    status = RunStat(ctx, args.path);
  } else if (du->parsed()) {
    status = RunDu(ctx, args.path);
  } else if (cluster->parsed()) {
    status = RunCluster(ctx);
  }
  std::cout.flush();
  if (!std::cout && status.ok()) {
    status = errno == EPIPE ? absl::CancelledError("stdout closed")
                            : absl::InternalError("cannot write to stdout");
  }
  if (!status.ok()) return Report(status, flags, address->ToString());
  return kExitOk;
}

}  // namespace cairn::client
