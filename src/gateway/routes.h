// The gateway's REST routes, one module per area. Each Register* function
// adds its routes to an httplib server; handlers borrow the GatewayContext,
// which must outlive the server.
#ifndef CAIRN_GATEWAY_ROUTES_H_
#define CAIRN_GATEWAY_ROUTES_H_

#include <httplib.h>

#include <memory>

#include "common/metrics.h"
#include "gateway/chunk_io.h"
#include "gateway/uploader.h"
#include "proto/master.grpc.pb.h"

namespace cairn::gateway {

struct GatewayContext {
  std::unique_ptr<cairn::Master::Stub> master;
  ChunkserverPool pool;
  BufferPool buffers{64};  // a 64 MiB chunk's worth of message buffers
  Metrics metrics;
};

// A ClientContext for one master call: waits up to 10 s for the master to be
// reachable (a restart), then fails with Unavailable/DeadlineExceeded (503).
std::unique_ptr<grpc::ClientContext> MasterCall();

// PUT/GET/HEAD/DELETE /api/v1/files/{path}
void RegisterFileRoutes(httplib::Server& server, GatewayContext* ctx);
// /api/v1/list, mkdir, rename, fileinfo, usage
void RegisterNamespaceRoutes(httplib::Server& server, GatewayContext* ctx);
// /api/v1/cluster
void RegisterClusterRoutes(httplib::Server& server, GatewayContext* ctx);

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_ROUTES_H_
