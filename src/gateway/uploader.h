// Uploader: one file upload through the gateway. Splits the byte stream into
// chunks, streams each through its replica pipeline as it arrives (keeping
// the current chunk's bytes so a failed pipeline can be retried on other
// nodes), computes the SHA-256, and commits the file at the master, which
// makes it visible atomically. Memory: one chunk buffer.
//
// Not thread-safe; one per request.
#ifndef CAIRN_GATEWAY_UPLOADER_H_
#define CAIRN_GATEWAY_UPLOADER_H_

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gateway/chunk_io.h"
#include "proto/master.grpc.pb.h"

namespace cairn::gateway {

struct UploadOptions {
  std::string path;
  bool if_none_match = false;
  uint32_t replication = 0;  // 0: the master's default
  int max_chunk_attempts = 3;
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
  absl::Status BeginChunk();
  // Completes the current chunk, moving it to new pipelines on failure.
  absl::Status EndChunk();
  // Replaces a failed pipeline with one avoiding the failed nodes and
  // replays the buffered bytes of the current chunk into it.
  absl::Status Repipeline(absl::Status cause);

  cairn::Master::Stub* const master_;
  ChunkserverPool* const pool_;
  const UploadOptions options_;
  uint64_t upload_id_ = 0;
  uint64_t chunk_size_ = 0;
  uint64_t length_ = 0;
  std::string buffer_;  // the current chunk's bytes, for retries
  std::unique_ptr<ChunkPipelineWriter> writer_;
  AllocateChunkReply allocation_;
  std::vector<uint64_t> excluded_;
  CommitUploadRequest commit_;
  EVP_MD_CTX* sha_ = nullptr;
  bool committed_ = false;
};

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_UPLOADER_H_
