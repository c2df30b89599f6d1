#include "gateway/gateway_server.h"

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "gateway/http_util.h"
#ifdef CAIRN_HAVE_UI
#include "gateway/ui/ui_assets.h"
#endif

namespace cairn::gateway {
namespace {

thread_local absl::Time request_start;

void ConfigureHttp(httplib::Server& http, int threads) {
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(std::numeric_limits<size_t>::max());
  http.set_read_timeout(60, 0);
  http.set_write_timeout(60, 0);
  http.set_tcp_nodelay(true);
  // httplib closes a connection after 5 requests by default.
  http.set_keep_alive_max_count(100000);
  // httplib's own errors (no route, malformed request or Range) get JSON bodies too.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.has_header("Content-Length")) return;  // the route's own
    switch (res.status) {
      case 404:
        SetError(res,
                 absl::NotFoundError(cairn::StrCat("no route for ", req.method, " ", req.path)));
        break;
      case 416:
        SetError(res, absl::OutOfRangeError("malformed or unsatisfiable Range"));
        break;
      case 413:
        SetError(res, absl::InvalidArgumentError("request too large"));
        break;
      default:
        if (res.status >= 400 && res.status < 500) {
          SetError(res, absl::InvalidArgumentError("malformed request"));
          res.status = 400;
        }
    }
  });
}

// What the front door refuses before a route reads any body, as the limit
// that refused it (a label of cairn_gateway_rejected_requests_total), or ""
// to let the request through. httplib would otherwise read a body without a
// length (which has none, RFC 9112 §6.3) until the client hangs up and let
// an upload commit what arrived, hold a whole JSON body of any declared
// size in memory, and inflate a compressed body before we see it.
std::string Refusal(const httplib::Request& req, uint64_t max_json_body, absl::Status* why) {
  const bool sized = req.has_header("Content-Length");
  const bool chunked = req.has_header("Transfer-Encoding");
  if (req.method == "PUT" || req.method == "POST") {
    if (!sized && !chunked) {
      *why = absl::InvalidArgumentError(
          cairn::StrCat("a ", req.method, " needs Content-Length or Transfer-Encoding: chunked"));
      return "no_length";
    }
  }
  if (req.method != "PUT" && (sized || chunked)) {
    uint64_t length = 0;
    if (chunked || !absl::SimpleAtoi(req.get_header_value("Content-Length"), &length) ||
        length > max_json_body) {
      *why = absl::InvalidArgumentError(cairn::StrCat(
          "request body too large (at most ", max_json_body, " bytes, with Content-Length)"));
      return "body_too_large";
    }
  }
  std::string coding = req.get_header_value("Content-Encoding");
  if (!coding.empty() && coding != "identity") {
    *why = absl::InvalidArgumentError(cairn::StrCat(
        "Content-Encoding ", coding, " is not accepted: send the bytes as they are stored"));
    return "content_encoding";
  }
  return "";
}

// Request counts and latencies by route (Router's label), method and status;
// requests refused at the front door.
void AddRequestMetrics(httplib::Server& http, Metrics* metrics, uint64_t max_json_body) {
  metrics->Describe("cairn_gateway_requests_total", Metrics::Type::kCounter,
                    "HTTP requests, by route, method and status.");
  metrics->Describe("cairn_gateway_request_duration_seconds", Metrics::Type::kHistogram,
                    "HTTP request latency, by route and method.");
  metrics->Describe("cairn_gateway_uploaded_bytes_total", Metrics::Type::kCounter,
                    "File bytes committed through uploads.", /*unlabeled=*/true);
  metrics->Describe("cairn_gateway_downloaded_bytes_total", Metrics::Type::kCounter,
                    "Verified file bytes sent to clients.", /*unlabeled=*/true);
  metrics->Describe("cairn_gateway_rejected_requests_total", Metrics::Type::kCounter,
                    "Requests refused before their body was read, by the limit that refused them.");
  metrics->Describe("cairn_gateway_stalled_transfers_total", Metrics::Type::kCounter,
                    "Chunk transfers cancelled for making no progress (a paused or wedged node).",
                    /*unlabeled=*/true);
  http.set_pre_routing_handler([metrics, max_json_body](const httplib::Request& req,
                                                        httplib::Response& res) {
    request_start = absl::Now();
    Router::Reset();
    absl::Status why;
    std::string limit = Refusal(req, max_json_body, &why);
    if (limit.empty()) return httplib::Server::HandlerResponse::Unhandled;
    metrics->Add("cairn_gateway_rejected_requests_total", cairn::StrCat("limit=\"", limit, "\""));
    SetError(res, why);
    if (limit == "body_too_large") res.status = 413;
    res.set_header("Connection", "close");  // the body, if any, is not read
    return httplib::Server::HandlerResponse::Handled;
  });
  http.set_logger([metrics](const httplib::Request& req, const httplib::Response& res) {
    const std::string& route = Router::CurrentLabel();
    double seconds = absl::ToDoubleSeconds(absl::Now() - request_start);
    metrics->Add("cairn_gateway_requests_total",
                 cairn::StrCat("route=\"", route, "\",method=\"", req.method, "\",code=\"",
                               res.status, "\""));
    metrics->Observe("cairn_gateway_request_duration_seconds",
                     cairn::StrCat("route=\"", route, "\",method=\"", req.method, "\""), seconds);
    spdlog::debug("{} {} {} {:.3f}s", req.method, req.path, res.status, seconds);
  });
}

