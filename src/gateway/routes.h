// The gateway's REST routes, one module per area. Each Register* function
// adds its routes to the HttpServer; handlers borrow the GatewayContext,
// which must outlive the server.
#ifndef CAIRN_GATEWAY_ROUTES_H_
#define CAIRN_GATEWAY_ROUTES_H_

#include <memory>

#include "common/http_server.h"
#include "common/master_client.h"
#include "common/metrics.h"
#include "gateway/chunk_io.h"
#include "gateway/pack_writer.h"
#include "gateway/uploader.h"

namespace cairn::gateway {

struct GatewayContext {
  std::unique_ptr<MasterClient> master;
  ChunkIo io;
  BufferPool buffers{64};  // a 64 MiB chunk's worth of message buffers
  Metrics metrics;
  uint64_t small_file_max = 0;
  std::unique_ptr<PackWriter> pack;  // null: no packing; uses master, io, metrics
};

// PUT/GET/HEAD/DELETE /api/v1/files/{path}
void RegisterFileRoutes(HttpServer& http, GatewayContext* ctx);
// /api/v1/list, mkdir, rename, fileinfo, usage
void RegisterNamespaceRoutes(HttpServer& http, GatewayContext* ctx);
// /api/v1/cluster
void RegisterClusterRoutes(HttpServer& http, GatewayContext* ctx);

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_ROUTES_H_
