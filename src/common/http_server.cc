#include "common/http_server.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <regex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/api_errors.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace cairn {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using ErrorCode = beast::error_code;

// Request bodies reach a route, and streamed replies leave it, in pieces of
// up to this size: one handoff between the route's thread and the I/O thread
// per piece.
constexpr size_t kBodyPiece = 256 << 10;
// What a body read waits for before waking (see SetLowWatermark), and the
// most one socket read takes.
constexpr uint64_t kLowWatermark = 64 << 10;
constexpr size_t kBodyRead = 64 << 10;
// Streamed replies up to this size are gathered and sent with their headers
// in one write, and the route's thread does not wait for the client.
constexpr uint64_t kGatherLimit = 256 << 10;
// A body the route did not read is read and dropped up to this much, so the
// client reads the reply instead of a reset; past it the connection closes.
constexpr uint64_t kDrainLimit = 64 << 20;
// A closing connection reads and drops what the client still sends for this
// long (after our reply and FIN), so the reply is not lost to a reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1 << 20;
// Stop waits this long for connections to wind down (a closing one lingers)
// before it cuts the rest.
constexpr absl::Duration kStopGrace = absl::Seconds(3);
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

// The methods of RFC 9110 and PATCH: on a path with no route for them, 405.
// Any other method is 501.
bool KnownMethod(std::string_view m) {
  for (std::string_view known :
       {"GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"}) {
    if (m == known) return true;
  }
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; a '%' without two hex digits stays as it is (routes that
// care reject it, common/path.h CheckPercentEscapes).
std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

void ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    out->emplace_back(PercentDecode(name, true), PercentDecode(value, true));
  }
}

const std::string* Find(const std::vector<std::pair<std::string, std::string>>& v,
                        std::string_view name, bool lower) {
  for (const auto& [k, value] : v) {
    if (lower ? absl::EqualsIgnoreCase(k, ToAbsl(name)) : k == name) return &value;
  }
  return nullptr;
}

// The fixed-size set of threads routes run on.
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() { Stop(); }

  // False once stopped: the task is not run.
  bool Submit(std::function<void()> task) {
    absl::MutexLock lock(&mu_);
    if (stopped_) return false;
    queue_.push_back(std::move(task));
    return true;
  }

  // Runs what is queued, then joins.
  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }

 private:
  void Run() {
    while (true) {
      std::function<void()> task;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](WorkerPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
              return p->stopped_ || !p->queue_.empty();
            },
            this));
        if (queue_.empty()) return;  // stopped
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
};

struct Route {
  std::string method;
  std::regex re;
  HttpHandler handler;
  RouteOptions opts;
};

}  // namespace

// ---- requests and responses ----

std::string HttpRequest::header(std::string_view name) const {
  const std::string* v = Find(headers_, name, /*lower=*/true);
  return v == nullptr ? "" : *v;
}
bool HttpRequest::has_header(std::string_view name) const {
  return Find(headers_, name, true) != nullptr;
}
std::string HttpRequest::param(std::string_view name) const {
  const std::string* v = Find(params_, name, /*lower=*/false);
  return v == nullptr ? "" : *v;
}
bool HttpRequest::has_param(std::string_view name) const {
  return Find(params_, name, false) != nullptr;
}

void HttpResponse::set_header(std::string_view name, std::string value) {
  for (auto& [k, v] : headers_) {
    if (absl::EqualsIgnoreCase(k, ToAbsl(name))) {
      v = std::move(value);
      return;
    }
  }
  headers_.emplace_back(std::string(name), std::move(value));
}
std::string HttpResponse::header(std::string_view name) const {
  const std::string* v = Find(headers_, name, true);
  return v == nullptr ? "" : *v;
}
bool HttpResponse::has_header(std::string_view name) const {
  return Find(headers_, name, true) != nullptr;
}
void HttpResponse::set_content(std::string body, std::string_view content_type) {
  body_ = std::move(body);
  writer_ = nullptr;
  set_header("Content-Type", std::string(content_type));
}
void HttpResponse::set_stream(uint64_t length, std::string_view content_type, BodyWriter writer) {
  body_.clear();
  stream_length_ = length;
  writer_ = std::move(writer);
  set_header("Content-Type", std::string(content_type));
}
void HttpResponse::set_redirect(std::string_view location) {
  status = 302;
  set_header("Location", std::string(location));
}

