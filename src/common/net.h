// Addresses, gRPC servers and channels. The daemons' HTTP server is
// common/http_server.h.
#ifndef CAIRN_COMMON_NET_H_
#define CAIRN_COMMON_NET_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"

namespace cairn {

// Largest gRPC message we send or accept (data messages are ~1 MiB).
inline constexpr int kMaxGrpcMessageBytes = 64 << 20;

struct HostPort {
  std::string host;
  int port = 0;
};
// Parses "host:port", "[v6]:port" or a bare port (host then defaults to 0.0.0.0).
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

// A started gRPC server bound to `listen` (port 0 picks one); announces itself.
struct GrpcServer {
  std::unique_ptr<grpc::Server> server;
  HostPort bound;
  std::string address() const { return bound.host + ":" + std::to_string(bound.port); }
};
absl::StatusOr<GrpcServer> StartGrpcServer(std::string_view listen,
                                           const std::vector<grpc::Service*>& services,
                                           bool announce = true);

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// One stub (and channel) per address, made on first use and kept: a channel
// per call would pay a connection each time, and concurrent calls to one peer
// share its connection. Thread-safe.
//
// The stubs come from a factory: by default a real channel to the address;
// tests pass one that returns gmock stubs or in-process fakes.
template <typename Service>
class StubCache {
 public:
  using Stub = typename Service::StubInterface;
  using Factory = std::function<std::unique_ptr<Stub>(const std::string& address)>;

  StubCache() : factory_(&RealStub) {}
  // REQUIRES: `factory` is set and returns a stub for every address.
  explicit StubCache(Factory factory) : factory_(std::move(factory)) {}

  // The stub for `address`, valid as long as this cache.
  Stub* Get(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto& stub = stubs_[address];
    if (!stub) stub = factory_(address);
    return stub.get();
  }

 private:
  static std::unique_ptr<Stub> RealStub(const std::string& address) {
    return Service::NewStub(MakeChannel(address));
  }

  // Constant after construction.
  const Factory factory_;

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn

#endif  // CAIRN_COMMON_NET_H_
