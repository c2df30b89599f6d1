#include "master/master_service.h"

#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::master {
namespace {

// Runs `fn` (returning StatusOr<T>), stores its value in `*out`, records metrics.
template <typename Fn, typename Out>
grpc::Status Handle(master::Master* m, const char* method, Fn&& fn, Out* out) {
  absl::Time start = absl::Now();
  auto result = fn();
  absl::Status status = result.status();
  if (status.ok()) *out = std::move(result).value();
  Metrics* metrics = m->metrics();
  metrics->Add("cairn_master_rpcs_total",
               cairn::StrCat("method=\"", method, "\",code=\"",
                             absl::StatusCodeToString(status.code()), "\""));
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  metrics->Observe("cairn_master_rpc_duration_seconds", cairn::StrCat("method=\"", method, "\""),
                   seconds);
  if (status.ok()) {
    spdlog::debug("{} ok {:.3f}s", method, seconds);
  } else {
    spdlog::debug("{} {:.3f}s: {}", method, seconds, status.ToString());
  }
  return ToGrpcStatus(status);
}

template <typename T>
absl::StatusOr<T> Empty(absl::Status s) {
  if (!s.ok()) return s;
  return T();
}

}  // namespace

grpc::Status MasterService::Register(grpc::ServerContext*, const RegisterRequest* req,
                                     RegisterReply* reply) {
  return Handle(
      master_, "Register", [&] { return master_->Register(*req); }, reply);
}

grpc::Status MasterService::Heartbeat(grpc::ServerContext*, const HeartbeatRequest* req,
                                      HeartbeatReply* reply) {
  return Handle(
      master_, "Heartbeat", [&] { return master_->Heartbeat(*req); }, reply);
}

grpc::Status MasterService::ReportCorrupt(grpc::ServerContext*, const ReportCorruptRequest* req,
                                          ReportCorruptReply* reply) {
  return Handle(
      master_, "ReportCorrupt",
      [&] { return Empty<ReportCorruptReply>(master_->ReportCorrupt(*req)); }, reply);
}

grpc::Status MasterService::Mkdir(grpc::ServerContext*, const MkdirRequest* req,
                                  MkdirReply* reply) {
  return Handle(
      master_, "Mkdir",
      [&]() -> absl::StatusOr<MkdirReply> {
        MkdirReply r;
        ASSIGN_OR_RETURN(*r.mutable_entry(), master_->Mkdir(req->path()));
        return r;
      },
      reply);
}

grpc::Status MasterService::Rename(grpc::ServerContext*, const RenameRequest* req,
                                   RenameReply* reply) {
  return Handle(
      master_, "Rename",
      [&] { return Empty<RenameReply>(master_->Rename(req->source(), req->target())); }, reply);
}

grpc::Status MasterService::Delete(grpc::ServerContext*, const DeleteRequest* req,
                                   DeleteReply* reply) {
  return Handle(
      master_, "Delete", [&] { return master_->Delete(req->path(), req->recursive()); }, reply);
}

grpc::Status MasterService::List(grpc::ServerContext*, const ListRequest* req, ListReply* reply) {
  return Handle(
      master_, "List", [&] { return master_->List(*req); }, reply);
}

grpc::ServerUnaryReactor* MasterService::Lookup(grpc::CallbackServerContext* ctx,
                                                const LookupRequest* req, LookupReply* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(Handle(
      master_, "Lookup", [&] { return master_->Lookup(req->path()); }, reply));
  return reactor;
}

grpc::Status MasterService::Usage(grpc::ServerContext*, const UsageRequest* req,
                                  UsageReply* reply) {
  return Handle(
      master_, "Usage", [&] { return master_->Usage(req->path()); }, reply);
}

grpc::Status MasterService::StartUpload(grpc::ServerContext*, const StartUploadRequest* req,
                                        StartUploadReply* reply) {
  return Handle(
      master_, "StartUpload", [&] { return master_->StartUpload(*req); }, reply);
}

grpc::Status MasterService::AllocateChunk(grpc::ServerContext*, const AllocateChunkRequest* req,
                                          AllocateChunkReply* reply) {
  return Handle(
      master_, "AllocateChunk", [&] { return master_->AllocateChunk(*req); }, reply);
}

grpc::Status MasterService::CommitUpload(grpc::ServerContext*, const CommitUploadRequest* req,
                                         CommitUploadReply* reply) {
  return Handle(
      master_, "CommitUpload",
      [&]() -> absl::StatusOr<CommitUploadReply> {
        CommitUploadReply r;
        ASSIGN_OR_RETURN(*r.mutable_entry(), master_->CommitUpload(*req));
        return r;
      },
      reply);
}

grpc::Status MasterService::StartPack(grpc::ServerContext*, const StartPackRequest* req,
                                      StartUploadReply* reply) {
  return Handle(
      master_, "StartPack", [&] { return master_->StartPack(*req); }, reply);
}

grpc::Status MasterService::CommitPack(grpc::ServerContext*, const CommitPackRequest* req,
                                       CommitPackReply* reply) {
  return Handle(
      master_, "CommitPack", [&] { return master_->CommitPack(*req); }, reply);
}

grpc::Status MasterService::CompactionTask(grpc::ServerContext*, const CompactionTaskRequest*,
                                           CompactionTaskReply* reply) {
  return Handle(
      master_, "CompactionTask", [&] { return master_->CompactionTask(); }, reply);
}

grpc::Status MasterService::CommitCompaction(grpc::ServerContext*,
                                             const CommitCompactionRequest* req,
                                             CommitCompactionReply* reply) {
  return Handle(
      master_, "CommitCompaction", [&] { return master_->CommitCompaction(*req); }, reply);
}

grpc::Status MasterService::AbortUpload(grpc::ServerContext*, const AbortUploadRequest* req,
                                        AbortUploadReply* reply) {
  return Handle(
      master_, "AbortUpload",
      [&] { return Empty<AbortUploadReply>(master_->AbortUpload(req->upload_id())); }, reply);
}

grpc::Status MasterService::Cluster(grpc::ServerContext*, const ClusterRequest*,
                                    ClusterReply* reply) {
  return Handle(
      master_, "Cluster", [&]() -> absl::StatusOr<ClusterReply> { return master_->Cluster(); },
      reply);
}

}  // namespace cairn::master
