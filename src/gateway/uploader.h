// Uploader: one file upload through the gateway. Splits the byte stream into
// chunks, streams each through its replica pipeline as it arrives (keeping a
// chunk's bytes until its replicas are durable, so a failed pipeline can be
// retried on other nodes), computes the SHA-256, and commits the file at the
// master, which makes it visible atomically. Chunk k+1 is sent while chunk
// k's replicas sync. Memory: about one chunk (the one arriving, plus the
// first messages of the next while the previous one's replicas confirm).
//
// Not thread-safe; one per request. (A second thread per upload, sending
// while the first receives and hashes, was measured and did not help on a
// 2-core machine: it saved as much waiting as it added CPU.)
#ifndef CAIRN_GATEWAY_UPLOADER_H_
#define CAIRN_GATEWAY_UPLOADER_H_

#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/master_client.h"
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

// Message buffers shared by the gateway's uploads. Reusing them saves the
// page faults of fresh 1 MiB allocations, and keeps freed ones from piling up
// in malloc's per-thread arenas (which made the gateway's RSS grow with the
// number of request threads that had ever uploaded). Thread-safe.
class BufferPool {
 public:
  explicit BufferPool(size_t max_kept) : max_kept_(max_kept) {}
  // An empty string with room for at least `reserve` bytes.
  std::string Take(size_t reserve);
  // Keeps the message-sized ones of `buffers` (up to max_kept) and clears it.
  void Give(std::vector<std::string>* buffers);

 private:
  const size_t max_kept_;
  absl::Mutex mu_;
  std::vector<std::string> kept_ ABSL_GUARDED_BY(mu_);
};

// A master call's status during an upload. After Start(), the master not
// knowing the upload means it restarted (or the upload expired): the client
// should retry, so NotFound becomes Unavailable.
absl::Status UploadCallStatus(const grpc::Status& s);

// SHA-256 of `data`, lowercase hex (the files' checksum).
std::string Sha256Hex(std::string_view data);

class Uploader {
 public:
  // `master`, `io` and `buffers` must outlive the uploader. An uploader
  // destroyed before Finish() aborts the upload (its chunks become garbage).
  Uploader(MasterClient* master, ChunkIo* io, BufferPool* buffers, UploadOptions options);
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
  // Sends `filling_` as the next message of the current chunk (starting the
  // chunk if needed); `chunk_end` closes the chunk.
  absl::Status Push(bool chunk_end);
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

  MasterClient* const master_;
  ChunkIo* const io_;
  BufferPool* const buffers_;
  const UploadOptions options_;
  uint64_t upload_id_ = 0;
  uint64_t chunk_size_ = 0;
  std::optional<AllocateChunkReply> first_chunk_;  // from StartUpload, until used

  uint64_t length_ = 0;
  uint64_t chunk_fill_ = 0;  // bytes of the current chunk cut so far
  std::string filling_;      // the piece being filled
  EVP_MD_CTX* sha_ = nullptr;
  bool committed_ = false;
  int next_index_ = 0;  // index of the next chunk to allocate
  Chunk current_;       // being received
  Chunk closed_;        // sent in full, awaiting its replicas' acknowledgement
  // closed_ is settled once this many pieces of the next chunk are sent.
  static constexpr size_t kSettleAfterPieces = 8;
  std::vector<uint64_t> excluded_;
  CommitUploadRequest commit_;
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_UPLOADER_H_
