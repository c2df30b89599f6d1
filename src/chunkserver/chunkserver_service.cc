#include "chunkserver/chunkserver_service.h"

#include "absl/time/clock.h"
#include "chunkserver/peer_copy.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "common/pipeline_failure.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::chunkserver {
namespace {

// Records one RPC's count, status and latency, and a debug log line.
grpc::Status Record(Metrics* metrics, const char* method, absl::Time start, grpc::Status status) {
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::string code = absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  metrics->Add("cairn_chunkserver_rpcs_total",
               cairn::StrCat("method=\"", method, "\",code=\"", code, "\""));
  metrics->Observe("cairn_chunkserver_rpc_duration_seconds",
                   cairn::StrCat("method=\"", method, "\""), seconds);
  if (status.ok()) {
    spdlog::debug("{} ok {:.3f}s", method, seconds);
  } else {
    spdlog::debug("{} {} {:.3f}s: {}", method, code, seconds, status.error_message());
  }
  return status;
}

// The gRPC server stream as the pipeline's upstream.
class GrpcWriteSource : public WriteSource {
 public:
  GrpcWriteSource(grpc::ServerContext* ctx, grpc::ServerReader<WriteChunkRequest>* reader)
      : ctx_(ctx), reader_(reader) {}
  bool Read(WriteChunkRequest* msg) override { return reader_->Read(msg); }
  bool Cancelled() override { return ctx_->IsCancelled(); }

 private:
  grpc::ServerContext* const ctx_;
  grpc::ServerReader<WriteChunkRequest>* const reader_;
};

}  // namespace

grpc::Status ChunkserverService::WriteChunk(grpc::ServerContext* ctx,
                                            grpc::ServerReader<WriteChunkRequest>* reader,
                                            WriteChunkReply* reply) {
  absl::Time start = absl::Now();
  GrpcWriteSource upstream(ctx, reader);
  absl::StatusOr<WriteChunkReply> written = pipeline_.Write(&upstream);
  if (written.ok()) *reply = *written;
  return Record(metrics_, "WriteChunk", start, ToGrpcPipelineStatus(written.status()));
}

grpc::Status ChunkserverService::ReadChunk(grpc::ServerContext* ctx, const ReadChunkRequest* req,
                                           grpc::ServerWriter<ReadChunkReply>* writer) {
  absl::Time start = absl::Now();
  ReadChunkReply reply;
  absl::Status s =
      store_->Read(req->handle(), req->version(), req->offset(), req->length(), kStreamPiece,
                   [&](std::string* piece) -> absl::Status {
                     if (ctx->IsCancelled()) return absl::CancelledError("reader went away");
                     reply.mutable_data()->swap(*piece);  // the store's buffer, not a copy of it
                     reply.set_data_crc32c(Crc32c(reply.data()));
                     if (!writer->Write(reply)) return absl::CancelledError("reader went away");
                     metrics_->Add("cairn_chunkserver_read_bytes_total", "",
                                   static_cast<double>(reply.data().size()));
                     return absl::OkStatus();
                   });
  if (absl::IsDataLoss(s)) metrics_->Add("cairn_chunkserver_checksum_errors_total", "");
  return Record(metrics_, "ReadChunk", start, ToGrpcStatus(s));
}

grpc::Status ChunkserverService::DeleteChunk(grpc::ServerContext*, const DeleteChunkRequest* req,
                                             DeleteChunkReply*) {
  absl::Time start = absl::Now();
  return Record(metrics_, "DeleteChunk", start,
                ToGrpcStatus(store_->Delete(req->handle(), req->version())));
}

grpc::Status ChunkserverService::CopyChunk(grpc::ServerContext*, const CopyChunkRequest* req,
                                           CopyChunkReply*) {
  absl::Time start = absl::Now();
  return Record(metrics_, "CopyChunk", start,
                ToGrpcStatus(CopyFromPeer(store_, peers_, req->chunk(), req->source())));
}

}  // namespace cairn::chunkserver
