// HttpServer through real sockets on 127.0.0.1: routing, the protocol cases
// httplib got wrong (pipelining, unknown methods, Range left to routes), the
// limits and timeouts, streamed bodies both ways, and that /health is answered
// while every worker is busy and many clients hold half-sent headers.
#include "common/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/strings.h"
#include "test_util.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A client socket with a receive timeout, so a missing reply fails the test
// instead of hanging it.
class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }
  void HalfClose() { shutdown(fd_, SHUT_WR); }

  void Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  // One reply: the status line and headers, then a Content-Length body.
  // "" when the connection closed (or timed out) first.
  std::string ReadReply() {
    while (pending_.find("\r\n\r\n") == std::string::npos) {
      if (!Fill()) return "";
    }
    size_t head_end = pending_.find("\r\n\r\n") + 4;
    std::string head = pending_.substr(0, head_end);
    size_t length = 0;
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(tolower(c));
    if (size_t at = lower.find("content-length:"); at != std::string::npos) {
      length = std::stoul(head.substr(at + 15));
    }
    while (pending_.size() < head_end + length) {
      if (!Fill()) return "";
    }
    std::string reply = pending_.substr(0, head_end + length);
    pending_.erase(0, head_end + length);
    return reply;
  }

  // The header block only (a HEAD reply carries a length but no body).
  std::string ReadHead() {
    while (pending_.find("\r\n\r\n") == std::string::npos) {
      if (!Fill()) return "";
    }
    size_t head_end = pending_.find("\r\n\r\n") + 4;
    std::string head = pending_.substr(0, head_end);
    pending_.erase(0, head_end);
    return head;
  }

  // True once the server has closed the connection (EOF or reset) within
  // `wait`; what arrives before that is dropped.
  bool ClosedWithin(absl::Duration wait) {
    absl::Time deadline = absl::Now() + wait;
    while (absl::Now() < deadline) {
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  bool Fill() {
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

// Polls `done` every few milliseconds until it holds or 10 s pass; its last value.
bool PollUntil(const std::function<bool()>& done) {
  for (absl::Time deadline = absl::Now() + absl::Seconds(10); absl::Now() < deadline;) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

std::string BodyOf(const std::string& reply) { return reply.substr(reply.find("\r\n\r\n") + 4); }

class HttpServerTest : public ::testing::Test {
 protected:
  // Starts the server with `opts` (metrics added) and the test's routes.
  void Start(HttpServerOptions opts = {}) {
    opts.metrics = &metrics_;
    opts.metrics_prefix = "test";
    opts.worker_threads = opts.worker_threads == 64 ? 4 : opts.worker_threads;
    server_ = std::make_unique<HttpServer>(opts);
    server_->Get(R"(/echo/(.*))", [](const HttpRequest& req, HttpResponse& res) {
      res.set_content(cairn::StrCat(req.method, " ", req.matches[1], " q=", req.param("q"),
                                    " range=", req.header("range")),
                      "text/plain");
    });
    server_->Put(R"(/upload/(.*))",
                 [this](const HttpRequest& req, HttpResponse& res) {
                   std::string got;
                   size_t pieces = 0;
                   bool whole = req.ReadBody([&](std::string_view piece) {
                     got.append(piece);
                     ++pieces;
                     return true;
                   });
                   uploads_.fetch_add(1);
                   res.status = whole ? 201 : 400;
                   res.set_content(cairn::StrCat(whole ? "whole " : "short ", got.size()),
                                   "text/plain");
                   last_upload_ = got;
                 },
                 {.stream_body = true});
    server_->Put("/refuse", [](const HttpRequest&, HttpResponse& res) { res.status = 409; },
                 {.stream_body = true});
    server_->Post("/json", [](const HttpRequest& req, HttpResponse& res) {
      res.set_content(cairn::StrCat("json ", req.body), "text/plain");
    });
    server_->Get("/big", [](const HttpRequest& req, HttpResponse& res) {
      uint64_t size = std::stoull(req.param("size"));
      bool fail = req.has_param("fail");
      res.set_stream(size, "application/octet-stream",
                     [size, fail](const HttpResponse::Sink& sink) {
                       std::string piece(1 << 20, 'x');
                       for (uint64_t sent = 0; sent < size;) {
                         if (fail && sent >= size / 2) return false;
                         size_t n = std::min<uint64_t>(piece.size(), size - sent);
                         if (!sink(std::string_view(piece.data(), n))) return false;
                         sent += n;
                       }
                       return true;
                     });
    });
    server_->Get("/block", [this](const HttpRequest&, HttpResponse& res) {
      blocked_.fetch_add(1);
      release_.WaitForNotification();
      res.set_content("released", "text/plain");
    });
    AddStatusRoutes(
        *server_, [] { return absl::OkStatus(); }, &metrics_);
    auto hp = server_->Start("127.0.0.1:0", /*announce=*/false);
    ASSERT_TRUE(hp.ok()) << hp.status();
    port_ = hp->port;
  }

  void TearDown() override {
    if (!release_.HasBeenNotified()) release_.Notify();
    if (server_) server_->Stop();
  }

  std::string Get(std::string_view target) {
    Client c(port_);
    c.Send(cairn::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n\r\n"));
    return c.ReadReply();
  }

  double Metric(std::string_view name_and_labels) {
    return testing::MetricValue(metrics_, std::string(name_and_labels), 0);
  }

  Metrics metrics_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::atomic<int> uploads_{0};
  std::atomic<int> blocked_{0};
  std::string last_upload_;
  absl::Notification release_;
};

TEST_F(HttpServerTest, RoutesByDecodedPathAndPassesCapturesAndQuery) {
  Start();
  std::string r = Get("/echo/a%20b?q=x+y%21");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(BodyOf(r), "GET a b q=x y! range=");
  EXPECT_GE(Metric(R"(test_requests_total{route="/echo/",method="GET",code="200"})"), 1);
}

TEST_F(HttpServerTest, ErrorsAreApiErrorReplies) {
  Start();
  std::string r = Get("/nothing/here");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(BodyOf(r), HasSubstr(R"("code":"NOT_FOUND")"));
}

TEST_F(HttpServerTest, PipelinedRequestsAreAllAnsweredInOrder) {
  Start();
  Client c(port_);
  c.Send(
      "GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /echo/2 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
      "GET /echo/3 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(BodyOf(c.ReadReply()), StartsWith("GET 1 "));
  EXPECT_THAT(BodyOf(c.ReadReply()), StartsWith("GET 2 "));
  EXPECT_EQ(BodyOf(c.ReadReply()), "json {}");
  EXPECT_THAT(BodyOf(c.ReadReply()), StartsWith("GET 3 "));
}

TEST_F(HttpServerTest, UnknownMethodIs501AndAMethodTheRouteLacksIs405WithAllow) {
  Start();
  Client c(port_);
  c.Send("PATCH /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = c.ReadReply();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(r, HasSubstr("Allow: GET, HEAD"));
  Client brew(port_);
  brew.Send("BREW /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(brew.ReadReply(), StartsWith("HTTP/1.1 501"));
  Client prior(port_);  // an HTTP/2 client's preface
  prior.Send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  std::string p = prior.ReadReply();
  EXPECT_THAT(p, StartsWith("HTTP/1.1 505"));
  EXPECT_TRUE(prior.ClosedWithin(absl::Seconds(5)));
  Client options(port_);
  options.Send("OPTIONS /upload/x HTTP/1.1\r\nHost: x\r\n\r\n");
  r = options.ReadReply();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 204"));
  EXPECT_THAT(r, HasSubstr("Allow: PUT"));
}

TEST_F(HttpServerTest, RangeAndMediaTypeAreLeftToTheRoute) {
  Start();
  Client c(port_);
  c.Send(
      "PUT /upload/r HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n"
      "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 10\r\n\r\n--b\r\nabcde");
  std::string r = c.ReadReply();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 201"));
  EXPECT_EQ(last_upload_, "--b\r\nabcde");
  EXPECT_EQ(BodyOf(Get("/echo/x")), "GET x q= range=");
}

TEST_F(HttpServerTest, HeadGetsTheHeadersOfGetWithoutTheBody) {
  Start();
  Client c(port_);
  c.Send("HEAD /big?size=3000000 HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/after HTTP/1.1\r\n\r\n");
  std::string head = c.ReadHead();
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(head, HasSubstr("Content-Length: 3000000"));
  EXPECT_THAT(BodyOf(c.ReadReply()), StartsWith("GET after"));  // no body came between
}

TEST_F(HttpServerTest, StreamsALargeReplyWholeAndDropsTheConnectionWhenTheWriterFails) {
  Start();
  std::string r = Get("/big?size=5000000");
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200"));
  EXPECT_EQ(BodyOf(r).size(), 5000000u);
  Client c(port_);
  c.Send("GET /big?size=5000000&fail=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.ReadReply(), "");  // a short body, then the connection closes
}

TEST_F(HttpServerTest, StreamsChunkedAndLargeUploadsAndReportsATruncatedOne) {
  Start();
  Client c(port_);
  c.Send(
      "PUT /upload/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  EXPECT_EQ(BodyOf(c.ReadReply()), "whole 11");
  EXPECT_EQ(last_upload_, "hello world");
  std::string big(3 << 20, 'b');
  c.Send(cairn::StrCat("PUT /upload/big HTTP/1.1\r\nHost: x\r\nContent-Length: ", big.size(),
                       "\r\n\r\n"));
  c.Send(big);
  EXPECT_EQ(BodyOf(c.ReadReply()), cairn::StrCat("whole ", big.size()));

  Client cut(port_);
  cut.Send("PUT /upload/cut HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" +
           std::string(1000, 'c'));
  cut.HalfClose();  // the client goes away after 1000 of 5000 bytes
  EXPECT_EQ(BodyOf(cut.ReadReply()), "short 1000");
  Client broken(port_);
  broken.Send(
      "PUT /upload/bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\nzz\r\n");
  std::string r = broken.ReadReply();
  EXPECT_THAT(r, StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(BodyOf(r), StartsWith("short"));
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredWhenTheRouteReadsTheBody) {
  Start();
  Client c(port_);
  c.Send("PUT /upload/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_THAT(c.ReadHead(), StartsWith("HTTP/1.1 100 Continue"));
  c.Send("data");
  EXPECT_THAT(c.ReadReply(), StartsWith("HTTP/1.1 201"));
  // A route that answers without reading: no 100, and the body never comes.
  Client r(port_);
  r.Send("PUT /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_THAT(r.ReadReply(), StartsWith("HTTP/1.1 409"));
}

TEST_F(HttpServerTest, ABodyTheRouteDidNotReadIsDrainedAndTheConnectionKept) {
  Start();
  Client c(port_);
  c.Send("PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
         std::string(100000, 'z') + "GET /echo/next HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(c.ReadReply(), StartsWith("HTTP/1.1 409"));
  EXPECT_THAT(BodyOf(c.ReadReply()), StartsWith("GET next"));
}

TEST_F(HttpServerTest, FrontDoorRefusesBeforeReadingTheBody) {
  HttpServerOptions opts;
  opts.require_length = true;
  opts.max_body_bytes = 100;
  Start(opts);
  Client big(port_);
  big.Send("POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 8589934592\r\n\r\n{");
  EXPECT_THAT(big.ReadReply(), StartsWith("HTTP/1.1 413"));
  Client none(port_);
  none.Send("PUT /upload/n HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(none.ReadReply(), StartsWith("HTTP/1.1 400"));
  Client gz(port_);
  gz.Send(
      "PUT /upload/g HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\n");
  EXPECT_THAT(gz.ReadReply(), StartsWith("HTTP/1.1 400"));
  EXPECT_EQ(uploads_.load(), 0);
  EXPECT_EQ(Metric(R"(test_rejected_requests_total{limit="body_too_large"})"), 1);
  EXPECT_EQ(Metric(R"(test_rejected_requests_total{limit="no_length"})"), 1);
  EXPECT_EQ(Metric(R"(test_rejected_requests_total{limit="content_encoding"})"), 1);
}

TEST_F(HttpServerTest, AnOversizedHeaderIs431) {
  HttpServerOptions opts;
  opts.max_header_bytes = 1024;
  Start(opts);
  Client c(port_);
  c.Send("GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'h') + "\r\n\r\n");
  EXPECT_THAT(c.ReadReply(), StartsWith("HTTP/1.1 431"));
  EXPECT_TRUE(c.ClosedWithin(absl::Seconds(5)));
  EXPECT_EQ(Metric(R"(test_rejected_requests_total{limit="header_too_large"})"), 1);
}

TEST_F(HttpServerTest, BeyondMaxConnectionsA503AndServedAgainOnceSomeClose) {
  HttpServerOptions opts;
  opts.max_connections = 3;
  Start(opts);
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(port_));
    held.back()->Send("GET /echo/held HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_THAT(held.back()->ReadReply(), StartsWith("HTTP/1.1 200"));
  }
  Client extra(port_);
  EXPECT_THAT(extra.ReadReply(), StartsWith("HTTP/1.1 503"));
  EXPECT_EQ(Metric(R"(test_rejected_requests_total{limit="connections"})"), 1);
  held.clear();
  std::string r;
  PollUntil([&] {  // the closed ones are gone once the server sees EOF
    r = Get("/echo/again");
    return r.starts_with("HTTP/1.1 200");
  });
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, APartialHeaderAndAnIdleConnectionAreClosedAtTheirTimeouts) {
  HttpServerOptions opts;
  opts.header_timeout = absl::Milliseconds(200);
  opts.idle_timeout = absl::Milliseconds(300);
  Start(opts);
  Client partial(port_);
  partial.Send("GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  Client idle(port_);
  idle.Send("GET /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_THAT(idle.ReadReply(), StartsWith("HTTP/1.1 200"));
  EXPECT_TRUE(partial.ClosedWithin(absl::Seconds(10)));
  EXPECT_TRUE(idle.ClosedWithin(absl::Seconds(10)));
  // The stream closes the socket at the timeout, then the server counts it.
  PollUntil([&] { return Metric(R"(test_timeouts_total{phase="idle"})") >= 1; });
  EXPECT_EQ(Metric(R"(test_timeouts_total{phase="header"})"), 1);
  EXPECT_GE(Metric(R"(test_timeouts_total{phase="idle"})"), 1);
}

TEST_F(HttpServerTest, HealthIsAnsweredWithEveryWorkerBusyAndManyHalfSentHeaders) {
  HttpServerOptions opts;
  opts.worker_threads = 2;
  Start(opts);
  std::vector<std::unique_ptr<Client>> blockers, slow;
  for (int i = 0; i < 4; ++i) {  // two run, two wait for a worker
    blockers.push_back(std::make_unique<Client>(port_));
    blockers.back()->Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<Client>(port_));
    slow.back()->Send("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  }
  PollUntil([&] { return blocked_.load() >= 2; });
  ASSERT_EQ(blocked_.load(), 2);
  EXPECT_THAT(Get("/health"), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(Get("/metrics"), HasSubstr("test_open_connections"));
  release_.Notify();
  for (auto& b : blockers) EXPECT_EQ(BodyOf(b->ReadReply()), "released");
}

TEST_F(HttpServerTest, StopClosesIdleConnectionsAndReturns) {
  Start();
  Client idle(port_);
  idle.Send("GET /echo/x HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_THAT(idle.ReadReply(), StartsWith("HTTP/1.1 200"));
  Client partial(port_);
  partial.Send("GET /echo/x HTTP/1.1\r\n");
  server_->Stop();
  EXPECT_TRUE(idle.ClosedWithin(absl::Seconds(5)));
  EXPECT_TRUE(partial.ClosedWithin(absl::Seconds(5)));
}

TEST(HttpServerLabelTest, ARouteIsLabelledByItsPatternsLiteralPrefix) {
  EXPECT_EQ(HttpServer::LabelOf(R"(/api/v1/files([\s\S]*))"), "/api/v1/files");
  EXPECT_EQ(HttpServer::LabelOf("/api/v1/list"), "/api/v1/list");
  EXPECT_EQ(HttpServer::LabelOf(R"(/ui/(.*))"), "/ui/");
}

}  // namespace
}  // namespace cairn
