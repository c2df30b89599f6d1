// ChunkserverServer: chunk store, gRPC service, heartbeat and HTTP status
// port, started and stopped as one (main.cc and in-process cluster tests).
#ifndef CAIRN_CHUNKSERVER_CHUNKSERVER_SERVER_H_
#define CAIRN_CHUNKSERVER_CHUNKSERVER_SERVER_H_

#include <memory>
#include <string>

#include "chunkserver/background.h"
#include "chunkserver/chunk_store.h"
#include "chunkserver/chunkserver_service.h"
#include "chunkserver/heartbeat.h"
#include "common/http_server.h"
#include "common/master_client.h"
#include "common/net.h"

namespace cairn::chunkserver {

struct ChunkserverOptions {
  std::string root_dir;
  std::string listen = "0.0.0.0:8081";
  std::string http_listen = "0.0.0.0:8082";
  std::string master = "127.0.0.1:9090";
  std::string advertise;  // default: listen host (127.0.0.1 for 0.0.0.0) and bound port
  std::string zone = "default";
  absl::Duration heartbeat_interval = absl::Seconds(2);
  uint64_t capacity = 0;                          // bytes this node may use; 0: the whole disk
  uint64_t repair_bandwidth = 0;                  // bytes/s for copies from peers; 0: unlimited
  uint64_t scrub_bandwidth = 32 << 20;            // bytes/s re-verified; 0: no scrubbing
  absl::Duration scrub_pause = absl::Minutes(1);  // between full passes
  bool announce = true;
};

class ChunkserverServer {
 public:
  // `fs` and `clock` must outlive the server.
  static absl::StatusOr<std::unique_ptr<ChunkserverServer>> Start(const ChunkserverOptions& options,
                                                                  FileSystem* fs, Clock* clock);
  ~ChunkserverServer();
  // Stops serving and heartbeating. Idempotent.
  void Shutdown();

  ChunkStore* store() { return store_.get(); }
  Scrubber* scrubber() { return scrubber_.get(); }
  Heartbeat* heartbeat() { return heartbeat_.get(); }
  std::string grpc_address() const { return advertise_; }
  int http_port() const { return http_port_; }

 private:
  ChunkserverServer() = default;

  Metrics metrics_;
  std::unique_ptr<MasterClient> master_;  // the heartbeat's connection to the master
  StubCache<cairn::Chunkserver> peers_;   // pipeline and repair channels to other chunkservers
  std::unique_ptr<ChunkStore> store_;
  std::unique_ptr<ChunkserverService> service_;
  std::unique_ptr<RepairWorker> repair_;
  std::unique_ptr<Scrubber> scrubber_;
  std::unique_ptr<Heartbeat> heartbeat_;
  GrpcServer grpc_;
  HttpServer http_{HttpServerOptions{.io_threads = 1, .worker_threads = 4}};
  std::string advertise_;
  int http_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace cairn::chunkserver

#endif  // CAIRN_CHUNKSERVER_CHUNKSERVER_SERVER_H_
