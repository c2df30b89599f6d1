#include "chunkserver/chunkserver_service.h"

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/crc32c.h"
#include "common/net.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::chunkserver {
namespace {

absl::Status PipelineError(const std::string& address, const absl::Status& s) {
  return absl::Status(s.code(), cairn::StrCat("pipeline ", address, ": ", ToStd(s.message())));
}

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

}  // namespace

grpc::Status ChunkserverService::WriteChunk(grpc::ServerContext* ctx,
                                            grpc::ServerReader<WriteChunkRequest>* reader,
                                            WriteChunkReply* reply) {
  absl::Time start = absl::Now();
  return Record(metrics_, "WriteChunk", start, WriteChunkImpl(ctx, reader, reply));
}

grpc::Status ChunkserverService::WriteChunkImpl(grpc::ServerContext* ctx,
                                                grpc::ServerReader<WriteChunkRequest>* reader,
                                                WriteChunkReply* reply) {
  WriteChunkRequest msg;
  if (!reader->Read(&msg) || !msg.has_header()) {
    return ToGrpcStatus(absl::InvalidArgumentError("write stream must start with a header"));
  }
  const WriteHeader header = msg.header();
  auto writer = store_->Create(header.handle(), header.version());
  if (!writer.ok()) return ToGrpcStatus(writer.status());

  // The next replica in the pipeline, fed as we receive.
  std::string next;
  grpc::ClientContext down_ctx;
  WriteChunkReply down_reply;
  std::unique_ptr<grpc::ClientWriter<WriteChunkRequest>> down;
  if (header.downstream_size() > 0) {
    next = header.downstream(0);
    down_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
    down = peers_->Get(next)->WriteChunk(&down_ctx, &down_reply);
    WriteChunkRequest first;
    first.mutable_header()->set_handle(header.handle());
    first.mutable_header()->set_version(header.version());
    for (int i = 1; i < header.downstream_size(); ++i) {
      first.mutable_header()->add_downstream(header.downstream(i));
    }
    if (!down->Write(first)) {
      down->Finish().ok();
      return ToGrpcStatus(PipelineError(next, absl::UnavailableError("cannot reach")));
    }
  }
  // On any early return, tear down the rest of the pipeline too.
  bool finished = false;
  absl::Cleanup cancel_downstream = [&] {
    if (down && !finished) down_ctx.TryCancel();
  };
  bool down_ok = true;
  do {
    if (msg.data().empty()) continue;
    if (Crc32c(msg.data()) != msg.data_crc32c()) {
      return ToGrpcStatus(absl::DataLossError("data message failed its CRC32C check"));
    }
    if (down && down_ok) {
      msg.clear_header();
      down_ok = down->Write(msg);
    }
    if (absl::Status s = (*writer)->Append(msg.data()); !s.ok()) {
      spdlog::warn("write of chunk {} failed: {}", header.handle(), s.message());
      return ToGrpcStatus(s);
    }
    metrics_->Add("cairn_chunkserver_write_bytes_total", "", static_cast<double>(msg.data().size()));
  } while (!ctx->IsCancelled() && reader->Read(&msg));
  if (ctx->IsCancelled()) return ToGrpcStatus(absl::CancelledError("writer went away"));

  // Our own fsync runs while the downstream replicas do theirs: the stream's
  // end goes down first, so the pipeline's syncs overlap instead of adding up.
  // A replica we commit whose pipeline then fails is unreferenced: the master
  // collects it with the rest of the failed allocation.
  if (down && down_ok) down->WritesDone();
  auto crc = (*writer)->Finish();
  if (!crc.ok()) return ToGrpcStatus(crc.status());
  if (down) {
    finished = true;
    absl::Status ds = FromGrpcStatus(down->Finish());
    if (ds.ok() && !down_ok) ds = absl::UnavailableError("stream broke");
    if (!ds.ok()) {
      // Pass on a failure that already names its node; name the next one otherwise.
      if (ToStd(ds.message()).starts_with("pipeline ")) return ToGrpcStatus(ds);
      return ToGrpcStatus(PipelineError(next, ds));
    }
    if (down_reply.crc32c() != *crc || down_reply.size() != (*writer)->size()) {
      return ToGrpcStatus(PipelineError(next, absl::DataLossError("replica checksum differs")));
    }
  }
  metrics_->Add("cairn_chunkserver_chunks_written_total", "");
  reply->set_size((*writer)->size());
  reply->set_crc32c(*crc);
  return grpc::Status::OK;
}

