// PackWriter: the gateway's group commit of small files (DESIGN.md §10).
// Small uploads queue up while a batch is in flight; a writer thread takes
// what has queued, lays the files out as records of one pack chunk
// (common/pack_record.h), streams that chunk through one replica pipeline
// (one fdatasync per replica for the whole batch), and commits every file of
// it with one CommitPack (one synced metadata write). Each file is committed
// or refused on its own; Put returns once its file is durable on every
// replica and visible, or has failed. A crash before the commit leaves only
// an unreferenced chunk, collected as garbage; no file is half visible.
//
// A path already in the batch being formed waits for the next batch, so two
// puts of one path commit in the order they queued.
#ifndef CAIRN_GATEWAY_PACK_WRITER_H_
#define CAIRN_GATEWAY_PACK_WRITER_H_

#include <atomic>
#include <deque>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/master_client.h"
#include "common/metrics.h"
#include "gateway/chunk_io.h"
#include "proto/master.pb.h"

namespace cairn::gateway {

struct PackOptions {
  int writers = 2;  // batches in flight at once
  size_t max_batch_files = 512;
  uint64_t max_batch_bytes = 8 << 20;  // of records; a larger file goes alone
  int max_chunk_attempts = 3;          // pipelines tried per batch
  // While a batch is in flight another starts only once this many puts wait;
  // fewer wait for it to finish, so that batches grow instead of splitting.
  int eager_batch_files = 8;
};

// The upload of one pack chunk: StartPack, the chunk through a replica
// pipeline (moved to other nodes when one fails), and the abort of the
// upload when it is not committed. What PackWriter and Compactor share.
// Not thread-safe.
class PackChunkUpload {
 public:
  // `master` and `io` must outlive the upload.
  PackChunkUpload(MasterClient* master, ChunkIo* io, int max_attempts)
      : master_(master), io_(io), max_attempts_(max_attempts) {}
  // Aborts the upload unless Committed() was called.
  ~PackChunkUpload();
  // Starts the upload and makes `chunk` durable on every replica of a
  // pipeline; returns it as the commit names it. `what` describes the chunk
  // in errors and logs. Unavailable when every pipeline tried failed; the
  // master's errors as UploadCallStatus gives them.
  absl::StatusOr<CommittedChunk> Write(std::string chunk, std::string_view what);
  uint64_t upload_id() const { return upload_id_; }
  uint64_t chunk_size() const { return chunk_size_; }  // the master's
  // The commit succeeded: the master dropped the upload with it.
  void Committed() { upload_id_ = 0; }

 private:
  MasterClient* const master_;
  ChunkIo* const io_;
  const int max_attempts_;
  uint64_t upload_id_ = 0;
  uint64_t chunk_size_ = 0;
};

class PackWriter {
 public:
  // `master` and `io` (and `metrics`, if given) must outlive the writer.
  PackWriter(MasterClient* master, ChunkIo* io, PackOptions options, Metrics* metrics = nullptr);
  // Stops the writers after their batches; puts still queued fail Unavailable.
  ~PackWriter();

  // Writes `data` as the file at `path` (its SHA-256, lowercase hex, is
  // `sha256`) in a pack chunk of the master's default replication, and
  // returns the committed entry. Errors as CommitUpload's; Unavailable when
  // no pipeline or master could take the batch. Thread-safe; blocks.
  absl::StatusOr<Entry> Put(std::string path, bool if_none_match, std::string_view data,
                            std::string sha256);

  // The largest file Put takes: what fits one record of a pack chunk (the
  // master's chunk size, asked once) and a batch. 0 while the master cannot
  // be asked.
  uint64_t MaxFileBytes();

  // Puts waiting for a batch.
  size_t Queued() {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }

 private:
  struct Pending {
    std::string path;
    bool if_none_match = false;
    std::string_view data;  // the caller's, which waits in Put
    std::string sha256;
    absl::CondVar cv;  // signalled when done
    int tries = 0;     // batches it was in
    bool done = false;
    absl::StatusOr<Entry> result;
  };

  void Run();
  // A writer should take a batch now.
  bool ReadyLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Takes the next batch off queue_: up to the limits, in order, one put per path.
  std::vector<Pending*> TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes and commits `batch`, setting each one's result (Aborted ones,
  // refused for racing another file of the batch, are queued again once).
  void WriteBatch(const std::vector<Pending*>& batch);
  absl::StatusOr<CommitPackReply> WriteAndCommit(const std::vector<Pending*>& batch);

  MasterClient* const master_;
  ChunkIo* const io_;
  const PackOptions options_;
  Metrics* const metrics_;
  std::atomic<uint64_t> chunk_size_{0};  // the master's; 0 until known

  absl::Mutex mu_;
  absl::CondVar work_;  // a put queued, a batch done, or stopping
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> writing_ ABSL_GUARDED_BY(mu_);  // paths of batches in flight
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;                         // batches
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_PACK_WRITER_H_
