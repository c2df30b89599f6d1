// WritePipeline: one replica's part of a pipelined chunk write. It reads the
// stream from upstream (the gateway or the previous replica), stores each
// message locally while forwarding it to the next replica, overlaps its own
// fsync with the downstream ones, and replies only once every replica
// downstream is durable and agrees on the chunk's size and CRC32C.
//
// Transport-neutral on the upstream side (WriteSource); downstream it talks
// to peers through the StubCache, so tests hand it gmock stubs or fakes.
#ifndef CAIRN_CHUNKSERVER_WRITE_PIPELINE_H_
#define CAIRN_CHUNKSERVER_WRITE_PIPELINE_H_

#include "absl/status/statusor.h"
#include "chunkserver/chunk_store.h"
#include "common/metrics.h"
#include "common/net.h"
#include "common/rpc_watchdog.h"
#include "proto/chunkserver.grpc.pb.h"

namespace cairn::chunkserver {

// The upstream half of a write stream.
class WriteSource {
 public:
  virtual ~WriteSource() = default;
  // Fills `msg` with the next message; false at the end of the stream (or
  // when the writer went away).
  virtual bool Read(WriteChunkRequest* msg) = 0;
  // True once the writer upstream went away.
  virtual bool Cancelled() = 0;
};

class WritePipeline {
 public:
  // `store`, `peers` and `metrics` must outlive the pipeline. `peers` holds
  // the channels to the next replicas, reused by every write. Thread-safe:
  // concurrent Write() calls are independent.
  // `watchdog` (may be null: only the calls' deadlines) ends a forward to
  // the next replica that stalls past `timeouts`, blaming that replica.
  WritePipeline(ChunkStore* store, StubCache<cairn::Chunkserver>* peers, Metrics* metrics,
                RpcWatchdog* watchdog = nullptr, StallTimeouts timeouts = {})
      : store_(store), peers_(peers), metrics_(metrics), watchdog_(watchdog), timeouts_(timeouts) {}

  // Writes the chunk `upstream` carries. Its first message must hold the
  // header (handle, version, the rest of the pipeline); the stream's end is
  // the chunk's end. Returns the replica's size and CRC32C of all data, once
  // this replica and every one downstream is durable.
  //
  // Errors that blame a downstream replica carry its address as the typed
  // field of common/pipeline_failure.h (BlamedPipelineNode()), and their
  // message starts "pipeline <address>:":
  //  - any code: the next replica failed (its own status, or Unavailable if
  //    it cannot be reached, its stream broke or it stalled); a failure it already blamed
  //    on a replica further down is passed on unchanged;
  //  - DataLoss: the next replica answered with a different size or CRC.
  // Errors of this replica blame none:
  //  - InvalidArgument: the stream does not start with a header;
  //  - DataLoss: a data message failed its CRC32C check;
  //  - Cancelled: the writer went away;
  //  - AlreadyExists, ResourceExhausted, ...: from the ChunkStore.
  // On any error the rest of the pipeline is cancelled. A replica committed
  // here whose pipeline then failed stays: the master collects it as garbage.
  absl::StatusOr<WriteChunkReply> Write(WriteSource* upstream);

 private:
  ChunkStore* const store_;
  StubCache<cairn::Chunkserver>* const peers_;
  Metrics* const metrics_;
  RpcWatchdog* const watchdog_;
  const StallTimeouts timeouts_;
};

}  // namespace cairn::chunkserver

#endif  // CAIRN_CHUNKSERVER_WRITE_PIPELINE_H_