grpc::Status ChunkserverService::ReadChunk(grpc::ServerContext* ctx, const ReadChunkRequest* req,
                                           grpc::ServerWriter<ReadChunkReply>* writer) {
  absl::Time start = absl::Now();
  ReadChunkReply reply;
  absl::Status s = store_->Read(
      req->handle(), req->version(), req->offset(), req->length(), kStreamPiece,
      [&](std::string* piece) -> absl::Status {
        if (ctx->IsCancelled()) return absl::CancelledError("reader went away");
        reply.mutable_data()->swap(*piece);  // the store's buffer, not a copy of it
        reply.set_data_crc32c(Crc32c(reply.data()));
        if (!writer->Write(reply)) return absl::CancelledError("reader went away");
        metrics_->Add("cairn_chunkserver_read_bytes_total", "", static_cast<double>(reply.data().size()));
        return absl::OkStatus();
      });
  if (absl::IsDataLoss(s)) metrics_->Add("cairn_chunkserver_checksum_errors_total", "");
  return Record(metrics_, "ReadChunk", start, ToGrpcStatus(s));
}

grpc::Status ChunkserverService::DeleteChunk(grpc::ServerContext*, const DeleteChunkRequest* req,
                                             DeleteChunkReply*) {
  absl::Time start = absl::Now();
  return Record(metrics_, "DeleteChunk", start, ToGrpcStatus(store_->Delete(req->handle(), req->version())));
}

absl::Status CopyFromPeer(ChunkStore* store, StubCache<cairn::Chunkserver>* peers,
                          const ChunkRef& chunk, const std::string& source,
                          const std::function<bool(size_t)>& pace) {
  if (store->Has(chunk.handle(), chunk.version())) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto writer, store->Create(chunk.handle(), chunk.version()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  ReadChunkRequest req;
  req.set_handle(chunk.handle());
  req.set_version(chunk.version());
  auto reader = peers->Get(source)->ReadChunk(&ctx, req);
  ReadChunkReply piece;
  while (reader->Read(&piece)) {
    if (Crc32c(piece.data()) != piece.data_crc32c()) {
      ctx.TryCancel();
      return absl::DataLossError(cairn::StrCat("copy from ", source, ": piece failed its CRC32C"));
    }
    if (pace && !pace(piece.data().size())) {
      ctx.TryCancel();
      return absl::CancelledError("copy cancelled");
    }
    RETURN_IF_ERROR(writer->Append(piece.data()));
  }
  RETURN_IF_ERROR(Annotate(FromGrpcStatus(reader->Finish()), cairn::StrCat("copy from ", source)));
  if (writer->size() != chunk.size()) {
    return absl::DataLossError(cairn::StrCat("copy of ", chunk.handle(), " from ", source, ": ",
                                             writer->size(), " bytes, want ", chunk.size()));
  }
  ASSIGN_OR_RETURN(uint32_t crc, writer->Finish());
  if (crc != chunk.crc32c()) {
    store->Delete(chunk.handle(), chunk.version()).IgnoreError();
    return absl::DataLossError(cairn::StrCat("copy of ", chunk.handle(), " from ", source,
                                             ": checksum mismatch"));
  }
  return absl::OkStatus();
}

grpc::Status ChunkserverService::CopyChunk(grpc::ServerContext*, const CopyChunkRequest* req,
                                           CopyChunkReply*) {
  absl::Time start = absl::Now();
  return Record(metrics_, "CopyChunk", start, ToGrpcStatus(CopyFromPeer(store_, peers_, req->chunk(), req->source())));
}

}  // namespace cairn::chunkserver
