// gRPC adapter over Master: translates messages and statuses, records metrics.
#ifndef CAIRN_MASTER_MASTER_SERVICE_H_
#define CAIRN_MASTER_MASTER_SERVICE_H_

#include "master/master.h"
#include "proto/master.grpc.pb.h"

namespace cairn::master {

// Lookup (stat, the most frequent call) runs on gRPC's callback API: the
// handler runs on the thread that read the request, saving the two thread
// handoffs per call of the synchronous API. The rest, which may wait for a
// RocksDB sync, stays synchronous so a slow write never holds those threads.
class MasterService final
    : public cairn::Master::WithCallbackMethod_Lookup<cairn::Master::Service> {
 public:
  // `master` must outlive the service.
  explicit MasterService(master::Master* master) : master_(master) {}

  grpc::Status Register(grpc::ServerContext*, const RegisterRequest*, RegisterReply*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const HeartbeatRequest*, HeartbeatReply*) override;
  grpc::Status ReportCorrupt(grpc::ServerContext*, const ReportCorruptRequest*,
                             ReportCorruptReply*) override;
  grpc::Status Mkdir(grpc::ServerContext*, const MkdirRequest*, MkdirReply*) override;
  grpc::Status Rename(grpc::ServerContext*, const RenameRequest*, RenameReply*) override;
  grpc::Status Delete(grpc::ServerContext*, const DeleteRequest*, DeleteReply*) override;
  grpc::Status List(grpc::ServerContext*, const ListRequest*, ListReply*) override;
  grpc::ServerUnaryReactor* Lookup(grpc::CallbackServerContext*, const LookupRequest*,
                                   LookupReply*) override;
  grpc::Status Usage(grpc::ServerContext*, const UsageRequest*, UsageReply*) override;
  grpc::Status StartUpload(grpc::ServerContext*, const StartUploadRequest*,
                           StartUploadReply*) override;
  grpc::Status AllocateChunk(grpc::ServerContext*, const AllocateChunkRequest*,
                             AllocateChunkReply*) override;
  grpc::Status CommitUpload(grpc::ServerContext*, const CommitUploadRequest*,
                            CommitUploadReply*) override;
  grpc::Status StartPack(grpc::ServerContext*, const StartPackRequest*, StartUploadReply*) override;
  grpc::Status CommitPack(grpc::ServerContext*, const CommitPackRequest*,
                          CommitPackReply*) override;
  grpc::Status CompactionTask(grpc::ServerContext*, const CompactionTaskRequest*,
                              CompactionTaskReply*) override;
  grpc::Status CommitCompaction(grpc::ServerContext*, const CommitCompactionRequest*,
                                CommitCompactionReply*) override;
  grpc::Status AbortUpload(grpc::ServerContext*, const AbortUploadRequest*,
                           AbortUploadReply*) override;
  grpc::Status Cluster(grpc::ServerContext*, const ClusterRequest*, ClusterReply*) override;

 private:
  master::Master* const master_;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_MASTER_SERVICE_H_
