// An in-process Cairn cluster: a MasterServer, N ChunkserverServers (each on
// its own MemFileSystem, so tests can inject faults and corrupt bytes) and a
// GatewayServer, all on 127.0.0.1 with port 0.
//
// By default every daemon runs on the real clock with shortened intervals
// (heartbeat 100 ms, dead after 3 s), which suits data-path tests. With
// ClusterOptions::simulated_clock they all share one SimulatedClock and use
// production-like intervals (heartbeat 3 s, stale 10 s, dead 30 s, GC grace
// 60 s, scrub pause 1 min): simulated time stands still unless the test moves
// it with Advance()/AdvanceUntil(), so heartbeats, stale and dead detection,
// repair, GC and background scrubbing happen when the test says and can be
// checked against the simulated time they took. RPCs, their deadlines and
// the gateway still run on real time.
#ifndef CAIRN_TESTS_CLUSTER_TEST_CLUSTER_H_
#define CAIRN_TESTS_CLUSTER_TEST_CLUSTER_H_

#include <httplib.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "chunkserver/chunkserver_server.h"
#include "common/clock.h"
#include "common/mem_file_system.h"
#include "gateway/gateway_server.h"
#include "master/master_server.h"
#include "test_util.h"

namespace cairn::testing {

struct ClusterOptions {
  int chunkservers = 3;
  uint64_t chunk_size = 256 << 10;
  uint32_t replication = 3;
  // Run all daemons on one SimulatedClock with production-like intervals
  // (see the top of this file); otherwise on the real clock.
  bool simulated_clock = false;
};

class TestCluster {
 public:
  // Real time each step of Advance()/AdvanceUntil() gives the daemons to
  // react before simulated time moves on.
  static constexpr std::chrono::milliseconds kSettle{20};

  explicit TestCluster(ClusterOptions options = {}) : options_(options) {
    master::MasterServerOptions mo;
    mo.master.root_dir = dir_.path() + "/master";
    mo.master.chunk_size = options.chunk_size;
    mo.master.replication = options.replication;
    if (options.simulated_clock) {
      sim_clock_ = std::make_unique<SimulatedClock>();
      clock_ = sim_clock_.get();
      heartbeat_interval_ = absl::Seconds(3);
      mo.master.stale_after = absl::Seconds(10);
      mo.master.dead_after = absl::Seconds(30);
      mo.master.gc_grace = absl::Seconds(60);
    } else {
      heartbeat_interval_ = absl::Milliseconds(100);
      mo.master.stale_after = absl::Seconds(1);
      mo.master.dead_after = absl::Seconds(3);
      mo.master.gc_grace = absl::Milliseconds(200);
    }
    mo.listen = "127.0.0.1:0";
    mo.http_listen = "127.0.0.1:0";
    mo.announce = false;
    auto m = master::MasterServer::Start(mo, clock_);
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
    auto ready = [&] {
      for (auto& cs : chunkservers_) {
        if (!cs->heartbeat()->Healthy().ok()) return false;
      }
      return AliveNodes() == options.chunkservers;
    };
    // The first beat goes out at once, so a simulated cluster needs no time to
    // pass; should one fail, the next comes only once time moves on.
    bool up = WaitFor(ready, std::chrono::seconds(5));
    if (!up && simulated()) up = AdvanceUntil(ready, absl::Seconds(1), absl::Minutes(1));
    if (!up) up = WaitFor(ready);
    EXPECT_TRUE(up) << "cluster did not come up";
  }

  // Starts chunkserver `i` on its MemFileSystem (again, after
  // StopChunkserver: it keeps its node id and replicas).
  void StartChunkserver(int i) {
    chunkserver::ChunkserverOptions co;
    co.root_dir = "/cs";
    co.listen = "127.0.0.1:0";
    co.http_listen = "127.0.0.1:0";
    co.master = master_->grpc_address();
    co.zone = "zone" + std::to_string(i % 3);
    co.heartbeat_interval = heartbeat_interval_;
    co.announce = false;
    auto cs = chunkserver::ChunkserverServer::Start(co, fs_[i].get(), clock_);
    EXPECT_THAT(cs, IsOk());
    chunkservers_[i] = std::move(*cs);
  }
  void StopChunkserver(int i) { chunkservers_[i].reset(); }

