// Downloader: one file download through the gateway, the read-side twin of
// Uploader and independent of any HTTP library. Open() looks the file up at
// the master and checks that every chunk has a live replica; Read() streams
// a byte range of it into a sink, each chunk's part read from its replicas
// with failover and CRC32C verification (chunk_io.h).
//
// A file is a sequence of extents, each a byte range of one chunk. MapRange()
// is the one place that turns a range of a file into pieces of extents.
//
// Not thread-safe; one per request.
#ifndef CAIRN_GATEWAY_DOWNLOADER_H_
#define CAIRN_GATEWAY_DOWNLOADER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/master_client.h"
#include "gateway/chunk_io.h"
#include "proto/master.pb.h"

namespace cairn::gateway {

// A byte range [offset, offset + length) of a resource.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Part of one extent: `length` bytes from `chunk_offset` of the chunk of
// extent `index`.
struct Piece {
  int index = 0;
  uint64_t chunk_offset = 0;
  uint64_t length = 0;
};

// The pieces holding `range` of `file`, in order. Extent i holds the bytes
// after those of extents 0..i-1, as many as its length, starting at its
// offset in its chunk. A range past the end is cut at the end. REQUIRES: the
// extents' lengths add up to the file's length (the master checks it at
// commit).
std::vector<Piece> MapRange(const FileMeta& file, ByteRange range);

// Gets bytes in order; returning false stops the read with Cancelled.
using ByteSink = std::function<bool(std::string_view)>;

class Downloader {
 public:
  // `master` and `io` must outlive the downloader.
  Downloader(MasterClient* master, ChunkIo* io, std::string path);

  // Looks the file up. NotFound, InvalidArgument for a directory,
  // Unavailable when an extent's chunk has no live replica, or the master's
  // error.
  absl::Status Open();
  // REQUIRES: Open() succeeded.
  const Entry& entry() const { return file_.entry(); }
  uint64_t size() const { return file_.entry().file().length(); }

  // Streams `range` (cut at the end of the file) into `sink`. Cancelled if
  // the sink stopped; Unavailable/DataLoss when every replica of a chunk
  // failed.
  absl::Status Read(ByteRange range, const ByteSink& sink);

 private:
  MasterClient* const master_;
  ChunkIo* const io_;
  const std::string path_;
  LookupReply file_;
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_DOWNLOADER_H_
