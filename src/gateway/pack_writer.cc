#include "gateway/pack_writer.h"

#include "absl/container/flat_hash_set.h"
#include "common/logging.h"
#include "common/pack_record.h"
#include "common/status.h"
#include "common/strings.h"
#include "gateway/uploader.h"

namespace cairn::gateway {

PackWriter::PackWriter(MasterClient* master, ChunkIo* io, PackOptions options, Metrics* metrics)
    : master_(master), io_(io), options_(options), metrics_(metrics) {
  for (int i = 0; i < std::max(1, options_.writers); ++i) threads_.emplace_back([this] { Run(); });
}

PackWriter::~PackWriter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
}

absl::StatusOr<Entry> PackWriter::Put(std::string path, bool if_none_match, std::string_view data,
                                      std::string sha256) {
  Pending p;
  p.path = std::move(path);
  p.if_none_match = if_none_match;
  p.data = data;
  p.sha256 = std::move(sha256);
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the gateway is shutting down");
  queue_.push_back(&p);
  work_.Signal();
  while (!p.done) p.cv.Wait(&mu_);
  return std::move(p.result);
}

uint64_t PackWriter::MaxFileBytes() {
  uint64_t chunk_size = chunk_size_.load();
  if (chunk_size == 0) {
    ClusterReply reply;
    MasterCallOptions quick{.deadline = absl::Seconds(2), .wait_for_ready = false};
    if (!master_->Unary(&Master::StubInterface::Cluster, ClusterRequest{}, &reply, quick).ok()) {
      return 0;
    }
    chunk_size = reply.chunk_size();
    chunk_size_.store(chunk_size);
  }
  uint64_t room = std::min(chunk_size, options_.max_batch_bytes);
  return room > kPackRecordHeaderBytes ? room - kPackRecordHeaderBytes : 0;
}

bool PackWriter::ReadyLocked() const {
  if (queue_.empty()) return false;
  if (in_flight_ == 0) return true;
  return in_flight_ < std::max(1, options_.writers) &&
         queue_.size() >= static_cast<size_t>(options_.eager_batch_files);
}

std::vector<PackWriter::Pending*> PackWriter::TakeBatchLocked() {
  std::vector<Pending*> batch;
  absl::flat_hash_set<std::string_view> paths;
  uint64_t bytes = 0;
  uint64_t limit = options_.max_batch_bytes;
  if (uint64_t chunk_size = chunk_size_.load(); chunk_size > 0) limit = std::min(limit, chunk_size);
  for (auto it = queue_.begin(); it != queue_.end() && batch.size() < options_.max_batch_files;) {
    Pending* p = *it;
    const uint64_t record = kPackRecordHeaderBytes + p->data.size();
    if (!batch.empty() && bytes + record > limit) break;
    // A path already being written waits for that write: puts of one path
    // commit in the order they queued.
    if (writing_.contains(p->path) || !paths.insert(p->path).second) {
      ++it;
      continue;
    }
    batch.push_back(p);
    bytes += record;
    ++p->tries;
    it = queue_.erase(it);
  }
  for (Pending* p : batch) writing_.insert(p->path);
  return batch;
}

void PackWriter::Run() {
  for (;;) {
    std::vector<Pending*> batch;
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        if (stopping_) {
          for (Pending* p : queue_) {
            p->result = absl::UnavailableError("the gateway is shutting down");
            p->done = true;
            p->cv.Signal();
          }
          queue_.clear();
          return;
        }
        if (ReadyLocked()) {
          batch = TakeBatchLocked();
          if (!batch.empty()) break;
        }
        work_.Wait(&mu_);  // a put, or a batch done
      }
      ++in_flight_;
      if (ReadyLocked()) work_.Signal();
    }
    WriteBatch(batch);
  }
}

void PackWriter::WriteBatch(const std::vector<Pending*>& batch) {
  absl::StatusOr<CommitPackReply> reply = WriteAndCommit(batch);
  if (metrics_ != nullptr) {
    metrics_->Add("cairn_gateway_pack_batches_total",
                  reply.ok() ? "result=\"ok\"" : "result=\"failed\"");
    metrics_->Add("cairn_gateway_packed_files_total", "", static_cast<double>(batch.size()));
  }
  absl::MutexLock lock(&mu_);
  --in_flight_;
  std::vector<Pending*> again;
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending* p = batch[i];
    writing_.erase(p->path);
    if (!reply.ok()) {
      p->result = reply.status();
    } else if (const PackedFileResult& r = reply->results(static_cast<int>(i)); r.code() == 0) {
      p->result = r.entry();
    } else {
      absl::Status s(static_cast<absl::StatusCode>(r.code()), r.message());
      // Refused for racing another file of the batch (one path an ancestor
      // of another): worth one more batch, where the race has been decided.
      if (absl::IsAborted(s) && p->tries < 2) {
        again.push_back(p);
        continue;
      }
      p->result = s;
    }
    p->done = true;
    p->cv.Signal();
  }
  queue_.insert(queue_.begin(), again.begin(), again.end());
  work_.Signal();
}

