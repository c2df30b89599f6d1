#include "chunkserver/write_pipeline.h"

#include <chrono>
#include <memory>
#include <string>

#include "common/crc32c.h"
#include "common/logging.h"
#include "common/pipeline_failure.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::chunkserver {
namespace {

// The rest of the pipeline, fed as we receive. Destroyed before Finish(),
// it cancels the stream, tearing down every replica after it too.
class Downstream {
 public:
  // `stall` bounds a blocked forward, `sync` the wait for the answer.
  Downstream(std::string address, RpcWatchdog* watchdog, absl::Duration stall, absl::Duration sync)
      : address_(std::move(address)), watchdog_(watchdog), stall_(stall), sync_(sync) {}
  ~Downstream() {
    if (stream_ && !finished_) ctx_.TryCancel();
  }

  // Opens the stream to the next replica and sends it the header naming the
  // replicas after it. Unavailable, blaming it, if it cannot be reached.
  absl::Status Open(StubCache<cairn::Chunkserver>* peers, const WriteHeader& header) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
    stream_ = peers->Get(address_)->WriteChunk(&ctx_, &reply_);
    WriteChunkRequest first;
    first.mutable_header()->set_handle(header.handle());
    first.mutable_header()->set_version(header.version());
    for (int i = 1; i < header.downstream_size(); ++i) {
      first.mutable_header()->add_downstream(header.downstream(i));
    }
    if (stream_->Write(first)) return absl::OkStatus();
    finished_ = true;
    stream_->Finish().ok();
    return BlamePipelineNode(address_, absl::UnavailableError("cannot reach"));
  }

  // Forwards a data message. Once the stream broke, messages are dropped and
  // Finish() reports the failure.
  void Forward(const WriteChunkRequest& msg) {
    if (!ok_) return;
    RpcWatchdog::Guard guard(watchdog_, &ctx_, stall_);
    ok_ = stream_->Write(msg);
    if (guard.fired()) stalled_for_ = stall_;
  }

  // Ends the stream: the next replica starts making its copy durable.
  void CloseSend() {
    if (ok_) stream_->WritesDone();
  }

  // Waits for the next replica's answer and checks it against our replica.
  absl::Status Finish(uint64_t size, uint32_t crc) {
    finished_ = true;
    absl::Status s;
    {
      RpcWatchdog::Guard guard(watchdog_, &ctx_, sync_);
      s = FromGrpcPipelineStatus(stream_->Finish());
      if (guard.fired()) stalled_for_ = sync_;
    }
    if (stalled_for_ > absl::ZeroDuration() && BlamedPipelineNode(s).empty()) {
      s = absl::UnavailableError(
          cairn::StrCat("made no progress for ", absl::FormatDuration(stalled_for_)));
    }
    if (s.ok() && !ok_) s = absl::UnavailableError("stream broke");
    if (!s.ok()) {
      // Pass on a failure that already names its node; name the next one otherwise.
      if (!BlamedPipelineNode(s).empty()) return s;
      return BlamePipelineNode(address_, s);
    }
    if (reply_.crc32c() != crc || reply_.size() != size) {
      return BlamePipelineNode(address_, absl::DataLossError("replica checksum differs"));
    }
    return absl::OkStatus();
  }

 private:
  const std::string address_;
  RpcWatchdog* const watchdog_;
  const absl::Duration stall_, sync_;
  absl::Duration stalled_for_;  // the timeout the watchdog ended the stream after
  grpc::ClientContext ctx_;
  WriteChunkReply reply_;
  std::unique_ptr<grpc::ClientWriterInterface<WriteChunkRequest>> stream_;
  bool ok_ = true;  // every Write() so far succeeded
  bool finished_ = false;
};

// Stores `*msg` (the header message, which may carry data) and every message
// after it into `writer`, forwarding each to `down` (null: last replica).
absl::Status Receive(WriteSource* upstream, WriteChunkRequest* msg, ChunkWriter* writer,
                     Downstream* down, Metrics* metrics) {
  do {
    if (msg->data().empty()) continue;
    if (Crc32c(msg->data()) != msg->data_crc32c()) {
      return absl::DataLossError("data message failed its CRC32C check");
    }
    if (down) {
      msg->clear_header();
      down->Forward(*msg);
    }
    RETURN_IF_ERROR(writer->Append(msg->data()));
    metrics->Add("cairn_chunkserver_write_bytes_total", "",
                 static_cast<double>(msg->data().size()));
  } while (!upstream->Cancelled() && upstream->Read(msg));
  if (upstream->Cancelled()) return absl::CancelledError("writer went away");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<WriteChunkReply> WritePipeline::Write(WriteSource* upstream) {
  WriteChunkRequest msg;
  if (!upstream->Read(&msg) || !msg.has_header()) {
    return absl::InvalidArgumentError("write stream must start with a header");
  }
  const WriteHeader header = msg.header();
  ASSIGN_OR_RETURN(std::unique_ptr<ChunkWriter> writer,
                   store_->Create(header.handle(), header.version()));
  std::unique_ptr<Downstream> down;
  if (header.downstream_size() > 0) {
    // The members after us (the next and its downstream) each get their time.
    const int after = header.downstream_size();
    down = std::make_unique<Downstream>(header.downstream(0), watchdog_,
                                        timeouts_.write_per_node * after,
                                        timeouts_.sync_per_node * after);
    RETURN_IF_ERROR(down->Open(peers_, header));
  }
  if (absl::Status s = Receive(upstream, &msg, writer.get(), down.get(), metrics_); !s.ok()) {
    if (!absl::IsCancelled(s))
      spdlog::warn("write of chunk {} failed: {}", header.handle(), s.ToString());
    return s;
  }

  // Our own fsync runs while the downstream replicas do theirs: the stream's
  // end goes down first, so the pipeline's syncs overlap instead of adding up.
  if (down) down->CloseSend();
  ASSIGN_OR_RETURN(uint32_t crc, writer->Finish());
  if (down) RETURN_IF_ERROR(down->Finish(writer->size(), crc));
  metrics_->Add("cairn_chunkserver_chunks_written_total", "");
  WriteChunkReply reply;
  reply.set_size(writer->size());
  reply.set_crc32c(crc);
  return reply;
}

}  // namespace cairn::chunkserver
