// GatewayServer: the stateless HTTP front end. REST routes (routes.h), the
// web dashboard under /ui/, /health, /ready and /metrics, on one port.
#ifndef CAIRN_GATEWAY_GATEWAY_SERVER_H_
#define CAIRN_GATEWAY_GATEWAY_SERVER_H_

#include <memory>
#include <string>

#include "common/master_client.h"
#include "common/net.h"
#include "gateway/routes.h"

namespace cairn::gateway {

struct GatewayOptions {
  std::string listen = "0.0.0.0:8089";
  std::string master = "127.0.0.1:9090";
  int threads = 64;  // concurrent requests served
  bool announce = true;
  // Largest body of a JSON route (mkdir, rename); larger is 413 before any
  // of it is read. Uploads are streamed and unbounded.
  uint64_t max_json_body = 64 << 10;
  StallTimeouts stall;  // chunk transfers blocked longer fail over
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
  HttpServer http_;
  int port_ = 0;
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_GATEWAY_SERVER_H_
