#include "common/master_client.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/net.h"

namespace cairn {

absl::StatusOr<std::unique_ptr<MasterClient>> MasterClient::Connect(const std::string& addresses) {
  std::vector<std::unique_ptr<cairn::Master::StubInterface>> stubs;
  for (absl::string_view a : absl::StrSplit(addresses, ',')) {
    a = absl::StripAsciiWhitespace(a);
    if (a.empty()) continue;
    stubs.push_back(cairn::Master::NewStub(MakeChannel(std::string(a))));
  }
  if (stubs.empty()) return absl::InvalidArgumentError("no master address given");
  return std::make_unique<MasterClient>(std::move(stubs));
}

MasterClient::MasterClient(std::vector<std::unique_ptr<cairn::Master::StubInterface>> stubs)
    : stubs_(std::move(stubs)) {}

cairn::Master::StubInterface* MasterClient::stub() {
  absl::MutexLock lock(&mu_);
  return stubs_[current_].get();
}

std::unique_ptr<grpc::ClientContext> MasterClient::NewContext(const MasterCallOptions& options) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_wait_for_ready(options.wait_for_ready);
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options.deadline));
  return ctx;
}

grpc::Status MasterClient::Call(
    const std::function<grpc::Status(cairn::Master::StubInterface*, grpc::ClientContext*)>& call,
    const MasterCallOptions& options) {
  size_t first;
  {
    absl::MutexLock lock(&mu_);
    first = current_;
  }
  grpc::Status status;
  for (size_t i = 0; i < stubs_.size(); ++i) {
    size_t index = (first + i) % stubs_.size();
    auto ctx = NewContext(options);
    status = call(stubs_[index].get(), ctx.get());
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      if (i != 0) {
        absl::MutexLock lock(&mu_);
        current_ = index;
      }
      return status;
    }
  }
  return status;
}

}  // namespace cairn
