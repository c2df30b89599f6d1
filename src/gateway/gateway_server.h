// GatewayServer: the stateless HTTP front end. REST routes (routes.h), the
// web dashboard under /ui/, /health, /ready and /metrics, on one port, served
// by the event-driven HttpServer (common/http_server.h).
#ifndef CAIRN_GATEWAY_GATEWAY_SERVER_H_
#define CAIRN_GATEWAY_GATEWAY_SERVER_H_

#include <memory>
#include <string>

#include "common/http_server.h"
#include "common/master_client.h"
#include "gateway/compactor.h"
#include "gateway/routes.h"

namespace cairn::gateway {

struct GatewayOptions {
  std::string listen = "0.0.0.0:8089";
  std::string master = "127.0.0.1:9090";
  bool announce = true;
  // The front end's limits: worker threads, header and JSON body sizes
  // (uploads are streamed and unbounded), connections, header and idle
  // timeouts. Its metrics and require_length are set by the gateway.
  HttpServerOptions http;
  StallTimeouts stall;  // chunk transfers blocked longer fail over
  // Uploads of 1 byte up to this many go as records of shared pack chunks
  // (PackWriter); 0: every upload has chunks of its own.
  uint64_t small_file_max = 256 << 10;
  PackOptions pack;
  CompactorOptions compaction;  // of pack chunks; interval 0: this gateway does none
};

class GatewayServer {
 public:
  // Serves on options.listen; talks to options.master, or to `master` if given.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      const GatewayOptions& options, std::unique_ptr<MasterClient> master = nullptr);
  ~GatewayServer();
  void Shutdown();
  int port() const { return port_; }

 private:
  GatewayServer() = default;

  GatewayContext ctx_;
  std::unique_ptr<HttpServer> http_;      // borrows ctx_
  std::unique_ptr<Compactor> compactor_;  // borrows ctx_
  int port_ = 0;
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_GATEWAY_SERVER_H_
