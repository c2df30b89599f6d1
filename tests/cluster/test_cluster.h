// An in-process Cairn cluster: a MasterServer, N ChunkserverServers (each on
// its own MemFileSystem, so tests can inject faults and corrupt bytes) and a
// GatewayServer, all on 127.0.0.1 with port 0.
#ifndef CAIRN_TESTS_CLUSTER_TEST_CLUSTER_H_
#define CAIRN_TESTS_CLUSTER_TEST_CLUSTER_H_

#include <httplib.h>

#include <memory>
#include <vector>

#include "chunkserver/chunkserver_server.h"
#include "common/mem_file_system.h"
#include "gateway/gateway_server.h"
#include "master/master_server.h"
#include "test_util.h"

namespace cairn::testing {

struct ClusterOptions {
  int chunkservers = 3;
  uint64_t chunk_size = 256 << 10;
  uint32_t replication = 3;
};

class TestCluster {
 public:
  explicit TestCluster(ClusterOptions options = {}) : options_(options) {
    master::MasterServerOptions mo;
    mo.master.root_dir = dir_.path() + "/master";
    mo.master.chunk_size = options.chunk_size;
    mo.master.replication = options.replication;
    mo.master.stale_after = absl::Seconds(1);
    mo.master.dead_after = absl::Seconds(3);
    mo.master.gc_grace = absl::Milliseconds(200);
    mo.listen = "127.0.0.1:0";
    mo.http_listen = "127.0.0.1:0";
    mo.announce = false;
    auto m = master::MasterServer::Start(mo, Clock::Real());
    EXPECT_THAT(m, IsOk());
    master_ = std::move(*m);
    fs_.resize(options.chunkservers);
    chunkservers_.resize(options.chunkservers);
    for (int i = 0; i < options.chunkservers; ++i) {
      fs_[i] = std::make_unique<MemFileSystem>();
      StartChunkserver(i);
    }
    gateway::GatewayOptions go;
    go.listen = "127.0.0.1:0";
    go.master = master_->grpc_address();
    go.announce = false;
    auto g = gateway::GatewayServer::Start(go);
    EXPECT_THAT(g, IsOk());
    gateway_ = std::move(*g);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", gateway_->port());
    client_->set_read_timeout(60, 0);
    EXPECT_TRUE(WaitFor([&] {
      for (auto& cs : chunkservers_) {
        if (!cs->heartbeat()->Healthy().ok()) return false;
      }
      return AliveNodes() == options.chunkservers;
    }));
  }

  void StartChunkserver(int i) {
    chunkserver::ChunkserverOptions co;
    co.root_dir = "/cs";
    co.listen = "127.0.0.1:0";
    co.http_listen = "127.0.0.1:0";
    co.master = master_->grpc_address();
    co.zone = "zone" + std::to_string(i % 3);
    co.heartbeat_interval = absl::Milliseconds(100);
    co.announce = false;
    auto cs = chunkserver::ChunkserverServer::Start(co, fs_[i].get(), Clock::Real());
    EXPECT_THAT(cs, IsOk());
    chunkservers_[i] = std::move(*cs);
  }
  void StopChunkserver(int i) { chunkservers_[i].reset(); }

  int AliveNodes() {
    int alive = 0;
    ClusterReply cluster = master_->master()->Cluster();
    for (const auto& n : cluster.nodes()) alive += n.state() == "alive";
    return alive;
  }

  httplib::Client& http() { return *client_; }
  master::Master* master() { return master_->master(); }
  chunkserver::ChunkserverServer* chunkserver(int i) { return chunkservers_[i].get(); }
  MemFileSystem* fs(int i) { return fs_[i].get(); }
  int NodeIndex(uint64_t node_id) {
    for (size_t i = 0; i < chunkservers_.size(); ++i) {
      if (chunkservers_[i] && chunkservers_[i]->heartbeat()->node_id() == node_id) return static_cast<int>(i);
    }
    return -1;
  }

 private:
  ClusterOptions options_;
  TempDir dir_;
  std::unique_ptr<master::MasterServer> master_;
  std::vector<std::unique_ptr<MemFileSystem>> fs_;
  std::vector<std::unique_ptr<chunkserver::ChunkserverServer>> chunkservers_;
  std::unique_ptr<gateway::GatewayServer> gateway_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace cairn::testing

#endif  // CAIRN_TESTS_CLUSTER_TEST_CLUSTER_H_
