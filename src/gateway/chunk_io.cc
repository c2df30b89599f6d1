#include "gateway/chunk_io.h"

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "common/net.h"
#include "common/pipeline_failure.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::gateway {

ChunkPipelineWriter::ChunkPipelineWriter(ChunkIo* io, const AllocateChunkReply& allocation)
    : io_(io), allocation_(allocation) {
  ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  stream_ = io_->pool.Get(allocation_.replicas(0).address())->WriteChunk(&ctx_, &reply_);
  WriteHeader* h = msg_.mutable_header();
  h->set_handle(allocation_.chunk().handle());
  h->set_version(allocation_.chunk().version());
  for (int i = 1; i < allocation_.replicas_size(); ++i) {
    h->add_downstream(allocation_.replicas(i).address());
  }
}

ChunkPipelineWriter::~ChunkPipelineWriter() {
  if (!finished_) {
    // Abandoned mid-chunk: make every replica drop its partial write.
    ctx_.TryCancel();
    stream_->Finish().ok();
  }
}

absl::Status ChunkPipelineWriter::Fail(absl::Status s) {
  broken_ = true;
  finished_ = true;  // Finish() was called on the stream
  // The chunkserver names the pipeline member that failed; else blame the first.
  failed_node_ = allocation_.replicas(0).node_id();
  std::string blamed = BlamedPipelineNode(s);
  for (const NodeAddress& r : allocation_.replicas()) {
    if (!blamed.empty() && r.address() == blamed) failed_node_ = r.node_id();
  }
  return s;
}

absl::Status ChunkPipelineWriter::Send(std::string* piece) {
  if (broken_ || closed_) return absl::UnavailableError("pipeline broken or closed");
  uint32_t piece_crc = Crc32c(*piece);
  size_ += piece->size();
  crc_ = Crc32c(crc_, piece->data(), piece->size());
  msg_.mutable_data()->swap(*piece);
  msg_.set_data_crc32c(piece_crc);
  const absl::Duration stall = io_->timeouts.write_per_node * allocation_.replicas_size();
  bool sent, stalled;
  {
    RpcWatchdog::Guard guard(&io_->watchdog, &ctx_, stall);
    sent = stream_->Write(msg_);
    stalled = guard.fired();
  }
  msg_.mutable_data()->swap(*piece);
  if (!sent) return Fail(StallOr(FromGrpcPipelineStatus(stream_->Finish()), stalled, stall));
  header_sent_ = true;
  msg_.clear_header();
  return absl::OkStatus();
}

absl::Status ChunkPipelineWriter::Close() {
  if (closed_) return absl::OkStatus();
  if (!header_sent_) {
    std::string none;
    RETURN_IF_ERROR(Send(&none));
  }
  if (broken_) return absl::UnavailableError("pipeline broken");
  closed_ = true;
  stream_->WritesDone();
  return absl::OkStatus();
}

absl::Status ChunkPipelineWriter::StallOr(absl::Status s, bool stalled,
                                          absl::Duration waited) const {
  if (stalled && BlamedPipelineNode(s).empty()) {
    // Nothing downstream answered for us: the first replica is the one stuck.
    return absl::UnavailableError(cairn::StrCat("chunkserver ", allocation_.replicas(0).address(),
                                                " made no progress for ",
                                                absl::FormatDuration(waited)));
  }
  return s;
}

absl::StatusOr<ChunkRef> ChunkPipelineWriter::Finish() {
  RETURN_IF_ERROR(Close());
  finished_ = true;
  const absl::Duration sync = io_->timeouts.sync_per_node * allocation_.replicas_size();
  grpc::Status status;
  bool stalled;
  {
    RpcWatchdog::Guard guard(&io_->watchdog, &ctx_, sync);
    status = stream_->Finish();
    stalled = guard.fired();
  }
  absl::Status s = StallOr(FromGrpcPipelineStatus(status), stalled, sync);
  if (!s.ok()) return Fail(s);
  if (reply_.size() != size_ || reply_.crc32c() != crc_) {
    return Fail(absl::DataLossError("replica checksum differs from what was sent"));
  }
  ChunkRef ref = allocation_.chunk();
  ref.set_size(size_);
  ref.set_crc32c(crc_);
  return ref;
}

std::vector<NodeAddress> ReadLoad::Order(const ChunkLocations& locations) const {
  std::vector<NodeAddress> order(locations.replicas().begin(), locations.replicas().end());
  const size_t alive = std::min<size_t>(locations.alive(), order.size());
  if (alive > 1) {
    absl::MutexLock lock(&mu_);
    size_t best = 0;
    int best_load = InFlight(order[0].address());
    for (size_t i = 1; i < alive; ++i) {
      if (int l = InFlight(order[i].address()); l < best_load) best = i, best_load = l;
    }
    std::rotate(order.begin(), order.begin() + best, order.begin() + best + 1);
  }
  return order;
}

int ReadLoad::InFlight(const std::string& address) const {
  auto it = in_flight_.find(address);
  return it == in_flight_.end() ? 0 : it->second;
}

void ReadLoad::Begin(const std::string& address) {
  absl::MutexLock lock(&mu_);
  ++in_flight_[address];
}

void ReadLoad::End(const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (auto it = in_flight_.find(address); it != in_flight_.end() && --it->second <= 0) {
    in_flight_.erase(it);
  }
}

absl::Status ReadChunkRange(ChunkIo* io, uint64_t handle, uint64_t version,
                            const ChunkLocations& locations, uint64_t offset, uint64_t length,
                            const std::function<bool(std::string_view)>& sink) {
  uint64_t done = 0;
  absl::Status last =
      absl::UnavailableError(cairn::StrCat("chunk ", handle, " has no live replica"));
  for (const NodeAddress& replica : io->load.Order(locations)) {
    io->load.Begin(replica.address());
    absl::Cleanup end_load = [&] { io->load.End(replica.address()); };
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    ReadChunkRequest req;
    req.set_handle(handle);
    req.set_version(version);
    req.set_offset(offset + done);
    req.set_length(length - done);
    auto reader = io->pool.Get(replica.address())->ReadChunk(&ctx, req);
    ReadChunkReply piece;
    bool bad_piece = false, stalled = false;
    while (true) {
      bool got;
      {
        RpcWatchdog::Guard guard(&io->watchdog, &ctx, io->timeouts.read);
        got = reader->Read(&piece);
        stalled = guard.fired();
      }
      if (!got) break;
      if (Crc32c(piece.data()) != piece.data_crc32c() || done + piece.data().size() > length) {
        bad_piece = true;
        ctx.TryCancel();
        break;
      }
      if (!sink(piece.data())) {
        ctx.TryCancel();
        reader->Finish().ok();
        return absl::CancelledError("reader went away");
      }
      done += piece.data().size();
    }
    absl::Status s = FromGrpcStatus(reader->Finish());
    if (bad_piece) s = absl::DataLossError("piece failed its CRC32C check");
    if (stalled) {
      s = absl::UnavailableError(
          cairn::StrCat("no progress for ", absl::FormatDuration(io->timeouts.read)));
    }
    if (s.ok() && done == length) return absl::OkStatus();
    if (s.ok()) s = absl::DataLossError(cairn::StrCat("short read: ", done, " of ", length));
    spdlog::warn("read of chunk {} from {} failed ({}); trying the next replica", handle,
                 replica.address(), s.ToString());
    last = s;
  }
  return last;
}

}  // namespace cairn::gateway
