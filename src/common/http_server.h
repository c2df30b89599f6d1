// HttpServer: the daemons' HTTP/1.1 server, event-driven on Boost.Beast/Asio.
//
// A few I/O threads hold every connection: accepting, waiting for requests,
// reading headers, enforcing the limits and timeouts below. A connection that
// is idle or sending its header slowly costs a few KiB and no thread. Once a
// whole header has arrived and passed the front door, the route runs on one
// of `worker_threads` (routes block on gRPC); routes marked `inline_handler`
// (/health, /metrics) run on the I/O thread, so they never wait behind data
// traffic. A connection silent past idle_timeout, or whose header is not
// whole within header_timeout, is closed. Bodies stream in pieces of up to kBodyPiece bytes in both
// directions; a buffered request body is bounded by `max_body_bytes`.
//
// What the server answers itself, each an API error reply
// {"error":{"code","message"}} (common/api_errors.h) and each counted in
// metrics when options.metrics is set:
//   400  malformed request, Content-Encoding other than identity, and (with
//        require_length) a PUT or POST with neither Content-Length nor
//        Transfer-Encoding: chunked (RFC 9112 §6.3: it has no body)
//   404  no route for the path; 405 (with Allow) a route for the path but not
//        the method; 501 a method the server does not know; 505 not HTTP/1.x
//   413  a buffered body (JSON routes) larger than max_body_bytes, or chunked
//   431  a header larger than max_header_bytes (then closed)
//   503  beyond max_connections open connections (then closed)
// HEAD is served by GET routes without the body. Pipelined requests are
// answered in order. Range, Expect and the body's media type mean nothing to
// the server: a route reads them if it wants to (Expect: 100-continue is
// answered when the route first reads the body).
//
// Thread safety: add routes before Start(); Start() and Stop() from one thread.
#ifndef CAIRN_COMMON_HTTP_SERVER_H_
#define CAIRN_COMMON_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "common/net.h"

namespace cairn {

// A request as a route sees it. Valid for the handler call only.
class HttpRequest {
 public:
  using BodyReader = std::function<bool(const std::function<bool(std::string_view)>&)>;

  std::string method;  // as sent: "GET", "PUT", ...
  std::string target;  // the raw request-target: "/api/v1/files/a%20b?x=1"
  std::string path;    // the target's path, percent-decoded: "/api/v1/files/a b"
  // The route pattern's match over `path`: [0] all of it, [i] group i.
  std::vector<std::string> matches;
  // The whole body, for routes that buffer it (RouteOptions::stream_body false).
  std::string body;

  // Header value by case-insensitive name; "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // Query parameter, percent-decoded ('+' is a space); "" when absent.
  std::string param(std::string_view name) const;
  bool has_param(std::string_view name) const;

  // Streams the body (routes with stream_body): calls `piece` with each part in
  // order until the end. True when the whole body arrived and `piece` never
  // returned false; false when the client went away, stalled past the idle
  // timeout, or sent a malformed chunked body (the route must then not act on
  // what it got). A body not read to the end by the route is drained (up to
  // a bound) or the connection closed after the reply.
  bool ReadBody(const std::function<bool(std::string_view)>& piece) const {
    return body_reader_ ? body_reader_(piece) : true;
  }

  // For the server.
  std::vector<std::pair<std::string, std::string>> headers_;  // names lower-case
  std::vector<std::pair<std::string, std::string>> params_;
  BodyReader body_reader_;
};

class HttpResponse {
 public:
  // Writes one piece of a streamed body; false when the client is gone.
  using Sink = std::function<bool(std::string_view)>;
  // Writes a streamed body through `sink`; false aborts (the connection drops,
  // so the client sees a short body rather than a wrong one).
  using BodyWriter = std::function<bool(const Sink& sink)>;

  int status = 200;

  void set_header(std::string_view name, std::string value);
  std::string header(std::string_view name) const;  // "" when absent
  bool has_header(std::string_view name) const;
  void set_content(std::string body, std::string_view content_type);
  // A body of exactly `length` bytes, written after the headers by `writer`.
  void set_stream(uint64_t length, std::string_view content_type, BodyWriter writer);
  void set_redirect(std::string_view location);  // 302
  // Closes the connection after this reply.
  void close_connection() { close_ = true; }

  // For the server.
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
  uint64_t stream_length_ = 0;
  BodyWriter writer_;
  bool close_ = false;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

struct RouteOptions {
  // The route's label in metrics; by default the pattern's literal prefix
  // ("/api/v1/files" for "/api/v1/files(.*)"), so a label never carries a
  // file path (an unbounded label).
  std::string label;
  // Stream the request body through ReadBody (any size), instead of reading
  // it into HttpRequest::body before the handler runs (max_body_bytes).
  bool stream_body = false;
  // Run on the I/O thread: only for handlers that never block and take no body.
  bool inline_handler = false;
};

struct HttpServerOptions {
  int io_threads = 2;
  int worker_threads = 64;  // routes running at once; more requests wait
  uint64_t max_header_bytes = 16 << 10;
  uint64_t max_body_bytes = 64 << 10;  // buffered bodies
  int max_connections = 10000;
  absl::Duration header_timeout = absl::Seconds(10);
  // A keep-alive connection waiting for its next request, and a client that
  // sends no body byte or reads no reply byte for this long, are closed.
  absl::Duration idle_timeout = absl::Seconds(60);
  // PUT and POST need Content-Length or Transfer-Encoding: chunked.
  bool require_length = false;
  // Counts requests and limits hit as <metrics_prefix>_requests_total{route,
  // method,code}, _request_duration_seconds{route,method},
  // _rejected_requests_total{limit}, _timeouts_total{phase} and the gauge
  // _open_connections. Not owned; must outlive the server.
  Metrics* metrics = nullptr;
  std::string metrics_prefix;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes: `pattern` is a regex over the whole decoded path. The first added
  // route that matches the path and the method serves the request.
  // REQUIRES: not started.
  void Get(const std::string& pattern, HttpHandler handler, RouteOptions opts = {});
  void Put(const std::string& pattern, HttpHandler handler, RouteOptions opts = {});
  void Post(const std::string& pattern, HttpHandler handler, RouteOptions opts = {});
  void Delete(const std::string& pattern, HttpHandler handler, RouteOptions opts = {});

  // Binds `listen` (port 0 picks one), announces it as "http", starts serving.
  absl::StatusOr<HostPort> Start(std::string_view listen, bool announce = true);
  // Stops accepting, closes every connection, waits for running handlers.
  void Stop();

  // The literal prefix of a route pattern: up to its first regex operator.
  static std::string LabelOf(const std::string& pattern);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Adds /health (always 200 while serving, answered on the I/O thread),
// /ready (200 when `ready()` is OK, else 503 with the reason) and /metrics.
void AddStatusRoutes(HttpServer& server, std::function<absl::Status()> ready, Metrics* metrics);

// Sets `res` to the API error reply for `status` (common/api_errors.h).
void SetApiError(HttpResponse& res, const absl::Status& status);

}  // namespace cairn

#endif  // CAIRN_COMMON_HTTP_SERVER_H_