void SetApiError(HttpResponse& res, const absl::Status& status) {
  ApiError e = ApiErrorFor(status.code());
  nlohmann::json body;
  body["error"] = {{"code", std::string(e.name)},
                   {"message", std::string(ToStd(status.message()))}};
  res.status = e.http_status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

// ---- the server ----

class HttpServer::Impl {
 public:
  class Connection;

  explicit Impl(HttpServerOptions options)
      : opts(std::move(options)), open(std::make_shared<std::atomic<int>>(0)) {}

  void Describe() {
    Metrics* m = opts.metrics;
    if (m == nullptr) return;
    const std::string& p = opts.metrics_prefix;
    m->Describe(p + "_requests_total", Metrics::Type::kCounter,
                "HTTP requests, by route, method and status.");
    m->Describe(p + "_request_duration_seconds", Metrics::Type::kHistogram,
                "HTTP request latency, by route and method.");
    m->Describe(p + "_rejected_requests_total", Metrics::Type::kCounter,
                "Requests refused before their body was read, by the limit that refused them.");
    m->Describe(p + "_timeouts_total", Metrics::Type::kCounter,
                "Connections closed for silence: waiting for a request (idle), inside its header "
                "(header), inside its body (body), or not reading the reply (write).");
    m->Describe(p + "_open_connections", Metrics::Type::kGauge, "Client connections open.",
                /*unlabeled=*/true);
    m->AddCollector([name = p + "_open_connections", open = open](Metrics& m) {
      m.Set(name, "", open->load());
    });
  }
  void Count(std::string_view family, std::string_view label, std::string_view value) {
    if (opts.metrics == nullptr) return;
    opts.metrics->Add(cairn::StrCat(opts.metrics_prefix, family),
                      cairn::StrCat(label, "=\"", value, "\""));
  }
  void Rejected(std::string_view limit) { Count("_rejected_requests_total", "limit", limit); }
  void TimedOut(std::string_view phase) { Count("_timeouts_total", "phase", phase); }
  void Served(const std::string& label, std::string_view method, int status, absl::Time start) {
    double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (opts.metrics != nullptr) {
      // Methods are a closed set in labels, whatever clients send.
      std::string_view m = KnownMethod(method) ? method : "other";
      const std::string& p = opts.metrics_prefix;
      opts.metrics->Add(p + "_requests_total", cairn::StrCat("route=\"", label, "\",method=\"", m,
                                                             "\",code=\"", status, "\""));
      opts.metrics->Observe(p + "_request_duration_seconds",
                            cairn::StrCat("route=\"", label, "\",method=\"", m, "\""), seconds);
    }
    spdlog::debug("{} {} {} {:.3f}s", method, label, status, seconds);
  }

  void Accept();
  void Register(const std::shared_ptr<Connection>& c);
  void Unregister(uint64_t id);

  const HttpServerOptions opts;
  std::vector<Route> routes;
  std::shared_ptr<std::atomic<int>> open;  // shared with the metrics collector
  std::atomic<bool> stopping{false};

  absl::Mutex conns_mu;
  uint64_t next_id ABSL_GUARDED_BY(conns_mu) = 0;
  std::map<uint64_t, std::weak_ptr<Connection>> conns ABSL_GUARDED_BY(conns_mu);

  // Declared after what connections use, so it is destroyed (with the
  // handlers it still holds) before them.
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_retry;
  std::vector<std::thread> io_threads;
  std::unique_ptr<WorkerPool> workers;
};

// One client connection. Its socket's executor is a strand: everything that
// touches the stream runs there, posted by the route's thread when it reads
// the body or writes the reply, and waited for (Await).
class HttpServer::Impl::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Impl* server, tcp::socket socket)
      : server_(server),
        stream_(std::move(socket)),
        buffer_(server->opts.max_header_bytes + (64 << 10)) {
    server_->open->fetch_add(1);
  }
  ~Connection() {
    server_->open->fetch_sub(1);
    server_->Unregister(id_);
  }
  void set_id(uint64_t id) { id_ = id; }
  auto executor() { return stream_.get_executor(); }

  // On the strand.
  void Start(bool over_limit) {
    ErrorCode ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    if (over_limit) {
      server_->Rejected("connections");
      return ReplyError(503, absl::UnavailableError("too many connections; retry later"));
    }
    WaitRequest();
  }

  // From any thread: closes the socket, failing its pending operations.
  void Abort() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      ErrorCode ec;
      self->stream_.socket().close(ec);
    });
  }

 private:
  const HttpServerOptions& opts() const { return server_->opts; }
  static auto Timeout(absl::Duration d) {
    return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
  }

  // Waits, up to the idle timeout, for a request's first byte.
  void WaitRequest() {
    if (server_->stopping) return Close();
    if (buffer_.size() > 0) return ReadHeader();  // pipelined
    buffer_.shrink_to_fit();                      // an idle connection holds little
    SetLowWatermark(1);
    stream_.expires_after(Timeout(opts().idle_timeout));
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = shared_from_this()](ErrorCode ec, size_t n) {
                              self->buffer_.commit(n);
                              if (ec == beast::error::timeout) self->server_->TimedOut("idle");
                              if (ec) return self->Close();
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(opts().max_header_bytes));
    // Routes bound what they read. (Not boost::none: Beast 1.74 compares a
    // Content-Length against it as if none were 0.)
    parser_->body_limit(std::numeric_limits<uint64_t>::max());
    stream_.expires_after(Timeout(opts().header_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](ErrorCode ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(ErrorCode ec) {
    if (ec == beast::error::timeout) {  // the stream has closed the socket
      server_->TimedOut("header");
      return Close();
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      server_->Rejected("header_too_large");
      return ReplyError(
          431, absl::InvalidArgumentError(cairn::StrCat("request header larger than ",
                                                        opts().max_header_bytes, " bytes")));
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == net::error::eof || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset) {
      return Close();
    }
    if (ec == http::error::bad_version) {  // e.g. an HTTP/2 preface, "PRI * HTTP/2.0"
      return ReplyError(505, absl::InvalidArgumentError("only HTTP/1.0 and HTTP/1.1 are served"));
    }
    if (ec) {
      server_->Rejected("malformed");
      return ReplyError(
          400, absl::InvalidArgumentError(cairn::StrCat("malformed request: ", ec.message())));
    }
    start_ = absl::Now();
    auto& h = parser_->get();
    req_ = HttpRequest{};
    req_.method = std::string(h.method_string());
    req_.target = std::string(h.target());
    for (const auto& field : h) {
      std::string name(field.name_string());
      absl::AsciiStrToLower(&name);
      req_.headers_.emplace_back(std::move(name), std::string(field.value()));
    }
    std::string_view target = req_.target;
    size_t q = target.find('?');
    req_.path = PercentDecode(target.substr(0, q), /*plus_is_space=*/false);
    if (q != std::string_view::npos) ParseQuery(target.substr(q + 1), &req_.params_);
    keep_alive_ = h.keep_alive();
    expect_continue_ = absl::EqualsIgnoreCase(ToAbsl(req_.header("expect")), "100-continue");
    continue_sent_ = body_failed_ = false;
    body_read_ = 0;
    route_ = nullptr;
    label_ = "other";

    if (h.version() != 10 && h.version() != 11) {
      return ReplyError(505, absl::InvalidArgumentError("only HTTP/1.0 and HTTP/1.1 are served"));
    }
    if (!KnownMethod(req_.method)) {
      return ReplyError(501, absl::InvalidArgumentError(
                                 cairn::StrCat("method ", req_.method, " is not implemented")));
    }
    std::string allow;
    for (const Route& r : server_->routes) {
      std::smatch m;
      if (!std::regex_match(req_.path, m, r.re)) continue;
      if (r.method == req_.method || (req_.method == "HEAD" && r.method == "GET")) {
        route_ = &r;
        for (const auto& group : m) req_.matches.push_back(group.str());
        break;
      }
      if (allow.find(r.method) == std::string::npos) {
        allow += allow.empty() ? r.method : ", " + r.method;
        if (r.method == "GET") allow += ", HEAD";
      }
    }
    if (route_ == nullptr) {
      if (allow.empty()) {
        return ReplyError(
            404, absl::NotFoundError(cairn::StrCat("no route for ", req_.method, " ", req_.path)));
      }
      HttpResponse res;
      if (req_.method == "OPTIONS") {
        res.status = 204;
      } else {
        SetApiError(res, absl::InvalidArgumentError(cairn::StrCat(
                             "method ", req_.method, " is not allowed on ", req_.path)));
        res.status = 405;
      }
      res.set_header("Allow", allow);
      return Reply(std::move(res));
    }
    label_ = route_->opts.label;
    if (std::string refusal = FrontDoor(); !refusal.empty()) return;
    if (route_->opts.inline_handler && parser_->is_done()) return Serve();
    if (!server_->workers->Submit([self = shared_from_this()] { self->Serve(); })) Close();
  }

  // Refuses, before any body is read, what the route must not see: the limit
  // that refused (and the reply sent), or "" to go on.
  std::string FrontDoor() {
    const bool sized = parser_->content_length().has_value();
    const bool chunked = parser_->chunked();
    std::string limit;
    absl::Status why;
    int http_status = 400;
    std::string coding = req_.header("content-encoding");
    if (!coding.empty() && !absl::EqualsIgnoreCase(ToAbsl(coding), "identity")) {
      limit = "content_encoding";
      why = absl::InvalidArgumentError(cairn::StrCat(
          "Content-Encoding ", coding, " is not accepted: send the bytes as they are stored"));
    } else if (opts().require_length && (req_.method == "PUT" || req_.method == "POST") && !sized &&
               !chunked) {
      limit = "no_length";
      why = absl::InvalidArgumentError(
          cairn::StrCat("a ", req_.method, " needs Content-Length or Transfer-Encoding: chunked"));
    } else if (!route_->opts.stream_body &&
               (chunked || (sized && *parser_->content_length() > opts().max_body_bytes))) {
      limit = "body_too_large";
      http_status = 413;
      why = absl::InvalidArgumentError(cairn::StrCat("request body too large (at most ",
                                                     opts().max_body_bytes,
                                                     " bytes, with Content-Length)"));
    }
    if (!limit.empty()) {
      server_->Rejected(limit);
      ReplyError(http_status, why);  // the body, if any, is not read
    }
    return limit;
  }

  // Runs the route: on a worker, or on the strand for an inline route.
  void Serve() {
    HttpResponse res;
    if (!route_->opts.stream_body) {
      bool whole = ReadBody([this](std::string_view piece) {
        req_.body.append(piece);
        return req_.body.size() <= opts().max_body_bytes;
      });
      if (!whole) {
        SetApiError(res, absl::InvalidArgumentError("request body did not arrive whole"));
        return Finish(std::move(res));
      }
    } else {
      req_.body_reader_ = [this](const std::function<bool(std::string_view)>& piece) {
        return ReadBody(piece);
      };
    }
    try {
      route_->handler(req_, res);
    } catch (const std::exception& e) {
      res = HttpResponse{};
      SetApiError(res, absl::InternalError(cairn::StrCat("handler failed: ", e.what())));
    }
    Finish(std::move(res));
  }

  // After the route: drains what it left of the body, then replies.
  void Finish(HttpResponse res) {
    if (!parser_->is_done()) {
      if (body_failed_ || (expect_continue_ && !continue_sent_)) {
        res.close_ = true;  // the stream is broken, or the client never sent it
      } else {
        uint64_t drained = 0;
        ReadBody([&](std::string_view piece) {
          drained += piece.size();
          return drained <= kDrainLimit;
        });
        if (!parser_->is_done()) res.close_ = true;
      }
    }
    const bool head = req_.method == "HEAD";
    if (res.writer_ && !head &&
        (res.stream_length_ > kGatherLimit && !route_->opts.inline_handler)) {
      return StreamReply(std::move(res));
    }
    if (res.writer_ && !head) {
      std::string body;
      body.reserve(res.stream_length_);
      bool ok = res.writer_([&body](std::string_view piece) {
        body.append(piece);
        return true;
      });
      if (!ok || body.size() != res.stream_length_) {
        // The route failed after choosing its status: drop the connection.
        server_->Served(label_, req_.method, res.status, start_);
        return net::dispatch(stream_.get_executor(),
                             [self = shared_from_this()] { self->Close(); });
      }
      res.body_ = std::move(body);
    }
    Reply(std::move(res));
  }

  // The Beast header of `res`, with Content-Length `length`.
  template <typename Message>
  void FillHeader(Message& msg, HttpResponse& res, uint64_t length) {
    msg.result(static_cast<unsigned>(res.status));
    msg.version(parser_ ? parser_->get().version() : 11);
    for (auto& [name, value] : res.headers_) msg.set(name, value);
    if (res.status != 204 && res.status != 304 && res.status / 100 != 1) {
      msg.content_length(length);
    }
    msg.keep_alive(keep_alive_ && !res.close_ && !server_->stopping);
  }

  // Sends `res` (its whole body in hand) from the strand; the calling thread
  // does not wait.
  void Reply(HttpResponse res) {
    server_->Served(label_, req_.method, res.status, start_);
    const uint64_t length = res.writer_ ? res.stream_length_ : res.body_.size();
    if (req_.method == "HEAD") {  // the headers of the GET, no body
      auto msg = std::make_shared<http::response<http::empty_body>>();
      FillHeader(*msg, res, length);
      return Send(std::move(msg));
    }
    auto msg = std::make_shared<http::response<http::string_body>>();
    FillHeader(*msg, res, length);
    msg->body() = std::move(res.body_);
    Send(std::move(msg));
  }

  template <typename Body>
  void Send(std::shared_ptr<http::response<Body>> msg) {
    const bool again = msg->keep_alive();
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), msg, again] {
      self->stream_.expires_after(Timeout(self->opts().idle_timeout));
      http::async_write(self->stream_, *msg, [self, msg, again](ErrorCode ec, size_t) {
        if (ec == beast::error::timeout) self->server_->TimedOut("write");
        if (ec || !again) return self->Close();
        self->WaitRequest();
      });
    });
  }

  // An error reply of the server's own, then the connection closes.
  void ReplyError(int http_status, const absl::Status& why) {
    HttpResponse res;
    SetApiError(res, why);
    res.status = http_status;
    res.close_ = true;
    Reply(std::move(res));
  }

  // Writes the headers, then the body as the route produces it (on a worker).
  void StreamReply(HttpResponse res) {
    http::response<http::empty_body> msg;
    FillHeader(msg, res, res.stream_length_);
    const bool again = msg.keep_alive();
    http::response_serializer<http::empty_body> sr{msg};
    ErrorCode ec = Await([&](auto done) {
      stream_.expires_after(Timeout(opts().idle_timeout));
      http::async_write_header(stream_, sr, done);
    });
    uint64_t sent = 0;
    bool ok = !ec && res.writer_([&](std::string_view piece) {
      ec = Await([&](auto done) {
        stream_.expires_after(Timeout(opts().idle_timeout));
        net::async_write(stream_, net::buffer(piece.data(), piece.size()), done);
      });
      sent += piece.size();
      return !ec;
    });
    if (ec == beast::error::timeout) server_->TimedOut("write");
    server_->Served(label_, req_.method, res.status, start_);
    ok = ok && sent == res.stream_length_;
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), again = ok && again] {
      if (!again) return self->Close();
      self->WaitRequest();
    });
  }

  // Reads the body in pieces through `piece` (on a worker, or the strand
  // when the body is already complete). See HttpRequest::ReadBody.
  bool ReadBody(const std::function<bool(std::string_view)>& piece) {
    if (body_failed_) return false;
    if (parser_->is_done()) return true;
    if (expect_continue_ && !continue_sent_) {
      continue_sent_ = true;
      ErrorCode ec = Await([&](auto done) {
        stream_.expires_after(Timeout(opts().idle_timeout));
        net::async_write(stream_, net::buffer(kContinue, sizeof(kContinue) - 1), done);
      });
      if (ec) return Failed(ec);
    }
    if (piece_ == nullptr) piece_ = std::make_unique<char[]>(kBodyPiece);
    while (!parser_->is_done()) {
      size_t got = 0;
      ErrorCode ec = Await([&](auto done) { FillPiece(&got, std::move(done)); });
      body_read_ += got;
      if (got > 0 && !piece(std::string_view(piece_.get(), got))) return false;
      if (ec) return Failed(ec);
    }
    return true;
  }

  bool Failed(ErrorCode ec) {
    if (ec == beast::error::timeout) server_->TimedOut("body");
    body_failed_ = true;
    return false;
  }

  // The socket is readable only once `bytes` are in (SO_RCVLOWAT): while a
  // sized body streams in, a read waits for a useful amount instead of
  // waking (a reactor wake-up, a timer update and a read) for every segment.
  void SetLowWatermark(int bytes) {
    if (bytes == low_watermark_) return;
    ErrorCode ec;
    stream_.socket().set_option(net::socket_base::receive_low_watermark(bytes), ec);
    if (!ec) low_watermark_ = bytes;
  }

  // On the strand: reads body bytes into piece_ until it is full, the body
  // ends, or the client stops; each read waits up to the idle timeout.
  template <typename Done>
  void FillPiece(size_t* got, Done done) {
    auto& body = parser_->get().body();
    body.data = piece_.get() + *got;
    body.size = kBodyPiece - *got;
    // A socket read takes at most the buffer's free capacity, which is 1 KiB
    // after an idle wait (WaitRequest shrinks it): a 1 GiB body then took a
    // million reads and ~12 gateway CPU-seconds.
    if (buffer_.capacity() < kBodyRead) buffer_.reserve(kBodyRead);
    // Bytes of a sized body still to come from the socket (some may be
    // buffered already): never wait for more than will arrive.
    if (const auto length = parser_->content_length(); length.has_value()) {
      const uint64_t have = body_read_ + *got + buffer_.size();
      const uint64_t left = *length > have ? *length - have : 0;
      SetLowWatermark(static_cast<int>(std::clamp<uint64_t>(left, 1, kLowWatermark)));
    }
    stream_.expires_after(Timeout(opts().idle_timeout));
    http::async_read_some(
        stream_, buffer_, *parser_,
        [self = shared_from_this(), got, done = std::move(done)](ErrorCode ec, size_t) mutable {
          *got = kBodyPiece - self->parser_->get().body().size;
          if (self->parser_->is_done() || ec) self->SetLowWatermark(1);
          if (ec == http::error::need_buffer) ec = {};  // piece_ is full
          if (ec || self->parser_->is_done() || *got == kBodyPiece ||
              (*got > 0 && self->buffer_.size() == 0 && *got >= (64 << 10))) {
            return done(ec, 0);
          }
          self->FillPiece(got, std::move(done));
        });
  }

  // Runs `initiate(done)` on the strand and waits for `done` (a route's
  // thread; never the strand itself).
  template <typename Initiate>
  ErrorCode Await(Initiate initiate) {
    std::promise<ErrorCode> result;
    std::future<ErrorCode> f = result.get_future();
    net::dispatch(stream_.get_executor(),
                  [&] { initiate([&result](ErrorCode ec, size_t) { result.set_value(ec); }); });
    return f.get();
  }

  // Closes gracefully: our FIN, then what the client still sends is read and
  // dropped for a moment, so it reads our last reply instead of a reset.
  void Close() {
    ErrorCode ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      stream_.socket().close(ec);
      return;
    }
    linger_ = std::make_unique<char[]>(4096);
    lingered_ = 0;
    stream_.expires_after(kLingerTime);
    Linger();
  }
  void Linger() {
    stream_.async_read_some(net::buffer(linger_.get(), 4096),
                            [self = shared_from_this()](ErrorCode ec, size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > kLingerBytes) {
                                ErrorCode ignored;
                                self->stream_.socket().close(ignored);
                                return;
                              }
                              self->Linger();
                            });
  }

  Impl* const server_;
  uint64_t id_ = 0;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::unique_ptr<char[]> piece_;  // while a body is read
  std::unique_ptr<char[]> linger_;
  size_t lingered_ = 0;

  // The request being served.
  HttpRequest req_;
  const Route* route_ = nullptr;
  std::string label_ = "other";
  absl::Time start_;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  bool body_failed_ = false;
  uint64_t body_read_ = 0;  // body bytes handed to the route so far
  int low_watermark_ = 1;   // the socket's SO_RCVLOWAT
};

