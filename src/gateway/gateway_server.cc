#include "gateway/gateway_server.h"

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

// Bounded label values for metrics: the route family, never the file path.
std::string RouteLabel(const std::string& path) {
  for (const char* prefix : {"/api/v1/files", "/api/v1/list", "/api/v1/mkdir", "/api/v1/rename",
                             "/api/v1/fileinfo", "/api/v1/cluster", "/api/v1/usage", "/ui",
                             "/health", "/ready", "/metrics"}) {
    if (path.starts_with(prefix)) return prefix;
  }
  return "other";
}

thread_local absl::Time request_start;

}  // namespace

std::unique_ptr<grpc::ClientContext> MasterCall() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  // Ride out a master restart: wait for the channel to reconnect, up to the deadline.
  ctx->set_wait_for_ready(true);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(const GatewayOptions& options) {
  auto s = std::unique_ptr<GatewayServer>(new GatewayServer());
  GatewayContext* ctx = &s->ctx_;
  ctx->master = cairn::Master::NewStub(MakeChannel(options.master));
  httplib::Server& http = s->http_.server();
  int threads = options.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(std::numeric_limits<size_t>::max());
  http.set_read_timeout(60, 0);
  http.set_write_timeout(60, 0);
  http.set_tcp_nodelay(true);
  // httplib closes a connection after 5 requests by default.
  http.set_keep_alive_max_count(100000);

  ctx->metrics.Describe("cairn_gateway_requests_total", Metrics::Type::kCounter,
                        "HTTP requests, by route, method and status.");
  ctx->metrics.Describe("cairn_gateway_request_duration_seconds", Metrics::Type::kHistogram,
                        "HTTP request latency, by route and method.");
  ctx->metrics.Describe("cairn_gateway_uploaded_bytes_total", Metrics::Type::kCounter,
                        "File bytes committed through uploads.", /*unlabeled=*/true);
  ctx->metrics.Describe("cairn_gateway_downloaded_bytes_total", Metrics::Type::kCounter,
                        "Verified file bytes sent to clients.", /*unlabeled=*/true);
  http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_start = absl::Now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_logger([ctx](const httplib::Request& req, const httplib::Response& res) {
    std::string route = RouteLabel(req.path);
    double seconds = absl::ToDoubleSeconds(absl::Now() - request_start);
    ctx->metrics.Add("cairn_gateway_requests_total",
                     cairn::StrCat("route=\"", route, "\",method=\"", req.method, "\",code=\"",
                                   res.status, "\""));
    ctx->metrics.Observe("cairn_gateway_request_duration_seconds",
                         cairn::StrCat("route=\"", route, "\",method=\"", req.method, "\""), seconds);
    spdlog::debug("{} {} {} {:.3f}s", req.method, req.path, res.status, seconds);
  });
  // httplib's own errors (no route, malformed request or Range) get JSON bodies too.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 404:
        SetError(res, absl::NotFoundError(cairn::StrCat("no route for ", req.method, " ", req.path)));
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

  RegisterFileRoutes(http, ctx);
  RegisterNamespaceRoutes(http, ctx);
  RegisterClusterRoutes(http, ctx);
  AddStatusRoutes(
      http,
      [ctx]() -> absl::Status {
        ClusterReply reply;
        auto call = MasterCall();
        call->set_wait_for_ready(false);
        call->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        RETURN_IF_ERROR(Annotate(FromGrpcStatus(ctx->master->Cluster(call.get(), ClusterRequest(), &reply)),
                                 "master"));
        uint32_t alive = 0;
        for (const NodeStatus& n : reply.nodes()) alive += n.state() == "alive";
        if (alive < reply.replication()) {
          return absl::UnavailableError(cairn::StrCat(alive, " chunkservers alive, need ",
                                                      reply.replication()));
        }
        return absl::OkStatus();
      },
      &ctx->metrics);
#ifdef CAIRN_HAVE_UI
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/ui/");
  });
  http.Get(R"(/ui/(.*))", [](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[1].str();
    if (name.empty()) name = "index.html";
    const UiAsset* asset = FindUiAsset(name);
    if (asset == nullptr) return SetError(res, absl::NotFoundError(cairn::StrCat("no such asset ", name)));
    res.set_content(std::string(asset->body), std::string(asset->content_type).c_str());
  });
  http.Get("/ui", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ui/"); });
#endif
  std::string listen = options.listen;
  if (listen.find(':') == std::string::npos) listen = "0.0.0.0:" + listen;  // a bare port
  ASSIGN_OR_RETURN(HostPort hp, s->http_.Start(listen, options.announce));
  s->port_ = hp.port;
  return s;
}

GatewayServer::~GatewayServer() { Shutdown(); }

void GatewayServer::Shutdown() { http_.Stop(); }

}  // namespace cairn::gateway
