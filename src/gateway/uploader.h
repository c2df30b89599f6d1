// Uploader: one file upload through the gateway. Splits the byte stream into
// chunks, streams each through its replica pipeline as it arrives (keeping
// the current chunk's bytes so a failed pipeline can be retried on other
// nodes), computes the SHA-256, and commits the file at the master, which
// makes it visible atomically. Memory: one chunk buffer.
//
// Not thread-safe; one per request. (A second thread per upload, sending
// while the first receives and hashes, was measured and did not help on a
// 2-core machine: it saved as much waiting as it added CPU.)
#ifndef CAIRN_GATEWAY_UPLOADER_H_
#define CAIRN_GATEWAY_UPLOADER_H_

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/chunk_io.h"
#include "proto/master.grpc.pb.h"

namespace cairn::gateway {

struct UploadOptions {
  std::string path;
  bool if_none_match = false;
  uint32_t replication = 0;  // 0: the master's default
  int max_chunk_attempts = 3;
  uint64_t expected_length = 0;  // the request's Content-Length, if known: sizes buffers
};

class Uploader {
 public:
  // `master` and `pool` must outlive the uploader. An uploader destroyed
  // before Finish() aborts the upload (its chunks become garbage).
  Uploader(cairn::Master::Stub* master, ChunkserverPool* pool, UploadOptions options);
  ~Uploader();

  // Registers the upload: errors as Master::StartUpload.
  absl::Status Start();
  absl::Status Write(std::string_view data);
  // Completes the last chunk and commits. Returns the committed entry.
  absl::StatusOr<Entry> Finish();

 private:
  // One chunk's bytes, in messages of up to kMessageBytes, kept until its
  // replicas are durable so a failed pipeline can be replayed elsewhere.
  struct Chunk {
    int index = 0;
    std::vector<std::string> pieces;
    std::unique_ptr<ChunkPipelineWriter> writer;
  };
  // A message's worth of the body.
  struct Piece {
    std::string data;
    bool chunk_end = false;  // the last piece of its chunk
  };

  // Sends `filling_` as the next message of the current chunk.
  absl::Status Push(bool chunk_end);
  // An empty string with room for `reserve` bytes, reusing a spare one.
  std::string NewPiece(size_t reserve);
  // Starts a chunk if none is open, sends the piece, closes a complete chunk.
  absl::Status Handle(Piece piece);
  // Gives `chunk` a new pipeline (a master allocation avoiding excluded_).
  absl::Status BeginChunk(Chunk* chunk);
  // Sends the last piece of `current_`, repipelining on failure.
  absl::Status SendLastPiece();
  // `current_` is complete: closes its stream, waits for the chunk before it,
  // and keeps it as the one awaiting acknowledgement. So the replicas' fsync
  // of chunk k overlaps the transfer of chunk k+1.
  absl::Status CloseCurrent();
  // Waits until `chunk` is durable on every replica and adds it to the commit;
  // moves it to new pipelines on failure.
  absl::Status Settle(Chunk* chunk);
  // Replaces `chunk`'s failed pipeline with one avoiding the failed nodes and
  // replays the chunk's bytes into it; `close` also ends the new stream.
  absl::Status Repipeline(Chunk* chunk, absl::Status cause, bool close);
  // Keeps settled pieces for reuse (fresh 1 MiB buffers cost page faults).
  void Recycle(std::vector<std::string>* pieces);

  cairn::Master::Stub* const master_;
  ChunkserverPool* const pool_;
  const UploadOptions options_;
  uint64_t upload_id_ = 0;
  uint64_t chunk_size_ = 0;

  uint64_t length_ = 0;
  uint64_t chunk_fill_ = 0;  // bytes of the current chunk cut so far
  std::string filling_;      // the piece being filled
  EVP_MD_CTX* sha_ = nullptr;
  bool committed_ = false;
  int next_index_ = 0;  // index of the next chunk to allocate
  Chunk current_;       // being received
  Chunk closed_;        // sent in full, awaiting its replicas' acknowledgement
  std::vector<std::string> spare_;  // at most a chunk's worth
  std::vector<uint64_t> excluded_;
  CommitUploadRequest commit_;
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_UPLOADER_H_
