#include "gateway/gateway_server.h"

#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "gateway/http_util.h"
#ifdef CAIRN_HAVE_UI
#include "gateway/ui/ui_assets.h"
#endif

namespace cairn::gateway {
namespace {

// The gateway's own metrics; the front end's (requests, refusals, timeouts,
// connections) are HttpServer's under the same prefix.
void DescribeMetrics(Metrics* metrics) {
  metrics->Describe("cairn_gateway_uploaded_bytes_total", Metrics::Type::kCounter,
                    "File bytes committed through uploads.", /*unlabeled=*/true);
  metrics->Describe("cairn_gateway_downloaded_bytes_total", Metrics::Type::kCounter,
                    "Verified file bytes sent to clients.", /*unlabeled=*/true);
  metrics->Describe("cairn_gateway_stalled_transfers_total", Metrics::Type::kCounter,
                    "Chunk transfers cancelled for making no progress (a paused or wedged node).",
                    /*unlabeled=*/true);
  metrics->Describe("cairn_gateway_pack_batches_total", Metrics::Type::kCounter,
                    "Pack chunks of small files written and committed (result=ok) or not.");
  metrics->Describe("cairn_gateway_packed_files_total", Metrics::Type::kCounter,
                    "Small files sent in pack chunks (committed or refused).", /*unlabeled=*/true);
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

void RegisterUiRoutes([[maybe_unused]] HttpServer& http) {
#ifdef CAIRN_HAVE_UI
  auto to_ui = [](const HttpRequest&, HttpResponse& res) { res.set_redirect("/ui/"); };
  http.Get("/", to_ui, {.label = "/ui"});
  http.Get("/ui", to_ui, {.label = "/ui"});
  http.Get(R"(/ui/(.*))",
           [](const HttpRequest& req, HttpResponse& res) {
             std::string name = req.matches[1];
             if (name.empty()) name = "index.html";
             const UiAsset* asset = FindUiAsset(name);
             if (asset == nullptr) {
               return SetApiError(res, absl::NotFoundError(cairn::StrCat("no such asset ", name)));
             }
             res.set_content(std::string(asset->body), asset->content_type);
           },
           {.label = "/ui"});
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
  DescribeMetrics(&ctx->metrics);
  ctx->io.timeouts = options.stall;
  ctx->io.watchdog.set_on_fire(
      [m = &ctx->metrics] { m->Add("cairn_gateway_stalled_transfers_total", ""); });
  ctx->small_file_max = options.small_file_max;
  if (options.small_file_max > 0) {
    ctx->pack =
        std::make_unique<PackWriter>(ctx->master.get(), &ctx->io, options.pack, &ctx->metrics);
  }

  s->compactor_ = std::make_unique<Compactor>(ctx->master.get(), &ctx->io, options.compaction,
                                              Clock::Real(), &ctx->metrics);
  s->compactor_->Start();

  HttpServerOptions http_options = options.http;
  http_options.require_length = true;  // an upload without a length has no body
  http_options.metrics = &ctx->metrics;
  http_options.metrics_prefix = "cairn_gateway";
  s->http_ = std::make_unique<HttpServer>(http_options);
  HttpServer& http = *s->http_;
  RegisterFileRoutes(http, ctx);
  RegisterNamespaceRoutes(http, ctx);
  RegisterClusterRoutes(http, ctx);
  AddStatusRoutes(
      http, [ctx] { return Ready(ctx); }, &ctx->metrics);
  RegisterUiRoutes(http);

  std::string listen = options.listen;
  if (listen.find(':') == std::string::npos) listen = "0.0.0.0:" + listen;  // a bare port
  ASSIGN_OR_RETURN(HostPort hp, s->http_->Start(listen, options.announce));
  s->port_ = hp.port;
  return s;
}

GatewayServer::~GatewayServer() { Shutdown(); }

void GatewayServer::Shutdown() {
  if (http_) http_->Stop();
  compactor_.reset();
}

}  // namespace cairn::gateway
