#include "gateway/uploader.h"

#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::gateway {
namespace {

// Buffers of at least this size are kept for reuse; smaller ones (small
// files) are cheap to allocate.
constexpr size_t kKeepAtLeast = ChunkPipelineWriter::kMessageBytes;

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

absl::Status UploadCallStatus(const grpc::Status& s) {
  absl::Status st = FromGrpcStatus(s);
  if (absl::IsNotFound(st)) return absl::UnavailableError(st.message());
  return st;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  return Hex(digest, n);
}

std::string BufferPool::Take(size_t reserve) {
  std::string buffer;
  {
    absl::MutexLock lock(&mu_);
    if (!kept_.empty() && reserve > kKeepAtLeast / 2) {
      buffer = std::move(kept_.back());
      kept_.pop_back();
    }
  }
  buffer.clear();
  buffer.reserve(reserve);
  return buffer;
}

void BufferPool::Give(std::vector<std::string>* buffers) {
  absl::MutexLock lock(&mu_);
  for (std::string& b : *buffers) {
    if (kept_.size() >= max_kept_) break;
    if (b.capacity() >= kKeepAtLeast) kept_.push_back(std::move(b));
  }
  buffers->clear();
}

Uploader::Uploader(MasterClient* master, ChunkIo* io, BufferPool* buffers, UploadOptions options)
    : master_(master),
      io_(io),
      buffers_(buffers),
      options_(std::move(options)),
      sha_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(sha_, EVP_sha256(), nullptr);
}

Uploader::~Uploader() {
  current_ = Chunk();
  closed_ = Chunk();
  if (upload_id_ != 0 && !committed_) {
    AbortUploadRequest req;
    req.set_upload_id(upload_id_);
    AbortUploadReply reply;
    master_->Unary(&Master::StubInterface::AbortUpload, req, &reply).ok();
  }
  EVP_MD_CTX_free(sha_);
}

absl::Status Uploader::Start() {
  StartUploadRequest req;
  req.set_path(options_.path);
  req.set_if_none_match(options_.if_none_match);
  req.set_replication(options_.replication);
  req.set_allocate_first_chunk(options_.expected_length > 0);
  if (options_.expected_length > 0) req.set_expected_length(options_.expected_length);
  StartUploadReply reply;
  RETURN_IF_ERROR(FromGrpcStatus(master_->Unary(&Master::StubInterface::StartUpload, req, &reply)));
  if (reply.has_first_chunk()) first_chunk_ = std::move(*reply.mutable_first_chunk());
  upload_id_ = reply.upload_id();
  chunk_size_ = reply.chunk_size();
  commit_.set_upload_id(upload_id_);
  return absl::OkStatus();
}

absl::Status Uploader::BeginChunk(Chunk* chunk) {
  chunk->writer.reset();
  if (first_chunk_.has_value() && chunk->index == 0) {  // allocated by StartUpload
    chunk->writer = std::make_unique<ChunkPipelineWriter>(io_, *first_chunk_);
    first_chunk_.reset();
    return absl::OkStatus();
  }
  AllocateChunkRequest req;
  req.set_upload_id(upload_id_);
  req.set_index(chunk->index);
  const uint64_t offset = static_cast<uint64_t>(chunk->index) * chunk_size_;
  if (options_.expected_length > offset) {
    req.set_expected_size(std::min(options_.expected_length - offset, chunk_size_));
  }
  for (uint64_t n : excluded_) req.add_exclude_nodes(n);
  AllocateChunkReply allocation;
  RETURN_IF_ERROR(
      UploadCallStatus(master_->Unary(&Master::StubInterface::AllocateChunk, req, &allocation)));
  chunk->writer = std::make_unique<ChunkPipelineWriter>(io_, allocation);
  return absl::OkStatus();
}

absl::Status Uploader::Repipeline(Chunk* chunk, absl::Status cause, bool close) {
  const uint64_t handle = chunk->writer->allocation().chunk().handle();
  for (int attempt = 1; attempt < options_.max_chunk_attempts; ++attempt) {
    uint64_t failed = chunk->writer->failed_node();
    spdlog::warn("upload {}: pipeline of chunk handle {} failed ({}); retrying without node {}",
                 options_.path, handle, cause.ToString(), failed);
    if (failed != 0) excluded_.push_back(failed);
    RETURN_IF_ERROR(BeginChunk(chunk));
    cause = absl::OkStatus();
    for (std::string& piece : chunk->pieces) {
      cause = chunk->writer->Send(&piece);
      if (!cause.ok()) break;
    }
    if (cause.ok() && close) cause = chunk->writer->Close();
    if (cause.ok()) return absl::OkStatus();
  }
  return absl::UnavailableError(cairn::StrCat(
      "chunk handle ", handle, " failed on every pipeline tried: ", ToStd(cause.message())));
}

