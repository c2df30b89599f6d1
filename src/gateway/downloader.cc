#include "gateway/downloader.h"

#include <algorithm>

#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::gateway {

std::vector<Piece> MapRange(const FileMeta& file, ByteRange range) {
  std::vector<Piece> pieces;
  const uint64_t end = range.offset + std::min(range.length, UINT64_MAX - range.offset);
  uint64_t start = 0;  // of chunk i in the file
  for (int i = 0; i < file.extents_size() && start < end; ++i) {
    const Extent& x = file.extents(i);
    const uint64_t stop = start + x.length();
    const uint64_t from = std::max(start, range.offset), to = std::min(stop, end);
    if (from < to) pieces.push_back({i, x.offset() + (from - start), to - from});
    start = stop;
  }
  return pieces;
}

Downloader::Downloader(MasterClient* master, ChunkIo* io, std::string path)
    : master_(master), io_(io), path_(std::move(path)) {}

absl::Status Downloader::Open() {
  LookupRequest req;
  req.set_path(path_);
  RETURN_IF_ERROR(FromGrpcStatus(master_->Unary(&Master::StubInterface::Lookup, req, &file_)));
  const Entry& e = file_.entry();
  if (e.type() != Entry::FILE) {
    return absl::InvalidArgumentError(cairn::StrCat(path_, " is a directory"));
  }
  for (int i = 0; i < e.file().extents_size(); ++i) {
    if (i >= file_.locations_size() || file_.locations(i).replicas_size() == 0) {
      return absl::UnavailableError(cairn::StrCat("chunk ", e.file().extents(i).handle(), " of ",
                                                  path_, " has no live replica"));
    }
  }
  return absl::OkStatus();
}

absl::Status Downloader::Read(ByteRange range, const ByteSink& sink) {
  const FileMeta& file = file_.entry().file();
  uint64_t pos = range.offset;
  for (const Piece& p : MapRange(file, range)) {
    const Extent& x = file.extents(p.index);
    absl::Status s = ReadChunkRange(io_, x.handle(), x.version(), file_.locations(p.index),
                                    p.chunk_offset, p.length, sink);
    if (!s.ok()) {
      if (!absl::IsCancelled(s)) {
        spdlog::error("download of {} failed at byte {}: {}", path_, pos, s.ToString());
      }
      return s;
    }
    pos += p.length;
  }
  return absl::OkStatus();
}

}  // namespace cairn::gateway
