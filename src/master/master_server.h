// MasterServer: a Master with its gRPC service and HTTP status port, started
// and stopped as one. main.cc and in-process cluster tests both use it.
#ifndef CAIRN_MASTER_MASTER_SERVER_H_
#define CAIRN_MASTER_MASTER_SERVER_H_

#include <memory>
#include <string>

#include "common/http_server.h"
#include "common/net.h"
#include "master/master.h"
#include "master/master_service.h"

namespace cairn::master {

struct MasterServerOptions {
  MasterOptions master;
  std::string listen = "0.0.0.0:9090";
  std::string http_listen = "0.0.0.0:9091";
  bool announce = true;  // print the `listening on` lines
};

class MasterServer {
 public:
  // `clock` must outlive the server.
  static absl::StatusOr<std::unique_ptr<MasterServer>> Start(const MasterServerOptions& options,
                                                             Clock* clock);
  ~MasterServer();

  // Stops accepting RPCs and background work. Idempotent.
  void Shutdown();
  void Wait() { grpc_.server->Wait(); }

  Master* master() { return master_.get(); }
  std::string grpc_address() const { return grpc_.address(); }
  int http_port() const { return http_port_; }

 private:
  MasterServer() = default;

  std::unique_ptr<Master> master_;
  std::unique_ptr<MasterService> service_;
  GrpcServer grpc_;
  HttpServer http_{HttpServerOptions{.io_threads = 1, .worker_threads = 4}};
  int http_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_MASTER_SERVER_H_
