// MasterClient: the one connection to the master that chunkservers, gateways
// and tools share. It owns the channel (or, with a comma-separated list of
// masters, one channel per master) and hands out the stub of the master it
// currently talks to. A call that fails with UNAVAILABLE moves it to the next
// master in the list, so following a leader across standby masters is a
// change inside this class, not in its callers.
//
// Tests pass stubs of their own (a gmock MockMasterStub from
// proto/master_mock.grpc.pb.h, or an in-process one) to the constructor.
//
// Thread-safe.
#ifndef CAIRN_COMMON_MASTER_CLIENT_H_
#define CAIRN_COMMON_MASTER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/master.grpc.pb.h"

namespace cairn {

struct MasterCallOptions {
  // Per attempt. With wait_for_ready the call waits this long for an
  // unreachable master (a restart) before failing with DEADLINE_EXCEEDED.
  absl::Duration deadline = absl::Seconds(10);
  bool wait_for_ready = true;
};

class MasterClient {
 public:
  // `addresses`: "host:port", or several separated by commas. InvalidArgument
  // if empty.
  static absl::StatusOr<std::unique_ptr<MasterClient>> Connect(const std::string& addresses);

  // Takes the stubs to use, in order of preference. REQUIRES: not empty.
  explicit MasterClient(std::vector<std::unique_ptr<cairn::Master::StubInterface>> stubs);

  // The stub of the master currently in use; valid as long as this object.
  cairn::Master::StubInterface* stub();

  // Runs `call` with a fresh context on the current master; on UNAVAILABLE
  // tries each other master once. Returns the last attempt's status.
  grpc::Status Call(
      const std::function<grpc::Status(cairn::Master::StubInterface*, grpc::ClientContext*)>& call,
      const MasterCallOptions& options = {});

  // Call() for one unary method, e.g.
  //   master->Unary(&Master::StubInterface::Lookup, request, &reply);
  template <typename Request, typename Reply>
  grpc::Status Unary(grpc::Status (cairn::Master::StubInterface::*method)(grpc::ClientContext*,
                                                                          const Request&, Reply*),
                     const Request& request, Reply* reply, const MasterCallOptions& options = {}) {
    return Call([&](cairn::Master::StubInterface* stub,
                    grpc::ClientContext* ctx) { return (stub->*method)(ctx, request, reply); },
                options);
  }

  // A context for one call with `options` applied.
  static std::unique_ptr<grpc::ClientContext> NewContext(const MasterCallOptions& options = {});

 private:
  // Constant after construction.
  const std::vector<std::unique_ptr<cairn::Master::StubInterface>> stubs_;

  absl::Mutex mu_;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace cairn

#endif  // CAIRN_COMMON_MASTER_CLIENT_H_
