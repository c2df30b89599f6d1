// /api/v1/cluster: nodes, totals, repair and compaction state.
#include "common/status.h"
#include "gateway/http_util.h"
#include "gateway/routes.h"

namespace cairn::gateway {

void RegisterClusterRoutes(HttpServer& http, GatewayContext* ctx) {
  http.Get("/api/v1/cluster", [ctx](const HttpRequest&, HttpResponse& res) {
    ClusterReply reply;
    absl::Status s = FromGrpcStatus(
        ctx->master->Unary(&Master::StubInterface::Cluster, ClusterRequest{}, &reply));
    if (!s.ok()) return SetApiError(res, s);
    nlohmann::json nodes = nlohmann::json::array();
    uint64_t capacity = 0, used = 0, alive = 0;
    for (const NodeStatus& n : reply.nodes()) {
      nodes.push_back({{"id", n.id()},
                       {"address", n.address()},
                       {"zone", n.zone()},
                       {"state", n.state()},
                       {"capacity", n.capacity_bytes()},
                       {"used", n.used_bytes()},
                       {"free", n.free_bytes()},
                       {"chunks", n.chunk_count()},
                       {"last_heartbeat_ms_ago", n.last_heartbeat_ms_ago()}});
      if (n.state() == "alive") {
        ++alive;
        capacity += n.capacity_bytes();
        used += n.used_bytes();
      }
    }
    double pct =
        capacity == 0 ? 0.0 : 100.0 * static_cast<double>(used) / static_cast<double>(capacity);
    SetJson(res, {{"nodes", nodes},
                  {"totals",
                   {{"nodes", reply.nodes_size()},
                    {"alive", alive},
                    {"capacity", capacity},
                    {"used", used},
                    {"usage_percent", pct},
                    {"chunks", reply.chunks()},
                    {"under_replicated", reply.under_replicated()},
                    {"replication_queue", reply.replication_queue()}}},
                  {"compaction",
                   {{"reclaimable_bytes", reply.compaction_reclaimable_bytes()},
                    {"compactions", reply.compactions_total()},
                    {"rewritten_bytes", reply.compaction_rewritten_bytes_total()}}},
                  {"safe_mode", reply.safe_mode()},
                  {"chunk_size", reply.chunk_size()},
                  {"replication", reply.replication()}});
  });
}

}  // namespace cairn::gateway