absl::StatusOr<CommitPackReply> PackWriter::WriteAndCommit(const std::vector<Pending*>& batch) {
  std::string chunk;
  uint64_t total = 0;
  for (const Pending* p : batch) total += kPackRecordHeaderBytes + p->data.size();
  chunk.reserve(total);
  CommitPackRequest commit;
  for (const Pending* p : batch) {
    PackedFile* f = commit.add_files();
    f->set_path(p->path);
    f->set_if_none_match(p->if_none_match);
    f->set_offset(AppendPackRecord(&chunk, p->data));
    f->set_length(p->data.size());
    f->set_sha256(p->sha256);
  }

  PackChunkUpload upload(master_, io_, options_.max_chunk_attempts);
  ASSIGN_OR_RETURN(
      *commit.mutable_chunk(),
      upload.Write(std::move(chunk), cairn::StrCat("a pack chunk of ", batch.size(), " files")));
  commit.set_upload_id(upload.upload_id());
  chunk_size_.store(upload.chunk_size());
  CommitPackReply reply;
  RETURN_IF_ERROR(
      UploadCallStatus(master_->Unary(&Master::StubInterface::CommitPack, commit, &reply)));
  upload.Committed();
  if (reply.results_size() != commit.files_size()) {
    return absl::InternalError(cairn::StrCat("CommitPack answered ", reply.results_size(), " of ",
                                             commit.files_size(), " files"));
  }
  return reply;
}

PackChunkUpload::~PackChunkUpload() {
  if (upload_id_ == 0) return;
  AbortUploadRequest req;
  req.set_upload_id(upload_id_);
  AbortUploadReply reply;
  master_->Unary(&Master::StubInterface::AbortUpload, req, &reply).ok();
}

absl::StatusOr<CommittedChunk> PackChunkUpload::Write(std::string chunk, std::string_view what) {
  const uint64_t chunk_bytes = chunk.size();
  // The messages of the chunk, kept for a retry on other nodes. A batch of
  // small files usually fits one message: then the chunk is it, uncopied.
  constexpr size_t kMessage = ChunkPipelineWriter::kMessageBytes;
  std::vector<std::string> pieces;
  if (chunk_bytes <= kMessage) {
    pieces.push_back(std::move(chunk));
  } else {
    for (size_t off = 0; off < chunk_bytes; off += kMessage) {
      pieces.push_back(chunk.substr(off, kMessage));
    }
    chunk = std::string();
  }

  StartPackRequest start_req;
  start_req.set_expected_size(chunk_bytes);
  StartUploadReply start;
  RETURN_IF_ERROR(
      FromGrpcStatus(master_->Unary(&Master::StubInterface::StartPack, start_req, &start)));
  upload_id_ = start.upload_id();
  chunk_size_ = start.chunk_size();

  AllocateChunkReply allocation = start.first_chunk();
  std::vector<uint64_t> excluded;
  for (int attempt = 1;; ++attempt) {
    ChunkPipelineWriter writer(io_, allocation);
    absl::Status sent;
    for (size_t i = 0; i < pieces.size() && sent.ok(); ++i) sent = writer.Send(&pieces[i]);
    absl::StatusOr<ChunkRef> ref = sent.ok() ? writer.Finish() : absl::StatusOr<ChunkRef>(sent);
    if (ref.ok()) {
      CommittedChunk committed;
      *committed.mutable_chunk() = *ref;
      for (const NodeAddress& r : allocation.replicas()) committed.add_nodes(r.node_id());
      return committed;
    }
    if (attempt >= max_attempts_) {
      return absl::UnavailableError(
          cairn::StrCat(what, " failed on every pipeline tried: ", ToStd(ref.status().message())));
    }
    spdlog::warn("{} (chunk {}): pipeline failed ({}); retrying without node {}", what,
                 allocation.chunk().handle(), ref.status().ToString(), writer.failed_node());
    if (writer.failed_node() != 0) excluded.push_back(writer.failed_node());
    AllocateChunkRequest areq;
    areq.set_upload_id(upload_id_);
    areq.set_expected_size(chunk_bytes);
    for (uint64_t n : excluded) areq.add_exclude_nodes(n);
    AllocateChunkReply next;
    RETURN_IF_ERROR(
        UploadCallStatus(master_->Unary(&Master::StubInterface::AllocateChunk, areq, &next)));
    allocation = std::move(next);
  }
}

}  // namespace cairn::gateway
