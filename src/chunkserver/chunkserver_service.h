// gRPC service of a chunkserver: the adapter over the write pipeline, the
// chunk store's verified reads and deletes, and peer copies (repair). It only
// parses, calls, maps errors to gRPC and records per-RPC metrics.
#ifndef CAIRN_CHUNKSERVER_CHUNKSERVER_SERVICE_H_
#define CAIRN_CHUNKSERVER_CHUNKSERVER_SERVICE_H_

#include <string>

#include "chunkserver/chunk_store.h"
#include "chunkserver/write_pipeline.h"
#include "common/metrics.h"
#include "common/net.h"
#include "proto/chunkserver.grpc.pb.h"

namespace cairn::chunkserver {

// Bytes per streamed data message.
inline constexpr size_t kStreamPiece = 1 << 20;

class ChunkserverService final : public cairn::Chunkserver::Service {
 public:
  // `store`, `peers` and `metrics` must outlive the service. `peers` holds
  // the channels to the rest of each pipeline and to copy sources.
  // A forward to the next replica that stalls past `timeouts` fails,
  // blaming that replica.
  ChunkserverService(ChunkStore* store, StubCache<cairn::Chunkserver>* peers, Metrics* metrics,
                     StallTimeouts timeouts = {})
      : store_(store),
        peers_(peers),
        metrics_(metrics),
        pipeline_(store, peers, metrics, &watchdog_, timeouts) {}

  // WritePipeline::Write over the stream. A failure that blames a replica
  // downstream carries it in the status details (common/pipeline_failure.h).
  grpc::Status WriteChunk(grpc::ServerContext* ctx, grpc::ServerReader<WriteChunkRequest>* reader,
                          WriteChunkReply* reply) override;
  grpc::Status ReadChunk(grpc::ServerContext* ctx, const ReadChunkRequest* req,
                         grpc::ServerWriter<ReadChunkReply>* writer) override;
  grpc::Status DeleteChunk(grpc::ServerContext* ctx, const DeleteChunkRequest* req,
                           DeleteChunkReply* reply) override;
  // CopyFromPeer(req->chunk(), req->source()).
  grpc::Status CopyChunk(grpc::ServerContext* ctx, const CopyChunkRequest* req,
                         CopyChunkReply* reply) override;

 private:
  ChunkStore* const store_;
  StubCache<cairn::Chunkserver>* const peers_;
  Metrics* const metrics_;
  RpcWatchdog watchdog_;  // before pipeline_, which uses it
  WritePipeline pipeline_;
};

}  // namespace cairn::chunkserver

#endif  // CAIRN_CHUNKSERVER_CHUNKSERVER_SERVICE_H_