absl::Status Uploader::Settle(Chunk* chunk) {
  for (int attempt = 1;; ++attempt) {
    auto ref = chunk->writer->Finish();
    if (ref.ok()) {
      CommittedChunk* c = commit_.add_chunks();
      *c->mutable_chunk() = *ref;
      for (const NodeAddress& r : chunk->writer->allocation().replicas()) c->add_nodes(r.node_id());
      buffers_->Give(&chunk->pieces);
      *chunk = Chunk();
      return absl::OkStatus();
    }
    if (attempt >= options_.max_chunk_attempts) {
      return absl::UnavailableError(
          cairn::StrCat("chunk ", commit_.chunks_size(),
                        " failed on every pipeline tried: ", ToStd(ref.status().message())));
    }
    RETURN_IF_ERROR(Repipeline(chunk, ref.status(), /*close=*/true));
  }
}

absl::Status Uploader::SendLastPiece() {
  absl::Status s = current_.writer->Send(&current_.pieces.back());
  if (!s.ok()) return Repipeline(&current_, s, /*close=*/false);  // replays this piece too
  return absl::OkStatus();
}

absl::Status Uploader::CloseCurrent() {
  if (absl::Status s = current_.writer->Close(); !s.ok()) {
    RETURN_IF_ERROR(Repipeline(&current_, s, /*close=*/true));
  }
  if (closed_.writer) RETURN_IF_ERROR(Settle(&closed_));
  closed_ = std::move(current_);
  current_ = Chunk();
  return absl::OkStatus();
}

absl::Status Uploader::Write(std::string_view data) {
  EVP_DigestUpdate(sha_, data.data(), data.size());
  length_ += data.size();
  constexpr size_t kPiece = ChunkPipelineWriter::kMessageBytes;
  uint64_t offset = length_ - data.size();  // of data[0] in the body
  while (!data.empty()) {
    if (filling_.empty()) {
      // Room for a whole message, or for what the request says is left.
      uint64_t room = std::min<uint64_t>(kPiece, chunk_size_ - chunk_fill_);
      if (options_.expected_length > offset) {
        room = std::min<uint64_t>(room, options_.expected_length - offset);
      }
      filling_ = buffers_->Take(std::max<uint64_t>(room, data.size()));
    }
    size_t take =
        std::min<uint64_t>({data.size(), kPiece - filling_.size(), chunk_size_ - chunk_fill_});
    filling_.append(data.data(), take);
    chunk_fill_ += take;
    offset += take;
    data.remove_prefix(take);
    bool chunk_end = chunk_fill_ == chunk_size_;
    if (filling_.size() == kPiece || chunk_end) RETURN_IF_ERROR(Push(chunk_end));
  }
  return absl::OkStatus();
}

absl::Status Uploader::Push(bool chunk_end) {
  if (!current_.writer) {
    current_.index = next_index_++;
    RETURN_IF_ERROR(BeginChunk(&current_));
  }
  current_.pieces.push_back(std::move(filling_));
  filling_ = std::string();
  RETURN_IF_ERROR(SendLastPiece());
  // The chunk before this one has long been durable by now (its replicas
  // sync as soon as its stream ends): collect its answer and free its bytes,
  // so an upload holds about one chunk, not two.
  if (closed_.writer && current_.pieces.size() == kSettleAfterPieces) {
    RETURN_IF_ERROR(Settle(&closed_));
  }
  if (chunk_end) {
    chunk_fill_ = 0;
    RETURN_IF_ERROR(CloseCurrent());
  }
  return absl::OkStatus();
}

absl::StatusOr<Entry> Uploader::Finish() {
  if (!filling_.empty()) {
    RETURN_IF_ERROR(Push(/*chunk_end=*/true));
  } else if (current_.writer) {
    RETURN_IF_ERROR(CloseCurrent());  // the body ended on a message boundary inside a chunk
  }
  if (closed_.writer) RETURN_IF_ERROR(Settle(&closed_));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(sha_, digest, &n);
  commit_.set_length(length_);
  commit_.set_sha256(Hex(digest, n));
  CommitUploadReply reply;
  RETURN_IF_ERROR(
      UploadCallStatus(master_->Unary(&Master::StubInterface::CommitUpload, commit_, &reply)));
  committed_ = true;
  return reply.entry();
}

}  // namespace cairn::gateway
