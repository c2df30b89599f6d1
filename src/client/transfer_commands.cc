// put, get and cat: streaming transfers with progress and verification.
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "client/byte_io.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/paths.h"
#include "client/progress.h"
#include "common/strings.h"

namespace cairn::client {
namespace {

bool IsLocalDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string LocalBasename(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  size_t slash = trimmed.rfind('/');
  return slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
}

// A progress bar for `label` when the context wants one, else nullptr.
std::unique_ptr<ProgressBar> MaybeProgressBar(const CommandContext& ctx, std::string_view label,
                                              bool data_on_terminal) {
  // Data going to the same terminal would be garbled by the bar.
  if (!ctx.progress || data_on_terminal) return nullptr;
  ProgressBar::Options options;
  options.label = std::string(label);
  options.width = ctx.err_width;
  return std::make_unique<ProgressBar>(*ctx.err, std::move(options));
}

ProgressCallback CallbackFor(ProgressBar* bar) {
  if (bar == nullptr) return nullptr;
  return [bar](uint64_t done, std::optional<uint64_t> total) { bar->Update(done, total); };
}

// Downloads `remote` into `sink`, with a bar unless the data goes to a
// terminal. Warns on ctx.err when the gateway sent no checksum.
absl::StatusOr<GetResult> Download(const CommandContext& ctx, const std::string& remote,
                                   ByteSink& sink, bool to_terminal) {
  std::unique_ptr<ProgressBar> bar = MaybeProgressBar(ctx, BaseName(remote), to_terminal);
  GetOptions options;
  options.progress = CallbackFor(bar.get());
  absl::StatusOr<GetResult> got = ctx.client->Get(remote, sink, options);
  if (bar != nullptr && got.ok()) bar->Finish();
  bar.reset();  // ends the bar's line before any error is printed
  if (got.ok() && !got->verified) {
    *ctx.err << "cairn: warning: the gateway sent no X-Checksum-Sha256 for " << remote
             << "; content not verified\n";
  }
  return got;
}

}  // namespace

absl::Status RunPut(const CommandContext& ctx, const PutArgs& args) {
  const bool from_stdin = args.local == "-";
  absl::StatusOr<std::string> remote = NormalizeUserPath(args.remote);
  if (!remote.ok()) return remote.status();
  if (args.remote.ends_with("/") || RemoteIsDirectory(ctx, *remote)) {
    if (from_stdin) {
      return absl::InvalidArgumentError(
          cairn::StrCat(*remote, " is a directory: name the file to upload stdin to"));
    }
    remote = JoinPath(*remote, LocalBasename(args.local));
  }
  absl::StatusOr<std::unique_ptr<FdSource>> source =
      from_stdin ? FdSource::Borrow(STDIN_FILENO, "stdin") : FdSource::Open(args.local);
  if (!source.ok()) return source.status();

  std::unique_ptr<ProgressBar> bar =
      MaybeProgressBar(ctx, BaseName(*remote), /*data_on_terminal=*/false);
  PutOptions options;
  options.fail_if_exists = args.no_clobber;
  options.progress = CallbackFor(bar.get());
  absl::StatusOr<PutResult> put = ctx.client->Put(*remote, **source, options);
  if (bar != nullptr && put.ok()) bar->Finish();
  bar.reset();
  if (!put.ok()) {
    return absl::Status(put.status().code(),
                        cairn::StrCat("put ", *remote, ": ", put.status().message()));
  }
  if (ctx.json) {
    nlohmann::json out = ToJson(*put);
    out["local"] = args.local;
    *ctx.out << out.dump() << "\n";
  } else if (!ctx.quiet) {
    *ctx.out << "uploaded " << (from_stdin ? "stdin" : args.local) << " -> " << put->path << " ("
             << HumanBytes(put->size) << " in " << put->chunks
             << (put->chunks == 1 ? " chunk" : " chunks") << ", sha256 " << put->sha256 << ")\n";
  }
  return absl::OkStatus();
}

absl::Status RunGet(const CommandContext& ctx, const GetArgs& args) {
  absl::StatusOr<std::string> remote = NormalizeUserPath(args.remote);
  if (!remote.ok()) return remote.status();
  if (*remote == "/") return absl::InvalidArgumentError("cannot download /");
  if (args.local == "-") return RunCat(ctx, *remote);

  std::string local = args.local.empty() ? std::string(BaseName(*remote)) : args.local;
  if (IsLocalDirectory(local)) {
    local = cairn::StrCat(local, local.ends_with("/") ? "" : "/", BaseName(*remote));
  }
  absl::StatusOr<std::unique_ptr<FileSink>> sink = FileSink::Create(local);
  if (!sink.ok()) return sink.status();
  absl::StatusOr<GetResult> got = Download(ctx, *remote, **sink, /*to_terminal=*/false);
  if (!got.ok()) {
    return absl::Status(got.status().code(),
                        cairn::StrCat("get ", *remote, ": ", got.status().message()));
  }
  if (ctx.json) {
    nlohmann::json out = ToJson(*got);
    out["path"] = *remote;
    out["local"] = local;
    *ctx.out << out.dump() << "\n";
  } else if (!ctx.quiet) {
    *ctx.out << "downloaded " << *remote << " -> " << local << " (" << HumanBytes(got->size)
             << (got->verified ? ", sha256 verified" : ", NOT verified") << ")\n";
  }
  return absl::OkStatus();
}

absl::Status RunCat(const CommandContext& ctx, const std::string& typed) {
  absl::StatusOr<std::string> remote = NormalizeUserPath(typed);
  if (!remote.ok()) return remote.status();
  FdSink sink(STDOUT_FILENO, "stdout");
  ctx.out->flush();
  absl::StatusOr<GetResult> got =
      Download(ctx, *remote, sink, /*to_terminal=*/isatty(STDOUT_FILENO) == 1);
  if (!got.ok()) {
    return absl::Status(got.status().code(), cairn::StrCat(*remote, ": ", got.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace cairn::client
