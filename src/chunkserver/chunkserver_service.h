// gRPC service of a chunkserver: pipelined chunk writes, verified range
// reads, deletes and copy-from-peer (repair).
#ifndef CAIRN_CHUNKSERVER_CHUNKSERVER_SERVICE_H_
#define CAIRN_CHUNKSERVER_CHUNKSERVER_SERVICE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "chunkserver/chunk_store.h"
#include "common/metrics.h"
#include "common/net.h"
#include "proto/chunkserver.grpc.pb.h"

namespace cairn::chunkserver {

// Bytes per streamed data message.
inline constexpr size_t kStreamPiece = 1 << 20;

// Copies replica `chunk` from the chunkserver at `source` into `store`,
// checking the whole-chunk CRC32C and size against `chunk`. DataLoss on a
// mismatch. `pace`, if set, is called before each piece is written with its
// size; returning false cancels the copy.
absl::Status CopyFromPeer(ChunkStore* store, StubCache<cairn::Chunkserver>* peers,
                          const ChunkRef& chunk, const std::string& source,
                          const std::function<bool(size_t)>& pace = nullptr);

class ChunkserverService final : public cairn::Chunkserver::Service {
 public:
  // `store`, `peers` and `metrics` must outlive the service. `peers` holds
  // the channels to the rest of each pipeline, reused by every write.
  ChunkserverService(ChunkStore* store, StubCache<cairn::Chunkserver>* peers, Metrics* metrics)
      : store_(store), peers_(peers), metrics_(metrics) {}

  // Reads the stream into a local replica while forwarding it to the rest of
  // the pipeline; replies only when every replica downstream is durable too.
  // On a downstream failure the status message starts with
  // "pipeline <address>:" naming the node that failed.
  grpc::Status WriteChunk(grpc::ServerContext* ctx, grpc::ServerReader<WriteChunkRequest>* reader,
                          WriteChunkReply* reply) override;
  grpc::Status ReadChunk(grpc::ServerContext* ctx, const ReadChunkRequest* req,
                         grpc::ServerWriter<ReadChunkReply>* writer) override;
  grpc::Status DeleteChunk(grpc::ServerContext* ctx, const DeleteChunkRequest* req,
                           DeleteChunkReply* reply) override;
  grpc::Status CopyChunk(grpc::ServerContext* ctx, const CopyChunkRequest* req,
                         CopyChunkReply* reply) override;

 private:
  grpc::Status WriteChunkImpl(grpc::ServerContext* ctx, grpc::ServerReader<WriteChunkRequest>* reader,
                              WriteChunkReply* reply);

  ChunkStore* const store_;
  StubCache<cairn::Chunkserver>* const peers_;
  Metrics* const metrics_;
};

}  // namespace cairn::chunkserver

#endif  // CAIRN_CHUNKSERVER_CHUNKSERVER_SERVICE_H_