// Ready when the master answers and enough chunkservers are alive to place
// a chunk's replicas.
absl::Status Ready(GatewayContext* ctx) {
  ClusterReply reply;
  MasterCallOptions quick{.deadline = absl::Seconds(2), .wait_for_ready = false};
  RETURN_IF_ERROR(Annotate(FromGrpcStatus(ctx->master->Unary(&Master::StubInterface::Cluster,
                                                             ClusterRequest{}, &reply, quick)),
                           "master"));
  uint32_t alive = 0;
  for (const NodeStatus& n : reply.nodes()) alive += n.state() == "alive";
  if (alive < reply.replication()) {
    return absl::UnavailableError(
        cairn::StrCat(alive, " chunkservers alive, need ", reply.replication()));
  }
  return absl::OkStatus();
}

void RegisterUiRoutes([[maybe_unused]] Router& router) {
#ifdef CAIRN_HAVE_UI
  auto to_ui = [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ui/"); };
  router.Get("/", to_ui, "/ui");
  router.Get("/ui", to_ui, "/ui");
  router.Get(R"(/ui/(.*))",
             [](const httplib::Request& req, httplib::Response& res) {
               std::string name = req.matches[1].str();
               if (name.empty()) name = "index.html";
               const UiAsset* asset = FindUiAsset(name);
               if (asset == nullptr) {
                 return SetError(res, absl::NotFoundError(cairn::StrCat("no such asset ", name)));
               }
               res.set_content(std::string(asset->body), std::string(asset->content_type).c_str());
             },
             "/ui");
#endif
}

}  // namespace

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    const GatewayOptions& options, std::unique_ptr<MasterClient> master) {
  auto s = std::unique_ptr<GatewayServer>(new GatewayServer());
  GatewayContext* ctx = &s->ctx_;
  if (master == nullptr) {
    ASSIGN_OR_RETURN(master, MasterClient::Connect(options.master));
  }
  ctx->master = std::move(master);
  httplib::Server& http = s->http_.server();
  ConfigureHttp(http, options.threads);
  AddRequestMetrics(http, &ctx->metrics, options.max_json_body);
  ctx->io.timeouts = options.stall;
  ctx->io.watchdog.set_on_fire(
      [m = &ctx->metrics] { m->Add("cairn_gateway_stalled_transfers_total", ""); });

  Router router(&http);
  RegisterFileRoutes(router, ctx);
  RegisterNamespaceRoutes(router, ctx);
  RegisterClusterRoutes(router, ctx);
  AddStatusRoutes(
      [&router](const std::string& pattern, httplib::Server::Handler handler) {
        router.Get(pattern, std::move(handler));
      },
      [ctx] { return Ready(ctx); }, &ctx->metrics);
  RegisterUiRoutes(router);

  std::string listen = options.listen;
  if (listen.find(':') == std::string::npos) listen = "0.0.0.0:" + listen;  // a bare port
  ASSIGN_OR_RETURN(HostPort hp, s->http_.Start(listen, options.announce));
  s->port_ = hp.port;
  return s;
}

GatewayServer::~GatewayServer() { Shutdown(); }

void GatewayServer::Shutdown() { http_.Stop(); }

}  // namespace cairn::gateway
