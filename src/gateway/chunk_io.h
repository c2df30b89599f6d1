// The gateway's side of the chunk data path: writing one chunk through a
// replica pipeline, and reading a byte range of a chunk with failover across
// its replicas. Every byte read is checked against the CRC32C the chunkserver
// computed after verifying its block checksums.
#ifndef CAIRN_GATEWAY_CHUNK_IO_H_
#define CAIRN_GATEWAY_CHUNK_IO_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/net.h"
#include "common/rpc_watchdog.h"
#include "proto/chunkserver.grpc.pb.h"
#include "proto/master.pb.h"

namespace cairn::gateway {

// One channel per chunkserver address.
using ChunkserverPool = StubCache<cairn::Chunkserver>;

// Reads in flight from this gateway per chunkserver, so that a read goes to
// the least loaded of a chunk's healthy replicas. Thread-safe.
class ReadLoad {
 public:
  // `replicas` reordered for reading: the one with the fewest reads in
  // flight among the first `alive` leads (ties keep the given order, which
  // the master rotates per chunk); the others follow in their order.
  std::vector<NodeAddress> Order(const ChunkLocations& locations) const;
  void Begin(const std::string& address);
  void End(const std::string& address);

 private:
  int InFlight(const std::string& address) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> in_flight_ ABSL_GUARDED_BY(mu_);
};

// What the gateway's chunk I/O shares: the channels, the watchdog that
// cancels stalled calls, and the read load. Thread-safe.
struct ChunkIo {
  ChunkIo() = default;
  explicit ChunkIo(ChunkserverPool::Factory factory) : pool(std::move(factory)) {}
  ChunkserverPool pool;
  RpcWatchdog watchdog;
  StallTimeouts timeouts;
  ReadLoad load;
};

// Streams one chunk to the first replica of a pipeline, which forwards it to
// the rest. Not thread-safe.
class ChunkPipelineWriter {
 public:
  // `io` must outlive the writer.
  ChunkPipelineWriter(ChunkIo* io, const AllocateChunkReply& allocation);
  ~ChunkPipelineWriter();

  // Sends `*piece` (at most kMessageBytes) as one message. The string is
  // borrowed for the call (swapped into the message, then back), not copied.
  absl::Status Send(std::string* piece);
  // Ends the stream: the replicas start making the chunk durable. Finish()
  // then collects their answer, so other work can happen in between.
  absl::Status Close();
  // Closes if needed and waits until every replica is durable. Returns the
  // chunk's size and CRC32C. On a failure, `failed_node()` names the node
  // the pipeline blamed.
  absl::StatusOr<ChunkRef> Finish();
  uint64_t failed_node() const { return failed_node_; }
  const AllocateChunkReply& allocation() const { return allocation_; }

  static constexpr size_t kMessageBytes = 1 << 20;

 private:
  absl::Status Fail(absl::Status s);
  // `s`, the status of a failed step; if the watchdog ended the step after
  // `waited` and nobody downstream was blamed, a stall of the first replica.
  absl::Status StallOr(absl::Status s, bool stalled, absl::Duration waited) const;

  ChunkIo* const io_;
  const AllocateChunkReply allocation_;
  grpc::ClientContext ctx_;
  WriteChunkReply reply_;
  std::unique_ptr<grpc::ClientWriterInterface<WriteChunkRequest>> stream_;
  WriteChunkRequest msg_;
  bool header_sent_ = false;
  bool broken_ = false;
  bool closed_ = false;    // WritesDone() was called
  bool finished_ = false;  // the stream's Finish() was called
  uint64_t size_ = 0;
  uint32_t crc_ = 0;
  uint64_t failed_node_ = 0;
};

// Reads [offset, offset+length) of chunk `handle` at `version` (length > 0)
// from its `locations`, in the order ReadLoad::Order gives, resuming on the
// next replica after any error, stall (io->timeouts.read), timeout or
// checksum mismatch. `sink` gets verified bytes in order; if it returns false
// the read stops with Cancelled. Unavailable/DataLoss when every replica
// failed.
absl::Status ReadChunkRange(ChunkIo* io, uint64_t handle, uint64_t version,
                            const ChunkLocations& locations, uint64_t offset, uint64_t length,
                            const std::function<bool(std::string_view)>& sink);

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_CHUNK_IO_H_
