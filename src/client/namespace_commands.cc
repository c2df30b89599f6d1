// ls, rm, mv, mkdir, stat and du: namespace operations.
#include <nlohmann/json.hpp>

#include "absl/strings/str_join.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/paths.h"
#include "common/strings.h"

namespace cairn::client {
namespace {

// Prefixes a failure with what was being done.
absl::Status Context(const absl::Status& status, std::string_view what) {
  if (status.ok()) return status;
  return absl::Status(status.code(), cairn::StrCat(what, ": ", status.message()));
}

std::string EntryPath(const Listing& listing, const ListEntry& entry) {
  if (!entry.path.empty()) return entry.path;
  return JoinPath(listing.path.empty() ? "/" : listing.path, entry.name);
}

void PrintFileInfo(const CommandContext& ctx, const FileInfo& info) {
  std::ostream& out = *ctx.out;
  out << "path:         " << info.path << "\n"
      << "type:         file\n"
      << "size:         " << HumanBytes(info.size) << " (" << info.size << " bytes)\n"
      << "sha256:       " << info.sha256 << "\n"
      << "replication:  " << info.replication << "\n"
      << "modified:     " << FormatMtime(info.mtime) << "\n"
      << "chunks:       " << info.chunks.size() << "\n";
  if (info.chunks.empty()) return;
  out << "\n";
  Table table({{"INDEX", Table::Align::kRight},
               {"HANDLE"},
               {"VERSION", Table::Align::kRight},
               {"SIZE", Table::Align::kRight},
               {"REPLICAS"}});
  for (const ChunkInfo& chunk : info.chunks) {
    std::vector<std::string> replicas;
    for (const ReplicaInfo& r : chunk.replicas) {
      std::string where = r.node_id;
      if (!r.address.empty()) cairn::StrAppend(&where, "@", r.address);
      if (!r.zone.empty()) cairn::StrAppend(&where, "(", r.zone, ")");
      replicas.push_back(std::move(where));
    }
    bool short_of_replicas = chunk.replicas.size() < info.replication;
    table.AddRow({cairn::StrCat(chunk.index), chunk.handle, cairn::StrCat(chunk.version),
                  HumanBytes(chunk.size),
                  Table::Cell(replicas.empty() ? "(none)" : absl::StrJoin(replicas, " "),
                              short_of_replicas ? kYellow : "")});
  }
  out << table.Render(ctx.color);
}

}  // namespace

bool RemoteIsDirectory(const CommandContext& ctx, const std::string& path) {
  if (path == "/") return true;
  absl::StatusOr<FileInfo> info = ctx.client->GetFileInfo(path);
  return info.ok() && info->is_dir();
}

absl::Status RunLs(const CommandContext& ctx, const std::string& typed, bool recursive) {
  absl::StatusOr<std::string> path = NormalizeUserPath(typed);
  if (!path.ok()) return path.status();
  absl::StatusOr<Listing> listing = ctx.client->List(*path, recursive);
  if (!listing.ok() && !absl::IsUnavailable(listing.status())) {
    // `ls FILE` shows the file, like ls(1).
    absl::StatusOr<FileInfo> info = ctx.client->GetFileInfo(*path);
    if (info.ok() && !info->is_dir()) {
      Listing single;
      single.path = *path;
      single.entries.push_back(
          ListEntry{std::string(BaseName(*path)), *path, "file", info->size, info->mtime});
      listing = std::move(single);
    }
  }
  if (!listing.ok()) return Context(listing.status(), cairn::StrCat("ls ", *path));
  if (listing->path.empty()) listing->path = *path;
  if (ctx.json) {
    *ctx.out << ToJson(*listing).dump() << "\n";
    return absl::OkStatus();
  }
  Table table({{"TYPE"}, {"SIZE", Table::Align::kRight}, {"MODIFIED"}, {"NAME"}});
  for (const ListEntry& entry : listing->entries) {
    std::string name = recursive ? EntryPath(*listing, entry) : entry.name;
    if (entry.is_dir()) name += "/";
    table.AddRow({entry.is_dir() ? "dir" : "file", entry.is_dir() ? "-" : HumanBytes(entry.size),
                  FormatMtime(entry.mtime), Table::Cell(name, entry.is_dir() ? kBold : "")});
  }
  if (!listing->entries.empty()) *ctx.out << table.Render(ctx.color);
  return absl::OkStatus();
}

absl::Status RunRm(const CommandContext& ctx, const std::string& typed, bool recursive) {
  absl::StatusOr<std::string> path = NormalizeUserPath(typed);
  if (!path.ok()) return path.status();
  if (*path == "/") return absl::InvalidArgumentError("refusing to remove /");
  absl::Status status = ctx.client->Delete(*path, recursive);
  if (!recursive && (absl::IsFailedPrecondition(status) || absl::IsAlreadyExists(status))) {
    status = absl::Status(status.code(), cairn::StrCat(status.message(),
                                                       "; `cairn rm -r` deletes a directory "
                                                       "with everything in it"));
  }
  if (!status.ok()) return Context(status, cairn::StrCat("rm ", *path));
  if (ctx.json) {
    *ctx.out << nlohmann::json{{"removed", *path}, {"recursive", recursive}}.dump() << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunMv(const CommandContext& ctx, const std::string& typed_source,
                   const std::string& typed_target) {
  absl::StatusOr<std::string> source = NormalizeUserPath(typed_source);
  if (!source.ok()) return source.status();
  absl::StatusOr<std::string> target = NormalizeUserPath(typed_target);
  if (!target.ok()) return target.status();
  if (*source == "/") return absl::InvalidArgumentError("cannot move /");
  if (typed_target.ends_with("/") || RemoteIsDirectory(ctx, *target)) {
    target = JoinPath(*target, BaseName(*source));
  }
  absl::Status status = ctx.client->Rename(*source, *target);
  if (!status.ok()) {
    return Context(status, cairn::StrCat("mv ", *source, " ", *target));
  }
  if (ctx.json) {
    *ctx.out << nlohmann::json{{"source", *source}, {"target", *target}}.dump() << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunMkdir(const CommandContext& ctx, const std::string& typed) {
  absl::StatusOr<std::string> path = NormalizeUserPath(typed);
  if (!path.ok()) return path.status();
  absl::Status status = ctx.client->Mkdir(*path);
  if (!status.ok()) return Context(status, cairn::StrCat("mkdir ", *path));
  if (ctx.json) *ctx.out << nlohmann::json{{"created", *path}}.dump() << "\n";
  return absl::OkStatus();
}

absl::Status RunStat(const CommandContext& ctx, const std::string& typed) {
  absl::StatusOr<std::string> path = NormalizeUserPath(typed);
  if (!path.ok()) return path.status();
  absl::StatusOr<FileInfo> info = ctx.client->GetFileInfo(*path);
  if (info.ok() && !info->is_dir()) {
    if (ctx.json) {
      *ctx.out << ToJson(*info).dump() << "\n";
    } else {
      PrintFileInfo(ctx, *info);
    }
    return absl::OkStatus();
  }
  if (!info.ok() && absl::IsUnavailable(info.status())) {
    return Context(info.status(), cairn::StrCat("stat ", *path));
  }
  // A directory: fileinfo may describe it or refuse; a listing tells.
  absl::StatusOr<Listing> listing = ctx.client->List(*path, false);
  if (!listing.ok()) {
    return Context(info.ok() ? listing.status() : info.status(), cairn::StrCat("stat ", *path));
  }
  if (ctx.json) {
    *ctx.out << nlohmann::json{{"path", *path},
                               {"type", "dir"},
                               {"entries", listing->entries.size()}}
                    .dump()
             << "\n";
  } else {
    *ctx.out << "path:         " << *path << "\n"
             << "type:         directory\n"
             << "entries:      " << listing->entries.size() << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunDu(const CommandContext& ctx, const std::string& typed) {
  absl::StatusOr<std::string> path = NormalizeUserPath(typed);
  if (!path.ok()) return path.status();
  absl::StatusOr<Usage> usage = ctx.client->GetUsage(*path);
  if (!usage.ok()) return Context(usage.status(), cairn::StrCat("du ", *path));
  if (usage->path.empty()) usage->path = *path;
  if (ctx.json) {
    *ctx.out << ToJson(*usage).dump() << "\n";
    return absl::OkStatus();
  }
  uint64_t files = 0;
  uint64_t bytes = 0;
  for (const UsageEntry& child : usage->children) {
    files += child.files;
    bytes += child.bytes;
  }
  Table table({{"NAME"},
               {"FILES", Table::Align::kRight},
               {"SIZE", Table::Align::kRight},
               {"SHARE", Table::Align::kRight}});
  for (const UsageEntry& child : usage->children) {
    double share = bytes == 0 ? 0 : 100.0 * child.bytes / bytes;
    table.AddRow(
        {child.name, cairn::StrCat(child.files), HumanBytes(child.bytes), FormatPercent(share)});
  }
  table.AddRow({Table::Cell(cairn::StrCat("TOTAL ", usage->path), kBold), cairn::StrCat(files),
                HumanBytes(bytes), ""});
  *ctx.out << table.Render(ctx.color);
  return absl::OkStatus();
}

}  // namespace cairn::client
