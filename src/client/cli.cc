#include "client/cli.h"

#include <errno.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

int Report(const absl::Status& status, const GlobalFlags& flags, const std::string& gateway) {
  if (absl::IsCancelled(status)) return kExitPipeClosed;
  ExitCode code = ExitCodeFor(status);
  if (flags.json) {
    nlohmann::json error = {{"error",
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

namespace {

void AddGlobalFlags(CLI::App& app, GlobalFlags& flags) {
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
}

// A subcommand and what runs when it was given.
struct Command {
  CLI::App* app;
  std::function<absl::Status(CommandContext&)> run;
};

std::vector<Command> AddCommands(CLI::App& app, Args& args) {
  std::vector<Command> commands;
  auto add = [&](const char* name, const char* help,
                 std::function<absl::Status(CommandContext&)> run) {
    commands.push_back({app.add_subcommand(name, help), std::move(run)});
    return commands.back().app;
  };
  CLI::App* put = add("put", "upload a local file (- = stdin)",
                      [&](CommandContext& c) { return RunPut(c, args.put); });
  put->add_option("LOCAL", args.put.local, "local file, or - for stdin")->required();
  put->add_option("REMOTE", args.put.remote,
                  "remote path; an existing directory (or a trailing /) means into it")
      ->required();
  put->add_flag("-n,--no-clobber", args.put.no_clobber,
                "fail if REMOTE exists instead of replacing it");

  CLI::App* get = add("get", "download a file (SHA-256 verified)",
                      [&](CommandContext& c) { return RunGet(c, args.get); });
  get->add_option("REMOTE", args.get.remote, "remote file")->required();
  get->add_option("LOCAL", args.get.local,
                  "local file or directory (default: the remote name), - = stdout");

  add("cat", "write a file to stdout", [&](CommandContext& c) { return RunCat(c, args.path); })
      ->add_option("REMOTE", args.path, "remote file")
      ->required();

  CLI::App* ls = add("ls", "list a directory",
                     [&](CommandContext& c) { return RunLs(c, args.path, args.recursive); });
  ls->add_flag("-r,--recursive", args.recursive, "list everything below PATH");
  ls->add_option("PATH", args.path, "directory (default /)");

  CLI::App* rm = add("rm", "delete a file or directory",
                     [&](CommandContext& c) { return RunRm(c, args.path, args.recursive); });
  rm->add_flag("-r,--recursive", args.recursive, "delete a directory and everything below it");
  rm->add_option("PATH", args.path, "remote path")->required();

  CLI::App* mv = add("mv", "rename a file or directory (atomic)",
                     [&](CommandContext& c) { return RunMv(c, args.source, args.target); });
  mv->add_option("SRC", args.source, "remote path")->required();
  mv->add_option("DST", args.target,
                 "new remote path; an existing directory (or a trailing /) means into it")
      ->required();

  CLI::App* mkdir = add("mkdir", "create a directory and parents",
                        [&](CommandContext& c) { return RunMkdir(c, args.path); });
  mkdir->add_flag("-p,--parents", args.parents, "accepted for habit; always on");
  mkdir->add_option("PATH", args.path, "remote directory")->required();

  add("stat", "show a file's chunks and replicas",
      [&](CommandContext& c) { return RunStat(c, args.path); })
      ->add_option("PATH", args.path, "remote path")
      ->required();
  add("du", "files and bytes under each child", [&](CommandContext& c) {
    return RunDu(c, args.path);
  })->add_option("PATH", args.path, "directory (default /)");
  add("cluster", "chunkservers, capacity and health",
      [](CommandContext& c) { return RunCluster(c); });
  return commands;
}

}  // namespace

int RunCli(int argc, char** argv) {
  GlobalFlags flags;
  Args args;
  CLI::App app{"cairn: command-line client of the Cairn distributed file system", "cairn"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the subcommand
  app.footer(ExitCodeHelp());
  app.set_version_flag("--version", "cairn 0.1");
  AddGlobalFlags(app, flags);
  std::vector<Command> commands = AddCommands(app, args);
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
  for (const Command& c : commands) {
    if (c.app->parsed()) status = c.run(ctx);
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
