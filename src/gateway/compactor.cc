#include "gateway/compactor.h"

#include <string>
#include <vector>

#include "common/logging.h"
#include "common/pack_record.h"
#include "common/status.h"
#include "common/strings.h"
#include "gateway/pack_writer.h"
#include "gateway/uploader.h"

namespace cairn::gateway {

Compactor::Compactor(MasterClient* master, ChunkIo* io, CompactorOptions options, Clock* clock,
                     Metrics* metrics)
    : master_(master),
      io_(io),
      options_(options),
      metrics_(metrics),
      limiter_(options.rate_bytes, clock),
      task_(clock, options.interval, [this] {
        // Back to back while there is work; an error waits for the next round.
        for (;;) {
          {
            absl::MutexLock lock(&mu_);
            if (stopping_) return;
          }
          absl::StatusOr<bool> ran = RunOnce();
          if (!ran.ok()) {
            // A master away (restarting) is asked again next round, quietly.
            bool away = absl::IsUnavailable(ran.status()) || absl::IsDeadlineExceeded(ran.status());
            spdlog::log(away ? spdlog::level::debug : spdlog::level::warn, "compaction: {}",
                        ran.status().ToString());
          }
          if (!ran.ok() || !*ran) return;
        }
      }) {
  if (metrics_ != nullptr) {
    metrics_->Describe("cairn_gateway_compactions_total", Metrics::Type::kCounter,
                       "Pack chunks this gateway compacted (result=ok) or gave up on.");
    metrics_->Describe("cairn_gateway_compaction_bytes_total", Metrics::Type::kCounter,
                       "Bytes compaction read from old pack chunks and wrote to new ones.",
                       /*unlabeled=*/true);
  }
}

Compactor::~Compactor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  task_.Stop();
}

void Compactor::Start() {
  if (options_.interval > absl::ZeroDuration()) task_.Start();
}

bool Compactor::Throttle(uint64_t bytes) {
  if (metrics_ != nullptr) {
    metrics_->Add("cairn_gateway_compaction_bytes_total", "", static_cast<double>(bytes));
  }
  return limiter_.Acquire(bytes, &mu_, &stopping_);
}

absl::StatusOr<bool> Compactor::RunOnce() {
  CompactionTaskReply reply;
  // Background work: a master that is away is asked again next round, and
  // the gateway's shutdown does not wait for it.
  MasterCallOptions quick{.deadline = absl::Seconds(5), .wait_for_ready = false};
  RETURN_IF_ERROR(FromGrpcStatus(master_->Unary(&Master::StubInterface::CompactionTask,
                                                CompactionTaskRequest{}, &reply, quick)));
  if (!reply.has_task()) return false;
  absl::Status s = Compact(reply.task());
  if (metrics_ != nullptr) {
    metrics_->Add("cairn_gateway_compactions_total",
                  s.ok() ? "result=\"ok\"" : "result=\"failed\"");
  }
  // The lease lapses on the master; another round tries the chunk again.
  RETURN_IF_ERROR(Annotate(s, cairn::StrCat("pack chunk ", reply.task().chunk().handle())));
  return true;
}

absl::Status Compactor::Compact(const CompactionTask& task) {
  const uint64_t handle = task.chunk().handle();
  if (task.size() == 0 || task.moves_size() == 0) {
    return absl::InvalidArgumentError("the master sent an empty compaction task");
  }
  // The whole chunk in one read: pack chunks are small (a batch), and the
  // task is for a chunk mostly dead, so this reads at most a few times what
  // is copied.
  if (!Throttle(task.size())) return absl::CancelledError("the gateway is stopping");
  std::string old;
  old.reserve(task.size());
  RETURN_IF_ERROR(ReadChunkRange(io_, handle, task.chunk().version(), task.locations(), 0,
                                 task.size(), [&](std::string_view piece) {
                                   old.append(piece);
                                   return true;
                                 }));
  if (old.size() != task.size()) {
    return absl::DataLossError(
        cairn::StrCat("read ", old.size(), " bytes of a ", task.size(), "-byte chunk"));
  }
  std::string chunk;
  CommitCompactionRequest commit;
  *commit.mutable_old_chunk() = task.chunk();
  for (const CompactionMove& m : task.moves()) {
    // The file's bytes must be exactly one record's data: anything else
    // means the chunk is not what the master says, and nothing is copied.
    if (m.offset() < kPackRecordHeaderBytes) {
      return absl::DataLossError(
          cairn::StrCat(m.path(), " at offset ", m.offset(), " has no record header before it"));
    }
    ASSIGN_OR_RETURN(PackRecord record, ParsePackRecord(old, m.offset() - kPackRecordHeaderBytes));
    if (record.offset != m.offset() || record.length != m.length()) {
      return absl::DataLossError(
          cairn::StrCat("the record at ", m.offset() - kPackRecordHeaderBytes, " holds ",
                        record.length, " bytes, not the ", m.length(), " of ", m.path()));
    }
    CompactionMove* out = commit.add_moves();
    *out = m;
    out->set_new_offset(
        AppendPackRecord(&chunk, std::string_view(old).substr(record.offset, record.length)));
  }
  old = std::string();
  if (!Throttle(chunk.size())) return absl::CancelledError("the gateway is stopping");
  const uint64_t bytes = chunk.size();
  PackChunkUpload upload(master_, io_, options_.max_chunk_attempts);
  ASSIGN_OR_RETURN(
      *commit.mutable_chunk(),
      upload.Write(std::move(chunk), cairn::StrCat("the compaction of chunk ", handle)));
  commit.set_upload_id(upload.upload_id());
  CommitCompactionReply reply;
  RETURN_IF_ERROR(
      UploadCallStatus(master_->Unary(&Master::StubInterface::CommitCompaction, commit, &reply)));
  upload.Committed();
  spdlog::info("compacted pack chunk {} ({} bytes) into {} ({} bytes): {} files moved, {} left",
               handle, task.size(), commit.chunk().chunk().handle(), bytes, reply.moved(),
               reply.skipped());
  return absl::OkStatus();
}

}  // namespace cairn::gateway