  int AliveNodes() { return NodesIn("alive"); }
  int NodesIn(const std::string& state) {
    int n = 0;
    ClusterReply cluster = master_->master()->Cluster();
    for (const auto& node : cluster.nodes()) n += node.state() == state;
    return n;
  }
  // The master's view of a node ("alive", "stale", "dead", ...; "" if unknown).
  std::string NodeState(uint64_t node_id) {
    ClusterReply cluster = master_->master()->Cluster();
    for (const auto& node : cluster.nodes()) {
      if (node.id() == node_id) return node.state();
    }
    return "";
  }

  // ---- time ----
  bool simulated() const { return sim_clock_ != nullptr; }
  // The clock every daemon runs on.
  Clock* clock() { return clock_; }
  absl::Time Now() { return clock_->Now(); }
  absl::Duration heartbeat_interval() const { return heartbeat_interval_; }

  // Simulated clock only. Moves simulated time forward `step` at a time until
  // `cond` holds, giving the daemons kSettle of real time after each step to
  // react. Before each step it waits (in real time, bounded) until every
  // running chunkserver has heartbeated recently enough that the step cannot
  // make it stale: a slow thread must not look like a failed node. Returns
  // whether `cond` held within `max_simulated`.
  bool AdvanceUntil(const std::function<bool()>& cond, absl::Duration step = absl::Seconds(1),
                    absl::Duration max_simulated = absl::Minutes(10)) {
    EXPECT_TRUE(simulated()) << "AdvanceUntil needs ClusterOptions::simulated_clock";
    if (!simulated()) return WaitFor(cond);
    for (absl::Duration elapsed;; elapsed += step) {
      if (WaitFor(cond, kSettle)) return true;
      if (elapsed >= max_simulated) return false;
      AwaitRecentHeartbeats(step);
      sim_clock_->Advance(step);
    }
  }
  // Simulated clock only. Moves simulated time forward by `d` (rounded up to
  // whole steps), the same way as AdvanceUntil.
  void Advance(absl::Duration d, absl::Duration step = absl::Seconds(1)) {
    EXPECT_TRUE(simulated()) << "Advance needs ClusterOptions::simulated_clock";
    if (!simulated()) return;
    for (absl::Duration elapsed; elapsed < d; elapsed += step) {
      std::this_thread::sleep_for(kSettle);
      AwaitRecentHeartbeats(step);
      sim_clock_->Advance(step);
    }
    std::this_thread::sleep_for(kSettle);
  }

  httplib::Client& http() { return *client_; }
  int gateway_port() const { return gateway_->port(); }
  master::Master* master() { return master_->master(); }
  chunkserver::ChunkserverServer* chunkserver(int i) { return chunkservers_[i].get(); }
  MemFileSystem* fs(int i) { return fs_[i].get(); }
  int NodeIndex(uint64_t node_id) {
    for (size_t i = 0; i < chunkservers_.size(); ++i) {
      if (chunkservers_[i] && chunkservers_[i]->heartbeat()->node_id() == node_id) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }

 private:
  // Waits, in real time and at most 5 s, until the master heard from every
  // running, registered chunkserver less than stale_after - step ago.
  void AwaitRecentHeartbeats(absl::Duration step) {
    const int64_t limit_ms =
        absl::ToInt64Milliseconds(master_->master()->options().stale_after - step);
    WaitFor(
        [&] {
          ClusterReply cluster = master_->master()->Cluster();
          for (const auto& cs : chunkservers_) {
            if (!cs) continue;
            uint64_t id = cs->heartbeat()->node_id();
            for (const auto& node : cluster.nodes()) {
              if (id != 0 && node.id() == id && node.last_heartbeat_ms_ago() >= limit_ms) {
                return false;
              }
            }
          }
          return true;
        },
        std::chrono::seconds(5));
  }

  ClusterOptions options_;
  // Declared before the daemons, so it outlives them.
  std::unique_ptr<SimulatedClock> sim_clock_;
  Clock* clock_ = Clock::Real();
  absl::Duration heartbeat_interval_;
  TempDir dir_;
  std::unique_ptr<master::MasterServer> master_;
  std::vector<std::unique_ptr<MemFileSystem>> fs_;
  std::vector<std::unique_ptr<chunkserver::ChunkserverServer>> chunkservers_;
  std::unique_ptr<gateway::GatewayServer> gateway_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace cairn::testing

#endif  // CAIRN_TESTS_CLUSTER_TEST_CLUSTER_H_