void HttpServer::Impl::Register(const std::shared_ptr<Connection>& c) {
  absl::MutexLock lock(&conns_mu);
  uint64_t id = ++next_id;
  c->set_id(id);
  conns[id] = c;
}

void HttpServer::Impl::Unregister(uint64_t id) {
  absl::MutexLock lock(&conns_mu);
  conns.erase(id);
}

void HttpServer::Impl::Accept() {
  acceptor->async_accept(net::make_strand(ioc), [this](ErrorCode ec, tcp::socket socket) {
    if (stopping) return;
    if (ec) {
      // Out of descriptors, most likely: try again shortly rather than spin.
      spdlog::warn("http accept: {}", ec.message());
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](ErrorCode) {
        if (!stopping) Accept();
      });
      return;
    }
    const bool over_limit = open->load() >= opts.max_connections;
    auto c = std::make_shared<Connection>(this, std::move(socket));
    Register(c);
    net::dispatch(c->executor(), [c, over_limit] { c->Start(over_limit); });
    Accept();
  });
}

// ---- HttpServer ----

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(); }

std::string HttpServer::LabelOf(const std::string& pattern) {
  return pattern.substr(0, pattern.find_first_of("([{.*+?^$|\\"));
}

namespace {
void AddRoute(std::vector<Route>& routes, std::string method, const std::string& pattern,
              HttpHandler handler, RouteOptions opts) {
  if (opts.label.empty()) opts.label = HttpServer::LabelOf(pattern);
  routes.push_back(
      Route{std::move(method), std::regex(pattern), std::move(handler), std::move(opts)});
}
}  // namespace

