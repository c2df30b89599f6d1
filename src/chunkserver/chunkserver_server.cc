#include "chunkserver/chunkserver_server.h"

#include "common/status.h"
#include "common/strings.h"

namespace cairn::chunkserver {

absl::StatusOr<std::unique_ptr<ChunkserverServer>> ChunkserverServer::Start(
    const ChunkserverOptions& options, FileSystem* fs, Clock* clock) {
  auto s = std::unique_ptr<ChunkserverServer>(new ChunkserverServer());
  ASSIGN_OR_RETURN(s->master_, MasterClient::Connect(options.master));
  ASSIGN_OR_RETURN(s->store_, ChunkStore::Open(fs, options.root_dir));
  s->service_ = std::make_unique<ChunkserverService>(s->store_.get(), &s->peers_, &s->metrics_);
  ASSIGN_OR_RETURN(s->grpc_,
                   StartGrpcServer(options.listen, {s->service_.get()}, options.announce));
  s->advertise_ = options.advertise;
  if (s->advertise_.empty()) {
    std::string host = s->grpc_.bound.host;
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
    s->advertise_ = cairn::StrCat(host, ":", s->grpc_.bound.port);
  }
  s->repair_ = std::make_unique<RepairWorker>(s->store_.get(), &s->peers_, clock, &s->metrics_,
                                              options.repair_bandwidth);
  s->scrubber_ = std::make_unique<Scrubber>(s->store_.get(), clock, &s->metrics_,
                                            options.scrub_bandwidth, options.scrub_pause);
  RepairWorker* repair = s->repair_.get();
  HeartbeatOptions hb;
  hb.on_replicate = [repair](const ReplicateCommand& cmd) { repair->Enqueue(cmd); };
  hb.advertise = s->advertise_;
  hb.zone = options.zone;
  hb.interval = options.heartbeat_interval;
  hb.capacity_limit = options.capacity;
  s->heartbeat_ =
      std::make_unique<Heartbeat>(hb, s->master_.get(), fs, s->store_.get(), clock, &s->metrics_);

  ChunkStore* store = s->store_.get();
  Heartbeat* heartbeat = s->heartbeat_.get();
  repair->OnCopied([heartbeat] { heartbeat->BeatSoon(); });
  s->metrics_.Describe("cairn_chunkserver_write_bytes_total", Metrics::Type::kCounter,
                       "Chunk bytes received for writing.", /*unlabeled=*/true);
  s->metrics_.Describe("cairn_chunkserver_read_bytes_total", Metrics::Type::kCounter,
                       "Verified chunk bytes sent to readers.", /*unlabeled=*/true);
  s->metrics_.Describe("cairn_chunkserver_checksum_errors_total", Metrics::Type::kCounter,
                       "Reads that found a checksum mismatch.", /*unlabeled=*/true);
  s->metrics_.Describe("cairn_chunkserver_chunks_written_total", Metrics::Type::kCounter,
                       "Replicas written by the pipeline.", /*unlabeled=*/true);
  s->metrics_.Describe("cairn_chunkserver_chunks", Metrics::Type::kGauge, "Replicas stored.");
  s->metrics_.Describe("cairn_chunkserver_stored_bytes", Metrics::Type::kGauge,
                       "Data bytes of the replicas stored.");
  s->metrics_.Describe("cairn_chunkserver_disk_capacity_bytes", Metrics::Type::kGauge,
                       "Size of the file system under the root dir.");
  s->metrics_.Describe("cairn_chunkserver_disk_free_bytes", Metrics::Type::kGauge,
                       "Free space of the file system under the root dir.");
  s->metrics_.Describe("cairn_chunkserver_rpcs_total", Metrics::Type::kCounter,
                       "Chunkserver RPCs handled, by method and status code.");
  s->metrics_.Describe("cairn_chunkserver_rpc_duration_seconds", Metrics::Type::kHistogram,
                       "Chunkserver RPC latency, by method.");
  s->metrics_.AddCollector([store](Metrics& m) {
    StoreStats st = store->Stats();
    m.Set("cairn_chunkserver_chunks", "", static_cast<double>(st.chunks));
    m.Set("cairn_chunkserver_stored_bytes", "", static_cast<double>(st.bytes));
    if (auto space = store->Space(); space.ok()) {
      m.Set("cairn_chunkserver_disk_capacity_bytes", "", static_cast<double>(space->capacity));
      m.Set("cairn_chunkserver_disk_free_bytes", "", static_cast<double>(space->free));
    }
  });
  AddStatusRoutes(
      s->http_, [heartbeat] { return heartbeat->Healthy(); }, &s->metrics_);
  ASSIGN_OR_RETURN(HostPort hp, s->http_.Start(options.http_listen, options.announce));
  s->http_port_ = hp.port;
  s->repair_->Start();
  s->scrubber_->Start();
  s->heartbeat_->Start();
  return s;
}

ChunkserverServer::~ChunkserverServer() { Shutdown(); }

void ChunkserverServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  // After a failed Start(), only some parts exist.
  if (heartbeat_) heartbeat_->Stop();
  if (scrubber_) scrubber_->Stop();
  if (repair_) repair_->Stop();
  http_.Stop();
  if (grpc_.server) {
    grpc_.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
}

}  // namespace cairn::chunkserver
