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
  Uploader uploader(ctx->master.get(), &ctx->io, &ctx->buffers, opts);
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

// httplib applies a request's Range to every response that has a body or a
// sized content provider, error bodies included. This route answers Range
// itself (206, 416 with JSON), so each of its bodies goes out through an
// unsized provider under a Content-Length of our own, which httplib leaves
// alone.
void SetUnrangedBody(httplib::Response& res, uint64_t length,
                     std::function<bool(httplib::DataSink&)> write) {
  std::string type = res.get_header_value("Content-Type");
  if (type.empty()) type = "application/octet-stream";
  res.headers.erase("Content-Type");
  res.body.clear();
  res.set_header("Content-Length", std::to_string(length));
  res.set_content_provider(type.c_str(),
                           [write = std::move(write)](size_t, httplib::DataSink& sink) {
                             if (!write(sink)) return false;  // drops the connection
                             sink.done();
                             return true;
                           });
}

void SetUnrangedError(httplib::Response& res, const absl::Status& status) {
  SetError(res, status);
  auto body = std::make_shared<std::string>(std::move(res.body));
  SetUnrangedBody(res, body->size(), [body](httplib::DataSink& sink) {
    return sink.write(body->data(), body->size());
  });
}

void HandleGet(GatewayContext* ctx, const httplib::Request& req, httplib::Response& res) {
  auto path = PathFromCapture(req, 1);
  if (!path.ok()) return SetUnrangedError(res, path.status());
  auto download = std::make_shared<Downloader>(ctx->master.get(), &ctx->io, *path);
  if (absl::Status s = download->Open(); !s.ok()) return SetUnrangedError(res, s);
  const Entry& e = download->entry();
  const uint64_t size = download->size();
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
    return SetUnrangedError(res, absl::OutOfRangeError(range.status().message()));
  }
  ByteRange r{0, size};
  res.status = 200;
  if (range->has_value()) {
    r = **range;
    res.status = 206;
    res.set_header("Content-Range",
                   cairn::StrCat("bytes ", r.offset, "-", r.offset + r.length - 1, "/", size));
  }
  SetUnrangedBody(res, r.length, [ctx, download, r](httplib::DataSink& sink) {
    // An error after the headers drops the connection: the client sees a short body.
    return download
        ->Read(r,
               [&](std::string_view piece) {
                 ctx->metrics.Add("cairn_gateway_downloaded_bytes_total", "",
                                  static_cast<double>(piece.size()));
                 return sink.write(piece.data(), piece.size());
               })
        .ok();
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
  absl::Status s = FromGrpcStatus(ctx->master->Unary(&Master::StubInterface::Delete, dreq, &reply));
  if (!s.ok()) return SetError(res, s);
  SetJson(res, {{"path", *path}, {"deleted", true}});
}

}  // namespace

void RegisterFileRoutes(Router& router, GatewayContext* ctx) {
  router.Put(kFilesPattern,
             [ctx](const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader) { HandlePut(ctx, req, res, reader); });
  router.Get(kFilesPattern, [ctx](const httplib::Request& req, httplib::Response& res) {
    HandleGet(ctx, req, res);
  });
  router.Delete(kFilesPattern, [ctx](const httplib::Request& req, httplib::Response& res) {
    HandleDelete(ctx, req, res);
  });
}

}  // namespace cairn::gateway