void HttpServer::Get(const std::string& pattern, HttpHandler handler, RouteOptions opts) {
  AddRoute(impl_->routes, "GET", pattern, std::move(handler), std::move(opts));
}
void HttpServer::Put(const std::string& pattern, HttpHandler handler, RouteOptions opts) {
  AddRoute(impl_->routes, "PUT", pattern, std::move(handler), std::move(opts));
}
void HttpServer::Post(const std::string& pattern, HttpHandler handler, RouteOptions opts) {
  AddRoute(impl_->routes, "POST", pattern, std::move(handler), std::move(opts));
}
void HttpServer::Delete(const std::string& pattern, HttpHandler handler, RouteOptions opts) {
  AddRoute(impl_->routes, "DELETE", pattern, std::move(handler), std::move(opts));
}

absl::StatusOr<HostPort> HttpServer::Start(std::string_view listen, bool announce) {
  Impl& s = *impl_;
  ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(listen));
  ErrorCode ec;
  auto address = net::ip::make_address(hp.host, ec);
  if (ec) return absl::InvalidArgumentError(cairn::StrCat("bad listen address ", listen));
  tcp::endpoint endpoint(address, static_cast<uint16_t>(hp.port));
  s.acceptor.emplace(net::make_strand(s.ioc));
  s.accept_retry.emplace(s.acceptor->get_executor());
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(cairn::StrCat("cannot listen on ", listen, ": ", ec.message()));
  }
  hp.port = s.acceptor->local_endpoint().port();
  s.Describe();
  s.workers = std::make_unique<WorkerPool>(s.opts.worker_threads);
  s.work.emplace(s.ioc.get_executor());
  net::dispatch(s.acceptor->get_executor(), [&s] { s.Accept(); });
  for (int i = 0; i < std::max(1, s.opts.io_threads); ++i) {
    s.io_threads.emplace_back([&s] { s.ioc.run(); });
  }
  if (announce) AnnounceListening("http", hp.host, hp.port);
  return hp;
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (s.io_threads.empty() || s.stopping.exchange(true)) return;
  // On the acceptor's strand, where accepted connections register: one
  // accepted before this is aborted here, one after sees `stopping`.
  net::post(s.acceptor->get_executor(), [&s] {
    ErrorCode ec;
    s.acceptor->close(ec);
    s.accept_retry->cancel();
    // Collected first: the last reference to a connection may drop here, and
    // its destructor unregisters it under conns_mu.
    std::vector<std::shared_ptr<Impl::Connection>> live;
    {
      absl::MutexLock lock(&s.conns_mu);
      for (auto& [id, weak] : s.conns) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) c->Abort();
  });
  s.workers->Stop();  // running routes finish; their I/O fails at once
  s.work.reset();
  // The aborts run on the I/O threads, which return once every connection has
  // wound down. Stopping the loop before that would leave sockets open (the
  // closes queued, never run) until the server is destroyed.
  const absl::Time deadline = absl::Now() + kStopGrace;
  while (!s.ioc.stopped() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  s.ioc.stop();
  for (std::thread& t : s.io_threads) t.join();
}

// ---- status routes ----

void AddStatusRoutes(HttpServer& server, std::function<absl::Status()> ready, Metrics* metrics) {
  server.Get("/health",
             [](const HttpRequest&, HttpResponse& res) {
               res.set_content("{\"status\":\"ok\"}\n", "application/json");
             },
             {.inline_handler = true});
  server.Get("/ready", [ready](const HttpRequest&, HttpResponse& res) {
    absl::Status s = ready();
    if (s.ok()) {
      res.set_content("{\"status\":\"ready\"}\n", "application/json");
    } else {
      res.status = 503;
      res.set_content(cairn::StrCat("{\"status\":\"not ready\",\"reason\":\"",
                                    EscapeLabel(ToStd(s.message())), "\"}\n"),
                      "application/json");
    }
  });
  server.Get("/metrics",
             [metrics](const HttpRequest&, HttpResponse& res) {
               res.set_content(metrics->Render(), "text/plain; version=0.0.4");
             },
             {.inline_handler = true});
}

}  // namespace cairn
