// cairn-master-mem: a master's resident memory per chunk.
//
//   --phase fill    opens a Master on --dir (empty), registers three fake
//                   chunkservers (heartbeats only, no data), and commits files of
//                   --chunks_per_file chunks until --chunks chunks exist, through
//                   the same StartUpload / AllocateChunk / CommitUpload calls the
//                   gRPC service makes. Reports RSS before and after.
//   --phase reload  opens the Master again on the same --dir (a restart: every
//                   chunk loaded from RocksDB) and reports RSS before and after.
// Run the phases as separate processes so neither sees the other's heap.
//
// Prints one JSON object on stdout.
#include <malloc.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "common/clock.h"
#include "master/master.h"
#include "nlohmann/json.hpp"

namespace {

using cairn::master::Master;
using cairn::master::MasterOptions;
using Steady = std::chrono::steady_clock;

// Resident set size in bytes (VmRSS).
uint64_t Rss() {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == "VmRSS:") {
      uint64_t kb = 0;
      f >> kb;
      return kb << 10;
    }
    std::string rest;
    std::getline(f, rest);
  }
  return 0;
}

[[noreturn]] void Die(const absl::Status& s, const std::string& what) {
  std::cerr << "cairn-master-mem: " << what << ": " << s.ToString() << "\n";
  std::exit(1);
}

double Since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-master-mem: master RSS per chunk"};
  std::string dir, phase = "fill";
  uint64_t chunks = 1000000, per_file = 1000;
  app.add_option("--dir", dir, "master root dir")->required();
  app.add_option("--phase", phase, "fill or reload")->check(CLI::IsMember({"fill", "reload"}));
  app.add_option("--chunks", chunks, "chunks to commit (fill)");
  app.add_option("--chunks_per_file", per_file, "chunks per file (fill)")
      ->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);

  MasterOptions options;
  options.root_dir = dir;
  options.chunk_size = 64 << 20;
  options.replication = 3;
  uint64_t rss_start = Rss();
  auto t_open = Steady::now();
  auto master = Master::Open(options, cairn::Clock::Real());
  if (!master.ok()) Die(master.status(), "open");
  double open_s = Since(t_open);
  Master& m = **master;
  malloc_trim(0);
  uint64_t rss_open = Rss();
  nlohmann::json j;
  j["phase"] = phase;
  j["rss_start"] = rss_start;
  j["rss_after_open"] = rss_open;
  j["open_seconds"] = open_s;
  j["chunks_known"] = m.Cluster().chunks();

  if (phase == "reload") {
    uint64_t n = m.Cluster().chunks();
    j["bytes_per_chunk"] = n ? double(rss_open - rss_start) / double(n) : 0.0;
    std::cout << j.dump() << std::endl;
    return 0;
  }

  std::vector<uint64_t> nodes;
  for (int i = 0; i < 3; ++i) {
    cairn::RegisterRequest req;
    req.set_address("127.0.0.1:" + std::to_string(40000 + i));
    req.set_zone("z" + std::to_string(i + 1));
    auto r = m.Register(req);
    if (!r.ok()) Die(r.status(), "register");
    nodes.push_back(r->node_id());
  }
  auto heartbeat = [&] {
    for (size_t i = 0; i < nodes.size(); ++i) {
      cairn::HeartbeatRequest hb;
      hb.set_node_id(nodes[i]);
      hb.set_capacity_bytes(uint64_t{1} << 60);
      hb.set_free_bytes(uint64_t{1} << 60);
      auto r = m.Heartbeat(hb);
      if (!r.ok()) Die(r.status(), "heartbeat");
    }
  };
  heartbeat();
  auto t_fill = Steady::now();
  uint64_t done = 0, files = 0;
  while (done < chunks) {
    uint64_t k = std::min(per_file, chunks - done);
    cairn::StartUploadRequest sreq;
    sreq.set_path("/mem/d" + std::to_string(files / 1000) + "/f" + std::to_string(files));
    auto up = m.StartUpload(sreq);
    if (!up.ok()) Die(up.status(), "start upload");
    cairn::CommitUploadRequest creq;
    creq.set_upload_id(up->upload_id());
    for (uint64_t i = 0; i < k; ++i) {
      cairn::AllocateChunkRequest areq;
      areq.set_upload_id(up->upload_id());
      areq.set_index(static_cast<uint32_t>(i));
      auto a = m.AllocateChunk(areq);
      if (!a.ok()) Die(a.status(), "allocate chunk");
      cairn::CommittedChunk* c = creq.add_chunks();
      *c->mutable_chunk() = a->chunk();
      c->mutable_chunk()->set_size(options.chunk_size);
      c->mutable_chunk()->set_crc32c(static_cast<uint32_t>(done + i));
      for (const cairn::NodeAddress& r : a->replicas()) c->add_nodes(r.node_id());
    }
    creq.set_length(k * options.chunk_size);
    creq.set_sha256(std::string(64, '0'));
    auto e = m.CommitUpload(creq);
    if (!e.ok()) Die(e.status(), "commit upload");
    done += k;
    ++files;
    heartbeat();  // resets each node's recent placements, keeps it alive
  }
  double fill_s = Since(t_fill);
  uint64_t rss_filled = Rss();
  malloc_trim(0);
  uint64_t rss_trimmed = Rss();
  j["files"] = files;
  j["chunks"] = done;
  j["chunks_known"] = m.Cluster().chunks();
  j["fill_seconds"] = fill_s;
  j["chunks_per_s"] = done / fill_s;
  j["rss_after_fill"] = rss_filled;
  j["rss_after_fill_trimmed"] = rss_trimmed;
  j["bytes_per_chunk"] = double(rss_trimmed - rss_open) / double(done);
  std::cout << j.dump() << std::endl;
  return 0;
}
