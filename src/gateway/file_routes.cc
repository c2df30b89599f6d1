// PUT/GET/HEAD/DELETE /api/v1/files/{path}: streaming upload and download.
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "gateway/downloader.h"
#include "gateway/http_util.h"
#include "gateway/routes.h"
#include "gateway/uploader.h"

namespace cairn::gateway {
namespace {

constexpr char kFilesPattern[] = R"(/api/v1/files([\s\S]*))";

std::string ETagOf(const Entry& e) { return cairn::StrCat("\"", e.file().sha256(), "\""); }

void ReplyCommitted(GatewayContext* ctx, const Entry& entry, HttpResponse& res) {
  ctx->metrics.Add("cairn_gateway_uploaded_bytes_total", "",
                   static_cast<double>(entry.file().length()));
  res.set_header("ETag", ETagOf(entry));
  res.set_header("X-Checksum-Sha256", entry.file().sha256());
  SetJson(res,
          {{"path", entry.path()},
           {"size", entry.file().length()},
           {"chunks", entry.file().extents_size()},
           {"sha256", entry.file().sha256()}},
          201);
}

// A small file: its whole body, then one record of a shared pack chunk.
void PutPacked(GatewayContext* ctx, const HttpRequest& req, const UploadOptions& opts,
               HttpResponse& res) {
  std::string body;
  body.reserve(opts.expected_length);
  bool too_long = false;
  bool received = req.ReadBody([&](std::string_view piece) {
    too_long = piece.size() > opts.expected_length - body.size();
    if (!too_long) body.append(piece);
    return !too_long;
  });
  if (too_long)
    return SetApiError(res, absl::InvalidArgumentError("body longer than Content-Length"));
  if (!received || body.size() != opts.expected_length) {
    return SetApiError(res, absl::InvalidArgumentError("request body ended early"));
  }
  auto entry = ctx->pack->Put(opts.path, opts.if_none_match, body, Sha256Hex(body));
  if (!entry.ok()) return SetApiError(res, entry.status());
  ReplyCommitted(ctx, *entry, res);
}

void HandlePut(GatewayContext* ctx, const HttpRequest& req, HttpResponse& res) {
  // On an error before the body is read, the server drains the rest of it
  // (bounded) so the client reads our reply, or closes the connection.
  auto path = PathFromCapture(req, 1);
  if (!path.ok()) return SetApiError(res, path.status());
  UploadOptions opts;
  opts.path = *path;
  std::string inm = req.header("If-None-Match");
  if (inm == "*") {
    opts.if_none_match = true;
  } else if (!inm.empty()) {
    return SetApiError(res, absl::InvalidArgumentError("If-None-Match on upload supports only *"));
  }
  if (req.has_header("Content-Length") &&
      !absl::SimpleAtoi(ToAbsl(req.header("Content-Length")), &opts.expected_length)) {
    return SetApiError(res, absl::InvalidArgumentError("Content-Length is not a number"));
  }
  if (ctx->pack != nullptr && req.has_header("Content-Length") && opts.expected_length > 0 &&
      opts.expected_length <= ctx->small_file_max && opts.replication == 0 &&
      opts.expected_length <= ctx->pack->MaxFileBytes()) {
    return PutPacked(ctx, req, opts, res);
  }
  Uploader uploader(ctx->master.get(), &ctx->io, &ctx->buffers, opts);
  absl::Status s = uploader.Start();
  if (!s.ok()) return SetApiError(res, s);
  bool received = req.ReadBody([&](std::string_view piece) {
    s = uploader.Write(piece);
    return s.ok();
  });
  if (!s.ok()) return SetApiError(res, s);
  if (!received) return SetApiError(res, absl::InvalidArgumentError("request body ended early"));
  auto entry = uploader.Finish();
  if (!entry.ok()) return SetApiError(res, entry.status());
  ReplyCommitted(ctx, *entry, res);
}

void HandleGet(GatewayContext* ctx, const HttpRequest& req, HttpResponse& res) {
  auto path = PathFromCapture(req, 1);
  if (!path.ok()) return SetApiError(res, path.status());
  auto download = std::make_shared<Downloader>(ctx->master.get(), &ctx->io, *path);
  if (absl::Status s = download->Open(); !s.ok()) return SetApiError(res, s);
  const Entry& e = download->entry();
  const uint64_t size = download->size();
  std::string etag = ETagOf(e);
  res.set_header("ETag", etag);
  res.set_header("X-Checksum-Sha256", e.file().sha256());
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("Last-Modified",
                 absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::FromUnixMillis(e.mtime_ms()),
                                  absl::UTCTimeZone()));
  if (req.header("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  auto range = ParseRange(req.header("Range"), size);
  if (!range.ok()) {
    res.set_header("Content-Range", cairn::StrCat("bytes */", size));
    return SetApiError(res, absl::OutOfRangeError(range.status().message()));
  }
  ByteRange r{0, size};
  res.status = 200;
  if (range->has_value()) {
    r = **range;
    res.status = 206;
    res.set_header("Content-Range",
                   cairn::StrCat("bytes ", r.offset, "-", r.offset + r.length - 1, "/", size));
  }
  res.set_stream(r.length, "application/octet-stream",
                 [ctx, download, r](const HttpResponse::Sink& sink) {
                   // An error after the headers drops the connection: the
                   // client sees a short body.
                   return download
                       ->Read(r,
                              [&](std::string_view piece) {
                                ctx->metrics.Add("cairn_gateway_downloaded_bytes_total", "",
                                                 static_cast<double>(piece.size()));
                                return sink(piece);
                              })
                       .ok();
                 });
}

void HandleDelete(GatewayContext* ctx, const HttpRequest& req, HttpResponse& res) {
  auto path = PathFromCapture(req, 1);
  if (!path.ok()) return SetApiError(res, path.status());
  DeleteRequest dreq;
  dreq.set_path(*path);
  std::string recursive = req.param("recursive");
  dreq.set_recursive(recursive == "true" || recursive == "1");
  DeleteReply reply;
  absl::Status s = FromGrpcStatus(ctx->master->Unary(&Master::StubInterface::Delete, dreq, &reply));
  if (!s.ok()) return SetApiError(res, s);
  SetJson(res, {{"path", *path}, {"deleted", true}});
}

}  // namespace

void RegisterFileRoutes(HttpServer& http, GatewayContext* ctx) {
  http.Put(kFilesPattern,
           [ctx](const HttpRequest& req, HttpResponse& res) { HandlePut(ctx, req, res); },
           {.stream_body = true});
  http.Get(kFilesPattern,
           [ctx](const HttpRequest& req, HttpResponse& res) { HandleGet(ctx, req, res); });
  http.Delete(kFilesPattern,
              [ctx](const HttpRequest& req, HttpResponse& res) { HandleDelete(ctx, req, res); });
}

}  // namespace cairn::gateway
