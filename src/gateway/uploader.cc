#include "gateway/uploader.h"

#include "gateway/routes.h"

#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::gateway {
namespace {

// After Start(), the master not knowing our upload means it restarted (or the
// upload expired): the client should retry, so that is Unavailable, not NotFound.
absl::Status UploadCall(const grpc::Status& s) {
  absl::Status st = FromGrpcStatus(s);
  if (absl::IsNotFound(st)) return absl::UnavailableError(st.message());
  return st;
}

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

}  // namespace

Uploader::Uploader(cairn::Master::Stub* master, ChunkserverPool* pool, UploadOptions options)
    : master_(master), pool_(pool), options_(std::move(options)), sha_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr);
}

Uploader::~Uploader() {
  writer_.reset();
  if (upload_id_ != 0 && !committed_) {
    AbortUploadRequest req;
    req.set_upload_id(upload_id_);
    AbortUploadReply reply;
    master_->AbortUpload(MasterCall().get(), req, &reply).ok();
  }
  EVP_MD_CTX_free(sha_);
}

absl::Status Uploader::Start() {
  StartUploadRequest req;
  req.set_path(options_.path);
  req.set_if_none_match(options_.if_none_match);
  req.set_replication(options_.replication);
  StartUploadReply reply;
  RETURN_IF_ERROR(FromGrpcStatus(master_->StartUpload(MasterCall().get(), req, &reply)));
  upload_id_ = reply.upload_id();
  chunk_size_ = reply.chunk_size();
  commit_.set_upload_id(upload_id_);
  return absl::OkStatus();
}

absl::Status Uploader::BeginChunk() {
  AllocateChunkRequest req;
  req.set_upload_id(upload_id_);
  req.set_index(commit_.chunks_size());
  for (uint64_t n : excluded_) req.add_exclude_nodes(n);
  RETURN_IF_ERROR(UploadCall(master_->AllocateChunk(MasterCall().get(), req, &allocation_)));
  writer_ = std::make_unique<ChunkPipelineWriter>(pool_, allocation_);
  return absl::OkStatus();
}

absl::Status Uploader::Repipeline(absl::Status cause) {
  for (int attempt = 1; attempt < options_.max_chunk_attempts; ++attempt) {
    uint64_t failed = writer_ ? writer_->failed_node() : 0;
    spdlog::warn("upload {}: chunk {} pipeline failed ({}); retrying without node {}",
                 options_.path, commit_.chunks_size(), cause.ToString(), failed);
    if (failed != 0) excluded_.push_back(failed);
    writer_.reset();
    RETURN_IF_ERROR(BeginChunk());
    cause = writer_->Write(buffer_);
    if (cause.ok()) return absl::OkStatus();
  }
  return absl::UnavailableError(
      cairn::StrCat("chunk ", commit_.chunks_size(), " failed on every pipeline tried: ",
                    ToStd(cause.message())));
}

absl::Status Uploader::EndChunk() {
  for (int attempt = 1;; ++attempt) {
    auto ref = writer_->Finish();
    if (ref.ok()) {
      CommittedChunk* c = commit_.add_chunks();
      *c->mutable_chunk() = *ref;
      for (const NodeAddress& r : allocation_.replicas()) c->add_nodes(r.node_id());
      writer_.reset();
      buffer_.clear();
      return absl::OkStatus();
    }
    if (attempt >= options_.max_chunk_attempts) {
      return absl::UnavailableError(cairn::StrCat("chunk ", commit_.chunks_size(),
                                                  " failed on every pipeline tried: ",
                                                  ToStd(ref.status().message())));
    }
    RETURN_IF_ERROR(Repipeline(ref.status()));
  }
}

absl::Status Uploader::Write(std::string_view data) {
  EVP_DigestUpdate(sha_, data.data(), data.size());
  length_ += data.size();
  while (!data.empty()) {
    if (!writer_) {
      RETURN_IF_ERROR(BeginChunk());
      buffer_.reserve(chunk_size_);
    }
    size_t take = std::min<uint64_t>(data.size(), chunk_size_ - buffer_.size());
    std::string_view piece = data.substr(0, take);
    buffer_.append(piece);
    if (absl::Status s = writer_->Write(piece); !s.ok()) {
      RETURN_IF_ERROR(Repipeline(s));  // replays the whole buffer, this piece included
    }
    if (buffer_.size() == chunk_size_) RETURN_IF_ERROR(EndChunk());
    data.remove_prefix(take);
  }
  return absl::OkStatus();
}

absl::StatusOr<Entry> Uploader::Finish() {
  if (writer_) RETURN_IF_ERROR(EndChunk());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(sha_, digest, &n);
  commit_.set_length(length_);
  commit_.set_sha256(Hex(digest, n));
  CommitUploadReply reply;
  RETURN_IF_ERROR(UploadCall(master_->CommitUpload(MasterCall().get(), commit_, &reply)));
  committed_ = true;
  return reply.entry();
}

}  // namespace cairn::gateway
