// PUT/GET/HEAD/DELETE /api/v1/files/{path}: streaming upload and download.
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "gateway/http_util.h"
#include "gateway/routes.h"
#include "gateway/uploader.h"

namespace cairn::gateway {
namespace {

constexpr char kFilesPattern[] = R"(/api/v1/files([\s\S]*))";

std::string ETagOf(const Entry& e) { return cairn::StrCat("\"", e.file().sha256(), "\""); }

// Answers an upload with an error. The rest of the body is read and dropped
// first (up to kDrainLimit), so the client reads our status instead of a reset
// connection; past that the connection is closed.
constexpr size_t kDrainLimit = 64 << 20;

void RejectUpload(httplib::Response& res, const absl::Status& status,
                  const httplib::ContentReader* content_reader) {
  if (content_reader != nullptr) {
    size_t drained = 0;
    (*content_reader)([&](const char*, size_t len) {
      drained += len;
      return drained <= kDrainLimit;
    });
    if (drained > kDrainLimit) res.set_header("Connection", "close");
  }
  SetError(res, status);
}

void HandlePut(GatewayContext* ctx, const httplib::Request& req, httplib::Response& res,
               const httplib::ContentReader& content_reader) {
  auto path = PathFromCapture(req, 1);
  if (!path.ok()) return RejectUpload(res, path.status(), &content_reader);
  UploadOptions opts;
  opts.path = *path;
  std::string inm = req.get_header_value("If-None-Match");
  if (inm == "*") {
    opts.if_none_match = true;
  } else if (!inm.empty()) {
    return RejectUpload(res, absl::InvalidArgumentError("If-None-Match on upload supports only *"),
                        &content_reader);
  }
  if (req.has_header("Content-Length") &&
      !absl::SimpleAtoi(ToAbsl(req.get_header_value("Content-Length")), &opts.expected_length)) {
    return RejectUpload(res, absl::InvalidArgumentError("Content-Length is not a number"),
                        &content_reader);
  }
  Uploader uploader(ctx->master.get(), &ctx->pool, &ctx->buffers, opts);
  absl::Status s = uploader.Start();
  if (!s.ok()) return RejectUpload(res, s, &content_reader);
  size_t drained = 0;
  bool received = content_reader([&](const char* data, size_t len) {
    if (s.ok()) {
      s = uploader.Write(std::string_view(data, len));
      return true;
    }
    // Failed: drop the rest (bounded) so the client reads our error.
    drained += len;
    return drained <= kDrainLimit;
  });
  if (!s.ok()) {
    if (!received) res.set_header("Connection", "close");
    return SetError(res, s);
  }
  if (!received) return SetError(res, absl::InvalidArgumentError("request body ended early"));
  auto entry = uploader.Finish();
  if (!entry.ok()) return SetError(res, entry.status());
  ctx->metrics.Add("cairn_gateway_uploaded_bytes_total", "",
                   static_cast<double>(entry->file().length()));
  res.set_header("ETag", ETagOf(*entry));
  res.set_header("X-Checksum-Sha256", entry->file().sha256());
  SetJson(res,
          {{"path", entry->path()},
           {"size", entry->file().length()},
           {"chunks", entry->file().chunks_size()},
           {"sha256", entry->file().sha256()}},
          201);
}

// Streams [range.offset, +range.length) of a looked-up file into `sink`.
bool StreamFile(GatewayContext* ctx, const LookupReply& file, uint64_t chunk_size, ByteRange range,
                httplib::DataSink& sink) {
  const auto& chunks = file.entry().file().chunks();
  uint64_t pos = range.offset, end = range.offset + range.length;
  for (int i = 0; i < chunks.size() && pos < end; ++i) {
    uint64_t start = static_cast<uint64_t>(i) * chunk_size;
    uint64_t stop = start + chunks[i].size();
    if (stop <= pos) continue;
    std::vector<NodeAddress> replicas(file.locations(i).replicas().begin(),
                                      file.locations(i).replicas().end());
    uint64_t len = std::min(end, stop) - pos;
    absl::Status s = ReadChunkRange(&ctx->pool, chunks[i], replicas, pos - start, len,
                                    [&](std::string_view piece) {
                                      ctx->metrics.Add("cairn_gateway_downloaded_bytes_total", "",
                                                       static_cast<double>(piece.size()));
                                      return sink.write(piece.data(), piece.size());
                                    });
    if (!s.ok()) {
      if (!absl::IsCancelled(s)) {
        spdlog::error("download of {} failed at byte {}: {}", file.entry().path(), pos,
                      s.ToString());
      }
      return false;  // drops the connection: the client sees a short body
    }
    pos += len;
  }
  return true;
}

void HandleGet(GatewayContext* ctx, const httplib::Request& req, httplib::Response& res) {
  // We answer Range ourselves (416 for unsatisfiable ranges, JSON errors);
  // stop httplib from applying its own range logic to our response.
  const_cast<httplib::Request&>(req).ranges.clear();
  auto path = PathFromCapture(req, 1);
  if (!path.ok()) return SetError(res, path.status());
  LookupRequest lreq;
  lreq.set_path(*path);
  auto file = std::make_shared<LookupReply>();
  absl::Status s = FromGrpcStatus(ctx->master->Lookup(MasterCall().get(), lreq, file.get()));
  if (!s.ok()) return SetError(res, s);
  const Entry& e = file->entry();
  if (e.type() != Entry::FILE) {
    return SetError(res, absl::InvalidArgumentError(cairn::StrCat(*path, " is a directory")));
  }
  for (int i = 0; i < e.file().chunks_size(); ++i) {
    if (i >= file->locations_size() || file->locations(i).replicas_size() == 0) {
      return SetError(res, absl::UnavailableError(
                               cairn::StrCat("chunk ", i, " of ", *path, " has no live replica")));
    }
  }
  const uint64_t size = e.file().length();
  std::string etag = ETagOf(e);
  res.set_header("ETag", etag);
  res.set_header("X-Checksum-Sha256", e.file().sha256());
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("Last-Modified",
                 absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::FromUnixMillis(e.mtime_ms()),
                                  absl::UTCTimeZone()));
  if (req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  auto range = ParseRange(req.get_header_value("Range"), size);
  if (!range.ok()) {
    res.set_header("Content-Range", cairn::StrCat("bytes */", size));
    return SetError(res, absl::OutOfRangeError(range.status().message()));
  }
  ByteRange r{0, size};
  res.status = 200;
  if (range->has_value()) {
    r = **range;
    res.status = 206;
    res.set_header("Content-Range",
                   cairn::StrCat("bytes ", r.offset, "-", r.offset + r.length - 1, "/", size));
  }
  if (r.length == 0) {
    res.set_content("", "application/octet-stream");
    return;
  }
  // First chunk size = the master's chunk size (all chunks but the last are full).
  uint64_t chunk_size = e.file().chunks(0).size();
  res.set_content_provider(
      r.length, "application/octet-stream",
      [ctx, file, chunk_size, r](size_t offset, size_t length, httplib::DataSink& sink) {
        return StreamFile(ctx, *file, chunk_size, ByteRange{r.offset + offset, length}, sink);
      });
}

void HandleDelete(GatewayContext* ctx, const httplib::Request& req, httplib::Response& res) {
  auto path = PathFromCapture(req, 1);
  if (!path.ok()) return SetError(res, path.status());
  DeleteRequest dreq;
  dreq.set_path(*path);
  std::string recursive = req.get_param_value("recursive");
  dreq.set_recursive(recursive == "true" || recursive == "1");
  DeleteReply reply;
  absl::Status s = FromGrpcStatus(ctx->master->Delete(MasterCall().get(), dreq, &reply));
  if (!s.ok()) return SetError(res, s);
  SetJson(res, {{"path", *path}, {"deleted", true}});
}

}  // namespace

void RegisterFileRoutes(httplib::Server& server, GatewayContext* ctx) {
  server.Put(kFilesPattern,
             [ctx](const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader) { HandlePut(ctx, req, res, reader); });
  server.Get(kFilesPattern, [ctx](const httplib::Request& req, httplib::Response& res) {
    HandleGet(ctx, req, res);
  });
  server.Delete(kFilesPattern, [ctx](const httplib::Request& req, httplib::Response& res) {
    HandleDelete(ctx, req, res);
  });
}

}  // namespace cairn::gateway
